"""The audit log page. Reads go through the access policy (pay fields redacted)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from core.errors import ValidationFailedError
from core.views import require_permission
from hierarchy import audit_log, selectors
from hierarchy.access import request_access

PAGE_SIZE = 50


class AuditFilter(forms.Form):
    """The audit log's filters (the same rules as ``/api/v1/audit-events/``)."""

    actor = forms.CharField(
        required=False, max_length=200, label="Who", help_text="E-mail, api:client or system"
    )
    action = forms.CharField(
        required=False, max_length=100, label="Action", help_text="Or its start, e.g. plan"
    )
    object_type = forms.ChoiceField(required=False, label="Object type", choices=[])
    object_id = forms.CharField(required=False, max_length=64, label="Object id")
    since = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, object_types: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        wanted = self.data.get("object_type") if self.is_bound else None
        types = sorted({*object_types, *([wanted] if wanted else [])})
        field = self.fields["object_type"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "Any"), *((t, t) for t in types)]

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and until < since:
            self.add_error("until", "The end is before the start.")
        return data


@require_permission("audit.view")
def audit_log_page(request: HttpRequest) -> HttpResponse:
    """Everyone with audit rights: the append-only audit log, searchable, as CSV too."""
    form = AuditFilter(request.GET or None, object_types=selectors.audit_object_types())
    filters: dict[str, Any] = {}
    if form.is_bound and form.is_valid():
        filters = {k: v for k, v in form.cleaned_data.items() if v not in (None, "")}
    events = selectors.audit_event_list(access=request_access(request), **filters)
    if request.GET.get("format") == "csv":
        try:
            body = audit_log.audit_csv(events)
        except ValidationFailedError as exc:
            form.add_error(None, exc.message)
        else:
            response = HttpResponse(body, content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = 'attachment; filename="audit-log.csv"'
            return response
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("format", None)
    return render(
        request,
        "hierarchy/audit.html",
        {
            "page": page,
            "rows": audit_log.present(page.object_list),
            "form": form,
            "filtered": bool(filters),
            "query": query.urlencode(),
            "active_nav": "audit",
        },
    )
