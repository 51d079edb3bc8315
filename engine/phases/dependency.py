"""Phase 4b, dependency (between reward and settle): pay on others' pay.

Contract:

* A component that reads an ``aggregate: earned`` measure (directly, or through a formula,
  a gate, a modifier...) is rewarded here, after the components it reads: every component
  has a dependency level (:func:`engine.spec.dependency_levels`; 0 reads no earned amounts),
  the reward phase does level 0 (and the fast path its plain tier tables), and this phase
  does levels 1, 2, ... in turn. A cycle was refused when the plans were read.
* An earned measure's value is the sum of the **earned lines** (each rounded once, in its
  plan's mode; prior payments, holds and deferrals not subtracted) of the components it
  names, over the payees its ``scope`` says: ``team`` - the payees whose segment sits at the
  reader's node or below it, the reader excluded; ``node`` - at node ``holder`` or below;
  ``person`` - payee ``holder``. A payee's line counts for the first of the reader's
  segments on the plan that overlaps it (and, for ``team``, whose team holds it), so a
  reader with several segments counts each line once.
* A ``payout_pool`` is a share of its earned measure's holder total (no reader), split like
  every pool (:func:`engine.phases.reduce.split_pool`).
* Pure and deterministic: lines are read in (person, plan, component, segment) order, so
  the result does not depend on the order of any input's rows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

import pandas as pd

from engine import measures as ms
from engine.money import ZERO, add, quantize, to_decimal
from engine.phases.common import InputError
from engine.phases.measure import MeasureState, formula_context
from engine.phases.reduce import split_pool
from engine.phases.reward import CreditColumns, Reward, row_builder, segment_facts
from engine.phases.segments import Segment, quota_tables, seasons
from engine.rules import EarnedFigure, PoolShare, Shared, evaluate
from engine.spec import (
    ComponentKey,
    EarnedSource,
    Measure,
    Plan,
    PlanValidationError,
    dependency_levels,
    measure_closure,
)
from engine.types import Inputs, Step


@dataclass(frozen=True, slots=True)
class EarnedLine:
    """One payee's earned line of one component in one segment, as earned measures read it."""

    person: str
    plan: str
    component: str
    segment: int
    node: str
    start_day: int
    end_day: int
    amount: Decimal


def component_levels(plans: Mapping[str, Plan]) -> dict[ComponentKey, int]:
    """Return each component's dependency level; refuse a cycle or a dangling source."""
    try:
        return dependency_levels(plans)
    except PlanValidationError as exc:
        raise InputError("plans: " + "; ".join(exc.errors)) from exc


def deferred(levels: Mapping[ComponentKey, int]) -> frozenset[ComponentKey]:
    """Return the components the dependency phase rewards (level 1 and above)."""
    return frozenset(k for k, level in levels.items() if level > 0)


def earned_lines(earned: pd.DataFrame, segments: Sequence[Segment]) -> list[EarnedLine]:
    """Return the rows of an ``earned`` table (:func:`depend.earned_table`) with their days."""
    if not len(earned):
        return []
    by_key = {(s.person_key, s.plan_id, s.index): s for s in segments}
    out = []
    for person, plan, component, index, amount in zip(
        earned["person_id"].astype(str).tolist(),
        earned["plan_id"].astype(str).tolist(),
        earned["component_id"].astype(str).tolist(),
        earned["segment"].tolist(),
        earned["earned"].tolist(),
        strict=True,
    ):
        out.append(_line(by_key[(person, plan, int(index))], component, to_decimal(amount)))
    return out


def _line(seg: Segment, component: str, amount: Decimal) -> EarnedLine:
    return EarnedLine(
        seg.person_key,
        seg.plan_id,
        component,
        seg.index,
        seg.node_id,
        seg.start_day,
        seg.end_day,
        amount,
    )


@dataclass
class DependencyResult:
    """What the dependency phase adds: rewards, the finished measures, the pool shares."""

    rewards: list[Reward]
    measure_values: list[dict[str, Decimal | None]]
    formula_steps: dict[int, dict[str, tuple[Step, ...]]]
    formula_sentences: dict[int, dict[str, str]]
    shared: Shared


class _Team:
    """Node subtrees, worked out once each."""

    def __init__(self, inputs: Inputs) -> None:
        self.nodes = inputs.nodes
        self.cache: dict[str, set[str]] = {}

    def under(self, node: str) -> set[str]:
        got = self.cache.get(node)
        if got is None:
            got = self.cache[node] = ms.descendants(self.nodes, node) if len(self.nodes) else {node}
        return got


