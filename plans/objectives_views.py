"""Objectives pages: a period's objectives of the people the viewer may see (a manager's team
as of the period, a comp admin's everyone) with their weights, completion, sign-off and
progress, and each person's own ("My objectives", read-only). They call the same services and
selectors as ``/api/v1/objectives/``; a refused change shows its message beside the field it is
about, and nothing is half-written (each service is one transaction)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from core.errors import ApplicationError, NotFoundError
from hierarchy.access import Access, request_access
from hierarchy.models import Period
from hierarchy.periods import tenant_today
from plans import objectives as services
from plans import objectives_selectors as sel
from plans.document_views import _readable
from plans.models import Objective

PEOPLE_PER_PAGE = 25
# action in the URL -> (service, the form fields it takes, what the page says once done)
ACTIONS: dict[str, tuple[Callable[..., Any], tuple[str, ...], str]] = {
    "set": (services.objective_set, (), "Objectives set: their weights sum to 100 %."),
    "completion": (services.objective_update, ("completion",), "Completion saved."),
    "submit": (services.objective_submit, ("completion",), "Completion submitted for sign-off."),
    "sign-off": (
        services.objective_sign_off,
        (),
        "Signed off: runs now pay on this completion.",
    ),
    "reopen": (services.objective_reopen, ("reason",), "Reopened."),
    "delete": (services.objective_delete, (), "Draft deleted."),
}


def _periods() -> list[Period]:
    return list(Period.objects.order_by("-start", "kind")[:60])


def _period(request: HttpRequest, access: Access) -> Period | None:
    """Return the period asked for (``?period=``), else the latest one with objectives the
    viewer sees that has started, else the latest that has started, else the first."""
    raw = request.GET.get("period") or request.POST.get("period") or ""
    if raw.isdigit():
        found: Period | None = Period.objects.filter(pk=int(raw)).first()
        if found is None:
            raise NotFoundError("Period not found.")
        return found
    today: dt.date = tenant_today(request.tenant)  # type: ignore[attr-defined]
    started = Period.objects.filter(start__lte=today).order_by("-start", "kind")
    with_objectives = sel.objective_list(access=access).filter(period__start__lte=today)
    latest = with_objectives.order_by("-period__start").values_list("period_id", flat=True)
    if latest:
        chosen: Period = Period.objects.get(pk=latest[0])
        return chosen
    fallback: Period | None = started.first() or Period.objects.order_by("start").first()
    return fallback


class ObjectiveForm(forms.Form):
    person = forms.ChoiceField(label="Person")
    link = forms.ChoiceField(
        label="Pays on",
        required=False,
        help_text="A plan's objectives component, or ad hoc (tracked, not paid).",
    )
    title = forms.CharField(max_length=200, label="Title")
    description = forms.CharField(
        required=False,
        max_length=5000,
        label="Description",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    weight = forms.DecimalField(
        max_digits=5, decimal_places=2, label="Weight (%)", help_text="Of the group's 100 %."
    )

    def __init__(self, *args: Any, people: list[Any], links: list[tuple[str, str]], **kw: Any):
        super().__init__(*args, **kw)
        fields: Any = self.fields
        fields["person"].choices = [("", "Choose…")] + [(str(p.pk), p.full_name) for p in people]
        fields["link"].choices = [*links, ("", "Ad hoc (not paid)")]


def _links(period: Period) -> list[tuple[str, str]]:
    return [
        (f"{plan.pk}:{component}", f"{plan.name} · {component}")
        for plan, ids in sel.mbo_plans(period)
        for component in ids
    ]


def _field_errors(form: forms.Form, error: ApplicationError, mapping: dict[str, str]) -> None:
    """Put a service's refusal beside its field (``details``), else above the form."""
    placed = False
    for key, texts in (error.details or {}).items():
        name = mapping.get(key, key)
        if name in form.fields:
            for text in texts if isinstance(texts, list) else [texts]:
                form.add_error(name, str(text))
            placed = True
    if not placed:
        form.add_error(None, error.message)


def _page(
    request: HttpRequest,
    *,
    form: ObjectiveForm | None = None,
    row_errors: dict[int, dict[str, str]] | None = None,
    status: int = 200,
    period: Period | None = None,
) -> HttpResponse:
    access = request_access(request)
    period = period or _period(request, access)
    context: dict[str, Any] = {
        "active_nav": "objectives",
        "periods": _periods(),
        "period": period,
        "row_errors": row_errors or {},
        "can_write": access.principal.has(*sel.WRITERS),
    }
    if period is not None:
        people = list(sel.objective_people(access=access, period=period))
        page = Paginator(people, PEOPLE_PER_PAGE).get_page(request.GET.get("page"))
        rows = sel.team_objectives(access=access, period=period, people=list(page))
        for r in rows:
            for g in r.groups:
                for o in g.objectives:
                    o.errors = (row_errors or {}).get(o.pk, {})  # type: ignore[attr-defined]
        writable = [r.person for r in rows if r.writable]
        if form is None and writable:
            form = ObjectiveForm(people=writable, links=_links(period))
        total = sum(r.count for r in rows)
        done = sum(r.signed_off for r in rows)
        context |= {
            "rows": [r for r in rows if r.count],
            "without": [r for r in rows if not r.count],
            "page": page,
            "form": form if writable else None,
            "total": total,
            "done": done,
            "done_pct": round(100 * done / total) if total else 0,
        }
    return render(request, "plans/objectives.html", context, status=status)


