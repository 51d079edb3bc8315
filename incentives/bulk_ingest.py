"""The fast path of transaction imports: chunked validation, set-based writes, inline credits.

The import service hands transaction imports here (:func:`import_transactions`; KPI values
take :func:`incentives.ingest.import_kpi_values`). The contract is the one of
:mod:`incentives.ingest` (same errors, counts, versions, modes); what differs is how the work
is done, set-based and chunked (where a million rows' time goes: docs/imports.md):

* **Validation per chunk.** The import kernel (:mod:`core.imports`) reads the file as chunks
  of column arrays; :class:`TransactionValidator` cleans each column in one pass with the
  kernel's typed cleaners (amounts exact, as Decimal and int64 ten-thousandths, never float)
  and builds the chunk's valid rows; every problem is a kernel :class:`RowError`.
* **Inline credits.** A key that has no current version yet (every key of a first import) has
  no credits either, so its credits are computed from the chunk in hand by
  :func:`incentives.crediting.credit_frame` and written with it, instead of re-reading the
  whole import afterwards. Keys that got a new version are recomputed after the import by
  :func:`incentives.crediting.credits_recompute` (their old credits must be superseded).
* **Set-based writes on PostgreSQL.** Each chunk is one ``COPY`` into a temporary table and
  one ``INSERT … SELECT`` (row-level security applies to the INSERT), transactions and their
  credits together; ids come from the sequence as the rows are copied, and credits find their
  transaction by its position in the chunk. The two tables' foreign keys are checked once per
  statement by triggers (``core.db.SetBasedForeignKeys``, not once per row and key). The
  writes run on a thread of their own, so PostgreSQL inserts, maintains indexes and checks
  keys while Python validates the next chunk. Everything stays one database transaction.
* **The change feed, set-based.** The importing thread collects the people and months of each
  chunk's credits (:class:`core.changes.MonthKeys`); when the import ends the writer copies
  them into a temporary table and one ``INSERT … SELECT`` records them in the change feed: one
  row per person and month, in the import's transaction (:mod:`core.changes`).
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import functools
import hashlib
import io
import json
import operator
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
import pandas as pd
from django.db import connection, transaction
from django.utils import timezone

from core.changes import (
    ChangeKey,
    MonthKeys,
    changes_record,
    changes_record_select,
    month_keys,
)
from core.db import copy_text
from core.imports import (
    BoundMap,
    Chunk,
    ImportMode,
    Issues,
    JsonTable,
    Outcome,
    Phases,
    RollbackError,
    RowError,
    Table,
    columns,
    gc_paused,
)
from core.models import ChangeKind
from incentives.crediting import (
    CreditContext,
    CreditSummary,
    Wanted,
    credit_columns,
    credit_frame,
    rollups_recompute,
    write_corrections,
)
from incentives.ingest import Lookups
from incentives.models import NEGATIVE_KINDS, IngestBatch, Transaction, TransactionKind

CHUNK_ROWS = 20_000  # ~0.2 s of validation and one COPY + INSERT per chunk

KINDS = frozenset(TransactionKind.values)
UNKNOWN_KIND = f"Use one of {', '.join(TransactionKind.values)}."
CURRENCY_DECIMALS = "The currency has {scale} decimal places."
NEGATIVE_AMOUNT = "Negative amounts are allowed only for churn."
PERIOD_LOCKED = "{label} is closed and its data lock is in force."
UNKNOWN_EMPLOYEE = "No person with this employee id."
UNKNOWN_EMAIL = "No person with this e-mail."
UNKNOWN_STATUS = "Use 'cancelled' or leave empty."
PARTS = "Each entry needs {parts} parts separated by ':'."
DUPLICATE = "Duplicate of line {first} in this file."
_STATUSES = frozenset({"", "active", "won", "cancelled", "canceled"})
_CANCELLED = frozenset({"cancelled", "canceled"})

# The fields of one valid row: those of parse_transaction plus what writing and crediting
# need. (line, source, external_id, kind, amount text, amount e4, currency, quantity text,
# booked_on, closed_on, collected_on, owner_id, account, product, region, touches,
# is_cancelled, attributes, content_hash, touches JSON)
(
    G_LINE,
    G_SOURCE,
    G_EXT,
    G_KIND,
    G_AMOUNT,
    G_E4,
    G_CURRENCY,
    G_QUANTITY,
    G_BOOKED,
    G_CLOSED,
    G_COLLECTED,
    G_OWNER,
    G_ACCOUNT,
    G_PRODUCT,
    G_REGION,
    G_TOUCHES,
    G_CANCELLED,
    G_ATTRIBUTES,
    G_HASH,
    G_TOUCHES_JSON,  # the touches as JSON (sorted keys), "" when there are none
) = range(20)
_NO_TOUCHES: list[dict[str, Any]] = []  # shared by the rows without any (never mutated)


@dataclass
class Good:
    """A chunk's valid rows, kept column by column (``cols[G_…]``) from validation to the
    COPY text: filtering takes from each column, nothing is zipped into rows and back
    (transposing a chunk of 20,000 rows each way was ~27 ms, ~1.4 s a million rows)."""

    cols: list[list[Any]]

    def __len__(self) -> int:
        return len(self.cols[G_LINE])

    def take(self, keep: list[int]) -> Good:
        """The rows at the indexes ``keep`` (in that order)."""
        if len(keep) == len(self):
            return self
        if not keep:
            return Good([[] for _ in self.cols])
        pick = operator.itemgetter(*keep)
        if len(keep) == 1:
            return Good([[pick(c)] for c in self.cols])
        return Good([list(pick(c)) for c in self.cols])

    def rows(self) -> list[tuple[Any, ...]]:
        return list(zip(*self.cols, strict=True))


def _hash(parts: tuple[str, ...]) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True) if value else ""


def _texts(values: list[Any]) -> list[str]:
    """``str`` of each value, each distinct value rendered once (dates, ids, flags, None;
    never Decimals, whose equal values render differently)."""
    rendered = {v: str(v) for v in set(values)}
    return list(map(rendered.__getitem__, values))


class TransactionValidator:
    """Validate transaction chunks column by column with the kernel's cleaners."""

    def __init__(self, bound: BoundMap, lookups: Lookups) -> None:
        self.bound = bound
        self.lookups = lookups
        self.formats = bound.mapping.date_formats
        self.attr_columns = bound.prefixed("attr_")
        self.locked: dict[dt.date, str | None] = {}

    def _locked(self, day: dt.date) -> str | None:
        if day not in self.locked:
            self.locked[day] = self.lookups.locked_period(day)
        return self.locked[day]

    def validate(self, chunk: Chunk, issues: Issues) -> Good:
        """Return the chunk's valid rows (errors of the others go to ``issues``)."""
        bound, lookups = self.bound, self.lookups
        name = bound.name

        def values(field_: str) -> list[str]:
            return bound.values(chunk, field_)

        people = lookups.people_by_employee_id
        ext = columns.text(
            values("external_id"),
            column=name("external_id"),
            issues=issues,
            max_length=100,
            required=True,
        )
        kinds = columns.choice(
            values("kind"),
            column=name("kind"),
            issues=issues,
            choices=KINDS,
            code="unknown_kind",
            message=UNKNOWN_KIND,
            required=True,
        )
        currencies = columns.currency(
            values("currency"), column=name("currency"), issues=issues, required=True
        )
        amounts = columns.decimal(
            values("amount"),
            column=name("amount"),
            issues=issues,
            scale=columns.exponents(currencies),
            scale_message=CURRENCY_DECIMALS,
            required=True,
        )
        for i, amount in enumerate(amounts):
            if amount is not None and amount < 0 and kinds[i] not in NEGATIVE_KINDS:
                issues.add(i, name("amount"), "negative_amount", NEGATIVE_AMOUNT, str(amount))
        quantities = columns.decimal(values("quantity"), column=name("quantity"), issues=issues)
        today = lookups.today
        booked = columns.date(
            values("booked_on"),
            column=name("booked_on"),
            issues=issues,
            formats=self.formats,
            required=True,
            not_after=today,
        )
        if lookups.closed_periods:
            for i, day in enumerate(booked):
                if day is not None:
                    label = self._locked(day)
                    if label:
                        issues.add(
                            i,
                            name("booked_on"),
                            "period_locked",
                            PERIOD_LOCKED.format(label=label),
                            day.isoformat(),
                        )
        closed = columns.date(
            values("closed_on"),
            column=name("closed_on"),
            issues=issues,
            formats=self.formats,
            not_after=today,
        )
        collected = columns.date(
            values("collected_on"),
            column=name("collected_on"),
            issues=issues,
            formats=self.formats,
            not_after=today,
        )
        employee_ids = values("owner_employee_id")
        owners = columns.reference(
            employee_ids,
            column=name("owner_employee_id"),
            issues=issues,
            lookup=people,
            message=UNKNOWN_EMPLOYEE,
        )
        if bound.has("owner_email"):
            by_email = lookups.people_by_email
            for i, email in enumerate(values("owner_email")):
                if email and not employee_ids[i]:
                    pk = by_email.get(email.lower())
                    if pk is None:
                        issues.add(
                            i, name("owner_email"), "unknown_person", UNKNOWN_EMAIL, email.lower()
                        )
                    owners[i] = pk
        statuses = columns.choice(
            [v.lower() for v in values("status")],
            column=name("status"),
            issues=issues,
            choices=_STATUSES,
            code="unknown_status",
            message=UNKNOWN_STATUS,
        )
        accounts = columns.text(
            values("account"), column=name("account"), issues=issues, max_length=200
        )
        products = columns.text(
            values("product"), column=name("product"), issues=issues, max_length=200
        )
        regions = columns.text(
            values("region"), column=name("region"), issues=issues, max_length=100
        )
        sources = columns.text(
            values("source"), column=name("source"), issues=issues, max_length=50
        )
        touches: list[list[dict[str, Any]]] = [_NO_TOUCHES] * len(chunk)
        if bound.has("splits"):
            for i, text_ in enumerate(values("splits")):
                if text_:
                    touches[i] = self._splits(i, text_, issues)
        if bound.has("touches"):
            for i, text_ in enumerate(values("touches")):
                if text_:
                    touches[i] = touches[i] + self._touches(i, text_, issues)
        attributes: list[dict[str, str]] = [{}] * len(chunk)
        if self.attr_columns:
            attr = [(h[5:], chunk.columns[j]) for h, j in self.attr_columns]
            attributes = [{key: col[i] for key, col in attr if col[i]} for i in range(len(chunk))]
        good = issues.good()
        if len(good) == len(chunk):

            def take(column: list[Any]) -> list[Any]:
                return column

        else:

            def take(column: list[Any]) -> list[Any]:
                return [column[i] for i in good]

        # Column by column (maps and zips run in C); texts of repeated values rendered once.
        kinds_, currencies_, amounts_ = take(kinds), take(currencies), take(amounts)
        amount_texts = list(map(str, amounts_))
        e4 = [int(a.scaleb(4)) for a in amounts_]
        quantity_texts = ["1" if q is None else str(q) for q in take(quantities)]
        cancelled = [status in _CANCELLED for status in take(statuses)]
        touches_, attributes_ = take(touches), take(attributes)
        touches_json = list(map(_json, touches_))
        booked_, closed_, collected_, owners_ = (
            take(booked),
            take(closed),
            take(collected),
            take(owners),
        )
        accounts_, products_, regions_ = take(accounts), take(products), take(regions)
        digests = list(
            map(
                _hash,
                zip(
                    kinds_,
                    amount_texts,
                    currencies_,
                    quantity_texts,
                    _texts(booked_),
                    _texts(closed_),
                    _texts(collected_),
                    _texts(owners_),
                    accounts_,
                    products_,
                    regions_,
                    _texts(cancelled),
                    touches_json,
                    map(_json, attributes_),
                    strict=True,
                ),
            )
        )
        return Good(
            [
                take(chunk.lines),
                [source or "upload" for source in take(sources)],
                take(ext),
                kinds_,
                amount_texts,
                e4,
                currencies_,
                quantity_texts,
                booked_,
                closed_,
                collected_,
                owners_,
                accounts_,
                products_,
                regions_,
                touches_,
                cancelled,
                attributes_,
                digests,
                touches_json,
            ]
        )

    def _splits(self, i: int, text_: str, issues: Issues) -> list[dict[str, Any]]:
        column = self.bound.name("splits")
        people = self.lookups.people_by_employee_id
        out: list[dict[str, Any]] = []
        for item in text_.split(";"):
            bits = [b.strip() for b in item.split(":")]
            if len(bits) != 2:
                issues.add(i, column, "bad_format", PARTS.format(parts=2), text_)
                return []
            employee_id, share = bits
            try:
                pct = Decimal(share)
            except InvalidOperation:
                pct = Decimal("NaN")
            if not pct.is_finite():
                issues.add(i, column, "bad_number", "Split share is not a number.", share)
                continue
            pk = people.get(employee_id)
            if pk is None:
                issues.add(i, column, "unknown_person", UNKNOWN_EMPLOYEE, employee_id)
            elif not Decimal(0) <= pct <= Decimal(100):
                issues.add(i, column, "bad_share", "Split share must be between 0 and 100.", share)
            elif -pct.as_tuple().exponent > 4:  # type: ignore[operator]
                issues.add(
                    i, column, "bad_share", "Split shares have at most 4 decimal places.", share
                )
            else:
                out.append({"person_id": pk, "role": "split", "share_pct": str(pct)})
        if sum(Decimal(t["share_pct"]) for t in out) > 100:
            issues.add(i, column, "over_credited", "Split shares add up to more than 100 %.")
        return out

    def _touches(self, i: int, text_: str, issues: Issues) -> list[dict[str, Any]]:
        column = self.bound.name("touches")
        people = self.lookups.people_by_employee_id
        out: list[dict[str, Any]] = []
        for item in text_.split(";"):
            bits = [b.strip() for b in item.split(":")]
            if len(bits) != 3:
                issues.add(i, column, "bad_format", PARTS.format(parts=3), text_)
                return []
            pk = people.get(bits[0])
            if pk is None:
                issues.add(i, column, "unknown_person", UNKNOWN_EMPLOYEE, bits[0])
                continue
            out.append({"person_id": pk, "role": bits[1], "at": bits[2]})
        return out