def _label(src: EarnedSource, plans: Mapping[str, Plan]) -> str:
    """Return how a sentence names an earned figure when the plan gives no label."""
    if src.label:
        return src.label
    names: list[str] = []
    for pid, cid in src.of:
        comp = next(c for c in plans[pid].components if c.id == cid)
        name = comp.name or comp.id
        if name not in names:
            names.append(name)
    what = " and ".join(names)
    whose = {"team": "the team's", "node": f"node {src.holder}'s", "person": f"{src.holder}'s"}
    return f"{whose[src.scope]} {what}"


def _figure(
    m: Measure,
    label: str,
    lines: Sequence[EarnedLine],
    currency: str,
) -> EarnedFigure:
    """Return the earned figure of ``lines``: the total and what each payee earned."""
    by_person: dict[str, Decimal] = {}
    refs = []
    for ln in sorted(lines, key=lambda x: (x.person, x.plan, x.component, x.segment)):
        by_person[ln.person] = add(by_person.get(ln.person, ZERO), ln.amount)
        refs.append(f"earned:{ln.person}/{ln.plan}/{ln.component}/{ln.segment}")
    zero = quantize(ZERO, currency, "half_up")
    total = sum(by_person.values(), zero)
    return EarnedFigure(m.id, label, total, tuple(sorted(by_person.items())), tuple(refs))


def _overlaps(seg: Segment, ln: EarnedLine) -> bool:
    return seg.start_day < ln.end_day and ln.start_day < seg.end_day


@dataclass
class _Pool:
    """The earned lines an earned measure reads, by node and by person (looked up per reader)."""

    by_node: dict[str, list[EarnedLine]]
    by_person: dict[str, list[EarnedLine]]

    @classmethod
    def of(cls, lines: Sequence[EarnedLine]) -> _Pool:
        by_node: dict[str, list[EarnedLine]] = {}
        by_person: dict[str, list[EarnedLine]] = {}
        for ln in lines:
            by_node.setdefault(ln.node, []).append(ln)
            by_person.setdefault(ln.person, []).append(ln)
        return cls(by_node, by_person)

    def at(self, nodes: set[str]) -> list[EarnedLine]:
        """Return the lines of payees at ``nodes``."""
        return [ln for n in sorted(nodes & self.by_node.keys()) for ln in self.by_node[n]]


def _reader_lines(
    src: EarnedSource,
    seg: Segment,
    readers: Sequence[Segment],
    pool: _Pool,
    team: _Team,
) -> list[EarnedLine]:
    """Return the lines that count for reader segment ``seg`` (one of ``readers``, in order)."""
    if src.scope == "person":
        candidates = pool.by_person.get(src.holder or "", [])
    else:
        candidates = pool.at(team.under(seg.node_id if src.scope == "team" else src.holder or ""))
    out = []
    for ln in candidates:
        if ln.person == seg.person_key:
            continue
        home = next(
            (
                r
                for r in readers
                if _overlaps(r, ln) and (src.scope != "team" or ln.node in team.under(r.node_id))
            ),
            None,
        )
        if home is seg:
            out.append(ln)
    return out


def _holder_lines(src: EarnedSource, pool: Sequence[EarnedLine], team: _Team) -> list[EarnedLine]:
    """Return the lines of a node's or a person's payees (a payout pool has no reader)."""
    if src.scope == "person":
        return [ln for ln in pool if ln.person == src.holder]
    under = team.under(src.holder or "")
    return [ln for ln in pool if ln.node in under]


