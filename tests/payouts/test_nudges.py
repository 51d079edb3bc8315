"""Nudges: the employee's tier progress and projection (API and page), her own credits, her
nudge preference, the nudges sent after a run (once, by e-mail and to a real webhook receiver
on loopback), and the tenant's optional leaderboard. Every URL has its cross-tenant case."""

from __future__ import annotations

import datetime as dt
import json
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from core.models import AuditEvent
from core.permissions import Principal
from core.tenancy import tenant_scope
from hierarchy.access import access_for
from payouts import nudges, runs
from payouts.models import (
    CalculationRun,
    NudgePreference,
    PayoutLine,
    RunStatus,
    SentNudge,
)
from plans import services as plan_services
from tests.payouts.written_runs import write_run
from tests.tenancy import assert_not_found

pytestmark = pytest.mark.django_db

NUDGE_38K = "38,000.00 USD more puts you in the 8 % tier."


def _audits(org: Any, action: str | None = None) -> int:
    with tenant_scope(org.tenant):
        qs = AuditEvent.objects.all()
        return (qs.filter(action=action) if action else qs).count()


def _as(client: Any, user: Any) -> Any:
    client.force_login(user)
    return client


def _run_with(org: Any, written: Any, plan: Any, measure: str, *, number: int = 2) -> Any:
    """A succeeded run of Q1 paying Erin's new-business commission on ``measure`` of a
    100,000 quota (lines written directly, traced as the engine traces them)."""
    with tenant_scope(org.tenant):
        run = write_run(written.q1, status=RunStatus.RUNNING, number=number)
        att = Decimal(measure) / Decimal(100000)
        PayoutLine.objects.create(
            run=run,
            period=run.period,
            person=org.erin,
            plan=plan,
            plan_version=plan.versions.get(),
            component_id="new_business",
            kind="earned",
            amount=Decimal("600.00"),
            currency="USD",
            attainment=att,
            measure=Decimal(measure),
            trace_text="...",
            trace=[
                {"name": "measure", "value": measure, "note": "new_bookings"},
                {"name": "quota", "value": "100000", "note": ""},
                {"name": "attainment", "value": str(att), "note": ""},
            ],
        )
        CalculationRun.objects.filter(pk=run.pk).update(
            status=RunStatus.SUCCEEDED, finished_at=timezone.now()
        )
        run.refresh_from_db()
    return run


# --- the API: /api/v1/earnings/me/ ---------------------------------------------------------------


@pytest.mark.covers_url("api-earnings-me")
def test_my_progress_says_how_far_the_next_tier_is_and_hides_it_from_others(
    client, org, written, plan_a, client_charlie
):
    # given: 12,000 of a 100,000 quota on the Sales AE tiers (5 % / 8 % from 50 % / 12 %)
    _run_with(org, written, plan_a, "12000")
    erin = _as(client, written.users["erin"])
    # when
    got = erin.get(f"/api/v1/earnings/me/?period={written.q1.pk}")
    # then
    assert got.status_code == 200, got.content
    body = got.json()
    [card] = [c for c in body["components"] if c["component_id"] == "new_business"]
    [ladder] = card["ladders"]
    assert ladder["text"] == NUDGE_38K
    assert ladder["next"]["label"] == "8 %" and ladder["distance"] == "38000.0000"
    assert [m["reached"] for m in ladder["marks"]] == [True, False, False]
    assert card["projection"]["amount"] is None  # Q1 2026 is over
    assert card["projection"]["assumption"] == nudges.NO_PROJECTION_AFTER
    # another tenant's member (linked to no person) and another tenant's period: 404
    assert_not_found(client_charlie.get("/api/v1/earnings/me/"))
    assert_not_found(erin.get("/api/v1/earnings/me/?period=99999999"))


