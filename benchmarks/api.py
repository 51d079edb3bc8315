"""Benchmark ``api``: the read API behind the dashboards on the ICM-1M tenant, under load.

Needs PostgreSQL and Redis (as the run benchmark). It takes the ICM-1M tenant of the run
benchmark (``benchmarks/payout_run.py``: built once, reused; its quarter calculated here when
no run has succeeded yet), starts the production server (gunicorn, ``API_BENCH_WORKERS`` = 4
sync workers) on a free port, and lets ``API_BENCH_CLIENTS`` (8) concurrent clients, each an
API client token with ``read:people`` and ``read:payouts``, ask for ``API_BENCH_REQUESTS``
(400) responses in all of each kind, mixed:

* ``earnings``: one employee's statement for the quarter (``/api/v1/statements/{period}-{person}/``,
  what her earnings page shows: components, lines with their trace, ledger, totals);
* ``team_rollup``: one team's roll-up (``/api/v1/rollups/?period=&node=<team>``, a reporting
  node with a manager and no node below it: totals, distribution and the first page of people);
* ``bu_rollup``: one business unit's roll-up (the same, any node of the business-unit
  hierarchy, its root - everyone - included).

Figures: p50 / p95 of the server's own time per kind, read from each response's
``Server-Timing`` header (``app;dur=``), the clients' wall-clock p95, and ``throughput_rps``
(responses per second over the whole mix). The reference timed in the same run: the same
reads as one SQL statement each, run from this process (a person's lines of the run; the
lines of a subtree's people summed per person), p95 in ms, and each kind's ratio to it.
Goals (issue #14): earnings p95 ≤ 100 ms, roll-ups ≤ 150 ms.
"""

from __future__ import annotations

import http.client
import os
import random
import socket
import statistics
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any

