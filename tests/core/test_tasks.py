"""Starting background work: sent only after commit (never on rollback) with the tenant captured,
and inline vs worker decided in one place (core.tasks.start)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from celery import shared_task
from django.db import transaction

from core import services as core_services
from core import tasks
from core.tasks import Started, TenantRequiredError, UnknownTaskError, send_on_commit, start
from core.tenancy import get_current_tenant_id, tenant_scope
from incentives import services as incentive_services

ROOT = Path(__file__).resolve().parents[2]
APPS = ["core", "hierarchy", "plans", "incentives", "payouts", "dashboards", "config", "engine"]
SEEN: list[tuple[int | None, Any]] = []
RECORD = "tests.core.test_tasks.record_task"
BROKER = "redis://127.0.0.1:6379/15"  # tasks stay eager in tests: nothing is really sent


@shared_task(name=RECORD)  # type: ignore[untyped-decorator]
def record_task(*, value: Any) -> None:
    """Note the tenant the task runs under."""
    SEEN.append((get_current_tenant_id(), value))


@pytest.fixture(autouse=True)
def _fresh() -> None:
    SEEN.clear()


def test_a_task_is_sent_when_the_transaction_commits_under_the_tenant_that_asked(
    tenant_a, django_capture_on_commit_callbacks
):
    # given work asked for inside tenant A's scope
    with django_capture_on_commit_callbacks() as callbacks, tenant_scope(tenant_a):
        send_on_commit(RECORD, value=1)
        # then nothing is sent before the commit
        assert SEEN == []
    # when the transaction commits, after the scope has ended
    assert len(callbacks) == 1
    for callback in callbacks:
        callback()
    # then the task ran, under the tenant captured when it was asked for
    assert [(tenant_a.pk, 1)] == SEEN


def test_a_rolled_back_transaction_sends_nothing(tenant_a, django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        tenant_scope(tenant_a),
        transaction.atomic(),
    ):
        send_on_commit(RECORD, value=1)
        transaction.set_rollback(True)
    assert callbacks == []
    assert SEEN == []


def test_a_rolled_back_invitation_sends_no_email(
    tenant_a, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True), tenant_scope(tenant_a):
        with transaction.atomic():
            core_services.membership_invite(
                email="new@acme.test", full_name="New", roles=["employee"]
            )
            transaction.set_rollback(True)
        assert mailoutbox == []
        core_services.membership_invite(email="new@acme.test", full_name="New", roles=["employee"])
    assert [m.to for m in mailoutbox] == [["new@acme.test"]]


def test_without_a_broker_work_runs_inline_and_nothing_is_queued(
    tenant_a, settings, django_capture_on_commit_callbacks
):
    settings.REDIS_URL = None
    with django_capture_on_commit_callbacks() as callbacks, tenant_scope(tenant_a):
        started = start(RECORD, inline=lambda: "done here", value=1)
    assert started == Started(queued=False, result="done here")
    assert callbacks == [] and SEEN == []


def test_with_a_broker_work_is_queued_after_commit(
    tenant_a, settings, django_capture_on_commit_callbacks
):
    settings.REDIS_URL = BROKER
    with django_capture_on_commit_callbacks(execute=True) as callbacks, tenant_scope(tenant_a):
        started = start(RECORD, inline=lambda: pytest.fail("ran inline"), value=2)
    assert started == Started(queued=True)
    assert len(callbacks) == 1
    assert [(tenant_a.pk, 2)] == SEEN


def test_small_work_stays_inline_even_with_a_broker(
    tenant_a, settings, django_capture_on_commit_callbacks
):
    settings.REDIS_URL = BROKER
    with django_capture_on_commit_callbacks() as callbacks, tenant_scope(tenant_a):
        started = start(RECORD, inline=lambda: "small", background=False, value=3)
    assert started == Started(queued=False, result="small")
    assert callbacks == []


def test_work_started_outside_a_tenant_is_refused_at_once(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(TenantRequiredError):
        send_on_commit(RECORD, value=1)
    assert callbacks == []


def test_an_unknown_task_name_is_a_clear_error(tenant_a):
    with tenant_scope(tenant_a), pytest.raises(UnknownTaskError, match=r"AppConfig\.ready"):
        start("incentives.tasks.no_such_task", inline=lambda: None)


def _upload(size: int) -> Any:
    return incentive_services.ingest_start(
        request=incentive_services.IngestRequest(kind="transactions", source_format="csv"),
        data=b"external_id,kind,amount,currency,booked_on\n" + b"\n" * size,
        created_by_id=None,
    )


def test_every_service_follows_the_one_decision(
    tenant_a, settings, monkeypatch, tmp_path, django_capture_on_commit_callbacks
):
    # given a broker, and an upload big enough for a worker
    settings.REDIS_URL = BROKER
    settings.VAR_DIR = tmp_path
    monkeypatch.setattr(incentive_services, "INLINE_MAX_BYTES", 10)
    with tenant_scope(tenant_a):
        # when workers are configured, both services queue their work
        with django_capture_on_commit_callbacks() as queued:
            batch = _upload(100)
            recalculation = incentive_services.credits_recalculate_start()
        assert (batch.finished_at, recalculation.queued, len(queued)) == (None, True, 2)
        # when the one decision says no, both run inline, with nothing queued
        monkeypatch.setattr(tasks, "workers_configured", lambda: False)
        with django_capture_on_commit_callbacks() as queued:
            batch = _upload(100)
            recalculation = incentive_services.credits_recalculate_start()
        assert batch.finished_at is not None and not recalculation.queued
        assert recalculation.result.transactions == 0 and queued == []


def test_every_apps_tasks_are_registered_in_a_fresh_process():
    # Services start tasks by name, so AppConfig.ready() must register them (no test imports).
    script = (
        "import django; django.setup(); from celery import current_app; "
        "print('\\n'.join(sorted(current_app.tasks)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    defined = set()
    for path in ROOT.glob("*/tasks.py"):
        module = path.parent.name + ".tasks"
        names = re.findall(r"^def (\w+_task)\(", path.read_text(), flags=re.MULTILINE)
        defined |= {f"{module}.{name}" for name in names}
    assert {"incentives.tasks.ingest_execute_task", "core.tasks.invitation_send_task"} <= defined
    assert defined <= set(out)


def _app_sources() -> list[Path]:
    return [p for app in APPS for p in (ROOT / app).rglob("*.py") if "migrations" not in p.parts]


def test_nothing_but_core_tasks_enqueues_or_decides_inline_vs_worker():
    # on_commit() itself is fine for work that is not a task (a worker's cache filled once its
    # write is committed); on_commit() handing over a task's delay / apply_async is enqueueing.
    enqueue = re.compile(
        r"\bon_commit\([^\n]*\b(?:delay|apply_async|send_task)\b"
        r"|\.delay\(|\.apply_async\(|\.delay_on_commit\(|\.send_task\("
    )
    decide = re.compile(r"REDIS_URL|CELERY_TASK_ALWAYS_EAGER")
    offenders = []
    for path in _app_sources():
        relative = path.relative_to(ROOT).as_posix()
        text = path.read_text()
        if relative != "core/tasks.py" and enqueue.search(text):
            offenders.append(relative)
        domain = relative.split("/")[0] not in {"core", "config"}
        if domain and decide.search(text):
            offenders.append(relative)
    assert offenders == []
