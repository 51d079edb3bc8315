"""A calculation in person chunks: map, reduce once, map again, every step's output a table.

Contract: each step is a pure function of its arguments and returns a mapping of plain
tables (:data:`engine.phases.tables.SCHEMAS`) that :func:`~engine.phases.tables.dumps` writes
and :func:`~engine.phases.tables.loads` reads back, so each step may run on another worker
and its output may be stored in between. For any split of the people,

    run_in_chunks(inputs, chunks).result_hash == engine.compute(inputs).result_hash

(also with every output written and read back: ``persist=True``). The steps:

1. :func:`split_inputs` - one :class:`~engine.types.Inputs` per chunk: the per-person frames
   (assignments, timeline, credits, prior payouts, reversals, holds, instalments, draw
   balances) of the chunk's people; plans, quotas, KPI values and nodes in full.
2. :func:`segments_chunk` (map) -> ``segments``.
3. :func:`requests_all` (reduce, small) -> ``requests``: which other people's and nodes'
   measures gates, modifiers, tier pickers, parts and pools read.
4. :func:`measure_chunk` (map) -> ``measures``, ``contributions``, ``partials`` (the chunk's
   sums towards the requested holders' measures).
5. :func:`reduce_all` (reduce, once) -> ``holders``, ``pools``.
6. :func:`reward_chunk` (map) -> ``rewards`` (general path), and the fast path's ``lines``
   and ``traces`` (plain tier tables, already settled).
7. :func:`earned_all` (reduce) -> ``earned``: every payee's earned amounts, what the
   dependency phase (:mod:`engine.phases.depend`, pay on others' pay) reads.
8. :func:`settle_chunk` (map) -> ``lines``, ``traces``, ``balances``: the dependency phase for
   the chunk's rewards, then settlement.
9. :func:`assemble_all` -> the :class:`~engine.types.Result`, as :func:`engine.compute`
   returns it (contributions as plain columns).

Forecasts (``compute(pace=...)``) are not chunked.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal

import numpy as np
import pandas as pd

from engine import measures as ms
from engine.phases import convert as cv
from engine.phases.common import InputError
from engine.phases.depend import earned_table, needs_dependencies
from engine.phases.dependency import component_levels, deferred, dependency_phase
from engine.phases.fast import fast_path
from engine.phases.measure import measure_phase
from engine.phases.reduce import holder_partials, holder_requests, reduce_finish
from engine.phases.result import assemble
from engine.phases.reward import reward_phase
from engine.phases.segments import Segment, build_segments
from engine.phases.settle import settle
from engine.phases.tables import SCHEMAS, dumps, frame, loads
from engine.spec import Plan
from engine.types import Inputs, PayoutLine, Result, Trace

Tables = dict[str, pd.DataFrame]

_PERSON_FRAMES = (
    "assignments",
    "timeline",
    "credits",
    "prior_payouts",
    "reversals",
    "holds",
    "instalments",
    "reserves",
    "history_credits",
    "history_payouts",
)


def people(inputs: Inputs) -> list[str]:
    """Return every person id (as text) that some per-person input names, sorted."""
    found: set[str] = {str(p) for p in inputs.draw_balances}
    for name in _PERSON_FRAMES:
        table: pd.DataFrame = getattr(inputs, name)
        if len(table):
            found.update(table["person_id"].astype(str).tolist())
    return sorted(found)


def split_inputs(inputs: Inputs, chunks: int | Sequence[Collection[str]]) -> list[Inputs]:
    """Return one :class:`Inputs` per chunk of people (``chunks``: a count, or the ids).

    A count deals the people round-robin in id order. Given ids must name every person of the
    inputs exactly once (chunks may be empty).
    """
    everyone = people(inputs)
    groups: list[set[str]]
    if isinstance(chunks, int):
        if chunks < 1:
            raise InputError(f"chunks: must be at least 1, not {chunks}")
        groups = [set(everyone[k::chunks]) for k in range(chunks)]
    else:
        groups = [{str(p) for p in chunk} for chunk in chunks]
        seen: dict[str, int] = {}
        for k, group in enumerate(groups):
            for p in sorted(group):
                if p in seen:
                    raise InputError(f"chunks: person {p} is in chunks {seen[p]} and {k}")
                seen[p] = k
        missing = [p for p in everyone if p not in seen]
        if missing:
            raise InputError(f"chunks: person(s) {', '.join(missing)} in no chunk")
    keys = {name: getattr(inputs, name)["person_id"].astype(str) for name in _PERSON_FRAMES}
    out = []
    for group in groups:
        frames = {
            name: getattr(inputs, name)[keys[name].isin(group).to_numpy()]
            for name in _PERSON_FRAMES
        }
        balances = {p: b for p, b in inputs.draw_balances.items() if str(p) in group}
        out.append(replace(inputs, draw_balances=balances, **frames))
    return out


def segments_chunk(chunk: Inputs) -> Tables:
    """Return the chunk's (person, plan) segments: ``segments``."""
    return {"segments": cv.segments_table(build_segments(chunk))}


