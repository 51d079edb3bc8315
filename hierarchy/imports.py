"""HR import: people, assignments and org structure from CSV or JSON, all-or-nothing.

One entry point, :func:`hr_import`. It parses every row, checks every rule against the file
*and* what the tenant already has, and only then writes — set-based (``bulk_create`` /
``bulk_update`` in chunks), inside one transaction. Any row error means nothing is written;
the batch is still recorded (status ``failed``) with its errors, each
``{line, column, code, message}``. A dry run does the same checks and returns the counts and
row diffs it *would* write. Upserts are keyed by employee id (people), by
(employee, hierarchy, node, role, valid_from) (assignments) and by (hierarchy, code) (nodes),
so importing the same file twice changes nothing the second time.

With an ``access`` policy (what pages and the API pass), a node-scoped admin imports only
about the people inside their nodes (anyone else is ``out_of_scope``, like a new employee id:
adding people needs tenant-wide access), names only those people as managers, places
assignments only in nodes inside their scope, and cannot import org structure at all.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from core.audit import audit_record
from core.csvsafe import csv_writer
from core.currencies import UNKNOWN_CURRENCY, is_currency_code
from core.errors import ValidationFailedError
from core.tenancy import get_current_tenant
from hierarchy.intervals import Span, end_or_max, live_on
from hierarchy.models import (
    Assignment,
    Hierarchy,
    ImportBatch,
    ImportKind,
    ImportStatus,
    JobRole,
    Node,
    NodeParent,
    Person,
)
from hierarchy.people import (
    _set_parent,
    _terminate,
    assignments_changed,
    check_person_spans,
    closure_rebuild,
)

if TYPE_CHECKING:
    from hierarchy.access import Access

MAX_STORED_ERRORS = 1000
MAX_STORED_DIFFS = 500
CHUNK = 2000  # rows per INSERT/UPDATE statement; 100k people import in ~50 statements

COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # kind: (required, optional)
    ImportKind.PEOPLE: (
        ("employee_id", "full_name", "hire_date"),
        (
            "email",
            "termination_date",
            "home_currency",
            "base_salary",
            "manager_employee_id",
            "level",
            "location",
            "cost_centre",
        ),
    ),
    ImportKind.ASSIGNMENTS: (
        ("employee_id", "hierarchy", "node", "role", "valid_from"),
        ("valid_to", "allocation_pct", "title", "is_manager"),
    ),
    ImportKind.NODES: (("hierarchy", "code", "name"), ("parent_code", "valid_from", "valid_to")),
}
ATTRIBUTE_COLUMNS = ("level", "location", "cost_centre")
TRUE = {"1", "true", "yes", "y", "t"}
FALSE = {"0", "false", "no", "n", "f", ""}


@dataclass
class RowError:
    line: int
    column: str
    code: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "column": self.column,
            "code": self.code,
            "message": self.message,
        }


@dataclass
class Outcome:
    """What an import found or did: counts, errors and per-row diffs."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    diffs: list[dict[str, Any]] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    rows_applied: int = 0  # partial imports: rows without errors

    def error(self, line: int, column: str, code: str, message: str) -> None:
        self.errors.append(RowError(line, column, code, message))

    def diff(self, line: int, key: str, action: str, changes: dict[str, Any]) -> None:
        if action == "unchanged":
            self.unchanged += 1
            return
        if action == "created":
            self.created += 1
        else:
            self.updated += 1
        if len(self.diffs) < MAX_STORED_DIFFS:
            self.diffs.append({"line": line, "key": key, "action": action, "changes": changes})

    def counts(self) -> dict[str, int]:
        return {
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "errors": len(self.errors),
        }


def _without_bad_rows(parsed: list[Row], out: Outcome, apply: Any) -> tuple[list[Row], Outcome]:
    """Drop rows with errors, and rows that only fail because of them, until a trial is clean.

    Each trial runs the import without keeping anything; a few rounds settle chains such as a
    person whose manager's row was bad.
    """
    bad = {e.line for e in out.errors}
    good = [row for row in parsed if row[0] not in bad]
    for _ in range(5):
        trial = Outcome(rows=len(good))
        try:
            with transaction.atomic():
                apply(good, trial, write=False)
                raise _AbortError
        except _AbortError:
            pass
        if not trial.errors:
            break
        out.errors.extend(trial.errors)
        failing = {e.line for e in trial.errors}
        good = [row for row in good if row[0] not in failing]
    clean = Outcome(rows=out.rows, errors=out.errors, ignored_columns=out.ignored_columns)
    clean.rows_applied = len(good)
    return good, clean


