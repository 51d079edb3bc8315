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
from fractions import Fraction
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from engine import measures as ms
from engine.fastpath import SegmentFigures, TierBlock, plain_plan, tier_block
from engine.formula import Env, Formula
from engine.money import (
    ONE,
    ZERO,
    MoneyError,
    RoundingMode,
    add,
    allocate,
    div,
    exponent,
    from_e4,
    from_minor,
    instalment,
    mul,
    quantize,
    to_decimal,
    to_e4,
    to_minor,
)
from engine.periods import (
    day_number,
    fiscal_months,
    from_day_number,
    months_between,
    periods_since_hire,
)
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
    months_counted,
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
    TraceBody,
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
    ti_e4: int = 0
    """The full (not pro-rated) target incentive in ten-thousandths."""

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
    fiscal_start = inputs.fiscal_year_start_month
    if (
        isinstance(fiscal_start, bool)
        or not isinstance(fiscal_start, int)
        or not 1 <= fiscal_start <= 12
    ):
        raise InputError(f"fiscal_year_start_month: must be 1..12, not {fiscal_start!r}")
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
    allocations: dict[tuple[type, str], Decimal] = {}
    prorations: dict[tuple[str, int, str, tuple[int, int]], tuple[Decimal, Decimal, Decimal]] = {}
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
        alloc_key = (type(alloc), str(alloc))  # the text: 0.5 and 0.50 render differently
        allocation = allocations.get(alloc_key)
        if allocation is None:
            allocation = allocations[alloc_key] = to_decimal(alloc)
        if not ZERO <= allocation <= ONE:
            raise InputError(f"timeline: person {key} allocation {allocation} not in [0, 1]")
        months = (0, 0)
        if plan.proration.startswith("months"):
            months = (
                months_counted(from_day_number(start), from_day_number(end), plan.mid_month_day),
                months_counted(period.start, period.end, plan.mid_month_day),
            )
        pr_key = (plan.proration, end - start, str(allocation), months)
        pr = prorations.get(pr_key)
        if pr is None:
            n, d = proration_factor(plan.proration, end - start, period_days, allocation, months)
            pr = prorations[pr_key] = (n, d, div(n, d))
        num, den, factor = pr
        ti_full = from_e4(int(ti))
        quota_factor = ONE
        ramp_period = None
        if plan.ramp and hire is not None and not pd.isna(hire):
            hire_date = pd.Timestamp(hire).date()
            ramp_period = periods_since_hire(
                hire_date, period.start, plan.payout_frequency, fiscal_start
            )
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
                factor=factor,
                factor_num=num,
                factor_den=den,
                target_incentive_full=ti_full,
                target_incentive=div(mul(ti_full, num), den),
                quota_factor=quota_factor,
                ramp_period=ramp_period,
                ti_e4=int(ti),
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
    sum_arrays: dict[tuple[str, str], IntArray] = field(default_factory=dict)
    """(plan, measure) -> int64 sum per segment id (ten-thousandths)."""
    count_arrays: dict[tuple[str, str], IntArray] = field(default_factory=dict)
    """(plan, measure) -> number of credits counted per segment id."""
    pace: Decimal | None = None
    """The forecast pace the sums were scaled by (None for an actual calculation)."""
    formula_steps: dict[int, dict[str, tuple[Step, ...]]] = field(default_factory=dict)
    """segment id -> formula measure -> its sub-results (segments of plans with formulas)."""
    formula_sentences: dict[int, dict[str, str]] = field(default_factory=dict)
    """segment id -> formula measure -> its sentence."""


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
    starts = np.array([segments[i].start_day for i in seg_ids], dtype=np.int64)
    ends = np.array([segments[i].end_day for i in seg_ids], dtype=np.int64)
    pc = pcode[seg_ids]
    if len(seg_ids) and len(cday):
        # A (person x day) table of segment ids: one gather per credit, no binary search.
        d0 = int(starts.min())
        width = int(ends.max()) - d0
        npersons = int(pc.max()) + 1
        if width > 0 and npersons * width <= max(4 * len(cday), 1 << 20):
            table = np.full(npersons * width, -1, dtype=np.int64)
            lengths = ends - starts
            cells = np.repeat(pc * width + (starts - d0), lengths) + (
                np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
            )
            table[cells] = np.repeat(seg_ids, lengths)
            rel = cday - d0
            ok = (ccode >= 0) & (ccode < npersons) & (rel >= 0) & (rel < width)
            found = np.full(len(cday), -1, dtype=np.int64)
            found[ok] = table[ccode[ok] * width + rel[ok]]
            rows = np.flatnonzero(found >= 0).astype(np.int64)
            return rows, found[rows]
    shift = np.int64(1 << 22)
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
    seg_codes, uniques = pd.factorize(np.array([s.person for s in segments], dtype=object))
    persons = pd.Index(list(uniques))  # int64 when every id is an int: faster look-ups
    pcode = seg_codes.astype(np.int64)
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
    # One pass when no person's segments overlap across plans, else one per plan.
    all_ids = np.arange(nseg, dtype=np.int64)
    by_person = sorted(segments, key=lambda s: (s.person_key, s.start_day))
    overlap = any(
        a.person_key == b.person_key and b.start_day < a.end_day
        for a, b in itertools.pairwise(by_person)
    )
    pairs: dict[str, tuple[IntArray, IntArray]] = {}
    plan_names = list(plan_segs)
    seg_plan = np.zeros(nseg, dtype=np.int64)
    for k, plan_id in enumerate(plan_names):
        seg_plan[np.array(plan_segs[plan_id], dtype=np.int64)] = k
    if not overlap and nseg:
        rows, segs = _assign(segments, all_ids, ccode, cday, pcode)
        if len(plan_names) == 1:
            pairs[plan_names[0]] = (rows, segs)
        else:
            plan_of = seg_plan[segs]
            order = _stable_order(plan_of)
            bounds = np.searchsorted(plan_of[order], np.arange(len(plan_names) + 1))
            for k, plan_id in enumerate(plan_names):
                pick = order[bounds[k] : bounds[k + 1]]  # stable: rows stay ascending
                pairs[plan_id] = (rows[pick], segs[pick])
    else:
        for plan_id, ids in plan_segs.items():
            pairs[plan_id] = _assign(segments, np.array(ids, dtype=np.int64), ccode, cday, pcode)
    masks: dict[Filter, npt.NDArray[np.bool_]] = {}
    sum_arrays: dict[tuple[str, str], IntArray] = {}
    count_arrays: dict[tuple[str, str], IntArray] = {}
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
            keep = masks[m.filter]
            if keep.all():
                r, sg = rows, segs
            else:
                sel = keep[rows]
                r, sg = rows[sel], segs[sel]
            sum_arrays[(plan_id, m.id)] = ms.group_sum(sg, amounts[r], nseg)
            sums[(plan_id, m.id)] = sum_arrays[(plan_id, m.id)].tolist()
            count_arrays[(plan_id, m.id)] = ms.group_count(sg, nseg)
            counts[(plan_id, m.id)] = count_arrays[(plan_id, m.id)].tolist()
            contrib_parts.append((r, sg, m.id))
    values: list[dict[str, Decimal | None]] = []
    seg_counts: list[dict[str, int]] = []
    formula_steps: dict[int, dict[str, tuple[Step, ...]]] = {}
    formula_sentences: dict[int, dict[str, str]] = {}
    with_formulas = {pid for pid, p in inputs.plans.items() if any(m.formula for m in p.measures)}
    person_quotas = _quota_tables(inputs.quotas)[0] if with_formulas else {}
    season = seasons(inputs) if with_formulas else {}
    simple: dict[str, bool] = {
        pid: pace is None and all(m.aggregate in ("sum", "count") for m in p.measures)
        for pid, p in inputs.plans.items()
    }
    for seg in segments:
        plan = inputs.plans[seg.plan_id]
        pid, sid = seg.plan_id, seg.id
        raw_counts = {
            m.id: counts[(pid, m.id)][sid] for m in plan.measures if (pid, m.id) in counts
        }
        seg_counts.append(raw_counts)
        if simple[pid]:
            values.append(
                {
                    m.id: from_e4(sums[(pid, m.id)][sid])
                    if m.aggregate == "sum"
                    else Decimal(raw_counts[m.id])
                    for m in plan.measures
                }
            )
            continue
        raw_sums = {m.id: sums[(pid, m.id)][sid] for m in plan.measures if (pid, m.id) in sums}
        kpi_values: dict[str, Decimal | None] = {}
        for m in plan.measures:
            if m.aggregate == "kpi":
                holder = seg.node_id if m.scope == "node" else seg.person_key
                kpi_values[m.id] = kpis.get(m.scope, holder, m.kpi or "")
        ctx = None
        if pid in with_formulas:
            ctx = _formula_context(seg, person_quotas, kpis, season)
            formula_steps[sid], formula_sentences[sid] = ctx.steps, ctx.sentences
        values.append(ms.finish_measures(plan, raw_sums, raw_counts, kpi_values, pace, ctx))
    contributions = _contributions(contrib_parts, segments, credits, amounts)
    return MeasureState(
        segments,
        credits,
        cday,
        pairs,
        values,
        seg_counts,
        contributions,
        masks,
        sum_arrays,
        count_arrays,
        pace,
        formula_steps,
        formula_sentences,
    )