@_readable(*sel.READERS)
def objectives_page(request: HttpRequest) -> HttpResponse:
    """A period's objectives of the people the viewer may see; add, set, complete, sign off."""
    return _page(request)


@require_POST
@_readable(*sel.WRITERS)
def objective_add(request: HttpRequest) -> HttpResponse:
    """Create a draft objective from the page's form (errors beside the fields)."""
    access = request_access(request)
    period = _period(request, access)
    if period is None:
        raise NotFoundError("Period not found.")
    people = [r.person for r in sel.team_objectives(access=access, period=period) if r.writable]
    form = ObjectiveForm(request.POST, people=people, links=_links(period))
    if form.is_valid():
        data = form.cleaned_data
        plan_id, _, component = (data.get("link") or "").partition(":")
        try:
            services.objective_create(
                access=access,
                person_id=int(data["person"]),
                period_id=period.pk,
                plan_id=int(plan_id) if plan_id else None,
                component=component,
                title=data["title"],
                description=data.get("description") or "",
                weight=data["weight"],
            )
        except ApplicationError as error:
            _field_errors(
                form,
                error,
                {"person_id": "person", "plan_id": "link", "component": "link"},
            )
        else:
            messages.success(request, f"Objective “{data['title']}” added as a draft.")
            return redirect(f"{reverse('objectives')}?period={period.pk}")
    return _page(request, form=form, status=400, period=period)


@require_POST
@_readable(*sel.WRITERS)
def objective_action(request: HttpRequest, objective_id: int, action: str) -> HttpResponse:
    """Set, enter a completion, submit, sign off, reopen or delete one objective."""
    access = request_access(request)
    objective: Objective = sel.objective_get(access=access, objective_id=objective_id)
    if action not in ACTIONS:
        raise NotFoundError("Unknown action.")
    service, fields, done = ACTIONS[action]
    try:
        service(
            access=access,
            objective_id=objective.pk,
            **{name: request.POST.get(name, "") for name in fields},
        )
    except NotFoundError:
        raise
    except ApplicationError as error:
        details = error.details or {}
        field = next(iter(details), "action")
        return _page(
            request,
            row_errors={objective.pk: {field: error.message}},
            status=400,
            period=objective.period,
        )
    messages.success(request, f"“{objective.title}”: {done}")
    url = f"{reverse('objectives')}?period={objective.period_id}#person-{objective.person_id}"
    return redirect(url)


@_readable(*sel.READERS)
def my_objectives(request: HttpRequest) -> HttpResponse:
    """The viewer's own objectives, period by period (read-only but for their comment)."""
    return _mine(request)


def _mine(
    request: HttpRequest, *, errors: dict[int, str] | None = None, status: int = 200
) -> HttpResponse:
    access = request_access(request)
    me = sel.me(access)
    periods: list[tuple[Period, Any]] = []
    if me is not None:
        mine = sel.objective_list(access=access, person_id=me.pk)
        seen: list[Period] = []
        for o in mine.order_by("-period__start"):
            if o.period not in seen:
                seen.append(o.period)
        for p in seen:
            [row] = sel.team_objectives(access=access, period=p, people=[me])
            for g in row.groups:
                for o in g.objectives:
                    o.errors = {"comment": (errors or {}).get(o.pk, "")}  # type: ignore[attr-defined]
            periods.append((p, row))
    return render(
        request,
        "plans/my_objectives.html",
        {"active_nav": "my_objectives", "me": me, "periods": periods, "own": True},
        status=status,
    )


@require_POST
@_readable(*sel.READERS)
def objective_comment(request: HttpRequest, objective_id: int) -> HttpResponse:
    """Save the viewer's comment on their own objective ("My objectives")."""
    access = request_access(request)
    objective = sel.objective_get(access=access, objective_id=objective_id)
    try:
        services.objective_comment(
            access=access, objective_id=objective.pk, comment=request.POST.get("comment", "")
        )
    except ApplicationError as error:
        if error.status == 404:
            raise
        return _mine(request, errors={objective.pk: error.message}, status=400)
    messages.success(request, f"Comment on “{objective.title}” saved.")
    return redirect(f"{reverse('my_objectives')}#objective-{objective.pk}")
