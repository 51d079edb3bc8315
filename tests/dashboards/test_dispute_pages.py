"""Dispute pages: "Question this" on every statement line, trace step and credit opens a form
prefilled with its subject; the payee's "My questions"; the inbox with age against the SLA
(overdue highlighted); the question's page and its actions; the home card; the period-close
checklist; the next statement's adjustment linked to its question; 404 for not yours and for
another tenant's."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from core.models import Membership
from core.permissions import principal_for_membership
from core.tenancy import tenant_scope
from hierarchy.access import access_for
from incentives.models import Credit
from payouts import disputes, ledger
from payouts.models import Dispute, DisputeStatus
from tests.payouts.helpers import cast
from tests.payouts.written_runs import approve, write_line, write_run
from tests.tenancy import assert_not_found

pytestmark = pytest.mark.django_db


def _as(client: Any, user: Any) -> Any:
    client.force_login(user)
    return client


def _text(response: Any) -> str:
    return re.sub(r"[ \t\r\n]+", " ", response.content.decode())


def _raise(client: Any, **data: Any) -> Any:
    body = {"reason_code": "rate_tier", "description": "I expected the accelerated rate.", **data}
    return client.post("/disputes/new/", body)


@pytest.fixture
def c(org: Any, written: Any) -> Any:
    with tenant_scope(org.tenant):
        return cast(org.tenant)


def test_every_line_step_and_credit_has_a_question_this_control(client, org, written):
    erin = _as(client, written.users["erin"])
    line = written.lines[("erin", "commission")]
    statement = _text(erin.get(f"/earnings/statements/{written.q1.pk}-{org.erin.pk}/"))
    for key in (("erin", "commission"), ("erin", "accelerator")):
        assert f'href="/disputes/new/?line={written.lines[key].pk}"' in statement
    assert f"/disputes/new/?period={written.q1.pk}&amp;person={org.erin.pk}" in statement
    drill = _text(erin.get(f"/earnings/lines/{line.pk}/"))
    assert f"/disputes/new/?line={line.pk}&amp;step=0" in drill
    with tenant_scope(org.tenant):
        credit = Credit.objects.get(transaction__external_id="D-1")
    assert f"/disputes/new/?credit={credit.pk}" in drill
    # the form opens prefilled with its subject
    form = _text(erin.get(f"/disputes/new/?line={line.pk}&step=0"))
    assert "42,500.00 of bookings at 10 % = 4,250.00." in form
    assert "Step 1" in form and 'name="step" value="0"' in form
    assert 'for="r-reason"' in form and 'for="r-description"' in form  # labelled inputs


def test_a_payee_raises_a_question_and_follows_it(client, org, written):
    erin = _as(client, written.users["erin"])
    line = written.lines[("erin", "commission")]
    # when
    sent = _raise(erin, line=line.pk, step=0)
    # then
    with tenant_scope(org.tenant):
        d = Dispute.objects.get()
    assert sent.status_code == 302 and sent.url == f"/disputes/{d.pk}/"
    detail = _text(erin.get(sent.url))
    assert "Q-1 · Wrong rate or tier" in detail and "questioned" in detail
    # the steps read as on the line page: labels and amounts in words, not the engine's keys
    assert '<span class="badge warn">questioned</span> Amount</td>' in detail
    assert "4,250.00\u00a0USD" in detail
    assert "I expected the accelerated rate." in detail and 'id="withdraw-form"' in detail
    assert 'id="resolve-form"' not in detail  # the payee does not answer her own question
    mine = _text(erin.get("/disputes/mine/"))
    assert "Q-1 · Wrong rate or tier" in mine and 'data-status="open"' in mine
    assert "0 days old" in mine
    statement = _text(erin.get(f"/earnings/statements/{written.q1.pk}-{org.erin.pk}/"))
    assert f'data-question="{d.pk}"' in statement and "Q-1 · Open" in statement
    home = _text(erin.get("/"))
    assert 'id="home-disputes"' in home and "Your open questions" in home
    # she comments, then withdraws it
    erin.post(f"/disputes/{d.pk}/comment/", {"body": "The tier table says 12 %."})
    assert "The tier table says 12 %." in _text(erin.get(sent.url))
    erin.post(f"/disputes/{d.pk}/withdraw/", {"note": "Found it"})
    with tenant_scope(org.tenant):
        d.refresh_from_db()
    assert d.status == DisputeStatus.WITHDRAWN


def test_a_missing_deal_is_raised_from_the_statement(client, org, written):
    erin = _as(client, written.users["erin"])
    form = _text(erin.get(f"/disputes/new/?period={written.q1.pk}&person={org.erin.pk}"))
    assert 'name="missing_external_id"' in form
    sent = _raise(
        erin,
        period=written.q1.pk,
        person=org.erin.pk,
        missing_external_id="OPP-1",
        missing_amount="1,200.50",
        missing_currency="USD",
        reason_code="missing_deal",
    )
    assert sent.status_code == 302
    with tenant_scope(org.tenant):
        d = Dispute.objects.get()
    assert d.assignee_id == written.users["sam"].pk and str(d.missing_amount) == "1200.5000"
    # nothing named: the form says so and nothing is written
    again = _raise(erin, period=written.q1.pk, reason_code="missing_deal")
    assert again.status_code == 200 and "Name the missing transaction" in _text(again)
    with tenant_scope(org.tenant):
        assert Dispute.objects.count() == 1


def test_the_inbox_shows_age_against_the_sla_and_highlights_overdue(client, org, written, c):
    erin = _as(client, written.users["erin"])
    _raise(erin, line=written.lines[("erin", "commission")].pk)
    _raise(erin, line=written.lines[("erin", "accelerator")].pk)
    with tenant_scope(org.tenant):
        late, fresh = Dispute.objects.order_by("number")
        Dispute.objects.filter(pk=late.pk).update(sla_due=dt.date(2026, 1, 5))
    comp = _as(client, c.users["comp"])
    page = comp.get("/disputes/")
    text = _text(page)
    assert page.status_code == 200
    assert text.count("dispute-row-overdue") == 1 and "Overdue by" in text
    assert text.index(f'data-dispute="{late.pk}"') < text.index(f'data-dispute="{fresh.pk}"')
    only_late = _text(comp.get("/disputes/?overdue=1"))
    assert f'data-dispute="{late.pk}"' in only_late
    assert f'data-dispute="{fresh.pk}"' not in only_late
    assert "No questions match" in _text(comp.get("/disputes/?status=resolved"))
    assert "Questions waiting for you" in _text(comp.get("/"))
    # the period-close checklist counts them
    close = _text(comp.get(f"/periods/{written.q1.pk}/close/"))
    assert "Open questions: 2" in close
    listed = _text(comp.get("/periods/close/?kind=quarterly"))
    assert f"/disputes/?period={written.q1.pk}&amp;status=active" in listed and "2 open" in listed


def test_a_manager_answers_her_teams_questions(client, org, written):
    erin = _as(client, written.users["erin"])
    with tenant_scope(org.tenant):
        credit = Credit.objects.get(transaction__external_id="D-2")
    _raise(erin, credit=credit.pk, reason_code="credit_split")
    with tenant_scope(org.tenant):
        d = Dispute.objects.get()
    sam = _as(client, written.users["sam"])
    inbox = _text(sam.get("/disputes/?mine=1"))
    assert f'data-dispute="{d.pk}"' in inbox and "Erin East" in inbox
    detail = _text(sam.get(f"/disputes/{d.pk}/"))
    assert "Globex Retail" in detail and 'id="reject-form"' in detail
    assert "Adjustment (optional)" not in detail  # adjustments are comp admins' and finance's
    sam.post(f"/disputes/{d.pk}/reject/", {"reason": "The split follows the rule."})
    with tenant_scope(org.tenant):
        d.refresh_from_db()
    assert d.status == DisputeStatus.REJECTED
    assert "The split follows the rule." in _text(erin.get(f"/disputes/{d.pk}/"))


def test_a_resolution_with_an_adjustment_is_on_the_next_statement(client, org, written, plan_a, c):
    approve(org.tenant, written.q1, written.run)
    with tenant_scope(org.tenant):
        write_line(write_run(written.q2), org.erin, plan_a, "commission", "1000.00")
    erin = _as(client, written.users["erin"])
    _raise(erin, line=written.lines[("erin", "commission")].pk)
    with tenant_scope(org.tenant):
        d = Dispute.objects.get()
    comp = _as(client, c.users["comp"])
    detail = _text(comp.get(f"/disputes/{d.pk}/"))
    assert "Goes into FY2026 Q2" in detail
    comp.post(
        f"/disputes/{d.pk}/resolve/",
        {"resolution": "Accelerator applies.", "adjustment_amount": "420.00"},
    )
    with tenant_scope(org.tenant):
        d.refresh_from_db()
        assert d.status == DisputeStatus.RESOLVED and d.adjustment is not None
        ledger.adjustment_approve(adjustment_id=d.adjustment_id, principal=c.finance)
    erin = _as(client, written.users["erin"])
    outcome = _text(erin.get(f"/disputes/{d.pk}/"))
    assert "420.00\u00a0USD" in outcome and "Approved" in outcome
    assert f"/earnings/statements/{written.q2.pk}-{org.erin.pk}/" in outcome
    nxt = _text(erin.get(f"/earnings/statements/{written.q2.pk}-{org.erin.pk}/"))
    assert "Q-1: Accelerator applies." in nxt and "From question Q-1" in nxt
    assert f'data-adjustment-question="{d.pk}"' in nxt
    # a bad amount is a message, and nothing is written
    _raise(erin, line=written.lines[("erin", "accelerator")].pk)
    with tenant_scope(org.tenant):
        other = Dispute.objects.get(number=2)
    comp = _as(client, c.users["comp"])
    bad = comp.post(
        f"/disputes/{other.pk}/resolve/", {"resolution": "x", "adjustment_amount": "lots"}
    )
    assert bad.status_code == 302
    with tenant_scope(org.tenant):
        other.refresh_from_db()
    assert other.status == DisputeStatus.OPEN


def test_settings_are_the_comp_admins(client, org, written, c):
    comp = _as(client, c.users["comp"])
    page = _text(comp.get("/disputes/settings/"))
    assert "credit_split | Wrong credit split | manager" in page
    saved = comp.post(
        "/disputes/settings/",
        {"sla_business_days": "3", "reasons": "other | Anything | comp_admin\n"},
    )
    assert saved.status_code == 302
    refused = comp.post("/disputes/settings/", {"sla_business_days": "3", "reasons": "bad"})
    assert "Reason 1" in _text(refused)
    with tenant_scope(org.tenant):
        assert disputes.dispute_policy().sla_business_days == 3
    assert_not_found(_as(client, written.users["erin"]).get("/disputes/settings/"))


@pytest.mark.covers_url(
    "dispute_inbox",
    "my_questions",
    "dispute_raise",
    "dispute_settings",
    "dispute_detail",
    "dispute_action",
)
def test_not_yours_and_another_tenants_questions_are_404(client, org, written, client_charlie):
    wes_line = written.lines[("wes", "commission")]
    erin_line = written.lines[("erin", "commission")]
    with tenant_scope(org.tenant):
        member = Membership.objects.get(user=written.users["wes"], tenant=org.tenant)
        wes_q = disputes.dispute_raise(
            access=access_for(principal_for_membership(member)),
            subject=disputes.Subject(kind="line", line_id=wes_line.pk),
            reason_code="other",
            description="Wes asks",
        )
    erin = _as(client, written.users["erin"])
    # Erin may not question Wes's line, nor read or act on Wes's question
    assert_not_found(erin.get(f"/disputes/new/?line={wes_line.pk}"))
    assert_not_found(_raise(erin, line=wes_line.pk))
    assert_not_found(erin.get(f"/disputes/{wes_q.pk}/"))
    assert_not_found(erin.post(f"/disputes/{wes_q.pk}/comment/", {"body": "x"}))
    assert f'data-dispute="{wes_q.pk}"' not in _text(erin.get("/disputes/"))
    assert "No questions yet" in _text(erin.get("/disputes/mine/"))
    # another tenant: every page is a 404 or empty
    assert_not_found(client_charlie.get(f"/disputes/{wes_q.pk}/"))
    for action in ("comment", "assign", "resolve", "reject", "withdraw"):
        assert_not_found(client_charlie.post(f"/disputes/{wes_q.pk}/{action}/", {"body": "x"}))
    assert_not_found(client_charlie.get(f"/disputes/new/?line={erin_line.pk}"))
    assert_not_found(client_charlie.post("/disputes/new/", {"line": erin_line.pk}))
    assert f'data-dispute="{wes_q.pk}"' not in _text(client_charlie.get("/disputes/"))
    assert "No questions yet" in _text(client_charlie.get("/disputes/mine/"))
    settings = client_charlie.get("/disputes/settings/")
    assert settings.status_code == 200 and "Wes asks" not in _text(settings)
    assert_not_found(client_charlie.post(f"/disputes/{wes_q.pk}/nope/", {}))