def _formula_context(
    seg: Segment,
    person_quotas: Mapping[str, Mapping[str, Decimal]],
    kpis: ms.KpiTable,
    season: Mapping[tuple[str, str], Decimal],
) -> ms.FormulaContext:
    """Return what one segment's formula measures read: its quotas, KPI values and TI."""
    own = person_quotas.get(seg.person_key, {})

    def quota(quota_id: str) -> Decimal | None:
        value = own.get(quota_id)
        if value is None:
            return None
        return _prorated_quota(seg, value, season.get((seg.plan_id, quota_id), ONE))

    return ms.FormulaContext(
        quota=quota,
        kpi=lambda name: kpis.get("person", seg.person_key, name),
        target_incentive=seg.target_incentive,
    )


def _prorated_quota(seg: Segment, quota: Decimal, season: Decimal = ONE) -> Decimal:
    """Return a quota pro-rated to the segment (season x pro-ration x ramp quota factor)."""
    if season != ONE:
        quota = mul(quota, season)
    return div(mul(quota, mul(seg.factor_num, seg.quota_factor)), seg.factor_den)


def seasons(inputs: Inputs) -> dict[tuple[str, str], Decimal]:
    """Return each (plan, quota id)'s share of an annual quota that falls in this period.

    The share is the sum of the plan's seasonality weights of the fiscal months the period
    covers; the weights of a fiscal year sum to 1, so its periods' quotas sum to the annual one.
    """
    p = inputs.period
    months = fiscal_months(p.start, p.end, inputs.fiscal_year_start_month)
    return {
        (plan.id, qid): sum((weights[m - 1] for m in months), ZERO)
        for plan in inputs.plans.values()
        for qid, weights in plan.seasonality
    }


