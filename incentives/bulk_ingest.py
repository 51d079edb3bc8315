"""The fast path of transaction imports: chunked validation, set-based writes, inline credits.

The import service hands transaction imports here (:func:`import_transactions`; KPI values
take :func:`incentives.ingest.import_kpi_values`). The contract is the one of
:mod:`incentives.ingest` (same errors, counts, versions, modes); what differs is how the work
is done, so that a million rows import in well under a minute:

* **Validation per chunk.** A row is first checked by a fast path that accepts only the plain,
  common shapes (an ISO date, an amount like ``-1234.50``, a known employee id, …) and
  computes its fields directly (amounts as exact int64 ten-thousandths from the text, never
  through float). Any row the fast path does not accept is parsed again by
  :func:`incentives.ingest.parse_transaction`, the reference, which reports its errors; so
  the errors (line, column, code, order) are exactly the reference's.
* **Inline credits.** A key that has no current version yet (every key of a first import) has
  no credits either, so its credits are computed from the chunk in hand by
  :func:`incentives.crediting.credit_frame` and written with it, instead of re-reading the
  whole import afterwards. Keys that got a new version are recomputed after the import by
  :func:`incentives.crediting.credits_recompute` (their old credits must be superseded).
* **Set-based writes on PostgreSQL.** Each chunk is one ``COPY`` into a temporary table and
  one ``INSERT … SELECT`` (row-level security applies to the INSERT), transactions and their
  credits together; ids come from the sequence as the rows are copied, and credits find their
  transaction by its position in the chunk. The writes run on a thread of their own with the
  import's foreign keys checked at each statement (``SET CONSTRAINTS … IMMEDIATE``; the same
  checks, earlier), so PostgreSQL inserts, maintains indexes and checks keys while Python
  validates the next chunk. Everything stays one database transaction.
* **The change feed, set-based.** The people and months of each chunk's credits go into a
  temporary table (one ``INSERT … SELECT DISTINCT`` per chunk), and one ``INSERT … SELECT``
  records them in the change feed when the import ends: one row per person and month, in the
  import's transaction (:mod:`core.changes`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import queue
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
import pandas as pd
from django.db import connection, transaction
from django.utils import timezone

from core.changes import (
    ChangeKey,
    changes_record,
    changes_record_select,
    month_bounds_sql,
    month_keys,
)
from core.currencies import CURRENCY_EXPONENTS
from core.db import copy_text
from core.models import ChangeKind
from engine.money import to_e4
from incentives.crediting import (
    CreditContext,
    CreditSummary,
    Wanted,
    credit_columns,
    credit_frame,
    rollups_recompute,
    write_corrections,
)
from incentives.ingest import (
    KINDS,
    Lookups,
    Outcome,
    RollbackError,
    RowError,
    _Row,
    parse_day,
    parse_transaction,
)
from incentives.mappings import ISO_DATES
from incentives.models import NEGATIVE_KINDS, IngestBatch, IngestMode, Transaction

CHUNK_ROWS = 20_000  # ~0.2 s of validation and one COPY + INSERT per chunk

# A plain decimal: no sign but '-', no leading zero, no exponent, no separators, at most four
# decimals. For such text str(Decimal(text)) == text, so it is stored and hashed as is.
_PLAIN_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]{0,15})(?:\.([0-9]{1,4}))?")
_STATUSES = frozenset({"", "active", "won", "cancelled", "canceled"})
_CANCELLED = frozenset({"cancelled", "canceled"})
_DAY_CACHE_MAX = 100_000

# One valid row: the fields of parse_transaction plus what writing and crediting need.
# (line, source, external_id, kind, amount text, amount e4, currency, quantity text, booked_on,
#  closed_on, collected_on, owner_id, account, product, region, touches, is_cancelled,
#  attributes, content_hash)
Good = tuple[Any, ...]
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
) = range(19)


def _hash(parts: tuple[str, ...]) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


class ChunkParser:
    """Validate the records of a chunk: the fast path, or the reference parser per row."""

    def __init__(
        self,
        mapping: dict[str, Any],
        reverse: dict[str, str],
        lookups: Lookups,
        header: list[str] | None,
    ) -> None:
        self.mapping = mapping
        self.reverse = reverse
        self.lookups = lookups
        self.defaults = mapping.get("defaults", {})
        self.values = mapping.get("values", {})
        self.formats = mapping.get("date_formats", ISO_DATES)
        self.attr_columns = None if header is None else [h for h in header if h.startswith("attr_")]
        self.days: dict[str, dt.date | None] = {}
        self.booked: dict[str, dt.date | None] = {}
        self.exponents = dict(CURRENCY_EXPONENTS)

    def _column(self, raws: list[dict[str, str]], name: str) -> list[str]:
        """The values of one field, like ``_Row.get`` (stripped, defaulted, mapped)."""
        column = self.reverse.get(name)
        default = str(self.defaults.get(name, ""))
        values = [r.get(column, "").strip() for r in raws] if column else [""] * len(raws)
        if default:
            values = [v or default for v in values]
        mapped = self.values.get(name)
        if mapped:
            values = [mapped.get(v, v) for v in values]
        return values

    def _day(self, text: str) -> dt.date | None:
        """A valid optional date that is not in the future, else None (the slow path)."""
        if text not in self.days:
            if len(self.days) > _DAY_CACHE_MAX:
                self.days.clear()
            day = parse_day(text, self.formats)
            self.days[text] = day if day is not None and day <= self.lookups.today else None
        return self.days[text]

    def _booked(self, text: str) -> dt.date | None:
        """A valid booking date, not in the future, in no locked period; else None."""
        if text not in self.booked:
            if len(self.booked) > _DAY_CACHE_MAX:
                self.booked.clear()
            day = self._day(text)
            ok = day is not None and self.lookups.locked_period(day) is None
            self.booked[text] = day if ok else None
        return self.booked[text]

    def _splits(self, text: str) -> list[dict[str, Any]] | None:
        people = self.lookups.people_by_employee_id
        out: list[dict[str, Any]] = []
        total = Decimal(0)
        for item in text.split(";"):
            bits = [b.strip() for b in item.split(":")]
            if len(bits) != 2:
                return None
            pk = people.get(bits[0])
            if pk is None:
                return None
            try:
                pct = Decimal(bits[1])
            except InvalidOperation:
                return None
            if not pct.is_finite() or not Decimal(0) <= pct <= Decimal(100):
                return None
            if -pct.as_tuple().exponent > 4:  # type: ignore[operator]
                return None  # the reference parser reports it
            total += pct
            out.append({"person_id": pk, "role": "split", "share_pct": str(pct)})
        return None if total > 100 else out

    def _touches(self, text: str) -> list[dict[str, Any]] | None:
        people = self.lookups.people_by_employee_id
        out: list[dict[str, Any]] = []
        for item in text.split(";"):
            bits = [b.strip() for b in item.split(":")]
            if len(bits) != 3:
                return None
            pk = people.get(bits[0])
            if pk is None:
                return None
            out.append({"person_id": pk, "role": bits[1], "at": bits[2]})
        return out

    def parse(self, lines: list[int], raws: list[dict[str, str]]) -> list[Good | list[RowError]]:
        """Return, for each record, its valid row or its errors."""
        col = self._column
        sources = col(raws, "source")
        externals = col(raws, "external_id")
        kinds = col(raws, "kind")
        currencies = [c.upper() for c in col(raws, "currency")]
        amounts = col(raws, "amount")
        quantities = col(raws, "quantity")
        booked = col(raws, "booked_on")
        closed = col(raws, "closed_on")
        collected = col(raws, "collected_on")
        owners = col(raws, "owner_employee_id")
        emails = col(raws, "owner_email")
        accounts = col(raws, "account")
        products = col(raws, "product")
        regions = col(raws, "region")
        statuses = col(raws, "status")
        splits = col(raws, "splits")
        touches = col(raws, "touches")
        people = self.lookups.people_by_employee_id
        by_email = self.lookups.people_by_email
        exponents = self.exponents
        attr_columns = self.attr_columns
        out: list[Good | list[RowError]] = []
        for i, raw in enumerate(raws):
            row = self._fast(
                i,
                raw,
                lines,
                sources,
                externals,
                kinds,
                currencies,
                amounts,
                quantities,
                booked,
                closed,
                collected,
                owners,
                emails,
                accounts,
                products,
                regions,
                statuses,
                splits,
                touches,
                people,
                by_email,
                exponents,
                attr_columns,
            )
            out.append(row if row is not None else self._slow(lines[i], raw))
        return out

    def _fast(  # one row, inlined for speed
        self,
        i: int,
        raw: dict[str, str],
        lines: list[int],
        sources: list[str],
        externals: list[str],
        kinds: list[str],
        currencies: list[str],
        amounts: list[str],
        quantities: list[str],
        booked: list[str],
        closed: list[str],
        collected: list[str],
        owners: list[str],
        emails: list[str],
        accounts: list[str],
        products: list[str],
        regions: list[str],
        statuses: list[str],
        splits: list[str],
        touches: list[str],
        people: dict[str, int],
        by_email: dict[str, int],
        exponents: dict[str, int],
        attr_columns: list[str] | None,
    ) -> Good | None:
        """The row's fields when it has a plain, valid shape; None sends it to the reference."""
        ext = externals[i]
        kind = kinds[i]
        currency = currencies[i]
        if not ext or kind not in KINDS or currency not in exponents:
            return None
        amount = amounts[i]
        match = _PLAIN_NUMBER.fullmatch(amount)
        if match is None:
            return None
        decimals = match.group(1)
        if decimals and len(decimals) > exponents[currency]:
            return None
        negative = amount[0] == "-"
        if negative and kind not in NEGATIVE_KINDS:
            return None
        whole, _, frac = amount.partition(".")
        e4 = abs(int(whole)) * 10_000 + (int((frac + "000")[:4]) if frac else 0)
        if negative:
            e4 = -e4
        quantity = quantities[i] or "1"
        if quantity != "1" and _PLAIN_NUMBER.fullmatch(quantity) is None:
            return None
        booked_text = booked[i]
        if not booked_text:
            return None
        booked_on = self._booked(booked_text)
        if booked_on is None:
            return None
        closed_on = collected_on = None
        if closed[i]:
            closed_on = self._day(closed[i])
            if closed_on is None:
                return None
        if collected[i]:
            collected_on = self._day(collected[i])
            if collected_on is None:
                return None
        employee_id = owners[i]
        owner: int | None = None
        if employee_id:
            owner = people.get(employee_id)
            if owner is None:
                return None
        else:
            email = emails[i].lower()
            if email:
                owner = by_email.get(email)
                if owner is None:
                    return None
        status = statuses[i].lower()
        if status not in _STATUSES:
            return None
        row_touches: list[dict[str, Any]] = []
        if splits[i]:
            parsed = self._splits(splits[i])
            if parsed is None:
                return None
            row_touches = parsed
        if touches[i]:
            more = self._touches(touches[i])
            if more is None:
                return None
            row_touches = row_touches + more
        if attr_columns is None:
            attributes = {k[5:]: v for k, v in raw.items() if k.startswith("attr_") and v}
        else:
            attributes = {k[5:]: raw[k] for k in attr_columns if raw.get(k)}
        cancelled = status in _CANCELLED
        account, product, region = accounts[i][:200], products[i][:200], regions[i][:100]
        digest = _hash(
            (
                kind,
                amount,
                currency,
                quantity,
                str(booked_on),
                str(closed_on),
                str(collected_on),
                str(owner),
                account,
                product,
                region,
                str(cancelled),
                json.dumps(row_touches, sort_keys=True) if row_touches else "",
                json.dumps(attributes, sort_keys=True) if attributes else "",
            )
        )
        return (
            lines[i],
            sources[i] or "upload",
            ext,
            kind,
            amount,
            e4,
            currency,
            quantity,
            booked_on,
            closed_on,
            collected_on,
            owner,
            account,
            product,
            region,
            row_touches,
            cancelled,
            attributes,
            digest,
        )

    def _slow(self, line: int, raw: dict[str, str]) -> Good | list[RowError]:
        row = _Row(line, raw, self.mapping, self.reverse)
        fields = parse_transaction(row, self.lookups)
        if fields is None:
            return row.errors
        return (
            line,
            fields["source"],
            fields["external_id"],
            fields["kind"],
            str(fields["amount"]),
            to_e4(fields["amount"]),
            fields["currency"],
            str(fields["quantity"]),
            fields["booked_on"],
            fields["closed_on"],
            fields["collected_on"],
            fields["owner_id"],
            fields["account"],
            fields["product"],
            fields["region"],
            fields["touches"],
            fields["is_cancelled"],
            fields["attributes"],
            fields["content_hash"],
        )


