"""Reward rules: one pure function per component type, plus the settlement rules.

Contract:

* Every rule takes the parsed :class:`~engine.spec.Component`, the :class:`Facts` of one
  (person, plan, segment) and the :class:`Shared` figures of the cross-person reduce phase,
  and returns an :class:`Outcome`: the exact earned amount (a Decimal, *not yet rounded* —
  :mod:`engine.money` rounds it once, on the line), the attainment and tier reached, every
  intermediate figure as a :class:`~engine.types.Step`, the ids of the inputs used, and a
  plain-language sentence.
* Rules never read anything but their arguments; the same arguments give the same outcome.
* Tier conventions (``rate_table.convention``), on tiers ``[from, to)``:

  - ``marginal``: each slice of the measure pays its own tier's rate.
  - ``retroactive``: the whole measure pays the rate of the highest tier reached.
  - ``top_multiplier_on_overage``: the measure up to the end of the first tier pays the
    first tier's rate; everything above it (the overage) pays the rate of the highest tier
    reached. On 0-10k 5 %, 10k-20k 7 %, 20k+ 10 % a measure of 30,000 pays
    10,000 x 5 % + 20,000 x 10 % = 2,500 (marginal 2,200, retroactive 3,000).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final

from engine.conditions import holds, row_holds
from engine.money import ONE, ZERO, RoundingMode, div, mul, quantize
from engine.spec import (
    Component,
    Condition,
    Curve,
    Filter,
    Gate,
    Limit,
    Modifier,
    Plan,
    RateTable,
    Tier,
    earned_measures_read,
)
from engine.types import Period, Step


class RuleError(ValueError):
    """Raised when a rule lacks an input it needs (a quota, a KPI value...)."""


# --------------------------------------------------------------------------- inputs / outputs


@dataclass(frozen=True, slots=True)
class CreditRow:
    """One credit of the segment, as a rule that works per transaction sees it."""

    credit_id: str
    transaction_id: str
    date: dt.date
    amount: Decimal
    transaction_type: str
    kind: str
    share: Decimal = ONE
    collected: bool = True
    attributes: Mapping[str, str] = field(default_factory=dict)
    multiplier: Decimal = ONE
    """The crediting rule's multiplier, already applied to ``amount``."""
    baseline: Decimal = ZERO
    """The baseline the crediting rule took off the transaction before sharing it out."""
    gross: Decimal = ZERO
    """The transaction's amount before the baseline (when there was one)."""

    @property
    def transformed(self) -> bool:
        """Return whether a crediting transform (baseline or multiplier) made this credit."""
        return self.multiplier != ONE or self.baseline != ZERO


@dataclass(frozen=True, slots=True)
class EarnedFigure:
    """An ``aggregate: earned`` measure's value: other payees' earned amounts, by payee.

    ``label`` names it in a sentence ("the team's commissions"); ``payees`` are the
    contributing payees and what each earned, sorted by payee id; ``inputs`` the lines read.
    """

    measure: str
    label: str
    total: Decimal
    payees: tuple[tuple[str, Decimal], ...]
    inputs: tuple[str, ...]

    def steps(self) -> list[Step]:
        """Return one step per contributing payee and the total."""
        return [
            *(step(f"{self.measure}_from_{p}", amount, "earned") for p, amount in self.payees),
            step(self.measure, self.total, f"{len(self.payees)} payee(s)"),
        ]

    def phrase(self, currency: str, mode: RoundingMode) -> str:
        """Return "the team's commissions of 42,000.00 (bob 20,000.00, carol 22,000.00)"."""
        who = ", ".join(f"{p} {fmt_amount(a, currency, mode)}" for p, a in self.payees)
        return (
            f"{self.label} of {fmt_amount(self.total, currency, mode)} "
            f"({who or 'no one earned any'})"
        )


@dataclass(frozen=True, slots=True)
class Facts:
    """What one (person, plan, segment) brings to the reward phase."""

    person_id: str
    plan: Plan
    segment: int
    start: dt.date
    end: dt.date
    node_id: str
    period: Period
    factor: Decimal
    target_incentive: Decimal
    measures: Mapping[str, Decimal | None]
    quotas: Mapping[str, Decimal]
    kpis: Mapping[str, Decimal]
    credit_rows: Callable[[str | None], Sequence[CreditRow]]
    measure_credit_count: Mapping[str, int] = field(default_factory=dict)
    formula_steps: Mapping[str, tuple[Step, ...]] = field(default_factory=dict)
    """Each formula measure's sub-results in plain words (engine.formula)."""
    formula_sentences: Mapping[str, str] = field(default_factory=dict)
    earned: Mapping[str, EarnedFigure] = field(default_factory=dict)
    """The earned measures' figures (pay on others' pay), from the dependency phase."""
    windows: Mapping[str, tuple[Step, str]] = field(default_factory=dict)
    """Each windowed measure's step and words (engine.windows: which periods it counts), to
    the segment's end; under ``@<measure id>`` to the period's end (other holders' figures)."""

    @property
    def currency(self) -> str:
        """Return the currency lines of this plan are paid in."""
        return self.plan.rounding.currency


@dataclass(frozen=True, slots=True)
class PoolShare:
    """A participant's part of a pool worked out in the reduce phase."""

    amount: Decimal
    steps: tuple[Step, ...]
    text: str
    inputs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Shared:
    """Cross-person figures from the reduce phase: other holders' measures, pool shares."""

    holder_measures: Mapping[tuple[str, str, str], tuple[Decimal | None, Decimal | None]] = field(
        default_factory=dict
    )
    """(scope, holder id, measure id) -> (value, quota)."""
    pool_shares: Mapping[tuple[str, str, str, int], PoolShare] = field(default_factory=dict)
    """(plan id, component id, person id, segment) -> share."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a rule decided for one (person, plan, component, segment)."""

    earned: Decimal
    steps: tuple[Step, ...]
    text: str
    inputs: tuple[str, ...] = ()
    attainment: Decimal | None = None
    tier: int | None = None
    held: Decimal = ZERO


# --------------------------------------------------------------------------- formatting


def fmt_amount(value: Decimal, currency: str, mode: RoundingMode) -> str:
    """Return ``value`` for reading, rounded like its line (the plan's mode), with separators."""
    return f"{quantize(value, currency, mode):,f}"


def fmt_number(value: Decimal) -> str:
    """Return ``value`` with thousands separators and no needless trailing zeros."""
    return f"{value.normalize():,f}"


_HUNDREDTH: Final = Decimal("0.01")


def fmt_pct(value: Decimal) -> str:
    """Return a fraction as a percentage: ``Decimal('1.12')`` -> ``112 %``."""
    pct = (value * 100).quantize(_HUNDREDTH).normalize()
    return f"{pct:f} %"


def _s(value: Decimal | int | str | None) -> str:
    """Return the canonical text of a step value."""
    if value is None:
        return ""
    return str(value)


def step(name: str, value: Decimal | int | str | None, note: str = "") -> Step:
    """Return one trace step with a canonical value text (:func:`_s`'s)."""
    return Step(name, "" if value is None else str(value), note)


# --------------------------------------------------------------------------- building blocks


@dataclass(frozen=True, slots=True)
class TierSlice:
    """The part of a measure paid at one tier's rate."""

    tier: int
    portion: Decimal
    rate: Decimal
    pay: Decimal


def tier_reached(value: Decimal, bounds: Sequence[Decimal]) -> int:
    """Return the 1-based tier whose ``[from, to)`` band holds ``value`` (1 below zero)."""
    reached = 1
    for i, start in enumerate(bounds):
        if value >= start:
            reached = i + 1
    return reached


