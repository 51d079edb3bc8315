"""The ledger: the append-only history of what each person is owed, and every write to it.

Why this exists
---------------
Finance must be able to trust that what was approved never changes. Ledger entries are
append-only in the database (a trigger and the app role's missing UPDATE/DELETE grants,
``payouts/migrations/0001``), so every change is a *new* entry: an approval writes one entry per
payout line of the run it picked; a reopen reverses those entries with entries of the opposite
sign (``corrects`` naming each); a correction to a closed period is an entry in a period still
open that ``corrects`` the original; a clawback reads the original entry's ``rate``.

The writes, each a service with one audit event:

- :func:`approval_entries_write` / :func:`approval_entries_reverse` (called by the lifecycle);
- :func:`adjustment_request`, :func:`adjustment_approve`, :func:`adjustment_reject`: manual
  adjustments with a reason, decided by someone other than who asked;
- :func:`draw_grant`: an advance; recoverable ones form a balance (:func:`draw_balances`) that
  later earnings pay back, by the engine's draw rules for people on a plan with a draw and at
  approval (a DRAW_RECOVERY entry) for everyone else;
- :func:`hold_place`, :func:`hold_release`: withhold a person's (or one line's) payout from the
  periods approved while the hold is active, and pay it later;
- :func:`clawback_record`: claw back part of an earned entry at the rate it paid.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from core.audit import audit_record
from core.currencies import exponent, is_currency_code
from core.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationFailedError
from core.models import model_snapshot
from core.permissions import Principal
from core.tenancy import get_current_tenant
from hierarchy.models import Period, Person
from payouts.models import (
    MONEY_DIGITS,
    MONEY_PLACES,
    Adjustment,
    AdjustmentStatus,
    CalculationRun,
    Draw,
    EntryKind,
    Hold,
    HoldStatus,
    LedgerEntry,
    PayoutLine,
    PeriodApproval,
)
from payouts.policy import WRITABLE, may_approve
from plans.models import PlanVersion

ZERO = Decimal(0)
RATE_PLACES = Decimal("0.00000001")
RATE_LIMIT = Decimal("10000")  # NUMERIC(12, 8)
MONEY_LIMIT = Decimal(10) ** (MONEY_DIGITS - MONEY_PLACES)
ENTRY_BATCH = 2000  # rows per INSERT when an approval writes a run's entries

ROLE_REQUEST = "Requesting adjustments is a comp admin's or finance's."
ROLE_DECIDE = "Deciding adjustments, draws and holds is finance's (or a tenant admin's)."
OWN_REQUEST = "Someone other than who requested an adjustment decides it."
NOT_PENDING = "The adjustment is already {status}."
PERIOD_NOT_WRITABLE = (
    "{label} is {status}: entries go into a period that is open, calculated or in review."
)
AMOUNT_ZERO = "Give an amount other than zero."
AMOUNT_RANGE = "The amount is out of range."
AMOUNT_PLACES = "{currency} has {places} decimal places."
BAD_CURRENCY = "Use a current ISO 4217 currency code, e.g. USD."
REASON_REQUIRED = "Say why."
CORRECTS_OTHER_PERSON = "The corrected entry belongs to someone else."
CORRECTS_CURRENCY = "The correction's currency must be the corrected entry's ({currency})."
DRAW_POSITIVE = "A draw is a positive amount."
HOLD_LINE_PERSON = "That payout line is someone else's."
HOLD_NOT_ACTIVE = "The hold is already released."
NO_RATE = "The original entry has no rate to claw back at."
CLAWBACK_KIND = "Only an earned entry can be clawed back."
BASE_POSITIVE = "The reversed amount is positive."

LINE_KINDS: dict[str, str] = {
    "draw": EntryKind.DRAW,
    "draw_recovery": EntryKind.DRAW_RECOVERY,
    "clawback": EntryKind.CLAWBACK,
}


def entry_kind_for_line(kind: str) -> str:
    """Return the ledger entry kind of a payout line's kind (earned unless draw or clawback)."""
    return LINE_KINDS.get(kind, EntryKind.EARNED)


# --- helpers ------------------------------------------------------------------------------------


def _may_decide(principal: Principal) -> bool:
    return may_approve(principal)


def _require_decide(principal: Principal) -> None:
    if not _may_decide(principal):
        raise PermissionDeniedError(ROLE_DECIDE, details={"guard": "role"})


