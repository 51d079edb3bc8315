"""A worker claims its chunk even while another worker holds the run's row lock (storing its
lines): the claim locks the chunk's row only. Committed data and a second connection, as two
worker processes have (not the suite's per-test transaction)."""

from __future__ import annotations

from typing import Any

import pytest

from core.tenancy import tenant_scope
from payouts import runs
from payouts.models import ChunkStatus, RunChunk
from tests.payouts.rundata import build_sales


@pytest.fixture
def committed_run(django_db_setup: Any, django_db_blocker: Any) -> Any:
    """A committed tenant whose run waits with pending chunks (none was sent to a worker);
    switched off afterwards (committed rows are not rolled back)."""
    import uuid

    from core.models import Tenant

    with django_db_blocker.unblock():
        tenant = Tenant.objects.create(slug=f"claim-{uuid.uuid4().hex[:8]}", name="Claim")
        with tenant_scope(tenant):
            sales = build_sales(n_people=4, deals_per_person=2)
            real = runs.in_process, runs._dispatch
            runs.in_process, runs._dispatch = (lambda: False), (lambda ids: None)
            try:
                run = runs.run_start(
                    period_id=sales.period.pk, trigger="page", user_id=None, chunk_size=2
                )
                runs.run_advance(run_id=run.pk)  # its fetch chunks, sent nowhere
            finally:
                runs.in_process, runs._dispatch = real
        yield tenant, run
        Tenant.objects.filter(pk=tenant.pk).update(is_active=False)


@pytest.mark.needs_pg
def test_a_chunk_is_claimed_while_another_worker_holds_the_runs_lock(
    committed_run, django_db_blocker
):
    # given a run with pending chunks, and another worker storing its lines under the run's lock
    import threading

    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's")
    tenant, run = committed_run
    with django_db_blocker.unblock(), tenant_scope(tenant):
        pending = RunChunk.objects.filter(run=run, status=ChunkStatus.PENDING).first()
        assert pending is not None
    held, release = threading.Event(), threading.Event()
    import psycopg2

    db = {**connection.settings_dict}

    def other_worker() -> None:  # its own connection, as another worker process has
        conn = psycopg2.connect(
            dbname=db["NAME"],
            user=db["USER"],
            password=db["PASSWORD"],
            host=db["HOST"],
            port=db["PORT"],
        )
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT set_config('app.tenant_id', %s, false)", [str(tenant.pk)])
                cur.execute(
                    "SELECT id FROM payouts_calculationrun WHERE id = %s FOR UPDATE", [run.pk]
                )
                assert cur.fetchone() is not None
                held.set()
                release.wait(10)
            conn.rollback()
        finally:
            conn.close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        assert held.wait(10)
        # when this worker's message for the chunk arrives
        with django_db_blocker.unblock(), tenant_scope(tenant):
            claimed = runs._claim(pending.pk, 60)
        # then it claims the chunk (it used to skip it, and the message was lost)
        assert claimed is not None and claimed.pk == pending.pk
    finally:
        release.set()
        thread.join()
