"""The period-close checklist counts the people paid on a plan version they have not
acknowledged (plans' acknowledgements), from the period's latest succeeded run."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from core.tenancy import tenant_scope
from payouts.selectors import period_checklist
from plans import services as plan_services
from plans.models import PlanAcknowledgement
from tests.payouts.helpers import JAN, cast, period, succeeded_run
from tests.payouts.written_runs import write_line


def test_the_checklist_counts_who_has_not_acknowledged_the_plan_paid(org: Any, plan_a: Any):
    with tenant_scope(org.tenant):
        c = cast(org.tenant)
        jan = period()
        finance = c.finance
        assert period_checklist(period_id=jan.pk, principal=finance).unacknowledged_plans == 0
        succeeded_run(
            jan, plan_a, [(org.erin, "100.00", "commission"), (org.wes, "50.00", "commission")]
        )
        item = period_checklist(period_id=jan.pk, principal=finance)
        assert item.unacknowledged_plans == 2 and not item.ready["plans_acknowledged"]
        version = plan_a.versions.get()
        PlanAcknowledgement.objects.create(
            person=org.erin,
            plan_version=version,
            plan=plan_a,
            spec_hash=version.spec_hash,
            acknowledged_at=timezone.now(),
        )
        assert period_checklist(period_id=jan.pk, principal=finance).unacknowledged_plans == 1


def test_the_checklist_counts_people_not_the_plans_they_are_paid_on(org: Any, plan_a: Any):
    # given: Erin paid on two plans' versions she has acknowledged neither of, Wes on one
    with tenant_scope(org.tenant):
        c = cast(org.tenant)
        jan = period()
        other = plan_services.plan_create(
            code="spiff", name="Spiff", template="sdr", user_id=None, valid_from=JAN
        )
        run = succeeded_run(
            jan, plan_a, [(org.erin, "100.00", "commission"), (org.wes, "50.00", "commission")]
        )
        write_line(run, org.erin, other, "commission", "10.00")
        # when
        item = period_checklist(period_id=jan.pk, principal=c.finance)
    # then: two people are waiting, not three (person, plan) pairs
    assert item.unacknowledged_plans == 2
