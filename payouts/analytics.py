"""The executive dashboard's figures: incentive cost and what it buys, read from payout runs.

Which run a period's figures read is the statements' rule (:func:`payouts.statements.period_run`):
the run of the period's live approval (**final**), else its latest succeeded run (**provisional**,
the figures may still change), else none. Every figure is a ``Decimal`` in the tenant's currency:
line amounts and transaction amounts are converted with the tenant's dated FX rates
(:func:`incentives.fx.rate_on`) on the period's last day; a missing rate leaves the amount out and
says so in :attr:`Facts.warnings`.

- **Incentive cost** of a period: the lines an approval would enter as *earned* (every
  component's earned line, guarantees), clawbacks included (negative); deferrals, instalments,
  reserves, holds and draws only move *when* it is paid, so they are not cost again.
- **Revenue** of a period: its booked transactions (new business, expansion, renewal, churn;
  ``booked_on`` inside the period, current versions, not cancelled).
- **Dimensions**: a person's business unit (their assignment in the business-unit hierarchy),
  function (the job role of their reporting assignment) and team (the reporting node), in force
  on the period's last day (else their last assignment during it; a dual role counts where
  the larger allocation is); the plan of the line.
- **Component kinds** (:func:`component_kinds`), from the plan version's spec: a *shared
  milestone* (``team_pool``), a *team pool* (``profit_share``, ``gainshare``, ``payout_pool``),
  a *shared gate* (a gate on another team's or person's measure), a *team metric* (a KPI or
  hybrid part measured on a node, a modifier on another team's metric), an *MBO*, or
  *individual*. The first four are **shared goals**.

Everything is read set-based: the number of queries grows with the number of periods (a run
choice and revenue per period, an FX rate per currency and period), never with people, teams
or lines (``tests/payouts/test_analytics.py`` counts them).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Sum

from core.errors import ApplicationError, NotFoundError, ValidationFailedError
from core.tenancy import get_current_tenant
from engine.money import quantize
from hierarchy.models import Assignment, HierarchyKind, JobFunction, Node, Period, Person
from incentives.fx import rate_on
from incentives.models import Transaction, TransactionKind
from payouts import statements
from payouts.models import CalculationRun, PayoutLine, RunKind, RunStatus
from payouts.statements import FINAL, NO_RUN, PROVISIONAL, period_run
from plans.models import Plan, PlanVersion
from plans.selectors import component_names

ZERO = Decimal(0)
HUNDRED = Decimal(100)
HISTORY = 8  # periods on the trend chart and in the movers' comparison
TOP_MOVERS = 10

# Line kinds that are not cost (they time a payment of an amount already earned, or advance it).
NOT_COST_KINDS = frozenset(
    {
        "deferred",
        "instalment",
        "reserve",
        "reserve_release",
        "hold",
        "release",
        "draw",
        "draw_recovery",
    }
)
REVENUE_KINDS = (
    TransactionKind.NEW_BUSINESS,
    TransactionKind.EXPANSION,
    TransactionKind.RENEWAL,
    TransactionKind.CHURN,
)

SHARED_MILESTONE = "shared_milestone"
TEAM_POOL = "team_pool"
SHARED_GATE = "shared_gate"
TEAM_METRIC = "team_metric"
MBO = "mbo"
INDIVIDUAL = "individual"
KIND_LABELS: dict[str, str] = {
    SHARED_MILESTONE: "Shared milestone",
    TEAM_POOL: "Team pool",
    SHARED_GATE: "Shared gate",
    TEAM_METRIC: "Team metric",
    MBO: "MBO",
    INDIVIDUAL: "Individual",
}
SHARED_KINDS = frozenset({SHARED_MILESTONE, TEAM_POOL, SHARED_GATE, TEAM_METRIC})

DIMENSIONS: dict[str, str] = {
    "business_unit": "Business unit",
    "function": "Function",
    "plan": "Plan",
    "period": "Period",
}
UNASSIGNED = "Unassigned"
COMPANY_WIDE = "Company-wide"
FUNCTION_LABELS = dict(JobFunction.choices)
UNKNOWN_DIMENSION = "Unknown breakdown: use business_unit, function, plan or period."
NO_PERIOD = "Period not found."


# --- plan language: which kind of goal a component pays on --------------------------------------


def _node_scoped(measure_id: Any, measures: dict[str, Any]) -> bool:
    m = measures.get(str(measure_id)) if measure_id is not None else None
    return isinstance(m, dict) and m.get("scope") == "node"


def component_kind(component: dict[str, Any], measures: dict[str, Any]) -> str:
    """Return the goal kind of one component of a plan spec (see the module docstring)."""
    ctype = component.get("type")
    if ctype == "team_pool":
        return SHARED_MILESTONE
    if ctype in {"profit_share", "gainshare", "payout_pool"}:
        return TEAM_POOL
    gate = component.get("gate")
    if isinstance(gate, dict) and gate.get("scope") in {"node", "person"}:
        return SHARED_GATE
    if ctype == "mbo":
        return MBO
    parts = component.get("parts") or []
    kpis = component.get("kpis") or []
    modifiers = component.get("modifiers") or []
    if (
        any(isinstance(p, dict) and p.get("scope") == "node" for p in parts)
        or any(isinstance(k, dict) and _node_scoped(k.get("measure"), measures) for k in kpis)
        or _node_scoped(component.get("measure"), measures)
        or any(isinstance(m, dict) and m.get("scope") in {"node", "person"} for m in modifiers)
    ):
        return TEAM_METRIC
    return INDIVIDUAL


def component_kinds(spec: Any) -> dict[str, str]:
    """Return ``{component id: goal kind}`` for a plan version's spec."""
    if not isinstance(spec, dict):
        return {}
    measures = {str(m.get("id")): m for m in spec.get("measures") or [] if isinstance(m, dict)}
    return {
        str(c.get("id")): component_kind(c, measures)
        for c in spec.get("components") or []
        if isinstance(c, dict)
    }