def test_a_manager_gets_404_for_a_period_of_another_tenant(client, org, org_b, written):
    with tenant_scope(org_b.tenant):
        from hierarchy import periods

        periods.period_generate_fiscal_year(fiscal_year=2026)
        from hierarchy.models import Period

        other = Period.objects.filter(kind="quarterly").first()
    assert other is not None
    erin = _as(client, written.users["erin"])
    assert_not_found(erin.get(f"/api/v1/earnings/me/?period={other.pk}"))


def _erin_quotas(org):
    """Erin's Q1 2026 quotas: 100,000 of new business, 20,000 of expansion."""
    with tenant_scope(org.tenant):
        for quota_id, amount in (("new_bookings", 100000), ("expansion_bookings", 20000)):
            plan_services.quota_create(
                access=access_for(Principal(permissions=frozenset({"plans.change"}))),
                holder=plan_services.QuotaHolder(person_id=org.erin.pk),
                quota_id=quota_id,
                amount=Decimal(amount),
                valid_from=dt.date(2026, 1, 1),
                valid_to=dt.date(2026, 4, 1),
                user_id=None,
            )


def test_the_projection_is_the_engines_at_the_pace_so_far(
    client, org, written, plan_a, monkeypatch
):
    # given: Erin's 42,500 credited by 10 Feb; a 100,000 new-business quota
    _erin_quotas(org)
    _run_with(org, written, plan_a, "42500")
    erin = _as(client, written.users["erin"])
    # when: 15 February, 45 of Q1's 90 days gone -> x2 -> 85,000 projected (the data as known
    # now: only the tenant's "today" moves)
    monkeypatch.setattr(nudges, "tenant_today", lambda tenant: dt.date(2026, 2, 15))
    body = erin.get(f"/api/v1/earnings/me/?period={written.q1.pk}").json()
    [card] = [c for c in body["components"] if c["component_id"] == "new_business"]
    # then: 50,000 x 5 % + 35,000 x 8 % = 5,300, as the plan's own rules compute it
    assert card["projection"]["amount"] == "5300.0000", card["projection"]
    assert card["projection"]["pace"] == "2.00000000"
    assert "first 45 of FY2026 Q1" in card["projection"]["assumption"]


def test_the_team_page_forecasts_each_member_by_the_engine_and_flags_who_is_at_risk(
    client, org, written, plan_a, monkeypatch
):
    # given Erin on a 100,000 quota with 42,500 by mid-February; Wes with no quota (no forecast)
    _erin_quotas(org)
    _run_with(org, written, plan_a, "42500")
    monkeypatch.setattr(nudges, "tenant_today", lambda tenant: dt.date(2026, 2, 15))
    targets = {org.erin.pk: Decimal("5000"), org.wes.pk: Decimal("3000")}
    with tenant_scope(org.tenant):
        outlook, why = nudges.team_outlook(
            period=written.q1, person_ids=[org.erin.pk, org.wes.pk], targets=targets
        )
    # then: x2 pace -> 85,000 of 100,000: the engine's 5,300 (5 % to 50 %, 8 % above) of her
    # 5,000 target incentive: 106 %, on track
    assert why == "" and set(outlook) == {org.erin.pk}
    erin = outlook[org.erin.pk]
    assert erin.forecast == Decimal("5300") and erin.attainment == Decimal("1.06")
    assert erin.projected and not erin.at_risk
    # the page shows the columns; the download has the table
    sam = _as(client, written.users["sam"])
    page = sam.get(f"/earnings/team/?period={written.q1.pk}").content.decode()
    assert "Forecast" in page and "0 at risk" in page and "On track" in page
    # a plan none of whose components can be projected: "Not projected", as on her own page -
    # no forecast figure, no status
    monkeypatch.setattr(nudges, "projectable", lambda component: False)
    with tenant_scope(org.tenant):
        outlook, _why = nudges.team_outlook(
            period=written.q1, person_ids=[org.erin.pk], targets=targets
        )
    assert outlook[org.erin.pk] == nudges.Outlook(None, None, False, projected=False)
    page = sam.get(f"/earnings/team/?period={written.q1.pk}").content.decode()
    assert "Not projected" in page and "On track" not in page and "At risk</span>" not in page
    assert "5,300.00" not in page
    csv_rows = sam.get(f"/earnings/team/download.csv?period={written.q1.pk}").content.decode()
    assert [r.split(",")[7:9] for r in csv_rows.splitlines()[1:2]] == [["", "not_projected"]]


