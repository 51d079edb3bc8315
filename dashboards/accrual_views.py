"""Finance's accruals pages (``/finance/accruals/``): earned-but-unpaid from the ledger by period,
person and cost centre; capitalized commissions (ASC 340-40) with their amortization schedule;
and the capitalization policies editor. They call ``payouts/accruals.py``, as the API does.

Reading needs ``payouts.view`` with tenant-wide access; editing policies ``accruals.change``
(finance). Anyone else, and another tenant's policy, gets the 404 page.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from core.errors import ApplicationError, PermissionDeniedError
from core.params import parse_date
from core.permissions import request_principal
from core.views import require_permission
from dashboards.downloads import FORMATS, table_download
from hierarchy.access import request_access
from payouts import accruals
from payouts.models import AmortizationStart
from plans.models import Plan

READ = "payouts.view"
WRITE = "accruals.change"
UNPAID_VIEWS = (("period", "By period"), ("person", "By person"), ("cost_centre", "By cost centre"))


def _tenant_wide(request: HttpRequest) -> None:
    try:
        request_access(request).require_tenant_wide("accruals")
    except PermissionDeniedError:
        raise Http404("Not found") from None


def _as_of(request: HttpRequest) -> Any:
    raw = request.GET.get("as_of", "")
    if not raw:
        return None
    try:
        return parse_date(raw)
    except ValueError:
        return None


def _can_edit(request: HttpRequest) -> bool:
    return request_principal(request).has(WRITE)


@require_permission(READ)
def accruals_page(request: HttpRequest) -> HttpResponse:
    """Earned but unpaid, and the capitalized commissions' asset and schedule."""
    _tenant_wide(request)
    by = request.GET.get("by", "period")
    by = by if by in dict(UNPAID_VIEWS) else "period"
    as_of = _as_of(request)
    items = accruals.capitalized_list(as_of=as_of)
    unpaid_totals = accruals.unpaid_rows(by="currency")
    return render(
        request,
        "dashboards/accruals/accruals.html",
        {
            "by": by,
            "views": UNPAID_VIEWS,
            "as_of": as_of,
            "unpaid": accruals.unpaid_rows(by=by),
            "unpaid_totals": unpaid_totals,
            "asset_totals": accruals.asset_totals(items),
            "asset_periods": accruals.asset_rows(items, by="period"),
            "asset_people": accruals.asset_rows(items, by="person")[:50],
            "people_count": len({c.person.pk for c in items}),
            "months": accruals.month_rows(items, as_of=as_of),
            "policies": accruals.policy_list(),
            "can_edit": _can_edit(request),
            "active_nav": "accruals",
        },
    )


@require_permission(READ)
def accruals_download(request: HttpRequest, table: str, fmt: str) -> HttpResponse:
    """One accruals table as CSV or XLSX (formula cells neutralised)."""
    _tenant_wide(request)
    tables = accruals.accrual_tables(as_of=_as_of(request))
    if fmt not in FORMATS or table not in tables:
        raise Http404("Not found")
    title, header, rows = tables[table]
    return table_download(title=title, header=header, rows=rows, fmt=fmt, name=f"accruals-{table}")


class PolicyForm(forms.Form):
    plan = forms.ChoiceField(choices=[], required=False, label="Plan")
    component_id = forms.CharField(
        max_length=100,
        required=False,
        label="Component id",
        help_text="Its id in the plan, e.g. new_business; empty: every component",
    )
    benefit_months = forms.IntegerField(
        min_value=1,
        max_value=accruals.MAX_BENEFIT_MONTHS,
        label="Benefit period (months)",
        help_text="Amortized straight-line over this many months",
    )
    start_rule = forms.ChoiceField(
        choices=AmortizationStart.choices, initial=AmortizationStart.MONTH_AFTER_PERIOD_END
    )
    is_active = forms.BooleanField(required=False, initial=True, label="Active")
    note = forms.CharField(max_length=300, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["plan"].choices = [("", "Every plan")] + [  # type: ignore[attr-defined]
            (str(p.pk), p.name) for p in Plan.objects.order_by("name")
        ]

    def values(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "plan_id": int(data["plan"]) if data.get("plan") else None,
            "component_id": data.get("component_id") or "",
            "benefit_months": data["benefit_months"],
            "start_rule": data["start_rule"],
            "is_active": bool(data.get("is_active")),
            "note": data.get("note") or "",
        }


@require_permission(READ)
def policy_page(request: HttpRequest) -> HttpResponse:
    """The capitalization policies, and (for finance) a form to add one."""
    _tenant_wide(request)
    can_edit = _can_edit(request)
    form = PolicyForm(request.POST or None) if can_edit else None
    if request.method == "POST":
        if form is None:
            raise Http404("Not found")
        if form.is_valid():
            try:
                policy = accruals.policy_create(**form.values())
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, f"Added: {policy}.")
                return redirect("capitalization_policies")
    return render(
        request,
        "dashboards/accruals/policies.html",
        {
            "policies": accruals.policy_list(),
            "form": form,
            "can_edit": can_edit,
            "active_nav": "accruals",
        },
    )


@require_permission(READ)
def policy_edit(request: HttpRequest, policy_id: int) -> HttpResponse:
    """One policy; finance may change it."""
    _tenant_wide(request)
    policy = accruals.policy_get(policy_id=policy_id)
    can_edit = _can_edit(request)
    initial = {
        "plan": str(policy.plan_id or ""),
        "component_id": policy.component_id,
        "benefit_months": policy.benefit_months,
        "start_rule": policy.start_rule,
        "is_active": policy.is_active,
        "note": policy.note,
    }
    form = PolicyForm(request.POST or None, initial=initial) if can_edit else None
    if request.method == "POST":
        if form is None:
            raise Http404("Not found")
        if form.is_valid():
            try:
                policy = accruals.policy_update(policy_id=policy.pk, **form.values())
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, f"Changed: {policy}.")
                return redirect("capitalization_policies")
    return render(
        request,
        "dashboards/accruals/policy_edit.html",
        {"policy": policy, "form": form, "can_edit": can_edit, "active_nav": "accruals"},
    )


@require_POST
@require_permission(WRITE)
def policy_delete(request: HttpRequest, policy_id: int) -> HttpResponse:
    """Remove a policy."""
    _tenant_wide(request)
    accruals.policy_delete(policy_id=policy_id)
    messages.success(request, "Capitalization policy removed.")
    return redirect("capitalization_policies")
