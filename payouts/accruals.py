"""Accruals: what is earned and not yet paid, and capitalized commissions (ASC 340-40).

**Earned but unpaid** is read from the ledger (``payouts/ledger.py``), in each entry's own
currency: *earned* (earned + adjustments + clawbacks), *draws* (draws - recoveries), *paid*
(the PAID entries an export's payment writes, as a positive figure) and *held* (what holds
withhold, net of releases, shown apart: held money is still owed, so it stays in *unpaid*):
``unpaid = earned + draws - paid``. Entries count in the period they were written to.

**Capitalized commissions.** Under ASC 340-40 the incremental cost of obtaining a contract (a
commission on a new deal) is an asset amortized over the period of benefit. A tenant's
:class:`~payouts.models.CapitalizationPolicy` rows say which plans' components are capitalized
and over how many months; the most specific active row matching an earned amount decides
(plan + component, then plan, then component, then everything). The capitalized amount of a
(person, period, plan, component) is the sum of its *earned*, *adjustment* and *clawback*
entries (so a clawback reduces the asset). Amortization is straight-line from the first month
after the period ends: every month but the last takes the amount ÷ months truncated to the
currency's minor unit, and the **last month takes the remainder**, so the months sum exactly to
the capitalized amount (1,000.00 over 7 months: six of 142.85 and 142.90 last; this is
:func:`engine.money.instalment`, the one rule of the kind). A month is *amortized to date* once
it has ended on or before ``as_of``.

Policy edits are services with one audit event each; reads need tenant-wide ``payouts.view``.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from core.audit import audit_record
from core.errors import ConflictError, NotFoundError, ValidationFailedError
from core.models import model_snapshot
from core.tenancy import get_current_tenant
from engine.money import from_minor, instalment, to_minor
from hierarchy.models import Period, PeriodStatus, Person
from hierarchy.periods import tenant_today
from payouts.models import (
    AmortizationStart,
    CapitalizationPolicy,
    EntryKind,
    LedgerEntry,
)
from plans.models import Plan

ZERO = Decimal(0)
MAX_BENEFIT_MONTHS = 120
UNASSIGNED_COST_CENTRE = "UNASSIGNED"

EARNED_KINDS = (EntryKind.EARNED, EntryKind.ADJUSTMENT, EntryKind.CLAWBACK)
DRAW_KINDS = (EntryKind.DRAW, EntryKind.DRAW_RECOVERY)
HELD_KINDS = (EntryKind.HOLD, EntryKind.RELEASE)
CAPITALIZED_PERIODS = (PeriodStatus.APPROVED, PeriodStatus.CLOSED)

BENEFIT_RANGE = f"The benefit period is 1 to {MAX_BENEFIT_MONTHS} months."
UNKNOWN_PLAN = "Unknown plan."
DUPLICATE = "A policy for this plan and component exists already: change that one."
BAD_START_RULE = "Unknown start rule: use month_after_period_end."
POLICY_NOT_FOUND = "Capitalization policy not found."
UNKNOWN_GROUPING = "Unknown grouping: use period, person or month."


# --- policies ----------------------------------------------------------------


def policy_list() -> list[CapitalizationPolicy]:
    """Return the tenant's capitalization policies, plan-wide rows after specific ones."""
    return list(CapitalizationPolicy.objects.select_related("plan").order_by("plan__name", "pk"))


def policy_get(*, policy_id: int) -> CapitalizationPolicy:
    """Return one policy of the tenant, or raise NotFoundError."""
    policy: CapitalizationPolicy | None = (
        CapitalizationPolicy.objects.select_related("plan").filter(pk=policy_id).first()
    )
    if policy is None:
        raise NotFoundError(POLICY_NOT_FOUND)
    return policy


def _invalid(field: str, message: str, code: str = "validation_failed") -> ValidationFailedError:
    return ValidationFailedError(message, code=code, details={field: [message]})


def _months(value: Any) -> int:
    try:
        months = int(str(value))
    except (TypeError, ValueError):
        raise _invalid("benefit_months", BENEFIT_RANGE) from None
    if not 1 <= months <= MAX_BENEFIT_MONTHS:
        raise _invalid("benefit_months", BENEFIT_RANGE)
    return months


def _plan(plan_id: int | None) -> Plan | None:
    if plan_id is None:
        return None
    plan: Plan | None = Plan.objects.filter(pk=plan_id).first()
    if plan is None:
        raise _invalid("plan", UNKNOWN_PLAN, "unknown_plan")
    return plan


