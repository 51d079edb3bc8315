"""Disputes: a payee's question about one number, attached to the exact step that produced it.

A payee (or their manager on their behalf) raises a question on a statement line, one step of a
line's trace, a credit, or a transaction that is missing. It is **routed** by its reason code:
credit and missing-deal questions go to the payee's manager *as of the period* (the reporting
hierarchy's manager chain on the period's last day, ``hierarchy.org_selectors.manager_chain``),
rate / plan / quota questions to the comp admins' queue; a manager without a sign-in sends it to
the comp admins too. It carries an SLA due day (the tenant's business days, default 5).

It ends **resolved** (with a resolution text and either an adjustment, requested through the
ledger's own :func:`payouts.ledger.adjustment_request` so it goes through the adjustments'
four-eyes approval and lands in the payee's next statement, or a data-correction note),
**rejected** with a reason, or **withdrawn** by the payee. Comments and the history
(:class:`~payouts.models.DisputeEvent`) are append-only; every mutating service writes exactly
one audit event (resolving with an adjustment records the adjustment request's facts inside
``dispute.resolve``'s ``after`` as ``adjustment_request``, not as an event of its own).

Who sees what (:func:`dispute_visible`): ``payouts.view`` everyone's (a node-scoped member those
of their people), a manager those of the people in the nodes she managed during each dispute's
period (as the structure stood then) and those assigned to her, a payee her own. Not yours and
not found are the same 404.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from core.audit import Actor, acting_as, audit_record, current_actor
from core.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationFailedError
from core.models import Membership, Role, Tenant, model_snapshot
from core.permissions import Principal, principal_for_membership
from core.tenancy import get_current_tenant
from hierarchy import org_selectors
from hierarchy.access import Access, access_for
from hierarchy.models import Period, Person
from hierarchy.periods import tenant_today
from incentives.models import Credit
from payouts import ledger
from payouts.models import (
    Adjustment,
    Dispute,
    DisputeComment,
    DisputeEvent,
    DisputeQueue,
    DisputeSettings,
    DisputeStatus,
    DisputeSubject,
    LineContribution,
    PayoutLine,
)
from payouts.policy import WRITABLE, may_approve

DEFAULT_SLA_BUSINESS_DAYS = 5
DEFAULT_REASONS: tuple[dict[str, str], ...] = (
    {"code": "credit_split", "label": "Wrong credit split", "route": DisputeQueue.MANAGER},
    {"code": "missing_deal", "label": "Missing deal", "route": DisputeQueue.MANAGER},
    {"code": "rate_tier", "label": "Wrong rate or tier", "route": DisputeQueue.COMP_ADMIN},
    {"code": "quota", "label": "Wrong quota", "route": DisputeQueue.COMP_ADMIN},
    {"code": "plan", "label": "Wrong plan", "route": DisputeQueue.COMP_ADMIN},
    {"code": "other", "label": "Other", "route": DisputeQueue.COMP_ADMIN},
)
ACTIVE = frozenset({DisputeStatus.OPEN, DisputeStatus.IN_REVIEW})
DESCRIPTION_LIMIT = 5000

NOT_FOUND = "Question not found."
LINE_NOT_FOUND = "Payout line not found."
CREDIT_NOT_FOUND = "Credit not found."
PERIOD_NOT_FOUND = "Period not found."
UNKNOWN_SUBJECT = "Say what the question is about: line, step, credit or missing."
UNKNOWN_REASON = "Pick one of the reasons offered."
DESCRIPTION_REQUIRED = "Say what looks wrong."
STEP_OUT_OF_RANGE = "That line's calculation has no step {index}."
MISSING_WHAT = "Name the missing transaction: its id or a few words about it."
MISSING_CURRENCY = "Give the currency of the amount."
NOT_ACTIVE = "The question is already {status}."
ROLE_DECIDE = "Only the assignee, a comp admin or finance answers this question."
ROLE_ASSIGN = "Only a comp admin, finance or the current assignee reassigns a question."
ROLE_WITHDRAW = "Only the person who asked (or whose pay it is) withdraws a question."
ROLE_SETTINGS = "Only comp admins change the dispute settings."
RESOLUTION_REQUIRED = "Say how it was resolved."
REJECT_REASON_REQUIRED = "Say why the question is rejected."
COMMENT_REQUIRED = "Write a comment."
UNKNOWN_ASSIGNEE = "That person is not a member who can answer questions here."
NO_PERIOD_FOR_ADJUSTMENT = "No period is open for the adjustment: give one that is."
SLA_RANGE = "The SLA is between 1 and 60 business days."
REASONS_REQUIRED = "Keep at least one reason."
BAD_REASON_LINE = "Reason {n}: give a code (letters, digits, _), a label and a route."


# --- the tenant's policy ------------------------------------------------------------------------


@dataclass(frozen=True)
class Reason:
    code: str
    label: str
    route: str


@dataclass(frozen=True)
class Policy:
    sla_business_days: int
    reasons: tuple[Reason, ...]

    def reason(self, code: str) -> Reason | None:
        return next((r for r in self.reasons if r.code == code), None)


def _reasons(rows: Any) -> tuple[Reason, ...]:
    out = []
    for row in rows or ():
        if isinstance(row, dict) and row.get("code") and row.get("label"):
            route = row.get("route")
            out.append(
                Reason(
                    code=str(row["code"]),
                    label=str(row["label"]),
                    route=route if route in DisputeQueue.values else DisputeQueue.COMP_ADMIN,
                )
            )
    return tuple(out)


def dispute_policy() -> Policy:
    """Return the current tenant's SLA and reasons (the defaults until a comp admin sets them)."""
    row = DisputeSettings.objects.first()
    if row is None:
        return Policy(DEFAULT_SLA_BUSINESS_DAYS, _reasons(DEFAULT_REASONS))
    return Policy(row.sla_business_days, _reasons(row.reasons) or _reasons(DEFAULT_REASONS))


