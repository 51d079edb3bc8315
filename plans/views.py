"""The plan builder's pages: the plan list, create from a template, the version editor (text
with problems at their line, tier and curve tables, the live payout chart, "try it"), publish,
the diff between versions, assignments and archive.

Pages call the same services and selectors as the API. The editor's live parts call
:func:`plan_preview` (JSON), which asks the engine; nothing is saved until "Save".
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from core.errors import ApplicationError, NotFoundError
from core.figures import payout_curve_figure
from core.forms import LastDayField
from core.permissions import request_principal
from core.sorting import natural_sorted
from core.views import require_permission
from engine.spec import spec_component_titles
from hierarchy import org_selectors, periods
from hierarchy.access import request_access
from hierarchy.models import JobFunction
from hierarchy.org_views import require_any
from plans import cases, catalog, health, preview, scheme, selectors, services
from plans.models import Plan, PlanVersion, VersionStatus
from plans.source import check_source, dump_spec, load_text

PREVIEW_MAX_BYTES = 400_000
NO_SAMPLE = (
    "period: {id: 2026-01, start: 2026-01-01, end: 2026-02-01}\n"
    "people:\n  - {person: alex, target_incentive: 5000}\n"
    "quotas: []\ncredits: []\nkpis: []\n"
)


def _can_change(request: HttpRequest) -> bool:
    return request_principal(request).has("plans.change")


def _require_change(request: HttpRequest) -> None:
    if not _can_change(request):
        raise NotFoundError("Not found.")


def _year_start(request: HttpRequest) -> date:
    """Return the first day of the tenant's current fiscal year (the default start of a plan)."""
    tenant = request.tenant  # type: ignore[attr-defined]
    start, _end = periods.fiscal_year_bounds(
        tenant, periods.fiscal_year_of(tenant, periods.tenant_today(tenant))
    )
    return start


def _template_name(plan: Plan) -> str:
    names = {t.key: t.name for t in catalog.template_list()}
    return names.get(plan.template, plan.template)


def _user_id(request: HttpRequest) -> int | None:
    return request.user.pk if request.user.is_authenticated else None


# --- list and create ---------------------------------------------------------------------------