# --- the facts every figure is computed from ------------------------------------------


@dataclass(frozen=True)
class PeriodBasis:
    """A period, the run its figures read and whether they are final."""

    period: Period
    run_id: int | None
    status: str  # final | provisional | none
    revenue: Decimal
    months: int

    @property
    def provisional(self) -> bool:
        return self.status == PROVISIONAL


@dataclass(frozen=True)
class Fact:
    """One payout line of a period's chosen run, classified and in the tenant's currency."""

    period_id: int
    person_id: int
    plan_id: int
    component_id: str
    goal: str
    cost: Decimal
    attainment: Decimal | None
    trace: Any


@dataclass(frozen=True)
class Placement:
    """Where a person sat on a period's last day."""

    business_unit: str
    function: str
    team_id: int | None
    team: str


@dataclass
class Facts:
    """What the dashboard reads for some periods, fetched once."""

    currency: str
    periods: list[PeriodBasis]
    facts: list[Fact]
    people: dict[int, Person]
    plans: dict[int, str]
    placements: dict[tuple[int, int], Placement]  # (period, person)
    revenue_by_person: dict[tuple[int, int], Decimal]  # (period, owner)
    base_by_person: dict[tuple[int, int], Decimal]  # (period, person): base salary share
    node_names: dict[str, str]  # node code -> name (team pools name teams by code)
    warnings: list[str] = field(default_factory=list)
    # (period, person, plan): what the plan paid her (its lines' currency) and her target
    # incentive on it (statements.period_plan_targets): a plan's attainment, as on the team page
    plan_earned: dict[tuple[int, int, int], Decimal] = field(default_factory=dict)
    plan_targets: dict[tuple[int, int, int], Decimal] = field(default_factory=dict)

    def basis(self, period_id: int) -> PeriodBasis:
        for b in self.periods:
            if b.period.pk == period_id:
                return b
        raise NotFoundError(NO_PERIOD)


def _months(period: Period) -> int:
    return max(
        1, (period.end.year - period.start.year) * 12 + period.end.month - period.start.month
    )


class _Rates:
    """FX rates into the tenant currency, one lookup per (currency, day)."""

    def __init__(self, currency: str, warnings: list[str]) -> None:
        self.currency = currency
        self.warnings = warnings
        self._cache: dict[tuple[str, dt.date], Decimal | None] = {}
        self.missing: dict[str, list[dt.date]] = {}

    def report(self) -> None:
        """Say, once per currency, which amounts were left out for want of a rate."""
        for currency, days in sorted(self.missing.items()):
            periods = f"{len(days)} periods" if len(days) > 1 else "1 period"
            self.warnings.append(
                f"No {currency}/{self.currency} FX rate on or before {min(days)}: the {currency} "
                f"amounts of {periods} are left out. Set the rate under FX rates."
            )

    def to_tenant(self, amount: Decimal, currency: str, day: dt.date) -> Decimal | None:
        if currency == self.currency:
            return amount
        key = (currency, day)
        if key not in self._cache:
            try:
                self._cache[key] = rate_on(currency=currency, quote_currency=self.currency, day=day)
            except ApplicationError:
                self._cache[key] = None
                self.missing.setdefault(currency, []).append(day)
        rate = self._cache[key]
        return None if rate is None else amount * rate


