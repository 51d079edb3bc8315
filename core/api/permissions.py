"""One permission class: views declare ``permission`` / ``write_permission`` attributes."""

from __future__ import annotations

from typing import Any

from rest_framework import permissions
from rest_framework.request import Request

from core.api.auth import request_api_client
from core.permissions import permissions_for_roles, permissions_for_scopes

SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


def request_permissions(request: Request) -> frozenset[str]:
    """Return what the authenticated principal may do in the request's tenant."""
    client = request_api_client(request)
    if client is not None:
        return permissions_for_scopes(list(client.scopes))
    membership = getattr(request, "membership", None)
    if membership is None:
        return frozenset()
    return permissions_for_roles(list(membership.roles))


class RolePermission(permissions.BasePermission):
    """Allow when the principal holds the view's declared permission for this method."""

    message = "You do not have permission to do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        needed = getattr(view, "permission", None)
        if request.method not in SAFE:
            needed = getattr(view, "write_permission", None) or needed
        if needed is None:
            return getattr(view, "tenant_optional", False)
        granted = request_permissions(request)
        wanted = needed if isinstance(needed, (tuple, list, set, frozenset)) else (needed,)
        return any(p in granted for p in wanted)
