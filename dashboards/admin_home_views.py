"""The comp admin's home (``/admin-home/``): the first-run checklist, the latest runs and
imports, and the anomalies of the open period, each linking to the page where it is fixed.

It renders what :mod:`payouts.anomalies` reads. Open to members who calculate or change plans
(comp admins, finance); others get a 404. The home page shows a short version of it
(``{% admin_home_card %}``, ``dashboards/templatetags/admin_home.py``).
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from dashboards.earnings_views import require_any
from hierarchy.access import request_access
from payouts import anomalies, milestones

ADMIN = ("payouts.calculate", "plans.change")
SHOWN_PER_KIND = 10  # the page lists this many of each kind; the API pages through them all


def _period_param(request: HttpRequest) -> int | None:
    raw = request.GET.get("period", "")
    return int(raw) if raw.isdigit() and len(raw) < 19 else None


@require_any(*ADMIN)
def admin_home(request: HttpRequest) -> HttpResponse:
    """The comp admin's home."""
    report = anomalies.anomaly_report(
        access=request_access(request), period_id=_period_param(request)
    )
    steps = anomalies.first_run_checklist()
    return render(
        request,
        "dashboards/admin_home/admin_home.html",
        {
            "active_nav": "admin_home",
            "steps": steps,
            "all_done": all(s.done for s in steps),
            "done_count": sum(1 for s in steps if s.done),
            "runs": anomalies.recent_runs(),
            "imports": anomalies.recent_imports(),
            "report": report,
            "groups": [
                (kind, label, items[:SHOWN_PER_KIND], len(items))
                for kind, label, items in report.groups
            ],
            "periods": milestones.goal_periods(),
        },
    )
