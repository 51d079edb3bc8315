"""Every write of incentive data: ingest batches, FX rates, crediting rules, KPI sign-off.

Long work starts through ``*_start()`` services (:func:`ingest_start`,
:func:`credits_recalculate_start`), which let :func:`core.tasks.start` decide between inline
and a worker. Writes that move pay record their keys in the change feed (:mod:`core.changes`).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.audit import audit_record
from core.changes import ChangeKey, changes_record
from core.currencies import is_currency_code
from core.errors import ConflictError, NotFoundError, ValidationFailedError
from core.models import ChangeKind, model_snapshot
from core.progress import progress_report
from core.tasks import Started, start
from core.tenancy import get_current_tenant
from incentives import bulk_ingest, ingest
from incentives.crediting import CreditSummary, credits_recompute
from incentives.models import (
    ColumnMapping,
    CreditingRule,
    FxRate,
    IngestBatch,
    IngestKind,
    IngestMode,
    IngestStatus,
    KpiStatus,
    KpiValue,
    RuleKind,
)
from incentives.selectors import INGEST_PROGRESS

# Files up to this size are processed inside the request (fast feedback); larger ones by a
# worker, with progress. Measured: ~5 MB of transactions validate + commit in about 3 s here.
INLINE_MAX_BYTES = 5 * 1024 * 1024
UNKNOWN_MAPPING = "Unknown column mapping {name!r}."


def upload_dir() -> Path:
    """Return where uploaded files wait for a worker."""
    path = Path(settings.VAR_DIR) / "uploads" / str(get_current_tenant().pk)
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True)
class IngestRequest:
    kind: str
    source_format: str
    mode: str = IngestMode.ALL_OR_NOTHING
    dry_run: bool = False
    mapping: str = ""
    filename: str = ""


def _new_batch(
    request: IngestRequest,
    *,
    created_by_id: int | None,
    data: bytes = b"",
    digest: str | None = None,
    size: int | None = None,
) -> IngestBatch:
    if request.kind not in IngestKind.values:
        raise ValidationFailedError(f"Unknown kind {request.kind!r}.", code="unknown_kind")
    if request.mode not in IngestMode.values:
        raise ValidationFailedError(f"Unknown mode {request.mode!r}.", code="unknown_mode")
    try:
        ingest.resolve_mapping(request.mapping, request.kind)
    except ingest.MappingError:
        raise ValidationFailedError(
            UNKNOWN_MAPPING.format(name=request.mapping), code="unknown_mapping"
        ) from None
    batch = IngestBatch(
        kind=request.kind,
        source_format=request.source_format,
        filename=request.filename[:255],
        mapping=request.mapping,
        mode=request.mode,
        dry_run=request.dry_run,
        status=IngestStatus.PENDING,
        content_sha256=digest if digest is not None else hashlib.sha256(data).hexdigest(),
        size_bytes=size if size is not None else len(data),
        created_by_id=created_by_id,
        created_at=timezone.now(),
    )
    batch.full_clean()
    batch.save()
    audit_record(action="ingest.create", obj=batch, after=model_snapshot(batch))
    return batch


def ingest_start(
    *, request: IngestRequest, data: bytes | Iterable[bytes], created_by_id: int | None
) -> IngestBatch:
    """Accept a CSV file (bytes or a stream of chunks, written to disk as it arrives); import
    it now when small, else hand it to a worker that reports progress."""
    chunks = [data] if isinstance(data, bytes) else data
    digest, size, lines = hashlib.sha256(), 0, 0
    staging = upload_dir() / f"incoming-{uuid.uuid4().hex}.csv"
    with staging.open("wb") as out:
        for chunk in chunks:
            out.write(chunk)
            digest.update(chunk)
            size += len(chunk)
            lines += chunk.count(b"\n")
    try:
        with transaction.atomic():
            batch = _new_batch(
                request, created_by_id=created_by_id, digest=digest.hexdigest(), size=size
            )
            batch.rows_total = max(0, lines - 1)
            batch.save(update_fields=["rows_total"])
            staging.rename(upload_dir() / f"{batch.pk}.csv")
    finally:
        staging.unlink(missing_ok=True)
    started = start(
        "incentives.tasks.ingest_execute_task",
        inline=lambda: ingest_execute(batch_id=batch.pk),
        background=size > INLINE_MAX_BYTES,
        batch_id=batch.pk,
    )
    if started.queued:
        batch.refresh_from_db()
        return batch
    done: IngestBatch = started.result
    return done


def ingest_rows(
    *, request: IngestRequest, rows: list[dict[str, Any]], created_by_id: int | None
) -> IngestBatch:
    """Ingest a JSON bulk request (already size-capped by the API) right away."""
    import json

    with transaction.atomic():
        batch = _new_batch(
            request,
            created_by_id=created_by_id,
            data=json.dumps(rows, sort_keys=True, default=str).encode(),
        )
    return _run(batch, header=None, records=ingest.json_records(rows))


def ingest_execute(*, batch_id: int) -> IngestBatch:
    """Import a stored CSV upload (in the request, or in a worker), reporting progress."""
    batch: IngestBatch = IngestBatch.objects.get(pk=batch_id)
    if batch.status not in (IngestStatus.PENDING, IngestStatus.RUNNING):
        return batch  # already done: a redelivered task has nothing left to do
    path = upload_dir() / f"{batch.pk}.csv"
    with path.open("rb") as stream:
        header, records = ingest.csv_records(stream)
        batch = _run(batch, header=header, records=records)
    path.unlink(missing_ok=True)
    return batch


def _report(batch: IngestBatch) -> Callable[[int], None]:
    """Return the import's progress callback: rows read so far, on the progress channel."""

    def report(rows: int) -> None:
        progress_report(kind=INGEST_PROGRESS, object_id=batch.pk, done=rows, total=batch.rows_total)

    return report


