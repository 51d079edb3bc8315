"""The calculation: ``compute(inputs) -> Result``, in the stages DESIGN.md describes.

Contract:

* :func:`compute` is pure: it reads only ``inputs`` and returns a :class:`~engine.types.Result`.
  The same inputs, in any row order, give identical lines, traces and ``result_hash``.
* It runs in phases that the apps may call separately to spread a run over workers:

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
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from engine import measures as ms
from engine.money import (
    ONE,
    ZERO,
    allocate,
    div,
    exponent,
    from_e4,
    from_minor,
    mul,
    quantize,
    to_decimal,
    to_minor,
)
from engine.periods import day_number, from_day_number, periods_since_hire
from engine.rules import (
    CreditRow,
    Facts,
    Outcome,
    PoolShare,
    Shared,
    clawback_amount,
    evaluate,
    fmt_amount,
    fmt_pct,
    proration_factor,
    settle_draw,
    step,
)
from engine.spec import Component, Filter, Plan
from engine.types import (
    ASSIGNMENT_COLUMNS,
    CREDIT_COLUMNS,
    TIMELINE_COLUMNS,
    Inputs,
    PayoutLine,
    Period,
    Result,
    Step,
    Trace,
)

IntArray = npt.NDArray[np.int64]
_STANDARD_CREDIT_COLUMNS = frozenset(
    (*CREDIT_COLUMNS, "rule_id", "share_ppm", "collected", "share", "currency")
)


class InputError(ValueError):
    """Raised when the inputs are inconsistent (missing columns, overlapping segments...)."""


def _require(frame: pd.DataFrame, columns: Iterable[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"{name}: missing column(s) {', '.join(missing)}")


# --------------------------------------------------------------------------- segments


@dataclass(frozen=True, slots=True)
class Segment:
    """One (person, plan) stretch of the period with constant node, role and allocation."""

    id: int
    person: Any
    person_key: str
    plan_id: str
    index: int
    start_day: int
    end_day: int
    node_id: str
    role: str
    allocation: Decimal
    factor: Decimal
    factor_num: Decimal
    factor_den: Decimal
    target_incentive_full: Decimal
    target_incentive: Decimal
    quota_factor: Decimal
    ramp_period: int | None

    @property
    def start(self) -> dt.date:
        """Return the first day of the segment."""
        return from_day_number(self.start_day)

    @property
    def end(self) -> dt.date:
        """Return the day after the segment."""
        return from_day_number(self.end_day)


def build_segments(inputs: Inputs) -> list[Segment]:
    """Return the sorted (person, plan) segments of the period with pro-ration figures."""
    period = inputs.period
    _require(inputs.assignments, ASSIGNMENT_COLUMNS, "assignments")
    _require(inputs.timeline, TIMELINE_COLUMNS, "timeline")
    a = inputs.assignments
    t = inputs.timeline
    p0, p1 = day_number(period.start), day_number(period.end)
    af = pd.DataFrame(
        {
            "person": a["person_id"].to_numpy(),
            "key": a["person_id"].astype(str).to_numpy(),
            "plan_id": a["plan_id"].astype(str).to_numpy(),
            "a_start": ms.to_days(a["start"]),
            "a_end": ms.to_days(a["end"]),
            "ti": a["target_incentive_e4"].to_numpy(),
            "a_role": a["role"].to_numpy() if "role" in a.columns else None,
            "hire": a["hire_date"].to_numpy() if "hire_date" in a.columns else None,
        }
    )
    tf = pd.DataFrame(
        {
            "key": t["person_id"].astype(str).to_numpy(),
            "t_start": ms.to_days(t["start"]),
            "t_end": ms.to_days(t["end"]),
            "node_id": t["node_id"].astype(str).to_numpy(),
            "role": t["role"].astype(str).to_numpy(),
            "allocation": t["allocation"].to_numpy(),
        }
    )
    j = af.merge(tf, on="key")
    role_ok = j["a_role"].isna() | (j["a_role"].astype(str) == j["role"])
    j = j[role_ok]
    j = j.assign(
        start=np.maximum(np.maximum(j["a_start"], j["t_start"]), p0),
        end=np.minimum(np.minimum(j["a_end"], j["t_end"]), p1),
    )
    j = j[j["start"] < j["end"]].sort_values(["key", "plan_id", "start"], kind="stable")
    unknown = sorted(set(j["plan_id"]) - set(inputs.plans))
    if unknown:
        raise InputError(f"assignments: unknown plan(s) {', '.join(unknown)}")
    segments: list[Segment] = []
    prev: tuple[str, str, int] | None = None
    index = 0
    period_days = period.days
    cols = [
        j[c].tolist()
        for c in (
            "person",
            "key",
            "plan_id",
            "start",
            "end",
            "node_id",
            "role",
            "allocation",
            "ti",
            "hire",
        )
    ]
    for person, key, plan_id, start, end, node, role, alloc, ti, hire in zip(*cols, strict=True):
        if prev is not None and prev[0] == key and prev[1] == plan_id:
            if start < prev[2]:
                raise InputError(
                    f"timeline: person {key} has overlapping segments on plan {plan_id} "
                    f"from {from_day_number(start)}"
                )
            index += 1
        else:
            index = 0
        prev = (key, plan_id, end)
        plan = inputs.plans[plan_id]
        allocation = to_decimal(alloc)
        if not ZERO <= allocation <= ONE:
            raise InputError(f"timeline: person {key} allocation {allocation} not in [0, 1]")
        num, den = proration_factor(plan.proration, end - start, period_days, allocation)
        ti_full = from_e4(int(ti))
        quota_factor = ONE
        ramp_period = None
        if plan.ramp and hire is not None and not pd.isna(hire):
            hire_date = pd.Timestamp(hire).date()
            ramp_period = periods_since_hire(hire_date, period.start, plan.payout_frequency)
            for ramp in plan.ramp:
                if ramp.period == ramp_period:
                    quota_factor = ramp.quota_factor
        segments.append(
            Segment(
                id=len(segments),
                person=person,
                person_key=key,
                plan_id=plan_id,
                index=index,
                start_day=int(start),
                end_day=int(end),
                node_id=node,
                role=role,
                allocation=allocation,
                factor=div(num, den),
                factor_num=num,
                factor_den=den,
                target_incentive_full=ti_full,
                target_incentive=div(mul(ti_full, num), den),
                quota_factor=quota_factor,
                ramp_period=ramp_period,
            )
        )
    return segments


# --------------------------------------------------------------------------- measure phase


@dataclass
class MeasureState:
    """What the measure phase hands to the reduce and reward phases."""

    segments: list[Segment]
    credits: pd.DataFrame
    credit_days: IntArray
    pairs: dict[str, tuple[IntArray, IntArray]]
    measure_values: list[dict[str, Decimal | None]]
    counts: list[dict[str, int]]
    contributions: pd.DataFrame
    masks: dict[Filter, npt.NDArray[np.bool_]] = field(default_factory=dict)


def _credits_frame(credits: pd.DataFrame, period: Period) -> tuple[pd.DataFrame, IntArray]:
    _require(credits, CREDIT_COLUMNS, "credits")
    days = ms.to_days(credits["date"]) if len(credits) else np.zeros(0, dtype=np.int64)
    inside = (days >= day_number(period.start)) & (days < day_number(period.end))
    if not inside.all():
        credits = credits[inside]
        days = days[inside]
    return credits, days


def _assign(
    segments: Sequence[Segment],
    seg_ids: IntArray,
    ccode: IntArray,
    cday: IntArray,
    pcode: IntArray,
) -> tuple[IntArray, IntArray]:
    """Return (credit row, segment id) pairs for segments that never overlap per person."""
    shift = np.int64(1 << 22)
    starts = np.array([segments[i].start_day for i in seg_ids], dtype=np.int64)
    ends = np.array([segments[i].end_day for i in seg_ids], dtype=np.int64)
    pc = pcode[seg_ids]
    order = np.lexsort((starts, pc))
    seg_sorted = seg_ids[order]
    keys = pc[order] * shift + starts[order]
    ckey = ccode * shift + cday
    pos = np.searchsorted(keys, ckey, side="right") - 1
    ok = (ccode >= 0) & (pos >= 0)
    pos_c = np.where(ok, pos, 0)
    ok &= (pc[order][pos_c] == ccode) & (cday < ends[order][pos_c])
    rows = np.flatnonzero(ok).astype(np.int64)
    return rows, seg_sorted[pos_c[rows]]


def measure_phase(
    inputs: Inputs,
    segments: list[Segment],
    pace: Decimal | None = None,
    kpi_table: ms.KpiTable | None = None,
) -> MeasureState:
    """Return every segment's measures, and the per-credit contributions, from the credits."""
    credits, cday = _credits_frame(inputs.credits, inputs.period)
    kpis = kpi_table or ms.KpiTable(inputs.kpi_values)
    persons = pd.Index(pd.unique(np.array([s.person for s in segments], dtype=object)))
    pcode = np.array([persons.get_loc(s.person) for s in segments], dtype=np.int64)
    ccode = (
        persons.get_indexer(credits["person_id"]).astype(np.int64)
        if len(credits)
        else np.zeros(0, dtype=np.int64)
    )
    amounts = (
        credits["amount_e4"].to_numpy(dtype=np.int64)
        if len(credits)
        else np.zeros(0, dtype=np.int64)
    )
    nseg = len(segments)
    plan_segs: dict[str, list[int]] = {}
    for s in segments:
        plan_segs.setdefault(s.plan_id, []).append(s.id)
    # One searchsorted pass when no person's segments overlap across plans, else one per plan.
    all_ids = np.arange(nseg, dtype=np.int64)
    by_person = sorted(segments, key=lambda s: (s.person_key, s.start_day))
    overlap = any(
        a.person_key == b.person_key and b.start_day < a.end_day
        for a, b in itertools.pairwise(by_person)
    )
    pairs: dict[str, tuple[IntArray, IntArray]] = {}
    seg_plan = np.array([s.plan_id for s in segments], dtype=object)
    if not overlap and nseg:
        rows, segs = _assign(segments, all_ids, ccode, cday, pcode)
        plan_of = seg_plan[segs]
        for plan_id in plan_segs:
            sel = plan_of == plan_id
            pairs[plan_id] = (rows[sel], segs[sel])
    else:
        for plan_id, ids in plan_segs.items():
            pairs[plan_id] = _assign(segments, np.array(ids, dtype=np.int64), ccode, cday, pcode)
    masks: dict[Filter, npt.NDArray[np.bool_]] = {}
    sums: dict[tuple[str, str], list[int]] = {}
    counts: dict[tuple[str, str], list[int]] = {}
    contrib_parts: list[tuple[IntArray, IntArray, str]] = []
    for plan_id, (rows, segs) in pairs.items():
        plan = inputs.plans[plan_id]
        for m in plan.measures:
            if m.aggregate not in ("sum", "count", "average"):
                continue
            if m.filter not in masks:
                masks[m.filter] = ms.filter_mask(credits, m.filter)
            sel = masks[m.filter][rows]
            r, sg = rows[sel], segs[sel]
            sums[(plan_id, m.id)] = ms.group_sum(sg, amounts[r], nseg).tolist()
            counts[(plan_id, m.id)] = ms.group_count(sg, nseg).tolist()
            contrib_parts.append((r, sg, m.id))
    values: list[dict[str, Decimal | None]] = []
    seg_counts: list[dict[str, int]] = []
    for seg in segments:
        plan = inputs.plans[seg.plan_id]
        raw_sums = {
            m.id: sums[(seg.plan_id, m.id)][seg.id]
            for m in plan.measures
            if (seg.plan_id, m.id) in sums
        }
        raw_counts = {
            m.id: counts[(seg.plan_id, m.id)][seg.id]
            for m in plan.measures
            if (seg.plan_id, m.id) in counts
        }
        kpi_values: dict[str, Decimal | None] = {}
        for m in plan.measures:
            if m.aggregate == "kpi":
                holder = seg.node_id if m.scope == "node" else seg.person_key
                kpi_values[m.id] = kpis.get(m.scope, holder, m.kpi or "")
        values.append(ms.finish_measures(plan, raw_sums, raw_counts, kpi_values, pace))
        seg_counts.append(raw_counts)
    contributions = _contributions(contrib_parts, segments, credits, amounts)
    return MeasureState(segments, credits, cday, pairs, values, seg_counts, contributions, masks)