def _invalid(field: str, message: str, code: str = "validation_failed") -> ValidationFailedError:
    return ValidationFailedError(message, code=code, details={field: [message]})


def _writable_period(period_id: int) -> Period:
    period: Period | None = Period.objects.select_for_update().filter(pk=period_id).first()
    if period is None:
        raise NotFoundError("Period not found.")
    if period.status not in WRITABLE:
        raise ConflictError(
            PERIOD_NOT_WRITABLE.format(label=period.label, status=period.get_status_display()),
            code="period_not_writable",
            details={"guard": "period_status", "status": period.status},
        )
    return period


def _person(person_id: int) -> Person:
    person: Person | None = Person.objects.filter(pk=person_id).first()
    if person is None:
        raise NotFoundError("Person not found.")
    return person


def _money(amount: Any, currency: str, *, field: str = "amount") -> Decimal:
    if not is_currency_code(currency):
        raise _invalid("currency", BAD_CURRENCY, "unknown_currency")
    try:
        value = Decimal(str(amount))
    except (InvalidOperation, ValueError):
        raise _invalid(field, AMOUNT_RANGE) from None
    if not value.is_finite() or abs(value) >= MONEY_LIMIT:
        raise _invalid(field, AMOUNT_RANGE)
    places = exponent(currency)
    if value != value.quantize(Decimal(1).scaleb(-places)):
        raise _invalid(field, AMOUNT_PLACES.format(currency=currency, places=places))
    return value


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise _invalid("reason", REASON_REQUIRED, "reason_required")
    return reason[:500]


