"""The audit log as people read it: field changes in words, object links, the CSV file.

An event's ``before`` / ``after`` snapshots are JSON written by services (``model_snapshot``
and friends). :func:`readable_changes` turns them into rows such as *Target incentive:
10,000.00 USD → 12,000.00 USD*: a label for the field, money with its currency and the
currency's decimals, yes/no, dates, "—" for nothing. Fields the access policy took out of the
snapshots (``redacted_fields``, see ``hierarchy/access.py``) are rows whose value is *hidden*.
The page, the API (``changes``) and the CSV read the same rows. Events must have gone through
the access policy first (``selectors.audit_event_list``): this module never decides who sees
what.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from core.csvsafe import csv_writer
from core.currencies import CURRENCY_EXPONENTS
from core.errors import ValidationFailedError
from core.models import AuditEvent
from core.templatetags.quotient import moment_text

HIDDEN = "hidden"
NOTHING = "—"
# Snapshot keys that are bookkeeping, not something a person changed.
QUIET_FIELDS = frozenset(
    {"id", "tenant_id", "created_at", "updated_at", "created_by_id", "request_hash", "spec_hash"}
)
# Amounts of money: shown with the snapshot's currency (and its decimals).
MONEY_FIELDS = frozenset(
    {
        "amount",
        "target_incentive",
        "base_salary",
        "reversed_amount",
        "payable",
        "earned",
        "balance",
        "total",
    }
)
LABELS = {
    "valid_from": "Valid from",
    "valid_to": "Valid to",
    "user_id": "Linked user",
    "allocation_pct": "Allocation %",
    "is_manager": "Manager",
    "is_active": "Active",
    "plan_version_id": "Plan version",
    "data_lock_date": "Data lock date",
    "rate": "Rate",
    "created_by_label": "Created by",
    "paid_by_label": "Paid by",
    "period_ids": "Periods",
    "sha256": "SHA-256",
}
# Pages that show one object of a type: (URL name, its keyword argument).
OBJECT_PAGES: dict[str, tuple[str, str | None]] = {
    "hierarchy.person": ("person_detail", "person_id"),
    "hierarchy.importbatch": ("hr_import_detail", "batch_id"),
    "hierarchy.period": ("periods", None),
    "plans.plan": ("plan_detail", "plan_id"),
    "plans.quota": ("quota_detail", "quota_pk"),
    "incentives.ingestbatch": ("import_detail", "batch_id"),
    "incentives.transaction": ("transaction_detail", "transaction_id"),
    "payouts.calculationrun": ("run_detail", "run_id"),
    "payouts.exportbatch": ("export_detail", "batch_id"),
    "payouts.earningcode": ("earning_codes", None),
    "core.membership": ("members", None),
    "core.apiclient": ("api_clients", None),
}
CSV_MAX_ROWS = 100_000
CSV_TOO_MANY = (
    "{count} audit events match; a CSV holds at most {limit}. Narrow the filter "
    "(a shorter time range, an action or an object)."
)
CSV_HEADER = (
    "time",
    "actor",
    "action",
    "object type",
    "object id",
    "object",
    "changes",
    "hidden fields",
    "request id",
)
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


@dataclass(frozen=True)
class FieldChange:
    """One field of an event as people read it: its label and its value before and after."""

    field: str
    label: str
    before: str | None  # None: the event has no "before" (something was created)
    after: str
    hidden: bool = False

    def sentence(self) -> str:
        """Return the change in one line: ``Label: before → after`` (or ``Label: after``)."""
        if self.before is None:
            return f"{self.label}: {self.after}"
        return f"{self.label}: {self.before} → {self.after}"


def field_label(key: str) -> str:
    """Return a field's label: ``target_incentive`` → ``Target incentive``."""
    if key in LABELS:
        return LABELS[key]
    base = key[:-3] if key.endswith("_id") else key
    return base.replace("_", " ").strip().capitalize() or key


