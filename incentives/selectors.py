"""Reads of incentive data, always within the current tenant."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from core.errors import NotFoundError
from core.progress import progress_get
from hierarchy.access import Access
from incentives.models import (
    ColumnMapping,
    Credit,
    CreditingRule,
    FxRate,
    IngestBatch,
    IngestError,
    KpiValue,
    Transaction,
)


def ingest_batch_list() -> QuerySet[IngestBatch]:
    """Return import batches, newest first."""
    return IngestBatch.objects.select_related("created_by").order_by("-created_at", "-id")


def ingest_batch_get(*, batch_id: int) -> IngestBatch:
    """Return one batch or raise NotFoundError."""
    batch = ingest_batch_list().filter(pk=batch_id).first()
    if batch is None:
        raise NotFoundError("Import not found.")
    return batch


INGEST_PROGRESS = "ingest"  # the progress channel's kind for imports: rows read of rows_total


@dataclass(frozen=True)
class IngestProgress:
    rows_processed: int
    pct: int


def ingest_batch_progress(*, batch: IngestBatch) -> IngestProgress:
    """Return how far an import has got: while it runs, what it last reported on the progress
    channel (below 100 % until it has finished); once finished, its own count."""
    if batch.finished_at is not None:
        return IngestProgress(rows_processed=batch.rows_processed, pct=100)
    live = progress_get(kind=INGEST_PROGRESS, object_id=batch.pk)
    if live is None:
        return IngestProgress(rows_processed=batch.rows_processed, pct=0)
    return IngestProgress(rows_processed=live.done, pct=min(99, live.pct or 0))


def ingest_error_list(*, batch: IngestBatch) -> QuerySet[IngestError]:
    """Return a batch's row-level errors by line."""
    return IngestError.objects.filter(batch=batch).order_by("line", "id")


def transaction_list(
    *, filters: dict[str, Any] | None = None, history: bool = False
) -> QuerySet[Transaction]:
    """Return transactions (current versions unless ``history``), filtered."""
    filters = filters or {}
    qs = Transaction.objects.select_related("owner")
    if not history:
        qs = qs.known_now()
    if filters.get("kind"):
        qs = qs.filter(kind=filters["kind"])
    if filters.get("source"):
        qs = qs.filter(source=filters["source"])
    if filters.get("external_id"):
        qs = qs.filter(external_id=filters["external_id"])
    if filters.get("owner"):
        qs = qs.filter(owner__employee_id=filters["owner"])
    if filters.get("account"):
        qs = qs.filter(account__icontains=filters["account"])
    if filters.get("date_from"):
        qs = qs.filter(booked_on__gte=filters["date_from"])
    if filters.get("date_to"):
        qs = qs.filter(booked_on__lt=filters["date_to"])
    if filters.get("q"):
        q = filters["q"]
        qs = qs.filter(
            Q(external_id__icontains=q) | Q(account__icontains=q) | Q(owner__full_name__icontains=q)
        )
    return qs.order_by("-booked_on", "-id")


def transaction_get(*, transaction_id: int) -> Transaction:
    """Return one transaction version or raise NotFoundError."""
    tx: Transaction | None = (
        Transaction.objects.select_related("owner").filter(pk=transaction_id).first()
    )
    if tx is None:
        raise NotFoundError("Transaction not found.")
    return tx


def transaction_versions(*, tx: Transaction) -> QuerySet[Transaction]:
    """Return every version of a transaction's business key, oldest first."""
    return Transaction.objects.filter(source=tx.source, external_id=tx.external_id).order_by(
        "version"
    )


def credit_list(
    *, access: Access, filters: dict[str, Any] | None = None, history: bool = False
) -> QuerySet[Credit]:
    """Return the credits ``access`` may read (a node-scoped admin: of people inside their
    nodes on the credit date), current unless ``history``, with who, which rule, which deal."""
    return access.rows_about_visible_people(
        credit_matching(filters=filters, history=history), day="credit_date"
    )


def credit_matching(
    *, filters: dict[str, Any] | None = None, history: bool = False
) -> QuerySet[Credit]:
    """Return the tenant's credits matching ``filters`` (the filter rules only: callers narrow
    it to what a principal may read, as :func:`credit_list` does)."""
    filters = filters or {}
    qs = Credit.objects.select_related(
        "person", "rule", "transaction", "period", "belongs_to_period"
    )
    if not history:
        qs = qs.known_now()
    if filters.get("transaction"):
        qs = qs.filter(transaction__external_id=filters["transaction"])
    if filters.get("transaction_id"):
        tx = Transaction.objects.filter(pk=filters["transaction_id"]).first()
        qs = (
            qs.filter(transaction__source=tx.source, transaction__external_id=tx.external_id)
            if tx
            else qs.none()
        )
    if filters.get("person"):
        qs = qs.filter(person__employee_id=filters["person"])
    if filters.get("kind"):
        qs = qs.filter(kind=filters["kind"])
    if filters.get("period"):
        qs = qs.filter(period__label=filters["period"])
    if filters.get("corrections"):
        qs = qs.filter(is_correction=True)
    return qs.order_by("-credit_date", "id")


def crediting_rule_list() -> QuerySet[CreditingRule]:
    return CreditingRule.objects.order_by("priority", "id")


def crediting_rule_get(*, rule_id: int) -> CreditingRule:
    rule: CreditingRule | None = CreditingRule.objects.filter(pk=rule_id).first()
    if rule is None:
        raise NotFoundError("Crediting rule not found.")
    return rule


def fx_rate_list() -> QuerySet[FxRate]:
    return FxRate.objects.order_by("currency", "quote_currency", "-valid_on")


def fx_rate_on(*, currency: str, quote_currency: str, day: dt.date) -> FxRate | None:
    """Return the rate in force on ``day`` (the latest on or before it)."""
    return (
        FxRate.objects.filter(currency=currency, quote_currency=quote_currency, valid_on__lte=day)
        .order_by("-valid_on")
        .first()
    )


def kpi_value_list(*, metric: str | None = None, period: str | None = None) -> QuerySet[KpiValue]:
    qs = KpiValue.objects.known_now().select_related("person", "node", "period", "owner")
    if metric:
        qs = qs.filter(metric=metric)
    if period:
        qs = qs.filter(period__label=period)
    return qs.order_by("metric", "period__start", "subject_key")


def column_mapping_list() -> QuerySet[ColumnMapping]:
    return ColumnMapping.objects.order_by("name")