def _start_rule(value: str | None) -> str:
    rule = value or AmortizationStart.MONTH_AFTER_PERIOD_END
    if rule not in AmortizationStart.values:
        raise _invalid("start_rule", BAD_START_RULE)
    return rule


def _save(policy: CapitalizationPolicy) -> None:
    policy.full_clean(validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            policy.save()
    except IntegrityError:
        raise ConflictError(DUPLICATE, code="policy_exists", details={"guard": "unique"}) from None


def _duplicate(plan: Plan | None, component_id: str, exclude: int | None = None) -> None:
    same = CapitalizationPolicy.objects.filter(plan=plan, component_id=component_id)
    if exclude is not None:
        same = same.exclude(pk=exclude)
    if same.exists():
        raise ConflictError(DUPLICATE, code="policy_exists", details={"guard": "unique"})


@transaction.atomic
def policy_create(
    *,
    benefit_months: Any,
    plan_id: int | None = None,
    component_id: str = "",
    start_rule: str | None = None,
    is_active: bool = True,
    note: str = "",
) -> CapitalizationPolicy:
    """Capitalize a plan's component (or a whole plan, or a component everywhere)."""
    months = _months(benefit_months)
    plan = _plan(plan_id)
    component = (component_id or "").strip()[:100]
    _duplicate(plan, component)
    now = timezone.now()
    policy = CapitalizationPolicy(
        tenant=get_current_tenant(),
        plan=plan,
        component_id=component,
        benefit_months=months,
        start_rule=_start_rule(start_rule),
        is_active=bool(is_active),
        note=(note or "").strip()[:300],
        created_at=now,
        updated_at=now,
    )
    _save(policy)
    audit_record(action="capitalization_policy.create", obj=policy, after=model_snapshot(policy))
    return policy


UNSET: Any = object()


@transaction.atomic
def policy_update(
    *,
    policy_id: int,
    benefit_months: Any = UNSET,
    plan_id: Any = UNSET,
    component_id: Any = UNSET,
    start_rule: Any = UNSET,
    is_active: Any = UNSET,
    note: Any = UNSET,
) -> CapitalizationPolicy:
    """Change a policy; what is not given stays."""
    policy: CapitalizationPolicy | None = (
        CapitalizationPolicy.objects.select_for_update().filter(pk=policy_id).first()
    )
    if policy is None:
        raise NotFoundError(POLICY_NOT_FOUND)
    before = model_snapshot(policy)
    if benefit_months is not UNSET:
        policy.benefit_months = _months(benefit_months)
    if plan_id is not UNSET:
        policy.plan = _plan(plan_id)
    if component_id is not UNSET:
        policy.component_id = (component_id or "").strip()[:100]
    if start_rule is not UNSET:
        policy.start_rule = _start_rule(start_rule)
    if is_active is not UNSET:
        policy.is_active = bool(is_active)
    if note is not UNSET:
        policy.note = (note or "").strip()[:300]
    _duplicate(policy.plan, policy.component_id, exclude=policy.pk)
    policy.updated_at = timezone.now()
    _save(policy)
    audit_record(
        action="capitalization_policy.update",
        obj=policy,
        before=before,
        after=model_snapshot(policy),
    )
    return policy


@transaction.atomic
def policy_delete(*, policy_id: int) -> None:
    """Remove a policy (schedules are computed, so nothing else changes)."""
    policy: CapitalizationPolicy | None = (
        CapitalizationPolicy.objects.select_for_update().filter(pk=policy_id).first()
    )
    if policy is None:
        raise NotFoundError(POLICY_NOT_FOUND)
    before = model_snapshot(policy)
    pk = policy.pk
    policy.delete()
    audit_record(
        action="capitalization_policy.delete",
        object_type="payouts.capitalizationpolicy",
        object_id=str(pk),
        before=before,
    )


def policy_for(
    policies: Iterable[CapitalizationPolicy], plan_id: int | None, component_id: str
) -> CapitalizationPolicy | None:
    """Return the most specific active policy covering a plan's component, if any."""
    best: tuple[int, CapitalizationPolicy] | None = None
    for p in policies:
        if not p.is_active:
            continue
        if p.plan_id is not None and p.plan_id != plan_id:
            continue
        if p.component_id and p.component_id != component_id:
            continue
        rank = (2 if p.plan_id is not None else 0) + (1 if p.component_id else 0)
        if best is None or rank > best[0]:
            best = (rank, p)
    return best[1] if best else None


# --- amortization ----------------------------------------------------------------


def amortization_months(start: dt.date, months: int) -> list[dt.date]:
    """Return the first day of each of ``months`` months from ``start``'s month on."""
    out = []
    year, month = start.year, start.month
    for _ in range(months):
        out.append(dt.date(year, month, 1))
        month += 1
        if month > 12:
            year, month = year + 1, 1
    return out


def amortization_start(
    period: Period, rule: str = AmortizationStart.MONTH_AFTER_PERIOD_END
) -> dt.date:
    """Return the first month amortized for a period's earnings: the month after it ends
    (``period.end`` is exclusive, so its own month)."""
    last = period.end - dt.timedelta(days=1)
    return amortization_months(dt.date(last.year, last.month, 1), 2)[1]


def straight_line(amount: Decimal, months: int, currency: str) -> list[Decimal]:
    """Return ``amount`` spread over ``months`` in whole minor units, the remainder in the last
    month: the parts sum to ``amount`` exactly (``engine.money.instalment``)."""
    total = to_minor(amount, currency)
    return [from_minor(instalment(total, months, n), currency) for n in range(1, months + 1)]


def _month_end(month: dt.date) -> dt.date:
    return amortization_months(month, 2)[1] - dt.timedelta(days=1)


@dataclass(frozen=True)
class Capitalized:
    """One capitalized amount and its schedule."""

    period: Period
    person: Person
    plan_id: int | None
    plan: str
    component_id: str
    currency: str
    amount: Decimal
    benefit_months: int
    schedule: list[tuple[dt.date, Decimal]]  # (month, amortization)
    amortized: Decimal  # to date
    remaining: Decimal

    @property
    def start(self) -> dt.date | None:
        return self.schedule[0][0] if self.schedule else None


def capitalized_list(*, as_of: dt.date | None = None) -> list[Capitalized]:
    """Return every capitalized amount of the approved and closed periods with its schedule
    (three queries, whatever the number of entries)."""
    as_of = as_of or tenant_today(get_current_tenant())
    policies = list(CapitalizationPolicy.objects.filter(is_active=True))
    if not policies:
        return []
    rows = (
        LedgerEntry.objects.filter(
            kind__in=list(EARNED_KINDS), period__status__in=CAPITALIZED_PERIODS
        )
        .values("period_id", "person_id", "plan_id", "component_id", "currency")
        .annotate(total=Sum("amount"))
        .order_by("period_id", "person_id", "plan_id", "component_id", "currency")
    )
    wanted = []
    for row in rows:
        policy = policy_for(policies, row["plan_id"], row["component_id"])
        if policy is None or not row["total"]:
            continue
        wanted.append((row, policy))
    if not wanted:
        return []
    periods = Period.objects.in_bulk({r["period_id"] for r, _ in wanted})
    people = Person.objects.in_bulk({r["person_id"] for r, _ in wanted})
    plan_names = dict(Plan.objects.values_list("pk", "name"))
    out = []
    for row, policy in wanted:
        period = periods[row["period_id"]]
        months = amortization_months(
            amortization_start(period, policy.start_rule), policy.benefit_months
        )
        parts = straight_line(row["total"], policy.benefit_months, row["currency"])
        schedule = list(zip(months, parts, strict=True))
        amortized = sum((a for m, a in schedule if _month_end(m) <= as_of), ZERO)
        amount = sum(parts, ZERO)
        out.append(
            Capitalized(
                period=period,
                person=people[row["person_id"]],
                plan_id=row["plan_id"],
                plan=plan_names.get(row["plan_id"], ""),
                component_id=row["component_id"],
                currency=row["currency"],
                amount=amount,
                benefit_months=policy.benefit_months,
                schedule=schedule,
                amortized=amortized,
                remaining=amount - amortized,
            )
        )
    return out


@dataclass(frozen=True)
class AssetRow:
    """Capitalized, amortized to date and remaining, for one group and currency."""

    key: str
    label: str
    detail: str
    currency: str
    capitalized: Decimal
    amortized: Decimal
    remaining: Decimal
    items: int


def asset_rows(items: Iterable[Capitalized], *, by: str) -> list[AssetRow]:
    """Group capitalized amounts by ``period`` (the earning period) or ``person``."""
    if by not in {"period", "person"}:
        raise _invalid("by", UNKNOWN_GROUPING, "invalid_parameter")
    groups: dict[tuple[str, str], list[Capitalized]] = defaultdict(list)
    labels: dict[str, tuple[str, str, Any]] = {}
    for c in items:
        if by == "period":
            key = str(c.period.pk)
            labels[key] = (c.period.label, c.period.get_status_display(), c.period.start)
        else:
            key = str(c.person.pk)
            labels[key] = (c.person.full_name, c.person.employee_id, c.person.full_name.lower())
        groups[(key, c.currency)].append(c)
    rows = [
        AssetRow(
            key=key,
            label=labels[key][0],
            detail=labels[key][1],
            currency=currency,
            capitalized=sum((c.amount for c in cs), ZERO),
            amortized=sum((c.amortized for c in cs), ZERO),
            remaining=sum((c.remaining for c in cs), ZERO),
            items=len(cs),
        )
        for (key, currency), cs in groups.items()
    ]
    return sorted(rows, key=lambda r: (labels[r.key][2], r.currency))


@dataclass(frozen=True)
class MonthRow:
    """One month's amortization expense (per currency) and the asset left after it."""

    month: dt.date
    currency: str
    expense: Decimal
    remaining_after: Decimal
    to_date: bool


def month_rows(items: Iterable[Capitalized], *, as_of: dt.date | None = None) -> list[MonthRow]:
    """Return the amortization expense of every month, per currency, oldest first."""
    as_of = as_of or tenant_today(get_current_tenant())
    items = list(items)
    expense: dict[tuple[dt.date, str], Decimal] = defaultdict(lambda: ZERO)
    capitalized: dict[str, list[tuple[dt.date, Decimal]]] = defaultdict(list)
    for c in items:
        for month, part in c.schedule:
            expense[(month, c.currency)] += part
        if c.schedule:
            capitalized[c.currency].append((c.schedule[0][0], c.amount))
    out = []
    running: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for (month, currency), value in sorted(expense.items()):
        running[currency] += value
        booked = sum((a for start, a in capitalized[currency] if start <= month), ZERO)
        out.append(
            MonthRow(
                month=month,
                currency=currency,
                expense=value,
                remaining_after=booked - running[currency],
                to_date=_month_end(month) <= as_of,
            )
        )
    return out


@dataclass(frozen=True)
class AssetTotals:
    currency: str
    capitalized: Decimal
    amortized: Decimal
    remaining: Decimal


def asset_totals(items: Iterable[Capitalized]) -> list[AssetTotals]:
    """Return total capitalized, amortized to date and remaining asset, per currency."""
    sums: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO, ZERO])
    for c in items:
        s = sums[c.currency]
        s[0] += c.amount
        s[1] += c.amortized
        s[2] += c.remaining
    return [AssetTotals(cur, *v) for cur, v in sorted(sums.items())]