Bounds = tuple[list[Decimal], list[Decimal | None]]
"""A rate table's tier starts and ends x a scale (:func:`scaled_bounds`)."""


def scaled_bounds(table: RateTable, scale: Decimal = ONE) -> Bounds:
    """Return the starts and ends (None: open-ended) of ``table``'s tiers x ``scale``."""
    return (
        [mul(t.start, scale) for t in table.tiers],
        [mul(t.end, scale) if t.end is not None else None for t in table.tiers],
    )


def tiered_amount(
    value: Decimal, table: RateTable, scale: Decimal = ONE, *, bounds: Bounds | None = None
) -> tuple[Decimal, list[TierSlice], int]:
    """Return (amount, slices, tier reached) of ``value`` on ``table`` (bounds x ``scale``).

    A ``prospective`` table depends on the credits' dates: see :func:`prospective_amount`.
    ``bounds`` is :func:`scaled_bounds` of ``table`` and ``scale`` when worked out already.
    """
    if table.convention == "prospective":
        raise ValueError("a prospective rate table pays credit by credit: use prospective_amount")
    tiers: tuple[Tier, ...] = table.tiers
    starts, ends = bounds if bounds is not None else scaled_bounds(table, scale)
    reached = tier_reached(value, starts)
    top = tiers[reached - 1]
    slices: list[TierSlice] = []
    if value <= 0:
        slices.append(TierSlice(1, value, tiers[0].rate, mul(value, tiers[0].rate)))
    elif table.convention == "marginal":
        for i, t in enumerate(tiers):
            lo = starts[i]
            hi = ends[i]
            if value <= lo:
                break
            portion = (min(value, hi) if hi is not None else value) - lo
            if portion > 0:
                slices.append(TierSlice(i + 1, portion, t.rate, mul(portion, t.rate)))
    elif table.convention == "retroactive":
        slices.append(TierSlice(reached, value, top.rate, mul(value, top.rate)))
    else:  # top_multiplier_on_overage
        first_end = ends[0]
        if reached == 1 or first_end is None:
            slices.append(TierSlice(1, value, tiers[0].rate, mul(value, tiers[0].rate)))
        else:
            slices.append(TierSlice(1, first_end, tiers[0].rate, mul(first_end, tiers[0].rate)))
            over = value - first_end
            slices.append(TierSlice(reached, over, top.rate, mul(over, top.rate)))
    return sum((s.pay for s in slices), ZERO), slices, reached


@dataclass(frozen=True, slots=True)
class TierFill:
    """How much of one tier's band ``[start, end)`` the measure fills (for progress bars)."""

    tier: int
    start: Decimal
    end: Decimal | None
    amount: Decimal
    share: Decimal | None
    """amount / band width, from 0 to 1; None for the open-ended last band."""


def tier_fills(
    value: Decimal, table: RateTable, scale: Decimal = ONE, *, bounds: Bounds | None = None
) -> list[TierFill]:
    """Return every tier's fill by ``value`` (bounds x ``scale``): bands fill in order.

    ``bounds`` is :func:`scaled_bounds` of ``table`` and ``scale`` when worked out already.
    """
    out = []
    starts, ends = bounds if bounds is not None else scaled_bounds(table, scale)
    for i, (lo, hi) in enumerate(zip(starts, ends, strict=True)):
        top = value if hi is None else min(value, hi)
        amount = max(ZERO, top - lo)
        share = div(amount, hi - lo) if hi is not None and hi > lo else None
        out.append(TierFill(i + 1, lo, hi, amount, share))
    return out


def prospective_amount(
    rows: Sequence[CreditRow], table: RateTable, scale: Decimal = ONE
) -> tuple[Decimal, list[TierSlice], int, list[tuple[int, dt.date]]]:
    """Return (amount, slices, tier reached, crossings) paying each credit prospectively.

    Credits are taken in date order; a credit earns the rate of the tier the running total
    had reached at the end of the previous day, so a tier's rate applies only to credits
    dated *after* the day the total crossed into it (credits of the crossing day itself earn
    the rate before). ``crossings`` lists (tier, day) for every tier first reached.
    """
    starts = [mul(t.start, scale) for t in table.tiers]
    by_day: dict[dt.date, Decimal] = {}
    for r in rows:
        by_day[r.date] = by_day.get(r.date, ZERO) + r.amount
    total = ZERO
    reached = 1
    portions: dict[int, Decimal] = {}
    crossings: list[tuple[int, dt.date]] = []
    for day in sorted(by_day):
        tier = tier_reached(total, starts)
        portions[tier] = portions.get(tier, ZERO) + by_day[day]
        total += by_day[day]
        now = tier_reached(total, starts)
        if now > reached:
            crossings += [(t, day) for t in range(reached + 1, now + 1)]
            reached = now
    slices = [
        TierSlice(
            t, portions[t], table.tiers[t - 1].rate, mul(portions[t], table.tiers[t - 1].rate)
        )
        for t in sorted(portions)
    ]
    return sum((s.pay for s in slices), ZERO), slices, tier_reached(total, starts), crossings


def _tier_picker(
    table: RateTable, f: Facts, shared: Shared, steps: list[Step], inputs: list[str]
) -> tuple[Decimal, Decimal, str]:
    """Return the value that picks the tier, the bound scale and whose measure it is."""
    by = table.tier_by
    assert by is not None
    holder = f.node_id if by.scope == "node" and by.holder == "own" else by.holder
    value, quota, who, ref = read_measure(by.measure, by.scope, holder, by.quota, f, shared)
    inputs.append(ref)
    steps.append(step("tier_by", value, f"{who} {by.measure}"))
    if value is None:
        raise RuleError(f"person {f.person_id} plan {f.plan.id}: no value for {who} {by.measure}")
    scale = ONE
    if table.basis == "attainment":
        if not quota:
            raise RuleError(
                f"person {f.person_id} plan {f.plan.id}: no quota for {who} {by.measure}"
            )
        scale = quota
        steps.append(step("tier_by_quota", quota))
    return value, scale, f"{who} {by.measure}"


def curve_value(curve: Curve, attainment: Decimal) -> Decimal:
    """Return the payout fraction at ``attainment``: 0 below the first point, linear, flat above."""
    points = curve.points
    if not points or attainment < points[0].attainment:
        return ZERO
    if attainment >= points[-1].attainment:
        return points[-1].payout
    for lo, hi in itertools.pairwise(points):
        if lo.attainment <= attainment < hi.attainment:
            frac = div(attainment - lo.attainment, hi.attainment - lo.attainment)
            return lo.payout + mul(frac, hi.payout - lo.payout)
    return points[-1].payout  # pragma: no cover - the loop always returns


def attainment_of(value: Decimal | None, quota: Decimal | None) -> Decimal | None:
    """Return ``value / quota`` exactly, or None when either is missing or the quota is 0."""
    if value is None or quota is None or quota == 0:
        return None
    return div(value, quota)


def limit_amount(limit: Limit, target_incentive: Decimal, factor: Decimal) -> Decimal:
    """Return a cap/floor in money: an amount pro-rated by ``factor`` or a multiple of TI."""
    if limit.amount is not None:
        return mul(limit.amount, factor)
    return mul(limit.target_multiple or ZERO, target_incentive)


