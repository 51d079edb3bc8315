"""Tasks run under their enqueuer's tenant; a task with no tenant is refused before any query.

The `needs_worker` tests use a real Celery worker process on Redis against the test database
(tests/worker.py), so the data they use is committed (outside the per-test transaction) and
removed afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.models import IdempotencyRecord, Tenant
from core.tasks import TenantRequiredError, tenant_probe_task
from core.tenancy import tenant_scope
from tests.worker import celery_worker_process  # noqa: F401 (a fixture)


def test_an_eager_task_runs_in_the_enqueuers_tenant(tenant_a):
    with tenant_scope(tenant_a):
        result = tenant_probe_task.delay().get()
    assert result["tenant_id"] == tenant_a.pk


def test_a_task_with_no_tenant_is_refused_before_its_first_query(db):
    with CaptureQueriesContext(connection) as queries, pytest.raises(TenantRequiredError):
        tenant_probe_task.delay()
    assert len(queries) == 0


def _records(tenant: Tenant, n: int) -> None:
    with tenant_scope(tenant):
        for i in range(n):
            IdempotencyRecord.objects.create(
                principal="probe",
                key=f"k{i}",
                method="POST",
                path="/",
                request_hash="h",
                response_status=201,
                created_at=timezone.now(),
            )


@pytest.fixture(scope="module")
def committed_tenants(
    django_db_setup: None, django_db_blocker: Any
) -> Iterator[tuple[Tenant, Tenant]]:
    """Two tenants with 2 and 3 tenant rows, committed so another process can read them."""
    suffix = uuid.uuid4().hex[:8]
    with django_db_blocker.unblock():
        first = Tenant.objects.create(slug=f"probe-a-{suffix}", name="Probe A")
        second = Tenant.objects.create(slug=f"probe-b-{suffix}", name="Probe B")
        _records(first, 2)
        _records(second, 3)
    yield first, second
    with django_db_blocker.unblock():
        for tenant in (first, second):
            with tenant_scope(tenant):
                IdempotencyRecord.objects.all().delete()
                tenant.delete()


@pytest.mark.needs_pg
@pytest.mark.needs_worker
@pytest.mark.usefixtures("celery_worker_process")
def test_a_real_worker_runs_each_task_under_its_enqueuers_tenant(committed_tenants):
    first, second = committed_tenants
    with tenant_scope(first):
        from_first = tenant_probe_task.delay()
    with tenant_scope(second):
        from_second = tenant_probe_task.delay()
    a = from_first.get(timeout=90)
    b = from_second.get(timeout=90)
    assert a == {
        "tenant_id": first.pk,
        "tenant_slug": first.slug,
        "db_setting": str(first.pk),
        "orm_visible": 2,
        "raw_visible": 2,
    }
    assert b == {
        "tenant_id": second.pk,
        "tenant_slug": second.slug,
        "db_setting": str(second.pk),
        "orm_visible": 3,
        "raw_visible": 3,
    }


@pytest.mark.needs_pg
@pytest.mark.needs_worker
@pytest.mark.usefixtures("celery_worker_process", "committed_tenants")
def test_a_real_worker_refuses_a_task_sent_without_a_tenant():
    result = tenant_probe_task.apply_async()
    with pytest.raises(Exception) as caught:
        result.get(timeout=90)
    assert type(caught.value).__name__ == "TenantRequiredError"


@pytest.mark.needs_pg
@pytest.mark.needs_worker
@pytest.mark.usefixtures("celery_worker_process", "committed_tenants")
def test_healthz_reports_the_broker_and_a_fresh_worker_heartbeat(client):
    import time

    from core.health import HEARTBEAT_KEY, _redis
    from core.tasks import worker_heartbeat_task

    _redis().delete(HEARTBEAT_KEY)
    assert client.get("/healthz").json()["worker"]["status"] == "no_heartbeat"
    # beat sends this every 30 s in production; here we send it once and wait for the worker
    worker_heartbeat_task.apply_async().get(timeout=90)
    deadline = time.monotonic() + 30
    body = client.get("/healthz").json()
    while body["worker"]["status"] != "ok" and time.monotonic() < deadline:
        time.sleep(0.2)
        body = client.get("/healthz").json()
    assert body["broker"] == {"status": "ok"}
    assert body["worker"]["status"] == "ok"
    assert body["worker"]["last_heartbeat_age_s"] < 30
