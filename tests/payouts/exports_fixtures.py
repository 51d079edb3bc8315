"""An approved period for the export tests: a succeeded run's lines approved through the real
lifecycle (``payouts.lifecycle``), which writes their ledger entries and freezes statements."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils import timezone

from core.models import Role
from core.permissions import ROLE_PERMISSIONS, Principal
from hierarchy.models import Period, PeriodStatus, Person
from payouts import ledger, lifecycle
from payouts.models import CalculationRun, LedgerEntry, PayoutLine, RunStatus
from tests.payouts.helpers import review_steps

FINANCE = Principal(permissions=ROLE_PERMISSIONS[Role.FINANCE], user_id=None)

D = dt.date
JAN, FEB = D(2026, 1, 1), D(2026, 2, 1)


@dataclass
class Approved:
    period: Period
    run: CalculationRun
    lines: list[PayoutLine]
    entries: list[LedgerEntry]


def entry(person: Person, period: Period, kind: str, amount: str, **kw: Any) -> LedgerEntry:
    return LedgerEntry.objects.create(
        person=person,
        period=period,
        kind=kind,
        amount=Decimal(amount),
        currency=kw.pop("currency", "USD"),
        created_at=timezone.now(),
        **kw,
    )


def approved_period(
    org: Any,
    plan: Any,
    *,
    start: dt.date = JAN,
    end: dt.date = FEB,
    label: str = "Jan 2026",
    amounts: dict[str, str] | None = None,
    status: str = PeriodStatus.APPROVED,
    hold: str | None = None,
) -> Approved:
    """Create a period with a succeeded run, approve it (its lines' ledger entries) and move it
    on to ``status`` (calculated, approved or closed); ``hold`` names a person held first."""
    period = Period.objects.create(
        kind="monthly", fiscal_year=start.year, start=start, end=end, label=label
    )
    now = timezone.now()
    run = CalculationRun.objects.create(
        period=period, number=1, status=RunStatus.RUNNING, known_at=now, created_at=now
    )
    amounts = amounts or {"erin": "1000.00", "wes": "250.50"}
    version = plan.versions.get()
    lines: list[PayoutLine] = []
    for name, amount in amounts.items():
        person = getattr(org, name)
        for component, share in (("commission", Decimal("0.8")), ("spiff", Decimal("0.2"))):
            line = PayoutLine.objects.create(
                run=run,
                period=period,
                person=person,
                plan=plan,
                plan_version=version,
                component_id=component,
                kind=component,
                amount=(Decimal(amount) * share).quantize(Decimal("0.01")),
                currency="USD",
            )
            lines.append(line)
    CalculationRun.objects.filter(pk=run.pk).update(status=RunStatus.SUCCEEDED)
    run.refresh_from_db()
    lifecycle.run_succeeded(run)
    if status != PeriodStatus.CALCULATED:
        if hold:
            ledger.hold_place(
                principal=FINANCE, person_id=getattr(org, hold).pk, reason="Contract check"
            )
        lifecycle.period_submit_for_review(period_id=period.pk, principal=FINANCE)
        review_steps(period)
        lifecycle.period_approve(period_id=period.pk, run_id=run.pk, principal=FINANCE)
        if status == PeriodStatus.CLOSED:
            lifecycle.period_close(period_id=period.pk, principal=FINANCE)
    period.refresh_from_db()
    entries = list(LedgerEntry.objects.filter(period=period).order_by("pk"))
    return Approved(period, run, lines, entries)
