"""Platform tables (unscoped: read before a tenant is known) and foundation tenant tables.

Unscoped, by design: :class:`Tenant`, :class:`Membership`, :class:`ApiClient`,
:class:`LoginAttempt` (plus Django's users and sessions). Everything else is a
:class:`~hierarchy.tenancy.TenantModel`.
"""

from __future__ import annotations

import zoneinfo
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models

from hierarchy.tenancy import TenantModel

ISO_4217 = RegexValidator(r"^[A-Z]{3}$", "Use a three-letter ISO 4217 code, e.g. USD.")
SLUG = RegexValidator(
    r"^[a-z0-9][a-z0-9-]{1,48}[a-z0-9]$", "3-50 lowercase letters, digits and dashes."
)


class RoundingMode(models.TextChoices):
    HALF_UP = "half_up", "Half up"
    HALF_EVEN = "half_even", "Half even (banker's)"
    DOWN = "down", "Toward zero"
    UP = "up", "Away from zero"
    FLOOR = "floor", "Floor"
    CEILING = "ceiling", "Ceiling"


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone.")


class Tenant(models.Model):
    """A company using Quotient. Platform table."""

    slug = models.CharField(max_length=50, unique=True, validators=[SLUG])
    name = models.CharField(max_length=200)
    default_currency = models.CharField(max_length=3, default="USD", validators=[ISO_4217])
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    fiscal_year_start_month = models.PositiveSmallIntegerField(
        default=1, choices=[(m, m) for m in range(1, 13)]
    )
    rounding_mode = models.CharField(
        max_length=16, choices=RoundingMode.choices, default=RoundingMode.HALF_UP
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


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
    "write:transactions": "Import transactions and KPI values",
    "read:transactions": "Read transactions and credits",
    "read:payouts": "Read payout runs, lines and ledger",
    "write:payouts": "Approve runs and record exports",
    "read:audit": "Read the audit log",
}


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


class LoginAttempt(models.Model):
    """One failed browser login, for rate limiting. Platform table."""

    username = models.CharField(max_length=254, db_index=True)
    ip_address = models.GenericIPAddressField(null=True, db_index=True)
    created_at = models.DateTimeField(db_index=True)

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

    _QUIET_FIELDS = frozenset({"id", "tenant_id", "created_at", "created_by_id"})

    def changes(self) -> list[tuple[str, Any, Any]]:
        """Return (field, before, after) for the fields this event changed, for people to read."""
        before, after = self.before or {}, self.after or {}
        rows = []
        for key in sorted(set(before) | set(after)):
            if key in self._QUIET_FIELDS or before.get(key) == after.get(key):
                continue
            rows.append((key, before.get(key), after.get(key)))
        return rows


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


def model_snapshot(instance: models.Model, fields: list[str] | None = None) -> dict[str, Any]:
    """Return a JSON-able dict of ``instance``'s concrete fields (for audit before/after)."""
    out: dict[str, Any] = {}
    for field in instance._meta.concrete_fields:
        if fields is not None and field.name not in fields:
            continue
        value = field.value_from_object(instance)
        if field.name in {"password", "secret_hash"}:
            continue
        out[field.attname] = (
            value if isinstance(value, (int, bool, list, dict, type(None))) else str(value)
        )
    return out


# --- people, period calendar, hierarchies (issue #3) -------------------------------------------
#
# Dates are half-open ``[valid_from, valid_to)``; ``valid_to`` NULL means open-ended. Rows that
# describe the org (parent links, assignments) are bitemporal: ``recorded_at`` is when Quotient
# learned the row and ``superseded_at`` when a later change replaced it. A change never edits an
# effective-dated row in place: it supersedes it and inserts the replacement, so a closed period
# can be replayed with the org exactly as it was known (``known_at``).


class PeriodKind(models.TextChoices):
    MONTHLY = "monthly", "Monthly"
    QUARTERLY = "quarterly", "Quarterly"
    ANNUAL = "annual", "Annual"


class PeriodStatus(models.TextChoices):
    OPEN = "open", "Open"
    CALCULATED = "calculated", "Calculated"
    IN_REVIEW = "in_review", "In review"
    APPROVED = "approved", "Approved"
    CLOSED = "closed", "Closed"


