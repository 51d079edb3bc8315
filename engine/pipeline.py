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
  4. :func:`reward_phase` - one rule per (segment, component), exact Decimals; then the
     dependency phase (``engine/phases/dependency.py``: pay on others' pay) rewards the
     components that read other payees' earned amounts (``engine/phases/depend.py``'s
     ``earned_table``), level by level after the components they read.
  5. :func:`settle` - rounding once per line, prior payments, holds and releases, clawbacks,
     ramp guarantees and draws.

  Plain tier tables take the column-wise fast path (``engine/phases/fast.py``) between 3 and 5.
  ``engine.phases.chunks`` runs the same phases chunk by chunk, every output a plain table.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from engine import measures as ms
from engine.phases.common import InputError, no_cycle_collection
from engine.phases.depend import earned_table
from engine.phases.dependency import component_levels, deferred, dependency_phase
from engine.phases.fast import FastOut, fast_rows
from engine.phases.measure import MeasureState, measure_phase
from engine.phases.reduce import reduce_phase
from engine.phases.result import assemble, measure_table, result_hash
from engine.phases.reward import Reward, component_key, plain_figures, reward_phase
from engine.phases.segments import Segment, build_segments, seasons
from engine.phases.settle import settle
from engine.types import (
    Inputs,
    Result,
)

__all__ = [
    "InputError",
    "MeasureState",
    "Reward",
    "Segment",
    "build_segments",
    "component_key",
    "compute",
    "dependency_phase",
    "measure_phase",
    "plain_figures",
    "reduce_phase",
    "result_hash",
    "reward_phase",
    "seasons",
    "settle",
]


def compute(inputs: Inputs, *, pace: Decimal | None = None, fast: bool = True) -> Result:
    """Return the payout lines, traces and hash for ``inputs``; ``pace`` scales sums (forecast).

    ``fast=False`` turns the column-wise fast path for plain tier tables off (every segment
    then goes through the general Decimal rules); lines, measures, balances and every trace's
    steps and sentence are the same either way.
    """
    with no_cycle_collection():
        return _compute(inputs, pace, fast)


def _compute(inputs: Inputs, pace: Decimal | None, fast: bool) -> Result:
    kpis = ms.KpiTable(inputs.kpi_values)
    levels = component_levels(inputs.plans)
    segments = build_segments(inputs)
    state = measure_phase(inputs, segments, pace, kpis)
    shared = reduce_phase(inputs, state, kpis)
    quick = FastOut([], set())
    if fast and pace is None:
        quick = fast_rows(inputs, state, shared, kpis)  # column-wise, objects on demand
    done = quick.done
    rest = [s for s in state.segments if s.id not in done] if done else None
    later = deferred(levels)
    rewards = reward_phase(inputs, state, shared, kpis, rest, later) if rest is None or rest else []
    if later:  # pay on others' pay: between reward and settle
        earned = earned_table(inputs.plans, state.segments, rewards, quick.lines())
        dep = dependency_phase(inputs, state, shared, kpis, levels, earned)
        rewards += dep.rewards
        state = dataclasses.replace(
            state,
            measure_values=dep.measure_values,
            formula_steps=dep.formula_steps,
            formula_sentences=dep.formula_sentences,
        )
    book, balances = settle(inputs, rewards)
    measures = measure_table(state)  # hashed from its texts, the frame built when read
    return assemble(inputs, book.lines, book.traces, measures, state.contributions, balances, quick)
