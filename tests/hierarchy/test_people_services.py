"""People, hierarchies and assignments: validation, selectors, timelines, bitemporal replay."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.utils import timezone

from core.errors import ConflictError, ValidationFailedError
from core.models import AuditEvent, Membership, Role
from core.permissions import principal_for_membership
from core.tenancy import tenant_scope
from hierarchy import org_selectors as sel
from hierarchy import people
from hierarchy.access import access_for
from hierarchy.models import Assignment, NodeClosure, NodeParent, Person
from tests.factories.hierarchy import MembershipFactory, UserFactory

D = date
Q1 = (D(2026, 1, 1), D(2026, 4, 1))  # 90 days


def _names(queryset):
    return sorted(p.full_name for p in queryset)


# --- validation --------------------------------------------------------------------------------


def test_it_refuses_allocation_over_100_percent_on_any_day(org):
    with tenant_scope(org.tenant):
        # given Erin is 100 % in East from 2025; a 30 % second role from March
        with pytest.raises(ValidationFailedError) as exc:
            people.assignment_create(
                person_id=org.erin.pk,
                node_id=org.marketing.pk,
                role_id=org.pmm.pk,
                valid_from=D(2026, 3, 1),
                allocation_pct=Decimal(30),
            )
        # then
        assert exc.value.code == "allocation_over_100"
        assert (
            exc.value.message == "Allocation would be 130% on 2026-03-01; at most 100% is allowed."
        )
        assert Assignment.objects.filter(person=org.erin).count() == 1


def test_it_allows_back_to_back_assignments_that_touch_but_do_not_overlap(org):
    with tenant_scope(org.tenant):
        current = Assignment.objects.get(person=org.erin)
        people.assignment_update(assignment_id=current.pk, valid_to=D(2026, 2, 15))
        moved = people.assignment_create(
            person_id=org.erin.pk,
            node_id=org.west.pk,
            role_id=org.ae.pk,
            valid_from=D(2026, 2, 15),
        )
        assert moved.pk


def test_it_refuses_an_overlapping_duplicate_of_the_same_node_and_role(org):
    with tenant_scope(org.tenant):
        people.assignment_update(
            assignment_id=Assignment.objects.get(person=org.erin).pk, allocation_pct=Decimal(50)
        )
        with pytest.raises(ValidationFailedError) as exc:
            people.assignment_create(
                person_id=org.erin.pk,
                node_id=org.east.pk,
                role_id=org.ae.pk,
                valid_from=D(2026, 1, 1),
                allocation_pct=Decimal(10),
            )
        assert exc.value.code == "overlapping_duplicate"


def test_it_refuses_dates_out_of_order_and_starts_before_hire(org):
    with tenant_scope(org.tenant):
        with pytest.raises(ValidationFailedError) as exc:
            people.assignment_create(
                person_id=org.mia.pk,
                node_id=org.sales.pk,
                role_id=org.ae.pk,
                valid_from=D(2026, 3, 1),
                valid_to=D(2026, 2, 1),
                allocation_pct=Decimal("0.01"),
            )
        assert exc.value.code == "dates_out_of_order"
        with pytest.raises(ValidationFailedError) as exc:
            people.assignment_create(
                person_id=org.mia.pk,
                node_id=org.sales.pk,
                role_id=org.mgr.pk,
                valid_from=D(2019, 3, 1),
                valid_to=D(2019, 4, 1),
            )
        assert exc.value.code == "before_hire"


def test_a_termination_ends_open_assignments_and_withdraws_later_ones(org):
    with tenant_scope(org.tenant):
        # given a future second assignment
        people.assignment_update(
            assignment_id=Assignment.objects.get(person=org.wes).pk, allocation_pct=Decimal(50)
        )
        people.assignment_create(
            person_id=org.wes.pk,
            node_id=org.marketing.pk,
            role_id=org.pmm.pk,
            valid_from=D(2026, 6, 1),
            allocation_pct=Decimal(50),
        )
        # when
        people.person_terminate(person_id=org.wes.pk, termination_date=D(2026, 3, 1))
        # then
        current = sel.assignment_list(person_id=org.wes.pk)
        assert [(a.node_id, a.valid_from, a.valid_to) for a in current] == [
            (org.west.pk, D(2025, 1, 1), D(2026, 3, 1))
        ]
        assert _names(sel.node_members(node=org.west, as_of=D(2026, 3, 1))) == []
        assert _names(sel.node_members(node=org.west, as_of=D(2026, 2, 28))) == ["Wes West"]


def test_a_move_that_makes_a_cycle_is_refused_and_nothing_changes(org):
    with tenant_scope(org.tenant):
        links_before = NodeParent.objects.count()
        closure_before = NodeClosure.objects.count()
        # when Sales is put under its own child East from June
        with pytest.raises(ValidationFailedError) as exc:
            people.node_move(node_id=org.sales.pk, parent_id=org.east.pk, valid_from=D(2026, 6, 1))
        # then
        assert exc.value.code == "cycle"
        assert exc.value.message == "This move would make Sales its own ancestor on 2026-06-01."
    with tenant_scope(org.tenant):
        assert NodeParent.objects.count() == links_before
        assert NodeClosure.objects.count() == closure_before


def test_a_node_cannot_be_its_own_parent_or_under_another_hierarchy(org):
    with tenant_scope(org.tenant):
        other = people.hierarchy_create(code="region", name="Region", kind="region")
        emea = people.node_create(
            hierarchy_id=other.pk, code="emea", name="EMEA", valid_from=D(2025, 1, 1)
        )
        with pytest.raises(ValidationFailedError) as exc:
            people.node_move(node_id=org.east.pk, parent_id=org.east.pk, valid_from=D(2026, 1, 1))
        assert exc.value.code == "cycle"
        with pytest.raises(ValidationFailedError) as exc:
            people.node_move(node_id=org.east.pk, parent_id=emea.pk, valid_from=D(2026, 1, 1))
        assert exc.value.code == "parent_other_hierarchy"


def test_manager_cycles_and_unknown_managers_are_refused(org):
    with tenant_scope(org.tenant):
        people.person_update(person_id=org.sam.pk, manager_id=org.dana.pk)
        with pytest.raises(ValidationFailedError) as exc:
            people.person_update(person_id=org.dana.pk, manager_id=org.sam.pk)
        assert exc.value.code == "manager_cycle"
        with pytest.raises(ValidationFailedError) as exc:
            people.person_update(person_id=org.dana.pk, manager_id=10**9)
        assert exc.value.code == "unknown_manager"
        with pytest.raises(ConflictError):
            people.person_create(employee_id="E1", full_name="Dup", hire_date=D(2024, 1, 1))


# --- subtrees, moves and members ---------------------------------------------------------------


def test_a_team_moving_under_another_parent_changes_subtrees_from_that_date(org):
    with tenant_scope(org.tenant):
        # when West moves from Sales to Marketing on 15 Feb 2026
        people.node_move(node_id=org.west.pk, parent_id=org.marketing.pk, valid_from=D(2026, 2, 15))
        # then
        before, after = D(2026, 2, 14), D(2026, 2, 15)
        assert _names(sel.node_members(node=org.sales, as_of=before)) == [
            "Erin East",
            "Sam Sales",
            "Wes West",
        ]
        assert _names(sel.node_members(node=org.sales, as_of=after)) == ["Erin East", "Sam Sales"]
        assert _names(sel.node_members(node=org.marketing, as_of=after)) == [
            "Mia Marketing",
            "Wes West",
        ]
        assert _names(sel.node_members(node=org.sales, as_of=after, include_descendants=False)) == [
            "Sam Sales"
        ]
        chain = sel.manager_chain(person=org.wes, as_of=before)
        assert [(c.person.full_name, c.levels_up) for c in chain] == [
            ("Sam Sales", 1),
            ("Dana VP", 2),
        ]
        chain = sel.manager_chain(person=org.wes, as_of=after)
        assert [(c.person.full_name, c.levels_up) for c in chain] == [("Dana VP", 2)]


def test_a_subtrees_person_ids_are_its_peoples_whether_or_not_the_structure_held_all_window(org):
    with tenant_scope(org.tenant):
        # given West moves from Sales to Marketing on 15 Feb 2026 (inside Q1, not inside March)
        people.node_move(node_id=org.west.pk, parent_id=org.marketing.pk, valid_from=D(2026, 2, 15))
        windows = [Q1, (D(2026, 3, 1), D(2026, 4, 1)), (D(2025, 1, 1), D(2025, 2, 1))]
        for start, end in windows:
            for node in (org.root, org.sales, org.east, org.west, org.marketing):
                # when the roll-up's query of the assignments reads the subtree
                got = sel.person_ids_in_subtree(node_id=node.pk, start=start, end=end)
                # then it finds exactly the people of the subtree during the window
                want = sel.people_in_subtrees(node_ids=[node.pk], start=start, end=end)
                assert set(got.values_list("person_id", flat=True)) == set(
                    want.values_list("pk", flat=True)
                ), (node.name, start)
        in_q1 = sel.person_ids_in_subtree(node_id=org.sales.pk, start=Q1[0], end=Q1[1])
        assert org.wes.pk in set(in_q1.values_list("person_id", flat=True))
        march = sel.person_ids_in_subtree(node_id=org.sales.pk, start=D(2026, 3, 1), end=Q1[1])
        assert org.wes.pk not in set(march.values_list("person_id", flat=True))


def test_the_org_can_be_replayed_as_it_was_known_before_a_late_change(org):
    with tenant_scope(org.tenant):
        known_before = timezone.now()
        # a late, backdated move of West under Marketing from 1 Jan 2026
        people.node_move(node_id=org.west.pk, parent_id=org.marketing.pk, valid_from=D(2026, 1, 1))
        day = D(2026, 2, 1)
        assert "Wes West" not in _names(sel.node_members(node=org.sales, as_of=day))
        replay = sel.node_members(node=org.sales, as_of=day, known_at=known_before)
        assert "Wes West" in _names(replay)
        assert sel.subtree_node_ids(node=org.sales, as_of=day, known_at=known_before) and set(
            sel.subtree_node_ids(node=org.sales, as_of=day, known_at=known_before)
        ) == {org.sales.pk, org.east.pk, org.west.pk}


# --- timelines: the input to pro-ration --------------------------------------------------------


def test_a_mid_quarter_transfer_gives_two_day_weighted_segments(org):
    with tenant_scope(org.tenant):
        # given Erin moves from East to West on 15 Feb 2026
        east = Assignment.objects.get(person=org.erin)
        people.assignment_update(assignment_id=east.pk, valid_to=D(2026, 2, 15))
        people.assignment_create(
            person_id=org.erin.pk, node_id=org.west.pk, role_id=org.ae.pk, valid_from=D(2026, 2, 15)
        )
        # when
        segments = sel.person_timeline(person=org.erin, start=Q1[0], end=Q1[1])
        # then 1 Jan to 14 Feb is 45 days, 15 Feb to 31 Mar is 45 days
        assert [(s.node_name, s.start, s.end, s.days, s.allocation_pct) for s in segments] == [
            ("Sales East", D(2026, 1, 1), D(2026, 2, 15), 45, Decimal(100)),
            ("Sales West", D(2026, 2, 15), D(2026, 4, 1), 45, Decimal(100)),
        ]
        assert [s.weighted_days for s in segments] == [Decimal(45), Decimal(45)]
        assert [s.share for s in segments] == [Decimal("0.5"), Decimal("0.5")]


def test_a_dual_role_60_40_from_mid_quarter_gives_exact_weighted_days(org):
    with tenant_scope(org.tenant):
        # given Mia is 100 % PMM until 1 Mar, then 60 % PMM and 40 % demand gen in Sales
        pmm = Assignment.objects.get(person=org.mia)
        people.assignment_update(assignment_id=pmm.pk, valid_to=D(2026, 3, 1))
        people.assignment_create(
            person_id=org.mia.pk,
            node_id=org.marketing.pk,
            role_id=org.pmm.pk,
            valid_from=D(2026, 3, 1),
            allocation_pct=Decimal(60),
        )
        demand = people.job_role_create(name="Demand Generation", function="marketing")
        people.assignment_create(
            person_id=org.mia.pk,
            node_id=org.sales.pk,
            role_id=demand.pk,
            valid_from=D(2026, 3, 1),
            allocation_pct=Decimal(40),
        )
        # when
        segments = sel.person_timeline(person=org.mia, start=Q1[0], end=Q1[1])
        # then Jan+Feb = 59 days at 100 %; March = 31 days split 60/40
        assert [
            (s.node_name, s.role_name, s.days, s.allocation_pct, s.weighted_days) for s in segments
        ] == [
            ("Marketing", "Product Marketing", 59, Decimal(100), Decimal(59)),
            ("Marketing", "Product Marketing", 31, Decimal(60), Decimal("18.6")),
            ("Sales", "Demand Generation", 31, Decimal(40), Decimal("12.4")),
        ]
        assert sum(s.weighted_days for s in segments) == Decimal(90)
        assert sum(s.share for s in segments) == Decimal(1)


# --- who sees whom -----------------------------------------------------------------------------


def _member(tenant, email, roles, person=None):
    user = UserFactory(email=email)
    membership = MembershipFactory(user=user, tenant=tenant, roles=roles)
    if person is not None:
        Person.objects.filter(pk=person.pk).update(user=user)
    return membership


def test_people_visible_to_each_role(org, bob):
    with tenant_scope(org.tenant):
        sam = _member(org.tenant, "sam@acme.test", [Role.MANAGER, Role.EMPLOYEE], org.sam)
        erin = _member(org.tenant, "erin@acme.test", [Role.EMPLOYEE], org.erin)
        comp = _member(org.tenant, "bu-admin@acme.test", [Role.COMP_ADMIN])
        finance = _member(org.tenant, "fin@acme.test", [Role.FINANCE])
        people.membership_scope_set(membership_id=comp.pk, node_ids=[org.marketing.pk])
        bob_membership = Membership.objects.get(user=bob)
        window = {"start": Q1[0], "end": Q1[1]}
        # then
        assert _names(access_for(principal_for_membership(sam)).people(**window)) == [
            "Erin East",
            "Sam Sales",
            "Wes West",
        ]
        assert _names(access_for(principal_for_membership(erin)).people(**window)) == ["Erin East"]
        assert _names(access_for(principal_for_membership(comp)).people(**window)) == [
            "Mia Marketing"
        ]
        assert len(access_for(principal_for_membership(finance)).people(**window)) == 5
        # an employee with no linked person sees nobody
        assert _names(access_for(principal_for_membership(bob_membership)).people(**window)) == []


def test_a_manager_sees_a_team_only_for_the_period_it_was_under_them(org):
    with tenant_scope(org.tenant):
        sam = _member(org.tenant, "sam@acme.test", [Role.MANAGER], org.sam)
        people.node_move(node_id=org.west.pk, parent_id=org.marketing.pk, valid_from=D(2026, 4, 1))
        q1 = access_for(principal_for_membership(sam)).people(
            start=D(2026, 1, 1), end=D(2026, 4, 1)
        )
        q2 = access_for(principal_for_membership(sam)).people(
            start=D(2026, 4, 1), end=D(2026, 7, 1)
        )
        assert "Wes West" in _names(q1)
        assert "Wes West" not in _names(q2)


def test_every_change_is_audited(org):
    with tenant_scope(org.tenant):
        actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {
        "hierarchy.create",
        "node.create",
        "job_role.create",
        "person.create",
        "assignment.create",
    } <= actions


def test_allocation_adds_up_within_one_hierarchy_only(org):
    with tenant_scope(org.tenant):
        # given Erin is 100 % in her reporting team; a region hierarchy is separate
        region = people.hierarchy_create(code="region", name="Region", kind="region")
        emea = people.node_create(
            hierarchy_id=region.pk, code="emea", name="EMEA", valid_from=D(2025, 1, 1)
        )
        # when she is also 100 % in EMEA
        people.assignment_create(
            person_id=org.erin.pk, node_id=emea.pk, role_id=org.ae.pk, valid_from=D(2025, 1, 1)
        )
        # then that is fine, and the timeline can be read per hierarchy
        segments = sel.person_timeline(
            person=org.erin, start=Q1[0], end=Q1[1], hierarchy_id=org.reporting.pk
        )
        assert sum(s.share for s in segments) == Decimal(1)
