"""The runs API: list with filters, start (with Idempotency-Key), detail with progress, retry,
lines, compare; roles and scopes; another tenant's run is a 404."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from core.models import Role
from core.services import api_client_create
from core.tenancy import tenant_scope
from payouts.models import CalculationRun, RunStatus
from tests.factories.hierarchy import MembershipFactory, UserFactory
from tests.payouts.rundata import build_sales, deal, record
from tests.tenancy import assert_not_found

pytestmark = pytest.mark.django_db


@pytest.fixture
def sales(tenant_a: Any) -> Any:
    with tenant_scope(tenant_a):
        return build_sales(n_people=4, deals_per_person=3)


def _post(client: Any, url: str, body: dict[str, Any] | None = None, **headers: Any) -> Any:
    return client.post(url, data=json.dumps(body or {}), content_type="application/json", **headers)


def _start(client: Any, capture: Any, period_id: int, **headers: Any) -> Any:
    with capture(execute=True):
        return _post(client, "/api/v1/runs/", {"period": period_id}, **headers)


@pytest.mark.covers_url("api-run-list", "api-run-detail", "api-run-lines")
def test_a_comp_admin_starts_a_run_and_reads_it_back(
    client_alice, sales, django_capture_on_commit_callbacks
):
    # when alice starts a run of January through the API
    response = _start(client_alice, django_capture_on_commit_callbacks, sales.period.pk)
    assert response.status_code == 201, response.content
    run_id = response.json()["id"]
    # then its detail shows it done, with progress, totals and the hash
    detail = client_alice.get(f"/api/v1/runs/{run_id}/").json()
    assert detail["status"] == "succeeded" and detail["trigger"] == "api"
    assert detail["progress"]["percent"] == 100
    assert detail["progress"]["chunks_done"] == detail["chunks_total"]
    assert len(detail["result_hash"]) == 64 and detail["totals"]["USD"]
    # and the list filters by period and status
    listed = client_alice.get(f"/api/v1/runs/?period={sales.period.pk}&status=succeeded").json()
    assert [r["id"] for r in listed["results"]] == [run_id]
    assert client_alice.get("/api/v1/runs/?status=failed").json()["results"] == []
    assert client_alice.get("/api/v1/runs/?status=nope").status_code == 400
    assert client_alice.get("/api/v1/runs/?colour=red").status_code == 400
    # and its lines come a page at a time, with their traces
    page = client_alice.get(f"/api/v1/runs/{run_id}/lines/?limit=2").json()
    assert page["count"] == detail["line_count"] and len(page["results"]) == 2
    assert page["results"][0]["trace_text"]
    one = sales.people[0].pk
    mine = client_alice.get(f"/api/v1/runs/{run_id}/lines/?person={one}").json()
    assert {line["person"] for line in mine["results"]} == {one}


def test_an_idempotency_key_starts_one_run_only(
    client_alice, sales, django_capture_on_commit_callbacks
):
    first = _start(
        client_alice,
        django_capture_on_commit_callbacks,
        sales.period.pk,
        HTTP_IDEMPOTENCY_KEY="calc-jan-1",
    )
    again = _start(
        client_alice,
        django_capture_on_commit_callbacks,
        sales.period.pk,
        HTTP_IDEMPOTENCY_KEY="calc-jan-1",
    )
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    with tenant_scope(sales.period.tenant):
        assert CalculationRun.objects.count() == 1


@pytest.mark.covers_url("api-run-retry")
def test_a_failed_run_is_retried_and_a_succeeded_one_is_not(
    client_alice, sales, django_capture_on_commit_callbacks, monkeypatch
):
    from payouts import runs

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise ValueError("no")

    monkeypatch.setattr(runs.ph, "settle_chunk", boom)
    started = _start(client_alice, django_capture_on_commit_callbacks, sales.period.pk).json()
    failed = client_alice.get(f"/api/v1/runs/{started['id']}/").json()  # (queued in the answer)
    assert failed["status"] == "failed" and "settle phase failed" in failed["reason"]
    monkeypatch.undo()
    with django_capture_on_commit_callbacks(execute=True):
        retried = _post(client_alice, f"/api/v1/runs/{failed['id']}/retry/")
    assert retried.status_code == 201
    assert retried.json()["retry_of"] == failed["id"]
    again = client_alice.get(f"/api/v1/runs/{retried.json()['id']}/").json()
    assert again["status"] == "succeeded"
    refused = _post(client_alice, f"/api/v1/runs/{retried.json()['id']}/retry/")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "run_not_failed"


@pytest.mark.covers_url("api-run-compare")
def test_two_runs_compare_person_by_person(client_alice, sales, django_capture_on_commit_callbacks):
    one = _start(client_alice, django_capture_on_commit_callbacks, sales.period.pk).json()
    with tenant_scope(sales.period.tenant):
        record([deal("LATE-9", 1, random.Random(3))])
    two = _start(client_alice, django_capture_on_commit_callbacks, sales.period.pk).json()
    body = client_alice.get(f"/api/v1/runs/{one['id']}/compare/{two['id']}/").json()
    assert body["same_hash"] is False and body["unchanged"] == 3
    (person,) = body["people"]
    assert person["person"] == sales.people[1].pk
    assert "rose from" in person["lines"][0]["words"]
    assert float(person["lines"][0]["delta"]) > 0


def test_bad_input_shows_every_problem_in_the_api(
    client_alice, tenant_a, django_capture_on_commit_callbacks
):
    from hierarchy import periods

    with tenant_scope(tenant_a):
        period = periods.period_generate_fiscal_year(fiscal_year=2026)[5]
    started = _start(client_alice, django_capture_on_commit_callbacks, period.pk).json()
    body = client_alice.get(f"/api/v1/runs/{started['id']}/").json()
    assert body["status"] == "failed"
    assert body["problems"][0]["code"] == "no_assignments"
    assert body["line_count"] == 0


def test_finance_may_start_a_run_and_an_employee_may_not(
    client, tenant_a, bob, sales, django_capture_on_commit_callbacks
):
    finance = UserFactory(email="fin@acme.test")
    MembershipFactory(user=finance, tenant=tenant_a, roles=[Role.FINANCE])
    client.force_login(finance)
    assert _start(client, django_capture_on_commit_callbacks, sales.period.pk).status_code == 201
    client.force_login(bob)  # an employee
    assert _post(client, "/api/v1/runs/", {"period": sales.period.pk}).status_code == 403
    assert client.get("/api/v1/runs/").status_code == 403
    executive = UserFactory(email="exec@acme.test")
    MembershipFactory(user=executive, tenant=tenant_a, roles=[Role.EXECUTIVE])
    client.force_login(executive)
    assert client.get("/api/v1/runs/").status_code == 200
    assert _post(client, "/api/v1/runs/", {"period": sales.period.pk}).status_code == 403


def test_an_api_client_needs_the_write_runs_scope_to_start(
    client, tenant_a, sales, django_capture_on_commit_callbacks
):
    with tenant_scope(tenant_a):
        reader = api_client_create(name="reader", scopes=["read:payouts"], created_by_id=None)
        writer = api_client_create(name="calc", scopes=["write:runs"], created_by_id=None)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {reader.token}"}
    assert _post(client, "/api/v1/runs/", {"period": sales.period.pk}, **auth).status_code == 403
    assert client.get("/api/v1/runs/", **auth).status_code == 200
    auth = {"HTTP_AUTHORIZATION": f"Bearer {writer.token}"}
    started = _start(client, django_capture_on_commit_callbacks, sales.period.pk, **auth)
    assert started.status_code == 201 and started.json()["created_by"] is None


def test_bad_bodies_are_400s(client_alice, sales):
    assert _post(client_alice, "/api/v1/runs/", {}).status_code == 400
    assert _post(client_alice, "/api/v1/runs/", {"period": "x"}).status_code == 400
    assert _post(client_alice, "/api/v1/runs/", {"period": 999999}).status_code == 404
    assert (
        _post(
            client_alice, "/api/v1/runs/", {"period": sales.period.pk, "kind": "bogus"}
        ).status_code
        == 400
    )


def test_another_tenants_run_is_a_404(
    client_alice, client_charlie, sales, django_capture_on_commit_callbacks
):
    one = _start(client_alice, django_capture_on_commit_callbacks, sales.period.pk).json()
    two = _start(client_alice, django_capture_on_commit_callbacks, sales.period.pk).json()
    one = client_alice.get(f"/api/v1/runs/{one['id']}/").json()
    for url in (
        f"/api/v1/runs/{one['id']}/",
        f"/api/v1/runs/{one['id']}/lines/",
        f"/api/v1/runs/{one['id']}/compare/{two['id']}/",
    ):
        assert_not_found(client_charlie.get(url))
    # charlie is a comp admin of Globex: a retry of Acme's run is a 404 too, and a run of
    # Acme's period cannot be started
    assert_not_found(_post(client_charlie, f"/api/v1/runs/{one['id']}/retry/"))
    assert_not_found(_post(client_charlie, "/api/v1/runs/", {"period": sales.period.pk}))
    assert client_charlie.get("/api/v1/runs/").json()["results"] == []
    assert one["status"] == RunStatus.SUCCEEDED
