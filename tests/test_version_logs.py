"""Every write path of an input edited in place logs its version (core.temporal.versions_record):
people through the services and the HR import, quotas one by one and in bulk (the upload's
path), plan assignments created, ended and carried to a new version. SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from core.tenancy import tenant_scope
from hierarchy import people
from hierarchy.imports import hr_import
from hierarchy.models import Person, PersonVersion
from plans import services as plans
from plans.models import PlanAssignment, PlanAssignmentVersion, Quota, QuotaVersion
from plans.versions import ASSIGNMENT_FIELDS, QUOTA_FIELDS
from tests.payouts.rundata import build_sales
from tests.plans.conftest import comp_admin_access

pytestmark = pytest.mark.django_db

JAN, MID, FEB = dt.date(2026, 1, 1), dt.date(2026, 1, 15), dt.date(2026, 2, 1)
HEADER = "employee_id,full_name,hire_date,email,manager_employee_id,level,base_salary\n"


def _current(model: Any, **key: Any) -> list[Any]:
    return list(model.objects.filter(**key).known_now())


def _live_equals_log(model: Any, log: Any, key: str, fields: tuple[str, ...]) -> None:
    """Each live row's fields are its one current version's."""
    for row in model.objects.all():
        (version,) = _current(log, **{key: row.pk})
        assert {f: getattr(version, f) for f in fields} == {f: getattr(row, f) for f in fields}


def test_the_hr_import_logs_created_and_corrected_people(tenant_a):
    with tenant_scope(tenant_a):
        # given two people imported
        content = HEADER + "E1,Ada,2024-01-15,,,L5,150000\nE2,Bo,2024-03-01,,E1,L3,90000\n"
        assert hr_import(kind="people", content=content.encode()).status == "committed"
        ada = Person.objects.get(employee_id="E1")
        before = timezone.now()
        # when a second file corrects Ada's hire date and Bo's salary, and one terminates Bo
        content = HEADER + "E1,Ada,2024-02-01,,,L5,150000\nE2,Bo,2024-03-01,,E1,L3,95000\n"
        assert hr_import(kind="people", content=content.encode()).status == "committed"
        people.person_terminate(person_id=Person.objects.get(employee_id="E2").pk,
                                termination_date=dt.date(2026, 6, 1))  # fmt: skip
        # then each person's current version is the row as it stands, the old one kept
        _live_equals_log(
            Person, PersonVersion, "person_id", ("hire_date", "termination_date", "base_salary")
        )
        (old,) = PersonVersion.objects.filter(person=ada).known_at(before)
        assert old.hire_date == dt.date(2024, 1, 15)
        assert PersonVersion.objects.filter(person=ada).count() == 2


def test_quotas_and_plan_assignments_log_every_write(tenant_a):
    with tenant_scope(tenant_a):
        # given the sales tenant (its role assignment) and quotas written one by one and in bulk
        sales = build_sales(n_people=3, deals_per_person=1)
        access = comp_admin_access()
        one = plans.quota_create(
            access=access, holder=plans.QuotaHolder(person_id=sales.people[0].pk),
            quota_id="bookings", amount="1000", valid_from=JAN, valid_to=FEB, user_id=None,
        )  # fmt: skip
        plans.quota_bulk_create(
            access=access,
            rows=[
                plans.QuotaRow(plans.QuotaHolder(person_id=p.pk), "bookings", "2000", JAN, FEB)
                for p in sales.people[1:]
            ],
            user_id=None,
        )
        plans.quota_end(access=access, quota_pk=one.pk, valid_to=MID)
        direct = plans.plan_assignment_create(
            access=access, plan_version_id=sales.plan.versions.get().pk,
            holder=plans.Holder(person_id=sales.people[0].pk), target_incentive=Decimal(1),
            valid_from=dt.date(2026, 3, 1), user_id=None,
        )  # fmt: skip
        plans.plan_assignment_end(
            access=access, assignment_id=direct.pk, valid_to=dt.date(2026, 6, 1)
        )
        # and a version 2 published from February, the assignments carried
        draft = plans.plan_version_draft_create(plan_id=sales.plan.pk, user_id=None)
        plans.plan_version_publish(version_id=draft.pk, user_id=None, valid_from=FEB)
        # then every live row equals its one current version
        _live_equals_log(Quota, QuotaVersion, "quota_row_id", QUOTA_FIELDS)
        _live_equals_log(PlanAssignment, PlanAssignmentVersion, "assignment_id", ASSIGNMENT_FIELDS)
        assert QuotaVersion.objects.filter(quota_row=one).count() == 2
        assert PlanAssignment.objects.filter(plan_version=draft).count() == 2


def test_a_change_a_run_does_not_read_writes_no_version(tenant_a):
    with tenant_scope(tenant_a):
        # given a person with one version
        ada = people.person_create(employee_id="A1", full_name="Ada", hire_date=JAN)
        # when her name changes, then her salary
        people.person_update(person_id=ada.pk, full_name="Ada Lovelace")
        people.person_update(person_id=ada.pk, base_salary=Decimal("1000.50"))
        # then only the salary made a version, and the first one ended when it began
        first, second = PersonVersion.objects.filter(person=ada).order_by("recorded_at")
        assert (first.base_salary, second.base_salary) == (None, Decimal("1000.50"))
        assert first.superseded_at == second.recorded_at and second.superseded_at is None
