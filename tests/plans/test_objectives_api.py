"""The objectives API: the whole life over HTTP, errors in the envelope beside the field, who
may do what, API client scopes, and another tenant's objectives answering 404."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from core import services as core_services
from core.tenancy import tenant_scope
from plans.models import Objective, ObjectiveStatus
from tests.plans.objectives_data import mbo_world, objective

pytestmark = pytest.mark.django_db
API = "/api/v1/objectives/"


@pytest.fixture
def w(org: Any) -> Any:
    with tenant_scope(org.tenant):
        yield mbo_world(org)


def _send(client: Any, method: str, url: str, body: Any = None, **headers: Any) -> Any:
    if method == "get":
        return client.get(url, **headers)
    return getattr(client, method)(
        url, data=json.dumps(body or {}), content_type="application/json", **headers
    )


def _as(user: Any) -> Client:
    c = Client()
    c.force_login(user)
    return c


@pytest.mark.covers_url(
    "api-objective-list",
    "api-objective-detail",
    "api-objective-set",
    "api-objective-submit",
    "api-objective-sign-off",
    "api-objective-reopen",
    "api-objective-comment",
)
def test_a_manager_runs_an_objective_through_its_life_and_another_tenant_sees_nothing(
    w, client_charlie
):
    sam = _as(w.manager)
    # the manager creates two objectives for Erin; the second's weight is refused beside it
    body = {
        "person_id": w.org.erin.pk,
        "period_id": w.period.pk,
        "plan_id": w.plan.pk,
        "component": "mbo",
        "title": "Partner launch",
        "weight": "70",
    }
    first = _send(sam, "post", API, body)
    assert first.status_code == 201, first.json()
    assert first.json()["status"] == ObjectiveStatus.DRAFT
    too_much = _send(sam, "post", API, {**body, "title": "Docs", "weight": "40"})
    assert too_much.status_code == 400
    assert "weight" in too_much.json()["error"]["details"]
    second = _send(sam, "post", API, {**body, "title": "Docs", "weight": "30"}).json()
    oid = first.json()["id"]
    # setting one sets the group
    done = _send(sam, "post", f"{API}{oid}/set/")
    assert done.status_code == 200, done.json()
    listed = sam.get(API, {"person": w.org.erin.pk, "status": "set"}).json()
    assert {r["id"] for r in listed["results"]} == {oid, second["id"]}
    # completion, submit, sign-off
    assert _send(sam, "patch", f"{API}{oid}/", {"completion": "90"}).status_code == 200
    assert _send(sam, "post", f"{API}{oid}/submit/").json()["status"] == "submitted"
    signed = _send(sam, "post", f"{API}{oid}/sign-off/").json()
    assert signed["status"] == "signed_off" and signed["signed_off_by"] == w.manager.pk
    # no completion edit after sign-off, until reopened with a reason
    late = _send(sam, "patch", f"{API}{oid}/", {"completion": "95"})
    assert late.status_code == 409 and late.json()["error"]["code"] == "signed_off"
    no_reason = _send(sam, "post", f"{API}{oid}/reopen/", {})
    assert no_reason.status_code == 400 and "reason" in no_reason.json()["error"]["details"]
    reopened = _send(sam, "post", f"{API}{oid}/reopen/", {"reason": "Recount"}).json()
    assert reopened["status"] == "submitted" and reopened["reopen_reason"] == "Recount"
    # Globex: every URL is a 404
    for method, url in (
        ("get", f"{API}{oid}/"),
        ("patch", f"{API}{oid}/"),
        ("post", f"{API}{oid}/set/"),
        ("post", f"{API}{oid}/submit/"),
        ("post", f"{API}{oid}/sign-off/"),
        ("post", f"{API}{oid}/reopen/"),
        ("delete", f"{API}{second['id']}/"),
        ("post", f"{API}{oid}/comment/"),
    ):
        got = _send(client_charlie, method, url, {"reason": "x", "comment": "x"})
        assert got.status_code == 404, (method, url, got.status_code)
        assert got.json()["error"]["code"] == "not_found"
    assert client_charlie.get(API).json()["results"] == []
    with_person = _send(client_charlie, "post", API, {**body, "weight": "10"})
    assert with_person.status_code == 400  # Acme's person and period are unknown in Globex
    with tenant_scope(w.org.tenant):
        assert Objective.objects.count() == 2


def test_an_employee_reads_her_own_and_changes_nothing(w, client_alice):
    with tenant_scope(w.org.tenant):
        mine = objective(w, w.org.erin, "Partner launch", "100")
        theirs = objective(w, w.org.wes, "Pipeline", "100")
    erin = _as(w.employee)
    assert [r["id"] for r in erin.get(API).json()["results"]] == [mine.pk]
    assert erin.get(f"{API}{theirs.pk}/").status_code == 404
    commented = _send(erin, "post", f"{API}{mine.pk}/comment/", {"comment": "On track"})
    assert commented.status_code == 200 and commented.json()["comment"] == "On track"
    assert _send(erin, "post", f"{API}{theirs.pk}/comment/", {"comment": "x"}).status_code == 404
    refused = _send(erin, "post", f"{API}{mine.pk}/set/")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied"
    # the manager cannot sign off his own objectives, the comp admin can (it is not hers)
    with tenant_scope(w.org.tenant):
        own = objective(w, w.org.sam, "Hiring", "100")
    assert _send(client_alice, "post", f"{API}{own.pk}/set/").status_code == 200
    submitted = _send(client_alice, "post", f"{API}{own.pk}/submit/", {"completion": "100"})
    assert submitted.status_code == 200
    sam = _as(w.manager)
    assert _send(sam, "post", f"{API}{own.pk}/sign-off/").status_code == 403
    assert _send(client_alice, "post", f"{API}{own.pk}/sign-off/").status_code == 200
    # a draft is deleted; a bad status filter is a 400
    assert _send(client_alice, "delete", f"{API}{theirs.pk}/").status_code == 204
    assert client_alice.get(API, {"status": "nope"}).status_code == 400


def test_api_clients_read_with_read_plans_and_write_with_write_plans(w):
    with tenant_scope(w.org.tenant):
        o = objective(w, w.org.erin, "Partner launch", "100")
        reader = core_services.api_client_create(
            name="r", scopes=["read:plans"], created_by_id=None
        )
        writer = core_services.api_client_create(
            name="w", scopes=["write:plans"], created_by_id=None
        )
        payroll = core_services.api_client_create(
            name="p", scopes=["read:payouts"], created_by_id=None
        )
    c = Client()

    def auth(token: str) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": f"Bearer {token}"}

    assert c.get(API, **auth(reader.token)).json()["count"] == 1
    assert _send(c, "post", f"{API}{o.pk}/set/", **auth(reader.token)).status_code == 403
    assert c.get(API, **auth(payroll.token)).status_code == 403
    assert _send(c, "post", f"{API}{o.pk}/set/", **auth(writer.token)).status_code == 200