def _invalid(field: str, message: str, code: str = "validation_failed") -> ValidationFailedError:
    return ValidationFailedError(message, code=code, details={field: [message]})


@transaction.atomic
def dispute_settings_update(
    *, principal: Principal, sla_business_days: int, reasons: list[dict[str, str]]
) -> DisputeSettings:
    """Set the tenant's SLA (business days) and the reasons offered, each with its route."""
    if not principal.has("payouts.calculate"):
        raise PermissionDeniedError(ROLE_SETTINGS, details={"guard": "role"})
    if not 1 <= int(sla_business_days) <= 60:
        raise _invalid("sla_business_days", SLA_RANGE)
    clean: list[dict[str, str]] = []
    seen: set[str] = set()
    for n, given in enumerate(reasons, start=1):
        code = str(given.get("code", "")).strip()
        label = str(given.get("label", "")).strip()
        route = str(given.get("route", "")).strip()
        if (
            not code
            or len(code) > 40
            or not code.replace("_", "").isalnum()
            or not code.isascii()
            or not label
            or route not in DisputeQueue.values
            or code in seen
        ):
            raise _invalid("reasons", BAD_REASON_LINE.format(n=n))
        seen.add(code)
        clean.append({"code": code, "label": label[:200], "route": route})
    if not clean:
        raise _invalid("reasons", REASONS_REQUIRED)
    found: DisputeSettings | None = DisputeSettings.objects.select_for_update().first()
    before = model_snapshot(found) if found is not None else None
    row = found if found is not None else DisputeSettings(tenant=get_current_tenant())
    row.sla_business_days = int(sla_business_days)
    row.reasons = clean
    row.updated_at = timezone.now()
    row.full_clean()
    row.save()
    audit_record(
        action="dispute_settings.update", obj=row, before=before, after=model_snapshot(row)
    )
    return row


# --- time ---------------------------------------------------------------------------------------


def add_business_days(day: dt.date, days: int) -> dt.date:
    """Return the day ``days`` business days (Monday to Friday) after ``day``."""
    out = day
    while days > 0:
        out += dt.timedelta(days=1)
        if out.weekday() < 5:
            days -= 1
    return out


def business_days_between(start: dt.date, end: dt.date) -> int:
    """Return the business days after ``start`` up to and including ``end`` (negative if
    ``end`` is earlier)."""
    if end < start:
        return -business_days_between(end, start)
    count, day = 0, start
    while day < end:
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            count += 1
    return count


