"""Payout run benchmark: a period end to end on real Celery workers, and a set-based SQL
reference of the same workload timed in the same run.

Needs PostgreSQL and Redis (``DATABASE_URL``, ``REDIS_URL``, as the tests). The data
(``RUN_BENCH_DATA``):

* ``icm`` (the default): ICM-1M in PostgreSQL (``benchmarks/icm_tenant.py``): the demo
  company generated at ``RUN_BENCH_PAYEES`` (10,000) people in three hierarchies, the ten
  template plans on their job roles with their quotas, the demo's crediting rules (owner,
  splits, W-shaped attribution, manager roll-up) and one finished quarter of
  ``RUN_BENCH_TRANSACTIONS`` (1,000,000) deals, leads, meetings, tickets and adoption events
  imported through the import service. Built once (minutes) into a tenant named after its
  size, which later runs reuse;
* ``sales``: a small sales tenant built through the services (``tests/payouts/rundata.py``:
  ``RUN_BENCH_PEOPLE`` sellers on 5 % of new business plus 50 per meeting, three deals each),
  switched off at the end.

It times:

* ``total_1w_s`` / ``total_s``: ``run_start`` to the run succeeded (gather from PostgreSQL,
  the engine's phases, payout lines and per-credit contributions committed), with one and
  with two worker processes, median of ``RUN_BENCH_REPEAT`` (3) after ``RUN_BENCH_WARMUP``
  (1) warm-up runs;
* ``sql_reference_s``: set-based SQL over the same credits, written to temporary tables,
  median of 3; ``ratio_vs_sql`` = ``total_s`` ÷ it. On ``sales`` it computes the same lines
  and contributions (a GROUP BY and an INSERT … SELECT of every credit), checked equal to the
  run's total to the cent. On ``icm`` it is the data floor of the workload: every credit of
  the quarter read, summed per person and transaction kind, and one contribution row written
  per credit (the ten plans' tiers, pools, gates and overrides are not restated in SQL);
* ``peak_worker_mb``: the largest peak RSS of a worker process (``VmHWM``);
* ``incremental_p95_ms``: one changed transaction's commit → its live run on this tenant, as
  ``INCREMENTAL_BENCH_DATA=icm make bench NAME=incremental`` last measured it (read from
  ``results/incremental.json``, which that benchmark also writes here); ``see-incremental``
  until it has run on ICM-1M.

``IN_ALL`` is off (``make bench NAME=run``).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

NAME = "run"
IN_ALL = False
DATA = os.environ.get("RUN_BENCH_DATA", "icm")
PEOPLE = int(os.environ.get("RUN_BENCH_PEOPLE", "2000"))
PAYEES = int(os.environ.get("RUN_BENCH_PAYEES", "10000"))
TRANSACTIONS = int(os.environ.get("RUN_BENCH_TRANSACTIONS", "1000000"))
REPEAT = int(os.environ.get("RUN_BENCH_REPEAT", "3"))
WARMUP = int(os.environ.get("RUN_BENCH_WARMUP", "1"))
CHUNK = int(os.environ.get("RUN_BENCH_CHUNK", "1000"))
ROOT = Path(__file__).resolve().parents[1]


def _worker(queue: str) -> subprocess.Popen[bytes]:
    from core.tasks import worker_argv

    env = {
        **os.environ,
        "CELERY_QUEUE": queue,
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
    }
    env.setdefault("DEBUG", "true")
    env.pop("DATABASE_OWNER_URL", None)
    return subprocess.Popen(
        worker_argv(queue, f"{queue}-{uuid.uuid4().hex[:4]}@%h"),
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _peak_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _timed_run(period_id: int) -> tuple[float, Any]:
    from payouts import runs
    from payouts.models import RunStatus

    start = time.perf_counter()
    run = runs.run_start(period_id=period_id, trigger="api", user_id=None, chunk_size=CHUNK)
    deadline = time.monotonic() + 3600
    swept = time.monotonic()
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.status in (RunStatus.SUCCEEDED, RunStatus.FAILED):
            break
        if time.monotonic() - swept > 30:  # as the beat's sweeper does where workers run
            runs.run_sweep()
            swept = time.monotonic()
        time.sleep(0.05)
    took = time.perf_counter() - start
    if run.status != RunStatus.SUCCEEDED:
        raise RuntimeError(f"run failed: {run.reason}")
    return took, run


def _on_workers(count: int, period_id: int) -> tuple[float, float, Any]:
    from config.celery import app

    queue = f"quotient-bench-run-{uuid.uuid4().hex[:8]}"
    procs = [_worker(queue) for _ in range(count)]
    app.conf.task_always_eager, app.conf.task_default_queue = False, queue
    try:
        time.sleep(4)  # the workers start
        for _ in range(WARMUP):
            _timed_run(period_id)
        times, last = [], None
        for _ in range(REPEAT):
            took, last = _timed_run(period_id)
            times.append(took)
        peak = max(_peak_mb(p.pid) for p in procs)
        return statistics.median(times), peak, last
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()


_ICM_LINES = (
    "CREATE TEMPORARY TABLE ref_lines ON COMMIT DROP AS "
    "SELECT c.person_id, t.kind AS component, sum(c.amount) AS amount, count(*) AS units "
    "FROM incentives_credit c JOIN incentives_transaction t ON t.id = c.transaction_id "
    "WHERE {where} GROUP BY c.person_id, t.kind"
)
_SALES_LINES = (
    "CREATE TEMPORARY TABLE ref_lines ON COMMIT DROP AS "
    "SELECT c.person_id, 'commission' AS component, "
    "round(sum(c.amount) FILTER (WHERE t.kind = 'new_business') * 0.05, 2) AS amount "
    "FROM incentives_credit c JOIN incentives_transaction t ON t.id = c.transaction_id "
    "WHERE {where} GROUP BY c.person_id "
    "UNION ALL "
    "SELECT c.person_id, 'per_meeting', "
    "count(*) FILTER (WHERE t.kind = 'meeting') * 50.00 "
    "FROM incentives_credit c JOIN incentives_transaction t ON t.id = c.transaction_id "
    "WHERE {where} GROUP BY c.person_id"
)


def _sql_reference(period: Any) -> tuple[float, Decimal]:
    from django.db import connection, transaction

    from core.tenancy import get_current_tenant

    tenant = get_current_tenant().pk
    where = (
        "c.tenant_id = %s AND c.credit_date >= %s AND c.credit_date < %s "
        "AND c.superseded_at IS NULL"
    )
    args = [tenant, period.start, period.end]
    times: list[float] = []
    total = Decimal(0)
    for _ in range(REPEAT + 1):
        with transaction.atomic(), connection.cursor() as cursor:
            start = time.perf_counter()
            lines = _ICM_LINES if DATA == "icm" else _SALES_LINES
            cursor.execute(lines.format(where=where), args if DATA == "icm" else args + args)
            cursor.execute(
                "CREATE TEMPORARY TABLE ref_contributions ON COMMIT DROP AS "  # noqa: S608
                "SELECT c.person_id, c.id AS credit_id, c.transaction_id, c.amount "
                f"FROM incentives_credit c WHERE {where}",
                args,
            )
            times.append(time.perf_counter() - start)
            cursor.execute("SELECT coalesce(sum(amount), 0) FROM ref_lines")
            total = Decimal(cursor.fetchone()[0])
            transaction.set_rollback(True)
    return statistics.median(times[1:]), total


def run() -> dict[str, Any]:
    """Build the tenant, time the run on one and two workers and the SQL reference."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        raise SystemExit("the run benchmark needs PostgreSQL (DATABASE_URL) and Redis (REDIS_URL)")
    if not os.environ.get("REDIS_URL"):
        raise SystemExit("the run benchmark needs Redis (REDIS_URL)")
    import django

    django.setup()
    from core.models import Tenant
    from core.tenancy import tenant_scope
    from incentives.models import Credit
    from payouts import runs

    tenant, period, build_s, throwaway = _data()
    try:
        with tenant_scope(tenant):
            from config.celery import app

            inline = None
            inline_s = None
            if DATA != "icm":  # in this process too (ICM-1M: the workers only)
                app.conf.task_always_eager = True
                inline_s, inline = _timed_run(period.pk)
            total_1w_s, peak_1, one = _on_workers(1, period.pk)
            total_s, peak_2, two = _on_workers(2, period.pk)
            sql_s, sql_total = _sql_reference(period)
            if DATA != "icm" and Decimal(two.totals["USD"]) != sql_total:
                raise RuntimeError(f"reference total {sql_total} != run total {two.totals}")
            hashes = {one.result_hash, two.result_hash}
            if inline is not None:
                hashes.add(inline.result_hash)
            if len(hashes) != 1:
                raise RuntimeError("the runs' hashes differ")
            credits = Credit.objects.filter(
                credit_date__gte=period.start,
                credit_date__lt=period.end,
                superseded_at__isnull=True,
            ).count()
            return {
                "data": "ICM-1M" if DATA == "icm" and PAYEES == 10_000 else DATA,
                "people": PAYEES if DATA == "icm" else PEOPLE,
                "credits": credits,
                "lines": two.line_count,
                "chunk_size": CHUNK,
                "build_s": build_s,
                "inline_s": inline_s if inline_s is not None else "not-run",
                "total_1w_s": total_1w_s,
                "total_s": total_s,
                "sql_reference_s": sql_s,
                "ratio_vs_sql": total_s / sql_s if sql_s else 0.0,
                "incremental_p95_ms": _incremental_p95(),
                "peak_worker_mb": max(peak_1, peak_2),
                "result_hash": two.result_hash[:16],
                "run_lines_hash_check": runs.lines_hash(two.pk) == two.result_hash,
            }
    finally:
        if throwaway:
            Tenant.objects.filter(pk=tenant.pk).update(is_active=False)