def all_segments(tables: Sequence[pd.DataFrame]) -> list[Segment]:
    """Return every chunk's segments (their ``segments`` tables) as one numbered list: what
    :func:`requests_all`, :func:`reduce_all` and :func:`earned_all` read (pass it as
    ``every`` to convert them once)."""
    return cv.segments_from(pd.concat(tables, ignore_index=True) if tables else _empty("segments"))


def _empty(name: str) -> pd.DataFrame:
    return frame(name, {c: [] for c in SCHEMAS[name]})


def requests_all(
    inputs: Inputs, segments: Sequence[pd.DataFrame], *, every: Sequence[Segment] | None = None
) -> Tables:
    """Return what every chunk must sum for other holders, from all chunks' ``segments``
    (``every``: them already converted, :func:`all_segments`)."""
    requests = holder_requests(
        inputs.plans, list(every) if every is not None else all_segments(segments)
    )
    return {"requests": cv.requests_table(requests)}


def measure_chunk(chunk: Inputs, segments: pd.DataFrame, requests: pd.DataFrame) -> Tables:
    """Return the chunk's ``measures``, ``contributions`` and ``partials``."""
    state = measure_phase(chunk, cv.segments_from(segments))
    partials = holder_partials(chunk, state, cv.requests_from(requests))
    return {
        "measures": cv.measures_table(state),
        "contributions": cv.contributions_table(state),
        "partials": cv.partials_table(partials),
    }


def reduce_all(
    inputs: Inputs,
    segments: Sequence[pd.DataFrame],
    partials: Sequence[pd.DataFrame],
    *,
    every: Sequence[Segment] | None = None,
) -> Tables:
    """Return the cross-person figures once: ``holders`` and ``pools``.

    Reads every chunk's ``segments`` (``every``: them already converted) and ``partials``,
    and of ``inputs`` the plans, quotas, KPI values, nodes and period only (no credits).
    """
    every = list(every) if every is not None else all_segments(segments)
    requests = holder_requests(inputs.plans, every)
    added = cv.partials_from(
        pd.concat(partials, ignore_index=True) if partials else _empty("partials")
    )
    shared = reduce_finish(inputs, every, requests, added)
    return {"holders": cv.holders_table(shared), "pools": cv.pools_table(shared)}


def reward_chunk(
    chunk: Inputs,
    segments: pd.DataFrame,
    measures: pd.DataFrame,
    shared: Mapping[str, pd.DataFrame],
    *,
    fast: bool = True,
) -> Tables:
    """Return the chunk's ``rewards``, and the fast path's settled ``lines`` and ``traces``."""
    segs = cv.segments_from(segments)
    state = cv.state_from(chunk, segs, measures, chunk.plans)
    figures = cv.shared_from(shared["holders"], shared["pools"])
    kpis = ms.KpiTable(chunk.kpi_values)
    lines: list[PayoutLine] = []
    traces: list[Trace] = []
    done: set[int] = set()
    if fast:
        lines, traces, done = fast_path(chunk, state, figures, kpis)
    rest = [s for s in segs if s.id not in done]
    later = deferred(component_levels(chunk.plans))  # left to the dependency phase
    rewards = reward_phase(chunk, state, figures, kpis, rest, later) if rest else []
    return {
        "rewards": cv.rewards_table(rewards),
        "lines": cv.lines_table(lines),
        "traces": cv.traces_table(traces),
    }


