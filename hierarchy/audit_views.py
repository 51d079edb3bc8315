"""The audit log page. Reads go through the access policy (pay fields redacted)."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from core.views import require_permission
from hierarchy import selectors
from hierarchy.access import request_access


@require_permission("audit.view")
def audit_log(request: HttpRequest) -> HttpResponse:
    """Everyone with audit rights: the append-only audit log, filterable."""
    events = selectors.audit_event_list(
        access=request_access(request),
        object_type=request.GET.get("type") or None,
        action=request.GET.get("action") or None,
    )
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    return render(request, "hierarchy/audit.html", {"page": page, "active_nav": "audit"})
