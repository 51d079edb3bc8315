"""Every write to tenants, memberships and API clients. Each writes one audit event."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from core.audit import audit_record
from core.errors import ConflictError, NotFoundError, ValidationFailedError
from core.models import (
    TOKEN_PREFIX,
    ApiClient,
    Membership,
    Role,
    Tenant,
    hash_secret,
    model_snapshot,
)
from core.tasks import send_on_commit
from core.tenancy import get_current_tenant, tenant_scope

LAST_ADMIN_MESSAGE = "A tenant needs at least one active tenant admin."
ALREADY_MEMBER_MESSAGE = "This person is already a member of the tenant."
UNKNOWN_ROLE_MESSAGE = "Unknown role(s): {roles}."
UNKNOWN_SCOPE_MESSAGE = "Unknown scope(s): {scopes}."
FULL_NAME_MAX_LENGTH = 200
# Stored as Django's first_name (before the first space) and last_name, 150 characters each.
FULL_NAME_PART_MAX_LENGTH = 150
FULL_NAME_TOO_LONG_MESSAGE = "Enter at most 200 characters (this name has {length})."
FULL_NAME_PART_TOO_LONG_MESSAGE = (
    "Enter at most 150 characters before the first space and 150 after it."
)


def _check_roles(roles: list[str]) -> list[str]:
    cleaned = sorted(set(roles))
    if not cleaned:
        raise ValidationFailedError("Choose at least one role.", code="roles_required")
    unknown = [r for r in cleaned if r not in Role.values]
    if unknown:
        raise ValidationFailedError(
            UNKNOWN_ROLE_MESSAGE.format(roles=", ".join(unknown)), code="unknown_role"
        )
    return cleaned


@transaction.atomic
def tenant_create(
    *,
    slug: str,
    name: str,
    default_currency: str = "USD",
    time_zone: str = "UTC",
    fiscal_year_start_month: int = 1,
    rounding_mode: str = "half_up",
) -> Tenant:
    """Create a tenant (platform operation)."""
    tenant = Tenant(
        slug=slug,
        name=name,
        default_currency=default_currency,
        time_zone=time_zone,
        fiscal_year_start_month=fiscal_year_start_month,
        rounding_mode=rounding_mode,
    )
    tenant.full_clean()
    tenant.save()
    with tenant_scope(tenant):
        audit_record(action="tenant.create", obj=tenant, after=model_snapshot(tenant))
    return tenant


def full_name_split(full_name: str) -> tuple[str, str]:
    """Return (first name, last name) of a full name; too long is an error, never a cut."""
    name = full_name.strip()
    if len(name) > FULL_NAME_MAX_LENGTH:
        raise ValidationFailedError(
            FULL_NAME_TOO_LONG_MESSAGE.format(length=len(name)), code="full_name_too_long"
        )
    first, _, last = name.partition(" ")
    last = last.strip()
    if max(len(first), len(last)) > FULL_NAME_PART_MAX_LENGTH:
        raise ValidationFailedError(FULL_NAME_PART_TOO_LONG_MESSAGE, code="full_name_too_long")
    return first, last


def _get_or_create_user(email: str, full_name: str) -> tuple[User, bool]:
    user_model: type[User] = get_user_model()
    email = user_model.objects.normalize_email(email).lower()
    first, last = full_name_split(full_name)
    user = user_model.objects.filter(email__iexact=email).first()
    if user is not None:
        return user, False
    user = user_model(username=email, email=email, first_name=first, last_name=last)
    user.set_unusable_password()
    user.full_clean()
    user.save()
    return user, True


@transaction.atomic
def membership_invite(
    *, email: str, full_name: str, roles: list[str], send_email: bool = True
) -> Membership:
    """Add a person to the current tenant; a new user gets a set-your-password email.

    The membership keeps the name typed here. A user may already exist through another
    tenant: nothing that tenant gave them (their user name) is shown or returned here.
    """
    tenant = get_current_tenant()
    roles = _check_roles(roles)
    user, created = _get_or_create_user(email, full_name)
    existing = Membership.objects.filter(tenant=tenant, user=user).first()
    if existing is not None and existing.is_active:
        raise ConflictError(ALREADY_MEMBER_MESSAGE, code="already_member")
    if existing is not None:
        before = model_snapshot(existing)
        existing.roles, existing.is_active = roles, True
        existing.full_name = full_name.strip()
        existing.full_clean()
        existing.save()
        audit_record(
            action="membership.reactivate",
            obj=existing,
            before=before,
            after=model_snapshot(existing),
        )
        return existing
    membership = Membership(tenant=tenant, user=user, roles=roles, full_name=full_name.strip())
    membership.full_clean()
    membership.save()
    audit_record(action="membership.invite", obj=membership, after=model_snapshot(membership))
    if send_email and created:
        # After commit, by a worker when there is one: a rolled-back invite sends nothing.
        send_on_commit("core.tasks.invitation_send_task", user_id=user.pk)
    return membership


def _membership_for_update(membership_id: int) -> Membership:
    tenant = get_current_tenant()
    membership = (
        Membership.objects.select_for_update()
        .select_related("user")
        .filter(tenant=tenant, pk=membership_id)
        .first()
    )
    if membership is None:
        raise NotFoundError("Member not found.")
    return membership


def _ensure_admin_remains(tenant: Tenant, excluding: Membership) -> None:
    others = Membership.objects.filter(tenant=tenant, is_active=True).exclude(pk=excluding.pk)
    if not any(Role.TENANT_ADMIN in m.roles for m in others):
        raise ConflictError(LAST_ADMIN_MESSAGE, code="last_tenant_admin")


@transaction.atomic
def membership_update_roles(*, membership_id: int, roles: list[str]) -> Membership:
    """Change a member's roles of access."""
    membership = _membership_for_update(membership_id)
    roles = _check_roles(roles)
    if Role.TENANT_ADMIN in membership.roles and Role.TENANT_ADMIN not in roles:
        _ensure_admin_remains(membership.tenant, membership)
    before = model_snapshot(membership)
    membership.roles = roles
    membership.full_clean()
    membership.save(update_fields=["roles"])
    audit_record(
        action="membership.update_roles",
        obj=membership,
        before=before,
        after=model_snapshot(membership),
    )
    return membership


