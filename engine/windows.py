"""Windows across periods: which earlier periods a measure counts, and settlement to date.

Contract:

* A measure's :class:`~engine.spec.MeasureWindow` turns into a :class:`Span` of days with
  :func:`window_span`: ``period`` is the period itself; ``quarter_to_date`` and
  ``year_to_date`` start on the first day of the quarter / year holding the period - the
  tenant's fiscal year (``Inputs.fiscal_year_start_month``) or the plan's own
  (``plan_year_start_month``); ``trailing_n_periods`` starts N - 1 payout periods before this
  one. A window reaching back before ``Inputs.history_start`` starts there instead (it is
  shorter than its rule, and the trace says so).
* :func:`history_needed` answers "which earlier periods, which tables" for a payout run
  before it fetches anything: per plan, the earlier periods (on the plan's payout frequency)
  and whether it needs their credits (``history_credits``, for windowed measures), their
  payouts (``history_payouts``, for components settled to date) and the ``timeline`` over
  them (a node's windowed figure counts the people who sat under it on each credit's date).
* :func:`check_history` refuses inputs that lack a period a window needs, with one message
  naming the plan and the path of the window in it.
* :func:`window_sums` works out windowed sums and counts per segment (exact int64, vectorized):
  every credit of the person dated from the window's first day to the segment's end.
* :func:`paid_to_date` sums what the window's earlier periods paid each (person, plan,
  component) settled to date; the line pays earned to date minus it, so a year's lines add
  up to the year's earned figure exactly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from engine.measures import credit_weights, filter_mask, node_totals
from engine.money import ZERO, from_e4
from engine.periods import MONTHS_PER_PERIOD, add_months, day_number, period_boundaries
from engine.spec import WINDOWED_AGGREGATES, Component, Filter, MeasureWindow, Plan
from engine.types import HISTORY_PAYOUT_COLUMNS, Inputs, Period, Step

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
_SHIFT: Final = np.int64(1 << 22)  # more days than any calendar date: person * _SHIFT + day

MONTH_NAMES: Final = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


class HistoryError(ValueError):
    """Raised when the inputs lack an earlier period a window needs, or name an unknown one."""


@dataclass(frozen=True, slots=True)
class Span:
    """The days a window counts, ``[start, end)``, and the earlier payout periods in it."""

    over: str
    start: dt.date
    end: dt.date
    earlier: tuple[tuple[dt.date, dt.date], ...]
    """The earlier payout periods of the window, oldest first (this period excluded)."""
    periods: int | None = None
    """trailing_n_periods: N as the plan states it."""
    year_start_month: int | None = None
    """quarter / year to date: the month the year starts (fiscal or the plan's)."""
    year: str = "fiscal"
    clipped: bool = False
    """The window would reach before the start of history and starts there instead."""


@dataclass(frozen=True, slots=True)
class HistoryNeed:
    """What one plan needs of earlier periods: which periods and which tables."""

    plan_id: str
    start: dt.date
    end: dt.date
    periods: tuple[tuple[dt.date, dt.date], ...]
    """Each earlier payout period ``[start, end)`` on the plan's frequency, oldest first."""
    tables: tuple[str, ...]
    """``history_credits`` (windowed measures), ``history_payouts`` (settled to date) and
    ``timeline`` (a node's windowed figure: who sat under it on each credit's date)."""
    reasons: tuple[str, ...]
    """The paths in the plan that need them, e.g. ``measures[0].window (year_to_date)``."""


def year_start_month(window: MeasureWindow, plan: Plan, fiscal_start: int) -> int:
    """Return the first month of the year a quarter- or year-to-date window counts in."""
    if window.year == "plan" and plan.plan_year_start_month is not None:
        return plan.plan_year_start_month
    return fiscal_start


def window_span(
    window: MeasureWindow,
    plan: Plan,
    period: Period,
    fiscal_start: int = 1,
    history_start: dt.date | None = None,
) -> Span:
    """Return the days ``window`` counts for ``period`` and the earlier periods they cover."""
    month: int | None = None
    if window.over == "quarter_to_date":
        month = year_start_month(window, plan, fiscal_start)
        start = period_boundaries("quarterly", period.start, month)[0]
    elif window.over == "year_to_date":
        month = year_start_month(window, plan, fiscal_start)
        start = period_boundaries("annual", period.start, month)[0]
    elif window.over == "trailing_n_periods":
        size = MONTHS_PER_PERIOD[plan.payout_frequency]
        start = add_months(period.start, -((window.periods or 1) - 1) * size)
    else:
        start = period.start
    start = min(start, period.start)
    clipped = False
    if history_start is not None and start < history_start:
        start, clipped = min(history_start, period.start), True
    return Span(
        window.over,
        start,
        period.end,
        _earlier_periods(start, period.start, MONTHS_PER_PERIOD[plan.payout_frequency]),
        window.periods,
        month,
        window.year,
        clipped,
    )


def _earlier_periods(
    start: dt.date, until: dt.date, size: int
) -> tuple[tuple[dt.date, dt.date], ...]:
    """Return the payout periods of ``size`` months from ``start`` to ``until``, newest aligned."""
    out: list[tuple[dt.date, dt.date]] = []
    end = until
    while end > start:
        begin = max(add_months(end, -size), start)
        out.append((begin, end))
        end = begin
    return tuple(reversed(out))


def settle_window(plan: Plan, c: Component) -> MeasureWindow | None:
    """Return the window a component settled to date reads (its measure's, or its gate's)."""
    if c.settle == "period":
        return None
    measure_id = c.gate.measure if c.type == "fixed_pay" and c.gate is not None else c.measure
    m = plan.measures_by_id.get(measure_id or "")
    return m.window if m is not None else MeasureWindow(c.settle)


def plan_windows(plan: Plan) -> list[tuple[str, MeasureWindow, str]]:
    """Return (path, window, table) of every window of ``plan`` that reaches back in time."""
    out: list[tuple[str, MeasureWindow, str]] = []
    for i, m in enumerate(plan.measures):
        if m.window.over != "period":
            out.append((f"measures[{i}].window", m.window, "history_credits"))
    for i, c in enumerate(plan.components):
        window = settle_window(plan, c)
        if window is not None:
            out.append((f"components[{i}].settle", window, "history_payouts"))
    return out


def _reads_nodes(plan: Plan) -> bool:
    """Return whether a component reads a node's windowed measure (needs the timeline then)."""
    windowed = {m.id for m in plan.measures if m.window.over != "period"}
    for c in plan.components:
        reads = [(c.gate.scope, c.gate.measure)] if c.gate is not None else []
        reads += [(m.scope, m.measure) for m in (*c.modifiers, *plan.modifiers)]
        reads += [(p.scope, p.measure) for p in c.parts]
        if c.rate_table is not None and c.rate_table.tier_by is not None:
            reads.append((c.rate_table.tier_by.scope, c.rate_table.tier_by.measure))
        if c.type == "team_pool":
            reads.append(("node", c.measure or ""))
        if any(scope == "node" and mid in windowed for scope, mid in reads):
            return True
    return False


def history_needed(
    plans: Mapping[str, Plan],
    period: Period,
    fiscal_year_start_month: int = 1,
    history_start: dt.date | None = None,
) -> tuple[HistoryNeed, ...]:
    """Return, per plan that has windows reaching back, the earlier periods and tables needed.

    A payout run calls it before fetching: it loads the credits dated in ``periods`` for
    ``history_credits`` and what those periods paid for ``history_payouts``, and hands them
    over as ``Inputs.history_*`` with ``history_periods`` set to the periods it loaded.
    """
    out = []
    for plan_id in sorted(plans):
        plan = plans[plan_id]
        spans = [
            (path, window_span(w, plan, period, fiscal_year_start_month, history_start), table)
            for path, w, table in plan_windows(plan)
        ]
        spans = [(path, s, table) for path, s, table in spans if s.earlier]
        if not spans:
            continue
        start = min(s.start for _, s, _ in spans)
        out.append(
            HistoryNeed(
                plan_id=plan_id,
                start=start,
                end=period.start,
                periods=_earlier_periods(
                    start, period.start, MONTHS_PER_PERIOD[plan.payout_frequency]
                ),
                tables=tuple(
                    sorted(
                        {table for _, _, table in spans}
                        | ({"timeline"} if _reads_nodes(plan) else set())
                    )
                ),
                reasons=tuple(f"{path} ({s.over})" for path, s, _ in spans),
            )
        )
    return tuple(out)


def _gaps(start: dt.date, end: dt.date, have: Sequence[Period]) -> list[tuple[dt.date, dt.date]]:
    """Return the parts of ``[start, end)`` that no period of ``have`` covers."""
    gaps = []
    cursor = start
    for p in sorted(have, key=lambda p: (p.start, p.end)):
        if p.end <= cursor:
            continue
        if p.start >= end:
            break
        if p.start > cursor:
            gaps.append((cursor, p.start))
        cursor = max(cursor, p.end)
        if cursor >= end:
            break
    if cursor < end:
        gaps.append((cursor, end))
    return gaps


def _day_range(start: dt.date, end: dt.date) -> str:
    """Return a half-open range for reading: 2025-01-01 to 2025-02-28."""
    return f"{start} to {end - dt.timedelta(days=1)}"


def check_history(inputs: Inputs) -> None:
    """Refuse inputs that lack an earlier period a window needs (one message, with its path)."""
    known = {p.id for p in inputs.history_periods}
    payouts = inputs.history_payouts
    if len(payouts):
        missing = [c for c in HISTORY_PAYOUT_COLUMNS if c not in payouts.columns]
        if missing:
            raise HistoryError(f"history_payouts: missing column(s) {', '.join(missing)}")
        unknown = sorted(set(payouts["period_id"].astype(str)) - known)
        if unknown:
            raise HistoryError(
                f"history_payouts: period(s) {', '.join(unknown)} not in history_periods"
            )
    carried = ", ".join(p.id for p in inputs.history_periods) or "none"
    for plan_id in sorted(inputs.plans):
        plan = inputs.plans[plan_id]
        for path, window, table in plan_windows(plan):
            span = window_span(
                window,
                plan,
                inputs.period,
                inputs.fiscal_year_start_month,
                inputs.history_start,
            )
            gaps = _gaps(span.start, inputs.period.start, inputs.history_periods)
            if gaps:
                lacking = ", ".join(_day_range(a, b) for a, b in gaps)
                raise HistoryError(
                    f"plan {plan_id}: {path} ({window.over}) needs the earlier periods "
                    f"{_day_range(span.start, inputs.period.start)} ({table}), but the inputs "
                    f"lack {lacking} (history_periods: {carried})"
                )


@dataclass(frozen=True)
class WindowSums:
    """A windowed measure per segment: sum (e4) and count, the part of them dated before the
    period (what a forecast's pace does not scale), and the (credit row, segment) pairs."""

    sums: IntArray
    counts: IntArray
    earlier_sums: IntArray
    earlier_counts: IntArray
    rows: IntArray
    segs: IntArray


def window_sums(
    seg_person: IntArray,
    seg_end: IntArray,
    start_day: int,
    period_day: int,
    credit_person: IntArray,
    credit_day: IntArray,
    amounts: IntArray,
    keep: BoolArray,
    weights: IntArray | None = None,
) -> WindowSums:
    """Return per segment the window's sum (e4) and count, and the (credit row, segment) pairs.

    A segment counts every kept credit of its person dated from ``start_day`` to the
    segment's end (exclusive); the part before ``period_day`` is reported apart. ``weights``
    is how many credits each row stands for (:func:`engine.measures.credit_weights`: a
    roll-up total's ``credits_n``; 1 each when omitted) - the count sums them. Pairs are
    sorted by (segment, credit row).
    """
    sel = np.flatnonzero(keep & (credit_day >= start_day) & (credit_person >= 0)).astype(np.int64)
    keys = credit_person[sel] * _SHIFT + credit_day[sel]
    order = np.argsort(keys, kind="stable")
    sel, keys = sel[order], keys[order]
    cum = np.concatenate([np.zeros(1, dtype=np.int64), np.cumsum(amounts[sel], dtype=np.int64)])
    lo = np.searchsorted(keys, seg_person * _SHIFT + start_day, side="left")
    hi = np.searchsorted(keys, seg_person * _SHIFT + seg_end, side="left")
    mid = np.minimum(np.searchsorted(keys, seg_person * _SHIFT + period_day, side="left"), hi)
    mid = np.maximum(mid, lo)
    sums = (cum[hi] - cum[lo]).astype(np.int64)
    n_rows = (hi - lo).astype(np.int64)
    if weights is None:
        counts, earlier_counts = n_rows, (mid - lo).astype(np.int64)
    else:
        cw = np.concatenate([np.zeros(1, dtype=np.int64), np.cumsum(weights[sel], dtype=np.int64)])
        counts = (cw[hi] - cw[lo]).astype(np.int64)
        earlier_counts = (cw[mid] - cw[lo]).astype(np.int64)
    total = int(n_rows.sum())
    segs = np.repeat(np.arange(len(seg_end), dtype=np.int64), n_rows)
    offsets = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(n_rows) - n_rows, n_rows)
    rows = sel[np.repeat(lo, n_rows) + offsets]
    pick = np.lexsort((rows, segs))
    earlier = ((cum[mid] - cum[lo]).astype(np.int64), earlier_counts)
    return WindowSums(sums, counts, *earlier, rows[pick], segs[pick])


