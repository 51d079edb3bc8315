"""HR import: people, assignments and org structure from CSV or JSON, through the import kernel.

One entry point, :func:`hr_import`. The file is read streamed by the kernel (``core/imports``:
encoding and delimiter detection, a clear message for a binary or mis-encoded file, the header
checked, chunks of column arrays), each column is cleaned by the kernel's typed cleaners (an
over-long value is ``too_long``, never cut), and the rows that survive are checked against
the whole file *and* what the tenant already has: unknown managers, cyclic moves (a manager
chain or a node that would become its own ancestor), allocations over 100 %, duplicate
employee ids. Every problem is one kernel :class:`~core.imports.RowError` (line, column, code,
message, value) on one kernel :class:`~core.imports.Outcome`, so a batch ends in the kernel's
status vocabulary (``committed``, ``committed_with_errors``, ``failed`` with its reason, or
``validated`` for a dry run).

All-or-nothing by default: with any row error nothing is written but the batch itself. With
``partial`` the good rows are written and the bad ones reported; a row that only fails because
it leans on a bad row (its manager's, its parent node's) is reported too. Writes are
set-based (new people by ``core.db.bulk_create_copy``: COPY on PostgreSQL; ``bulk_create`` /
``bulk_update`` in chunks) inside one transaction; a dry run does
every check and keeps nothing. Upserts are keyed by employee id (people), by (employee,
hierarchy, node, role, valid_from) (assignments) and by (hierarchy, code) (nodes), so
importing the same file twice changes nothing the second time.

With an ``access`` policy (what pages and the API pass), a node-scoped admin imports only
about the people inside their nodes (anyone else is ``out_of_scope``, like a new employee id:
adding people needs tenant-wide access), names only those people as managers, places
assignments only in nodes inside their scope, and cannot import org structure at all.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any, BinaryIO

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from core.audit import audit_record
from core.csvsafe import csv_writer
from core.db import bulk_create_copy
from core.errors import ValidationFailedError
from core.imports import (
    COMMITTED,
    MAX_ERRORS_STORED,
    FieldMap,
    FileError,
    ImportMode,
    ImportStatus,
    Issues,
    JsonTable,
    Outcome,
    Reason,
    RollbackError,
    RowError,
    Table,
    columns,
    read_csv,
)
from core.tenancy import get_current_tenant
from hierarchy.intervals import Span, end_or_max, live_on
from hierarchy.models import (
    Assignment,
    Hierarchy,
    ImportBatch,
    ImportKind,
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
from hierarchy.versions import person_versions_record

if TYPE_CHECKING:
    from hierarchy.access import Access

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
BOOLEAN = "Use true or false."

# How each column is cleaned: ("text", max length) | ("date",) | ("currency",) |
# ("decimal", places, limit, negatives allowed) | ("boolean",). The lengths are the model fields'.
TEXT_64, TEXT_200 = ("text", 64), ("text", 200)
CLEANING: dict[str, tuple[Any, ...]] = {
    "employee_id": TEXT_64,
    "full_name": TEXT_200,
    "hire_date": ("date",),
    "email": ("text", 254),
    "termination_date": ("date",),
    "home_currency": ("currency",),
    "base_salary": ("decimal", 4, Decimal("1e16"), False),
    "manager_employee_id": TEXT_64,
    "level": TEXT_200,
    "location": TEXT_200,
    "cost_centre": TEXT_200,
    "hierarchy": TEXT_64,
    "node": TEXT_64,
    "role": ("text", 120),
    "valid_from": ("date",),
    "valid_to": ("date",),
    "allocation_pct": ("decimal", 2, Decimal(1000), True),
    "title": TEXT_200,
    "is_manager": ("boolean",),
    "code": TEXT_64,
    "name": TEXT_200,
    "parent_code": TEXT_64,
}
VALID_TO_AFTER = "valid_to must be after valid_from."
DUPLICATE_COLUMN = "The column “{name}” appears twice (as “{first}” and “{second}”)."


class _Found(dict[int, list[RowError]]):
    """Row errors by line, so a line with several problems counts as one bad row."""

    def add(self, line: int, column: str, code: str, message: str, value: Any = "") -> None:
        text = "" if value is None else str(value)
        self.setdefault(line, []).append(RowError(line, column, code, message, text[:200]))


def _diff(out: Outcome, line: int, key: str, action: str, changes: dict[str, Any]) -> None:
    """Count one row's effect; keep the first rows' changes for the preview."""
    out.counts[action] = out.counts.get(action, 0) + 1
    diffs: list[dict[str, Any]] = out.extra.setdefault("diffs", [])
    if action != "unchanged" and len(diffs) < MAX_STORED_DIFFS:
        diffs.append({"line": line, "key": key, "action": action, "changes": changes})


def _fresh() -> Outcome:
    return Outcome(counts={"rows": 0, "errors": 0, "created": 0, "updated": 0, "unchanged": 0})


# --- reading -----------------------------------------------------------------------------------

Row = tuple[int, dict[str, Any]]


def _normal_name(name: str) -> str:
    return name.strip().lower().replace(" ", "_")


class _Read:
    """A file's rows after the kernel read and cleaned them: the clean rows (line, values), the
    columns the file has, the ones it has that nothing reads, and every key in the file."""

    def __init__(self) -> None:
        self.rows: list[Row] = []
        self.present: set[str] = set()
        self.ignored: list[str] = []
        self.count = 0
        self.keys: set[str] = set()  # employee ids on every row, bad ones too


def _read(kind: str, table: Table | JsonTable, found: _Found) -> _Read:
    """Read and clean every row of ``table``; row errors go to ``found``, file errors raise."""
    required, optional = COLUMNS[kind]
    known = {*required, *optional}
    mapping: dict[str, str] = {}
    problems: list[RowError] = []
    for name in table.header:
        field = _normal_name(name)
        if field not in known:
            continue
        first = next((t for t, f in mapping.items() if f == field), None)
        if first is not None:
            message = DUPLICATE_COLUMN.format(name=field, first=first, second=name)
            problems.append(RowError(1, name, "duplicate_column", message))
            continue
        mapping[name] = field
    if problems:
        raise FileError(problems)
    bound = FieldMap(columns=mapping).bind(table.header, required=required)
    read = _Read()
    read.present = set(mapping.values())
    read.ignored = [n for n in table.header if n and n not in mapping]
    for chunk in table.chunks():
        read.count += chunk.rows
        for errors in chunk.errors:
            found.setdefault(errors[0].line, []).extend(errors)
        if kind == ImportKind.PEOPLE:
            read.keys.update(bound.values(chunk, "employee_id"))
        issues = Issues(chunk.lines)
        clean = {
            field: _clean(bound.values(chunk, field), field, bound.name(field), issues, required)
            for field in read.present
        }
        ROW_CHECKS[kind](clean, issues)
        for errors in issues.rows():
            found.setdefault(errors[0].line, []).extend(errors)
        for i in issues.good():
            read.rows.append((chunk.lines[i], {f: values[i] for f, values in clean.items()}))
    return read


def _clean(
    values: list[str], field: str, column: str, issues: Issues, required: Iterable[str]
) -> list[Any]:
    """Return one column cleaned by the kernel's cleaner for its type."""
    how, *args = CLEANING[field]
    must = field in required
    if how == "text":
        return columns.text(values, column=column, issues=issues, max_length=args[0], required=must)
    if how == "date":
        return columns.date(values, column=column, issues=issues, required=must)
    if how == "currency":
        return columns.currency(values, column=column, issues=issues, required=must)
    if how == "decimal":
        return columns.decimal(
            values,
            column=column,
            issues=issues,
            scale=args[0],
            limit=args[1],
            negative=args[2],
            required=must,
        )
    flags = [v.lower() for v in values]
    columns.choice(flags, column=column, issues=issues, choices=TRUE | FALSE, message=BOOLEAN)
    return [v in TRUE for v in flags]