def dependency_phase(
    inputs: Inputs,
    state: MeasureState,
    shared: Shared,
    kpis: ms.KpiTable,
    levels: Mapping[ComponentKey, int],
    earned: pd.DataFrame,
) -> DependencyResult:
    """Return the rewards of the components that read others' earned amounts, level by level.

    ``earned`` is what every payee earned at level 0 (:func:`depend.earned_table` of the
    reward phase and the fast path); ``state`` and ``shared`` are the whole run's.
    """
    values = list(state.measure_values)
    fsteps = {k: dict(v) for k, v in state.formula_steps.items()}
    fsent = {k: dict(v) for k, v in state.formula_sentences.items()}
    later = deferred(levels)
    if not later:
        return DependencyResult([], values, fsteps, fsent, shared)
    plans = inputs.plans
    ready: dict[tuple[str, str], int] = {}
    for plan in plans.values():
        for m in plan.measures:
            if m.earned is not None:
                ready[(plan.id, m.id)] = 1 + max(levels.get(k, 0) for k in m.earned.of)
    top = max([*levels.values(), *ready.values()])
    lines = earned_lines(earned, state.segments)
    by_component: dict[ComponentKey, list[EarnedLine]] = {}
    for ln in lines:
        by_component.setdefault((ln.plan, ln.component), []).append(ln)
    segs_by_plan: dict[str, list[Segment]] = {}
    for s in state.segments:
        segs_by_plan.setdefault(s.plan_id, []).append(s)
    readers: dict[tuple[str, str], list[Segment]] = {}
    for s in state.segments:
        readers.setdefault((s.person_key, s.plan_id), []).append(s)
    team = _Team(inputs)
    figures: dict[int, dict[str, EarnedFigure]] = {}
    person_quotas, _ = quota_tables(inputs.quotas)
    season = seasons(inputs)
    pool_shares = dict(shared.pool_shares)
    out: list[Reward] = []
    columns = CreditColumns(state)
    for level in range(1, top + 1):
        for pid in sorted(plans):
            plan = plans[pid]
            now = [m for m in plan.measures if ready.get((pid, m.id)) == level]
            if not now:
                continue
            labels = {m.id: _label(m.earned, plans) for m in now if m.earned is not None}
            after = _derived(plan, {m.id for m in now})
            pools = {
                m.id: _Pool.of([ln for k in m.earned.of for ln in by_component.get(k, [])])
                for m in now
                if m.earned is not None
            }
            for seg in segs_by_plan.get(pid, []):
                done = dict(values[seg.id])
                got = figures.setdefault(seg.id, {})
                for m in now:
                    assert m.earned is not None
                    own = readers[(seg.person_key, pid)]
                    mine = _reader_lines(m.earned, seg, own, pools[m.id], team)
                    got[m.id] = _figure(m, labels[m.id], mine, plan.rounding.currency)
                    done[m.id] = got[m.id].total
                if after:
                    ctx = formula_context(seg, person_quotas, kpis, season)
                    for m in after:
                        if m.formula is not None:
                            done[m.id] = ms.formula_value(plan, m, done, ctx)
                        else:
                            done[m.id] = ms.measure_value(m, {}, {}, done, None)
                    fsteps.setdefault(seg.id, {}).update(ctx.steps)
                    fsent.setdefault(seg.id, {}).update(ctx.sentences)
                values[seg.id] = done
        shared = _split_payout_pools(
            inputs, level, levels, by_component, segs_by_plan, shared, kpis, team, pool_shares
        )
        for pid in sorted(plans):
            plan = plans[pid]
            comps = [c for c in plan.components if levels.get((pid, c.id)) == level]
            if not comps:
                continue
            for seg in segs_by_plan.get(pid, []):
                facts = segment_facts(
                    inputs,
                    seg,
                    values,
                    state.counts,
                    person_quotas,
                    kpis,
                    row_builder(state, plan, seg, columns),
                    fsteps,
                    fsent,
                    season,
                )
                facts = dataclasses.replace(facts, earned=figures.get(seg.id, {}))
                for c in comps:
                    r = Reward(seg, c, evaluate(c, facts, shared))
                    out.append(r)
                    amount = quantize(r.outcome.earned, plan.rounding.currency, plan.rounding.mode)
                    by_component.setdefault((pid, c.id), []).append(_line(seg, c.id, amount))
    return DependencyResult(out, values, fsteps, fsent, shared)


def _derived(plan: Plan, earned: set[str]) -> list[Measure]:
    """Return the plan's formula and ratio measures that read one of ``earned``, in order."""
    return [
        m
        for m in ms.ordered_measures(plan)
        if m.aggregate in ("formula", "ratio")
        and any(d in earned for d in measure_closure(plan, m.id))
    ]


def _split_payout_pools(
    inputs: Inputs,
    level: int,
    levels: Mapping[ComponentKey, int],
    by_component: Mapping[ComponentKey, Sequence[EarnedLine]],
    segs_by_plan: Mapping[str, Sequence[Segment]],
    shared: Shared,
    kpis: ms.KpiTable,
    team: _Team,
    pool_shares: dict[tuple[str, str, str, int], PoolShare],
) -> Shared:
    """Return ``shared`` with the shares of the payout pools of ``level`` added."""
    added = False
    for pid in sorted(inputs.plans):
        plan = inputs.plans[pid]
        for c in plan.components:
            if c.type != "payout_pool" or levels.get((pid, c.id)) != level:
                continue
            assert c.measure is not None
            m = plan.measure(c.measure)
            assert m.earned is not None
            pool = [ln for k in m.earned.of for ln in by_component.get(k, [])]
            fig = _figure(
                m,
                _label(m.earned, inputs.plans),
                _holder_lines(m.earned, pool, team),
                plan.rounding.currency,
            )
            members = segs_by_plan.get(pid, [])
            pool_shares.update(split_pool(plan, c, members, shared, kpis, fig))
            added = True
    if not added:
        return shared
    return Shared(holder_measures=shared.holder_measures, pool_shares=dict(pool_shares))
