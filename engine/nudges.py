"""Nudges and forecasts, worked out by the same rule code as the payouts.

Contract:

* :func:`next_tier` - how much more of the measure reaches the next tier of a commission's
  rate table, and what the commission would be there (via :func:`engine.rules.tiered_amount`).
* :func:`gate_gap` - how much more of the measure unlocks a gate.
* :func:`forecast` - projected payouts at the current pace: every sum and count measure is
  scaled by ``period days / elapsed days`` (a linear run-rate as of ``as_of``) and the whole
  calculation is run again through :func:`engine.compute`, so a forecast can never disagree
  with the rules. KPI values are used as they are.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from engine.money import ONE, ZERO, div, mul
from engine.pipeline import compute
from engine.rules import tier_reached, tiered_amount
from engine.spec import Component, Gate
from engine.types import Inputs, Result


@dataclass(frozen=True, slots=True)
class Nudge:
    """The gap to the next step and what reaching it would pay."""

    component_id: str
    current_tier: int
    next_tier: int | None
    amount_needed: Decimal
    payout_now: Decimal
    payout_at_next: Decimal | None
    text: str


def next_tier(component: Component, measure: Decimal, quota: Decimal | None = None) -> Nudge:
    """Return how much more measure reaches the next tier of a commission's rate table."""
    table = component.rate_table
    if table is None:
        raise ValueError(f"component {component.id} has no rate table")
    if table.convention == "prospective" or table.tier_by is not None:
        raise ValueError(
            f"component {component.id}: its tier depends on credit dates or on another "
            "measure, so one figure cannot say what the next tier pays"
        )
    scale = quota if table.basis == "attainment" and quota is not None else ONE
    starts = [mul(t.start, scale) for t in table.tiers]
    now, _, tier = tiered_amount(measure, table, scale)
    if tier >= len(starts):
        return Nudge(
            component.id,
            tier,
            None,
            ZERO,
            now,
            None,
            "You are in the top tier: every extra sale pays the top rate.",
        )
    threshold = starts[tier]
    needed = threshold - measure
    at_next, _, reached = tiered_amount(threshold, table, scale)
    text = (
        f"{needed:,.2f} more reaches tier {tier + 1} "
        f"({table.tiers[tier].rate * 100:.4g} %), where this component pays {at_next:,.2f}."
    )
    return Nudge(component.id, tier, reached, needed, now, at_next, text)


def gate_gap(gate: Gate, value: Decimal, quota: Decimal | None = None) -> Decimal:
    """Return how much more of the gate's measure unlocks it (0 when it is already open)."""
    if gate.min_attainment is not None:
        if quota is None:
            raise ValueError("an attainment gate needs the quota")
        target = mul(gate.min_attainment, quota)
    else:
        target = gate.min_value or ZERO
    return max(ZERO, target - value)


def run_rate(inputs: Inputs, as_of: dt.date) -> Decimal:
    """Return the pace factor: period days / days elapsed up to (not including) ``as_of``."""
    period = inputs.period
    elapsed = (min(max(as_of, period.start), period.end) - period.start).days
    if elapsed <= 0:
        raise ValueError("a forecast needs at least one elapsed day")
    return div(Decimal(period.days), Decimal(elapsed))


def forecast(inputs: Inputs, as_of: dt.date) -> Result:
    """Return the projected result at the current pace, computed by the real rules."""
    return compute(inputs, pace=run_rate(inputs, as_of))


def tier_of(component: Component, measure: Decimal, quota: Decimal | None = None) -> int:
    """Return the 1-based tier a measure falls in on a commission's rate table."""
    table = component.rate_table
    if table is None:
        raise ValueError(f"component {component.id} has no rate table")
    scale = quota if table.basis == "attainment" and quota is not None else ONE
    return tier_reached(measure, [mul(t.start, scale) for t in table.tiers])