@dataclass(frozen=True)
class Age:
    """How long a question has waited, against its SLA."""

    days: int  # calendar days since it was raised
    business_days_left: int  # until sla_due (negative: overdue by)
    overdue: bool

    @property
    def overdue_by(self) -> int:
        """Business days past the SLA day (0 when not overdue)."""
        return max(-self.business_days_left, 0)


def dispute_age(dispute: Dispute, *, today: dt.date | None = None) -> Age:
    """Return a question's age and where it stands against its SLA (finished ones never overdue)."""
    today = today or tenant_today(get_current_tenant())
    end = today
    if dispute.status not in ACTIVE and dispute.decided_at is not None:
        end = dispute.decided_at.date()
    raised = dispute.raised_at.date()
    left = business_days_between(end, dispute.sla_due)
    return Age(
        days=max((end - raised).days, 0),
        business_days_left=left,
        overdue=dispute.status in ACTIVE and today > dispute.sla_due,
    )


# --- who may do what ----------------------------------------------------------------------------


def is_dispute_admin(principal: Principal) -> bool:
    """Return whether the principal answers every question (comp admins, finance)."""
    return principal.has("payouts.calculate") or may_approve(principal)


def dispute_visible(access: Access) -> QuerySet[Dispute]:
    """Return the questions the principal may read."""
    principal = access.principal
    rows = Dispute.objects.all()
    if principal.has("payouts.view"):
        if access.node_limited:
            return rows.filter(person__in=access.current_people().values("pk"))
        return rows
    if principal.user_id is None or not principal.has("payouts.view.team", "payouts.view.self"):
        return rows.none()
    visible = (
        Q(person__user_id=principal.user_id)
        | Q(raised_by_id=principal.user_id)
        | Q(assignee_id=principal.user_id)
    )
    if principal.has("payouts.view.team"):
        periods = Period.objects.filter(pk__in=rows.values("period_id")).order_by("start")
        for period in periods:
            team = access.payees(start=period.start, end=period.end)
            visible |= Q(period_id=period.pk, person__in=team.values("pk"))
    return rows.filter(visible)


def dispute_get(*, access: Access, dispute_id: int) -> Dispute:
    """Return a question the principal may read, or raise NotFoundError."""
    found: Dispute | None = (
        dispute_visible(access)
        .select_related(
            "person",
            "period",
            "line",
            "line__plan",
            "raised_by",
            "assignee",
            "assignee_person",
            "adjustment",
        )
        .filter(pk=dispute_id)
        .first()
    )
    if found is None:
        raise NotFoundError(NOT_FOUND)
    return found


def may_answer(principal: Principal, dispute: Dispute) -> bool:
    return is_dispute_admin(principal) or (
        principal.user_id is not None and dispute.assignee_id == principal.user_id
    )


def is_asker(principal: Principal, dispute: Dispute) -> bool:
    uid = principal.user_id
    return uid is not None and (dispute.raised_by_id == uid or dispute.person.user_id == uid)


# --- routing ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    queue: str
    assignee_user_id: int | None
    assignee_person: Person | None


def route_for(*, person: Person, period: Period, route: str) -> Route:
    """Return where a question goes: the payee's nearest manager with a sign-in as of the
    period's last day (then its first) for manager routes, else the comp admins' queue."""
    if route == DisputeQueue.MANAGER:
        for day in (period.end - dt.timedelta(days=1), period.start):
            for link in org_selectors.manager_chain(person=person, as_of=day):
                if link.person.user_id is not None:
                    return Route(DisputeQueue.MANAGER, link.person.user_id, link.person)
    return Route(DisputeQueue.COMP_ADMIN, None, None)


# --- writes -------------------------------------------------------------------------------------


def _event(dispute: Dispute, kind: str, note: str = "") -> DisputeEvent:
    actor = current_actor()
    event: DisputeEvent = DisputeEvent.objects.create(
        dispute=dispute,
        kind=kind,
        actor_id=actor.user_id,
        actor_label=actor.label[:200],
        status=dispute.status,
        note=note[:5000],
        created_at=timezone.now(),
    )
    return event


def _snapshot(dispute: Dispute) -> dict[str, Any]:
    return model_snapshot(
        dispute,
        [
            "number",
            "person",
            "period",
            "subject_kind",
            "line",
            "trace_step",
            "credit",
            "missing_external_id",
            "reason_code",
            "queue",
            "assignee",
            "status",
            "sla_due",
            "resolution",
            "data_correction",
            "adjustment",
        ],
    )


