"""The builder's test cases: add (also from the "try it" panel, with the engine's result as the
expectation), edit and delete a draft's cases. The version page lists them with their results
(``plans.cases.plan_cases_run``, run on every view of the page); publishing refuses while one
fails. Pages call the same services as the API (plans/cases.py)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from core.errors import ApplicationError
from core.views import require_permission
from hierarchy.access import request_access
from plans import cases, selectors
from plans.models import PlanCase, PlanVersion
from plans.source import load_text
from plans.views import _require_change, _user_id

BAD_COMPONENTS = "Write one component a line, as `component_id: amount`."


class CaseForm(forms.Form):
    name = forms.CharField(max_length=200, label="Name", help_text="e.g. AE at 120 %")
    person = forms.CharField(
        max_length=64,
        required=False,
        label="Payee",
        help_text="Whose payout is expected (blank: the one person on this plan)",
    )
    inputs_source = forms.CharField(
        widget=forms.Textarea(
            attrs={"rows": 16, "spellcheck": "false", "wrap": "off", "id": "case-inputs"}
        ),
        strip=False,
        max_length=cases.MAX_INPUT_CHARS,
        label="Inputs (YAML or JSON: period, people, quotas, credits, KPIs)",
    )
    expected_total = forms.DecimalField(
        max_digits=20, decimal_places=4, label="Expected payout (total)"
    )
    expected_components = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false", "id": "case-components"}),
        required=False,
        label="Expected per component (optional)",
        help_text="One a line: component_id: amount. Each is checked exactly.",
    )

    def clean_expected_components(self) -> dict[str, Any]:
        text = self.cleaned_data.get("expected_components") or ""
        if not text.strip():
            return {}
        data, problem = load_text(text)
        if problem is not None or not isinstance(data, dict):
            raise forms.ValidationError(BAD_COMPONENTS)
        return {str(k): str(v) for k, v in data.items()}


def _components_text(components: dict[str, Any]) -> str:
    return "".join(f'{k}: "{v}"\n' for k, v in components.items())


def _apply(form: CaseForm, exc: ApplicationError) -> list[Any]:
    """Put a refused write's message next to its field; return the inputs' problems."""
    details = exc.details or {}
    placed = False
    for key, field in (
        ("name", "name"),
        ("person", "person"),
        ("inputs", "inputs_source"),
        ("expected", "expected_total"),
    ):
        if key in details:
            form.add_error(field, exc.message)
            placed = True
            break
    if not placed:
        form.add_error(None, exc.message)
    return list(details.get("problems", []))


def _page(
    request: HttpRequest,
    version: PlanVersion,
    form: CaseForm,
    *,
    case: PlanCase | None = None,
    problems: list[Any] | None = None,
    result: cases.CaseResult | None = None,
) -> HttpResponse:
    return render(
        request,
        "plans/plan_case.html",
        {
            "plan": version.plan,
            "version": version,
            "case": case,
            "form": form,
            "problems": problems or [],
            "result": result,
            "can_change": not version.is_published,
            "active_nav": "plans",
        },
    )


def _back(version: PlanVersion) -> HttpResponse:
    url = reverse("plan_version", args=[version.plan_id, version.number])
    return redirect(f"{url}#test-cases")


def _prefill(version: PlanVersion, text: str) -> tuple[dict[str, Any], list[Any], Any]:
    """The form's first values from a "try it" sample: the engine's result as the expectation."""
    initial: dict[str, Any] = {"inputs_source": text, "name": "", "expected_total": "0"}
    checked = cases.check_inputs(text)
    if not checked.ok or checked.inputs is None:
        return initial, [p.as_dict() for p in checked.problems], None
    got = cases.run_inputs(
        spec=version.spec,
        inputs=checked.inputs,
        person="",
        name="",
        expected_total=Decimal(0),
        expected_components={},
    )
    if got.actual_total is not None:
        initial["expected_total"] = got.actual_total
        initial["person"] = got.person
        initial["expected_components"] = _components_text(
            {c.component: c.actual for c in got.components}
        )
    return initial, [], got


def _save(
    request: HttpRequest, form: CaseForm, version: PlanVersion, case: PlanCase | None
) -> tuple[HttpResponse | None, list[Any]]:
    """Write the form's case (a new one, or ``case`` changed); on a refusal, the message next
    to its field and the inputs' problems."""
    data = form.cleaned_data
    fields = {
        "name": data["name"],
        "person": data["person"],
        "inputs_source": data["inputs_source"],
        "expected_total": data["expected_total"],
        "expected_components": data["expected_components"],
        "user_id": _user_id(request),
    }
    try:
        request_access(request).require_tenant_wide("changing plans")
        if case is None:
            cases.plan_case_create(version_id=version.pk, **fields)
        else:
            cases.plan_case_update(case_id=case.pk, **fields)
    except ApplicationError as exc:
        return None, _apply(form, exc)
    verb = "Added" if case is None else "Saved"
    messages.success(request, f"{verb} test case {data['name']!r}.")
    return _back(version), []


@require_permission("plans.view")
def plan_case_new(request: HttpRequest, plan_id: int, number: int) -> HttpResponse:
    """Add a test case to a draft; from the "try it" panel, the sample and its result prefill it."""
    _require_change(request)
    version = selectors.plan_version_get(plan_id=plan_id, number=number)
    if request.method == "POST" and request.POST.get("prefill"):
        initial, found, result = _prefill(version, request.POST.get("inputs_source", ""))
        return _page(request, version, CaseForm(initial=initial), problems=found, result=result)
    form = CaseForm(request.POST or None)
    problems: list[Any] = []
    if request.method == "POST" and form.is_valid():
        done, problems = _save(request, form, version, None)
        if done is not None:
            return done
    return _page(request, version, form, problems=problems)


@require_permission("plans.view")
def plan_case_edit(request: HttpRequest, plan_id: int, number: int, case_id: int) -> HttpResponse:
    """One test case: its result, and (a draft's) edit it."""
    version = selectors.plan_version_get(plan_id=plan_id, number=number)
    case = cases.plan_case_get(version=version, case_id=case_id)
    initial = {
        "name": case.name,
        "person": case.person,
        "inputs_source": case.inputs_source,
        "expected_total": case.expected_total,
        "expected_components": _components_text(case.expected_components),
    }
    form = CaseForm(request.POST or None, initial=initial)
    problems: list[Any] = []
    if request.method == "POST":
        _require_change(request)
        if form.is_valid():
            done, problems = _save(request, form, version, case)
            if done is not None:
                return done
    return _page(request, version, form, case=case, problems=problems, result=cases.case_run(case))


@require_POST
@require_permission("plans.view")
def plan_case_delete(request: HttpRequest, plan_id: int, number: int, case_id: int) -> HttpResponse:
    """Delete a draft's test case."""
    _require_change(request)
    version = selectors.plan_version_get(plan_id=plan_id, number=number)
    case = cases.plan_case_get(version=version, case_id=case_id)
    try:
        request_access(request).require_tenant_wide("changing plans")
        cases.plan_case_delete(case_id=case.pk, user_id=_user_id(request))
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Deleted test case {case.name!r}.")
    return _back(version)