def _incremental_p95() -> float | str:
    """The incremental benchmark's ICM-1M p95 (``results/incremental.json``), if it ran there."""
    from benchmarks.harness import RESULTS_DIR

    try:
        got = json.loads((RESULTS_DIR / "incremental.json").read_text())
    except (OSError, ValueError):
        return "see-incremental"
    if got.get("data") != "ICM-1M" or "incremental_p95_ms" not in got:
        return "see-incremental"
    return float(got["incremental_p95_ms"])


def _data() -> tuple[Any, Any, float, bool]:
    """Return the tenant, its period, how long building took (0: reused) and whether the
    tenant is thrown away at the end."""
    from core import services
    from core.models import Tenant
    from core.tenancy import tenant_scope

    if DATA != "icm":
        from tests.payouts.rundata import build_sales

        tenant = Tenant.objects.create(slug=f"bench-run-{uuid.uuid4().hex[:8]}", name="Bench run")
        with tenant_scope(tenant):
            start = time.perf_counter()
            sales = build_sales(n_people=PEOPLE, deals_per_person=3)
            return tenant, sales.period, time.perf_counter() - start, True
    from benchmarks import icm_tenant

    slug = f"bench-icm-{PAYEES}-{TRANSACTIONS}"
    built = f"ICM bench, {PAYEES} payees, {TRANSACTIONS} transactions"
    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is not None and tenant.name == built:
        with tenant_scope(tenant):
            return tenant, icm_tenant.benchmark_quarter(), 0.0, False
    if tenant is not None:  # a build that did not finish: set it aside
        Tenant.objects.filter(pk=tenant.pk).update(
            slug=f"{slug}-unfinished-{uuid.uuid4().hex[:6]}", is_active=False
        )
    tenant = services.tenant_create(
        slug=slug,
        name=f"{built} (building)",
        time_zone="America/New_York",
        fiscal_year_start_month=2,
    )
    with tenant_scope(tenant):
        start = time.perf_counter()
        result = icm_tenant.build(payees=PAYEES, transactions=TRANSACTIONS)
        build_s = time.perf_counter() - start
        print(f"built {slug}: {result}", flush=True)
        period = icm_tenant.benchmark_quarter()
    Tenant.objects.filter(pk=tenant.pk).update(name=built)
    return tenant, period, build_s, False
