"""Regression tests for the pay leaks of the security review (issue #8): a node-scoped admin
stays inside their nodes in HR imports, assignments, managers of record and periods; the audit
log redacts pay for whoever may not see it; managers never see their reports' attributes.

The cast: a comp admin limited to Sales East (Erin) — Wes is in Sales West, Sam manages
Sales, Dana the company. Alice has tenant-wide access.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from core import services as core_services
from core.models import AuditEvent, Role
from core.tenancy import tenant_scope
from hierarchy import people, periods
from hierarchy.models import Assignment, ImportBatch, MembershipScope, Node, Period, Person
from tests.factories.hierarchy import MembershipFactory, UserFactory
from tests.tenancy import assert_not_found

WES_SALARY = Decimal("87654")
ERIN_SALARY = Decimal("91234")


def _json(client: Any, method: str, url: str, body: Any, **extra: Any) -> Any:
    return getattr(client, method)(
        url, data=json.dumps(body), content_type="application/json", **extra
    )


@pytest.fixture
def paid(org: Any) -> Any:
    with tenant_scope(org.tenant):
        Person.objects.filter(pk=org.wes.pk).update(base_salary=WES_SALARY)
        Person.objects.filter(pk=org.erin.pk).update(base_salary=ERIN_SALARY)
    return org


@pytest.fixture
def east_user(paid: Any, tenant_a: Any) -> Any:
    user = UserFactory(email="east-admin@acme.test")
    membership = MembershipFactory(user=user, tenant=tenant_a, roles=[Role.COMP_ADMIN])
    with tenant_scope(tenant_a):
        MembershipScope.objects.create(membership=membership, node=paid.east)
    return user


@pytest.fixture
def east(client: Any, east_user: Any) -> Any:
    client.force_login(east_user)
    return client


def _rows_import(client: Any, kind: str, rows: list[dict[str, Any]], **options: Any) -> Any:
    return _json(client, "post", "/api/v1/hr-imports/", {"kind": kind, "rows": rows, **options})


# --- 1. HR import ---------------------------------------------------------------------------


def test_a_node_scoped_dry_run_does_not_read_salaries_outside_the_node(east, paid):
    # given: Wes's page is a 404 to the East admin
    assert_not_found(east.get(f"/people/{paid.wes.pk}/"))
    # when: a dry run names Wes and Erin with new salaries
    rows = [
        {
            "employee_id": "E4",
            "full_name": "Wes West",
            "hire_date": "2020-01-01",
            "base_salary": "1",
        },
        {
            "employee_id": "E3",
            "full_name": "Erin East",
            "hire_date": "2020-01-01",
            "base_salary": "95000",
        },
    ]
    response = _rows_import(east, "people", rows, dry_run=True)
    # then: Wes's row is refused, and nothing anywhere carries his salary
    assert response.status_code == 201
    details = response.json()
    assert [(e["line"], e["code"]) for e in details["errors"]] == [(1, "out_of_scope")]
    assert "87654" not in response.content.decode()
    with tenant_scope(paid.tenant):
        batch = ImportBatch.objects.get(pk=details["id"])
    assert "87654" not in json.dumps(batch.diffs) + json.dumps(batch.errors)
    # and the same dry run on Erin alone previews her change (inside the node)
    alone = _rows_import(east, "people", rows[1:], dry_run=True)
    assert alone.status_code == 201, alone.content
    assert alone.json()["diffs"][0]["changes"]["base_salary"] == ["91234.0000", "95000"]


def test_a_node_scoped_admin_cannot_overwrite_a_salary_outside_the_node(east, paid):
    rows = [
        {
            "employee_id": "E4",
            "full_name": "Wes West",
            "hire_date": "2020-01-01",
            "base_salary": "1",
        }
    ]
    response = _rows_import(east, "people", rows)
    assert (response.status_code, response.json()["status"]) == (201, "failed")
    partial = _rows_import(east, "people", rows, mode="partial")
    assert partial.json()["status"] == "failed"
    assert partial.json()["reason"] == "no_good_rows"
    # a new employee id is refused the same way: someone new belongs to no node yet
    new = _rows_import(
        east, "people", [{"employee_id": "E99", "full_name": "New", "hire_date": "2026-01-01"}]
    )
    assert new.json()["errors"][0]["code"] == "out_of_scope"
    with tenant_scope(paid.tenant):
        assert Person.objects.get(pk=paid.wes.pk).base_salary == WES_SALARY
        assert not Person.objects.filter(employee_id="E99").exists()


def test_a_node_scoped_import_names_only_their_own_people_as_managers(east, paid):
    rows = [
        {
            "employee_id": "E3",
            "full_name": "Erin East",
            "hire_date": "2020-01-01",
            "manager_employee_id": "E1",
        }
    ]
    response = _rows_import(east, "people", rows)
    assert (response.status_code, response.json()["status"]) == (201, "failed")
    assert response.json()["errors"][0]["code"] == "unknown_manager"
    with tenant_scope(paid.tenant):
        assert Person.objects.get(pk=paid.erin.pk).manager_id is None


def test_a_node_scoped_admin_does_not_list_other_admins_imports(east, alice, paid):
    # given: a tenant-wide admin's dry run of everyone's salaries
    rows = [
        {
            "employee_id": "E4",
            "full_name": "Wes West",
            "hire_date": "2020-01-01",
            "base_salary": "99999",
        }
    ]
    other = Client()
    other.force_login(alice)
    theirs = _rows_import(other, "people", rows, dry_run=True).json()
    assert "87654" in json.dumps(theirs["diffs"])
    # then: the East admin neither lists nor opens it, in the API or the pages
    listed = east.get("/api/v1/hr-imports/").json()["results"]
    assert theirs["id"] not in {b["id"] for b in listed}
    assert_not_found(east.get(f"/api/v1/hr-imports/{theirs['id']}/"))
    assert_not_found(east.get(f"/imports/{theirs['id']}/"))
    assert f"/imports/{theirs['id']}/" not in east.get("/imports/").content.decode()
    # but their own imports, yes
    own = _rows_import(
        east,
        "people",
        [{"employee_id": "E3", "full_name": "Erin East", "hire_date": "2020-01-01"}],
        dry_run=True,
    ).json()
    assert own["id"] in {b["id"] for b in east.get("/api/v1/hr-imports/").json()["results"]}
    assert east.get(f"/imports/{own['id']}/").status_code == 200


def test_a_node_scoped_admin_cannot_import_org_structure(east, paid):
    rows = [
        {
            "hierarchy": "reporting",
            "code": "rogue",
            "name": "Rogue",
            "parent_code": "mkt",
            "valid_from": "2026-01-01",
        }
    ]
    response = _rows_import(east, "nodes", rows)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    page = east.post(
        "/imports/",
        {
            "kind": "nodes",
            "file": SimpleUploadedFile(
                "n.csv",
                b"hierarchy,code,name,parent_code,valid_from\n"
                b"reporting,rogue,Rogue,mkt,2026-01-01\n",
            ),
        },
    )
    assert page.status_code == 200 and "tenant-wide access" in page.content.decode()
    with tenant_scope(paid.tenant):
        assert not Node.objects.filter(code="rogue").exists()


def test_a_node_scoped_assignment_import_stays_inside_the_node(east, paid):
    base = {"hierarchy": "reporting", "role": "Account Executive", "valid_from": "2026-06-01"}
    response = _rows_import(
        east,
        "assignments",
        [
            {**base, "employee_id": "E3", "node": "west", "allocation_pct": "20"},
            {**base, "employee_id": "E4", "node": "east", "allocation_pct": "20"},
        ],
    )
    assert (response.status_code, response.json()["status"]) == (201, "failed")
    codes = [(e["line"], e["column"], e["code"]) for e in response.json()["errors"]]
    # Erin into West: a foreign node; Wes (outside) is like an unknown employee id
    assert codes == [(1, "node", "out_of_scope"), (2, "employee_id", "unknown_person")]
    with tenant_scope(paid.tenant):
        assert Assignment.objects.filter(person=paid.erin).count() == 1


# --- 2. managers never see attributes --------------------------------------------------------


def test_the_person_page_hides_a_reports_attributes_from_their_manager(client, paid, tenant_a):
    user = UserFactory(email="sam@acme.test")
    MembershipFactory(user=user, tenant=tenant_a, roles=[Role.MANAGER])
    with tenant_scope(tenant_a):
        Person.objects.filter(pk=paid.sam.pk).update(user=user)
        Person.objects.filter(pk=paid.erin.pk).update(
            attributes={"level": "Level-Qx7", "salary_band": "Band-Q"}
        )
    client.force_login(user)
    page = client.get(f"/people/{paid.erin.pk}/").content.decode()
    assert "Erin East" in page
    assert "Band-Q" not in page and "Level-Qx7" not in page and "91234" not in page
    api = client.get(f"/api/v1/people/{paid.erin.pk}/").json()
    assert "attributes" not in api and "base_salary" not in api


# --- 3. the audit log -------------------------------------------------------------------------


@pytest.fixture
def salary_changes(paid: Any) -> Any:
    with tenant_scope(paid.tenant):
        people.person_update(person_id=paid.wes.pk, base_salary=Decimal("88000"))
        people.person_update(person_id=paid.erin.pk, base_salary=Decimal("92000"))
    return paid


def _person_events(client: Any) -> dict[str, dict[str, Any]]:
    response = client.get("/api/v1/audit-events/?action=person.update")
    assert response.status_code == 200, response.content
    return {e["object_repr"].split(" (")[0]: e for e in response.json()["results"]}


def test_an_audit_only_token_reads_no_pay_from_the_audit_log(client, salary_changes):
    # given: a token with read:audit only
    with tenant_scope(salary_changes.tenant):
        issued = core_services.api_client_create(
            name="siem", scopes=["read:audit"], created_by_id=None
        )
    auth = {"HTTP_AUTHORIZATION": f"Bearer {issued.token}"}
    assert client.get("/api/v1/people/", **auth).status_code == 403
    # when
    listed = client.get("/api/v1/audit-events/?action=person", **auth)
    # then: the events are there, their salaries are not
    assert listed.status_code == 200
    text = listed.content.decode()
    assert "person.update" in text and "87654" not in text and "88000" not in text
    events = listed.json()["results"]
    updates = [e for e in events if e["action"] == "person.update"]
    assert len(updates) == 2
    assert all(e["redacted_fields"] == ["attributes", "base_salary", "user_id"] for e in updates)
    assert all("base_salary" not in (e["before"] or {}) | (e["after"] or {}) for e in events)
    assert all(e["after"]["full_name"] for e in updates)  # the rest of the snapshot stays
    one = client.get(f"/api/v1/audit-events/{updates[0]['id']}/", **auth).json()
    assert "base_salary" not in one["before"] and one["redacted_fields"]


def test_a_node_scoped_admin_reads_pay_in_the_audit_log_only_inside_the_node(east, salary_changes):
    events = _person_events(east)
    assert "base_salary" not in events["Wes West"]["after"]
    assert events["Wes West"]["redacted_fields"] == ["attributes", "base_salary", "user_id"]
    assert events["Erin East"]["after"]["base_salary"] == "92000"
    assert events["Erin East"]["redacted_fields"] == []
    page = east.get("/admin/audit/?action=person.update").content.decode()
    assert "88,000" not in page and "87,654" not in page
    # Erin's raise in words; Wes's salary named as hidden, without its figure
    assert "92,000.00 USD" in page and 'data-redacted="base_salary"' in page


def test_tenant_wide_access_reads_pay_in_the_audit_log(client_alice, salary_changes):
    events = _person_events(client_alice)
    assert events["Wes West"]["before"]["base_salary"] == "87654.0000"
    assert events["Wes West"]["after"]["base_salary"] == "88000"
    page = client_alice.get("/admin/audit/?action=person.update").content.decode()
    assert "87,654.00 USD</del> → <strong>88,000.00 USD" in page


def test_bulk_user_links_are_redacted_like_any_linked_user(client, east_user, paid, tenant_a):
    with tenant_scope(tenant_a):
        user = UserFactory(email="e4@acme.test")  # Wes's e-mail
        MembershipFactory(user=user, tenant=tenant_a, roles=[Role.EMPLOYEE])
        assert people.link_users_by_email() == 1
        assert AuditEvent.objects.filter(action="person.link_users").exists()
    client.force_login(east_user)
    event = client.get("/api/v1/audit-events/?action=person.link_users").json()["results"][0]
    assert event["after"] == {} and event["redacted_fields"] == ["linked"]


# --- 4. node-scoped writes -------------------------------------------------------------------


def test_a_node_scoped_admin_cannot_assign_into_a_foreign_node(east, paid):
    body = {
        "person_id": paid.erin.pk,
        "node_id": paid.west.pk,
        "role_id": paid.ae.pk,
        "valid_from": "2026-06-01",
        "allocation_pct": "20",
    }
    response = _json(east, "post", "/api/v1/assignments/", body)
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {
        "node_id": ["This node is outside the part of the organisation you manage."]
    }
    # before Sales East existed the node was not inside the scope for the whole span
    early = {**body, "node_id": paid.east.pk, "valid_from": "2024-01-01"}
    assert _json(east, "post", "/api/v1/assignments/", early).status_code == 400
    with tenant_scope(paid.tenant):
        assert Assignment.objects.filter(person=paid.erin).count() == 1
    # inside the node it works
    with tenant_scope(paid.tenant):
        mine = Assignment.objects.get(person=paid.erin)
        people.assignment_update(assignment_id=mine.pk, allocation_pct=Decimal(80))
    inside = _json(
        east,
        "post",
        "/api/v1/assignments/",
        {**body, "node_id": paid.east.pk, "role_id": paid.mgr.pk},
    )
    assert inside.status_code == 201, inside.content


def test_a_node_scoped_admin_cannot_move_or_withdraw_an_assignment_in_a_foreign_node(east, paid):
    with tenant_scope(paid.tenant):
        erin_east = Assignment.objects.get(person=paid.erin)
        people.assignment_update(assignment_id=erin_east.pk, allocation_pct=Decimal(80))
        erin_east = Assignment.objects.get(person=paid.erin, superseded_at__isnull=True)
        in_west = people.assignment_create(
            person_id=paid.erin.pk,
            node_id=paid.west.pk,
            role_id=paid.ae.pk,
            valid_from=date(2025, 1, 1),
            allocation_pct=Decimal(20),
        )
    moved = _json(east, "patch", f"/api/v1/assignments/{erin_east.pk}/", {"node_id": paid.west.pk})
    assert moved.status_code == 400
    assert_not_found(east.delete(f"/api/v1/assignments/{in_west.pk}/"))
    assert_not_found(_json(east, "patch", f"/api/v1/assignments/{in_west.pk}/", {"title": "x"}))
    page = east.post(
        f"/people/{paid.erin.pk}/", {"action": "withdraw", "assignment_id": in_west.pk}
    )
    assert_not_found(page)
    with tenant_scope(paid.tenant):
        assert Assignment.objects.filter(pk=in_west.pk, superseded_at__isnull=True).exists()
    # their own node's assignment they may change
    ok = _json(east, "patch", f"/api/v1/assignments/{erin_east.pk}/", {"title": "Senior AE"})
    assert ok.status_code == 200, ok.content


def test_the_person_page_offers_and_accepts_only_nodes_inside_the_scope(east, paid):
    page = east.get(f"/people/{paid.erin.pk}/").content.decode()
    assert "Reporting / Sales East" in page and "Reporting / Sales West" not in page
    foreign = east.post(
        f"/people/{paid.erin.pk}/",
        {
            "action": "assign",
            "a-node_id": paid.west.pk,
            "a-role_id": paid.ae.pk,
            "a-allocation_pct": "20",
            "a-valid_from": "2026-06-01",
        },
    )
    assert foreign.status_code == 200  # the form again, with the error
    with tenant_scope(paid.tenant):
        assert not Assignment.objects.filter(node=paid.west, person=paid.erin).exists()


def test_a_node_scoped_admin_cannot_name_a_manager_outside_the_node(east, paid):
    with tenant_scope(paid.tenant):
        Person.objects.filter(pk=paid.erin.pk).update(manager=paid.sam)
    outside = _json(east, "patch", f"/api/v1/people/{paid.erin.pk}/", {"manager_id": paid.dana.pk})
    assert outside.status_code == 400
    assert outside.json()["error"]["details"] == {"manager_id": ["Unknown manager."]}
    # the manager they already have (above the node) may stay
    same = _json(east, "patch", f"/api/v1/people/{paid.erin.pk}/", {"manager_id": paid.sam.pk})
    assert same.status_code == 200
    with tenant_scope(paid.tenant):
        assert Person.objects.get(pk=paid.erin.pk).manager_id == paid.sam.pk


def test_a_node_scoped_admin_does_not_add_people_or_change_the_calendar(east, paid):
    added = _json(
        east,
        "post",
        "/api/v1/people/",
        {"employee_id": "E77", "full_name": "X", "hire_date": "2026-01-01"},
    )
    assert added.status_code == 403
    with tenant_scope(paid.tenant):
        periods.period_generate_fiscal_year(fiscal_year=2026)
        period = Period.objects.filter(kind="monthly").order_by("start").first()
    renamed = _json(east, "patch", f"/api/v1/periods/{period.pk}/", {"label": "Mine"})
    assert renamed.status_code == 403
    generated = _json(east, "post", "/api/v1/periods/", {"fiscal_year": 2027})
    assert generated.status_code == 403
    assert_not_found(east.post("/periods/", {"fiscal_year": 2027}))
    with tenant_scope(paid.tenant):
        assert Period.objects.get(pk=period.pk).label != "Mine"
        assert not Period.objects.filter(fiscal_year=2027).exists()
        assert not Person.objects.filter(employee_id="E77").exists()


def test_a_node_scoped_admin_writes_only_people_inside_the_node_today(east, paid):
    """Visible in a past window is not enough to change someone's current record."""
    with tenant_scope(paid.tenant):
        people.node_move(
            node_id=paid.west.pk,
            parent_id=paid.east.pk,
            valid_from=date(2025, 1, 1),
            valid_to=date(2025, 7, 1),
        )
    past = f"/api/v1/people/{paid.wes.pk}/?as_of=2025-03-01"
    seen = east.get(past).json()
    assert seen["full_name"] == "Wes West" and "base_salary" not in seen  # not theirs now
    assert_not_found(_json(east, "patch", past, {"base_salary": "1"}))
    with tenant_scope(paid.tenant):
        assert Person.objects.get(pk=paid.wes.pk).base_salary == WES_SALARY