def paid_to_date(inputs: Inputs) -> dict[tuple[str, str, str], tuple[Decimal, tuple[str, ...]]]:
    """Return what the window's earlier periods paid each (person, plan, component) settled
    to date, and those periods' ids."""
    out: dict[tuple[str, str, str], tuple[Decimal, tuple[str, ...]]] = {}
    frame = inputs.history_payouts
    if len(frame) == 0:
        return out
    starts = {p.id: p.start for p in inputs.history_periods}
    spans: dict[tuple[str, str], Span] = {}
    for plan_id, plan in inputs.plans.items():
        for c in plan.components:
            window = settle_window(plan, c)
            if window is not None:
                spans[(plan_id, c.id)] = window_span(
                    window,
                    plan,
                    inputs.period,
                    inputs.fiscal_year_start_month,
                    inputs.history_start,
                )
    sums: dict[tuple[str, str, str], tuple[Decimal, set[str]]] = {}
    for person, plan_id, comp, period_id, amount in zip(
        frame["person_id"].astype(str).tolist(),
        frame["plan_id"].astype(str).tolist(),
        frame["component_id"].astype(str).tolist(),
        frame["period_id"].astype(str).tolist(),
        frame["amount_e4"].tolist(),
        strict=True,
    ):
        span = spans.get((plan_id, comp))
        day = starts.get(period_id)
        if span is None or day is None or not span.start <= day < inputs.period.start:
            continue
        total, ids = sums.get((person, plan_id, comp), (ZERO, set()))
        sums[(person, plan_id, comp)] = (total + from_e4(int(amount)), ids | {period_id})
    for key, (total, ids) in sums.items():
        out[key] = (total, tuple(sorted(ids, key=lambda i: (starts[i], i))))
    return out


