"""One permission class: views declare ``permission`` / ``write_permission`` attributes."""

from __future__ import annotations

from typing import Any

from rest_framework import permissions
from rest_framework.request import Request

from core.permissions import request_principal

SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


def request_permissions(request: Request) -> frozenset[str]:
    """Return what the authenticated principal may do in the request's tenant."""
    return request_principal(request).permissions


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
