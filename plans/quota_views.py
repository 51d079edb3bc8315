"""Quota pages: the list by plan and period, one quota's edit page, the upload (the import
kernel's page pattern: templates/imports/*). They call the same services and selectors as the
API (``/api/v1/quotas/``)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from core.errors import ApplicationError, NotFoundError
from core.forms import LastDayField
from core.import_pages import PARTIAL, ImportSummary, ImportUploadForm
from core.imports import COMMITTED
from core.permissions import request_principal
from core.views import require_permission
from hierarchy.access import request_access
from hierarchy.models import Period
from plans import quota_import, selectors, services

PAGE_ERRORS = 200
COLUMNS = [
    {
        "kind": "",
        "label": "Quotas",
        "required": (
            "employee_id or node",
            "quota_id",
            "amount",
            "period or valid_from + valid_to",
        ),
        "optional": ("currency", "plan"),
    }
]
COLUMNS_NOTE = (
    "One row per holder, quota id and span. employee_id names a person, node a node's code "
    "(hierarchy/code when two hierarchies share it). period is a period's label (FY2026 Q1, "
    "FY2026 M01) or its start date; or give valid_from and valid_to (exclusive). quota_id is "
    "the id the plan's spec reads (a component's quota, or its measure id). Uploading the same "
    "file again changes nothing; a row with a new amount for the same span updates it."
)


def _can_change(request: HttpRequest) -> bool:
    return request_principal(request).has("plans.change")


class QuotaFilterForm(forms.Form):
    plan = forms.ChoiceField(required=False, label="Plan")
    period = forms.ChoiceField(required=False, label="Period")
    quota_id = forms.CharField(required=False, max_length=64, label="Quota id")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields: Any = self.fields
        fields["plan"].choices = [("", "All plans")] + [
            (str(p.pk), p.name) for p in selectors.plan_list(archived=None)
        ]
        fields["period"].choices = [("", "Any time")] + [
            (str(p.pk), p.label) for p in Period.objects.order_by("-start", "kind")[:60]
        ]


@require_permission("plans.view")
def quota_list(request: HttpRequest) -> HttpResponse:
    """Quotas by plan and period, as the access policy lets the viewer see them."""
    form = QuotaFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    period = None
    if data.get("period"):
        period = Period.objects.filter(pk=int(data["period"])).first()
    qs = selectors.quota_list(
        access=request_access(request),
        plan_id=int(data["plan"]) if data.get("plan") else None,
        quota_id=data.get("quota_id") or None,
        start=period.start if period else None,
        end=period.end if period else None,
    )
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "plans/quota_list.html",
        {
            "form": form,
            "page": page,
            "period": period,
            "query": query.urlencode(),
            "can_change": _can_change(request),
            "active_nav": "quotas",
        },
    )


class QuotaEditForm(forms.Form):
    amount = forms.DecimalField(max_digits=20, decimal_places=4, min_value=0, label="Amount")
    currency = forms.CharField(max_length=3, label="Currency")
    valid_from = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    valid_to = LastDayField()


@require_permission("plans.view")
def quota_detail(request: HttpRequest, quota_pk: int) -> HttpResponse:
    """One quota: its figures and history; change the amount, currency or dates."""
    access = request_access(request)
    quota = selectors.quota_get(access=access, quota_pk=quota_pk)
    form = QuotaEditForm(
        request.POST or None,
        initial={
            "amount": quota.amount,
            "currency": quota.currency,
            "valid_from": quota.valid_from,
            "valid_to": quota.valid_to,
        },
    )
    if request.method == "POST":
        if not _can_change(request):
            raise NotFoundError("Not found.")
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.quota_update(
                    access=access,
                    quota_pk=quota.pk,
                    amount=data["amount"],
                    currency=data["currency"].upper(),
                    valid_from=data["valid_from"],
                    valid_to=data["valid_to"],
                )
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, "Quota saved.")
                return redirect("quota_detail", quota_pk=quota.pk)
    return render(
        request,
        "plans/quota_detail.html",
        {
            "quota": quota,
            "form": form,
            "can_change": _can_change(request),
            "active_nav": "quotas",
        },
    )


class QuotaUploadForm(ImportUploadForm):
    plan = forms.ChoiceField(
        required=False,
        label="Plan",
        help_text="Rows naming no plan take this one (its quota ids are checked, its currency "
        "is the default)",
    )
    setup_fields = ("plan",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["plan"].choices = [("", "No plan")] + [  # type: ignore[attr-defined]
            (str(p.pk), p.name) for p in selectors.plan_list()
        ]


@require_permission("plans.change")
def quota_upload(request: HttpRequest) -> HttpResponse:
    """Upload a CSV of quotas; a dry run checks every row; row errors name line and column."""
    form = QuotaUploadForm(request.POST or None, request.FILES or None)
    result: dict[str, Any] = {}
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        mode, dry_run = form.cleaned_data["mode"], form.cleaned_data["dry_run"]
        outcome = quota_import.quota_import_csv(
            upload,
            access=request_access(request),
            user_id=request.user.pk,
            mode=mode,
            dry_run=dry_run,
            plan_id=int(form.cleaned_data["plan"]) if form.cleaned_data.get("plan") else None,
        )
        state, _reason = outcome.status(mode=mode, dry_run=dry_run)
        counts = outcome.counts
        result = {
            "s": ImportSummary(
                pk=0,
                url="",
                when=None,  # type: ignore[arg-type]
                what="Quotas",
                filename=upload.name or "",
                rows=counts["rows"],
                created=counts.get("created", 0),
                changed=counts.get("changed", 0),
                unchanged=counts.get("unchanged", 0),
                error_rows=outcome.error_rows,
                dry_run=dry_run,
                partial=mode == PARTIAL,
                committed=state in COMMITTED,
                first_error=outcome.errors[0].message if outcome.errors else "",
            ),
            "errors": outcome.errors[:PAGE_ERRORS],
            "error_total": len(outcome.errors),
            "again_url": reverse("quota_upload"),
        }
    return render(
        request,
        "plans/quota_upload.html",
        {
            "form": form,
            "columns": COLUMNS,
            "columns_note": COLUMNS_NOTE,
            "active_nav": "quotas",
            **result,
        },
    )