@pytest.mark.covers_url("team_earnings_download")
def test_the_team_table_downloads_as_csv_and_xlsx_and_not_for_another_tenant(
    client, org, written, client_charlie
):
    sam = _as(client, written.users["sam"])
    csv_file = sam.get(f"/earnings/team/download.csv?period={written.q1.pk}&sort=name")
    lines = csv_file.content.decode().splitlines()
    assert lines[0] == (
        "employee_id,person,plans,attainment_pct,target,earned,payable,forecast,status,currency"
    )
    # money with the currency's decimals, attainment as a percentage of the target incentive:
    # Erin 1,238,817.50 of 5,000 (her own target over the role's), Wes 800.00 of 3,000 (the role's)
    assert lines[1:] == [
        "E3,Erin East,Sales AE,24776.35,5000.00,1238817.50,1238817.50,,,USD",
        "E4,Wes West,Sales AE,26.67,3000.00,800.00,800.00,,,USD",
    ]
    xlsx = sam.get(f"/earnings/team/download.xlsx?period={written.q1.pk}")
    assert xlsx.content.startswith(b"PK")
    assert sam.get(f"/earnings/team/download.pdf?period={written.q1.pk}").status_code == 404
    assert_not_found(client_charlie.get(f"/earnings/team/download.csv?period={written.q1.pk}"))


# --- the page: cards and "My credits" ----------------------------------------------------------


def test_the_earnings_page_shows_the_tier_marks_the_nudge_and_her_credits(
    client, org, written, plan_a
):
    erin = _as(client, written.users["erin"])
    page = erin.get(f"/earnings/?period={written.q1.pk}").content.decode()
    assert "My credits in FY2026 Q1" in page
    assert "D-1" in page and "D-2" in page and "D-3" not in page  # D-3 is Wes's
    assert f"/earnings/lines/{written.lines[('erin', 'commission')].pk}/" in page
    # a later run on the tiered component: its card, marks and nudge
    _run_with(org, written, plan_a, "12000")
    page = erin.get(f"/earnings/?period={written.q1.pk}").content.decode()
    assert NUDGE_38K in page
    assert 'class="ladder-mark' in page and "Progress and next steps" in page


def test_a_manager_sees_her_team_members_credits_and_another_tenant_sees_nothing(
    client, org, written, client_charlie
):
    sam = _as(client, written.users["sam"])
    page = sam.get(f"/earnings/people/{org.erin.pk}/?period={written.q1.pk}").content.decode()
    assert "Credits in FY2026 Q1" in page and "D-1" in page
    assert_not_found(client_charlie.get(f"/earnings/people/{org.erin.pk}/"))


def test_an_employee_reads_her_own_line_drill_down_and_not_anothers(client, org, written):
    erin = _as(client, written.users["erin"])
    own = written.lines[("erin", "commission")]
    assert erin.get(f"/earnings/lines/{own.pk}/").status_code == 200
    assert_not_found(erin.get(f"/earnings/lines/{written.lines[('wes', 'commission')].pk}/"))
    mine = erin.get("/api/v1/credits/?limit=1000").json()["results"]
    assert {c["transaction_external_id"] for c in mine} == {"D-1", "D-2"}


# --- preferences -------------------------------------------------------------------------------