def _stable_order(keys: IntArray) -> IntArray:
    """Return the stable argsort of non-negative int keys < 2**32 (radix passes of 16 bits)."""
    low = np.argsort((keys & 0xFFFF).astype(np.uint16), kind="stable")
    if int(keys.max(initial=0)) < 1 << 16:
        return low.astype(np.int64)
    high = np.argsort((keys[low] >> 16).astype(np.uint16), kind="stable")
    return low[high].astype(np.int64)


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
    all_credits = credits["credit_id"].to_numpy()
    group = seg * len(measure_names) + mcode
    if (
        np.issubdtype(all_credits.dtype, np.integer)
        and bool((all_credits[1:] >= all_credits[:-1]).all())
        and int(group.max(initial=0)) < 2**32
    ):
        # Credits come sorted by id and each group's rows ascend: a stable sort by group
        # alone gives (group, credit id) order - two 16-bit radix passes, no comparison sort.
        order = _stable_order(group)
    else:
        credit = all_credits[rows]
        if (
            np.issubdtype(credit.dtype, np.integer)
            and (len(credit) == 0 or (credit.min() >= 0 and credit.max() < 2**31))
            and int(group.max(initial=0)) < 2**31
        ):
            order = np.argsort((group << 31) | credit.astype(np.int64), kind="stable")
        else:
            credit_key = pd.factorize(credit.astype(str), sort=True)[0]
            order = np.lexsort((credit_key, group))
    rows = rows[order]
    # Sorted by group, the groups are each group id repeated as often as it occurs.
    nm = len(measure_names)
    sizes = np.bincount(group, minlength=int(group.max(initial=0)) + 1)
    group = np.repeat(np.arange(len(sizes), dtype=np.int64), sizes)
    seg, mcode = (group, np.zeros(len(group), dtype=np.int64)) if nm == 1 else divmod(group, nm)
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
            "credit_id": all_credits[rows],
            "transaction_id": credits["transaction_id"].to_numpy()[rows],
            "amount_e4": amounts[rows],
        },
        copy=False,
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


def reduce_phase(
    inputs: Inputs, state: MeasureState, kpi_table: ms.KpiTable | None = None
) -> Shared:
    """Return the cross-person figures: other holders' measures and every pool's split."""
    kpis = kpi_table or ms.KpiTable(inputs.kpi_values)
    requests = sorted(_holder_requests(inputs.plans, state.segments))
    season = seasons(inputs)
    person_quotas, node_quotas = _quota_tables(inputs.quotas) if requests else ({}, {})
    holder_measures: dict[tuple[str, str, str], tuple[Decimal | None, Decimal | None]] = {}
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
            if scope == "node":
                sums[m.id], counts[m.id] = totals[(holder, m.filter)]
            else:
                if m.filter not in state.masks:
                    state.masks[m.filter] = ms.filter_mask(credits, m.filter)
                mask = state.masks[m.filter] & (person_ids == holder)
                sums[m.id], counts[m.id] = int(amounts[mask].sum()), int(mask.sum())
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
                inputs, plan, holder, measure_id, state, person_quotas, season, quota
            )
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


def _team_quota(
    inputs: Inputs,
    plan: Plan,
    node: str,
    quota_id: str,
    state: MeasureState,
    person_quotas: Mapping[str, Mapping[str, Decimal]],
    season: Mapping[tuple[str, str], Decimal],
    given: Decimal | None,
) -> Decimal | None:
    """Return a node's quota as its members' pro-rated, ramped quotas add up (or check it).

    The members are the plan's segments at the node or below it in the period.
    """
    under = ms.descendants(inputs.nodes, node) if len(inputs.nodes) else {node}
    total: Decimal | None = None
    for s in state.segments:
        if s.plan_id != plan.id or s.node_id not in under:
            continue
        own = person_quotas.get(s.person_key, {}).get(quota_id)
        if own is not None:
            share = _prorated_quota(s, own, season.get((plan.id, quota_id), ONE))
            total = share if total is None else add(total, share)
    if plan.team_quota == "checked" and (
        given is None or total is None or to_e4(given) != to_e4(total)
    ):
        raise InputError(
            f"quotas: node {node} quota {quota_id!r} is {given} but its members' quotas on "
            f"plan {plan.id} add up to {total} (team_quota: checked)"
        )
    return total if plan.team_quota == "derived" else given