def _quota(f: Facts, quota_id: str | None, measure_id: str, component_id: str) -> Decimal:
    key = quota_id or measure_id
    if key not in f.quotas:
        raise RuleError(
            f"person {f.person_id} plan {f.plan.id} component {component_id}: no quota {key!r}"
        )
    return f.quotas[key]


def _measure(f: Facts, measure_id: str) -> Decimal:
    value = f.measures.get(measure_id)
    return value if value is not None else ZERO


_OP_WORDS: Final = {
    ">=": "at least",
    ">": "more than",
    "<=": "at most",
    "<": "less than",
    "in": "one of",
    "not_in": "none of",
}


def condition_words(cond: Condition, *, pct: bool = False) -> str:
    """Return a numeric condition's test in words: ``at least 10``, ``between 5 and 20``."""
    shown = [fmt_pct(v) if pct else fmt_number(v) for v in cond.operands if isinstance(v, Decimal)]
    if cond.op == "between":
        return f"between {shown[0]} and {shown[1]}"
    if cond.op in ("in", "not_in"):
        return f"{_OP_WORDS[cond.op]} {', '.join(shown)}"
    return f"{_OP_WORDS[cond.op]} {shown[0]}"


def read_measure(
    measure: str,
    scope: str,
    holder: str | None,
    quota_id: str | None,
    f: Facts,
    shared: Shared,
) -> tuple[Decimal | None, Decimal | None, str, str]:
    """Return (value, quota, whose, input ref) of a measure: own, a person's or a node's."""
    if scope == "self":
        return (
            f.measures.get(measure),
            f.quotas.get(quota_id or measure),
            "your",
            f"measure:{f.person_id}/{measure}",
        )
    who = holder or ""
    value, quota = shared.holder_measures.get((scope, who, measure), (None, None))
    return value, quota, f"{scope} {who}'s", f"measure:{scope}:{who}/{measure}"


def modifier_factor(
    mod: Modifier, f: Facts, shared: Shared, index: int
) -> tuple[Decimal, list[Step], str, str]:
    """Return a modifier's factor, its steps, its words and the input it read."""
    value, quota, who, ref = read_measure(mod.measure, mod.scope, mod.holder, mod.quota, f, shared)
    subject = attainment_of(value, quota) if mod.of == "attainment" else value
    if subject is None:
        raise RuleError(
            f"person {f.person_id} plan {f.plan.id}: modifier {index} has no "
            f"{'attainment' if mod.of == 'attainment' else 'value'} for {who} {mod.measure}"
        )
    kept, steps, words = modifier_terms(mod, subject, who, index)
    return kept, steps, words, ref


def modifier_terms(
    mod: Modifier, subject: Decimal, who: str, index: int
) -> tuple[Decimal, list[Step], str]:
    """Return a modifier's factor on ``subject`` (its measure or attainment), steps and words."""
    factor = curve_value(mod.curve, subject) if mod.curve is not None else subject
    kept = factor
    if mod.min is not None:
        kept = max(kept, mod.min)
    if mod.max is not None:
        kept = min(kept, mod.max)
    name = f"modifier_{index}"
    shown = fmt_pct(subject) if mod.of == "attainment" else fmt_number(subject)
    words = f"{who} {mod.measure} {'attainment ' if mod.of == 'attainment' else ''}{shown}"
    if mod.curve is not None:
        words += f" -> x{fmt_number(factor)} on the curve"
    if kept != factor:
        bound = "minimum" if mod.min is not None and kept == mod.min else "maximum"
        words += f", kept at the {bound} x{fmt_number(kept)}"
    steps = [
        step(f"{name}_value", subject, f"{who} {mod.measure} ({mod.of})"),
        step(f"{name}_factor", kept, mod.apply),
    ]
    return kept, steps, words


def gate_passes(gate: Gate, value: Decimal | None, quota: Decimal | None) -> bool:
    """Return whether a gate holds for ``value`` (and its ``quota``): the one test of a gate,
    used by :func:`check_gate` and by the nudges (``engine.nudges``)."""
    if gate.condition is not None:
        subject = attainment_of(value, quota) if gate.of == "attainment" else value
        return holds(gate.condition, subject)
    if gate.min_attainment is not None:
        att = attainment_of(value, quota)
        return att is not None and att >= gate.min_attainment
    return value is not None and value >= (gate.min_value or ZERO)


def check_gate(gate: Gate, f: Facts, shared: Shared) -> tuple[bool, list[Step], str, list[str]]:
    """Return whether ``gate`` holds, its steps, a sentence and the inputs it read."""
    value, quota, who, ref = read_measure(
        gate.measure, gate.scope, gate.holder, gate.quota, f, shared
    )
    steps = [step("gate_value", value, f"{who} {gate.measure}")]
    if gate.condition is not None:
        subject = value
        if gate.of == "attainment":
            subject = attainment_of(value, quota)
            steps += [step("gate_quota", quota), step("gate_attainment", subject)]
        ok = gate_passes(gate, value, quota)
        need = condition_words(gate.condition, pct=gate.of == "attainment")
        got = (
            "no value"
            if subject is None
            else fmt_pct(subject)
            if gate.of == "attainment"
            else fmt_number(subject)
        )
    elif gate.min_attainment is not None:
        att = attainment_of(value, quota)
        steps += [step("gate_quota", quota), step("gate_attainment", att)]
        ok = gate_passes(gate, value, quota)
        need = f"{fmt_pct(gate.min_attainment)} of quota"
        got = fmt_pct(att) if att is not None else "no attainment"
    else:
        ok = gate_passes(gate, value, quota)
        need = fmt_number(gate.min_value or ZERO)
        got = fmt_number(value) if value is not None else "no value"
    steps.append(step("gate_passed", "yes" if ok else "no"))
    verdict = "is met" if ok else "is not met, so this component pays nothing"
    text = f"The gate on {who} {gate.measure} (needs {need}, reached {got}) {verdict}."
    return ok, steps, text, [ref]


def _finish(
    c: Component,
    f: Facts,
    shared: Shared,
    earned: Decimal,
    steps: list[Step],
    text: str,
    inputs: list[str],
    *,
    attainment: Decimal | None = None,
    tier: int | None = None,
    held: Decimal = ZERO,
) -> Outcome:
    """Apply the modifiers, gate, period cap and floor common to every component."""
    cur, mode = f.currency, f.plan.rounding.mode
    if f.formula_steps:
        fsteps, ftext = _formula_trace(c, f)
        steps[:0] = fsteps
        text = f"{ftext} {text}" if ftext else text
    if f.earned:
        esteps, etext, erefs = _earned_trace(c, f)
        steps[:0] = esteps
        inputs += erefs
        text = f"{etext} {text}" if etext else text
    if f.windows:
        wsteps, wtext = _window_trace(c, f)
        steps[:0] = wsteps
        text = f"{wtext} {text}" if wtext else text
    factors: list[Factor] = []
    for i, mod in enumerate([*c.modifiers, *f.plan.modifiers], start=1):
        factor, msteps, words, ref = modifier_factor(mod, f, shared, i)
        steps += msteps
        inputs.append(ref)
        factors.append(modifier_said(factor, words, mod, i > len(c.modifiers)))
    earned, held, said = modified_and_limited(
        c, factors, earned, held, f.target_incentive, f.factor, cur, mode, steps
    )
    text += said
    if c.gate is not None:
        ok, gsteps, gtext, grefs = check_gate(c.gate, f, shared)
        steps += gsteps
        inputs += grefs
        text += " " + gtext
        if not ok:
            earned = ZERO
            held = ZERO
    steps.append(step("earned", earned))
    return Outcome(
        earned=earned,
        steps=tuple(steps),
        text=text.strip(),
        inputs=tuple(inputs),
        attainment=attainment,
        tier=tier,
        held=held,
    )


