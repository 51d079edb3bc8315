"""The HR import pages: upload (dry run by default), one import's outcome, errors and preview.

They draw the one import page pattern (``core/import_pages.py``, ``templates/imports/``) that
the incentive-data import page draws too.
"""

from __future__ import annotations

from django import forms
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from core.errors import ApplicationError
from core.import_pages import PARTIAL, ImportSummary, ImportUploadForm, count
from core.imports import COMMITTED, ImportMode
from hierarchy import org_selectors as sel
from hierarchy.access import request_access
from hierarchy.imports import COLUMNS, hr_import
from hierarchy.models import ImportBatch, ImportKind
from hierarchy.org_views import require_any

COLUMNS_NOTE = (
    "Dates are YYYY-MM-DD; valid_to and termination_date are exclusive (the first day no "
    "longer in force). Hierarchies are referenced by code, job roles by name. Rows are matched "
    "by employee id (people), by employee + node + role + start (assignments) and by hierarchy "
    "+ code (nodes), so uploading the same file again changes nothing."
)


PAGE_ERRORS = 200  # the page lists the first ones; the report has them all


class ImportForm(ImportUploadForm):
    kind = forms.ChoiceField(label="What the file holds", choices=ImportKind.choices)
    setup_fields = ("kind",)


def summary(batch: ImportBatch) -> ImportSummary:
    """Return an HR import as every import page shows it."""
    counts = batch.counts or {}
    return ImportSummary(
        pk=batch.pk,
        url=reverse("hr_import_detail", args=[batch.pk]),
        when=batch.created_at,
        what=batch.get_kind_display(),
        filename=batch.filename or batch.source.upper(),
        rows=batch.row_count,
        created=count(counts, "created"),
        changed=count(counts, "updated"),
        unchanged=count(counts, "unchanged"),
        error_rows=count(counts, "errors"),
        dry_run=batch.dry_run,
        partial=batch.mode == ImportMode.PARTIAL,
        committed=batch.status in COMMITTED,
        first_error=batch.errors[0]["message"] if batch.errors else "",
    )


def _columns() -> list[dict[str, object]]:
    return [
        {"kind": k, "label": ImportKind(k).label, "required": required, "optional": optional}
        for k, (required, optional) in COLUMNS.items()
    ]


@require_any("people.change")
def hr_imports(request: HttpRequest) -> HttpResponse:
    """Upload a CSV of people, assignments or nodes; a dry run previews, errors list rows."""
    form = ImportForm(request.POST or None, request.FILES or None)
    access = request_access(request)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            batch = hr_import(
                kind=form.cleaned_data["kind"],
                content=upload,
                filename=upload.name or "",
                dry_run=form.cleaned_data["dry_run"],
                partial=form.cleaned_data["mode"] == PARTIAL,
                created_by_id=request.user.pk,
                access=access,
            )
        except ApplicationError as exc:
            form.add_error("kind", exc.message)
        else:
            return redirect("hr_import_detail", batch_id=batch.pk)
    return render(
        request,
        "hierarchy/hr_imports.html",
        {
            "active_nav": "hr_imports",
            "form": form,
            "imports": [summary(b) for b in access.import_batches(sel.import_batch_list())[:20]],
            "columns": _columns(),
            "columns_note": COLUMNS_NOTE,
        },
    )


@require_any("people.change")
def hr_import_detail(request: HttpRequest, batch_id: int) -> HttpResponse:
    """One import: outcome, counts, row errors and (for a dry run) the preview of changes."""
    try:
        within = request_access(request).import_batches(sel.import_batch_list())
        batch = sel.import_batch_get(batch_id=batch_id, within=within)
    except ApplicationError:
        raise Http404("Not found") from None
    pk = batch.pk
    return render(
        request,
        "hierarchy/hr_import_detail.html",
        {
            "active_nav": "hr_imports",
            "batch": batch,
            "s": summary(batch),
            "errors": batch.errors[:PAGE_ERRORS],
            "error_total": len(batch.errors),
            "downloads": [
                ("Download the error report (CSV)", reverse("api-hr-import-errors", args=[pk]))
            ],
        },
    )