def _split_pool(
    plan: Plan, c: Component, members: Sequence[Segment], shared: Shared, kpis: ms.KpiTable
) -> dict[tuple[str, str, str, int], PoolShare]:
    """Return each participant's largest-remainder share of one pool."""
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


# --------------------------------------------------------------------------- reward phase


@dataclass(frozen=True, slots=True)
class Reward:
    """One rule's outcome for one (segment, component)."""

    segment: Segment
    component: Component
    outcome: Outcome
    figures: str | None = None
    """The canonical figures of a plain tier table's trace (see :func:`plain_figures`)."""


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


def _facts(
    inputs: Inputs,
    seg: Segment,
    measure_values: Sequence[Mapping[str, Decimal | None]],
    counts: Sequence[Mapping[str, int]],
    person_quotas: Mapping[str, Mapping[str, Decimal]],
    kpis: ms.KpiTable,
    credit_rows: Callable[[str | None], Sequence[CreditRow]],
    formula_steps: Mapping[int, Mapping[str, tuple[Step, ...]]] | None = None,
    formula_sentences: Mapping[int, Mapping[str, str]] | None = None,
    season: Mapping[tuple[str, str], Decimal] | None = None,
) -> Facts:
    plan = inputs.plans[seg.plan_id]
    quotas = {
        q: _prorated_quota(seg, v, season.get((seg.plan_id, q), ONE) if season else ONE)
        for q, v in person_quotas.get(seg.person_key, {}).items()
    }
    return Facts(
        person_id=seg.person_key,
        plan=plan,
        segment=seg.index,
        start=seg.start,
        end=seg.end,
        node_id=seg.node_id,
        period=inputs.period,
        factor=seg.factor,
        target_incentive=seg.target_incentive,
        measures=measure_values[seg.id],
        quotas=quotas,
        kpis=kpis.for_person(seg.person_key) if _needs_kpis(plan) else {},
        credit_rows=credit_rows,
        measure_credit_count=counts[seg.id],
        formula_steps=formula_steps.get(seg.id, {}) if formula_steps else {},
        formula_sentences=formula_sentences.get(seg.id, {}) if formula_sentences else {},
    )


def reward_phase(
    inputs: Inputs,
    state: MeasureState,
    shared: Shared,
    kpi_table: ms.KpiTable | None = None,
    segments: Sequence[Segment] | None = None,
) -> list[Reward]:
    """Return every (segment, component) outcome, in segment then plan-component order.

    ``segments`` limits the work to some of ``state.segments`` (all of them by default).
    """
    kpis = kpi_table or ms.KpiTable(inputs.kpi_values)
    person_quotas, _ = _quota_tables(inputs.quotas)
    rewards: list[Reward] = []
    keys: dict[tuple[str, str], str] = {}
    season = seasons(inputs)
    for seg in state.segments if segments is None else segments:
        plan = inputs.plans[seg.plan_id]
        facts = _facts(
            inputs,
            seg,
            state.measure_values,
            state.counts,
            person_quotas,
            kpis,
            _row_builder(state, plan, seg),
            state.formula_steps,
            state.formula_sentences,
            season,
        )
        plain = state.pace is None and plain_plan(plan)
        for c in plan.components:
            figures = None
            if plain:
                assert c.measure is not None
                quota = facts.quotas.get(c.quota or c.measure)
                key = keys.get((plan.id, c.id))
                if key is None:
                    key = keys[(plan.id, c.id)] = component_key(plan, c)
                figures = plain_figures(
                    key,
                    seg,
                    int(state.sum_arrays[(plan.id, c.measure)][seg.id]),
                    int(state.count_arrays[(plan.id, c.measure)][seg.id]),
                    None if quota is None else _raw_quota_e4(person_quotas, seg, c),
                )
            rewards.append(Reward(seg, c, evaluate(c, facts, shared), figures))
    return rewards


def _raw_quota_e4(
    person_quotas: Mapping[str, Mapping[str, Decimal]], seg: Segment, c: Component
) -> int | None:
    """Return the person's quota of component ``c`` before pro-ration, in ten-thousandths."""
    quota = person_quotas.get(seg.person_key, {}).get(c.quota or c.measure or "")
    return None if quota is None else int(quota.scaleb(4))


def component_key(plan: Plan, c: Component) -> str:
    """Return a digest of everything of the plan a plain tier table's trace depends on."""
    text = repr((plan.id, plan.rounding, plan.proration, c))
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def plain_figures(
    key: str,
    seg: Segment,
    value_e4: int,
    count: int,
    quota_e4: int | None,
) -> str:
    """Return the canonical text of every figure a plain tier table's trace is rendered from.

    Both paths build it the same way - the fast path from its integer columns, the general
    path from the segment and measure phase - so :func:`result_hash` does not depend on the
    path taken, and needs no trace rendered. The earned and paid minor units are appended
    when the line is settled. ``key`` is :func:`component_key` of the plan and component.
    """
    return (
        f"{key}|{seg.person_key}|{seg.node_id}|{seg.role}|{seg.allocation}|{seg.index}|"
        f"{seg.start_day}|{seg.end_day}|{seg.factor_num}|{seg.factor_den}|{seg.quota_factor}|"
        f"{seg.ti_e4}|{value_e4}|{count}|{'' if quota_e4 is None else quota_e4}"
    )