def _locked(access: Access, dispute_id: int) -> Dispute:
    dispute_get(access=access, dispute_id=dispute_id)  # 404 unless visible
    locked: Dispute = (
        Dispute.objects.select_for_update(of=("self",)).select_related("person").get(pk=dispute_id)
    )
    return locked


def _require_active(dispute: Dispute) -> None:
    if dispute.status not in ACTIVE:
        raise ConflictError(
            NOT_ACTIVE.format(status=dispute.get_status_display().lower()),
            code="dispute_finished",
            details={"guard": "status", "status": dispute.status},
        )


@dataclass(frozen=True)
class Subject:
    """What a question is about, as the raise service was given it (ids, not objects)."""

    kind: str
    line_id: int | None = None
    trace_step: int | None = None
    credit_id: int | None = None
    period_id: int | None = None
    person_id: int | None = None
    missing_external_id: str = ""
    missing_description: str = ""
    missing_amount: Decimal | None = None
    missing_currency: str = ""
    missing_date: dt.date | None = None


def subject_line_get(access: Access, line_id: int | None) -> PayoutLine:
    line: PayoutLine | None = (
        PayoutLine.objects.select_related("period", "person").filter(pk=line_id or 0).first()
        if line_id is not None
        else None
    )
    if line is None:
        raise NotFoundError(LINE_NOT_FOUND)
    try:
        access.payee_get(person_id=line.person_id, start=line.period.start, end=line.period.end)
    except NotFoundError:
        raise NotFoundError(LINE_NOT_FOUND) from None
    return line


def subject_credit_get(access: Access, credit_id: int | None) -> Credit:
    rows = Credit.objects.filter(pk=credit_id or 0)
    credit: Credit | None = (
        access.rows_about_own_earnings(rows, day="credit_date")
        .select_related("person", "period", "transaction")
        .first()
    )
    if credit is None:
        raise NotFoundError(CREDIT_NOT_FOUND)
    return credit


def _period_paying(credit: Credit) -> Period | None:
    """Return the period of the latest payout line the credit contributed to (a quarter's
    commission pays a credit dated in one of its months), if any."""
    row = (
        LineContribution.objects.filter(credit_id=credit.pk)
        .select_related("line__period")
        .order_by("-id")
        .first()
    )
    return row.line.period if row is not None else None


def _period_of_day(day: dt.date) -> Period | None:
    period: Period | None = (
        Period.objects.filter(start__lte=day, end__gt=day).order_by("end", "start").first()
    )
    return period


