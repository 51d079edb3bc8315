"""Money: quantize, minor units, largest-remainder allocation."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from engine.money import (
    MoneyError,
    allocate,
    allocate_groups,
    exponent,
    from_minor,
    quantize,
    to_decimal,
    to_minor,
)


@pytest.mark.parametrize(
    ("currency", "digits"), [("JPY", 0), ("USD", 2), ("EUR", 2), ("BHD", 3), ("KWD", 3)]
)
def test_it_knows_currency_exponents(currency: str, digits: int) -> None:
    assert exponent(currency) == digits


@pytest.mark.parametrize(
    ("mode", "amount", "expected"),
    [
        ("half_up", "1.225", "1.23"),
        ("half_even", "1.225", "1.22"),
        ("half_even", "1.235", "1.24"),
        ("down", "1.229", "1.22"),
        ("down", "-1.229", "-1.22"),
        ("up", "1.221", "1.23"),
        ("up", "-1.221", "-1.23"),
        ("ceiling", "-1.229", "-1.22"),
        ("floor", "-1.221", "-1.23"),
        ("half_up", "-1.225", "-1.23"),
    ],
)
def test_it_quantizes_with_each_mode(mode: str, amount: str, expected: str) -> None:
    assert quantize(Decimal(amount), "USD", mode) == Decimal(expected)  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", ["half_up", "half_even", "down", "ceiling"])
def test_a_small_negative_amount_rounds_to_a_plain_zero_never_minus_zero(mode: str) -> None:
    # found by tests/engine/test_windows.py: -0.01 x a rate became "-0.00" on a statement
    rounded = quantize(Decimal("-0.004"), "USD", mode)  # type: ignore[arg-type]
    assert str(rounded) == "0.00"
    assert str(quantize(Decimal("-0.4"), "JPY", mode)) == "0"  # type: ignore[arg-type]


def test_it_converts_minor_units_both_ways() -> None:
    assert to_minor(Decimal("1234.565"), "USD") == 123457
    assert to_minor(Decimal("1234.5"), "JPY") == 1235
    assert to_minor(Decimal("1.2345"), "BHD", "half_even") == 1234
    assert from_minor(123457, "USD") == Decimal("1234.57")
    assert from_minor(1235, "BHD") == Decimal("1.235")


def test_it_refuses_floats() -> None:
    with pytest.raises(MoneyError):
        to_decimal(0.1)
    assert to_decimal("0.1") == Decimal("0.1")


def test_allocation_sums_to_the_whole_and_breaks_ties_to_the_first() -> None:
    assert allocate(100, [1, 1, 1]) == [34, 33, 33]
    assert allocate(-100, [1, 1, 1]) == [-34, -33, -33]
    assert allocate(5, [0, 0]) == [3, 2]
    assert allocate(10, [Decimal("0.7"), Decimal("0.3")]) == [7, 3]
    assert allocate(1, [1, 3]) == [0, 1]


def test_grouped_allocation_matches_the_scalar_one() -> None:
    totals = np.array([100, 100, 100, 7, 7], dtype=np.int64)
    weights = np.array([1, 1, 1, 1, 2], dtype=np.int64)
    groups = np.array([5, 5, 5, 2, 2], dtype=np.int64)
    assert allocate_groups(totals, weights, groups).tolist() == [34, 33, 33, 2, 5]
    assert allocate(7, [1, 2]) == [2, 5]
