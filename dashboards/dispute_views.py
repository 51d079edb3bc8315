"""Dispute pages: "Question this" on a statement line, a trace step or a credit opens a raise form
prefilled with the subject; a payee's "My questions"; the inbox of managers, comp admins and
finance with age against the SLA (overdue highlighted) and filters; a question's page with its
subject (the line with its trace, the credit, the missing deal), comments, history and the
actions the viewer may take; the tenant's SLA and reasons (comp admins).

They call ``payouts/disputes.py`` (the same services and selectors as the API); a refused guard
is shown as a message; not yours and not found are the same 404.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from core.errors import ApplicationError, ValidationFailedError
from core.permissions import DISPUTE_WRITE
from core.tenancy import get_current_tenant
from dashboards.earnings_views import READ, require_any
from hierarchy import org_selectors
from hierarchy.access import Access, request_access
from hierarchy.models import Period
from hierarchy.periods import tenant_today
from incentives.models import Credit
from payouts import disputes, trace_words
from payouts.models import Dispute, DisputeQueue, DisputeStatus, DisputeSubject, PayoutLine
from plans.selectors import component_names

INBOX_LIMIT = 200
PERIOD_CHOICES = 24  # periods offered for a missing deal, newest first
BAD_AMOUNT = "Give the adjustment's amount as a number."
ACTIONS = ("comment", "assign", "resolve", "reject", "withdraw")
DONE = {
    "comment": "Comment added.",
    "assign": "Question reassigned.",
    "resolve": "Question resolved.",
    "reject": "Question rejected.",
    "withdraw": "Question withdrawn.",
}


def _int(value: Any) -> int | None:
    text = str(value or "")
    return int(text) if text.isdigit() and len(text) < 19 else None


def _date(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _decimal(value: Any) -> Decimal | None:
    text = str(value or "").strip().replace(",", "")
    if not text:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def _component(line: PayoutLine | None) -> str:
    """Return what a question's line's plan calls its component ("" without a line)."""
    return _components([line]).get(line.pk, "") if line is not None else ""


def _components(lines: Any) -> dict[int, str]:
    """Return each line's component by its plan version's name for it (one query)."""
    lines = [x for x in lines if x is not None]
    names = component_names(version_ids=[x.plan_version_id for x in lines])
    return {x.pk: names.get(x.component_id, version_id=x.plan_version_id) for x in lines}


def _rows(rows: Any) -> list[dict[str, Any]]:
    today = tenant_today(get_current_tenant())
    rows = list(rows)
    named = _components(d.line for d in rows)
    return [
        {"d": d, "age": disputes.dispute_age(d, today=today), "component": named.get(d.line_id)}
        for d in rows
    ]


# --- lists --------------------------------------------------------------------------------------


@require_any(*READ)
def my_questions(request: HttpRequest) -> HttpResponse:
    """The signed-in person's questions about her pay, with status and age."""
    access = request_access(request)
    rows = list(disputes.my_questions(access)[:INBOX_LIMIT])
    return render(
        request,
        "dashboards/disputes/mine.html",
        {"rows": _rows(rows), "active_nav": "my_questions"},
    )


STATUS_CHOICES = [("active", "Open or in review"), *DisputeStatus.choices, ("all", "Any status")]


@require_any(*READ)
def dispute_inbox(request: HttpRequest) -> HttpResponse:
    """Questions waiting for an answer (managers: their team's; comp admins, finance: all),
    oldest due first, overdue highlighted, with filters."""
    access = request_access(request)
    status = request.GET.get("status", "active")
    status = status if status in {v for v, _ in STATUS_CHOICES} else "active"
    queue = request.GET.get("queue", "")
    queue = queue if queue in DisputeQueue.values else ""
    period_id = _int(request.GET.get("period"))
    mine = request.GET.get("mine") == "1"
    overdue = request.GET.get("overdue") == "1"
    rows = disputes.dispute_list(
        access=access,
        status=None if status == "all" else status,
        period_id=period_id,
        queue=queue or None,
        assigned_to_me=mine,
        overdue=True if overdue else None,
    )
    total = rows.count()
    periods = Period.objects.filter(
        pk__in=disputes.dispute_visible(access).values("period_id")
    ).order_by("-start")
    return render(
        request,
        "dashboards/disputes/inbox.html",
        {
            "rows": _rows(rows[:INBOX_LIMIT]),
            "total": total,
            "limit": INBOX_LIMIT,
            "status": status,
            "statuses": STATUS_CHOICES,
            "queue": queue,
            "queues": DisputeQueue.choices,
            "period_id": period_id,
            "periods": periods,
            "mine": mine,
            "overdue": overdue,
            "waiting": disputes.waiting_for(access).count(),
            "active_nav": "disputes",
        },
    )