def _contributions(
    parts: list[tuple[IntArray, IntArray, str]],
    segments: Sequence[Segment],
    credits: pd.DataFrame,
    amounts: IntArray,
) -> pd.DataFrame:
    """Return the per-credit contributions (one row per credit x measure it counts in).

    Rows are ordered by (person, plan, segment, measure, credit id), whatever the input order.
    """
    columns = [
        "person_id",
        "plan_id",
        "segment",
        "measure_id",
        "credit_id",
        "transaction_id",
        "amount_e4",
    ]
    if not parts or not segments:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    measure_names = sorted({m for _, _, m in parts})
    rows = np.concatenate([r for r, _, _ in parts])
    seg = np.concatenate([s for _, s, _ in parts])
    mcode = np.concatenate(
        [np.full(len(r), measure_names.index(m), dtype=np.int64) for r, _, m in parts]
    )
    credit = credits["credit_id"].to_numpy()[rows]
    group = seg * len(measure_names) + mcode
    if (
        np.issubdtype(credit.dtype, np.integer)
        and (len(credit) == 0 or (credit.min() >= 0 and credit.max() < 2**31))
        and int(group.max(initial=0)) < 2**31
    ):
        order = np.argsort((group << 31) | credit.astype(np.int64), kind="stable")
    else:
        credit_key = pd.factorize(credit.astype(str), sort=True)[0]
        order = np.lexsort((credit_key, group))
    rows, seg, mcode = rows[order], seg[order], mcode[order]
    people = pd.Index([s.person for s in segments]).unique()
    seg_person = people.get_indexer([s.person for s in segments])
    plans = sorted({s.plan_id for s in segments})
    seg_plan = np.array([plans.index(s.plan_id) for s in segments], dtype=np.int64)
    seg_index = np.array([s.index for s in segments], dtype=np.int64)
    categorical: Any = pd.Categorical  # pandas-stubs cannot type mixed-type categories
    return pd.DataFrame(
        {
            "person_id": categorical.from_codes(seg_person[seg], categories=people),
            "plan_id": categorical.from_codes(seg_plan[seg], categories=plans),
            "segment": seg_index[seg],
            "measure_id": categorical.from_codes(mcode, categories=measure_names),
            "credit_id": credit[order],
            "transaction_id": credits["transaction_id"].to_numpy()[rows],
            "amount_e4": amounts[rows],
        }
    )


