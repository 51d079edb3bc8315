"""People, the period calendar, hierarchies, nodes and assignments (tenant tables)."""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models

from core.currencies import validate_currency
from core.imports import ImportMode, Reason
from core.imports import ImportStatus as KernelStatus
from core.models import Membership
from core.sorting import (
    NaturalSortKeyField,
    bulk_update_with_sort_keys,
    update_with_sort_keys,
    with_sort_keys,
)
from core.temporal import (
    Bitemporal,
    EffectiveDated,
    EffectiveDatedQuerySet,
    Versioned,
    dates_ordered,
)
from core.tenancy import TenantManager, TenantModel

# --- people, period calendar, hierarchies (issue #3) -------------------------------------------
#
# Dates are half-open ``[valid_from, valid_to)``; ``valid_to`` NULL means open-ended. Rows that
# describe the org (parent links, assignments) are bitemporal (core/temporal.py): ``recorded_at``
# is when Quotient learned the row and ``superseded_at`` when a later change replaced it. A change
# never edits an effective-dated row in place: it supersedes it and inserts the replacement, so a
# closed period can be replayed with the org exactly as it was known (``known_at``).


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


class PersonQuerySet(EffectiveDatedQuerySet):
    """People; ``.as_of(day)`` keeps those employed that day, ``[hire_date, termination_date)``;
    ``update``/``bulk_update`` of a name or employee id update its sort key too."""

    def update(self, **kwargs: Any) -> int:
        return super().update(**update_with_sort_keys(self.model, kwargs))

    def bulk_update(self, objs: Any, fields: Any, batch_size: int | None = None) -> int:
        objs = list(objs)
        keyed = bulk_update_with_sort_keys(self.model, objs, list(fields))
        return super().bulk_update(objs, keyed, batch_size=batch_size)

    valid_from_field = "hire_date"
    valid_to_field = "termination_date"


PersonManager = TenantManager.from_queryset(PersonQuerySet)


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
    home_currency = models.CharField(max_length=3, default="USD", validators=[validate_currency])
    base_salary = models.DecimalField(
        max_digits=settings.DEFAULT_MAX_DIGITS,
        decimal_places=settings.DEFAULT_DECIMAL_PLACES,
        null=True,
        blank=True,
    )
    attributes = models.JSONField(default=dict, blank=True)  # level, location, cost_centre, …
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The natural order of names ("Rep 2" before "Rep 11") as bytes SQL sorts by
    # (core/sorting.py): roll-ups sort and page people in the database. Written from the name and
    # the employee id on every write (save, bulk_create, the import's COPY, update, bulk_update).
    sort_name = NaturalSortKeyField(source="full_name")
    sort_employee_id = NaturalSortKeyField(source="employee_id")

    objects: ClassVar[PersonManager] = PersonManager()

    class Meta:
        ordering = ["full_name", "employee_id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "employee_id"], name="person_unique_empid"),
            models.UniqueConstraint(
                fields=["tenant", "user"],
                condition=models.Q(user__isnull=False),
                name="person_unique_user",
            ),
            dates_ordered(name="person_dates_ordered", start="hire_date", end="termination_date"),
        ]
        indexes = [models.Index(fields=["tenant", "full_name"], name="person_tenant_name")]

    def __str__(self) -> str:
        return f"{self.full_name} ({self.employee_id})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # ``save(update_fields=["full_name"])`` writes the name's sort key with it.
        kwargs["update_fields"] = with_sort_keys(kwargs.get("update_fields"), type(self))
        super().save(*args, **kwargs)


class PersonVersion(Versioned):
    """What a run reads of one :class:`Person` as Quotient knew it (its version log): the
    employment dates and base salary, written at every write of them (``hierarchy/versions.py``),
    superseded, never edited, so a run replays ``known_at`` exactly after a hire-date correction."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="versions")
    hire_date = models.DateField()
    termination_date = models.DateField(null=True, blank=True)
    base_salary = models.DecimalField(
        max_digits=settings.DEFAULT_MAX_DIGITS,
        decimal_places=settings.DEFAULT_DECIMAL_PLACES,
        null=True,
        blank=True,
    )

    class Meta:
        ordering = ["person_id", "recorded_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "person"],
                condition=models.Q(superseded_at__isnull=True),
                name="personversion_current",
            ),
        ]

    def __str__(self) -> str:
        return f"version of person {self.person_id}"


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


class NodeParent(Bitemporal):
    """``node`` sits under ``parent`` (NULL: a root) during ``[valid_from, valid_to)``."""

    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="parent_links")
    parent = models.ForeignKey(
        Node, null=True, blank=True, on_delete=models.CASCADE, related_name="child_links"
    )

    class Meta:
        ordering = ["node_id", "valid_from"]
        constraints = [dates_ordered(name="nodeparent_dates_ordered")]
        indexes = [
            models.Index(fields=["tenant", "node", "valid_from"], name="nodeparent_node"),
            models.Index(fields=["tenant", "parent", "valid_from"], name="nodeparent_parent"),
        ]

    def __str__(self) -> str:
        return f"{self.node_id} -> {self.parent_id} [{self.valid_from}, {self.valid_to})"


class NodeClosure(EffectiveDated):
    """Derived: ``ancestor`` is ``depth`` levels above ``descendant`` during the interval.

    Rebuilt from the current (not superseded) parent links by the service that changes them, so
    "the subtree of N as of D" is one indexed range read. Depth 0 rows are the node itself.
    """

    hierarchy = models.ForeignKey(Hierarchy, on_delete=models.CASCADE, related_name="+")
    ancestor = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="+")
    descendant = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="+")
    depth = models.PositiveSmallIntegerField()

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


class Assignment(Bitemporal):
    """``person`` works in ``node`` as ``role`` at ``allocation_pct`` during the interval."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="assignments")
    node = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="assignments")
    role = models.ForeignKey(JobRole, on_delete=models.PROTECT, related_name="assignments")
    title = models.CharField(max_length=200, blank=True)
    allocation_pct = models.DecimalField(max_digits=5, decimal_places=2, default=100)
    is_manager = models.BooleanField(default=False)

    class Meta:
        ordering = ["valid_from", "id"]
        constraints = [
            dates_ordered(name="assignment_dates_ordered"),
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


# The import kernel's vocabulary (core/imports): one for every import in the tree.
ImportStatus = KernelStatus


class ImportBatch(TenantModel):
    """One HR import (CSV or JSON), its outcome, counts and row-level errors."""

    kind = models.CharField(max_length=12, choices=ImportKind.choices)
    source = models.CharField(max_length=8)  # csv | json
    filename = models.CharField(max_length=255, blank=True)
    content_sha256 = models.CharField(max_length=64)
    dry_run = models.BooleanField(default=False)
    mode = models.CharField(
        max_length=16, choices=ImportMode.choices, default=ImportMode.ALL_OR_NOTHING
    )
    status = models.CharField(max_length=24, choices=ImportStatus.choices)
    reason = models.CharField(max_length=16, choices=Reason.choices, blank=True)
    row_count = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict)  # created / updated / unchanged / errors
    errors = models.JSONField(default=list)  # [{line, column, code, message, value}], first 10k
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
