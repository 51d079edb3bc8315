"""The plans REST API: plans, versions (edit, publish, diff), assignments, templates.

Every URL has a cross-tenant case: another tenant's plan, version or assignment is a 404, the
same as an id nobody has (Charlie, of Globex, asks for Acme's rows).
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from core.models import AuditEvent
from core.tenancy import tenant_scope
from plans.models import Plan, PlanAssignment, PlanVersion

D = date


def post(client: Any, url: str, body: dict[str, Any], **headers: str) -> Any:
    return client.post(url, data=json.dumps(body), content_type="application/json", **headers)


def put(client: Any, url: str, body: dict[str, Any]) -> Any:
    return client.put(url, data=json.dumps(body), content_type="application/json")


def _create(client: Any, code: str = "ae") -> dict[str, Any]:
    response = post(
        client,
        "/api/v1/plans/",
        {"code": code, "name": "Sales AE", "template": "sales_ae", "valid_from": "2026-01-01"},
    )
    assert response.status_code == 201, response.json()
    return response.json()


@pytest.mark.covers_url("api-plan-list", "api-plan-detail")
def test_plans_are_created_listed_and_read_in_their_tenant_only(client_alice, client_charlie):
    # given
    plan = _create(client_alice)
    # then
    listed = client_alice.get("/api/v1/plans/").json()
    assert [p["code"] for p in listed["results"]] == ["ae"]
    assert listed["results"][0]["version_count"] == 1
    assert client_alice.get(f"/api/v1/plans/{plan['id']}/").json()["template"] == "sales_ae"
    # another tenant sees none of it
    assert client_charlie.get("/api/v1/plans/").json()["count"] == 0
    assert client_charlie.get(f"/api/v1/plans/{plan['id']}/").status_code == 404
    assert client_alice.get("/api/v1/plans/?colour=red").status_code == 400


def test_creating_a_plan_with_an_invalid_spec_names_each_problem(client_alice, tenant_a):
    response = post(
        client_alice,
        "/api/v1/plans/",
        {
            "code": "bad",
            "name": "Bad",
            "spec": {"version": 1, "id": "bad", "currency": "XYZ", "components": []},
        },
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_plan"
    assert any(p.startswith("currency:") for p in error["details"]["spec"])
    assert error["details"]["problems"][0]["line"] is not None  # the text the spec became
    with tenant_scope(tenant_a):
        assert not Plan.objects.exists()  # nothing half-written


def test_an_idempotent_create_replays_instead_of_making_a_second_plan(client_alice, tenant_a):
    body = {"code": "ae", "name": "Sales AE", "template": "sales_ae"}
    first = post(client_alice, "/api/v1/plans/", body, HTTP_IDEMPOTENCY_KEY="k-1")
    again = post(client_alice, "/api/v1/plans/", body, HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    with tenant_scope(tenant_a):
        assert Plan.objects.count() == 1


@pytest.mark.covers_url(
    "api-plan-versions",
    "api-plan-version-detail",
    "api-plan-version-publish",
    "api-plan-version-diff",
)
def test_a_version_is_edited_published_edited_again_and_diffed(client_alice, client_charlie):
    plan = _create(client_alice)
    base = f"/api/v1/plans/{plan['id']}/versions/"
    v1 = client_alice.get(f"{base}1/").json()
    assert v1["status"] == "draft"
    # a draft edit changes it in place
    edited = v1["source"].replace('rate: "0.08"', 'rate: "0.09"')
    saved = put(client_alice, f"{base}1/", {"source": edited, "note": "tier 2 at 9 %"})
    assert saved.status_code == 200 and saved.json()["number"] == 1
    # publish
    published = post(client_alice, f"{base}1/publish/", {"valid_from": "2026-02-01"})
    assert published.status_code == 200, published.json()
    assert published.json()["status"] == "published"
    assert post(client_alice, f"{base}1/publish/", {}).status_code == 409
    # an edit of the published version becomes draft 2
    again = put(client_alice, f"{base}1/", {"source": edited.replace('"0.12"', '"0.15"')})
    assert again.status_code == 201
    assert again.json()["number"] == 2 and "cannot change" in again.json()["message"]
    assert client_alice.get(f"{base}1/").json()["source"] == edited
    diff = client_alice.get(f"{base}2/diff/").json()
    assert diff == {
        "from_version": 1,
        "to_version": 2,
        "changes": ["Component 'New business commission': tier 3 rate changed from 12 % to 15 %."],
    }
    listed = client_alice.get(f"{base}?status=published").json()
    assert [v["number"] for v in listed["results"]] == [1]
    # a new draft while draft 2 exists is refused, naming it
    conflict = post(client_alice, base, {"based_on": 1})
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "draft_exists"
    # another tenant: 404 everywhere
    assert client_charlie.get(base).status_code == 404
    assert client_charlie.get(f"{base}1/").status_code == 404
    assert put(client_charlie, f"{base}2/", {"source": edited}).status_code == 404
    assert post(client_charlie, f"{base}2/publish/", {}).status_code == 404
    assert client_charlie.get(f"{base}2/diff/").status_code == 404
    assert post(client_charlie, base, {}).status_code == 404


@pytest.mark.covers_url("api-plan-archive")
def test_a_plan_is_archived_and_unarchived(client_alice, client_charlie):
    plan = _create(client_alice)
    url = f"/api/v1/plans/{plan['id']}/archive/"
    assert post(client_charlie, url, {}).status_code == 404
    assert post(client_alice, url, {}).json()["archived_at"] is not None
    assert client_alice.get("/api/v1/plans/").json()["count"] == 0
    assert client_alice.get("/api/v1/plans/?archived=true").json()["count"] == 1
    assert post(client_alice, url, {"archived": False}).json()["archived_at"] is None


def _published(client: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    plan = _create(client)
    version = post(client, f"/api/v1/plans/{plan['id']}/versions/1/publish/", {}).json()
    return plan, version


@pytest.mark.covers_url(
    "api-plan-assignment-list",
    "api-plan-assignment-detail",
    "api-plan-assignment-end",
    "api-plan-assignment-bulk",
)
def test_assignments_over_the_api(client_alice, client_charlie, org, org_b, tenant_a):
    _plan, version = _published(client_alice)
    made = post(
        client_alice,
        "/api/v1/plan-assignments/",
        {
            "plan_version": version["id"],
            "node_id": org.west.pk,
            "target_incentive": "6000.00",
            "valid_from": "2026-01-01",
        },
    )
    assert made.status_code == 201, made.json()
    row = made.json()
    assert (row["holder_kind"], row["holder_name"], row["currency"]) == (
        "node",
        "Sales West",
        "USD",
    )
    overlap = post(
        client_alice,
        "/api/v1/plan-assignments/",
        {
            "plan_version": version["id"],
            "node_id": org.west.pk,
            "target_incentive": "1",
            "valid_from": "2026-03-01",
        },
    )
    assert overlap.status_code == 409
    error = overlap.json()["error"]
    assert "end that assignment first" in error["message"] and "(assignment" not in error["message"]
    assert error["details"] == {"conflict_id": row["id"]}  # the id for programs, not the sentence
    bulk = post(
        client_alice,
        "/api/v1/plan-assignments/bulk/",
        {
            "plan_version": version["id"],
            "rows": [
                {"person_id": org.erin.pk, "target_incentive": "5000", "valid_from": "2026-01-01"},
                {
                    "person_id": org_b.erin.pk,
                    "target_incentive": "5000",
                    "valid_from": "2026-01-01",
                },
            ],
        },
    )
    assert bulk.status_code == 400  # the second person is Globex's: unknown here
    assert bulk.json()["error"]["details"]["rows"][0]["row"] == 2
    bulk = post(
        client_alice,
        "/api/v1/plan-assignments/bulk/",
        {
            "plan_version": version["id"],
            "rows": [
                {"person_id": org.erin.pk, "target_incentive": "5000", "valid_from": "2026-01-01"},
                {"person_id": org.wes.pk, "target_incentive": "5000", "valid_from": "2026-01-01"},
            ],
        },
    )
    assert bulk.status_code == 201 and len(bulk.json()) == 2
    listed = client_alice.get(f"/api/v1/plan-assignments/?node={org.west.pk}").json()
    assert [r["id"] for r in listed["results"]] == [row["id"]]
    ended = post(
        client_alice, f"/api/v1/plan-assignments/{row['id']}/end/", {"valid_to": "2026-07-01"}
    )
    assert ended.json()["valid_to"] == "2026-07-01"
    # another tenant
    assert client_charlie.get("/api/v1/plan-assignments/").json()["count"] == 0
    assert client_charlie.get(f"/api/v1/plan-assignments/{row['id']}/").status_code == 404
    assert (
        post(
            client_charlie, f"/api/v1/plan-assignments/{row['id']}/end/", {"valid_to": "2026-08-01"}
        ).status_code
        == 404
    )
    foreign = post(
        client_charlie,
        "/api/v1/plan-assignments/",
        {
            "plan_version": version["id"],
            "node_id": org_b.west.pk,
            "target_incentive": "1",
            "valid_from": "2026-01-01",
        },
    )
    assert foreign.status_code == 404
    foreign_bulk = post(
        client_charlie,
        "/api/v1/plan-assignments/bulk/",
        {
            "plan_version": version["id"],
            "rows": [
                {"node_id": org_b.west.pk, "target_incentive": "1", "valid_from": "2026-01-01"}
            ],
        },
    )
    assert foreign_bulk.status_code == 404
    with tenant_scope(tenant_a):
        assert PlanAssignment.objects.count() == 3
        # one event per call: the single assignment, and the bulk of two
        assert AuditEvent.objects.filter(action="plan_assignment.create").count() == 1
        assert AuditEvent.objects.filter(action="plan_assignment.bulk_create").count() == 1


@pytest.mark.covers_url("api-plan-template-list", "api-plan-template-detail")
def test_templates_are_listed_with_their_plan_and_sample(client_alice, client_charlie):
    listed = client_alice.get("/api/v1/plan-templates/").json()
    keys = [t["key"] for t in listed["results"]]
    assert "sales_ae" in keys and "shared_launch_milestone" in keys
    one = client_alice.get("/api/v1/plan-templates/marketing/").json()
    assert one["plan"]["components"][0]["type"] == "kpi_bonus"
    assert client_alice.get("/api/v1/plan-templates/nope/").status_code == 404
    # templates are the product's, not a tenant's: another tenant reads the same
    assert client_charlie.get("/api/v1/plan-templates/").json() == listed


def test_an_employee_can_neither_read_nor_write_plans(client, bob, client_alice):
    _create(client_alice)
    client.force_login(bob)
    assert client.get("/api/v1/plans/").status_code == 403
    assert (
        post(client, "/api/v1/plans/", {"code": "x", "name": "x", "template": "sdr"}).status_code
        == 403
    )


def test_versions_are_stored_as_the_engine_reads_them(client_alice, tenant_a):
    plan, _version = _published(client_alice)
    with tenant_scope(tenant_a):
        version = PlanVersion.objects.get(plan_id=plan["id"])
        assert version.spec["id"] == "ae"
        assert version.spec["components"][0]["rate_table"]["tiers"][1]["rate"] == "0.08"
        assert version.valid_from == D(2026, 1, 1)
