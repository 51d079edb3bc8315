"""Every write of incentive data: ingest batches, FX rates, crediting rules, KPI sign-off.

Long work starts through ``*_start()`` services (:func:`ingest_start`,
:func:`credits_recalculate_start`), which let :func:`core.tasks.start` decide between inline
and a worker. Writes that move pay record their keys in the change feed (:mod:`core.changes`).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from core import imports
from core.audit import audit_record
from core.changes import ChangeKey, changes_record
from core.currencies import is_currency_code
from core.errors import ConflictError, NotFoundError, ValidationFailedError
from core.imports import COMMITTED, FINISHED, Reason
from core.models import ChangeKind, model_snapshot
from core.progress import progress_report
from core.tasks import Started, start, workers_configured
from core.tenancy import get_current_tenant
from incentives import bulk_ingest, ingest
from incentives.crediting import CreditSummary, credits_recompute
from incentives.models import (
    ColumnMapping,
    CreditingRule,
    FxRate,
    IngestBatch,
    IngestError,
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
FAILED_ERROR = (
    "The import stopped on an unexpected error ({error}); nothing was committed. "
    "Retry it: the same file commits exactly once."
)
logger = logging.getLogger(__name__)


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
    digest: str,
    size: int,
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
        content_sha256=digest,
        size_bytes=size,
        created_by_id=created_by_id,
        created_at=timezone.now(),
    )
    batch.full_clean()
    batch.save()
    return batch


def _queued(batch: IngestBatch) -> bool:
    """Return whether :func:`_dispatch` will hand ``batch`` to a worker (same rule as start())."""
    return batch.size_bytes > INLINE_MAX_BYTES and workers_configured()


# One audit event per import request: an import run in the request is recorded once, when it
# finishes (``ingest.finish``, or ``ingest.fail``); one handed to a worker is recorded when it
# is accepted (``ingest.create`` / ``ingest.retry``), and its worker records the finish.


def ingest_start(
    *, request: IngestRequest, data: bytes | Iterable[bytes], created_by_id: int | None
) -> IngestBatch:
    """Accept a CSV file (bytes or a stream of chunks, written to disk as it arrives and
    fingerprinted by its bytes); import it now when small, else hand it to a worker."""
    spooled = imports.spool([data] if isinstance(data, bytes) else data, upload_dir())
    try:
        with transaction.atomic():
            batch = _new_batch(
                request, created_by_id=created_by_id, digest=spooled.sha256, size=spooled.size
            )
            batch.rows_total = max(0, spooled.lines - 1)
            batch.save(update_fields=["rows_total"])
            spooled.path.rename(_upload_path(batch))
            if _queued(batch):
                audit_record(action="ingest.create", obj=batch, after=model_snapshot(batch))
    finally:
        spooled.path.unlink(missing_ok=True)
    return _dispatch(batch)


def _upload_path(batch: IngestBatch) -> Path:
    """Where a batch's file waits (kept after a failure, for a retry)."""
    return upload_dir() / f"{batch.pk}-{batch.content_sha256[:16]}.csv"