Factor = tuple[Decimal, str, str]
"""A modifier's factor, its words and when it applies (``before_cap`` / ``after_cap``)."""


def modifier_said(factor: Decimal, words: str, mod: Modifier, of_plan: bool) -> Factor:
    """Return a modifier's factor with the words its sentence says it in."""
    where = "plan" if of_plan else "component"
    order = "after" if mod.apply == "after_cap" else "before"
    return factor, f"{words} (a {where} modifier, {order} the cap)", mod.apply


def modified_and_limited(
    c: Component,
    factors: Sequence[Factor],
    earned: Decimal,
    held: Decimal,
    target_incentive: Decimal,
    proration: Decimal,
    cur: str,
    mode: RoundingMode,
    steps: list[Step],
) -> tuple[Decimal, Decimal, str]:
    """Return (earned, held, words) after the modifiers before the cap, the period cap and
    floor, then the modifiers after it; the cap's and floor's steps are added to ``steps``."""
    text = ""

    def modify(apply: str) -> None:
        nonlocal earned, held, text
        for factor, words, when in factors:
            if when == apply:
                before = earned
                earned, held = mul(earned, factor), mul(held, factor)
                text += (
                    f" {words}: {fmt_amount(before, cur, mode)} x {fmt_number(factor)} = "
                    f"{fmt_amount(earned, cur, mode)}."
                )

    modify("before_cap")
    if c.cap is not None:
        cap = limit_amount(c.cap, target_incentive, proration)
        steps.append(step("cap", cap))
        if earned > cap:
            text += f" Capped at {fmt_amount(cap, cur, mode)}."
            if earned:
                held = mul(held, div(cap, earned))
            earned = cap
    if c.floor is not None:
        floor = limit_amount(c.floor, target_incentive, proration)
        steps.append(step("floor", floor))
        if earned < floor:
            text += f" Raised to the floor of {fmt_amount(floor, cur, mode)}."
            earned = floor
    modify("after_cap")
    return earned, held, text


def formulas_read(plan: Plan, c: Component, present: Container[str]) -> list[str]:
    """Return the formula measures (of ``present``) ``c`` reads, each after those it reads."""
    wanted: list[str] = []

    def add(measure_id: str | None) -> None:
        if measure_id is None or measure_id in wanted or measure_id not in present:
            return
        m = plan.measures_by_id[measure_id]
        for dep in m.formula.measures if m.formula is not None else ():
            add(dep)
        wanted.append(measure_id)

    add(c.measure)
    if c.gate is not None and c.gate.scope == "self":
        add(c.gate.measure)
    for k in c.kpis:
        add(k.measure)
    for p in c.parts:
        if p.scope == "self":
            add(p.measure)
    return wanted


def _formula_trace(c: Component, f: Facts) -> tuple[list[Step], str]:
    """Return the sub-results and sentences of the formula measures ``c`` reads, in order."""
    wanted = formulas_read(f.plan, c, f.formula_steps)
    steps = [s for mid in wanted for s in f.formula_steps[mid]]
    return steps, " ".join(f.formula_sentences[mid] for mid in wanted)


def _earned_trace(c: Component, f: Facts) -> tuple[list[Step], str, list[str]]:
    """Return the steps, sentences and inputs of the earned measures ``c`` reads.

    A flat-rate commission on an earned measure says it in its own sentence ("10 % of the
    team's commissions of 42,000.00 (bob ..., carol ...) = 4,200.00"); others get
    "team_overrides = the team's overrides of 1,200.00 (bob 500.00, carol 700.00)."
    """
    cur, mode = f.currency, f.plan.rounding.mode
    steps: list[Step] = []
    said: list[str] = []
    refs: list[str] = []
    for mid in earned_measures_read(f.plan, c):
        fig = f.earned.get(mid)
        if fig is None or (c.type == "payout_pool" and c.measure == mid):
            continue  # a payout pool's split already says whose earnings make the pool
        steps += fig.steps()
        refs += fig.inputs
        if not _says_earned(c, f, mid):
            said.append(f"{mid} = {fig.phrase(cur, mode)}.")
    return steps, " ".join(said), refs


def _says_earned(c: Component, f: Facts, measure_id: str) -> bool:
    """Return whether ``c``'s own sentence names the earned measure ``measure_id``."""
    return (
        c.type == "commission"
        and c.measure == measure_id
        and c.rate is not None
        and measure_id in f.earned
    )


def _window_trace(c: Component, f: Facts) -> tuple[list[Step], str]:
    """Return the steps and sentences of the windowed measures ``c`` reads (own or others')."""

    def whose(scope: str, holder: str | None) -> str | None:
        if scope == "self":
            return None
        return f"{scope} {f.node_id if holder in (None, 'own') else holder}"

    read: list[tuple[str | None, str | None]] = []
    if c.type == "team_pool":
        read += [(f"node {team}", c.measure) for team in c.teams]
    else:
        read.append((None, c.measure))
    if c.gate is not None:
        read.append((whose(c.gate.scope, c.gate.holder), c.gate.measure))
    read += [(whose(m.scope, m.holder), m.measure) for m in (*c.modifiers, *f.plan.modifiers)]
    read += [(None, k.measure) for k in c.kpis]
    read += [(whose(p.scope, p.node), p.measure) for p in c.parts]
    by = c.rate_table.tier_by if c.rate_table is not None else None
    if by is not None:
        read.append((whose(by.scope, by.holder), by.measure))
    i = 0
    while i < len(read):  # formulas and ratios read the windows of what they are made of
        (who, mid), i = read[i], i + 1
        m = f.plan.measures_by_id.get(mid or "")
        if m is not None and m.formula is not None:
            read += [(who, dep) for dep in m.formula.measures]
        if m is not None and m.aggregate == "ratio":
            read += [(who, m.numerator), (who, m.denominator)]
    steps: list[Step] = []
    said: list[str] = []
    for who, mid in dict.fromkeys(read):
        if mid is None or mid not in f.windows:
            continue
        if who is None:
            got, words = f.windows[mid]
            steps.append(got)
            said.append(f"Your {mid} counts {words}.")
        else:  # another holder's figure counts to the end of the period
            got, words = f.windows[f"@{mid}"]
            steps.append(Step(f"{who.replace(' ', '_')}_{got.name}", got.value, got.note))
            said.append(f"{who}'s {mid} counts {words}.")
    return steps, " ".join(said)


def _credit_ref(f: Facts, measure_id: str) -> str:
    n = f.measure_credit_count.get(measure_id, 0)
    return f"credits:{f.person_id}/{f.plan.id}/{f.segment}/{measure_id} ({n} rows)"


