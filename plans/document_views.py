"""Plan documents: "My plan" for everyone on a plan, the readable document of each assigned
published version (and its print view), the "I acknowledge" button, and the comp admin's
list of who has and has not acknowledged. Access goes through hierarchy/access.py: an employee
reads her own documents, a manager her team's, a comp admin everyone's.

PDF: ``…/pdf/`` downloads the document as a PDF (``plans.documents.plan_document_pdf`` on
``core.pdf``); ``…/print/`` is the same document on a print-styled page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from core.auth import client_ip
from core.errors import ApplicationError, NotFoundError
from core.permissions import request_principal
from hierarchy import org_selectors
from hierarchy.access import request_access
from hierarchy.org_views import require_any
from hierarchy.periods import tenant_today
from plans import documents, selectors, services
from plans.models import PlanAcknowledgement, PlanAssignment, VersionStatus

ViewFunc = Callable[..., HttpResponse]
READERS = ("plans.view", "plans.view.team", "plans.view.self")


def _readable(*wanted: str) -> Callable[[ViewFunc], ViewFunc]:
    """require_any, with "not found" and "not yours" both the 404 page (like require_permission)."""

    def decorator(view: ViewFunc) -> ViewFunc:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                response: HttpResponse = view(request, *args, **kwargs)
            except NotFoundError:
                raise Http404("Not found") from None
            return response

        return require_any(*wanted)(wrapped)

    return decorator


def _today(request: HttpRequest) -> dt.date:
    return tenant_today(request.tenant)  # type: ignore[attr-defined]


def _acks(person_ids: list[int]) -> dict[tuple[int, int], PlanAcknowledgement]:
    rows = PlanAcknowledgement.objects.filter(person_id__in=person_ids)
    return {(a.person_id, a.plan_version_id): a for a in rows}


def _published(assignments: Any) -> list[PlanAssignment]:
    return [a for a in assignments if a.plan_version.status == VersionStatus.PUBLISHED]


@_readable(*READERS)
def my_plans(request: HttpRequest) -> HttpResponse:
    """The signed-in person's plan documents, and (for a manager) her team's."""
    access = request_access(request)
    today = _today(request)
    me = org_selectors.person_for_user(user_id=int(request.user.pk or 0))
    mine: list[PlanAssignment] = []
    if me is not None:
        mine = _published(selectors.plan_assignments_of_person(person=me, day=today))
    team: list[tuple[Any, PlanAssignment]] = []
    principal = request_principal(request)
    if principal.has("plans.view.team") and me is not None:
        people = access.people(start=today, end=today + dt.timedelta(days=1)).exclude(pk=me.pk)
        for person in people[:200]:
            team.extend(
                (person, a)
                for a in _published(selectors.plan_assignments_of_person(person=person, day=today))
            )
    acks = _acks([p.pk for p, _a in team] + ([me.pk] if me else []))
    return render(
        request,
        "plans/my_plans.html",
        {
            "me": me,
            "mine": [(a, acks.get((me.pk, a.plan_version_id))) for a in mine] if me else [],
            "team": [(p, a, acks.get((p.pk, a.plan_version_id))) for p, a in team],
            "is_manager": principal.has("plans.view.team"),
            "active_nav": "my_plans",
        },
    )


def _document(request: HttpRequest, person_id: int, version_id: int) -> dict[str, Any]:
    person, assignment, doc = selectors.plan_document_get(
        access=request_access(request),
        person_id=person_id,
        version_id=version_id,
        day=_today(request),
    )
    version = assignment.plan_version
    ack = PlanAcknowledgement.objects.filter(person=person, plan_version=version).first()
    return {
        "person": person,
        "assignment": assignment,
        "version": version,
        "doc": doc,
        "ack": ack,
        "is_me": person.user_id is not None and person.user_id == request.user.pk,
        "active_nav": "my_plans",
    }


@_readable(*READERS)
def plan_document(request: HttpRequest, person_id: int, version_id: int) -> HttpResponse:
    """One person's document of one assigned published version, with "I acknowledge"."""
    return render(request, "plans/plan_document.html", _document(request, person_id, version_id))


@_readable(*READERS)
def plan_document_print(request: HttpRequest, person_id: int, version_id: int) -> HttpResponse:
    """The same document on a print-styled page (the browser saves it as PDF)."""
    context = _document(request, person_id, version_id)
    return render(request, "plans/plan_document_print.html", context)


@_readable(*READERS)
def plan_document_download(request: HttpRequest, person_id: int, version_id: int) -> HttpResponse:
    """The same document as a PDF download."""
    context = _document(request, person_id, version_id)
    person, doc = context["person"], context["doc"]
    return documents.plan_document_response(
        doc,
        person=person,
        tenant_name=request.tenant.name,  # type: ignore[attr-defined]
    )


@require_POST
@_readable(*READERS)
def plan_document_acknowledge(
    request: HttpRequest, person_id: int, version_id: int
) -> HttpResponse:
    """Record the signed-in person's acknowledgement of the document."""
    context = _document(request, person_id, version_id)
    try:
        ack, new = services.plan_acknowledge(
            person_id=context["person"].pk,
            plan_version_id=version_id,
            user_id=request.user.pk,
            ip_address=client_ip(request),
            today=_today(request),
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("plan_document", person_id=person_id, version_id=version_id)
    if new:
        when = timezone.localtime(ack.acknowledged_at)
        messages.success(request, f"Acknowledged on {when:%Y-%m-%d %H:%M %Z}.")
    return redirect("plan_document", person_id=person_id, version_id=version_id)


@_readable("plans.view")
def plan_acknowledgements(request: HttpRequest, plan_id: int) -> HttpResponse:
    """Who is on a plan and who has acknowledged each version's document (a comp admin's view)."""
    access = request_access(request)
    today = _today(request)
    plan = selectors.plan_get(plan_id=plan_id)
    visible = set(
        access.people(start=today, end=today + dt.timedelta(days=1)).values_list("pk", flat=True)
    )
    rows = [
        (p, a)
        for p, a in selectors.plan_people(plan_id=plan.pk, day=today)
        if p.pk in visible and a.plan_version.status == VersionStatus.PUBLISHED
    ]
    acks = _acks([p.pk for p, _a in rows])
    table = [(p, a, acks.get((p.pk, a.plan_version_id))) for p, a in rows]
    done = sum(1 for _p, _a, ack in table if ack is not None)
    return render(
        request,
        "plans/plan_acknowledgements.html",
        {
            "plan": plan,
            "rows": table,
            "done": done,
            "pending": len(table) - done,
            "active_nav": "plans",
        },
    )
