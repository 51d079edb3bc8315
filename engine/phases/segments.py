"""Phase 1, segments: (person, plan) stretches of the period and their quotas.

Contract: :func:`build_segments` turns assignments x timeline, clipped to the period, into
sorted :class:`Segment` rows, each with its pro-ration factor (days x allocation, per the
plan's policy), its pro-rated target incentive and its ramp quota factor. ``quota_tables``,
``prorated_quota`` and ``seasons`` say what a segment's quotas are.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from itertools import repeat
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
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
from engine.phases.common import InputError, IntArray, require
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


class SegmentColumns:
    """The fields of a list of segments as columns, each made once when first read.

    Three ways to get them: transposed from the segments (``zip``, all fields at once); given
    by :func:`build_segments`, which built the segments from these very columns; or taken
    from a parent's columns at the segments' positions (a plan's segments among the run's),
    field by field.
    """

    __slots__ = (
        "_at",
        "_codes",
        "_columns",
        "_ints",
        "_objects",
        "_parent",
        "_texts",
        "segments",
    )

    def __init__(
        self,
        segments: Sequence[Segment],
        columns: dict[str, Sequence[Any]] | None = None,
        *,
        parent: SegmentColumns | None = None,
        at: IntArray | None = None,
    ) -> None:
        self.segments = segments
        self._columns: dict[str, Sequence[Any]] = columns or {}
        self._parent, self._at = parent, at
        self._texts: dict[str, list[str]] = {}
        self._ints: dict[str, IntArray] = {}
        self._objects: dict[str, npt.NDArray[Any]] = {}
        self._codes: dict[str, tuple[IntArray, pd.Index]] = {}

    def __getitem__(self, field: str) -> Sequence[Any]:
        got = self._columns.get(field)
        if got is not None:
            return got
        if self._parent is not None and self._at is not None:
            taken: list[Any] = self._parent.objects(field)[self._at].tolist()
            self._columns[field] = taken
            return taken
        segs = self.segments
        columns = list(zip(*segs, strict=True)) if segs else [()] * len(Segment._fields)
        self._columns = dict(zip(Segment._fields, columns, strict=True))
        return self._columns[field]

    def objects(self, field: str) -> npt.NDArray[Any]:
        """Return a field as an object array, made once (what a subset takes from)."""
        got = self._objects.get(field)
        if got is None:
            got = np.empty(len(self.segments), dtype=object)
            got[:] = self[field]
            self._objects[field] = got
        return got

    def codes(self, field: str) -> tuple[IntArray, pd.Index]:
        """Return a field factorized, made once: each segment's code (int64) and the distinct
        values in order of appearance (an index of int64 when every value is an int)."""
        got = self._codes.get(field)
        if got is None:
            codes, uniques = pd.factorize(self.objects(field))
            got = self._codes[field] = (
                codes.astype(np.int64),
                pd.Index(uniques, dtype=object).infer_objects(),
            )
        return got

    def ints(self, field: str) -> IntArray:
        """Return an integer field as an int64 array, made once."""
        got = self._ints.get(field)
        if got is None:
            if self._parent is not None and self._at is not None:
                got = self._parent.ints(field)[self._at]
            else:
                got = np.asarray(self[field], dtype=np.int64)
            self._ints[field] = got
        return got

    def take(self, at: IntArray, segments: Sequence[Segment]) -> SegmentColumns:
        """Return the columns of ``segments``, the ones at positions ``at``."""
        return SegmentColumns(segments, parent=self, at=at)

    def texts(self, field: str) -> list[str]:
        """Return ``str`` of a field's every value (:func:`object_texts`), made once."""
        got = self._texts.get(field)
        if got is None:
            got = self._texts[field] = object_texts(self[field])
        return got

    def holders(self) -> list[str]:
        """Return every segment's ``person|node|role`` (the figures' holder), made once."""
        got = self._texts.get("holder")
        if got is None:
            got = self._texts["holder"] = [
                f"{p}|{node}|{role}"
                for p, node, role in zip(
                    self["person_key"], self["node_id"], self["role"], strict=True
                )
            ]
        return got


class Segments(list[Segment]):
    """The run's segments, as :func:`build_segments` returns them: a list that keeps the
    columns it was built from (:func:`columns_of`), so no phase reads a field segment by
    segment. Any other list of segments works the same, transposed when first read."""

    def __init__(self, segments: Sequence[Segment], columns: SegmentColumns | None = None):
        super().__init__(segments)
        self.columns = columns