def transform_note(
    rows: Sequence[CreditRow], measure_id: str, currency: str, mode: RoundingMode
) -> tuple[tuple[Step, ...], str]:
    """Return the steps and sentence saying how crediting transforms made a measure's credits.

    Empty when no credit of ``rows`` was transformed; else one step per transformed credit
    (``credit_transform:<transaction>``) and one sentence, e.g. "In bookings, t1 counts
    2,000.00 above its baseline of 10,000.00 (of 12,000.00); t2 counts 1.25 x its credit."
    """
    picked = [r for r in rows if r.transformed]
    if not picked:
        return (), ""
    steps: list[Step] = []
    parts: list[str] = []
    for r in sorted(picked, key=lambda r: (r.date, r.credit_id)):
        words = []
        if r.baseline != ZERO:
            above = r.gross - r.baseline if r.gross > r.baseline else ZERO
            gross = fmt_amount(r.gross, currency, mode)
            words.append(
                f"only the {fmt_amount(above, currency, mode)} above its baseline of "
                f"{fmt_amount(r.baseline, currency, mode)} (of {gross})"
            )
        if r.share != ONE and r.baseline != ZERO:
            words.append(f"{fmt_pct(r.share)} of it")
        if r.multiplier != ONE:
            words.append(f"times {fmt_number(r.multiplier)}")
        text = ", ".join(words)
        parts.append(f"{r.transaction_id} counts {fmt_amount(r.amount, currency, mode)}: {text}")
        steps.append(step(f"credit_transform:{r.transaction_id}", r.amount, text))
    return tuple(steps), f"In {measure_id}, " + "; ".join(parts) + "."


# --------------------------------------------------------------------------- component rules


def tier_terms(
    c: Component,
    table: RateTable,
    value: Decimal,
    picker: Decimal,
    scale: Decimal,
    bounds: Bounds | None,
    slices: Sequence[TierSlice],
    base: Decimal,
    attainment: Decimal | None,
    quota: Decimal | None,
    cur: str,
    mode: RoundingMode,
    steps: list[Step],
) -> str:
    """Return a rate table's sentence; its slices' and fills' steps are added to ``steps``."""
    steps.extend(
        step(f"tier_{s.tier}", s.pay, f"{fmt_number(s.portion)} at {s.rate}") for s in slices
    )
    for band in tier_fills(picker, table, scale, bounds=bounds):
        where = (
            f"{fmt_pct(band.share)} of {fmt_number(band.start)}..{fmt_number(band.end)}"
            if band.share is not None and band.end is not None
            else f"from {fmt_number(band.start)}, open-ended"
        )
        steps.append(step(f"tier_{band.tier}_fill", band.amount, where))
    parts = " + ".join(f"{fmt_amount(s.portion, cur, mode)} at {fmt_pct(s.rate)}" for s in slices)
    head = (
        f"You reached {fmt_pct(attainment)} of a {fmt_amount(quota, cur, mode)} quota: "
        if attainment is not None and quota is not None
        else f"Your {c.measure} is {fmt_amount(value, cur, mode)}: "
    )
    return f"{head}{parts} = {fmt_amount(base, cur, mode)} ({table.convention} tiers)."


def commission(c: Component, f: Facts, shared: Shared) -> Outcome:
    """Return the commission: a rate, rates by type, a flat amount per unit, or a rate table."""
    assert c.measure is not None
    cur, mode = f.currency, f.plan.rounding.mode
    value = _measure(f, c.measure)
    steps = [step("measure", value, c.measure)]
    # An earned measure has no credits: its figure lists the lines it read (_earned_trace).
    inputs = [] if c.measure in f.earned else [_credit_ref(f, c.measure)]
    attainment: Decimal | None = None
    tier: int | None = None
    needs_quota = (
        (
            c.rate_table is not None
            and c.rate_table.basis == "attainment"
            and c.rate_table.tier_by is None
        )
        or c.accelerator is not None
        or c.decelerator is not None
    )
    quota: Decimal | None = None
    if needs_quota or (c.quota or c.measure) in f.quotas:
        quota = (
            _quota(f, c.quota, c.measure, c.id) if needs_quota else f.quotas[c.quota or c.measure]
        )
        attainment = attainment_of(value, quota)
        steps += [step("quota", quota), step("attainment", attainment)]
        inputs.append(f"quota:{f.person_id}/{c.quota or c.measure}")
    held = ZERO
    per_credit = (
        c.per_transaction_cap is not None
        or c.per_transaction_floor is not None
        or c.rate_by_type
        or c.per_unit is not None
        or c.hold_until_collected
    )
    if c.rate_table is not None:
        scale = quota if c.rate_table.basis == "attainment" and quota is not None else ONE
        picker = value
        crossed = ""
        bounds: Bounds | None = None
        if c.rate_table.tier_by is not None:
            picker, scale, who = _tier_picker(c.rate_table, f, shared, steps, inputs)
            tier = tier_reached(picker, [mul(t.start, scale) for t in c.rate_table.tiers])
            rate = c.rate_table.tiers[tier - 1].rate
            base = mul(value, rate)
            slices = [TierSlice(tier, value, rate, base)]
            crossed = (
                f"{who} of {fmt_number(picker)} reaches tier {tier} "
                f"(from {fmt_number(mul(c.rate_table.tiers[tier - 1].start, scale))}), "
                f"so your {c.measure} pays {fmt_pct(rate)}. "
            )
        elif c.rate_table.convention == "prospective":
            base, slices, tier, crossings = prospective_amount(
                f.credit_rows(c.measure), c.rate_table, scale
            )
            for t, day in crossings:
                steps.append(step(f"crossed_tier_{t}", day.isoformat()))
            crossed = "".join(
                f"You crossed into tier {t} on {day}: credits dated after it earn "
                f"{fmt_pct(c.rate_table.tiers[t - 1].rate)}. "
                for t, day in crossings
            )
        else:
            bounds = scaled_bounds(c.rate_table, scale)  # the same for the fills below
            base, slices, tier = tiered_amount(value, c.rate_table, scale, bounds=bounds)
        text = crossed + tier_terms(
            c,
            c.rate_table,
            value,
            picker,
            scale,
            bounds,
            slices,
            base,
            attainment,
            quota,
            cur,
            mode,
            steps,
        )
        if c.hold_until_collected:
            rows = [r for r in f.credit_rows(c.measure) if not r.collected]
            uncollected = sum((r.amount for r in rows), ZERO)
            if value:
                held = mul(base, div(uncollected, value))
    elif per_credit:
        rows = list(f.credit_rows(c.measure))
        rates = dict(c.rate_by_type)
        base = gross = cut = lift = ZERO
        capped = floored = 0
        for r in rows:
            if c.per_unit is not None:
                pay = mul(c.per_unit, r.share)
            else:
                rate = c.rate if c.rate is not None else rates.get(r.transaction_type, ZERO)
                pay = mul(r.amount, rate)
            gross += pay
            if c.per_transaction_cap is not None and pay > c.per_transaction_cap:
                cut += pay - c.per_transaction_cap
                pay = c.per_transaction_cap
                capped += 1
            if c.per_transaction_floor is not None and pay < c.per_transaction_floor:
                lift += c.per_transaction_floor - pay
                pay = c.per_transaction_floor
                floored += 1
            base += pay
            if not r.collected:
                held += pay
        if not c.hold_until_collected:
            held = ZERO
        if c.per_unit is not None:
            units = sum((r.share for r in rows), ZERO)
            steps.append(step("units", units))
            noun = "unit" if units == 1 else "units"
            text = f"{fmt_number(units)} {noun} at {fmt_amount(c.per_unit, cur, mode)} each"
        elif c.rate_by_type:
            by_type: dict[str, Decimal] = {}
            for r in rows:
                by_type[r.transaction_type] = by_type.get(r.transaction_type, ZERO) + r.amount
            pieces = []
            for ttype in sorted(by_type):
                rate = rates.get(ttype, ZERO)
                steps.append(step(f"type_{ttype}", by_type[ttype], f"at {rate}"))
                pieces.append(f"{fmt_amount(by_type[ttype], cur, mode)} {ttype} at {fmt_pct(rate)}")
            text = " + ".join(pieces) or f"{fmt_amount(ZERO, cur, mode)}"
        else:
            text = f"{fmt_amount(value, cur, mode)} at {fmt_pct(c.rate or ZERO)}"
        limits = []
        if c.per_transaction_cap is not None:
            steps.append(step("per_transaction_cap", c.per_transaction_cap, f"{capped} capped"))
            limits.append(
                f"at most {fmt_amount(c.per_transaction_cap, cur, mode)} per transaction: "
                f"{capped} of {len(rows)} capped"
                + (f" (-{fmt_amount(cut, cur, mode)})" if capped else "")
            )
        if c.per_transaction_floor is not None:
            steps.append(
                step("per_transaction_floor", c.per_transaction_floor, f"{floored} raised")
            )
            limits.append(
                f"at least {fmt_amount(c.per_transaction_floor, cur, mode)} per transaction: "
                f"{floored} of {len(rows)} raised"
                + (f" (+{fmt_amount(lift, cur, mode)})" if floored else "")
            )
        if limits:
            text += f" = {fmt_amount(gross, cur, mode)}; {'; '.join(limits)}"
        text += f" = {fmt_amount(base, cur, mode)}."
    else:
        rate = c.rate or ZERO
        base = mul(value, rate)
        steps.append(step("rate", rate))
        text = (
            f"{fmt_amount(value, cur, mode)} {c.measure} at {fmt_pct(rate)} = "
            f"{fmt_amount(base, cur, mode)}."
        )
        if _says_earned(c, f, c.measure):
            text = (
                f"{fmt_pct(rate)} of {f.earned[c.measure].phrase(cur, mode)} = "
                f"{fmt_amount(base, cur, mode)}."
            )
    steps.append(step("base", base))
    earned = base
    if value > 0 and quota is not None and (c.accelerator or c.decelerator):
        eff_rate = div(base, value)
        steps.append(step("effective_rate", eff_rate))
        if c.accelerator is not None:
            threshold = mul(c.accelerator.attainment, quota)
            over = max(ZERO, value - threshold)
            extra = mul(mul(over, eff_rate), c.accelerator.multiplier - ONE)
            steps.append(step("accelerator", extra, f"{fmt_number(over)} above {threshold}"))
            if over > 0:
                text += (
                    f" The {fmt_amount(over, cur, mode)} above {fmt_pct(c.accelerator.attainment)} "
                    f"of quota pays x{fmt_number(c.accelerator.multiplier)}: "
                    f"+{fmt_amount(extra, cur, mode)}."
                )
            earned += extra
        if c.decelerator is not None:
            threshold = mul(c.decelerator.attainment, quota)
            under = min(value, threshold)
            less = mul(mul(under, eff_rate), c.decelerator.multiplier - ONE)
            steps.append(step("decelerator", less, f"{fmt_number(under)} below {threshold}"))
            if under > 0 and less:
                text += (
                    f" The {fmt_amount(under, cur, mode)} below "
                    f"{fmt_pct(c.decelerator.attainment)} "
                    f"of quota pays x{fmt_number(c.decelerator.multiplier)}: "
                    f"{fmt_amount(less, cur, mode)}."
                )
            earned += less
    if held:
        steps.append(step("held", held, "on transactions not yet collected"))
        text += f" {fmt_amount(held, cur, mode)} is held until the cash is collected."
    return _finish(
        c, f, shared, earned, steps, text, inputs, attainment=attainment, tier=tier, held=held
    )


