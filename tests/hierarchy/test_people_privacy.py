"""Pay stays private inside a tenant, and node-scoped admins stay inside their nodes."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from core.models import Membership, Role
from core.tenancy import tenant_scope
from hierarchy.models import MembershipScope, Person
from tests.factories.hierarchy import MembershipFactory, UserFactory
from tests.tenancy import assert_not_found


@pytest.fixture
def paid(org, bob, alice):
    """Bob is Erin (an AE under Sam); Alice is a tenant admin with full people access."""
    with tenant_scope(org.tenant):
        Person.objects.filter(pk=org.erin.pk).update(user=bob, base_salary=Decimal("90000"))
        Person.objects.filter(pk=org.sam.pk).update(base_salary=Decimal("150000"))
    return org


def test_an_employee_sees_their_managers_but_not_their_pay(client, bob, paid):
    client.force_login(bob)
    chain = client.get(f"/api/v1/people/{paid.erin.pk}/managers/").json()
    assert [link["person"]["full_name"] for link in chain] == ["Sam Sales", "Dana VP"]
    assert all("base_salary" not in link["person"] for link in chain)
    own = client.get(f"/api/v1/people/{paid.erin.pk}/").json()
    assert own["base_salary"] == "90000.0000"  # their own pay, yes


def test_full_people_access_sees_pay(client_alice, paid):
    sam = client_alice.get(f"/api/v1/people/{paid.sam.pk}/").json()
    assert sam["base_salary"] == "150000.0000"
    listed = client_alice.get("/api/v1/people/").json()["results"]
    assert all("base_salary" in p for p in listed)


@pytest.fixture
def east_admin(client, org, tenant_a):
    """A comp admin limited to the Sales East subtree."""
    user = UserFactory(email="ea@acme.test")
    membership = MembershipFactory(user=user, tenant=tenant_a, roles=[Role.COMP_ADMIN])
    with tenant_scope(tenant_a):
        MembershipScope.objects.create(membership=membership, node=org.east)
    client.force_login(user)
    return client


def test_a_node_scoped_admin_reads_and_writes_only_inside_their_nodes(east_admin, org):
    listed = {p["full_name"] for p in east_admin.get("/api/v1/people/").json()["results"]}
    assert listed == {"Erin East"}
    members = east_admin.get(f"/api/v1/nodes/{org.sales.pk}/members/").json()["results"]
    assert {m["full_name"] for m in members} == {"Erin East"}
    rows = east_admin.get("/api/v1/assignments/").json()["results"]
    assert {r["person_id"] for r in rows} == {org.erin.pk}
    # outside the scope: not found, nothing changed
    assert_not_found(
        east_admin.patch(
            f"/api/v1/people/{org.wes.pk}/",
            data=json.dumps({"full_name": "Hacked"}),
            content_type="application/json",
        )
    )
    assert_not_found(
        east_admin.post(
            f"/api/v1/people/{org.wes.pk}/terminate/",
            data=json.dumps({"termination_date": "2026-01-01"}),
            content_type="application/json",
        )
    )
    created = east_admin.post(
        "/api/v1/assignments/",
        data=json.dumps(
            {
                "person_id": org.wes.pk,
                "node_id": org.east.pk,
                "role_id": org.ae.pk,
                "valid_from": "2026-01-01",
            }
        ),
        content_type="application/json",
    )
    assert created.status_code == 400
    with tenant_scope(org.tenant):
        assert Person.objects.get(pk=org.wes.pk).full_name == "Wes West"
        assert Person.objects.get(pk=org.wes.pk).termination_date is None
    assert Membership.objects.filter(user__email="ea@acme.test").exists()


def test_locking_a_period_is_finances_and_no_patch_moves_its_status(client, org, tenant_a):
    import datetime as dt

    from hierarchy import periods
    from hierarchy.models import Period

    comp = UserFactory(email="comp@acme.test")
    MembershipFactory(user=comp, tenant=tenant_a, roles=[Role.COMP_ADMIN])
    fin = UserFactory(email="fin@acme.test")
    MembershipFactory(user=fin, tenant=tenant_a, roles=[Role.FINANCE])
    with tenant_scope(tenant_a):
        periods.period_generate_fiscal_year(fiscal_year=2026)
        period = Period.objects.filter(kind="monthly").order_by("start").first()

    def patch(user, body):
        client.force_login(user)
        return client.patch(
            f"/api/v1/periods/{period.pk}/", data=json.dumps(body), content_type="application/json"
        )

    # the status is the lifecycle's (payouts/lifecycle.py, tests/payouts), not PATCH's
    assert patch(comp, {"status": "calculated"}).status_code == 400
    assert patch(fin, {"status": "closed"}).status_code == 400
    assert patch(comp, {"data_lock_date": "2026-03-01"}).status_code == 403
    assert patch(fin, {"data_lock_date": "2026-03-01"}).status_code == 200
    with tenant_scope(tenant_a):
        period.refresh_from_db()
    assert (period.status, period.data_lock_date) == ("open", dt.date(2026, 3, 1))


def test_a_node_scoped_admin_sees_only_their_part_of_the_org_chart(east_admin, org):
    tree = east_admin.get(f"/api/v1/hierarchies/{org.reporting.pk}/tree/").json()
    text = json.dumps(tree)
    assert "Sales East" in text
    assert "Sales West" not in text and "Marketing" not in text and "Dana VP" not in text
    page = east_admin.get(f"/org/?hierarchy={org.reporting.pk}").content.decode()
    assert "Sales East" in page and "Sales West" not in page


def test_a_node_scoped_admin_cannot_restructure_the_org(east_admin, org):
    moved = east_admin.post(
        f"/api/v1/nodes/{org.west.pk}/move/",
        data=json.dumps({"parent_id": org.east.pk, "valid_from": "2026-01-01"}),
        content_type="application/json",
    )
    assert moved.status_code == 403
    created = east_admin.post(
        "/api/v1/hierarchies/",
        data=json.dumps({"code": "x", "name": "X", "kind": "custom"}),
        content_type="application/json",
    )
    assert created.status_code == 403
