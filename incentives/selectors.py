"""Reads of incentive data, always within the current tenant."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from core.changes import month_of
from core.errors import NotFoundError
from core.progress import progress_get
from hierarchy.access import Access
from hierarchy.models import Person
from incentives.models import (
    ColumnMapping,
    Credit,
    CreditingRule,
    CreditKind,
    CreditRollup,
    FxRate,
    IngestBatch,
    IngestError,
    KpiValue,
    RuleKind,
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
    nodes on the credit date; an employee her own; a manager her team's on the credit date),
    current unless ``history``, with who, which rule, which deal."""
    return access.rows_about_own_earnings(
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


# --- roll-ups: stored totals, and whose credits reached a manager (computed when read) ---------


def credit_rollup_list(
    *, access: Access, filters: dict[str, Any] | None = None
) -> QuerySet[CreditRollup]:
    """Return the current roll-up totals ``access`` may read (a node-scoped admin: of managers
    inside their nodes on the total's day), filtered by person and days."""
    visible = access.rows_about_visible_people(
        credit_rollup_matching(filters=filters), day="credit_date"
    )
    return visible.order_by(
        "-credit_date", "person_id", "transaction_kind", "region", "product", "id"
    )


def credit_rollup_matching(*, filters: dict[str, Any] | None = None) -> QuerySet[CreditRollup]:
    """Return the tenant's current roll-up totals matching ``filters`` (callers narrow it to
    what a principal may read, as :func:`credit_rollup_list` does)."""
    filters = filters or {}
    qs = CreditRollup.objects.known_now().select_related("person", "rule", "period")
    if filters.get("person"):
        qs = qs.filter(person__employee_id=filters["person"])
    if filters.get("person_id"):
        qs = qs.filter(person_id=filters["person_id"])
    if filters.get("date_from"):
        qs = qs.filter(credit_date__gte=filters["date_from"])
    if filters.get("date_to"):
        qs = qs.filter(credit_date__lt=filters["date_to"])
    return qs


@dataclass(frozen=True)
class RollupReach:
    """One credit that reached a manager's roll-up: whose it is, how many levels below."""

    credit: Credit
    rule: CreditingRule
    level: int


def _rollup_rules() -> list[CreditingRule]:
    return list(
        CreditingRule.objects.filter(is_active=True, kind=RuleKind.ROLLUP).order_by(
            "priority", "id"
        )
    )


def rollup_reach(*, access: Access, manager: Person, month: dt.date) -> list[RollupReach]:
    """Return the revenue credits of ``month`` that rolled up to ``manager``, as ``access`` may
    read them: the people below the manager in each roll-up rule's org as of the month's
    first day (as known now), and their current direct and split credits of that month."""
    from engine import crediting as engine_crediting
    from incentives.crediting import rollup_orgs, rule_spec

    start, end = month_of(month)
    out: list[RollupReach] = []
    revenue = [r.pk for r in CreditingRule.objects.all() if r.family == "revenue"]
    for rule in _rollup_rules():
        orgs = rollup_orgs(rule, [start], timezone.now())
        if start not in orgs:
            continue
        pairs = engine_crediting.rollup_pairs(*orgs[start])
        below = pairs[pairs["manager_id"] == str(manager.pk)]
        levels = dict(zip(below["person_id"].astype(int), below["level"].astype(int), strict=True))
        if not levels:
            continue
        spec = rule_spec(rule)
        credits = credit_list(access=access).filter(
            person_id__in=list(levels),
            rule_id__in=revenue,
            kind__in=(CreditKind.DIRECT, CreditKind.SPLIT),
            credit_date__gte=start,
            credit_date__lt=end,
        )
        for credit in credits:
            if spec.transaction_kinds and credit.transaction.kind not in spec.transaction_kinds:
                continue
            if not _in_force(rule, credit.credit_date):
                continue
            out.append(RollupReach(credit, rule, levels[credit.person_id]))
    return sorted(out, key=lambda r: (r.credit.credit_date, r.credit.person_id, r.credit.pk))


def _in_force(rule: CreditingRule, day: dt.date) -> bool:
    return rule.valid_from <= day and (rule.valid_to is None or day < rule.valid_to)


@dataclass(frozen=True)
class RollupReached:
    """A manager a credit of a transaction reached, through which member."""

    manager: Person
    credit: Credit
    rule: CreditingRule
    level: int


def transaction_rollups_reached(*, access: Access, credits: list[Credit]) -> list[RollupReached]:
    """Return the managers the transaction's revenue ``credits`` rolled up to, worked out now
    from each roll-up rule's org as of the credit's month; managers ``access`` may not see
    are left out."""
    from engine import crediting as engine_crediting
    from incentives.crediting import rollup_orgs

    revenue = {r.pk for r in CreditingRule.objects.all() if r.family == "revenue"}
    base = [
        c
        for c in credits
        if c.rule_id in revenue and c.kind in (CreditKind.DIRECT, CreditKind.SPLIT)
    ]
    out: list[RollupReached] = []
    now = timezone.now()
    cache: dict[tuple[Any, ...], Any] = {}
    for rule in _rollup_rules():
        for credit in base:
            if not _in_force(rule, credit.credit_date):
                continue
            if rule.transaction_kinds and credit.transaction.kind not in rule.transaction_kinds:
                continue
            start, end = month_of(credit.credit_date)
            orgs = rollup_orgs(rule, [start], now, cache)
            if start not in orgs:
                continue
            pairs = engine_crediting.rollup_pairs(*orgs[start])
            above = pairs[pairs["person_id"] == str(credit.person_id)]
            ids = dict(
                zip(above["manager_id"].astype(int), above["level"].astype(int), strict=True)
            )
            visible = access.people(start=start, end=end).filter(pk__in=list(ids))
            out += [RollupReached(m, credit, rule, ids[m.pk]) for m in visible]
    return sorted(out, key=lambda r: (r.credit.pk, r.level, r.manager.pk))