@transaction.atomic
def dispute_raise(
    *, access: Access, subject: Subject, reason_code: str, description: str
) -> Dispute:
    """Raise a question on a line, a trace step, a credit or a missing transaction; route it
    and set its SLA. A payee raises only on her own pay (anything else is a 404)."""
    principal = access.principal
    policy = dispute_policy()
    reason = policy.reason(reason_code)
    if reason is None:
        raise _invalid("reason_code", UNKNOWN_REASON, "unknown_reason")
    text = (description or "").strip()
    if not text:
        raise _invalid("description", DESCRIPTION_REQUIRED, "description_required")
    fields: dict[str, Any] = {"subject_kind": subject.kind}
    if subject.kind in (DisputeSubject.LINE, DisputeSubject.STEP):
        line = subject_line_get(access, subject.line_id)
        person, period = line.person, line.period
        fields["line"] = line
        if subject.kind == DisputeSubject.STEP:
            steps = line.trace if isinstance(line.trace, list) else []
            index = subject.trace_step
            if index is None or not 0 <= index < len(steps):
                raise _invalid("trace_step", STEP_OUT_OF_RANGE.format(index=index))
            fields["trace_step"] = index
            fields["trace_step_snapshot"] = steps[index]
    elif subject.kind == DisputeSubject.CREDIT:
        credit = subject_credit_get(access, subject.credit_id)
        person = credit.person
        found = _period_paying(credit) or credit.period or _period_of_day(credit.credit_date)
        if found is None:
            raise NotFoundError(PERIOD_NOT_FOUND)
        period = found
        fields["credit_id"] = credit.pk
    elif subject.kind == DisputeSubject.MISSING:
        chosen: Period | None = Period.objects.filter(pk=subject.period_id or 0).first()
        if chosen is None and subject.missing_date is not None:
            chosen = _period_of_day(subject.missing_date)
        if chosen is None:
            raise _invalid("period", PERIOD_NOT_FOUND, "unknown_period")
        period = chosen
        me = org_selectors.person_for_user(user_id=principal.user_id or 0)
        person_id = subject.person_id or (me.pk if me else None)
        if person_id is None:
            raise NotFoundError("Person not found.")
        person = access.payee_get(person_id=person_id, start=period.start, end=period.end)
        ext = subject.missing_external_id.strip()[:200]
        what = subject.missing_description.strip()[:500]
        if not ext and not what:
            raise _invalid("missing_external_id", MISSING_WHAT)
        amount, currency = subject.missing_amount, subject.missing_currency.strip().upper()
        if amount is not None:
            currency = currency or get_current_tenant().default_currency
            amount = ledger._money(amount, currency, field="missing_amount")
        fields.update(
            missing_external_id=ext,
            missing_description=what,
            missing_amount=amount,
            missing_currency=currency if amount is not None else "",
            missing_date=subject.missing_date,
        )
    else:
        raise _invalid("subject_kind", UNKNOWN_SUBJECT)
    tenant = get_current_tenant()
    Tenant.objects.select_for_update().filter(pk=tenant.pk).first()  # numbering, one at a time
    number = Dispute.objects.order_by("-number").values_list("number", flat=True).first() or 0
    route = route_for(person=person, period=period, route=reason.route)
    now = timezone.now()
    actor = current_actor()
    dispute = Dispute(
        tenant=tenant,
        number=number + 1,
        person=person,
        period=period,
        raised_by_id=principal.user_id,
        raised_by_label=actor.label[:200],
        reason_code=reason.code,
        reason_label=reason.label,
        description=text[:DESCRIPTION_LIMIT],
        queue=route.queue,
        assignee_id=route.assignee_user_id,
        assignee_person=route.assignee_person,
        raised_at=now,
        sla_due=add_business_days(tenant_today(tenant), policy.sla_business_days),
        updated_at=now,
        **fields,
    )
    dispute.full_clean(exclude=["credit"])
    dispute.save()
    _event(dispute, "raised", text)
    audit_record(action="dispute.raise", obj=dispute, after=_snapshot(dispute))
    return dispute


@transaction.atomic
def dispute_comment(*, access: Access, dispute_id: int, body: str) -> DisputeComment:
    """Add a comment; an answer from someone other than the payee puts an open question in
    review."""
    dispute = _locked(access, dispute_id)
    _require_active(dispute)
    text = (body or "").strip()
    if not text:
        raise _invalid("body", COMMENT_REQUIRED, "comment_required")
    actor = current_actor()
    comment: DisputeComment = DisputeComment.objects.create(
        dispute=dispute,
        author_id=actor.user_id,
        author_label=actor.label[:200],
        body=text[:DESCRIPTION_LIMIT],
        created_at=timezone.now(),
    )
    if dispute.status == DisputeStatus.OPEN and not is_asker(access.principal, dispute):
        dispute.status = DisputeStatus.IN_REVIEW
    dispute.updated_at = comment.created_at
    dispute.save(update_fields=["status", "updated_at"])
    _event(dispute, "commented", text)
    audit_record(
        action="dispute.comment",
        obj=dispute,
        after={"comment": comment.pk, "status": dispute.status, "body": text[:500]},
    )
    return comment


def _member_user(user_id: int) -> Membership:
    membership: Membership | None = (
        Membership.objects.filter(user_id=user_id, tenant=get_current_tenant(), is_active=True)
        .select_related("user")
        .first()
    )
    if membership is None:
        raise _invalid("assignee", UNKNOWN_ASSIGNEE, "unknown_assignee")
    granted = principal_for_membership(membership)
    if not (is_dispute_admin(granted) or granted.has("payouts.view.team")):
        raise _invalid("assignee", UNKNOWN_ASSIGNEE, "unknown_assignee")
    return membership


