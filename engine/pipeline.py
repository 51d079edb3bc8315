"""The calculation: ``compute(inputs) -> Result``, in the stages DESIGN.md describes.

Contract:

* :func:`compute` is pure: it reads only ``inputs`` and returns a :class:`~engine.types.Result`.
  The same inputs, in any row order, give identical lines, traces and ``result_hash``.
* It runs in phases, one module each under ``engine/phases/`` (re-exported here), that the
  apps may call separately to spread a run over workers:

  1. :func:`build_segments` - (person, plan) segments: assignments x timeline, clipped to the
     period, each with its pro-ration factor (days x allocation, per the plan's policy), its
     pro-rated target incentive and its ramp quota factor.
  2. :func:`measure_phase` - credits -> measures per segment (vectorized, exact int64 sums),
     plus the per-credit contributions frame. Chunkable by person.
  3. :func:`reduce_phase` - cross-person figures: other people's and nodes' measures for gates
     and hybrid parts, team milestones, pool sizes and their largest-remainder split.
  4. :func:`reward_phase` - one rule per (segment, component), exact Decimals.
  5. :func:`settle` - rounding once per line, prior payments, holds and releases, clawbacks,
     ramp guarantees and draws.

  Plain tier tables take the column-wise fast path (``engine/phases/fast.py``) between 3 and 5.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from decimal import Decimal

import pandas as pd

from engine import measures as ms
from engine.phases.common import InputError
from engine.phases.fast import FastBlock, LazyTrace, fast_path
from engine.phases.measure import MeasureState, measure_phase
from engine.phases.reduce import reduce_phase
from engine.phases.reward import Reward, component_key, plain_figures, reward_phase
from engine.phases.segments import Segment, build_segments, seasons
from engine.phases.settle import settle
from engine.types import (
    Inputs,
    PayoutLine,
    Result,
    Trace,
)

__all__ = [
    "InputError",
    "MeasureState",
    "Reward",
    "Segment",
    "build_segments",
    "component_key",
    "compute",
    "measure_phase",
    "plain_figures",
    "reduce_phase",
    "result_hash",
    "reward_phase",
    "seasons",
    "settle",
]


def _measure_frame(state: MeasureState) -> pd.DataFrame:
    rows = []
    for seg in state.segments:
        for mid in sorted(state.measure_values[seg.id]):
            value = state.measure_values[seg.id][mid]
            rows.append(
                (seg.person_key, seg.plan_id, seg.index, mid, None if value is None else value)
            )
    return pd.DataFrame(rows, columns=["person_id", "plan_id", "segment", "measure_id", "value"])


def result_hash(
    lines: Sequence[PayoutLine],
    traces: Sequence[Trace],
    measures: pd.DataFrame,
    balances: Mapping[str, Decimal],
) -> str:
    """Return the sha256 of the canonical serialization of a result."""
    h = hashlib.sha256()
    for ln in lines:
        h.update(
            f"{ln.person_id}|{ln.plan_id}|{ln.component_id}|{ln.period_id}|{ln.segment}|"
            f"{ln.segment_start}|{ln.segment_end}|{ln.kind}|{ln.earned}|{ln.paid_before}|"
            f"{ln.amount}|{ln.amount_minor}|{ln.currency}|{_canon(ln.attainment)}|"
            f"{_canon(ln.tier)}\n".encode()
        )
    parts: list[str] = []
    lazy: dict[int, tuple[FastBlock, list[int], list[int]]] = {}
    for t in traces:
        head = f"{t.person_id}|{t.plan_id}|{t.component_id}|{t.segment}|{t.rule}|"
        src = t.source
        if isinstance(src, LazyTrace):
            # A fast-path trace is hashed by the figures it renders from, unrendered.
            got = lazy.setdefault(id(src.block), (src.block, [], []))
            got[1].append(src.row)
            got[2].append(len(parts))
            parts.append(head)
        elif t.figures is not None:  # the same figures, from the general path
            parts.append(head + t.figures)
        else:
            steps = ";".join(f"{s.name}={s.value}#{s.note}" for s in t.steps)
            parts.append(f"{head}{steps}|{','.join(t.inputs)}|{t.text}")
    for block, rows, slots in lazy.values():
        for slot, text in zip(slots, block.figures(rows), strict=True):
            parts[slot] += text
    for part in parts:
        h.update(part.encode())
        h.update(b"\n")
    for row in measures.itertuples(index=False):
        h.update("|".join(_canon(v) for v in row).encode())
        h.update(b"\n")
    for person, balance in sorted(balances.items()):
        h.update(f"{person}={_canon(balance)}\n".encode())
    return h.hexdigest()


def _canon(value: object) -> str:
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    if value is None:
        return ""
    return str(value)


_KIND_ORDER = {
    "earned": 0,
    "deferred": 1,
    "hold": 2,
    "release": 3,
    "instalment": 4,
    "clawback": 5,
    "guarantee": 6,
    "draw": 7,
    "draw_recovery": 8,
}


def compute(inputs: Inputs, *, pace: Decimal | None = None, fast: bool = True) -> Result:
    """Return the payout lines, traces and hash for ``inputs``; ``pace`` scales sums (forecast).

    ``fast=False`` turns the column-wise fast path for plain tier tables off (every segment
    then goes through the general Decimal rules); lines, measures, balances and every trace's
    steps and sentence are the same either way.
    """
    kpis = ms.KpiTable(inputs.kpi_values)
    segments = build_segments(inputs)
    state = measure_phase(inputs, segments, pace, kpis)
    shared = reduce_phase(inputs, state, kpis)
    fast_lines: list[PayoutLine] = []
    fast_traces: list[Trace] = []
    done: set[int] = set()
    if fast and pace is None:
        fast_lines, fast_traces, done = fast_path(inputs, state, shared, kpis)
    rest = [s for s in state.segments if s.id not in done] if done else None
    rewards = reward_phase(inputs, state, shared, kpis, rest) if rest is None or rest else []
    book, balances = settle(inputs, rewards)
    book.lines += fast_lines
    book.traces += fast_traces
    comp_order = {
        (pid, c.id): i for pid, p in inputs.plans.items() for i, c in enumerate(p.components)
    }

    def order(component_id: str, plan_id: str) -> int:
        return comp_order.get((plan_id, component_id), len(comp_order) + 1)

    lines = sorted(
        book.lines,
        key=lambda ln: (
            ln.person_id,
            ln.plan_id,
            ln.segment,
            order(ln.component_id, ln.plan_id),
            ln.component_id,
            _KIND_ORDER[ln.kind],
            ln.amount,
        ),
    )
    traces = sorted(
        book.traces,
        key=lambda t: (
            t.person_id,
            t.plan_id,
            t.segment,
            order(t.component_id, t.plan_id),
            t.component_id,
            t.rule,
            () if t.source is not None else t.inputs,
            "" if t.source is not None else t.text,
        ),
    )
    measures = _measure_frame(state)
    digest = result_hash(lines, traces, measures, balances)
    return Result(
        period_id=inputs.period.id,
        lines=tuple(lines),
        traces=tuple(traces),
        contributions=state.contributions,
        measures=measures,
        draw_balances=balances,
        result_hash=digest,
    )