@pytest.mark.covers_url("api-nudge-preference")
def test_the_preference_api_reads_and_replaces_her_own_with_one_audit_event(
    client, org, written, client_charlie
):
    erin = _as(client, written.users["erin"])
    assert erin.get("/api/v1/nudges/preference/").json()["enabled"] is False
    before = _audits(org, "nudges.preference_update")
    # when
    got = erin.put(
        "/api/v1/nudges/preference/",
        data=json.dumps({"enabled": True, "email": False, "webhook_url": "https://hooks.test/x"}),
        content_type="application/json",
    )
    # then
    assert got.status_code == 200, got.content
    assert got.json()["enabled"] is True
    assert _audits(org, "nudges.preference_update") == before + 1
    # bad input: a clear 400, nothing written
    bad = erin.put(
        "/api/v1/nudges/preference/",
        data=json.dumps({"enabled": False, "webhook_url": "ftp://nope"}),
        content_type="application/json",
    )
    assert bad.status_code == 400 and bad.json()["error"]["details"]["webhook_url"]
    with tenant_scope(org.tenant):
        assert NudgePreference.objects.get(person=org.erin).enabled is True
    # another tenant's member has no person here: 404 both ways
    assert_not_found(client_charlie.get("/api/v1/nudges/preference/"))
    assert_not_found(
        client_charlie.put(
            "/api/v1/nudges/preference/",
            data=json.dumps({"enabled": True}),
            content_type="application/json",
        )
    )


@pytest.mark.covers_url("nudge_settings")
def test_the_settings_page_saves_her_choice_with_one_audit_event(
    client, org, written, client_charlie
):
    erin = _as(client, written.users["erin"])
    assert "Send me nudges" in erin.get("/settings/nudges/").content.decode()
    before = _audits(org)
    got = erin.post(
        "/settings/nudges/", {"enabled": "on", "email": "on", "webhook_url": "", "quiet_until": ""}
    )
    assert got.status_code == 302
    assert _audits(org) == before + 1
    bad = erin.post("/settings/nudges/", {"enabled": "on", "quiet_until": "2001-01-01"})
    assert bad.status_code == 400 and nudges.QUIET_IN_PAST in bad.content.decode()
    assert _audits(org) == before + 1
    assert_not_found(client_charlie.get("/settings/nudges/"))


# --- sending after a run -----------------------------------------------------------------------


class _Receiver(BaseHTTPRequestHandler):
    got: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        _Receiver.got.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver():
    _Receiver.got = []
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", _Receiver.got
    server.shutdown()
    server.server_close()


def _opt_in(org: Any, url: str, *, email: bool = True) -> None:
    with tenant_scope(org.tenant):
        nudges.nudge_preference_update(
            person=org.erin, enabled=True, email=email, webhook_url=url, quiet_until=None
        )


def test_a_tier_within_reach_then_crossed_is_told_once_each_by_mail_and_webhook(
    org, written, plan_a, receiver, django_capture_on_commit_callbacks
):
    url, got = receiver
    _opt_in(org, url)
    # given: 46,000 - the 8 % tier at 50,000 is within 10 %
    first = _run_with(org, written, plan_a, "46000")
    with tenant_scope(org.tenant):
        # when: the run-success path sends the task after commit
        with django_capture_on_commit_callbacks(execute=True):
            runs._after_success(first)
        told_again = nudges.nudges_after_run(run_id=first.pk)
        rows = list(SentNudge.objects.filter(person=org.erin))
    # then: told once, by both channels
    assert told_again == 0
    assert [(r.threshold, r.event) for r in rows] == [("tier_2", "within_reach")]
    assert rows[0].channels == {"email": "sent", "webhook": "sent"}
    assert got == [{"text": "4,000.00 USD more puts you in the 8 % tier."}]
    assert len(mail.outbox) == 1 and "8 % tier" in mail.outbox[0].body
    assert mail.outbox[0].to == ["erin@acme.test"]
    # when: the next run crosses it
    second = _run_with(org, written, plan_a, "52000", number=3)
    with tenant_scope(org.tenant):
        assert nudges.nudges_after_run(run_id=second.pk) == 1
        assert nudges.nudges_after_run(run_id=second.pk) == 0
        crossed = SentNudge.objects.get(person=org.erin, event="crossed")
    assert crossed.threshold == "tier_2"
    assert got[-1]["text"].startswith(
        "New business commission (Sales AE): you reached the 8 % tier."
    )


