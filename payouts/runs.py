"""Calculation runs: start, execute in chunks over any number of workers, retry, replay, compare.

Contract
--------
:func:`run_start` writes a :class:`~payouts.models.CalculationRun` (numbered within its period,
``known_at`` = now) and starts it through :func:`core.tasks.start`: inline on the demo's SQLite,
on Celery workers when a broker is configured. A run is the engine's chunked calculation
(:mod:`engine.phases.chunks`) spread over tasks:

====================  ===========================================================================
phase (chunks)        what each chunk does
====================  ===========================================================================
``fetch`` (map)       :func:`payouts.inputs.gather` of its people as known at ``known_at``; the
                      problems it finds; the engine's ``segments``
(reduce 0)            ``requests``: which other people's and nodes' measures are read
``measure`` (map)     ``measures``, ``contributions``, ``partials``
(reduce 1)            ``holders`` and ``pools`` (roll-ups, gates, pools: everyone's measures)
``reward`` (map)      ``rewards`` (and the fast path's settled lines)
(reduce 2)            ``earned`` (pay on others' pay)
``settle`` (map)      the lines, their traces and per-credit contributions, **written in the
                      same transaction that marks the chunk done**
====================  ===========================================================================

The fan-in is the :class:`~payouts.models.RunChunk` table, never broker state: a chunk is
claimed with ``SELECT … FOR UPDATE SKIP LOCKED``, its output (``payouts.chunk_tables``)
is stored on its row, and whoever finishes the last chunk of a phase (under the run's row lock)
runs the reduce and creates the next phase's chunks. A chunk is idempotent by (run, phase,
number): a duplicate delivery finds it done (or being finished) and writes nothing, and payout
lines carry a unique key besides. A chunk whose heartbeat goes stale (its worker was killed,
Redis lost the message) is sent again by :func:`run_sweep` (Celery beat). When the last chunk
is written the run gets its result hash (:func:`lines_hash`), totals and line count in the one
update that marks it succeeded (after which the database freezes it), and
``payouts.lifecycle.run_succeeded(run)`` moves the period on.

Bad input: if any chunk's gather reports problems, the run fails after the fetch phase, before
a line is written, with every problem of every chunk in ``problems``. Replaying a run
(:func:`run_replay`) computes it again as known at its ``known_at``: the same result hash
whatever was recorded since.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import logging
import os
import socket
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from celery import current_app
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Count, Max, Sum
from django.utils import timezone

from core.audit import audit_record
from core.caches import LastUsed
from core.db import bulk_insert
from core.errors import ConflictError, NotFoundError, ValidationFailedError
from core.progress import progress_get, progress_report
from core.tasks import send_on_commit, start, workers_configured
from engine.phases import chunks as ph
from engine.phases.common import InputError
from engine.phases.depend import needs_dependencies
from engine.types import KPI_COLUMNS, QUOTA_COLUMNS, Inputs, empty_frame
from hierarchy.models import Period, Person
from payouts import as_known, chunk_inputs, chunk_tables, lifecycle
from payouts import inputs as fetch
from payouts.ledger import LINE_KINDS
from payouts.models import (
    CalculationRun,
    ChunkStatus,
    LineContribution,
    LineSummary,
    PayoutLine,
    RunChunk,
    RunKind,
    RunPhase,
    RunStatus,
    RunTrigger,
)
from plans.models import PlanVersion
from plans.selectors import component_names

logger = logging.getLogger(__name__)

PROGRESS_KIND = "run"
EXECUTE_TASK = "payouts.tasks.run_execute_task"
CHUNK_TASK = "payouts.tasks.run_chunk_task"
NUDGES_TASK = "payouts.tasks.nudges_after_run_task"

MAP_PHASES: tuple[str, ...] = (RunPhase.FETCH, RunPhase.MEASURE, RunPhase.REWARD, RunPhase.SETTLE)
REDUCE_REQUESTS, REDUCE_SHARED, REDUCE_EARNED = 0, 1, 2
REDUCES = 3
# A chunk whose worker died this many times fails its run (an input that kills the worker
# every time, such as one that exhausts its memory, must not loop for ever).
MAX_ATTEMPTS = 6
# Chunk inputs a worker keeps between the phases of a run (gathered again on a miss).
INPUTS_CACHE_SIZE = 8
# Unpacked chunk outputs a worker keeps (a chunk's output never changes once written).
OUTPUT_CACHE_SIZE = 2048

MSG_NOT_FOUND = "No such calculation run."
MSG_PERIOD_NOT_FOUND = "No such period."
MSG_PERIOD_CLOSED = "Period {period} is closed: its runs can no longer change."
MSG_NOT_FAILED = "Only a failed run can be retried; run {number} is {status}."
MSG_NOT_SUCCEEDED = "Only a succeeded run can be replayed; run {number} is {status}."
MSG_KIND = "Unknown run kind {kind!r}."
MSG_TRIGGER = "Unknown run trigger {trigger!r}."
MSG_PROBLEMS = "The inputs have {n} problem(s); nothing was written. Fix them and retry the run."
MSG_CHUNK_FAILED = "Chunk {number} of the {phase} phase failed: {error}"
MSG_CHUNK_LOST = (
    "Chunk {number} of the {phase} phase was lost {n} times (its worker died each time)."
)
MSG_OTHER_PERIOD = "Runs {a} and {b} are of different periods."


class RunError(ValidationFailedError):
    code = "run_invalid"


# --- starting -----------------------------------------------------------------------------------


def _next_number(period: Period) -> int:
    top = CalculationRun.objects.filter(period=period).aggregate(n=Max("number"))["n"]
    return int(top or 0) + 1


@transaction.atomic
def run_start(
    *,
    period_id: int,
    kind: str = RunKind.FULL,
    trigger: str,
    user_id: int | None,
    person_ids: Sequence[int] | None = None,
    chunk_size: int | None = None,
    known_at: dt.datetime | None = None,
    retry_of: CalculationRun | None = None,
    replay_of: CalculationRun | None = None,
) -> CalculationRun:
    """Write a new run of the period and start it (on workers, or inline without a broker)."""
    if kind not in RunKind.values:
        raise RunError(MSG_KIND.format(kind=kind))
    if trigger not in RunTrigger.values:
        raise RunError(MSG_TRIGGER.format(trigger=trigger))
    # The period's row lock numbers its runs one at a time.
    period = Period.objects.select_for_update().filter(pk=period_id).first()
    if period is None:
        raise NotFoundError(MSG_PERIOD_NOT_FOUND)
    if period.status == "closed":
        raise ConflictError(MSG_PERIOD_CLOSED.format(period=period.label), code="period_closed")
    now = timezone.now()
    pins: dict[str, Any] = {}
    if person_ids is not None:
        pins["person_ids"] = sorted({int(p) for p in person_ids})
    if replay_of is not None:
        pins["replay_of"] = replay_of.pk
    run = CalculationRun(
        period=period,
        number=_next_number(period),
        kind=kind,
        trigger=trigger,
        status=RunStatus.QUEUED,
        phase=RunPhase.FETCH,
        known_at=known_at or now,
        pins=pins,
        chunk_size=max(1, int(chunk_size or settings.RUN_CHUNK_SIZE)),
        retry_of=retry_of,
        created_by_id=user_id,
        created_at=now,
        summarized=True,
    )
    run.full_clean()
    run.save()
    audit_record(
        action="run.start",
        obj=run,
        after={
            "period": period.pk,
            "number": run.number,
            "kind": kind,
            "trigger": trigger,
            "known_at": run.known_at.isoformat(),
            "retry_of": retry_of.pk if retry_of else None,
            "replay_of": replay_of.pk if replay_of else None,
        },
    )
    start(EXECUTE_TASK, inline=lambda: run_execute(run_id=run.pk), run_id=run.pk)
    run.refresh_from_db()
    return run


def _run_get(run_id: int) -> CalculationRun:
    run: CalculationRun | None = CalculationRun.objects.filter(pk=run_id).first()
    if run is None:
        raise NotFoundError(MSG_NOT_FOUND)
    return run


def run_retry(
    *, run_id: int, user_id: int | None, trigger: str = RunTrigger.PAGE
) -> CalculationRun:
    """Start a failed run again, as a new run of its period on today's data (``retry_of``)."""
    old = _run_get(run_id)
    if old.status != RunStatus.FAILED:
        raise ConflictError(
            MSG_NOT_FAILED.format(number=old.number, status=old.get_status_display().lower()),
            code="run_not_failed",
        )
    return run_start(
        period_id=old.period_id,
        kind=old.kind,
        trigger=trigger,
        user_id=user_id,
        person_ids=old.pins.get("person_ids"),
        chunk_size=old.chunk_size,
        retry_of=old,
    )


