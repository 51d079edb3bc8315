"""Calculation runs on real Celery workers (PostgreSQL + Redis): two workers at once, workers
SIGKILLed at random points, a broker restarted mid-run. Each time: nothing lost, nothing
written twice, totals to the cent and the result hash equal to an uninterrupted run's.

The data is committed (the workers are other processes), in a tenant of its own that is
switched off afterwards. Workers get a short chunk stale time and visibility timeout, and
the test process plays the beat sweeper (``run_sweep``) while it waits.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from django.db.models import Count

from config.celery import app as celery_app
from core.models import Tenant
from core.tenancy import tenant_scope
from payouts import runs
from payouts.models import CalculationRun, ChunkStatus, PayoutLine, RunChunk, RunStatus
from tests.payouts.rundata import build_sales
from tests.worker import start_worker

pytestmark = [pytest.mark.needs_pg, pytest.mark.needs_worker]

STALE = 3  # seconds before a silent chunk is sent again (workers and the test's sweeper)
PEOPLE, CHUNK = 120, 10


@dataclass
class Committed:
    tenant: Tenant
    period_id: int
    reference: CalculationRun  # the same period computed in this process, uninterrupted


@pytest.fixture(scope="module")
def committed(django_db_setup: None, django_db_blocker: Any) -> Iterator[Committed]:
    """A sales tenant (120 sellers, 5 deals each) and its uninterrupted run, committed."""
    with django_db_blocker.unblock():
        tenant = Tenant.objects.create(slug=f"runs-{uuid.uuid4().hex[:8]}", name="Runs")
        with tenant_scope(tenant):
            sales = build_sales(n_people=PEOPLE, deals_per_person=5)
            reference = runs.run_start(
                period_id=sales.period.pk, trigger="page", user_id=None, chunk_size=CHUNK
            )
            reference.refresh_from_db()
            assert reference.status == RunStatus.SUCCEEDED, reference.reason
    yield Committed(tenant, sales.period.pk, reference)
    with django_db_blocker.unblock():
        Tenant.objects.filter(pk=tenant.pk).update(is_active=False)


@contextmanager
def workers(count: int, monkeypatch: Any, django_db_blocker: Any) -> Iterator[dict[str, Any]]:
    """Start ``count`` real workers on a queue of their own; the app sends tasks there."""
    monkeypatch.setenv("RUN_CHUNK_STALE_SECONDS", str(STALE))
    monkeypatch.setenv("CELERY_VISIBILITY_TIMEOUT", "5")
    queue = f"quotient-runs-{uuid.uuid4().hex[:8]}"
    with django_db_blocker.unblock():
        procs = [start_worker(queue) for _ in range(count)]
    previous = (celery_app.conf.task_always_eager, celery_app.conf.task_default_queue)
    celery_app.conf.task_always_eager, celery_app.conf.task_default_queue = False, queue
    pool = {"queue": queue, "procs": procs}
    try:
        yield pool
    finally:
        celery_app.conf.task_always_eager, celery_app.conf.task_default_queue = previous
        for proc in pool["procs"]:
            if proc.poll() is None:
                proc.terminate()
        for proc in pool["procs"]:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def _wait(
    run: CalculationRun, *, seconds: float = 240, tick: Callable[[], None] | None = None
) -> CalculationRun:
    """Wait for the run to end, sweeping stale chunks as beat would."""
    deadline = time.monotonic() + seconds
    last_sweep = 0.0
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.status in (RunStatus.SUCCEEDED, RunStatus.FAILED):
            return run
        if tick is not None:
            tick()
        if time.monotonic() - last_sweep > 1:
            runs.run_sweep(stale_seconds=STALE)
            last_sweep = time.monotonic()
        time.sleep(0.2)
    pytest.fail(f"run {run.pk} did not end in time: {runs.run_progress(run)}")


def _same_as_reference(run: CalculationRun, reference: CalculationRun) -> None:
    assert run.status == RunStatus.SUCCEEDED, (run.reason, run.problems)
    lines = PayoutLine.objects.filter(run=run)
    keys = ("person", "plan_version", "component_id", "segment", "kind", "ordinal")
    assert not lines.values(*keys).annotate(n=Count("id")).filter(n__gt=1).exists()  # 0 doubled
    assert lines.count() == reference.line_count  # 0 lost
    assert run.totals == reference.totals  # to the cent
    assert run.result_hash == reference.result_hash


def test_the_chunks_of_one_run_run_on_two_workers_at_once(
    committed, monkeypatch, django_db_blocker
):
    with (
        workers(2, monkeypatch, django_db_blocker),
        django_db_blocker.unblock(),
        tenant_scope(committed.tenant),
    ):
        run = runs.run_start(
            period_id=committed.period_id, trigger="api", user_id=None, chunk_size=CHUNK
        )
        assert run.status == RunStatus.QUEUED  # sent to the workers
        run = _wait(run)
        _same_as_reference(run, committed.reference)
        chunks = list(
            RunChunk.objects.filter(run=run)
            .exclude(phase="reduce")
            .values_list("worker", "claimed_at", "finished_at")
        )
        assert len({w for w, _, _ in chunks}) == 2  # both workers computed chunks
        overlapping = any(
            a[0] != b[0] and a[1] < b[2] and b[1] < a[2] for a in chunks for b in chunks
        )
        assert overlapping  # at the same time


def test_sigkill_at_random_points_three_times_loses_and_doubles_nothing(
    committed, monkeypatch, django_db_blocker
):
    rng = random.Random()
    kills = 0
    with (
        workers(2, monkeypatch, django_db_blocker) as pool,
        django_db_blocker.unblock(),
        tenant_scope(committed.tenant),
    ):
        run = runs.run_start(
            period_id=committed.period_id, trigger="api", user_id=None, chunk_size=CHUNK
        )
        next_kill = time.monotonic() + rng.uniform(0.5, 2.0)

        def maybe_kill() -> None:
            nonlocal kills, next_kill
            if kills >= 3 or time.monotonic() < next_kill:
                return
            # prefer a worker caught computing a chunk; else any
            busy = set(
                RunChunk.objects.filter(run=run, status=ChunkStatus.RUNNING).values_list(
                    "worker", flat=True
                )
            )
            procs = [p for p in pool["procs"] if p.poll() is None]
            victims = [p for p in procs if any(w.endswith(f":{p.pid}") for w in busy)]
            if not victims and time.monotonic() < next_kill + 3:
                return  # wait a little for a worker caught in the middle of a chunk
            victim = rng.choice(victims or procs)
            os.kill(victim.pid, signal.SIGKILL)
            victim.wait(10)
            pool["procs"].append(start_worker(pool["queue"]))
            kills += 1
            next_kill = time.monotonic() + rng.uniform(0.5, 2.5)

        run = _wait(run, tick=maybe_kill)
        assert kills == 3
        _same_as_reference(run, committed.reference)
        # (a kill lands mid-chunk or between chunks: chunks take a fraction of a second here)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _redis_server(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc
        time.sleep(0.05)
    proc.kill()
    pytest.fail("redis-server did not start")


def _use_broker(url: str) -> None:
    celery_app.conf.broker_url = url
    celery_app.conf.result_backend = url
    celery_app._pool = None  # the connection pool is made lazily from broker_url
    celery_app.amqp._producer_pool = None


@pytest.mark.skipif(not shutil.which("redis-server"), reason="no redis-server binary")
def test_a_broker_restarted_mid_run_loses_nothing(
    committed, monkeypatch, django_db_blocker, settings
):
    port = _free_port()
    url = f"redis://127.0.0.1:{port}/0"
    redis = _redis_server(port)
    previous = celery_app.conf.broker_url
    settings.REDIS_URL = url  # the workers and the progress channel use the private Redis
    _use_broker(url)
    try:
        with (
            workers(2, monkeypatch, django_db_blocker),
            django_db_blocker.unblock(),
            tenant_scope(committed.tenant),
        ):
            run = runs.run_start(
                period_id=committed.period_id, trigger="api", user_id=None, chunk_size=CHUNK
            )
            restarted = False

            def restart() -> None:
                nonlocal redis, restarted
                done = RunChunk.objects.filter(run=run, status=ChunkStatus.DONE).count()
                if restarted or done < 6:
                    return
                redis.send_signal(signal.SIGKILL)  # everything in it is lost
                redis.wait(10)
                time.sleep(1)
                redis = _redis_server(port)
                restarted = True

            run = _wait(run, tick=restart)
            assert restarted
            _same_as_reference(run, committed.reference)
    finally:
        _use_broker(previous)
        redis.kill()
        redis.wait(10)