_OVER_WORDS: Final = {
    "quarter_to_date": "the quarter to date",
    "year_to_date": "the year to date",
}


def span_words(span: Span) -> str:
    """Return what a window counts, in words: ``the year to date (fiscal year from February)``."""
    if span.over == "trailing_n_periods":
        head = f"the trailing {span.periods} periods"
    else:
        head = _OVER_WORDS.get(span.over, "this period")
    if span.year_start_month is not None:
        which = "plan" if span.year == "plan" else "fiscal"
        head += f" ({which} year from {MONTH_NAMES[span.year_start_month - 1]})"
    n = len(span.earlier) + 1
    text = f"{head}, {_day_range(span.start, span.end)}: {n} period{'s' if n > 1 else ''}"
    if span.clipped:
        text += f", shortened: history starts on {span.start}"
    return text


def window_step(measure_id: str, span: Span) -> tuple[Step, str]:
    """Return a windowed measure's trace step and what it counts in words."""
    words = span_words(span)
    return Step(f"{measure_id}_window", f"{span.start}..{span.end}", words), words


def with_history(
    inputs: Inputs, credits: pd.DataFrame, credit_day: IntArray, first_day: int
) -> tuple[pd.DataFrame, IntArray]:
    """Return the period's credits followed by the history credits from ``first_day``, and
    their day numbers (the period's rows keep their positions)."""
    history = history_credit_frame(inputs, first_day)
    if not len(history):
        return credits, credit_day
    days = pd.to_datetime(history["date"]).to_numpy().astype("datetime64[D]").astype(np.int64)
    return pd.concat([credits, history], ignore_index=True), np.concatenate([credit_day, days])


