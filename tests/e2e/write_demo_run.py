"""Write a hand-written succeeded run into the demo database, for the browser test of
statements (runs are computed by payouts/runs.py; this test is about reading them).

Run as ``manage.py shell -c "from tests.e2e.write_demo_run import main; main()"``: the demo
employee's latest quarter with credits gets a commission line traced to her credits, her
manager's team one line each. Prints ``<period id> <person id> <line id> <external id>``.
"""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Count
from django.utils import timezone

from core.models import Tenant
from core.tenancy import tenant_scope
from hierarchy.models import Person
from incentives.models import Credit
from payouts.models import CalculationRun, LineContribution, PayoutLine, RunStatus
from plans.models import PlanAssignment, PlanVersion

TRACE = "{measure} of credited bookings at 10 % = {amount}."


def main() -> None:
    with tenant_scope(Tenant.objects.get(slug="demo")):
        emma = Person.objects.get(user__email="employee@demo.quotient.dev")
        busiest = (
            Credit.objects.filter(person=emma, superseded_at__isnull=True, period__isnull=False)
            .values("period")
            .annotate(n=Count("id"))
            .order_by("-n")
            .first()
        )
        credits = list(
            Credit.objects.filter(
                person=emma, superseded_at__isnull=True, period_id=busiest["period"]
            ).select_related("transaction", "period")[:5]
        )
        period = credits[0].period
        version = (
            PlanVersion.objects.filter(
                pk__in=PlanAssignment.objects.values("plan_version_id"), status="published"
            )
            .select_related("plan")
            .first()
        )
        now = timezone.now()
        number = CalculationRun.objects.filter(period=period).count() + 1
        run = CalculationRun.objects.create(
            period=period, number=number, status=RunStatus.RUNNING, known_at=now, created_at=now
        )
        measure = sum((c.amount for c in credits), Decimal(0))
        amount = (measure / 10).quantize(Decimal("0.01"))
        line = PayoutLine.objects.create(
            run=run,
            period=period,
            person=emma,
            plan=version.plan,
            plan_version=version,
            component_id="commission",
            kind="commission",
            amount=amount,
            currency=credits[0].currency,
            attainment=Decimal("0.72"),
            measure=measure,
            trace_text=TRACE.format(measure=f"{measure:,.2f}", amount=f"{amount:,.2f}"),
            trace=[{"name": "rate", "value": "0.10", "how": "the plan's commission rate"}],
        )
        for c in credits:
            LineContribution.objects.create(
                line=line,
                run=run,
                transaction_id=c.transaction_id,
                credit_id=c.pk,
                amount=(c.amount / 10).quantize(Decimal("0.0001")),
            )
        CalculationRun.objects.filter(pk=run.pk).update(
            status=RunStatus.SUCCEEDED, finished_at=timezone.now(), line_count=1
        )
        print(period.pk, emma.pk, line.pk, credits[0].transaction.external_id)  # noqa: T201
