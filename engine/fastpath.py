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
  rounded minor units (:func:`round_scaled`, the same six rounding modes as
  :func:`engine.money.quantize`). Every figure is an integer: int64 when a bound on every
  intermediate product fits in 62 bits, otherwise Python integers (object arrays) - never
  floats. A row is only *eligible* when every input the Decimal path would use is an exact
  integer number of ten-thousandths at the scales used here (e.g. a quota pro-rated by
  17/31 that is not a whole number of ten-thousandths is not); the caller sends the other
  rows down the general path, so results are identical either way (property tests in
  ``tests/engine/test_fast_path.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.money import RoundingMode
from engine.spec import Component, Limit, Plan

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
Ints = npt.NDArray[Any]
"""An int64 array, or an object array of Python ints when int64 could overflow."""

_INT64_SAFE = 2**62


def plain_tier_component(plan: Plan, c: Component) -> bool:
    """Return whether ``c`` is a plain tier table the fast path computes."""
    if c.type != "commission" or c.rate_table is None or c.measure is None:
        return False
    measure = plan.measures_by_id.get(c.measure)
    return (
        measure is not None
        and measure.aggregate == "sum"
        and measure.window.over == "period"
        and c.settle == "period"
        and c.gate is None
        and not c.modifiers
        and c.instalments is None
        and c.accelerator is None
        and c.decelerator is None
        and not c.hold_until_collected
        and c.per_transaction_cap is None
        and c.per_transaction_floor is None
        and not c.rate_by_type
        and c.per_unit is None
        and bool(c.rate_table.tiers)
        and c.rate_table.tier_by is None
        and c.rate_table.basis in ("amount", "attainment")
        and c.rate_table.convention in ("marginal", "retroactive", "top_multiplier_on_overage")
    )


def plain_plan(plan: Plan) -> bool:
    """Return whether every component of ``plan`` is a plain tier table, with no draw or ramp."""
    return (
        bool(plan.components)
        and plan.draw is None
        and not plan.ramp
        and not plan.modifiers
        and not plan.seasonality
        and all(plain_tier_component(plan, c) for c in plan.components)
    )


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
    d = 10**digits
    neg = x < 0
    a = np.where(neg, -x, x)
    q = a // d
    r = a - q * d
    if mode == "half_up":
        up = 2 * r >= d
    elif mode == "half_even":
        up = (2 * r > d) | ((2 * r == d) & (q % 2 == 1))
    elif mode == "down":
        up = np.zeros(len(x), dtype=bool)
    elif mode == "up":
        up = r > 0
    elif mode == "ceiling":
        up = (r > 0) & ~neg
    else:  # floor
        up = (r > 0) & neg
    q = q + up.astype(np.int64)
    out: Ints = np.where(neg, -q, q)
    return out


@dataclass(frozen=True)
class SegmentFigures:
    """The per-segment inputs of a block, as exact integers (one entry per row)."""

    value_e4: IntArray
    """The measure, ten-thousandths."""
    quota_e4: IntArray
    """The pro-rated quota (x ramp factor), ten-thousandths; valid where ``quota_ok``."""
    quota_present: BoolArray
    quota_ok: BoolArray
    """The pro-rated quota is a whole number of ten-thousandths (so it is what the Decimal
    path uses)."""
    ti_e4: IntArray
    """The pro-rated target incentive, ten-thousandths; valid where ``ti_ok``."""
    ti_ok: BoolArray
    factor_num: IntArray
    factor_den: IntArray
    """The pro-ration factor as a reduced fraction."""
    factor_exact: BoolArray
    """The Decimal factor equals the fraction (it is a terminating decimal)."""


@dataclass(frozen=True)
class TierBlock:
    """What :func:`tier_block` works out: one entry per row."""

    eligible: BoolArray
    earned: Ints
    """Exact earned amount at ``scale`` (10 ** scale units per currency unit)."""
    scale: int
    tier: IntArray
    minor: Ints
    """``earned`` rounded to the currency's minor unit with the plan's mode."""


def _limit(limit: Limit, fig: SegmentFigures, dtype: Any) -> tuple[Ints, int, BoolArray] | None:
    """Return (limit at scale, scale, rows where it is exact) for a cap or floor."""
    n = len(fig.value_e4)
    if limit.target_multiple is not None:
        m, dm = scaled(limit.target_multiple)
        return fig.ti_e4.astype(dtype) * m, 4 + dm, fig.ti_ok
    if limit.amount is not None:
        a, da = scaled(limit.amount)
        # amount x factor = a x num / den; exact at scale da + 4 when den divides a x num x 1e4.
        top = fig.factor_num.astype(dtype) * (a * 10**4)
        den = fig.factor_den.astype(dtype)
        ok = fig.factor_exact & (top % den == 0)
        return np.where(ok, top // np.where(ok, den, 1), 0), da + 4, ok
    return np.zeros(n, dtype=dtype), 0, np.ones(n, dtype=bool)  # pragma: no cover


def _magnitude(*arrays: IntArray) -> int:
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
    big_bound = max(s_int + [e for e in e_int if e is not None] + [1])
    biggest = _magnitude(fig.value_e4, fig.quota_e4, fig.ti_e4) * 10**ds
    if attainment_basis:
        biggest = max(biggest, _magnitude(fig.quota_e4) * big_bound)
    else:
        biggest = max(biggest, big_bound * 10**4)
    limit_bound = 0
    for lim in limits:
        if lim.target_multiple is not None:
            limit_bound = max(limit_bound, abs(scaled(lim.target_multiple)[0]))
        elif lim.amount is not None:
            limit_bound = max(limit_bound, abs(scaled(lim.amount)[0]) * 10**4)
    bound = (
        max(
            biggest * max([*r_int, 1]) * (len(r_int) + 2) * 10 ** (scale - 4 - ds - dr),
            limit_bound * max(_magnitude(fig.ti_e4, fig.factor_num), 1) * 10 ** (scale - 4),
        )
        * 4
    )
    dtype: Any = np.int64 if bound < _INT64_SAFE else object
    v = fig.value_e4.astype(dtype) * 10**ds
    eligible = np.ones(n, dtype=bool)
    if attainment_basis:
        eligible &= fig.quota_present & fig.quota_ok & (fig.quota_e4 != 0)
        q = np.where(eligible, fig.quota_e4, 0).astype(dtype)
        lo = [q * s for s in s_int]
        hi = [None if e is None else q * e for e in e_int]
    else:
        eligible &= ~fig.quota_present | (fig.quota_ok & (fig.quota_e4 != 0))
        lo = [np.full(n, s * 10**4, dtype=dtype) for s in s_int]
        hi = [None if e is None else np.full(n, e * 10**4, dtype=dtype) for e in e_int]
    reached = np.ones(n, dtype=np.int64)
    for i, low in enumerate(lo):
        reached = np.where(v >= low, i + 1, reached)
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
        got = _limit(limit, fig, dtype)
        assert got is not None
        amount, lim_scale, ok = got
        eligible &= ok
        amount = amount * 10 ** (scale - lim_scale)
        if is_cap:
            earned = np.where(earned > amount, amount, earned)
        else:
            earned = np.where(earned < amount, amount, earned)
    minor = round_scaled(earned, scale - currency_digits, mode)
    return TierBlock(eligible, earned, scale, reached, minor)