def run_replay(
    *, run_id: int, user_id: int | None, trigger: str = RunTrigger.PAGE
) -> CalculationRun:
    """Compute a succeeded run again as known at its ``known_at`` (the same hash is expected)."""
    old = _run_get(run_id)
    if old.status != RunStatus.SUCCEEDED:
        raise ConflictError(
            MSG_NOT_SUCCEEDED.format(number=old.number, status=old.get_status_display().lower()),
            code="run_not_succeeded",
        )
    return run_start(
        period_id=old.period_id,
        kind=old.kind,
        trigger=trigger,
        user_id=user_id,
        person_ids=old.pins.get("person_ids"),
        chunk_size=old.chunk_size,
        known_at=old.known_at,
        replay_of=old,
    )


# --- executing ----------------------------------------------------------------------------------


def in_process() -> bool:
    """Return whether tasks run in this process (the demo, most tests): then one loop here
    drives every chunk in turn instead of sending tasks that would nest inside each other."""
    return bool(current_app.conf.task_always_eager) or not workers_configured()


def _dispatch(chunk_ids: Iterable[int]) -> None:
    for chunk_id in chunk_ids:
        send_on_commit(CHUNK_TASK, chunk_id=chunk_id)


def run_execute(*, run_id: int) -> CalculationRun:
    """Begin or move a run on; without workers, compute every chunk of it here and now."""
    pending = run_advance(run_id=run_id)
    if not in_process():
        _dispatch(pending)
        return _run_get(run_id)
    while pending:
        for chunk_id in pending:
            chunk_execute(chunk_id=chunk_id, advance=False)
        pending = run_advance(run_id=run_id)
    return _run_get(run_id)


def _stale_seconds(stale_seconds: int | None) -> int:
    return settings.RUN_CHUNK_STALE_SECONDS if stale_seconds is None else stale_seconds


def run_advance(*, run_id: int) -> list[int]:
    """Move the run as far as its chunks allow and return the chunks to send to workers.

    Under the run's row lock: a queued run gets its people and its fetch chunks; a phase whose
    chunks are all done gets its reduce and the next phase's chunks; the last phase done,
    the run its hash and totals. Safe to call any number of times, from anywhere.
    """
    succeeded = None
    with transaction.atomic():
        run = CalculationRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status in (RunStatus.SUCCEEDED, RunStatus.FAILED):
            return []
        if run.status == RunStatus.QUEUED:
            created = _begin(run)
            if run.status == RunStatus.FAILED:
                return []
            return created
        created = []
        while True:
            phase = run.phase
            if phase not in MAP_PHASES:  # a reduce interrupted, or persist: resume from rows
                phase = _current_map_phase(run)
            states = dict(
                run.chunks.filter(phase=phase)
                .values_list("status")
                .annotate(n=Count("id"))
                .values_list("status", "n")
            )
            if sum(n for s, n in states.items() if s != ChunkStatus.DONE):
                return created
            if phase == RunPhase.FETCH:
                problems = _fetch_problems(run)
                if problems:
                    _fail(run, MSG_PROBLEMS.format(n=len(problems)), problems=problems)
                    return []
                created = _reduce_then_next(run, RunPhase.FETCH)
            elif phase == RunPhase.SETTLE:
                succeeded = _finish(run)
                break
            else:
                created = _reduce_then_next(run, phase)
            if created:
                return created
    if succeeded is not None:
        _after_success(succeeded)
    return []


def _current_map_phase(run: CalculationRun) -> str:
    """Return the latest map phase that has chunks (the run's phase field may be a reduce)."""
    have = set(run.chunks.values_list("phase", flat=True).distinct())
    for phase in reversed(MAP_PHASES):
        if phase in have:
            return phase
    return RunPhase.FETCH


def _begin(run: CalculationRun) -> list[int]:
    """Give a queued run its people in chunks (the fetch phase's rows) and mark it running."""
    chosen = run.pins.get("person_ids")
    people = (
        list(chosen)
        if chosen is not None
        else fetch.people_for_period(run.period_id, known_at=run.known_at, pinned=replay_pins(run))
    )
    now = timezone.now()
    run.started_at = now
    if not people:
        problem = {
            "person": None,
            "plan": None,
            "code": fetch.NO_ASSIGNMENTS,
            "message": fetch.MSG_NO_ASSIGNMENTS.format(period=run.period.label),
        }
        _fail(run, MSG_PROBLEMS.format(n=1), problems=[problem])
        return []
    groups = chunk_groups(
        people, run.chunk_size, fetch.credit_counts(run.period_id, known_at=run.known_at)
    )
    run.status = RunStatus.RUNNING
    run.phase = RunPhase.FETCH
    run.people_count = len(people)
    run.chunks_total = len(MAP_PHASES) * len(groups) + REDUCES
    run.save(update_fields=["status", "phase", "people_count", "chunks_total", "started_at"])
    ids = _create_chunks(run, RunPhase.FETCH, groups)
    _report(run, done=0)
    return ids


