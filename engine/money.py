"""Money: the only rounding code in Quotient.

Contract:

* Amounts are :class:`~decimal.Decimal`, never ``float``. :func:`to_decimal` refuses floats.
* Inside DataFrames money is ``int64`` in *ten-thousandths* of the currency unit
  (``SCALE = 10_000``, the same precision as the ``NUMERIC(20, 4)`` columns); columns holding
  such values end in ``_e4``. :func:`to_e4` / :func:`from_e4` convert exactly.
* A payable figure is quantized once, per line, by :func:`quantize` with an explicit rounding
  mode and the currency's ISO 4217 exponent (JPY 0, USD 2, BHD 3, ...). The currencies are
  :data:`CURRENCY_EXPONENTS`, read from the ``iso4217`` package (the ISO table); a code not in
  it (``XYZ``, or a withdrawn one) is a :class:`MoneyError`.
* Splits use largest-remainder allocation (:func:`allocate`, :func:`allocate_groups`): the
  parts always sum exactly to the whole; ties go to the earlier part (lower index / lower
  order key), so the result is deterministic.
"""

from __future__ import annotations

import decimal
from collections.abc import Mapping, Sequence
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from types import MappingProxyType
from typing import Final, Literal

import numpy as np
import numpy.typing as npt
from iso4217 import Currency

RoundingMode = Literal["half_up", "half_even", "down", "up", "ceiling", "floor"]

ROUNDING_MODES: Final[tuple[RoundingMode, ...]] = (
    "half_up",
    "half_even",
    "down",
    "up",
    "ceiling",
    "floor",
)

_DECIMAL_ROUNDING: Final[dict[str, str]] = {
    "half_up": decimal.ROUND_HALF_UP,
    "half_even": decimal.ROUND_HALF_EVEN,
    "down": decimal.ROUND_DOWN,
    "up": decimal.ROUND_UP,
    "ceiling": decimal.ROUND_CEILING,
    "floor": decimal.ROUND_FLOOR,
}

SCALE: Final[int] = 10_000
"""Money in DataFrames is int64 in units of 1 / SCALE of the currency unit."""

# ISO 4217 minor-unit exponents of every current code that has a minor unit (the SIX table
# shipped by the ``iso4217`` package; funds, gold, SDR and testing codes without one are left
# out). This is the one currency list: ``core.currencies`` validates against the same table.
CURRENCY_EXPONENTS: Final[Mapping[str, int]] = MappingProxyType(
    {c.code: c.exponent for c in Currency if c.exponent is not None}
)

# Enough precision for NUMERIC(20, 4) times NUMERIC(12, 8) and ratios of them.
_CONTEXT: Final[decimal.Context] = decimal.Context(prec=50, rounding=decimal.ROUND_HALF_EVEN)

ZERO: Final[Decimal] = Decimal(0)
ONE: Final[Decimal] = Decimal(1)


class MoneyError(ValueError):
    """Raised for an unknown currency, a float amount or an impossible allocation."""


def is_currency_code(code: object) -> bool:
    """Return whether ``code`` is a current ISO 4217 code with a minor unit (USD, JPY, BHD)."""
    return isinstance(code, str) and code in CURRENCY_EXPONENTS


@lru_cache(maxsize=512)
def exponent(currency: str) -> int:
    """Return the number of minor-unit digits of ``currency`` (JPY 0, USD 2, BHD 3)."""
    if not is_currency_code(currency):
        raise MoneyError(f"not an ISO 4217 currency code: {currency!r}")
    return CURRENCY_EXPONENTS[currency]