# --- writing ------------------------------------------------------------------------------------

# Copied per row; tenant, batch and recorded_at are constants of the INSERT.
_TX_COPY = [
    "source",
    "external_id",
    "version",
    "kind",
    "amount",
    "currency",
    "quantity",
    "booked_on",
    "closed_on",
    "collected_on",
    "owner_id",
    "account",
    "product",
    "region",
    "attributes",
    "touches",
    "is_cancelled",
    "content_hash",
]
_CREDIT_COPY = [
    "person_id",
    "rule_id",
    "rule_version",
    "kind",
    "share_ppm",
    "amount",
    "currency",
    "credit_date",
    "period_id",
    "multiplier",
    "baseline",
]
_TX_TABLE = Transaction._meta.db_table
_CREDIT_TABLE = "incentives_credit"
# The people and months whose credits the import wrote (the change feed's keys).
_CHANGE_TEMP = "_ingest_change"


class Writer:
    """Where an import's writes run.

    *Threaded* (PostgreSQL, the caller outside any transaction: a request, a worker): a thread
    with a database connection of its own opens one transaction, runs the jobs it is handed in
    order, and commits or rolls back when :meth:`close` says so. Nothing is shared between the
    two threads' connections; the importing thread only reads (people, existing versions:
    committed data, which is all an import must see) while the writer writes, so Python
    validates chunk n + 1 while PostgreSQL inserts chunk n. The tenant context is copied into
    the thread, and the connection guard sets ``app.tenant_id`` on its connection.

    *Inline* (SQLite, or a caller already inside a transaction, whose uncommitted rows another
    connection could not see): each job runs at once on the caller's connection and thread.

    At most two jobs wait, so memory stays bounded by a couple of chunks.
    """

    def __init__(self, *, threaded: bool) -> None:
        self.threaded = threaded
        self.error: BaseException | None = None
        if threaded:
            self.jobs: queue.Queue[Callable[[], None] | object | None] = queue.Queue(maxsize=2)
            context = contextvars.copy_context()
            self.thread = threading.Thread(
                target=context.run, args=(self._work,), name="ingest-writer", daemon=True
            )
            self.thread.start()

    def _work(self) -> None:
        job: Any = None
        try:
            with transaction.atomic():
                while True:
                    job = self.jobs.get()
                    if job is None or job is _ROLLBACK:
                        break
                    if self.error is None:
                        try:
                            job()
                        except BaseException as exc:  # re-raised on the importing thread
                            self.error = exc
                if job is _ROLLBACK or self.error is not None:
                    transaction.set_rollback(True)
        except BaseException as exc:  # the COMMIT itself failed
            if self.error is None:
                self.error = exc
        finally:
            connection.close()

    def submit(self, job: Callable[[], None]) -> None:
        """Run ``job`` on the writer (in order with the others)."""
        if not self.threaded:
            job()
            return
        self._raise()
        self.jobs.put(job)

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error

    def close(self, *, commit: bool) -> None:
        """Commit (or roll back) the writes; with ``commit``, raise what failed."""
        if self.threaded and self.thread.is_alive():
            self.jobs.put(None if commit else _ROLLBACK)
            self.thread.join()
        if commit:
            self._raise()


