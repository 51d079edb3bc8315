"""An approved period with EARNED ledger entries for the export tests (the ledger helper's
approve service writes exactly these; until it is merged the fixtures write them directly)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils import timezone

from hierarchy.models import Period, PeriodStatus, Person
from payouts.models import CalculationRun, EntryKind, LedgerEntry, PayoutLine, RunStatus

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
) -> Approved:
    """Create a period with a succeeded run whose lines have EARNED entries (inside a scope)."""
    period = Period.objects.create(
        kind="monthly", fiscal_year=start.year, start=start, end=end, label=label, status=status
    )
    now = timezone.now()
    run = CalculationRun.objects.create(
        period=period, number=1, status=RunStatus.RUNNING, known_at=now, created_at=now
    )
    amounts = amounts or {"erin": "1000.00", "wes": "250.50"}
    version = plan.versions.get()
    lines, entries = [], []
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
            entries.append(
                entry(
                    person,
                    period,
                    EntryKind.EARNED,
                    str(line.amount),
                    plan=plan,
                    component_id=component,
                    run=run,
                    line=line,
                )
            )
    CalculationRun.objects.filter(pk=run.pk).update(status=RunStatus.SUCCEEDED)
    return Approved(period, run, lines, entries)
