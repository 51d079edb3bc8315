"""Shared goals' pages: the goals the signed-in user takes part in (``/milestones/``) and one
goal (``/milestones/<id>/``): its milestones hit / not yet, progress toward each, the teams and
people in it, what it pays and when.

They render what :mod:`payouts.milestones` reads from the run that pays the period. Who may
open a goal is the access policy's answer on its participants; anyone else gets a 404.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from core.figures import milestone_figure
from dashboards.earnings_views import READ, require_any
from hierarchy.access import request_access
from payouts import milestones


def _period_param(request: HttpRequest) -> int | None:
    raw = request.GET.get("period", "")
    return int(raw) if raw.isdigit() and len(raw) < 19 else None


@require_any(*READ)
def milestone_list(request: HttpRequest) -> HttpResponse:
    """The shared goals of a period the user takes part in (or manages, or reads)."""
    periods = milestones.goal_periods()
    wanted = _period_param(request)
    period = (
        milestones.period_get(wanted) if wanted is not None else milestones.default_period(periods)
    )
    goals = milestones.shared_goals(access=request_access(request), period=period) if period else []
    return render(
        request,
        "dashboards/milestones/milestone_list.html",
        {
            "active_nav": "milestones",
            "period": period,
            "periods": periods,
            "goals": goals,
            "hit": sum(1 for g in goals if g.hit),
        },
    )


@require_any(*READ)
def milestone_detail(request: HttpRequest, goal_id: str) -> HttpResponse:
    """One shared goal of a period (``?period=``, default the open one)."""
    access = request_access(request)
    goal = milestones.shared_goal_get(access=access, goal=goal_id, period_id=_period_param(request))
    figure = None
    if len(goal.milestones) > 1:
        figure = milestone_figure(
            [m.team or m.label for m in goal.milestones],
            [m.progress for m in goal.milestones],
            [m.hit for m in goal.milestones],
        )
    return render(
        request,
        "dashboards/milestones/milestone_detail.html",
        {
            "active_nav": "milestones",
            "goal": goal,
            "periods": milestones.goal_periods(),
            "figure": figure,
            "amounts_hidden": any(p.amount is None for p in goal.participants),
        },
    )