def history_credit_frame(inputs: Inputs, first_day: int) -> pd.DataFrame:
    """Return the history credits dated from ``first_day`` to the start of the period."""
    frame = inputs.history_credits
    if len(frame) == 0:
        return frame
    days = pd.to_datetime(frame["date"]).to_numpy().astype("datetime64[D]").astype(np.int64)
    inside = (days >= first_day) & (days < day_number(inputs.period.start))
    return frame[inside] if not inside.all() else frame


# --------------------------------------------------------------------------- phase hooks


@dataclass(frozen=True)
class Windowed:
    """What the measure phase takes from the windows: sums, counts and contributions."""

    arrays: dict[tuple[str, str], tuple[IntArray, IntArray]]
    """(plan, measure) -> (sum e4, count) per segment id."""
    earlier: dict[tuple[str, str], tuple[IntArray, IntArray]]
    """(plan, measure) -> the part of (sum e4, count) dated before the period."""
    parts: list[tuple[IntArray, IntArray, str]]
    """(credit row, segment id, measure id) contributions, rows into ``credits``."""
    credits: pd.DataFrame
    """The period's credits followed by the history credits the windows count."""
    amounts: IntArray


def measure_windows(
    inputs: Inputs,
    seg_plan: Sequence[str],
    seg_people: Sequence[object],
    seg_end: IntArray,
    credits: pd.DataFrame,
    credit_day: IntArray,
    amounts: IntArray,
) -> Windowed | None:
    """Return the windowed measures' figures per segment, or None when no plan has a window.

    ``seg_*`` describe the segments by id (plan, person id, end day); ``credits`` are the
    period's credits with their days and amounts.
    """
    wanted = [
        (plan_id, m)
        for plan_id in sorted(inputs.plans)
        for m in inputs.plans[plan_id].measures
        if m.window.over != "period"
    ]
    if not wanted:
        return None
    spans = {
        (plan_id, m.id): window_span(
            m.window,
            inputs.plans[plan_id],
            inputs.period,
            inputs.fiscal_year_start_month,
            inputs.history_start,
        )
        for plan_id, m in wanted
    }
    first = min(day_number(s.start) for s in spans.values())
    combined, days = with_history(inputs, credits, credit_day, first)
    money = (
        combined["amount_e4"].to_numpy(dtype=np.int64) if len(combined) > len(credits) else amounts
    )
    codes, uniques = pd.factorize(np.array(list(seg_people), dtype=object))
    persons = pd.Index(list(uniques))
    seg_person = codes.astype(np.int64)
    who = (
        persons.get_indexer(pd.Index(combined["person_id"])).astype(np.int64)
        if len(combined)
        else np.zeros(0, dtype=np.int64)
    )
    plans = np.asarray(seg_plan, dtype=object)
    weights = credit_weights(combined) if "credits_n" in combined.columns else None
    arrays: dict[tuple[str, str], tuple[IntArray, IntArray]] = {}
    earlier: dict[tuple[str, str], tuple[IntArray, IntArray]] = {}
    parts: list[tuple[IntArray, IntArray, str]] = []
    masks: dict[object, BoolArray] = {}
    for plan_id, m in wanted:
        ids = np.flatnonzero(plans == plan_id).astype(np.int64)
        if m.filter not in masks:
            masks[m.filter] = filter_mask(combined, m.filter)
        start = day_number(spans[(plan_id, m.id)].start)
        got = window_sums(
            seg_person[ids],
            seg_end[ids],
            start,
            day_number(inputs.period.start),
            who,
            days,
            money,
            masks[m.filter],
            weights,
        )
        figures = [np.zeros(len(seg_plan), dtype=np.int64) for _ in range(4)]
        for full, part in zip(
            figures,
            (got.sums, got.counts, got.earlier_sums, got.earlier_counts),
            strict=True,
        ):
            full[ids] = part
        arrays[(plan_id, m.id)] = (figures[0], figures[1])
        earlier[(plan_id, m.id)] = (figures[2], figures[3])
        parts.append((got.rows, ids[got.segs], m.id))
    return Windowed(arrays, earlier, parts, combined, money)