def chunk_groups(
    people: Sequence[int], size: int, credits: Mapping[int, int] | None = None
) -> list[list[int]]:
    """Cut ``people`` (sorted) into as many chunks as ``size`` people a chunk makes, each a run
    of consecutive people of about the same work: a person weighs their ``credits`` (credit and
    roll-up rows) plus the average of them all (the per-person part of a chunk's work: segments,
    measures, lines). Chunks by people alone put a quarter of ICM-1M's credits in the first
    chunk and none in the last, so a second worker waited on the first. Without counts (or
    none at all) the chunks are ``size`` people each, as before."""
    count = -(-len(people) // size) if people else 0
    if not credits or count <= 1:
        return [list(people[i : i + size]) for i in range(0, len(people), size)]
    got = np.array([credits.get(int(p), 0) for p in people], dtype=np.float64)
    weights = got + got.mean()
    ends = np.cumsum(weights)
    # the first person of chunk k: where the running weight passes k / count of the total
    cuts = np.searchsorted(ends, ends[-1] * np.arange(1, count) / count, side="right")
    bounds = [0]
    for k, cut in enumerate(cuts.tolist(), start=1):  # each chunk someone, as many chunks
        bounds.append(min(max(int(cut), bounds[-1] + 1), len(people) - (count - k)))
    bounds.append(len(people))
    return [list(people[a:b]) for a, b in itertools.pairwise(bounds)]


def _create_chunks(run: CalculationRun, phase: str, groups: Sequence[Sequence[int]]) -> list[int]:
    now = timezone.now()
    existing = set(run.chunks.filter(phase=phase).values_list("number", flat=True))
    RunChunk.objects.bulk_create(
        [
            RunChunk(
                run=run,
                phase=phase,
                number=k,
                person_ids=list(group),
                status=ChunkStatus.PENDING,
                heartbeat_at=now,  # "sent at": the sweeper sends it again when this goes stale
            )
            for k, group in enumerate(groups)
            if k not in existing
        ]
    )
    return list(
        run.chunks.filter(phase=phase, status=ChunkStatus.PENDING)
        .order_by("number")
        .values_list("pk", flat=True)
    )


def _drop_inputs(run: CalculationRun) -> None:
    """Clear the fetch chunks' stored inputs of a run that ended (only its phases read them)."""
    RunChunk.objects.filter(run=run, phase=RunPhase.FETCH, inputs__isnull=False).update(inputs=None)


def _fail(
    run: CalculationRun, reason: str, *, problems: list[dict[str, Any]] | None = None
) -> None:
    now = timezone.now()
    _drop_inputs(run)
    CalculationRun.objects.filter(pk=run.pk).exclude(status=RunStatus.SUCCEEDED).update(
        status=RunStatus.FAILED,
        reason=reason[:4000],
        problems=problems or [],
        finished_at=now,
    )
    run.refresh_from_db()
    audit_record(
        action="run.fail", obj=run, after={"reason": reason, "problems": len(problems or [])}
    )
    _report(run, done=_done_count(run), message="failed")


# --- chunk outputs ------------------------------------------------------------------------------


def _pack(meta: Mapping[str, Any], tables: Mapping[str, pd.DataFrame] | None = None) -> bytes:
    return chunk_tables.encode(meta, tables)


def unpack_output(raw: bytes | memoryview | None) -> tuple[dict[str, Any], dict[str, pd.DataFrame]]:
    """Return a chunk's stored output (``_pack``'s format) as its head and its tables (each
    decoded when first read: :mod:`payouts.chunk_tables`)."""
    return chunk_tables.decode(raw)


Unpacked = tuple[dict[str, Any], dict[str, pd.DataFrame]]
# Unpacked outputs by chunk row (and its run's ``known_at``, which tells rows apart should a
# test database hand out an id again): a chunk's output is written once, when it is done, and
# never changes, so a worker keeps the last ones it read (a reduce's are read by every chunk
# of the next phase, a chunk's fetch output by each of its phases and the reduces). Read-only.
_unpacked: LastUsed[tuple[int, str], Unpacked] = LastUsed(OUTPUT_CACHE_SIZE)


def stored_outputs(rows: Iterable[tuple[int, dt.datetime]]) -> dict[int, Unpacked]:
    """Return the unpacked outputs of the chunk rows ``rows`` (pk, its run's ``known_at``):
    kept, else read in one query; a row without an output yet is left out."""
    wanted = {pk: (pk, known_at.isoformat()) for pk, known_at in rows}
    out = {}
    for pk, key in wanted.items():
        kept = _unpacked.get(key)
        if kept is not None:
            out[pk] = kept
    missing = [pk for pk in wanted if pk not in out]
    if missing:
        got = RunChunk.objects.filter(pk__in=missing, output__isnull=False).values_list(
            "pk", "output"
        )
        for pk, raw in got:
            out[pk] = unpack_output(raw)
            _unpacked.put(wanted[pk], out[pk])
    return {pk: out[pk] for pk in wanted if pk in out}


def _outputs(run: CalculationRun, phase: str) -> list[Unpacked]:
    """Return every chunk's stored output of ``phase``, in chunk order."""
    pks = list(run.chunks.filter(phase=phase).order_by("number").values_list("pk", flat=True))
    got = stored_outputs((pk, run.known_at) for pk in pks)
    return [got.get(pk, ({}, {})) for pk in pks]


def _output(run: CalculationRun, phase: str, number: int) -> Unpacked:
    pk = run.chunks.filter(phase=phase, number=number).values_list("pk", flat=True).first()
    if pk is None:
        return {}, {}
    return stored_outputs([(pk, run.known_at)]).get(pk, ({}, {}))


def _fetch_problems(run: CalculationRun) -> list[dict[str, Any]]:
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    for meta, _ in _outputs(run, RunPhase.FETCH):
        for p in meta.get("problems", []):
            key = json.dumps(p, sort_keys=True)
            if key not in seen:
                seen.add(key)
                out.append(p)
    return sorted(out, key=lambda p: (p["code"], str(p["person"] or ""), str(p["plan"] or "")))


# --- inputs of a chunk --------------------------------------------------------------------------

# (Gathered, not only its inputs: a fetch chunk retried in the same worker keeps its pins.)
_inputs_cache: LastUsed[tuple[int, int, int, str], fetch.Gathered | Inputs] = LastUsed(
    INPUTS_CACHE_SIZE
)
# The plans of the runs this worker has gathered for (the same for every chunk of a run).
_plans_cache: LastUsed[tuple[int, int, str], Mapping[str, Any]] = LastUsed(INPUTS_CACHE_SIZE)


def _cache_key(run: CalculationRun, person_ids: Sequence[int]) -> tuple[int, int, int, str]:
    return (run.tenant_id, run.pk, hash(tuple(person_ids)), run.known_at.isoformat())


def _keep(key: tuple[int, int, int, str], got: fetch.Gathered | Inputs) -> None:
    _inputs_cache.put(key, got)
    inputs = got.inputs if isinstance(got, fetch.Gathered) else got
    _plans_cache.put(key[:2] + key[3:], inputs.plans)


def _chunk_inputs(
    run: CalculationRun, person_ids: Sequence[int], number: int | None = None
) -> fetch.Gathered | Inputs:
    """Return the chunk's inputs as known at the run's ``known_at``: kept from an earlier
    phase of the run in this worker, else the ones its fetch phase stored (``number``: the
    chunk's; :mod:`payouts.chunk_inputs`) with the run's plans, else gathered (the same
    instant gives the same rows)."""
    key = _cache_key(run, person_ids)
    hit = _inputs_cache.get(key)
    if hit is not None:
        return hit
    plans = _plans_cache.get(key[:2] + key[3:])
    if plans is not None and number is not None:
        raw = (
            run.chunks.filter(phase=RunPhase.FETCH, number=number)
            .values_list("inputs", flat=True)
            .first()
        )
        if raw is not None:
            stored = chunk_inputs.decode(raw, plans)
            _keep(key, stored)
            return stored
    gathered = fetch.gather(
        period_id=run.period_id,
        person_ids=list(person_ids),
        known_at=run.known_at,
        pinned=replay_pins(run),
        shared_transactions=True,
    )
    if not gathered.problems:
        _keep(key, gathered)
    return gathered


def replay_pins(run: CalculationRun) -> dict[str, Any] | None:
    """Return the pins of the run ``run`` replays (its FX rates and crediting rules as that run
    read them, and whether it read the version logs), or None: not a replay. A replay of a run
    older than those pins gets an empty dict: the tables then, as that run read them."""
    original = run.pins.get("replay_of")
    if original is None:
        return None
    pins = CalculationRun.objects.filter(pk=original).values_list("pins", flat=True).first() or {}
    if "fx_rates" not in pins:
        return {}
    keys = ("fx_rates", "crediting_rules", as_known.VERSIONED_PIN)
    return {k: pins[k] for k in keys if k in pins}


def _inputs_of(run: CalculationRun, person_ids: Sequence[int], number: int | None = None) -> Inputs:
    got = _chunk_inputs(run, person_ids, number)
    if isinstance(got, fetch.Gathered):
        if got.problems:  # the fetch phase saw none: the data changed before known_at?
            raise InputError("; ".join(p.message for p in got.problems))
        return got.inputs
    return got


def _problem_dict(p: fetch.Problem) -> dict[str, Any]:
    return {"person": p.person_id, "plan": p.plan, "code": p.code, "message": p.message}


def _frame_records(frame: pd.DataFrame, columns: Sequence[str]) -> list[list[Any]]:
    cols = [c for c in columns if c in frame.columns]
    return [
        [None if v is None else (v if isinstance(v, int | str) else str(v)) for v in row]
        for row in frame[cols].itertuples(index=False, name=None)
    ]


def _reduce_inputs(run: CalculationRun) -> Inputs:
    """Return the inputs the reduces read: plans, nodes and period (any chunk's: they are the
    same for all), with every chunk's quotas and KPI values (each chunk has its own people's)."""
    first = run.chunks.filter(phase=RunPhase.FETCH).order_by("number").first()
    assert first is not None
    base = _inputs_of(run, first.person_ids, first.number)
    return merge_reduce_inputs(base, [meta for meta, _ in _outputs(run, RunPhase.FETCH)])


def merge_reduce_inputs(base: Inputs, metas: Sequence[Mapping[str, Any]]) -> Inputs:
    """Return ``base`` (a chunk's plans, nodes and period) with the quotas and KPI values of
    every chunk's fetch output ``metas``, each row once: what the reduces read (full and live
    runs alike)."""
    quotas: list[list[Any]] = []
    kpis: list[list[Any]] = []
    quota_cols: list[str] = list(QUOTA_COLUMNS)
    kpi_cols: list[str] = list(KPI_COLUMNS)
    seen_q: set[str] = set()
    seen_k: set[str] = set()
    for meta in metas:
        quota_cols = meta.get("quota_columns", quota_cols)
        kpi_cols = meta.get("kpi_columns", kpi_cols)
        for row in meta.get("quotas", []):
            if (qkey := json.dumps(row)) not in seen_q:
                seen_q.add(qkey)
                quotas.append(row)
        for row in meta.get("kpis", []):
            if (key := json.dumps(row)) not in seen_k:
                seen_k.add(key)
                kpis.append(row)
    q = pd.DataFrame(quotas, columns=quota_cols) if quotas else base.quotas.iloc[0:0]
    if len(q):
        q["amount_e4"] = q["amount_e4"].astype("int64")
    kv = pd.DataFrame(kpis, columns=kpi_cols) if kpis else empty_frame(KPI_COLUMNS)
    if len(kv):
        kv["value"] = pd.Series(
            [Decimal(v) if v is not None else None for v in kv["value"]], dtype=object
        )
    return replace(base, quotas=q, kpi_values=kv)


# --- one chunk ----------------------------------------------------------------------------------


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:200]