class Period(TenantModel):
    """One period of the tenant's fiscal calendar, ``[start, end)``."""

    kind = models.CharField(max_length=10, choices=PeriodKind.choices)
    fiscal_year = models.PositiveSmallIntegerField()
    start = models.DateField()
    end = models.DateField(help_text="Exclusive.")
    label = models.CharField(max_length=40)
    status = models.CharField(
        max_length=12, choices=PeriodStatus.choices, default=PeriodStatus.OPEN
    )
    data_lock_date = models.DateField(
        null=True,
        blank=True,
        help_text="Once the period is closed, incoming data dated before this is refused.",
    )

    class Meta:
        ordering = ["start", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "kind", "start"], name="period_unique_start"),
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")), name="period_end"
            ),
        ]
        indexes = [models.Index(fields=["tenant", "start", "end"], name="period_tenant_dates")]

    def __str__(self) -> str:
        return self.label

    @property
    def days(self) -> int:
        return (self.end - self.start).days


class Person(TenantModel):
    """A payee. ``employee_id`` is the HR system's key, unique within the tenant."""

    employee_id = models.CharField(max_length=64)
    full_name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # HR's manager of record, for display and import checks; visibility and roll-ups use the
    # effective-dated hierarchies, never this column.
    manager = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    hire_date = models.DateField()
    termination_date = models.DateField(
        null=True, blank=True, help_text="First day no longer employed (exclusive end)."
    )
    home_currency = models.CharField(max_length=3, default="USD", validators=[ISO_4217])
    base_salary = models.DecimalField(
        max_digits=settings.DEFAULT_MAX_DIGITS,
        decimal_places=settings.DEFAULT_DECIMAL_PLACES,
        null=True,
        blank=True,
    )
    attributes = models.JSONField(default=dict, blank=True)  # level, location, cost_centre, …
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["full_name", "employee_id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "employee_id"], name="person_unique_empid"),
            models.UniqueConstraint(
                fields=["tenant", "user"],
                condition=models.Q(user__isnull=False),
                name="person_unique_user",
            ),
            models.CheckConstraint(
                condition=models.Q(termination_date__isnull=True)
                | models.Q(termination_date__gt=models.F("hire_date")),
                name="person_dates_ordered",
            ),
        ]
        indexes = [models.Index(fields=["tenant", "full_name"], name="person_tenant_name")]

    def __str__(self) -> str:
        return f"{self.full_name} ({self.employee_id})"


class HierarchyKind(models.TextChoices):
    REPORTING = "reporting", "Reporting"
    BUSINESS_UNIT = "business_unit", "Business unit"
    REGION = "region", "Region / territory"
    FUNCTION = "function", "Function"
    CUSTOM = "custom", "Custom"


class Hierarchy(TenantModel):
    """One of several org structures of a tenant (reporting, business unit, region, …)."""

    code = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=HierarchyKind.choices)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "hierarchies"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "code"], name="hierarchy_unique_code"),
        ]

    def __str__(self) -> str:
        return self.name


class Node(TenantModel):
    """A unit of a hierarchy (team, business unit, region). Its parent is effective-dated."""

    hierarchy = models.ForeignKey(Hierarchy, on_delete=models.CASCADE, related_name="nodes")
    code = models.CharField(max_length=64)
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "hierarchy", "code"], name="node_unique_code"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class NodeParent(TenantModel):
    """``node`` sits under ``parent`` (NULL: a root) during ``[valid_from, valid_to)``."""

    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="parent_links")
    parent = models.ForeignKey(
        Node, null=True, blank=True, on_delete=models.CASCADE, related_name="child_links"
    )
    valid_from = models.DateField()
    valid_to = models.DateField(null=True, blank=True)
    recorded_at = models.DateTimeField()
    superseded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["node_id", "valid_from"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(valid_to__isnull=True)
                | models.Q(valid_to__gt=models.F("valid_from")),
                name="nodeparent_dates_ordered",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "node", "valid_from"], name="nodeparent_node"),
            models.Index(fields=["tenant", "parent", "valid_from"], name="nodeparent_parent"),
        ]

    def __str__(self) -> str:
        return f"{self.node_id} -> {self.parent_id} [{self.valid_from}, {self.valid_to})"


