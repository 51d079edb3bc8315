"""Run schedules page (under Runs): the tenant's standing orders for full runs, and for those
who may calculate a form to add one, and buttons to pause, resume or delete one.

It renders what ``payouts.schedules`` computes; another tenant's schedule is a 404.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from core.errors import ApplicationError, NotFoundError, PermissionDeniedError
from core.permissions import request_principal
from core.views import require_permission
from hierarchy.access import request_access
from hierarchy.models import PeriodKind
from payouts import schedules
from payouts.models import ScheduleCadence, SchedulePeriods


class ScheduleForm(forms.Form):
    name = forms.CharField(max_length=100, label="Name")
    periods = forms.ChoiceField(choices=SchedulePeriods.choices, label="Periods")
    period_kind = forms.ChoiceField(
        choices=[("", "Every kind"), *PeriodKind.choices], required=False, label="Period kind"
    )
    cadence = forms.ChoiceField(choices=ScheduleCadence.choices, label="How often")
    time_of_day = forms.TimeField(
        required=False,
        label="Time of day (daily, tenant time zone)",
        widget=forms.TimeInput(attrs={"type": "time"}),
    )
    every_minutes = forms.IntegerField(
        required=False,
        min_value=schedules.MIN_MINUTES,
        max_value=schedules.MAX_MINUTES,
        label="Every N minutes (interval)",
    )


def _can_calculate(request: HttpRequest) -> bool:
    return request_principal(request).has("payouts.calculate")


def _tenant_wide(request: HttpRequest) -> None:
    try:
        request_access(request).require_tenant_wide("scheduling calculation runs")
    except PermissionDeniedError:
        raise NotFoundError("Not found.") from None


@require_permission("payouts.view")
def run_schedules(request: HttpRequest) -> HttpResponse:
    """The tenant's run schedules; a form to add one."""
    try:
        _tenant_wide(request)
    except NotFoundError:
        raise Http404("Not found") from None
    can = _can_calculate(request)
    form = ScheduleForm(request.POST or None) if can else None
    if request.method == "POST":
        if form is None:
            raise Http404("Not found")
        if form.is_valid():
            data: dict[str, Any] = form.cleaned_data
            try:
                schedule = schedules.schedule_create(
                    name=data["name"],
                    periods=data["periods"],
                    period_kind=data.get("period_kind") or "",
                    cadence=data["cadence"],
                    time_of_day=data.get("time_of_day"),
                    every_minutes=data.get("every_minutes"),
                    user_id=request.user.pk,
                )
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, f"Schedule “{schedule.name}” added.")
                return redirect("run_schedules")
    return render(
        request,
        "dashboards/runs/schedules.html",
        {
            "schedules": list(schedules.schedule_list()),
            "form": form,
            "can_calculate": can,
            "active_nav": "runs",
        },
    )


@require_POST
@require_permission("payouts.calculate")
def run_schedule_change(request: HttpRequest, schedule_id: int) -> HttpResponse:
    """Pause, resume or delete one schedule (``action`` in the form)."""
    action = request.POST.get("action", "")
    try:
        _tenant_wide(request)
        schedule = schedules.schedule_get(schedule_id=schedule_id)
        if action == "delete":
            schedules.schedule_delete(schedule_id=schedule.pk)
            messages.success(request, f"Schedule “{schedule.name}” deleted.")
        elif action in ("pause", "resume"):
            schedules.schedule_update(schedule_id=schedule.pk, enabled=action == "resume")
            messages.success(request, f"Schedule “{schedule.name}” {action}d.")
        else:
            raise Http404("Not found")
    except NotFoundError:
        raise Http404("Not found") from None
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect("run_schedules")