def _import(batch: IngestBatch, *, header: list[str] | None, records: Any) -> ingest.Outcome:
    """Validate and commit ``records``: transactions by the fast path, KPI values by theirs."""
    outcome = ingest.Outcome()
    mapping = ingest.resolve_mapping(batch.mapping, batch.kind)
    reverse = ingest.columns_for(kind=batch.kind, header=header, mapping=mapping, outcome=outcome)
    if reverse is None:
        return outcome
    run: Callable[..., ingest.Outcome] = ingest.import_kpi_values
    if batch.kind != IngestKind.KPI_VALUES:
        run = functools.partial(bulk_ingest.import_transactions, header=header)
    return run(
        batch=batch,
        records=records,
        mapping=mapping,
        reverse=reverse,
        outcome=outcome,
        progress=_report(batch),
    )


def _run(batch: IngestBatch, *, header: list[str] | None, records: Any) -> IngestBatch:
    IngestBatch.objects.filter(pk=batch.pk).update(status=IngestStatus.RUNNING)
    started = time.perf_counter()
    outcome = _import(batch, header=header, records=records)
    with transaction.atomic():
        batch.status = ingest.final_status(batch, outcome)
        committed = batch.status in (IngestStatus.SUCCEEDED, IngestStatus.PARTIAL)
        batch.counts = {**outcome.counts, "committed": committed}
        batch.rows_total = batch.rows_processed = outcome.counts["rows"]
        batch.error_count = outcome.error_rows
        batch.finished_at = timezone.now()
        batch.message = _message(batch, outcome)
        batch.save()
        ingest.store_errors(batch, outcome.errors)
        imported = time.perf_counter()
        if committed and outcome.changed:
            # New keys were credited during the import; keys that got a new version (or an
            # import that credited nothing itself) are recomputed here.
            inline: CreditSummary | None = outcome.credits
            written = inline.credits_written if inline else 0
            corrections = inline.corrections_written if inline else 0
            if inline is None or outcome.recredit:
                more = credits_recompute(batch_id=batch.pk, only_new_versions=inline is not None)
                written += more.credits_written
                corrections += more.corrections_written
            batch.counts["credits_written"] = written
            batch.counts["corrections"] = corrections
        batch.counts["timings"] = {
            "import_s": round(imported - started - outcome.credit_s, 3),
            "credit_s": round(time.perf_counter() - imported + outcome.credit_s, 3),
        }
        batch.save(update_fields=["counts"])
        audit_record(
            action="ingest.finish",
            obj=batch,
            after={"status": batch.status, "counts": batch.counts},
        )
    return batch


