"""Quota uploads through the import kernel: a CSV file or JSON rows, every row checked, every
refused row reported with its line, column and reason, and nothing half-written.

A row names its holder (``employee_id`` or ``node``: a node code, or ``hierarchy/code`` when
two hierarchies share the code), the ``quota_id`` its plan's spec reads, the ``amount``, and its
span: a ``period`` (a fiscal period's label, e.g. ``FY2026 Q1``, or its start date) or
``valid_from`` and ``valid_to``. ``currency`` and ``plan`` (a plan code) are optional; a plan
chosen on the upload form applies to the rows that name none. Each checked row goes through
the quota services (``plans.services``), so the upload refuses what the API and the pages
refuse (an overlap, a quota id the plan does not name, a holder outside the uploader's nodes).

Uploading the same file again changes nothing: a row whose holder, id and span match a stored
quota exactly updates its amount and currency (``changed``) or leaves it (``unchanged``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, BinaryIO

from django.db import transaction

from core.audit import audit_record
from core.errors import ApplicationError
from core.imports import (
    FieldMap,
    FileError,
    Issues,
    JsonTable,
    Outcome,
    RollbackError,
    RowError,
    Table,
    columns,
    read_csv,
)
from core.imports.columns import parse_day
from hierarchy.access import Access
from hierarchy.models import Node, Period, Person
from plans import services
from plans.models import Plan, Quota

FIELDS = (
    "employee_id",
    "node",
    "quota_id",
    "amount",
    "currency",
    "period",
    "valid_from",
    "valid_to",
    "plan",
)
REQUIRED = ("quota_id", "amount")
ONE_HOLDER = "Give exactly one of employee_id or node."
ONE_SPAN = "Give a period, or valid_from and valid_to (not both)."
AMBIGUOUS_NODE = "Two hierarchies have a node with this code; write hierarchy/code."
UNKNOWN_PERIOD = "No period with this label or start date."
UNKNOWN_PLAN = "No plan with this code."
# A service's refusal, by the detail key it names -> the file column it is about.
FIELD_OF_DETAIL = {
    "person_id": "employee_id",
    "node_id": "node",
    "quota_id": "quota_id",
    "amount": "amount",
    "currency": "currency",
    "valid_to": "valid_to",
    "valid_from": "valid_from",
}
CODE_OF_SERVICE = {
    "quota_not_in_plan": "unknown_quota_id",
    "bad_dates": "dates_out_of_order",
    "bad_amount": "bad_number",
    "bad_quota_id": "bad_format",
    "bad_currency": "unknown_currency",
    "unknown_person": "unknown_person",
    "unknown_node": "unknown_node",
    "out_of_scope": "out_of_scope",
    "quota_overlap": "quota_overlap",
    "needs_end": "required",
    "one_holder": "one_holder",
    "unknown_plan": "unknown_plan",
}


def _node_lookup() -> dict[str, int]:
    """Node code -> id (codes unique in the tenant) and hierarchy/code -> id (all)."""
    rows = list(Node.objects.values_list("hierarchy__code", "code", "pk"))
    by_code: dict[str, list[int]] = {}
    out: dict[str, int] = {}
    for hierarchy, code, pk in rows:
        by_code.setdefault(code, []).append(pk)
        out[f"{hierarchy}/{code}"] = pk
    for code, pks in by_code.items():
        if len(pks) == 1:
            out.setdefault(code, pks[0])
    return out


def _ambiguous_nodes() -> set[str]:
    codes = list(Node.objects.values_list("code", flat=True))
    return {c for c in codes if codes.count(c) > 1} if len(codes) != len(set(codes)) else set()


def _period_lookup() -> dict[str, tuple[dt.date, dt.date]]:
    """Period label (as written, and lower-cased) -> (start, end); a start date -> the shortest
    period starting that day (a month before its quarter)."""
    out: dict[str, tuple[dt.date, dt.date]] = {}
    for label, start, end in Period.objects.order_by("-end").values_list("label", "start", "end"):
        out[label] = out[label.lower()] = (start, end)
        short = label.split(" (", 1)[0]  # "FY2026 M01 (Jan 2026)" is also "FY2026 M01"
        out[short] = out[short.lower()] = (start, end)
        out[start.isoformat()] = (start, end)  # the last written is the shortest (-end order)
    return out


def quota_import(
    table: Table | JsonTable,
    *,
    access: Access,
    user_id: int | None,
    mode: str = "all_or_nothing",
    dry_run: bool = False,
    plan_id: int | None = None,
    own_names: bool = False,
) -> Outcome:
    """Check and (unless ``dry_run``) write the quota rows of ``table``; return the outcome
    (``counts``: rows, errors, created, changed, unchanged). All or nothing by default: a bad
    row and nothing is written; ``partial`` writes the good rows."""
    outcome = Outcome()
    outcome.counts.update(created=0, changed=0, unchanged=0)
    try:
        bound = FieldMap.identity(FIELDS).bind(table.header, required=REQUIRED, own_names=own_names)
    except FileError as exc:
        outcome.fail_file(exc.errors)
        return outcome
    if plan_id is not None and not Plan.objects.filter(pk=plan_id).exists():
        outcome.fail_file([RowError(1, "plan", "unknown_plan", UNKNOWN_PLAN, str(plan_id))])
        return outcome
    people = dict(Person.objects.values_list("employee_id", "pk"))
    nodes = _node_lookup()
    ambiguous = _ambiguous_nodes()
    spans = _period_lookup()
    plans = dict(Plan.objects.values_list("code", "pk"))
    written: list[Quota] = []
    try:
        with transaction.atomic():
            for chunk in table.chunks():
                outcome.counts["rows"] += chunk.rows
                outcome.add_row_errors(chunk.errors)
                rows = _clean(
                    chunk,
                    bound,
                    people=people,
                    nodes=nodes,
                    ambiguous=ambiguous,
                    spans=spans,
                    plans=plans,
                    default_plan=plan_id,
                )
                for line, row, errors in rows:
                    if errors:
                        outcome.add_errors(errors)
                        continue
                    assert row is not None
                    try:
                        with transaction.atomic():
                            kind = _write(row, access=access, user_id=user_id, written=written)
                    except ApplicationError as exc:
                        outcome.add_errors([_row_error(line, exc)])
                        continue
                    outcome.counts[kind] += 1
                    if kind != "unchanged":
                        outcome.changed += 1
            if dry_run or (outcome.error_rows and mode != "partial"):
                raise RollbackError
            if outcome.changed:
                # One event for the whole file (the rows' services write none of their own).
                audit_record(
                    action="quota.import",
                    object_type=Quota._meta.label_lower,
                    after={
                        "created": outcome.counts["created"],
                        "changed": outcome.counts["changed"],
                        "unchanged": outcome.counts["unchanged"],
                        "quotas": [q.pk for q in written],
                    },
                )
    except RollbackError:
        if not dry_run:  # all or nothing with bad rows: nothing was written after all
            outcome.changed = 0
            outcome.counts.update(created=0, changed=0, unchanged=0)
    outcome.extra["quotas"] = [] if dry_run or outcome.changed == 0 else written
    return outcome


def quota_import_csv(stream: BinaryIO, **kwargs: Any) -> Outcome:
    """Read a CSV upload and import it (see :func:`quota_import`)."""
    try:
        table = read_csv(stream)
    except FileError as exc:
        outcome = Outcome()
        outcome.fail_file(exc.errors)
        return outcome
    return quota_import(table, **kwargs)


def quota_import_rows(rows: Iterable[Any], **kwargs: Any) -> Outcome:
    """Import JSON rows (objects with the CSV's column names) (see :func:`quota_import`)."""
    return quota_import(JsonTable(rows, fields=REQUIRED), own_names=True, **kwargs)


# --- one chunk ---------------------------------------------------------------------------------


Row = dict[str, Any]


def _clean(
    chunk: Any,
    bound: Any,
    *,
    people: dict[str, int],
    nodes: dict[str, int],
    ambiguous: set[str],
    spans: dict[str, tuple[dt.date, dt.date]],
    plans: dict[str, int],
    default_plan: int | None,
) -> list[tuple[int, Row | None, list[RowError]]]:
    issues = Issues(chunk.lines)

    def col(field: str) -> list[str]:
        return list(bound.values(chunk, field)) if bound.has(field) else [""] * len(chunk.lines)

    def name(field: str) -> str:
        return str(bound.name(field))

    emp, node_codes = col("employee_id"), col("node")
    for i, (e, n) in enumerate(zip(emp, node_codes, strict=True)):
        if bool(e) == bool(n):
            issues.add(i, name("employee_id"), "one_holder", ONE_HOLDER, e or n)
        elif n in ambiguous and "/" not in n:
            issues.add(i, name("node"), "unknown_node", AMBIGUOUS_NODE, n)
    person_ids = columns.reference(emp, column=name("employee_id"), issues=issues, lookup=people)
    node_ids = columns.reference(
        [n if n not in ambiguous else "" for n in node_codes],
        column=name("node"),
        issues=issues,
        lookup=nodes,
        code="unknown_node",
    )
    quota_ids = columns.text(
        col("quota_id"), column=name("quota_id"), issues=issues, max_length=64, required=True
    )
    amounts = columns.decimal(
        col("amount"), column=name("amount"), issues=issues, required=True, negative=False
    )
    currencies = columns.currency(col("currency"), column=name("currency"), issues=issues)
    starts = columns.date(col("valid_from"), column=name("valid_from"), issues=issues)
    ends = columns.date(col("valid_to"), column=name("valid_to"), issues=issues)
    plan_ids = columns.reference(
        col("plan"),
        column=name("plan"),
        issues=issues,
        lookup=plans,
        code="unknown_plan",
        message=UNKNOWN_PLAN,
    )
    periods, from_text, to_text = col("period"), col("valid_from"), col("valid_to")
    resolved: list[tuple[dt.date | None, dt.date | None]] = []
    for i, label in enumerate(periods):
        start, end = starts[i], ends[i]
        if label:
            day = parse_day(label)
            span = spans.get(label) or spans.get(label.lower())
            if span is None and day is not None:
                span = spans.get(day.isoformat())
            if from_text[i] or to_text[i]:
                issues.add(i, name("period"), "bad_format", ONE_SPAN, label)
            elif span is None:
                issues.add(i, name("period"), "unknown_period", UNKNOWN_PERIOD, label)
            else:
                start, end = span
        elif not from_text[i]:
            issues.add(i, name("valid_from"), "required", ONE_SPAN)
        elif not to_text[i]:
            issues.add(i, name("valid_to"), "required", ONE_SPAN)
        resolved.append((start, end))
    bad = dict(zip(sorted(issues.by_row), issues.rows(), strict=True))
    out: list[tuple[int, Row | None, list[RowError]]] = []
    for i, line in enumerate(chunk.lines):
        if i in bad:
            out.append((line, None, bad[i]))
            continue
        out.append(
            (
                line,
                {
                    "holder": services.QuotaHolder(person_id=person_ids[i], node_id=node_ids[i]),
                    "quota_id": quota_ids[i],
                    "amount": amounts[i],
                    "currency": currencies[i] or None,
                    "valid_from": resolved[i][0],
                    "valid_to": resolved[i][1],
                    "plan_id": plan_ids[i] or default_plan,
                },
                [],
            )
        )
    return out


def _write(row: Row, *, access: Access, user_id: int | None, written: list[Quota]) -> str:
    """Write one checked row: create, or update the quota with the same holder, id and span."""
    holder: services.QuotaHolder = row["holder"]
    same = (
        Quota.objects.filter(
            person_id=holder.person_id,
            node_id=holder.node_id,
            quota_id=row["quota_id"],
            valid_from=row["valid_from"],
            valid_to=row["valid_to"],
        )
        .select_for_update()
        .first()
    )
    if same is not None:
        currency = row["currency"] or same.currency
        amount: Decimal = row["amount"]
        if same.amount == amount and same.currency == currency:
            return "unchanged"
        written.append(
            services.quota_update(
                access=access, quota_pk=same.pk, amount=amount, currency=currency, audit=False
            )
        )
        return "changed"
    written.append(
        services.quota_create(
            access=access,
            holder=holder,
            quota_id=row["quota_id"],
            amount=row["amount"],
            currency=row["currency"],
            valid_from=row["valid_from"],
            valid_to=row["valid_to"],
            plan_id=row["plan_id"],
            user_id=user_id,
            audit=False,
        )
    )
    return "created"


def _row_error(line: int, exc: ApplicationError) -> RowError:
    """Turn a service's refusal of one row into its row error (line, column, code, reason)."""
    key = next(iter(exc.details), "") if isinstance(exc.details, dict) else ""
    column = FIELD_OF_DETAIL.get(key, "")
    if exc.code == "quota_overlap":
        column = "valid_from"
    code = CODE_OF_SERVICE.get(exc.code, "bad_format")
    return RowError(line, column, code, exc.message)