# --------------------------------------------------------------------------- reduce phase


def _quota_tables(
    quotas: pd.DataFrame,
) -> tuple[dict[str, dict[str, Decimal]], dict[str, dict[str, Decimal]]]:
    person: dict[str, dict[str, Decimal]] = {}
    node: dict[str, dict[str, Decimal]] = {}
    if len(quotas) == 0:
        return person, node
    kinds = (
        quotas["holder_kind"].astype(str).tolist()
        if "holder_kind" in quotas.columns
        else ["person"] * len(quotas)
    )
    for kind, holder, qid, amount in zip(
        kinds,
        quotas["holder_id"].astype(str).tolist(),
        quotas["quota_id"].astype(str).tolist(),
        quotas["amount_e4"].tolist(),
        strict=True,
    ):
        table = node if kind == "node" else person
        slot = table.setdefault(holder, {})
        if qid in slot:
            raise InputError(f"quotas: {kind} {holder} has two quotas {qid!r}")
        slot[qid] = from_e4(int(amount))
    return person, node


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


def reduce_phase(
    inputs: Inputs, state: MeasureState, kpi_table: ms.KpiTable | None = None
) -> Shared:
    """Return the cross-person figures: other holders' measures and every pool's split."""
    kpis = kpi_table or ms.KpiTable(inputs.kpi_values)
    person_quotas, node_quotas = _quota_tables(inputs.quotas)
    requests = sorted(_holder_requests(inputs.plans, state.segments))
    holder_measures: dict[tuple[str, str, str], tuple[Decimal | None, Decimal | None]] = {}
    credits = state.credits
    node_requests: list[tuple[str, Filter]] = []
    for scope, holder, plan_id, _ in requests:
        if scope == "node":
            node_requests += [(holder, m.filter) for m in inputs.plans[plan_id].measures]
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
    for scope, holder, plan_id, measure_id in requests:
        plan = inputs.plans[plan_id]
        sums: dict[str, int] = {}
        counts: dict[str, int] = {}
        kpi_vals: dict[str, Decimal | None] = {}
        for m in plan.measures:
            if m.aggregate == "kpi":
                kpi_vals[m.id] = kpis.get(scope, holder, m.kpi or "")
                continue
            if scope == "node":
                sums[m.id], counts[m.id] = totals[(holder, m.filter)]
            else:
                if m.filter not in state.masks:
                    state.masks[m.filter] = ms.filter_mask(credits, m.filter)
                mask = state.masks[m.filter] & (person_ids == holder)
                sums[m.id], counts[m.id] = int(amounts[mask].sum()), int(mask.sum())
        values = ms.finish_measures(plan, sums, counts, kpi_vals)
        quota_table = node_quotas if scope == "node" else person_quotas
        quota = quota_table.get(holder, {}).get(measure_id)
        holder_measures[(scope, holder, measure_id)] = (values.get(measure_id), quota)
    shared = Shared(holder_measures=holder_measures)
    pool_shares: dict[tuple[str, str, str, int], PoolShare] = {}
    for plan_id in sorted(inputs.plans):
        plan = inputs.plans[plan_id]
        members = [s for s in state.segments if s.plan_id == plan_id]
        for c in plan.components:
            if c.type in ("team_pool", "profit_share", "gainshare"):
                pool_shares.update(_split_pool(plan, c, members, shared, kpis))
    return Shared(holder_measures=holder_measures, pool_shares=pool_shares)


