"""The scheme view page: the tenant's plans on a day, who is on what, and the dependencies
between plans and teams (``plans.scheme``), as a figure and as a table. For whoever reads plans
tenant-wide (comp admins, finance, executives: ``plans.view``); nothing on it writes."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from core.figures import flow_figure
from core.params import parse_date
from core.views import require_permission
from hierarchy.access import request_access
from hierarchy.periods import tenant_today
from plans import scheme

DATE_ERROR = "Enter a date as YYYY-MM-DD (for example 2026-07-01); showing today."


@require_permission("plans.view")
def scheme_page(request: HttpRequest) -> HttpResponse:
    """Every published plan in force on a day with its people and its cross-team dependencies."""
    today: dt.date = tenant_today(request.tenant)  # type: ignore[attr-defined]
    raw = request.GET.get("date", "").strip()
    day, error = today, ""
    if raw:
        try:
            day = parse_date(raw)
        except ValueError:
            error = DATE_ERROR
    found = scheme.scheme_get(access=request_access(request), day=day)
    nodes, links = scheme.scheme_figure_links(found)
    return render(
        request,
        "plans/scheme.html",
        {
            "scheme": found,
            "raw_date": raw if error else f"{day:%Y-%m-%d}",
            "date_error": error,
            "figure": flow_figure(nodes, links) if links else None,
            "active_nav": "plan_scheme",
        },
    )
