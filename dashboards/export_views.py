"""Finance's "Exports" pages: export batches (preview, create, download, mark paid) and the
earning codes editor. They call the services of ``payouts/exports.py``, as the API does.

Seeing exports needs ``payouts.view`` with tenant-wide access (finance, tenant admin); creating
a batch, marking it paid and editing earning codes need ``payouts.export`` (finance). Anyone
else gets the 404 "not found" page, as for another tenant's batch.
"""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from core.errors import ApplicationError, NotFoundError, PermissionDeniedError
from core.permissions import request_principal
from core.views import require_permission
from hierarchy.access import request_access
from hierarchy.models import HierarchyKind, Node, Period, Person
from payouts import exports
from payouts.models import ExportContent, ExportFormat, ExportStatus
from plans.models import Plan
from plans.selectors import component_names

LINES_SHOWN = 50  # the first lines on the page; the files hold every one
DOWNLOADS = [
    (ExportContent.LINES, ExportFormat.CSV, "Lines (CSV)"),
    (ExportContent.LINES, ExportFormat.XLSX, "Lines (Excel)"),
    (ExportContent.LINES, ExportFormat.JSON, "Lines (JSON)"),
    (ExportContent.PAYROLL, ExportFormat.CSV, "Payroll file (CSV)"),
    (ExportContent.PAYROLL, ExportFormat.XLSX, "Payroll file (Excel)"),
    (ExportContent.GL, ExportFormat.CSV, "GL summary by cost centre (CSV)"),
    (ExportContent.GL, ExportFormat.XLSX, "GL summary by cost centre (Excel)"),
]


def _can_export(request: HttpRequest) -> bool:
    return request_principal(request).has("payouts.export")


def _tenant_wide(request: HttpRequest) -> None:
    """Exports cover the whole tenant: a node-scoped member does not see them at all."""
    try:
        request_access(request).require_tenant_wide(exports.EXPORTS_WHAT)
    except PermissionDeniedError:
        raise NotFoundError("Not found.") from None


def _user_id(request: HttpRequest) -> int | None:
    return request.user.pk if request.user.is_authenticated else None


class BatchForm(forms.Form):
    periods = forms.MultipleChoiceField(
        choices=[],
        widget=forms.CheckboxSelectMultiple,
        label="Approved periods",
        error_messages={"required": "Choose at least one period."},
    )
    person = forms.ChoiceField(choices=[], required=False, label="Only this person")
    business_unit = forms.ChoiceField(choices=[], required=False, label="Only this business unit")
    format = forms.ChoiceField(choices=ExportFormat.choices, initial=ExportFormat.CSV)
    pay_date = forms.DateField(
        required=False,
        label="Pay date",
        help_text="Empty: today, or the last period's last day when that is later",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=255)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        periods = Period.objects.filter(status__in=exports.EXPORTABLE_PERIODS).order_by(
            "-start", "kind"
        )
        self.fields["periods"].choices = [  # type: ignore[attr-defined]
            (str(p.pk), f"{p.label} ({p.get_status_display().lower()})") for p in periods
        ]
        people = Person.objects.order_by("full_name", "employee_id")[:2000]
        self.fields["person"].choices = [("", "Everyone")] + [  # type: ignore[attr-defined]
            (str(p.pk), f"{p.full_name} ({p.employee_id})") for p in people
        ]
        units = Node.objects.filter(hierarchy__kind=HierarchyKind.BUSINESS_UNIT).order_by("name")
        self.fields["business_unit"].choices = [("", "All business units")] + [  # type: ignore[attr-defined]
            (str(n.pk), n.name) for n in units
        ]

    def selection(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "period_ids": [int(p) for p in data["periods"]],
            "person_id": int(data["person"]) if data.get("person") else None,
            "business_unit_id": int(data["business_unit"]) if data.get("business_unit") else None,
        }


@require_permission("payouts.view")
def export_list(request: HttpRequest) -> HttpResponse:
    """The export batches, and a form to preview and create one for approved periods."""
    _tenant_wide(request)
    can_export = _can_export(request)
    preview = None
    form = None
    if can_export:
        if request.method == "POST":
            form = BatchForm(request.POST)
            if form.is_valid():
                try:
                    batch, created = exports.export_batch_create(
                        **form.selection(),
                        format=form.cleaned_data["format"],
                        pay_date=form.cleaned_data.get("pay_date"),
                        idempotency_key=form.cleaned_data["idempotency_key"],
                        user_id=_user_id(request),
                    )
                except ApplicationError as exc:
                    form.add_error(None, exc.message)
                else:
                    if created:
                        messages.success(
                            request,
                            f"Export batch {batch.number}: {batch.line_count} lines exported.",
                        )
                    return redirect("export_detail", batch_id=batch.pk)
        elif "periods" in request.GET or "preview" in request.GET:  # "Preview" pressed
            form = BatchForm(
                {
                    **request.GET.dict(),
                    "periods": request.GET.getlist("periods"),
                    "idempotency_key": uuid.uuid4().hex,
                }
            )
            if form.is_valid():
                try:
                    preview = exports.export_preview(**form.selection())
                except ApplicationError as exc:
                    form.add_error(None, exc.message)
        else:
            form = BatchForm(initial={"idempotency_key": uuid.uuid4().hex})
    batches = list(exports.export_batch_list()[:100])
    for batch in batches:
        batch.period_labels = exports.period_labels(batch)  # type: ignore[attr-defined]
    return render(
        request,
        "dashboards/exports/export_list.html",
        {
            "batches": batches,
            "form": form,
            "preview": preview,
            "can_export": can_export,
            "active_nav": "exports",
        },
    )