def line_rate(line: PayoutLine) -> Decimal | None:
    """Return the rate a payout line paid at: its trace's ``effective_rate`` (or ``rate``) step,
    else amount ÷ measure; None when neither is known."""
    found: dict[str, str] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            name = node.get("name")
            if name in {"effective_rate", "rate"} and "value" in node and name not in found:
                found[name] = str(node["value"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list | tuple):
            for v in node:
                walk(v)

    walk(line.trace)
    for name in ("effective_rate", "rate"):
        if name in found:
            try:
                rate = Decimal(found[name])
            except InvalidOperation:
                continue
            if rate.is_finite() and abs(rate) < RATE_LIMIT:
                return rate.quantize(RATE_PLACES)
    if line.measure and line.amount:
        rate = line.amount / line.measure
        if abs(rate) < RATE_LIMIT:
            return rate.quantize(RATE_PLACES)
    return None


def _draw_recoverable(version_ids: set[int]) -> dict[int, bool | None]:
    """Return, per plan version, whether its draw is recoverable (None: no draw in its spec)."""
    out: dict[int, bool | None] = {}
    for pk, spec in PlanVersion.objects.filter(pk__in=version_ids).values_list("pk", "spec"):
        draw = spec.get("draw") if isinstance(spec, dict) else None
        out[pk] = draw.get("type") == "recoverable" if isinstance(draw, dict) else None
    return out


def _entry(**fields: Any) -> LedgerEntry:
    return LedgerEntry(tenant=get_current_tenant(), created_at=timezone.now(), **fields)


# --- approval -----------------------------------------------------------------------------------


def approval_entries_write(
    *, period: Period, run: CalculationRun, principal: Principal
) -> dict[str, int]:
    """Write the entries of an approval: one per payout line of ``run``, holds, draw recoveries.

    Called by ``period_approve`` inside its transaction, after it created the approval. Lines
    already entered by an earlier (reopened) approval of the same run are entered again as
    entries that ``corrects`` the reversal, so (line, kind) stays unique.
    """
    approval = PeriodApproval.objects.get(period=period, reopened_at__isnull=True)
    user = principal.user_id
    lines = list(
        PayoutLine.objects.filter(run=run)
        .only(
            "id",
            "person_id",
            "plan_id",
            "plan_version_id",
            "component_id",
            "kind",
            "amount",
            "currency",
            "measure",
            "trace",
        )
        .order_by("person", "pk")
    )
    recoverable = _draw_recoverable(
        {line.plan_version_id for line in lines if entry_kind_for_line(line.kind) == "draw"}
    )
    earlier = {
        (e.line_id, e.kind): e
        for e in LedgerEntry.objects.filter(line__run=run, corrects__isnull=True)
    }
    kinds = {e.pk: e.kind for e in earlier.values()}
    reversal_of = {
        e.corrects_id: e
        for e in LedgerEntry.objects.filter(corrects__in=list(kinds), approval__isnull=True)
        if kinds.get(e.corrects_id) == e.kind  # a reopen's reversal, not a release
    }
    rows: list[LedgerEntry] = []
    counts: dict[str, int] = defaultdict(int)
    payable: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    draw_people: set[int] = set()

    def add(line: PayoutLine, kind: str, amount: Decimal, **extra: Any) -> None:
        prior = earlier.get((line.pk, kind))
        rows.append(
            _entry(
                person_id=line.person_id,
                period=period,
                kind=kind,
                amount=amount,
                currency=line.currency,
                plan_id=line.plan_id,
                component_id=line.component_id,
                run=run,
                line=None if prior else line,
                corrects=reversal_of.get(prior.pk) if prior else None,
                approval=approval,
                created_by_id=user,
                **extra,
            )
        )
        counts[kind] += 1
        payable[(line.person_id, line.currency)] += amount

    holds = _holds_for(period=period, person_ids={line.person_id for line in lines})
    for line in lines:
        kind = entry_kind_for_line(line.kind)
        extra: dict[str, Any] = {}
        if kind == EntryKind.EARNED:
            extra["rate"] = line_rate(line)
        if kind in {EntryKind.DRAW, EntryKind.DRAW_RECOVERY}:
            draw_people.add(line.person_id)
            if kind == EntryKind.DRAW:
                extra["recoverable"] = recoverable.get(line.plan_version_id)
        add(line, kind, line.amount, **extra)
        hold = holds.get(line.pk) or holds.get(("person", line.person_id))
        if hold is not None and line.amount:
            memo = f"Held: {hold.reason}"[:300]
            add(line, EntryKind.HOLD, -line.amount, hold=hold, memo=memo)
    # Manual draws for people the engine did not settle a draw for: recover from this payable.
    balances = draw_balances(period_id=period.pk)
    for (person_id, currency), amount in sorted(payable.items()):
        balance = balances.get(str(person_id), ZERO)
        if person_id in draw_people or balance <= 0 or amount <= 0:
            continue
        recovery = min(balance, amount)
        rows.append(
            _entry(
                person_id=person_id,
                period=period,
                kind=EntryKind.DRAW_RECOVERY,
                amount=-recovery,
                currency=currency,
                run=run,
                approval=approval,
                memo=f"Recovers {recovery} of a draw balance of {balance}",
                created_by_id=user,
            )
        )
        counts[EntryKind.DRAW_RECOVERY] += 1
    LedgerEntry.objects.bulk_create(rows, batch_size=ENTRY_BATCH)
    return dict(sorted(counts.items()))


def _holds_for(*, period: Period, person_ids: set[int]) -> dict[Any, Hold]:
    """Return the active holds that apply to ``period``: by line id, or ("person", id)."""
    out: dict[Any, Hold] = {}
    active = Hold.objects.filter(status=HoldStatus.ACTIVE, person_id__in=person_ids).filter(
        Q(period__isnull=True) | Q(period=period)
    )
    for hold in active.order_by("placed_at", "pk"):
        key: Any = hold.line_id if hold.line_id else ("person", hold.person_id)
        out.setdefault(key, hold)
    return out


def approval_entries_reverse(
    *, period: Period, run: CalculationRun, principal: Principal, reason: str
) -> int:
    """Write, for each entry of the live approval of ``period``, one of the opposite sign."""
    approval = PeriodApproval.objects.get(period=period, reopened_at__isnull=True)
    originals = list(LedgerEntry.objects.filter(approval=approval).order_by("pk"))
    rows = [
        _entry(
            person_id=e.person_id,
            period=period,
            kind=e.kind,
            amount=-e.amount,
            currency=e.currency,
            plan_id=e.plan_id,
            component_id=e.component_id,
            run=run,
            corrects=e,
            hold_id=e.hold_id,
            recoverable=e.recoverable,
            rate=e.rate,
            memo=f"Reopened: {reason}"[:300],
            created_by_id=principal.user_id,
        )
        for e in originals
    ]
    LedgerEntry.objects.bulk_create(rows, batch_size=ENTRY_BATCH)
    return len(rows)


# --- adjustments --------------------------------------------------------------------------------


@transaction.atomic
def adjustment_request(
    *,
    principal: Principal,
    person_id: int,
    period_id: int,
    amount: Any,
    currency: str,
    reason: str,
    plan_id: int | None = None,
    component_id: str = "",
    corrects_id: int | None = None,
    audit: bool = True,
) -> Adjustment:
    """Ask for a manual adjustment (pending until someone else decides it).

    ``audit=False`` is for a compound action that records the request's facts in its own one
    audit event (``disputes.dispute_resolve``: the ``adjustment_request`` inside its ``after``).
    """
    if not (principal.has("payouts.calculate") or _may_decide(principal)):
        raise PermissionDeniedError(ROLE_REQUEST, details={"guard": "role"})
    person = _person(person_id)
    period = _writable_period(period_id)
    value = _money(amount, currency)
    if not value:
        raise _invalid("amount", AMOUNT_ZERO, "amount_zero")
    corrects = None
    if corrects_id is not None:
        corrects = LedgerEntry.objects.filter(pk=corrects_id).first()
        if corrects is None:
            raise NotFoundError("Ledger entry not found.")
        if corrects.person_id != person.pk:
            raise _invalid("corrects", CORRECTS_OTHER_PERSON)
        if corrects.currency != currency:
            raise _invalid("currency", CORRECTS_CURRENCY.format(currency=corrects.currency))
        plan_id = plan_id or corrects.plan_id
        component_id = component_id or corrects.component_id
    adjustment = Adjustment(
        tenant=get_current_tenant(),
        person=person,
        period=period,
        amount=value,
        currency=currency,
        reason=_reason(reason),
        plan_id=plan_id,
        component_id=component_id[:100],
        corrects=corrects,
        requested_by_id=principal.user_id,
        requested_at=timezone.now(),
    )
    adjustment.full_clean()
    adjustment.save()
    if audit:
        audit_record(action="adjustment.request", obj=adjustment, after=model_snapshot(adjustment))
    return adjustment


def _pending(adjustment_id: int, principal: Principal) -> Adjustment:
    adjustment: Adjustment | None = (
        Adjustment.objects.select_for_update().filter(pk=adjustment_id).first()
    )
    if adjustment is None:
        raise NotFoundError("Adjustment not found.")
    _require_decide(principal)
    if adjustment.status != AdjustmentStatus.PENDING:
        raise ConflictError(
            NOT_PENDING.format(status=adjustment.status),
            code="adjustment_decided",
            details={"guard": "pending", "status": adjustment.status},
        )
    if adjustment.requested_by_id is not None and adjustment.requested_by_id == principal.user_id:
        raise PermissionDeniedError(OWN_REQUEST, code="own_request", details={"guard": "four_eyes"})
    return adjustment


@transaction.atomic
def adjustment_approve(*, adjustment_id: int, principal: Principal, note: str = "") -> Adjustment:
    """Approve a pending adjustment: one ADJUSTMENT entry in its (still open) period."""
    adjustment = _pending(adjustment_id, principal)
    before = model_snapshot(adjustment)
    _writable_period(adjustment.period_id)
    entry = _entry(
        person_id=adjustment.person_id,
        period_id=adjustment.period_id,
        kind=EntryKind.ADJUSTMENT,
        amount=adjustment.amount,
        currency=adjustment.currency,
        plan_id=adjustment.plan_id,
        component_id=adjustment.component_id,
        corrects=adjustment.corrects,
        rate=adjustment.corrects.rate if adjustment.corrects else None,
        memo=adjustment.reason[:300],
        created_by_id=principal.user_id,
    )
    entry.save()
    adjustment.status = AdjustmentStatus.APPROVED
    adjustment.approver_id = principal.user_id
    adjustment.decided_at = timezone.now()
    adjustment.decision_note = (note or "").strip()[:500]
    adjustment.entry = entry
    adjustment.save()
    audit_record(
        action="adjustment.approve", obj=adjustment, before=before, after=model_snapshot(adjustment)
    )
    return adjustment


@transaction.atomic
def adjustment_reject(*, adjustment_id: int, principal: Principal, note: str) -> Adjustment:
    """Reject a pending adjustment (with a note saying why); nothing reaches the ledger."""
    adjustment = _pending(adjustment_id, principal)
    before = model_snapshot(adjustment)
    adjustment.status = AdjustmentStatus.REJECTED
    adjustment.approver_id = principal.user_id
    adjustment.decided_at = timezone.now()
    adjustment.decision_note = _reason(note)
    adjustment.save()
    audit_record(
        action="adjustment.reject", obj=adjustment, before=before, after=model_snapshot(adjustment)
    )
    return adjustment


# --- draws --------------------------------------------------------------------------------------


@transaction.atomic
def draw_grant(
    *,
    principal: Principal,
    person_id: int,
    period_id: int,
    amount: Any,
    currency: str,
    recoverable: bool,
    reason: str,
) -> Draw:
    """Pay a person an advance in an open period: one DRAW entry (recoverable or not)."""
    _require_decide(principal)
    person = _person(person_id)
    period = _writable_period(period_id)
    value = _money(amount, currency)
    if value <= 0:
        raise _invalid("amount", DRAW_POSITIVE, "draw_not_positive")
    why = _reason(reason)
    entry = _entry(
        person=person,
        period=period,
        kind=EntryKind.DRAW,
        amount=value,
        currency=currency,
        recoverable=recoverable,
        memo=why[:300],
        created_by_id=principal.user_id,
    )
    entry.save()
    draw = Draw(
        tenant=get_current_tenant(),
        person=person,
        period=period,
        amount=value,
        currency=currency,
        recoverable=recoverable,
        reason=why,
        created_by_id=principal.user_id,
        created_at=timezone.now(),
        entry=entry,
    )
    draw.full_clean()
    draw.save()
    audit_record(action="draw.grant", obj=draw, after=model_snapshot(draw))
    return draw


def draw_balances(
    *,
    period_id: int,
    person_ids: Iterable[int] | None = None,
    known_at: datetime | None = None,
) -> dict[str, Decimal]:
    """Return each person's recoverable draw balance carried into ``period_id``.

    The balance is every recoverable DRAW entry minus every DRAW_RECOVERY entry (stored
    negative) in periods that start before this one, reversals included; keys are
    ``str(Person.pk)`` (the engine's person id), only non-zero balances. This is what
    ``Inputs.draw_balances`` takes. ``known_at``: the ledger as it stood then (a replay).

    Signs: a DRAW entry is the positive advance; a DRAW_RECOVERY entry is negative (the engine
    writes its ``draw_recovery`` lines negative, and approval enters lines as they are), so the
    balance is their plain sum over recoverable draws and all recoveries.
    """
    period = Period.objects.filter(pk=period_id).first()
    if period is None:
        raise NotFoundError("Period not found.")
    entries = LedgerEntry.objects.filter(period__start__lt=period.start).filter(
        Q(kind=EntryKind.DRAW, recoverable=True) | Q(kind=EntryKind.DRAW_RECOVERY)
    )
    if person_ids is not None:
        entries = entries.filter(person_id__in=list(person_ids))
    if known_at is not None:
        entries = entries.filter(created_at__lte=known_at)
    totals = entries.values("person_id").annotate(total=Sum("amount"))
    places = Decimal(1).scaleb(-MONEY_PLACES)
    return {str(r["person_id"]): Decimal(r["total"]).quantize(places) for r in totals if r["total"]}


# --- holds --------------------------------------------------------------------------------------


@transaction.atomic
def hold_place(
    *,
    principal: Principal,
    person_id: int,
    reason: str,
    line_id: int | None = None,
    period_id: int | None = None,
) -> Hold:
    """Hold a person's payout (or one line's) from the periods approved while it is active."""
    _require_decide(principal)
    person = _person(person_id)
    line = None
    if line_id is not None:
        line = PayoutLine.objects.filter(pk=line_id).first()
        if line is None:
            raise NotFoundError("Payout line not found.")
        if line.person_id != person.pk:
            raise _invalid("line", HOLD_LINE_PERSON)
        period_id = period_id or line.period_id
    period = None
    if period_id is not None:
        period = _writable_period(period_id)
    hold = Hold(
        tenant=get_current_tenant(),
        person=person,
        line=line,
        period=period,
        reason=_reason(reason),
        placed_by_id=principal.user_id,
        placed_at=timezone.now(),
    )
    hold.full_clean()
    hold.save()
    audit_record(action="hold.place", obj=hold, after=model_snapshot(hold))
    return hold


@transaction.atomic
def hold_release(
    *, principal: Principal, hold_id: int, period_id: int | None = None, note: str = ""
) -> Hold:
    """Release a hold: a RELEASE entry for each amount it held, in a period not yet approved.

    ``period_id`` names that period; by default the earliest open-to-review period of the held
    entries' kind that starts no earlier than the last one held."""
    hold: Hold | None = Hold.objects.select_for_update().filter(pk=hold_id).first()
    if hold is None:
        raise NotFoundError("Hold not found.")
    _require_decide(principal)
    if hold.status != HoldStatus.ACTIVE:
        raise ConflictError(HOLD_NOT_ACTIVE, code="hold_released", details={"guard": "active"})
    before = model_snapshot(hold)
    held = [
        e
        for e in LedgerEntry.objects.filter(hold=hold, kind=EntryKind.HOLD, corrects__isnull=True)
        .select_related("period")
        .order_by("pk")
        if not e.corrections.exists()
    ]
    target = None
    if held:
        if period_id is None:
            last = max(e.period for e in held)
            candidate = (
                Period.objects.filter(
                    kind=last.kind, start__gte=last.start, status__in=sorted(WRITABLE)
                )
                .order_by("start")
                .first()
            )
            period_id = candidate.pk if candidate else last.pk
        target = _writable_period(period_id)
    rows = [
        _entry(
            person_id=e.person_id,
            period=target,
            kind=EntryKind.RELEASE,
            amount=-e.amount,
            currency=e.currency,
            plan_id=e.plan_id,
            component_id=e.component_id,
            corrects=e,
            hold=hold,
            memo=f"Released: {note or hold.reason}"[:300],
            created_by_id=principal.user_id,
        )
        for e in held
    ]
    LedgerEntry.objects.bulk_create(rows)
    hold.status = HoldStatus.RELEASED
    hold.released_by_id = principal.user_id
    hold.released_at = timezone.now()
    hold.release_note = (note or "").strip()[:500]
    hold.save()
    after = {**model_snapshot(hold), "released_entries": len(rows)}
    audit_record(action="hold.release", obj=hold, before=before, after=after)
    return hold


# --- clawbacks ----------------------------------------------------------------------------------


@transaction.atomic
def clawback_record(
    *, principal: Principal, entry_id: int, period_id: int, reversed_amount: Any, reason: str
) -> LedgerEntry:
    """Claw back, in an open period, ``reversed_amount`` times the original earned entry's rate."""
    _require_decide(principal)
    original: LedgerEntry | None = LedgerEntry.objects.filter(pk=entry_id).first()
    if original is None:
        raise NotFoundError("Ledger entry not found.")
    if original.kind != EntryKind.EARNED:
        raise _invalid("entry", CLAWBACK_KIND)
    if original.rate is None:
        raise ConflictError(NO_RATE, code="no_rate", details={"guard": "rate"})
    period = _writable_period(period_id)
    base = _money(reversed_amount, original.currency, field="reversed_amount")
    if base <= 0:
        raise _invalid("reversed_amount", BASE_POSITIVE)
    places = Decimal(1).scaleb(-exponent(original.currency))
    claw = (base * original.rate).quantize(places)
    entry = _entry(
        person_id=original.person_id,
        period=period,
        kind=EntryKind.CLAWBACK,
        amount=-claw,
        currency=original.currency,
        plan_id=original.plan_id,
        component_id=original.component_id,
        corrects=original,
        rate=original.rate,
        memo=_reason(reason)[:300],
        created_by_id=principal.user_id,
    )
    entry.save()
    audit_record(action="ledger.clawback", obj=entry, after=model_snapshot(entry))
    return entry


def original_rates(*, person_id: int, plan_id: int, component_id: str) -> QuerySet[LedgerEntry]:
    """Return the earned entries (with ``rate``) a reversal of this key could claw back, newest
    period first: the rate each line paid at, as the ledger holds it."""
    return (
        LedgerEntry.objects.filter(
            person_id=person_id,
            plan_id=plan_id,
            component_id=component_id,
            kind=EntryKind.EARNED,
            corrects__isnull=True,
            rate__isnull=False,
        )
        .select_related("period")
        .order_by("-period__start", "-pk")
    )


# --- reads --------------------------------------------------------------------------------------


def entry_list(
    *, period_id: int | None = None, person_ids: QuerySet[Any] | None = None
) -> QuerySet[LedgerEntry]:
    """Return ledger entries (optionally of one period, of some people), oldest first."""
    entries = LedgerEntry.objects.all().order_by("period__start", "person_id", "created_at", "pk")
    if period_id is not None:
        entries = entries.filter(period_id=period_id)
    if person_ids is not None:
        entries = entries.filter(person_id__in=person_ids)
    return entries


def balance_by_person(*, period_id: int) -> dict[tuple[int, str], Decimal]:
    """Return each (person, currency)'s sum of the period's entries."""
    rows = (
        LedgerEntry.objects.filter(period_id=period_id)
        .values("person_id", "currency")
        .annotate(total=Sum("amount"))
    )
    return {(r["person_id"], r["currency"]): r["total"] for r in rows}
