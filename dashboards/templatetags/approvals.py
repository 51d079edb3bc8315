"""``{% approvals_card %}``: the home page's card of what waits for the signed-in member."""

from __future__ import annotations

from typing import Any

from django import template

from core.permissions import request_principal
from payouts import approvals

register = template.Library()

# Who sees the card even when nothing waits: the roles a route's steps usually name.
APPROVER_PERMISSIONS = ("payouts.approve", "payouts.calculate", "payouts.view.team")


@register.inclusion_tag("dashboards/approvals/_home_card.html", takes_context=True)
def approvals_card(context: dict[str, Any]) -> dict[str, Any]:
    """Return the pending approval requests whose current step waits for this member."""
    request = context["request"]
    if getattr(request, "membership", None) is None:
        return {"show": False, "waiting": []}
    principal = request_principal(request)
    waiting = approvals.waiting_for(principal=principal)
    return {"show": bool(waiting) or principal.has(*APPROVER_PERMISSIONS), "waiting": waiting}