def _split_pool(
    plan: Plan, c: Component, members: Sequence[Segment], shared: Shared, kpis: ms.KpiTable
) -> dict[tuple[str, str, str, int], PoolShare]:
    """Return each participant's largest-remainder share of one pool."""
    cur = plan.rounding.currency
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
            f"({', '.join(pieces)}), so the {fmt_amount(pool, cur)} pool pays"
            if qualified
            else f"Not every team reached {fmt_pct(c.milestone_min_attainment)} "
            f"({', '.join(pieces)}), so the pool pays nothing"
        )
    else:
        value = kpis.get("node", c.source_node or "", c.kpi or "")
        inputs.append(f"kpi:node:{c.source_node}/{c.kpi}")
        if value is None:
            raise InputError(f"kpi_values: no {c.kpi!r} for node {c.source_node}")
        share = c.share or ZERO
        if c.type == "profit_share":
            basis = max(ZERO, value)
            steps += [step("profit", value), step("share", share)]
            head = f"{fmt_pct(share)} of a profit of {fmt_amount(value, cur)}"
        else:
            baseline = c.baseline or ZERO
            basis = max(ZERO, baseline - value)
            steps += [
                step("baseline", baseline),
                step("actual", value),
                step("savings", basis),
                step("share", share),
            ]
            head = (
                f"{fmt_pct(share)} of savings of {fmt_amount(basis, cur)} "
                f"(baseline {fmt_amount(baseline, cur)} - actual {fmt_amount(value, cur)})"
            )
        pool = mul(basis, share)
        head += f" makes a pool of {fmt_amount(quantize(pool, cur, plan.rounding.mode), cur)}"
    pool_minor = to_minor(pool, cur, plan.rounding.mode)
    steps.append(step("pool", from_minor(pool_minor, cur)))
    if not members:
        return {}
    if c.split == "target_incentive":
        weights = [s.target_incentive for s in members]
        basis_name = "target incentive"
    elif c.split == "allocation":
        weights = [s.factor for s in members]
        basis_name = "allocation"
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
            f"{fmt_pct(pct)} = {fmt_amount(amount, cur)}."
        )
        out[(plan.id, c.id, s.person_key, s.index)] = PoolShare(
            amount,
            (*steps, step("weight", w, basis_name), step("pool_share", amount)),
            text,
            tuple(inputs),
        )
    return out