def _out_of_order(
    clean: dict[str, list[Any]], issues: Issues, *, start: str, end: str, message: str
) -> None:
    if start not in clean or end not in clean:
        return
    for i, (first, last) in enumerate(zip(clean[start], clean[end], strict=True)):
        if first is not None and last is not None and last <= first:
            issues.add(i, end, "dates_out_of_order", message, last)


def _people_checks(clean: dict[str, list[Any]], issues: Issues) -> None:
    """The checks one people row makes on its own cells (several cells, or more than a type)."""
    for i, email in enumerate(clean.get("email", ())):
        if email:
            try:
                validate_email(email)
            except ValidationError:
                message = f"“{email}” is not an e-mail address."
                issues.add(i, "email", "bad_email", message, email)
    _out_of_order(
        clean,
        issues,
        start="hire_date",
        end="termination_date",
        message="The termination date must be after the hire date.",
    )
    if "manager_employee_id" in clean:
        managers = zip(clean["employee_id"], clean["manager_employee_id"], strict=True)
        for i, (emp, manager) in enumerate(managers):
            if emp and manager == emp:
                message = "A person cannot be their own manager."
                issues.add(i, "manager_employee_id", "cyclic_move", message, manager)


def _assignment_checks(clean: dict[str, list[Any]], issues: Issues) -> None:
    _out_of_order(clean, issues, start="valid_from", end="valid_to", message=VALID_TO_AFTER)
    for i, allocation in enumerate(clean.get("allocation_pct", ())):
        if allocation is not None and not Decimal(0) < allocation <= Decimal(100):
            message = "allocation_pct must be more than 0 and at most 100."
            issues.add(i, "allocation_pct", "allocation_range", message, allocation)


