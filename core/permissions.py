"""What each role of access may do. One table; views declare the permission they need."""

from __future__ import annotations

from core.models import Membership, Role

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.TENANT_ADMIN: frozenset(
        {
            "members.view",
            "members.change",
            "api_clients.view",
            "api_clients.change",
            "audit.view",
            "people.view",
            "plans.view",
            "transactions.view",
            "payouts.view",
        }
    ),
    Role.COMP_ADMIN: frozenset(
        {
            "people.view",
            "people.change",
            "plans.view",
            "plans.change",
            "transactions.view",
            "transactions.change",
            "payouts.view",
            "payouts.calculate",
            "audit.view",
        }
    ),
    Role.FINANCE: frozenset(
        {
            "people.view",
            "plans.view",
            "transactions.view",
            "payouts.view",
            "payouts.approve",
            "payouts.export",
            "audit.view",
        }
    ),
    Role.EXECUTIVE: frozenset({"people.view", "plans.view", "payouts.view", "dashboards.exec"}),
    Role.MANAGER: frozenset({"people.view.team", "payouts.view.team", "dashboards.team"}),
    Role.EMPLOYEE: frozenset({"people.view.self", "payouts.view.self", "dashboards.self"}),
}

# Which permissions an API client scope grants.
SCOPE_PERMISSIONS: dict[str, frozenset[str]] = {
    "read:people": frozenset({"people.view"}),
    "write:people": frozenset({"people.view", "people.change"}),
    "read:plans": frozenset({"plans.view"}),
    "read:transactions": frozenset({"transactions.view"}),
    "write:transactions": frozenset({"transactions.view", "transactions.change"}),
    "read:payouts": frozenset({"payouts.view"}),
    "write:payouts": frozenset({"payouts.view", "payouts.approve", "payouts.export"}),
    "read:audit": frozenset({"audit.view"}),
}


def permissions_for_roles(roles: list[str]) -> frozenset[str]:
    """Return the union of permissions of ``roles``."""
    granted: set[str] = set()
    for role in roles:
        granted |= ROLE_PERMISSIONS.get(role, frozenset())
    return frozenset(granted)


def permissions_for_scopes(scopes: list[str]) -> frozenset[str]:
    """Return the union of permissions of API client ``scopes``."""
    granted: set[str] = set()
    for scope in scopes:
        granted |= SCOPE_PERMISSIONS.get(scope, frozenset())
    return frozenset(granted)


def membership_has(membership: Membership | None, permission: str) -> bool:
    """Return whether an active membership grants ``permission``."""
    if membership is None or not membership.is_active:
        return False
    return permission in permissions_for_roles(membership.roles)