# --------------------------------------------------------------------------- reward phase


@dataclass(frozen=True, slots=True)
class Reward:
    """One rule's outcome for one (segment, component)."""

    segment: Segment
    component: Component
    outcome: Outcome


def _row_builder(
    state: MeasureState, plan: Plan, seg: Segment
) -> Callable[[str | None], list[CreditRow]]:
    credits = state.credits
    extra = [c for c in credits.columns if c not in _STANDARD_CREDIT_COLUMNS]

    def rows(measure_id: str | None) -> list[CreditRow]:
        cr, cs = state.pairs.get(plan.id, (np.zeros(0, np.int64), np.zeros(0, np.int64)))
        idx = cr[cs == seg.id]
        if measure_id is not None:
            flt = plan.measure(measure_id).filter
            if flt not in state.masks:
                state.masks[flt] = ms.filter_mask(credits, flt)
            idx = idx[state.masks[flt][idx]]
        sub = credits.iloc[idx]
        out = []
        days = state.credit_days[idx].tolist()
        shares = sub["share_ppm"].tolist() if "share_ppm" in sub.columns else [1_000_000] * len(sub)
        collected = sub["collected"].tolist() if "collected" in sub.columns else [True] * len(sub)
        attrs = [sub[c].tolist() for c in extra]
        for i, (cid, tid, amount, ttype, kind) in enumerate(
            zip(
                sub["credit_id"].tolist(),
                sub["transaction_id"].tolist(),
                sub["amount_e4"].tolist(),
                sub["transaction_type"].astype(str).tolist(),
                sub["kind"].astype(str).tolist(),
                strict=True,
            )
        ):
            out.append(
                CreditRow(
                    credit_id=str(cid),
                    transaction_id=str(tid),
                    date=from_day_number(days[i]),
                    amount=from_e4(int(amount)),
                    transaction_type=ttype,
                    kind=kind,
                    share=Decimal(int(shares[i])).scaleb(-6),
                    collected=bool(collected[i]),
                    attributes={
                        c: str(v[i]) for c, v in zip(extra, attrs, strict=True) if not pd.isna(v[i])
                    },
                )
            )
        out.sort(key=lambda r: (r.date, r.credit_id))
        return out

    return rows