def _placements(
    periods: Sequence[Period], person_ids: set[int]
) -> dict[tuple[int, int], Placement]:
    if not periods or not person_ids:
        return {}
    start = min(p.start for p in periods)
    end = max(p.end for p in periods)
    rows = (
        Assignment.objects.filter(person_id__in=person_ids)
        .known_now()
        .overlapping(start, end)
        .values_list(
            "person_id",
            "node_id",
            "node__name",
            "node__hierarchy__kind",
            "role__function",
            "valid_from",
            "valid_to",
            "allocation_pct",
        )
    )
    by_person: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for row in rows:
        by_person[row[0]].append(row)
    out: dict[tuple[int, int], Placement] = {}
    for period in periods:
        last = period.end - dt.timedelta(days=1)
        for person_id, assignments in by_person.items():
            best: dict[str, tuple[Any, ...]] = {}
            for row in assignments:
                _p, _n, _name, kind, _f, valid_from, valid_to, pct = row
                if valid_from >= period.end or (valid_to is not None and valid_to <= period.start):
                    continue
                in_force = valid_from <= last and (valid_to is None or valid_to > last)
                rank = (in_force, pct, valid_from)
                if kind not in best or rank > best[kind][0]:
                    best[kind] = (rank, row)
            if not best:
                continue
            reporting = best.get(HierarchyKind.REPORTING)
            unit = best.get(HierarchyKind.BUSINESS_UNIT)
            function_row = reporting or unit or next(iter(best.values()))
            function = FUNCTION_LABELS.get(function_row[1][4], UNASSIGNED)
            bu = UNASSIGNED
            if unit is not None:
                bu = unit[1][2]
            out[(period.pk, person_id)] = Placement(
                business_unit=bu,
                function=function,
                team_id=reporting[1][1] if reporting else None,
                team=reporting[1][2] if reporting else UNASSIGNED,
            )
    return out


def _business_unit_roots() -> set[str]:
    """Names of business-unit hierarchy roots (where company-wide leaders sit)."""
    children = Node.objects.filter(
        hierarchy__kind=HierarchyKind.BUSINESS_UNIT, parent_links__parent__isnull=False
    ).values("pk")
    return set(
        Node.objects.filter(hierarchy__kind=HierarchyKind.BUSINESS_UNIT)
        .exclude(pk__in=children)
        .values_list("name", flat=True)
    )


def facts_load(*, periods: Sequence[Period]) -> Facts:
    """Return the classified lines, revenue and placements of ``periods`` (set-based)."""
    tenant = get_current_tenant()
    currency = tenant.default_currency
    warnings: list[str] = []
    rates = _Rates(currency, warnings)
    ordered = sorted(periods, key=lambda p: (p.start, p.kind))
    choices = {p.pk: period_run(period=p) for p in ordered}
    run_ids = [c.run.pk for c in choices.values() if c.run is not None]
    last_day = {p.pk: p.end - dt.timedelta(days=1) for p in ordered}
    lines = list(
        PayoutLine.objects.filter(run_id__in=run_ids)
        .order_by("period_id", "person_id", "id")
        .values_list(
            "period_id",
            "person_id",
            "plan_id",
            "plan_version_id",
            "component_id",
            "kind",
            "amount",
            "currency",
            "attainment",
            "trace",
        )
    )
    version_ids = {row[3] for row in lines}
    kinds = {
        pk: component_kinds(spec)
        for pk, spec in PlanVersion.objects.filter(pk__in=version_ids).values_list("pk", "spec")
    }
    facts: list[Fact] = []
    plan_earned: dict[tuple[int, int, int], Decimal] = defaultdict(lambda: ZERO)
    for period_id, person_id, plan_id, version_id, comp, kind, amount, cur, att, trace in lines:
        if kind in NOT_COST_KINDS:
            continue
        plan_earned[(period_id, person_id, plan_id)] += amount
        cost = rates.to_tenant(amount, cur, last_day[period_id])
        if cost is None:
            continue
        goal = kinds.get(version_id, {}).get(comp, INDIVIDUAL)
        shared_trace = trace if goal in SHARED_KINDS else None
        facts.append(Fact(period_id, person_id, plan_id, comp, goal, cost, att, shared_trace))
    person_ids = {f.person_id for f in facts}
    # Revenue: one aggregate per period (by owner and currency).
    revenue_by_person: dict[tuple[int, int], Decimal] = defaultdict(lambda: ZERO)
    bases: list[PeriodBasis] = []
    for p in ordered:
        rows = (
            Transaction.objects.known_now()
            .filter(
                booked_on__gte=p.start,
                booked_on__lt=p.end,
                is_cancelled=False,
                kind__in=list(REVENUE_KINDS),
            )
            .values("owner_id", "currency")
            .annotate(total=Sum("amount"))
        )
        total = ZERO
        for row in rows:
            value = rates.to_tenant(row["total"] or ZERO, row["currency"], last_day[p.pk])
            if value is None:
                continue
            total += value
            if row["owner_id"] is not None:
                revenue_by_person[(p.pk, row["owner_id"])] += value
        choice = choices[p.pk]
        bases.append(
            PeriodBasis(
                period=p,
                run_id=choice.run.pk if choice.run else None,
                status=choice.status,
                revenue=total,
                months=_months(p),
            )
        )
    people = Person.objects.in_bulk(person_ids) if person_ids else {}
    base_by_person: dict[tuple[int, int], Decimal] = {}
    for p in ordered:
        share = Decimal(_months(p)) / Decimal(12)
        for person in people.values():
            if person.base_salary is None:
                continue
            value = rates.to_tenant(
                person.base_salary * share, person.home_currency, last_day[p.pk]
            )
            if value is not None:
                base_by_person[(p.pk, person.pk)] = value
    plan_ids = {f.plan_id for f in facts}
    plans = dict(Plan.objects.filter(pk__in=plan_ids).values_list("pk", "name")) if plan_ids else {}
    placements = _placements(ordered, person_ids)
    roots = _business_unit_roots() if placements else set()
    if roots:
        placements = {
            k: Placement(COMPANY_WIDE, v.function, v.team_id, v.team)
            if v.business_unit in roots
            else v
            for k, v in placements.items()
        }
    node_names: dict[str, str] = {}
    if any(f.goal == SHARED_MILESTONE for f in facts):
        node_names = dict(
            Node.objects.filter(hierarchy__kind=HierarchyKind.REPORTING).values_list("code", "name")
        )
    plan_targets = {
        (p.pk, person_id, plan_id): target
        for p in ordered
        for (person_id, plan_id), target in statements.period_plan_targets(
            period=p, person_ids=sorted({f.person_id for f in facts if f.period_id == p.pk})
        ).items()
    }
    rates.report()
    return Facts(
        currency=currency,
        periods=bases,
        facts=facts,
        people=people,
        plans=plans,
        placements=placements,
        revenue_by_person=dict(revenue_by_person),
        base_by_person=base_by_person,
        node_names=node_names,
        warnings=warnings,
        plan_earned=dict(plan_earned),
        plan_targets=plan_targets,
    )


