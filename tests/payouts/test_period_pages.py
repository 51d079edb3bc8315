"""The period close pages: checklist, transitions, adjustments and holds; other tenants' 404."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client

from core.tenancy import tenant_scope
from hierarchy.models import PeriodStatus
from payouts import ledger
from payouts.models import (
    Adjustment,
    AdjustmentStatus,
    ApprovalRequest,
    Hold,
    HoldStatus,
    LedgerEntry,
    PayoutLine,
)
from tests.payouts.helpers import (
    cast,
    close_through_lifecycle,
    period,
    running_period,
    succeeded_run,
)


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def world(org: Any, plan_a: Any) -> Any:
    with tenant_scope(org.tenant):
        c = cast(org.tenant)
        q1 = period("FY2026 Q1", kind="quarterly", end=dt.date(2026, 4, 1))
        run = succeeded_run(q1, plan_a, [(org.erin, "100.00", "commission")])
        yield org, c, q1, run


@pytest.mark.covers_url("period_close_list", "period_close_detail", "period_transition")
def test_the_checklist_walks_a_quarter_to_closed(world: Any, client_charlie: Any) -> None:
    org, c, q1, run = world
    from payouts import lifecycle

    with tenant_scope(org.tenant):
        lifecycle.run_succeeded(run)
    comp, fin = _client(c.users["comp"]), _client(c.users["finance"])
    page = comp.get("/periods/close/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "FY2026 Q1" in html and "Submit for review" in html and "Period close" in html
    # the Kind filter's select takes its own width, so "Show" sits beside it (not under it)
    assert '<select name="kind" id="kind" data-autosubmit style="width:auto">' in html
    # the employee has no such page
    assert _client(c.users["employee"]).get("/periods/close/").status_code == 404
    submitted = comp.post(f"/periods/{q1.pk}/close/submit/", {"next": "list"})
    assert submitted.status_code == 302 and submitted.url == "/periods/close/"
    # the period waits on the approval route's first step (built-in: comp admin review); finance
    # sees the step it waits on and no approve button until that step is done
    waiting = fin.get(f"/periods/{q1.pk}/close/").content.decode()
    assert "Waits on: Comp admin review (step 1 of 2)" in waiting and "Approve run" not in waiting
    with tenant_scope(org.tenant):
        request = ApprovalRequest.objects.get(period=q1)
    assert comp.post(f"/approvals/{request.pk}/approve/", {"comment": "ok"}).status_code == 302
    # comp admins see no approve button; finance does
    assert "Approve run" not in comp.get(f"/periods/{q1.pk}/close/").content.decode()
    assert "Approve run 1" in fin.get(f"/periods/{q1.pk}/close/").content.decode()
    # a refused guard is a message, nothing moves
    comp.post(f"/periods/{q1.pk}/close/approve/", {"run": run.pk})
    with tenant_scope(org.tenant):
        q1.refresh_from_db()
        assert q1.status == PeriodStatus.IN_REVIEW
    fin.post(f"/periods/{q1.pk}/close/approve/", {"run": run.pk})
    approved = fin.get(f"/periods/{q1.pk}/close/").content.decode()
    with tenant_scope(org.tenant):
        lines = PayoutLine.objects.filter(run=run).count()
    assert f"Approved amounts not yet exported: {lines}" in approved and lines
    fin.post(f"/periods/{q1.pk}/close/close/", {"data_lock_date": "2026-04-15"})
    with tenant_scope(org.tenant):
        q1.refresh_from_db()
        assert (q1.status, str(q1.data_lock_date)) == (PeriodStatus.CLOSED, "2026-04-15")
    assert "Recently closed" in fin.get("/periods/close/").content.decode()
    # another tenant
    assert client_charlie.get(f"/periods/{q1.pk}/close/").status_code == 404
    assert (
        client_charlie.post(f"/periods/{q1.pk}/close/reopen/", {"reason": "x"}).status_code == 404
    )
    assert fin.post(f"/periods/{q1.pk}/close/explode/").status_code == 404


@pytest.mark.covers_url("adjustment_create", "adjustment_decide")
def test_adjustments_are_requested_and_decided_on_the_page(world: Any, client_charlie: Any) -> None:
    org, c, q1, _ = world
    comp, fin = _client(c.users["comp"]), _client(c.users["finance"])
    page = comp.get(f"/periods/{q1.pk}/close/").content.decode()
    assert "Choose a person…" in page and "---------" not in page  # the pickers' prompt
    assert f'<a href="/runs/{world[3].pk}/">Run 1</a>' in page  # each run opens its page
    body = {"person": org.erin.pk, "amount": "40.00", "currency": "USD", "reason": "SPIF"}
    assert client_charlie.post(f"/periods/{q1.pk}/adjustments/", body).status_code == 404
    comp.post(f"/periods/{q1.pk}/adjustments/", body)
    with tenant_scope(org.tenant):
        adj = Adjustment.objects.get()
    assert "SPIF" in fin.get(f"/periods/{q1.pk}/close/").content.decode()
    assert client_charlie.post(f"/adjustments/{adj.pk}/approve/").status_code == 404
    comp.post(f"/adjustments/{adj.pk}/approve/")  # the requester cannot
    with tenant_scope(org.tenant):
        adj.refresh_from_db()
        assert adj.status == AdjustmentStatus.PENDING
    fin.post(f"/adjustments/{adj.pk}/approve/")
    with tenant_scope(org.tenant):
        adj.refresh_from_db()
        assert adj.status == AdjustmentStatus.APPROVED
        assert LedgerEntry.objects.get(kind="adjustment").amount == 40


@pytest.mark.covers_url("hold_create", "hold_release")
def test_holds_are_placed_and_released_on_the_page(world: Any, client_charlie: Any) -> None:
    org, c, q1, _ = world
    fin = _client(c.users["finance"])
    body = {"hold-person": org.erin.pk, "hold-reason": "Audit"}
    assert client_charlie.post(f"/periods/{q1.pk}/holds/", body).status_code == 404
    fin.post(f"/periods/{q1.pk}/holds/", body)
    with tenant_scope(org.tenant):
        hold = Hold.objects.get()
    assert "Audit" in fin.get(f"/periods/{q1.pk}/close/").content.decode()
    assert client_charlie.post(f"/holds/{hold.pk}/release/").status_code == 404
    fin.post(f"/holds/{hold.pk}/release/", {"period": q1.pk})
    with tenant_scope(org.tenant):
        hold.refresh_from_db()
        assert hold.status == HoldStatus.RELEASED
        assert not ledger.entry_list().exists()  # nothing was held yet, nothing to release


def test_periods_never_run_before_the_latest_close_are_folded_away(world: Any) -> None:
    """A calendar that begins before the company paid through Quotient: its old, never-run open
    periods do not head the list; they are counted in a folded section of their own."""
    org, c, q1, _ = world
    with tenant_scope(org.tenant):
        old = period("FY2025 Q2", dt.date(2025, 4, 1), kind="quarterly", end=dt.date(2025, 7, 1))
        q3_end = dt.date(2025, 10, 1)
        closed = period("FY2025 Q3", dt.date(2025, 7, 1), kind="quarterly", end=q3_end)
        close_through_lifecycle(closed)
        # open, never run, but after the latest close: still work to do
        later = period("FY2025 Q4", dt.date(2025, 10, 1), kind="quarterly", end=dt.date(2026, 1, 1))
    html = _client(c.users["comp"]).get("/periods/close/").content.decode()
    main, _, rest = html.partition('id="dormant-periods"')
    folded, _, recent = rest.partition("Recently closed")
    assert q1.label in main and later.label in main and old.label not in main
    assert "1 earlier period never calculated" in folded and old.label in folded
    assert closed.label in recent


def test_the_checklist_counts_people_waiting_and_names_the_last_day(world: Any) -> None:
    # given: FY2026 Q1 (stored end 2026-04-01, exclusive) paid Erin, who has not acknowledged
    _org, c, q1, _run = world
    fin = _client(c.users["finance"])
    # when
    detail = fin.get(f"/periods/{q1.pk}/close/").content.decode()
    listed = fin.get("/periods/close/").content.decode()
    # then: people, in words; the quarter ends on its last day, said plainly
    assert "✗ 1 person has not acknowledged their plan" in detail
    assert "1 Jan 2026 through 31 Mar 2026" in detail and "exclusive" not in detail
    assert "1 person not yet" in listed and "waiting</span>" not in listed
    assert "1 Jan 2026 \u2013 31 Mar 2026" in listed and "1 Apr 2026" not in listed


def test_a_period_still_running_is_approved_and_closed_early_only_on_purpose(
    org: Any, plan_a: Any
) -> None:
    from hierarchy.periods import tenant_today
    from tests.payouts.helpers import review_steps, walk_to

    with tenant_scope(org.tenant):
        c = cast(org.tenant)
        today = tenant_today(org.tenant)
        running = running_period("This month", days_left=20)
        run = walk_to(running, PeriodStatus.IN_REVIEW, c, plan_a)
        review_steps(running)
    fin = _client(c.users["finance"])
    # in review: no one-click approve; the page warns and asks for a tick
    listed = fin.get("/periods/close/?kind=monthly").content.decode()
    assert "approve early…" in listed and f"Approve run {run.number}<" not in listed
    detail = fin.get(f"/periods/{running.pk}/close/").content.decode()
    assert 'id="approve-early-note"' in detail and 'id="approve-early-form"' in detail
    url = f"/periods/{running.pk}/close/approve/"
    refused = fin.post(url, {"run": run.pk}, follow=True).content.decode()
    assert "approved early" in refused
    fin.post(url, {"run": run.pk, "early": "1"})
    with tenant_scope(org.tenant):
        running.refresh_from_db()
        assert running.status == PeriodStatus.APPROVED
    # the list offers no one-click close, the page says how long the period runs
    listed = fin.get("/periods/close/?kind=monthly").content.decode()
    assert "close early…" in listed and "Close and lock" not in listed
    detail = fin.get(f"/periods/{running.pk}/close/").content.decode()
    assert 'id="close-early-note"' in detail and 'name="early"' in detail
    # closing without saying "early" is refused in words; the period stays approved
    refused = fin.post(f"/periods/{running.pk}/close/close/", follow=True).content.decode()
    assert "runs through" in refused and "closes early" in refused
    with tenant_scope(org.tenant):
        running.refresh_from_db()
        assert running.status == PeriodStatus.APPROVED
    # ticked: closed, locked from today
    fin.post(f"/periods/{running.pk}/close/close/", {"early": "1"})
    with tenant_scope(org.tenant):
        running.refresh_from_db()
        assert (running.status, running.data_lock_date) == (PeriodStatus.CLOSED, today)
