"""Finance exports: approved amounts into payroll and the general ledger, each exported once.

What is exportable is read from the ledger, never from a run directly: the entries of an
approved (or closed) period whose kinds make up what is payable: earned + adjustments + draws
- draws recovered - holds + releases - clawbacks (:data:`EXPORTABLE_KINDS`, amounts signed as
the ledger writes them; ``paid`` entries are this module's own output). Period approval
(``payouts.lifecycle.period_approve``) writes the entries of the picked run's lines, so an
approved period's payout lines are exactly its entries that name a line.

An :class:`~payouts.models.ExportBatch` is created under a lock on the tenant row (so two
requests never export one entry twice, and two requests with one idempotency key make one
batch). Each entry it takes becomes an :class:`~payouts.models.ExportedLine`, unique per entry
and per payout line and kind in the database, carrying a snapshot of what a file needs (employee id,
cost centre, signed amount), so files never read mutable rows again. The first time a file is
asked for, its bytes are stored (:class:`~payouts.models.ExportFile`); every later request
returns those bytes. Marking a batch paid writes one PAID ledger entry per exported line and
freezes the batch (database trigger).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Case, Exists, F, OuterRef, Q, QuerySet, Subquery, Value, When
from django.utils import timezone

from core.audit import audit_record, current_actor
from core.csvsafe import csv_writer, xlsx_bytes
from core.errors import ConflictError, NotFoundError, ValidationFailedError
from core.models import Tenant, model_snapshot
from core.tenancy import get_current_tenant
from engine.money import quantize
from hierarchy import org_selectors
from hierarchy.models import Node, Period, PeriodStatus, Person
from hierarchy.periods import tenant_today
from payouts.models import (
    EarningCode,
    EntryKind,
    ExportBatch,
    ExportContent,
    ExportedLine,
    ExportFile,
    ExportFormat,
    ExportStatus,
    LedgerEntry,
)
from plans.models import Plan

# The ledger kinds that make up what is payable. Amounts are read as the ledger wrote them,
# signed by their effect on what is owed (payouts/ledger.py: a hold, a draw recovery and a
# clawback are negative, a draw and a release positive, a reopen's reversal the opposite of
# what it reverses), so a batch's amounts sum to the ledger's balance before payment.
EXPORTABLE_KINDS: tuple[str, ...] = (
    EntryKind.EARNED,
    EntryKind.ADJUSTMENT,
    EntryKind.DRAW,
    EntryKind.DRAW_RECOVERY,
    EntryKind.CLAWBACK,
    EntryKind.HOLD,
    EntryKind.RELEASE,
)
EXPORTABLE_PERIODS = (PeriodStatus.APPROVED, PeriodStatus.CLOSED)
MAX_PERIODS = 24
UNASSIGNED_COST_CENTRE = "UNASSIGNED"
EXPORTS_WHAT = "exporting payouts"  # an export covers the whole tenant's approved amounts

NO_PERIODS = "Name at least one period to export."
TOO_MANY_PERIODS = f"Export at most {MAX_PERIODS} periods at once."
PERIOD_NOT_APPROVED = "Period {label} is {status}: only approved or closed periods are exported."
NOTHING_TO_EXPORT = "Nothing to export: every approved amount of this selection was exported."
KEY_REUSED = "This idempotency key was used for a different export batch."
KEY_REQUIRED = "Creating an export batch needs an Idempotency-Key (any unique string)."
ALREADY_PAID = "Export batch {number} was already marked paid."
EARNING_CODES_MISSING = (
    "No earning code for component(s) {components}: map them on the earning codes page first."
)
UNKNOWN_CONTENT = "Unknown file: use lines, payroll or gl."
EARNING_CODE_TEXT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,39}")
BAD_EARNING_CODE = "An earning code is letters, digits, '_', '.' or '-' (at most 40), e.g. COMM."
NO_COMPONENT = "Name the plan component (its id in the plan, e.g. commission)."
UNKNOWN_FORMAT = "Unknown format: use csv, xlsx or json."
PAYROLL_FORMATS = (ExportFormat.CSV, ExportFormat.XLSX)

CONTENT_TYPES = {
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ExportFormat.JSON: "application/json",
}


def _payable() -> F:
    """The payable amount of a ledger entry, as SQL (the ledger's signed amount)."""
    return F("amount")


# --- reads -------------------------------------------------------------------------------------


def approved_entries() -> QuerySet[LedgerEntry]:
    """Return the ledger entries that make up approved payable amounts (all periods)."""
    return LedgerEntry.objects.filter(
        kind__in=list(EXPORTABLE_KINDS), period__status__in=EXPORTABLE_PERIODS
    )


def in_business_unit(
    queryset: QuerySet[LedgerEntry], node_id: int, *, field_prefix: str = ""
) -> QuerySet[LedgerEntry]:
    """Narrow entries to the people in ``node_id``'s subtree during each entry's period."""
    node = Node.objects.filter(pk=node_id).first()
    if node is None:
        raise ValidationFailedError(
            "Unknown business unit.", details={"business_unit": ["Not found."]}
        )
    periods = Period.objects.filter(pk__in=queryset.values("period_id").distinct())
    match = Q(pk__in=[])
    for period in periods:
        people = org_selectors.people_in_subtrees(
            node_ids=[node.pk], start=period.start, end=period.end
        )
        match |= Q(period_id=period.pk, person_id__in=people.values("pk"))
    return queryset.filter(match)


def payout_list() -> QuerySet[LedgerEntry]:
    """Return approved payable amounts with their export state (``approved`` / ``exported`` /
    ``paid``), signed ``payable`` amount and batch, for the payouts read and its filters."""
    exported = ExportedLine.objects.filter(entry_id=OuterRef("pk"))
    return (
        approved_entries()
        .select_related("person", "period", "plan")
        .annotate(
            payable=_payable(),
            export_batch_id=Subquery(exported.values("batch_id")[:1]),
            export_batch_status=Subquery(exported.values("batch__status")[:1]),
        )
        .annotate(
            export_status=Case(
                When(export_batch_status=ExportStatus.PAID, then=Value("paid")),
                When(export_batch_id__isnull=False, then=Value("exported")),
                default=Value("approved"),
            )
        )
        .order_by("period__start", "person__employee_id", "component_id", "pk")
    )


def _periods(period_ids: Sequence[int]) -> list[Period]:
    ids = sorted({int(i) for i in period_ids})
    if not ids:
        raise ValidationFailedError(NO_PERIODS, details={"periods": [NO_PERIODS]})
    if len(ids) > MAX_PERIODS:
        raise ValidationFailedError(TOO_MANY_PERIODS, details={"periods": [TOO_MANY_PERIODS]})
    periods = list(Period.objects.filter(pk__in=ids).order_by("start", "kind"))
    if len(periods) != len(ids):
        raise ValidationFailedError(
            "Unknown period.", details={"periods": ["One or more periods were not found."]}
        )
    for period in periods:
        if period.status not in EXPORTABLE_PERIODS:
            message = PERIOD_NOT_APPROVED.format(
                label=period.label, status=period.get_status_display().lower()
            )
            raise ValidationFailedError(message, code="period_not_approved")
    return periods


def unexported_entries(
    *, period_ids: Sequence[int], person_id: int | None = None, business_unit_id: int | None = None
) -> QuerySet[LedgerEntry]:
    """Return the approved entries of ``period_ids`` (narrowed to a person / business unit) that
    no batch has exported yet."""
    periods = _periods(period_ids)
    qs = approved_entries().filter(period__in=periods)
    if person_id is not None:
        if not Person.objects.filter(pk=person_id).exists():
            raise ValidationFailedError("Unknown person.", details={"person": ["Not found."]})
        qs = qs.filter(person_id=person_id)
    if business_unit_id is not None:
        qs = in_business_unit(qs, business_unit_id)
    return not_exported(qs).order_by("period__start", "person_id", "component_id", "pk")


def not_exported(qs: QuerySet[LedgerEntry]) -> QuerySet[LedgerEntry]:
    """Narrow ledger entries to those no export batch has exported yet."""
    return qs.filter(~Exists(ExportedLine.objects.filter(entry_id=OuterRef("pk"))))


@dataclass
class Preview:
    """What a batch would export: counts and totals per currency."""

    periods: list[Period]
    line_count: int = 0
    people_count: int = 0
    totals: dict[str, Decimal] = field(default_factory=dict)
    already_exported: int = 0


def export_preview(
    *, period_ids: Sequence[int], person_id: int | None = None, business_unit_id: int | None = None
) -> Preview:
    """Return what a batch of this selection would export now (nothing is written)."""
    qs = unexported_entries(
        period_ids=period_ids, person_id=person_id, business_unit_id=business_unit_id
    )
    preview = Preview(periods=_periods(period_ids))
    people: set[int] = set()
    for person_id_, currency, payable in qs.annotate(payable=_payable()).values_list(
        "person_id", "currency", "payable"
    ):
        preview.line_count += 1
        people.add(person_id_)
        preview.totals[currency] = preview.totals.get(currency, Decimal(0)) + payable
    preview.people_count = len(people)
    preview.already_exported = ExportedLine.objects.filter(period__in=preview.periods).count()
    return preview


def export_batch_list() -> QuerySet[ExportBatch]:
    """Return the tenant's export batches, newest first."""
    return ExportBatch.objects.select_related("person", "business_unit").order_by("-number")


def export_batch_get(*, batch_id: int) -> ExportBatch:
    """Return one export batch, or NotFoundError."""
    batch = export_batch_list().filter(pk=batch_id).first()
    if batch is None:
        raise NotFoundError("Export batch not found.")
    return batch


def period_labels(batch: ExportBatch) -> list[str]:
    """Return the labels of a batch's periods, in calendar order."""
    return list(
        Period.objects.filter(pk__in=batch.period_ids)
        .order_by("start", "kind")
        .values_list("label", flat=True)
    )


# --- create ------------------------------------------------------------------------------------


def _request_hash(**asked: Any) -> str:
    return hashlib.sha256(json.dumps(asked, sort_keys=True, default=str).encode()).hexdigest()


def default_pay_date(periods: Sequence[Period]) -> date:
    """Return the pay date of an export that names none: today (the tenant's day), or the last
    period's last day when that is still to come - never a day already past."""
    last_day = max(p.end for p in periods) - timedelta(days=1)
    return max(tenant_today(get_current_tenant()), last_day)


@transaction.atomic
def export_batch_create(
    *,
    period_ids: Sequence[int],
    idempotency_key: str,
    format: str = ExportFormat.CSV,
    pay_date: date | None = None,
    person_id: int | None = None,
    business_unit_id: int | None = None,
    user_id: int | None = None,
) -> tuple[ExportBatch, bool]:
    """Create an export batch of the selection's unexported approved amounts, or return the
    batch this ``idempotency_key`` already made. Return ``(batch, created)``."""
    key = (idempotency_key or "").strip()
    if not key:
        raise ValidationFailedError(KEY_REQUIRED, code="idempotency_key_required")
    if format not in ExportFormat.values:
        raise ValidationFailedError(UNKNOWN_FORMAT, details={"format": [UNKNOWN_FORMAT]})
    tenant = get_current_tenant()
    # One batch at a time per tenant: numbering, "exported once" and the key are decided here.
    Tenant.objects.select_for_update().filter(pk=tenant.pk).first()
    periods = _periods(period_ids)
    # the key's selection names the pay date as asked: a retry tomorrow without one replays
    asked = _request_hash(
        periods=[p.pk for p in periods],
        person=person_id,
        business_unit=business_unit_id,
        format=format,
        pay_date=pay_date.isoformat() if pay_date else None,
    )
    pay_date = pay_date or default_pay_date(periods)
    existing = ExportBatch.objects.filter(idempotency_key=key).first()
    if existing is not None:
        if existing.request_hash != asked:
            raise ConflictError(KEY_REUSED, code="idempotency_key_reused")
        return existing, False
    entries = list(
        unexported_entries(
            period_ids=[p.pk for p in periods],
            person_id=person_id,
            business_unit_id=business_unit_id,
        ).select_related("person")
    )
    if not entries:
        raise ConflictError(NOTHING_TO_EXPORT, code="nothing_to_export")
    now = timezone.now()
    number = (ExportBatch.objects.order_by("-number").values_list("number", flat=True).first()) or 0
    actor = current_actor()
    batch = ExportBatch(
        number=number + 1,
        period_ids=[p.pk for p in periods],
        person_id=person_id,
        business_unit_id=business_unit_id,
        format=format,
        pay_date=pay_date,
        idempotency_key=key,
        request_hash=asked,
        created_by_id=user_id,
        created_by_label=actor.label[:200],
        created_at=now,
        sha256="",
    )
    lines = [
        ExportedLine(
            entry=e,
            line_id=e.line_id,
            period_id=e.period_id,
            person_id=e.person_id,
            employee_id=e.person.employee_id,
            full_name=e.person.full_name,
            cost_centre=str((e.person.attributes or {}).get("cost_centre") or "")[:100],
            plan_id=e.plan_id,
            component_id=e.component_id,
            kind=e.kind,
            amount=e.amount,
            currency=e.currency,
            created_at=now,
        )
        for e in entries
    ]
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for line in lines:
        totals[line.currency] += line.amount
    batch.line_count = len(lines)
    batch.totals = {c: str(totals[c]) for c in sorted(totals)}
    # The batch's own file is rendered before anything is saved, so its hash is on the row.
    for line in lines:
        line.batch = batch
    data = render(batch, ExportContent.LINES, format, lines=lines, periods=periods)
    batch.sha256 = hashlib.sha256(data).hexdigest()
    batch.full_clean(exclude=["tenant"])
    try:
        with transaction.atomic():
            batch.save()
            for line in lines:
                line.batch = batch
            ExportedLine.objects.bulk_create(lines)
    except IntegrityError:
        raise ConflictError(
            "These amounts were exported by another batch at the same time; try again.",
            code="export_conflict",
        ) from None
    ExportFile.objects.create(
        batch=batch,
        content=ExportContent.LINES,
        format=format,
        data=data,
        sha256=batch.sha256,
        created_at=now,
    )
    audit_record(action="export_batch.create", obj=batch, after=model_snapshot(batch))
    return batch, True


# --- files -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class File:
    data: bytes
    sha256: str
    filename: str
    content_type: str


def _filename(batch: ExportBatch, content: str, format: str) -> str:
    return f"quotient-export-{batch.number}-{content}.{format}"


def export_batch_file(*, batch_id: int, content: str, format: str) -> File:
    """Return a file of a batch: the bytes stored the first time it was asked for (so asking
    again gives the same bytes), rendering and storing them now if this is the first time."""
    if content not in ExportContent.values:
        raise ValidationFailedError(UNKNOWN_CONTENT, details={"content": [UNKNOWN_CONTENT]})
    if format not in ExportFormat.values:
        raise ValidationFailedError(UNKNOWN_FORMAT, details={"format": [UNKNOWN_FORMAT]})
    if content == ExportContent.PAYROLL and format not in PAYROLL_FORMATS:
        raise ValidationFailedError(
            "The payroll file is CSV or XLSX.", details={"format": ["Use csv or xlsx."]}
        )
    batch = export_batch_get(batch_id=batch_id)
    stored = ExportFile.objects.filter(batch=batch, content=content, format=format).first()
    if stored is None:
        data = render(batch, content, format)
        digest = hashlib.sha256(data).hexdigest()
        try:
            with transaction.atomic():
                stored = ExportFile.objects.create(
                    batch=batch,
                    content=content,
                    format=format,
                    data=data,
                    sha256=digest,
                    created_at=timezone.now(),
                )
        except IntegrityError:  # asked for at the same time: the first one's bytes stand
            stored = ExportFile.objects.get(batch=batch, content=content, format=format)
    data = bytes(stored.data)
    if hashlib.sha256(data).hexdigest() != stored.sha256:
        raise ConflictError("The stored file does not match its hash.", code="file_corrupt")
    return File(
        data=data,
        sha256=stored.sha256,
        filename=_filename(batch, content, format),
        content_type=CONTENT_TYPES[ExportFormat(format)],
    )


LINE_HEADER: tuple[str, ...] = (
    "batch",
    "period",
    "employee_id",
    "name",
    "cost_centre",
    "plan",
    "component",
    "kind",
    "amount",
    "currency",
    "ledger_entry",
    "payout_line",
)
PAYROLL_HEADER: tuple[str, ...] = ("employee_id", "earning_code", "amount", "currency", "pay_date")
GL_HEADER: tuple[str, ...] = ("cost_centre", "period", "currency", "amount", "lines")


def render(
    batch: ExportBatch,
    content: str,
    format: str,
    *,
    lines: Sequence[ExportedLine] | None = None,
    periods: Iterable[Period] | None = None,
) -> bytes:
    """Return the bytes of one file of ``batch`` (pure of time: same lines, same bytes)."""
    if lines is None:
        lines = list(batch.lines.order_by("employee_id", "component_id", "entry_id"))
    else:
        lines = sorted(lines, key=lambda x: (x.employee_id, x.component_id, x.entry_id))
    labels = {
        p.pk: p.label
        for p in (
            periods if periods is not None else Period.objects.filter(pk__in=batch.period_ids)
        )
    }
    plans = dict(
        Plan.objects.filter(pk__in={x.plan_id for x in lines if x.plan_id}).values_list(
            "pk", "code"
        )
    )
    if content == ExportContent.LINES:
        header, rows = (
            LINE_HEADER,
            [
                (
                    batch.number,
                    labels.get(x.period_id, ""),
                    x.employee_id,
                    x.full_name,
                    x.cost_centre,
                    plans.get(x.plan_id, "") if x.plan_id else "",
                    x.component_id,
                    x.kind,
                    _exact(x.amount, x.currency),
                    x.currency,
                    x.entry_id,
                    x.line_id or "",
                )
                for x in lines
            ],
        )
    elif content == ExportContent.PAYROLL:
        header, rows = PAYROLL_HEADER, _payroll_rows(batch, lines)
    else:
        header, rows = GL_HEADER, _gl_rows(lines, labels)
    return _encode(batch, content, format, header, rows)


def earning_code_for(
    codes: dict[tuple[int | None, str], str], plan_id: int | None, comp: str
) -> str:
    """Return the earning code of a plan's component: the plan's own mapping, else the
    component's tenant-wide one, else ''."""
    return codes.get((plan_id, comp)) or codes.get((None, comp)) or ""


def earning_code_map() -> dict[tuple[int | None, str], str]:
    """Return ``{(plan_id or None, component_id): code}`` of the tenant."""
    return {
        (plan_id, comp): code
        for plan_id, comp, code in EarningCode.objects.values_list(
            "plan_id", "component_id", "code"
        )
    }


def _payroll_rows(batch: ExportBatch, lines: Sequence[ExportedLine]) -> list[tuple[Any, ...]]:
    codes = earning_code_map()
    sums: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    missing: set[str] = set()
    for x in lines:
        code = earning_code_for(codes, x.plan_id, x.component_id)
        if not code:
            missing.add(x.component_id or "(none)")
            continue
        sums[(x.employee_id, code, x.currency)] += x.amount
    if missing:
        message = EARNING_CODES_MISSING.format(components=", ".join(sorted(missing)))
        raise ValidationFailedError(
            message, code="earning_code_missing", details={"components": sorted(missing)}
        )
    # a zero (earned and clawed back, or nothing at all) is no pay instruction: payroll skips it
    return [
        (emp, code, shown, currency, batch.pay_date.isoformat())
        for (emp, code, currency), amount in sorted(sums.items())
        if (shown := quantize(amount, currency))
    ]


def _gl_rows(lines: Sequence[ExportedLine], labels: dict[int, str]) -> list[tuple[Any, ...]]:
    sums: dict[tuple[str, str, str], list[Any]] = {}
    for x in lines:
        key = (x.cost_centre or UNASSIGNED_COST_CENTRE, labels.get(x.period_id, ""), x.currency)
        row = sums.setdefault(key, [Decimal(0), 0])
        row[0] += x.amount
        row[1] += 1
    # a journal posts in the currency's minor unit: each cost centre's sum rounded once, half up
    return [
        (*key, quantize(amount, key[2]), count) for key, (amount, count) in sorted(sums.items())
    ]


def _exact(amount: Decimal, currency: str) -> Decimal:
    """An entry's amount as a file shows it: the currency's decimals (``78038.69``) when that
    is exact, else every stored place (a sub-cent share is never rounded away in the lines)."""
    shown = quantize(amount, currency)
    return shown if shown == amount else amount


def _text(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


def _encode(
    batch: ExportBatch,
    content: str,
    format: str,
    header: Sequence[str],
    rows: Sequence[Sequence[Any]],
) -> bytes:
    if format == ExportFormat.CSV:
        out = io.StringIO()
        writer = csv_writer(out, lineterminator="\r\n")
        writer.writerow(header)
        writer.writerows([[_text(v) for v in row] for row in rows])
        return out.getvalue().encode("utf-8")
    if format == ExportFormat.XLSX:
        return xlsx_bytes([(content, header, rows)])
    document = {
        "batch": {
            "number": batch.number,
            "periods": sorted(batch.period_ids),
            "pay_date": batch.pay_date.isoformat(),
            "line_count": batch.line_count,
            "totals": batch.totals,
        },
        "content": content,
        "rows": [dict(zip(header, [_text(v) for v in row], strict=True)) for row in rows],
    }
    return json.dumps(document, sort_keys=True, indent=1, default=str).encode("utf-8")


# --- paid --------------------------------------------------------------------------------------


@transaction.atomic
def export_batch_mark_paid(*, batch_id: int, user_id: int | None = None) -> ExportBatch:
    """Mark a batch paid: one PAID ledger entry per exported line, then the batch is frozen.

    A PAID entry takes the opposite sign of the amount it pays, so the ledger's balance of what
    is owed comes back to zero. It names the payout line only for the line's EARNED amount (the
    ledger allows one entry per line and kind); the others name the entry in their memo."""
    batch: ExportBatch | None = ExportBatch.objects.select_for_update().filter(pk=batch_id).first()
    if batch is None:
        raise NotFoundError("Export batch not found.")
    if batch.status == ExportStatus.PAID:
        raise ConflictError(ALREADY_PAID.format(number=batch.number), code="already_paid")
    before = model_snapshot(batch)
    now = timezone.now()
    lines = list(batch.lines.select_related("entry").order_by("pk"))
    LedgerEntry.objects.bulk_create(
        [
            LedgerEntry(
                person_id=x.person_id,
                period_id=x.period_id,
                kind=EntryKind.PAID,
                amount=-x.amount,
                currency=x.currency,
                plan_id=x.plan_id,
                component_id=x.component_id,
                run_id=x.entry.run_id,
                line_id=x.line_id if x.kind == EntryKind.EARNED else None,
                memo=f"Export batch {batch.number}, ledger entry {x.entry_id}",
                created_by_id=user_id,
                created_at=now,
            )
            for x in lines
        ]
    )
    batch.status = ExportStatus.PAID
    batch.paid_at = now
    batch.paid_by_label = current_actor().label[:200]
    batch.save(update_fields=["status", "paid_at", "paid_by_label"])
    audit_record(
        action="export_batch.mark_paid", obj=batch, before=before, after=model_snapshot(batch)
    )
    return batch


# --- earning codes -----------------------------------------------------------------------------


def earning_code_list() -> QuerySet[EarningCode]:
    """Return the tenant's earning code mappings."""
    return EarningCode.objects.select_related("plan").order_by("component_id", "plan_id", "pk")


def earning_code_get(*, code_id: int) -> EarningCode:
    """Return one earning code mapping, or NotFoundError."""
    found = earning_code_list().filter(pk=code_id).first()
    if found is None:
        raise NotFoundError("Earning code not found.")
    return found


@transaction.atomic
def earning_code_set(
    *, component_id: str, code: str, plan_id: int | None = None, description: str = ""
) -> tuple[EarningCode, bool]:
    """Map a component (of one plan, or of every plan) to a payroll earning code; return
    ``(mapping, created)``."""
    component_id, code = (component_id or "").strip(), (code or "").strip()
    if not component_id:
        raise ValidationFailedError(NO_COMPONENT, details={"component": [NO_COMPONENT]})
    if not EARNING_CODE_TEXT.fullmatch(code):
        raise ValidationFailedError(BAD_EARNING_CODE, details={"code": [BAD_EARNING_CODE]})
    if plan_id is not None and not Plan.objects.filter(pk=plan_id).exists():
        raise ValidationFailedError("Unknown plan.", details={"plan": ["Not found."]})
    existing = (
        EarningCode.objects.select_for_update()
        .filter(component_id=component_id, plan_id=plan_id)
        .first()
    )
    now = timezone.now()
    if existing is None:
        mapping = EarningCode(
            component_id=component_id,
            plan_id=plan_id,
            code=code,
            description=description,
            created_at=now,
            updated_at=now,
        )
        mapping.full_clean(exclude=["tenant"], validate_constraints=False)
        mapping.save()
        audit_record(action="earning_code.create", obj=mapping, after=model_snapshot(mapping))
        return mapping, True
    before = model_snapshot(existing)
    existing.code, existing.description, existing.updated_at = code, description, now
    existing.full_clean(exclude=["tenant"], validate_constraints=False)
    existing.save()
    audit_record(
        action="earning_code.change", obj=existing, before=before, after=model_snapshot(existing)
    )
    return existing, False


@transaction.atomic
def earning_code_delete(*, code_id: int) -> None:
    """Remove an earning code mapping (files already downloaded keep the code they had)."""
    mapping = earning_code_get(code_id=code_id)
    before = model_snapshot(mapping)
    audit_record(action="earning_code.delete", obj=mapping, before=before)
    mapping.delete()
