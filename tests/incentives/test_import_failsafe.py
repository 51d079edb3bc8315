"""Fail-safe imports: an exception or a dead worker ends the batch ``failed`` with its reason,
nothing half-written, and a retry commits the same file exactly once; large imports with
crediting rules in force commit in the request and in a real worker (PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from django.utils import timezone

from config.celery import app as celery_app
from core.errors import ConflictError
from core.models import Change, Tenant
from core.progress import progress_get
from core.tenancy import tenant_scope
from hierarchy import people
from incentives import bulk_ingest, services
from incentives.models import (
    Credit,
    IngestBatch,
    IngestError,
    IngestStatus,
    Transaction,
)
from incentives.selectors import INGEST_PROGRESS
from tests.incentives.conftest import tx_row
from tests.tenancy import assert_not_found
from tests.worker import celery_worker_process, start_worker  # noqa: F401 (a fixture)

T = TypeVar("T")
HEADER = "external_id,kind,amount,currency,booked_on,owner_employee_id,account,region,splits\n"


def _file(rows: int, *, sellers: int, day: dt.date) -> bytes:
    """``rows`` deals; every fifth split 60/40 between two sellers (so both rules credit)."""
    lines = [HEADER]
    for i in range(rows):
        owner, other = f"W{i % sellers}", f"W{(i + 1) % sellers}"
        splits = f"{owner}:60;{other}:40" if i % 5 == 0 else ""
        amount = f"{100 + i % 9_000}.{i % 100:02d}"
        lines.append(f"F-{i},new_business,{amount},USD,{day},{owner},A{i % 50},EMEA,{splits}\n")
    return "".join(lines).encode()


def _upload(data: bytes, **kwargs: Any) -> IngestBatch:
    return services.ingest_start(
        request=services.IngestRequest(
            kind="transactions", source_format="csv", filename="f.csv", **kwargs
        ),
        data=data,
        created_by_id=None,
    )


def _poll(check: Callable[[], T | None], *, seconds: float = 240) -> T:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        answer = check()
        if answer:
            return answer
        time.sleep(0.2)
    pytest.fail("not there in time")


# --- any database -------------------------------------------------------------------------------


def test_an_exception_mid_import_fails_the_batch_and_a_retry_commits_once(
    in_org, monkeypatch, settings, tmp_path
):
    settings.VAR_DIR = tmp_path
    monkeypatch.setattr(bulk_ingest, "CHUNK_ROWS", 2)
    data = (HEADER + "".join(f"R-{i},renewal,5,USD,2026-02-02,E1,,,\n" for i in range(5))).encode()
    calls = []
    real = bulk_ingest.TransactionValidator.validate

    def validate_then_fail(self, chunk, issues):
        calls.append(len(chunk))
        if len(calls) == 2:  # the second chunk: after the first was written
            raise RuntimeError("disk on fire")
        return real(self, chunk, issues)

    monkeypatch.setattr(bulk_ingest.TransactionValidator, "validate", validate_then_fail)
    # when the import raises half-way
    failed = _upload(data)
    # then the batch is failed with its reason, in a transaction of its own, and nothing of
    # the first chunk was kept
    failed.refresh_from_db()
    assert (failed.status, failed.reason) == (IngestStatus.FAILED, "error")
    assert "RuntimeError" in failed.message and failed.finished_at is not None
    assert Transaction.objects.count() == 0 and Credit.objects.count() == 0
    # when it is retried with the same stored file
    monkeypatch.setattr(bulk_ingest.TransactionValidator, "validate", real)
    done = services.ingest_retry(batch_id=failed.pk)
    # then it commits once, and cannot be retried again
    assert (done.pk, done.status, done.counts["created"], done.attempts) == (
        failed.pk,
        IngestStatus.COMMITTED,
        5,
        2,
    )
    assert Transaction.objects.count() == 5
    with pytest.raises(ConflictError):
        services.ingest_retry(batch_id=failed.pk)
    assert not list(services.upload_dir().iterdir())  # the file goes once it is committed


def test_the_sweeper_fails_an_import_whose_heartbeat_stopped_and_leaves_live_ones(in_org):
    def validating(heartbeat: dt.datetime) -> IngestBatch:
        batch = services.ingest_rows(
            request=services.IngestRequest(kind="transactions", source_format="json"),
            rows=[tx_row(f"S-{uuid.uuid4().hex[:6]}")],
            created_by_id=None,
        )
        IngestBatch.objects.filter(pk=batch.pk).update(
            status=IngestStatus.VALIDATING, heartbeat_at=heartbeat, finished_at=None
        )
        return batch

    now = timezone.now()
    dead, alive = validating(now - dt.timedelta(seconds=600)), validating(now)
    assert services.ingest_sweep(stale_seconds=300) == 1
    dead.refresh_from_db()
    alive.refresh_from_db()
    assert (dead.status, dead.reason) == (IngestStatus.FAILED, "worker_lost")
    assert "Retry" in dead.message
    assert alive.status == IngestStatus.VALIDATING
    # an attempt that finishes after the sweep rolls back rather than commit a failed batch
    with pytest.raises(services.AbandonedImportError):
        services._record(dead, services.imports.Outcome(), started=time.perf_counter())


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"PK\x03\x04\x14\x00\x06\x00" + bytes(range(256)) * 4, "binary_file"),
        (
            (
                HEADER + "".join(f"D-{i},renewal,5,USD,2026-02-02,E1,Café,,\n" for i in range(9))
            ).encode("cp1252"),
            "bad_encoding",
        ),
        (b"", "empty_file"),
    ],
)
def test_an_unreadable_file_fails_whole_at_line_1_with_what_to_do(in_org, data, code):
    batch = _upload(data)
    assert (batch.status, batch.reason, batch.error_count) == (IngestStatus.FAILED, "bad_file", 1)
    assert [(e.line, e.code) for e in IngestError.objects.filter(batch=batch)] == [(1, code)]
    assert "of 0 rows" not in batch.message and batch.message.startswith("The file cannot")


@pytest.mark.covers_url("api-import-retry")
def test_retry_over_the_api_answers_like_an_upload_and_another_tenant_gets_404(
    org, client_alice, client_charlie, monkeypatch, settings, tmp_path
):
    settings.VAR_DIR = tmp_path
    with tenant_scope(org.tenant):
        monkeypatch.setattr(
            bulk_ingest.TransactionValidator,
            "validate",
            lambda *a: (_ for _ in ()).throw(OSError("gone")),
        )
        failed = _upload((HEADER + "Q-1,renewal,5,USD,2026-02-02,E1,,,\n").encode())
        monkeypatch.undo()
    assert failed.status == IngestStatus.FAILED
    assert_not_found(client_charlie.post(f"/api/v1/imports/{failed.pk}/retry/"))
    response = client_alice.post(f"/api/v1/imports/{failed.pk}/retry/")
    assert response.status_code == 201, response.content
    assert (response.json()["status"], response.json()["reason"]) == ("committed", "")
    again = client_alice.post(f"/api/v1/imports/{failed.pk}/retry/")
    assert (again.status_code, again.json()["error"]["code"]) == (409, "not_retryable")


def test_a_keyed_upload_is_fingerprinted_by_its_bytes(org, client_alice, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    one = (HEADER + "K-1,renewal,5,USD,2026-02-02,E1,,,\n").encode()
    other = one.replace(b"K-1", b"K-2")  # the same size, other bytes

    def post(body: bytes):
        return client_alice.post(
            "/api/v1/imports/transactions/csv/",
            data=body,
            content_type="text/csv",
            HTTP_IDEMPOTENCY_KEY="upload-1",
        )

    first = post(one)
    assert first.status_code == 201 and first.json()["status"] == "committed"
    replay = post(one)
    assert replay["Idempotent-Replayed"] == "true" and replay.json()["id"] == first.json()["id"]
    different = post(other)
    assert different.status_code == 422
    assert different.json()["error"]["code"] == "idempotency_key_reused"
    with tenant_scope(org.tenant):
        assert list(Transaction.objects.values_list("external_id", flat=True)) == ["K-1"]


# --- PostgreSQL: large imports with crediting rules, in the request and in a real worker -------


@pytest.fixture
def committed_sellers(django_db_setup: None, django_db_blocker: Any) -> Iterator[Tenant]:
    """A tenant with 20 sellers, a split rule and a direct rule, committed (autocommit, so the
    import takes its threaded path, and a worker sees it all)."""
    suffix = uuid.uuid4().hex[:8]
    start = dt.date(2024, 1, 1)
    with django_db_blocker.unblock():
        tenant = Tenant.objects.create(slug=f"failsafe-{suffix}", name="Fail-safe")
        with tenant_scope(tenant):
            for i in range(20):
                people.person_create(employee_id=f"W{i}", full_name=f"W {i}", hire_date=start)
            services.crediting_rule_create(
                name="Splits", kind="split", priority=10, valid_from=start
            )
            services.crediting_rule_create(
                name="Owner", kind="direct", priority=20, valid_from=start
            )
    yield tenant
    with django_db_blocker.unblock():
        # The tenant's rows stay (deleting 200k transactions checks each against every credit
        # of the table: credits have no index on transaction_id, on purpose); switched off.
        Tenant.objects.filter(pk=tenant.pk).update(is_active=False)


def _expect_committed(batch: IngestBatch, rows: int) -> None:
    assert batch.status == IngestStatus.COMMITTED, batch.message
    assert batch.counts["created"] == rows
    assert Transaction.objects.count() == rows
    # one direct credit per unsplit deal, two split credits per split one (every fifth)
    assert Credit.objects.count() == rows + rows // 5 + (1 if rows % 5 else 0)
    assert Change.objects.filter(kind="credit").exists()


@pytest.mark.needs_pg
@pytest.mark.slow_import
@pytest.mark.parametrize("rows", [40_000, 200_000])
def test_a_large_import_with_crediting_rules_commits_in_the_request(
    committed_sellers, django_db_blocker, settings, tmp_path, rows
):
    settings.VAR_DIR = tmp_path
    day = timezone.localdate() - dt.timedelta(days=40)
    with django_db_blocker.unblock(), tenant_scope(committed_sellers):
        batch = _upload(_file(rows, sellers=20, day=day))
        _expect_committed(batch, rows)


@pytest.mark.needs_pg
@pytest.mark.needs_worker
@pytest.mark.slow_import
@pytest.mark.usefixtures("celery_worker_process")
@pytest.mark.parametrize("rows", [40_000, 200_000])
def test_a_large_import_with_crediting_rules_commits_in_a_worker(
    committed_sellers, django_db_blocker, monkeypatch, rows
):
    monkeypatch.setattr(services, "INLINE_MAX_BYTES", 10)
    day = timezone.localdate() - dt.timedelta(days=40)
    with django_db_blocker.unblock(), tenant_scope(committed_sellers):
        batch = _upload(_file(rows, sellers=20, day=day))
        assert batch.finished_at is None  # queued for the worker
        done = IngestBatch.objects.filter(pk=batch.pk, finished_at__isnull=False)
        batch = _poll(done.first)
        _expect_committed(batch, rows)


@pytest.mark.needs_pg
@pytest.mark.needs_worker
@pytest.mark.slow_import
def test_killing_the_worker_mid_import_fails_the_batch_and_a_retry_commits_once(
    committed_sellers, django_db_blocker, monkeypatch
):
    monkeypatch.setattr(services, "INLINE_MAX_BYTES", 10)
    rows = 200_000
    day = timezone.localdate() - dt.timedelta(days=40)
    queue = f"quotient-kill-{uuid.uuid4().hex[:8]}"
    with django_db_blocker.unblock():
        worker = start_worker(queue)
    previous = (celery_app.conf.task_always_eager, celery_app.conf.task_default_queue)
    celery_app.conf.task_always_eager, celery_app.conf.task_default_queue = False, queue
    try:
        with django_db_blocker.unblock(), tenant_scope(committed_sellers):
            batch = _upload(_file(rows, sellers=20, day=day))

            def reading() -> bool:
                live = progress_get(kind=INGEST_PROGRESS, object_id=batch.pk)
                return live is not None and 0 < live.done < rows

            # when the worker is killed while it imports (some chunks written, uncommitted)
            _poll(reading)
            worker.kill()
            worker.wait(30)
    finally:
        celery_app.conf.task_always_eager, celery_app.conf.task_default_queue = previous
        if worker.poll() is None:
            worker.kill()
    with django_db_blocker.unblock(), tenant_scope(committed_sellers):
        batch.refresh_from_db()
        assert batch.status == IngestStatus.VALIDATING  # nobody knows yet
        # then the sweeper marks it failed with its reason, and nothing was half-written
        assert services.ingest_sweep(stale_seconds=0) == 1
        batch.refresh_from_db()
        assert (batch.status, batch.reason) == (IngestStatus.FAILED, "worker_lost")
        assert Transaction.objects.count() == 0 and Credit.objects.count() == 0
        # and a retry commits the file exactly once (wherever it runs: the module's worker
        # when one is up, else in this process)
        services.ingest_retry(batch_id=batch.pk)
        done = _poll(IngestBatch.objects.filter(pk=batch.pk, finished_at__isnull=False).first)
        _expect_committed(done, rows)
        assert done.attempts == 2