def attainment_bonus(c: Component, f: Facts, shared: Shared) -> Outcome:
    """Return target incentive x curve(attainment): nothing below threshold, capped at stretch."""
    assert c.measure is not None
    assert c.curve is not None
    cur, mode = f.currency, f.plan.rounding.mode
    value = _measure(f, c.measure)
    quota = _quota(f, c.quota, c.measure, c.id)
    att = attainment_of(value, quota) or ZERO
    payout = curve_value(c.curve, att)
    earned = mul(payout, f.target_incentive)
    steps = [
        step("measure", value, c.measure),
        step("quota", quota),
        step("attainment", att),
        step("curve_payout", payout),
        step("target_incentive", f.target_incentive),
    ]
    text = (
        f"You reached {fmt_pct(att)} of a {fmt_amount(quota, cur, mode)} quota, which pays "
        f"{fmt_pct(payout)} of your {fmt_amount(f.target_incentive, cur, mode)} target incentive = "
        f"{fmt_amount(earned, cur, mode)}."
    )
    if att < c.curve.points[0].attainment:
        text += f" Below the {fmt_pct(c.curve.points[0].attainment)} threshold nothing is paid."
    inputs = [_credit_ref(f, c.measure), f"quota:{f.person_id}/{c.quota or c.measure}"]
    return _finish(c, f, shared, earned, steps, text, inputs, attainment=att)


def _kpi_attainment(value: Decimal, target: Decimal, direction: str) -> Decimal:
    if direction == "lower_is_better":
        return div(target, value) if value else ZERO
    return div(value, target)


def kpi_bonus(c: Component, f: Facts, shared: Shared) -> Outcome:
    """Return target incentive x sum(weight x curve(KPI attainment)), subject to a KPI gate."""
    cur, mode = f.currency, f.plan.rounding.mode
    steps: list[Step] = []
    pieces = []
    inputs = []
    score = ZERO
    atts: dict[str, Decimal] = {}
    for k in c.kpis:
        value = f.measures.get(k.measure)
        if value is None:
            # No value (a ratio over zero, a missing KPI): this KPI scores nothing, and says so.
            atts[k.measure] = ZERO
            steps.append(step(f"{k.measure}_payout", ZERO, f"{k.measure} has no value"))
            inputs.append(f"measure:{f.person_id}/{k.measure}")
            pieces.append(f"{k.measure} has no value -> 0 % x {fmt_pct(k.weight)}")
            continue
        target = k.target if k.target is not None else _quota(f, None, k.measure, c.id)
        att = _kpi_attainment(value, target, k.direction)
        atts[k.measure] = att
        payout = curve_value(k.curve, att)
        score += mul(k.weight, payout)
        steps += [
            step(f"{k.measure}_value", value),
            step(f"{k.measure}_target", target),
            step(f"{k.measure}_attainment", att),
            step(f"{k.measure}_payout", payout, f"weight {k.weight}"),
        ]
        inputs.append(f"measure:{f.person_id}/{k.measure}")
        pieces.append(f"{k.measure} {fmt_pct(att)} -> {fmt_pct(payout)} x {fmt_pct(k.weight)}")
    steps.append(step("weighted_score", score))
    earned = mul(score, f.target_incentive)
    text = (
        f"{'; '.join(pieces)}: weighted score {fmt_pct(score)} of "
        f"{fmt_amount(f.target_incentive, cur, mode)} = {fmt_amount(earned, cur, mode)}."
    )
    if c.kpi_gate is not None:
        got = score if c.kpi_gate.on == "weighted_total" else atts[c.kpi_gate.on]
        ok = got >= c.kpi_gate.min
        steps.append(step("kpi_gate_passed", "yes" if ok else "no", c.kpi_gate.on))
        label = "weighted score" if c.kpi_gate.on == "weighted_total" else c.kpi_gate.on
        text += (
            f" The gate needs {label} of at least {fmt_pct(c.kpi_gate.min)} "
            f"({fmt_pct(got)}): {'met' if ok else 'not met, nothing is paid'}."
        )
        if not ok:
            earned = ZERO
    return _finish(c, f, shared, earned, steps, text, inputs, attainment=score)