def _dispatch(batch: IngestBatch) -> IngestBatch:
    started = start(
        "incentives.tasks.ingest_execute_task",
        inline=lambda: ingest_execute(batch_id=batch.pk),
        background=batch.size_bytes > INLINE_MAX_BYTES,
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
    body = json.dumps(rows, sort_keys=True, default=str).encode()
    with transaction.atomic():
        batch = _new_batch(
            request,
            created_by_id=created_by_id,
            digest=imports.fingerprint(body),
            size=len(body),
        )
    return _guarded(batch, lambda: _run(batch, imports.JsonTable(rows)))


def ingest_execute(*, batch_id: int) -> IngestBatch:
    """Import a stored CSV upload (in the request, or in a worker), reporting progress.

    Runs once per attempt: a batch that is already finished is returned as it is (a task
    delivered twice), and any exception marks the batch ``failed`` (reason ``error``) in a
    transaction of its own, keeping the file for :func:`ingest_retry`."""
    batch: IngestBatch = IngestBatch.objects.get(pk=batch_id)
    if batch.status in FINISHED:
        return batch
    path = _upload_path(batch)

    def work() -> IngestBatch:
        with path.open("rb") as stream:
            try:
                table = imports.read_csv(stream)
            except imports.FileError as exc:
                return _finish_file_error(batch, exc)
            return _run(batch, table)

    done = _guarded(batch, work)
    if done.status != IngestStatus.FAILED or done.reason not in RETRYABLE:
        path.unlink(missing_ok=True)
    return done


RETRYABLE = frozenset({Reason.ERROR, Reason.WORKER_LOST})


def _guarded(batch: IngestBatch, work: Callable[[], IngestBatch]) -> IngestBatch:
    """Run ``work``; on any exception mark the batch failed apart from the rolled-back work."""
    try:
        return work()
    except Exception as exc:
        logger.exception("import %s failed", batch.pk)
        failed = ingest_batch_fail(
            batch_id=batch.pk,
            reason=Reason.ERROR,
            message=FAILED_ERROR.format(error=type(exc).__name__),
        )
        return failed or batch


def ingest_batch_fail(*, batch_id: int, reason: str, message: str) -> IngestBatch | None:
    """Mark an unfinished batch ``failed`` with ``reason``, in a transaction of its own (so
    it survives the rollback of the work that failed). Returns the batch, or None."""

    def mark() -> IngestBatch | None:
        batch: IngestBatch | None = (
            IngestBatch.objects.select_for_update().filter(pk=batch_id).first()
        )
        if batch is None or batch.status in FINISHED:
            return batch
        batch.status, batch.reason = IngestStatus.FAILED, reason
        batch.message = message[:500]
        batch.finished_at = timezone.now()
        batch.save(update_fields=["status", "reason", "message", "finished_at"])
        audit_record(action="ingest.fail", obj=batch, after={"reason": reason})
        return batch

    return imports.run_apart(mark)


WORKER_LOST = (
    "The import stopped: the process running it ({what}) went away; nothing was committed. "
    "Retry it: the same file commits exactly once."
)
NOT_RETRYABLE = "Only an import that failed on an error or a lost worker can be retried."
FILE_GONE = "The file of this import is no longer stored; upload it again."


def ingest_sweep(*, stale_seconds: int | None = None) -> int:
    """Mark the current tenant's imports whose process died as ``failed`` (``worker_lost``):
    validating ones whose heartbeat stopped ``stale_seconds`` ago, and pending ones that no
    worker picked up for ten times as long. Returns how many were marked."""
    stale = settings.INGEST_STALE_SECONDS if stale_seconds is None else stale_seconds
    now = timezone.now()
    validating = IngestBatch.objects.filter(
        status=IngestStatus.VALIDATING, heartbeat_at__lt=now - dt.timedelta(seconds=stale)
    ).values_list("pk", flat=True)
    pending = IngestBatch.objects.filter(
        status=IngestStatus.PENDING, created_at__lt=now - dt.timedelta(seconds=10 * stale)
    ).values_list("pk", flat=True)
    marked = 0
    for pk in list(validating):
        if ingest_batch_fail(
            batch_id=pk, reason=Reason.WORKER_LOST, message=WORKER_LOST.format(what="its worker")
        ):
            marked += 1
    for pk in list(pending):
        what = "no worker picked it up"
        if ingest_batch_fail(
            batch_id=pk, reason=Reason.WORKER_LOST, message=WORKER_LOST.format(what=what)
        ):
            marked += 1
    return marked


def ingest_retry(*, batch_id: int) -> IngestBatch:
    """Run a failed import again with its stored file (``error`` or ``worker_lost`` only: the
    failed attempt committed nothing, so the retry commits the file exactly once)."""
    with transaction.atomic():
        batch: IngestBatch | None = (
            IngestBatch.objects.select_for_update().filter(pk=batch_id).first()
        )
        if batch is None:
            raise NotFoundError("Import not found.")
        if batch.status != IngestStatus.FAILED or batch.reason not in RETRYABLE:
            raise ConflictError(NOT_RETRYABLE, code="not_retryable")
        if batch.source_format != "csv" or not _upload_path(batch).exists():
            raise ConflictError(FILE_GONE, code="file_gone")
        batch.status, batch.reason, batch.finished_at = IngestStatus.PENDING, Reason.NONE, None
        batch.message = ""
        batch.save(update_fields=["status", "reason", "finished_at", "message"])
        IngestError.objects.filter(batch=batch).delete()
        if _queued(batch):
            audit_record(action="ingest.retry", obj=batch, after={"attempts": batch.attempts})
    return _dispatch(batch)


HEARTBEAT_SECONDS = 5.0


def _report(batch: IngestBatch) -> Callable[[int], None]:
    """Return the import's progress callback: rows read so far, on the progress channel, and
    (outside a transaction: a request or a worker) the batch's heartbeat for the sweeper."""
    last = [time.monotonic()]

    def report(rows: int) -> None:
        progress_report(kind=INGEST_PROGRESS, object_id=batch.pk, done=rows, total=batch.rows_total)
        now = time.monotonic()
        if now - last[0] >= HEARTBEAT_SECONDS and not connection.in_atomic_block:
            last[0] = now
            IngestBatch.objects.filter(pk=batch.pk).update(heartbeat_at=timezone.now())

    return report


RATE_LIMIT = Decimal(10) ** (settings.RATE_MAX_DIGITS - settings.RATE_DECIMAL_PLACES)


def _small_import(
    rows: Callable[[imports.Chunk, imports.BoundMap, imports.Issues], list[Callable[[], str]]],
) -> Callable[..., imports.Outcome]:
    """An importer of small reference files (FX rates, crediting rules): the kernel reads and
    cleans, each valid row is written by its own service (audit, change feed) and counted by
    what it returns (``created``, ``new_version``, ``unchanged``), all in one transaction."""

    def run(
        *,
        batch: IngestBatch,
        table: imports.Table | imports.JsonTable,
        bound: imports.BoundMap,
        outcome: imports.Outcome,
        progress: Callable[[int], None] | None = None,
        finish: Callable[[imports.Outcome], None] | None = None,
    ) -> imports.Outcome:
        for key in ("created", "new_version", "unchanged"):
            outcome.counts.setdefault(key, 0)
        strict = batch.mode == IngestMode.ALL_OR_NOTHING
        try:
            with transaction.atomic():
                for chunk in table.chunks(ingest.CHUNK_ROWS):
                    outcome.counts["rows"] += chunk.rows
                    outcome.add_row_errors(chunk.errors)
                    issues = imports.Issues(chunk.lines)
                    writes = rows(chunk, bound, issues)
                    outcome.add_row_errors(issues.rows())
                    if batch.dry_run or (strict and outcome.error_rows):
                        continue
                    for write in writes:
                        outcome.counts[write()] += 1
                        outcome.changed += 1
                    if progress is not None:
                        progress(outcome.counts["rows"])
                if outcome.error_rows and strict:
                    raise imports.RollbackError
                if finish is not None:
                    finish(outcome)
        except imports.RollbackError:
            outcome.changed = 0
        return outcome

    return run


def _fx_rows(
    chunk: imports.Chunk, bound: imports.BoundMap, issues: imports.Issues
) -> list[Callable[[], str]]:
    name = bound.name
    col = imports.columns
    base = col.currency(
        bound.values(chunk, "currency"), column=name("currency"), issues=issues, required=True
    )
    quote = col.currency(
        bound.values(chunk, "quote_currency"),
        column=name("quote_currency"),
        issues=issues,
        required=True,
    )
    days = col.date(
        bound.values(chunk, "valid_on"),
        column=name("valid_on"),
        issues=issues,
        formats=bound.mapping.date_formats,
        required=True,
    )
    rates = col.decimal(
        bound.values(chunk, "rate"),
        column=name("rate"),
        issues=issues,
        scale=settings.RATE_DECIMAL_PLACES,
        limit=RATE_LIMIT,
        required=True,
        negative=False,
    )
    writes: list[Callable[[], str]] = []
    for i in range(len(chunk)):
        if base[i] and base[i] == quote[i]:
            issues.add(i, name("quote_currency"), "same_currency", SAME_CURRENCY, quote[i])
        rate = rates[i]
        if rate is not None and rate == 0:
            issues.add(i, name("rate"), "not_positive", NOT_POSITIVE, str(rate))
        if i in issues:
            continue
        writes.append(functools.partial(_fx_write, base[i], quote[i], days[i], rate))
    return writes


SAME_CURRENCY = "A rate needs two different currencies."
NOT_POSITIVE = "The rate must be greater than zero."
BAD_RULE = "Not a valid crediting rule: {error}"
BAD_JSON = "Not a JSON object."


def _fx_write(currency: str, quote: str, day: Any, rate: Any) -> str:
    existing = (
        FxRate.objects.filter(currency=currency, quote_currency=quote, valid_on=day)
        .values_list("rate", flat=True)
        .first()
    )
    if existing == rate:
        return "unchanged"
    fx_rate_set(currency=currency, quote_currency=quote, valid_on=day, rate=rate)
    return "created" if existing is None else "new_version"


def _rule_rows(
    chunk: imports.Chunk, bound: imports.BoundMap, issues: imports.Issues
) -> list[Callable[[], str]]:
    name = bound.name
    col = imports.columns
    names = col.text(
        bound.values(chunk, "name"),
        column=name("name"),
        issues=issues,
        max_length=100,
        required=True,
    )
    kinds = col.choice(
        bound.values(chunk, "kind"),
        column=name("kind"),
        issues=issues,
        choices=RuleKind.values,
        code="unknown_kind",
        required=True,
    )
    priorities = col.decimal(
        bound.values(chunk, "priority"),
        column=name("priority"),
        issues=issues,
        scale=0,
        limit=Decimal(2**31),
        negative=False,
    )
    starts = col.date(
        bound.values(chunk, "valid_from"),
        column=name("valid_from"),
        issues=issues,
        formats=bound.mapping.date_formats,
        required=True,
    )
    ends = col.date(
        bound.values(chunk, "valid_to"),
        column=name("valid_to"),
        issues=issues,
        formats=bound.mapping.date_formats,
    )
    tx_kinds = bound.values(chunk, "transaction_kinds")
    configs = bound.values(chunk, "config")
    writes: list[Callable[[], str]] = []
    for i in range(len(chunk)):
        config: Any = {}
        if configs[i]:
            try:
                config = json.loads(configs[i])
            except ValueError:
                config = None
            if not isinstance(config, dict):
                issues.add(i, name("config"), "bad_format", BAD_JSON, configs[i])
                continue
        kinds_list = [k.strip() for k in tx_kinds[i].split(";") if k.strip()]
        if kinds[i] and i not in issues:
            try:
                _check_rule(kinds[i], config)
            except ValidationFailedError as exc:
                issues.add(i, name("config"), "bad_rule", BAD_RULE.format(error=exc), configs[i])
        if i in issues:
            continue
        priority = priorities[i]
        fields = {
            "kind": kinds[i],
            "priority": 100 if priority is None else int(priority),
            "valid_from": starts[i],
            "valid_to": ends[i],
            "transaction_kinds": kinds_list,
            "config": config,
        }
        writes.append(functools.partial(_rule_write, names[i], fields))
    return writes


def _rule_write(name: str, fields: dict[str, Any]) -> str:
    rule = CreditingRule.objects.filter(name=name).first()
    if rule is None:
        crediting_rule_create(name=name, **fields)
        return "created"
    if all(getattr(rule, k) == v for k, v in fields.items()):
        return "unchanged"
    crediting_rule_update(rule_id=rule.pk, **fields)
    return "new_version"


IMPORTERS: dict[str, Callable[..., imports.Outcome]] = {
    IngestKind.TRANSACTIONS: bulk_ingest.import_transactions,
    IngestKind.KPI_VALUES: ingest.import_kpi_values,
    IngestKind.FX_RATES: _small_import(_fx_rows),
    IngestKind.CREDITING_RULES: _small_import(_rule_rows),
}


def _begin(batch: IngestBatch) -> None:
    now = timezone.now()
    batch.status, batch.started_at, batch.heartbeat_at = IngestStatus.VALIDATING, now, now
    batch.attempts += 1
    IngestBatch.objects.filter(pk=batch.pk).update(
        status=batch.status, started_at=now, heartbeat_at=now, attempts=batch.attempts
    )


def _finish_file_error(batch: IngestBatch, exc: imports.FileError) -> IngestBatch:
    outcome = imports.Outcome()
    outcome.fail_file(exc.errors)
    _begin(batch)
    return _record(batch, outcome, started=time.perf_counter())


def _run(batch: IngestBatch, table: imports.Table | imports.JsonTable) -> IngestBatch:
    _begin(batch)
    started = time.perf_counter()
    outcome = imports.Outcome()
    try:
        bound = ingest.bind_mapping(
            name=batch.mapping,
            kind=batch.kind,
            header=table.header,
            json_rows=isinstance(table, imports.JsonTable),
        )
    except imports.FileError as exc:
        outcome.fail_file(exc.errors)
    else:
        recorded: list[IngestBatch] = []

        def finish(done: imports.Outcome) -> None:  # in the import's own transaction
            recorded.append(_record(batch, done, started=started))

        IMPORTERS[batch.kind](
            batch=batch,
            table=table,
            bound=bound,
            outcome=outcome,
            progress=_report(batch),
            finish=finish,
        )
        if recorded:
            return recorded[0]
    return _record(batch, outcome, started=started)


class AbandonedImportError(RuntimeError):
    """The batch was marked failed while this attempt ran (its worker was presumed dead)."""


def _record(batch: IngestBatch, outcome: imports.Outcome, *, started: float) -> IngestBatch:
    """Write the outcome on the batch (and recompute new versions' credits).

    Runs in the import's own transaction when it committed rows (so the outcome and the data
    commit together), else in one of its own. An attempt whose batch is no longer
    ``validating`` (the sweeper failed it) raises, rolling its rows back: a batch commits once.
    """
    with transaction.atomic():
        current = IngestBatch.objects.select_for_update().filter(pk=batch.pk).first()
        if current is None or current.status != IngestStatus.VALIDATING:
            raise AbandonedImportError(f"import {batch.pk} is no longer validating")
        batch.status, batch.reason = outcome.status(mode=batch.mode, dry_run=batch.dry_run)
        committed = batch.status in COMMITTED
        batch.counts = {**outcome.counts, "committed": committed}
        batch.rows_total = batch.rows_processed = outcome.rows
        batch.error_count = outcome.error_rows
        batch.finished_at = timezone.now()
        batch.message = _message(batch, outcome)
        batch.save()
        ingest.store_errors(batch, outcome.errors)
        imported = time.perf_counter()
        credit_s = outcome.extra.get("credit_s", 0.0)
        if committed and outcome.changed and batch.kind == IngestKind.TRANSACTIONS:
            # New keys were credited during the import; keys that got a new version (or an
            # import that credited nothing itself) are recomputed here.
            inline: CreditSummary | None = outcome.extra.get("credits")
            written = inline.credits_written if inline else 0
            corrections = inline.corrections_written if inline else 0
            if inline is None or outcome.extra.get("recredit"):
                more = credits_recompute(batch_id=batch.pk, only_new_versions=inline is not None)
                written += more.credits_written
                corrections += more.corrections_written
            batch.counts["credits_written"] = written
            batch.counts["corrections"] = corrections
        batch.counts["timings"] = {
            "import_s": round(imported - started - credit_s, 3),
            "credit_s": round(time.perf_counter() - imported + credit_s, 3),
            "phases": outcome.phases.as_dict(),
        }
        batch.save(update_fields=["counts"])
        audit_record(
            action="ingest.finish",
            obj=batch,
            after={
                "status": batch.status,
                "reason": batch.reason,
                "counts": batch.counts,
                "attempts": batch.attempts,
            },
        )
    return batch


def _message(batch: IngestBatch, outcome: imports.Outcome) -> str:
    c = outcome.counts
    if outcome.file_error:
        first = outcome.errors[0].message if outcome.errors else "The file cannot be read."
        return f"The file cannot be imported: {first}"[:500]
    good = (
        f"{c.get('created', 0)} new, {c.get('new_version', 0)} changed, "
        f"{c.get('unchanged', 0)} unchanged"
    )
    if batch.dry_run:
        return f"Dry run: {good}; {outcome.error_rows} rows with errors. Nothing was written."
    if batch.status == IngestStatus.FAILED:
        return (
            f"{outcome.error_rows} of {c['rows']} rows "
            f"{'has' if outcome.error_rows == 1 else 'have'} errors; nothing was committed "
            "(all-or-nothing). Fix them, or import in partial mode."
            if batch.reason == Reason.ROW_ERRORS
            else f"None of the {c['rows']} rows could be committed; see the errors."
        )
    if batch.status == IngestStatus.COMMITTED_WITH_ERRORS:
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
    from incentives.mappings import FIELDS

    if kind not in IngestKind.values:
        raise ValidationFailedError(f"Unknown kind {kind!r}.", code="unknown_kind")
    known = FIELDS[kind]
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


@transaction.atomic
def credits_recalculate_start(*, transaction_ids: list[int] | None = None) -> Started:
    """Recompute some transactions' credits now, or every credit of the tenant in a worker
    (when one is configured: a tenant can hold millions of transactions)."""
    background = transaction_ids is None
    if background and workers_configured():
        # The request's one event; the worker's recalculation records its own when it ends.
        audit_record(
            action="credits.recalculate_queued",
            object_type="incentives.credit",
            after={"transactions": "all"},
        )
    return start(
        "incentives.tasks.credits_recalculate_task",
        inline=lambda: credits_recalculate(transaction_ids=transaction_ids),
        background=background,
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
