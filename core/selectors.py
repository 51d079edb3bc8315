"""Reads of the foundation tables, always within the current tenant."""

from __future__ import annotations

from django.db.models import QuerySet

from core.errors import NotFoundError
from core.models import ApiClient, Membership
from core.tenancy import get_current_tenant


def membership_list() -> QuerySet[Membership]:
    """Return the current tenant's memberships with their users."""
    return (
        Membership.objects.filter(tenant=get_current_tenant())
        .select_related("user")
        .order_by("-is_active", "user__email")
    )


def membership_get(*, membership_id: int) -> Membership:
    """Return one membership of the current tenant, or raise NotFoundError."""
    membership = membership_list().filter(pk=membership_id).first()
    if membership is None:
        raise NotFoundError("Member not found.")
    return membership


def api_client_list() -> QuerySet[ApiClient]:
    """Return the current tenant's API clients."""
    return ApiClient.objects.filter(tenant=get_current_tenant()).order_by("-created_at")


def api_client_get(*, client_id: int) -> ApiClient:
    """Return one API client of the current tenant, or raise NotFoundError."""
    client = api_client_list().filter(pk=client_id).first()
    if client is None:
        raise NotFoundError("API client not found.")
    return client