def earned_chunk(
    plans: Mapping[str, Plan], segments: pd.DataFrame, rewards: Mapping[str, pd.DataFrame]
) -> pd.DataFrame:
    """Return one chunk's ``earned`` rows from its ``segments`` and :func:`reward_chunk`
    output: the rows :func:`earned_all` reads of that chunk (a live pass keeps them per chunk,
    since a chunk's rewards never change once stored)."""
    segs = cv.segments_from(segments)
    return earned_table(
        plans,
        segs,
        cv.rewards_from(rewards["rewards"], segs, plans),
        cv.lines_from(rewards["lines"]),
    )


def dependent_plans(plans: Mapping[str, Plan]) -> frozenset[str]:
    """Return the plans whose segments the dependency phase reads or rewards: a component paid
    on others' earned amounts, or an earned measure."""
    later = {pid for pid, _ in deferred(component_levels(plans))}
    return frozenset(
        pid
        for pid, plan in plans.items()
        if pid in later or any(m.earned is not None for m in plan.measures)
    )


def earned_all(
    inputs: Inputs,
    segments: Sequence[pd.DataFrame],
    rewards: Sequence[Mapping[str, pd.DataFrame]],
    measured: Sequence[Mapping[str, pd.DataFrame]] = (),
    shared: Mapping[str, pd.DataFrame] | None = None,
    *,
    earned: pd.DataFrame | None = None,
    every: Sequence[Segment] | None = None,
) -> Tables:
    """Return every payee's earned amounts (``earned``) and the dependency phase's outputs.

    With pay on others' pay the dependency phase runs here, once over the whole run (a team
    spans chunks, a payout pool all its participants): ``depends`` holds the rewards of the
    components that read others' earned amounts, ``measures`` every segment's measures with
    the earned ones filled in. ``measured`` and ``shared`` are the measure and reduce outputs.

    ``earned`` given (every chunk's :func:`earned_chunk` rows, in chunk order) replaces
    ``rewards``; ``measured`` may then hold only the chunks with segments on
    :func:`dependent_plans` (the only measures the phase reads): ``depends`` is the same, and
    ``measures`` holds those chunks' segments' only. ``every``: the segments already
    converted (:func:`all_segments`).
    """
    if not needs_dependencies(inputs.plans):
        return {"earned": _empty("earned")}
    segs = list(every) if every is not None else all_segments(segments)
    if earned is None:
        parts = [
            earned_table(
                inputs.plans,
                segs,
                cv.rewards_from(r["rewards"], segs, inputs.plans),
                cv.lines_from(r["lines"]),
            )
            for r in rewards
        ]
        earned = pd.concat(parts, ignore_index=True) if parts else _empty("earned")
    if shared is None:
        raise InputError("earned_all: the reduce outputs (shared) are needed for dependencies")
    all_measures = (
        pd.concat([m["measures"] for m in measured], ignore_index=True) if measured else None
    )
    state = cv.state_from(
        inputs,
        segs,
        all_measures if all_measures is not None else _empty("measures"),
        inputs.plans,
    )
    figures = cv.shared_from(shared["holders"], shared["pools"])
    kpis = ms.KpiTable(inputs.kpi_values)
    dep = dependency_phase(inputs, state, figures, kpis, component_levels(inputs.plans), earned)
    state = replace(
        state,
        measure_values=dep.measure_values,
        formula_steps=dep.formula_steps,
        formula_sentences=dep.formula_sentences,
    )
    return {
        "earned": earned,
        "depends": cv.rewards_table(dep.rewards),
        "measures": cv.measures_table(state),
    }


