"""Plan health: the builder's panel of what a version asks of people and costs, with warnings
where practitioners' guidance is crossed.

* **Components and measures**: more than 4 measures for one role dilutes focus.
* **Cost at 100 % and 120 % attainment**: what the plan pays a payee with a target incentive
  of 10,000 and a quota of 100,000, from the payout curve (``plans.preview.payout_curve``, so
  the engine computes it), as a share of the target incentive. Components the curve does not
  draw (pools, gainshares, milestones, fixed pay) are listed as not costed.
* **Shared goals**: the share of the cost at 100 % that depends on a team's or another node's
  result (a hybrid's node parts by weight, a measure or KPI read at node scope, a team pool);
  above 30 % a person's pay rides on what they do not control.
* **Cap below the stretch point**: the payout does not grow from 100 % to 120 %.
* **Pay mix** (when people are on the plan and have a base salary): variable at target over
  base + variable; at-risk pay under 8 % is too little to steer anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from engine.spec import component_title, spec_component_titles
from plans.preview import CHARTED, CURVE_TARGET_INCENTIVE, STEP, payout_curve

MAX_MEASURES = 4
MAX_SHARED = Decimal("0.30")
MIN_AT_RISK = Decimal("0.08")
AT_TARGET, STRETCH = Decimal(1), Decimal("1.2")


@dataclass(frozen=True)
class Health:
    components: int
    measures: int
    cost_at_100: Decimal | None  # share of the target incentive
    cost_at_120: Decimal | None
    shared_share: Decimal | None
    pay_mix: Decimal | None  # variable / (base + variable), None when unknown
    not_costed: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _measures(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {str(m.get("id")): m for m in spec.get("measures") or [] if isinstance(m, dict)}


def _shared_weight(component: dict[str, Any], measures: dict[str, dict[str, Any]]) -> Decimal:
    """The share of a component's pay that rides on a team's or another node's result."""
    kind = component.get("type")
    if kind == "team_pool":
        return Decimal(1)

    def node_scoped(measure_id: Any) -> bool:
        m = measures.get(str(measure_id)) or {}
        kinds = (m.get("filter") or {}).get("credit_kinds") or []
        return m.get("scope") == "node" or "rollup" in kinds

    if kind == "hybrid":
        parts = [p for p in component.get("parts") or [] if isinstance(p, dict)]
        total = sum((Decimal(str(p.get("weight", 0))) for p in parts), Decimal(0))
        shared = sum(
            (
                Decimal(str(p.get("weight", 0)))
                for p in parts
                if p.get("scope") == "node" or node_scoped(p.get("measure"))
            ),
            Decimal(0),
        )
        return shared / total if total else Decimal(0)
    if kind == "kpi_bonus":
        kpis = [k for k in component.get("kpis") or [] if isinstance(k, dict)]
        total = sum((Decimal(str(k.get("weight", 1))) for k in kpis), Decimal(0))
        shared = sum(
            (Decimal(str(k.get("weight", 1))) for k in kpis if node_scoped(k.get("measure"))),
            Decimal(0),
        )
        return shared / total if total else Decimal(0)
    if component.get("scope") == "node" or node_scoped(component.get("measure")):
        return Decimal(1)
    return Decimal(0)


def _pct(value: Decimal) -> str:
    return f"{(value * 100).quantize(Decimal('0.1')).normalize():f} %"


def plan_health(spec: dict[str, Any], *, mixes: Sequence[tuple[Decimal, Decimal]] = ()) -> Health:
    """Return the health of a spec; ``mixes``: (base salary, target incentive) of the people on
    it, for the pay mix (both in the same currency)."""
    measures = _measures(spec)
    components = [c for c in spec.get("components") or [] if isinstance(c, dict)]
    titles = spec_component_titles(spec)
    at_100 = at_120 = shared = Decimal(0)
    not_costed: list[str] = []
    flat: list[str] = []
    for comp in components:
        cid = titles.get(str(comp.get("id"))) or component_title(str(comp.get("id")))
        if comp.get("type") not in CHARTED:
            not_costed.append(cid)
            continue
        curve = payout_curve(spec, str(comp.get("id")))
        if curve is None or curve.error or not curve.payout:
            not_costed.append(cid)
            continue
        pay_100 = curve.payout[int(AT_TARGET / STEP)]
        pay_120 = curve.payout[int(STRETCH / STEP)]
        at_100 += pay_100
        at_120 += pay_120
        shared += pay_100 * _shared_weight(comp, measures)
        if pay_100 > 0 and pay_120 <= pay_100:
            flat.append(cid)
    costed = len(components) > len(not_costed)
    cost_100 = at_100 / CURVE_TARGET_INCENTIVE if costed else None
    cost_120 = at_120 / CURVE_TARGET_INCENTIVE if costed else None
    shared_share = shared / at_100 if at_100 else None
    base = sum((b for b, _t in mixes), Decimal(0))
    variable = sum((t for _b, t in mixes), Decimal(0))
    mix = variable / (base + variable) if mixes and base + variable > 0 and base > 0 else None
    warnings: list[str] = []
    if len(measures) > MAX_MEASURES:
        warnings.append(
            f"{len(measures)} measures: more than {MAX_MEASURES} for one role dilutes focus."
        )
    if shared_share is not None and shared_share > MAX_SHARED:
        warnings.append(
            f"{_pct(shared_share)} of variable pay rides on shared or team goals (guidance: at "
            f"most 20-30 %)."
        )
    warnings.extend(
        f"{cid} pays no more at 120 % than at 100 %: a cap below the stretch point." for cid in flat
    )
    if mix is not None and mix < MIN_AT_RISK:
        warnings.append(
            f"At-risk pay is {_pct(mix)} of total pay at target: under {_pct(MIN_AT_RISK)} it "
            "steers little."
        )
    return Health(
        components=len(components),
        measures=len(measures),
        cost_at_100=cost_100,
        cost_at_120=cost_120,
        shared_share=shared_share,
        pay_mix=mix,
        not_costed=not_costed,
        warnings=warnings,
    )
