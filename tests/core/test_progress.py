"""The progress channel: per tenant, readable while the work's transaction is open, in Redis
when configured and in-process without, and never a reason for the work to fail."""

from __future__ import annotations

import threading

import pytest
from django.db import transaction

from core.progress import Progress, progress_get, progress_report
from core.tenancy import NoTenantError, tenant_scope


def _read_elsewhere(tenant, kind: str, object_id: int) -> Progress | None:
    """Read the channel from another thread (its own context and database connection)."""
    out: list[Progress | None] = []

    def read() -> None:
        with tenant_scope(tenant):
            out.append(progress_get(kind=kind, object_id=object_id))

    thread = threading.Thread(target=read)
    thread.start()
    thread.join()
    return out[0]


@pytest.mark.parametrize("broker", [False, True], ids=["in-process", "redis"])
def test_progress_is_readable_while_the_works_transaction_is_open(tenant_a, settings, broker):
    if broker and not settings.REDIS_URL:
        pytest.skip("needs Redis: set REDIS_URL")
    if not broker:
        settings.REDIS_URL = None
    with tenant_scope(tenant_a), transaction.atomic():
        progress_report(kind="probe", object_id=7, done=30, total=120, message="reading")
        # then another thread sees it before this transaction ends
        seen = _read_elsewhere(tenant_a, "probe", 7)
    assert seen == Progress(done=30, total=120, message="reading")
    assert seen.pct == 25


def test_another_tenant_never_reads_it(tenant_a, tenant_b, settings):
    with tenant_scope(tenant_a):
        progress_report(kind="probe", object_id=8, done=1, total=2)
    with tenant_scope(tenant_a):
        assert progress_get(kind="probe", object_id=8) == Progress(done=1, total=2)
    with tenant_scope(tenant_b):
        assert progress_get(kind="probe", object_id=8) is None
    with pytest.raises(NoTenantError):
        progress_get(kind="probe", object_id=8)


def test_an_unreachable_redis_never_fails_the_work(tenant_a, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    with tenant_scope(tenant_a):
        progress_report(kind="probe", object_id=9, done=5, total=10)
        assert progress_get(kind="probe", object_id=9) is None


def test_the_share_done_is_whole_percent_and_unknown_without_a_total():
    assert Progress(done=1, total=3).pct == 33
    assert Progress(done=5, total=5).pct == 100
    assert Progress(done=5).pct is None
