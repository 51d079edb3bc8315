"""Incremental (live) recalculation benchmark: commit of one changed transaction → the updated
payouts, on a real Celery worker, p50 / p95 over many changes, with the full run of the same
period timed in the same run as the reference.

Needs PostgreSQL and Redis (``DATABASE_URL``, ``REDIS_URL``). For each size in
``INCREMENTAL_BENCH_PEOPLE`` (default ``220,1000``: the demo company's 217 payees, and a larger
synthetic one) it builds a sales tenant of its own (``tests/payouts/rundata.py``: sellers on a
commission plan, 3 deals each, and a team lead paid on the team's pay — a cross-person
dependency), computes the period by a full run (inline) and a first live run, then starts one
worker and, ``INCREMENTAL_BENCH_CHANGES`` (40) times, imports one deal of a random seller and
waits for the live run that includes it. The latency of a change is from the import's commit
to the commit of the live run that shows it (seen by polling every 10 ms): the wake-up on
commit, the worker picking it up, the pass (claim, gather, engine, lines written and carried
forward) and its commit. Figures (the first size's keys are unprefixed, the goal's):

* ``incremental_p50_ms``, ``incremental_p95_ms``: commit → updated payouts;
* ``pass_p50_ms``: the pass alone, as its audit event records it;
* ``full_run_s``: a full run of the same period in one process (the reference), and
  ``ratio_p95_vs_full`` = p95 ÷ it;
* ``equal_to_full``: the last live run's hash equals a fresh full run's (checked, not assumed).

Goal ≤ 1 s p95 (stretch 200 ms). ``IN_ALL`` is off (a few minutes: building tenants through
the services takes ~80 ms a seller here).
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import time
import uuid
from typing import Any

from benchmarks.harness import percentile

NAME = "incremental"
IN_ALL = False
SIZES = [int(s) for s in os.environ.get("INCREMENTAL_BENCH_PEOPLE", "220,1000").split(",") if s]
CHANGES = int(os.environ.get("INCREMENTAL_BENCH_CHANGES", "40"))


def _wait_for_worker(tenant_id: int) -> None:
    from django.conf import settings

    from core.health import redis_client
    from core.tasks import _debounce_key, task_named
    from payouts import live

    key = _debounce_key(live.TASK, tenant_id)
    redis = redis_client(str(settings.REDIS_URL))
    redis.set(key, "1", ex=120)
    task_named(live.TASK).apply_async(kwargs={"tenant_id": tenant_id})
    deadline = time.monotonic() + 120
    while redis.exists(key):
        if time.monotonic() > deadline:
            raise RuntimeError("the worker did not start")
        time.sleep(0.1)


def _one_size(people: int) -> dict[str, Any]:
    from django.conf import settings

    from benchmarks.payout_run import _worker
    from config.celery import app
    from core.models import AuditEvent, Tenant
    from core.tenancy import tenant_scope
    from payouts import live, runs
    from payouts.models import CalculationRun, RunKind, RunStatus
    from tests.payouts.rundata import add_team_lead, build_sales, deal, record

    tenant = Tenant.objects.create(slug=f"bench-live-{uuid.uuid4().hex[:8]}", name="Bench live")
    settings.CHANGE_FEED_TASKS = []
    app.conf.task_always_eager = True
    try:
        with tenant_scope(tenant):
            sales = build_sales(n_people=people, deals_per_person=3)
            add_team_lead(sales)
            period = sales.period
            start = time.perf_counter()
            full = runs.run_execute(
                run_id=runs.run_start(period_id=period.pk, trigger="api", user_id=None).pk
            )
            full_s = time.perf_counter() - start
            assert full.status == RunStatus.SUCCEEDED, full.reason
            live.live_recalculate()  # the first live run: the full run's figures in live chunks
            queue = f"quotient-bench-live-{uuid.uuid4().hex[:8]}"
            proc = _worker(queue)
            app.conf.task_always_eager, app.conf.task_default_queue = False, queue
            settings.CHANGE_FEED_TASKS = [live.TASK]
            try:
                _wait_for_worker(tenant.pk)
                rng = random.Random(5)
                latencies: list[float] = []
                seen = CalculationRun.objects.filter(kind=RunKind.LIVE).order_by("-pk")[0].pk
                for n in range(CHANGES):
                    row = deal(f"BENCH-{n}", rng.randrange(people), rng)
                    record([row])  # commits (autocommit around the import's transaction)
                    committed = time.perf_counter()
                    deadline = time.monotonic() + 60
                    while True:
                        newest = (
                            CalculationRun.objects.filter(
                                kind=RunKind.LIVE, status=RunStatus.SUCCEEDED, pk__gt=seen
                            )
                            .order_by("-pk")
                            .values_list("pk", flat=True)
                            .first()
                        )
                        if newest is not None:
                            break
                        if time.monotonic() > deadline:
                            raise RuntimeError(f"change {n}: no live run within 60 s")
                        time.sleep(0.01)
                    latencies.append(1000 * (time.perf_counter() - committed))
                    seen = newest
                    time.sleep(0.05)
            finally:
                app.conf.task_always_eager = True
                settings.CHANGE_FEED_TASKS = []
                proc.terminate()
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
            last = CalculationRun.objects.get(pk=seen)
            passes = [
                float(a["ms"])
                for a in AuditEvent.objects.filter(action="run.live")
                .order_by("-pk")
                .values_list("after", flat=True)[:CHANGES]
            ]
            fresh = runs.run_execute(
                run_id=runs.run_start(period_id=period.pk, trigger="api", user_id=None).pk
            )
            p95 = percentile(latencies, 95)
            return {
                "people": people + 1,
                "lines": last.line_count,
                "chunks": len(last.pins["live"]["groups"]),
                "changes": len(latencies),
                "incremental_p50_ms": statistics.median(latencies),
                "incremental_p95_ms": p95,
                "incremental_max_ms": max(latencies),
                "pass_p50_ms": statistics.median(passes) if passes else 0.0,
                "full_run_s": full_s,
                "ratio_p95_vs_full": p95 / 1000 / full_s if full_s else 0.0,
                "equal_to_full": fresh.result_hash == last.result_hash,
            }
    finally:
        Tenant.objects.filter(pk=tenant.pk).update(is_active=False)


def run() -> dict[str, Any]:
    """Build each size's tenant and time one changed transaction's way to the payouts."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        raise SystemExit("the incremental benchmark needs PostgreSQL (DATABASE_URL)")
    if not os.environ.get("REDIS_URL"):
        raise SystemExit("the incremental benchmark needs Redis (REDIS_URL)")
    import django

    django.setup()
    figures: dict[str, Any] = {}
    for k, people in enumerate(SIZES):
        got = _one_size(people)
        if not got["equal_to_full"]:
            raise RuntimeError(f"{people} people: the live run differs from a full run")
        prefix = "" if k == 0 else f"n{got['people']}_"
        figures.update({f"{prefix}{key}": value for key, value in got.items()})
    return figures
