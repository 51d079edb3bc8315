"""Live runs: the open periods recalculated incrementally from the change feed.

Contract
--------
:func:`live_recalculate` claims the pending keys of the change feed (``core.changes``) inside
its transaction, maps them to the open periods they overlap and to the people they touch (a
person key: that person; a node key: everyone assigned under the node during the period; a
tenant-wide key, a node move or a node's KPI: everyone), and writes for each such period that
already has a succeeded full or live run **a new live run** (``RunKind.LIVE``, trigger
``change``) that the statements read from then on (``payouts.statements.period_run`` picks
the latest succeeded full or live run). Written runs never change, so the new run supersedes
the previous one instead of updating it:

* A live run keeps its people in chunks of ``LIVE_CHUNK_SIZE`` (its *layout*, in
  ``pins["live"]``) and, for each map phase and chunk, which run holds that chunk's output
  (``sources``). Only chunks holding an affected person are gathered and measured again; the
  others' stored outputs are read where they are (never copied).
* The reduces run again over every chunk's outputs (partials are sums over credits, so a new
  chunk's partials plus the untouched chunks' equal the whole run's). A chunk is rewarded
  again when a holder or pool its plans read changed (a team pool, a gate on another team, a
  roll-up), and settled again when its pay-on-others'-pay rows changed (a manager override).
* The recomputed chunks' lines are written; every other chunk's lines are carried forward
  set-based (``INSERT … SELECT`` of the lines and of their per-credit contributions), and the
  carried people's summaries (``LineSummary``) are summed from the copied lines, as a
  recomputed chunk's are from its new ones.
* Anything that changes the layout or what the chunks read for others (the people on a plan,
  the requests of the reduce) makes the pass a full one (every chunk again), and so does a
  full run newer than the last live run (it may have seen plan data the feed does not name).

The result equals a full run of the same inputs, line for line (same ``lines_hash``): the
engine's chunked calculation gives the same lines for any split of the people, and a chunk
that is not recomputed had exactly the inputs it was computed with. A pass is one database
transaction under the period's row lock: concurrent passes on one period queue, and a pass
that fails rolls back its claim, so its keys are pending again.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from core.audit import audit_record
from core.caches import LastUsed
from core.changes import changes_claim
from core.models import Change, ChangeKind
from engine.phases import chunks as ph
from engine.phases.depend import needs_dependencies
from engine.types import Inputs
from hierarchy.models import Assignment, NodeClosure, NodeParent, Period, PeriodStatus
from payouts import chunk_inputs, runs
from payouts import inputs as fetch
from payouts.models import (
    CalculationRun,
    ChunkStatus,
    PayoutLine,
    RunChunk,
    RunKind,
    RunPhase,
    RunStatus,
    RunTrigger,
)
from plans.models import PlanAssignmentVersion, PlanVersion

logger = logging.getLogger(__name__)

TASK = "payouts.tasks.live_recalculate_task"
# The periods a live run keeps up to date: not yet approved (an approved period's statements
# read the approved run) and not closed.
LIVE_STATUSES = (PeriodStatus.OPEN, PeriodStatus.CALCULATED, PeriodStatus.IN_REVIEW)
MAPS = (RunPhase.FETCH, RunPhase.MEASURE, RunPhase.REWARD, RunPhase.SETTLE)
EVERYONE = None  # a period's affected people when every chunk must be computed again

# The keys that can move people onto or off a plan in a period (its layout); the others
# (credits, KPI values, quotas, FX rates, objectives) move figures only.
LAYOUT_KINDS = frozenset(
    {ChangeKind.ASSIGNMENT, ChangeKind.PLAN_ASSIGNMENT, ChangeKind.NODE_PARENT}
)
# How long before a run's known_at a write may have been recorded yet committed after it.
LAYOUT_MARGIN = dt.timedelta(seconds=5)

MSG_PROBLEMS = "The live recalculation found {n} input problem(s); the previous run stands."


# Decoded chunk inputs by fetch chunk row (pk, its run's ``known_at``). A live run's fetch
# chunk stores the inputs it gathered (``payouts.chunk_inputs``, as a full run's do while it
# runs) and a chunk row never changes once written, so a later pass that must reward or settle
# a chunk nobody touched (the pay-on-others'-pay lead's) decodes them, kept here per worker,
# instead of gathering the chunk again. Plans are not kept: each pass brings its own.
INPUTS_KEPT = 256
_kept_inputs: LastUsed[tuple[int, str], Inputs] = LastUsed(INPUTS_KEPT)

# Each chunk's earned rows (``engine.phases.chunks.earned_chunk``, what pay on others' pay
# reads of it) by the reward and fetch outputs they come from and the plan versions: a pass
# computes them for the chunks rewarded since, not for every chunk.
_kept_earned: LastUsed[tuple[Any, ...], pd.DataFrame] = LastUsed(runs.OUTPUT_CACHE_SIZE)


# A full pass gathers its chunks in batches of about this many people (one gather of a large
# tenant's everyone holds all its credits at once; a batch's fixed cost is ~0.2 s).
GATHER_BATCH = 2_000

# At most this many chunks a live run (larger ones when the period has more people): the
# reduces read every chunk's stored outputs, kept per worker (``runs.OUTPUT_CACHE_SIZE``).
MAX_CHUNKS = 250


def chunk_size(people: int = 0) -> int:
    """Return the people per chunk of a live run of ``people``: ``LIVE_CHUNK_SIZE``, or more
    when that would make over ``MAX_CHUNKS`` chunks."""
    size = max(1, int(getattr(settings, "LIVE_CHUNK_SIZE", 20)))
    return max(size, -(-people // MAX_CHUNKS))


def enabled_here() -> bool:
    """Return whether live runs are kept here: switched on, and on PostgreSQL (the carried
    lines are copied set-based; the demo's SQLite recalculates by full runs only)."""
    return bool(getattr(settings, "LIVE_RECALCULATION", True)) and (
        connection.vendor == "postgresql"
    )


# --- which periods and people -------------------------------------------------------------------


def _periods_of(changes: Sequence[Change]) -> list[Period]:
    """Return the live periods (open, calculated, in review) overlapping any claimed key."""
    q = Q()
    for c in changes:
        part = Q(end__gt=c.valid_from)
        if c.valid_to is not None:
            part &= Q(start__lt=c.valid_to)
        q |= part
    return list(Period.objects.filter(q, status__in=LIVE_STATUSES).order_by("start", "pk"))


def _whole_tenant(change: Change) -> bool:
    if change.person_id is None and change.node_id is None:
        return True  # an FX rate, a company KPI
    if change.kind == ChangeKind.NODE_PARENT:
        return True  # every chunk reads the hierarchy's parent links
    # A node's KPI value or quota is read by every chunk that names the node (node-level rows
    # are gathered whole, for every chunk).
    return change.kind in (ChangeKind.KPI_VALUE, ChangeKind.QUOTA) and change.person_id is None


def _in_period(change: Change, period: Period) -> bool:
    return change.valid_from < period.end and (
        change.valid_to is None or change.valid_to > period.start
    )


def layout_moved(period: Period, changes: Iterable[Change]) -> bool:
    """Return whether any of the changes may have moved people onto or off the period's plans."""
    return any(c.kind in LAYOUT_KINDS and _in_period(c, period) for c in changes)


def affected_people(period: Period, changes: Iterable[Change]) -> set[int] | None:
    """Return the people of ``period`` whose inputs the changes touched (None: everyone)."""
    people: set[int] = set()
    nodes: set[int] = set()
    for c in changes:
        if not _in_period(c, period):
            continue
        if _whole_tenant(c):
            return EVERYONE
        if c.person_id is not None:
            people.add(int(c.person_id))
        elif c.node_id is not None:
            nodes.add(int(c.node_id))
    if nodes:
        under = (
            NodeClosure.objects.filter(ancestor_id__in=nodes)
            .overlapping(period.start, period.end)
            .values_list("descendant_id", flat=True)
        )
        people.update(
            Assignment.objects.filter(node_id__in=under)
            .overlapping(period.start, period.end)
            .known_now()
            .values_list("person_id", flat=True)
        )
    return people


# --- stored chunk outputs -----------------------------------------------------------------------


# A chunk row's id and its run's ``known_at`` by (run, phase, number): rows never change once
# written and PostgreSQL never hands an id out again, so a worker asks for each once.
_chunk_keys: LastUsed[tuple[int, str, int], tuple[int, dt.datetime]] = LastUsed(
    runs.OUTPUT_CACHE_SIZE
)


def _load(
    sources: Mapping[tuple[str, int], int],
) -> dict[tuple[str, int], tuple[dict[str, Any], dict[str, pd.DataFrame]]]:
    """Return the stored outputs of (phase, chunk) → run, unpacked (kept by chunk row:
    ``runs.stored_outputs``)."""
    if not sources:
        return {}
    want = {key: (run_id, key[0], key[1]) for key, run_id in sources.items()}
    found: dict[tuple[int, str, int], tuple[int, dt.datetime]] = {}
    for w in want.values():
        kept = _chunk_keys.get(w)
        if kept is not None:
            found[w] = kept
    missing = [w for w in want.values() if w not in found]
    if missing:
        by_run: dict[int, list[tuple[str, int]]] = defaultdict(list)
        for run_id, phase, number in missing:
            by_run[run_id].append((phase, number))
        q = Q()
        for run_id, keys in by_run.items():
            for phase in {p for p, _ in keys}:
                q |= Q(run_id=run_id, phase=phase, number__in=[k for p, k in keys if p == phase])
        for pk, run_id, phase, number, known_at in RunChunk.objects.filter(q).values_list(
            "pk", "run_id", "phase", "number", "run__known_at"
        ):
            found[(run_id, phase, number)] = (pk, known_at)
            _chunk_keys.put((run_id, phase, number), (pk, known_at))
    rows = {key: found[w] for key, w in want.items() if w in found}
    got = runs.stored_outputs(rows.values())
    out = {key: got[pk] for key, (pk, _) in rows.items() if pk in got}
    if len(out) != len(sources):
        raise LookupError("a live run's source chunk is missing")
    return out


def _rows(table: pd.DataFrame) -> set[tuple[str, ...]]:
    return {tuple(str(v) for v in row) for row in table.itertuples(index=False, name=None)}


def _people_of(table: pd.DataFrame) -> set[str]:
    return set(table["person_id"].astype(str)) if len(table) else set()


# --- one pass -----------------------------------------------------------------------------------


@dataclass
class Pass:
    """What one live recalculation of one period did."""

    period_id: int
    run: CalculationRun
    full: bool
    people: int
    chunks: int
    measured: int
    rewarded: int
    settled: int
    seconds: float


def _base(period: Period) -> CalculationRun | None:
    """Return the run the next live run builds on: the latest succeeded full or live run of
    the whole period (a run of chosen people is not the period's figures)."""
    candidates = CalculationRun.objects.filter(
        period=period, status=RunStatus.SUCCEEDED, kind__in=(RunKind.FULL, RunKind.LIVE)
    ).order_by("-finished_at", "-number")
    run: CalculationRun
    for run in candidates[:5]:
        if run.pins.get("person_ids") is None:
            return run
    return None


def _layout_kept(base: CalculationRun, live: Mapping[str, Any]) -> list[list[int]] | None:
    """Return the base live run's layout when nothing the layout is read from can have changed
    since it was read: no plan version published, and no plan assignment, assignment or parent
    link recorded or superseded since the base's ``known_at`` (less ``LAYOUT_MARGIN``, for a
    write recorded before it and committed after); else None (read it again). Together with no
    layout key in the pass (``layout_moved``) this spares the pass reading everyone's plan
    assignments (``people_for_period``): one probe of at most four rows instead."""
    groups = live.get("groups")
    if not groups or live.get("chunk_size") != chunk_size(sum(len(g) for g in groups)):
        return None
    since = base.known_at - LAYOUT_MARGIN
    recorded = Q(recorded_at__gt=since) | Q(superseded_at__gt=since)
    first, *rest = [
        qs.order_by().values_list("pk")[:1]
        for qs in (
            PlanVersion.objects.filter(published_at__gt=since),
            PlanAssignmentVersion.objects.filter(recorded),
            Assignment.objects.filter(recorded),
            NodeParent.objects.filter(recorded),
        )
    ]
    if list(first.union(*rest, all=True)):
        return None
    return [list(group) for group in groups]


def _layout(people: Sequence[int]) -> list[list[int]]:
    size = chunk_size(len(people))
    return [list(people[i : i + size]) for i in range(0, len(people), size)]


def _own_rows(frame: pd.DataFrame, people: set[str]) -> pd.DataFrame:
    """A chunk's quota or KPI rows: its people's and every node's (what its own gather reads)."""
    if not len(frame) or "holder_kind" not in frame.columns:
        return frame
    keep = (frame["holder_kind"].astype(str) != "person") | frame["holder_id"].astype(str).isin(
        people
    )
    return frame[keep.to_numpy()].reset_index(drop=True)


def _fetch_meta(inputs: Inputs, pins: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "problems": [],
        "pins": dict(pins),
        "quota_columns": list(inputs.quotas.columns),
        "quotas": runs._frame_records(inputs.quotas, list(inputs.quotas.columns)),
        "kpi_columns": list(inputs.kpi_values.columns),
        "kpis": runs._frame_records(inputs.kpi_values, list(inputs.kpi_values.columns)),
    }


def _reduce_inputs(base: Inputs, metas: Sequence[Mapping[str, Any]]) -> Inputs:
    """The reduces' inputs: plans, nodes and period of any fresh chunk, with every chunk's
    quotas and KPI values (``payouts.runs`` merges them, for full and live runs alike)."""
    return runs.merge_reduce_inputs(base, metas)


class _RestartError(Exception):
    """The pass must compute every chunk (the reduce's requests changed)."""


class _ProblemsError(Exception):
    def __init__(self, problems: list[dict[str, Any]]) -> None:
        super().__init__(len(problems))
        self.problems = problems


class _Calc:
    """The arithmetic of one live pass over a layout, some chunks fresh, the rest stored."""

    def __init__(
        self,
        period: Period,
        known_at: dt.datetime,
        groups: list[list[int]],
        base: CalculationRun | None,
        dirty: set[int],
    ) -> None:
        self.period, self.known_at, self.groups = period, known_at, groups
        self.n = len(groups)
        self.base = base
        self.dirty = set(dirty) if base is not None else set(range(self.n))
        self.inputs: dict[int, Inputs] = {}
        self.plans: Mapping[str, Any] | None = None  # this pass's plans (of its own gather)
        self.encoded: dict[int, bytes] = {}  # the gathered chunks' inputs, for later passes
        self.out: dict[tuple[str, int], tuple[dict[str, Any], dict[str, pd.DataFrame]]] = {}
        self.fresh: set[tuple[str, int]] = set()
        self.reduces: dict[int, dict[str, pd.DataFrame]] = {}
        self._base_reduces: dict[int, bytes] | None = None
        self.earned_fresh: dict[int, pd.DataFrame] = {}
        self.plans_versions: dict[str, str] = {}
        base_sources = (base.pins.get("live") or {}).get("sources", {}) if base else {}
        self.sources: dict[str, list[int | None]] = {
            p: list(base_sources.get(p, [None] * self.n)) for p in MAPS
        }

    # inputs and stored outputs
    def gather(self, ks: Iterable[int]) -> None:
        """Make the inputs of chunks ``ks`` ready: a touched chunk's gathered (all of them in
        one read, then split by chunk), an untouched one's decoded from where its fetch output
        is (they are the inputs that output was computed from), else gathered too."""
        todo = sorted(set(ks) - set(self.inputs))
        if not todo:
            return
        self.inputs.update(self._decoded([k for k in todo if k not in self.dirty]))
        todo = [k for k in todo if k not in self.inputs]
        batches: list[list[int]] = []
        filled = GATHER_BATCH
        for k in todo:  # a full pass's chunks in batches of about GATHER_BATCH people
            if filled >= GATHER_BATCH:
                batches.append([])
                filled = 0
            batches[-1].append(k)
            filled += len(self.groups[k])
        problems: list[dict[str, Any]] = []
        for batch in batches:
            problems += self._gather(batch)
        if problems:  # every batch's, not the first one's only
            raise _ProblemsError(problems)

    def _gather(self, todo: Sequence[int]) -> list[dict[str, Any]]:
        people = [p for k in todo for p in self.groups[k]]
        got = fetch.gather(period_id=self.period.pk, person_ids=people, known_at=self.known_at)
        if got.problems:
            return [runs._problem_dict(p) for p in got.problems]
        self.plans = got.inputs.plans
        parts = ph.split_inputs(got.inputs, [[str(p) for p in self.groups[k]] for k in todo])
        for k, part in zip(todo, parts, strict=True):
            mine = {str(p) for p in self.groups[k]}
            part = replace(
                part,
                quotas=_own_rows(part.quotas, mine),
                kpi_values=_own_rows(part.kpi_values, mine),
            )
            self.inputs[k] = part
            if k in self.dirty:
                meta = _fetch_meta(part, got.pins)
                self.out[(RunPhase.FETCH, k)] = (meta, ph.segments_chunk(part))
                self.fresh.add((RunPhase.FETCH, k))
                try:
                    self.encoded[k] = chunk_inputs.encode(part)
                except chunk_inputs.EncodeError:  # a later pass gathers this chunk instead
                    logger.warning("live chunk %s: inputs not encodable", k, exc_info=True)
        return []

    def _decoded(self, ks: Sequence[int]) -> dict[int, Inputs]:
        """Return the stored inputs of untouched chunks ``ks`` where their fetch chunk row
        has them (kept decoded per worker), with this pass's plans."""
        plans = self.plans
        if not ks or plans is None:
            return {}
        q = Q()
        for k in ks:
            q |= Q(run_id=self.sources[RunPhase.FETCH][k], number=k)
        rows = list(
            RunChunk.objects.filter(q, phase=RunPhase.FETCH).values_list(
                "pk", "number", "run_id", "run__known_at"
            )
        )
        keys = {
            number: (pk, known_at.isoformat())
            for pk, number, run_id, known_at in rows
            if self.sources[RunPhase.FETCH][number] == run_id
        }
        missing = [keys[k][0] for k in ks if k in keys and keys[k] not in _kept_inputs]
        if missing:
            raw = RunChunk.objects.filter(pk__in=missing, inputs__isnull=False).values_list(
                "pk", "inputs"
            )
            by_pk = {key[0]: key for key in keys.values()}
            for pk, blob in raw:
                try:
                    _kept_inputs.put(by_pk[pk], chunk_inputs.decode(blob, {}))
                except chunk_inputs.EncodeError:
                    continue
        out = {}
        for k in ks:
            kept = _kept_inputs.get(keys[k]) if k in keys else None
            if kept is not None:
                out[k] = replace(kept, plans=plans)
        return out

    def stored(self, phase: str, ks: Iterable[int], *more: tuple[str, Iterable[int]]) -> None:
        """Read the stored outputs of chunks ``ks`` of ``phase`` (and of the ``more`` phases'
        chunks, in the same read) that this pass did not compute."""
        want = {}
        for ph_, numbers in ((phase, ks), *more):
            for k in numbers:
                if (ph_, k) in self.out:
                    continue
                source = self.sources[ph_][k]
                assert source is not None, (ph_, k)
                want[(ph_, k)] = source
        self.out.update(_load(want))

    def tables(self, phase: str, k: int) -> dict[str, pd.DataFrame]:
        return self.out[(phase, k)][1]

    def put(self, phase: str, k: int, tables: dict[str, pd.DataFrame], meta: Any = None) -> None:
        self.out[(phase, k)] = (meta or {}, tables)
        self.fresh.add((phase, k))

    def base_reduce(self, number: int) -> dict[str, pd.DataFrame] | None:
        if self.base is None:
            return None
        if self._base_reduces is None:  # the base run's reduces, in one read
            self._base_reduces = dict(
                RunChunk.objects.filter(run=self.base, phase=RunPhase.REDUCE).values_list(
                    "number", "output"
                )
            )
        raw = self._base_reduces.get(number)
        return None if raw is None else runs.unpack_output(raw)[1]

    # the calculation
    def compute(self) -> None:
        everyone = range(self.n)
        self.gather(self.dirty)
        # every stored output the pass reads of every chunk, in one read: the untouched
        # chunks' fetch and measure outputs
        untouched = [k for k in everyone if k not in self.dirty]
        self.stored(RunPhase.FETCH, everyone, (RunPhase.MEASURE, untouched))
        metas = [self.out[(RunPhase.FETCH, k)][0] for k in everyone]
        self.plans_versions = {}
        for meta in metas:
            self.plans_versions.update((meta.get("pins") or {}).get("plan_versions", {}))
        segs = [self.tables(RunPhase.FETCH, k)["segments"] for k in everyone]
        any_fresh = self.inputs[min(self.inputs)]
        rin = _reduce_inputs(any_fresh, metas)
        every = ph.all_segments(segs)  # converted once for the three reduces
        req = ph.requests_all(rin, segs, every=every)
        self.reduces[runs.REDUCE_REQUESTS] = req
        old = self.base_reduce(runs.REDUCE_REQUESTS)
        if self.base is not None and (
            old is None or _rows(old["requests"]) != _rows(req["requests"])
        ):
            raise _RestartError
        for k in sorted(self.dirty):
            self.put(
                RunPhase.MEASURE, k, ph.measure_chunk(self.inputs[k], segs[k], req["requests"])
            )
        self.stored(RunPhase.MEASURE, everyone)
        partials = [self.tables(RunPhase.MEASURE, k)["partials"] for k in everyone]
        shared = ph.reduce_all(rin, segs, partials, every=every)
        self.reduces[runs.REDUCE_SHARED] = shared
        rewarded = self.dirty | self._shared_moved(shared, segs, req["requests"])
        self.gather(rewarded)
        for k in sorted(rewarded):
            measures = self.tables(RunPhase.MEASURE, k)["measures"]
            self.put(RunPhase.REWARD, k, ph.reward_chunk(self.inputs[k], segs[k], measures, shared))
        if needs_dependencies(rin.plans):
            # Pay on others' pay reads everyone's earned amounts: each chunk's rows are kept
            # per worker by the outputs they come from (never changed once stored), so only
            # the chunks rewarded since are read again; the phase itself reads the measures
            # of the chunks on a dependent plan only (the team lead's, a pool's members').
            dependent = ph.dependent_plans(rin.plans)
            readers = [k for k in everyone if set(segs[k]["plan_id"].astype(str)) & dependent]
            self.stored(RunPhase.MEASURE, readers)
            earned = ph.earned_all(
                rin,
                segs,
                [],
                [self.tables(RunPhase.MEASURE, k) for k in readers],
                shared,
                earned=self._earned_rows(rin.plans, segs),
                every=every,
            )
        else:
            earned = ph.earned_all(rin, segs, [], every=every)
        self.reduces[runs.REDUCE_EARNED] = earned
        settled = rewarded | self._depends_moved(earned, segs)
        self.gather(settled)
        self.settled_tables: dict[int, Mapping[str, pd.DataFrame]] = {}
        for k in sorted(settled):
            measures = self.tables(RunPhase.MEASURE, k)["measures"]
            if (RunPhase.REWARD, k) not in self.out:
                self.stored(RunPhase.REWARD, [k])
            done = ph.settle_chunk(
                self.inputs[k], segs[k], measures, shared, self.tables(RunPhase.REWARD, k), earned
            )
            self.settled_tables[k] = done
            self.put(RunPhase.SETTLE, k, {"balances": done["balances"]})

    def _earned_key(self, k: int, run_id: int | None = None) -> tuple[Any, ...] | None:
        """Where chunk ``k``'s earned rows come from: its reward and fetch outputs (this
        pass's, once it has a run: ``run_id``) and the plan versions read."""
        reward, fetch_ = (
            run_id if (phase, k) in self.fresh else self.sources[phase][k]
            for phase in (RunPhase.REWARD, RunPhase.FETCH)
        )
        if reward is None or fetch_ is None:
            return None
        return (reward, fetch_, k, tuple(sorted(self.plans_versions.items())))

    def _earned_rows(self, plans: Mapping[str, Any], segs: Sequence[pd.DataFrame]) -> pd.DataFrame:
        """Every chunk's ``earned`` rows (``ph.earned_chunk``), in chunk order: kept per
        worker by their outputs, computed for the chunks rewarded since."""
        parts: dict[int, pd.DataFrame] = {}
        for k in range(self.n):
            key = self._earned_key(k)
            kept = _kept_earned.get(key) if key is not None else None
            if kept is not None:
                parts[k] = kept
        self.stored(RunPhase.REWARD, [k for k in range(self.n) if k not in parts])
        for k in range(self.n):
            if k not in parts:
                parts[k] = ph.earned_chunk(plans, segs[k], self.tables(RunPhase.REWARD, k))
                key = self._earned_key(k)
                if key is not None:
                    _kept_earned.put(key, parts[k])
                else:
                    self.earned_fresh[k] = parts[k]
        return pd.concat([parts[k] for k in range(self.n)], ignore_index=True)

    def keep(self, run_id: int) -> None:
        """Keep this pass's fresh chunks' earned rows under the run that now holds them."""
        for k, rows in self.earned_fresh.items():
            key = self._earned_key(k, run_id)
            if key is not None:
                _kept_earned.put(key, rows)

    def _chunks_of_people(self, people: set[str], segs: Sequence[pd.DataFrame]) -> set[int]:
        return {k for k in range(self.n) if _people_of(segs[k]) & people}

    def _shared_moved(
        self, shared: Mapping[str, pd.DataFrame], segs: Sequence[pd.DataFrame], requests: Any
    ) -> set[int]:
        """Chunks whose rewards read a holder or pool figure that changed."""
        old = self.base_reduce(runs.REDUCE_SHARED)
        if old is None:
            return set(range(self.n))
        moved: set[int] = set()
        if _rows(old["pools"]) != _rows(shared["pools"]):
            moved |= self._chunks_of_people(_changed_people(old["pools"], shared["pools"]), segs)
        holders = _rows(old["holders"]) ^ _rows(shared["holders"])
        if holders:
            cols = list(shared["holders"].columns)
            keys = {
                (row[cols.index("scope")], row[cols.index("holder")], row[cols.index("measure_id")])
                for row in holders
            }
            plans = {
                str(p)
                for s, h, p, m in zip(
                    requests["scope"],
                    requests["holder"],
                    requests["plan_id"],
                    requests["measure_id"],
                    strict=True,
                )
                if (str(s), str(h), str(m)) in keys
            }
            if not plans:
                return set(range(self.n))
            moved |= {k for k in range(self.n) if set(segs[k]["plan_id"].astype(str)) & plans}
        return moved

    def _depends_moved(
        self, earned: Mapping[str, pd.DataFrame], segs: Sequence[pd.DataFrame]
    ) -> set[int]:
        """Chunks whose pay-on-others'-pay rows changed (a manager override, a payout pool)."""
        new = earned.get("depends")
        old = self.base_reduce(runs.REDUCE_EARNED)
        if new is None and (old is None or "depends" not in old):
            return set()
        if old is None or "depends" not in old or new is None:
            return set(range(self.n))
        return self._chunks_of_people(_changed_people(old["depends"], new), segs)


def _changed_people(old: pd.DataFrame, new: pd.DataFrame) -> set[str]:
    """Return the people of the rows that differ between two tables with ``person_id``."""
    at = list(new.columns).index("person_id")
    return {row[at] for row in _rows(old[list(new.columns)]) ^ _rows(new)}


def _copy_lines(run: CalculationRun, base: CalculationRun, chunks: Sequence[int]) -> int:
    """Carry the lines (and their contributions) of the untouched ``chunks`` forward from
    ``base`` into ``run``, set-based.

    A live run holds every chunk's lines (written or carried), so the base alone has them all:
    one run's lines are read (by its index), never the lines of every run a chunk's outputs
    came from, and each line's contributions are looked up by (tenant, run, line), the index
    they are kept by (a LATERAL lookup a line: a new run's rows are always newer than the
    planner's statistics, which then estimated one line and one contribution and joined them
    by a nested loop over the materialized lines, 3.3 s for 2,949 contributions).
    """
    if not chunks:
        return 0
    lines, contributions = PayoutLine._meta.db_table, "payouts_linecontribution"
    columns = [
        "period_id", "person_id", "plan_id", "plan_version_id", "component_id", "kind",
        "amount", "currency", "attainment", "measure", "trace_text", "trace", "chunk",
        "segment", "ordinal",
    ]  # fmt: skip
    cols = ", ".join(columns)
    with connection.cursor() as cursor:
        # One statement: the old lines with new ids from the sequence, in the old ids' order
        # (a CTE is computed once), the new lines, and the contributions of the old lines.
        cursor.execute(
            f"WITH src AS MATERIALIZED (SELECT o.*, nextval(pg_get_serial_sequence("  # noqa: S608
            f"'{lines}', 'id')) AS new_id FROM (SELECT * FROM {lines} "
            "WHERE run_id = %s AND chunk = ANY(%s::integer[]) ORDER BY id) o), "
            f"ins AS (INSERT INTO {lines} (id, tenant_id, run_id, {cols}) "
            f"SELECT new_id, tenant_id, %s, {cols} FROM src RETURNING 1) "
            f"INSERT INTO {contributions} "
            "(tenant_id, line_id, run_id, transaction_id, credit_id, amount) "
            "SELECT c.tenant_id, src.new_id, %s, c.transaction_id, c.credit_id, c.amount "
            f"FROM src CROSS JOIN LATERAL (SELECT * FROM {contributions} c "
            "WHERE c.tenant_id = src.tenant_id AND c.run_id = src.run_id AND c.line_id = src.id "
            "ORDER BY c.id) c",
            [base.pk, sorted(chunks), run.pk, run.pk],
        )
        return int(cursor.rowcount)


def _chunk_rows(run: CalculationRun, calc: _Calc) -> int:
    now = timezone.now()
    rows = [
        RunChunk(
            run=run,
            phase=phase,
            number=k,
            person_ids=calc.groups[k],
            status=ChunkStatus.DONE,
            attempts=1,
            claimed_at=now,
            heartbeat_at=now,
            finished_at=now,
            worker=runs._worker_name(),
            output=runs._pack(*calc.out[(phase, k)]),
            inputs=calc.encoded.get(k) if phase == RunPhase.FETCH else None,
        )
        for phase, k in sorted(calc.fresh)
    ]
    rows += [
        RunChunk(
            run=run,
            phase=RunPhase.REDUCE,
            number=number,
            person_ids=[],
            status=ChunkStatus.DONE,
            attempts=1,
            claimed_at=now,
            finished_at=now,
            worker=runs._worker_name(),
            output=runs._pack({}, tables),
        )
        for number, tables in sorted(calc.reduces.items())
    ]
    RunChunk.objects.bulk_create(rows)
    for row in rows:  # what this worker gathered, for its next passes (never changes)
        if row.phase == RunPhase.FETCH and row.number in calc.encoded and row.pk is not None:
            _kept_inputs.put((row.pk, run.known_at.isoformat()), calc.inputs[row.number])
    return len(rows)


def _recalculate(
    period: Period, who: set[int] | None, *, force_full: bool = False, moved: bool = True
) -> Pass | None:
    """One pass over ``period`` for the people ``who`` (``moved``: the pass's keys may have
    moved people onto or off its plans, so its layout is read again)."""
    began = time.perf_counter()
    base = _base(period)
    if base is None:
        return None  # nothing calculated yet: a full run comes first
    known_at = timezone.now()
    live = base.pins.get("live") if base.kind == RunKind.LIVE else None
    full = force_full or who is EVERYONE or live is None
    kept = None if full or moved or live is None else _layout_kept(base, live)
    if kept is not None:
        groups = kept
        people = [p for group in groups for p in group]
    else:
        people = fetch.people_for_period(period.pk, known_at=known_at)
        groups = _layout(people)
        if not full:
            assert live is not None
            if live.get("groups") != groups or live.get("chunk_size") != chunk_size(len(people)):
                full = True
    if not people:
        return None
    dirty: set[int] = set()
    if not full:
        assert who is not None
        chunk_of = {p: k for k, group in enumerate(groups) for p in group}
        dirty = {chunk_of[p] for p in who if p in chunk_of}
        if not dirty:
            return None  # the changed people are on no plan in this period
    calc = _Calc(period, known_at, groups, None if full else base, dirty)
    try:
        try:
            calc.compute()
        except _RestartError:
            full = True
            calc = _Calc(period, known_at, groups, None, set())
            calc.compute()
    except _ProblemsError as exc:
        if kept is not None:  # perhaps the kept layout no longer holds: read it, then decide
            return _recalculate(period, who, force_full=force_full, moved=True)
        return _failed(period, base, known_at, exc.problems, began)
    run = _run_create(period, base, known_at, len(people))
    carried: list[int] = []
    for k in range(calc.n):
        if (RunPhase.SETTLE, k) in calc.fresh:
            runs._write_lines(
                run,
                RunChunk(number=k),
                calc.inputs[k],
                calc.settled_tables[k],
                calc.tables(RunPhase.MEASURE, k),
                summaries=False,
            )
        else:
            carried.append(k)
    if carried:
        _copy_lines(run, base, carried)
    # every person's summary, from the lines just written and copied (one statement)
    runs.write_summaries(run, list(range(calc.n)))
    sources = {
        phase: [
            run.pk if (phase, k) in calc.fresh else calc.sources[phase][k] for k in range(calc.n)
        ]
        for phase in MAPS
    }
    chunks = _chunk_rows(run, calc)
    calc.keep(run.pk)
    counts = {p: sum(1 for ph_, _ in calc.fresh if ph_ == p) for p in MAPS}
    pins = {
        "known_at": known_at.isoformat(),
        "supersedes": base.pk,
        "plan_versions": dict(sorted(calc.plans_versions.items())),
        "live": {
            "chunk_size": chunk_size(len(people)),
            "groups": groups,
            "sources": sources,
            "full": full,
            "recomputed": counts,
        },
    }
    _succeed(run, pins, began, chunks)
    return Pass(
        period_id=period.pk,
        run=run,
        full=full,
        people=len(people),
        chunks=calc.n,
        measured=counts[RunPhase.MEASURE],
        rewarded=counts[RunPhase.REWARD],
        settled=counts[RunPhase.SETTLE],
        seconds=time.perf_counter() - began,
    )


def _run_create(
    period: Period, base: CalculationRun, known_at: dt.datetime, people: int
) -> CalculationRun:
    now = timezone.now()
    run = CalculationRun(
        period=period,
        number=runs._next_number(period),
        kind=RunKind.LIVE,
        trigger=RunTrigger.CHANGE,
        status=RunStatus.RUNNING,
        phase=RunPhase.PERSIST,
        known_at=known_at,
        pins={"supersedes": base.pk},
        chunk_size=chunk_size(people),
        people_count=people,
        created_at=now,
        started_at=now,
        summarized=True,
    )
    run.save()
    return run


def _succeed(run: CalculationRun, pins: dict[str, Any], began: float, chunks: int) -> None:
    digest = runs.lines_hash(run.pk)
    count = PayoutLine.objects.filter(run=run).count()
    done = {
        "status": RunStatus.SUCCEEDED,
        "phase": RunPhase.DONE,
        "result_hash": digest,
        "line_count": count,
        "totals": runs._totals(run.pk),
        "pins": pins,
        "chunks_total": chunks,
        "chunks_done": chunks,
        "finished_at": timezone.now(),
    }
    CalculationRun.objects.filter(pk=run.pk).update(**done)
    for name, value in done.items():  # the row as written (no read back)
        setattr(run, name, value)
    live = pins["live"]
    audit_record(
        action="run.live",
        obj=run,
        after={
            "period": run.period_id,
            "number": run.number,
            "supersedes": pins["supersedes"],
            "full": live["full"],
            "recomputed": live["recomputed"],
            "lines": count,
            "result_hash": digest,
            "ms": round(1000 * (time.perf_counter() - began)),
        },
    )


def _failed(
    period: Period,
    base: CalculationRun,
    known_at: dt.datetime,
    problems: list[dict[str, Any]],
    began: float,
) -> Pass:
    run = _run_create(period, base, known_at, 0)
    run.pins = {"supersedes": base.pk}
    runs._fail(run, MSG_PROBLEMS.format(n=len(problems)), problems=problems)
    return Pass(period.pk, run, True, 0, 0, 0, 0, 0, time.perf_counter() - began)


# --- reads -------------------------------------------------------------------------------------


def runs_version() -> tuple[Any, ...]:
    """Return what changes when any run of the tenant moves (the run list's ETag part): the
    newest run, the newest finish, and the chunks done of unfinished runs."""
    from django.db.models import Count, Max

    agg = CalculationRun.objects.aggregate(n=Max("pk"), f=Max("finished_at"))
    unfinished = RunChunk.objects.filter(
        run__status__in=(RunStatus.QUEUED, RunStatus.RUNNING), status=ChunkStatus.DONE
    ).aggregate(c=Count("pk"))["c"]
    running = CalculationRun.objects.filter(
        status__in=(RunStatus.QUEUED, RunStatus.RUNNING)
    ).values_list("pk", "status", "phase")
    return (agg["n"], str(agg["f"]), unfinished, sorted(running))


# --- the consumer -------------------------------------------------------------------------------


def live_recalculate(*, periods: Sequence[int] | None = None, full: bool = False) -> list[Pass]:
    """Claim the pending changes and bring every live period they touch up to date.

    ``periods`` (with ``full``) recalculates those periods whole, whatever the feed says (a
    manual refresh). Returns what each period's pass did.
    """
    passes: list[Pass] = []
    if not enabled_here():
        return passes
    with transaction.atomic():
        changes = changes_claim()
        targets: list[tuple[Period, set[int] | None]] = []
        if periods is not None:
            targets = [
                (period, EVERYONE if full else affected_people(period, changes))
                for period in Period.objects.filter(pk__in=periods, status__in=LIVE_STATUSES)
            ]
        elif changes:
            targets = [(p, affected_people(p, changes)) for p in _periods_of(changes)]
        for period, who in targets:
            # The period's row lock queues passes (and full runs' numbering) on one period:
            # the next pass builds on this one's run.
            locked = Period.objects.select_for_update().get(pk=period.pk)
            if locked.status not in LIVE_STATUSES:
                continue
            if who is not None and not who:
                continue
            done = _recalculate(
                locked,
                who,
                force_full=full and periods is not None,
                moved=layout_moved(locked, changes),
            )
            if done is not None:
                passes.append(done)
                logger.info(
                    "live run %s of period %s: %s chunk(s) settled of %s in %.0f ms",
                    done.run.number,
                    period.label,
                    done.settled,
                    done.chunks,
                    1000 * done.seconds,
                )
    return passes


__all__ = ["Pass", "affected_people", "enabled_here", "live_recalculate", "runs_version"]
