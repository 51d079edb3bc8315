"""Assignments: a published version on a person, job role or node; overlaps refused by name."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from core.errors import ConflictError, PermissionDeniedError, ValidationFailedError
from core.models import Role
from core.permissions import ROLE_PERMISSIONS, Principal
from core.tenancy import tenant_scope
from hierarchy.access import access_for
from hierarchy.models import MembershipScope
from plans import selectors, services
from plans.models import PlanAssignment
from plans.services import BulkRow, Holder
from tests.factories.hierarchy import MembershipFactory, UserFactory
from tests.plans.conftest import comp_admin_access

D = date


def _version(plan):
    return plan.versions.order_by("number").last()


def test_a_version_is_assigned_to_a_person_a_role_and_a_node(plan_a, org, alice):
    with tenant_scope(plan_a.tenant):
        access = comp_admin_access(alice.pk)
        v1 = _version(plan_a)
        made = [
            services.plan_assignment_create(
                access=access,
                plan_version_id=v1.pk,
                holder=holder,
                target_incentive="12000.50",
                valid_from=D(2026, 1, 1),
                user_id=alice.pk,
            )
            for holder in (
                Holder(person_id=org.erin.pk),
                Holder(role_id=org.ae.pk),
                Holder(node_id=org.west.pk),
            )
        ]
        assert [a.holder_kind for a in made] == ["person", "role", "node"]
        assert made[0].target_incentive == Decimal("12000.50")
        assert made[0].currency == "USD"  # the plan's currency unless another is given
        assert made[0].created_by_id == alice.pk
        assert set(selectors.plan_assignment_list(access=access, plan_id=plan_a.pk)) == set(made)


def test_an_overlap_is_refused_naming_the_conflicting_assignment(plan_a, org, alice):
    with tenant_scope(plan_a.tenant):
        access = comp_admin_access(alice.pk)
        v1 = _version(plan_a)
        first = services.plan_assignment_create(
            access=access,
            plan_version_id=v1.pk,
            holder=Holder(person_id=org.erin.pk),
            target_incentive=10000,
            valid_from=D(2026, 1, 1),
            valid_to=D(2026, 7, 1),
            user_id=alice.pk,
        )
        with pytest.raises(ConflictError) as caught:
            services.plan_assignment_create(
                access=access,
                plan_version_id=v1.pk,
                holder=Holder(person_id=org.erin.pk),
                target_incentive=10000,
                valid_from=D(2026, 6, 30),
                user_id=alice.pk,
            )
        assert caught.value.message == (
            "Person Erin East is already on plan Sales AE (version 1) from 2026-01-01 through "
            "2026-06-30; end that assignment first."
        )
        assert caught.value.details == {"conflict_id": first.pk}
        # [2026-01-01, 2026-07-01) and [2026-07-01, ...) share no day
        services.plan_assignment_create(
            access=access,
            plan_version_id=v1.pk,
            holder=Holder(person_id=org.erin.pk),
            target_incentive=10000,
            valid_from=D(2026, 7, 1),
            user_id=alice.pk,
        )
        assert PlanAssignment.objects.count() == 2


def test_bad_assignments_are_refused_with_their_reason(plan_a, org, alice):
    with tenant_scope(plan_a.tenant):
        access = comp_admin_access(alice.pk)
        v1 = _version(plan_a)

        def attempt(**kwargs):
            args = {
                "access": access,
                "plan_version_id": v1.pk,
                "holder": Holder(person_id=org.erin.pk),
                "target_incentive": 1,
                "valid_from": D(2026, 1, 1),
                "user_id": alice.pk,
                **kwargs,
            }
            with pytest.raises((ValidationFailedError, ConflictError)) as caught:
                services.plan_assignment_create(**args)
            return caught.value.code

        assert attempt(holder=Holder()) == "one_holder"
        assert attempt(holder=Holder(person_id=org.erin.pk, node_id=org.west.pk)) == "one_holder"
        assert attempt(currency="XYZ") == "bad_currency"
        assert attempt(target_incentive="-1") == "bad_target_incentive"
        assert attempt(target_incentive="NaN") == "bad_target_incentive"
        assert attempt(valid_from=D(2025, 12, 31)) == "before_version"
        assert attempt(valid_to=D(2026, 1, 1)) == "bad_dates"
        assert attempt(holder=Holder(person_id=10**9)) == "unknown_person"
        draft = services.plan_version_draft_create(plan_id=plan_a.pk, user_id=alice.pk)
        assert attempt(plan_version_id=draft.pk) == "not_published"
        assert not PlanAssignment.objects.exists()


def test_bulk_assignment_is_all_or_nothing_with_every_row_reported(plan_a, org, alice):
    with tenant_scope(plan_a.tenant):
        access = comp_admin_access(alice.pk)
        v1 = _version(plan_a)
        rows = [
            BulkRow(Holder(person_id=org.erin.pk), 9000, D(2026, 1, 1)),
            BulkRow(Holder(person_id=org.wes.pk), 9000, D(2026, 1, 1)),
            BulkRow(Holder(person_id=org.wes.pk), 9000, D(2026, 3, 1)),  # overlaps row 2
            BulkRow(Holder(person_id=org.mia.pk), "lots", D(2026, 1, 1)),
        ]
        with pytest.raises(ValidationFailedError) as caught:
            services.plan_assignment_bulk_create(
                access=access, plan_version_id=v1.pk, rows=rows, user_id=alice.pk
            )
        reported = caught.value.details["rows"]
        assert [(r["row"], r["code"]) for r in reported] == [
            (3, "assignment_overlap"),
            (4, "bad_target_incentive"),
        ]
        assert not PlanAssignment.objects.exists()
        made = services.plan_assignment_bulk_create(
            access=access, plan_version_id=v1.pk, rows=rows[:2], user_id=alice.pk
        )
        assert len(made) == 2


def test_publishing_a_successor_carries_the_assignments_forward(plan_a, org, alice):
    with tenant_scope(plan_a.tenant):
        access = comp_admin_access(alice.pk)
        v1 = _version(plan_a)
        old = services.plan_assignment_create(
            access=access,
            plan_version_id=v1.pk,
            holder=Holder(node_id=org.west.pk),
            target_incentive=5000,
            valid_from=D(2026, 1, 1),
            user_id=alice.pk,
        )
        v2 = services.plan_version_draft_create(plan_id=plan_a.pk, user_id=alice.pk)
        services.plan_version_publish(version_id=v2.pk, user_id=alice.pk, valid_from=D(2026, 4, 1))
        old.refresh_from_db()
        assert (old.valid_from, old.valid_to, old.plan_version_id) == (
            D(2026, 1, 1),
            D(2026, 4, 1),
            v1.pk,
        )
        new = PlanAssignment.objects.get(plan_version=v2)
        assert (new.node_id, new.valid_from, new.valid_to, new.target_incentive) == (
            org.west.pk,
            D(2026, 4, 1),
            None,
            Decimal(5000),
        )


def test_a_node_scoped_admin_assigns_only_inside_their_nodes(plan_a, org, tenant_a, alice):
    with tenant_scope(tenant_a):
        user = UserFactory(email="bu@acme.test")
        membership = MembershipFactory(user=user, tenant=tenant_a, roles=[Role.COMP_ADMIN])
        MembershipScope.objects.create(membership=membership, node=org.east)
        principal = Principal(
            permissions=ROLE_PERMISSIONS[Role.COMP_ADMIN],
            user_id=user.pk,
            membership_id=membership.pk,
        )
        access = access_for(principal, today=D(2026, 1, 1))
        v1 = _version(plan_a)
        services.plan_assignment_create(
            access=access,
            plan_version_id=v1.pk,
            holder=Holder(person_id=org.erin.pk),
            target_incentive=1,
            valid_from=D(2026, 1, 1),
            user_id=user.pk,
        )
        with pytest.raises(ValidationFailedError):
            services.plan_assignment_create(
                access=access,
                plan_version_id=v1.pk,
                holder=Holder(person_id=org.wes.pk),
                target_incentive=1,
                valid_from=D(2026, 1, 1),
                user_id=user.pk,
            )
        with pytest.raises(ValidationFailedError) as caught:
            services.plan_assignment_create(
                access=access,
                plan_version_id=v1.pk,
                holder=Holder(node_id=org.west.pk),
                target_incentive=1,
                valid_from=D(2026, 1, 1),
                user_id=user.pk,
            )
        assert caught.value.code == "out_of_scope"
        with pytest.raises(PermissionDeniedError):
            services.plan_assignment_create(
                access=access,
                plan_version_id=v1.pk,
                holder=Holder(role_id=org.ae.pk),
                target_incentive=1,
                valid_from=D(2026, 1, 1),
                user_id=user.pk,
            )
        # what they see: their own people's rows, not the tenant-wide admin's other rows
        services.plan_assignment_create(
            access=comp_admin_access(alice.pk),
            plan_version_id=v1.pk,
            holder=Holder(person_id=org.wes.pk),
            target_incentive=1,
            valid_from=D(2026, 1, 1),
            user_id=alice.pk,
        )
        seen = selectors.plan_assignment_list(access=access)
        assert [a.person_id for a in seen] == [org.erin.pk]


def test_the_assign_form_takes_the_last_day_and_the_page_shows_it(plan_a, org, client_alice):
    with tenant_scope(plan_a.tenant):
        version = _version(plan_a)
    response = client_alice.post(
        f"/plans/{plan_a.pk}/",
        {
            "version": version.pk,
            "holder_kind": "person",
            "person": org.erin.pk,
            "target_incentive": "10000",
            "valid_from": "2026-01-01",
            "valid_to": "2026-03-31",  # the last day, inclusive
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    with tenant_scope(plan_a.tenant):
        stored = PlanAssignment.objects.get(person=org.erin)
    assert stored.valid_to == date(2026, 4, 1)  # kept as the first day after it
    page = client_alice.get(f"/plans/{plan_a.pk}/").content.decode()
    assert "<th>Last day</th>" in page and ">31 Mar 2026</td>" in page and "1 Apr 2026" not in page
    assert "Until (exclusive)" not in page and "A team" in page