@transaction.atomic
def dispute_assign(
    *, access: Access, dispute_id: int, assignee_user_id: int | None, note: str = ""
) -> Dispute:
    """Give a question to a member who answers questions (a manager, a comp admin, finance),
    or (``None``) back to the comp admins' queue; a named assignee puts it in review."""
    principal = access.principal
    dispute = _locked(access, dispute_id)
    _require_active(dispute)
    if not may_answer(principal, dispute):
        raise PermissionDeniedError(ROLE_ASSIGN, details={"guard": "role"})
    before = _snapshot(dispute)
    if assignee_user_id is None:
        dispute.queue, dispute.assignee_id, dispute.assignee_person = (
            DisputeQueue.COMP_ADMIN,
            None,
            None,
        )
    else:
        membership = _member_user(assignee_user_id)
        granted = principal_for_membership(membership)
        dispute.assignee_id = membership.user_id
        dispute.assignee_person = org_selectors.person_for_user(user_id=membership.user_id)
        dispute.queue = (
            DisputeQueue.COMP_ADMIN if is_dispute_admin(granted) else DisputeQueue.MANAGER
        )
        if dispute.status == DisputeStatus.OPEN:
            dispute.status = DisputeStatus.IN_REVIEW
    dispute.updated_at = timezone.now()
    dispute.save(update_fields=["queue", "assignee", "assignee_person", "status", "updated_at"])
    _event(dispute, "assigned", note)
    audit_record(action="dispute.assign", obj=dispute, before=before, after=_snapshot(dispute))
    return dispute


@dataclass(frozen=True)
class AdjustmentAsk:
    """The adjustment a resolution asks for (its period: the payee's next open one by default)."""

    amount: Any
    currency: str = ""
    period_id: int | None = None


def next_open_period(dispute: Dispute) -> Period | None:
    """Return the period whose statement an adjustment for ``dispute`` lands in: the earliest
    period of the same kind, from the dispute's own on, that still takes entries."""
    period: Period | None = (
        Period.objects.filter(
            kind=dispute.period.kind, start__gte=dispute.period.start, status__in=WRITABLE
        )
        .order_by("start")
        .first()
    )
    return period


def _finish(dispute: Dispute, status: str, principal: Principal) -> None:
    now = timezone.now()
    dispute.status = status
    dispute.decided_by_id = principal.user_id
    dispute.decided_at = now
    dispute.updated_at = now


@transaction.atomic
def dispute_resolve(
    *,
    access: Access,
    dispute_id: int,
    resolution: str,
    adjustment: AdjustmentAsk | None = None,
    data_correction: str = "",
) -> Dispute:
    """Resolve a question, optionally asking for an adjustment (through the ledger's
    ``adjustment_request``: someone else approves it, then it is in the payee's next
    statement), or noting the data correction made."""
    principal = access.principal
    dispute = _locked(access, dispute_id)
    _require_active(dispute)
    if not may_answer(principal, dispute):
        raise PermissionDeniedError(ROLE_DECIDE, details={"guard": "role"})
    text = (resolution or "").strip()
    if not text:
        raise _invalid("resolution", RESOLUTION_REQUIRED, "resolution_required")
    before = _snapshot(dispute)
    requested_facts: dict[str, Any] | None = None
    if adjustment is not None:
        period_id = adjustment.period_id
        if period_id is None:
            target = next_open_period(dispute)
            if target is None:
                raise _invalid("period", NO_PERIOD_FOR_ADJUSTMENT, "no_open_period")
            period_id = target.pk
        line = dispute.line
        currency = (adjustment.currency or "").strip().upper() or (
            line.currency if line is not None else get_current_tenant().default_currency
        )
        requested: Adjustment = ledger.adjustment_request(
            principal=principal,
            person_id=dispute.person_id,
            period_id=period_id,
            amount=adjustment.amount,
            currency=currency,
            reason=f"{dispute.ref}: {text}"[:500],
            plan_id=line.plan_id if line is not None else None,
            component_id=line.component_id if line is not None else "",
            audit=False,  # its facts are in this resolution's one audit event
        )
        dispute.adjustment = requested
        requested_facts = model_snapshot(requested)
    dispute.resolution = text[:DESCRIPTION_LIMIT]
    dispute.data_correction = (data_correction or "").strip()[:DESCRIPTION_LIMIT]
    _finish(dispute, DisputeStatus.RESOLVED, principal)
    dispute.save()
    _event(dispute, "resolved", text)
    after = _snapshot(dispute)
    if requested_facts is not None:
        after["adjustment_request"] = requested_facts
    audit_record(action="dispute.resolve", obj=dispute, before=before, after=after)
    return dispute


