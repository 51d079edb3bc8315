"""``make chaos``: a 10,000-payee run on two real workers, SIGKILLed 10 times at random points.

Not part of ``make test`` or CI (it takes minutes): it runs only with ``RUN_CHAOS=1``.
``CHAOS_PEOPLE`` and ``CHAOS_KILLS`` scale it. Needs PostgreSQL and Redis, as the worker
tests do. Passes when the run ends with nothing lost, nothing doubled, totals to the cent and
the result hash equal to the same run computed uninterrupted in this process.
"""

from __future__ import annotations

import os
import random
import signal
import time
import uuid
from typing import Any

import pytest

from core.models import Tenant
from core.tenancy import tenant_scope
from payouts import runs
from payouts.models import ChunkStatus, RunChunk, RunStatus
from tests.payouts.rundata import build_sales
from tests.payouts.test_runs_workers import _same_as_reference, _wait, workers
from tests.worker import start_worker

PEOPLE = int(os.environ.get("CHAOS_PEOPLE", "10000"))
KILLS = int(os.environ.get("CHAOS_KILLS", "10"))
CHUNK = 250

pytestmark = [
    pytest.mark.needs_pg,
    pytest.mark.needs_worker,
    pytest.mark.skipif(os.environ.get("RUN_CHAOS") != "1", reason="make chaos only (RUN_CHAOS=1)"),
]


def test_ten_kills_on_a_ten_thousand_payee_run(
    django_db_setup: None, django_db_blocker: Any, monkeypatch: Any
) -> None:
    started = time.monotonic()
    with django_db_blocker.unblock():
        tenant = Tenant.objects.create(slug=f"chaos-{uuid.uuid4().hex[:8]}", name="Chaos")
        with tenant_scope(tenant):
            sales = build_sales(n_people=PEOPLE, deals_per_person=3)
            built = time.monotonic()
            reference = runs.run_start(
                period_id=sales.period.pk, trigger="page", user_id=None, chunk_size=CHUNK
            )
            reference.refresh_from_db()
            assert reference.status == RunStatus.SUCCEEDED, reference.reason
            inline = time.monotonic()
    rng = random.Random()
    kills = 0
    try:
        with (
            workers(2, monkeypatch, django_db_blocker) as pool,
            django_db_blocker.unblock(),
            tenant_scope(tenant),
        ):
            run = runs.run_start(
                period_id=sales.period.pk, trigger="api", user_id=None, chunk_size=CHUNK
            )
            next_kill = time.monotonic() + rng.uniform(1.0, 4.0)

            def maybe_kill() -> None:
                nonlocal kills, next_kill
                if kills >= KILLS or time.monotonic() < next_kill:
                    return
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
                next_kill = time.monotonic() + rng.uniform(1.0, 4.0)

            run = _wait(run, seconds=1800, tick=maybe_kill)
            again = RunChunk.objects.filter(run=run, attempts__gt=1).count()
            took = (run.finished_at - run.started_at).total_seconds()
            print(  # noqa: T201 (the target's report)
                f"\nchaos: {PEOPLE} payees, {run.line_count} lines, {kills} kills, "
                f"{again} chunks claimed again; build {built - started:.1f} s, inline run "
                f"{inline - built:.1f} s, killed run {took:.1f} s"
            )
            assert kills == KILLS
            _same_as_reference(run, reference)
    finally:
        with django_db_blocker.unblock():
            Tenant.objects.filter(pk=tenant.pk).update(is_active=False)