def _claim(chunk_id: int, stale_seconds: int) -> RunChunk | None:
    """Claim a chunk for this worker: None when it is done, being worked on, or its run over."""
    now = timezone.now()
    with transaction.atomic():
        # Lock the chunk's row only (``of``): FOR UPDATE on the join would also lock the run's
        # and the period's rows, and SKIP LOCKED would then skip the chunk - dropping its
        # message - whenever another worker holds the run's lock (storing its lines).
        chunk: RunChunk | None = (
            RunChunk.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("run", "run__period")
            .defer("output", "inputs")
            .filter(pk=chunk_id)
            .first()
        )
        if chunk is None or chunk.status in (ChunkStatus.DONE, ChunkStatus.FAILED):
            return None
        if chunk.run.status != RunStatus.RUNNING:
            return None
        fresh = chunk.heartbeat_at and chunk.heartbeat_at > now - dt.timedelta(
            seconds=stale_seconds
        )
        if chunk.status == ChunkStatus.RUNNING and fresh:
            return None  # another worker has it, and is alive
        if chunk.attempts >= MAX_ATTEMPTS:
            chunk.status = ChunkStatus.FAILED
            chunk.error = "lost too many times"
            chunk.save(update_fields=["status", "error"])
            run = CalculationRun.objects.select_for_update().get(pk=chunk.run_id)
            _fail(
                run,
                MSG_CHUNK_LOST.format(number=chunk.number, phase=chunk.phase, n=chunk.attempts),
            )
            return None
        chunk.status = ChunkStatus.RUNNING
        chunk.attempts += 1
        chunk.claimed_at = now
        chunk.heartbeat_at = now
        chunk.worker = _worker_name()
        chunk.save(update_fields=["status", "attempts", "claimed_at", "heartbeat_at", "worker"])
        return chunk


def _beat(chunk: RunChunk) -> None:
    RunChunk.objects.filter(pk=chunk.pk, status=ChunkStatus.RUNNING).update(
        heartbeat_at=timezone.now()
    )


def chunk_execute(*, chunk_id: int, advance: bool = True, stale_seconds: int | None = None) -> str:
    """Compute one chunk of one phase and store its output (and, last phase, its lines).

    Returns what happened: ``done``, ``skipped`` (done already, or alive elsewhere) or
    ``failed``. With ``advance`` the run is moved on afterwards (the phase's last chunk runs
    the reduce and sends the next phase), and the chunks that makes are sent to workers.
    """
    chunk = _claim(chunk_id, _stale_seconds(stale_seconds))
    outcome = "skipped" if chunk is None else _compute_and_store(chunk)
    if advance and outcome != "failed":
        run_id = RunChunk.objects.filter(pk=chunk_id).values_list("run_id", flat=True).first()
        if run_id is not None and in_process():
            run_execute(run_id=run_id)
        elif run_id is not None:
            _dispatch(run_advance(run_id=run_id))
    return outcome


def _compute_and_store(chunk: RunChunk) -> str:
    run = chunk.run
    try:
        if chunk.phase == RunPhase.FETCH:
            meta, tables, encoded = _fetch_chunk(run, chunk)
            _beat(chunk)
            return _store(chunk, meta, tables, inputs=encoded)
        inputs = _inputs_of(run, chunk.person_ids, chunk.number)
        _beat(chunk)
        _, fetched = _output(run, RunPhase.FETCH, chunk.number)
        segments = fetched["segments"]
        if chunk.phase == RunPhase.MEASURE:
            _, req = _output(run, RunPhase.REDUCE, REDUCE_REQUESTS)
            tables = ph.measure_chunk(inputs, segments, req["requests"])
            return _store(chunk, {}, tables)
        _, measured = _output(run, RunPhase.MEASURE, chunk.number)
        _, shared = _output(run, RunPhase.REDUCE, REDUCE_SHARED)
        if chunk.phase == RunPhase.REWARD:
            tables = ph.reward_chunk(inputs, segments, measured["measures"], shared)
            return _store(chunk, {}, tables)
        _, rewarded = _output(run, RunPhase.REWARD, chunk.number)
        _, earned = _output(run, RunPhase.REDUCE, REDUCE_EARNED)
        settled = ph.settle_chunk(inputs, segments, measured["measures"], shared, rewarded, earned)
        _beat(chunk)
        return _store(
            chunk,
            {},
            {"balances": settled["balances"]},
            lines=lambda: _write_lines(run, chunk, inputs, settled, measured),
        )
    except DatabaseError:
        raise  # the database went away: the task is retried (or swept), nothing was written
    except Exception as exc:
        logger.exception("run %s chunk %s/%s failed", run.pk, chunk.phase, chunk.number)
        error = f"{type(exc).__name__}: {exc}"
        with transaction.atomic():
            RunChunk.objects.filter(pk=chunk.pk).update(
                status=ChunkStatus.FAILED, error=error[:4000], finished_at=timezone.now()
            )
            locked = CalculationRun.objects.select_for_update().get(pk=run.pk)
            _fail(
                locked,
                MSG_CHUNK_FAILED.format(number=chunk.number, phase=chunk.phase, error=error),
            )
        return "failed"


def _fetch_chunk(
    run: CalculationRun, chunk: RunChunk
) -> tuple[dict[str, Any], dict[str, pd.DataFrame] | None, bytes | None]:
    """Return the fetch chunk's output (head and tables) and its inputs encoded for the later
    phases (None when they cannot be: those phases then gather the chunk again)."""
    got = _chunk_inputs(run, chunk.person_ids)
    if not isinstance(got, fetch.Gathered):  # decoded by a later phase: the pins are needed
        _inputs_cache.discard(_cache_key(run, chunk.person_ids))
        got = _chunk_inputs(run, chunk.person_ids)
    assert isinstance(got, fetch.Gathered)
    if got.problems:
        return {"problems": [_problem_dict(p) for p in got.problems]}, None, None
    inputs, pins = got.inputs, got.pins
    meta = {
        "problems": [],
        "pins": pins,
        "quota_columns": list(inputs.quotas.columns),
        "quotas": _frame_records(inputs.quotas, list(inputs.quotas.columns)),
        "kpi_columns": list(inputs.kpi_values.columns),
        "kpis": _frame_records(inputs.kpi_values, list(inputs.kpi_values.columns)),
    }
    try:
        encoded: bytes | None = chunk_inputs.encode(inputs)
    except chunk_inputs.EncodeError:
        logger.warning("run %s chunk %s: inputs not encodable", run.pk, chunk.number, exc_info=True)
        encoded = None
    return meta, ph.segments_chunk(inputs), encoded


