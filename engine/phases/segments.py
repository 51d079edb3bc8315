"""Phase 1, segments: (person, plan) stretches of the period and their quotas.

Contract: :func:`build_segments` turns assignments x timeline, clipped to the period, into
sorted :class:`Segment` rows, each with its pro-ration factor (days x allocation, per the
plan's policy), its pro-rated target incentive and its ramp quota factor. ``quota_tables``,
``prorated_quota`` and ``seasons`` say what a segment's quotas are.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from itertools import repeat
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from engine import measures as ms
from engine.money import (
    ONE,
    ZERO,
    div,
    from_e4,
    mul,
    to_decimal,
)
from engine.periods import (
    day_number,
    fiscal_months,
    from_day_number,
    periods_since_hire,
)
from engine.phases.common import InputError, require
from engine.rules import (
    months_counted,
    proration_factor,
)
from engine.types import (
    ASSIGNMENT_COLUMNS,
    TIMELINE_COLUMNS,
    Inputs,
)


class Segment(NamedTuple):
    """One (person, plan) stretch of the period with constant node, role and allocation.

    A named tuple: 110k of them are made per run of 100k payees, and a tuple is built several
    times faster than a frozen dataclass. The target incentive and its pro-rated part are
    worked out from ``ti_e4`` and the pro-ration fraction when read (the fast path never
    reads them).
    """

    id: int
    person: Any
    person_key: str
    plan_id: str
    index: int  # type: ignore[assignment]  # a field, not tuple.index
    start_day: int
    end_day: int
    node_id: str
    role: str
    allocation: Decimal
    factor: Decimal
    factor_num: Decimal
    factor_den: Decimal
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

    @property
    def target_incentive_full(self) -> Decimal:
        """Return the full (not pro-rated) target incentive."""
        return from_e4(self.ti_e4)

    @property
    def target_incentive(self) -> Decimal:
        """Return the target incentive pro-rated to the segment (x factor_num / factor_den)."""
        return div(mul(from_e4(self.ti_e4), self.factor_num), self.factor_den)


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
    require(inputs.assignments, ASSIGNMENT_COLUMNS, "assignments")
    require(inputs.timeline, TIMELINE_COLUMNS, "timeline")
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
    keys_a = j["key"].to_numpy()
    plans_a = j["plan_id"].to_numpy()
    starts_a = j["start"].to_numpy(dtype=np.int64)
    ends_a = j["end"].to_numpy(dtype=np.int64)
    # A segment's index among its (person, plan)'s, and overlaps, column-wise.
    same = np.zeros(len(j), dtype=bool)
    if len(j) > 1:
        same[1:] = (keys_a[1:] == keys_a[:-1]) & (plans_a[1:] == plans_a[:-1])
    overlapping = np.flatnonzero(same[1:] & (starts_a[1:] < ends_a[:-1])) + 1
    if len(overlapping):
        i = int(overlapping[0])
        raise InputError(
            f"timeline: person {keys_a[i]} has overlapping segments on plan {plans_a[i]} "
            f"from {from_day_number(int(starts_a[i]))}"
        )
    positions = np.arange(len(j), dtype=np.int64)
    group_start = np.maximum.accumulate(np.where(same, 0, positions)) if len(j) else positions
    indexes = (positions - group_start).tolist()
    period_days = period.days
    cols = [j[c].tolist() for c in ("person", "key", "plan_id", "node_id", "role", "allocation")]
    persons, keys, plan_ids, nodes, roles, allocs = cols
    starts, ends = starts_a.tolist(), ends_a.tolist()
    allocations: dict[tuple[type, str], Decimal] = {}
    prorations: dict[tuple[str, int, str, tuple[int, int]], tuple[Decimal, Decimal, Decimal]] = {}
    n = len(keys)
    alloc_col: list[Decimal] = [ONE] * n
    factor_col: list[Decimal] = [ONE] * n
    num_col: list[Decimal] = [ONE] * n
    den_col: list[Decimal] = [ONE] * n
    quota_factors: list[Decimal] = [ONE] * n
    ramp_periods: list[int | None] = [None] * n
    by_row = {  # plans whose figures need the row's dates or hire date
        pid for pid, p in inputs.plans.items() if p.proration.startswith("months") or p.ramp
    }
    for i, (key, plan_id, start, end, alloc) in enumerate(
        zip(keys, plan_ids, starts, ends, allocs, strict=True)
    ):
        alloc_key = (type(alloc), str(alloc))  # the text: 0.5 and 0.50 render differently
        allocation = allocations.get(alloc_key)
        if allocation is None:
            allocation = allocations[alloc_key] = to_decimal(alloc)
            if not ZERO <= allocation <= ONE:
                raise InputError(f"timeline: person {key} allocation {allocation} not in [0, 1]")
        alloc_col[i] = allocation
        plan = inputs.plans[plan_id]
        months = (0, 0)
        if plan_id in by_row and plan.proration.startswith("months"):
            months = (
                months_counted(from_day_number(start), from_day_number(end), plan.mid_month_day),
                months_counted(period.start, period.end, plan.mid_month_day),
            )
        pr_key = (plan.proration, end - start, alloc_key[1], months)
        pr = prorations.get(pr_key)
        if pr is None:
            num, den = proration_factor(
                plan.proration, end - start, period_days, allocation, months
            )
            pr = prorations[pr_key] = (num, den, div(num, den))
        num_col[i], den_col[i], factor_col[i] = pr
    if by_row:
        hires = j["hire"].tolist()
        for i, plan_id in enumerate(plan_ids):
            plan = inputs.plans[plan_id]
            hire = hires[i]
            if plan.ramp and hire is not None and not pd.isna(hire):
                ramp_period = ramp_periods[i] = periods_since_hire(
                    pd.Timestamp(hire).date(), period.start, plan.payout_frequency, fiscal_start
                )
                for ramp in plan.ramp:
                    if ramp.period == ramp_period:
                        quota_factors[i] = ramp.quota_factor
    ti_e4 = [int(ti) for ti in j["ti"].tolist()]
    return list(
        map(
            tuple.__new__,  # Segment._make without its call
            repeat(Segment),
            zip(
                range(n),
                persons,
                keys,
                plan_ids,
                indexes,
                starts,
                ends,
                nodes,
                roles,
                alloc_col,
                factor_col,
                num_col,
                den_col,
                quota_factors,
                ramp_periods,
                ti_e4,
                strict=True,
            ),
        )
    )  # positional: the field order of Segment


def prorated_quota(seg: Segment, quota: Decimal, season: Decimal = ONE) -> Decimal:
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


def quota_tables(
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
