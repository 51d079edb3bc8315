"""The quotas REST API: list, create, change, end, bulk JSON rows and CSV upload; another
tenant's quota is a 404, the same as an id nobody has."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from core.models import AuditEvent
from core.tenancy import tenant_scope
from plans.models import Quota


def post(client: Any, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, data=json.dumps(body), content_type="application/json")


def patch(client: Any, url: str, body: dict[str, Any]) -> Any:
    return client.patch(url, data=json.dumps(body), content_type="application/json")


def _row(person: int, **kw: Any) -> dict[str, Any]:
    return {
        "person_id": person,
        "quota_id": "new_bookings",
        "amount": "100000.00",
        "currency": "USD",
        "valid_from": "2026-01-01",
        "valid_to": "2026-04-01",
        **kw,
    }


@pytest.mark.covers_url("api-quota-list", "api-quota-detail", "api-quota-end")
def test_quotas_over_the_api_in_their_tenant_only(client_alice, client_charlie, org, org_b, plan_a):
    made = post(client_alice, "/api/v1/quotas/", _row(org.erin.pk, plan=plan_a.pk))
    assert made.status_code == 201, made.json()
    row = made.json()
    assert (row["holder_kind"], row["holder_name"], row["amount"], row["plan"]) == (
        "person",
        "Erin East (E3)",
        "100000.0000",
        plan_a.pk,
    )
    overlap = post(client_alice, "/api/v1/quotas/", _row(org.erin.pk, valid_from="2026-03-01"))
    assert overlap.status_code == 409
    assert f"(quota {row['id']}" in overlap.json()["error"]["message"]
    bad = post(client_alice, "/api/v1/quotas/", _row(org.erin.pk, valid_to="2025-01-01"))
    assert bad.status_code == 400 and "valid_to" in bad.json()["error"]["details"]
    team = {k: v for k, v in _row(0).items() if k != "person_id"}
    node = post(client_alice, "/api/v1/quotas/", {**team, "node_id": org.west.pk})
    assert node.status_code == 201 and node.json()["holder_kind"] == "node"
    both = post(client_alice, "/api/v1/quotas/", {**_row(org.wes.pk), "node_id": org.west.pk})
    assert both.status_code == 400 and both.json()["error"]["code"] == "one_holder"
    listed = client_alice.get(f"/api/v1/quotas/?person={org.erin.pk}&as_of=2026-02-01").json()
    assert [r["id"] for r in listed["results"]] == [row["id"]]
    changed = patch(client_alice, f"/api/v1/quotas/{row['id']}/", {"amount": "120000"})
    assert changed.status_code == 200 and changed.json()["amount"] == "120000.0000"
    ended = post(client_alice, f"/api/v1/quotas/{row['id']}/end/", {"valid_to": "2026-03-01"})
    assert ended.json()["valid_to"] == "2026-03-01"
    # another tenant: not found, and its own holders only
    assert client_charlie.get("/api/v1/quotas/").json()["count"] == 0
    assert client_charlie.get(f"/api/v1/quotas/{row['id']}/").status_code == 404
    assert patch(client_charlie, f"/api/v1/quotas/{row['id']}/", {"amount": "1"}).status_code == 404
    assert (
        post(
            client_charlie, f"/api/v1/quotas/{row['id']}/end/", {"valid_to": "2026-02-01"}
        ).status_code
        == 404
    )
    foreign = post(client_charlie, "/api/v1/quotas/", _row(org.erin.pk))
    assert foreign.status_code == 400  # Acme's person is unknown at Globex
    with tenant_scope(org.tenant):
        assert Quota.objects.get(pk=row["id"]).amount == 120000
        assert AuditEvent.objects.filter(object_type="plans.quota").count() == 4


@pytest.mark.covers_url("api-quota-bulk")
def test_bulk_rows_are_all_or_nothing_with_row_errors(client_alice, client_charlie, org, plan_a):
    rows = [
        {
            "employee_id": "E3",
            "quota_id": "new_bookings",
            "amount": "5",
            "valid_from": "2026-01-01",
            "valid_to": "2026-02-01",
        },
        {
            "employee_id": "E9",
            "quota_id": "new_bookings",
            "amount": "5",
            "valid_from": "2026-01-01",
            "valid_to": "2026-02-01",
        },
    ]
    failed = post(client_alice, "/api/v1/quotas/bulk/", {"plan": plan_a.pk, "rows": rows})
    assert failed.status_code == 201
    body = failed.json()
    assert (body["status"], body["reason"]) == ("failed", "row_errors")
    assert body["errors"] == [
        {
            "line": 2,
            "column": "employee_id",
            "code": "unknown_person",
            "message": body["errors"][0]["message"],
            "value": "E9",
        }
    ]
    ok = post(client_alice, "/api/v1/quotas/bulk/", {"plan": plan_a.pk, "rows": rows[:1]})
    assert ok.json()["status"] == "committed" and len(ok.json()["quotas"]) == 1
    # Globex: Acme's employee ids and plan are unknown there
    theirs = post(client_charlie, "/api/v1/quotas/bulk/", {"plan": plan_a.pk, "rows": rows[:1]})
    assert theirs.json()["status"] == "failed"
    assert theirs.json()["errors"][0]["code"] == "unknown_plan"
    theirs = post(client_charlie, "/api/v1/quotas/bulk/", {"rows": rows[:1]})
    assert theirs.json()["errors"][0]["code"] == "unknown_person"
    with tenant_scope(org.tenant):
        assert Quota.objects.count() == 1


@pytest.mark.covers_url("api-quota-upload")
def test_a_csv_upload_reports_rows_and_a_dry_run_writes_nothing(client_alice, client_charlie, org):
    text = (
        "employee_id,quota_id,amount,currency,valid_from,valid_to\n"
        "E3,new_bookings,100,USD,2026-01-01,2026-02-01\n"
        "E4,new_bookings,abc,USD,2026-01-01,2026-02-01\n"
    )

    def upload(client: Any, **fields: Any) -> Any:
        f = SimpleUploadedFile("quotas.csv", text.encode(), content_type="text/csv")
        return client.post("/api/v1/quotas/upload/", {"file": f, **fields})

    dry = upload(client_alice, dry_run="true").json()
    assert dry["status"] == "validated"
    assert [(e["line"], e["column"], e["code"]) for e in dry["errors"]] == [
        (3, "amount", "bad_number")
    ]
    partial = upload(client_alice, mode="partial").json()
    assert partial["status"] == "committed_with_errors" and partial["counts"]["created"] == 1
    # Globex: the same file finds none of Acme's people
    other = upload(client_charlie).json()
    assert other["status"] == "failed"
    assert {e["code"] for e in other["errors"]} == {"unknown_person", "bad_number"}
    with tenant_scope(org.tenant):
        assert Quota.objects.count() == 1


def test_an_employee_can_neither_read_nor_write_quotas(client, bob, org):
    client.force_login(bob)
    assert client.get("/api/v1/quotas/").status_code == 403
    assert post(client, "/api/v1/quotas/", _row(org.erin.pk)).status_code == 403