def reward_phase(
    inputs: Inputs, state: MeasureState, shared: Shared, kpi_table: ms.KpiTable | None = None
) -> list[Reward]:
    """Return every (segment, component) outcome, in segment then plan-component order."""
    kpis = kpi_table or ms.KpiTable(inputs.kpi_values)
    person_quotas, _ = _quota_tables(inputs.quotas)
    rewards: list[Reward] = []
    for seg in state.segments:
        plan = inputs.plans[seg.plan_id]
        num = mul(seg.factor_num, seg.quota_factor)
        quotas = {
            q: div(mul(v, num), seg.factor_den)
            for q, v in person_quotas.get(seg.person_key, {}).items()
        }
        facts = Facts(
            person_id=seg.person_key,
            plan=plan,
            segment=seg.index,
            start=seg.start,
            end=seg.end,
            node_id=seg.node_id,
            period=inputs.period,
            factor=seg.factor,
            target_incentive=seg.target_incentive,
            measures=state.measure_values[seg.id],
            quotas=quotas,
            kpis=kpis.for_person(seg.person_key) if _needs_kpis(plan) else {},
            credit_rows=_row_builder(state, plan, seg),
            measure_credit_count=state.counts[seg.id],
        )
        rewards.extend(Reward(seg, c, evaluate(c, facts, shared)) for c in plan.components)
    return rewards


def _needs_kpis(plan: Plan) -> bool:
    return any(c.type == "mbo" for c in plan.components)


# --------------------------------------------------------------------------- settlement


@dataclass
class _Book:
    lines: list[PayoutLine] = field(default_factory=list)
    traces: list[Trace] = field(default_factory=list)


def _prior_table(frame: pd.DataFrame) -> dict[tuple[str, str, str], Decimal]:
    out: dict[tuple[str, str, str], Decimal] = {}
    if len(frame) == 0:
        return out
    for person, plan, comp, amount in zip(
        frame["person_id"].astype(str).tolist(),
        frame["plan_id"].astype(str).tolist(),
        frame["component_id"].astype(str).tolist(),
        frame["amount_e4"].tolist(),
        strict=True,
    ):
        key = (person, plan, comp)
        out[key] = out.get(key, ZERO) + from_e4(int(amount))
    return out