def _keep_output(pk: int, run: CalculationRun, head: Any, tables: Any) -> None:
    """Keep an output this worker wrote as its readers unpack it (``head`` and ``tables`` as
    :func:`payouts.chunk_tables.encode_kept` gives them: the values written, with the types a
    decode gives back), once it is committed: the worker's later phases and reduces then read
    it without decoding it, and read what any other worker would."""
    key = (pk, run.known_at.isoformat())
    transaction.on_commit(lambda: _unpacked.put(key, (head, tables)))


def _store(
    chunk: RunChunk,
    meta: dict[str, Any],
    tables: Mapping[str, pd.DataFrame] | None,
    lines: Any = None,
    inputs: bytes | None = None,
) -> str:
    """Store a chunk's output (its head ``meta`` and ``tables``; a fetch chunk's encoded
    ``inputs`` too) and mark it done, once: a second finisher finds it done."""
    output, head, kept = chunk_tables.encode_kept(meta, tables)
    with transaction.atomic():
        locked = (
            RunChunk.objects.select_for_update()
            .defer("output", "inputs")
            .filter(pk=chunk.pk)
            .first()
        )
        if locked is None or locked.status in (ChunkStatus.DONE, ChunkStatus.FAILED):
            return "skipped"
        run_status = (
            CalculationRun.objects.filter(pk=chunk.run_id).values_list("status", flat=True).first()
        )
        if run_status != RunStatus.RUNNING:
            return "skipped"
        if lines is not None:
            lines()
        locked.status = ChunkStatus.DONE
        locked.output = output
        locked.finished_at = timezone.now()
        locked.error = ""
        locked.inputs = inputs
        locked.save(update_fields=["status", "output", "inputs", "finished_at", "error"])
        _keep_output(chunk.pk, chunk.run, head, kept)
    run = chunk.run
    _report(run, done=_done_count(run))
    return "done"


def _reduce_then_next(run: CalculationRun, phase: str) -> list[int]:
    """Run the reduce that follows map ``phase`` (once) and create the next phase's chunks."""
    groups = list(
        run.chunks.filter(phase=RunPhase.FETCH)
        .order_by("number")
        .values_list("person_ids", flat=True)
    )
    if phase == RunPhase.FETCH:
        number, following = REDUCE_REQUESTS, RunPhase.MEASURE
    elif phase == RunPhase.MEASURE:
        number, following = REDUCE_SHARED, RunPhase.REWARD
    else:
        number, following = REDUCE_EARNED, RunPhase.SETTLE
    if not run.chunks.filter(phase=RunPhase.REDUCE, number=number).exists():
        run.phase = RunPhase.REDUCE
        run.save(update_fields=["phase"])
        output, head, kept = chunk_tables.encode_kept({}, _reduce(run, number))
        reduced = RunChunk.objects.create(
            run=run,
            phase=RunPhase.REDUCE,
            number=number,
            person_ids=[],
            status=ChunkStatus.DONE,
            attempts=1,
            claimed_at=timezone.now(),
            finished_at=timezone.now(),
            worker=_worker_name(),
            output=output,
        )
        _keep_output(reduced.pk, run, head, kept)
    run.phase = following
    run.save(update_fields=["phase"])
    created = _create_chunks(run, following, groups)
    _report(run, done=_done_count(run))
    return created


def _reduce(run: CalculationRun, number: int) -> dict[str, pd.DataFrame]:
    inputs = _reduce_inputs(run)
    segments = [t["segments"] for _, t in _outputs(run, RunPhase.FETCH)]
    if number == REDUCE_REQUESTS:
        return ph.requests_all(inputs, segments)
    if number == REDUCE_SHARED:
        partials = [t["partials"] for _, t in _outputs(run, RunPhase.MEASURE)]
        return ph.reduce_all(inputs, segments, partials)
    if not needs_dependencies(inputs.plans):
        return ph.earned_all(inputs, segments, [])
    rewarded = [t for _, t in _outputs(run, RunPhase.REWARD)]
    measured = [t for _, t in _outputs(run, RunPhase.MEASURE)]
    _, shared = _output(run, RunPhase.REDUCE, REDUCE_SHARED)
    return ph.earned_all(inputs, segments, rewarded, measured, shared)


# --- persisting lines ---------------------------------------------------------------------------

_SPECIAL_RULES = frozenset(
    {
        "clawback",
        "release",
        "guarantee",
        "draw",
        "draw_recovery",
        "instalment",
        "hold",
        "deferred",
        "reserve",
        "reserve_release",
    }
)

_LINE_COLUMNS = [
    "tenant_id",
    "id",
    "run_id",
    "period_id",
    "person_id",
    "plan_id",
    "plan_version_id",
    "component_id",
    "kind",
    "amount",
    "currency",
    "attainment",
    "measure",
    "trace_text",
    "trace",
    "chunk",
    "segment",
    "ordinal",
]
_CONTRIBUTION_COLUMNS = ["tenant_id", "line_id", "run_id", "transaction_id", "credit_id", "amount"]


def _int_or_none(value: Any) -> int | None:
    text = str(value)
    return int(text) if text.isdigit() else None


def _dec(value: Any) -> Decimal | None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    return Decimal(str(value))