# --- which periods -----------------------------------------------------------------


def analytics_periods(*, kind: str = "quarterly") -> list[Period]:
    """Return the periods of ``kind`` that have a succeeded (non-preview) run, oldest first."""
    runs = CalculationRun.objects.filter(status=RunStatus.SUCCEEDED).exclude(kind=RunKind.PREVIEW)
    return list(Period.objects.filter(kind=kind, pk__in=runs.values("period_id")).order_by("start"))


def analytics_window(
    *, period_id: int | None = None, kind: str = "quarterly", history: int = HISTORY
) -> tuple[Period | None, list[Period]]:
    """Return the chosen period (default: the latest with a run) and the ``history`` periods
    of its kind up to it (oldest first)."""
    if period_id is not None:
        chosen: Period | None = Period.objects.filter(pk=period_id).first()
        if chosen is None:
            raise NotFoundError(NO_PERIOD)
        kind = chosen.kind
    available = analytics_periods(kind=kind)
    if period_id is None:
        chosen = available[-1] if available else None
    if chosen is None:
        return None, []
    upto = [p for p in available if p.start <= chosen.start and p.pk != chosen.pk]
    return chosen, [*upto[-(history - 1) :], chosen] if history > 1 else [chosen]


# --- figures -----------------------------------------------------------------


def _q(value: Decimal, currency: str) -> Decimal:
    return quantize(value, currency)


def _pct(part: Decimal, whole: Decimal) -> Decimal | None:
    if not whole:
        return None
    return (part / whole).quantize(Decimal("0.0001"))


@dataclass(frozen=True)
class CostRow:
    key: str
    label: str
    cost: Decimal
    payees: int
    share: Decimal | None  # of the total cost
    provisional: bool


def _dimension_key(facts: Facts, fact: Fact, by: str) -> tuple[str, str]:
    placement = facts.placements.get((fact.period_id, fact.person_id))
    if by == "business_unit":
        label = placement.business_unit if placement else UNASSIGNED
        return label, label
    if by == "function":
        label = placement.function if placement else UNASSIGNED
        return label, label
    if by == "plan":
        return str(fact.plan_id), facts.plans.get(fact.plan_id, str(fact.plan_id))
    basis = facts.basis(fact.period_id)
    return str(fact.period_id), basis.period.label


def cost_breakdown(facts: Facts, *, by: str, period_id: int | None = None) -> list[CostRow]:
    """Return incentive cost by ``by`` (business_unit, function, plan, period), largest first
    (by period: in time order); ``period_id`` limits it to one period."""
    if by not in DIMENSIONS:
        raise ValidationFailedError(
            UNKNOWN_DIMENSION, code="invalid_parameter", details={"by": [UNKNOWN_DIMENSION]}
        )
    cost: dict[str, Decimal] = defaultdict(lambda: ZERO)
    payees: dict[str, set[int]] = defaultdict(set)
    labels: dict[str, str] = {}
    provisional: dict[str, bool] = defaultdict(bool)
    for fact in facts.facts:
        if period_id is not None and fact.period_id != period_id:
            continue
        key, label = _dimension_key(facts, fact, by)
        labels[key] = label
        cost[key] += fact.cost
        payees[key].add(fact.person_id)
        provisional[key] |= facts.basis(fact.period_id).provisional
    total = sum(cost.values(), ZERO)
    rows = [
        CostRow(
            key=k,
            label=labels[k],
            cost=_q(v, facts.currency),
            payees=len(payees[k]),
            share=_pct(v, total),
            provisional=provisional[k],
        )
        for k, v in cost.items()
    ]
    if by == "period":
        order = {str(b.period.pk): i for i, b in enumerate(facts.periods)}
        return sorted(rows, key=lambda r: order.get(r.key, 0))
    return sorted(rows, key=lambda r: (-r.cost, r.label))