# --- earned but unpaid ----------------------------------------------------------------


@dataclass(frozen=True)
class UnpaidRow:
    """Earned, draws, paid, held and unpaid for one group and currency."""

    key: str
    label: str
    detail: str
    currency: str
    earned: Decimal
    draws: Decimal
    paid: Decimal
    held: Decimal
    unpaid: Decimal


def _q4(value: Decimal) -> Decimal:
    """The ledger's own precision (NUMERIC(20, 4)): sums come back with a database's scale."""
    return Decimal(value).quantize(Decimal("0.0001"))


GROUPINGS = {
    "period": "period_id",
    "person": "person_id",
    "cost_centre": "person_id",
    "currency": None,
}


def unpaid_rows(*, by: str = "period") -> list[UnpaidRow]:
    """Return earned-but-unpaid from the ledger by ``period``, ``person``, ``cost_centre`` or
    ``currency`` (each in its entries' currency), groups with nothing left out."""
    if by not in GROUPINGS:
        raise _invalid(
            "by",
            "Unknown grouping: use period, person, cost_centre or currency.",
            "invalid_parameter",
        )
    field = GROUPINGS[by]
    values = ["currency", "kind"] + ([field] if field else [])
    rows = LedgerEntry.objects.values(*values).annotate(total=Sum("amount")).order_by(*values)
    sums: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(
        lambda: {"earned": ZERO, "draws": ZERO, "paid": ZERO, "held": ZERO}
    )
    keys_of: dict[int, tuple[str, str, str]] = {}
    ids = {row[field] for row in rows} if field else set()
    if by == "period":
        for p in Period.objects.filter(pk__in=ids):
            keys_of[p.pk] = (str(p.pk), p.label, p.get_status_display())
    elif by in {"person", "cost_centre"}:
        for p in Person.objects.filter(pk__in=ids).only(
            "pk", "full_name", "employee_id", "attributes"
        ):
            if by == "person":
                keys_of[p.pk] = (str(p.pk), p.full_name, p.employee_id)
            else:
                cc = str((p.attributes or {}).get("cost_centre") or UNASSIGNED_COST_CENTRE)
                keys_of[p.pk] = (cc, cc, "")
    labels: dict[str, tuple[str, str]] = {}
    order: dict[str, Any] = {}
    for row in rows:
        if field:
            key, label, detail = keys_of.get(row[field], (str(row[field]), str(row[field]), ""))
        else:
            key, label, detail = row["currency"], row["currency"], ""
        labels[key] = (label, detail)
        bucket = sums[(key, row["currency"])]
        total = row["total"] or ZERO
        kind = row["kind"]
        if kind in EARNED_KINDS:
            bucket["earned"] += total
        elif kind in DRAW_KINDS:
            bucket["draws"] += total
        elif kind == EntryKind.PAID:
            bucket["paid"] -= total
        elif kind in HELD_KINDS:
            bucket["held"] -= total
    if by == "period":
        starts = dict(Period.objects.filter(pk__in=ids).values_list("pk", "start"))
        order = {str(pk): start for pk, start in starts.items()}
    out = []
    for (key, currency), s in sums.items():
        unpaid = s["earned"] + s["draws"] - s["paid"]
        if not any(s.values()) and not unpaid:
            continue
        out.append(
            UnpaidRow(
                key=key,
                label=labels[key][0],
                detail=labels[key][1],
                currency=currency,
                earned=_q4(s["earned"]),
                draws=_q4(s["draws"]),
                paid=_q4(s["paid"]),
                held=_q4(s["held"]),
                unpaid=_q4(unpaid),
            )
        )
    if by == "period":
        return sorted(out, key=lambda r: (order.get(r.key, dt.date.min), r.currency))
    return sorted(out, key=lambda r: (r.label.lower(), r.currency))