class _AbortError(Exception):
    """Row errors found while writing: roll the transaction back."""


# --- parsing -----------------------------------------------------------------------------------

Row = tuple[int, dict[str, str]]


def parse_csv(content: bytes, kind: str, out: Outcome) -> list[Row]:
    """Decode and split a CSV file into (line number, row); file-level problems go to ``out``."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1
        out.error(
            line,
            "",
            "bad_encoding",
            f"Line {line} is not valid UTF-8 (byte 0x{content[exc.start]:02x}). "
            "Save the file as UTF-8 (CSV UTF-8 in Excel) and upload it again.",
        )
        return []
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        out.error(
            line,
            "",
            "nul_character",
            f"Line {line} contains a NUL character (a binary file?); save the file as CSV "
            "UTF-8 text and upload it again.",
        )
        return []
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
    except csv.Error as exc:
        out.error(1, "", "malformed_csv", f"The header line cannot be read: {exc}.")
        return []
    if not header or not any(h.strip() for h in header):
        out.error(1, "", "empty_file", "The file is empty: the first line must name the columns.")
        return []
    names = [h.strip().lower().replace(" ", "_") for h in header]
    required, optional = COLUMNS[kind]
    for column in required:
        if column not in names:
            out.error(1, column, "missing_column", f"The required column “{column}” is missing.")
    dupes = sorted({n for n in names if n and names.count(n) > 1})
    for column in dupes:
        out.error(1, column, "duplicate_column", f"The column “{column}” appears twice.")
    out.ignored_columns = [n for n in names if n and n not in required and n not in optional]
    if out.errors:
        return []
    rows: list[Row] = []
    try:
        for values in reader:
            line = reader.line_num
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(names):
                out.error(
                    line,
                    "",
                    "wrong_field_count",
                    f"Line {line} has {len(values)} fields; the header has {len(names)}.",
                )
                continue
            rows.append((line, {n: v.strip() for n, v in zip(names, values, strict=True) if n}))
    except csv.Error as exc:
        out.error(reader.line_num, "", "malformed_csv", f"Line {reader.line_num}: {exc}.")
    return rows


def parse_json(items: Any, kind: str, out: Outcome) -> list[Row]:
    """Validate a JSON list of objects; row numbers start at 1 and are reported as ``line``."""
    if not isinstance(items, list):
        out.error(0, "", "malformed_json", "Send a list of objects under “rows”.")
        return []
    required, optional = COLUMNS[kind]
    rows: list[Row] = []
    for index, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            out.error(index, "", "malformed_json", f"Row {index} is not an object.")
            continue
        row: dict[str, str] = {}
        for key, value in item.items():
            if key not in required and key not in optional:
                continue
            if isinstance(value, bool):
                row[key] = "true" if value else "false"
            else:
                row[key] = "" if value is None else str(value).strip()
        for key in required:
            if key not in row:
                row[key] = ""
        rows.append((index, row))
    return rows


def _required(out: Outcome, line: int, row: dict[str, str], column: str) -> str | None:
    value = row.get(column, "")
    if value == "":
        out.error(line, column, "missing_value", f"“{column}” is required.")
        return None
    return value


def _date(out: Outcome, line: int, row: dict[str, str], column: str) -> date | bool | None:
    """Return a date, None for an empty cell, or False after recording an error."""
    value = row.get(column, "")
    if value == "":
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        out.error(line, column, "bad_date", f"“{value}” is not a date; use YYYY-MM-DD.")
        return False


def _decimal(
    out: Outcome, line: int, column: str, value: str, max_digits: int, places: int
) -> Decimal | bool | None:
    if value == "":
        return None
    try:
        number = Decimal(value.replace(",", "")) if re.fullmatch(r"[\d,.\-]+", value) else None
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        out.error(line, column, "bad_number", f"“{value}” is not a number.")
        return False
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        out.error(line, column, "bad_number", f"“{value}” has more than {places} decimals.")
        return False
    if abs(number) >= Decimal(10) ** (max_digits - places):
        out.error(line, column, "bad_number", f"“{value}” is too large.")
        return False
    return number


# --- the entry point ---------------------------------------------------------------------------


def hr_import(
    *,
    kind: str,
    content: bytes | None = None,
    rows: Any = None,
    filename: str = "",
    dry_run: bool = False,
    created_by_id: int | None = None,
    partial: bool = False,
    access: Access | None = None,
) -> ImportBatch:
    """Import a CSV file (``content``) or JSON rows (``rows``) of ``kind``; return the batch.

    All-or-nothing by default: with any row error nothing is written but the failed batch
    itself. With ``partial`` the rows without errors are applied and the others reported; a row
    that only fails because it leans on a bad row (a manager, a parent node) is reported too.
    ``access`` confines a node-scoped admin (None: a command or the platform, no limit).
    """
    if kind not in ImportKind.values:
        raise ValidationFailedError(f"Unknown import kind {kind!r}.", code="unknown_kind")
    if access is not None and kind == ImportKind.NODES:
        access.require_tenant_wide("importing org structure")
    tenant = get_current_tenant()
    out = Outcome()
    if content is not None:
        source, digest = "csv", hashlib.sha256(content).hexdigest()
        parsed = parse_csv(content, kind, out)
    else:
        source = "json"
        digest = hashlib.sha256(repr(rows).encode()).hexdigest()
        parsed = parse_json(rows, kind, out)
    out.rows = len(parsed)
    importer = {
        ImportKind.PEOPLE: _import_people,
        ImportKind.ASSIGNMENTS: _import_assignments,
        ImportKind.NODES: _import_nodes,
    }[ImportKind(kind)]

    def apply(rows: list[Row], outcome: Outcome, *, write: bool) -> None:
        importer(rows, outcome, write=write, access=access)

    status = ImportStatus.PREVIEW if dry_run else ImportStatus.APPLIED
    if partial and parsed and not any(e.line == 1 for e in out.errors):
        # File-level problems (line 1) fail the file whatever the mode.
        parsed, out = _without_bad_rows(parsed, out, apply)
    if not out.errors or (partial and parsed):
        skipped = out.errors  # partial mode: the rows already set aside, with their reasons
        if partial:
            out = Outcome(
                rows=out.rows, ignored_columns=out.ignored_columns, rows_applied=out.rows_applied
            )
        try:
            with transaction.atomic():
                apply(parsed, out, write=not dry_run)
                if out.errors:
                    raise _AbortError
                if dry_run:
                    raise _AbortError  # nodes imports write to find cycles: never keep a dry run
                audit_record(
                    action=f"hr_import.{kind}",
                    object_type="hierarchy.importbatch",
                    after={**out.counts(), "filename": filename, "sha256": digest},
                )
        except _AbortError:
            pass
        if partial:
            kept_clean = not out.errors
            out.errors = skipped + out.errors
            if not kept_clean:
                out.rows_applied = out.created = out.updated = out.unchanged = 0
    if out.errors and not (partial and status == ImportStatus.APPLIED and out.rows_applied):
        status = ImportStatus.FAILED
    out.errors.sort(key=lambda e: (e.line, e.column))
    batch = ImportBatch(
        tenant=tenant,
        kind=kind,
        source=source,
        filename=filename[:255],
        content_sha256=digest,
        dry_run=dry_run,
        status=status,
        row_count=out.rows,
        counts={**out.counts(), "ignored_columns": out.ignored_columns, "partial": partial},
        errors=[e.as_dict() for e in out.errors[:MAX_STORED_ERRORS]],
        diffs=out.diffs,
        created_by_id=created_by_id,
        created_at=timezone.now(),
    )
    batch.save()
    return batch


# --- people ------------------------------------------------------------------------------------

PERSON_IMPORT_FIELDS = (
    "full_name",
    "email",
    "hire_date",
    "termination_date",
    "home_currency",
    "base_salary",
)


OUT_OF_SCOPE_PERSON = (
    "No one with employee id “{emp}” is in the part of the organisation you manage "
    "(adding people needs tenant-wide access)."
)
OUT_OF_SCOPE_NODE = "Node “{node}” is outside the part of the organisation you manage."


def _mine(access: Access | None) -> set[str] | None:
    """Return the employee ids a node-scoped admin answers for (None: no limit)."""
    if access is None or not access.node_limited:
        return None
    return set(access.current_people().values_list("employee_id", flat=True))


def _import_people(
    parsed: list[Row], out: Outcome, *, write: bool, access: Access | None = None
) -> None:
    tenant = get_current_tenant()
    mine = _mine(access)
    columns = set().union(*(row.keys() for _l, row in parsed)) if parsed else set()
    seen: dict[str, int] = {}
    records: list[tuple[int, str, dict[str, Any], str | None]] = []
    for line, row in parsed:
        emp = _required(out, line, row, "employee_id")
        if emp is None:
            continue
        if emp in seen:
            out.error(
                line,
                "employee_id",
                "duplicate_employee_id",
                f"Employee id “{emp}” is also on line {seen[emp]}.",
            )
            continue
        seen[emp] = line
        if mine is not None and emp not in mine:
            out.error(line, "employee_id", "out_of_scope", OUT_OF_SCOPE_PERSON.format(emp=emp))
            continue
        before = len(out.errors)
        values: dict[str, Any] = {}
        name = _required(out, line, row, "full_name")
        values["full_name"] = (name or "")[:200]
        hire = _date(out, line, row, "hire_date")
        if hire is None:
            out.error(line, "hire_date", "missing_value", "“hire_date” is required.")
        values["hire_date"] = hire
        if "termination_date" in columns:
            end = _date(out, line, row, "termination_date")
            if isinstance(end, date) and isinstance(hire, date) and end <= hire:
                out.error(
                    line,
                    "termination_date",
                    "dates_out_of_order",
                    "The termination date must be after the hire date.",
                )
            values["termination_date"] = end
        if "email" in columns:
            email = row.get("email", "")
            if email:
                try:
                    validate_email(email)
                except ValidationError:
                    out.error(line, "email", "bad_email", f"“{email}” is not an e-mail address.")
            values["email"] = email.lower()
        if "home_currency" in columns:
            currency = row.get("home_currency", "").upper() or tenant.default_currency
            if not is_currency_code(currency):
                out.error(line, "home_currency", "bad_currency", UNKNOWN_CURRENCY)
            values["home_currency"] = currency
        if "base_salary" in columns:
            salary = _decimal(out, line, "base_salary", row.get("base_salary", ""), 20, 4)
            if isinstance(salary, Decimal) and salary < 0:
                out.error(line, "base_salary", "bad_number", "The base salary cannot be negative.")
            values["base_salary"] = salary
        attributes = {c: row[c] for c in ATTRIBUTE_COLUMNS if c in columns and row.get(c)}
        manager = row.get("manager_employee_id", "") if "manager_employee_id" in columns else None
        if manager == emp:
            out.error(
                line,
                "manager_employee_id",
                "self_manager",
                "A person cannot be their own manager.",
            )
        if len(out.errors) == before:
            values["_attributes"] = attributes
            records.append((line, emp, values, manager))

    existing: dict[str, dict[str, Any]] = {
        p["employee_id"]: p
        for p in Person.objects.values(
            "id", "employee_id", "manager_id", "attributes", *PERSON_IMPORT_FIELDS
        )
    }
    emp_of_pk = {p["id"]: emp for emp, p in existing.items()}

    # Managers: known in the tenant or in this file; and no chain may loop back.
    manager_of: dict[str, str | None] = {
        emp: emp_of_pk.get(p["manager_id"]) if p["manager_id"] else None
        for emp, p in existing.items()
    }
    for line, emp, _values, manager in records:
        if manager is None:
            continue
        # A node-scoped admin names only their own people as managers; another is unknown.
        foreign = mine is not None and manager not in mine and manager != manager_of.get(emp)
        if manager and (foreign or (manager not in existing and manager not in seen)):
            out.error(
                line,
                "manager_employee_id",
                "unknown_manager",
                f"No person has employee id “{manager}” in this tenant or this file.",
            )
        manager_of[emp] = manager or None
    line_of = {emp: line for line, emp, _v, _m in records}
    for emp in _in_manager_cycles(manager_of, set(line_of)):
        out.error(
            line_of[emp],
            "manager_employee_id",
            "manager_cycle",
            f"The managers of “{emp}” lead back to them.",
        )
    if out.errors:
        return

    creates: list[Person] = []
    updates: list[Person] = []
    terminations: list[tuple[str, date | None]] = []
    update_fields = [f for f in PERSON_IMPORT_FIELDS if f in columns or f in {"full_name"}]
    update_fields = [f for f in update_fields if f != "termination_date"]
    if columns & set(ATTRIBUTE_COLUMNS):
        update_fields.append("attributes")
    now = timezone.now()
    for line, emp, values, _manager in records:
        attributes = values.pop("_attributes")
        current = existing.get(emp)
        if current is None:
            values.setdefault("home_currency", tenant.default_currency)
            out.diff(line, emp, "created", {k: _jsonable(v) for k, v in values.items()})
            if write:
                creates.append(
                    Person(tenant=tenant, employee_id=emp, attributes=attributes, **values)
                )
            continue
        changes = {
            k: [_jsonable(current[k]), _jsonable(v)]
            for k, v in values.items()
            if _normal(current[k]) != _normal(v)
        }
        merged = {**(current["attributes"] or {}), **attributes}
        if merged != (current["attributes"] or {}):
            changes["attributes"] = [current["attributes"], merged]
        out.diff(line, emp, "updated" if changes else "unchanged", changes)
        if not changes or not write:
            continue
        if "termination_date" in changes:
            terminations.append((emp, values["termination_date"]))
        obj = Person(pk=current["id"], tenant=tenant, employee_id=emp, updated_at=now)
        for f in PERSON_IMPORT_FIELDS:
            setattr(obj, f, values.get(f, current[f]))
        obj.attributes = merged
        updates.append(obj)
    if not write:
        _count_manager_changes(records, existing, manager_of, emp_of_pk, out)
        return
    # New people are inserted level by level down their manager chains, so every row is
    # written once with its manager id already known: no UPDATE pass over 100k rows.
    pk_of = {emp: p["id"] for emp, p in existing.items()}
    new_manager = {emp: m for _l, emp, _v, m in records if emp not in existing}
    levels: dict[int, list[Person]] = defaultdict(list)
    depth: dict[str, int] = {}
    for obj in creates:
        chain: list[str] = []
        cur: str | None = obj.employee_id
        while cur is not None and cur not in depth:
            chain.append(cur)
            boss = new_manager.get(cur)
            cur = boss if boss and boss in new_manager else None
        base = depth[cur] + 1 if cur is not None else 0
        for offset, emp in enumerate(reversed(chain)):
            depth[emp] = base + offset
        levels[depth[obj.employee_id]].append(obj)
    for level in sorted(levels):
        batch = levels[level]
        for obj in batch:
            boss = new_manager.get(obj.employee_id)
            obj.manager_id = pk_of[boss] if boss else None
        for i in range(0, len(batch), CHUNK):
            Person.objects.bulk_create(batch[i : i + CHUNK])
        pk_of.update({obj.employee_id: obj.pk for obj in batch})
    for i in range(0, len(updates), CHUNK):
        Person.objects.bulk_update(updates[i : i + CHUNK], [*update_fields, "updated_at"])
    if terminations:
        by_emp = {
            p.employee_id: p
            for p in Person.objects.filter(employee_id__in=[e for e, _d in terminations])
        }
        for emp, end in terminations:
            _terminate(by_emp[emp], end)
    # Existing people whose manager changed: one UPDATE per new manager.
    regroup: dict[int | None, list[int]] = defaultdict(list)
    for line, emp, _values, manager in records:
        current = existing.get(emp)
        if manager is None or current is None:
            continue
        wanted = pk_of[manager] if manager else None
        if current["manager_id"] != wanted:
            regroup[wanted].append(current["id"])
            _note_manager_change(out, line, emp, current["manager_id"], manager)
    for wanted, ids in regroup.items():
        for i in range(0, len(ids), CHUNK):
            Person.objects.filter(pk__in=ids[i : i + CHUNK]).update(manager_id=wanted)


def _note_manager_change(
    out: Outcome, line: int, emp: str, old_pk: int | None, manager: str
) -> None:
    """Count a manager-only change of an otherwise unchanged person as an update."""
    for diff in out.diffs:
        if diff["line"] == line:
            diff["changes"]["manager_employee_id"] = [old_pk, manager or None]
            return
    out.unchanged -= 1
    out.diff(line, emp, "updated", {"manager_employee_id": [old_pk, manager or None]})


def _count_manager_changes(
    records: list[tuple[int, str, dict[str, Any], str | None]],
    existing: dict[str, dict[str, Any]],
    manager_of: dict[str, str | None],
    emp_of_pk: dict[int, str],
    out: Outcome,
) -> None:
    for line, emp, _values, manager in records:
        current = existing.get(emp)
        if manager is None or current is None:
            continue
        old = emp_of_pk.get(current["manager_id"]) if current["manager_id"] else None
        if old != (manager or None):
            _note_manager_change(out, line, emp, current["manager_id"], manager)


def _in_manager_cycles(manager_of: dict[str, str | None], check: set[str]) -> list[str]:
    """Return the people of ``check`` whose manager chain loops."""
    safe: set[str] = set()
    looping: list[str] = []
    for start in sorted(check):
        path: list[str] = []
        on_path: set[str] = set()
        cur: str | None = start
        while cur is not None and cur not in safe and cur not in on_path:
            path.append(cur)
            on_path.add(cur)
            cur = manager_of.get(cur)
        if cur is not None and cur in on_path:
            cycle = set(path[path.index(cur) :])
            looping.extend(sorted(e for e in cycle if e in check and e not in looping))
            safe |= set(path) - cycle
        else:
            safe |= set(path)
    return sorted(set(looping))


def _normal(value: Any) -> Any:
    if isinstance(value, Decimal):
        return value.normalize()
    return value


def _jsonable(value: Any) -> Any:
    if isinstance(value, (date, Decimal)):
        return str(value)
    return value


# --- assignments -------------------------------------------------------------------------------


def _import_assignments(
    parsed: list[Row], out: Outcome, *, write: bool, access: Access | None = None
) -> None:
    tenant = get_current_tenant()
    mine = _mine(access)
    # A node-scoped admin's file may name only their own people; anyone else is unknown.
    people = {
        p.employee_id: p for p in Person.objects.all() if mine is None or p.employee_id in mine
    }
    hierarchies = dict(Hierarchy.objects.values_list("code", "id"))
    nodes: dict[tuple[int | None, str], int] = {}
    hierarchy_of: dict[int, int] = {}
    for pk, h, c in Node.objects.values_list("id", "hierarchy_id", "code"):
        nodes[(h, c)] = pk
        hierarchy_of[pk] = h
    roles = dict(JobRole.objects.values_list("name", "id"))
    keys: dict[tuple[Any, ...], int] = {}
    rows_by_person: dict[int, list[tuple[int, Assignment]]] = defaultdict(list)
    for line, row in parsed:
        before = len(out.errors)
        emp = _required(out, line, row, "employee_id")
        person = people.get(emp) if emp else None
        if emp and person is None:
            out.error(line, "employee_id", "unknown_person", f"No person has employee id “{emp}”.")
        h_code = _required(out, line, row, "hierarchy")
        hierarchy_id = hierarchies.get(h_code) if h_code else None
        if h_code and hierarchy_id is None:
            out.error(line, "hierarchy", "unknown_hierarchy", f"No hierarchy has code “{h_code}”.")
        n_code = _required(out, line, row, "node")
        node_id = nodes.get((hierarchy_id, n_code)) if n_code else None
        if n_code and hierarchy_id and node_id is None:
            out.error(line, "node", "unknown_node", f"No node “{n_code}” in hierarchy “{h_code}”.")
        role_name = _required(out, line, row, "role")
        role_id = roles.get(role_name) if role_name else None
        if role_name and role_id is None:
            out.error(line, "role", "unknown_role", f"No job role is named “{role_name}”.")
        start = _date(out, line, row, "valid_from")
        if start is None:
            out.error(line, "valid_from", "missing_value", "“valid_from” is required.")
        end = _date(out, line, row, "valid_to")
        if isinstance(start, date) and isinstance(end, date) and end <= start:
            out.error(line, "valid_to", "dates_out_of_order", "valid_to must be after valid_from.")
        allocation = _decimal(out, line, "allocation_pct", row.get("allocation_pct", ""), 5, 2)
        if allocation is None:
            allocation = Decimal(100)
        if isinstance(allocation, Decimal) and not Decimal(0) < allocation <= Decimal(100):
            out.error(
                line,
                "allocation_pct",
                "allocation_range",
                "allocation_pct must be more than 0 and at most 100.",
            )
        flag = row.get("is_manager", "").lower()
        if flag not in TRUE | FALSE:
            out.error(line, "is_manager", "bad_boolean", f"“{flag}” is not true or false.")
        if len(out.errors) != before or person is None or node_id is None or role_id is None:
            continue
        if not isinstance(start, date):
            continue
        if access is not None and not access.node_writable(
            node_id, start, end if isinstance(end, date) else None
        ):
            out.error(line, "node", "out_of_scope", OUT_OF_SCOPE_NODE.format(node=n_code))
            continue
        key = (person.pk, node_id, role_id, start)
        if key in keys:
            out.error(
                line,
                "valid_from",
                "duplicate_row",
                f"The same assignment (employee, node, role, valid_from) is on line {keys[key]}.",
            )
            continue
        keys[key] = line
        rows_by_person[person.pk].append(
            (
                line,
                Assignment(
                    tenant=tenant,
                    person=person,
                    node_id=node_id,
                    role_id=role_id,
                    title=row.get("title", "")[:200],
                    allocation_pct=allocation,
                    is_manager=flag in TRUE,
                    valid_from=start,
                    valid_to=end if isinstance(end, date) else None,
                ),
            )
        )
    # Rows with field errors are left out; the rest still get the person-level checks, so one
    # upload reports every problem.
    existing: dict[int, list[Assignment]] = defaultdict(list)
    person_ids = list(rows_by_person)
    for i in range(0, len(person_ids), 500):
        for a in Assignment.objects.filter(person_id__in=person_ids[i : i + 500]).known_now():
            existing[a.person_id].append(a)
    now = timezone.now()
    inserts: list[Assignment] = []
    superseded: list[int] = []
    superseded_rows: list[Assignment] = []
    person_by_pk = {p.pk: p for p in people.values()}
    for person_id, items in rows_by_person.items():
        current = {(a.node_id, a.role_id, a.valid_from): a for a in existing[person_id]}
        replaced: set[int] = set()
        spans: dict[Any, Span] = {}
        for line, new in items:
            old = current.get((new.node_id, new.role_id, new.valid_from))
            emp = person_by_pk[person_id].employee_id
            label = f"{emp} {new.valid_from}"
            if old is not None:
                changes = {
                    f: [_jsonable(getattr(old, f)), _jsonable(getattr(new, f))]
                    for f in ("valid_to", "allocation_pct", "title", "is_manager")
                    if _normal(getattr(old, f)) != _normal(getattr(new, f))
                }
                out.diff(line, label, "updated" if changes else "unchanged", changes)
                if not changes:
                    continue
                replaced.add(old.pk)
                superseded.append(old.pk)
                superseded_rows.append(old)
            else:
                out.diff(
                    line,
                    label,
                    "created",
                    {
                        f: _jsonable(getattr(new, f))
                        for f in ("node_id", "role_id", "allocation_pct", "valid_from", "valid_to")
                    },
                )
            new.recorded_at = now
            spans[line] = _span(new, line, hierarchy_of[new.node_id])
            inserts.append(new)
        for a in existing[person_id]:
            if a.pk not in replaced:
                spans[("db", a.pk)] = _span(a, ("db", a.pk), hierarchy_of[a.node_id])
        file_lines = [line for line, _a in items if line in spans]
        problems = check_person_spans(person_by_pk[person_id], list(spans.values()), file_lines)
        for key, column, code, message in problems:
            out.error(_blame(key, spans, file_lines), column, code, message)
    if out.errors or not write:
        return
    for i in range(0, len(superseded), CHUNK):
        Assignment.objects.filter(pk__in=superseded[i : i + CHUNK]).update(superseded_at=now)
    Assignment.objects.bulk_create(inserts, batch_size=CHUNK)
    assignments_changed([*superseded_rows, *inserts])


def _span(a: Assignment, key: Any, hierarchy_id: int) -> Span:
    return Span(
        key, a.node_id, a.role_id, Decimal(a.allocation_pct), a.valid_from, a.valid_to, hierarchy_id
    )


def _blame(key: Any, spans: dict[Any, Span], file_lines: list[int]) -> int:
    """Return the file line to report a person-level problem on."""
    if isinstance(key, int):
        return key
    culprit = spans[key]
    for line in file_lines:
        s = spans[line]
        if s.start < end_or_max(culprit.end) and culprit.start < end_or_max(s.end):
            return line
    return file_lines[0]


# --- nodes -------------------------------------------------------------------------------------


def _import_nodes(
    parsed: list[Row], out: Outcome, *, write: bool, access: Access | None = None
) -> None:
    """Create or rename nodes and set their parents; cycles are found by building the closure.

    Org files are small (hundreds of rows), so this applies row by row inside the transaction
    and lets :func:`closure_rebuild` find cycles; a dry run is rolled back by the caller.
    """
    tenant = get_current_tenant()
    columns = set().union(*(row.keys() for _l, row in parsed)) if parsed else set()
    hierarchies = {h.code: h for h in Hierarchy.objects.all()}
    nodes = {(n.hierarchy_id, n.code): n for n in Node.objects.all()}
    in_file = {
        (hierarchies[row["hierarchy"]].pk, row["code"])
        for _l, row in parsed
        if row.get("hierarchy") in hierarchies and row.get("code")
    }
    checked: list[tuple[int, Hierarchy, str, str, str | None, date | None, date | None]] = []
    seen: dict[tuple[Any, ...], int] = {}
    for line, row in parsed:
        before = len(out.errors)
        h_code = _required(out, line, row, "hierarchy")
        hierarchy = hierarchies.get(h_code) if h_code else None
        if h_code and hierarchy is None:
            out.error(line, "hierarchy", "unknown_hierarchy", f"No hierarchy has code “{h_code}”.")
        code = _required(out, line, row, "code")
        name = _required(out, line, row, "name")
        parent_code = row.get("parent_code") if "parent_code" in columns else None
        start = _date(out, line, row, "valid_from")
        end = _date(out, line, row, "valid_to")
        if parent_code is not None and start is None:
            out.error(
                line, "valid_from", "missing_value", "“valid_from” is required to place a node."
            )
        if isinstance(start, date) and isinstance(end, date) and end <= start:
            out.error(line, "valid_to", "dates_out_of_order", "valid_to must be after valid_from.")
        if hierarchy is not None and parent_code:
            if parent_code == code:
                out.error(line, "parent_code", "cycle", "A node cannot be its own parent.")
            elif (hierarchy.pk, parent_code) not in nodes and (
                hierarchy.pk,
                parent_code,
            ) not in in_file:
                out.error(
                    line,
                    "parent_code",
                    "unknown_node",
                    f"No node “{parent_code}” in hierarchy “{h_code}” or in this file.",
                )
        if len(out.errors) != before or hierarchy is None or not code or not name:
            continue
        key = (hierarchy.pk, code, start)
        if key in seen:
            out.error(
                line, "code", "duplicate_row", f"The same node and date is on line {seen[key]}."
            )
            continue
        seen[key] = line
        checked.append(
            (
                line,
                hierarchy,
                code,
                name,
                parent_code,
                start if isinstance(start, date) else None,
                end if isinstance(end, date) else None,
            )
        )
    if out.errors:
        return
    now = timezone.now()
    lines_of: dict[int, list[tuple[int, date | None, date | None]]] = defaultdict(list)
    touched: set[int] = set()
    # Create and rename first, so parents named later in the file exist.
    for line, hierarchy, code, name, _p, start, end in checked:
        node = nodes.get((hierarchy.pk, code))
        if node is None:
            node = Node.objects.create(tenant=tenant, hierarchy=hierarchy, code=code, name=name)
            nodes[(hierarchy.pk, code)] = node
            out.diff(line, f"{hierarchy.code}/{code}", "created", {"name": name})
        elif node.name != name:
            out.diff(line, f"{hierarchy.code}/{code}", "updated", {"name": [node.name, name]})
            node.name = name
            node.save(update_fields=["name"])
        else:
            out.diff(line, f"{hierarchy.code}/{code}", "unchanged", {})
        lines_of[node.pk].append((line, start, end))
    for line, hierarchy, code, _name, parent_code, start, end in checked:
        if parent_code is None or start is None:
            continue
        node = nodes[(hierarchy.pk, code)]
        parent = nodes[(hierarchy.pk, parent_code)] if parent_code else None
        same = (
            NodeParent.objects.filter(node=node, parent=parent, valid_from=start, valid_to=end)
            .known_now()
            .exists()
        )
        if same:
            continue
        _set_parent(node, parent, start, end, now)
        touched.add(hierarchy.pk)
        _mark_moved(out, line, f"{hierarchy.code}/{code}", parent_code, start)
    for hierarchy_id in sorted(touched):
        try:
            closure_rebuild(hierarchy_id=hierarchy_id)
        except ValidationFailedError as exc:
            if exc.code != "cycle":
                raise
            node_id = int(exc.details["node_id"])
            day = date.fromisoformat(exc.details["date"])
            line = _line_for(lines_of, node_id, day)
            out.error(line, "parent_code", "cycle", exc.message)


def _mark_moved(out: Outcome, line: int, key: str, parent_code: str, start: date) -> None:
    change = {"parent_code": parent_code or None, "from": start.isoformat()}
    for diff in out.diffs:
        if diff["line"] == line:
            if diff["action"] == "created":
                diff["changes"].update(change)
            else:
                diff["changes"].update(change)
                diff["action"] = "updated"
            return
    out.unchanged -= 1
    out.diff(line, key, "updated", change)


def _line_for(
    lines_of: dict[int, list[tuple[int, date | None, date | None]]], node_id: int, day: date
) -> int:
    candidates = lines_of.get(node_id) or [c for cs in lines_of.values() for c in cs]
    for line, start, end in candidates:
        if start is not None and live_on(start, end, day):
            return line
    return candidates[0][0] if candidates else 0


def import_template(kind: str) -> str:
    """Return a CSV header (and one example row) for ``kind``."""
    examples: dict[str, list[str]] = {
        ImportKind.PEOPLE: [
            "E1001",
            "Ada Lovelace",
            "2024-02-01",
            "ada@example.com",
            "",
            "USD",
            "120000",
            "E1000",
            "L4",
            "London",
            "CC-100",
        ],
        ImportKind.ASSIGNMENTS: [
            "E1001",
            "reporting",
            "sales-east",
            "Account Executive",
            "2024-02-01",
            "",
            "100",
            "Senior AE",
            "false",
        ],
        ImportKind.NODES: ["reporting", "sales-east", "Sales East", "sales", "2024-02-01", ""],
    }
    required, optional = COLUMNS[kind]
    buffer = io.StringIO()
    writer = csv_writer(buffer, lineterminator="\n")
    writer.writerow([*required, *optional])
    writer.writerow(examples[kind])
    return buffer.getvalue()
