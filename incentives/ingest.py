"""Ingestion of transactions and KPI values: parse, validate row by row, then commit.

The contract, whatever the source (CSV upload, CSV API, JSON bulk API):

* Every problem is a row-level error ``(line, column, code, message, value)``; line 1 is the
  CSV header (JSON rows are numbered from 1). A missing required column fails the whole batch
  at line 1 before any row is read.
* ``all_or_nothing`` (the default) commits nothing when any row is bad; ``partial`` commits the
  good rows. ``dry_run`` validates and counts what would change, and writes no data row.
* The whole commit runs in one database transaction: nothing is ever half-written.
* Rows are read as a stream and handled in chunks of :data:`CHUNK_ROWS`, so memory is bounded
  by the chunk (plus one set of the file's external ids, to find duplicates).
* Upsert by (source, external id): an identical row (same content hash) is ``unchanged``; a
  changed one supersedes the current version and becomes version n + 1 (both kept, with when
  each was learned); ``status=cancelled`` makes a cancelled version, whose credits are reversed.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, BinaryIO

from django.db import transaction
from django.utils import timezone

from core.changes import ChangeKey, changes_record
from core.currencies import exponent, is_currency_code
from core.models import ChangeKind
from core.tenancy import get_current_tenant
from hierarchy.models import Node, Period, PeriodStatus, Person
from hierarchy.periods import tenant_today
from incentives.mappings import (
    ISO_DATES,
    KPI_REQUIRED,
    PRESETS,
    TRANSACTION_REQUIRED,
)
from incentives.models import (
    NEGATIVE_KINDS,
    ColumnMapping,
    IngestBatch,
    IngestError,
    IngestKind,
    IngestMode,
    IngestStatus,
    KpiStatus,
    KpiSubject,
    KpiValue,
    TransactionKind,
)

CHUNK_ROWS = 5_000  # KPI values; transactions use incentives.bulk_ingest.CHUNK_ROWS
MAX_ERRORS_STORED = 10_000  # a file with more bad rows than this is not worth listing further


class MappingError(ValueError):
    """The named column mapping does not exist."""


@dataclass
class RowError:
    line: int
    column: str
    code: str
    message: str
    value: str = ""


@dataclass
class Outcome:
    """What an ingest did (or, in a dry run, would do)."""

    counts: dict[str, int] = field(
        default_factory=lambda: {
            "rows": 0,
            "created": 0,
            "new_version": 0,
            "unchanged": 0,
            "cancelled": 0,
            "errors": 0,
        }
    )
    errors: list[RowError] = field(default_factory=list)
    error_rows: int = 0
    changed: int = 0  # transaction versions written
    # Transactions: credits written during the import (new keys), whether keys that got a
    # new version still need their credits recomputed, and the seconds spent crediting.
    credits: Any = None
    recredit: bool = False
    credit_s: float = 0.0

    def add_errors(self, errors: list[RowError]) -> None:
        if not errors:
            return
        self.error_rows += 1
        self.counts["errors"] = self.error_rows
        room = MAX_ERRORS_STORED - len(self.errors)
        if room > 0:
            self.errors.extend(errors[:room])


# --- reading ------------------------------------------------------------------------------------


def resolve_mapping(name: str, kind: str) -> dict[str, Any]:
    """Return a preset or saved mapping by name (default: Quotient's own column names)."""
    if not name:
        return PRESETS["quotient_kpi" if kind == IngestKind.KPI_VALUES else "quotient"]
    if name in PRESETS:
        return PRESETS[name]
    saved = ColumnMapping.objects.filter(name=name).first()
    if saved is None:
        raise MappingError(f"unknown column mapping {name!r}")
    return {"columns": saved.columns, "defaults": saved.defaults, "kind": saved.kind}


BAD_LINES = {
    "bad_encoding": "The line is not valid UTF-8 text.",
    "nul_character": "The line contains a NUL character (a binary file?); it cannot be stored.",
}


def _decoded_lines(stream: BinaryIO, bad: list[tuple[int, str]]) -> Iterator[str]:
    """Yield text lines; a line that is not UTF-8 or holds a NUL is recorded in ``bad`` (line,
    code) and yielded empty."""
    for number, raw in enumerate(stream, start=1):
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        if b"\x00" in raw:
            bad.append((number, "nul_character"))
            yield "\n"
            continue
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError:
            bad.append((number, "bad_encoding"))
            yield "\n"


def csv_records(
    stream: BinaryIO,
) -> tuple[list[str], Iterator[tuple[int, dict[str, str] | None, RowError | None]]]:
    """Return the header and an iterator of (line, {column: value} or None, error or None)."""
    bad: list[tuple[int, str]] = []
    reader = csv.reader(_decoded_lines(stream, bad))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        return [], iter(())
    if bad:
        header = []

    def rows() -> Iterator[tuple[int, dict[str, str] | None, RowError | None]]:
        seen_bad = 1 if bad else 0
        while True:
            start = reader.line_num + 1
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield start, None, RowError(start, "", "malformed_csv", f"Unreadable CSV: {exc}")
                continue
            if len(bad) > seen_bad:
                seen_bad = len(bad)
                line, code = bad[-1]
                yield line, None, RowError(line, "", code, BAD_LINES[code])
                continue
            if not values or all(not v.strip() for v in values):
                continue
            if len(values) != len(header):
                yield (
                    start,
                    None,
                    RowError(
                        start,
                        "",
                        "wrong_column_count",
                        f"Expected {len(header)} columns, found {len(values)}.",
                    ),
                )
                continue
            yield start, dict(zip(header, values, strict=True)), None

    return header, rows()


def json_records(
    rows: Iterable[dict[str, Any]],
) -> Iterator[tuple[int, dict[str, str] | None, RowError | None]]:
    """Number JSON rows from 1 and stringify their values like CSV cells."""
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            yield number, None, RowError(number, "", "not_an_object", "Each row must be an object.")
            continue
        yield (
            number,
            {
                k: "" if v is None else (json.dumps(v) if isinstance(v, (list, dict)) else str(v))
                for k, v in row.items()
            },
            None,
        )


# --- parsing of one row -------------------------------------------------------------------------


def parse_day(value: str, formats: list[str]) -> dt.date | None:
    """Return the date ``value`` means in one of ``formats``, or None."""
    if "%Y-%m-%d" in formats and len(value) == 10 and value[4:5] == "-":
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    for fmt in formats:
        try:
            return dt.datetime.strptime(value, fmt).date()  # noqa: DTZ007 (a date)
        except ValueError:
            continue
    return None


class _Row:
    """Map one raw record through the column mapping and collect its errors."""

    def __init__(
        self, line: int, raw: dict[str, str], mapping: dict[str, Any], reverse: dict[str, str]
    ) -> None:
        self.line = line
        self.raw = raw
        self.mapping = mapping
        self.reverse = reverse  # our field -> their column
        self.errors: list[RowError] = []

    def get(self, name: str) -> str:
        column = self.reverse.get(name)
        value = self.raw.get(column, "").strip() if column else ""
        if not value:
            value = str(self.mapping.get("defaults", {}).get(name, ""))
        values = self.mapping.get("values", {}).get(name)
        if values and value in values:
            value = values[value]
        return value

    def error(self, name: str, code: str, message: str, value: str = "") -> None:
        self.errors.append(
            RowError(self.line, self.reverse.get(name, name), code, message, value[:200])
        )

    def required(self, name: str) -> str:
        value = self.get(name)
        if not value:
            self.error(name, "required", "A value is required.")
        return value

    def date(self, name: str, *, required: bool = False) -> dt.date | None:
        value = self.required(name) if required else self.get(name)
        if not value:
            return None
        day = parse_day(value, self.mapping.get("date_formats", ISO_DATES))
        if day is None:
            self.error(name, "bad_date", "Not a date (expected YYYY-MM-DD).", value)
        return day

    def decimal(self, name: str, *, required: bool = False) -> Decimal | None:
        value = self.required(name) if required else self.get(name)
        if not value:
            return None
        try:
            number = Decimal(value.replace(",", "")) if value.count(".") <= 1 else Decimal("x")
        except InvalidOperation:
            self.error(name, "bad_number", "Not a number.", value)
            return None
        if not number.is_finite():
            self.error(name, "bad_number", "Not a finite number.", value)
            return None
        return number


@dataclass(frozen=True)
class Lookups:
    """Everything a row is checked against, loaded once per batch (set-based)."""

    people_by_employee_id: dict[str, int]
    people_by_email: dict[str, int]
    closed_periods: list[tuple[dt.date, dt.date, dt.date | None, str]]
    today: dt.date

    @classmethod
    def load(cls) -> Lookups:
        people = Person.objects.values_list("id", "employee_id", "email")
        by_id = {emp: pk for pk, emp, _ in people}
        by_email = {email.lower(): pk for pk, _, email in people if email}
        closed = [
            (p.start, p.end, p.data_lock_date, p.label)
            for p in Period.objects.filter(status=PeriodStatus.CLOSED)
        ]
        return cls(by_id, by_email, closed, tenant_today(get_current_tenant()))

    def locked_period(self, day: dt.date) -> str | None:
        """Return the label of a closed period whose data lock is in force for ``day``."""
        for start, end, lock, label in self.closed_periods:
            if start <= day < end and (lock is None or self.today >= lock):
                return label
        return None


def _person(row: _Row, lookups: Lookups, id_field: str, email_field: str | None) -> int | None:
    employee_id = row.get(id_field)
    if employee_id:
        pk = lookups.people_by_employee_id.get(employee_id)
        if pk is None:
            row.error(id_field, "unknown_person", "No person with this employee id.", employee_id)
        return pk
    if email_field:
        email = row.get(email_field).lower()
        if email:
            pk = lookups.people_by_email.get(email)
            if pk is None:
                row.error(email_field, "unknown_person", "No person with this e-mail.", email)
            return pk
    return None


def _pairs(row: _Row, name: str, parts: int, lookups: Lookups) -> list[list[str]]:
    text = row.get(name)
    if not text:
        return []
    out = []
    for item in text.split(";"):
        bits = [b.strip() for b in item.split(":")]
        if len(bits) != parts:
            row.error(name, "bad_format", f"Each entry needs {parts} parts separated by ':'.", text)
            return []
        out.append(bits)
    return out


KINDS = frozenset(TransactionKind.values)
KIND_LIST = ", ".join(TransactionKind.values)


def parse_transaction(row: _Row, lookups: Lookups) -> dict[str, Any] | None:
    """Return the canonical fields of one transaction row, or None when it has errors."""
    external_id = row.required("external_id")
    kind = row.required("kind")
    if kind and kind not in KINDS:
        row.error("kind", "unknown_kind", f"Unknown kind; use one of {KIND_LIST}.", kind)
    currency = row.required("currency").upper()
    if currency and not is_currency_code(currency):
        row.error("currency", "unknown_currency", "Not an ISO 4217 currency code.", currency)
        currency = ""
    amount = row.decimal("amount", required=True)
    if amount is not None:
        if amount < 0 and kind not in NEGATIVE_KINDS:
            row.error(
                "amount",
                "negative_amount",
                "Negative amounts are allowed only for churn.",
                str(amount),
            )
        if currency and -amount.as_tuple().exponent > exponent(currency):  # type: ignore
            row.error(
                "amount",
                "too_many_decimals",
                f"{currency} has {exponent(currency)} decimal places.",
                str(amount),
            )
        if abs(amount) >= Decimal("1e16"):
            row.error("amount", "out_of_range", "Amount is too large.", str(amount))
    quantity = row.decimal("quantity")
    booked = row.date("booked_on", required=True)
    closed = row.date("closed_on")
    collected = row.date("collected_on")
    for name, day in (("booked_on", booked), ("closed_on", closed), ("collected_on", collected)):
        if day is not None and day > lookups.today:
            row.error(name, "future_date", "The date is in the future.", day.isoformat())
    if booked is not None:
        locked = lookups.locked_period(booked)
        if locked:
            row.error(
                "booked_on",
                "period_locked",
                f"{locked} is closed and its data lock is in force.",
                booked.isoformat(),
            )
    owner = _person(row, lookups, "owner_employee_id", "owner_email")
    status = row.get("status").lower()
    if status not in {"", "active", "won", "cancelled", "canceled"}:
        row.error("status", "unknown_status", "Use 'cancelled' or leave empty.", status)
    touches: list[dict[str, Any]] = []
    for employee_id, share in _pairs(row, "splits", 2, lookups):
        pk = lookups.people_by_employee_id.get(employee_id)
        try:
            pct = Decimal(share)
        except InvalidOperation:
            pct = Decimal("NaN")
        if not pct.is_finite():
            row.error("splits", "bad_number", "Split share is not a number.", share)
            continue
        if pk is None:
            row.error("splits", "unknown_person", "No person with this employee id.", employee_id)
        elif not Decimal(0) <= pct <= Decimal(100):
            row.error("splits", "bad_share", "Split share must be between 0 and 100.", share)
        elif -pct.as_tuple().exponent > 4:  # type: ignore[operator]
            row.error("splits", "bad_share", "Split shares have at most 4 decimal places.", share)
        else:
            touches.append({"person_id": pk, "role": "split", "share_pct": str(pct)})
    if sum(Decimal(t["share_pct"]) for t in touches) > 100:
        row.error("splits", "over_credited", "Split shares add up to more than 100 %.")
    for employee_id, role, at in _pairs(row, "touches", 3, lookups):
        pk = lookups.people_by_employee_id.get(employee_id)
        if pk is None:
            row.error("touches", "unknown_person", "No person with this employee id.", employee_id)
            continue
        touches.append({"person_id": pk, "role": role, "at": at})
    if row.errors:
        return None
    assert booked is not None
    assert amount is not None
    fields = {
        "source": row.get("source") or "upload",
        "external_id": external_id,
        "kind": kind,
        "amount": amount,
        "currency": currency,
        "quantity": quantity if quantity is not None else Decimal(1),
        "booked_on": booked,
        "closed_on": closed,
        "collected_on": collected,
        "owner_id": owner,
        "account": row.get("account")[:200],
        "product": row.get("product")[:200],
        "region": row.get("region")[:100],
        "touches": touches,
        "is_cancelled": status in {"cancelled", "canceled"},
        "attributes": {k[5:]: v for k, v in row.raw.items() if k.startswith("attr_") and v},
    }
    fields["content_hash"] = content_hash(fields)
    return fields


_HASHED = (
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
    "is_cancelled",
)


def content_hash(fields: dict[str, Any]) -> str:
    """Return a stable hash of a transaction's business content (not its key)."""
    parts = [str(fields[k]) for k in _HASHED]
    parts.append(json.dumps(fields["touches"], sort_keys=True) if fields["touches"] else "")
    parts.append(json.dumps(fields["attributes"], sort_keys=True) if fields["attributes"] else "")
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


# --- committing ---------------------------------------------------------------------------------


def parse_kpi(
    row: _Row, lookups: Lookups, periods: dict[str, int], nodes: dict[str, int]
) -> dict[str, Any] | None:
    """Return the canonical fields of one KPI value row, or None when it has errors."""
    metric = row.required("metric").strip().lower()
    subject_type = row.required("subject_type").lower()
    if subject_type and subject_type not in KpiSubject.values:
        row.error(
            "subject_type",
            "unknown_subject_type",
            "Use person, node, account or tenant.",
            subject_type,
        )
    subject = row.get("subject")
    person_id = node_id = None
    account = ""
    key = "tenant"
    if subject_type == KpiSubject.PERSON:
        person_id = lookups.people_by_employee_id.get(subject)
        if person_id is None:
            row.error("subject", "unknown_person", "No person with this employee id.", subject)
        key = f"person:{person_id}"
    elif subject_type == KpiSubject.NODE:
        node_id = nodes.get(subject)
        if node_id is None:
            row.error("subject", "unknown_node", "No node with this code.", subject)
        key = f"node:{node_id}"
    elif subject_type == KpiSubject.ACCOUNT:
        account = subject[:200]
        if not account:
            row.error("subject", "required", "An account is required.")
        key = f"account:{account}"
    period_text = row.required("period")
    period_id = periods.get(period_text)
    if period_text and period_id is None:
        row.error(
            "period", "unknown_period", "No period with this label or start date.", period_text
        )
    value = row.decimal("value", required=True)
    status = row.get("status").lower() or KpiStatus.DRAFT
    if status not in KpiStatus.values:
        row.error("status", "unknown_status", "Use draft or signed_off.", status)
    owner = _person(row, lookups, "owner_employee_id", None)
    if row.errors:
        return None
    return {
        "metric": metric[:64],
        "subject_type": subject_type,
        "person_id": person_id,
        "node_id": node_id,
        "account": account,
        "subject_key": key,
        "period_id": period_id,
        "value": value,
        "source": row.get("source")[:50],
        "owner_id": owner,
        "status": status,
    }


def _commit_kpis(
    chunk: list[dict[str, Any]],
    batch: IngestBatch,
    outcome: Outcome,
    bounds: dict[int, tuple[dt.date, dt.date]],
    *,
    write: bool,
) -> None:
    now = timezone.now()
    keys = {(r["metric"], r["subject_key"], r["period_id"]) for r in chunk}
    current = {
        (m, k, p): (pk, v, s)
        for pk, m, k, p, v, s in KpiValue.objects.known_now()
        .filter(metric__in={k[0] for k in keys}, period_id__in={k[2] for k in keys})
        .values_list("id", "metric", "subject_key", "period_id", "value", "status")
    }
    new_rows, supersede = [], []
    for row in chunk:
        existing = current.get((row["metric"], row["subject_key"], row["period_id"]))
        if existing is not None and existing[1] == row["value"] and existing[2] == row["status"]:
            outcome.counts["unchanged"] += 1
            continue
        if existing is not None:
            supersede.append(existing[0])
            outcome.counts["new_version"] += 1
        else:
            outcome.counts["created"] += 1
        new_rows.append(KpiValue(tenant=batch.tenant, batch=batch, recorded_at=now, **row))
    if write:
        if supersede:
            KpiValue.objects.filter(pk__in=supersede).update(superseded_at=now)
        KpiValue.objects.bulk_create(new_rows, batch_size=2_000)
        # A new version keeps its predecessor's subject and period: one key covers both.
        changes_record(
            kind=ChangeKind.KPI_VALUE,
            keys=[kpi_change_key(k, *bounds[k.period_id]) for k in new_rows],
        )


def kpi_change_key(kpi: KpiValue, start: dt.date, end: dt.date) -> ChangeKey:
    """Return the change-feed key of a KPI value of period ``[start, end)``: its person or
    node, else the whole tenant (account and company KPIs)."""
    return ChangeKey(valid_from=start, valid_to=end, person_id=kpi.person_id, node_id=kpi.node_id)


class RollbackError(Exception):
    """Raised inside the commit transaction to undo it (all-or-nothing with errors, dry runs)."""


def columns_for(
    *, kind: str, header: list[str] | None, mapping: dict[str, Any], outcome: Outcome
) -> dict[str, str] | None:
    """Return our field → the file's column, or None (with the errors in ``outcome``) when
    the header is unusable: empty, not UTF-8, or missing a required column."""
    required = KPI_REQUIRED if kind == IngestKind.KPI_VALUES else TRANSACTION_REQUIRED
    columns: dict[str, str] = mapping.get("columns", {})
    if header is None:  # JSON rows: our own field names, or the mapping's
        return {v: k for k, v in columns.items()} | {f: f for f in required}
    if not header:
        outcome.add_errors(
            [
                RowError(
                    1,
                    "",
                    "bad_encoding" if header == [] else "empty_file",
                    "The file is empty or its header is not UTF-8 text.",
                )
            ]
        )
        return None
    present = {columns[h]: h for h in header if h in columns}
    missing = [f for f in required if f not in present and not mapping.get("defaults", {}).get(f)]
    if missing:
        wanted = {v: k for k, v in columns.items()}
        outcome.add_errors(
            [
                RowError(
                    1,
                    wanted.get(f, f),
                    "missing_column",
                    f"Required column {wanted.get(f, f)!r} is missing.",
                )
                for f in missing
            ]
        )
        return None
    return present


def import_kpi_values(
    *,
    batch: IngestBatch,
    records: Iterator[tuple[int, dict[str, str] | None, RowError | None]],
    mapping: dict[str, Any],
    reverse: dict[str, str],
    outcome: Outcome,
    progress: Callable[[int], None] | None = None,
) -> Outcome:
    """Validate and commit KPI value ``records`` into ``batch``'s tenant, in chunks."""
    lookups = Lookups.load()
    periods: dict[str, int] = {}
    bounds: dict[int, tuple[dt.date, dt.date]] = {}
    for pk, label, start, end in Period.objects.values_list("id", "label", "start", "end"):
        periods[label] = pk
        periods.setdefault(start.isoformat(), pk)
        bounds[pk] = (start, end)
    nodes = dict(Node.objects.values_list("code", "id"))
    seen: dict[tuple[str, str], int] = {}
    write = not batch.dry_run
    try:
        with transaction.atomic():
            chunk: list[dict[str, Any]] = []
            for line, raw, error in records:
                outcome.counts["rows"] += 1
                if error is not None or raw is None:
                    outcome.add_errors([error] if error else [])
                    continue
                row = _Row(line, raw, mapping, reverse)
                parsed = parse_kpi(row, lookups, periods, nodes)
                if parsed is not None:
                    dup_key = (parsed["metric"], f"{parsed['subject_key']}@{parsed['period_id']}")
                    first = seen.get(dup_key)
                    if first is not None:
                        row.error(
                            "subject",
                            "duplicate_in_file",
                            f"Duplicate of line {first} in this file.",
                            dup_key[1],
                        )
                        parsed = None
                    else:
                        seen[dup_key] = line
                if parsed is None:
                    outcome.add_errors(row.errors)
                    continue
                chunk.append(parsed)
                if len(chunk) >= CHUNK_ROWS:
                    _commit_kpis(chunk, batch, outcome, bounds, write=write)
                    chunk = []
                    if progress is not None:
                        progress(outcome.counts["rows"])
            _commit_kpis(chunk, batch, outcome, bounds, write=write)
            if outcome.error_rows and batch.mode == IngestMode.ALL_OR_NOTHING:
                raise RollbackError
    except RollbackError:
        outcome.changed = 0
    return outcome


def store_errors(batch: IngestBatch, errors: list[RowError]) -> None:
    """Write the row-level report of ``batch``."""
    IngestError.objects.bulk_create(
        [
            IngestError(
                tenant=batch.tenant,
                batch=batch,
                line=e.line,
                column=e.column[:100],
                code=e.code,
                message=e.message[:500],
                value=e.value[:200],
            )
            for e in errors
        ],
        batch_size=2_000,
    )


def final_status(batch: IngestBatch, outcome: Outcome) -> str:
    """Return the batch status an outcome leads to."""
    if batch.dry_run:
        return IngestStatus.VALIDATED
    if not outcome.error_rows:
        return IngestStatus.SUCCEEDED
    if batch.mode == IngestMode.PARTIAL and outcome.counts["rows"] > outcome.error_rows:
        return IngestStatus.PARTIAL
    return IngestStatus.FAILED


def open_text(data: bytes) -> BinaryIO:
    """Return a binary stream over uploaded bytes (tests and JSON → CSV helpers)."""
    return io.BytesIO(data)