# --- raising ------------------------------------------------------------------------------------


def _subject_from(request: HttpRequest, data: Any) -> disputes.Subject:
    line_id = _int(data.get("line"))
    step = _int(data.get("step"))
    credit_id = _int(data.get("credit"))
    if line_id is not None:
        kind = DisputeSubject.STEP if step is not None else DisputeSubject.LINE
        return disputes.Subject(kind=kind, line_id=line_id, trace_step=step)
    if credit_id is not None:
        return disputes.Subject(kind=DisputeSubject.CREDIT, credit_id=credit_id)
    return disputes.Subject(
        kind=DisputeSubject.MISSING,
        period_id=_int(data.get("period")),
        person_id=_int(data.get("person")),
        missing_external_id=str(data.get("missing_external_id", "")),
        missing_description=str(data.get("missing_description", "")),
        missing_amount=_decimal(data.get("missing_amount")),
        missing_currency=str(data.get("missing_currency", "")),
        missing_date=_date(data.get("missing_date")),
    )


def _subject_context(access: Access, subject: disputes.Subject) -> dict[str, Any]:
    """Return what the raise form shows of its subject (404 when not the principal's)."""
    out: dict[str, Any] = {"subject": subject}
    if subject.line_id is not None:
        line: PayoutLine = disputes.subject_line_get(access, subject.line_id)
        out["line"] = line
        out["component"] = _component(line)
        own = line.person.user_id is not None and line.person.user_id == access.principal.user_id
        out["why"], rows = trace_words.line_why(
            line, payee="" if own else trace_words.first_name(line.person.full_name)
        )
        if subject.trace_step is not None:
            steps = line.trace if isinstance(line.trace, list) else []
            if not 0 <= subject.trace_step < len(steps):
                raise Http404("Not found")
            out["step"] = steps[subject.trace_step]
            out["step_row"] = rows[subject.trace_step] if subject.trace_step < len(rows) else None
    elif subject.credit_id is not None:
        credit: Credit = disputes.subject_credit_get(access, subject.credit_id)
        out["credit"] = credit
    else:
        period = Period.objects.filter(pk=subject.period_id or 0).first()
        out["period"] = period
        today = tenant_today(get_current_tenant())
        out["periods"] = Period.objects.filter(start__lte=today).order_by("-start", "kind")[
            :PERIOD_CHOICES
        ]
        if subject.person_id is not None and period is not None:
            out["person"] = access.payee_get(
                person_id=subject.person_id, start=period.start, end=period.end
            )
    return out


@require_any(*READ)
def dispute_raise(request: HttpRequest) -> HttpResponse:
    """The raise form, prefilled with its subject (?line=&step=, ?credit=, or a missing deal's
    ?period=); POST raises the question."""
    access = request_access(request)
    if not access.principal.has(DISPUTE_WRITE):
        raise Http404("Not found")
    data = request.POST if request.method == "POST" else request.GET
    subject = _subject_from(request, data)
    context = _subject_context(access, subject)
    if request.method == "POST":
        try:
            dispute = disputes.dispute_raise(
                access=access,
                subject=subject,
                reason_code=request.POST.get("reason_code", ""),
                description=request.POST.get("description", ""),
            )
        except ApplicationError as exc:
            if exc.code == "not_found":
                raise Http404("Not found") from None
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                f"Question {dispute.ref} sent: an answer is due by {dispute.sla_due:%-d %b %Y}.",
            )
            return redirect("dispute_detail", dispute_id=dispute.pk)
    policy = disputes.dispute_policy()
    return render(
        request,
        "dashboards/disputes/raise.html",
        {
            **context,
            "reasons": policy.reasons,
            "sla_days": policy.sla_business_days,
            "chosen_reason": data.get("reason_code", ""),
            "description": data.get("description", ""),
            "form": data,
            "active_nav": "my_questions",
        },
    )


# --- one question -------------------------------------------------------------------------------


