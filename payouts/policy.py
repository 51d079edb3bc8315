"""Who may move periods and decide money, and which periods still take entries.

Finance (``payouts.approve``) and tenant admins approve, reopen and close periods and decide
adjustments, draws and holds; comp admins (``payouts.calculate``) submit periods for review and
request adjustments. The lifecycle and the ledger both ask here.
"""

from __future__ import annotations

from core.models import Membership, Role
from core.permissions import Principal
from hierarchy.models import PeriodStatus

# Statuses in which entries (adjustments, draws, releases) may still be written to a period.
WRITABLE = frozenset({PeriodStatus.OPEN, PeriodStatus.CALCULATED, PeriodStatus.IN_REVIEW})


def is_tenant_admin(principal: Principal) -> bool:
    """Return whether the principal is a member with the tenant admin role."""
    if principal.membership_id is None:
        return False
    roles = (
        Membership.objects.filter(pk=principal.membership_id, is_active=True)
        .values_list("roles", flat=True)
        .first()
    )
    return isinstance(roles, list) and Role.TENANT_ADMIN in roles


def may_approve(principal: Principal) -> bool:
    """Return whether the principal may approve, reopen and close periods (and decide money)."""
    return principal.has("payouts.approve") or is_tenant_admin(principal)


def may_submit(principal: Principal) -> bool:
    """Return whether the principal may submit a calculated period for review."""
    return principal.has("payouts.calculate") or may_approve(principal)