@dataclass(frozen=True)
class PeriodRow:
    """One period of the trend: cost, revenue, cost as % of revenue, payees."""

    period: Period
    status: str
    cost: Decimal
    revenue: Decimal
    cost_pct: Decimal | None
    payees: int
    revenue_per_payee: Decimal | None
    recovery_months: Decimal | None  # months of revenue that pay the period's incentive cost


def period_rows(facts: Facts) -> list[PeriodRow]:
    """Return cost against revenue for every period, oldest first."""
    cost: dict[int, Decimal] = defaultdict(lambda: ZERO)
    payees: dict[int, set[int]] = defaultdict(set)
    for fact in facts.facts:
        cost[fact.period_id] += fact.cost
        payees[fact.period_id].add(fact.person_id)
    out = []
    for b in facts.periods:
        c = _q(cost.get(b.period.pk, ZERO), facts.currency)
        revenue = _q(b.revenue, facts.currency)
        n = len(payees.get(b.period.pk, ()))
        monthly = revenue / b.months if b.months else ZERO
        out.append(
            PeriodRow(
                period=b.period,
                status=b.status,
                cost=c,
                revenue=revenue,
                cost_pct=_pct(c, revenue),
                payees=n,
                revenue_per_payee=_q(revenue / n, facts.currency) if n else None,
                recovery_months=(c / monthly).quantize(Decimal("0.01")) if monthly > 0 else None,
            )
        )
    return out


@dataclass(frozen=True)
class RecoveryRow:
    """A person who owns revenue: their pay, the revenue and the months of it their pay takes."""

    person: Person
    function: str
    incentive: Decimal
    base: Decimal
    pay: Decimal
    revenue: Decimal
    recovery_months: Decimal | None


def recovery_rows(facts: Facts, *, period_id: int, limit: int = 25) -> list[RecoveryRow]:
    """Return, for the people paid in the period who own booked revenue in it, their pay
    (incentive + the period's share of base salary), revenue and recovery time (pay ÷ monthly
    revenue), slowest to recover first."""
    basis = facts.basis(period_id)
    incentive: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for fact in facts.facts:
        if fact.period_id == period_id:
            incentive[fact.person_id] += fact.cost
    rows = []
    for person_id, inc in incentive.items():
        revenue = facts.revenue_by_person.get((period_id, person_id), ZERO)
        if revenue <= 0:
            continue
        base = facts.base_by_person.get((period_id, person_id), ZERO)
        pay = inc + base
        monthly = revenue / basis.months
        placement = facts.placements.get((period_id, person_id))
        rows.append(
            RecoveryRow(
                person=facts.people[person_id],
                function=placement.function if placement else UNASSIGNED,
                incentive=_q(inc, facts.currency),
                base=_q(base, facts.currency),
                pay=_q(pay, facts.currency),
                revenue=_q(revenue, facts.currency),
                recovery_months=(pay / monthly).quantize(Decimal("0.01")),
            )
        )
    rows.sort(key=lambda r: (-(r.recovery_months or ZERO), r.person.full_name))
    return rows[:limit]


@dataclass(frozen=True)
class AttainmentRow:
    """A plan's attainment distribution in one period."""

    plan_id: int
    plan: str
    values: list[Decimal]
    people: int
    median: Decimal | None
    at_or_above_target: int
    buckets: list[tuple[str, int]]


ATTAINMENT_BUCKETS: tuple[tuple[str, Decimal, Decimal | None], ...] = (
    ("< 50 %", Decimal("-Infinity"), Decimal("0.5")),
    ("50-80 %", Decimal("0.5"), Decimal("0.8")),
    ("80-100 %", Decimal("0.8"), Decimal("1")),
    ("100-120 %", Decimal("1"), Decimal("1.2")),
    ("≥ 120 %", Decimal("1.2"), None),
)


