"""Incentive-data pages: imports with progress and errors, transactions, the credit explorer."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from core.errors import ApplicationError, NotFoundError
from core.import_pages import ImportSummary, ImportUploadForm, count
from core.imports import COMMITTED
from core.tenancy import get_current_tenant
from core.views import require_permission
from hierarchy.access import request_access
from hierarchy.periods import tenant_today
from incentives import selectors, services
from incentives.mappings import FIELDS, PRESETS, REQUIRED
from incentives.models import IngestBatch, IngestKind, IngestMode, TransactionKind


def _mapping_choices() -> list[tuple[str, str]]:
    choices = [("", "Quotient column names")]
    choices += [(k, v["label"]) for k, v in PRESETS.items() if not k.startswith("quotient")]
    choices += [(m.name, f"Saved: {m.name}") for m in selectors.column_mapping_list()]
    return choices


class UploadForm(ImportUploadForm):
    kind = forms.ChoiceField(
        label="What the file holds", choices=IngestKind.choices, initial=IngestKind.TRANSACTIONS
    )
    mapping = forms.ChoiceField(choices=[], required=False, label="Column mapping")
    setup_fields = ("kind", "mapping")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["mapping"].choices = _mapping_choices()  # type: ignore[attr-defined]


# Which field of the upload form a service's refusal is about (the rest are about the file).
ERROR_FIELDS = {"unknown_kind": "kind", "unknown_mapping": "mapping", "unknown_mode": "mode"}
COLUMNS = [
    {
        "kind": kind,
        "label": label,
        "required": REQUIRED[kind],
        "optional": tuple(f for f in FIELDS[kind] if f not in REQUIRED[kind]),
    }
    for kind, label in IngestKind.choices
]
COLUMNS_NOTE = (
    "With a column mapping, your system's own headers are read instead (Salesforce and HubSpot "
    "presets, or mappings saved through the API). Rows are matched by source + external id, so "
    "uploading the same file again changes nothing."
)


def summary(batch: IngestBatch, *, first_error: str = "") -> ImportSummary:
    """Return an incentive-data import as every import page shows it."""
    counts = batch.counts or {}
    running = batch.finished_at is None
    progress = selectors.ingest_batch_progress(batch=batch) if running else None
    return ImportSummary(
        pk=batch.pk,
        url=reverse("import_detail", args=[batch.pk]),
        when=batch.created_at,
        what=batch.get_kind_display(),
        filename=batch.filename or batch.source_format.upper(),
        rows=count(counts, "rows"),
        created=count(counts, "created"),
        changed=count(counts, "new_version"),
        unchanged=count(counts, "unchanged"),
        error_rows=batch.error_count,
        dry_run=batch.dry_run,
        partial=batch.mode == IngestMode.PARTIAL,
        committed=batch.status in COMMITTED,
        running=running,
        rows_done=progress.rows_processed if progress else 0,
        progress_pct=progress.pct if progress else 0,
        first_error=first_error,
    )


@require_permission("transactions.view")
def imports(request: HttpRequest) -> HttpResponse:
    """Upload a file; list earlier imports."""
    initial = {"kind": request.GET["kind"]} if request.GET.get("kind") in IngestKind.values else {}
    form = UploadForm(request.POST or None, request.FILES or None, initial=initial)
    if request.method == "POST":
        if not _can_change(request):
            raise NotFoundError("Not found.")
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                batch = services.ingest_start(
                    request=services.IngestRequest(
                        kind=form.cleaned_data["kind"],
                        source_format="csv",
                        mode=form.cleaned_data["mode"],
                        dry_run=form.cleaned_data["dry_run"],
                        mapping=form.cleaned_data["mapping"],
                        filename=upload.name or "",
                    ),
                    data=upload.chunks(),
                    created_by_id=request.user.pk,
                )
            except ApplicationError as exc:
                form.add_error(ERROR_FIELDS.get(exc.code, "file"), exc.message)
            else:
                return redirect("import_detail", batch_id=batch.pk)
    page = Paginator(selectors.ingest_batch_list(), 25).get_page(request.GET.get("page"))
    return render(
        request,
        "incentives/imports.html",
        {
            "form": form,
            "page": page,
            "imports": [summary(b) for b in page.object_list],
            "active_nav": "imports",
            "can_change": _can_change(request),
            "columns": COLUMNS,
            "columns_note": COLUMNS_NOTE,
        },
    )


def _can_change(request: HttpRequest) -> bool:
    from core.permissions import membership_has

    return membership_has(getattr(request, "membership", None), "transactions.change")


@require_permission("transactions.view")
def import_detail(request: HttpRequest, batch_id: int) -> HttpResponse:
    """One import: status, progress while a worker runs it, counts and row-level errors."""
    batch = selectors.ingest_batch_get(batch_id=batch_id)
    errors = list(selectors.ingest_error_list(batch=batch)[:200])
    s = summary(batch, first_error=errors[0].message if errors else "")
    downloads = [
        ("Download the error report (CSV)", reverse("api-import-errors-csv", args=[batch.pk]))
    ]
    return render(
        request,
        "incentives/import_detail.html",
        {
            "batch": batch,
            "s": s,
            "errors": errors,
            "error_total": batch.error_count,
            "downloads": downloads,
            "poll_url": reverse("api-import-detail", args=[batch.pk]),
            "active_nav": "imports",
        },
    )


class TransactionFilter(forms.Form):
    q = forms.CharField(required=False, label="Search")
    kind = forms.ChoiceField(choices=[("", "All kinds"), *TransactionKind.choices], required=False)
    owner = forms.CharField(required=False, label="Owner employee id")
    date_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))


@require_permission("transactions.view")
def transactions(request: HttpRequest) -> HttpResponse:
    """Browse current transactions with filters."""
    form = TransactionFilter(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    page = Paginator(selectors.transaction_list(filters=filters), 50).get_page(
        request.GET.get("page")
    )
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "incentives/transactions.html",
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "active_nav": "transactions",
        },
    )


@require_permission("transactions.view")
def transaction_detail(request: HttpRequest, transaction_id: int) -> HttpResponse:
    """The credit explorer: who got credit for this deal, by which rule, and every version."""
    tx = selectors.transaction_get(transaction_id=transaction_id)
    access = request_access(request)
    every = list(
        selectors.credit_list(access=access, filters={"transaction_id": tx.pk}, history=True)
    )
    credits = [c for c in every if c.superseded_at is None]
    history = [c for c in every if c.superseded_at is not None]
    return render(
        request,
        "incentives/transaction_detail.html",
        {
            "tx": tx,
            "versions": selectors.transaction_versions(tx=tx),
            "credits": credits,
            "history": history,
            "reached": selectors.transaction_rollups_reached(access=access, credits=credits),
            "active_nav": "transactions",
        },
    )


@require_permission("transactions.view")
def rollup_detail(request: HttpRequest, person_id: int) -> HttpResponse:
    """A manager's roll-up for a month: the stored totals, and whose credits reached them."""
    from core.changes import month_of
    from core.params import parse_date
    from core.views import bad_request

    raw = request.GET.get("month", "")
    try:
        day = parse_date(raw) if raw else tenant_today(get_current_tenant())
    except ValueError as exc:
        return bad_request(request, f"month {exc}")
    start, end = month_of(day)
    access = request_access(request)
    manager = access.person_get(person_id=person_id, start=start, end=end)
    totals = list(
        selectors.credit_rollup_list(
            access=access, filters={"person_id": manager.pk, "date_from": start, "date_to": end}
        )
    )
    reach = selectors.rollup_reach(access=access, manager=manager, month=start)
    return render(
        request,
        "incentives/rollup_detail.html",
        {
            "manager": manager,
            "month": start,
            "previous": month_of(start - dt.timedelta(days=1))[0],
            "next": end,
            "totals": totals,
            "reach": reach,
            "active_nav": "transactions",
        },
    )


@require_permission("transactions.change")
def recalculate(request: HttpRequest) -> HttpResponse:
    """Recompute every credit (after changing crediting rules)."""
    if request.method != "POST":
        return redirect("transactions")
    try:
        request_access(request).require_tenant_wide("recomputing every credit")
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("transactions")
    started = services.credits_recalculate_start()
    if started.queued:
        messages.success(
            request,
            "Recomputing every credit in the background; the explorer "
            "shows the new credits when it is done (usually within a minute).",
        )
        return redirect("transactions")
    summary = started.result
    messages.success(
        request,
        f"Recomputed credits of {summary.transactions} transactions: "
        f"{summary.credits_written} written, "
        f"{summary.corrections_written} corrections, "
        f"{len(summary.conflicts)} rule conflicts.",
    )
    return redirect("transactions")