def _message(batch: IngestBatch, outcome: ingest.Outcome) -> str:
    c = outcome.counts
    good = f"{c['created']} new, {c['new_version']} changed, {c['unchanged']} unchanged"
    if batch.dry_run:
        return f"Dry run: {good}; {outcome.error_rows} rows with errors. Nothing was written."
    if batch.status == IngestStatus.FAILED:
        return (
            f"{outcome.error_rows} of {c['rows']} rows have errors; nothing was committed "
            "(all-or-nothing). Fix them, or import in partial mode."
        )
    if batch.status == IngestStatus.PARTIAL:
        return f"Committed the good rows ({good}); {outcome.error_rows} rows were skipped."
    return f"Committed: {good}."


@transaction.atomic
def fx_rate_set(*, currency: str, quote_currency: str, valid_on: Any, rate: Any) -> FxRate:
    """Record (or correct) one FX rate for a day."""
    for code in (currency, quote_currency):
        if not is_currency_code(code):
            raise ValidationFailedError(
                f"{code!r} is not an ISO 4217 currency.", code="unknown_currency"
            )
    if currency == quote_currency:
        raise ValidationFailedError("A rate needs two different currencies.", code="same_currency")
    existing = FxRate.objects.filter(
        currency=currency, quote_currency=quote_currency, valid_on=valid_on
    ).first()
    before = model_snapshot(existing) if existing else None
    fx = existing or FxRate(
        currency=currency, quote_currency=quote_currency, valid_on=valid_on, rate=rate
    )
    fx.rate = rate
    fx.full_clean()
    fx.save()
    changes_record(kind=ChangeKind.FX_RATE, keys=[_fx_change_key(fx)])
    audit_record(action="fx_rate.set", obj=fx, before=before, after=model_snapshot(fx))
    return fx


def _fx_change_key(fx: FxRate) -> ChangeKey:
    """Return the whole tenant over the days the rate is in force: from its day until the
    next rate of the pair, in either direction (``incentives.fx.rate_on`` reads both)."""
    pair = [(fx.currency, fx.quote_currency), (fx.quote_currency, fx.currency)]
    later: dt.date | None = None
    for currency, quote in pair:
        day = (
            FxRate.objects.filter(currency=currency, quote_currency=quote, valid_on__gt=fx.valid_on)
            .order_by("valid_on")
            .values_list("valid_on", flat=True)
            .first()
        )
        if day is not None and (later is None or day < later):
            later = day
    return ChangeKey(valid_from=fx.valid_on, valid_to=later)


@transaction.atomic
def column_mapping_save(
    *, name: str, kind: str, columns: dict[str, str], defaults: dict[str, str] | None = None
) -> ColumnMapping:
    """Save (or replace) a named mapping of a file's columns to Quotient's fields."""
    from incentives.mappings import KPI_FIELDS, TRANSACTION_FIELDS

    if kind not in IngestKind.values:
        raise ValidationFailedError(f"Unknown kind {kind!r}.", code="unknown_kind")
    known = KPI_FIELDS if kind == IngestKind.KPI_VALUES else TRANSACTION_FIELDS
    unknown = sorted(
        {
            f
            for f in [*columns.values(), *(defaults or {})]
            if f not in known and not f.startswith("attr_")
        }
    )
    if unknown:
        raise ValidationFailedError(
            f"Unknown field(s): {', '.join(unknown)}.",
            code="unknown_field",
            details={"fields": unknown, "known": sorted(known)},
        )
    mapping = ColumnMapping.objects.filter(name=name).first()
    before = model_snapshot(mapping) if mapping else None
    mapping = mapping or ColumnMapping(name=name)
    mapping.kind, mapping.columns, mapping.defaults = kind, columns, defaults or {}
    mapping.full_clean()
    mapping.save()
    audit_record(
        action="column_mapping.save", obj=mapping, before=before, after=model_snapshot(mapping)
    )
    return mapping


