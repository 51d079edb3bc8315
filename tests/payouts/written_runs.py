"""A hand-written calculation run for the statement tests: a CalculationRun, its PayoutLines
and LineContributions written directly (no engine, no workers), over real credits.

Runs are built by another part of Quotient (``payouts/runs.py``); statements only read what a
run wrote, so their tests write it themselves. The numbers are chosen, not computed: the tests
check that statements read and add them right, never that the engine paid them right.

The cast is tests/hierarchy's small Acme org: Dana manages the company, Sam manages Sales
(East: Erin, West: Wes), Mia is in Marketing. Erin and Wes sell on plan_a (Sales AE).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.utils import timezone

from core.models import Role
from core.permissions import Principal
from core.tenancy import tenant_scope
from hierarchy import periods
from hierarchy.access import access_for
from hierarchy.models import Period, Person
from incentives import services as incentive_services
from incentives.models import Credit, Transaction
from payouts.models import (
    CalculationRun,
    EntryKind,
    LedgerEntry,
    LineContribution,
    PayoutLine,
    RunKind,
    RunStatus,
)
from plans import services as plan_services
from tests.factories.hierarchy import MembershipFactory, UserFactory

D = dt.date


@dataclass
class Written:
    """What :func:`hand_written_run` wrote: the periods, the run, lines by (person, component)."""

    q1: Period
    q2: Period
    run: CalculationRun
    lines: dict[tuple[str, str], PayoutLine] = field(default_factory=dict)
    transactions: dict[str, Transaction] = field(default_factory=dict)
    users: dict[str, Any] = field(default_factory=dict)


def link_user(tenant: Any, person: Person, email: str, roles: list[str]) -> Any:
    """Give ``person`` a sign-in with ``roles`` in ``tenant``."""
    user = UserFactory(email=email, first_name=person.full_name.split()[0])
    MembershipFactory(user=user, tenant=tenant, roles=roles)
    with tenant_scope(tenant):
        Person.objects.filter(pk=person.pk).update(user=user)
    return user


def write_run(
    period: Period, *, number: int = 1, status: str = RunStatus.SUCCEEDED, kind: str = RunKind.FULL
) -> CalculationRun:
    """Create a run of ``period`` (succeeded by default: lines are written while it runs)."""
    now = timezone.now()
    run = CalculationRun.objects.create(
        period=period,
        number=number,
        kind=kind,
        status=RunStatus.RUNNING,
        known_at=now,
        created_at=now,
        started_at=now,
    )
    if status != RunStatus.RUNNING:
        CalculationRun.objects.filter(pk=run.pk).update(status=status, finished_at=now)
        run.refresh_from_db()
    return run


def write_line(
    run: CalculationRun,
    person: Person,
    plan: Any,
    component: str,
    amount: str,
    *,
    attainment: str | None = None,
    measure: str | None = None,
    trace_text: str = "",
    kind: str = "commission",
    trace: list[dict[str, Any]] | None = None,
) -> PayoutLine:
    return PayoutLine.objects.create(
        run=run,
        period=run.period,
        person=person,
        plan=plan,
        plan_version=plan.versions.order_by("number").first(),
        component_id=component,
        kind=kind,
        amount=Decimal(amount),
        currency="USD",
        attainment=None if attainment is None else Decimal(attainment),
        measure=None if measure is None else Decimal(measure),
        trace_text=trace_text,
        trace=trace
        if trace is not None
        else [{"name": "amount", "value": amount, "how": trace_text}],
    )


def hand_written_run(org: Any, plan: Any) -> Written:
    """Write Q1 2026's succeeded run for Erin (two components), Wes and Mia, with Erin's
    commission traced to the credits of two deals; Q2 stays without a run. Links Erin, Wes
    (employees), Sam (manager of Sales) and Dana (manager of the company) to users."""
    tenant = org.tenant
    users = {
        "erin": link_user(tenant, org.erin, "erin@acme.test", [Role.EMPLOYEE]),
        "wes": link_user(tenant, org.wes, "wes@acme.test", [Role.EMPLOYEE]),
        "sam": link_user(tenant, org.sam, "sam@acme.test", [Role.MANAGER, Role.EMPLOYEE]),
        "dana": link_user(tenant, org.dana, "dana@acme.test", [Role.MANAGER]),
    }
    with tenant_scope(tenant):
        periods.period_generate_fiscal_year(fiscal_year=2026)
        q1 = Period.objects.get(kind="quarterly", label="FY2026 Q1")
        q2 = Period.objects.get(kind="quarterly", label="FY2026 Q2")
        incentive_services.crediting_rule_create(
            name="Owner", kind="direct", priority=20, valid_from=D(2025, 1, 1)
        )
        incentive_services.ingest_rows(
            request=incentive_services.IngestRequest(kind="transactions", source_format="json"),
            rows=[
                {
                    "external_id": f"D-{n}",
                    "kind": "new_business",
                    "amount": amount,
                    "currency": "USD",
                    "booked_on": "2026-02-10",
                    "owner_employee_id": emp,
                    "account": account,
                }
                for n, amount, emp, account in [
                    (1, "30000.00", "E3", "Initech"),
                    (2, "12500.00", "E3", "Globex Retail"),
                    (3, "8000.00", "E4", "Umbrella"),
                ]
            ],
            created_by_id=None,
        )
        # Targets: Erin's own (5,000 a quarter) over the AE role's (3,000), which Wes gets.
        for holder, target in (
            (plan_services.Holder(person_id=org.erin.pk), "5000"),
            (plan_services.Holder(role_id=org.ae.pk), "3000"),
        ):
            plan_services.plan_assignment_create(
                access=access_for(Principal(permissions=frozenset({"plans.change"}))),
                plan_version_id=plan.versions.get().pk,
                holder=holder,
                target_incentive=Decimal(target),
                valid_from=D(2026, 1, 1),
                user_id=None,
            )
        run = write_run(q1, status=RunStatus.RUNNING)
        lines = {
            ("erin", "commission"): write_line(
                run,
                org.erin,
                plan,
                "commission",
                "4250.00",
                attainment="0.85",
                measure="42500",
                trace_text="42,500.00 of bookings at 10 % = 4,250.00.",
            ),
            ("erin", "accelerator"): write_line(
                run,
                org.erin,
                plan,
                "accelerator",
                "1234567.50",
                attainment="1.2",
                trace_text="Above 100 % of quota: 1,234,567.50.",
                kind="bonus",
            ),
            ("wes", "commission"): write_line(
                run,
                org.wes,
                plan,
                "commission",
                "800.00",
                attainment="0.40",
                measure="8000",
                trace_text="8,000.00 of bookings at 10 % = 800.00.",
            ),
            ("mia", "commission"): write_line(
                run,
                org.mia,
                plan,
                "commission",
                "100.00",
                attainment="0.10",
                trace_text="1,000.00 at 10 % = 100.00.",
            ),
        }
        txs = {t.external_id: t for t in Transaction.objects.filter(superseded_at__isnull=True)}
        credits = {
            c.transaction.external_id: c for c in Credit.objects.select_related("transaction")
        }
        for ext, share in (("D-1", "3000.00"), ("D-2", "1250.00")):
            LineContribution.objects.create(
                line=lines[("erin", "commission")],
                run=run,
                transaction_id=txs[ext].pk,
                credit_id=credits[ext].pk,
                amount=Decimal(share),
            )
        LineContribution.objects.create(
            line=lines[("wes", "commission")],
            run=run,
            transaction_id=txs["D-3"].pk,
            credit_id=credits["D-3"].pk,
            amount=Decimal("800.00"),
        )
        CalculationRun.objects.filter(pk=run.pk).update(
            line_count=len(lines), status=RunStatus.SUCCEEDED, finished_at=timezone.now()
        )
        run.refresh_from_db()
    return Written(q1=q1, q2=q2, run=run, lines=lines, transactions=txs, users=users)


def ledger(person: Person, period: Period, kind: str, amount: str, memo: str = "") -> LedgerEntry:
    """Write one ledger entry directly (the ledger's services belong to another helper)."""
    return LedgerEntry.objects.create(
        person=person,
        period=period,
        kind=kind,
        amount=Decimal(amount),
        currency="USD",
        memo=memo,
        created_at=timezone.now(),
    )


__all__ = [
    "EntryKind",
    "Written",
    "hand_written_run",
    "ledger",
    "link_user",
    "write_line",
    "write_run",
]


def approve(tenant: Any, period: Period, run: CalculationRun) -> Any:
    """Walk ``period`` to approved with ``run`` through the lifecycle's services (which write
    the ledger's entries and freeze the statements)."""
    from payouts import lifecycle
    from tests.payouts.helpers import FINANCE_CLIENT, review_steps

    with tenant_scope(tenant):
        lifecycle.run_succeeded(run)
        lifecycle.period_submit_for_review(period_id=period.pk, principal=FINANCE_CLIENT)
        review_steps(period)
        return lifecycle.period_approve(
            period_id=period.pk, run_id=run.pk, principal=FINANCE_CLIENT
        )