def _write_lines(
    run: CalculationRun,
    chunk: RunChunk,
    inputs: Inputs,
    settled: Mapping[str, pd.DataFrame],
    measured: Mapping[str, pd.DataFrame],
    *,
    summaries: bool = True,
) -> None:
    """Write the chunk's payout lines and their per-credit contributions (COPY on PostgreSQL),
    and its people's summaries (``summaries``: a live pass writes all its chunks' at once)."""
    lines = settled["lines"]
    if not len(lines):
        return
    traces: dict[tuple[str, str, str, int], list[tuple[str, str, str]]] = defaultdict(list)
    tr = settled["traces"]
    for person, plan, comp, seg, rule, steps, text in zip(
        tr["person_id"],
        tr["plan_id"],
        tr["component_id"],
        tr["segment"],
        tr["rule"],
        tr["steps"],
        tr["text"],
        strict=True,
    ):
        traces[(str(person), str(plan), str(comp), int(seg))].append((rule, steps, text))
    measure_of = {
        (pid, c.id): c.measure for pid, plan in inputs.plans.items() for c in plan.components
    }
    mt = measured["measures"]
    measures = {
        (str(p), str(pl), int(s), str(m)): v
        for p, pl, s, m, v in zip(
            mt["person_id"],
            mt["plan_id"],
            mt["segment"],
            mt["measure_id"],
            mt["value"],
            strict=True,
        )
    }
    version_plan = dict(
        PlanVersion.objects.filter(pk__in={int(v) for v in lines["plan_id"]}).values_list(
            "pk", "plan_id"
        )
    )
    ordinals: dict[tuple[str, str, str, int, str], int] = defaultdict(int)
    rows: list[list[Any]] = []
    first_line: dict[tuple[str, str, str, int], int] = {}
    for person, plan, comp, seg, kind, amount, currency, attainment in zip(
        lines["person_id"],
        lines["plan_id"],
        lines["component_id"],
        lines["segment"],
        lines["kind"],
        lines["amount"],
        lines["currency"],
        lines["attainment"],
        strict=True,
    ):
        person, plan, comp, seg = str(person), str(plan), str(comp), int(seg)
        okey = (person, plan, comp, seg, kind)
        ordinal = ordinals[okey]
        ordinals[okey] += 1
        candidates = traces.get((person, plan, comp, seg), [])
        same = [t for t in candidates if t[0] == kind]
        if same:
            trace = same[min(ordinal, len(same) - 1)]
        else:
            plain = [t for t in candidates if t[0] not in _SPECIAL_RULES]
            trace = plain[0] if plain else (candidates[0] if candidates else ("", "[]", ""))
        mid = measure_of.get((plan, comp))
        measure = measures.get((person, plan, seg, mid)) if mid else None
        steps = [{"name": n, "value": v, "note": note} for n, v, note in json.loads(trace[1])]
        rows.append(
            [
                run.tenant_id,
                None,
                run.pk,
                run.period_id,
                int(person),
                version_plan[int(plan)],
                int(plan),
                comp,
                kind,
                _dec(amount),
                currency,
                _dec(attainment),
                _dec(measure),
                trace[2],
                steps,
                chunk.number,
                seg,
                ordinal,
            ]
        )
        if (person, plan, comp, seg) not in first_line or kind == "earned":
            first_line.setdefault((person, plan, comp, seg), len(rows) - 1)
            if kind == "earned" and ordinal == 0:
                first_line[(person, plan, comp, seg)] = len(rows) - 1
    ids = _line_ids(run, rows)
    _insert(PayoutLine, _LINE_COLUMNS, rows, ids, json_column=_LINE_COLUMNS.index("trace"))
    columns = _contribution_columns(run, measure_of, first_line, ids, measured["contributions"])
    if connection.vendor == "postgresql":
        bulk_insert(LineContribution, _CONTRIBUTION_COLUMNS, None, column_values=columns)
    else:
        _insert(
            LineContribution,
            _CONTRIBUTION_COLUMNS,
            [
                [run.tenant_id, int(line), run.pk, _int_or_none(t), _int_or_none(c), Decimal(a)]
                for _, line, _, t, c, a in zip(*columns, strict=True)
            ],
        )
    if summaries:
        write_summaries(run, [chunk.number])


def _contribution_columns(
    run: CalculationRun,
    measure_of: Mapping[tuple[str, str], str | None],
    first_line: Mapping[tuple[str, str, str, int], int],
    ids: Sequence[int],
    ct: pd.DataFrame,
) -> list[list[Any]]:
    """Return the chunk's contribution rows column by column, as ``COPY`` text: each credit's
    contribution goes to the line of every component that measures it (set-based: two joins,
    the amounts rendered from their ten-thousandths)."""
    comps = pd.DataFrame(
        [(plan, mid, comp) for (plan, comp), mid in measure_of.items() if mid],
        columns=["plan_id", "measure_id", "component_id"],
        dtype=object,
    )
    lines = pd.DataFrame(
        [(*key, row) for key, row in first_line.items()],
        columns=["person_id", "plan_id", "component_id", "segment", "row"],
    )
    if not len(ct) or comps.empty or lines.empty:
        return [[] for _ in _CONTRIBUTION_COLUMNS]
    lines["segment"] = lines["segment"].astype(np.int64)
    keyed = pd.DataFrame(
        {
            "person_id": ct["person_id"].astype(str).to_numpy(),
            "plan_id": ct["plan_id"].astype(str).to_numpy(),
            "segment": ct["segment"].astype(np.int64).to_numpy(),
            "measure_id": ct["measure_id"].astype(str).to_numpy(),
            "credit_id": ct["credit_id"].astype(str).to_numpy(),
            "transaction_id": ct["transaction_id"].astype(str).to_numpy(),
            "amount_e4": ct["amount_e4"].astype(np.int64).to_numpy(),
        }
    )
    j = keyed.merge(comps, on=["plan_id", "measure_id"]).merge(
        lines, on=["person_id", "plan_id", "component_id", "segment"]
    )
    n = len(j)
    line_ids = np.asarray(ids, dtype=np.int64)[j["row"].to_numpy(np.int64)]
    return [
        [str(run.tenant_id)] * n,
        line_ids.astype(str).tolist(),
        [str(run.pk)] * n,
        _id_text(j["transaction_id"]),
        _id_text(j["credit_id"]),
        _e4_texts(j["amount_e4"].to_numpy(np.int64)),
    ]


def _e4_texts(e4: np.ndarray) -> list[str]:
    """Render ten-thousandths as decimals (``-1.2300``), what ``from_e4`` would give."""
    whole, frac = np.divmod(np.abs(e4), 10000)
    out = list(map("{}.{:04d}".format, whole.tolist(), frac.tolist()))
    for i in np.flatnonzero(e4 < 0).tolist():
        out[i] = "-" + out[i]
    return out


def _id_text(ids: pd.Series) -> list[str | None]:
    """A credit's or transaction's id as text for ``COPY``: None (NULL) for a roll-up total's
    (not digits), exactly as :func:`_int_or_none`."""
    return [t if t.isdigit() else None for t in map(str, ids.tolist())]