def settle(inputs: Inputs, rewards: Sequence[Reward]) -> tuple[_Book, dict[str, Decimal]]:
    """Return the payout lines and traces, and the draw balances carried forward."""
    period = inputs.period
    prior = _prior_table(inputs.prior_payouts)
    book = _Book()
    by_person_plan: dict[tuple[str, str], list[Reward]] = {}
    for r in rewards:
        by_person_plan.setdefault((r.segment.person_key, r.segment.plan_id), []).append(r)
    balances: dict[str, Decimal] = {str(k): to_decimal(v) for k, v in inputs.draw_balances.items()}
    reversals = _group_rows(inputs.reversals)
    holds = _group_rows(inputs.holds)
    collected = {str(t) for t in inputs.collected_transactions}
    draw_owner: dict[str, str] = {}
    for (person, plan_id), group in by_person_plan.items():
        plan = inputs.plans[plan_id]
        cur, mode = plan.rounding.currency, plan.rounding.mode
        first = group[0].segment
        payable = ZERO
        for r in group:
            seg, c, o = r.segment, r.component, r.outcome
            earned = quantize(o.earned, cur, mode)
            paid = ZERO
            if seg.index == 0:
                paid = quantize(prior.get((person, plan_id, c.id), ZERO), cur, mode)
            payable += _add(
                book, seg, c.id, "earned", earned, paid, period, cur, o.attainment, o.tier
            )
            steps = list(o.steps)
            text = o.text
            if paid:
                steps += [step("paid_before", paid), step("payable", earned - paid)]
                text += (
                    f" Already paid {fmt_amount(paid, cur)}, so {fmt_amount(earned - paid, cur)} "
                    "is payable now."
                )
            steps.append(step("rounded", earned, f"{mode} to {cur}"))
            book.traces.append(_trace(seg, c.id, c.type, steps, o.inputs, text, period))
            if o.held:
                held = quantize(o.held, cur, mode)
                payable += _add(book, seg, c.id, "hold", -held, ZERO, period, cur)
        for c in plan.components:
            for row in holds.get((person, plan_id, c.id), []):
                if str(row["transaction_id"]) in collected:
                    amount = quantize(from_e4(int(row["amount_e4"])), cur, mode)
                    payable += _add(book, first, c.id, "release", amount, ZERO, period, cur)
                    book.traces.append(
                        _trace(
                            first,
                            c.id,
                            "release",
                            [step("released", amount), step("transaction", row["transaction_id"])],
                            (f"transaction:{row['transaction_id']}",),
                            f"{fmt_amount(amount, cur)} held on transaction "
                            f"{row['transaction_id']} is released: the cash was collected.",
                            period,
                        )
                    )
            for row in reversals.get((person, plan_id, c.id), []):
                payable += _clawback(book, first, c, row, cur, mode, period)
        guarantee = next(
            (
                ramp.guarantee
                for ramp in plan.ramp
                if ramp.period == first.ramp_period and ramp.guarantee is not None
            ),
            None,
        )
        if guarantee is not None:
            top = max(ZERO, guarantee - payable)
            top = quantize(top, cur, mode)
            if top:
                payable += _add(book, first, "guarantee", "guarantee", top, ZERO, period, cur)
            book.traces.append(
                _trace(
                    first,
                    "guarantee",
                    "ramp_guarantee",
                    [
                        step("ramp_period", first.ramp_period),
                        step("guarantee", guarantee),
                        step("payable_before", payable - top),
                        step("top_up", top),
                    ],
                    (f"assignment:{person}/{plan_id}",),
                    f"In ramp period {first.ramp_period} you are guaranteed "
                    f"{fmt_amount(guarantee, cur)}; you earned {fmt_amount(payable - top, cur)}, "
                    f"so the guarantee adds {fmt_amount(top, cur)}.",
                    period,
                )
            )
        if plan.draw is not None:
            if person in draw_owner:
                raise InputError(
                    f"person {person} has draws on two plans: {draw_owner[person]}, {plan_id}"
                )
            draw_owner[person] = plan_id
            d = plan.draw
            outcome = settle_draw(
                payable,
                d.amount,
                d.type == "recoverable",
                balances.get(person, ZERO),
                d.max_recovery_per_period,
                cur,
            )
            if outcome.top_up:
                _add(
                    book,
                    first,
                    "draw",
                    "draw",
                    quantize(outcome.top_up, cur, mode),
                    ZERO,
                    period,
                    cur,
                )
            if outcome.recovery:
                _add(
                    book,
                    first,
                    "draw",
                    "draw_recovery",
                    -quantize(outcome.recovery, cur, mode),
                    ZERO,
                    period,
                    cur,
                )
            if d.type == "recoverable":
                balances[person] = outcome.balance
            book.traces.append(
                _trace(
                    first,
                    "draw",
                    f"draw_{d.type}",
                    list(outcome.steps),
                    (f"draw_balance:{person}",),
                    outcome.text,
                    period,
                )
            )
    return book, dict(sorted(balances.items()))


def _group_rows(frame: pd.DataFrame) -> dict[tuple[str, str, str], list[dict[str, Any]]]:
    out: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    if len(frame) == 0:
        return out
    records = [{str(k): v for k, v in rec.items()} for rec in frame.to_dict("records")]
    records.sort(key=lambda r: str(r["transaction_id"]))
    for rec in records:
        key = (str(rec["person_id"]), str(rec["plan_id"]), str(rec["component_id"]))
        out.setdefault(key, []).append(rec)
    return out


