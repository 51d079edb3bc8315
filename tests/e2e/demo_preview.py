"""Give the demo employee's plan a draft that pays 1 % more commission, for the browser test of
"Preview on real data" (tests/e2e/test_plan_preview.py).

Run as ``manage.py shell -c "from tests.e2e.demo_preview import main; main()"``. Prints
``<plan id> <draft number>``; a draft the plan already has (another test's) is used as it is.
"""

from __future__ import annotations

from core.models import Tenant
from core.tenancy import tenant_scope
from hierarchy.models import Person
from payouts.models import PayoutLine, PeriodApproval
from plans import services
from plans.models import PlanVersion, VersionStatus


def main() -> None:
    with tenant_scope(Tenant.objects.get(slug="demo")):
        emma = Person.objects.get(user__email="employee@demo.quotient.dev")
        approval = PeriodApproval.objects.select_related("run").latest("id")
        line = PayoutLine.objects.filter(run=approval.run, person=emma).order_by("id").first()
        assert line is not None, "the demo employee has no line"
        draft = PlanVersion.objects.filter(plan_id=line.plan_id, status=VersionStatus.DRAFT).first()
        if draft is None:
            draft = services.plan_version_draft_create(plan_id=line.plan_id, user_id=None)
        print(line.plan_id, draft.number)  # noqa: T201
