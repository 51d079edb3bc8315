"""The finance export API: payouts read, export batches (Idempotency-Key, files, payroll, mark
paid), earning codes; scopes and roles; another tenant's batch is a 404."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from core import services as core_services
from core.models import AuditEvent, Role
from core.tenancy import tenant_scope
from hierarchy.models import Person
from payouts import exports
from payouts.models import EntryKind, ExportBatch, ExportedLine, LedgerEntry
from tests.factories.hierarchy import MembershipFactory, UserFactory
from tests.payouts.exports_fixtures import D, approved_period
from tests.tenancy import assert_not_found


def _token(tenant: Any, scopes: list[str]) -> str:
    with tenant_scope(tenant):
        return core_services.api_client_create(
            name=f"payroll-{'-'.join(scopes)}", scopes=scopes, created_by_id=None
        ).token


def _bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def _post(client: Any, url: str, body: dict[str, Any] | None = None, **extra: Any) -> Any:
    return client.post(url, data=json.dumps(body or {}), content_type="application/json", **extra)


def _member(tenant: Any, email: str, roles: list[str]) -> Client:
    user = UserFactory(email=email)
    MembershipFactory(user=user, tenant=tenant, roles=roles)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def approved(org: Any, plan_a: Any) -> Any:
    with tenant_scope(org.tenant):
        Person.objects.filter(pk=org.erin.pk).update(attributes={"cost_centre": "CC-1"})
        result = approved_period(org, plan_a)
        exports.earning_code_set(component_id="commission", code="COMM")
        exports.earning_code_set(component_id="spiff", code="SPF")
        return result


@pytest.mark.covers_url(
    "api-export-batch-list",
    "api-export-batch-detail",
    "api-export-batch-file",
    "api-export-batch-payroll",
)
def test_an_api_client_exporting_twice_with_one_key_gets_the_same_bytes(
    client: Any, approved: Any, org: Any, tenant_b: Any
) -> None:
    # given a payroll integration with client credentials
    token = _token(org.tenant, ["write:exports"])
    body = {"periods": [approved.period.pk], "pay_date": "2026-02-15"}
    # when it creates the batch twice with one key
    first = _post(
        client, "/api/v1/export-batches/", body, HTTP_IDEMPOTENCY_KEY="jan", **_bearer(token)
    )
    second = _post(
        client, "/api/v1/export-batches/", body, HTTP_IDEMPOTENCY_KEY="jan", **_bearer(token)
    )
    # then one batch, one set of lines
    assert first.status_code == 201, first.json()
    assert second.status_code == 201 and second["Idempotent-Replayed"] == "true"
    assert first.json() == second.json()
    batch_id = first.json()["id"]
    with tenant_scope(org.tenant):
        assert ExportBatch.objects.count() == 1
        assert ExportedLine.objects.count() == 4
    # and the same bytes each time, the hash the batch carries
    url = f"/api/v1/export-batches/{batch_id}/file/?format=csv"
    a, b = client.get(url, **_bearer(token)), client.get(url, **_bearer(token))
    assert a.status_code == 200 and a["Content-Type"].startswith("text/csv")
    assert a.content == b.content
    assert a["X-Content-SHA256"] == first.json()["sha256"]
    for fmt in ("xlsx", "json"):
        x = client.get(f"/api/v1/export-batches/{batch_id}/file/?format={fmt}", **_bearer(token))
        y = client.get(f"/api/v1/export-batches/{batch_id}/file/?format={fmt}", **_bearer(token))
        assert x.status_code == 200 and x.content == y.content
    payroll = client.get(f"/api/v1/export-batches/{batch_id}/payroll/", **_bearer(token))
    assert payroll.status_code == 200, payroll.content
    rows = list(csv.reader(io.StringIO(payroll.content.decode())))
    assert rows[1] == ["E3", "COMM", "800.00", "USD", "2026-02-15"]
    assert sum(Decimal(r[2]) for r in rows[1:]) == Decimal("1250.50")
    # another key for the same period: every line was exported already
    third = _post(
        client, "/api/v1/export-batches/", body, HTTP_IDEMPOTENCY_KEY="jan-2", **_bearer(token)
    )
    assert third.status_code == 409
    assert third.json()["error"]["code"] == "nothing_to_export"
    # detail and list
    detail = client.get(f"/api/v1/export-batches/{batch_id}/", **_bearer(token))
    assert detail.json()["line_count"] == 4 and detail.json()["totals"] == {"USD": "1250.5000"}
    listed = client.get("/api/v1/export-batches/", **_bearer(token))
    assert [row["id"] for row in listed.json()["results"]] == [batch_id]
    # another tenant's client sees none of it
    other = _token(tenant_b, ["write:exports"])
    for path in ("", "file/", "file/?format=xlsx", "payroll/"):
        assert_not_found(client.get(f"/api/v1/export-batches/{batch_id}/{path}", **_bearer(other)))
    assert client.get("/api/v1/export-batches/", **_bearer(other)).json()["results"] == []


@pytest.mark.covers_url("api-export-batch-mark-paid")
def test_marking_paid_through_the_api_writes_paid_entries_once(
    client: Any, approved: Any, org: Any, tenant_b: Any
) -> None:
    token = _token(org.tenant, ["write:exports"])
    created = _post(
        client,
        "/api/v1/export-batches/",
        {"periods": [approved.period.pk]},
        HTTP_IDEMPOTENCY_KEY="k",
        **_bearer(token),
    ).json()
    url = f"/api/v1/export-batches/{created['id']}/mark-paid/"
    # another tenant cannot mark it paid
    assert_not_found(_post(client, url, **_bearer(_token(tenant_b, ["write:exports"]))))
    with tenant_scope(org.tenant):
        events = AuditEvent.objects.count()
    paid = _post(client, url, **_bearer(token))
    assert paid.status_code == 200 and paid.json()["status"] == "paid"
    with tenant_scope(org.tenant):
        assert AuditEvent.objects.count() == events + 1
    again = _post(client, url, **_bearer(token))
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_paid"
    with tenant_scope(org.tenant):
        assert LedgerEntry.objects.filter(kind=EntryKind.PAID).count() == 4


def test_a_key_is_required_and_bad_input_is_a_clear_400(
    client: Any, approved: Any, org: Any
) -> None:
    token = _token(org.tenant, ["write:exports"])
    missing = _post(
        client, "/api/v1/export-batches/", {"periods": [approved.period.pk]}, **_bearer(token)
    )
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == "idempotency_key_required"
    bad = _post(
        client,
        "/api/v1/export-batches/",
        {"periods": []},
        HTTP_IDEMPOTENCY_KEY="b",
        **_bearer(token),
    )
    assert bad.status_code == 400 and "periods" in bad.json()["error"]["details"]
    unknown = _post(
        client,
        "/api/v1/export-batches/",
        {"periods": [999999]},
        HTTP_IDEMPOTENCY_KEY="c",
        **_bearer(token),
    )
    assert unknown.status_code == 400
    created = _post(
        client,
        "/api/v1/export-batches/",
        {"periods": [approved.period.pk]},
        HTTP_IDEMPOTENCY_KEY="d",
        **_bearer(token),
    ).json()
    wrong = client.get(f"/api/v1/export-batches/{created['id']}/file/?format=pdf", **_bearer(token))
    assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "invalid_parameter"
    payroll_json = client.get(
        f"/api/v1/export-batches/{created['id']}/payroll/?format=json", **_bearer(token)
    )
    assert payroll_json.status_code == 400


def test_a_missing_earning_code_is_a_400_naming_the_component(
    client: Any, org: Any, plan_a: Any
) -> None:
    with tenant_scope(org.tenant):
        approved = approved_period(org, plan_a)
    token = _token(org.tenant, ["write:exports"])
    batch = _post(
        client,
        "/api/v1/export-batches/",
        {"periods": [approved.period.pk]},
        HTTP_IDEMPOTENCY_KEY="k",
        **_bearer(token),
    ).json()
    response = client.get(f"/api/v1/export-batches/{batch['id']}/payroll/", **_bearer(token))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "earning_code_missing"
    assert response.json()["error"]["details"]["components"] == ["commission", "spiff"]


def test_scopes_read_payouts_reads_only_and_no_scope_reads_nothing(
    client: Any, approved: Any, org: Any
) -> None:
    reader = _token(org.tenant, ["read:payouts"])
    outsider = _token(org.tenant, ["read:people"])
    assert client.get("/api/v1/payouts/", **_bearer(reader)).status_code == 200
    assert client.get("/api/v1/export-batches/", **_bearer(reader)).status_code == 200
    refused = _post(
        client,
        "/api/v1/export-batches/",
        {"periods": [approved.period.pk]},
        HTTP_IDEMPOTENCY_KEY="r",
        **_bearer(reader),
    )
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "permission_denied"
    assert (
        _post(
            client, "/api/v1/earning-codes/", {"component": "x", "code": "X"}, **_bearer(reader)
        ).status_code
        == 403
    )
    assert client.get("/api/v1/payouts/", **_bearer(outsider)).status_code == 403
    assert client.get("/api/v1/export-batches/", **_bearer(outsider)).status_code == 403


@pytest.mark.covers_url("api-payout-list")
def test_the_payouts_read_filters_by_period_status_person_and_business_unit(
    client: Any, approved: Any, org: Any, plan_a: Any, tenant_b: Any
) -> None:
    token = _token(org.tenant, ["write:exports"])
    with tenant_scope(org.tenant):
        feb = approved_period(org, plan_a, start=D(2026, 2, 1), end=D(2026, 3, 1), label="Feb 2026")

    def ids(query: str) -> list[int]:
        response = client.get(f"/api/v1/payouts/{query}", **_bearer(token))
        assert response.status_code == 200, response.json()
        return [row["id"] for row in response.json()["results"]]

    assert len(ids("")) == 8
    assert set(ids(f"?period={feb.period.pk}")) == {e.pk for e in feb.entries}
    assert len(ids(f"?person={org.wes.pk}")) == 4
    assert len(ids(f"?business_unit={org.east.pk}")) == 4
    _post(
        client,
        "/api/v1/export-batches/",
        {"periods": [approved.period.pk]},
        HTTP_IDEMPOTENCY_KEY="k",
        **_bearer(token),
    )
    assert set(ids("?status=exported")) == {e.pk for e in approved.entries}
    assert set(ids("?status=approved")) == {e.pk for e in feb.entries}
    assert ids("?status=paid") == []
    page = client.get("/api/v1/payouts/?limit=3", **_bearer(token)).json()
    assert page["count"] == 8 and len(page["results"]) == 3 and page["next"]
    row = page["results"][0]
    assert {"employee_id", "component", "amount", "currency", "status", "export_batch"} <= set(row)
    bad = client.get("/api/v1/payouts/?status=maybe", **_bearer(token))
    assert bad.status_code == 400
    unknown = client.get("/api/v1/payouts/?colour=red", **_bearer(token))
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "unknown_parameter"
    # another tenant lists none of Acme's payouts
    other = _token(tenant_b, ["read:payouts"])
    assert client.get("/api/v1/payouts/", **_bearer(other)).json()["results"] == []


@pytest.mark.covers_url("api-earning-code-list", "api-earning-code-detail")
def test_earning_codes_are_set_changed_removed_and_stay_in_their_tenant(
    client: Any, org: Any, plan_a: Any, tenant_b: Any
) -> None:
    token = _token(org.tenant, ["write:exports"])
    created = _post(
        client, "/api/v1/earning-codes/", {"component": "bonus", "code": "BON"}, **_bearer(token)
    )
    assert created.status_code == 201, created.json()
    changed = _post(
        client, "/api/v1/earning-codes/", {"component": "bonus", "code": "BON2"}, **_bearer(token)
    )
    assert changed.status_code == 200 and changed.json()["id"] == created.json()["id"]
    assert changed.json()["code"] == "BON2"
    per_plan = _post(
        client,
        "/api/v1/earning-codes/",
        {"component": "bonus", "code": "B-AE", "plan": plan_a.pk},
        **_bearer(token),
    )
    assert per_plan.status_code == 201
    assert client.get("/api/v1/earning-codes/", **_bearer(token)).json()["count"] == 2
    with tenant_scope(org.tenant):
        actions = {e.action for e in AuditEvent.objects.filter(action__startswith="earning_code")}
    assert actions == {"earning_code.create", "earning_code.change"}
    url = f"/api/v1/earning-codes/{created.json()['id']}/"
    other = _token(tenant_b, ["write:exports"])
    assert_not_found(client.get(url, **_bearer(other)))
    assert_not_found(client.delete(url, **_bearer(other)))
    foreign_plan = _post(
        client,
        "/api/v1/earning-codes/",
        {"component": "x", "code": "X", "plan": plan_a.pk},
        **_bearer(other),
    )
    assert foreign_plan.status_code == 400
    assert client.delete(url, **_bearer(token)).status_code == 204
    assert_not_found(client.get(url, **_bearer(token)))
    blank = _post(
        client, "/api/v1/earning-codes/", {"component": "", "code": "X"}, **_bearer(token)
    )
    assert blank.status_code == 400
    formula = _post(
        client, "/api/v1/earning-codes/", {"component": "x", "code": "=1+1"}, **_bearer(token)
    )
    assert formula.status_code == 400 and "code" in formula.json()["error"]["details"]


def test_roles_finance_exports_tenant_admin_reads_employee_sees_nothing(
    approved: Any, org: Any
) -> None:
    finance = _member(org.tenant, "fin@acme.test", [Role.FINANCE])
    admin = _member(org.tenant, "admin@acme.test", [Role.TENANT_ADMIN])
    employee = _member(org.tenant, "emp@acme.test", [Role.EMPLOYEE])
    body = {"periods": [approved.period.pk]}
    made = _post(finance, "/api/v1/export-batches/", body, HTTP_IDEMPOTENCY_KEY="f")
    assert made.status_code == 201, made.json()
    batch = made.json()["id"]
    assert admin.get("/api/v1/export-batches/").status_code == 200
    assert admin.get(f"/api/v1/export-batches/{batch}/payroll/").status_code == 200
    assert (
        _post(admin, "/api/v1/export-batches/", body, HTTP_IDEMPOTENCY_KEY="a").status_code == 403
    )
    assert _post(admin, f"/api/v1/export-batches/{batch}/mark-paid/").status_code == 403
    for url in (
        "/api/v1/payouts/",
        "/api/v1/export-batches/",
        f"/api/v1/export-batches/{batch}/file/",
    ):
        assert employee.get(url).status_code == 403, url
    assert (
        _post(employee, "/api/v1/export-batches/", body, HTTP_IDEMPOTENCY_KEY="e").status_code
        == 403
    )
    assert _post(finance, f"/api/v1/export-batches/{batch}/mark-paid/").status_code == 200


def test_the_schema_tags_and_summarises_every_export_operation(db: Any) -> None:
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    ops = [
        (path, method, op)
        for path, item in schema["paths"].items()
        if path.startswith(("/api/v1/export-batches", "/api/v1/payouts/", "/api/v1/earning-codes"))
        for method, op in item.items()
    ]
    assert len(ops) >= 10
    for path, method, op in ops:
        assert op["tags"] == ["Exports"], (path, method)
        assert op.get("summary"), (path, method)
