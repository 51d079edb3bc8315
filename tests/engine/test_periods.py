"""Period arithmetic on the tenant's fiscal calendar."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import validate_plan
from engine.periods import (
    add_months,
    fiscal_months,
    months_between,
    period_boundaries,
    periods_since_hire,
)
from engine.rules import months_counted

D = dt.date


def test_a_january_hire_is_in_the_second_fiscal_quarter_on_1_february() -> None:
    assert periods_since_hire(D(2026, 1, 15), D(2026, 2, 1), "quarterly", 2) == 2
    assert periods_since_hire(D(2026, 1, 15), D(2026, 2, 1), "quarterly") == 1  # calendar year
    assert periods_since_hire(D(2026, 1, 15), D(2025, 11, 1), "quarterly", 2) == 1


@pytest.mark.parametrize(
    ("frequency", "anchor", "start_month", "expected"),
    [
        ("quarterly", D(2026, 1, 15), 2, (D(2025, 11, 1), D(2026, 2, 1))),
        ("quarterly", D(2026, 2, 1), 2, (D(2026, 2, 1), D(2026, 5, 1))),
        ("annual", D(2026, 1, 31), 2, (D(2025, 2, 1), D(2026, 2, 1))),
        ("semiannual", D(2026, 12, 1), 7, (D(2026, 7, 1), D(2027, 1, 1))),
        ("quarterly", D(2026, 12, 31), 1, (D(2026, 10, 1), D(2027, 1, 1))),
        ("monthly", D(2026, 12, 31), 4, (D(2026, 12, 1), D(2027, 1, 1))),
    ],
)
def test_period_boundaries_follow_the_fiscal_year(
    frequency: str, anchor: dt.date, start_month: int, expected: tuple[dt.date, dt.date]
) -> None:
    assert period_boundaries(frequency, anchor, start_month) == expected


def test_every_month_starts_a_period_of_the_same_length_for_every_fiscal_start() -> None:
    for start_month in range(1, 13):
        for frequency, months in (("quarterly", 3), ("semiannual", 6), ("annual", 12)):
            day = D(2025, 1, 1)
            while day < D(2027, 1, 1):
                start, end = period_boundaries(frequency, day, start_month)
                assert start <= day < end
                assert (end.year * 12 + end.month) - (start.year * 12 + start.month) == months
                assert (start.month - start_month) % months == 0
                day += dt.timedelta(days=17)


def test_a_fiscal_start_outside_1_to_12_is_refused() -> None:
    with pytest.raises(ValueError, match=r"1\.\.12"):
        periods_since_hire(D(2026, 1, 1), D(2026, 2, 1), "quarterly", 13)


@pytest.mark.parametrize(
    ("start", "end", "months"),
    [
        (D(2024, 10, 15), D(2025, 1, 14), 2),
        (D(2024, 10, 15), D(2025, 1, 15), 3),
        (D(2024, 1, 31), D(2024, 2, 28), 0),
        (D(2024, 1, 31), D(2024, 2, 29), 1),  # 31 Jan + 1 month = 29 Feb in a leap year
        (D(2025, 1, 31), D(2025, 2, 28), 1),
        (D(2024, 7, 31), D(2025, 1, 30), 5),
        (D(2025, 3, 1), D(2025, 3, 1), 0),
    ],
)
def test_months_between_counts_whole_calendar_months(
    start: dt.date, end: dt.date, months: int
) -> None:
    assert months_between(start, end) == months
    assert add_months(start, months) <= end


def test_add_months_keeps_to_the_end_of_a_short_month() -> None:
    assert add_months(D(2025, 1, 31), 1) == D(2025, 2, 28)
    assert add_months(D(2025, 1, 31), 13) == D(2026, 2, 28)
    assert add_months(D(2025, 3, 31), -1) == D(2025, 2, 28)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(1, 89), max_size=5, unique=True).map(sorted),
    st.integers(1, 28),
)
def test_months_counted_over_a_partition_of_the_period_add_up(cuts: list[int], mid: int) -> None:
    start, end = D(2025, 1, 1), D(2025, 4, 1)
    bounds = [start, *(start + dt.timedelta(days=c) for c in cuts), end]
    parts = [months_counted(a, b, mid) for a, b in itertools.pairwise(bounds)]
    assert sum(parts) == months_counted(start, end, mid) == 3


def test_months_counted_follows_the_mid_month_rule() -> None:
    assert months_counted(D(2025, 2, 15), D(2025, 4, 1), 15) == 2
    assert months_counted(D(2025, 2, 16), D(2025, 4, 1), 15) == 1
    assert months_counted(D(2025, 2, 1), D(2025, 2, 15), 15) == 0  # the 15th is not covered


@pytest.mark.parametrize(
    ("proration", "message"),
    [
        ({"policy": "days", "mid_month_day": 10}, "only applies to the months policies"),
        ({"policy": "months", "mid_month_day": 31}, "must be a day from 1 to 28"),
    ],
)
def test_a_bad_mid_month_rule_names_its_path(proration: dict[str, Any], message: str) -> None:
    plan = {
        "version": 1,
        "id": "p",
        "currency": "USD",
        "proration": proration,
        "measures": [{"id": "b", "aggregate": "sum"}],
        "components": [{"id": "c", "type": "commission", "measure": "b", "rate": 1}],
    }
    assert validate_plan(plan) == [f"proration.mid_month_day: {message}"]


@settings(max_examples=100, deadline=None)
@given(
    st.integers(1, 12),
    st.lists(st.integers(0, 1000), min_size=11, max_size=11).map(sorted),
    st.sampled_from([1, 3, 6, 12]),
)
def test_a_fiscal_years_periods_share_the_annual_quota_exactly(
    start_month: int, cuts: list[int], size: int
) -> None:
    # Twelve weights in thousandths summing to exactly 1, as a plan writes them.
    bounds = [0, *cuts, 1000]
    weights = [Decimal(b - a) / 1000 for a, b in itertools.pairwise(bounds)]
    first = D(2025, start_month, 1)
    months = []
    for k in range(0, 12, size):
        a, b = add_months(first, k), add_months(first, k + size)
        months.append(fiscal_months(a, b, start_month))
    assert sorted(m for ms in months for m in ms) == list(range(1, 13))
    shares = [sum((weights[m - 1] for m in ms), Decimal(0)) for ms in months]
    assert sum(shares) == 1


def test_seasonality_weights_must_sum_to_one_and_number_twelve() -> None:
    base = {
        "version": 1,
        "id": "p",
        "currency": "USD",
        "measures": [{"id": "b", "aggregate": "sum"}],
        "components": [{"id": "c", "type": "commission", "measure": "b", "rate": 1}],
    }
    assert validate_plan({**base, "seasonality": {"b": [1] * 11}}) == [
        "seasonality.b: must list 12 weights, one per fiscal month (month 1 first)"
    ]
    assert validate_plan({**base, "seasonality": {"b": ["0.1"] * 12}}) == [
        "seasonality.b: weights must sum to 1 (they sum to 1.2)"
    ]