def chunks(records: Iterator[Any], size: int) -> Iterator[list[Any]]:
    """Group ``records`` in lists of ``size``."""
    chunk: list[Any] = []
    for record in records:
        chunk.append(record)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


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


class _PgWriter:
    """Run the chunks' COPY + INSERT statements on a thread, in the import's transaction.

    The thread uses the same database connection (psycopg2 serialises calls on it and lets go
    of the GIL while PostgreSQL works); the tenant setting was made by the Django statements
    that created the temporary tables in this transaction, and row-level security checks every
    inserted row. At most one chunk waits, so memory stays bounded.

    psycopg2 serialises single calls, not a COPY's several protocol steps: a statement from the
    importing thread in the middle of one ends it ("no COPY in progress"). So a chunk's writes
    hold :attr:`lock`, and while the writer lives every statement of the importing thread's
    connection takes the same lock first (:meth:`statement_guard`, installed outermost, before
    the tenant guard's own ``set_config``). Python's validation of the next chunk still overlaps
    the writes; only the two threads' SQL takes turns.
    """

    def __init__(self, tenant_id: int, batch_id: int, now: dt.datetime) -> None:
        self.lock = threading.Lock()
        connection.execute_wrappers.insert(0, self.statement_guard)
        self.raw = connection.connection
        self.params = [tenant_id, batch_id, now]
        self.jobs: queue.Queue[tuple[bytes, bytes] | None] = queue.Queue(maxsize=1)
        self.error: BaseException | None = None
        tx_cols = ", ".join(_TX_COPY)
        credit_cols = ", ".join(_CREDIT_COPY)
        with connection.cursor() as cursor:  # Django's cursor: sets the tenant first
            cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [_TX_TABLE])
            (sequence,) = cursor.fetchone()
            cursor.execute(
                "SELECT conname FROM pg_constraint WHERE contype = 'f' AND condeferrable "
                "AND condeferred AND conrelid IN (%s::regclass, %s::regclass) ORDER BY conname",
                [_TX_TABLE, _CREDIT_TABLE],
            )
            self.deferred = ", ".join(connection.ops.quote_name(n) for (n,) in cursor.fetchall())
            cursor.execute(f'DROP TABLE IF EXISTS "_ingest_tx", "_ingest_credit", "{_CHANGE_TEMP}"')
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
            if self.deferred:
                # Check the import's foreign keys as each INSERT ends (on this thread, while
                # Python validates the next chunk) instead of all at COMMIT. Same checks.
                cursor.execute(f"SET CONSTRAINTS {self.deferred} IMMEDIATE")
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
        # Measured on a busy machine: ~10 ms per chunk of 20k credits (500 people, 3 months),
        # ~50 ms when every credit is a new person and month; on the writer thread, so it
        # overlaps Python's validation of the next chunk.
        month_start, month_end = month_bounds_sql("credit_date")
        self.record_months = (
            f'INSERT INTO "{_CHANGE_TEMP}" SELECT DISTINCT person_id, {month_start}, '  # noqa: S608 (no input)
            f'{month_end} FROM "_ingest_credit" ON CONFLICT DO NOTHING'
        )
        self.copy_tx = f'COPY "_ingest_tx" (ord, {tx_cols}) FROM STDIN'
        self.copy_credit = f'COPY "_ingest_credit" (ord, {credit_cols}) FROM STDIN'
        self.thread = threading.Thread(target=self._work, name="ingest-writer", daemon=True)
        self.thread.start()

    def _work(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
            if self.error is not None:
                continue
            try:
                tx_text, credit_text = job
                with self.lock, self.raw.cursor() as cursor:
                    cursor.execute('TRUNCATE "_ingest_tx", "_ingest_credit"')
                    cursor.copy_expert(self.copy_tx, io.BytesIO(tx_text), size=len(tx_text) + 1)
                    cursor.execute(self.insert_tx, self.params)
                    if credit_text:
                        cursor.copy_expert(
                            self.copy_credit, io.BytesIO(credit_text), size=len(credit_text) + 1
                        )
                        cursor.execute(self.insert_credit, [self.params[0], self.params[2]])
                        cursor.execute(self.record_months)
            except BaseException as exc:  # re-raised on the caller's thread
                self.error = exc

    def statement_guard(
        self, execute: Any, sql: str, params: Any, many: bool, context: dict[str, Any]
    ) -> Any:
        """Run one statement of the importing thread while the writer is not writing."""
        with self.lock:
            return execute(sql, params, many, context)

    def submit(self, tx_text: str, credit_text: str) -> None:
        self._raise()
        # Whole buffers, read by psycopg2 in one call: the thread needs the GIL for each read.
        self.jobs.put((tx_text.encode(), credit_text.encode()))

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error

    def close(self, *, ok: bool) -> None:
        """Wait for the writes; raise what failed. With ``ok``, restore deferred checks."""
        self.jobs.put(None)
        self.thread.join()
        if self.statement_guard in connection.execute_wrappers:
            connection.execute_wrappers.remove(self.statement_guard)
        if ok:
            self._raise()
            if self.deferred:
                with connection.cursor() as cursor:
                    cursor.execute(f"SET CONSTRAINTS {self.deferred} DEFERRED")
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
    writer: _PgWriter | None = None
    ctx: CreditContext | None = None
    has_existing: bool = True
    ordinal: int = 0
    recredit: bool = False  # some keys got a new version: recompute their credits afterwards
    credit_s: float = 0.0

    def __post_init__(self) -> None:
        self.has_existing = Transaction.objects.exists()
        self.wanted: Wanted = {}
        self.changed: set[ChangeKey] = set()  # the ORM path's credited (person, month) keys
        self.now = timezone.now()
        self.pg = connection.vendor == "postgresql"

    def _existing(self, rows: list[Good]) -> dict[tuple[str, str], tuple[int, int, str]]:
        current: dict[tuple[str, str], tuple[int, int, str]] = {}
        if not self.has_existing:
            return current  # the tenant had no transaction when the import began
        by_source: dict[str, list[str]] = {}
        for row in rows:
            by_source.setdefault(row[G_SOURCE], []).append(row[G_EXT])
        for source, ids in by_source.items():
            for start in range(0, len(ids), 5_000):
                for pk, ext, version, digest in (
                    Transaction.objects.known_now()
                    .filter(source=source, external_id__in=ids[start : start + 5_000])
                    .values_list("id", "external_id", "version", "content_hash")
                ):
                    current[(source, ext)] = (pk, version, digest)
        return current

    def add(self, rows: list[Good], *, write: bool) -> None:
        """Count (and, with ``write``, commit) one chunk of valid rows."""
        if not rows:
            return
        counts = self.outcome.counts
        current = self._existing(rows)
        new_rows: list[Good] = []
        versions: list[int] = []
        supersede: list[int] = []
        for row in rows:
            existing = current.get((row[G_SOURCE], row[G_EXT])) if current else None
            if existing is not None and existing[2] == row[G_HASH]:
                counts["unchanged"] += 1
                continue
            version = 1
            if existing is not None:
                supersede.append(existing[0])
                version = existing[1] + 1
                counts["new_version"] += 1
            else:
                counts["created"] += 1
            if row[G_CANCELLED]:
                counts["cancelled"] += 1
            new_rows.append(row)
            versions.append(version)
        if not write or not new_rows:
            return
        if supersede:
            self.recredit = True
            for start in range(0, len(supersede), 5_000):
                Transaction.objects.filter(pk__in=supersede[start : start + 5_000]).update(
                    superseded_at=self.now
                )
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

    def _credits(self, rows: list[Good], versions: list[int], ids: list[int]) -> pd.DataFrame:
        """Credits of the rows that are a key's first version (no credits exist for it)."""
        assert self.ctx is not None
        started = time.perf_counter()
        keep = [i for i, r in enumerate(rows) if versions[i] == 1 and not r[G_CANCELLED]]
        if not keep:
            return pd.DataFrame()
        picked = [rows[i] for i in keep]
        frame = pd.DataFrame(
            {
                "transaction_id": np.array([ids[i] for i in keep], dtype=np.int64),
                "owner_id": [r[G_OWNER] for r in picked],
                "date": [r[G_BOOKED] for r in picked],
                "transaction_type": [r[G_KIND] for r in picked],
                "region": [r[G_REGION] for r in picked],
                "account": [r[G_ACCOUNT] for r in picked],
                "product": [r[G_PRODUCT] for r in picked],
                "touches": [r[G_TOUCHES] for r in picked],
                "currency": [r[G_CURRENCY] for r in picked],
                "source": [r[G_SOURCE] for r in picked],
                "external_id": [r[G_EXT] for r in picked],
                "amount_e4": np.array([r[G_E4] for r in picked], dtype=np.int64),
            }
        )
        credits = credit_frame(frame, self.ctx, self.credit_summary, self.wanted)
        self.credit_summary.credits_written += len(credits)
        self.credit_s += time.perf_counter() - started
        return credits

    def _write_pg(self, rows: list[Good], versions: list[int], ordinals: list[int]) -> None:
        assert self.ctx is not None
        if self.writer is None:
            self.writer = _PgWriter(self.batch.tenant_id, self.batch.pk, self.now)
        credits = self._credits(rows, versions, ordinals)
        tx_text = copy_text(
            [
                ordinals,
                [r[G_SOURCE] for r in rows],
                [r[G_EXT] for r in rows],
                versions,
                [r[G_KIND] for r in rows],
                [r[G_AMOUNT] for r in rows],
                [r[G_CURRENCY] for r in rows],
                [r[G_QUANTITY] for r in rows],
                [r[G_BOOKED] for r in rows],
                [r[G_CLOSED] for r in rows],
                [r[G_COLLECTED] for r in rows],
                [r[G_OWNER] for r in rows],
                [r[G_ACCOUNT] for r in rows],
                [r[G_PRODUCT] for r in rows],
                [r[G_REGION] for r in rows],
                [json.dumps(r[G_ATTRIBUTES]) if r[G_ATTRIBUTES] else "{}" for r in rows],
                [json.dumps(r[G_TOUCHES]) if r[G_TOUCHES] else "[]" for r in rows],
                [r[G_CANCELLED] for r in rows],
                [r[G_HASH] for r in rows],
            ]
        )
        credit_text = ""
        if not credits.empty:
            # credit_columns starts with transaction_id (here the row's ordinal in the import)
            credit_text = copy_text(credit_columns(credits, self.ctx.rule_versions))
        self.writer.submit(tx_text, credit_text)

    def _write_orm(self, rows: list[Good], versions: list[int]) -> None:
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
                for r, v in zip(rows, versions, strict=True)
            ],
            batch_size=2_000,
        )
        credits = self._credits(rows, versions, [t.pk for t in created])
        _write_credits(credits, self.ctx.rule_versions, self.now)
        if not credits.empty:
            self.changed |= month_keys(credits["person_id"], credits["date"])

    def finish(self) -> None:
        """Wait for the writes, record the credited keys, write closed periods' corrections."""
        if self.writer is not None:
            writer, self.writer = self.writer, None
            writer.close(ok=True)  # records the PostgreSQL path's keys, set-based
        if self.changed:
            changes_record(kind=ChangeKind.CREDIT, keys=self.changed)
        if self.wanted and self.ctx is not None:
            self.credit_summary.corrections_written += write_corrections(
                {}, self.wanted, {}, self.ctx
            )
        if self.ctx is not None:
            rollups_recompute(ctx=self.ctx)  # roll-up totals of the months it credited

    def abort(self) -> BaseException | None:
        """Stop the writer after a failure (the transaction is being rolled back); return the
        writer's own error, which is usually the real cause of the failure."""
        if self.writer is not None:
            writer, self.writer = self.writer, None
            writer.close(ok=False)
            return writer.error
        return None


