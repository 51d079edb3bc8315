"""Benchmark ``ingest``: import + credit N transactions (default 1M) from one CSV file.

Runs against a dedicated PostgreSQL database it creates (``<DATABASE_URL name>_bench``) with
the same two roles as the app, so row-level security and grants apply as in production. In the
same run it times a plain PostgreSQL ``COPY`` of the same file into an unindexed table, the
floor any importer is measured against. Figures: ``rows``, ``import_s`` (parse + validate +
commit), ``credit_s`` (credits computed and written), ``total_s``, ``copy_s``,
``ratio_vs_copy``, ``peak_mb``, ``phases_s`` (seconds per phase of the import, per thread:
see docs/imports.md), ``load_average`` (1 min, at the end), ``goal_s`` (60). Set
``INGEST_BENCH_ROWS`` for another size.
Needs ``DATABASE_URL`` and ``DATABASE_OWNER_URL`` (postgres); otherwise it reports ``skipped``.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

NAME = "ingest"
IN_ALL = True
GOAL_S = 60.0


def _bench_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "_bench"))


def _setup_django(app_url: str, owner_url: str) -> None:
    os.environ.update(
        {
            "DATABASE_URL": app_url,
            "DATABASE_OWNER_URL": owner_url,
            "DEBUG": "true",
            "DJANGO_SETTINGS_MODULE": "config.settings.base",
            "QUOTIENT_ENV_FILE": "/dev/null",
        }
    )
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()


def _recreate_database(owner_url: str) -> None:
    import psycopg2
    from psycopg2 import sql

    parts = urlsplit(owner_url)
    name = parts.path.lstrip("/")
    conn = psycopg2.connect(urlunsplit(parts._replace(path="/postgres")))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    conn.close()
    app_user = urlsplit(os.environ["DATABASE_URL"]).username
    conn = psycopg2.connect(owner_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                sql.Identifier(name), sql.Identifier(app_user or "")
            )
        )
        cur.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    conn.close()


def _write_file(path: Path, rows: int, people: list[str]) -> None:
    import datetime as dt

    from incentives.demo import rows_for

    columns = [
        "source",
        "external_id",
        "kind",
        "amount",
        "currency",
        "booked_on",
        "owner_employee_id",
        "account",
        "product",
        "region",
        "splits",
        "touches",
    ]
    with path.open("w") as out:
        out.write(",".join(columns) + "\n")
        sales = people
        for n, row in enumerate(
            rows_for(
                start=dt.date(2026, 1, 1),
                days=270,
                sales=sales,
                marketing=[],
                sdrs=[],
                csms=[],
                support=[],
                product=[],
                deals=rows,
                seed=11,
            )
        ):
            row["external_id"] = f"OPP-{n:07d}"
            out.write(",".join(str(row.get(c, "")) for c in columns) + "\n")


def _copy_reference(path: Path, owner_url: str) -> float:
    import psycopg2

    conn = psycopg2.connect(owner_url)
    with conn.cursor() as cur:
        cur.execute(
            "CREATE TABLE copy_reference (source text, external_id text, kind text, "
            "amount numeric(20,4), currency char(3), booked_on date, owner text, "
            "account text, product text, region text, splits text, touches text)"
        )
        conn.commit()
        start = time.perf_counter()
        with path.open() as stream:
            cur.copy_expert("COPY copy_reference FROM STDIN WITH (FORMAT csv, HEADER true)", stream)
        conn.commit()
        elapsed = time.perf_counter() - start
        cur.execute("DROP TABLE copy_reference")
        conn.commit()
    conn.close()
    return elapsed


def run() -> dict[str, Any]:
    from benchmarks.harness import peak_rss_mb

    app_url, owner_url = (
        os.environ.get("DATABASE_URL", ""),
        os.environ.get("DATABASE_OWNER_URL", ""),
    )
    if not (app_url.startswith("postgres") and owner_url.startswith("postgres")):
        return {"skipped": "set DATABASE_URL and DATABASE_OWNER_URL to postgres:// URLs"}
    rows = int(os.environ.get("INGEST_BENCH_ROWS", "1000000"))
    app_url, owner_url = _bench_url(app_url), _bench_url(owner_url)
    os.environ["DATABASE_URL"] = app_url
    _recreate_database(owner_url)
    _setup_django(app_url, owner_url)
    import datetime as dt

    from django.core.management import call_command

    from core.models import Tenant
    from core.tenancy import tenant_scope
    from hierarchy import people, periods
    from incentives import services
    from incentives.models import Credit

    call_command("migrate", verbosity=0)
    tenant = Tenant.objects.create(slug="bench", name="Bench")
    with tenant_scope(tenant):
        periods.period_generate_fiscal_year(fiscal_year=2026)
        staff = [f"E{i:05d}" for i in range(2_000)]
        from hierarchy.models import Person

        Person.objects.bulk_create(
            [Person(employee_id=e, full_name=e, hire_date=dt.date(2020, 1, 1)) for e in staff]
        )
        services.crediting_rule_create(
            name="Splits", kind="split", priority=10, valid_from=dt.date(2020, 1, 1)
        )
        services.crediting_rule_create(
            name="Owner", kind="direct", priority=20, valid_from=dt.date(2020, 1, 1)
        )
        del people
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "deals.csv"
        _write_file(path, rows, staff)
        size_mb = path.stat().st_size / 1e6
        copy_s = _copy_reference(path, owner_url)
        with tenant_scope(tenant):
            start = time.perf_counter()
            with path.open("rb") as stream:  # streamed in 1 MB chunks, as the upload views do
                batch = services.ingest_start(
                    request=services.IngestRequest(
                        kind="transactions", source_format="csv", filename="deals.csv"
                    ),
                    data=iter(lambda: stream.read(1 << 20), b""),
                    created_by_id=None,
                )
            total_s = time.perf_counter() - start
            credits = Credit.objects.count()
    assert batch.status == "committed", batch.message
    timings = batch.counts.get("timings", {})
    return {
        "rows": rows,
        "file_mb": round(size_mb, 1),
        "credits": credits,
        "import_s": timings.get("import_s", total_s),
        "credit_s": timings.get("credit_s", 0.0),
        "total_s": total_s,
        "copy_s": copy_s,
        "ratio_vs_copy": total_s / copy_s,
        "peak_mb": peak_rss_mb(),
        "phases_s": timings.get("phases", {}),
        "load_average": os.getloadavg()[0],
        "goal_s": GOAL_S,
        "goal_ratio": total_s / GOAL_S,
    }