def write_summaries(run: CalculationRun, chunks: Sequence[int]) -> int:
    """Write the :class:`LineSummary` of every person with lines in ``chunks`` of ``run``, in
    one ``INSERT … SELECT`` over the stored lines (a person's lines are all in her chunk).

    ``earned`` is the lines an approval enters as earned (``payouts.ledger.entry_kind_for_line``:
    all but draws and clawbacks), ``payable`` every line, ``attainment`` the first line's (by id)
    that has one, ``plan_ids`` the distinct plans; the currency is the lines' (the smallest
    code if a person's lines had several). Called in the transaction that stores the lines.
    """
    if not chunks:
        return 0
    lines, table = PayoutLine._meta.db_table, LineSummary._meta.db_table
    placeholders = ", ".join(["%s"] * len(chunks))
    others = ", ".join(["%s"] * len(LINE_KINDS))
    plans = (
        "jsonb_agg(DISTINCT l.plan_id ORDER BY l.plan_id)"
        if connection.vendor == "postgresql"
        else "json_group_array(DISTINCT l.plan_id)"
    )
    sql = (
        f"INSERT INTO {table} (tenant_id, run_id, person_id, chunk, currency, earned, "  # noqa: S608
        "payable, attainment, plan_ids, lines) "
        "SELECT l.tenant_id, l.run_id, l.person_id, min(l.chunk), min(l.currency), "
        f"sum(CASE WHEN l.kind IN ({others}) THEN 0 ELSE l.amount END), sum(l.amount), "
        f"(SELECT a.attainment FROM {lines} a WHERE a.run_id = l.run_id "
        "AND a.person_id = l.person_id AND a.attainment IS NOT NULL ORDER BY a.id LIMIT 1), "
        f"{plans}, count(*) "
        f"FROM {lines} l WHERE l.run_id = %s AND l.chunk IN ({placeholders}) "
        "GROUP BY l.tenant_id, l.run_id, l.person_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*sorted(LINE_KINDS), run.pk, *chunks])
        return int(cursor.rowcount)


def _line_ids(run: CalculationRun, rows: list[list[Any]]) -> list[int]:
    """Return an id for each new line: taken from the table's sequence before the insert, so
    the contributions can name their lines in the same COPY."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence('payouts_payoutline', 'id')) "
                "FROM generate_series(1, %s)",
                [len(rows)],
            )
            return [r[0] for r in cursor.fetchall()]
    top = PayoutLine.objects.aggregate(n=Max("id"))["n"] or 0
    # SQLite (one writer at a time): the next ids after the largest one.
    return list(range(top + 1, top + 1 + len(rows)))


def _insert(
    model: Any,
    columns: list[str],
    rows: list[list[Any]],
    ids: list[int] | None = None,
    json_column: int | None = None,
) -> None:
    if not rows:
        return
    if ids is not None:
        for row, pk in zip(rows, ids, strict=True):
            row[1] = pk
    if connection.vendor == "postgresql":
        if json_column is not None:
            for row in rows:
                row[json_column] = json.dumps(row[json_column])
        bulk_insert(model, columns, rows)
        return
    fields = [c[:-3] + "_id" if c.endswith("_id") else c for c in columns]
    model.objects.bulk_create(
        [model(**dict(zip(fields, row, strict=True))) for row in rows], batch_size=500
    )


# --- finishing ----------------------------------------------------------------------------------


def lines_hash(run_id: int) -> str:
    """Return the sha256 over a run's lines in canonical order, amounts as their text."""
    h = hashlib.sha256()
    rows = (
        PayoutLine.objects.filter(run_id=run_id)
        .order_by("person_id", "plan_version_id", "component_id", "segment", "kind", "ordinal")
        .values_list(
            "person_id",
            "plan_version_id",
            "component_id",
            "segment",
            "kind",
            "ordinal",
            "amount",
            "currency",
            "attainment",
            "measure",
        )
    )
    for row in rows.iterator(chunk_size=5000):
        h.update("|".join(_canon(v) for v in row).encode())
        h.update(b"\n")
    return h.hexdigest()


def _canon(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    return str(value)


def _totals(run_id: int) -> dict[str, str]:
    rows = (
        PayoutLine.objects.filter(run_id=run_id)
        .values("currency")
        .annotate(total=Sum("amount"))
        .order_by("currency")
    )
    return {r["currency"]: f"{r['total']:.4f}" for r in rows}


def _merged_pins(run: CalculationRun) -> dict[str, Any]:
    pins: dict[str, Any] = dict(run.pins)
    versions: dict[str, str] = {}
    fx: set[int] = set()
    fx_rows: dict[int, list[Any]] = {}
    rules: dict[int, list[Any]] = {}
    hashes: dict[str, list[str]] = defaultdict(list)
    credits = 0
    versioned = True
    for meta, _ in _outputs(run, RunPhase.FETCH):
        p = meta.get("pins") or {}
        versioned = versioned and bool(p.get(as_known.VERSIONED_PIN))
        versions.update(p.get("plan_versions", {}))
        fx.update(p.get("fx_rate_ids", []))
        fx_rows.update({int(r[0]): r for r in p.get("fx_rates", [])})
        rules.update({int(r[0]): r for r in p.get("crediting_rules", [])})
        credits += int(p.get("credit_count", 0))
        for name in ("fx_rates_hash", "crediting_rules_hash", "assignments_hash", "timeline_hash"):
            if name in p:
                hashes[name].append(p[name])
    pins.update(
        {
            "known_at": run.known_at.isoformat(),
            "plan_versions": dict(sorted(versions.items())),
            "fx_rate_ids": sorted(fx),
            # What a replay reads instead of the tables (payouts.inputs: pinned).
            "fx_rates": [fx_rows[k] for k in sorted(fx_rows)],
            "crediting_rules": [rules[k] for k in sorted(rules)],
            "credit_count": credits,
            # Its inputs edited in place were read as known (payouts.as_known): a replay does too.
            as_known.VERSIONED_PIN: versioned,
            "chunk_hashes": {
                k: hashlib.sha256("|".join(v).encode()).hexdigest()
                for k, v in sorted(hashes.items())
            },
        }
    )
    return pins


def _finish(run: CalculationRun) -> CalculationRun:
    """Give the run its hash, totals and counts, and mark it succeeded (frozen from then on)."""
    run.phase = RunPhase.PERSIST
    run.save(update_fields=["phase"])
    _drop_inputs(run)
    digest = lines_hash(run.pk)
    count = PayoutLine.objects.filter(run=run).count()
    now = timezone.now()
    CalculationRun.objects.filter(pk=run.pk).update(
        status=RunStatus.SUCCEEDED,
        phase=RunPhase.DONE,
        result_hash=digest,
        line_count=count,
        totals=_totals(run.pk),
        pins=_merged_pins(run),
        chunks_done=run.chunks_total,
        finished_at=now,
    )
    run.refresh_from_db()
    audit_record(
        action="run.succeed",
        obj=run,
        after={"result_hash": digest, "lines": count, "totals": run.totals},
    )
    _report(run, done=run.chunks_total, message="done")
    return run


def _after_success(run: CalculationRun) -> None:
    """Tell the period's lifecycle a run succeeded (an open period becomes calculated), and
    send the nudges it brought about after commit (payouts/nudges.py)."""
    lifecycle.run_succeeded(run)
    send_on_commit(NUDGES_TASK, run_id=run.pk)


# --- the sweeper --------------------------------------------------------------------------------


def run_sweep(*, stale_seconds: int | None = None) -> int:
    """Send again the chunks of unfinished runs that went silent, and move stalled runs on.

    A chunk is stale when its heartbeat (renewed by the worker computing it, or set when it
    was sent) is older than ``stale_seconds``: its worker died, or Redis lost the message.
    Returns the number of chunks sent again (and runs moved on).
    """
    limit = timezone.now() - dt.timedelta(seconds=_stale_seconds(stale_seconds))
    sent = 0
    for run in CalculationRun.objects.filter(
        status__in=(RunStatus.QUEUED, RunStatus.RUNNING)
    ).order_by("pk"):
        if run.status == RunStatus.QUEUED and run.created_at > limit:
            continue  # its task is surely still on its way
        with transaction.atomic():
            stale = list(
                RunChunk.objects.select_for_update(skip_locked=True)
                .filter(
                    run=run,
                    status__in=(ChunkStatus.PENDING, ChunkStatus.RUNNING),
                    heartbeat_at__lt=limit,
                )
                .values_list("pk", flat=True)
            )
            if stale:
                RunChunk.objects.filter(pk__in=stale).update(
                    status=ChunkStatus.PENDING, heartbeat_at=timezone.now()
                )
        created = run_advance(run_id=run.pk)
        again = sorted(set(stale) | set(created))
        if in_process():
            for chunk_id in again:
                chunk_execute(chunk_id=chunk_id, advance=False)
            run_execute(run_id=run.pk)
        else:
            _dispatch(again)
        sent += len(again)
        if stale:
            logger.warning("run %s: sent %d stale chunk(s) again", run.pk, len(stale))
    return sent


# --- progress -----------------------------------------------------------------------------------


def _done_count(run: CalculationRun) -> int:
    return run.chunks.filter(status=ChunkStatus.DONE).count()


def _progress_id(run: CalculationRun) -> str:
    """Return the run's key in the progress channel (its id and creation instant: an id alone
    may come back after a rolled-back transaction, and must not read another run's progress)."""
    return f"{run.pk}-{run.created_at.timestamp():.6f}"


def _report(run: CalculationRun, *, done: int, message: str | None = None) -> None:
    progress_report(
        kind=PROGRESS_KIND,
        object_id=_progress_id(run),
        done=done,
        total=run.chunks_total or None,
        message=message or run.phase,
    )


@dataclass(frozen=True)
class RunProgress:
    """How far a run has got: its phase, chunks done of all, percent and a time estimate."""

    status: str
    phase: str
    phase_label: str
    chunks_done: int
    chunks_total: int
    percent: int
    eta_seconds: int | None
    elapsed_seconds: int | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "phase": self.phase,
            "phase_label": self.phase_label,
            "chunks_done": self.chunks_done,
            "chunks_total": self.chunks_total,
            "percent": self.percent,
            "eta_seconds": self.eta_seconds,
            "elapsed_seconds": self.elapsed_seconds,
        }


def run_progress(run: CalculationRun) -> RunProgress:
    """Return the run's progress: the channel's last report while it runs, else its rows."""
    total = run.chunks_total
    if run.status == RunStatus.SUCCEEDED:
        done = total
    else:
        live = progress_get(kind=PROGRESS_KIND, object_id=_progress_id(run))
        done = live.done if live is not None else _done_count(run)
        if run.status == RunStatus.QUEUED:
            done = 0
    done = min(done, total) if total else done
    percent = 100 if run.status == RunStatus.SUCCEEDED else (100 * done // total if total else 0)
    elapsed = eta = None
    if run.started_at:
        end = run.finished_at or timezone.now()
        elapsed = max(0, int((end - run.started_at).total_seconds()))
        if run.status == RunStatus.RUNNING and done and total:
            eta = int(elapsed * (total - done) / done)
    return RunProgress(
        status=run.status,
        phase=run.phase,
        phase_label=RunPhase(run.phase).label,
        chunks_done=done,
        chunks_total=total,
        percent=percent,
        eta_seconds=eta,
        elapsed_seconds=elapsed,
    )


# --- compare ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineChange:
    plan: str
    component_id: str
    segment: int
    kind: str
    currency: str
    before: Decimal | None
    after: Decimal | None
    component: str
    """What the plan calls the component (``plans.selectors.component_names``)."""

    @property
    def delta(self) -> Decimal:
        return (self.after or Decimal(0)) - (self.before or Decimal(0))

    @property
    def words(self) -> str:
        what = f"{self.component} ({self.kind}) on {self.plan}"
        if self.before is None:
            return f"New line: {what} pays {self.after:,.2f} {self.currency}."
        if self.after is None:
            return f"Line gone: {what} paid {self.before:,.2f} {self.currency}."
        verb = "rose" if self.delta > 0 else "fell"
        return (
            f"{what} {verb} from {self.before:,.2f} to {self.after:,.2f} {self.currency} "
            f"({self.delta:+,.2f})."
        )


def amount_change(before: Decimal, after: Decimal, currency: str) -> str:
    """Return a change of an amount in words: "1,000.00 → 1,250.00 USD (+250.00)"."""
    return f"{before:,.2f} → {after:,.2f} {currency} ({after - before:+,.2f})"


@dataclass(frozen=True)
class PersonChange:
    person_id: int
    name: str
    before: dict[str, Decimal]
    after: dict[str, Decimal]
    lines: list[LineChange] = field(default_factory=list)

    @property
    def words(self) -> str:
        parts = []
        for cur in sorted(set(self.before) | set(self.after)):
            b, a = self.before.get(cur, Decimal(0)), self.after.get(cur, Decimal(0))
            if b != a:
                parts.append(amount_change(b, a, cur))
        if not parts:
            added = sum(1 for line in self.lines if line.before is None)
            gone = sum(1 for line in self.lines if line.after is None)
            changed = len(self.lines) - added - gone
            moved = [
                f"{n} {one if n == 1 else many}"
                for n, one, many in (
                    (added, "new line", "new lines"),
                    (gone, "line gone", "lines gone"),
                    (changed, "line changed", "lines changed"),
                )
                if n
            ]
            parts = ["same total: " + ", ".join(moved)]
        return f"{self.name}: " + "; ".join(parts)


@dataclass(frozen=True)
class Comparison:
    run: CalculationRun
    other: CalculationRun
    people: list[PersonChange]
    unchanged: int
    same_hash: bool


def run_compare(*, run_id: int, other_id: int) -> Comparison:
    """Return how the later of the two runs differs from the earlier, person by person and
    line by line (whichever order they are asked in: a change reads from before to after)."""
    run, other = _run_get(run_id), _run_get(other_id)
    if run.period_id != other.period_id:
        raise RunError(MSG_OTHER_PERIOD.format(a=run.number, b=other.number))
    if other.number < run.number:
        run, other = other, run

    version_of: dict[tuple[str, str], int] = {}  # (plan code, component): the newer run's
    plan_names: dict[str, str] = {}  # plan code -> its name (what the page says)

    def lines(r: CalculationRun) -> dict[int, dict[tuple[Any, ...], Decimal]]:
        out: dict[int, dict[tuple[Any, ...], Decimal]] = defaultdict(dict)
        for (
            person,
            code,
            comp,
            seg,
            kind,
            ordinal,
            cur,
            amount,
            version,
            plan_name,
        ) in PayoutLine.objects.filter(run=r).values_list(
            "person_id",
            "plan__code",
            "component_id",
            "segment",
            "kind",
            "ordinal",
            "currency",
            "amount",
            "plan_version_id",
            "plan__name",
        ):
            out[person][(code, comp, seg, kind, ordinal, cur)] = amount
            version_of[(code, comp)] = version
            plan_names[code] = plan_name
        return out

    before, after = lines(run), lines(other)
    titles = component_names(version_ids=version_of.values())
    everyone = sorted(set(before) | set(after))
    names = dict(Person.objects.filter(pk__in=everyone).values_list("pk", "full_name"))
    people: list[PersonChange] = []
    unchanged = 0
    for person in everyone:
        b, a = before.get(person, {}), after.get(person, {})
        if a == b:
            unchanged += 1
            continue
        changes = [
            LineChange(
                plan=plan_names.get(key[0], key[0]),
                component_id=key[1],
                segment=key[2],
                kind=key[3],
                currency=key[5],
                before=b.get(key),
                after=a.get(key),
                component=titles.get(key[1], version_id=version_of.get((key[0], key[1]))),
            )
            for key in sorted(set(a) | set(b))
            if a.get(key) != b.get(key)
        ]

        def sums(m: Mapping[tuple[Any, ...], Decimal]) -> dict[str, Decimal]:
            t: dict[str, Decimal] = defaultdict(Decimal)
            for key, amount in m.items():
                t[key[5]] += amount
            return dict(t)

        people.append(
            PersonChange(
                person_id=person,
                name=names.get(person, str(person)),
                before=sums(b),
                after=sums(a),
                lines=changes,
            )
        )
    people.sort(key=lambda p: (-max((abs(c.delta) for c in p.lines), default=Decimal(0)), p.name))
    return Comparison(
        run=run,
        other=other,
        people=people,
        unchanged=unchanged,
        same_hash=bool(run.result_hash) and run.result_hash == other.result_hash,
    )


# --- reads --------------------------------------------------------------------------------------


def run_list(*, period_id: int | None = None, status: str | None = None) -> Any:
    """Return the tenant's runs, newest first, optionally of one period or status."""
    qs = CalculationRun.objects.select_related("period").order_by("-created_at", "-pk")
    if period_id is not None:
        qs = qs.filter(period_id=period_id)
    if status:
        qs = qs.filter(status=status)
    return qs


def run_get(*, run_id: int) -> CalculationRun:
    """Return one run of the tenant (404 when it is not one)."""
    run: CalculationRun | None = (
        CalculationRun.objects.select_related("period").filter(pk=run_id).first()
    )
    if run is None:
        raise NotFoundError(MSG_NOT_FOUND)
    return run


def run_lines(*, run_id: int, person_id: int | None = None) -> Any:
    """Return a run's payout lines in canonical order."""
    qs = PayoutLine.objects.filter(run_id=run_id).select_related("person", "plan")
    if person_id is not None:
        qs = qs.filter(person_id=person_id)
    return qs.order_by(
        "person__full_name", "person_id", "plan__code", "component_id", "segment", "kind", "ordinal"
    )


def run_totals_by_plan(*, run_id: int) -> list[dict[str, Any]]:
    """Return a run's totals by plan and currency, with the number of lines and people."""
    return list(
        PayoutLine.objects.filter(run_id=run_id)
        .values("plan__code", "plan__name", "currency")
        .annotate(total=Sum("amount"), lines=Count("id"), people=Count("person", distinct=True))
        .order_by("plan__name", "currency")
    )


__all__ = [
    "Comparison",
    "RunError",
    "RunProgress",
    "amount_change",
    "chunk_execute",
    "lines_hash",
    "run_advance",
    "run_compare",
    "run_execute",
    "run_get",
    "run_lines",
    "run_list",
    "run_progress",
    "run_replay",
    "run_retry",
    "run_start",
    "run_sweep",
    "run_totals_by_plan",
]