def plan_window_steps(
    inputs: Inputs, plan: Plan, end: dt.date | None = None
) -> dict[str, tuple[Step, str]]:
    """Return each windowed measure of ``plan``: its trace step and words.

    ``end`` is the end of the segment the payee's own measure was counted to (the period's by
    default); ``@<measure id>`` has the same to the period's end (another holder's figure).
    """
    out = {}
    for m in plan.measures:
        if m.window.over != "period":
            span = window_span(
                m.window, plan, inputs.period, inputs.fiscal_year_start_month, inputs.history_start
            )
            out[f"@{m.id}"] = window_step(m.id, span)
            out[m.id] = window_step(m.id, replace(span, end=end) if end is not None else span)
    return out


class ToDate:
    """Settlement to date: a line pays earned to date minus what was paid to date.

    Paid to date is what the window's earlier periods paid (``history_payouts``) plus, on the
    period's first segment, what this period paid already (``prior_payouts``); a later segment
    of the same period has the earlier segment's earned figure as paid (its line paid it).
    """

    def __init__(self, inputs: Inputs) -> None:
        """Index what earlier periods paid."""
        self._paid = paid_to_date(inputs)
        self._last: dict[tuple[str, str, str], Decimal] = {}

    def paid_before(
        self, person: str, plan_id: str, c: Component, segment: int, prior: Decimal
    ) -> tuple[Decimal, tuple[str, ...]]:
        """Return what was paid before this line, and the earlier periods it counts."""
        key = (person, plan_id, c.id)
        total, periods = self._paid.get(key, (ZERO, ()))
        if segment > 0 and key in self._last:
            return self._last[key], (*periods, "earlier in this period")
        return total + prior, periods

    def record(self, person: str, plan_id: str, c: Component, earned: Decimal) -> None:
        """Remember a line's earned to date (a later segment has it as paid)."""
        self._last[(person, plan_id, c.id)] = earned