def _check_rule(kind: str, config: dict[str, Any]) -> None:
    """Refuse a rule config the engine cannot apply: one message naming the path."""
    from engine.crediting import CreditingError, validate_rule_config

    if kind not in RuleKind.values:
        raise ValidationFailedError(f"Unknown rule kind {kind!r}.", code="unknown_rule_kind")
    try:
        validate_rule_config(kind, config, "config")
    except CreditingError as exc:
        message = str(exc)
        path = message.split(":", 1)[0]
        raise ValidationFailedError(
            f"{message}.", code="bad_rule_config", details={"path": path}
        ) from None


@transaction.atomic
def crediting_rule_create(
    *,
    name: str,
    kind: str,
    priority: int,
    valid_from: Any,
    valid_to: Any = None,
    transaction_kinds: list[str] | None = None,
    config: dict[str, Any] | None = None,
) -> CreditingRule:
    """Create a crediting rule."""
    config = config or {}
    _check_rule(kind, config)
    if CreditingRule.objects.filter(name=name).exists():
        raise ConflictError("A crediting rule with this name exists.", code="duplicate_name")
    rule = CreditingRule(
        name=name,
        kind=kind,
        priority=priority,
        valid_from=valid_from,
        valid_to=valid_to,
        transaction_kinds=transaction_kinds or [],
        config=config,
    )
    rule.full_clean()
    rule.save()
    audit_record(action="crediting_rule.create", obj=rule, after=model_snapshot(rule))
    return rule


@transaction.atomic
def crediting_rule_update(*, rule_id: int, **changes: Any) -> CreditingRule:
    """Change a rule; its version goes up, so credits say which version made them."""
    rule: CreditingRule | None = (
        CreditingRule.objects.select_for_update().filter(pk=rule_id).first()
    )
    if rule is None:
        raise NotFoundError("Crediting rule not found.")
    before = model_snapshot(rule)
    for name, value in changes.items():
        setattr(rule, name, value)
    _check_rule(rule.kind, rule.config)
    rule.version += 1
    rule.full_clean()
    rule.save()
    audit_record(
        action="crediting_rule.update", obj=rule, before=before, after=model_snapshot(rule)
    )
    return rule


@transaction.atomic
def credits_recalculate(*, transaction_ids: list[int] | None = None) -> CreditSummary:
    """Recompute credits (all current transactions, or some) after rules changed."""
    summary = credits_recompute(transaction_ids=transaction_ids)
    audit_record(
        action="credits.recalculate",
        object_type="incentives.credit",
        after={
            "transactions": summary.transactions,
            "written": summary.credits_written,
            "corrections": summary.corrections_written,
            "superseded": summary.superseded,
            "conflicts": len(summary.conflicts),
        },
    )
    return summary


def credits_recalculate_start(*, transaction_ids: list[int] | None = None) -> Started:
    """Recompute some transactions' credits now, or every credit of the tenant in a worker
    (when one is configured: a tenant can hold millions of transactions)."""
    return start(
        "incentives.tasks.credits_recalculate_task",
        inline=lambda: credits_recalculate(transaction_ids=transaction_ids),
        background=transaction_ids is None,
    )


@transaction.atomic
def kpi_value_sign_off(*, kpi_value_id: int, user_id: int) -> KpiValue:
    """Sign off a draft KPI value (its owner or a comp admin)."""
    kpi: KpiValue | None = (
        KpiValue.objects.select_for_update().known_now().filter(pk=kpi_value_id).first()
    )
    if kpi is None:
        raise NotFoundError("KPI value not found.")
    if kpi.status == KpiStatus.SIGNED_OFF:
        return kpi
    before = model_snapshot(kpi)
    kpi.status = KpiStatus.SIGNED_OFF
    kpi.signed_off_by_id = user_id
    kpi.signed_off_at = timezone.now()
    kpi.save(update_fields=["status", "signed_off_by", "signed_off_at"])
    period = kpi.period
    changes_record(
        kind=ChangeKind.KPI_VALUE, keys=[ingest.kpi_change_key(kpi, period.start, period.end)]
    )
    audit_record(action="kpi_value.sign_off", obj=kpi, before=before, after=model_snapshot(kpi))
    return kpi