def columns_of(segments: Sequence[Segment]) -> SegmentColumns:
    """Return the columns of ``segments``: kept by :func:`build_segments`, or made now."""
    got = segments.columns if isinstance(segments, Segments) else None
    if got is not None and len(got.segments) == len(segments):
        return got
    return SegmentColumns(segments)


def object_texts(values: Sequence[object]) -> list[str]:
    """Return ``str`` of every value, each distinct object's text made once (by identity:
    ``build_segments`` shares its Decimals between segments; 0.5 and 0.50 are kept apart)."""
    ids = list(map(id, values))
    texts = {i: str(v) for i, v in dict(zip(ids, values, strict=True)).items()}
    return list(map(texts.__getitem__, ids))


def _person_keys(a_ids: pd.Series, t_ids: pd.Series) -> tuple[IntArray, npt.NDArray[Any]]:
    """Return the person ids of both columns coded by their text in Python's string order
    (equal texts one code), and the first column's texts.

    The ids are factorized as they are and only the distinct ones written and sorted (NumPy
    orders its fixed-width strings by code point, as Python orders ``str``).
    """
    codes, uniques = pd.factorize(pd.concat([a_ids, t_ids], ignore_index=True))
    texts = np.asarray(uniques).astype(str)
    # NumPy's fixed-width texts drop a final NUL: ids that hold one are written by Python
    if uniques.dtype == object and "\x00" in "".join(map(str, uniques.tolist())):
        texts = np.array(list(map(str, uniques.tolist())), dtype=object)
    order = np.argsort(texts, kind="stable")
    ordered = texts[order]
    fresh = np.ones(len(ordered), dtype=bool)
    fresh[1:] = ordered[1:] != ordered[:-1]
    rank = np.empty(len(texts), dtype=np.int64)
    rank[order] = np.cumsum(fresh) - 1
    key_code = rank[codes]
    return key_code, texts.astype(object)[codes[: len(a_ids)]]