def to_decimal(value: object) -> Decimal:
    """Return ``value`` (Decimal, int, or numeric string) as a Decimal; refuse floats."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise MoneyError("a boolean is not an amount")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, np.integer):
        return Decimal(int(value))
    if isinstance(value, str):
        try:
            result = Decimal(value.strip().replace("_", ""))
        except decimal.InvalidOperation as exc:
            raise MoneyError(f"not a number: {value!r}") from exc
        if not result.is_finite():
            raise MoneyError(f"not a finite number: {value!r}")
        return result
    raise MoneyError(f"refusing to treat {type(value).__name__} {value!r} as an exact amount")


def quantize(amount: Decimal, currency: str, mode: RoundingMode = "half_up") -> Decimal:
    """Return ``amount`` rounded to the minor unit of ``currency`` with rounding ``mode``;
    never a negative zero (-0.01 at half-up to whole cents is 0.00, not "-0.00")."""
    rounded = amount.quantize(_unit(currency), rounding=_DECIMAL_ROUNDING[mode])
    return rounded if rounded else rounded.copy_abs()


@lru_cache(maxsize=512)
def _unit(currency: str) -> Decimal:
    return Decimal(1).scaleb(-exponent(currency))


def to_minor(amount: Decimal, currency: str, mode: RoundingMode = "half_up") -> int:
    """Return ``amount`` as an integer count of minor units of ``currency``."""
    return int(quantize(amount, currency, mode).scaleb(exponent(currency)))


def from_minor(minor: int, currency: str) -> Decimal:
    """Return an integer count of minor units of ``currency`` as a Decimal amount."""
    return Decimal(minor).scaleb(-exponent(currency))


def to_e4(amount: Decimal, mode: RoundingMode = "half_even") -> int:
    """Return ``amount`` in ten-thousandths (the DataFrame money unit), rounding with ``mode``."""
    return int(
        amount.quantize(Decimal("0.0001"), rounding=_DECIMAL_ROUNDING[mode], context=_CONTEXT)
        * SCALE
    )


def from_e4(value: int) -> Decimal:
    """Return an int64 ten-thousandths figure as an exact Decimal."""
    return Decimal(int(value)).scaleb(-4)


def add(a: Decimal, b: Decimal) -> Decimal:
    """Return ``a + b`` computed in the engine's high-precision context."""
    return _CONTEXT.add(a, b)


def sub(a: Decimal, b: Decimal) -> Decimal:
    """Return ``a - b`` computed in the engine's high-precision context."""
    return _CONTEXT.subtract(a, b)


def mul(a: Decimal, b: Decimal) -> Decimal:
    """Return ``a * b`` computed in the engine's high-precision context."""
    return _CONTEXT.multiply(a, b)


def div(a: Decimal, b: Decimal) -> Decimal:
    """Return ``a / b`` computed in the engine's high-precision context."""
    return _CONTEXT.divide(a, b)


def ratios_e4(
    values_e4: Sequence[int],
    quotas_e4: Sequence[int],
    nums: Sequence[Decimal | None],
    dens: Sequence[Decimal],
) -> list[Decimal]:
    """Return ``from_e4(v) / (from_e4(q) x n / d)`` row by row, as :func:`div` and :func:`mul`
    give it (an attainment on a pro-rated quota), with the per-call overhead taken out.

    The ten-thousandths' scale cancels: the integers give the same coefficient and exponent
    (the context rounds to significant digits, and both operands shift by the same power of
    ten). A num of None says ``n / d`` is 1 with both of exponent 0, so the quota is itself.
    """
    multiply, divide = _CONTEXT.multiply, _CONTEXT.divide
    return [
        divide(Decimal(v), Decimal(q) if n is None else divide(multiply(Decimal(q), n), d))
        for v, q, n, d in zip(values_e4, quotas_e4, nums, dens, strict=True)
    ]


def _as_fraction(weight: int | Decimal | Fraction) -> Fraction:
    if isinstance(weight, bool) or not isinstance(weight, int | Decimal | Fraction):
        raise MoneyError(f"weights must be int, Decimal or Fraction, not {type(weight).__name__}")
    result = Fraction(weight)
    if result < 0:
        raise MoneyError("allocation weights must be >= 0")
    return result


def instalment(total_minor: int, periods: int, number: int) -> int:
    """Return instalment ``number`` (1-based) of ``total_minor`` paid over ``periods``.

    Every instalment but the last is the total divided by ``periods``, truncated toward zero
    to a whole minor unit; the last takes the remainder, so the parts sum to the whole exactly.
    """
    if periods < 1 or not 1 <= number <= periods:
        raise MoneyError(f"instalment {number} of {periods} does not exist")
    sign = -1 if total_minor < 0 else 1
    part = abs(int(total_minor)) // periods
    if number < periods:
        return sign * part
    return int(total_minor) - sign * part * (periods - 1)


