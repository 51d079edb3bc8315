"""Property test: on random effective-dated trees with mid-period moves, "members as of D" and
"people visible to a manager as of D" equal a brute-force reference for every date tried.

The trees are built through the real services (node_create, node_move with explicit intervals
applied in random order, assignments with dual roles), so the closure maintenance, superseding
and the set-based selectors are all under test. The reference walks parent links day by day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.models import Membership, Role
from core.permissions import principal_for_membership
from core.tenancy import tenant_scope
from hierarchy import org_selectors as sel
from hierarchy import people
from hierarchy.access import access_for
from hierarchy.models import Person
from tests.factories.hierarchy import MembershipFactory, UserFactory

START = date(2026, 1, 1)
HORIZON = 120  # days
STEP = 10  # change points fall on multiples of STEP days, so moves and transfers collide


def day(offset: int) -> date:
    return START + timedelta(days=offset)


@dataclass(frozen=True)
class LinkSpec:
    node: int
    parent: int | None
    start: int
    end: int | None


@dataclass(frozen=True)
class AssignSpec:
    person: int
    node: int
    allocation: int
    manager: bool
    start: int
    end: int | None


def _cuts(draw: st.DrawFn) -> list[int]:
    points = draw(st.sets(st.integers(1, HORIZON // STEP - 1), max_size=3))
    return [0, *sorted(p * STEP for p in points)]


@st.composite
def orgs(draw: st.DrawFn) -> tuple[int, list[LinkSpec], list[AssignSpec], list[int]]:
    n_nodes = draw(st.integers(2, 7))
    links: list[LinkSpec] = []
    for node in range(n_nodes):
        cuts = _cuts(draw)
        for i, start in enumerate(cuts):
            end = cuts[i + 1] if i + 1 < len(cuts) else None
            # Parents always have a lower index: every tree is acyclic on every day, and the
            # parent of a node can change at each cut (a mid-period move).
            parent = draw(st.one_of(st.none(), st.integers(0, node - 1))) if node else None
            links.append(LinkSpec(node, parent, start, end))
    n_people = draw(st.integers(1, 6))
    assignments: list[AssignSpec] = []
    for person in range(n_people):
        cuts = _cuts(draw)
        for i, start in enumerate(cuts):
            end = cuts[i + 1] if i + 1 < len(cuts) else None
            kind = draw(st.sampled_from(["none", "full", "dual"]))
            if kind == "none":
                continue
            first = draw(st.integers(0, n_nodes - 1))
            if kind == "full" or n_nodes == 1:
                shares = [(first, 100)]
            else:
                second = draw(st.integers(0, n_nodes - 1).filter(lambda n, f=first: n != f))
                shares = [(first, 60), (second, 40)]
            for node, allocation in shares:
                assignments.append(
                    AssignSpec(person, node, allocation, draw(st.booleans()), start, end)
                )
    probes = draw(st.lists(st.integers(0, HORIZON + 5), min_size=3, max_size=6))
    return n_nodes, links, assignments, probes


# --- brute-force reference ---------------------------------------------------------------------


def _live(start: int, end: int | None, d: int) -> bool:
    return start <= d and (end is None or d < end)


def _parent(links: list[LinkSpec], node: int, d: int) -> int | None:
    for link in links:
        if link.node == node and _live(link.start, link.end, d):
            return link.parent
    return None


def _ancestors(links: list[LinkSpec], node: int, d: int) -> set[int]:
    out = {node}
    cur = _parent(links, node, d)
    while cur is not None:
        out.add(cur)
        cur = _parent(links, cur, d)
    return out


def _members_ref(links, assignments, node: int, d: int) -> set[int]:
    return {
        a.person
        for a in assignments
        if _live(a.start, a.end, d) and node in _ancestors(links, a.node, d)
    }


def _visible_ref(links, assignments, manager: int, d: int) -> set[int]:
    managed = {
        a.node
        for a in assignments
        if a.person == manager and a.manager and _live(a.start, a.end, d)
    }
    seen = {manager}
    for a in assignments:
        if _live(a.start, a.end, d) and _ancestors(links, a.node, d) & managed:
            seen.add(a.person)
    return seen


# --- the property ------------------------------------------------------------------------------


def _build(tenant, n_nodes, links, assignments, order):
    h = people.hierarchy_create(code="prop", name="Prop", kind="reporting")
    nodes = {}
    for i in range(n_nodes):
        first = next(link for link in links if link.node == i)
        nodes[i] = people.node_create(
            hierarchy_id=h.pk,
            code=f"n{i}",
            name=f"N{i}",
            valid_from=day(0),
            parent_id=nodes[first.parent].pk if first.parent is not None else None,
        )
    # Apply every link as an explicit interval, in a drawn order: the service supersedes
    # whatever each one overlaps, so the result must not depend on the order.
    for index in order:
        link = links[index]
        people.node_move(
            node_id=nodes[link.node].pk,
            parent_id=nodes[link.parent].pk if link.parent is not None else None,
            valid_from=day(link.start),
            valid_to=day(link.end) if link.end is not None else None,
        )
    role = people.job_role_create(name="R", function="sales")
    persons = {}
    for p in sorted({a.person for a in assignments}):
        persons[p] = people.person_create(
            employee_id=f"P{p}", full_name=f"P{p}", hire_date=date(2020, 1, 1)
        )
    for a in assignments:
        people.assignment_create(
            person_id=persons[a.person].pk,
            node_id=nodes[a.node].pk,
            role_id=role.pk,
            valid_from=day(a.start),
            valid_to=day(a.end) if a.end is not None else None,
            allocation_pct=Decimal(a.allocation),
            is_manager=a.manager,
        )
    return nodes, persons


@pytest.mark.django_db(transaction=False)
def test_members_and_manager_visibility_equal_a_brute_force_reference(tenant_a):
    user = UserFactory(email="prop-manager@acme.test")
    membership = MembershipFactory(user=user, tenant=tenant_a, roles=[Role.MANAGER])

    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        database=None,
    )
    @given(org=orgs(), data=st.data())
    def check(org, data):
        n_nodes, links, assignments, probes = org
        order = data.draw(st.permutations(range(len(links))))
        with transaction.atomic(), tenant_scope(tenant_a):
            nodes, persons = _build(tenant_a, n_nodes, links, assignments, order)
            by_pk = {p.pk: i for i, p in persons.items()}
            changes = {link.start for link in links} | {a.start for a in assignments}
            dates = sorted(set(probes) | changes | {c - 1 for c in changes if c})
            for d in dates:
                for i, node in nodes.items():
                    got = {by_pk[p.pk] for p in sel.node_members(node=node, as_of=day(d))}
                    assert got == _members_ref(links, assignments, i, d), (i, d)
                for i, person in persons.items():
                    Person.objects.filter(user=user).update(user=None)
                    Person.objects.filter(pk=person.pk).update(user=user)
                    m = Membership.objects.get(pk=membership.pk)
                    visible = access_for(principal_for_membership(m)).people(
                        start=day(d), end=day(d) + timedelta(days=1)
                    )
                    got = {by_pk[p.pk] for p in visible}
                    assert got == _visible_ref(links, assignments, i, d), (i, d)
            transaction.set_rollback(True)

    check()