def build_segments(inputs: Inputs) -> Segments:
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
    # assignments x timeline on the person, column by column: the person keys coded in
    # Python's string order (the segments' order), the join by a search in the coded keys.
    na = len(a)
    key_code, a_key = _person_keys(a["person_id"], t["person_id"])
    a_code, t_code = key_code[:na], key_code[na:]
    t_order = np.argsort(t_code, kind="stable")
    t_sorted = t_code[t_order]
    lo = np.searchsorted(t_sorted, a_code, side="left")
    width = np.searchsorted(t_sorted, a_code, side="right") - lo
    left = np.repeat(np.arange(na, dtype=np.int64), width)
    offsets = np.arange(len(left), dtype=np.int64) - np.repeat(np.cumsum(width) - width, width)
    right = t_order[np.repeat(lo, width) + offsets]
    t_role = t["role"].astype(str).to_numpy(dtype=object)[right]
    keep = np.ones(len(left), dtype=bool)
    if "role" in a.columns:  # an assignment for one role only: that role's stretches
        a_role = a["role"].to_numpy(dtype=object)[left]
        keep = pd.isna(a_role) | (a_role.astype(str) == t_role)
    start = np.maximum(np.maximum(ms.to_days(a["start"])[left], ms.to_days(t["start"])[right]), p0)
    end = np.minimum(np.minimum(ms.to_days(a["end"])[left], ms.to_days(t["end"])[right]), p1)
    keep &= start < end
    left, right, start, end, t_role = left[keep], right[keep], start[keep], end[keep], t_role[keep]
    plan_all = a["plan_id"].astype(str).to_numpy(dtype=object)
    plan_rank, _ = pd.factorize(plan_all, sort=True)
    sort = np.lexsort((start, plan_rank[left], a_code[left]))  # stable: ties keep join order
    left, right, t_role = left[sort], right[sort], t_role[sort]
    starts_a = start[sort].astype(np.int64)
    ends_a = end[sort].astype(np.int64)
    keys_a = a_key[left]
    plans_a = plan_all[left]
    j = {
        "person": a["person_id"].to_numpy()[left],
        "key": keys_a,
        "plan_id": plans_a,
        "node_id": t["node_id"].astype(str).to_numpy(dtype=object)[right],
        "role": t_role,
        "allocation": t["allocation"].to_numpy()[right],
        "ti": a["target_incentive_e4"].to_numpy()[left],
        "hire": a["hire_date"].to_numpy()[left] if "hire_date" in a.columns else None,
    }
    unknown = sorted(set(plans_a.tolist()) - set(inputs.plans))
    if unknown:
        raise InputError(f"assignments: unknown plan(s) {', '.join(unknown)}")
    # A segment's index among its (person, plan)'s, and overlaps, column-wise.
    same = np.zeros(len(keys_a), dtype=bool)
    if len(keys_a) > 1:
        same[1:] = (keys_a[1:] == keys_a[:-1]) & (plans_a[1:] == plans_a[:-1])
    overlapping = np.flatnonzero(same[1:] & (starts_a[1:] < ends_a[:-1])) + 1
    if len(overlapping):
        i = int(overlapping[0])
        raise InputError(
            f"timeline: person {keys_a[i]} has overlapping segments on plan {plans_a[i]} "
            f"from {from_day_number(int(starts_a[i]))}"
        )
    positions = np.arange(len(keys_a), dtype=np.int64)
    group_start = np.maximum.accumulate(np.where(same, 0, positions)) if len(keys_a) else positions
    indexes = (positions - group_start).tolist()
    period_days = period.days
    cols = [j[c].tolist() for c in ("person", "key", "plan_id", "node_id", "role", "allocation")]
    persons, keys, plan_ids, nodes, roles, allocs = cols
    starts, ends = starts_a.tolist(), ends_a.tolist()
    allocations: dict[tuple[type, str], Decimal] = {}
    prorations: dict[tuple[str, int, str, tuple[int, int]], tuple[Decimal, Decimal, Decimal]] = {}
    n = len(keys)
    quota_factors: list[Decimal] = [ONE] * n
    ramp_periods: list[int | None] = [None] * n
    by_row = {  # plans whose figures need the row's dates or hire date
        pid for pid, p in inputs.plans.items() if p.proration.startswith("months") or p.ramp
    }
    # The figures depend on (plan, days, allocation text) only, or on the row's dates for a
    # months policy: worked out once per distinct combination, each shared by its rows.
    days_a = ends_a - starts_a
    alloc_texts = list(map(str, allocs))
    alloc_keys: list[str] = alloc_texts
    if len(set(map(type, allocs))) > 1:  # the type too: the same text of two types differs
        alloc_keys = [f"{type(v).__name__}:{t}" for v, t in zip(allocs, alloc_texts, strict=True)]
    alloc_codes, alloc_uniques = pd.factorize(np.array(alloc_keys, dtype=object))
    plan_codes, plan_uniques = pd.factorize(plans_a)
    months_plans = {
        i for i, pid in enumerate(plan_uniques) if inputs.plans[pid].proration.startswith("months")
    }
    row_codes = (plan_codes.astype(np.int64) * (int(days_a.max(initial=0)) + 1) + days_a) * max(
        len(alloc_uniques), 1
    ) + alloc_codes
    if months_plans:  # a months policy reads each row's dates: a combination of its own
        by_months = np.isin(plan_codes, list(months_plans))
        row_codes = np.where(by_months, -1 - np.arange(n, dtype=np.int64), row_codes)
    combo_of, combo_first = pd.factorize(row_codes)
    firsts = np.full(len(combo_first), n, dtype=np.int64)
    np.minimum.at(firsts, combo_of, np.arange(n, dtype=np.int64))
    combo_alloc: list[Decimal] = []
    combo_num: list[Decimal] = []
    combo_den: list[Decimal] = []
    combo_factor: list[Decimal] = []
    for i in firsts.tolist():
        key, plan_id, start, end, alloc = keys[i], plan_ids[i], starts[i], ends[i], allocs[i]
        alloc_key = (type(alloc), alloc_texts[i])  # the text: 0.5 and 0.50 render differently
        allocation = allocations.get(alloc_key)
        if allocation is None:
            allocation = allocations[alloc_key] = to_decimal(alloc)
            if not ZERO <= allocation <= ONE:
                raise InputError(f"timeline: person {key} allocation {allocation} not in [0, 1]")
        combo_alloc.append(allocation)
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
        combo_num.append(pr[0])
        combo_den.append(pr[1])
        combo_factor.append(pr[2])
    combos = combo_of.tolist()
    alloc_col = list(map(combo_alloc.__getitem__, combos))
    num_col, den_col, factor_col = (
        list(map(column.__getitem__, combos)) for column in (combo_num, combo_den, combo_factor)
    )
    if by_row:
        hires = j["hire"].tolist() if j["hire"] is not None else [None] * n
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
    ti = j["ti"]
    ti_e4 = ti.tolist() if ti.dtype.kind in "iu" else [int(x) for x in ti.tolist()]
    fields = (
        list(range(n)),
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
    )  # positional: the field order of Segment
    segments = list(map(tuple.__new__, repeat(Segment), zip(*fields, strict=True)))
    columns = SegmentColumns(segments, dict(zip(Segment._fields, fields, strict=True)))
    return Segments(segments, columns)


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
