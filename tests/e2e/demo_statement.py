"""Find, in the demo database, the demo employee's statement of the closed quarter that
``payouts_demo_seed`` computed and approved, for the browser test of statements.

Run as ``manage.py shell -c "from tests.e2e.demo_statement import main; main()"``. Prints
``<period id> <person id> <line id> <external id> <open period id>``: her line with the most
credits behind it, the external id of one transaction behind that line, and the quarter still
open (calculated, not approved).
"""

from __future__ import annotations

from django.db.models import Count

from core.models import Tenant
from core.tenancy import tenant_scope
from hierarchy.models import Person
from payouts.models import CalculationRun, LineContribution, PayoutLine, PeriodApproval


def main() -> None:
    with tenant_scope(Tenant.objects.get(slug="demo")):
        emma = Person.objects.get(user__email="employee@demo.quotient.dev")
        approval = PeriodApproval.objects.select_related("run").latest("id")
        line = (
            PayoutLine.objects.filter(run=approval.run, person=emma)
            .annotate(n=Count("contributions"))
            .order_by("-n", "id")
            .first()
        )
        assert line is not None and line.n, "the demo employee has no credited line"
        contribution = LineContribution.objects.filter(line=line).order_by("id").first()
        from incentives.models import Transaction

        external = Transaction.objects.get(pk=contribution.transaction_id).external_id
        live = CalculationRun.objects.filter(period__status="calculated").latest("id")
        print(approval.run.period_id, emma.pk, line.pk, external, live.period_id)  # noqa: T201