def _clawback(
    book: _Book,
    seg: Segment,
    c: Component,
    row: Mapping[str, Any],
    cur: str,
    mode: Any,
    period: Period,
) -> Decimal:
    credited = pd.Timestamp(row["credited_date"]).date()
    reversed_on = pd.Timestamp(row["reversed_date"]).date()
    days = (reversed_on - credited).days
    amount = from_e4(int(row["amount_e4"]))
    rate = to_decimal(row["rate"])
    window = c.clawback_window_days
    inside = window is not None and 0 <= days <= window
    claw = quantize(clawback_amount(amount, rate), cur, mode) if inside else ZERO
    tid = row["transaction_id"]
    steps = [
        step("reversed_amount", amount),
        step("original_rate", rate),
        step("days_after_credit", days),
        step("window_days", window),
        step("clawback", claw),
    ]
    if inside:
        text = (
            f"Transaction {tid} ({fmt_amount(amount, cur)}) was reversed {days} days after "
            f"it was credited, inside the {window}-day window: {fmt_pct(rate)} is clawed "
            f"back = {fmt_amount(claw, cur)}."
        )
        _add(book, seg, c.id, "clawback", claw, ZERO, period, cur)
    else:
        text = (
            f"Transaction {tid} was reversed {days} days after it was credited, outside the "
            f"clawback window{'' if window is None else f' of {window} days'}: nothing is "
            "clawed back."
        )
    book.traces.append(_trace(seg, c.id, "clawback", steps, (f"transaction:{tid}",), text, period))
    return claw


def _add(
    book: _Book,
    seg: Segment,
    component_id: str,
    kind: str,
    earned: Decimal,
    paid: Decimal,
    period: Period,
    currency: str,
    attainment: Decimal | None = None,
    tier: int | None = None,
) -> Decimal:
    amount = earned - paid
    book.lines.append(
        PayoutLine(
            person_id=seg.person_key,
            plan_id=seg.plan_id,
            component_id=component_id,
            period_id=period.id,
            segment=seg.index,
            segment_start=seg.start,
            segment_end=seg.end,
            kind=kind,
            earned=earned,
            paid_before=paid,
            amount=amount,
            amount_minor=int(amount.scaleb(exponent(currency))),
            currency=currency,
            attainment=attainment,
            tier=tier,
        )
    )
    return amount


def _trace(
    seg: Segment,
    component_id: str,
    rule: str,
    steps: Sequence[Step],
    inputs: Iterable[str],
    text: str,
    period: Period,
) -> Trace:
    used = (
        f"assignment:{seg.person_key}/{seg.plan_id}",
        f"timeline:{seg.person_key}/{seg.start}..{seg.end}",
        *inputs,
    )
    segment_steps = (
        step("segment", f"{seg.start}..{seg.end}", f"node {seg.node_id}, role {seg.role}"),
        step("proration_factor", seg.factor, f"allocation {seg.allocation}"),
    )
    return Trace(
        person_id=seg.person_key,
        plan_id=seg.plan_id,
        component_id=component_id,
        period_id=period.id,
        segment=seg.index,
        rule=rule,
        steps=(*segment_steps, *steps),
        inputs=used,
        text=text,
    )


# --------------------------------------------------------------------------- entry point


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
    for t in traces:
        steps = ";".join(f"{s.name}={s.value}#{s.note}" for s in t.steps)
        h.update(
            f"{t.person_id}|{t.plan_id}|{t.component_id}|{t.segment}|{t.rule}|{steps}|"
            f"{','.join(t.inputs)}|{t.text}\n".encode()
        )
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
    "hold": 1,
    "release": 2,
    "clawback": 3,
    "guarantee": 4,
    "draw": 5,
    "draw_recovery": 6,
}


def compute(inputs: Inputs, *, pace: Decimal | None = None) -> Result:
    """Return the payout lines, traces and hash for ``inputs``; ``pace`` scales sums (forecast)."""
    kpis = ms.KpiTable(inputs.kpi_values)
    segments = build_segments(inputs)
    state = measure_phase(inputs, segments, pace, kpis)
    shared = reduce_phase(inputs, state, kpis)
    rewards = reward_phase(inputs, state, shared, kpis)
    book, balances = settle(inputs, rewards)
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
            t.inputs,
            t.text,
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