@transaction.atomic
def dispute_reject(*, access: Access, dispute_id: int, reason: str) -> Dispute:
    """Reject a question, saying why."""
    principal = access.principal
    dispute = _locked(access, dispute_id)
    _require_active(dispute)
    if not may_answer(principal, dispute):
        raise PermissionDeniedError(ROLE_DECIDE, details={"guard": "role"})
    text = (reason or "").strip()
    if not text:
        raise _invalid("reason", REJECT_REASON_REQUIRED, "reason_required")
    before = _snapshot(dispute)
    dispute.resolution = text[:DESCRIPTION_LIMIT]
    _finish(dispute, DisputeStatus.REJECTED, principal)
    dispute.save()
    _event(dispute, "rejected", text)
    audit_record(action="dispute.reject", obj=dispute, before=before, after=_snapshot(dispute))
    return dispute


@transaction.atomic
def dispute_withdraw(*, access: Access, dispute_id: int, note: str = "") -> Dispute:
    """Withdraw a question (the payee, or whoever raised it)."""
    principal = access.principal
    dispute = _locked(access, dispute_id)
    _require_active(dispute)
    if not is_asker(principal, dispute):
        raise PermissionDeniedError(ROLE_WITHDRAW, details={"guard": "role"})
    before = _snapshot(dispute)
    _finish(dispute, DisputeStatus.WITHDRAWN, principal)
    dispute.save()
    _event(dispute, "withdrawn", note)
    audit_record(action="dispute.withdraw", obj=dispute, before=before, after=_snapshot(dispute))
    return dispute


# --- reads --------------------------------------------------------------------------------------


def dispute_list(
    *,
    access: Access,
    status: str | None = None,
    period_id: int | None = None,
    person_id: int | None = None,
    queue: str | None = None,
    assigned_to_me: bool = False,
    raised_by_me: bool = False,
    overdue: bool | None = None,
    today: dt.date | None = None,
) -> QuerySet[Dispute]:
    """Return the questions the principal may read, filtered; oldest due first."""
    rows = dispute_visible(access)
    if status == "active":
        rows = rows.filter(status__in=ACTIVE)
    elif status:
        rows = rows.filter(status=status)
    if period_id is not None:
        rows = rows.filter(period_id=period_id)
    if person_id is not None:
        rows = rows.filter(person_id=person_id)
    if queue:
        rows = rows.filter(queue=queue)
    uid = access.principal.user_id or 0
    if assigned_to_me:
        rows = rows.filter(assignee_id=uid)
    if raised_by_me:
        rows = rows.filter(Q(raised_by_id=uid) | Q(person__user_id=uid))
    if overdue is not None:
        day = today or tenant_today(get_current_tenant())
        late = Q(status__in=ACTIVE, sla_due__lt=day)
        rows = rows.filter(late) if overdue else rows.exclude(late)
    return rows.select_related("person", "period", "assignee", "line").order_by(
        "sla_due", "raised_at", "id"
    )


def waiting_for(access: Access) -> QuerySet[Dispute]:
    """Return the active questions waiting for the principal: assigned to her, and (comp admins,
    finance) the comp admins' unassigned queue."""
    principal = access.principal
    uid = principal.user_id or 0
    mine = Q(assignee_id=uid)
    if is_dispute_admin(principal):
        mine |= Q(queue=DisputeQueue.COMP_ADMIN, assignee__isnull=True)
    return dispute_visible(access).filter(mine, status__in=ACTIVE)


def my_questions(access: Access) -> QuerySet[Dispute]:
    """Return the questions about the principal's own pay (or that she raised), newest first."""
    uid = access.principal.user_id or 0
    return (
        dispute_visible(access)
        .filter(Q(person__user_id=uid) | Q(raised_by_id=uid))
        .select_related("period", "line")
        .order_by("-raised_at", "-id")
    )


def disputes_by_line(access: Access, line_ids: list[int]) -> dict[int, list[Dispute]]:
    """Return the questions the principal may read on each of ``line_ids`` (for statements)."""
    out: dict[int, list[Dispute]] = {}
    if not line_ids:
        return out
    for row in dispute_visible(access).filter(line_id__in=line_ids).order_by("raised_at", "id"):
        out.setdefault(row.line_id or 0, []).append(row)
    return out