def _settled_figures(figures: str | None, earned: Decimal, paid: Decimal, cur: str) -> str | None:
    if figures is None:
        return None
    digits = exponent(cur)
    return f"{figures}|{int(earned.scaleb(digits))}|{int(paid.scaleb(digits))}"


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
    due = _group_rows(
        inputs.instalments, order=lambda r: (str(r["earned_period_id"]), int(r["number"]))
    )
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
            book.traces.append(
                _earned_trace(
                    seg,
                    c,
                    o,
                    earned,
                    paid,
                    cur,
                    mode,
                    period,
                    _settled_figures(r.figures, earned, paid, cur),
                )
            )
            if c.instalments is not None:
                payable += _defer(book, seg, c, earned - paid, cur, mode, period)
            if o.held:
                held = quantize(o.held, cur, mode)
                payable += _add(book, seg, c.id, "hold", -held, ZERO, period, cur)
        for c in plan.components:
            for row in due.pop((person, plan_id, c.id), []):
                payable += _instalment(book, first, c, row, cur, mode, period)
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
                            f"{fmt_amount(amount, cur, mode)} held on transaction "
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
                    f"{fmt_amount(guarantee, cur, mode)}; "
                    f"you earned {fmt_amount(payable - top, cur, mode)}, "
                    f"so the guarantee adds {fmt_amount(top, cur, mode)}.",
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
                mode,
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
    if due:
        left = ", ".join(sorted(f"{p}/{pl}/{c}" for p, pl, c in due))
        raise InputError(
            f"instalments: nothing to pay them with in this run ({left}): the person has no "
            "segment on the plan this period, or the plan no such component"
        )
    return book, dict(sorted(balances.items()))


def _defer(
    book: _Book,
    seg: Segment,
    c: Component,
    amount: Decimal,
    cur: str,
    mode: RoundingMode,
    period: Period,
) -> Decimal:
    """Defer all but the first instalment of a line's amount; return the (negative) deferral."""
    n = c.instalments or 1
    digits = exponent(cur)
    total = int(amount.scaleb(digits))
    parts = [instalment(total, n, k) for k in range(1, n + 1)]
    now = from_minor(parts[0], cur)
    deferred = now - amount
    shown = ", ".join(fmt_amount(from_minor(p, cur), cur, mode) for p in parts[1:])
    _add(book, seg, c.id, "deferred", deferred, ZERO, period, cur)
    book.traces.append(
        _trace(
            seg,
            c.id,
            "instalments",
            [
                step("total", amount),
                step("instalments", n),
                *(step(f"instalment_{k}", from_minor(p, cur)) for k, p in enumerate(parts, 1)),
                step("deferred", deferred),
            ],
            (),
            f"{fmt_amount(amount, cur, mode)} is paid in {n} instalments: "
            f"{fmt_amount(now, cur, mode)} now, then {shown} (the last takes the remainder); "
            f"{fmt_amount(-deferred, cur, mode)} is deferred.",
            period,
        )
    )
    return deferred


def _instalment(
    book: _Book,
    seg: Segment,
    c: Component,
    row: Mapping[str, Any],
    cur: str,
    mode: RoundingMode,
    period: Period,
) -> Decimal:
    """Pay one instalment due this period of an amount earned earlier."""
    total, n, k = int(row["total_minor"]), int(row["periods"]), int(row["number"])
    try:
        amount = from_minor(instalment(total, n, k), cur)
    except MoneyError as exc:
        raise InputError(f"instalments: {seg.person_key}/{seg.plan_id}/{c.id}: {exc}") from exc
    earned_in = row["earned_period_id"]
    _add(book, seg, c.id, "instalment", amount, ZERO, period, cur)
    last = " (the last, with the remainder)" if k == n else ""
    book.traces.append(
        _trace(
            seg,
            c.id,
            "instalment",
            [
                step("total", from_minor(total, cur)),
                step("number", k, f"of {n}"),
                step("instalment", amount),
            ],
            (f"instalment:{seg.person_key}/{seg.plan_id}/{c.id}/{earned_in}",),
            f"Instalment {k} of {n}{last} of {fmt_amount(from_minor(total, cur), cur, mode)} "
            f"earned in {earned_in}: {fmt_amount(amount, cur, mode)}.",
            period,
        )
    )
    return amount


def _earned_trace(
    seg: Segment,
    c: Component,
    o: Outcome,
    earned: Decimal,
    paid: Decimal,
    cur: str,
    mode: RoundingMode,
    period: Period,
    figures: str | None = None,
) -> Trace:
    """Return the trace of an earned line: the rule's steps, prior payments, rounding."""
    steps = list(o.steps)
    text = o.text
    if paid:
        steps += [step("paid_before", paid), step("payable", earned - paid)]
        text += (
            f" Already paid {fmt_amount(paid, cur, mode)}, "
            f"so {fmt_amount(earned - paid, cur, mode)} "
            "is payable now."
        )
    steps.append(step("rounded", earned, f"{mode} to {cur}"))
    return _trace(seg, c.id, c.type, steps, o.inputs, text, period, figures)