@require_permission("payouts.view")
def export_detail(request: HttpRequest, batch_id: int) -> HttpResponse:
    """One batch: its selection, totals, lines, downloads and "mark paid"."""
    _tenant_wide(request)
    batch = exports.export_batch_get(batch_id=batch_id)
    lines = list(
        batch.lines.annotate(plan_version_id=F("line__plan_version_id")).order_by(
            "employee_id", "component_id", "entry_id"
        )[:LINES_SHOWN]
    )
    # a line's component by the name its plan version gave it (a manual entry: its plan's)
    versions = {x.pk: getattr(x, "plan_version_id", None) for x in lines}
    names = component_names(version_ids=versions.values(), plan_ids=[x.plan_id for x in lines])
    rows = [
        (x, names.get(x.component_id, version_id=versions[x.pk], plan_id=x.plan_id)) for x in lines
    ]
    return render(
        request,
        "dashboards/exports/export_detail.html",
        {
            "batch": batch,
            "period_labels": exports.period_labels(batch),
            "lines": rows,
            "more_lines": max(batch.line_count - len(lines), 0),
            "downloads": DOWNLOADS,
            "can_export": _can_export(request),
            "is_paid": batch.status == ExportStatus.PAID,
            "active_nav": "exports",
        },
    )


@require_permission("payouts.view")
def export_download(request: HttpRequest, batch_id: int, content: str, fmt: str) -> HttpResponse:
    """A batch's file; a missing earning code sends finance back to the batch with the reason."""
    _tenant_wide(request)
    try:
        file = exports.export_batch_file(batch_id=batch_id, content=content, format=fmt)
    except NotFoundError:
        raise
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("export_detail", batch_id=batch_id)
    response = HttpResponse(file.data, content_type=file.content_type)
    response["Content-Disposition"] = f'attachment; filename="{file.filename}"'
    response["X-Content-SHA256"] = file.sha256
    return response


@require_POST
@require_permission("payouts.export")
def export_mark_paid(request: HttpRequest, batch_id: int) -> HttpResponse:
    """Mark a batch paid (PAID ledger entries, batch frozen)."""
    _tenant_wide(request)
    try:
        batch = exports.export_batch_mark_paid(batch_id=batch_id, user_id=_user_id(request))
    except NotFoundError:
        raise
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Export batch {batch.number} marked paid.")
    return redirect("export_detail", batch_id=batch_id)


class EarningCodeForm(forms.Form):
    component_id = forms.CharField(max_length=100, label="Component id")
    plan = forms.ChoiceField(choices=[], required=False, label="Plan")
    code = forms.CharField(max_length=40, label="Earning code")
    description = forms.CharField(max_length=200, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["plan"].choices = [("", "Every plan")] + [  # type: ignore[attr-defined]
            (str(p.pk), p.name) for p in Plan.objects.order_by("name")
        ]


@require_permission("payouts.view")
def earning_codes(request: HttpRequest) -> HttpResponse:
    """The tenant's earning code mappings, and (for finance) a form to set one."""
    _tenant_wide(request)
    can_export = _can_export(request)
    form = EarningCodeForm(request.POST or None) if can_export else None
    if request.method == "POST":
        if not can_export:
            raise NotFoundError("Not found.")
        assert form is not None
        if form.is_valid():
            data = form.cleaned_data
            try:
                mapping, created = exports.earning_code_set(
                    component_id=data["component_id"],
                    plan_id=int(data["plan"]) if data.get("plan") else None,
                    code=data["code"],
                    description=data.get("description") or "",
                )
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                verb = "Added" if created else "Changed"
                messages.success(request, f"{verb} {mapping.component_id} → {mapping.code}.")
                return redirect("earning_codes")
    return render(
        request,
        "dashboards/exports/earning_codes.html",
        {
            "codes": list(exports.earning_code_list()),
            "form": form,
            "can_export": can_export,
            "active_nav": "earning_codes",
        },
    )


@require_POST
@require_permission("payouts.export")
def earning_code_delete(request: HttpRequest, code_id: int) -> HttpResponse:
    """Remove an earning code mapping."""
    _tenant_wide(request)
    exports.earning_code_delete(code_id=code_id)
    messages.success(request, "Earning code removed.")
    return redirect("earning_codes")
