"""The period calendar: generate a fiscal year's periods, read them, label and lock them.

A period's status (open → calculated → in review → approved → closed) is not moved here: the
lifecycle services in ``payouts/lifecycle.py`` own it, behind a database trigger.

A fiscal year is named after the calendar year in which it ends: with a February start,
FY2027 runs from 1 Feb 2026 to 31 Jan 2027 (``[2026-02-01, 2027-02-01)``). With a January
start, FY2026 is calendar 2026.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from core.audit import audit_record
from core.errors import ConflictError, NotFoundError, ValidationFailedError
from core.models import Tenant, model_snapshot
from core.tenancy import get_current_tenant
from hierarchy.models import Period, PeriodKind, PeriodStatus

STATUS_BY_SERVICE = (
    "A period's status moves only through its lifecycle: POST /api/v1/periods/{id}/submit/, "
    "approve/, reopen/ or close/ (payouts.lifecycle)."
)
CLOSED_IS_FINAL = "A closed period is locked; corrections go into an open period."
FISCAL_YEAR_RANGE = "Choose a fiscal year between 1900 and 2999."
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def tenant_today(tenant: Tenant) -> date:
    """Return today's date in the tenant's time zone."""
    return timezone.now().astimezone(ZoneInfo(tenant.time_zone)).date()


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + (day.month - 1) + months
    return date(index // 12, index % 12 + 1, 1)


def fiscal_year_bounds(tenant: Tenant, fiscal_year: int) -> tuple[date, date]:
    """Return ``[start, end)`` of ``fiscal_year`` for the tenant's fiscal-year start month."""
    month = tenant.fiscal_year_start_month
    start = date(fiscal_year if month == 1 else fiscal_year - 1, month, 1)
    return start, _add_months(start, 12)


def fiscal_year_of(tenant: Tenant, day: date) -> int:
    """Return the fiscal year that contains ``day``."""
    month = tenant.fiscal_year_start_month
    if month == 1:
        return day.year
    return day.year + 1 if day.month >= month else day.year


def fiscal_year_periods(tenant: Tenant, fiscal_year: int) -> list[Period]:
    """Return (unsaved) the annual, 4 quarterly and 12 monthly periods of a fiscal year."""
    start, end = fiscal_year_bounds(tenant, fiscal_year)
    fy = f"FY{fiscal_year}"
    periods = [
        Period(
            tenant=tenant,
            kind=PeriodKind.ANNUAL,
            fiscal_year=fiscal_year,
            start=start,
            end=end,
            label=fy,
        )
    ]
    periods.extend(
        Period(
            tenant=tenant,
            kind=PeriodKind.QUARTERLY,
            fiscal_year=fiscal_year,
            start=_add_months(start, 3 * q),
            end=_add_months(start, 3 * q + 3),
            label=f"{fy} Q{q + 1}",
        )
        for q in range(4)
    )
    for m in range(12):
        month_start = _add_months(start, m)
        periods.append(
            Period(
                tenant=tenant,
                kind=PeriodKind.MONTHLY,
                fiscal_year=fiscal_year,
                start=month_start,
                end=_add_months(start, m + 1),
                label=f"{fy} M{m + 1:02d} ({MONTHS[month_start.month - 1]} {month_start.year})",
            )
        )
    return periods


@transaction.atomic
def period_generate_fiscal_year(*, fiscal_year: int) -> list[Period]:
    """Create the fiscal year's periods that do not exist yet; return the year's 17 periods."""
    tenant = get_current_tenant()
    if not 1900 <= fiscal_year <= 2999:
        raise ValidationFailedError(
            FISCAL_YEAR_RANGE,
            code="fiscal_year_range",
            details={"fiscal_year": [FISCAL_YEAR_RANGE]},
        )
    wanted = fiscal_year_periods(tenant, fiscal_year)
    have = {(p.kind, p.start) for p in Period.objects.filter(fiscal_year=fiscal_year)}
    missing = [p for p in wanted if (p.kind, p.start) not in have]
    Period.objects.bulk_create(missing)
    if missing:
        audit_record(
            action="period.generate",
            object_type="hierarchy.period",
            object_id=f"FY{fiscal_year}",
            after={"fiscal_year": fiscal_year, "created": [p.label for p in missing]},
        )
    return list(Period.objects.filter(fiscal_year=fiscal_year).order_by("start", "kind"))


@transaction.atomic
def period_update(*, period_id: int, **changes: Any) -> Period:
    """Change a period's label or data lock date (its status moves only through the lifecycle
    services of ``payouts.lifecycle``; a database trigger refuses any other way).

    ``data_lock_date``: from that day on, incoming rows dated inside this (closed) period are
    refused; before it they become corrections in the open period (see docs/incentives.md).
    """
    period: Period | None = Period.objects.select_for_update().filter(pk=period_id).first()
    if period is None:
        raise NotFoundError("Period not found.")
    if "status" in changes:
        raise ValidationFailedError(
            STATUS_BY_SERVICE, code="status_read_only", details={"status": [STATUS_BY_SERVICE]}
        )
    if period.status == PeriodStatus.CLOSED and set(changes) - {"data_lock_date"}:
        # A closed period is final; only its data lock may still be set or moved.
        raise ConflictError(CLOSED_IS_FINAL, code="period_closed")
    before = model_snapshot(period)
    if "data_lock_date" in changes:
        period.data_lock_date = changes["data_lock_date"]
    if "label" in changes:
        period.label = changes["label"]
    period.save(update_fields=["data_lock_date", "label"])
    audit_record(action="period.update", obj=period, before=before, after=model_snapshot(period))
    return period


def period_list(*, kind: str | None = None, fiscal_year: int | None = None) -> QuerySet[Period]:
    """Return the tenant's periods in calendar order."""
    periods = Period.objects.all().order_by("start", "kind")
    if kind:
        periods = periods.filter(kind=kind)
    if fiscal_year:
        periods = periods.filter(fiscal_year=fiscal_year)
    return periods


def period_get(*, period_id: int) -> Period:
    period: Period | None = Period.objects.filter(pk=period_id).first()
    if period is None:
        raise NotFoundError("Period not found.")
    return period


def period_containing(*, day: date, kind: str = PeriodKind.QUARTERLY) -> Period | None:
    """Return the period of ``kind`` that contains ``day``, if generated."""
    return Period.objects.filter(kind=kind, start__lte=day, end__gt=day).first()