@require_any(*READ)
def dispute_detail(request: HttpRequest, dispute_id: int) -> HttpResponse:
    """One question: its subject, comments, history and the actions the viewer may take."""
    access = request_access(request)
    dispute: Dispute = disputes.dispute_get(access=access, dispute_id=dispute_id)
    principal = access.principal
    credit = None
    if dispute.credit_id is not None:
        credit = (
            Credit.objects.select_related("transaction", "rule")
            .filter(pk=dispute.credit_id)
            .first()
        )
    step = None
    if dispute.line is not None and dispute.trace_step is not None:
        step = dispute.trace_step_snapshot
    active = dispute.status in disputes.ACTIVE
    writes = principal.has(DISPUTE_WRITE)
    may_decide = active and writes and disputes.may_answer(principal, dispute)
    next_period = disputes.next_open_period(dispute) if may_decide else None
    me = org_selectors.person_for_user(user_id=principal.user_id or 0)
    is_payee = me is not None and me.pk == dispute.person_id
    why: str = ""
    steps: list[trace_words.StepRow] = []
    if dispute.line is not None:
        why, steps = trace_words.line_why(
            dispute.line,
            payee="" if is_payee else trace_words.first_name(dispute.person.full_name),
        )
    return render(
        request,
        "dashboards/disputes/detail.html",
        {
            "d": dispute,
            "why": why,
            "steps": steps,
            "component": _component(dispute.line),
            "age": disputes.dispute_age(dispute),
            "credit": credit,
            "step": step,
            "comments": dispute.comments.all(),
            "events": dispute.events.all(),
            "may_comment": active and writes,
            "may_decide": may_decide,
            "may_adjust": may_decide and disputes.is_dispute_admin(principal),
            "may_withdraw": active and writes and disputes.is_asker(principal, dispute),
            "assignable": disputes.assignable_members() if may_decide else [],
            "next_period": next_period,
            "is_payee": is_payee,
            "active_nav": "my_questions" if is_payee else "disputes",
        },
    )


@require_POST
@require_any(*READ)
def dispute_action(request: HttpRequest, dispute_id: int, action: str) -> HttpResponse:
    """Comment on, reassign, resolve, reject or withdraw a question through its service."""
    if action not in ACTIONS:
        raise Http404("Not found")
    access = request_access(request)
    disputes.dispute_get(access=access, dispute_id=dispute_id)  # 404 first
    if not access.principal.has(DISPUTE_WRITE):
        raise Http404("Not found")
    post = request.POST
    try:
        if action == "comment":
            disputes.dispute_comment(
                access=access, dispute_id=dispute_id, body=post.get("body", "")
            )
        elif action == "assign":
            disputes.dispute_assign(
                access=access,
                dispute_id=dispute_id,
                assignee_user_id=_int(post.get("assignee")),
                note=post.get("note", ""),
            )
        elif action == "resolve":
            amount = post.get("adjustment_amount", "").strip()
            ask = None
            if amount:
                value = _decimal(amount)
                if value is None:
                    raise ValidationFailedError(BAD_AMOUNT, code="validation_failed")
                ask = disputes.AdjustmentAsk(
                    amount=value,
                    currency=post.get("adjustment_currency", ""),
                    period_id=_int(post.get("adjustment_period")),
                )
            disputes.dispute_resolve(
                access=access,
                dispute_id=dispute_id,
                resolution=post.get("resolution", ""),
                adjustment=ask,
                data_correction=post.get("data_correction", ""),
            )
        elif action == "reject":
            disputes.dispute_reject(
                access=access, dispute_id=dispute_id, reason=post.get("reason", "")
            )
        else:
            disputes.dispute_withdraw(
                access=access, dispute_id=dispute_id, note=post.get("note", "")
            )
    except ApplicationError as exc:
        if exc.code == "not_found":
            raise Http404("Not found") from None
        messages.error(request, exc.message)
    else:
        messages.success(request, DONE[action])
    return redirect("dispute_detail", dispute_id=dispute_id)


# --- settings -----------------------------------------------------------------------------------


def _parse_reasons(text: str) -> list[dict[str, str]]:
    rows = []
    for raw in text.splitlines():
        if not raw.strip():
            continue
        parts = [p.strip() for p in raw.split("|")]
        parts += [""] * (3 - len(parts))
        rows.append({"code": parts[0], "label": parts[1], "route": parts[2]})
    return rows


@require_any("payouts.calculate")
def dispute_settings(request: HttpRequest) -> HttpResponse:
    """The tenant's SLA (business days) and reasons, each routed to a manager or comp admins."""
    access = request_access(request)
    policy = disputes.dispute_policy()
    text = "\n".join(f"{r.code} | {r.label} | {r.route}" for r in policy.reasons)
    sla: Any = policy.sla_business_days
    if request.method == "POST":
        text = request.POST.get("reasons", "")
        sla = request.POST.get("sla_business_days", "")
        try:
            disputes.dispute_settings_update(
                principal=access.principal,
                sla_business_days=_int(sla) or 0,
                reasons=_parse_reasons(text),
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, "Dispute settings saved.")
            return redirect("dispute_settings")
    return render(
        request,
        "dashboards/disputes/settings.html",
        {
            "reasons_text": text,
            "sla": sla,
            "queues": DisputeQueue.choices,
            "active_nav": "disputes",
        },
    )