def settle_chunk(
    chunk: Inputs,
    segments: pd.DataFrame,
    measures: pd.DataFrame,
    shared: Mapping[str, pd.DataFrame],
    rewards: Mapping[str, pd.DataFrame],
    earned: Mapping[str, pd.DataFrame],
) -> Tables:
    """Return the chunk's ``lines``, ``traces`` and ``balances`` (its dependent rewards, settle).

    ``earned`` is :func:`earned_all`'s output: its ``depends`` rows of the chunk's people join
    the chunk's rewards.
    """
    segs = cv.segments_from(segments)
    got = cv.rewards_from(rewards["rewards"], segs, chunk.plans)
    if "depends" in earned:
        mine = {s.person_key for s in segs}
        table = earned["depends"]
        rows = table[table["person_id"].astype(str).isin(mine).to_numpy()]
        got += cv.rewards_from(rows, segs, chunk.plans)
    book, balances = settle(chunk, got)
    return {
        "lines": pd.concat([cv.lines_table(book.lines), rewards["lines"]], ignore_index=True),
        "traces": pd.concat([cv.traces_table(book.traces), rewards["traces"]], ignore_index=True),
        "balances": cv.balances_table(balances),
    }


def assemble_all(
    inputs: Inputs,
    measured: Sequence[Mapping[str, pd.DataFrame]],
    settled: Sequence[Mapping[str, pd.DataFrame]],
    earned: Mapping[str, pd.DataFrame] | None = None,
) -> Result:
    """Return the :class:`Result` of all chunks, as :func:`engine.compute` returns it.

    With pay on others' pay, ``earned`` (:func:`earned_all`'s output) holds the measures with
    the earned ones filled in.
    """
    lines = [ln for s in settled for ln in cv.lines_from(s["lines"])]
    traces = [t for s in settled for t in cv.traces_from(s["traces"])]
    if earned is not None and "measures" in earned:
        every = earned["measures"]
    elif measured:
        every = pd.concat([m["measures"] for m in measured], ignore_index=True)
    else:
        every = _empty("measures")
    measures = cv.measure_frame_from(every)
    balances: dict[str, Decimal] = {}
    for s in settled:
        balances.update(cv.balances_from(s["balances"]))
    return assemble(
        inputs,
        lines,
        traces,
        measures,
        _contributions([m["contributions"] for m in measured]),
        dict(sorted(balances.items())),
    )


def _contributions(parts: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Return the chunks' contributions in one frame, ordered as one call orders them."""
    every = pd.concat(parts, ignore_index=True) if parts else _empty("contributions")
    if len(parts) <= 1 or not len(every):
        return every
    keys = [
        pd.factorize(every[c].astype(str) if c == "person_id" else every[c], sort=True)[0]
        for c in ("measure_id", "segment", "plan_id", "person_id")
    ]
    return every.iloc[np.lexsort(keys)].reset_index(drop=True)


def run_in_chunks(
    inputs: Inputs,
    chunks: int | Sequence[Collection[str]],
    *,
    fast: bool = True,
    persist: bool = False,
) -> Result:
    """Return the result of ``inputs`` computed chunk by chunk (one process, in order).

    ``persist=True`` writes every step's output to JSON and reads it back before the next step
    uses it, as a run spread over workers does. The result equals :func:`engine.compute`'s.
    """
    keep: Callable[[Tables], Tables] = (lambda t: loads(dumps(t))) if persist else (lambda t: t)
    parts = split_inputs(inputs, chunks)
    segs = [keep(segments_chunk(p))["segments"] for p in parts]
    requests = keep(requests_all(inputs, segs))["requests"]
    measured = [keep(measure_chunk(p, s, requests)) for p, s in zip(parts, segs, strict=True)]
    shared = keep(reduce_all(inputs, segs, [m["partials"] for m in measured]))
    rewarded = [
        keep(reward_chunk(p, s, m["measures"], shared, fast=fast))
        for p, s, m in zip(parts, segs, measured, strict=True)
    ]
    earned = keep(earned_all(inputs, segs, rewarded, measured, shared))
    settled = [
        keep(settle_chunk(p, s, m["measures"], shared, r, earned))
        for p, s, m, r in zip(parts, segs, measured, rewarded, strict=True)
    ]
    return assemble_all(inputs, measured, settled, earned)