NAME = "api"
IN_ALL = False
CLIENTS = int(os.environ.get("API_BENCH_CLIENTS", "8"))
REQUESTS = int(os.environ.get("API_BENCH_REQUESTS", "400"))
WORKERS = int(os.environ.get("API_BENCH_WORKERS", "4"))
ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _p(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _server(port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.base"}
    env.setdefault("SECRET_KEY", "api-benchmark-" + "x" * 40)
    env["ALLOWED_HOSTS"] = "127.0.0.1,localhost"
    env["SECURE_SSL_REDIRECT"] = "false"  # plain HTTP on loopback (production sits behind TLS)
    env.pop("DATABASE_OWNER_URL", None)
    return subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(WORKERS),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_up(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("the server did not start")


def _targets(period: Any) -> dict[str, list[str]]:
    """The URLs of each kind: 200 payees, 50 teams, all business units (or 10)."""
    from hierarchy.models import Assignment, Node, NodeClosure
    from payouts.models import PayoutLine
    from payouts.statements import period_run

    run = period_run(period=period).run
    if run is None:
        raise RuntimeError("the quarter has no run")
    rng = random.Random(7)
    payees = sorted(set(PayoutLine.objects.filter(run=run).values_list("person_id", flat=True)))
    # a team: a reporting node with a manager and no node below it (a manager's own team; the
    # bigger subtrees are the business units' roll-ups)
    parents = set(NodeClosure.objects.filter(depth__gt=0).values_list("ancestor_id", flat=True))
    teams = sorted(
        set(
            Assignment.objects.filter(is_manager=True, node__hierarchy__kind="reporting")
            .overlapping(period.start, period.end)
            .values_list("node_id", flat=True)
        )
        - parents
    )
    units = list(Node.objects.filter(hierarchy__kind="business_unit").values_list("pk", flat=True))
    pick = lambda xs, n: rng.sample(xs, min(n, len(xs)))  # noqa: E731
    return {
        "earnings": [f"/api/v1/statements/{period.pk}-{p}/" for p in pick(payees, 200)],
        "team_rollup": [f"/api/v1/rollups/?period={period.pk}&node={n}" for n in pick(teams, 50)],
        "bu_rollup": [f"/api/v1/rollups/?period={period.pk}&node={n}" for n in pick(units, 10)],
    }


def _load(port: int, token: str, targets: dict[str, list[str]]) -> dict[str, Any]:
    """Send the mix from CLIENTS threads; return per kind the server and client times."""
    mix: list[tuple[str, str]] = []
    rng = random.Random(11)
    for kind, urls in targets.items():
        mix += [(kind, rng.choice(urls)) for _ in range(REQUESTS)]
    rng.shuffle(mix)
    server: dict[str, list[float]] = {k: [] for k in targets}
    client: dict[str, list[float]] = {k: [] for k in targets}
    errors: list[str] = []
    lock = threading.Lock()
    cursor = iter(mix)

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        while True:
            with lock:
                item = next(cursor, None)
            if item is None:
                return
            kind, url = item
            start = time.perf_counter()
            conn.request("GET", url, headers=headers)
            response = conn.getresponse()
            response.read()
            took = (time.perf_counter() - start) * 1000
            timing = response.getheader("Server-Timing", "app;dur=0")
            with lock:
                if response.status != 200:
                    errors.append(f"{response.status} {url}")
                server[kind].append(float(timing.split("dur=")[1]))
                client[kind].append(took)

    threads = [threading.Thread(target=worker) for _ in range(CLIENTS)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - began
    if errors:
        raise RuntimeError(f"{len(errors)} request(s) failed, e.g. {errors[:3]}")
    return {"server": server, "client": client, "wall_s": wall, "responses": len(mix)}


def _sql_reference(period: Any, targets: dict[str, list[str]]) -> dict[str, float]:
    """p95 ms of the same reads as one SQL statement each, from this process."""
    from django.db import connection

    from hierarchy.models import NodeClosure
    from payouts.statements import period_run

    run = period_run(period=period).run
    assert run is not None
    closure = NodeClosure._meta.db_table
    out: dict[str, float] = {}
    for kind, urls in targets.items():
        times = []
        for url in urls[:50] * 2:
            start = time.perf_counter()
            with connection.cursor() as cursor:
                if kind == "earnings":
                    person = int(url.rstrip("/").rsplit("-", 1)[1])
                    cursor.execute(
                        "SELECT component_id, kind, amount, trace_text, trace FROM "
                        "payouts_payoutline WHERE run_id = %s AND person_id = %s",
                        [run.pk, person],
                    )
                else:
                    node = int(url.rsplit("=", 1)[1])
                    cursor.execute(
                        "SELECT l.person_id, sum(l.amount) FROM payouts_payoutline l "  # noqa: S608
                        "WHERE l.run_id = %s AND l.person_id IN (SELECT a.person_id FROM "
                        f"hierarchy_assignment a JOIN {closure} c ON c.descendant_id = a.node_id "
                        "WHERE c.ancestor_id = %s AND a.valid_from < %s "
                        "AND (a.valid_to IS NULL OR a.valid_to > %s)) GROUP BY l.person_id",
                        [run.pk, node, period.end, period.start],
                    )
                cursor.fetchall()
            times.append((time.perf_counter() - start) * 1000)
        out[kind] = _p(times, 0.95)
    return out


def _analyze() -> None:
    """Refresh the planner's statistics, as autovacuum does on a production server, as the
    owner role (only a table's owner may analyze it). This machine's PostgreSQL runs with
    ``autovacuum = off``: a run computed after the last ``ANALYZE`` leaves its 10k summaries
    looking empty to the planner, and a business unit's roll-up then took ~4 s at p95 instead
    of ~0.1 s (2026-12-02, docs/benchmarks.md)."""
    import psycopg2

    owner_url = os.environ.get("DATABASE_OWNER_URL")
    if not owner_url:
        return
    with psycopg2.connect(owner_url) as conn, conn.cursor() as cursor:
        cursor.execute("ANALYZE")
    conn.close()


def run() -> dict[str, Any]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        raise SystemExit("the api benchmark needs PostgreSQL (DATABASE_URL)")
    import django

    django.setup()
    from benchmarks import payout_run
    from config.celery import app
    from core import services
    from core.tenancy import tenant_scope
    from payouts import runs
    from payouts.statements import period_run

    tenant, period, build_s, _ = payout_run._data()
    with tenant_scope(tenant):
        if period_run(period=period).run is None:
            app.conf.task_always_eager = True
            runs.run_start(period_id=period.pk, trigger="api", user_id=None)
    _analyze()
    with tenant_scope(tenant):
        targets = _targets(period)
        client = services.api_client_create(
            name=f"api-bench-{uuid.uuid4().hex[:6]}",
            scopes=["read:people", "read:payouts"],
            created_by_id=None,
        )
        reference = _sql_reference(period, targets)
    port = _free_port()
    server = _server(port)
    try:
        _wait_up(port)
        _load(port, client.token, {k: v[:5] for k, v in targets.items()})  # warm-up
        measured = _load(port, client.token, targets)
    finally:
        server.terminate()
        server.wait(20)
    figures: dict[str, Any] = {"people": payout_run.PAYEES, "build_s": build_s}
    for kind in targets:
        times = measured["server"][kind]
        figures[f"{kind}_p50_ms"] = statistics.median(times)
        figures[f"{kind}_p95_ms"] = _p(times, 0.95)
        figures[f"{kind}_client_p95_ms"] = _p(measured["client"][kind], 0.95)
        figures[f"{kind}_sql_reference_p95_ms"] = reference[kind]
        figures[f"{kind}_ratio_vs_sql"] = (
            _p(times, 0.95) / reference[kind] if reference[kind] else 0
        )
    figures["throughput_rps"] = measured["responses"] / measured["wall_s"]
    figures["clients"] = CLIENTS
    figures["server_workers"] = WORKERS
    return figures
