"""Incentive-data pages: imports with progress and errors, transactions, the credit explorer."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from core.errors import ApplicationError, NotFoundError
from core.tenancy import get_current_tenant
from core.views import require_permission
from hierarchy.access import request_access
from hierarchy.periods import tenant_today
from incentives import selectors, services
from incentives.mappings import PRESETS
from incentives.models import IngestKind, IngestMode, TransactionKind


def _mapping_choices() -> list[tuple[str, str]]:
    choices = [("", "Quotient columns (field names as headers)")]
    choices += [
        (k, v["label"]) for k, v in PRESETS.items() if k not in {"quotient", "quotient_kpi"}
    ]
    choices += [(m.name, f"Saved: {m.name}") for m in selectors.column_mapping_list()]
    return choices


class UploadForm(forms.Form):
    kind = forms.ChoiceField(choices=IngestKind.choices, initial=IngestKind.TRANSACTIONS)
    mapping = forms.ChoiceField(choices=[], required=False, label="Column mapping")
    mode = forms.ChoiceField(
        choices=IngestMode.choices, initial=IngestMode.ALL_OR_NOTHING, widget=forms.RadioSelect
    )
    dry_run = forms.BooleanField(required=False, label="Dry run (check only, write nothing)")
    file = forms.FileField(label="CSV file (UTF-8)")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["mapping"].choices = _mapping_choices()  # type: ignore[attr-defined]


@require_permission("transactions.view")
def imports(request: HttpRequest) -> HttpResponse:
    """Upload a file; list earlier imports."""
    form = UploadForm(request.POST or None, request.FILES or None)
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
                form.add_error(None, exc.message)
            else:
                return redirect("import_detail", batch_id=batch.pk)
    page = Paginator(selectors.ingest_batch_list(), 25).get_page(request.GET.get("page"))
    return render(
        request,
        "incentives/imports.html",
        {
            "form": form,
            "page": page,
            "active_nav": "imports",
            "can_change": _can_change(request),
        },
    )


def _can_change(request: HttpRequest) -> bool:
    from core.permissions import membership_has

    return membership_has(getattr(request, "membership", None), "transactions.change")


@require_permission("transactions.view")
def import_detail(request: HttpRequest, batch_id: int) -> HttpResponse:
    """One import: status, progress while a worker runs it, counts and row-level errors."""
    batch = selectors.ingest_batch_get(batch_id=batch_id)
    errors = selectors.ingest_error_list(batch=batch)[:200]
    return render(
        request,
        "incentives/import_detail.html",
        {
            "batch": batch,
            "errors": errors,
            "active_nav": "imports",
            "running": batch.finished_at is None,
            "progress": selectors.ingest_batch_progress(batch=batch),
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