_ROLLBACK = object()


class _PgCopy:
    """The COPY + INSERT … SELECT statements of a chunk, on the writer's connection.

    Created by the writer's first job, so the temporary tables live on its connection and in
    its transaction. The two tables' foreign keys are checked once per INSERT, set-based, by
    their triggers (``core.db.SetBasedForeignKeys``): a handful of queries per chunk instead
    of one per row and key.
    """

    def __init__(self, tenant_id: int, batch_id: int, now: dt.datetime, phases: Phases) -> None:
        self.params: list[Any] = [tenant_id, batch_id, now]
        self.phases = phases
        tx_cols = ", ".join(_TX_COPY)
        credit_cols = ", ".join(_CREDIT_COPY)
        with connection.cursor() as cursor:  # Django's cursor: sets the tenant first
            cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [_TX_TABLE])
            (sequence,) = cursor.fetchone()
            cursor.execute(f'DROP TABLE IF EXISTS "_ingest_tx", "_ingest_credit", "{_CHANGE_TEMP}"')
            # a chunk's staged rows (~5 MB) sorted in memory, not in a temporary file (the
            # default 4 MB spilled every chunk's ORDER BY); for the writer's transaction only
            cursor.execute("SET LOCAL work_mem = '32MB'")
            cursor.execute(
                f'CREATE TEMPORARY TABLE "_ingest_tx" ON COMMIT DROP AS '  # noqa: S608 (identifiers from model metadata, no input)
                f'SELECT {tx_cols} FROM "{_TX_TABLE}" WITH NO DATA'
            )
            cursor.execute(
                'ALTER TABLE "_ingest_tx" ADD COLUMN ord bigint, '
                "ADD COLUMN id bigint DEFAULT nextval(%s::regclass)",
                [sequence],
            )
            cursor.execute(
                f'CREATE TEMPORARY TABLE "_ingest_credit" ON COMMIT DROP AS '  # noqa: S608 (identifiers from model metadata, no input)
                f'SELECT {credit_cols} FROM "{_CREDIT_TABLE}" WITH NO DATA'
            )
            cursor.execute('ALTER TABLE "_ingest_credit" ADD COLUMN ord bigint')
            cursor.execute(
                f'CREATE TEMPORARY TABLE "{_CHANGE_TEMP}" (person_id bigint, valid_from date, '
                "valid_to date, PRIMARY KEY (person_id, valid_from)) ON COMMIT DROP"
            )
        self.insert_tx = (
            f'INSERT INTO "{_TX_TABLE}" (id, tenant_id, batch_id, recorded_at, {tx_cols}) '  # noqa: S608 (identifiers from model metadata, no input)
            f'SELECT id, %s, %s, %s, {tx_cols} FROM "_ingest_tx" ORDER BY ord'
        )
        self.insert_credit = (
            f'INSERT INTO "{_CREDIT_TABLE}" (transaction_id, tenant_id, is_correction, '  # noqa: S608 (identifiers from model metadata, no input)
            f"computed_at, {credit_cols}) "
            f"SELECT t.id, %s, false, %s, {', '.join('c.' + c for c in _CREDIT_COPY)} "
            f'FROM "_ingest_credit" c JOIN "_ingest_tx" t ON t.ord = c.ord ORDER BY t.id'
        )
        self.copy_tx = f'COPY "_ingest_tx" (ord, {tx_cols}) FROM STDIN'
        self.copy_credit = f'COPY "_ingest_credit" (ord, {credit_cols}) FROM STDIN'

    def write(self, tx_text: bytes, credit_text: bytes) -> None:
        phase = self.phases
        with connection.cursor() as cursor:
            cursor.execute('TRUNCATE "_ingest_tx", "_ingest_credit"')
            raw = cursor.cursor
            with phase("copy_tx"):
                raw.copy_expert(self.copy_tx, io.BytesIO(tx_text), size=len(tx_text) + 1)
            with phase("insert_tx"):
                cursor.execute(self.insert_tx, self.params)
            if credit_text:
                with phase("copy_credit"):
                    raw.copy_expert(
                        self.copy_credit, io.BytesIO(credit_text), size=len(credit_text) + 1
                    )
                with phase("insert_credit"):
                    cursor.execute(self.insert_credit, [self.params[0], self.params[2]])

    def finish(self, keys: set[ChangeKey]) -> None:
        """Record the credited (person, month) ``keys``: one COPY, then set-based. (They are
        collected on the importing thread, ~4 ms a chunk: the writer, PostgreSQL's inserts,
        is the busier side; a per-chunk INSERT … SELECT DISTINCT here took ~35 ms.)"""
        if keys:
            ordered = sorted(keys, key=lambda k: (k.person_id or 0, k.valid_from))
            text = copy_text(
                [
                    [k.person_id for k in ordered],
                    [k.valid_from for k in ordered],
                    [k.valid_to for k in ordered],
                ]
            ).encode()
            with connection.cursor() as cursor:
                cursor.cursor.copy_expert(
                    f'COPY "{_CHANGE_TEMP}" (person_id, valid_from, valid_to) FROM STDIN',
                    io.BytesIO(text),
                    size=len(text) + 1,
                )
        changes_record_select(
            kind=ChangeKind.CREDIT,
            select=(
                "SELECT person_id, NULL::bigint AS node_id, valid_from, valid_to "  # noqa: S608 (no input)
                f'FROM "{_CHANGE_TEMP}"'
            ),
        )


