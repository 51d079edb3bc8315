"""Phase 4, reward (map, chunkable by person): one rule per (segment, component).

Contract: :func:`reward_phase` evaluates every component of every segment's plan with exact
Decimals (nothing rounded) and returns :class:`Reward` rows in segment then component order.
``plain_figures`` is the canonical text a plain tier table's trace is hashed by.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from engine import measures as ms
from engine import windows
from engine.crediting import TRANSFORM_COLUMNS
from engine.fastpath import plain_plan
from engine.money import (
    ONE,
    from_e4,
    to_decimal,
)
from engine.periods import (
    from_day_number,
)
from engine.phases.measure import MeasureState
from engine.phases.segments import Segment, prorated_quota, quota_tables, seasons
from engine.rules import (
    CreditRow,
    Facts,
    Outcome,
    Shared,
    evaluate,
    transform_note,
)
from engine.spec import Component, Plan
from engine.types import (
    CREDIT_COLUMNS,
    Inputs,
    Step,
)

STANDARD_CREDIT_COLUMNS = frozenset(
    (
        *CREDIT_COLUMNS,
        "rule_id",
        "share_ppm",
        "collected",
        "share",
        "currency",
        "credits_n",
        *TRANSFORM_COLUMNS,
    )
)


@dataclass(frozen=True, slots=True)
class Reward:
    """One rule's outcome for one (segment, component)."""

    segment: Segment
    component: Component
    outcome: Outcome
    figures: str | None = None
    """The canonical figures of a plain tier table's trace (see :func:`plain_figures`)."""


class CreditColumns:
    """The measure state's credits as plain Python columns, built once per state when a rule
    first reads credit rows (not once per segment: a pandas ``iloc`` and a ``tolist`` of every
    column per segment cost more than the rows themselves)."""

    def __init__(self, state: MeasureState) -> None:
        self.state = state
        self._built: dict[str, Any] | None = None

    def columns(self) -> dict[str, Any]:
        """Return the columns (built on the first call)."""
        if self._built is None:
            self._built = self._build()
        return self._built

    def _build(self) -> dict[str, Any]:
        credits = self.state.credits
        n = len(credits)

        def texts(name: str) -> list[str]:
            return [str(v) for v in credits[name].tolist()]

        extra = [c for c in credits.columns if c not in STANDARD_CREDIT_COLUMNS]
        attrs: list[tuple[str, list[Any]]] = []
        for c in extra:
            values = credits[c].tolist()
            missing = pd.isna(credits[c]).to_numpy().tolist()
            attrs.append((c, [None if m else str(v) for v, m in zip(values, missing, strict=True)]))
        transformed = "multiplier" in credits.columns
        return {
            "credit_id": texts("credit_id"),
            "transaction_id": texts("transaction_id"),
            "amount_e4": credits["amount_e4"].tolist(),
            "transaction_type": credits["transaction_type"].astype(str).tolist(),
            "kind": credits["kind"].astype(str).tolist(),
            "days": self.state.credit_days.tolist(),
            "shares": (
                credits["share_ppm"].tolist() if "share_ppm" in credits.columns else [1_000_000] * n
            ),
            "collected": (
                credits["collected"].tolist() if "collected" in credits.columns else [True] * n
            ),
            "attrs": attrs,
            "transformed": transformed,
            "factors": credits["multiplier"].tolist() if transformed else [],
            "bases": credits["baseline_e4"].tolist() if "baseline_e4" in credits.columns else [],
            "grosses": credits["gross_e4"].tolist() if "gross_e4" in credits.columns else [],
        }


