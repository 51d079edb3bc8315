"""Nudges and forecasts, worked out by the same rule code as the payouts.

Contract:

* :func:`next_tier` - how much more of the measure reaches the next tier of a commission's
  rate table, and what the commission would be there (via :func:`engine.rules.tiered_amount`).
* :func:`gate_gap` - how much more of the measure unlocks a gate.
* :func:`forecast` - projected payouts at the current pace: every sum and count measure is
  scaled by ``period days / elapsed days`` (a linear run-rate as of ``as_of``) and the whole
  calculation is run again through :func:`engine.compute`, so a forecast can never disagree
  with the rules. KPI values are used as they are.
* :func:`component_progress` - what an employee's earnings card shows for one component:
  every threshold of the component (the tiers of its rate table, the points of its curve, its
  gate, its shared milestone) as a mark in the measure's unit, the next one not reached yet,
  the distance to it and a sentence ("38,000.00 USD more puts you in the 8 % tier"). Whether
  a threshold is reached is decided by the rule code itself (:func:`engine.rules.tier_reached`,
  :func:`engine.rules.gate_passes`; a curve point as :func:`engine.rules.curve_value` reads
  it, attainment >= the point's), never by a copy of it,
  so measure + distance reaches the next threshold and anything less does not (a property
  test checks it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from engine.money import ONE, ZERO, div, mul, quantize, sub
from engine.pipeline import compute
from engine.rules import fmt_pct, gate_passes, tier_reached, tiered_amount
from engine.spec import Component, Curve, Gate, Plan, pays_credit_by_credit
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


def projectable(component: Component) -> bool:
    """Return whether :func:`forecast` projects this component: its pace scales sums and
    counts, so a component that pays credit by credit (per unit, by type, per-transaction
    limits, holds, prospective tiers) or event by event (SPIFs, retention bonuses) is not."""
    if component.type in ("spif", "retention_bonus"):
        return False
    table = component.rate_table
    if table is not None and table.convention == "prospective":
        return False
    return not pays_credit_by_credit(component)


def tier_of(component: Component, measure: Decimal, quota: Decimal | None = None) -> int:
    """Return the 1-based tier a measure falls in on a commission's rate table."""
    table = component.rate_table
    if table is None:
        raise ValueError(f"component {component.id} has no rate table")
    scale = quota if table.basis == "attainment" and quota is not None else ONE
    return tier_reached(measure, [mul(t.start, scale) for t in table.tiers])


# --------------------------------------------------------------------------- progress and nudges

REACH: Decimal = Decimal("0.10")
"""A threshold is *within reach* when the distance to it is at most 10 % of the threshold."""

Kind = str  # "tier" | "curve" | "gate" | "milestone"


@dataclass(frozen=True, slots=True)
class Mark:
    """One threshold of a component, in the unit of the measure it is read on."""

    key: str
    """Stable id within the component: ``tier_2``, ``point_1``, ``gate``, ``milestone_west``."""
    kind: Kind
    at: Decimal
    label: str
    """What reaching it means, in a few words: ``8 %``, ``target (100 % of target)``, ``gate``."""
    reached: bool


@dataclass(frozen=True, slots=True)
class Progress:
    """Where one person stands on one threshold ladder of one component, and what is next."""

    component_id: str
    kind: Kind
    unit: str
    """``money``, ``count`` or ``points`` (a ratio or KPI value)."""
    measure: Decimal
    """The figure the ladder is read on (the person's measure, a gate's, a team's)."""
    marks: tuple[Mark, ...]
    next: Mark | None
    distance: Decimal | None
    """How much more of the measure reaches ``next`` (None at the top)."""
    text: str

    @property
    def within_reach(self) -> bool:
        """Return whether the next threshold is at most :data:`REACH` of it away."""
        if self.next is None or self.distance is None or self.next.at <= 0:
            return False
        return self.distance <= mul(self.next.at, REACH)

    @property
    def bar_max(self) -> Decimal:
        """Return the figure the progress bar ends at: past the last mark and the measure."""
        top = max([m.at for m in self.marks] + [self.measure, ZERO])
        return mul(top, Decimal("1.25")) if top > 0 else ONE

    def position(self, value: Decimal) -> Decimal:
        """Return ``value`` as a fraction of :attr:`bar_max`, from 0 to 1."""
        return min(ONE, max(ZERO, div(value, self.bar_max)))


@dataclass(frozen=True, slots=True)
class Figures:
    """What the run worked out for one component of one person (the card's inputs)."""

    measure: Decimal | None
    quota: Decimal | None = None
    gate_value: Decimal | None = None
    gate_quota: Decimal | None = None
    teams: tuple[tuple[str, Decimal | None, Decimal | None], ...] = ()
    """A team pool's milestone: (team, value, quota) for each team."""