OBJECTIVE_KPI: Final = "objective"
"""The KPI names a person's own objectives ride in on (``payouts.inputs`` writes them): per
objective ``objective:<plan key>:<component id>:<objective id>:weight`` (a fraction) and, once
signed off, ``...:completion`` (a fraction)."""


def objective_kpi(plan: str, component: str, objective: str, part: str) -> str:
    """Return the KPI name of one part (``weight`` or ``completion``) of a person's objective."""
    return f"{OBJECTIVE_KPI}:{plan}:{component}:{objective}:{part}"


def own_objectives(f: Facts, c: Component) -> list[tuple[str, Decimal, Decimal | None]]:
    """Return the person's own objectives of an mbo component: (id, weight, signed-off
    completion or None), in id order; empty when they have none (the spec's list applies)."""
    prefix = f"{OBJECTIVE_KPI}:{f.plan.id}:{c.id}:"
    weights: dict[str, Decimal] = {}
    done: dict[str, Decimal] = {}
    for name, value in f.kpis.items():
        if not name.startswith(prefix):
            continue
        oid, _, part = name[len(prefix) :].rpartition(":")
        if part == "weight":
            weights[oid] = value
        elif part == "completion":
            done[oid] = value
    order = sorted(weights, key=lambda k: (len(k), k))
    return [(oid, weights[oid], done.get(oid)) for oid in order]


def mbo(c: Component, f: Facts, shared: Shared) -> Outcome:
    """Return target incentive x sum(weight x min(completion, max_completion)) of objectives:
    the person's own agreed objectives when they have any (an objective not signed off counts
    as 0 % complete), else the spec's, completed by KPI values of the objective ids."""
    cur, mode = f.currency, f.plan.rounding.mode
    steps: list[Step] = []
    score = ZERO
    pieces = []
    own = own_objectives(f, c)
    inputs: list[str] = []
    for oid, weight, completion in own:
        inputs.append(f"kpi:{f.person_id}/{objective_kpi(f.plan.id, c.id, oid, 'weight')}")
        if completion is None:
            steps.append(
                step(f"objective_{oid}_completion", ZERO, f"weight {weight}, not signed off")
            )
            pieces.append(f"objective {oid} not signed off -> 0 % x {fmt_pct(weight)}")
            continue
        used = min(completion, c.max_completion)
        score += mul(weight, used)
        steps.append(
            step(f"objective_{oid}_completion", completion, f"weight {weight}, used {used}")
        )
        pieces.append(f"objective {oid} {fmt_pct(used)} x {fmt_pct(weight)}")
        inputs.append(f"kpi:{f.person_id}/{objective_kpi(f.plan.id, c.id, oid, 'completion')}")
    for o in () if own else c.objectives:
        completion = f.kpis.get(o.id)
        if completion is None:
            raise RuleError(f"person {f.person_id} component {c.id}: no completion for {o.id!r}")
        used = min(completion, c.max_completion)
        score += mul(o.weight, used)
        steps.append(step(f"{o.id}_completion", completion, f"weight {o.weight}, used {used}"))
        pieces.append(f"{o.id} {fmt_pct(used)} x {fmt_pct(o.weight)}")
        inputs.append(f"kpi:{f.person_id}/{o.id}")
    earned = mul(score, f.target_incentive)
    steps.append(step("score", score))
    text = (
        f"Objectives {'; '.join(pieces)} = {fmt_pct(score)} of "
        f"{fmt_amount(f.target_incentive, cur, mode)} = {fmt_amount(earned, cur, mode)}."
    )
    return _finish(c, f, shared, earned, steps, text, inputs, attainment=score)


def hybrid(c: Component, f: Facts, shared: Shared) -> Outcome:
    """Return target incentive x sum(weight x curve(attainment of each part))."""
    assert c.curve is not None
    cur, mode = f.currency, f.plan.rounding.mode
    steps: list[Step] = []
    pieces = []
    inputs = []
    score = ZERO
    for i, p in enumerate(c.parts):
        if p.scope == "self":
            value: Decimal | None = _measure(f, p.measure)
            quota: Decimal | None = _quota(f, p.quota, p.measure, c.id)
            who = "your"
            inputs.append(f"measure:{f.person_id}/{p.measure}")
        else:
            node = f.node_id if p.node in (None, "own") else p.node or ""
            value, quota = shared.holder_measures.get(("node", node, p.measure), (None, None))
            who = f"node {node}"
            inputs.append(f"measure:node:{node}/{p.measure}")
        att = attainment_of(value, quota) or ZERO
        payout = curve_value(c.curve, att)
        score += mul(p.weight, payout)
        steps += [
            step(f"part_{i + 1}_value", value, f"{who} {p.measure}"),
            step(f"part_{i + 1}_quota", quota),
            step(f"part_{i + 1}_attainment", att),
            step(f"part_{i + 1}_payout", payout, f"weight {p.weight}"),
        ]
        pieces.append(
            f"{fmt_pct(p.weight)} on {who} attainment {fmt_pct(att)} -> {fmt_pct(payout)}"
        )
    earned = mul(score, f.target_incentive)
    steps.append(step("score", score))
    text = (
        f"{'; '.join(pieces)}: {fmt_pct(score)} of {fmt_amount(f.target_incentive, cur, mode)} = "
        f"{fmt_amount(earned, cur, mode)}."
    )
    return _finish(c, f, shared, earned, steps, text, inputs, attainment=score)


def _pool_rule(c: Component, f: Facts, shared: Shared) -> Outcome:
    share = shared.pool_shares.get((f.plan.id, c.id, f.person_id, f.segment))
    if share is None:
        return _finish(
            c,
            f,
            shared,
            ZERO,
            [step("pool_share", ZERO)],
            "You are not a participant of this pool.",
            [],
        )
    return _finish(c, f, shared, share.amount, list(share.steps), share.text, list(share.inputs))


def team_pool(c: Component, f: Facts, shared: Shared) -> Outcome:
    """Return this person's share of a team pool that pays only when every team hits its goal."""
    return _pool_rule(c, f, shared)


def profit_share(c: Component, f: Facts, shared: Shared) -> Outcome:
    """Return this person's share of a pool funded by a share of profit."""
    return _pool_rule(c, f, shared)


def gainshare(c: Component, f: Facts, shared: Shared) -> Outcome:
    """Return this person's share of a pool funded by a share of savings against a baseline."""
    return _pool_rule(c, f, shared)


def payout_pool(c: Component, f: Facts, shared: Shared) -> Outcome:
    """Return this person's share of a pool funded by a share of other payees' earnings."""
    return _pool_rule(c, f, shared)


def credit_matches(row: CreditRow, flt: Filter) -> bool:
    """Return whether one credit passes a filter (types, attributes, kinds, conditions)."""
    if flt.transaction_types and row.transaction_type not in flt.transaction_types:
        return False
    if flt.credit_kinds and row.kind not in flt.credit_kinds:
        return False
    return all(row.attributes.get(key) in values for key, values in flt.attributes) and all(
        row_holds(cond, row.amount, row.date, row.attributes) for cond in flt.conditions
    )


