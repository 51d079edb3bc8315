"""The calculation runs' pages: runs of a period (with "Calculate" and live progress bars), a
run's detail (status, reason and every problem, totals by plan and currency, its lines a page
at a time) and the comparison of two runs. They render what :mod:`payouts.runs` computes and
start runs through its services; progress bars poll the runs API (``static/quotient/app.js``).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from core.errors import ApplicationError
from core.etag import live_page
from core.permissions import request_principal
from core.views import require_permission
from hierarchy import periods as period_services
from hierarchy.access import request_access
from hierarchy.models import Period
from payouts import runs, trace_words
from payouts.live import runs_version
from payouts.models import CalculationRun, RunStatus, RunTrigger
from plans.selectors import component_names

LINES_PER_PAGE = 50
RUNS = "starting a calculation run"  # a run pays everyone in the period


def _can_calculate(request: HttpRequest) -> bool:
    return request_principal(request).has("payouts.calculate")


def _user_id(request: HttpRequest) -> int | None:
    return request.user.pk if request.user.is_authenticated else None


def _period_of(request: HttpRequest) -> Period | None:
    """Return the period asked for (``?period=``), else the latest period that has a run (the
    page never opens on an empty period while runs exist), else the one today falls in, else
    the latest."""
    raw = request.GET.get("period", "")
    if raw:
        if not raw.isdigit():
            raise Http404("Not found")
        period: Period | None = Period.objects.filter(pk=int(raw)).first()
        if period is None:
            raise Http404("Not found")
        return period
    today = period_services.tenant_today(request.tenant)  # type: ignore[attr-defined]
    found: Period | None = (
        Period.objects.filter(pk__in=CalculationRun.objects.values("period_id"))
        .order_by("-start", "-end")
        .first()
        or Period.objects.filter(kind="monthly", start__lte=today, end__gt=today).first()
        or Period.objects.filter(start__lte=today, end__gt=today).order_by("start").first()
        or Period.objects.order_by("-start").first()
    )
    return found


def _row(run: CalculationRun) -> dict[str, Any]:
    return {"run": run, "progress": runs.run_progress(run), "running": _running(run)}


def _running(run: CalculationRun) -> bool:
    return run.status in (RunStatus.QUEUED, RunStatus.RUNNING)


@require_permission("payouts.view")
@live_page(lambda request: runs_version())
def run_list(request: HttpRequest) -> HttpResponse:
    period = _period_of(request)
    rows = [_row(r) for r in runs.run_list(period_id=period.pk)] if period else []
    choices = Period.objects.order_by("-start").only("pk", "label")[:200]
    return render(
        request,
        "dashboards/runs/run_list.html",
        {
            "active_nav": "runs",
            "period": period,
            "periods": choices,
            "rows": rows,
            "can_calculate": _can_calculate(request) and request_access(request).scope is None,
        },
    )


@require_POST
@require_permission("payouts.calculate")
def run_calculate(request: HttpRequest) -> HttpResponse:
    raw = request.POST.get("period", "")
    if not raw.isdigit():
        raise Http404("Not found")
    try:
        request_access(request).require_tenant_wide(RUNS)
        run = runs.run_start(period_id=int(raw), trigger=RunTrigger.PAGE, user_id=_user_id(request))
    except ApplicationError as exc:
        if exc.status == 404:
            raise Http404("Not found") from None
        messages.error(request, exc.message)
        return redirect(f"{reverse('runs')}?period={raw}")
    messages.success(request, f"Run {run.number} of {run.period.label} started.")
    return redirect("run_detail", run_id=run.pk)


@require_permission("payouts.view")
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    run = runs.run_get(run_id=run_id)
    lines = runs.run_lines(run_id=run.pk)
    access = request_access(request)
    if not access.sees_everyone:
        lines = lines.filter(person__in=access.current_people())
    page = Paginator(lines, LINES_PER_PAGE).get_page(request.GET.get("page"))
    names = component_names(version_ids=[line.plan_version_id for line in page.object_list])
    words = trace_words.trace_names(
        (line.trace_text for line in page.object_list),
        version_ids=[line.plan_version_id for line in page.object_list],
    )
    rows = [
        (
            line,
            names.get(line.component_id, version_id=line.plan_version_id),
            words.about(trace_words.first_name(line.person.full_name)).words(line.trace_text),
        )
        for line in page.object_list
    ]
    others = (
        runs.run_list(period_id=run.period_id).exclude(pk=run.pk).filter(status=RunStatus.SUCCEEDED)
    )
    return render(
        request,
        "dashboards/runs/run_detail.html",
        {
            "active_nav": "runs",
            "run": run,
            "progress": runs.run_progress(run),
            "running": _running(run),
            "totals": runs.run_totals_by_plan(run_id=run.pk) if access.sees_everyone else [],
            "page": page,
            "lines": rows,
            "others": others,
            "can_calculate": _can_calculate(request) and access.scope is None,
        },
    )


@require_POST
@require_permission("payouts.calculate")
def run_retry(request: HttpRequest, run_id: int) -> HttpResponse:
    try:
        request_access(request).require_tenant_wide(RUNS)
        run = runs.run_retry(run_id=run_id, user_id=_user_id(request), trigger=RunTrigger.PAGE)
    except ApplicationError as exc:
        if exc.status == 404:
            raise Http404("Not found") from None
        messages.error(request, exc.message)
        return redirect("run_detail", run_id=run_id)
    messages.success(request, f"Run {run.number} started again as a retry of run {run_id}.")
    return redirect("run_detail", run_id=run.pk)


@require_permission("payouts.view")
def run_compare(request: HttpRequest, run_id: int, other_id: int) -> HttpResponse:
    try:
        comparison = runs.run_compare(run_id=run_id, other_id=other_id)
    except ApplicationError as exc:
        if exc.status == 404:
            raise Http404("Not found") from None
        messages.error(request, exc.message)
        return redirect("run_detail", run_id=run_id)
    access = request_access(request)
    people = comparison.people
    if not access.sees_everyone:
        visible = access.pay_visible_ids([p.person_id for p in people])
        people = [p for p in people if p.person_id in visible]
    return render(
        request,
        "dashboards/runs/run_compare.html",
        {"active_nav": "runs", "c": comparison, "people": people, "came_from": run_id},
    )


@require_permission("payouts.view")
def run_compare_pick(request: HttpRequest, run_id: int) -> HttpResponse:
    """The compare form's target: ``?other=<id>`` → the comparison page."""
    other = request.GET.get("other", "")
    if not other.isdigit():
        raise Http404("Not found")
    return redirect("run_compare", run_id=run_id, other_id=int(other))
