"""Run schedules: when each is due (daily in the tenant's time zone, every N minutes), the beat
starting full runs with the schedule trigger, the API (roles, 4xx, one audit event per change,
another tenant's schedule a 404) and the page under Runs."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.utils import timezone

from core.models import AuditEvent, Role
from core.tenancy import tenant_scope
from payouts import schedules
from payouts.models import CalculationRun, RunSchedule, RunTrigger
from tests.factories.hierarchy import MembershipFactory, UserFactory
from tests.payouts.rundata import build_sales
from tests.tenancy import assert_not_found

pytestmark = pytest.mark.django_db

UTC = dt.UTC


def _json(client: Any, method: str, url: str, body: dict[str, Any] | None = None) -> Any:
    return getattr(client, method)(
        url, data=json.dumps(body or {}), content_type="application/json"
    )


def test_daily_is_due_at_its_time_in_the_tenants_zone(tenant_a):
    tenant_a.time_zone = "Europe/Berlin"
    tenant_a.save()
    with tenant_scope(tenant_a):
        s = schedules.schedule_create(
            name="Nightly", cadence="daily", time_of_day=dt.time(2, 0), user_id=None
        )
        # 00:30 UTC in January is 01:30 in Berlin: due at 02:00 Berlin = 01:00 UTC that day
        after = dt.datetime(2026, 1, 10, 0, 30, tzinfo=UTC)
        assert schedules.next_run(s, after=after) == dt.datetime(2026, 1, 10, 1, 0, tzinfo=UTC)
        # just past it: the next day (in summer Berlin is UTC+2)
        summer = dt.datetime(2026, 7, 10, 0, 1, tzinfo=UTC)
        assert schedules.next_run(s, after=summer) == dt.datetime(2026, 7, 11, 0, 0, tzinfo=UTC)
        every = schedules.schedule_create(
            name="Often", cadence="interval", every_minutes=15, user_id=None
        )
        assert schedules.next_run(every, after=after) == after + dt.timedelta(minutes=15)
        schedules.schedule_update(schedule_id=every.pk, enabled=False)
        assert RunSchedule.objects.get(pk=every.pk).next_run_at is None


def test_bad_schedules_are_refused_with_the_reason(tenant_a):
    from core.errors import ApplicationError

    with tenant_scope(tenant_a):
        with pytest.raises(ApplicationError, match="time of day"):
            schedules.schedule_create(name="x", cadence="daily", user_id=None)
        with pytest.raises(ApplicationError, match="number of minutes"):
            schedules.schedule_create(name="x", cadence="interval", every_minutes=1, user_id=None)
        schedules.schedule_create(name="x", cadence="interval", every_minutes=5, user_id=None)
        with pytest.raises(ApplicationError, match="exists already"):
            schedules.schedule_create(name="x", cadence="interval", every_minutes=5, user_id=None)
        assert RunSchedule.objects.count() == 1


def test_the_beat_starts_a_full_run_of_each_open_period_when_due(
    tenant_a, django_capture_on_commit_callbacks
):
    from payouts import tasks

    with tenant_scope(tenant_a):
        sales = build_sales(n_people=3, deals_per_person=1)
        s = schedules.schedule_create(
            name="Monthly runs",
            cadence="interval",
            every_minutes=30,
            periods="current",
            period_kind="monthly",
            user_id=None,
        )
        now = dt.datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
        RunSchedule.objects.filter(pk=s.pk).update(next_run_at=now - dt.timedelta(minutes=1))
        # when the beat comes round
        with django_capture_on_commit_callbacks(execute=True):
            started = schedules.schedules_run_due(now=now)
        # then January (the monthly period under way) got a full run by the schedule
        assert [r.period_id for r in started] == [sales.period.pk]
        run = CalculationRun.objects.get(pk=started[0].pk)
        assert run.trigger == RunTrigger.SCHEDULE and run.kind == "full"
        assert run.status == "succeeded"
        s.refresh_from_db()
        assert s.last_run_at == now and s.next_run_at == now + dt.timedelta(minutes=30)
        # not due again yet
        assert schedules.schedules_run_due(now=now + dt.timedelta(minutes=5)) == []
        RunSchedule.objects.filter(pk=s.pk).update(
            next_run_at=timezone.now() + dt.timedelta(hours=1)
        )
    # the beat task walks every tenant (nothing due now)
    assert tasks.run_schedules_task.run() == 0


@pytest.mark.covers_url("api-run-schedule-list", "api-run-schedule-detail")
def test_the_api_creates_changes_and_deletes_with_one_audit_event_each(client_alice, tenant_a):
    def audits() -> int:
        with tenant_scope(tenant_a):
            return AuditEvent.objects.filter(action__startswith="run_schedule.").count()

    created = _json(
        client_alice,
        "post",
        "/api/v1/run-schedules/",
        {"name": "Nightly", "cadence": "daily", "time_of_day": "02:30"},
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["time_of_day"] == "02:30" and body["periods"] == "open" and body["next_run_at"]
    assert audits() == 1
    url = f"/api/v1/run-schedules/{body['id']}/"
    assert client_alice.get(url).json()["name"] == "Nightly"
    listed = client_alice.get("/api/v1/run-schedules/").json()
    assert [r["id"] for r in listed["results"]] == [body["id"]]
    changed = _json(client_alice, "patch", url, {"cadence": "interval", "every_minutes": 60})
    assert changed.status_code == 200, changed.content
    assert changed.json()["every_minutes"] == 60 and changed.json()["time_of_day"] is None
    assert audits() == 2
    # bad input: a clear 400 in the envelope, nothing written
    bad = _json(client_alice, "patch", url, {"every_minutes": 2})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "validation_failed"
    missing = _json(client_alice, "post", "/api/v1/run-schedules/", {"name": "x"})
    assert missing.status_code == 400 and "time of day" in missing.json()["error"]["message"]
    assert audits() == 2
    assert client_alice.delete(url).status_code == 204
    assert audits() == 3
    assert_not_found(client_alice.get(url))


def test_another_tenants_schedule_is_a_404(client_alice, client_charlie, tenant_a):
    with tenant_scope(tenant_a):
        s = schedules.schedule_create(
            name="A's", cadence="interval", every_minutes=10, user_id=None
        )
    url = f"/api/v1/run-schedules/{s.pk}/"
    assert_not_found(client_charlie.get(url))
    assert_not_found(_json(client_charlie, "patch", url, {"enabled": False}))
    assert_not_found(client_charlie.delete(url))
    assert client_charlie.get("/api/v1/run-schedules/").json()["results"] == []
    page = client_charlie.post(f"/runs/schedules/{s.pk}/", {"action": "pause"})
    assert page.status_code == 404
    with tenant_scope(tenant_a):
        assert RunSchedule.objects.get(pk=s.pk).enabled


def test_an_employee_can_neither_read_nor_change_schedules(client, tenant_a, bob):
    client.force_login(bob)
    assert client.get("/api/v1/run-schedules/").status_code in (403, 404)
    assert client.get("/runs/schedules/").status_code == 404


def test_finance_reads_but_an_executive_cannot_change(client, tenant_a):
    user = UserFactory(email="exec@acme.test")
    MembershipFactory(user=user, tenant=tenant_a, roles=[Role.EXECUTIVE])
    client.force_login(user)
    assert client.get("/api/v1/run-schedules/").status_code == 200
    refused = _json(
        client, "post", "/api/v1/run-schedules/", {"name": "x", "cadence": "interval",
                                                  "every_minutes": 10},
    )  # fmt: skip
    assert refused.status_code == 403


@pytest.mark.covers_url("run_schedules", "run_schedule_change")
def test_the_page_lists_adds_pauses_and_deletes(client_alice, tenant_a):
    empty = client_alice.get("/runs/schedules/")
    assert empty.status_code == 200 and "No run schedules yet" in empty.content.decode()
    assert 'href="/runs/schedules/"' in client_alice.get("/runs/").content.decode()
    added = client_alice.post(
        "/runs/schedules/",
        {"name": "Nightly", "periods": "open", "cadence": "daily", "time_of_day": "03:15"},
    )
    assert added.status_code == 302
    with tenant_scope(tenant_a):
        s = RunSchedule.objects.get()
    page = client_alice.get("/runs/schedules/").content.decode()
    assert "Daily at 03:15" in page and 'id="schedule-form"' in page
    # a bad one says why, keeps nothing
    bad = client_alice.post(
        "/runs/schedules/", {"name": "Bad", "periods": "open", "cadence": "interval"}
    )
    assert bad.status_code == 200 and "number of minutes" in bad.content.decode()
    client_alice.post(f"/runs/schedules/{s.pk}/", {"action": "pause"})
    with tenant_scope(tenant_a):
        assert not RunSchedule.objects.get(pk=s.pk).enabled
    client_alice.post(f"/runs/schedules/{s.pk}/", {"action": "delete"})
    with tenant_scope(tenant_a):
        assert not RunSchedule.objects.exists()
    assert client_alice.post("/runs/schedules/999999/", {"action": "pause"}).status_code == 404


def test_the_schedule_beat_is_in_the_beat_schedule(settings):
    tasks = {v["task"] for v in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"payouts.tasks.run_schedules_task", "payouts.tasks.live_sweep_task"} <= tasks
    assert timezone.now()