def allocate(total_minor: int, weights: Sequence[int | Decimal | Fraction]) -> list[int]:
    """Split ``total_minor`` in proportion to ``weights`` by largest remainder; parts sum exactly.

    Each part first gets the floor of its exact share; the units left over go one each to the
    parts with the largest remainders, ties to the earlier part. A negative total is split as
    its absolute value and negated, so refunds mirror sales. All-zero weights split equally.
    """
    if not weights:
        raise MoneyError("cannot allocate over no weights")
    fractions = [_as_fraction(w) for w in weights]
    if sum(fractions) == 0:
        fractions = [Fraction(1)] * len(fractions)
    sign = -1 if total_minor < 0 else 1
    whole = abs(int(total_minor))
    denom = sum(fractions)
    exact = [whole * f / denom for f in fractions]
    parts = [int(e) for e in exact]  # floor: every exact share is >= 0
    left = whole - sum(parts)
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - parts[i]), i))
    for i in order[:left]:
        parts[i] += 1
    return [sign * p for p in parts]


def allocate_groups(
    totals: npt.NDArray[np.int64],
    weights: npt.NDArray[np.int64],
    groups: npt.NDArray[np.int64],
) -> npt.NDArray[np.int64]:
    """Return per-row parts of each group's total split by integer ``weights`` (vectorized).

    ``groups`` labels rows (rows of one group must be contiguous after a stable sort by
    group; the function sorts internally), ``totals`` repeats the group's total on each of its
    rows, ``weights`` are non-negative integers. Largest remainder, ties to the earlier row.
    The parts of every group sum exactly to its total; a group whose weights are all zero is
    split equally.
    """
    n = len(groups)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if (weights < 0).any():
        raise MoneyError("allocation weights must be >= 0")
    order = np.argsort(groups, kind="stable")
    g = groups[order]
    w = weights[order].astype(np.int64)
    t = totals[order].astype(np.int64)
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    wsum_grp = np.add.reduceat(w, starts)
    sizes = np.diff(np.r_[starts, n])
    zero = wsum_grp == 0
    if zero.any():
        w = np.where(np.repeat(zero, sizes), 1, w)
        wsum_grp = np.add.reduceat(w, starts)
    wsum = np.repeat(wsum_grp, sizes)
    sign = np.where(t < 0, -1, 1)
    whole = np.abs(t)
    biggest = int(whole.max())
    if biggest > 0 and int(w.max()) > np.iinfo(np.int64).max // biggest:
        # The products would overflow int64: use exact Python integers (slow, rare).
        prod_o = whole.astype(object) * w.astype(object)
        base = np.array(prod_o // wsum.astype(object), dtype=np.int64)
        rem_o = prod_o % wsum.astype(object)
        # Within a group every row shares the same denominator, so remainders compare as ints.
        rank_order = np.array(
            sorted(range(n), key=lambda i: (int(g[i]), -int(rem_o[i]), i)), dtype=np.int64
        )
    else:
        prod = whole * w
        base = prod // wsum
        rank_order = np.lexsort((np.arange(n), -(prod % wsum), g))
    left = np.repeat(whole[starts] - np.add.reduceat(base, starts), sizes)
    rank = np.empty(n, dtype=np.int64)
    group_start_of_row = np.repeat(starts, sizes)
    rank[rank_order] = np.arange(n) - group_start_of_row[rank_order]
    parts = base + (rank < left).astype(np.int64)
    out = np.empty(n, dtype=np.int64)
    out[order] = sign * parts
    return out


# --- crediting transforms (engine/crediting.py): a factor on int64 ten-thousandths ----------


def scale_e4(values: npt.NDArray[np.int64], factor: Decimal) -> npt.NDArray[np.int64]:
    """Return ``values`` (ten-thousandths) times an exact ``factor``, rounded half-even to e4.

    Vectorized and exact: the factor is a fraction p/q and each product is divided once.
    """
    frac = Fraction(factor)
    p, q = frac.numerator, frac.denominator
    v = values.astype(np.int64)
    if len(v) == 0:
        return v
    biggest = int(np.abs(v).max())
    if biggest and abs(p) > np.iinfo(np.int64).max // (2 * biggest):
        exact = [_half_even_div(int(x) * p, q) for x in v.tolist()]
        return np.array(exact, dtype=np.int64)
    prod = v * np.int64(p)
    base = np.floor_divide(prod, q)
    rem2 = 2 * (prod - base * q)  # 0 <= rem2 < 2q
    up = (rem2 > q) | ((rem2 == q) & (base % 2 == 1))
    out: npt.NDArray[np.int64] = (base + up.astype(np.int64)).astype(np.int64)
    return out


def _half_even_div(n: int, q: int) -> int:
    base, rem = divmod(n, q)
    if 2 * rem > q or (2 * rem == q and base % 2 == 1):
        return base + 1
    return base