@transaction.atomic
def membership_set_active(*, membership_id: int, active: bool) -> Membership:
    """Deactivate (or reactivate) a member; a deactivated member cannot enter the tenant."""
    membership = _membership_for_update(membership_id)
    if membership.is_active == active:
        return membership
    if not active and Role.TENANT_ADMIN in membership.roles:
        _ensure_admin_remains(membership.tenant, membership)
    before = model_snapshot(membership)
    membership.is_active = active
    membership.save(update_fields=["is_active"])
    audit_record(
        action="membership.activate" if active else "membership.deactivate",
        obj=membership,
        before=before,
        after=model_snapshot(membership),
    )
    return membership


@dataclass(frozen=True)
class IssuedApiClient:
    client: ApiClient
    token: str  # shown once; only its hash is kept


@transaction.atomic
def api_client_create(
    *, name: str, scopes: list[str], created_by_id: int | None
) -> IssuedApiClient:
    """Create an API client for the current tenant and return its one-time token."""
    tenant = get_current_tenant()
    from core.models import API_SCOPES

    scopes = sorted(set(scopes))
    unknown = [s for s in scopes if s not in API_SCOPES]
    if unknown:
        raise ValidationFailedError(
            UNKNOWN_SCOPE_MESSAGE.format(scopes=", ".join(unknown)), code="unknown_scope"
        )
    if not scopes:
        raise ValidationFailedError("Choose at least one scope.", code="scopes_required")
    if ApiClient.objects.filter(tenant=tenant, name=name).exists():
        raise ConflictError("An API client with this name exists.", code="duplicate_name")
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    client = ApiClient(
        tenant=tenant,
        name=name,
        key_id=key_id,
        secret_hash=hash_secret(secret),
        scopes=scopes,
        created_by_id=created_by_id,
    )
    client.full_clean()
    client.save()
    audit_record(action="api_client.create", obj=client, after=model_snapshot(client))
    return IssuedApiClient(client=client, token=f"{TOKEN_PREFIX}{key_id}_{secret}")


@transaction.atomic
def api_client_revoke(*, client_id: int) -> ApiClient:
    """Revoke an API client; its token stops working at once."""
    tenant = get_current_tenant()
    client = ApiClient.objects.select_for_update().filter(tenant=tenant, pk=client_id).first()
    if client is None:
        raise NotFoundError("API client not found.")
    if client.revoked_at is None:
        before = model_snapshot(client)
        client.revoked_at = timezone.now()
        client.save(update_fields=["revoked_at"])
        audit_record(
            action="api_client.revoke", obj=client, before=before, after=model_snapshot(client)
        )
    return client