def unit_of(plan: Plan, measure_id: str | None) -> str:
    """Return ``money``, ``count`` or ``points``: how a distance on this measure is read."""
    measure = next((m for m in plan.measures if m.id == measure_id), None)
    if measure is None:
        return "money"
    if measure.aggregate == "count" or measure.unit == "count":
        return "count"
    if measure.aggregate in ("kpi", "ratio") or measure.unit == "ratio":
        return "points"
    return "money"


def amount_words(value: Decimal, unit: str, currency: str, noun: str = "") -> str:
    """Return a distance or threshold for reading: ``38,000.00 USD``, ``430 sign-ups``,
    ``4 points`` (a fraction such as a CSAT of 0.86 is read in percentage points)."""
    if unit == "money":
        return f"{quantize(value, currency):,f} {currency}"
    if unit == "count":
        shown = f"{value:,.0f}" if value == value.to_integral_value() else f"{value:,.2f}"
        return f"{shown} {noun}".rstrip()
    return f"{_points(value):,f} points"


def _points(value: Decimal) -> Decimal:
    return (value * 100).quantize(Decimal("0.01")).normalize()


def _says(value: Decimal, unit: str, currency: str, noun: str) -> str:
    if unit == "points":
        return fmt_pct(value)
    return amount_words(value, unit, currency, noun)


def tier_progress(
    component: Component, measure: Decimal, quota: Decimal | None, *, unit: str, currency: str
) -> Progress | None:
    """Return the rate table's tiers as marks and the next tier (None without a table whose
    tier this component's own measure picks)."""
    table = component.rate_table
    if table is None or table.tier_by is not None:
        return None
    if table.basis == "attainment" and not quota:
        return None
    scale = quota if table.basis == "attainment" and quota else ONE
    starts = [mul(t.start, scale) for t in table.tiers]
    tier = tier_reached(measure, starts)
    marks = tuple(
        Mark(f"tier_{i + 1}", "tier", starts[i], f"{fmt_pct(t.rate)}", i + 1 <= tier)
        for i, t in enumerate(table.tiers)
    )
    noun = component.measure or ""
    if tier >= len(starts):
        text = (
            f"You are in the top tier ({fmt_pct(table.tiers[-1].rate)}): every extra "
            f"{_unit_noun(unit, noun)} pays the top rate."
        )
        return Progress(component.id, "tier", unit, measure, marks, None, None, text)
    nxt = marks[tier]
    distance = sub(nxt.at, measure)
    later = (
        " (credits dated after the day you cross it earn it)"
        if table.convention == "prospective"
        else ""
    )
    text = (
        f"{amount_words(distance, unit, currency, noun)} more puts you in the "
        f"{nxt.label} tier{later}."
    )
    return Progress(component.id, "tier", unit, measure, marks, nxt, distance, text)


def _unit_noun(unit: str, noun: str) -> str:
    return "sale" if unit == "money" else (noun.rstrip("s") or "unit")


def curve_progress(
    component: Component,
    curve: Curve,
    measure: Decimal,
    quota: Decimal | None,
    *,
    unit: str,
    currency: str,
) -> Progress | None:
    """Return a curve's points (threshold, target, stretch...) as marks and the next one."""
    if not quota or not curve.points:
        return None
    att = div(measure, quota)
    names = _point_names(curve)
    marks = tuple(
        Mark(
            f"point_{i + 1}",
            "curve",
            mul(p.attainment, quota),
            f"{names[i]} ({fmt_pct(p.payout)} of target)",
            att >= p.attainment,
        )
        for i, p in enumerate(curve.points)
    )
    nxt = next((m for m in marks if not m.reached), None)
    noun = component.measure or ""
    if nxt is None:
        text = (
            f"You are past the last point of the curve ({fmt_pct(att)} of quota): it pays its most."
        )
        return Progress(component.id, "curve", unit, measure, marks, None, None, text)
    distance = sub(nxt.at, measure)
    point = curve.points[marks.index(nxt)]
    text = (
        f"{amount_words(distance, unit, currency, noun)} more reaches the "
        f"{names[marks.index(nxt)]} at {fmt_pct(point.attainment)} of quota, which pays "
        f"{fmt_pct(point.payout)} of your target incentive."
    )
    return Progress(component.id, "curve", unit, measure, marks, nxt, distance, text)


def _point_names(curve: Curve) -> list[str]:
    """Name a curve's points: the first is the threshold, the first paying 100 % the target,
    the last (when not the target) the stretch, the others by number."""
    n = len(curve.points)
    names = [f"point {i + 1}" for i in range(n)]
    target = next((i for i, p in enumerate(curve.points) if i > 0 and p.payout == ONE), None)
    if n > 1 and target != n - 1:
        names[-1] = "stretch"
    if target is not None:
        names[target] = "target"
    names[0] = "threshold"
    return names