def _group_rows(
    frame: pd.DataFrame,
    order: Callable[[dict[str, Any]], Any] = lambda r: str(r["transaction_id"]),
) -> dict[tuple[str, str, str], list[dict[str, Any]]]:
    """Return a frame's rows by (person, plan, component), each group sorted by ``order``."""
    out: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    if len(frame) == 0:
        return out
    records = [{str(k): v for k, v in rec.items()} for rec in frame.to_dict("records")]
    records.sort(key=order)
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
    mode: RoundingMode,
    period: Period,
) -> Decimal:
    """Claw back a reversed credit at its original rate: inside a window, or by a scale."""
    credited = pd.Timestamp(row["credited_date"]).date()
    reversed_on = pd.Timestamp(row["reversed_date"]).date()
    days = (reversed_on - credited).days
    amount = from_e4(int(row["amount_e4"]))
    rate = to_decimal(row["rate"])
    tid = row["transaction_id"]
    steps = [
        step("reversed_amount", amount),
        step("original_rate", rate),
        step("days_after_credit", days),
    ]
    if c.clawback_scale:
        month = months_between(credited, reversed_on) + 1 if days >= 0 else None
        share = next(
            (s.share for s in c.clawback_scale if month is not None and month <= s.through_month),
            ZERO,
        )
        inside = share > 0
        steps += [step("months_after_credit", month), step("scale_share", share)]
        when = f"in month {month} after it was credited ({credited} to {reversed_on})"
        last = c.clawback_scale[-1].through_month
        outside = f"past the clawback scale (its last step ends with month {last})"
        if month is not None and share == 0 and month <= last:
            outside = "where the clawback scale claws back 0 %"
    else:
        window = c.clawback_window_days
        share = c.clawback_share
        inside = window is not None and 0 <= days <= window and share > 0
        steps += [step("window_days", window), step("share", share)]
        when = f"{days} days after it was credited"
        outside = f"outside the clawback window{'' if window is None else f' of {window} days'}"
        if window is not None and 0 <= days <= window:
            outside = "inside the window, where the share clawed back is 0 %"
    claw = quantize(clawback_amount(amount, rate, share), cur, mode) if inside else ZERO
    steps.append(step("clawback", claw))
    if inside and c.clawback_scale:
        text = (
            f"Transaction {tid} ({fmt_amount(amount, cur, mode)}) was reversed {when}: the "
            f"scale claws back {fmt_pct(share)} of the commission at its original rate of "
            f"{fmt_pct(rate)} = {fmt_amount(claw, cur, mode)}."
        )
    elif inside:
        part = f"{fmt_pct(share)} of {fmt_pct(rate)}" if share != ONE else fmt_pct(rate)
        text = (
            f"Transaction {tid} ({fmt_amount(amount, cur, mode)}) was reversed {when}, inside "
            f"the {c.clawback_window_days}-day window: {part} is clawed back = "
            f"{fmt_amount(claw, cur, mode)}."
        )
    else:
        text = f"Transaction {tid} was reversed {when}, {outside}: nothing is clawed back."
    if inside:
        _add(book, seg, c.id, "clawback", claw, ZERO, period, cur)
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
    figures: str | None = None,
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
        figures=figures,
    )


# --------------------------------------------------------------------------- fast path


def _no_credit_rows(measure_id: str | None) -> Sequence[CreditRow]:
    raise AssertionError("a plain tier table reads no credit rows")  # pragma: no cover


@dataclass
class _RenderContext:
    """What rendering a fast-path trace needs: the general rule is run for that one row."""

    inputs: Inputs
    measure_values: list[dict[str, Decimal | None]]
    counts: list[dict[str, int]]
    kpis: ms.KpiTable
    shared: Shared
    prior: dict[tuple[str, str, str], Decimal]
    person_quotas: dict[str, dict[str, Decimal]] | None = None

    def render(self, seg: Segment, c: Component) -> TraceBody:
        plan = self.inputs.plans[seg.plan_id]
        if self.person_quotas is None:
            self.person_quotas = _quota_tables(self.inputs.quotas)[0]
        facts = _facts(
            self.inputs,
            seg,
            self.measure_values,
            self.counts,
            self.person_quotas,
            self.kpis,
            _no_credit_rows,
        )
        o = evaluate(c, facts, self.shared)
        cur, mode = plan.rounding.currency, plan.rounding.mode
        earned = quantize(o.earned, cur, mode)
        paid = ZERO
        if seg.index == 0:
            paid = quantize(self.prior.get((seg.person_key, seg.plan_id, c.id), ZERO), cur, mode)
        t = _earned_trace(seg, c, o, earned, paid, cur, mode, self.inputs.period)
        return t.steps, t.inputs, t.text