def spif(c: Component, f: Facts, shared: Shared) -> Outcome:
    """Return a flat amount per qualifying event in the window, every time or once per period."""
    assert c.window is not None
    assert c.amount is not None
    cur, mode = f.currency, f.plan.rounding.mode
    rows = [
        r
        for r in f.credit_rows(None)
        if credit_matches(r, c.filter)
        and c.window.start <= r.date < c.window.end
        and r.kind != "rollup"
    ]
    events = len({r.transaction_id for r in rows})
    paid = min(events, 1) if c.frequency == "once_per_period" else events
    earned = mul(c.amount, Decimal(paid))
    steps = [
        step("qualifying_events", events),
        step("paid_events", paid, c.frequency),
        step("amount_per_event", c.amount),
    ]
    text = (
        f"{events} qualifying event(s) between {c.window.start} and {c.window.end}"
        f"{' (paid once per period)' if c.frequency == 'once_per_period' else ''}: "
        f"{paid} x {fmt_amount(c.amount, cur, mode)} = {fmt_amount(earned, cur, mode)}."
    )
    inputs = [f"transaction:{r.transaction_id}" for r in sorted(rows, key=lambda r: r.credit_id)]
    return _finish(c, f, shared, earned, steps, text, inputs)


def retention_bonus(c: Component, f: Facts, shared: Shared) -> Outcome:
    """Return a flat amount per account that reached exactly ``months`` of retention this period."""
    assert c.months is not None
    assert c.amount is not None
    cur, mode = f.currency, f.plan.rounding.mode
    rows = [
        r
        for r in f.credit_rows(None)
        if credit_matches(r, c.filter)
        and r.kind != "rollup"
        and r.attributes.get(c.months_attribute) == str(c.months)
    ]
    accounts = len({r.transaction_id for r in rows})
    earned = mul(c.amount, Decimal(accounts))
    steps = [
        step("accounts_retained", accounts, f"{c.months} months"),
        step("amount_per_account", c.amount),
    ]
    text = (
        f"{accounts} account(s) reached {c.months} months retained: {accounts} x "
        f"{fmt_amount(c.amount, cur, mode)} = {fmt_amount(earned, cur, mode)}."
    )
    inputs = [f"transaction:{r.transaction_id}" for r in sorted(rows, key=lambda r: r.credit_id)]
    return _finish(c, f, shared, earned, steps, text, inputs)


def fixed_pay(c: Component, f: Facts, shared: Shared) -> Outcome:
    """Return a fixed amount per period (salary, stipend), pro-rated like the target incentive."""
    assert c.amount is not None
    cur, mode = f.currency, f.plan.rounding.mode
    earned = mul(c.amount, f.factor)
    steps = [step("amount_per_period", c.amount), step("proration", f.factor)]
    text = (
        f"Fixed pay of {fmt_amount(c.amount, cur, mode)} a period"
        + (
            f" x {fmt_pct(f.factor)} (the part of the period on the plan)"
            if f.factor != ONE
            else ""
        )
        + f" = {fmt_amount(earned, cur, mode)}."
    )
    return _finish(c, f, shared, earned, steps, text, [])


RULES: Final[dict[str, Callable[[Component, Facts, Shared], Outcome]]] = {
    "commission": commission,
    "attainment_bonus": attainment_bonus,
    "kpi_bonus": kpi_bonus,
    "mbo": mbo,
    "hybrid": hybrid,
    "team_pool": team_pool,
    "spif": spif,
    "profit_share": profit_share,
    "gainshare": gainshare,
    "retention_bonus": retention_bonus,
    "fixed_pay": fixed_pay,
    "payout_pool": payout_pool,
}


def evaluate(c: Component, f: Facts, shared: Shared) -> Outcome:
    """Return the outcome of component ``c`` for one segment, dispatching on its type."""
    return RULES[c.type](c, f, shared)


# --------------------------------------------------------------------------- settlement rules


@dataclass(frozen=True, slots=True)
class DrawOutcome:
    """Draw or guarantee top-up (>= 0), recovery (>= 0) and the balance carried forward."""

    top_up: Decimal
    recovery: Decimal
    balance: Decimal
    steps: tuple[Step, ...]
    text: str


def settle_draw(
    payable: Decimal,
    draw_amount: Decimal,
    recoverable: bool,
    balance: Decimal,
    max_recovery: Decimal | None,
    currency: str,
    mode: RoundingMode,
) -> DrawOutcome:
    """Return the draw top-up or recovery for a period's payable and the new balance.

    Below the draw the payee is topped up to it; a recoverable top-up is added to the balance.
    Above it, a recoverable balance is recovered from the excess over the draw, at most
    ``max_recovery`` per period.
    """
    steps = [
        step("payable_before_draw", payable),
        step("draw", draw_amount),
        step("balance_before", balance),
    ]
    top_up = recovery = ZERO
    if payable < draw_amount:
        top_up = draw_amount - payable
        if recoverable:
            balance += top_up
        text = (
            f"You earned {fmt_amount(payable, currency, mode)}, below your "
            f"{'recoverable' if recoverable else 'non-recoverable'} draw of "
            f"{fmt_amount(draw_amount, currency, mode)}: it is topped up by "
            f"{fmt_amount(top_up, currency, mode)}"
        )
        text += (
            f", carried forward as a balance of {fmt_amount(balance, currency, mode)}."
            if recoverable
            else "."
        )
    elif recoverable and balance > 0:
        recovery = min(balance, payable - draw_amount)
        if max_recovery is not None:
            recovery = min(recovery, max_recovery)
        balance -= recovery
        text = (
            f"You earned {fmt_amount(payable, currency, mode)}, above your draw of "
            f"{fmt_amount(draw_amount, currency, mode)}: "
            f"{fmt_amount(recovery, currency, mode)} of the "
            f"draw balance is recovered, leaving {fmt_amount(balance, currency, mode)}."
        )
    else:
        text = (
            f"You earned {fmt_amount(payable, currency, mode)}, at or above your draw of "
            f"{fmt_amount(draw_amount, currency, mode)}: no top-up."
        )
    steps += [step("top_up", top_up), step("recovery", recovery), step("balance_after", balance)]
    return DrawOutcome(top_up, recovery, balance, tuple(steps), text)


def clawback_amount(amount: Decimal, rate: Decimal, share: Decimal = ONE) -> Decimal:
    """Return the (negative) clawback of ``share`` of a reversed credit at its original rate."""
    return -mul(mul(amount, rate), share)


def months_counted(start: dt.date, end: dt.date, mid_month_day: int) -> int:
    """Return the calendar months whose day ``mid_month_day`` falls in ``[start, end)``."""
    count = 0
    year, month = start.year, start.month
    while dt.date(year, month, 1) < end:
        if start <= dt.date(year, month, mid_month_day) < end:
            count += 1
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return count


def proration_factor(
    policy: str,
    days: int,
    period_days: int,
    allocation: Decimal,
    months: tuple[int, int] = (0, 0),
) -> tuple[Decimal, Decimal]:
    """Return the pro-ration factor of a segment under ``policy`` as (numerator, denominator).

    Kept as a fraction so that ``amount x numerator / denominator`` is exact whenever the
    result is a whole number of ten-thousandths (17/31 is not a finite decimal). ``months``
    is (months the segment counts, months of the period) for the months policies.
    """
    if policy in ("months", "months_x_allocation"):
        counted, total = months
        num = Decimal(counted) if policy == "months" else mul(Decimal(counted), allocation)
        return num, Decimal(max(total, 1))
    if policy == "none":
        return ONE, ONE
    if policy == "allocation":
        return allocation, ONE
    if policy == "days":
        return Decimal(days), Decimal(period_days)
    return mul(Decimal(days), allocation), Decimal(period_days)