class PlanCreateForm(forms.Form):
    template = forms.ChoiceField(choices=[], label="Start from a template")
    name = forms.CharField(max_length=200, label="Plan name")
    code = forms.SlugField(
        max_length=64, label="Code", help_text="Short and stable, e.g. sales-ae-2026"
    )
    valid_from = forms.DateField(
        label="In force from", widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["template"].choices = [  # type: ignore[attr-defined]
            (t.key, f"{t.name} ({JobFunction(t.function).label})") for t in catalog.template_list()
        ]


@require_any("plans.view", "plans.view.team", "plans.view.self")
def plan_list(request: HttpRequest) -> HttpResponse:
    """The tenant's plans; archived ones on request. Someone on a plan who may not read the
    tenant's plans (an employee, a manager) lands on "My plan"."""
    if not request_principal(request).has("plans.view"):
        return redirect("my_plans")
    archived = request.GET.get("archived") == "1"
    plans = list(selectors.plan_list(archived=archived))
    for plan in plans:
        plan.template_name = _template_name(plan)  # type: ignore[attr-defined]
    return render(
        request,
        "plans/plan_list.html",
        {
            "plans": plans,
            "archived": archived,
            "templates": catalog.template_list(),
            "form": PlanCreateForm(initial={"valid_from": _year_start(request)}),
            "can_change": _can_change(request),
            "active_nav": "plans",
        },
    )


@require_permission("plans.view")
def plan_create(request: HttpRequest) -> HttpResponse:
    """Create a plan from a template and open its first draft."""
    _require_change(request)
    form = PlanCreateForm(
        request.POST or None,
        initial={"template": request.GET.get("template"), "valid_from": _year_start(request)},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            request_access(request).require_tenant_wide("creating plans")
            plan = services.plan_create(
                code=data["code"],
                name=data["name"],
                template=data["template"],
                valid_from=data["valid_from"],
                user_id=_user_id(request),
            )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"Created {plan.name} from a template: draft version 1.")
            return redirect("plan_version", plan_id=plan.pk, number=1)
    return render(
        request,
        "plans/plan_create.html",
        {"form": form, "templates": catalog.template_list(), "active_nav": "plans"},
    )


# --- one plan: versions, assignments, archive --------------------------------------------------


class AssignForm(forms.Form):
    version = forms.ChoiceField(choices=[], label="Version")
    holder_kind = forms.ChoiceField(
        choices=[("node", "A team"), ("role", "A job role"), ("person", "A person")],
        label="Assign to",
    )
    node = forms.ChoiceField(choices=[], required=False, label="Team")
    role = forms.ChoiceField(choices=[], required=False, label="Job role")
    person = forms.ChoiceField(choices=[], required=False, label="Person")
    target_incentive = forms.DecimalField(
        min_value=0,
        max_digits=20,
        decimal_places=4,
        label="Target incentive",
        help_text="Variable pay at target, per payout period of the plan",
    )
    currency = forms.CharField(
        max_length=3, required=False, label="Currency", help_text="Blank: the plan's currency"
    )
    valid_from = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    valid_to = LastDayField(required=False, help_text="Blank: open-ended")

    def __init__(self, *args: Any, request: HttpRequest, plan: Plan, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        access = request_access(request)
        published = PlanVersion.objects.filter(plan=plan, status=VersionStatus.PUBLISHED)
        fields: Any = self.fields
        versions = list(published.order_by("-number"))
        fields["version"].choices = [
            (v.pk, f"Version {v.number} (from {v.valid_from.day} {v.valid_from:%b %Y})")
            for v in versions
        ]
        if versions:
            # "From" starts where the newest published version does (an assignment before it
            # would be refused); the admin changes it for a later start.
            self.initial["valid_from"] = self.initial.get("valid_from") or versions[0].valid_from
        fields["node"].choices = [("", "—")] + [
            (n.pk, f"{n.name} · {n.hierarchy.name}")
            for n in natural_sorted(
                org_selectors.node_list().select_related("hierarchy"),
                key=lambda n: f"{n.name} · {n.hierarchy.name}",
            )
            if access.node_writable(n.pk, access.today, None)
        ]
        fields["role"].choices = [("", "—")] + [
            (r.pk, r.name) for r in org_selectors.job_role_list()
        ]
        fields["person"].choices = [("", "—")] + [
            (p.pk, f"{p.full_name} ({p.employee_id})") for p in access.current_people()
        ]


def _holder(data: dict[str, Any]) -> services.Holder:
    kind = data["holder_kind"]
    value = data.get(kind) or None
    return services.Holder(**{f"{kind}_id": int(value) if value else None})


@require_permission("plans.view")
def plan_detail(request: HttpRequest, plan_id: int) -> HttpResponse:
    """A plan: its versions (who, when, what changed), its assignments, assign, archive."""
    plan = selectors.plan_get(plan_id=plan_id)
    form = AssignForm(request.POST or None, request=request, plan=plan)
    if request.method == "POST":
        _require_change(request)
        if form.is_valid():
            data = form.cleaned_data
            try:
                assignment = services.plan_assignment_create(
                    access=request_access(request),
                    plan_version_id=int(data["version"]),
                    holder=_holder(data),
                    target_incentive=data["target_incentive"],
                    currency=data["currency"].upper() or None,
                    valid_from=data["valid_from"],
                    valid_to=data["valid_to"],
                    user_id=_user_id(request),
                )
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, f"Assigned to {assignment.holder_label}.")
                return redirect("plan_detail", plan_id=plan.pk)
    versions = list(
        selectors.plan_version_list(plan_id=plan.pk).select_related("created_by", "published_by")
    )
    return render(
        request,
        "plans/plan_detail.html",
        {
            "plan": plan,
            "template_name": _template_name(plan),
            "versions": versions,
            "has_published": any(v.is_published for v in versions),
            "assignments": selectors.plan_assignment_list(
                access=request_access(request), plan_id=plan.pk
            ),
            "form": form,
            "can_change": _can_change(request),
            "quota_count": selectors.quota_list(
                access=request_access(request), plan_id=plan.pk
            ).count(),
            "quota_ids": services.quota_ids_of(versions[0].spec) if versions else [],
            "active_nav": "plans",
        },
    )


@require_POST
@require_permission("plans.view")
def plan_archive(request: HttpRequest, plan_id: int) -> HttpResponse:
    """Archive a plan, or bring it back."""
    _require_change(request)
    plan = selectors.plan_get(plan_id=plan_id)
    archived = request.POST.get("archived", "1") == "1"
    try:
        request_access(request).require_tenant_wide("archiving plans")
        services.plan_archive(plan_id=plan.pk, user_id=_user_id(request), archived=archived)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{plan.name} {'archived' if archived else 'restored'}.")
    return redirect("plan_detail", plan_id=plan.pk)


# --- the version editor ------------------------------------------------------------------------


class VersionForm(forms.Form):
    source = forms.CharField(
        widget=forms.Textarea(
            attrs={"rows": 24, "spellcheck": "false", "id": "plan-source", "wrap": "off"}
        ),
        strip=False,
        max_length=200_000,
        label="Plan (YAML)",
    )
    valid_from = forms.DateField(
        label="In force from", widget=forms.DateInput(attrs={"type": "date"})
    )
    note = forms.CharField(max_length=300, required=False, label="What changed (a note)")


def _sample_for(plan: Plan) -> str:
    """Return the sample inputs of the plan's template as text (a generic one otherwise)."""
    if plan.template:
        try:
            return dump_spec(catalog.template_get(plan.template).sample)
        except NotFoundError:
            pass
    return NO_SAMPLE


@require_permission("plans.view")
def plan_version(request: HttpRequest, plan_id: int, number: int) -> HttpResponse:
    """Edit one version: a draft in place, a published one as a new draft."""
    version = selectors.plan_version_get(plan_id=plan_id, number=number)
    plan = version.plan
    form = VersionForm(
        request.POST or None,
        initial={"source": version.source, "valid_from": version.valid_from, "note": version.note},
    )
    problems: list[Any] = []
    if request.method == "POST":
        _require_change(request)
        if form.is_valid():
            data = form.cleaned_data
            try:
                request_access(request).require_tenant_wide("changing plans")
                saved = services.plan_version_save(
                    version_id=version.pk,
                    source=data["source"],
                    valid_from=data["valid_from"],
                    note=data["note"],
                    user_id=_user_id(request),
                )
            except ApplicationError as exc:
                form.add_error(None, exc.message)
                problems = list(exc.details.get("problems", []))
            else:
                messages.success(
                    request, saved.message or f"Saved draft version {saved.version.number}."
                )
                return redirect("plan_version", plan_id=plan.pk, number=saved.version.number)
    latest = selectors.plan_version_list(plan_id=plan.pk).first()
    results = cases.plan_cases_run(version=version)
    plan_health = _health(request, version)
    if not results:
        plan_health = dataclasses.replace(
            plan_health, warnings=[*plan_health.warnings, cases.NO_CASES]
        )
    return render(
        request,
        "plans/plan_version.html",
        {
            "plan": plan,
            "version": version,
            "health": plan_health,
            "case_results": results,
            "cases_failing": sum(1 for r in results if not r.passed),
            "form": form,
            "problems": problems,
            "sample": _sample_for(plan),
            "is_latest": latest is not None and latest.pk == version.pk,
            "can_change": _can_change(request) and plan.archived_at is None,
            "active_nav": "plans",
        },
    )


MONTHS_PER_PAYOUT = {"monthly": 1, "quarterly": 3, "semiannual": 6, "annual": 12}


def _health(request: HttpRequest, version: PlanVersion) -> health.Health:
    """The plan health panel of a version. The pay mix reads the base salaries of the people on
    the plan (a pay field: only for a principal who sees everyone's pay), with the target
    incentive, which is per payout period, annualised by the plan's payout frequency."""
    access = request_access(request)
    mixes: list[tuple[Decimal, Decimal]] = []
    today = periods.tenant_today(request.tenant)  # type: ignore[attr-defined]
    if access.sees_everyone:
        per_year = Decimal(12) / MONTHS_PER_PAYOUT.get(
            str(version.spec.get("payout_frequency", "monthly")), 1
        )
        mixes = [
            (person.base_salary, a.target_incentive * per_year)
            for person, a in selectors.plan_people(plan_id=version.plan_id, day=today)
            if person.base_salary and person.home_currency == a.currency
        ]
    found = health.plan_health(version.spec, mixes=mixes)
    extra = scheme.builder_warnings(access=access, version=version, day=today)
    return dataclasses.replace(found, warnings=[*found.warnings, *extra])


@require_POST
@require_permission("plans.view")
def plan_version_publish(request: HttpRequest, plan_id: int, number: int) -> HttpResponse:
    """Publish a draft from the day given."""
    _require_change(request)
    version = selectors.plan_version_get(plan_id=plan_id, number=number)
    raw = request.POST.get("valid_from", "")
    try:
        request_access(request).require_tenant_wide("publishing plans")
        start = date.fromisoformat(raw) if raw else None
        services.plan_version_publish(
            version_id=version.pk, user_id=_user_id(request), valid_from=start
        )
    except ValueError:
        messages.error(request, "Give the first day as YYYY-MM-DD.")
    except ApplicationError as exc:
        failures = exc.details.get("failures") if exc.code == "plan_cases_failing" else None
        if failures:  # every failing case with its difference, not only the first
            count = len(exc.details["cases"])
            messages.error(
                request, f"Not published: {count} test case(s) fail. Fix the plan or the case."
            )
            for sentence in failures:
                messages.error(request, sentence)
        else:
            messages.error(request, exc.message)
    else:
        messages.success(request, f"Published version {version.number}. It can no longer change.")
        return redirect("plan_detail", plan_id=version.plan_id)
    return redirect("plan_version", plan_id=version.plan_id, number=version.number)


@require_permission("plans.view")
def plan_version_diff(request: HttpRequest, plan_id: int, number: int) -> HttpResponse:
    """What changed between two versions, in words."""
    version = selectors.plan_version_get(plan_id=plan_id, number=number)
    raw = request.GET.get("against", "")
    against = int(raw) if raw.isdigit() and len(raw) < 10 else max(number - 1, 1)
    other = selectors.plan_version_get(plan_id=plan_id, number=against)
    return render(
        request,
        "plans/plan_diff.html",
        {
            "plan": version.plan,
            "version": version,
            "other": other,
            "changes": selectors.plan_version_diff(plan_id=plan_id, old=against, new=number),
            "versions": selectors.plan_version_list(plan_id=plan_id),
            "active_nav": "plans",
        },
    )


# --- the live preview (JSON) -------------------------------------------------------------------


def _preview_body(request: HttpRequest) -> dict[str, Any]:
    if len(request.body) > PREVIEW_MAX_BYTES:
        raise ValueError("the plan and sample are too long to preview")
    body = json.loads(request.body or b"{}")
    if not isinstance(body, dict):
        raise ValueError("send a JSON object")
    return body


@require_POST
@require_permission("plans.view")
def plan_preview(request: HttpRequest, plan_id: int) -> JsonResponse:
    """Check a plan text, apply a table edit, draw the payout curve and try it on a sample."""
    selectors.plan_get(plan_id=plan_id)  # the plan must be one you may see
    try:
        body = _preview_body(request)
    except ValueError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    text = str(body.get("source", ""))
    patch_error = ""
    patch = body.get("patch")
    if isinstance(patch, dict):
        try:
            text = preview.replace_rows(
                text,
                str(patch.get("path", "")),
                str(patch.get("kind", "")),
                [r for r in patch.get("rows") or [] if isinstance(r, dict)],
            )
        except preview.RowsError as exc:
            patch_error = str(exc)
    checked = check_source(text)
    out: dict[str, Any] = {
        "source": text,
        "patched": isinstance(patch, dict) and not patch_error,
        "patch_error": patch_error,
        "problems": [p.as_dict() for p in checked.problems],
        "tables": [],
        "components": [],
        "chart": None,
        "tryit": None,
    }
    if checked.spec is None or checked.problems:
        return JsonResponse(out)
    spec = checked.spec
    out["tables"] = preview.editable_tables(spec)
    titles = spec_component_titles(spec)
    out["components"] = [
        {
            "id": str(c.get("id")),
            "title": titles.get(str(c.get("id")), str(c.get("id"))),
            "type": str(c.get("type")).replace("_", " "),
        }
        for c in spec.get("components", [])
    ]
    curve = preview.payout_curve(spec, str(body.get("component") or "") or None)
    if curve is not None:
        out["chart"] = {
            "component": curve.component,
            "note": curve.note,
            "error": curve.error,
            "figure": payout_curve_figure(
                curve.attainment, curve.payout, currency=curve.currency, title=curve.title
            )
            if curve.attainment
            else None,
        }
    sample, problem = load_text(str(body.get("sample", "")))
    if problem is not None or not isinstance(sample, dict):
        out["tryit"] = {
            "lines": [],
            "traces": [],
            "error": f"Sample inputs: {problem or 'must be a mapping'}",
        }
    else:
        out["tryit"] = preview.try_it(spec, sample)
    return JsonResponse(out)