@dataclass
class _FastBlock:
    """One plain tier component of one plan over many segments, computed column-wise."""

    plan: Plan
    component: Component
    segments: list[Segment]
    fig: SegmentFigures
    counts: IntArray
    minor: list[int]
    paid_minor: list[int]
    ctx: _RenderContext
    quota_raw: list[int | None]

    def figures(self, rows: Sequence[int]) -> list[str]:
        """Return the canonical figures of the traces of ``rows`` (as :func:`plain_figures`)."""
        values, counts = self.fig.value_e4.tolist(), self.counts.tolist()
        key, segs = component_key(self.plan, self.component), self.segments
        return [
            plain_figures(key, segs[i], values[i], counts[i], self.quota_raw[i])
            + f"|{self.minor[i]}|{self.paid_minor[i]}"
            for i in rows
        ]


class _LazyTrace:
    """Renders one fast-path trace on demand (the trace's ``source``)."""

    __slots__ = ("block", "row")

    def __init__(self, block: _FastBlock, row: int) -> None:
        self.block = block
        self.row = row

    def __call__(self) -> TraceBody:
        b = self.block
        return b.ctx.render(b.segments[self.row], b.component)


def _busy_keys(inputs: Inputs) -> set[tuple[str, str]]:
    """Return the (person, plan) pairs with holds, reversals or instalments: settled generally."""
    out: set[tuple[str, str]] = set()
    for frame in (inputs.holds, inputs.reversals, inputs.instalments):
        if len(frame):
            out.update(
                zip(
                    frame["person_id"].astype(str).tolist(),
                    frame["plan_id"].astype(str).tolist(),
                    strict=True,
                )
            )
    return out


def _quota_e4(quotas: pd.DataFrame) -> dict[tuple[str, str], int]:
    """Return person quotas in ten-thousandths by (person, quota id); refuse repeated keys."""
    if len(quotas) == 0:
        return {}
    kinds = (
        quotas["holder_kind"].astype(str).tolist()
        if "holder_kind" in quotas.columns
        else ["person"] * len(quotas)
    )
    holders = quotas["holder_id"].astype(str).tolist()
    qids = quotas["quota_id"].astype(str).tolist()
    if len(set(zip(kinds, holders, qids, strict=True))) < len(quotas):
        _quota_tables(quotas)  # raises the InputError naming the repeated quota
    return {
        (holder, qid): int(amount)
        for kind, holder, qid, amount in zip(
            kinds, holders, qids, quotas["amount_e4"].tolist(), strict=True
        )
        if kind != "node"
    }


def _times_fraction(
    values: IntArray, num: IntArray, den: IntArray
) -> tuple[IntArray, npt.NDArray[np.bool_]]:
    """Return (values x num / den, rows where that is a whole number) exactly (int64)."""
    big = max(int(np.abs(values).max(initial=0)), 1) * max(int(np.abs(num).max(initial=0)), 1)
    if big >= 2**62:  # rare: exact Python integers, row by row
        out = np.zeros(len(values), dtype=np.int64)
        ok = np.zeros(len(values), dtype=bool)
        for i, (v, n, d) in enumerate(
            zip(values.tolist(), num.tolist(), den.tolist(), strict=True)
        ):
            whole, rest = divmod(v * n, d)
            if rest == 0 and abs(whole) < 2**62:
                out[i], ok[i] = whole, True
        return out, ok
    top = values * num
    ok = top % den == 0
    return top // den, ok


def _attainment(
    value_e4: int, quota_e4: int | None, seg: Segment, nums: dict[tuple[int, int], Decimal]
) -> Decimal:
    """Return value / pro-rated quota exactly as the general path's Decimals give it."""
    key = (id(seg.factor_num), id(seg.quota_factor))
    num = nums.get(key)
    if num is None:
        num = nums[key] = mul(seg.factor_num, seg.quota_factor)
    quota = div(mul(from_e4(quota_e4 or 0), num), seg.factor_den)
    return div(from_e4(value_e4), quota)


