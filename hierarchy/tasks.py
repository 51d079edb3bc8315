"""Foundation tasks."""

from __future__ import annotations

import contextlib
from typing import Any

from celery import shared_task
from celery.signals import worker_ready
from django.db import connection

from config.celery import GlobalTask
from hierarchy.health import record_heartbeat
from hierarchy.models import IdempotencyRecord
from hierarchy.tenancy import get_current_tenant


@shared_task(base=GlobalTask)  # type: ignore[untyped-decorator]
def worker_heartbeat_task() -> None:
    """Record that a worker is alive (run every 30 s by beat)."""
    record_heartbeat()


@worker_ready.connect  # type: ignore[untyped-decorator]
def _heartbeat_on_start(**kwargs: Any) -> None:
    with contextlib.suppress(Exception):  # no broker reachable: nothing to record
        record_heartbeat()


@shared_task  # type: ignore[untyped-decorator]
def tenant_probe_task() -> dict[str, Any]:
    """Report the tenant this task runs under, as the ORM and the database see it."""
    tenant = get_current_tenant()
    orm_visible = IdempotencyRecord.objects.count()
    db_setting, raw_visible = None, None
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # Raw SQL, no ORM filter: what row-level security alone lets this task see.
            cursor.execute(
                "SELECT current_setting('app.tenant_id', true), "
                "(SELECT count(*) FROM hierarchy_idempotencyrecord)"
            )
            db_setting, raw_visible = cursor.fetchone()
    return {
        "tenant_id": tenant.pk,
        "tenant_slug": tenant.slug,
        "db_setting": db_setting,
        "orm_visible": orm_visible,
        "raw_visible": raw_visible,
    }
