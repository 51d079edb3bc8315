"""The executive dashboard (``/analytics/``): incentive cost by business unit, function and
plan, cost against revenue, recovery time, attainment per plan, the shared-goal scorecard, the
trend and top movers — for a chosen period, from ``payouts/analytics.py`` (the API's selectors).

Who: ``dashboards.exec`` (executives, finance, comp admins, tenant admins) with tenant-wide
access; anyone else, and another tenant's period, gets the 404 page.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from core.errors import PermissionDeniedError
from core.figures import bar_figure, box_figure, trend_figure
from core.views import require_permission
from dashboards.downloads import FORMATS, table_download
from hierarchy.access import request_access
from hierarchy.models import PeriodKind
from payouts import analytics

PERMISSION = "dashboards.exec"


def _tenant_wide(request: HttpRequest) -> None:
    try:
        request_access(request).require_tenant_wide("the executive dashboard")
    except PermissionDeniedError:
        raise Http404("Not found") from None


def _choice(request: HttpRequest) -> tuple[int | None, str]:
    raw = request.GET.get("period", "")
    period_id = int(raw) if raw.isdigit() and len(raw) < 19 else None
    if raw and period_id is None:
        raise Http404("Not found")
    kind = request.GET.get("kind", PeriodKind.QUARTERLY)
    if kind not in PeriodKind.values:
        kind = PeriodKind.QUARTERLY
    return period_id, kind


def _figures(d: analytics.Dashboard) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    if d.periods:
        labels = [r.period.label for r in d.periods]
        figures["trend"] = trend_figure(
            labels,
            [("Incentive cost", [r.cost for r in d.periods])],
            y_title=f"Cost ({d.currency})",
        )
        if any(r.cost_pct is not None for r in d.periods):
            figures["cost_pct"] = trend_figure(
                labels,
                [("Cost % of revenue", [r.cost_pct for r in d.periods])],
                y_title="Cost % of revenue",
                y_percent=True,
            )
    if d.by_function:
        figures["function"] = bar_figure(
            [r.label for r in d.by_function],
            [r.cost for r in d.by_function],
            x_title=f"Cost ({d.currency})",
            currency=d.currency,
        )
    groups = [(r.plan, r.values) for r in d.attainment if r.values]
    if groups:
        figures["attainment"] = box_figure(groups)
    return figures


def _change(current: Any, previous: Any) -> Any:
    if current is None or previous is None or not previous:
        return None
    return (current - previous) / previous


@require_permission(PERMISSION)
def executive_dashboard(request: HttpRequest) -> HttpResponse:
    """The executive dashboard for a chosen period (default: the latest with a run)."""
    _tenant_wide(request)
    period_id, kind = _choice(request)
    d = analytics.executive_dashboard(period_id=period_id, kind=kind)
    cur, prev = d.current, d.previous
    kpis = None
    if cur is not None:
        kpis = {
            "cost_change": _change(cur.cost, prev.cost if prev else None),
            "revenue_change": _change(cur.revenue, prev.revenue if prev else None),
        }
    return render(
        request,
        "dashboards/executive/dashboard.html",
        {
            "d": d,
            "kpis": kpis,
            "kind": kind,
            "kinds": PeriodKind.choices,
            "periods": list(reversed(analytics.analytics_periods(kind=kind))),
            "figures": _figures(d),
            "kind_labels": analytics.KIND_LABELS,
            "tables": analytics.TABLE_TITLES,
            "active_nav": "analytics",
        },
    )


@require_permission(PERMISSION)
def executive_download(request: HttpRequest, table: str, fmt: str) -> HttpResponse:
    """One table of the dashboard as CSV or XLSX (formula cells neutralised)."""
    _tenant_wide(request)
    if fmt not in FORMATS or table not in analytics.TABLE_TITLES:
        raise Http404("Not found")
    period_id, kind = _choice(request)
    d = analytics.executive_dashboard(period_id=period_id, kind=kind)
    title, header, rows = analytics.dashboard_tables(d)[table]
    label = d.period.label.replace(" ", "-") if d.period else "none"
    return table_download(
        title=title, header=header, rows=rows, fmt=fmt, name=f"analytics-{table}-{label}"
    )