def _median(values: Sequence[Decimal]) -> Decimal | None:
    if not values:
        return None
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def attainment_rows(facts: Facts, *, period_id: int) -> list[AttainmentRow]:
    """Return each plan's attainment distribution for the period: a person's attainment on a
    plan is what the plan paid her over her target incentive on it (``attainment_of``, the
    team page's rule); without a target on the plan, that of its first component with one."""
    first: dict[tuple[int, int], Decimal] = {}
    for fact in facts.facts:
        if fact.period_id != period_id:
            continue
        key = (period_id, fact.person_id, fact.plan_id)
        att = statements.attainment_of(
            facts.plan_earned.get(key, ZERO), facts.plan_targets.get(key)
        )
        if att is None:
            att = fact.attainment
        if att is not None:
            first.setdefault((fact.plan_id, fact.person_id), att)
    by_plan: dict[int, list[Decimal]] = defaultdict(list)
    for (plan_id, _person), att in sorted(first.items()):
        by_plan[plan_id].append(att)
    out = []
    for plan_id, values in by_plan.items():
        counts = dict.fromkeys((b[0] for b in ATTAINMENT_BUCKETS), 0)
        for v in values:
            for label, low, high in ATTAINMENT_BUCKETS:
                if v >= low and (high is None or v < high):
                    counts[label] += 1
                    break
        out.append(
            AttainmentRow(
                plan_id=plan_id,
                plan=facts.plans.get(plan_id, str(plan_id)),
                values=sorted(values),
                people=len(values),
                median=_median(values),
                at_or_above_target=sum(1 for v in values if v >= 1),
                buckets=list(counts.items()),
            )
        )
    return sorted(out, key=lambda r: r.plan.lower())


@dataclass(frozen=True)
class ScorecardRow:
    """One team's shared goals in a period."""

    team_id: int | None
    team: str
    function: str
    people: int
    variable_pay: Decimal
    shared_pay: Decimal
    shared_share: Decimal | None
    goals: int
    goals_hit: int
    by_kind: dict[str, Decimal]


@dataclass(frozen=True)
class MilestoneRow:
    """One shared milestone (a team pool) and whether each team it names reached it."""

    plan: str
    component_id: str
    teams: list[tuple[str, Decimal | None, bool]]  # (team, attainment, hit)
    paid: bool
    pool: Decimal
    component: str = ""
    """What the plan calls the component (``plans.selectors.component_names``)."""


def _trace_steps(trace: Any) -> Iterable[dict[str, Any]]:
    if isinstance(trace, dict):
        if "name" in trace:
            yield trace
        for v in trace.values():
            yield from _trace_steps(v)
    elif isinstance(trace, list):
        for v in trace:
            yield from _trace_steps(v)


def _gate_passed(trace: Any) -> bool | None:
    for s in _trace_steps(trace):
        if s.get("name") in {"gate_passed", "kpi_gate_passed"}:
            return str(s.get("value")) == "yes"
    return None