def format_money(value: Any, currency: str | None) -> str:
    """Return ``value`` with thousands separators, the currency's decimals and its code."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return format_value(value)
    if not amount.is_finite():
        return str(value)
    places = CURRENCY_EXPONENTS.get(currency or "", 2)
    text = f"{amount.quantize(Decimal(1).scaleb(-places)):,.{places}f}"
    return f"{text} {currency}" if currency else text


def format_value(value: Any) -> str:
    """Return a snapshot value in words: yes/no, dates and times, lists, nothing as "—"."""
    if value is None or value == "":
        return NOTHING
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, str):
        if _DATETIME.match(value):
            return _moment(value)
        return value
    if isinstance(value, list):
        if all(not isinstance(v, dict | list) for v in value):
            return ", ".join(format_value(v) for v in value) or NOTHING
        return f"{len(value)} items"
    if isinstance(value, dict) and value and all(k in CURRENCY_EXPONENTS for k in value):
        return ", ".join(format_money(v, k) for k, v in sorted(value.items()))  # totals
    if isinstance(value, dict):
        text = json.dumps(value, sort_keys=True, default=str)
        return text if len(text) <= 200 else text[:199] + "…"
    return str(value)


def _moment(text: str) -> str:
    """Return an ISO time in the current time zone (the tenant's on pages, UTC in the API)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    return text if moment.tzinfo is None else moment_text(moment)


def _value(key: str, value: Any, snapshot: dict[str, Any]) -> str:
    if key in MONEY_FIELDS and value is not None and _NUMBER.match(str(value)):
        return format_money(value, snapshot.get("currency") or snapshot.get("home_currency"))
    if key.endswith("_id") and isinstance(value, int) and not isinstance(value, bool):
        return f"#{value}"
    return format_value(value)


def readable_changes(event: AuditEvent) -> list[FieldChange]:
    """Return the fields ``event`` set or changed, in words; redacted ones as *hidden*."""
    before = event.before if isinstance(event.before, dict) else {}
    after = event.after if isinstance(event.after, dict) else {}
    had_before = isinstance(event.before, dict)
    rows: list[FieldChange] = []
    for key in sorted(set(before) | set(after)):
        if key in QUIET_FIELDS:
            continue
        old, new = before.get(key), after.get(key)
        if had_before and old == new:
            continue
        if not had_before and new in (None, "", [], {}):
            continue  # a creation lists what was set
        rows.append(
            FieldChange(
                field=key,
                label=field_label(key),
                before=_value(key, old, before) if had_before else None,
                after=_value(key, new, after) if key in after or not had_before else NOTHING,
            )
        )
    rows.extend(
        FieldChange(field=key, label=field_label(key), before=None, after=HIDDEN, hidden=True)
        for key in getattr(event, "redacted_fields", [])
    )
    return rows


def object_link(event: AuditEvent) -> str | None:
    """Return the address of the page that shows the event's object, if there is one."""
    page = OBJECT_PAGES.get(event.object_type)
    if page is None:
        return None
    name, kwarg = page
    if kwarg is not None and not event.object_id.isdigit():
        return None
    try:
        return reverse(name, kwargs={kwarg: int(event.object_id)} if kwarg else None)
    except NoReverseMatch:
        return None


def audit_csv(events: Any) -> str:
    """Return the CSV of ``events`` (an ``AuditEvents``, already through the access policy):
    one row per event, its changes in words, formula cells neutralised (core/csvsafe.py).

    Refuses (400) more than :data:`CSV_MAX_ROWS` events rather than build a file nobody opens.
    """
    count = events.count()
    if count > CSV_MAX_ROWS:
        raise ValidationFailedError(
            CSV_TOO_MANY.format(count=count, limit=CSV_MAX_ROWS), code="too_many_rows"
        )
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow(CSV_HEADER)
    for start in range(0, count, 1000):
        writer.writerows(_csv_row(event) for event in events[start : start + 1000])
    return out.getvalue()


def _csv_row(event: AuditEvent) -> list[Any]:
    changes = readable_changes(event)
    return [
        timezone.localtime(event.created_at).isoformat(timespec="seconds"),
        event.actor_label or "system",
        event.action,
        event.object_type,
        event.object_id,
        event.object_repr,
        "; ".join(c.sentence() for c in changes if not c.hidden),
        ", ".join(c.field for c in changes if c.hidden),
        event.request_id,
    ]


def present(events: Iterable[AuditEvent]) -> list[AuditEvent]:
    """Attach ``readable`` (the field changes) and ``link`` (its object's page) to each event."""
    shown = list(events)
    for event in shown:
        event.readable = readable_changes(event)  # type: ignore[attr-defined]
        event.link = object_link(event)  # type: ignore[attr-defined]
    return shown