def test_a_dead_webhook_is_recorded_not_raised_and_quiet_waits(org, written, plan_a):
    _opt_in(org, "http://127.0.0.1:9/never", email=False)  # the discard port: nothing listens
    run = _run_with(org, written, plan_a, "46000")
    with tenant_scope(org.tenant):
        NudgePreference.objects.filter(person=org.erin).update(
            quiet_until=timezone.localdate() + dt.timedelta(days=3)
        )
        assert nudges.nudges_after_run(run_id=run.pk) == 0  # quiet: nothing sent, nothing lost
        NudgePreference.objects.filter(person=org.erin).update(quiet_until=None)
        assert nudges.nudges_after_run(run_id=run.pk) == 1
        row = SentNudge.objects.get(person=org.erin)
    assert row.channels["webhook"].startswith("failed: ")
    assert mail.outbox == []


def test_webhook_post_times_out_against_a_silent_receiver():
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)  # accepts, never answers
    try:
        outcome = nudges.webhook_post(
            f"http://127.0.0.1:{server.getsockname()[1]}/", "hi", timeout=0.3
        )
    finally:
        server.close()
    assert outcome.startswith("failed: ") and "timed out" in outcome


# --- the leaderboard ---------------------------------------------------------------------------


@pytest.mark.covers_url("leaderboard", "leaderboard_setting")
def test_the_leaderboard_is_off_by_default_and_a_tenant_admin_turns_it_on(
    client, org, written, client_charlie
):
    erin = _as(client, written.users["erin"])
    assert_not_found(erin.get("/leaderboard/"))
    # an employee cannot turn it on
    assert_not_found(erin.post("/settings/leaderboard/", {"enabled": "on"}))
    # a tenant admin can, with one audit event
    from tests.payouts.written_runs import link_user

    admin = link_user(org.tenant, org.dana, "admin@acme.test", ["tenant_admin", "employee"])
    _as(client, admin)
    before = _audits(org, "tenant.leaderboard_update")
    assert client.post("/settings/leaderboard/", {"enabled": "on"}).status_code == 302
    assert _audits(org, "tenant.leaderboard_update") == before + 1
    _as(client, written.users["erin"])
    page = client.get(f"/leaderboard/?period={written.q1.pk}").content.decode()
    assert "Erin East" in page and "Wes West" in page and "4,250" not in page
    assert '<p class="muted">Commission · ' in page  # the component as the statement names it
    # another tenant: its own leaderboard is off, and tenant A's period is not found
    assert_not_found(client_charlie.get(f"/leaderboard/?period={written.q1.pk}"))
    assert_not_found(client_charlie.get("/leaderboard/"))