def scorecard_rows(facts: Facts, *, period_id: int) -> list[ScorecardRow]:
    """Return, per team (reporting node), its variable pay, the part on shared goals and the
    shared goals (plan components of a shared kind) its people were on and hit (a goal is hit
    when its gate passed, or else when it paid someone in the team)."""
    pay: dict[int | None, Decimal] = defaultdict(lambda: ZERO)
    shared: dict[int | None, Decimal] = defaultdict(lambda: ZERO)
    kinds: dict[int | None, dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    people: dict[int | None, set[int]] = defaultdict(set)
    names: dict[int | None, tuple[str, str]] = {}
    goals: dict[int | None, dict[tuple[int, str], bool]] = defaultdict(dict)
    for fact in facts.facts:
        if fact.period_id != period_id:
            continue
        placement = facts.placements.get((period_id, fact.person_id))
        team = placement.team_id if placement else None
        names.setdefault(
            team, (placement.team, placement.function) if placement else (UNASSIGNED, UNASSIGNED)
        )
        people[team].add(fact.person_id)
        pay[team] += fact.cost
        kinds[team][fact.goal] += fact.cost
        if fact.goal in SHARED_KINDS:
            shared[team] += fact.cost
            key = (fact.plan_id, fact.component_id)
            passed = _gate_passed(fact.trace)
            hit = passed if passed is not None else fact.cost > 0
            goals[team][key] = goals[team].get(key, False) or hit
    rows = [
        ScorecardRow(
            team_id=team,
            team=names[team][0],
            function=names[team][1],
            people=len(people[team]),
            variable_pay=_q(pay[team], facts.currency),
            shared_pay=_q(shared[team], facts.currency),
            shared_share=_pct(shared[team], pay[team]),
            goals=len(goals[team]),
            goals_hit=sum(1 for hit in goals[team].values() if hit),
            by_kind={k: _q(v, facts.currency) for k, v in sorted(kinds[team].items())},
        )
        for team in pay
    ]
    return sorted(rows, key=lambda r: (-(r.shared_share or ZERO), r.team))


def milestone_rows(facts: Facts, *, period_id: int) -> list[MilestoneRow]:
    """Return every shared milestone paid on in the period with each team's attainment and
    whether it hit, as the engine's trace recorded them (``team_<code>_attainment`` steps)."""
    seen: dict[tuple[int, str], MilestoneRow] = {}
    pools: dict[tuple[int, str], Decimal] = defaultdict(lambda: ZERO)
    for fact in facts.facts:
        if fact.period_id != period_id or fact.goal != SHARED_MILESTONE:
            continue
        key = (fact.plan_id, fact.component_id)
        pools[key] += fact.cost
        if key in seen:
            continue
        teams: list[tuple[str, Decimal | None, bool]] = []
        for s in _trace_steps(fact.trace):
            name = str(s.get("name", ""))
            if name.startswith("team_") and name.endswith("_attainment"):
                code = name[len("team_") : -len("_attainment")]
                raw = s.get("value")
                try:
                    att = Decimal(str(raw)) if raw not in (None, "") else None
                except ArithmeticError:
                    att = None
                hit = str(s.get("note", s.get("how", ""))) == "hit"
                teams.append((facts.node_names.get(code, code), att, hit))
        seen[key] = MilestoneRow(
            plan=facts.plans.get(fact.plan_id, str(fact.plan_id)),
            component_id=fact.component_id,
            teams=teams,
            paid=False,
            pool=ZERO,
        )
    names = component_names(plan_ids=[plan_id for plan_id, _ in seen])
    return [
        MilestoneRow(
            plan=row.plan,
            component_id=row.component_id,
            teams=row.teams,
            paid=pools[key] > 0,
            pool=_q(pools[key], facts.currency),
            component=names.get(row.component_id, plan_id=key[0]),
        )
        for key, row in sorted(seen.items(), key=lambda kv: (kv[1].plan, kv[1].component_id))
    ]


@dataclass(frozen=True)
class Mover:
    """A person or team whose earnings changed most against the previous period."""

    key: str
    label: str
    detail: str
    previous: Decimal
    current: Decimal
    change: Decimal
    change_pct: Decimal | None


def movers(
    facts: Facts, *, period_id: int, by: str = "person", limit: int = TOP_MOVERS
) -> list[Mover]:
    """Return the people (``by="person"``) or teams (``"team"``) whose earnings changed most
    (in absolute terms) from the previous period of the window to ``period_id``."""
    index = [b.period.pk for b in facts.periods]
    if period_id not in index:
        raise NotFoundError(NO_PERIOD)
    i = index.index(period_id)
    if i == 0:
        return []
    previous_id = index[i - 1]
    totals: dict[tuple[int, str], Decimal] = defaultdict(lambda: ZERO)
    labels: dict[str, tuple[str, str]] = {}
    for fact in facts.facts:
        if fact.period_id not in (period_id, previous_id):
            continue
        placement = facts.placements.get((fact.period_id, fact.person_id))
        if by == "team":
            team_id = placement.team_id if placement else None
            key = str(team_id) if team_id is not None else "-"
            label = placement.team if placement else UNASSIGNED
            labels.setdefault(key, (label, placement.function if placement else ""))
            if fact.period_id == period_id and placement:
                labels[key] = (label, placement.function)
        else:
            key = str(fact.person_id)
            person = facts.people[fact.person_id]
            labels[key] = (person.full_name, placement.team if placement else "")
        totals[(fact.period_id, key)] += fact.cost
    keys = {k for _p, k in totals}
    rows = []
    for key in keys:
        prev = totals.get((previous_id, key), ZERO)
        cur = totals.get((period_id, key), ZERO)
        change = cur - prev
        if not change:
            continue
        rows.append(
            Mover(
                key=key,
                label=labels[key][0],
                detail=labels[key][1],
                previous=_q(prev, facts.currency),
                current=_q(cur, facts.currency),
                change=_q(change, facts.currency),
                change_pct=_pct(change, prev) if prev else None,
            )
        )
    rows.sort(key=lambda r: (-abs(r.change), r.label))
    return rows[:limit]


# --- the whole dashboard -----------------------------------------------------------------


@dataclass(frozen=True)
class Dashboard:
    """Everything the executive page shows for one chosen period."""

    period: Period | None
    status: str
    currency: str
    periods: list[PeriodRow]
    current: PeriodRow | None
    previous: PeriodRow | None
    by_business_unit: list[CostRow]
    by_function: list[CostRow]
    by_plan: list[CostRow]
    recovery: list[RecoveryRow]
    attainment: list[AttainmentRow]
    scorecard: list[ScorecardRow]
    milestones: list[MilestoneRow]
    shared_share: Decimal | None
    movers_people: list[Mover]
    movers_teams: list[Mover]
    warnings: list[str]


def executive_dashboard(*, period_id: int | None = None, kind: str = "quarterly") -> Dashboard:
    """Return the executive dashboard for a period (default: the latest with a run)."""
    period, window = analytics_window(period_id=period_id, kind=kind)
    currency = get_current_tenant().default_currency
    if period is None:
        return Dashboard(
            None, NO_RUN, currency, [], None, None, [], [], [], [], [], [], [], None, [], [], []
        )
    facts = facts_load(periods=window)
    rows = period_rows(facts)
    current = rows[-1]
    previous = rows[-2] if len(rows) > 1 else None
    pid = period.pk
    shared = sum(
        (f.cost for f in facts.facts if f.period_id == pid and f.goal in SHARED_KINDS), ZERO
    )
    total = current.cost
    return Dashboard(
        period=period,
        status=facts.basis(pid).status,
        currency=facts.currency,
        periods=rows,
        current=current,
        previous=previous,
        by_business_unit=cost_breakdown(facts, by="business_unit", period_id=pid),
        by_function=cost_breakdown(facts, by="function", period_id=pid),
        by_plan=cost_breakdown(facts, by="plan", period_id=pid),
        recovery=recovery_rows(facts, period_id=pid),
        attainment=attainment_rows(facts, period_id=pid),
        scorecard=scorecard_rows(facts, period_id=pid),
        milestones=milestone_rows(facts, period_id=pid),
        shared_share=_pct(shared, total),
        movers_people=movers(facts, period_id=pid, by="person"),
        movers_teams=movers(facts, period_id=pid, by="team"),
        warnings=facts.warnings,
    )


__all__ = [
    "DIMENSIONS",
    "FINAL",
    "KIND_LABELS",
    "SHARED_KINDS",
    "Dashboard",
    "Facts",
    "analytics_window",
    "attainment_rows",
    "component_kinds",
    "cost_breakdown",
    "executive_dashboard",
    "facts_load",
    "milestone_rows",
    "movers",
    "period_rows",
    "recovery_rows",
    "scorecard_rows",
]


# --- tables for CSV / XLSX downloads --------------------------------------------------------------

Table = tuple[str, list[str], list[list[Any]]]
TABLE_TITLES: dict[str, str] = {
    "business_units": "Cost by business unit",
    "functions": "Cost by function",
    "plans": "Cost by plan",
    "periods": "Cost and revenue by period",
    "recovery": "Compensation recovery",
    "attainment": "Attainment by plan",
    "scorecard": "Shared-goal scorecard",
    "movers": "Top movers",
}


def _s(value: Decimal | None) -> str:
    return "" if value is None else str(value)


def dashboard_tables(d: Dashboard) -> dict[str, Table]:
    """Return every table of the dashboard as (title, header, rows) for a download."""
    cur = d.currency
    cost_header = ["group", f"cost_{cur}", "payees", "share_of_cost", "provisional"]

    def cost(rows: list[CostRow]) -> list[list[Any]]:
        return [[r.label, _s(r.cost), r.payees, _s(r.share), r.provisional] for r in rows]

    return {
        "business_units": ("Cost by business unit", cost_header, cost(d.by_business_unit)),
        "functions": ("Cost by function", cost_header, cost(d.by_function)),
        "plans": ("Cost by plan", cost_header, cost(d.by_plan)),
        "periods": (
            "Cost and revenue by period",
            [
                "period",
                "status",
                f"cost_{cur}",
                f"revenue_{cur}",
                "cost_pct_of_revenue",
                "payees",
                f"revenue_per_payee_{cur}",
                "recovery_months",
            ],
            [
                [
                    r.period.label,
                    r.status,
                    _s(r.cost),
                    _s(r.revenue),
                    _s(r.cost_pct),
                    r.payees,
                    _s(r.revenue_per_payee),
                    _s(r.recovery_months),
                ]
                for r in d.periods
            ],
        ),
        "recovery": (
            "Compensation recovery",
            [
                "employee_id",
                "person",
                "function",
                f"incentive_{cur}",
                f"base_share_{cur}",
                f"pay_{cur}",
                f"revenue_{cur}",
                "recovery_months",
            ],
            [
                [
                    r.person.employee_id,
                    r.person.full_name,
                    r.function,
                    _s(r.incentive),
                    _s(r.base),
                    _s(r.pay),
                    _s(r.revenue),
                    _s(r.recovery_months),
                ]
                for r in d.recovery
            ],
        ),
        "attainment": (
            "Attainment by plan",
            ["plan", "people", "median", "at_or_above_target", *[b[0] for b in ATTAINMENT_BUCKETS]],
            [
                [r.plan, r.people, _s(r.median), r.at_or_above_target, *[n for _b, n in r.buckets]]
                for r in d.attainment
            ],
        ),
        "scorecard": (
            "Shared-goal scorecard",
            [
                "team",
                "function",
                "people",
                f"variable_pay_{cur}",
                f"shared_pay_{cur}",
                "shared_share",
                "shared_goals",
                "shared_goals_hit",
            ],
            [
                [
                    r.team,
                    r.function,
                    r.people,
                    _s(r.variable_pay),
                    _s(r.shared_pay),
                    _s(r.shared_share),
                    r.goals,
                    r.goals_hit,
                ]
                for r in d.scorecard
            ],
        ),
        "movers": (
            "Top movers",
            [
                "type",
                "name",
                "detail",
                f"previous_{cur}",
                f"current_{cur}",
                f"change_{cur}",
                "change_pct",
            ],
            [
                [
                    kind,
                    m.label,
                    m.detail,
                    _s(m.previous),
                    _s(m.current),
                    _s(m.change),
                    _s(m.change_pct),
                ]
                for kind, rows in (("person", d.movers_people), ("team", d.movers_teams))
                for m in rows
            ],
        ),
    }
