"""Incentive imports on the kernel (:mod:`core.imports`): mappings, lookups, KPI values.

The contract, whatever the source (CSV upload, CSV API, JSON bulk API) and whatever the kind
(transactions: :mod:`incentives.bulk_ingest`; KPI values: here):

* Every problem is a kernel :class:`~core.imports.RowError` ``(line, column, code, message,
  value)``; line 1 is the CSV header (JSON rows are numbered from 1). A file that cannot be
  read, or lacks a required column, fails whole at line 1 before any row is read.
* ``all_or_nothing`` (the default) commits nothing when any row is bad; ``partial`` commits the
  good rows. ``dry_run`` validates and counts what would change, and writes no data row.
* The whole commit runs in one database transaction: nothing is ever half-written.
* Rows are read as a stream and handled in chunks of column arrays, so memory is bounded by
  the chunk (plus one set of the file's keys, to find duplicates).
* Upsert by key: an identical row is ``unchanged``; a changed one supersedes the current
  version and becomes version n + 1 (both kept, with when each was learned).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.changes import ChangeKey, changes_record
from core.imports import (
    BoundMap,
    FieldMap,
    ImportMode,
    Issues,
    JsonTable,
    Outcome,
    RollbackError,
    RowError,
    Table,
    columns,
)
from core.models import ChangeKind
from core.tenancy import get_current_tenant
from hierarchy.models import Node, Period, PeriodStatus, Person
from hierarchy.periods import tenant_today
from incentives.mappings import PRESETS, REQUIRED
from incentives.models import (
    ColumnMapping,
    IngestBatch,
    IngestError,
    IngestKind,
    KpiStatus,
    KpiSubject,
    KpiValue,
)

CHUNK_ROWS = 5_000  # KPI values; transactions use incentives.bulk_ingest.CHUNK_ROWS
DEFAULT_PRESET = {
    IngestKind.TRANSACTIONS: "quotient",
    IngestKind.KPI_VALUES: "quotient_kpi",
    IngestKind.FX_RATES: "quotient_fx",
    IngestKind.CREDITING_RULES: "quotient_rules",
}


class MappingError(ValueError):
    """The named column mapping does not exist."""


def resolve_mapping(name: str, kind: str) -> dict[str, Any]:
    """Return a preset or saved mapping by name (default: Quotient's own column names)."""
    if not name:
        return PRESETS[DEFAULT_PRESET[IngestKind(kind)]]
    if name in PRESETS:
        return PRESETS[name]
    saved = ColumnMapping.objects.filter(name=name).first()
    if saved is None:
        raise MappingError(f"unknown column mapping {name!r}")
    return {"columns": saved.columns, "defaults": saved.defaults, "kind": saved.kind}


def bind_mapping(*, name: str, kind: str, header: list[str], json_rows: bool) -> BoundMap:
    """Bind the named mapping to a file's header (raises the kernel's ``FileError``)."""
    mapping = FieldMap.from_dict(resolve_mapping(name, kind))
    return mapping.bind(header, required=REQUIRED[IngestKind(kind)], own_names=json_rows)


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


# --- KPI values ---------------------------------------------------------------------------------

KPI_VALUE_LIMIT = Decimal("1e14")  # NUMERIC(20, 6)
DUPLICATE = "Duplicate of line {first} in this file."


def _kpi_rows(
    chunk: Any,
    bound: BoundMap,
    issues: Issues,
    lookups: Lookups,
    periods: dict[str, int],
    nodes: dict[str, int],
) -> list[dict[str, Any]]:
    """Clean one chunk of KPI values; return the valid rows (with their ``line``)."""
    name = bound.name

    def values(field_: str) -> list[str]:
        return bound.values(chunk, field_)

    metrics = columns.text(
        [m.lower() for m in values("metric")],
        column=name("metric"),
        issues=issues,
        max_length=64,
        required=True,
    )
    kinds = columns.choice(
        [s.lower() for s in values("subject_type")],
        column=name("subject_type"),
        issues=issues,
        choices=KpiSubject.values,
        code="unknown_subject_type",
        message="Use person, node, account or tenant.",
        required=True,
    )
    subjects = values("subject")
    period_ids = columns.reference(
        values("period"),
        column=name("period"),
        issues=issues,
        lookup=periods,
        code="unknown_period",
        message="No period with this label or start date.",
        required=True,
    )
    numbers = columns.decimal(
        values("value"),
        column=name("value"),
        issues=issues,
        scale=6,
        limit=KPI_VALUE_LIMIT,
        required=True,
    )
    statuses = columns.choice(
        [s.lower() or KpiStatus.DRAFT for s in values("status")],
        column=name("status"),
        issues=issues,
        choices=KpiStatus.values,
        code="unknown_status",
        message="Use draft or signed_off.",
    )
    owners = columns.reference(
        values("owner_employee_id"),
        column=name("owner_employee_id"),
        issues=issues,
        lookup=lookups.people_by_employee_id,
        message="No person with this employee id.",
    )
    sources = columns.text(values("source"), column=name("source"), issues=issues, max_length=50)
    accounts = columns.text(subjects, column=name("subject"), issues=issues, max_length=200)
    out = []
    column = name("subject")
    for i, kind in enumerate(kinds):
        subject = subjects[i]
        person_id = node_id = None
        account, key = "", "tenant"
        if kind == KpiSubject.PERSON:
            person_id = lookups.people_by_employee_id.get(subject)
            if person_id is None:
                issues.add(i, column, "unknown_person", "No person with this employee id.", subject)
            key = f"person:{person_id}"
        elif kind == KpiSubject.NODE:
            node_id = nodes.get(subject)
            if node_id is None:
                issues.add(i, column, "unknown_node", "No node with this code.", subject)
            key = f"node:{node_id}"
        elif kind == KpiSubject.ACCOUNT:
            account = accounts[i]
            if not account:
                issues.add(i, column, "required", "An account is required.")
            key = f"account:{account}"
        if i in issues:
            continue
        out.append(
            {
                "line": chunk.lines[i],
                "metric": metrics[i],
                "subject_type": kind,
                "person_id": person_id,
                "node_id": node_id,
                "account": account,
                "subject_key": key,
                "period_id": period_ids[i],
                "value": numbers[i],
                "source": sources[i],
                "owner_id": owners[i],
                "status": statuses[i],
            }
        )
    return out


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
        fields = {k: v for k, v in row.items() if k != "line"}
        new_rows.append(KpiValue(tenant=batch.tenant, batch=batch, recorded_at=now, **fields))
    if write:
        if supersede:
            KpiValue.objects.filter(pk__in=supersede).update(superseded_at=now)
        KpiValue.objects.bulk_create(new_rows, batch_size=2_000)
        outcome.changed += len(new_rows)
        # A new version keeps its predecessor's subject and period: one key covers both.
        changes_record(
            kind=ChangeKind.KPI_VALUE,
            keys=[kpi_change_key(k, *bounds[k.period_id]) for k in new_rows],
        )


def kpi_change_key(kpi: KpiValue, start: dt.date, end: dt.date) -> ChangeKey:
    """Return the change-feed key of a KPI value of period ``[start, end)``: its person or
    node, else the whole tenant (account and company KPIs)."""
    return ChangeKey(valid_from=start, valid_to=end, person_id=kpi.person_id, node_id=kpi.node_id)


def import_kpi_values(
    *,
    batch: IngestBatch,
    table: Table | JsonTable,
    bound: BoundMap,
    outcome: Outcome,
    progress: Callable[[int], None] | None = None,
    finish: Callable[[Outcome], None] | None = None,
) -> Outcome:
    """Validate and commit the KPI values of ``table`` into ``batch``'s tenant, in chunks, in
    one transaction with what ``finish(outcome)`` writes (rolled back whole in all-or-nothing
    mode when a row is bad)."""
    lookups = Lookups.load()
    periods: dict[str, int] = {}
    bounds: dict[int, tuple[dt.date, dt.date]] = {}
    for pk, label, start, end in Period.objects.values_list("id", "label", "start", "end"):
        periods[label] = pk
        periods.setdefault(start.isoformat(), pk)
        bounds[pk] = (start, end)
    nodes = dict(Node.objects.values_list("code", "id"))
    for key in ("created", "new_version", "unchanged"):
        outcome.counts.setdefault(key, 0)
    seen: dict[tuple[str, str, int], int] = {}
    write = not batch.dry_run
    strict = batch.mode == ImportMode.ALL_OR_NOTHING
    try:
        with transaction.atomic():
            for chunk in table.chunks(CHUNK_ROWS):
                outcome.counts["rows"] += chunk.rows
                outcome.add_row_errors(chunk.errors)
                issues = Issues(chunk.lines)
                valid = _kpi_rows(chunk, bound, issues, lookups, periods, nodes)
                outcome.add_row_errors(issues.rows())
                good = []
                for row in valid:
                    dup = (row["metric"], row["subject_key"], row["period_id"])
                    first = seen.get(dup)
                    if first is not None:
                        error = RowError(
                            row["line"],
                            bound.name("subject"),
                            "duplicate_in_file",
                            DUPLICATE.format(first=first),
                            f"{dup[1]}@{dup[2]}",
                        )
                        outcome.add_errors([error])
                        continue
                    seen[dup] = row["line"]
                    good.append(row)
                _commit_kpis(
                    good,
                    batch,
                    outcome,
                    bounds,
                    write=write and not (strict and outcome.error_rows),
                )
                if progress is not None:
                    progress(outcome.counts["rows"])
            if outcome.error_rows and strict:
                raise RollbackError
            if finish is not None:
                finish(outcome)
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