def _fast_path(
    inputs: Inputs, state: MeasureState, shared: Shared, kpis: ms.KpiTable
) -> tuple[list[PayoutLine], list[Trace], set[int]]:
    """Return the lines and (lazy) traces of every plain-tier (person, plan), and their segments.

    A (person, plan) goes this way when its plan is made of plain tier tables only
    (:func:`engine.fastpath.plain_plan`), it has no holds or reversals, and every figure of
    every segment is exact in integers (:func:`engine.fastpath.tier_block`); the rest goes
    the general way. Lines are identical to the general path's; a trace keeps the figures it
    is made of and renders its steps and sentence with the general rule when first read.
    """
    plans = [pid for pid in sorted(inputs.plans) if plain_plan(inputs.plans[pid])]
    if not plans or not state.segments:
        return [], [], set()
    busy = _busy_keys(inputs)
    quota_e4 = _quota_e4(inputs.quotas)
    prior = _prior_table(inputs.prior_payouts)
    ctx = _RenderContext(inputs, state.measure_values, state.counts, kpis, shared, prior)
    period = inputs.period
    fractions: dict[tuple[int, int, int, int], tuple[int, int, int, int, bool]] = {}
    dates: dict[int, dt.date] = {}
    lines: list[PayoutLine] = []
    traces: list[Trace] = []
    done: set[int] = set()
    for pid in plans:
        plan = inputs.plans[pid]
        cur, mode = plan.rounding.currency, plan.rounding.mode
        digits = exponent(cur)
        segs = [s for s in state.segments if s.plan_id == pid and (s.person_key, pid) not in busy]
        if not segs:
            continue
        ids = np.array([s.id for s in segs], dtype=np.int64)
        rows_f = []
        for s in segs:
            # build_segments shares these Decimals between segments: key on identity.
            key = (id(s.factor_num), id(s.factor_den), id(s.quota_factor), id(s.factor))
            got = fractions.get(key)
            if got is None:
                fq = Fraction(mul(s.factor_num, s.quota_factor)) / Fraction(s.factor_den)
                ff = Fraction(s.factor_num) / Fraction(s.factor_den)
                got = (
                    fq.numerator,
                    fq.denominator,
                    ff.numerator,
                    ff.denominator,
                    Fraction(s.factor) == ff,
                )
                fractions[key] = got
            rows_f.append(got)
        qn, qd, fn, fd, fx = (np.array(col) for col in zip(*rows_f, strict=True))
        qn, qd, fn, fd = (a.astype(np.int64) for a in (qn, qd, fn, fd))
        ti_e4, ti_ok = _times_fraction(np.array([s.ti_e4 for s in segs], dtype=np.int64), fn, fd)
        keys = [s.person_key for s in segs]
        blocks: list[tuple[Component, SegmentFigures, TierBlock, list[int | None]]] = []
        eligible = np.ones(len(segs), dtype=bool)
        for c in plan.components:
            assert c.measure is not None
            qid = c.quota or c.measure
            raw = [quota_e4.get((k, qid)) for k in keys]
            present = np.array([x is not None for x in raw], dtype=bool)
            q_e4, q_ok = _times_fraction(np.array([x or 0 for x in raw], dtype=np.int64), qn, qd)
            fig = SegmentFigures(
                value_e4=state.sum_arrays[(pid, c.measure)][ids],
                quota_e4=q_e4,
                quota_present=present,
                quota_ok=q_ok,
                ti_e4=ti_e4,
                ti_ok=ti_ok,
                factor_num=fn,
                factor_den=fd,
                factor_exact=fx.astype(bool),
            )
            tb = tier_block(c, fig, digits, mode)
            eligible &= tb.eligible
            blocks.append((c, fig, tb, raw))
        if not eligible.all():
            bad = {keys[i] for i in np.flatnonzero(~eligible).tolist()}
            eligible &= np.array([k not in bad for k in keys], dtype=bool)
        kept = np.flatnonzero(eligible).tolist()
        if not kept:
            continue
        done.update(int(i) for i in ids[eligible].tolist())
        quota_nums: dict[tuple[int, int], Decimal] = {}
        unit_neg_zero = Decimal((1, (0,), -digits))
        zero_paid = quantize(ZERO, cur, mode)
        for c, fig, tb, raw in blocks:
            assert c.measure is not None
            minor = tb.minor.tolist()
            negative = (tb.earned < 0).tolist()
            values = fig.value_e4.tolist()
            present_l = fig.quota_present.tolist()
            tiers = tb.tier.tolist()
            paid_minor = [0] * len(segs)
            block = _FastBlock(
                plan,
                c,
                segs,
                fig,
                state.count_arrays[(pid, c.measure)][ids],
                minor,
                paid_minor,
                ctx,
                raw,
            )
            for k in kept:
                s = segs[k]
                m = minor[k]
                earned = Decimal(m).scaleb(-digits) if m or not negative[k] else unit_neg_zero
                paid = ZERO
                if s.index == 0:
                    before = prior.get((s.person_key, pid, c.id))
                    if before is None:
                        paid = zero_paid
                    else:
                        paid = quantize(before, cur, mode)
                        paid_minor[k] = int(paid.scaleb(digits))
                amount = earned - paid
                start = dates.get(s.start_day)
                if start is None:
                    start = dates[s.start_day] = s.start
                end = dates.get(s.end_day)
                if end is None:
                    end = dates[s.end_day] = s.end
                lines.append(
                    PayoutLine(
                        person_id=s.person_key,
                        plan_id=pid,
                        component_id=c.id,
                        period_id=period.id,
                        segment=s.index,
                        segment_start=start,
                        segment_end=end,
                        kind="earned",
                        earned=earned,
                        paid_before=paid,
                        amount=amount,
                        amount_minor=int(amount.scaleb(digits)),
                        currency=cur,
                        attainment=(
                            _attainment(values[k], raw[k], s, quota_nums) if present_l[k] else None
                        ),
                        tier=tiers[k],
                    )
                )
                traces.append(
                    Trace(
                        s.person_key,
                        pid,
                        c.id,
                        period.id,
                        s.index,
                        c.type,
                        render=_LazyTrace(block, k),
                    )
                )
    return lines, traces, done


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
    parts: list[str] = []
    lazy: dict[int, tuple[_FastBlock, list[int], list[int]]] = {}
    for t in traces:
        head = f"{t.person_id}|{t.plan_id}|{t.component_id}|{t.segment}|{t.rule}|"
        src = t.source
        if isinstance(src, _LazyTrace):
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
        fast_lines, fast_traces, done = _fast_path(inputs, state, shared, kpis)
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