def row_builder(
    state: MeasureState, plan: Plan, seg: Segment, columns: CreditColumns | None = None
) -> Callable[[str | None], list[CreditRow]]:
    """Return the segment's credit rows of a measure (None: all its credits), sorted by date
    and credit; ``columns``: the state's credits as columns, shared by all its segments."""
    cols = columns if columns is not None else CreditColumns(state)

    def rows(measure_id: str | None) -> list[CreditRow]:
        credits = state.credits
        cr, cs = state.pairs.get(plan.id, (np.zeros(0, np.int64), np.zeros(0, np.int64)))
        idx = cr[cs == seg.id]
        if measure_id is not None:
            flt = plan.measure(measure_id).filter
            if flt not in state.masks:
                state.masks[flt] = ms.filter_mask(credits, flt)
            idx = idx[state.masks[flt][idx]]
        if not len(idx):
            return []
        c = cols.columns()
        cid, tid, amounts = c["credit_id"], c["transaction_id"], c["amount_e4"]
        ttypes, kinds, days, shares = c["transaction_type"], c["kind"], c["days"], c["shares"]
        collected, attrs = c["collected"], c["attrs"]
        transformed = c["transformed"]
        factors, bases, grosses = c["factors"], c["bases"], c["grosses"]
        out = [
            CreditRow(
                credit_id=cid[i],
                transaction_id=tid[i],
                date=from_day_number(days[i]),
                amount=from_e4(int(amounts[i])),
                transaction_type=ttypes[i],
                kind=kinds[i],
                share=Decimal(int(shares[i])).scaleb(-6),
                collected=bool(collected[i]),
                attributes={a: v[i] for a, v in attrs if v[i] is not None},
                **(_transform_fields(factors[i], bases, grosses, i) if transformed else {}),
            )
            for i in idx.tolist()
        ]
        out.sort(key=lambda r: (r.date, r.credit_id))
        return out

    return rows


def _transform_fields(
    factor: Any, bases: Sequence[Any], grosses: Sequence[Any], i: int
) -> dict[str, Decimal]:
    """Return a credit row's transform fields from its columns (missing values: none)."""
    out = {"multiplier": ONE if pd.isna(factor) else to_decimal(str(factor))}
    if bases and not pd.isna(bases[i]):
        out["baseline"] = from_e4(int(bases[i]))
        out["gross"] = from_e4(int(grosses[i]))
    return out


def segment_facts(
    inputs: Inputs,
    seg: Segment,
    measure_values: Sequence[Mapping[str, Decimal | None]],
    counts: Sequence[Mapping[str, int]],
    person_quotas: Mapping[str, Mapping[str, Decimal]],
    kpis: ms.KpiTable,
    credit_rows: Callable[[str | None], Sequence[CreditRow]],
    formula_steps: Mapping[int, Mapping[str, tuple[Step, ...]]] | None = None,
    formula_sentences: Mapping[int, Mapping[str, str]] | None = None,
    season: Mapping[tuple[str, str], Decimal] | None = None,
    window_steps: Mapping[str, tuple[Step, str]] | None = None,
) -> Facts:
    plan = inputs.plans[seg.plan_id]
    quotas = {
        q: prorated_quota(seg, v, season.get((seg.plan_id, q), ONE) if season else ONE)
        for q, v in person_quotas.get(seg.person_key, {}).items()
    }
    return Facts(
        person_id=seg.person_key,
        plan=plan,
        segment=seg.index,
        start=seg.start,
        end=seg.end,
        node_id=seg.node_id,
        period=inputs.period,
        factor=seg.factor,
        target_incentive=seg.target_incentive,
        measures=measure_values[seg.id],
        quotas=quotas,
        kpis=kpis.for_person(seg.person_key) if _needs_kpis(plan) else {},
        credit_rows=credit_rows,
        measure_credit_count=counts[seg.id],
        formula_steps=formula_steps.get(seg.id, {}) if formula_steps else {},
        formula_sentences=formula_sentences.get(seg.id, {}) if formula_sentences else {},
        windows=window_steps or {},
    )


