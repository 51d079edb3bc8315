"""The ledger and lifecycle API: roles, guards in the envelope, idempotency, other tenants' 404."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from core.models import AuditEvent
from core.tenancy import tenant_scope
from hierarchy.models import PeriodStatus
from payouts import ledger
from payouts.models import Adjustment, LedgerEntry
from tests.payouts.helpers import cast, period, review_steps, running_period, succeeded_run, walk_to
from tests.tenancy import assert_cross_tenant_detail, assert_list_omits


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _post(client: Client, url: str, body: dict[str, Any] | None = None, **headers: str) -> Any:
    return client.post(
        url, data=json.dumps(body or {}), content_type="application/json", headers=headers
    )


@pytest.fixture
def world(org: Any, plan_a: Any) -> Any:
    with tenant_scope(org.tenant):
        c = cast(org.tenant)
        jan = period()
        feb = period("Feb 2026", start=jan.end)
        run = walk_to(jan, PeriodStatus.APPROVED, c, plan_a, [(org.erin, "100.00", "commission")])
        org.erin.user = c.users["employee"]
        org.erin.save()
        yield org, plan_a, c, jan, feb, run


@pytest.mark.covers_url("api-period-submit", "api-period-approve", "api-period-checklist")
def test_periods_move_through_the_api_with_the_failed_guard_named(
    world: Any, client_charlie: Any
) -> None:
    org, plan, c, _jan, feb, _ = world
    with tenant_scope(org.tenant):
        run = succeeded_run(feb, plan, [(org.wes, "80.00", "commission")])
    comp, fin = _client(c.users["comp"]), _client(c.users["finance"])
    base = f"/api/v1/periods/{feb.pk}/"
    # nothing calculated yet (run_succeeded not called): the guard is named
    refused = _post(comp, base + "submit/")
    assert refused.status_code == 409
    assert refused.json()["error"]["details"]["guard"] == "period_status"
    with tenant_scope(org.tenant):
        from payouts import lifecycle

        lifecycle.run_succeeded(run)
    checklist = fin.get(base + "checklist/").json()
    assert checklist["runs_succeeded"] == 1 and checklist["latest_run"] == run.pk
    assert checklist["transitions"] == ["submit"]  # finance may submit too
    assert comp.get(base + "checklist/").json()["transitions"] == ["submit"]
    assert _post(comp, base + "submit/").json()["status"] == "in_review"
    # comp admins do not approve; finance does, naming the run
    denied = _post(comp, base + "approve/", {"run": run.pk})
    assert denied.status_code == 403 and denied.json()["error"]["details"]["guard"] == "role"
    missing = _post(fin, base + "approve/", {})
    assert missing.status_code == 400 and "run" in missing.json()["error"]["details"]
    # finance approves once the approval route's earlier step (built-in: comp admin) is done
    early = _post(fin, base + "approve/", {"run": run.pk})
    assert early.status_code == 409
    assert early.json()["error"]["details"]["guard"] == "approval_route"
    waiting = fin.get(base + "checklist/").json()
    assert "approve" not in waiting["transitions"]
    assert (waiting["disputes_open"], waiting["runs_failed"]) == (0, 0)
    request_id = fin.get(f"/api/v1/approvals/?period={feb.pk}").json()["results"][0]["id"]
    assert waiting["approval_request"] == request_id
    assert _post(comp, f"/api/v1/approvals/{request_id}/approve/").status_code == 200
    ok = _post(fin, base + "approve/", {"run": run.pk}, **{"Idempotency-Key": "approve-feb"})
    assert ok.status_code == 200 and ok.json()["status"] == "approved"
    again = _post(fin, base + "approve/", {"run": run.pk}, **{"Idempotency-Key": "approve-feb"})
    assert again.status_code == 200 and again.json() == ok.json()
    with tenant_scope(org.tenant):
        assert LedgerEntry.objects.filter(period=feb).count() == 1
        assert AuditEvent.objects.filter(action="period.approve", object_id=str(feb.pk)).count()
    # another tenant: 404 everywhere
    for suffix, body in (("submit/", {}), ("approve/", {"run": run.pk})):
        assert _post(client_charlie, base + suffix, body).status_code == 404
    assert client_charlie.get(base + "checklist/").status_code == 404


@pytest.mark.covers_url("api-period-reopen", "api-period-close")
def test_reopen_and_close(world: Any, client_charlie: Any) -> None:
    _org, _plan, c, jan, _feb, run = world
    fin, comp = _client(c.users["finance"]), _client(c.users["comp"])
    base = f"/api/v1/periods/{jan.pk}/"
    assert _post(client_charlie, base + "reopen/", {"reason": "x"}).status_code == 404
    assert _post(client_charlie, base + "close/").status_code == 404
    assert _post(comp, base + "close/").status_code == 403
    assert _post(fin, base + "reopen/", {"reason": "Late deal"}).json()["status"] == "in_review"
    # reopened, the period walks its approval route again: the comp admin's step first
    request_id = fin.get(f"/api/v1/approvals/?period={jan.pk}&status=pending").json()["results"]
    assert _post(comp, f"/api/v1/approvals/{request_id[0]['id']}/approve/").status_code == 200
    assert _post(fin, base + "approve/", {"run": run.pk}).status_code == 200
    early = _post(fin, base + "close/", {"data_lock_date": "2025-12-31"})
    assert early.status_code == 409
    assert early.json()["error"]["details"]["guard"] == "data_lock_date"
    closed = _post(fin, base + "close/", {"data_lock_date": "2026-02-15"})
    assert (closed.json()["status"], closed.json()["data_lock_date"]) == ("closed", "2026-02-15")
    final = _post(fin, base + "reopen/", {"reason": "again"})
    assert final.status_code == 409 and final.json()["error"]["code"] == "period_closed"


@pytest.mark.covers_url("api-ledger-entry-list", "api-ledger-entry-detail")
def test_ledger_entries_are_read_by_finance_and_by_the_person_only(
    world: Any, client_charlie: Any
) -> None:
    org, _plan, c, jan, *_ = world
    with tenant_scope(org.tenant):
        entry = LedgerEntry.objects.get(period=jan)
    fin = _client(c.users["finance"])
    body = fin.get(f"/api/v1/ledger-entries/?period={jan.pk}&kind=earned").json()
    assert body["count"] == 1 and body["results"][0]["amount"] == "100.0000"
    assert fin.get("/api/v1/ledger-entries/?colour=red").status_code == 400
    # the employee is Erin: she sees her entry
    mine = _client(c.users["employee"]).get("/api/v1/ledger-entries/").json()
    assert [r["id"] for r in mine["results"]] == [entry.pk]
    # no write on the ledger itself
    assert _post(fin, "/api/v1/ledger-entries/", {}).status_code == 405
    assert_list_omits(client_charlie, "/api/v1/ledger-entries/", entry.pk)
    assert_cross_tenant_detail(
        client_charlie, f"/api/v1/ledger-entries/{entry.pk}/", methods=("get",)
    )


@pytest.mark.covers_url(
    "api-adjustment-list",
    "api-adjustment-detail",
    "api-adjustment-approve",
    "api-adjustment-reject",
)
def test_adjustments_api(world: Any, client_charlie: Any) -> None:
    org, _plan, c, jan, feb, _ = world
    comp, fin, emp = (_client(c.users[n]) for n in ("comp", "finance", "employee"))
    body = {
        "person": org.erin.pk,
        "period": feb.pk,
        "amount": "25.00",
        "currency": "USD",
        "reason": "SPIF",
    }
    assert _post(emp, "/api/v1/adjustments/", body).status_code == 403
    made = _post(comp, "/api/v1/adjustments/", body, **{"Idempotency-Key": "adj-1"})
    assert made.status_code == 201, made.content
    replay = _post(comp, "/api/v1/adjustments/", body, **{"Idempotency-Key": "adj-1"})
    assert replay.json()["id"] == made.json()["id"]
    changed = _post(
        comp, "/api/v1/adjustments/", {**body, "amount": "26"}, **{"Idempotency-Key": "adj-1"}
    )
    assert changed.status_code == 422
    adj = made.json()["id"]
    into_approved = _post(comp, "/api/v1/adjustments/", {**body, "period": jan.pk})
    assert into_approved.status_code == 409
    assert into_approved.json()["error"]["details"]["guard"] == "period_status"
    own = _post(comp, f"/api/v1/adjustments/{adj}/approve/")
    assert own.status_code == 403
    assert _post(client_charlie, f"/api/v1/adjustments/{adj}/approve/").status_code == 404
    assert (
        _post(client_charlie, f"/api/v1/adjustments/{adj}/reject/", {"note": "x"}).status_code
        == 404
    )
    approved = _post(fin, f"/api/v1/adjustments/{adj}/approve/", {"note": "fine"})
    assert approved.json()["status"] == "approved" and approved.json()["entry"]
    second = _post(comp, "/api/v1/adjustments/", {**body, "amount": "-5.00"}).json()["id"]
    no_note = _post(fin, f"/api/v1/adjustments/{second}/reject/", {})
    assert no_note.status_code == 400
    assert (
        _post(fin, f"/api/v1/adjustments/{second}/reject/", {"note": "dup"}).json()["status"]
        == "rejected"
    )
    with tenant_scope(org.tenant):
        assert Adjustment.objects.count() == 2
    assert_list_omits(client_charlie, "/api/v1/adjustments/", adj)
    assert_cross_tenant_detail(client_charlie, f"/api/v1/adjustments/{adj}/", methods=("get",))


@pytest.mark.covers_url("api-draw-list", "api-draw-detail", "api-draw-balances")
def test_draws_api(world: Any, client_charlie: Any) -> None:
    org, _plan, c, _jan, feb, _ = world
    fin, comp = _client(c.users["finance"]), _client(c.users["comp"])
    body = {
        "person": org.wes.pk,
        "period": feb.pk,
        "amount": "500.00",
        "currency": "USD",
        "recoverable": True,
        "reason": "Ramp",
    }
    assert _post(comp, "/api/v1/draws/", body).status_code == 403
    made = _post(fin, "/api/v1/draws/", body)
    assert made.status_code == 201, made.content
    draw = made.json()["id"]
    with tenant_scope(org.tenant):
        mar = period("Mar 2026", start=feb.end)
    balances = fin.get(f"/api/v1/periods/{mar.pk}/draw-balances/").json()
    assert balances == {"period": mar.pk, "balances": {str(org.wes.pk): "500.0000"}}
    assert client_charlie.get(f"/api/v1/periods/{mar.pk}/draw-balances/").status_code == 404
    assert_list_omits(client_charlie, "/api/v1/draws/", draw)
    assert_cross_tenant_detail(client_charlie, f"/api/v1/draws/{draw}/", methods=("get",))


@pytest.mark.covers_url("api-hold-list", "api-hold-detail", "api-hold-release", "api-clawback")
def test_holds_and_clawbacks_api(world: Any, client_charlie: Any) -> None:
    org, _plan, c, jan, feb, _ = world
    fin = _client(c.users["finance"])
    made = _post(fin, "/api/v1/holds/", {"person": org.erin.pk, "reason": "Audit"})
    assert made.status_code == 201, made.content
    hold = made.json()["id"]
    assert _post(client_charlie, f"/api/v1/holds/{hold}/release/").status_code == 404
    assert_list_omits(client_charlie, "/api/v1/holds/", hold)
    assert_cross_tenant_detail(client_charlie, f"/api/v1/holds/{hold}/", methods=("get",))
    released = _post(fin, f"/api/v1/holds/{hold}/release/", {"note": "Cleared"})
    assert released.json()["status"] == "released"
    with tenant_scope(org.tenant):
        earned = LedgerEntry.objects.get(period=jan)
    claw = {"entry": earned.pk, "period": feb.pk, "reversed_amount": "1000", "reason": "Churn"}
    made = _post(fin, "/api/v1/clawbacks/", claw)
    assert made.status_code == 201 and made.json()["amount"] == "-10.0000"  # 1000 x 0.01
    assert _post(client_charlie, "/api/v1/clawbacks/", claw).status_code == 404
    with tenant_scope(org.tenant):
        assert ledger.entry_list(period_id=feb.pk).count() == 1


def test_approving_or_closing_a_period_before_its_last_day_needs_early(
    org: Any, plan_a: Any
) -> None:
    import datetime as dt

    from hierarchy.periods import tenant_today

    with tenant_scope(org.tenant):
        c = cast(org.tenant)
        today = tenant_today(org.tenant)
        running = running_period("Running", days_left=9)
        run = walk_to(running, PeriodStatus.IN_REVIEW, c, plan_a)
        review_steps(running)
    fin = _client(c.users["finance"])
    base = f"/api/v1/periods/{running.pk}/"
    # approving is refused the same way, then said early
    not_yet = _post(fin, base + "approve/", {"run": run.pk})
    assert not_yet.status_code == 409
    assert not_yet.json()["error"]["code"] == "period_not_ended"
    assert _post(fin, base + "approve/", {"run": run.pk, "early": True}).status_code == 200
    refused = _post(fin, base + "close/")
    assert refused.status_code == 409
    error = refused.json()["error"]
    last_day = str(today + dt.timedelta(days=8))
    assert error["code"] == "period_not_ended" and error["details"]["last_day"] == last_day
    closed = _post(fin, base + "close/", {"early": True})
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    assert closed.json()["data_lock_date"] == str(today)
