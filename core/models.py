"""Platform tables (unscoped: read before a tenant is known) and foundation tenant tables.

Unscoped, by design: :class:`Tenant`, :class:`Membership`, :class:`ApiClient`,
:class:`LoginAttempt` (plus Django's users and sessions). Everything else is a
:class:`~core.tenancy.TenantModel`.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from core.sorting import NaturalSortKeyField
from core.temporal import EffectiveDated, dates_ordered
from core.tenancy import TenantModel

# The tenant table lives beneath core.tenancy (which holds the current one); these names are
# imported from here by everyone else.
from core.tenant import SLUG, RoundingMode, Tenant, validate_time_zone

__all__ = [
    "API_SCOPES",
    "SLUG",
    "TOKEN_PREFIX",
    "ApiClient",
    "AuditEvent",
    "Change",
    "ChangeKind",
    "IdempotencyRecord",
    "LoginAttempt",
    "Membership",
    "Role",
    "RoundingMode",
    "Tenant",
    "hash_secret",
    "model_snapshot",
    "validate_time_zone",
]


class Role(models.TextChoices):
    """Roles of access inside a tenant (not job roles; those are people's roles)."""

    TENANT_ADMIN = "tenant_admin", "Tenant admin"
    COMP_ADMIN = "comp_admin", "Comp admin"
    FINANCE = "finance", "Finance"
    EXECUTIVE = "executive", "Executive"
    MANAGER = "manager", "Manager"
    EMPLOYEE = "employee", "Employee"


class Membership(models.Model):
    """A user's access to one tenant, with one or more roles. Platform table."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    # The name this tenant gave the person when inviting them. Users are shared by tenants;
    # the user's own name may come from another tenant's invitation and is never shown here.
    full_name = models.CharField(max_length=200, blank=True)
    roles = models.JSONField(default=list)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user"], name="membership_unique_user"),
        ]
        ordering = ["tenant__name"]

    def __str__(self) -> str:
        return f"{self.user} @ {self.tenant.slug}"

    def clean(self) -> None:
        valid = set(Role.values)
        if not self.roles:
            raise ValidationError({"roles": "Choose at least one role."})
        unknown = [r for r in self.roles if r not in valid]
        if unknown:
            raise ValidationError({"roles": f"Unknown role(s): {', '.join(unknown)}."})

    def role_labels(self) -> list[str]:
        labels = dict(Role.choices)
        return [str(labels.get(r, r)) for r in self.roles]


API_SCOPES: dict[str, str] = {
    "read:people": "Read people, hierarchies and assignments",
    "write:people": "Import and change people and assignments",
    "read:plans": "Read plans and quotas",
    "write:plans": "Create, edit, publish and assign plans",
    "write:transactions": "Import transactions and KPI values",
    "read:transactions": "Read transactions and credits",
    "read:payouts": "Read payout runs, lines and ledger",
    "write:payouts": "Approve runs and record exports",
    "write:runs": "Start and retry calculation runs",
    "write:exports": "Create finance export batches, download their files, mark them paid",
    "read:audit": "Read the audit log",
}


TOKEN_PREFIX = "qtk_"  # noqa: S105 (a public prefix, not a secret)


def hash_secret(secret: str) -> str:
    """Return the stored form of an API client secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiClient(models.Model):
    """Machine credentials for one tenant. Platform table: read to authenticate a request.

    The token is ``qtk_<key_id>_<secret>``; only a SHA-256 of the secret is stored (the secret is
    256 bits of randomness, so a slow hash adds nothing), and it is shown once at creation.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_clients")
    name = models.CharField(max_length=100)
    key_id = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    scopes = models.JSONField(default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="apiclient_unique_name"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_id})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def clean(self) -> None:
        unknown = [s for s in self.scopes if s not in API_SCOPES]
        if unknown:
            raise ValidationError({"scopes": f"Unknown scope(s): {', '.join(unknown)}."})


class AttemptKind(models.TextChoices):
    LOGIN_FAILURE = "login", "Failed sign-in"
    PASSWORD_RESET = "password_reset", "Password reset request"


class LoginAttempt(models.Model):
    """One failed sign-in or one password-reset request, for throttling. Platform table.

    ``username`` is the account key of :func:`core.auth.account_key`: the account's normalised
    e-mail when the typed name belongs to one, else the typed name normalised.
    """

    kind = models.CharField(max_length=20, choices=AttemptKind.choices, default="login")
    username = models.CharField(max_length=254)
    ip_address = models.GenericIPAddressField(null=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        indexes = [
            models.Index(fields=["kind", "username", "created_at"], name="login_attempt_account"),
            models.Index(fields=["kind", "ip_address", "created_at"], name="login_attempt_ip"),
        ]

    def __str__(self) -> str:
        return f"{self.username} from {self.ip_address}"


class AuditEvent(TenantModel):
    """One mutating action. Append-only: the database refuses UPDATE and DELETE."""

    created_at = models.DateTimeField()
    # DO_NOTHING without a database constraint: audit rows are never rewritten, so deleting a
    # user or client must not cascade into them (the label keeps who it was).
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_constraint=False,
    )
    actor_api_client = models.ForeignKey(
        ApiClient,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_constraint=False,
    )
    actor_label = models.CharField(max_length=200, blank=True)
    action = models.CharField(max_length=100)
    object_type = models.CharField(max_length=100)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "-created_at"], name="audit_tenant_time"),
            models.Index(fields=["tenant", "object_type", "object_id"], name="audit_tenant_obj"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.object_type}:{self.object_id}"


class IdempotencyRecord(TenantModel):
    """The first response to a mutating API call made with an ``Idempotency-Key`` header."""

    principal = models.CharField(max_length=64)
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    request_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField()
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "principal", "key"], name="idempotency_unique_key"
            ),
        ]

    def __str__(self) -> str:
        return self.key


class ChangeKind(models.TextChoices):
    """What kind of write moved pay inputs (the change feed's vocabulary; see core.changes)."""

    CREDIT = "credit", "Credits (from transactions or crediting rules)"
    KPI_VALUE = "kpi_value", "KPI value"
    ASSIGNMENT = "assignment", "Assignment"
    NODE_PARENT = "node_parent", "Place of a node in its hierarchy"
    FX_RATE = "fx_rate", "FX rate"
    QUOTA = "quota", "Quota"
    PLAN_ASSIGNMENT = "plan_assignment", "Plan assignment"
    OBJECTIVE = "objective", "MBO objective (weight or signed-off completion)"


class Change(EffectiveDated):
    """One key of the change feed: a person or node (or, with neither, the whole tenant)
    whose pay inputs changed on the days ``[valid_from, valid_to)`` (``valid_to`` NULL: open).

    Written by :mod:`core.changes` in the transaction of the write it describes; pending until
    a consumer claims it. Many rows are written per import, so the table has only the index
    its reader uses.
    """

    tenant = models.ForeignKey(
        "core.Tenant", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    kind = models.CharField(max_length=32)
    person_id = models.BigIntegerField(null=True, blank=True)
    node_id = models.BigIntegerField(null=True, blank=True)
    recorded_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [dates_ordered(name="change_dates_ordered")]
        indexes = [
            models.Index(
                fields=["tenant", "id"],
                condition=models.Q(claimed_at__isnull=True),
                name="change_pending",
            ),
        ]

    def __str__(self) -> str:
        who = f"person {self.person_id}" if self.person_id else ""
        if self.node_id:
            who = f"{who} node {self.node_id}".strip()
        return f"{self.kind}: {who or 'tenant'} [{self.valid_from}, {self.valid_to})"


def model_snapshot(instance: models.Model, fields: list[str] | None = None) -> dict[str, Any]:
    """Return a JSON-able dict of ``instance``'s concrete fields (for audit before/after)."""
    out: dict[str, Any] = {}
    for field in instance._meta.concrete_fields:
        if fields is not None and field.name not in fields:
            continue
        value = field.value_from_object(instance)
        if field.name in {"password", "secret_hash"} or isinstance(field, NaturalSortKeyField):
            continue  # secrets, and sort keys (derived from another field, not information)
        out[field.attname] = (
            value if isinstance(value, (int, bool, list, dict, type(None))) else str(value)
        )
    return out