def reward_phase(
    inputs: Inputs,
    state: MeasureState,
    shared: Shared,
    kpi_table: ms.KpiTable | None = None,
    segments: Sequence[Segment] | None = None,
    skip: Collection[tuple[str, str]] = frozenset(),
) -> list[Reward]:
    """Return every (segment, component) outcome, in segment then plan-component order.

    ``segments`` limits the work to some of ``state.segments`` (all of them by default);
    ``skip`` names (plan, component) pairs left to the dependency phase (pay on others' pay).
    """
    kpis = kpi_table or ms.KpiTable(inputs.kpi_values)
    quotas = inputs.quotas
    if segments is not None and len(segments) * 4 < len(state.segments) and len(quotas):
        # A few segments (the rest of the fast path): the quotas of their people only.
        people = {s.person_key for s in segments}
        quotas = quotas[quotas["holder_id"].astype(str).isin(people).to_numpy()]
    person_quotas, _ = quota_tables(quotas)
    rewards: list[Reward] = []
    keys: dict[tuple[str, str], str] = {}
    season = seasons(inputs)
    window_steps: dict[tuple[str, int], dict[str, tuple[Step, str]]] = {}
    transforms = "multiplier" in state.credits.columns
    columns = CreditColumns(state)
    for seg in state.segments if segments is None else segments:
        plan = inputs.plans[seg.plan_id]
        facts = segment_facts(
            inputs,
            seg,
            state.measure_values,
            state.counts,
            person_quotas,
            kpis,
            row_builder(state, plan, seg, columns),
            state.formula_steps,
            state.formula_sentences,
            season,
            _window_steps(window_steps, inputs, plan, seg),
        )
        plain = state.pace is None and plain_plan(plan)
        for c in plan.components:
            if skip and (plan.id, c.id) in skip:
                continue
            figures = None
            if plain:
                assert c.measure is not None
                quota = facts.quotas.get(c.quota or c.measure)
                key = keys.get((plan.id, c.id))
                if key is None:
                    key = keys[(plan.id, c.id)] = component_key(plan, c)
                figures = plain_figures(
                    key,
                    seg,
                    int(state.sum_arrays[(plan.id, c.measure)][seg.id]),
                    int(state.count_arrays[(plan.id, c.measure)][seg.id]),
                    None if quota is None else _raw_quota_e4(person_quotas, seg, c),
                )
            outcome = evaluate(c, facts, shared)
            if transforms and c.measure is not None:
                outcome = _with_transforms(outcome, facts, c.measure)
            rewards.append(Reward(seg, c, outcome, figures))
    return rewards


def _window_steps(
    cache: dict[tuple[str, int], dict[str, tuple[Step, str]]],
    inputs: Inputs,
    plan: Plan,
    seg: Segment,
) -> dict[str, tuple[Step, str]]:
    """Return the trace steps of the plan's windowed measures counted to the segment's end."""
    key = (plan.id, seg.end_day)
    if key not in cache:
        cache[key] = windows.plan_window_steps(inputs, plan, seg.end) if _windowed(plan) else {}
    return cache[key]


def _windowed(plan: Plan) -> bool:
    return any(m.window.over != "period" for m in plan.measures)


def _with_transforms(outcome: Outcome, facts: Facts, measure_id: str) -> Outcome:
    """Return ``outcome`` with the crediting transforms of its measure's credits said."""
    steps, sentence = transform_note(
        facts.credit_rows(measure_id), measure_id, facts.currency, facts.plan.rounding.mode
    )
    if not steps:
        return outcome
    return replace(outcome, steps=(*outcome.steps, *steps), text=f"{outcome.text} {sentence}")


def _raw_quota_e4(
    person_quotas: Mapping[str, Mapping[str, Decimal]], seg: Segment, c: Component
) -> int | None:
    """Return the person's quota of component ``c`` before pro-ration, in ten-thousandths."""
    quota = person_quotas.get(seg.person_key, {}).get(c.quota or c.measure or "")
    return None if quota is None else int(quota.scaleb(4))


def component_key(plan: Plan, c: Component) -> str:
    """Return a digest of everything of the plan a plain tier table's trace depends on."""
    text = repr((plan.id, plan.rounding, plan.proration, c))
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def plain_figures(
    key: str,
    seg: Segment,
    value_e4: int,
    count: int,
    quota_e4: int | None,
) -> str:
    """Return the canonical text of every figure a plain tier table's trace is rendered from.

    Both paths build it the same way - the fast path from its integer columns, the general
    path from the segment and measure phase - so :func:`result_hash` does not depend on the
    path taken, and needs no trace rendered. The earned and paid minor units are appended
    when the line is settled. ``key`` is :func:`component_key` of the plan and component.
    """
    return (
        f"{key}|{seg.person_key}|{seg.node_id}|{seg.role}|{seg.allocation}|{seg.index}|"
        f"{seg.start_day}|{seg.end_day}|{seg.factor_num}|{seg.factor_den}|{seg.quota_factor}|"
        f"{seg.ti_e4}|{value_e4}|{count}|{'' if quota_e4 is None else quota_e4}"
    )


def _needs_kpis(plan: Plan) -> bool:
    return any(c.type == "mbo" for c in plan.components)