def gate_threshold(gate: Gate, quota: Decimal | None) -> tuple[Decimal, bool] | None:
    """Return (threshold in the measure's unit, strictly above) of a gate one can grow into,
    or None (a gate on ``<``, ``<=``, ``in`` or ``not_in``, or on attainment without a quota)."""
    if gate.condition is not None:
        cond = gate.condition
        if cond.op not in (">=", ">", "between"):
            return None
        low = cond.operands[0]
        if not isinstance(low, Decimal):
            return None
        if gate.of == "attainment":
            if not quota:
                return None
            low = mul(low, quota)
        return low, cond.op == ">"
    if gate.min_attainment is not None:
        if not quota:
            return None
        return mul(gate.min_attainment, quota), False
    return gate.min_value or ZERO, False


def gate_progress(
    component: Component,
    gate: Gate,
    value: Decimal | None,
    quota: Decimal | None,
    *,
    unit: str,
    currency: str,
) -> Progress | None:
    """Return a gate as one mark and how far the gate's measure is from opening it."""
    found = gate_threshold(gate, quota)
    if found is None or value is None:
        return None
    threshold, strict = found
    passed = gate_passes(gate, value, quota)
    who = "" if gate.scope == "self" else f"{gate.scope} {gate.holder or 'own'}'s "
    name = f"{who}{gate.measure} gate"
    marks = (Mark("gate", "gate", threshold, "gate", passed),)
    if passed:
        text = f"The {name} is open ({_says(value, unit, currency, gate.measure)} reached)."
        return Progress(component.id, "gate", unit, value, marks, None, None, text)
    distance = sub(threshold, value)
    more = "more than " if strict else ""
    text = (
        f"You are {more}{amount_words(distance, unit, currency, gate.measure)} from the "
        f"{name}: it opens at {more}{_says(threshold, unit, currency, gate.measure)}, "
        f"{_says(value, unit, currency, gate.measure)} so far."
    )
    return Progress(component.id, "gate", unit, value, marks, marks[0], distance, text)


def milestone_progress(
    component: Component,
    teams: tuple[tuple[str, Decimal | None, Decimal | None], ...],
    *,
    unit: str,
    currency: str,
) -> Progress | None:
    """Return a shared milestone (a team pool): each team's threshold, and the team furthest
    from it (the pool pays only when every team reaches its milestone)."""
    need = component.milestone_min_attainment
    if need is None or not teams:
        return None
    noun = component.measure or ""
    gaps: list[tuple[Decimal, str, Decimal, Decimal]] = []
    marks: list[Mark] = []
    for team, value, quota in teams:
        if value is None or not quota:
            return None
        at = mul(need, quota)
        hit = div(value, quota) >= need
        marks.append(Mark(f"milestone_{team}", "milestone", at, f"{team}", hit))
        if not hit:
            gaps.append((sub(at, value), team, at, value))
    name = component.name or component.id
    if not gaps:
        text = f"The {name} milestone is reached: every team got there."
        total = sum((v for _, v, _ in teams if v is not None), ZERO)
        return Progress(component.id, "milestone", unit, total, tuple(marks), None, None, text)
    distance, team, at, value = max(gaps)
    nxt = next(m for m in marks if m.key == f"milestone_{team}")
    text = (
        f"The {name} milestone unlocks at {amount_words(at, unit, currency, noun)} for "
        f"{team}, {amount_words(value, unit, currency, noun).split(' ')[0]} so far"
        + (f" ({len(gaps)} teams still to get there)" if len(gaps) > 1 else "")
        + "."
    )
    return Progress(component.id, "milestone", unit, value, tuple(marks), nxt, distance, text)


def component_progress(plan: Plan, component: Component, figures: Figures) -> list[Progress]:
    """Return every threshold ladder of one component, gate first: its gate, then its tiers,
    curve or shared milestone (an empty list for a component with none, e.g. a flat rate)."""
    currency = plan.rounding.currency
    out: list[Progress] = []
    if component.gate is not None:
        gp = gate_progress(
            component,
            component.gate,
            figures.gate_value,
            figures.gate_quota,
            unit=unit_of(plan, component.gate.measure),
            currency=currency,
        )
        if gp is not None:
            out.append(gp)
    unit = unit_of(plan, component.measure)
    main: Progress | None = None
    if component.type == "team_pool":
        main = milestone_progress(component, figures.teams, unit=unit, currency=currency)
    elif figures.measure is not None and component.rate_table is not None:
        main = tier_progress(
            component, figures.measure, figures.quota, unit=unit, currency=currency
        )
    elif (
        figures.measure is not None
        and component.curve is not None
        and component.type in ("attainment_bonus",)
    ):
        main = curve_progress(
            component, component.curve, figures.measure, figures.quota, unit=unit, currency=currency
        )
    if main is not None:
        out.append(main)
    return out
