"""The vectorized fast path for plain tier tables: exact integer columns, no Decimals per row.

Contract:

* :func:`plain_tier_component` says whether a component is a *plain tier table*: a
  ``commission`` with a ``rate_table`` (any convention, basis ``amount`` or ``attainment``)
  on a ``sum`` measure, with an optional period cap and floor, and nothing else (no gate,
  modifier, accelerator, decelerator, hold, per-transaction rule, tier picked by another
  measure). :func:`plain_plan` says
  whether a whole plan is made of them and settles without draws, ramps or plan modifiers.
* :func:`tier_block` works out, for many segments at once, exactly what
  :func:`engine.rules.commission` (the general Decimal path) works out for each one: the
  earned amount as an exact integer at a power-of-ten scale, the tier reached, and the
  rounded minor units (:func:`round_div`, the same six rounding modes as
  :func:`engine.money.quantize`). Every figure is an integer: a pro-rated figure is a
  fraction (a whole-cent quota x 17 / 31), so each row carries its common denominator and
  every figure multiplied by it; int64 when a bound on every intermediate product fits in 62
  bits, otherwise Python integers (object arrays) - never floats.
* Where the general path's Decimals are exact (the row's denominator is 1) the two agree
  everywhere. Elsewhere they are rounded at 28-50 significant digits, which moves a figure by
  far less than the distance between two distinct exact fractions of this size - except on
  an exact tie: a measure exactly on a pro-rated tier bound, or an amount exactly on a
  rounding boundary (half a cent; a whole cent in the directed modes). Such a row is not
  *eligible* and the caller sends it down the general path, so results are identical either
  way (property tests in ``tests/engine/test_fast_path.py``). Past int64 only exact rows are
  eligible.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.money import RoundingMode
from engine.spec import Component, Limit, Measure, Plan

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
Ints = npt.NDArray[Any]
"""An int64 array, or an object array of Python ints when int64 could overflow."""

_INT64_SAFE = 2**62


def tier_table_measure(plan: Plan, c: Component) -> Measure | None:
    """Return the measure of ``c`` when ``c`` is a tier table only, else None."""
    if not tier_table_only(c):
        return None
    assert c.measure is not None
    return plan.measures_by_id.get(c.measure)


def plain_tier_component(plan: Plan, c: Component) -> bool:
    """Return whether ``c`` is a plain tier table the fast path computes."""
    measure = tier_table_measure(plan, c)
    return (
        measure is not None
        and measure.aggregate == "sum"
        and measure.window.over == "period"
        and not c.modifiers
    )


def tier_table_only(c: Component) -> bool:
    """Return whether ``c`` is a commission paying a plain rate table on its measure and period:
    no gate, instalments, accelerator, decelerator, hold or per-transaction rule."""
    table = c.rate_table
    return (
        c.type == "commission"
        and table is not None
        and c.measure is not None
        and c.settle == "period"
        and c.gate is None
        and c.instalments is None
        and c.accelerator is None
        and c.decelerator is None
        and not c.hold_until_collected
        and c.per_transaction_cap is None
        and c.per_transaction_floor is None
        and not c.rate_by_type
        and c.per_unit is None
        and bool(table.tiers)
        and table.tier_by is None
        and table.basis in ("amount", "attainment")
        and table.convention in ("marginal", "retroactive", "top_multiplier_on_overage")
    )


def settles_plainly(plan: Plan) -> bool:
    """Return whether ``plan`` has components and no draw, ramp, plan modifier or seasonality."""
    return (
        bool(plan.components)
        and plan.draw is None
        and not plan.ramp
        and not plan.modifiers
        and not plan.seasonality
    )


def plain_plan(plan: Plan) -> bool:
    """Return whether every component of ``plan`` is a plain tier table, with no draw or ramp."""
    return settles_plainly(plan) and all(plain_tier_component(plan, c) for c in plan.components)


def scaled(value: Decimal) -> tuple[int, int]:
    """Return ``value`` as (integer, decimals): ``Decimal('0.125')`` -> ``(125, 3)``."""
    sign, digits, exp = value.as_tuple()
    assert isinstance(exp, int)
    coef = int("".join(map(str, digits)) or "0")
    if exp >= 0:
        return (-1 if sign else 1) * coef * 10**exp, 0
    return (-1 if sign else 1) * coef, -exp


def round_scaled(x: Ints, digits: int, mode: RoundingMode) -> Ints:
    """Return ``x / 10**digits`` rounded to an integer with ``mode`` (exact, vectorized)."""
    if digits == 0:
        return x
    return round_div(x, 10**digits, mode)[0]


def round_div(x: Ints, d: Ints | int, mode: RoundingMode) -> tuple[Ints, BoolArray]:
    """Return (``x / d`` rounded to an integer with ``mode``, rows on a rounding boundary).

    ``d`` > 0 (an int or one per row). A row is *on a boundary* when the exact quotient is a
    half (the ``half_*`` modes) or a whole number (the directed modes): there, and only there,
    a figure carried in rounded Decimals could round the other way.
    """
    neg = x < 0
    a = np.where(neg, -x, x)
    q = a // d
    r = a - q * d
    twice = 2 * r
    if mode == "half_up":
        up = twice >= d
    elif mode == "half_even":
        up = (twice > d) | ((twice == d) & (q % 2 == 1))
    elif mode == "down":
        up = np.zeros(len(x), dtype=bool)
    elif mode == "up":
        up = r > 0
    elif mode == "ceiling":
        up = (r > 0) & ~neg
    else:  # floor
        up = (r > 0) & neg
    boundary = (twice == d) if mode in ("half_up", "half_even") else (r == 0)
    q = q + up.astype(np.int64)
    out: Ints = np.where(neg, -q, q)
    return out, np.asarray(boundary, dtype=bool)


@dataclass(frozen=True)
class SegmentFigures:
    """The per-segment inputs of a block, as exact integers (one entry per row).

    A pro-rated figure is a fraction (a quota x 17 / 31): every figure of a row is carried
    multiplied by the row's common denominator ``den``, so all of them are integers.
    """

    value_e4: IntArray
    """The measure, ten-thousandths."""
    den: Ints
    """The row's common denominator (>= 1): the figures below are x ``den``."""
    exact: BoolArray
    """The general path's Decimals are exact on this row (``den`` divides 10**6); elsewhere
    they are rounded at 28-50 digits, which only matters on an exact tie."""
    quota_d: Ints
    """The pro-rated quota (x ramp factor) x ``den``, ten-thousandths."""
    quota_present: BoolArray
    ti_d: Ints
    """The pro-rated target incentive x ``den``, ten-thousandths."""
    factor_d: Ints
    """The pro-ration factor x ``den``."""