# --- tables for CSV / XLSX downloads --------------------------------------------------------------

Table = tuple[str, list[str], list[list[Any]]]


def accrual_tables(*, as_of: dt.date | None = None) -> dict[str, Table]:
    """Return the accrual tables as (title, header, rows) for a download."""
    items = capitalized_list(as_of=as_of)
    unpaid_header = ["group", "detail", "currency", "earned", "draws", "paid", "held", "unpaid"]

    def unpaid(by: str) -> list[list[Any]]:
        return [
            [r.label, r.detail, r.currency, r.earned, r.draws, r.paid, r.held, r.unpaid]
            for r in unpaid_rows(by=by)
        ]

    asset_header = [
        "group",
        "detail",
        "currency",
        "capitalized",
        "amortized_to_date",
        "remaining",
        "items",
    ]

    def assets(by: str) -> list[list[Any]]:
        return [
            [r.label, r.detail, r.currency, r.capitalized, r.amortized, r.remaining, r.items]
            for r in asset_rows(items, by=by)
        ]

    return {
        "unpaid_periods": ("Unpaid by period", unpaid_header, unpaid("period")),
        "unpaid_people": ("Unpaid by person", unpaid_header, unpaid("person")),
        "unpaid_cost_centres": ("Unpaid by cost centre", unpaid_header, unpaid("cost_centre")),
        "asset_periods": ("Capitalized by period", asset_header, assets("period")),
        "asset_people": ("Capitalized by person", asset_header, assets("person")),
        "amortization": (
            "Amortization schedule",
            ["month", "currency", "expense", "remaining_after", "amortized_to_date"],
            [
                [r.month.isoformat(), r.currency, r.expense, r.remaining_after, r.to_date]
                for r in month_rows(items, as_of=as_of)
            ],
        ),
        "schedule": (
            "Schedule by item",
            [
                "period",
                "employee_id",
                "person",
                "plan",
                "component",
                "currency",
                "capitalized",
                "benefit_months",
                "month",
                "amortization",
            ],
            [
                [
                    c.period.label,
                    c.person.employee_id,
                    c.person.full_name,
                    c.plan,
                    c.component_id,
                    c.currency,
                    c.amount,
                    c.benefit_months,
                    month.isoformat(),
                    part,
                ]
                for c in items
                for month, part in c.schedule
            ],
        ),
    }