class NodeClosure(TenantModel):
    """Derived: ``ancestor`` is ``depth`` levels above ``descendant`` during the interval.

    Rebuilt from the current (not superseded) parent links by the service that changes them, so
    "the subtree of N as of D" is one indexed range read. Depth 0 rows are the node itself.
    """

    hierarchy = models.ForeignKey(Hierarchy, on_delete=models.CASCADE, related_name="+")
    ancestor = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="+")
    descendant = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="+")
    depth = models.PositiveSmallIntegerField()
    valid_from = models.DateField()
    valid_to = models.DateField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["tenant", "ancestor", "valid_from", "valid_to", "descendant"],
                name="closure_ancestor",
            ),
            models.Index(
                fields=["tenant", "descendant", "valid_from", "valid_to", "ancestor"],
                name="closure_descendant",
            ),
            models.Index(fields=["tenant", "hierarchy"], name="closure_hierarchy"),
        ]

    def __str__(self) -> str:
        return f"{self.ancestor_id} >{self.depth} {self.descendant_id}"


class JobFunction(models.TextChoices):
    SALES = "sales", "Sales"
    MARKETING = "marketing", "Marketing"
    CUSTOMER_SUCCESS = "customer_success", "Customer success"
    SUPPORT = "support", "Support"
    PRODUCT = "product", "Product"
    OPERATIONS = "operations", "Operations"
    MANAGEMENT = "management", "Management"
    OTHER = "other", "Other"


class JobRole(TenantModel):
    """A job role (Account Executive, CSM, …) and its function. Not a role of access."""

    name = models.CharField(max_length=120)
    function = models.CharField(max_length=20, choices=JobFunction.choices)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="jobrole_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name


class Assignment(TenantModel):
    """``person`` works in ``node`` as ``role`` at ``allocation_pct`` during the interval."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="assignments")
    node = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="assignments")
    role = models.ForeignKey(JobRole, on_delete=models.PROTECT, related_name="assignments")
    title = models.CharField(max_length=200, blank=True)
    allocation_pct = models.DecimalField(max_digits=5, decimal_places=2, default=100)
    is_manager = models.BooleanField(default=False)
    valid_from = models.DateField()
    valid_to = models.DateField(null=True, blank=True)
    recorded_at = models.DateTimeField()
    superseded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["valid_from", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(valid_to__isnull=True)
                | models.Q(valid_to__gt=models.F("valid_from")),
                name="assignment_dates_ordered",
            ),
            models.CheckConstraint(
                condition=models.Q(allocation_pct__gt=0) & models.Q(allocation_pct__lte=100),
                name="assignment_allocation_range",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "node", "valid_from", "valid_to"], name="assign_node"),
            models.Index(fields=["tenant", "person", "valid_from"], name="assign_person"),
        ]

    def __str__(self) -> str:
        return f"{self.person_id} @ {self.node_id} [{self.valid_from}, {self.valid_to})"


class MembershipScope(TenantModel):
    """Limits a member with tenant-wide people rights to the subtrees of some nodes.

    A business-unit admin is a comp admin with one scope row on their unit: they see the people
    of that unit only. No rows means no limit.
    """

    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="+")
    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "membership", "node"], name="membershipscope_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.membership_id} limited to {self.node_id}"


class ImportKind(models.TextChoices):
    PEOPLE = "people", "People"
    ASSIGNMENTS = "assignments", "Assignments"
    NODES = "nodes", "Org structure (nodes)"


class ImportStatus(models.TextChoices):
    PREVIEW = "preview", "Dry run"
    APPLIED = "applied", "Applied"
    FAILED = "failed", "Failed"


class ImportBatch(TenantModel):
    """One HR import (CSV or JSON), its outcome, counts and row-level errors."""

    kind = models.CharField(max_length=12, choices=ImportKind.choices)
    source = models.CharField(max_length=8)  # csv | json
    filename = models.CharField(max_length=255, blank=True)
    content_sha256 = models.CharField(max_length=64)
    dry_run = models.BooleanField(default=False)
    status = models.CharField(max_length=8, choices=ImportStatus.choices)
    row_count = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict)  # created / updated / unchanged / errors
    errors = models.JSONField(default=list)  # [{line, column, code, message}], first 1000
    diffs = models.JSONField(default=list)  # first rows' changes, for the preview
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "-created_at"], name="importbatch_time")]

    def __str__(self) -> str:
        return f"{self.kind} import {self.pk} ({self.status})"