@dataclass
class TransactionSink:
    """Upsert chunks of valid rows and credit the new keys; see the module docstring."""

    batch: IngestBatch
    outcome: Outcome
    credit_summary: CreditSummary
    writer: Writer
    ctx: CreditContext | None = None
    has_existing: bool = True
    ordinal: int = 0
    recredit: bool = False  # some keys got a new version: recompute their credits afterwards
    credit_s: float = 0.0

    def __post_init__(self) -> None:
        self.has_existing = Transaction.objects.exists()
        self.wanted: Wanted = {}
        self.changed: set[ChangeKey] = set()  # the ORM path's credited (person, month) keys
        self.months = MonthKeys()  # the PostgreSQL path's, recorded when the import ends
        self.now = timezone.now()
        self.pg = connection.vendor == "postgresql"
        self.copy: _PgCopy | None = None
        self.phases = self.outcome.phases

    def _existing(self, rows: Good) -> dict[tuple[str, str], tuple[int, int, str]]:
        current: dict[tuple[str, str], tuple[int, int, str]] = {}
        if not self.has_existing:
            return current  # the tenant had no transaction when the import began
        by_source: dict[str, list[str]] = {}
        for source, ext in zip(rows.cols[G_SOURCE], rows.cols[G_EXT], strict=True):
            by_source.setdefault(source, []).append(ext)
        for source, ids in by_source.items():
            for start in range(0, len(ids), 5_000):
                for pk, ext, version, digest in (
                    Transaction.objects.known_now()
                    .filter(source=source, external_id__in=ids[start : start + 5_000])
                    .values_list("id", "external_id", "version", "content_hash")
                ):
                    current[(source, ext)] = (pk, version, digest)
        return current

    def add(self, rows: Good, *, write: bool) -> None:
        """Count (and, with ``write``, commit) one chunk of valid rows."""
        if not len(rows):
            return
        counts = self.outcome.counts
        versions_started = time.perf_counter()
        current = self._existing(rows)
        cols = rows.cols
        versions: list[int] = []
        supersede: list[int] = []
        if not current:  # every key is new: no row to compare
            new_rows = rows
            versions = [1] * len(rows)
            counts["created"] += len(rows)
            counts["cancelled"] += sum(cols[G_CANCELLED])
        else:
            keep: list[int] = []
            for i, (source, ext, digest, cancelled) in enumerate(
                zip(cols[G_SOURCE], cols[G_EXT], cols[G_HASH], cols[G_CANCELLED], strict=True)
            ):
                existing = current.get((source, ext))
                if existing is not None and existing[2] == digest:
                    counts["unchanged"] += 1
                    continue
                version = 1
                if existing is not None:
                    supersede.append(existing[0])
                    version = existing[1] + 1
                    counts["new_version"] += 1
                else:
                    counts["created"] += 1
                if cancelled:
                    counts["cancelled"] += 1
                keep.append(i)
                versions.append(version)
            new_rows = rows.take(keep)
        self.phases.add("versions", time.perf_counter() - versions_started)
        if not write or not len(new_rows):
            return
        if supersede:
            self.recredit = True
            self.writer.submit(functools.partial(_supersede, supersede, self.now))
        self.outcome.changed += len(new_rows)
        if self.ctx is None:
            self.ctx = CreditContext.load()
            self.ctx.now = self.now
        first = self.ordinal
        self.ordinal += len(new_rows)
        ordinals = list(range(first, self.ordinal))
        if self.pg:
            self._write_pg(new_rows, versions, ordinals)
        else:
            self._write_orm(new_rows, versions)

    def _credits(self, cols: list[list[Any]], versions: list[int], ids: list[int]) -> pd.DataFrame:
        """Credits of the rows that are a key's first version (no credits exist for it);
        ``cols``: the rows' fields column by column."""
        assert self.ctx is not None
        started = time.perf_counter()
        cancelled = cols[G_CANCELLED]
        keep = [i for i, v in enumerate(versions) if v == 1 and not cancelled[i]]
        if not keep:
            return pd.DataFrame()
        everyone = len(keep) == len(versions)

        def pick(field_: int) -> Any:
            column = cols[field_]
            return column if everyone else [column[i] for i in keep]

        def objects(field_: int) -> np.ndarray:
            # an object array made directly: pandas infers nothing from it (texts, dates,
            # lists stay objects), about half the cost of building the frame from lists
            values = pick(field_)
            array = np.empty(len(values), dtype=object)
            array[:] = values
            return array

        frame = pd.DataFrame(
            {
                "transaction_id": np.array(ids, dtype=np.int64)[keep],
                "owner_id": pick(G_OWNER),  # inferred: int64, or float with NaN for none
                "date": objects(G_BOOKED),
                "transaction_type": objects(G_KIND),
                "region": objects(G_REGION),
                "account": objects(G_ACCOUNT),
                "product": objects(G_PRODUCT),
                "touches": objects(G_TOUCHES),
                "currency": objects(G_CURRENCY),
                "source": objects(G_SOURCE),
                "external_id": objects(G_EXT),
                "amount_e4": np.array(pick(G_E4), dtype=np.int64),
            },
            copy=False,
        )
        credits = credit_frame(frame, self.ctx, self.credit_summary, self.wanted)
        self.credit_summary.credits_written += len(credits)
        self.credit_s += time.perf_counter() - started
        self.phases.add("credits", time.perf_counter() - started)
        return credits

    def _write_pg(self, rows: Good, versions: list[int], ordinals: list[int]) -> None:
        assert self.ctx is not None
        cols = rows.cols
        credits = self._credits(cols, versions, ordinals)
        started = time.perf_counter()
        attributes = [json.dumps(a) if a else "{}" for a in cols[G_ATTRIBUTES]]
        tx_text = copy_text(
            [
                ordinals,
                cols[G_SOURCE],
                cols[G_EXT],
                versions,
                cols[G_KIND],
                cols[G_AMOUNT],
                cols[G_CURRENCY],
                cols[G_QUANTITY],
                cols[G_BOOKED],
                cols[G_CLOSED],
                cols[G_COLLECTED],
                cols[G_OWNER],
                cols[G_ACCOUNT],
                cols[G_PRODUCT],
                cols[G_REGION],
                attributes,
                [t or "[]" for t in cols[G_TOUCHES_JSON]],
                cols[G_CANCELLED],
                cols[G_HASH],
            ]
        ).encode()
        credit_text = b""
        if not credits.empty:
            # credit_columns starts with transaction_id (here the row's ordinal in the import)
            credit_text = copy_text(credit_columns(credits, self.ctx.rule_versions)).encode()
        self.phases.add("copy_text", time.perf_counter() - started)
        if not credits.empty:
            with self.phases("months"):
                self.months.add(credits["person_id"], credits["date"])
        with self.phases("wait_writer"):  # the writer is two chunks behind
            self.writer.submit(functools.partial(self._copy_chunk, tx_text, credit_text))

    def _copy_chunk(self, tx_text: bytes, credit_text: bytes) -> None:  # on the writer
        if self.copy is None:
            self.copy = _PgCopy(self.batch.tenant_id, self.batch.pk, self.now, self.phases)
        self.copy.write(tx_text, credit_text)

    def _write_orm(self, good: Good, versions: list[int]) -> None:
        from incentives.crediting import _write_credits

        assert self.ctx is not None
        created = Transaction.objects.bulk_create(
            [
                Transaction(
                    tenant=self.batch.tenant,
                    source=r[G_SOURCE],
                    external_id=r[G_EXT],
                    version=v,
                    batch=self.batch,
                    recorded_at=self.now,
                    kind=r[G_KIND],
                    amount=Decimal(r[G_AMOUNT]),
                    currency=r[G_CURRENCY],
                    quantity=Decimal(r[G_QUANTITY]),
                    booked_on=r[G_BOOKED],
                    closed_on=r[G_CLOSED],
                    collected_on=r[G_COLLECTED],
                    owner_id=r[G_OWNER],
                    account=r[G_ACCOUNT],
                    product=r[G_PRODUCT],
                    region=r[G_REGION],
                    touches=r[G_TOUCHES],
                    is_cancelled=r[G_CANCELLED],
                    attributes=r[G_ATTRIBUTES],
                    content_hash=r[G_HASH],
                )
                for r, v in zip(good.rows(), versions, strict=True)
            ],
            batch_size=2_000,
        )
        credits = self._credits(good.cols, versions, [t.pk for t in created])
        _write_credits(credits, self.ctx.rule_versions, self.now)
        if not credits.empty:
            self.changed |= month_keys(credits["person_id"], credits["date"])

    def finish(self) -> None:  # on the writer, after the last chunk
        """Record the credited keys and write closed periods' corrections."""
        if self.copy is not None:
            with self.phases("change_feed"):
                self.copy.finish(self.months.as_keys())  # records the keys, set-based
        if self.changed:
            changes_record(kind=ChangeKind.CREDIT, keys=self.changed)
        if self.wanted and self.ctx is not None:
            with self.phases("corrections"):
                self.credit_summary.corrections_written += write_corrections(
                    {}, self.wanted, {}, self.ctx
                )
        if self.ctx is not None:
            with self.phases("rollups"):
                rollups_recompute(ctx=self.ctx)  # roll-up totals of the months it credited


