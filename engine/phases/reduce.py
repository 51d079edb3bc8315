"""Phase 3, reduce (once per run): the cross-person figures.

Contract: :func:`reduce_phase` returns a :class:`~engine.rules.Shared` - other people's and
nodes' measures for gates, modifiers, tier pickers and hybrid parts, team milestones, pool
sizes and their largest-remainder split.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from functools import partial

import numpy as np

from engine import measures as ms
from engine import windows
from engine.formula import Env, Formula
from engine.money import (
    ONE,
    ZERO,
    add,
    allocate,
    div,
    from_minor,
    mul,
    to_e4,
    to_minor,
)
from engine.phases.common import InputError
from engine.phases.measure import MeasureState
from engine.phases.segments import Segment, prorated_quota, quota_tables, seasons
from engine.rules import (
    EarnedFigure,
    PoolShare,
    Shared,
    fmt_amount,
    fmt_pct,
    step,
)
from engine.spec import Component, Filter, Plan
from engine.types import (
    Inputs,
    Step,
)


def _holder_requests(
    plans: Mapping[str, Plan], segments: Sequence[Segment]
) -> set[tuple[str, str, str, str]]:
    """Return every (scope, holder, plan, measure) some gate, part or pool reads."""
    requests: set[tuple[str, str, str, str]] = set()
    nodes_by_plan: dict[str, set[str]] = {}
    for s in segments:
        nodes_by_plan.setdefault(s.plan_id, set()).add(s.node_id)
    for plan in plans.values():
        for c in plan.components:
            if c.gate is not None and c.gate.scope != "self":
                requests.add((c.gate.scope, c.gate.holder or "", plan.id, c.gate.measure))
            for mod in (*c.modifiers, *plan.modifiers):
                if mod.scope != "self":
                    requests.add((mod.scope, mod.holder or "", plan.id, mod.measure))
            by = c.rate_table.tier_by if c.rate_table is not None else None
            if by is not None and by.scope == "node" and by.holder == "own":
                nodes = nodes_by_plan.get(plan.id, set())
                requests.update(("node", n, plan.id, by.measure) for n in nodes)
            elif by is not None and by.scope != "self":
                requests.add((by.scope, by.holder or "", plan.id, by.measure))
            for p in c.parts:
                if p.scope == "node":
                    targets = (
                        nodes_by_plan.get(plan.id, set())
                        if p.node in (None, "own")
                        else {p.node or ""}
                    )
                    requests.update(("node", n, plan.id, p.measure) for n in targets)
            if c.type == "team_pool" and c.measure is not None:
                requests.update(("node", team, plan.id, c.measure) for team in c.teams)
    return requests


Request = tuple[str, str, str, str]
"""(scope, holder, plan id, measure id) that a gate, modifier, tier picker, part or pool reads."""
Partials = dict[tuple[str, str, str, str], tuple[int, int]]
"""(scope, holder, plan id, measure id) -> (sum in ten-thousandths, credit count)."""


def holder_requests(plans: Mapping[str, Plan], segments: Sequence[Segment]) -> list[Request]:
    """Return every (scope, holder, plan, measure) some gate, part or pool reads, sorted.

    ``segments`` must be every segment of the run (a node's own members are read from them).
    """
    return sorted(_holder_requests(plans, segments))


def holder_partials(inputs: Inputs, state: MeasureState, requests: Sequence[Request]) -> Partials:
    """Return the sums and counts the requested holders' measures take from these credits.

    Every figure is a sum over credits, so the partials of person chunks add up to the
    partials of the whole run (:func:`add_partials`); the reduce finishes them once.
    """
    credits = state.credits
    node_requests: list[tuple[str, Filter]] = []
    for scope, holder, plan_id, _ in requests:
        if scope == "node":
            node_requests += [
                (holder, m.filter)
                for m in inputs.plans[plan_id].measures
                if m.aggregate in ("sum", "count", "average")
            ]
    totals = ms.node_totals(
        credits,
        state.credit_days,
        inputs.timeline,
        inputs.nodes,
        sorted(set(node_requests), key=repr),
    )
    person_requests = any(scope == "person" for scope, _, _, _ in requests)
    person_ids = (
        credits["person_id"].astype(str).to_numpy()
        if len(credits) and person_requests
        else np.array([])
    )
    amounts = credits["amount_e4"].to_numpy(dtype=np.int64) if len(credits) else np.zeros(0)
    weights = ms.credit_weights(credits)
    out: Partials = dict(windows.holder_windows(inputs, credits, state.credit_days, requests))
    for scope, holder, plan_id, _ in requests:
        for m in inputs.plans[plan_id].measures:
            key = (scope, holder, plan_id, m.id)
            if m.aggregate in ("kpi", "formula") or key in out:
                continue  # (windowed measures: from engine.windows, above)
            if scope == "node":
                out[key] = totals[(holder, m.filter)]
            else:
                if m.filter not in state.masks:
                    state.masks[m.filter] = ms.filter_mask(credits, m.filter)
                mask = state.masks[m.filter] & (person_ids == holder)
                out[key] = (int(amounts[mask].sum()), int(weights[mask].sum()))
    return out


def add_partials(parts: Iterable[Partials]) -> Partials:
    """Return the partials of several chunks added up."""
    out: Partials = {}
    for part in parts:
        for key, (total, count) in part.items():
            got = out.get(key, (0, 0))
            out[key] = (got[0] + total, got[1] + count)
    return out


def reduce_phase(
    inputs: Inputs, state: MeasureState, kpi_table: ms.KpiTable | None = None
) -> Shared:
    """Return the cross-person figures: other holders' measures and every pool's split."""
    requests = holder_requests(inputs.plans, state.segments)
    partials = holder_partials(inputs, state, requests)
    return reduce_finish(inputs, state.segments, requests, partials, kpi_table)


def reduce_finish(
    inputs: Inputs,
    segments: Sequence[Segment],
    requests: Sequence[Request],
    partials: Partials,
    kpi_table: ms.KpiTable | None = None,
) -> Shared:
    """Return the cross-person figures from every segment of the run and the added partials."""
    kpis = kpi_table or ms.KpiTable(inputs.kpi_values)
    season = seasons(inputs)
    person_quotas, node_quotas = quota_tables(inputs.quotas) if requests else ({}, {})
    holder_measures: dict[tuple[str, str, str], tuple[Decimal | None, Decimal | None]] = {}
    for scope, holder, plan_id, measure_id in requests:
        plan = inputs.plans[plan_id]
        sums: dict[str, int] = {}
        counts: dict[str, int] = {}
        kpi_vals: dict[str, Decimal | None] = {}
        for m in plan.measures:
            if m.aggregate == "kpi":
                kpi_vals[m.id] = kpis.get(scope, holder, m.kpi or "")
                continue
            if m.aggregate == "formula":
                continue
            sums[m.id], counts[m.id] = partials.get((scope, holder, plan_id, m.id), (0, 0))
        quota_table = node_quotas if scope == "node" else person_quotas
        own = {
            q: mul(v, season.get((plan_id, q), ONE)) if season else v
            for q, v in quota_table.get(holder, {}).items()
        }
        values = ms.finish_measures(
            plan,
            sums,
            counts,
            kpi_vals,
            formulas=ms.FormulaContext(quota=own.get, kpi=partial(kpis.get, scope, holder)),
        )
        quota = own.get(measure_id)
        if scope == "node" and plan.team_quota != "given":
            quota = _team_quota(
                inputs, plan, holder, measure_id, segments, person_quotas, season, quota
            )
        holder_measures[(scope, holder, measure_id)] = (values.get(measure_id), quota)
    shared = Shared(holder_measures=holder_measures)
    pool_shares: dict[tuple[str, str, str, int], PoolShare] = {}
    for plan_id in sorted(inputs.plans):
        plan = inputs.plans[plan_id]
        members = [s for s in segments if s.plan_id == plan_id]
        for c in plan.components:
            if c.type in ("team_pool", "profit_share", "gainshare"):
                pool_shares.update(split_pool(plan, c, members, shared, kpis))
    return Shared(holder_measures=holder_measures, pool_shares=pool_shares)


def _team_quota(
    inputs: Inputs,
    plan: Plan,
    node: str,
    quota_id: str,
    segments: Sequence[Segment],
    person_quotas: Mapping[str, Mapping[str, Decimal]],
    season: Mapping[tuple[str, str], Decimal],
    given: Decimal | None,
) -> Decimal | None:
    """Return a node's quota as its members' pro-rated, ramped quotas add up (or check it).

    The members are the plan's segments at the node or below it in the period.
    """
    under = ms.descendants(inputs.nodes, node) if len(inputs.nodes) else {node}
    total: Decimal | None = None
    for s in segments:
        if s.plan_id != plan.id or s.node_id not in under:
            continue
        own = person_quotas.get(s.person_key, {}).get(quota_id)
        if own is not None:
            share = prorated_quota(s, own, season.get((plan.id, quota_id), ONE))
            total = share if total is None else add(total, share)
    if plan.team_quota == "checked" and (
        given is None or total is None or to_e4(given) != to_e4(total)
    ):
        raise InputError(
            f"quotas: node {node} quota {quota_id!r} is {given} but its members' quotas on "
            f"plan {plan.id} add up to {total} (team_quota: checked)"
        )
    return total if plan.team_quota == "derived" else given


def split_pool(
    plan: Plan,
    c: Component,
    members: Sequence[Segment],
    shared: Shared,
    kpis: ms.KpiTable,
    earned: EarnedFigure | None = None,
) -> dict[tuple[str, str, str, int], PoolShare]:
    """Return each participant's largest-remainder share of one pool.

    A ``payout_pool`` is a share of ``earned`` (other payees' earned amounts), which the
    dependency phase works out once the components it reads are rewarded.
    """
    cur, mode = plan.rounding.currency, plan.rounding.mode
    steps: list[Step] = []
    inputs: list[str] = []
    if c.type == "team_pool":
        assert c.measure is not None
        assert c.milestone_min_attainment is not None
        qualified = True
        pieces = []
        for team in c.teams:
            value, quota = shared.holder_measures.get(("node", team, c.measure), (None, None))
            att = div(value, quota) if value is not None and quota else None
            hit = att is not None and att >= c.milestone_min_attainment
            qualified &= hit
            steps.append(step(f"team_{team}_attainment", att, "hit" if hit else "missed"))
            inputs.append(f"measure:node:{team}/{c.measure}")
            pieces.append(f"{team} {fmt_pct(att) if att is not None else 'n/a'}")
        pool = (c.pool_amount or ZERO) if qualified else ZERO
        head = (
            f"Every team reached {fmt_pct(c.milestone_min_attainment)} "
            f"({', '.join(pieces)}), so the {fmt_amount(pool, cur, mode)} pool pays"
            if qualified
            else f"Not every team reached {fmt_pct(c.milestone_min_attainment)} "
            f"({', '.join(pieces)}), so the pool pays nothing"
        )
    elif c.type == "payout_pool":
        assert earned is not None
        share = c.share or ZERO
        pool = mul(max(ZERO, earned.total), share)
        steps += [*earned.steps(), step("share", share)]
        inputs += earned.inputs
        head = (
            f"{fmt_pct(share)} of {earned.phrase(cur, mode)} makes a pool of "
            f"{fmt_amount(pool, cur, mode)}"
        )
    else:
        node = c.source_node or ""
        env = Env({}, kpi=partial(kpis.get, "node", node))
        said: list[str] = []
        missing: list[str] = []

        def figure(label: str, formula: Formula | None, fixed: Decimal | None) -> Decimal:
            if formula is None:
                return fixed if fixed is not None else ZERO
            got, fsteps, sentence = ms.run_formula(plan, label, formula, env)
            steps.extend(fsteps)
            said.append(sentence)
            inputs.append(f"kpi:node:{node} ({label} = {formula.source})")
            if got is None:
                missing.append(label)
            return got if got is not None else ZERO

        kpi_value = None
        if c.value_formula is None:
            kpi_value = kpis.get("node", node, c.kpi or "")
            inputs.append(f"kpi:node:{c.source_node}/{c.kpi}")
            if kpi_value is None:
                raise InputError(f"kpi_values: no {c.kpi!r} for node {c.source_node}")
        label = "profit" if c.type == "profit_share" else "actual"
        value = figure(label, c.value_formula, kpi_value)
        share = c.share or ZERO
        if c.type == "profit_share":
            basis = max(ZERO, value)
            steps += [step("profit", value), step("share", share)]
            head = f"{fmt_pct(share)} of a profit of {fmt_amount(value, cur, mode)}"
        else:
            baseline = figure("baseline", c.baseline_formula, c.baseline)
            basis = max(ZERO, baseline - value)
            steps += [
                step("baseline", baseline),
                step("actual", value),
                step("savings", basis),
                step("share", share),
            ]
            head = (
                f"{fmt_pct(share)} of savings of {fmt_amount(basis, cur, mode)} "
                f"(baseline {fmt_amount(baseline, cur, mode)} - "
                f"actual {fmt_amount(value, cur, mode)})"
            )
        if missing:
            basis = ZERO
        pool = mul(basis, share)
        head += f" makes a pool of {fmt_amount(pool, cur, mode)}"
        if missing:
            head += f" ({' and '.join(missing)} has no value)"
        if said:
            head = f"{' '.join(said)} {head}"
    pool_minor = to_minor(pool, cur, plan.rounding.mode)
    steps.append(step("pool", from_minor(pool_minor, cur)))
    if c.retained_share:
        kept_minor = pool_minor - to_minor(
            mul(from_minor(pool_minor, cur), ONE - c.retained_share), cur, mode
        )
        pool_minor -= kept_minor
        kept = from_minor(kept_minor, cur)
        steps += [
            step("retained", kept, f"{fmt_pct(c.retained_share)} kept by the company"),
            step("pool_to_split", from_minor(pool_minor, cur)),
        ]
        head += (
            f"; the company retains {fmt_pct(c.retained_share)} ({fmt_amount(kept, cur, mode)})"
            f", leaving {fmt_amount(from_minor(pool_minor, cur), cur, mode)}"
        )
    if not members:
        return {}
    if c.split == "target_incentive":
        weights = [s.target_incentive for s in members]
        basis_name = "target incentive"
    elif c.split == "allocation":
        weights = [s.factor for s in members]
        basis_name = "allocation"
    elif c.split == "kpi":
        weights = []
        for s in members:
            got = kpis.get("person", s.person_key, c.split_kpi or "")
            if got is None or got < 0:
                raise InputError(
                    f"kpi_values: person {s.person_key} has no {c.split_kpi!r} (>= 0) to "
                    f"split pool {plan.id}/{c.id} by"
                )
            weights.append(got)
            inputs.append(f"kpi:{s.person_key}/{c.split_kpi}")
        basis_name = f"{c.split_kpi}"
    else:
        weights = [ONE for _ in members]
        basis_name = "equal shares"
    parts = allocate(pool_minor, weights)
    total_weight = sum(weights, ZERO)
    out: dict[tuple[str, str, str, int], PoolShare] = {}
    for s, w, part in zip(members, weights, parts, strict=True):
        amount = from_minor(part, cur)
        pct = div(w, total_weight) if total_weight else ZERO
        text = (
            f"{head}, split by {basis_name} among {len(members)} participant(s): your share "
            f"{fmt_pct(pct)} = {fmt_amount(amount, cur, mode)}."
        )
        out[(plan.id, c.id, s.person_key, s.index)] = PoolShare(
            amount,
            (*steps, step("weight", w, basis_name), step("pool_share", amount)),
            text,
            tuple(inputs),
        )
    return out
