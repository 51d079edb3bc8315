from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from core.permissions import request_principal


def tenancy(request: HttpRequest) -> dict[str, Any]:
    """Expose the current tenant, membership and permissions to templates."""
    membership = getattr(request, "membership", None)
    return {
        "current_tenant": getattr(request, "tenant", None),
        "current_membership": membership,
        "memberships": getattr(request, "memberships", []),
        "perms_granted": request_principal(request).permissions if membership else frozenset(),
    }