def _supersede(ids: list[int], now: dt.datetime) -> None:  # on the writer
    for start in range(0, len(ids), 5_000):
        Transaction.objects.filter(pk__in=ids[start : start + 5_000]).update(superseded_at=now)


def _commit_chunks(
    sink: TransactionSink,
    validator: TransactionValidator,
    table: Table | JsonTable,
    *,
    strict: bool,
    progress: Callable[[int], None] | None,
) -> None:
    """Validate the table chunk by chunk and hand the valid rows to the sink."""
    outcome = sink.outcome
    column = validator.bound.name("external_id")
    seen: dict[str, dict[str, int]] = {}
    write = not sink.batch.dry_run
    phase = outcome.phases
    chunks = table.chunks(CHUNK_ROWS)
    while True:
        with phase("read"):
            chunk = next(chunks, None)
        if chunk is None:
            break
        outcome.counts["rows"] += chunk.rows
        outcome.add_row_errors(chunk.errors)
        issues = Issues(chunk.lines)
        with phase("validate"):
            valid = validator.validate(chunk, issues)
        outcome.add_row_errors(issues.rows())
        started = time.perf_counter()
        keep: list[int] = []
        cols = valid.cols
        for i, (line, source, ext) in enumerate(
            zip(cols[G_LINE], cols[G_SOURCE], cols[G_EXT], strict=True)
        ):
            by_source = seen.setdefault(source, {})
            first = by_source.get(ext)
            if first is not None:
                message = DUPLICATE.format(first=first)
                outcome.add_errors([RowError(line, column, "duplicate_in_file", message, ext)])
                continue
            by_source[ext] = line
            keep.append(i)
        good = valid.take(keep)
        phase.add("duplicates", time.perf_counter() - started)
        # all-or-nothing: once a row is bad nothing will be kept, so stop writing
        sink.add(good, write=write and not (strict and outcome.error_rows))
        if progress is not None:
            progress(outcome.counts["rows"])


