"""Nudges pages: a person's nudge settings (/settings/nudges/), the tenant's optional
leaderboard (/leaderboard/, a 404 while the tenant has it off) and its switch, and the view
model of the earnings page's per-component cards (tier marks, nudge sentences, projection).

The figures come from ``payouts.nudges``; these views only lay them out.
"""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from core.errors import ApplicationError
from core.params import parse_date
from core.permissions import request_principal
from core.tenancy import get_current_tenant
from dashboards.earnings_views import READ, _me, require_any
from payouts import nudges, statements

ADMIN = "members.change"


# --- settings -----------------------------------------------------------------------------------


@require_any(*READ)
@require_http_methods(["GET", "POST"])
def nudge_settings(request: HttpRequest) -> HttpResponse:
    """The signed-in person's nudges: on or off, e-mail, webhook, quiet until a day."""
    me = _me(request)
    if me is None:
        raise Http404("Not found")
    pref = nudges.nudge_preference_get(person=me)
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        raw_quiet = request.POST.get("quiet_until", "").strip()
        quiet: date | None = None
        try:
            quiet = parse_date(raw_quiet) if raw_quiet else None
        except ValueError as exc:
            errors["quiet_until"] = [f"Quiet until {exc}"]
        if not errors:
            try:
                nudges.nudge_preference_update(
                    person=me,
                    enabled=request.POST.get("enabled") == "on",
                    email=request.POST.get("email") == "on",
                    webhook_url=request.POST.get("webhook_url", ""),
                    quiet_until=quiet,
                )
            except ApplicationError as exc:
                errors = {k: list(v) for k, v in exc.details.items()} or {"form": [exc.message]}
            else:
                messages.success(request, "Your nudge settings are saved.")
                return redirect("nudge_settings")
        pref.enabled = request.POST.get("enabled") == "on"
        pref.email = request.POST.get("email") == "on"
        pref.webhook_url = request.POST.get("webhook_url", "")
    sent = nudges.sent_nudges(person=me)
    return render(
        request,
        "dashboards/nudges/settings.html",
        {
            "pref": pref,
            "errors": errors,
            "sent": sent,
            "reach_pct": nudges.REACH_PCT,
            "is_admin": request_principal(request).has(ADMIN),
            "tenant": get_current_tenant(),
            "active_nav": "my_earnings",
        },
        status=400 if errors else 200,
    )


@require_any(ADMIN)
@require_POST
def leaderboard_setting(request: HttpRequest) -> HttpResponse:
    """Turn the tenant's leaderboard on or off (tenant admins)."""
    nudges.leaderboard_setting_update(enabled=request.POST.get("enabled") == "on")
    messages.success(request, "The leaderboard setting is saved.")
    return redirect("nudge_settings")


# --- leaderboard --------------------------------------------------------------------------------


@require_any(*READ)
def leaderboard(request: HttpRequest) -> HttpResponse:
    """Attainment per plan for a period, when the tenant turned its leaderboard on (else 404)."""
    if not get_current_tenant().leaderboard_enabled:
        raise Http404("Not found")
    periods = list(statements.statement_periods())
    wanted = request.GET.get("period", "")
    period = next((p for p in periods if str(p.pk) == wanted), None) if wanted else None
    if wanted and period is None:
        raise Http404("Not found")
    period = period or (periods[0] if periods else None)
    boards = nudges.leaderboard(period=period) if period is not None else []
    return render(
        request,
        "dashboards/nudges/leaderboard.html",
        {
            "period": period,
            "periods": periods,
            "boards": boards,
            "active_nav": "leaderboard",
        },
    )
