"""An import's progress: one channel (core.progress), read by the import page and the API, and
readable while a real worker's import transaction is still open."""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from django.db import connections, transaction
from django.utils import timezone

from core.changes import month_of
from core.models import Change, Tenant
from core.progress import progress_report
from core.tenancy import tenant_scope
from hierarchy import people
from hierarchy.models import Person
from incentives import services
from incentives.api.views import IngestBatchSerializer
from incentives.models import (
    Credit,
    CreditingRule,
    IngestBatch,
    IngestError,
    IngestStatus,
    Transaction,
)
from incentives.selectors import INGEST_PROGRESS
from tests.incentives.conftest import tx_row
from tests.worker import celery_worker_process  # noqa: F401 (a fixture)

T = TypeVar("T")


def test_the_import_page_and_the_api_show_a_running_imports_progress(org, client_alice):
    # given an import that is still running, 100 of its 400 rows read
    with tenant_scope(org.tenant):
        batch = services.ingest_rows(
            request=services.IngestRequest(kind="transactions", source_format="json"),
            rows=[tx_row("P-1")],
            created_by_id=None,
        )
        IngestBatch.objects.filter(pk=batch.pk).update(
            finished_at=None, status=IngestStatus.VALIDATING, rows_total=400, rows_processed=0
        )
        progress_report(kind=INGEST_PROGRESS, object_id=batch.pk, done=100, total=400)
    # then the API and the page both read the progress channel
    api = client_alice.get(f"/api/v1/imports/{batch.pk}/").json()
    assert (api["rows_processed"], api["progress_pct"]) == (100, 25)
    page = client_alice.get(f"/data/imports/{batch.pk}/").content.decode()
    assert "width:25%" in page and "Working… 100 rows read" in page


def test_a_finished_import_shows_its_own_count(org, client_alice):
    with tenant_scope(org.tenant):
        batch = services.ingest_rows(
            request=services.IngestRequest(kind="transactions", source_format="json"),
            rows=[tx_row("P-1"), tx_row("P-2")],
            created_by_id=None,
        )
        progress_report(kind=INGEST_PROGRESS, object_id=batch.pk, done=1, total=9)  # stale
    api = client_alice.get(f"/api/v1/imports/{batch.pk}/").json()
    assert (api["rows_processed"], api["progress_pct"]) == (2, 100)


# --- a real worker ---------------------------------------------------------------------------


def _poll(check: Callable[[], T | None], *, seconds: float = 90) -> T:
    """Return check()'s first truthy answer; fail if none comes within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        answer = check()
        if answer:
            return answer
        time.sleep(0.2)
    pytest.fail("the worker did not get there in time")


@pytest.fixture
def committed_org(django_db_setup: None, django_db_blocker: Any) -> Iterator[tuple[Tenant, Any]]:
    """A tenant with one seller and a direct crediting rule, committed for the worker to see."""
    suffix = uuid.uuid4().hex[:8]
    start = dt.date(2024, 1, 1)
    with django_db_blocker.unblock():
        tenant = Tenant.objects.create(slug=f"worker-import-{suffix}", name="Worker import")
        with tenant_scope(tenant):
            seller = people.person_create(employee_id="W1", full_name="Wes", hire_date=start)
            services.crediting_rule_create(
                name="Owner", kind="direct", priority=10, valid_from=start
            )
    yield tenant, seller
    with django_db_blocker.unblock(), tenant_scope(tenant):
        for model in (Change, Credit, Transaction, IngestError, IngestBatch, CreditingRule, Person):
            model.objects.all().delete()
    with django_db_blocker.unblock():
        # Its audit events are append-only, so the tenant stays, switched off.
        Tenant.objects.filter(pk=tenant.pk).update(is_active=False)


@pytest.mark.needs_pg
@pytest.mark.needs_worker
@pytest.mark.usefixtures("celery_worker_process")
def test_a_large_upload_runs_in_a_worker_whose_progress_shows_while_its_transaction_is_open(
    committed_org, django_db_blocker, monkeypatch
):
    tenant, seller = committed_org
    monkeypatch.setattr(services, "INLINE_MAX_BYTES", 10)  # every file is worth a worker
    day = timezone.localdate() - dt.timedelta(days=40)
    rows = 50
    data = (
        "external_id,kind,amount,currency,booked_on,owner_employee_id\n"
        + "".join(f"J-{i},new_business,10,USD,{day},W1\n" for i in range(rows))
    ).encode()
    holding, release, failed = threading.Event(), threading.Event(), []

    def hold_a_row_the_import_writes() -> None:
        # An uncommitted J-7 of our own: the worker's INSERT of J-7 waits on the unique index
        # until we roll back, so its import transaction stays open while we look.
        try:
            with tenant_scope(tenant), transaction.atomic():
                Transaction.objects.create(
                    source="upload",
                    external_id="J-7",
                    kind="new_business",
                    amount=Decimal(10),
                    currency="USD",
                    booked_on=day,
                    content_hash="held",
                    recorded_at=timezone.now(),
                )
                holding.set()
                release.wait(120)
                transaction.set_rollback(True)
        except BaseException as exc:
            failed.append(exc)
            holding.set()
        finally:
            connections.close_all()

    with django_db_blocker.unblock():
        blocker = threading.Thread(target=hold_a_row_the_import_writes)
        blocker.start()
        try:
            assert holding.wait(30) and not failed, failed
            with tenant_scope(tenant):
                # when a large file is uploaded: it is queued for the worker after commit
                batch = services.ingest_start(
                    request=services.IngestRequest(
                        kind="transactions", source_format="csv", filename="big.csv"
                    ),
                    data=data,
                    created_by_id=None,
                )
                assert batch.finished_at is None

                def running() -> dict[str, Any] | None:
                    batch.refresh_from_db()
                    shown = IngestBatchSerializer(batch).data
                    return shown if shown["rows_processed"] == rows else None

                # then its progress is readable while its transaction is open
                shown = _poll(running)
                assert (shown["status"], shown["finished_at"]) == (IngestStatus.VALIDATING, None)
                assert shown["progress_pct"] == 99  # every row read, not yet committed
                assert not Transaction.objects.exists()  # its rows are still invisible
        finally:
            release.set()
            blocker.join(30)
        assert not failed, failed
        with tenant_scope(tenant):
            # and once the held row is gone the worker finishes the import
            done = IngestBatch.objects.filter(pk=batch.pk, finished_at__isnull=False)
            _poll(done.first)
            batch.refresh_from_db()
            assert batch.status == IngestStatus.COMMITTED, batch.message
            assert batch.counts["created"] == rows
            assert Transaction.objects.count() == rows
            assert IngestBatchSerializer(batch).data["progress_pct"] == 100
            # the worker recorded the credited person and month in the change feed, set-based
            keys = set(Change.objects.values_list("kind", "person_id", "valid_from", "valid_to"))
            assert keys == {("credit", seller.pk, *month_of(day))}