def disputes_by_adjustment_entry(access: Access, entry_ids: list[int]) -> dict[int, Dispute]:
    """Return, per ledger entry an approved adjustment wrote, the question (the principal may
    read) that asked for it."""
    if not entry_ids:
        return {}
    rows = (
        dispute_visible(access)
        .filter(adjustment__entry_id__in=entry_ids)
        .select_related("adjustment")
    )
    return {d.adjustment.entry_id: d for d in rows if d.adjustment and d.adjustment.entry_id}


def assignable_members() -> list[Membership]:
    """Return the active members a question can be given to (managers, comp admins, finance)."""
    wanted = {Role.MANAGER, Role.COMP_ADMIN, Role.FINANCE, Role.TENANT_ADMIN}
    rows = Membership.objects.filter(tenant=get_current_tenant(), is_active=True).select_related(
        "user"
    )
    return sorted(
        (m for m in rows if wanted & set(m.roles)),
        key=lambda m: (m.full_name or m.user.email).lower(),
    )


# --- the demo -----------------------------------------------------------------------------------

DEMO_ACTOR_LABEL = "disputes demo seed"


def demo_disputes(tenant: Tenant) -> int:
    """Raise a few questions in the demo (once): the demo employee asks about a rate on one line
    and a credit split on a step of another, and about a missing deal; her manager answers one.
    Returns how many were raised (0 when already seeded or nothing to ask about)."""
    from django.contrib.auth import get_user_model

    if Dispute.objects.exists():
        return 0
    user = get_user_model().objects.filter(email="employee@demo.quotient.dev").first()
    member = (
        Membership.objects.filter(user=user, tenant=tenant, is_active=True).first()
        if user
        else None
    )
    me = org_selectors.person_for_user(user_id=user.pk) if user else None
    if member is None or me is None:
        return 0
    lines = list(
        PayoutLine.objects.filter(person=me).select_related("period").order_by("-period__start")
    )
    if not lines:
        return 0
    access = access_for(principal_for_membership(member))
    latest = [x for x in lines if x.period_id == lines[0].period_id]
    raised = 0
    with acting_as(Actor(user_id=user.pk if user else None, label=DEMO_ACTOR_LABEL)):
        dispute_raise(
            access=access,
            subject=Subject(kind=DisputeSubject.LINE, line_id=latest[0].pk),
            reason_code="rate_tier",
            description="I passed 100 % of quota this quarter; I expected the accelerated rate.",
        )
        raised += 1
        stepped = next((x for x in latest if isinstance(x.trace, list) and x.trace), None)
        if stepped is not None:
            names = [s.get("name") if isinstance(s, dict) else None for s in stepped.trace]
            step = names.index("measure") if "measure" in names else 0  # what was credited
            dispute_raise(
                access=access,
                subject=Subject(kind=DisputeSubject.STEP, line_id=stepped.pk, trace_step=step),
                reason_code="credit_split",
                description="This counts only my half of a shared deal; we agreed a 70/30 split.",
            )
            raised += 1
        missing = dispute_raise(
            access=access,
            subject=Subject(
                kind=DisputeSubject.MISSING,
                period_id=lines[0].period_id,
                missing_external_id="OPP-20931",
                missing_description="Northwind expansion, signed on the last day of the quarter",
                missing_amount=Decimal("18500.00"),
                missing_currency=lines[0].currency,
                missing_date=lines[0].period.end - dt.timedelta(days=1),
            ),
            reason_code="missing_deal",
            description="This deal closed in the quarter but is not on my statement.",
        )
        raised += 1
    if missing.assignee_id is not None:
        manager = Membership.objects.filter(
            user_id=missing.assignee_id, tenant=tenant, is_active=True
        ).first()
        if manager is not None:
            with acting_as(Actor(user_id=missing.assignee_id, label=DEMO_ACTOR_LABEL)):
                dispute_comment(
                    access=access_for(principal_for_membership(manager)),
                    dispute_id=missing.pk,
                    body="Checking with sales ops: the CRM shows it booked on the 1st.",
                )
    return raised
