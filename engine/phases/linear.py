"""The column path for tier tables on formula measures with modifiers (no Django, pure).

Contract:

* :func:`linear_plan` says whether a plan is made of *modified tier tables*: ``commission``
  components with a rate table (not prospective, no ``tier_by``) on a sum or formula
  measure of the period, whose formula measures read only sums, counts, KPI values and
  other such formulas (``direct + 0.8 * split``), with optional cap and floor and own-measure
  modifiers (a KPI value, or an attainment, kept between ``min`` and ``max``, on a curve or
  not, before or after the cap) - nothing else (no gate, accelerator, hold, per-transaction
  rule, draw, ramp, plan modifier, seasonality, window or pay on others' pay).
* :func:`linear_rows` works out, for many segments of one such component at once, what
  :func:`engine.rules.commission` and :func:`engine.phases.settle.settle` give each one: the
  earned and paid amounts, attainment and tier of its line, and the canonical text its trace
  is hashed by (``steps|inputs|sentence``, as :func:`engine.phases.result.result_hash` writes
  a trace). The figures are the general rule's own Decimal operations in the same contexts
  (the trace shows 28- and 50-digit Decimals that the general path rounds where it rounds),
  through the same helpers (:func:`engine.rules.tier_terms`, ``modified_and_limited``,
  ``modifier_terms``), so lines and texts are identical by construction - a rounding
  boundary or a pro-rated tier bound needs no fall-back - while the per-segment machinery
  of the general path (``Facts``, ``Outcome``, ``Step`` objects, ``Reward`` and the settle
  book) is not built. A row that would raise (no quota, no KPI value) is left to the general
  path, which raises the same error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from engine.fastpath import settles_plainly, tier_table_measure
from engine.money import ONE, ZERO, quantize
from engine.phases.segments import Segment, prorated_quota
from engine.rules import (
    Factor,
    attainment_of,
    fmt_amount,
    formulas_read,
    modified_and_limited,
    modifier_said,
    modifier_terms,
    scaled_bounds,
    tier_terms,
    tiered_amount,
)
from engine.spec import Component, Plan
from engine.types import Step

_MEASURE_KINDS = frozenset(("sum", "count", "kpi"))


def _formula_measure(plan: Plan, measure_id: str, seen: frozenset[str] = frozenset()) -> bool:
    """Return whether a measure is a sum, count or KPI value, or a formula of only those."""
    m = plan.measures_by_id.get(measure_id)
    if m is None or m.window.over != "period" or measure_id in seen:
        return False
    if m.formula is None:
        return m.aggregate in _MEASURE_KINDS
    return all(_formula_measure(plan, dep, seen | {measure_id}) for dep in m.formula.measures)


def linear_component(plan: Plan, c: Component) -> bool:
    """Return whether ``c`` is a tier table on a sum or formula measure the column path takes."""
    measure = tier_table_measure(plan, c)
    return (
        measure is not None
        and (measure.aggregate == "sum" or measure.formula is not None)
        and _formula_measure(plan, measure.id)
        and c.reserve is None
        and not c.kpis
        and not c.parts
        and all(mod.scope == "self" and _formula_measure(plan, mod.measure) for mod in c.modifiers)
    )


def linear_plan(plan: Plan) -> bool:
    """Return whether every component of ``plan`` is one :func:`linear_component` takes."""
    return (
        settles_plainly(plan)
        and all(m.window.over == "period" for m in plan.measures)
        and all(linear_component(plan, c) for c in plan.components)
    )


@dataclass(frozen=True)
class LinearRows:
    """What :func:`linear_rows` works out: one entry per segment (None: the general path's)."""

    earned: list[Decimal | None]
    """The earned amount quantized like its line."""
    paid: list[Decimal | None]
    """The prior payment quantized (None when none is subtracted)."""
    attainment: list[Decimal | None]
    tier: list[int | None]
    texts: list[str | None]
    """The trace's hashed text after its head: ``steps|inputs|sentence``."""


def _steps_text(steps: Sequence[Step]) -> str:
    return ";".join([f"{s.name}={s.value}#{s.note}" for s in steps])


def linear_rows(
    plan: Plan,
    c: Component,
    segments: Sequence[Segment],
    measure_values: Sequence[Mapping[str, Decimal | None]],
    counts: Sequence[Mapping[str, int]],
    person_quotas: Mapping[str, Mapping[str, Decimal]],
    formula_steps: Mapping[int, Mapping[str, tuple[Step, ...]]],
    formula_sentences: Mapping[int, Mapping[str, str]],
    prior: Mapping[str, Decimal],
) -> LinearRows:
    """Return the lines' figures and traces' texts of component ``c`` on ``segments``.

    ``prior`` is each person's prior payment of this (plan, component).
    """
    assert c.measure is not None
    assert c.rate_table is not None
    table = c.rate_table
    cur, mode = plan.rounding.currency, plan.rounding.mode
    measure = c.measure
    qid = c.quota or measure
    needs_quota = table.basis == "attainment"
    formulas = formulas_read(plan, c, {m.id for m in plan.measures if m.formula is not None})
    mods = list(enumerate(c.modifiers, start=1))
    mod_quotas = [(mod.quota or mod.measure) if mod.of == "attainment" else None for _, mod in mods]
    rounded_note = f"#{mode} to {cur}"
    n = len(segments)
    earned_out: list[Decimal | None] = [None] * n
    paid_out: list[Decimal | None] = [None] * n
    att_out: list[Decimal | None] = [None] * n
    tier_out: list[int | None] = [None] * n
    texts: list[str | None] = [None] * n
    for k, seg in enumerate(segments):
        person = seg.person_key
        values = measure_values[seg.id]
        own = person_quotas.get(person, {})
        value = values.get(measure)
        if value is None:
            value = ZERO
        raw = own.get(qid)
        quota = None if raw is None else prorated_quota(seg, raw, ONE)
        if needs_quota and quota is None:
            continue  # the general rule raises: no quota
        steps: list[Step] = [Step("measure", str(value), measure)]
        n_rows = counts[seg.id].get(measure, 0)
        refs = [f"credits:{person}/{plan.id}/{seg.index}/{measure} ({n_rows} rows)"]
        attainment = None
        if quota is not None:
            attainment = attainment_of(value, quota)
            steps += [
                Step("quota", str(quota), ""),
                Step("attainment", "" if attainment is None else str(attainment), ""),
            ]
            refs.append(f"quota:{person}/{qid}")
        scale = quota if needs_quota and quota is not None else ONE
        bounds = scaled_bounds(table, scale)
        base, slices, tier = tiered_amount(value, table, scale, bounds=bounds)
        text = tier_terms(
            c, table, value, value, scale, bounds, slices, base, attainment, quota, cur, mode, steps
        )
        steps.append(Step("base", str(base), ""))
        if formulas:
            fsteps = formula_steps[seg.id]
            lead = [s for mid in formulas for s in fsteps[mid]]
            sentences = formula_sentences[seg.id]
            said = " ".join([sentences[mid] for mid in formulas])
            steps[:0] = lead
            text = f"{said} {text}" if said else text
        factors: list[Factor] = []
        missing = False
        for (i, mod), mq in zip(mods, mod_quotas, strict=True):
            got = values.get(mod.measure)
            subject = got if mq is None else attainment_of(got, own_quota(seg, own, mq))
            if subject is None:
                missing = True  # the general rule raises: no value
                break
            factor, msteps, words = modifier_terms(mod, subject, "your", i)
            steps += msteps
            refs.append(f"measure:{person}/{mod.measure}")
            factors.append(modifier_said(factor, words, mod, False))
        if missing:
            continue
        earned, _held, limited = modified_and_limited(
            c, factors, base, ZERO, seg.target_incentive, seg.factor, cur, mode, steps
        )
        text = (text + limited).strip()
        steps.append(Step("earned", str(earned), ""))
        rounded = quantize(earned, cur, mode)
        paid = None
        if seg.index == 0:
            before = prior.get(person)
            paid = None if before is None else quantize(before, cur, mode)
        if paid:
            payable = rounded - paid
            steps += [Step("paid_before", str(paid), ""), Step("payable", str(payable), "")]
            text += (
                f" Already paid {fmt_amount(paid, cur, mode)}, "
                f"so {fmt_amount(payable, cur, mode)} "
                "is payable now."
            )
        span = f"{seg.start}..{seg.end}"
        texts[k] = (
            f"segment={span}#node {seg.node_id}, role {seg.role};"
            f"proration_factor={seg.factor}#allocation {seg.allocation};"
            f"{_steps_text(steps)};rounded={rounded}{rounded_note}"
            f"|assignment:{person}/{plan.id},timeline:{person}/{span},{','.join(refs)}|{text}"
        )
        earned_out[k], paid_out[k], att_out[k], tier_out[k] = rounded, paid, attainment, tier
    return LinearRows(earned_out, paid_out, att_out, tier_out, texts)


def own_quota(seg: Segment, own: Mapping[str, Decimal], quota_id: str) -> Decimal | None:
    """Return the segment's pro-rated quota ``quota_id`` (None without one)."""
    raw = own.get(quota_id)
    return None if raw is None else prorated_quota(seg, raw, ONE)
