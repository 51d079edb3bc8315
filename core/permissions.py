"""What each role of access may do. One table; views declare the permission they need.

A :class:`Principal` is who asks, whatever the door: a member (their user and roles) or an API
client (its scopes). The access policy (``hierarchy/access.py``) answers on a principal, never
on a request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.models import ApiClient, Membership, Role

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
            "dashboards.exec",  # the executive dashboard (#14)
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
            "dashboards.exec",  # the executive dashboard (#14)
        }
    ),
    Role.FINANCE: frozenset(
        {
            "people.view",
            "plans.view",
            "transactions.view",
            "payouts.view",
            "payouts.calculate",
            "payouts.approve",
            "payouts.export",
            "audit.view",
            "dashboards.exec",  # the executive dashboard (#14)
            "accruals.change",  # capitalization policies (#13)
        }
    ),
    Role.EXECUTIVE: frozenset({"people.view", "plans.view", "payouts.view", "dashboards.exec"}),
    Role.MANAGER: frozenset(
        {"people.view.team", "plans.view.team", "payouts.view.team", "dashboards.team"}
    ),
    Role.EMPLOYEE: frozenset(
        {"people.view.self", "plans.view.self", "payouts.view.self", "dashboards.self"}
    ),
}

# Which permissions an API client scope grants.
SCOPE_PERMISSIONS: dict[str, frozenset[str]] = {
    "read:people": frozenset({"people.view"}),
    "write:people": frozenset({"people.view", "people.change"}),
    "read:plans": frozenset({"plans.view"}),
    "write:plans": frozenset({"plans.view", "plans.change"}),
    "read:transactions": frozenset({"transactions.view"}),
    "write:transactions": frozenset({"transactions.view", "transactions.change"}),
    "read:payouts": frozenset({"payouts.view", "dashboards.exec"}),
    "write:payouts": frozenset(
        {"payouts.view", "payouts.approve", "payouts.export", "dashboards.exec", "accruals.change"}
    ),
    "write:exports": frozenset({"payouts.view", "payouts.export"}),
    "read:audit": frozenset({"audit.view"}),
    "write:runs": frozenset({"payouts.view", "payouts.calculate"}),
}


# --- disputes (payouts/disputes.py) ---
# Whoever reads pay may question it (a payee their own, a manager their team's, comp admins and
# finance anyone's); the dispute services decide the rest. API clients write with write:payouts.
DISPUTE_WRITE = "disputes.write"
for _role, _granted in ROLE_PERMISSIONS.items():
    if _granted & {"payouts.view", "payouts.view.team", "payouts.view.self"}:
        ROLE_PERMISSIONS[_role] = _granted | {DISPUTE_WRITE}
SCOPE_PERMISSIONS["write:payouts"] = SCOPE_PERMISSIONS["write:payouts"] | {DISPUTE_WRITE}


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


@dataclass(frozen=True)
class Principal:
    """Who asks, in the current tenant: a member or an API client, with what they may do."""

    permissions: frozenset[str]
    user_id: int | None = None
    membership_id: int | None = None
    api_client_id: int | None = None

    def has(self, *wanted: str) -> bool:
        """Return whether the principal holds any of ``wanted``."""
        return any(p in self.permissions for p in wanted)


def principal_for_membership(membership: Membership | None) -> Principal:
    """Return the principal of a member (no permissions when inactive or absent)."""
    if membership is None:
        return Principal(permissions=frozenset())
    granted = permissions_for_roles(list(membership.roles)) if membership.is_active else frozenset()
    return Principal(permissions=granted, user_id=membership.user_id, membership_id=membership.pk)


def principal_for_api_client(client: ApiClient) -> Principal:
    """Return the principal of an API client: what its scopes grant."""
    return Principal(
        permissions=permissions_for_scopes(list(client.scopes)), api_client_id=client.pk
    )


def request_principal(request: Any) -> Principal:
    """Return who made a page or API request: its API client, else the session's member."""
    auth = getattr(request, "auth", None)
    if isinstance(auth, ApiClient):
        return principal_for_api_client(auth)
    return principal_for_membership(getattr(request, "membership", None))


# --- approvals (payouts/approvals.py): who configures approval routes -------------------------
# Comp admins and tenant admins edit routes; a write:payouts API client may too. Who decides a
# step is the step's business (payouts/approval_routes.py), not a permission.
for _role in (Role.COMP_ADMIN, Role.TENANT_ADMIN):
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | {"approvals.configure"}
SCOPE_PERMISSIONS["write:payouts"] = SCOPE_PERMISSIONS["write:payouts"] | {"approvals.configure"}


# --- MBO objectives (plans/objectives.py) -----------------------------------------------------
# A manager sets and signs off the objectives of the people in their subtree (as of the period);
# comp admins (plans.change) and write:plans API clients change anyone's. Reading follows the
# plans.view / plans.view.team / plans.view.self rights.
OBJECTIVES_TEAM = "objectives.manage.team"
ROLE_PERMISSIONS[Role.MANAGER] = ROLE_PERMISSIONS[Role.MANAGER] | {OBJECTIVES_TEAM}