def to_date_words(
    c: Component, earned: str, paid: str, payable: str, periods: Sequence[str]
) -> str:
    """Return the settlement sentence of a line settled to date."""
    over = "year" if c.settle == "year_to_date" else "quarter"
    where = f" in {', '.join(periods)}" if periods else ""
    return (
        f" Earned this {over} to date {earned}; paid to date {paid}{where}, "
        f"so {payable} is payable now."
    )


def holder_windows(
    inputs: Inputs,
    credits: pd.DataFrame,
    credit_day: IntArray,
    requests: Sequence[tuple[str, str, str, str]],
) -> dict[tuple[str, str, str, str], tuple[int, int]]:
    """Return (sum e4, count) of other holders' windowed measures, to the end of the period.

    ``requests`` are the reduce phase's (scope, holder, plan, measure) reads; the answer is
    keyed by (scope, holder, plan, windowed measure id). A node's figure counts the credits of
    the people at or below it on each credit's date (the timeline must cover the window),
    roll-ups excluded, as for the period.
    """
    wanted: dict[tuple[str, str, str, str], tuple[Filter, int]] = {}
    for scope, holder, plan_id, _ in requests:
        plan = inputs.plans[plan_id]
        for m in plan.measures:
            if m.window.over != "period" and m.aggregate in WINDOWED_AGGREGATES:
                span = window_span(
                    m.window,
                    plan,
                    inputs.period,
                    inputs.fiscal_year_start_month,
                    inputs.history_start,
                )
                wanted[(scope, holder, plan_id, m.id)] = (m.filter, day_number(span.start))
    if not wanted:
        return {}
    first = min(start for _, start in wanted.values())
    combined, days = with_history(inputs, credits, credit_day, first)
    people = combined["person_id"].astype(str).to_numpy() if len(combined) else np.array([])
    money = combined["amount_e4"].to_numpy(dtype=np.int64) if len(combined) else np.zeros(0)
    weights = credit_weights(combined)  # a roll-up total counts the credits behind it
    out: dict[tuple[str, str, str, str], tuple[int, int]] = {}
    for start in sorted({start for _, start in wanted.values()}):
        keep = days >= start
        sub, sub_days = combined[keep], days[keep]
        items = [(k, flt) for k, (flt, s) in wanted.items() if s == start]
        node_requests = sorted({(k[1], flt) for k, flt in items if k[0] == "node"}, key=repr)
        totals = node_totals(sub, sub_days, inputs.timeline, inputs.nodes, node_requests)
        for key, flt in items:
            if key[0] == "node":
                out[key] = totals[(key[1], flt)]
            else:
                mask = filter_mask(sub, flt) & (people[keep] == key[1])
                out[key] = (int(money[keep][mask].sum()), int(weights[keep][mask].sum()))
    return out
