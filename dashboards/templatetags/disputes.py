"""``{% disputes_card %}``: the home page's card of questions waiting for the signed-in member
(managers, comp admins, finance) or of her own open questions (payees); ``|step_label``: a
questioned calculation step's name in words."""

from __future__ import annotations

from typing import Any

from django import template

from core.tenancy import get_current_tenant
from hierarchy.access import request_access
from hierarchy.periods import tenant_today
from payouts import disputes, trace_words

register = template.Library()


@register.inclusion_tag("dashboards/disputes/_home_card.html", takes_context=True)
def disputes_card(context: dict[str, Any]) -> dict[str, Any]:
    """Return the counts the card shows: waiting for me (and overdue), or my open questions."""
    access = request_access(context["request"])
    principal = access.principal
    answering = disputes.is_dispute_admin(principal) or principal.has("payouts.view.team")
    if answering:
        waiting = disputes.waiting_for(access)
        today = tenant_today(get_current_tenant())
        return {
            "answering": True,
            "waiting": waiting.count(),
            "overdue": waiting.filter(sla_due__lt=today).count(),
        }
    mine = disputes.my_questions(access).filter(status__in=disputes.ACTIVE)
    return {"answering": False, "mine_open": mine.count()}


@register.filter
def step_label(name: object) -> str:
    """Return a calculation step's name in words (``proration_factor`` → ``Pro-ration factor``)."""
    return trace_words.step_label(str(name or ""))
