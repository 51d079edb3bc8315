"""The "Preview on real data" page: a plan version (the builder's draft) computed on one
person's real period beside what the published version pays them (:mod:`payouts.preview`).

It reads everyone's pay, so it is for plan editors who see every person (comp admins); it
writes nothing, so the choice travels in the query string (``?person=&period=``) and a
preview can be bookmarked or shared with another comp admin.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from core.errors import ApplicationError
from core.views import require_permission
from hierarchy import periods as period_services
from hierarchy.access import request_access
from hierarchy.models import Period, Person
from payouts import preview as pv
from payouts.models import CalculationRun, RunStatus
from plans.models import PlanVersion
from plans.selectors import plan_people, plan_version_get

PEOPLE_LIMIT = 2000  # the picker's options (a select; the API takes any person's id)
PERIODS_LIMIT = 200


class PreviewForm(forms.Form):
    person = forms.TypedChoiceField(choices=[], coerce=int, label="Person")
    period = forms.TypedChoiceField(choices=[], coerce=int, label="Period")

    def __init__(self, *args: Any, on_plan: list[Person] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        first = {p.pk for p in on_plan or []}
        people = Person.objects.order_by("full_name", "employee_id")[:PEOPLE_LIMIT]

        def label(p: Person) -> str:
            return f"{p.full_name} ({p.employee_id})"

        # the plan's people first: the ones a preview is about
        choices: list[Any] = [("", "Choose a person")]
        if first:
            choices.append(("On this plan", [(str(p.pk), label(p)) for p in on_plan or []]))
        others = [(str(p.pk), label(p)) for p in people if p.pk not in first]
        choices.append(("Everyone else", others) if first else ("Everyone", others))
        self.fields["person"].choices = choices  # type: ignore[attr-defined]
        periods = Period.objects.order_by("-start", "kind")[:PERIODS_LIMIT]
        self.fields["period"].choices = [  # type: ignore[attr-defined]
            (str(p.pk), p.label) for p in periods
        ]


def _default_period(request: HttpRequest, version: PlanVersion) -> Period | None:
    """The period under way of the plan's payout frequency (a quarterly plan: this quarter);
    a plan that does not say: the kind of period the tenant last calculated."""
    today = period_services.tenant_today(request.tenant)  # type: ignore[attr-defined]
    latest = (
        CalculationRun.objects.filter(status=RunStatus.SUCCEEDED)
        .select_related("period")
        .order_by("-created_at")
        .first()
    )
    kind = str(
        (version.spec or {}).get("payout_frequency")
        or (latest.period.kind if latest else "monthly")
    )
    under_way = Period.objects.filter(start__lte=today, end__gt=today)
    found: Period | None = (
        under_way.filter(kind=kind).first()
        or under_way.filter(kind="monthly").first()
        or Period.objects.order_by("-start").first()
    )
    return found


def _on_plan(request: HttpRequest, version: PlanVersion) -> list[Person]:
    today = period_services.tenant_today(request.tenant)  # type: ignore[attr-defined]
    people = {p.pk: p for p, _a in plan_people(plan_id=version.plan_id, day=today)}
    return sorted(people.values(), key=lambda p: (p.full_name, p.employee_id))


@require_permission("plans.change")
def plan_version_preview(request: HttpRequest, plan_id: int, number: int) -> HttpResponse:
    """Pick a person and a period; show both versions' lines side by side, with traces."""
    access = request_access(request)
    if not (access.sees_everyone and access.principal.has("payouts.view")):
        raise Http404("Not found")
    version = plan_version_get(plan_id=plan_id, number=number)
    result = None
    problems: list[dict[str, Any]] = []
    error = ""
    if "person" in request.GET:
        form = PreviewForm(request.GET, on_plan=_on_plan(request, version))
        if form.is_valid():
            try:
                person, period = pv.preview_targets(
                    person_id=form.cleaned_data["person"], period_id=form.cleaned_data["period"]
                )
                result = pv.preview(version=version, person=person, period=period)
            except pv.PreviewError as exc:
                error = exc.message
                problems = list(exc.details.get("problems", []))
            except ApplicationError as exc:
                error = exc.message
    else:
        default = _default_period(request, version)
        form = PreviewForm(
            initial={"period": default.pk if default else None},
            on_plan=_on_plan(request, version),
        )
    return render(
        request,
        "dashboards/preview/plan_version_preview.html",
        {
            "active_nav": "plans",
            "plan": version.plan,
            "version": version,
            "form": form,
            "result": result,
            "rows": _rows(result) if result else [],
            "problems": problems,
            "error": error,
        },
    )


def _rows(result: pv.Preview) -> list[dict[str, Any]]:
    """Return one row per (component, kind, currency) with both sides' amounts and traces."""
    keys: dict[tuple[str, str, str], dict[str, Any]] = {}
    sides = [("draft", result.draft)]
    if result.published is not None:
        sides.append(("published", result.published))
    for name, side in sides:
        for ln in side.lines:
            row = keys.setdefault(
                (ln.component_id, ln.kind, ln.currency),
                {
                    "component": ln.component,
                    "kind": ln.kind,
                    "currency": ln.currency,
                    "draft": None,
                    "published": None,
                    "draft_traces": [],
                    "published_traces": [],
                },
            )
            row[name] = (row[name] or 0) + ln.amount
            if ln.trace:
                row[f"{name}_traces"].append(ln.trace)
    words = {(d.component_id, d.kind, d.currency): d.words for d in result.differences}
    out = []
    for key in sorted(keys):
        row = keys[key]
        row["words"] = words.get(key, "")
        row["delta"] = (row["draft"] or 0) - (row["published"] or 0)
        out.append(row)
    return out