class _Flaky(BaseHTTPRequestHandler):
    """Answers the statuses of ``plan`` in turn (then 200), recording each body."""

    plan: list[int] = []
    got: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        _Flaky.got.append(json.loads(self.rfile.read(length)))
        self.send_response(_Flaky.plan.pop(0) if _Flaky.plan else 200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def flaky():
    _Flaky.plan, _Flaky.got = [], []
    server = HTTPServer(("127.0.0.1", 0), _Flaky)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", _Flaky
    server.shutdown()
    server.server_close()


def _due_now(org: Any) -> None:
    with tenant_scope(org.tenant):
        SentNudge.objects.exclude(retry_at=None).update(retry_at=timezone.now())


def test_a_webhook_down_for_a_while_is_tried_again_until_it_answers(org, written, plan_a, flaky):
    url, receiver = flaky
    receiver.plan = [503, 503]
    _opt_in(org, url, email=False)
    run = _run_with(org, written, plan_a, "46000")
    with tenant_scope(org.tenant):
        before = timezone.now()
        assert nudges.nudges_after_run(run_id=run.pk) == 1
        row = SentNudge.objects.get(person=org.erin)
        assert row.channels == {"webhook": "failed: HTTP 503"} and row.attempts == 1
        # the first retry waits a minute, and is not due before
        assert row.retry_at is not None and row.retry_at >= before + nudges.RETRY_DELAYS[0]
        assert nudges.nudges_retry() == 0
    _due_now(org)
    with tenant_scope(org.tenant):
        assert nudges.nudges_retry() == 1
        row.refresh_from_db()
        assert (row.attempts, row.channels["webhook"]) == (2, "failed: HTTP 503")
    _due_now(org)
    with tenant_scope(org.tenant):
        assert nudges.nudges_retry() == 1
        row.refresh_from_db()
    # then: delivered on the third try, the same text each time, nothing left to retry
    assert (row.attempts, row.channels, row.retry_at) == (3, {"webhook": "sent"}, None)
    assert [g["text"] for g in receiver.got] == [row.text] * 3
    with tenant_scope(org.tenant):
        assert nudges.nudges_retry() == 0


def test_a_refusal_is_not_retried_and_a_dead_receiver_is_given_up_on(org, written, plan_a, flaky):
    url, receiver = flaky
    receiver.plan = [404]
    _opt_in(org, url, email=False)
    run = _run_with(org, written, plan_a, "46000")
    with tenant_scope(org.tenant):
        nudges.nudges_after_run(run_id=run.pk)
        row = SentNudge.objects.get(person=org.erin)
    assert row.channels == {"webhook": "failed: HTTP 404"} and row.retry_at is None
    # a receiver that never answers: tried 1 + len(RETRY_DELAYS) times, then left as failed
    with tenant_scope(org.tenant):
        NudgePreference.objects.filter(person=org.erin).update(webhook_url="http://127.0.0.1:9/x")
        SentNudge.objects.filter(pk=row.pk).update(channels={"webhook": "failed: timed out"})
        SentNudge.objects.filter(pk=row.pk).update(retry_at=timezone.now())
    for _ in nudges.RETRY_DELAYS:
        _due_now(org)
        with tenant_scope(org.tenant):
            assert nudges.nudges_retry() == 1
    with tenant_scope(org.tenant):
        row.refresh_from_db()
    assert row.attempts == 1 + len(nudges.RETRY_DELAYS) and row.retry_at is None
    assert row.channels["webhook"].startswith("failed: ")
    # a person who turned nudges off meanwhile is not told again
    with tenant_scope(org.tenant):
        SentNudge.objects.filter(pk=row.pk).update(retry_at=timezone.now())
        NudgePreference.objects.filter(person=org.erin).update(enabled=False)
        assert nudges.nudges_retry() == 1
        row.refresh_from_db()
    assert row.channels == {"webhook": "skipped: nudges turned off"} and row.retry_at is None


def test_the_retry_sweep_is_on_beat_and_starts_only_tenants_with_retries_due(
    org, written, plan_a, django_capture_on_commit_callbacks
):
    from django.conf import settings

    from payouts import tasks

    entry = settings.CELERY_BEAT_SCHEDULE["nudge-retries"]
    assert entry["task"] == "payouts.tasks.nudge_retry_sweep_task" and entry["schedule"] == 60.0
    assert tasks.nudge_retry_sweep_task() == 0  # nothing due anywhere
    _opt_in(org, "http://127.0.0.1:9/never", email=False)
    run = _run_with(org, written, plan_a, "46000")
    with tenant_scope(org.tenant):
        nudges.nudges_after_run(run_id=run.pk)
    _due_now(org)
    assert tasks.nudge_retry_sweep_task() == 1
