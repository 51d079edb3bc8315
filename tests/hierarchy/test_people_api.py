"""People / hierarchy / assignment / period / import API, each URL with a cross-tenant case."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from core.models import Role
from core.tenancy import tenant_scope
from hierarchy.models import Assignment, ImportBatch, Person
from tests.factories.hierarchy import MembershipFactory, UserFactory
from tests.tenancy import (
    assert_cross_tenant_detail,
    assert_foreign_id_like_missing,
    assert_list_omits,
    assert_not_found,
)

MISSING = 987_654_321


def _post(client, url, body):
    return client.post(url, data=json.dumps(body), content_type="application/json")


def _patch(client, url, body):
    return client.patch(url, data=json.dumps(body), content_type="application/json")


# --- people ------------------------------------------------------------------------------------


@pytest.mark.covers_url(
    "api-person-list",
    "api-person-detail",
    "api-person-timeline",
    "api-person-managers",
    "api-person-terminate",
)
def test_people_api_creates_reads_changes_and_hides_people_from_other_tenants(
    client_alice, client_charlie, org, org_b, charlie
):
    # when
    created = _post(
        client_alice,
        "/api/v1/people/",
        {
            "employee_id": "N1",
            "full_name": "Nia New",
            "hire_date": "2026-01-05",
            "base_salary": "95000.00",
            "manager_id": org.sam.pk,
            "attributes": {"level": "L3"},
        },
    )
    # then
    assert created.status_code == 201, created.content
    person_id = created.json()["id"]
    assert created.json()["home_currency"] == "USD"
    listed = client_alice.get("/api/v1/people/?q=nia").json()["results"]
    assert [p["employee_id"] for p in listed] == ["N1"]
    changed = _patch(client_alice, f"/api/v1/people/{person_id}/", {"full_name": "Nia Newer"})
    assert changed.json()["full_name"] == "Nia Newer"
    timeline = client_alice.get(
        f"/api/v1/people/{org.erin.pk}/timeline/?start=2026-01-01&end=2026-04-01"
    ).json()
    assert timeline["days"] == 90
    assert [(s["node_name"], s["days"], s["share"]) for s in timeline["segments"]] == [
        ("Sales East", 90, "1.00000000")
    ]
    chain = client_alice.get(f"/api/v1/people/{org.erin.pk}/managers/?as_of=2026-02-01").json()
    assert [(c["person"]["full_name"], c["levels_up"]) for c in chain] == [
        ("Sam Sales", 1),
        ("Dana VP", 2),
    ]
    # and another tenant sees none of it
    for pid in (person_id, org.erin.pk):
        assert_list_omits(client_charlie, "/api/v1/people/", pid)
        assert_cross_tenant_detail(
            client_charlie, f"/api/v1/people/{pid}/", update_body={"full_name": "x"}
        )
        assert_not_found(client_charlie.get(f"/api/v1/people/{pid}/timeline/"))
        assert_not_found(client_charlie.get(f"/api/v1/people/{pid}/managers/"))
        assert_not_found(
            _post(
                client_charlie,
                f"/api/v1/people/{pid}/terminate/",
                {"termination_date": "2026-03-01"},
            )
        )
    with tenant_scope(org.tenant):
        assert Person.objects.get(pk=org.erin.pk).termination_date is None
    # a foreign manager or user id is answered like one that does not exist
    body = {"employee_id": "N2", "full_name": "X", "hire_date": "2026-01-05"}
    assert_foreign_id_like_missing(
        client_alice,
        "/api/v1/people/",
        field="manager_id",
        foreign_id=org_b.sam.pk,
        missing_id=MISSING,
        body=body,
    )
    assert_foreign_id_like_missing(
        client_alice,
        "/api/v1/people/",
        field="user_id",
        foreign_id=charlie.pk,
        missing_id=MISSING,
        body=body,
    )
    # terminate
    ended = _post(
        client_alice, f"/api/v1/people/{org.erin.pk}/terminate/", {"termination_date": "2026-03-01"}
    )
    assert ended.json()["termination_date"] == "2026-03-01"


def _link(tenant, email, roles, person):
    user = UserFactory(email=email)
    MembershipFactory(user=user, tenant=tenant, roles=roles)
    with tenant_scope(tenant):
        Person.objects.filter(pk=person.pk).update(user=user)
    return user


def test_an_employee_sees_only_themselves_and_a_manager_their_team(client, org):
    erin = _link(org.tenant, "erin@acme.test", [Role.EMPLOYEE], org.erin)
    sam = _link(org.tenant, "sam@acme.test", [Role.MANAGER, Role.EMPLOYEE], org.sam)
    client.force_login(erin)
    listed = client.get("/api/v1/people/?as_of=2026-02-01").json()["results"]
    assert [p["full_name"] for p in listed] == ["Erin East"]
    assert_not_found(client.get(f"/api/v1/people/{org.wes.pk}/"))
    assert client.get(f"/api/v1/people/{org.erin.pk}/timeline/").status_code == 200
    assert client.get("/api/v1/hierarchies/").status_code == 403
    client.force_login(sam)
    listed = client.get("/api/v1/people/?as_of=2026-02-01").json()["results"]
    assert [p["full_name"] for p in listed] == ["Erin East", "Sam Sales", "Wes West"]
    assert_not_found(client.get(f"/api/v1/people/{org.mia.pk}/"))
    assert client.post("/api/v1/people/", {}).status_code == 403


# --- hierarchies, nodes, job roles -------------------------------------------------------------


@pytest.mark.covers_url("api-hierarchy-list", "api-hierarchy-detail", "api-hierarchy-tree")
def test_hierarchies_api_and_the_tree_as_of_a_date(client_alice, client_charlie, org):
    created = _post(
        client_alice, "/api/v1/hierarchies/", {"code": "region", "name": "Region", "kind": "region"}
    )
    assert created.status_code == 201, created.content
    hid = created.json()["id"]
    assert (
        _patch(client_alice, f"/api/v1/hierarchies/{hid}/", {"name": "Regions"}).json()["name"]
        == "Regions"
    )
    tree = client_alice.get(f"/api/v1/hierarchies/{org.reporting.pk}/tree/?as_of=2026-02-01").json()
    root = tree["roots"][0]
    assert (root["name"], root["total"], root["managers"]) == ("Company", 5, ["Dana VP"])
    assert [c["name"] for c in root["children"]] == ["Marketing", "Sales"]
    for h in (hid, org.reporting.pk):
        assert_list_omits(client_charlie, "/api/v1/hierarchies/", h)
        assert_cross_tenant_detail(
            client_charlie, f"/api/v1/hierarchies/{h}/", update_body={"name": "x"}
        )
        assert_not_found(client_charlie.get(f"/api/v1/hierarchies/{h}/tree/"))
    assert client_alice.delete(f"/api/v1/hierarchies/{hid}/").status_code == 204
    assert client_alice.delete(f"/api/v1/hierarchies/{org.reporting.pk}/").status_code == 409


@pytest.mark.covers_url("api-node-list", "api-node-detail", "api-node-move", "api-node-members")
def test_nodes_api_creates_moves_and_lists_members(client_alice, client_charlie, org, org_b):
    created = _post(
        client_alice,
        "/api/v1/nodes/",
        {
            "hierarchy_id": org.reporting.pk,
            "code": "cs",
            "name": "Customer Success",
            "parent_id": org.root.pk,
            "valid_from": "2026-01-01",
        },
    )
    assert created.status_code == 201, created.content
    node_id = created.json()["id"]
    moved = _post(
        client_alice,
        f"/api/v1/nodes/{org.west.pk}/move/",
        {"parent_id": node_id, "valid_from": "2026-02-15"},
    )
    assert moved.status_code == 200, moved.content
    assert moved.json()["parents"][-1] == {
        "parent_id": node_id,
        "valid_from": "2026-02-15",
        "valid_to": None,
    }
    members = client_alice.get(f"/api/v1/nodes/{node_id}/members/?as_of=2026-03-01").json()
    assert [p["full_name"] for p in members["results"]] == ["Wes West"]
    cycle = _post(
        client_alice,
        f"/api/v1/nodes/{org.sales.pk}/move/",
        {"parent_id": org.east.pk, "valid_from": "2026-05-01"},
    )
    assert cycle.status_code == 400 and cycle.json()["error"]["code"] == "cycle"
    # another tenant
    for nid in (node_id, org.west.pk):
        assert_list_omits(client_charlie, "/api/v1/nodes/", nid)
        assert_cross_tenant_detail(
            client_charlie, f"/api/v1/nodes/{nid}/", update_body={"name": "x"}
        )
        assert_not_found(client_charlie.get(f"/api/v1/nodes/{nid}/members/"))
        assert_not_found(
            _post(
                client_charlie,
                f"/api/v1/nodes/{nid}/move/",
                {"parent_id": None, "valid_from": "2026-01-01"},
            )
        )
    # foreign ids in bodies look like missing ones
    body = {"hierarchy_id": org.reporting.pk, "code": "z", "name": "Z", "valid_from": "2026-01-01"}
    assert_foreign_id_like_missing(
        client_alice,
        "/api/v1/nodes/",
        field="hierarchy_id",
        foreign_id=org_b.reporting.pk,
        missing_id=MISSING,
        body=body,
    )
    assert_foreign_id_like_missing(
        client_alice,
        "/api/v1/nodes/",
        field="parent_id",
        foreign_id=org_b.sales.pk,
        missing_id=MISSING,
        body=body,
    )
    assert_foreign_id_like_missing(
        client_alice,
        f"/api/v1/nodes/{org.west.pk}/move/",
        field="parent_id",
        foreign_id=org_b.sales.pk,
        missing_id=MISSING,
        body={"valid_from": "2026-06-01"},
    )


@pytest.mark.covers_url("api-job-role-list", "api-job-role-detail")
def test_job_roles_api(client_alice, client_charlie, org):
    created = _post(
        client_alice, "/api/v1/job-roles/", {"name": "CSM", "function": "customer_success"}
    )
    assert created.status_code == 201, created.content
    rid = created.json()["id"]
    assert _patch(client_alice, f"/api/v1/job-roles/{rid}/", {"name": "CSM II"}).json()["name"] == (
        "CSM II"
    )
    for r in (rid, org.ae.pk):
        assert_list_omits(client_charlie, "/api/v1/job-roles/", r)
        assert_cross_tenant_detail(
            client_charlie, f"/api/v1/job-roles/{r}/", update_body={"name": "x"}
        )
    assert client_alice.delete(f"/api/v1/job-roles/{org.ae.pk}/").status_code == 409
    assert client_alice.delete(f"/api/v1/job-roles/{rid}/").status_code == 204


# --- assignments -------------------------------------------------------------------------------


@pytest.mark.covers_url("api-assignment-list", "api-assignment-detail")
def test_assignments_api_supersedes_on_change_and_refuses_foreign_ids(
    client_alice, client_charlie, org, org_b
):
    with tenant_scope(org.tenant):
        erin_east = Assignment.objects.get(person=org.erin).pk
    ended = _patch(client_alice, f"/api/v1/assignments/{erin_east}/", {"valid_to": "2026-02-15"})
    assert ended.status_code == 200, ended.content
    new_id = ended.json()["id"]
    assert new_id != erin_east
    assert_not_found(client_alice.get(f"/api/v1/assignments/{erin_east}/"))
    body = {
        "person_id": org.erin.pk,
        "node_id": org.west.pk,
        "role_id": org.ae.pk,
        "valid_from": "2026-02-15",
        "allocation_pct": "100",
    }
    created = _post(client_alice, "/api/v1/assignments/", body)
    assert created.status_code == 201, created.content
    over = _post(client_alice, "/api/v1/assignments/", {**body, "node_id": org.marketing.pk})
    assert over.status_code == 400
    assert over.json()["error"]["code"] == "allocation_over_100"
    listed = client_alice.get(f"/api/v1/assignments/?person={org.erin.pk}&as_of=2026-03-01").json()
    assert [a["node_id"] for a in listed["results"]] == [org.west.pk]
    # another tenant
    for aid in (new_id, created.json()["id"]):
        assert_list_omits(client_charlie, "/api/v1/assignments/", aid)
        assert_cross_tenant_detail(
            client_charlie, f"/api/v1/assignments/{aid}/", update_body={"title": "x"}
        )
    for field, foreign in (
        ("person_id", org_b.erin.pk),
        ("node_id", org_b.west.pk),
        ("role_id", org_b.ae.pk),
    ):
        assert_foreign_id_like_missing(
            client_alice,
            "/api/v1/assignments/",
            field=field,
            foreign_id=foreign,
            missing_id=MISSING,
            body={**body, "valid_from": "2027-01-01"},
        )
    assert client_alice.delete(f"/api/v1/assignments/{created.json()['id']}/").status_code == 204


# --- periods -----------------------------------------------------------------------------------


@pytest.mark.covers_url("api-period-list", "api-period-detail")
def test_periods_api_generates_a_fiscal_year_and_moves_status(
    client_alice, client_charlie, tenant_a, bob, client
):
    tenant_a.fiscal_year_start_month = 2
    tenant_a.save()
    made = _post(client_alice, "/api/v1/periods/", {"fiscal_year": 2027})
    assert made.status_code == 201, made.content
    rows = made.json()
    assert len(rows) == 17
    annual = next(p for p in rows if p["kind"] == "annual")
    assert (annual["start"], annual["end"], annual["label"]) == (
        "2026-02-01",
        "2027-02-01",
        "FY2027",
    )
    q1 = next(p for p in rows if p["label"] == "FY2027 Q1")
    assert (q1["start"], q1["end"]) == ("2026-02-01", "2026-05-01")
    again = _post(client_alice, "/api/v1/periods/", {"fiscal_year": 2027})
    assert len(again.json()) == 17
    # the status moves only through the lifecycle endpoints (payouts), never by PATCH
    bad = _patch(client_alice, f"/api/v1/periods/{q1['id']}/", {"status": "calculated"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "status_read_only"
    ok = _patch(client_alice, f"/api/v1/periods/{q1['id']}/", {"label": "FY2027 first quarter"})
    assert ok.json()["label"] == "FY2027 first quarter" and ok.json()["status"] == "open"
    # employees may read the calendar but not change it
    client.force_login(bob)
    assert client.get("/api/v1/periods/?kind=quarterly").json()["count"] == 4
    assert _patch(client, f"/api/v1/periods/{q1['id']}/", {"label": "x"}).status_code == 403
    # another tenant
    assert_list_omits(client_charlie, "/api/v1/periods/", q1["id"])
    assert_cross_tenant_detail(
        client_charlie,
        f"/api/v1/periods/{q1['id']}/",
        update_body={"label": "x"},
        methods=("get", "patch"),
    )


# --- imports -----------------------------------------------------------------------------------


@pytest.mark.covers_url("api-hr-import-list", "api-hr-import-detail", "api-hr-import-errors")
def test_import_api_previews_applies_and_reports_row_errors(client_alice, client_charlie, tenant_a):
    csv_bytes = b"employee_id,full_name,hire_date\nE1,Ada,2024-01-01\nE2,Bo,2024-02-01\n"
    preview = client_alice.post(
        "/api/v1/hr-imports/",
        {"kind": "people", "dry_run": "true", "file": SimpleUploadedFile("p.csv", csv_bytes)},
    )
    assert preview.status_code == 201, preview.content
    assert preview.json()["status"] == "validated" and preview.json()["counts"]["created"] == 2
    applied = client_alice.post(
        "/api/v1/hr-imports/", {"kind": "people", "file": SimpleUploadedFile("p.csv", csv_bytes)}
    )
    assert applied.json()["status"] == "committed"
    bad = _post(
        client_alice,
        "/api/v1/hr-imports/",
        {"kind": "people", "rows": [{"employee_id": "E3", "full_name": "Cy", "hire_date": "x"}]},
    )
    # a failed import answers like any finished one (the kernel's contract): 201, its batch
    assert bad.status_code == 201
    failed = bad.json()
    outcome = (failed["status"], failed["reason"], failed["error_count"])
    assert outcome == ("failed", "row_errors", 1)
    assert failed["errors"] == [
        {
            "line": 1,
            "column": "hire_date",
            "code": "bad_date",
            "message": "Not a date (expected YYYY-MM-DD).",
            "value": "x",
        }
    ]
    # and its report downloads as CSV (or JSON), formula cells neutralised
    report = client_alice.get(failed["errors_url"])
    assert report["Content-Type"] == "text/csv"
    assert report.content.decode().splitlines() == [
        "line,column,code,message,value",
        "1,hire_date,bad_date,Not a date (expected YYYY-MM-DD).,x",
    ]
    as_json = client_alice.get(failed["errors_url"] + "?fmt=json").json()
    assert as_json[0]["code"] == "bad_date"
    batch_id = applied.json()["id"]
    assert client_alice.get(f"/api/v1/hr-imports/{batch_id}/").json()["counts"]["created"] == 2
    with tenant_scope(tenant_a):
        assert ImportBatch.objects.filter(status="failed").count() == 1
    for bid in (batch_id, failed["id"]):
        assert_list_omits(client_charlie, "/api/v1/hr-imports/", bid)
        assert_cross_tenant_detail(client_charlie, f"/api/v1/hr-imports/{bid}/", methods=("get",))
        assert_not_found(client_charlie.get(f"/api/v1/hr-imports/{bid}/errors.csv"))


def test_an_api_client_with_read_people_sees_everyone_but_cannot_import(client, org):
    from core import services

    with tenant_scope(org.tenant):
        issued = services.api_client_create(name="hris", scopes=["read:people"], created_by_id=None)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {issued.token}"}
    assert client.get("/api/v1/people/", **auth).json()["count"] == 5
    response = client.post(
        "/api/v1/hr-imports/",
        data=json.dumps({"kind": "people", "rows": []}),
        content_type="application/json",
        **auth,
    )
    assert response.status_code == 403


def test_the_new_endpoints_are_in_the_openapi_schema(client, db):
    schema = client.get("/api/schema/?format=json").json()
    for path in (
        "/api/v1/people/",
        "/api/v1/people/{person_id}/timeline/",
        "/api/v1/hierarchies/{hierarchy_id}/tree/",
        "/api/v1/nodes/{node_id}/members/",
        "/api/v1/assignments/",
        "/api/v1/periods/",
        "/api/v1/hr-imports/",
    ):
        assert path in schema["paths"], path


def test_import_api_partial_mode_applies_the_good_rows(client_alice, tenant_a):
    rows = [
        {"employee_id": "P1", "full_name": "Pat One", "hire_date": "2024-01-01"},
        {"employee_id": "P2", "full_name": "Pat Two", "hire_date": "someday"},
    ]
    response = client_alice.post(
        "/api/v1/hr-imports/",
        data=json.dumps({"kind": "people", "rows": rows, "mode": "partial"}),
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "committed_with_errors" and body["counts"]["created"] == 1
    assert [(e["line"], e["code"]) for e in body["errors"]] == [(2, "bad_date")]