def _commit_chunks(
    sink: TransactionSink,
    parser: ChunkParser,
    records: Iterator[tuple[int, dict[str, str] | None, RowError | None]],
    *,
    strict: bool,
    progress: Callable[[int], None] | None,
) -> None:
    """Validate and write records chunk by chunk into the sink (inside its transaction)."""
    outcome, reverse = sink.outcome, parser.reverse
    seen: dict[str, dict[str, int]] = {}
    write = not sink.batch.dry_run
    ok = False
    try:
        for chunk in chunks(records, CHUNK_ROWS):
            lines: list[int] = []
            raws: list[dict[str, str]] = []
            for line, raw, error in chunk:
                if error is None and raw is not None:
                    lines.append(line)
                    raws.append(raw)
            parsed = iter(parser.parse(lines, raws))
            good: list[Good] = []
            for line, raw, error in chunk:
                outcome.counts["rows"] += 1
                if error is not None or raw is None:
                    outcome.add_errors([error] if error else [])
                    continue
                result = next(parsed)
                if isinstance(result, list):
                    outcome.add_errors(result)
                    continue
                by_source = seen.setdefault(result[G_SOURCE], {})
                first = by_source.get(result[G_EXT])
                if first is not None:
                    outcome.add_errors(
                        [
                            RowError(
                                line,
                                reverse.get("external_id", "external_id"),
                                "duplicate_in_file",
                                f"Duplicate of line {first} in this file.",
                                result[G_EXT][:200],
                            )
                        ]
                    )
                    continue
                by_source[result[G_EXT]] = line
                good.append(result)
            # all-or-nothing: once a row is bad nothing will be kept, so stop writing
            sink.add(good, write=write and not (strict and outcome.error_rows))
            if progress is not None:
                progress(outcome.counts["rows"])
        sink.finish()
        ok = True
    finally:
        if not ok:
            cause = sink.abort()
            if cause is not None:
                # The main thread's error is then only "current transaction is aborted":
                # surface what the writer hit first.
                raise cause


def import_transactions(
    *,
    batch: IngestBatch,
    header: list[str] | None,
    records: Iterator[tuple[int, dict[str, str] | None, RowError | None]],
    mapping: dict[str, Any],
    reverse: dict[str, str],
    outcome: Outcome,
    progress: Callable[[int], None] | None = None,
) -> Outcome:
    """Validate and commit transaction ``records`` into ``batch``'s tenant in chunks, in one
    transaction (rolled back whole in all-or-nothing mode when a row is bad)."""
    strict = batch.mode == IngestMode.ALL_OR_NOTHING
    parser = ChunkParser(mapping, reverse, Lookups.load(), header)
    try:
        with transaction.atomic():
            sink = TransactionSink(batch, outcome, CreditSummary())
            _commit_chunks(sink, parser, records, strict=strict, progress=progress)
            if outcome.error_rows and strict:
                raise RollbackError
    except RollbackError:
        outcome.changed = 0
    else:
        outcome.credits = sink.credit_summary
        outcome.recredit = sink.recredit
        outcome.credit_s = sink.credit_s
    return outcome