def import_transactions(
    *,
    batch: IngestBatch,
    table: Table | JsonTable,
    bound: BoundMap,
    outcome: Outcome,
    progress: Callable[[int], None] | None = None,
    finish: Callable[[Outcome], None] | None = None,
) -> Outcome:
    """Validate and commit the transactions of ``table`` into ``batch``'s tenant in chunks,
    in one transaction: rolled back whole in all-or-nothing mode when a row is bad; else
    committed together with what ``finish(outcome)`` writes (the batch's outcome)."""
    strict = batch.mode == ImportMode.ALL_OR_NOTHING
    validator = TransactionValidator(bound, Lookups.load())
    for key in ("created", "new_version", "unchanged", "cancelled"):
        outcome.counts.setdefault(key, 0)
    threaded = connection.vendor == "postgresql" and not connection.in_atomic_block
    writer = Writer(threaded=threaded)
    scope = contextlib.nullcontext() if threaded else transaction.atomic()
    try:
        with gc_paused(), scope:
            sink = TransactionSink(batch, outcome, CreditSummary(), writer)
            try:
                _commit_chunks(sink, validator, table, strict=strict, progress=progress)
            except BaseException:
                writer.close(commit=False)
                if writer.error is not None:
                    # the importing thread's error may only be a consequence: show the cause
                    raise writer.error from None
                raise
            if outcome.error_rows and strict:
                writer.close(commit=False)
                raise RollbackError
            outcome.extra.update(
                credits=sink.credit_summary, recredit=sink.recredit, credit_s=sink.credit_s
            )

            def last() -> None:
                sink.finish()
                if finish is not None:
                    finish(outcome)

            writer.submit(last)
            with outcome.phases("wait_commit"):
                writer.close(commit=True)
    except RollbackError:
        outcome.changed = 0
    return outcome
