"""The period close pages: a checklist per period with the transitions the user may do, and a
period's page with its runs, adjustments (request, approve, reject) and holds (place, release).

Pages call the same services and selectors as the API (``payouts/lifecycle.py``,
``payouts/ledger.py``, ``payouts/selectors.py``); a refused guard is shown as a message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from core.currencies import validate_currency
from core.errors import ApplicationError
from core.permissions import Principal, request_principal
from core.views import require_permission
from hierarchy.access import request_access
from hierarchy.models import Period, PeriodKind, PeriodStatus, Person
from hierarchy.periods import tenant_today
from payouts import ledger, lifecycle
from payouts.models import (
    Adjustment,
    AdjustmentStatus,
    CalculationRun,
    Hold,
    HoldStatus,
    RunKind,
    RunStatus,
)
from payouts.policy import WRITABLE, may_approve
from payouts.selectors import period_checklists

RECENT_CLOSED = 4  # closed periods of a kind shown under the open ones
ACTIONS = {
    "submit": "Submitted for review.",
    "approve": "Approved: the run's lines are in the ledger and the statements frozen.",
    "reopen": "Reopened: the approval's entries are reversed.",
    "close": "Closed: the period's data is locked.",
}


def _principal(request: HttpRequest) -> Principal:
    return request_principal(request)


def _period(period_id: int) -> Period:
    period: Period | None = Period.objects.filter(pk=period_id).first()
    if period is None:
        raise Http404("Not found")
    return period


def _run(request: HttpRequest, action: Callable[[], Any], ok: str) -> bool:
    """Run a service; show its refusal as a message. Return success."""
    try:
        action()
    except ApplicationError as exc:
        if exc.code == "not_found":
            raise Http404("Not found") from None
        messages.error(request, exc.message)
        return False
    messages.success(request, ok)
    return True


class AdjustmentForm(forms.Form):
    person: forms.ModelChoiceField[Person] = forms.ModelChoiceField(
        queryset=None,
        empty_label="Choose a person…",  # queryset: per request
    )
    amount = forms.DecimalField(max_digits=20, decimal_places=4)
    currency = forms.CharField(max_length=3, validators=[validate_currency])
    reason = forms.CharField(max_length=500)

    def __init__(self, *args: Any, people: Any, currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["person"].queryset = people  # type: ignore[attr-defined]
        self.fields["currency"].initial = currency


class HoldForm(forms.Form):
    person: forms.ModelChoiceField[Person] = forms.ModelChoiceField(
        queryset=None,
        empty_label="Choose a person…",  # queryset: per request
    )
    reason = forms.CharField(max_length=500)
    only_this_period = forms.BooleanField(required=False)

    def __init__(self, *args: Any, people: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["person"].queryset = people  # type: ignore[attr-defined]


def _people(request: HttpRequest, period: Period) -> Any:
    return request_access(request).people(start=period.start, end=period.end)


def _split_dormant(items: list[Any], last_closed: Period | None) -> tuple[list[Any], list[Any]]:
    """Split the open periods' checklists into those to work on and the dormant ones: still open,
    never run, and older than the latest closed period (a calendar that begins before the company
    paid through Quotient). Those are listed apart, folded: the list starts where close work is."""
    if last_closed is None:
        return items, []
    to_close: list[Any] = []
    dormant: list[Any] = []
    for item in items:
        never_run = not (item.runs_succeeded or item.runs_running or item.runs_failed)
        old = item.period.start < last_closed.start
        quiet = item.period.status == PeriodStatus.OPEN and never_run
        (dormant if old and quiet else to_close).append(item)
    return to_close, dormant


@require_permission("payouts.view")
def period_close_list(request: HttpRequest) -> HttpResponse:
    """Every period begun and still to close (of one kind), with its checklist and next step."""
    kind = request.GET.get("kind") or PeriodKind.QUARTERLY
    if kind not in PeriodKind.values:
        kind = PeriodKind.QUARTERLY
    periods = Period.objects.filter(kind=kind)
    # Periods not begun yet have nothing to close: the list ends with the one under way.
    today = tenant_today(request.tenant)  # type: ignore[attr-defined]
    open_ones = list(
        periods.exclude(status=PeriodStatus.CLOSED).filter(start__lte=today).order_by("start")
    )
    closed = list(periods.filter(status=PeriodStatus.CLOSED).order_by("-start")[:RECENT_CLOSED])
    items = period_checklists(periods=open_ones + closed, principal=_principal(request))
    to_close, dormant = _split_dormant(items[: len(open_ones)], closed[0] if closed else None)
    return render(
        request,
        "dashboards/periods/close_list.html",
        {
            "active_nav": "period_close",
            "items": to_close,
            "dormant_items": dormant,
            "closed_items": items[len(open_ones) :],
            "kind": kind,
            "kinds": PeriodKind.choices,
        },
    )


@require_permission("payouts.view")
def period_close_detail(request: HttpRequest, period_id: int) -> HttpResponse:
    """One period: its checklist, runs, adjustments and holds, and the forms to act on them."""
    period = _period(period_id)
    principal = _principal(request)
    item = period_checklists(periods=[period], principal=principal)[0]
    people = _people(request, period)
    visible = people.values("pk")
    currency = request.tenant.default_currency  # type: ignore[attr-defined]
    runs = list(CalculationRun.objects.filter(period=period).order_by("-number")[:20])
    return render(
        request,
        "dashboards/periods/close_detail.html",
        {
            "active_nav": "period_close",
            "item": item,
            "period": period,
            "runs": runs,
            "approvable_runs": [
                r for r in runs if r.kind == RunKind.FULL and r.status == RunStatus.SUCCEEDED
            ],
            "adjustments": Adjustment.objects.filter(period=period, person__in=visible)
            .select_related("person", "requested_by", "approver")
            .order_by("status", "-requested_at")[:200],
            "holds": Hold.objects.filter(person__in=visible, status=HoldStatus.ACTIVE)
            .filter(Q(period__isnull=True) | Q(period=period))
            .select_related("person", "period", "line")
            .order_by("-placed_at")[:200],
            "adjustment_form": AdjustmentForm(people=people, currency=currency),
            "hold_form": HoldForm(people=people, prefix="hold"),
            "writable": period.status in WRITABLE,
            "may_request": principal.has("payouts.calculate") or may_approve(principal),
            "may_decide": may_approve(principal),
            "user_id": principal.user_id,
            "pending": AdjustmentStatus.PENDING,
        },
    )


@require_POST
@require_permission("payouts.view")
def period_transition(request: HttpRequest, period_id: int, action: str) -> HttpResponse:
    """Do one transition (``submit``, ``approve``, ``reopen``, ``close``) through its service."""
    period = _period(period_id)
    principal = _principal(request)
    calls: dict[str, Callable[[], Any]] = {
        "submit": lambda: lifecycle.period_submit_for_review(
            period_id=period.pk, principal=principal
        ),
        "approve": lambda: lifecycle.period_approve(
            period_id=period.pk,
            run_id=_int(request.POST.get("run")),
            principal=principal,
            early=request.POST.get("early") == "1",
        ),
        "reopen": lambda: lifecycle.period_reopen(
            period_id=period.pk, principal=principal, reason=request.POST.get("reason", "")
        ),
        "close": lambda: lifecycle.period_close(
            period_id=period.pk,
            principal=principal,
            data_lock_date=_date(request.POST.get("data_lock_date")),
            early=request.POST.get("early") == "1",
        ),
    }
    if action not in calls:
        raise Http404("Not found")
    _run(request, calls[action], ACTIONS[action])
    if request.POST.get("next") == "list":
        return redirect("period_close_list")
    return redirect("period_close_detail", period_id=period.pk)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _date(value: Any) -> Any:
    from datetime import date

    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@require_POST
@require_permission("payouts.view")
def adjustment_create(request: HttpRequest, period_id: int) -> HttpResponse:
    """Request an adjustment in this period."""
    period = _period(period_id)
    form = AdjustmentForm(
        request.POST,
        people=_people(request, period),
        currency=request.tenant.default_currency,  # type: ignore[attr-defined]
    )
    if not form.is_valid():
        for field, errors in form.errors.items():
            messages.error(request, f"{field}: {' '.join(str(e) for e in errors)}")
        return redirect("period_close_detail", period_id=period.pk)
    data = form.cleaned_data
    _run(
        request,
        lambda: ledger.adjustment_request(
            principal=_principal(request),
            person_id=data["person"].pk,
            period_id=period.pk,
            amount=data["amount"],
            currency=data["currency"].upper(),
            reason=data["reason"],
        ),
        "Adjustment requested: someone else approves it.",
    )
    return redirect("period_close_detail", period_id=period.pk)


@require_POST
@require_permission("payouts.view")
def adjustment_decide(request: HttpRequest, adjustment_id: int, decision: str) -> HttpResponse:
    """Approve or reject a pending adjustment."""
    adjustment: Adjustment | None = Adjustment.objects.filter(
        pk=adjustment_id, person__in=request_access(request).current_people().values("pk")
    ).first()
    if adjustment is None or decision not in {"approve", "reject"}:
        raise Http404("Not found")
    principal, note = _principal(request), request.POST.get("note", "")
    if decision == "approve":
        _run(
            request,
            lambda: ledger.adjustment_approve(
                adjustment_id=adjustment.pk, principal=principal, note=note
            ),
            "Adjustment approved: it is in the ledger.",
        )
    else:
        _run(
            request,
            lambda: ledger.adjustment_reject(
                adjustment_id=adjustment.pk, principal=principal, note=note
            ),
            "Adjustment rejected.",
        )
    return redirect("period_close_detail", period_id=adjustment.period_id)


@require_POST
@require_permission("payouts.view")
def hold_create(request: HttpRequest, period_id: int) -> HttpResponse:
    """Place a hold on a person's payout (this period only, or every period until released)."""
    period = _period(period_id)
    form = HoldForm(request.POST, people=_people(request, period), prefix="hold")
    if not form.is_valid():
        for field, errors in form.errors.items():
            messages.error(request, f"{field}: {' '.join(str(e) for e in errors)}")
        return redirect("period_close_detail", period_id=period.pk)
    data = form.cleaned_data
    _run(
        request,
        lambda: ledger.hold_place(
            principal=_principal(request),
            person_id=data["person"].pk,
            reason=data["reason"],
            period_id=period.pk if data["only_this_period"] else None,
        ),
        "Hold placed: approvals withhold this person's payout until it is released.",
    )
    return redirect("period_close_detail", period_id=period.pk)


@require_POST
@require_permission("payouts.view")
def hold_release(request: HttpRequest, hold_id: int) -> HttpResponse:
    """Release a hold: what it withheld is paid in the next period not yet approved."""
    hold: Hold | None = Hold.objects.filter(
        pk=hold_id, person__in=request_access(request).current_people().values("pk")
    ).first()
    if hold is None:
        raise Http404("Not found")
    back = _int(request.POST.get("period")) or None
    _run(
        request,
        lambda: ledger.hold_release(
            principal=_principal(request), hold_id=hold.pk, note=request.POST.get("note", "")
        ),
        "Hold released.",
    )
    if back:
        return redirect("period_close_detail", period_id=back)
    return redirect("period_close_list")