def _node_checks(clean: dict[str, list[Any]], issues: Issues) -> None:
    _out_of_order(clean, issues, start="valid_from", end="valid_to", message=VALID_TO_AFTER)
    if "parent_code" not in clean:
        return
    starts = clean.get("valid_from") or [None] * len(clean["code"])
    for i, (code, parent) in enumerate(zip(clean["code"], clean["parent_code"], strict=True)):
        if parent and parent == code:
            message = "A node cannot be its own parent."
            issues.add(i, "parent_code", "cyclic_move", message, parent)
        if starts[i] is None:
            message = "“valid_from” is required to place a node."
            issues.add(i, "valid_from", "required", message)


ROW_CHECKS: dict[str, Callable[[dict[str, list[Any]], Issues], None]] = {
    ImportKind.PEOPLE: _people_checks,
    ImportKind.ASSIGNMENTS: _assignment_checks,
    ImportKind.NODES: _node_checks,
}


# --- the entry point ---------------------------------------------------------------------------


def hr_import(
    *,
    kind: str,
    content: bytes | BinaryIO | None = None,
    rows: Any = None,
    filename: str = "",
    dry_run: bool = False,
    created_by_id: int | None = None,
    partial: bool = False,
    access: Access | None = None,
) -> ImportBatch:
    """Import a CSV file (``content``: bytes or a binary stream, read streamed) or JSON rows
    (``rows``) of ``kind``; return the batch.

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
    mode = ImportMode.PARTIAL if partial else ImportMode.ALL_OR_NOTHING
    out = _fresh()
    found = _Found()
    read = _Read()
    if content is not None:
        source = "csv"
        stream, digest = _hashed(content)
    else:
        source = "json"
        data = json.dumps(rows, sort_keys=True, default=str).encode()
        digest = hashlib.sha256(data).hexdigest()
    try:
        if content is not None:
            table: Table | JsonTable = read_csv(stream)
        elif not isinstance(rows, list):
            raise FileError.of("not_an_object", "Send a list of objects under “rows”.")
        else:
            table = JsonTable(rows, fields=COLUMNS[kind][0])
        read = _read(kind, table, found)
    except FileError as exc:
        out.fail_file(exc.errors)
    out.counts["rows"] = read.count
    kept = False
    if not out.file_error:

        def record() -> None:
            after = {**out.counts, "filename": filename, "sha256": digest}
            action = f"hr_import.{kind}"
            audit_record(action=action, object_type="hierarchy.importbatch", after=after)

        kept = _apply(
            kind, read, found, out, mode=mode, dry_run=dry_run, access=access, record=record
        )
        for line in sorted(found):
            out.add_errors(sorted(found[line], key=lambda e: e.column))
    status, reason = out.status(mode=mode, dry_run=dry_run)
    if status in COMMITTED and not kept:
        # partial mode whose last round still found errors: nothing was kept
        status, reason = ImportStatus.FAILED, Reason.ROW_ERRORS
    if status == ImportStatus.FAILED:
        for key in ("created", "updated", "unchanged"):
            out.counts[key] = 0
    batch = ImportBatch(
        tenant=tenant,
        kind=kind,
        source=source,
        filename=filename[:255],
        content_sha256=digest,
        dry_run=dry_run,
        mode=mode,
        status=status,
        reason=reason,
        row_count=out.rows,
        counts={**out.counts, "ignored_columns": read.ignored},
        errors=[e.as_dict() for e in out.errors[:MAX_ERRORS_STORED]],
        diffs=out.extra.get("diffs", []) if status != ImportStatus.FAILED else [],
        created_by_id=created_by_id,
        created_at=timezone.now(),
    )
    batch.save()
    return batch


def _hashed(content: bytes | BinaryIO) -> tuple[BinaryIO, str]:
    """Return a stream over ``content`` and the SHA-256 of its bytes (a stream is read once
    to hash it, then rewound: the kernel reads it again, streamed)."""
    if isinstance(content, bytes):
        return io.BytesIO(content), hashlib.sha256(content).hexdigest()
    digest = hashlib.sha256()
    for block in iter(lambda: content.read(1 << 20), b""):
        digest.update(block)
    content.seek(0)
    return content, digest.hexdigest()


Importer = Callable[..., None]


def _apply(
    kind: str,
    read: _Read,
    found: _Found,
    out: Outcome,
    *,
    mode: str,
    dry_run: bool,
    access: Access | None,
    record: Callable[[], None],
) -> bool:
    """Check the clean rows against the file and the tenant, write them unless told not to,
    and ``record`` the audit event in the same transaction. Return whether rows were kept.

    All-or-nothing: every row is checked (references to a row with errors count as found, so
    only the bad row itself is reported) and anything wrong rolls everything back. Partial: the
    rows that fail, and those that lean on them, are set aside in trial rounds first.
    """
    importer: Importer = {
        ImportKind.PEOPLE: _import_people,
        ImportKind.ASSIGNMENTS: _import_assignments,
        ImportKind.NODES: _import_nodes,
    }[ImportKind(kind)]
    partial = mode == ImportMode.PARTIAL
    rows = read.rows
    context: dict[str, Any] = {"present": read.present, "access": access}
    if partial:
        rows = _without_bad_rows(rows, found, importer, context)
    else:
        context["in_file"] = read.keys
    run = _Found()
    kept = False
    try:
        with transaction.atomic():
            importer(rows, run, out, write=not dry_run, **context)
            if run or (found and not (partial and rows)) or dry_run:
                raise RollbackError  # nodes imports write to find cycles: never keep a dry run
            record()
            kept = True
    except RollbackError:
        pass
    for line, errors in run.items():
        found.setdefault(line, []).extend(errors)
    return kept


def _without_bad_rows(
    rows: list[Row], found: _Found, importer: Importer, context: dict[str, Any]
) -> list[Row]:
    """Drop rows with errors, and rows that only fail because of them, until a trial is clean.

    Each trial runs the import without keeping anything; a few rounds settle chains such as a
    person whose manager's row was bad.
    """
    good = [row for row in rows if row[0] not in found]
    for _ in range(5):
        trial = _Found()
        try:
            with transaction.atomic():
                importer(good, trial, _fresh(), write=False, **context)
                raise RollbackError
        except RollbackError:
            pass
        if not trial:
            break
        for line, errors in trial.items():
            found.setdefault(line, []).extend(errors)
        good = [row for row in good if row[0] not in trial]
    return good


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
    parsed: list[Row],
    found: _Found,
    out: Outcome,
    *,
    write: bool,
    present: set[str],
    access: Access | None = None,
    in_file: set[str] | None = None,
) -> None:
    tenant = get_current_tenant()
    mine = _mine(access)
    columns = present
    seen: dict[str, int] = {}
    records: list[tuple[int, str, dict[str, Any], str | None]] = []
    for line, row in parsed:
        emp = row["employee_id"]
        if emp in seen:
            found.add(
                line,
                "employee_id",
                "duplicate_employee_id",
                f"Employee id “{emp}” is also on line {seen[emp]}.",
                emp,
            )
            continue
        seen[emp] = line
        if mine is not None and emp not in mine:
            found.add(line, "employee_id", "out_of_scope", OUT_OF_SCOPE_PERSON.format(emp=emp), emp)
            continue
        values: dict[str, Any] = {"full_name": row["full_name"], "hire_date": row["hire_date"]}
        for name in ("termination_date", "home_currency", "base_salary"):
            if name in columns:
                values[name] = row[name]
        if "email" in columns:
            values["email"] = row["email"].lower()
        if "home_currency" in columns:
            values["home_currency"] = row["home_currency"] or tenant.default_currency
        values["_attributes"] = {c: row[c] for c in ATTRIBUTE_COLUMNS if c in columns and row[c]}
        manager = row["manager_employee_id"] if "manager_employee_id" in columns else None
        records.append((line, emp, values, manager))
    known_in_file = seen.keys() | (in_file or set())

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
        if manager and (foreign or (manager not in existing and manager not in known_in_file)):
            found.add(
                line,
                "manager_employee_id",
                "unknown_manager",
                f"No person has employee id “{manager}” in this tenant or this file.",
                manager,
            )
        manager_of[emp] = manager or None
    line_of = {emp: line for line, emp, _v, _m in records}
    for emp in _in_manager_cycles(manager_of, set(line_of)):
        found.add(
            line_of[emp],
            "manager_employee_id",
            "cyclic_move",
            f"The managers of “{emp}” lead back to them.",
            manager_of.get(emp),
        )
    if found:
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
            _diff(out, line, emp, "created", {k: _jsonable(v) for k, v in values.items()})
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
        _diff(out, line, emp, "updated" if changes else "unchanged", changes)
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
        bulk_create_copy(Person, batch)  # one COPY per level on PostgreSQL
        pk_of.update({obj.employee_id: obj.pk for obj in batch})
    person_versions_record(creates, moment=now)
    for i in range(0, len(updates), CHUNK):
        Person.objects.bulk_update(updates[i : i + CHUNK], [*update_fields, "updated_at"])
    person_versions_record(updates, moment=now)
    if terminations:
        by_emp = {
            p.employee_id: p
            for p in Person.objects.filter(employee_id__in=[e for e, _d in terminations])
        }
        for emp, end in terminations:
            _terminate(by_emp[emp], end)
    # Existing people whose manager changed: one UPDATE per new manager.
    regroup: dict[int | None, list[int]] = defaultdict(list)
    diff_at = {d["line"]: d for d in out.extra.get("diffs", [])}  # one lookup per change
    for line, emp, _values, manager in records:
        current = existing.get(emp)
        if manager is None or current is None:
            continue
        wanted = pk_of[manager] if manager else None
        if current["manager_id"] != wanted:
            regroup[wanted].append(current["id"])
            _note_manager_change(out, diff_at.get(line), line, emp, current["manager_id"], manager)
    for wanted, ids in regroup.items():
        for i in range(0, len(ids), CHUNK):
            Person.objects.filter(pk__in=ids[i : i + CHUNK]).update(manager_id=wanted)


def _note_manager_change(
    out: Outcome,
    diff: dict[str, Any] | None,
    line: int,
    emp: str,
    old_pk: int | None,
    manager: str,
) -> None:
    """Count a manager-only change of an otherwise unchanged person as an update (``diff``:
    the row's stored change, found by line by the caller, once per import, not per row)."""
    if diff is not None:
        diff["changes"]["manager_employee_id"] = [old_pk, manager or None]
        return
    out.counts["unchanged"] -= 1
    _diff(out, line, emp, "updated", {"manager_employee_id": [old_pk, manager or None]})


def _count_manager_changes(
    records: list[tuple[int, str, dict[str, Any], str | None]],
    existing: dict[str, dict[str, Any]],
    manager_of: dict[str, str | None],
    emp_of_pk: dict[int, str],
    out: Outcome,
) -> None:
    diff_at = {d["line"]: d for d in out.extra.get("diffs", [])}
    for line, emp, _values, manager in records:
        current = existing.get(emp)
        if manager is None or current is None:
            continue
        old = emp_of_pk.get(current["manager_id"]) if current["manager_id"] else None
        if old != (manager or None):
            _note_manager_change(out, diff_at.get(line), line, emp, current["manager_id"], manager)


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
    parsed: list[Row],
    found: _Found,
    out: Outcome,
    *,
    write: bool,
    present: set[str],
    access: Access | None = None,
    in_file: set[str] | None = None,
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
        emp, h_code, n_code = row["employee_id"], row["hierarchy"], row["node"]
        role_name = row["role"]
        person = people.get(emp)
        if person is None:
            found.add(
                line, "employee_id", "unknown_person", f"No person has employee id “{emp}”.", emp
            )
        hierarchy_id = hierarchies.get(h_code)
        if hierarchy_id is None:
            message = f"No hierarchy has code “{h_code}”."
            found.add(line, "hierarchy", "unknown_hierarchy", message, h_code)
        node_id = nodes.get((hierarchy_id, n_code))
        if hierarchy_id and node_id is None:
            message = f"No node “{n_code}” in hierarchy “{h_code}”."
            found.add(line, "node", "unknown_node", message, n_code)
        role_id = roles.get(role_name)
        if role_id is None:
            message = f"No job role is named “{role_name}”."
            found.add(line, "role", "unknown_role", message, role_name)
        start, end = row["valid_from"], row.get("valid_to")
        allocation = row.get("allocation_pct")
        if allocation is None:
            allocation = Decimal(100)
        if line in found or person is None or node_id is None or role_id is None:
            continue
        if access is not None and not access.node_writable(node_id, start, end):
            message = OUT_OF_SCOPE_NODE.format(node=n_code)
            found.add(line, "node", "out_of_scope", message, n_code)
            continue
        key = (person.pk, node_id, role_id, start)
        if key in keys:
            found.add(
                line,
                "valid_from",
                "duplicate_in_file",
                f"The same assignment (employee, node, role, valid_from) is on line {keys[key]}.",
                start,
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
                    title=row.get("title", ""),
                    allocation_pct=allocation,
                    is_manager=bool(row.get("is_manager", False)),
                    valid_from=start,
                    valid_to=end,
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
                _diff(out, line, label, "updated" if changes else "unchanged", changes)
                if not changes:
                    continue
                replaced.add(old.pk)
                superseded.append(old.pk)
                superseded_rows.append(old)
            else:
                _diff(
                    out,
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
            blamed = _blame(key, spans, file_lines)
            value = spans[blamed].allocation if code == "allocation_over_100" else ""
            found.add(blamed, column, code, message, value)
    if found or not write:
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
    parsed: list[Row],
    found: _Found,
    out: Outcome,
    *,
    write: bool,
    present: set[str],
    access: Access | None = None,
    in_file: set[str] | None = None,
) -> None:
    """Create or rename nodes and set their parents; cycles are found by building the closure.

    Org files are small (hundreds of rows), so this applies row by row inside the transaction
    and lets :func:`closure_rebuild` find cycles; a dry run is rolled back by the caller.
    """
    tenant = get_current_tenant()
    hierarchies = {h.code: h for h in Hierarchy.objects.all()}
    nodes = {(n.hierarchy_id, n.code): n for n in Node.objects.all()}
    defined = {
        (hierarchies[row["hierarchy"]].pk, row["code"])
        for _l, row in parsed
        if row["hierarchy"] in hierarchies
    }
    checked: list[tuple[int, Hierarchy, str, str, str | None, date | None, date | None]] = []
    seen: dict[tuple[Any, ...], int] = {}
    for line, row in parsed:
        h_code, code, name = row["hierarchy"], row["code"], row["name"]
        hierarchy = hierarchies.get(h_code)
        if hierarchy is None:
            message = f"No hierarchy has code “{h_code}”."
            found.add(line, "hierarchy", "unknown_hierarchy", message, h_code)
        parent_code = row["parent_code"] if "parent_code" in present else None
        start, end = row.get("valid_from"), row.get("valid_to")
        if hierarchy is not None and parent_code:
            place = (hierarchy.pk, parent_code)
            if place not in nodes and place not in defined:
                found.add(
                    line,
                    "parent_code",
                    "unknown_node",
                    f"No node “{parent_code}” in hierarchy “{h_code}” or in this file.",
                    parent_code,
                )
        if line in found or hierarchy is None:
            continue
        key = (hierarchy.pk, code, start)
        if key in seen:
            message = f"The same node and date is on line {seen[key]}."
            found.add(line, "code", "duplicate_in_file", message, code)
            continue
        seen[key] = line
        checked.append(
            (
                line,
                hierarchy,
                code,
                name,
                parent_code,
                start,
                end,
            )
        )
    if found:
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
            _diff(out, line, f"{hierarchy.code}/{code}", "created", {"name": name})
        elif node.name != name:
            _diff(out, line, f"{hierarchy.code}/{code}", "updated", {"name": [node.name, name]})
            node.name = name
            node.save(update_fields=["name"])
        else:
            _diff(out, line, f"{hierarchy.code}/{code}", "unchanged", {})
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
            found.add(line, "parent_code", "cyclic_move", exc.message)


def _mark_moved(out: Outcome, line: int, key: str, parent_code: str, start: date) -> None:
    change = {"parent_code": parent_code or None, "from": start.isoformat()}
    for diff in out.extra.get("diffs", []):
        if diff["line"] == line:
            if diff["action"] == "created":
                diff["changes"].update(change)
            else:
                diff["changes"].update(change)
                diff["action"] = "updated"
            return
    out.counts["unchanged"] -= 1
    _diff(out, line, key, "updated", change)


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
