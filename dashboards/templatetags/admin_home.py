"""``{% admin_home_card %}``: the home page's card of the comp admin's home (first-run checklist
progress, anomalies to look at) for members who calculate or change plans."""

from __future__ import annotations

from typing import Any

from django import template

from core.permissions import request_principal
from payouts import anomalies

register = template.Library()

ADMIN = ("payouts.calculate", "plans.change")


@register.inclusion_tag("dashboards/admin_home/_home_card.html", takes_context=True)
def admin_home_card(context: dict[str, Any]) -> dict[str, Any]:
    """Return the checklist's state for the signed-in comp admin (nothing for anyone else)."""
    request = context["request"]
    if not request_principal(request).has(*ADMIN):
        return {"show": False}
    steps = anomalies.first_run_checklist()
    following = next((s for s in steps if not s.done), None)
    return {
        "show": True,
        "steps": steps,
        "done_count": sum(1 for s in steps if s.done),
        "following": following,
    }
