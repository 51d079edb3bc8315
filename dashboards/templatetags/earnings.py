"""``{% earnings_card %}``: the home page's card of the signed-in person's latest earnings."""

from __future__ import annotations

from typing import Any

from django import template

from hierarchy import org_selectors
from hierarchy.access import request_access
from payouts import statements

register = template.Library()


@register.inclusion_tag("dashboards/earnings/_home_card.html", takes_context=True)
def earnings_card(context: dict[str, Any]) -> dict[str, Any]:
    """Return the latest statement summary of the signed-in person (if she has one)."""
    request = context["request"]
    me = org_selectors.person_for_user(user_id=int(request.user.pk or 0))
    latest = None
    if me is not None:
        mine = statements.statement_list(access=request_access(request), person_id=me.pk)
        latest = next((s for s in mine if s.person.pk == me.pk), None)
    return {"me": me, "latest": latest, "no_run_message": statements.NO_RUN_MESSAGE}