@dataclass(frozen=True)
class TierBlock:
    """What :func:`tier_block` works out: one entry per row."""

    eligible: BoolArray
    earned: Ints
    """Exact earned amount x ``den`` at ``scale`` (10 ** scale units per currency unit)."""
    scale: int
    tier: IntArray
    minor: Ints
    """The earned amount rounded to the currency's minor unit with the plan's mode."""


def _limit(limit: Limit, fig: SegmentFigures, dtype: Any) -> tuple[Ints, int]:
    """Return (cap or floor x den, its scale)."""
    if limit.target_multiple is not None:
        m, dm = scaled(limit.target_multiple)
        return fig.ti_d.astype(dtype) * m, 4 + dm
    if limit.amount is not None:
        a, da = scaled(limit.amount)
        return fig.factor_d.astype(dtype) * (a * 10**4), da + 4
    return np.zeros(len(fig.value_e4), dtype=dtype), 0  # pragma: no cover


def _magnitude(*arrays: Ints) -> int:
    return max((int(np.abs(a).max()) for a in arrays if len(a)), default=0)


def tier_block(
    c: Component, fig: SegmentFigures, currency_digits: int, mode: RoundingMode
) -> TierBlock:
    """Return the exact earned amounts of plain tier table ``c`` on every row of ``fig``."""
    table = c.rate_table
    assert table is not None
    n = len(fig.value_e4)
    attainment_basis = table.basis == "attainment"
    starts = [scaled(t.start) for t in table.tiers]
    ends = [scaled(t.end) if t.end is not None else None for t in table.tiers]
    rates = [scaled(t.rate) for t in table.tiers]
    ds = max([d for _, d in starts] + [d for e in ends if e is not None for d in (e[1],)])
    dr = max(d for _, d in rates)
    s_int = [v * 10 ** (ds - d) for v, d in starts]
    e_int = [None if e is None else e[0] * 10 ** (ds - e[1]) for e in ends]
    r_int = [v * 10 ** (dr - d) for v, d in rates]
    scale = 4 + ds + dr
    limits = [lim for lim in (c.cap, c.floor) if lim is not None]
    for lim in limits:
        if lim.target_multiple is not None:
            scale = max(scale, 4 + scaled(lim.target_multiple)[1])
        elif lim.amount is not None:
            scale = max(scale, 4 + scaled(lim.amount)[1])
    # A bound on every intermediate figure decides int64 or exact Python integers.
    den_max = max(_magnitude(fig.den), 1)
    big_bound = max(s_int + [e for e in e_int if e is not None] + [1])
    biggest = _magnitude(fig.value_e4) * den_max * 10**ds
    biggest = max(biggest, _magnitude(fig.quota_d, fig.ti_d) * 10**ds)
    if attainment_basis:
        biggest = max(biggest, _magnitude(fig.quota_d) * big_bound)
    else:
        biggest = max(biggest, big_bound * 10**4 * den_max)
    limit_bound = 0
    for lim in limits:
        if lim.target_multiple is not None:
            limit_bound = max(limit_bound, abs(scaled(lim.target_multiple)[0]))
        elif lim.amount is not None:
            limit_bound = max(limit_bound, abs(scaled(lim.amount)[0]) * 10**4)
    bound = (
        max(
            biggest * max([*r_int, 1]) * (len(r_int) + 2) * 10 ** (scale - 4 - ds - dr),
            limit_bound * max(_magnitude(fig.ti_d, fig.factor_d), 1) * 10 ** (scale - 4),
            den_max * 10 ** (scale - currency_digits),
        )
        * 4
    )
    dtype: Any = np.int64 if bound < _INT64_SAFE else object
    eligible = fig.exact.copy() if dtype is object else np.ones(n, dtype=bool)
    # (Past int64 the Decimals' own rounding - 28 digits for sums - could come near a
    # rounding boundary of a pro-rated figure: only exact rows are taken then.)
    den = fig.den.astype(dtype)
    v = fig.value_e4.astype(dtype) * den * 10**ds
    if attainment_basis:
        eligible &= fig.quota_present & (fig.quota_d != 0)
        q = np.where(eligible, fig.quota_d, 0).astype(dtype)
        lo = [q * s for s in s_int]
        hi = [None if e is None else q * e for e in e_int]
    else:
        eligible &= ~fig.quota_present | (fig.quota_d != 0)
        lo = [den * (s * 10**4) for s in s_int]
        hi = [None if e is None else den * (e * 10**4) for e in e_int]
    # Where the general path's Decimals are rounded (a quota x 17 / 31), a figure exactly on
    # a tier bound or a rounding boundary could go either way there: such rows go its way.
    # ``rounded`` marks the rows whose earned amount is made of a rounded figure.
    inexact = ~fig.exact
    rounded = np.zeros(n, dtype=bool)
    reached = np.ones(n, dtype=np.int64)
    for i, low in enumerate(lo):
        reached = np.where(v >= low, i + 1, reached)
        if attainment_basis and s_int[i]:
            eligible &= ~(inexact & (v == low))
            rounded |= v > low
    if attainment_basis and table.convention != "retroactive":
        for i, high in enumerate(hi):
            if high is not None and e_int[i]:
                eligible &= ~(inexact & (v == high))
                rounded |= v > high
    rate_arr = np.array(r_int, dtype=dtype)
    top_rate = rate_arr[reached - 1]
    r0 = r_int[0]
    if table.convention == "marginal":
        pay: Ints = np.zeros(n, dtype=dtype)
        alive = np.ones(n, dtype=bool)
        for i, low in enumerate(lo):
            high = hi[i]
            alive &= v > low
            portion = (v if high is None else np.minimum(v, high)) - low
            pay = pay + np.where(alive & (portion > 0), portion * r_int[i], 0)
    elif table.convention == "retroactive":
        pay = v * top_rate
    else:  # top_multiplier_on_overage
        first_end = hi[0]
        if first_end is None:
            pay = v * r0
        else:
            pay = np.where(reached == 1, v * r0, first_end * r0 + (v - first_end) * top_rate)
    earned = np.where(v > 0, pay, v * r0) * 10 ** (scale - 4 - ds - dr)
    bounds: tuple[tuple[Limit | None, bool], ...] = ((c.cap, True), (c.floor, False))
    for limit, is_cap in bounds:
        if limit is None:
            continue
        amount, lim_scale = _limit(limit, fig, dtype)
        amount = amount * 10 ** (scale - lim_scale)
        hit = (earned > amount) if is_cap else (earned < amount)
        earned = np.where(hit, amount, earned)
        rounded = np.where(hit, True, rounded)
    minor, boundary = round_div(earned, den * 10 ** (scale - currency_digits), mode)
    eligible &= ~(inexact & rounded & boundary)
    return TierBlock(eligible, earned, scale, reached, minor)
