"""Plans, their versions and who is on which (tenant tables).

A :class:`Plan` is the stable name a comp admin works on ("Sales AE 2026"); its
:class:`PlanVersion` rows hold the specs in the plan language (``engine/``; docs/plan-language.md).
A version is a **draft** until it is published; a published version is immutable: the
services refuse to change it, and a database trigger (``plans/db.py``, installed by migration
0001 on PostgreSQL and SQLite) refuses any UPDATE of its spec, number, plan or effective start
and any DELETE, so not even raw SQL rewrites what people were paid on. Editing a published
version makes a new draft. A published version is in force ``[valid_from, valid_to)``
(core/temporal.py); publishing a successor ends its predecessor the day the successor starts,
which is the one change the trigger lets through.

A :class:`PlanAssignment` puts a published version on a person, a job role or a node,
effective-dated, with a target incentive (variable pay at target) and its currency.

A :class:`Quota` is the target a person or a node holds on one quota id of the plan language
(a component's ``quota:``, or its measure id) for ``[valid_from, valid_to)``: a period or a plan
year. One holder has at most one quota per id on any day (the services refuse an overlap by
name); ``plans.selectors.quota_frame`` reads them in the engine's ``QUOTA_COLUMNS`` shape.

A :class:`PlanCase` is a worked case a version carries: sample inputs in the engine's readable
format (``engine.loader.inputs_from_mapping``) and the payout they must give, exactly
(``plans/cases.py`` runs them; publishing refuses while one fails). A new draft copies the cases
of the version it is based on.

A :class:`PlanAcknowledgement` records that a person read and accepted the plan document of one
published version (its spec hash, when, by which user, from which address). It is append-only:
a new version asks again.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.currencies import validate_currency
from core.temporal import Bitemporal, EffectiveDated, Versioned, dates_ordered
from core.tenancy import TenantModel
from hierarchy.models import JobFunction, JobRole, Node, Person


class Plan(TenantModel):
    """A compensation plan: a name, a function, and its versions."""

    code = models.SlugField(max_length=64, help_text="Short stable id, e.g. sales-ae-2026")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    function = models.CharField(
        max_length=20, choices=JobFunction.choices, default=JobFunction.OTHER
    )
    template = models.CharField(max_length=64, blank=True, help_text="The template it came from")
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    archived_at = models.DateTimeField(null=True, blank=True)
    archived_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "code"], name="plan_unique_code")]

    def __str__(self) -> str:
        return self.name


class VersionStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"


class PlanVersion(EffectiveDated):
    """One version of a plan's spec; ``valid_from`` is proposed on a draft, fixed on publish."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    status = models.CharField(
        max_length=10, choices=VersionStatus.choices, default=VersionStatus.DRAFT
    )
    source = models.TextField(help_text="The spec as written (YAML or JSON), comments kept")
    spec = models.JSONField(help_text="The parsed spec the engine reads")
    spec_hash = models.CharField(max_length=64)
    based_on = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField()
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["plan_id", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "plan", "number"], name="planversion_unique_number"
            ),
            # One draft per plan at a time: "edit" always means that draft.
            models.UniqueConstraint(
                fields=["tenant", "plan"],
                condition=Q(status="draft"),
                name="planversion_one_draft",
            ),
            models.CheckConstraint(
                condition=Q(status="draft") | Q(published_at__isnull=False),
                name="planversion_published_has_time",
            ),
            dates_ordered(name="planversion_dates_ordered"),
        ]

    def __str__(self) -> str:
        return f"{self.plan} v{self.number}"

    @property
    def is_published(self) -> bool:
        return self.status == VersionStatus.PUBLISHED


class PlanAssignment(EffectiveDated):
    """A published plan version on exactly one of a person, a job role or a node."""

    plan_version = models.ForeignKey(
        PlanVersion, on_delete=models.PROTECT, related_name="assignments"
    )
    # Denormalised from the version so "one plan per holder at a time" is one indexed query.
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="assignments")
    person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.PROTECT, related_name="plan_assignments"
    )
    role = models.ForeignKey(
        JobRole, null=True, blank=True, on_delete=models.PROTECT, related_name="plan_assignments"
    )
    node = models.ForeignKey(
        Node, null=True, blank=True, on_delete=models.PROTECT, related_name="plan_assignments"
    )
    target_incentive = models.DecimalField(
        max_digits=settings.DEFAULT_MAX_DIGITS, decimal_places=settings.DEFAULT_DECIMAL_PLACES
    )
    currency = models.CharField(max_length=3, validators=[validate_currency])
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["valid_from", "id"]
        constraints = [
            dates_ordered(name="planassignment_dates_ordered"),
            models.CheckConstraint(
                condition=(
                    Q(person__isnull=False, role__isnull=True, node__isnull=True)
                    | Q(person__isnull=True, role__isnull=False, node__isnull=True)
                    | Q(person__isnull=True, role__isnull=True, node__isnull=False)
                ),
                name="planassignment_one_holder",
            ),
            models.CheckConstraint(
                condition=Q(target_incentive__gte=0), name="planassignment_ti_not_negative"
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "plan", "valid_from"], name="planassign_plan"),
            models.Index(fields=["tenant", "person", "valid_from"], name="planassign_person"),
            models.Index(fields=["tenant", "node", "valid_from"], name="planassign_node"),
        ]

    def __str__(self) -> str:
        return f"{self.plan_version} -> {self.holder_label}"

    @property
    def holder_kind(self) -> str:
        if self.person_id is not None:
            return "person"
        if self.role_id is not None:
            return "role"
        return "node"

    @property
    def holder_label(self) -> str:
        """The holder as a sentence names it: "Erin East", "job role Account Executive",
        "team Sales West"."""
        if self.person_id is not None:
            return str(self.person)
        if self.role_id is not None:
            return f"job role {self.role}"
        return f"team {self.node}"


class Quota(EffectiveDated):
    """A person's or a node's quota on one quota id for ``[valid_from, valid_to)`` (closed)."""

    person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.PROTECT, related_name="quotas"
    )
    node = models.ForeignKey(
        Node, null=True, blank=True, on_delete=models.PROTECT, related_name="quotas"
    )
    quota_id = models.CharField(
        max_length=64,
        help_text="The quota id the plan spec names (a component's quota: or measure)",
    )
    # Optional: the plan whose spec reads this quota id (pages list quotas by plan; the upload
    # checks the id against that plan's spec). The engine keys quotas by holder and id only.
    plan = models.ForeignKey(
        Plan, null=True, blank=True, on_delete=models.PROTECT, related_name="quotas"
    )
    amount = models.DecimalField(
        max_digits=settings.DEFAULT_MAX_DIGITS, decimal_places=settings.DEFAULT_DECIMAL_PLACES
    )
    currency = models.CharField(max_length=3, validators=[validate_currency])
    # A quota always covers a bounded span (a period or a plan year): an open-ended quota has no
    # amount per period to speak of.
    valid_to = models.DateField(help_text="Exclusive.")
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["quota_id", "valid_from", "id"]
        constraints = [
            dates_ordered(name="quota_dates_ordered"),
            models.CheckConstraint(
                condition=(
                    Q(person__isnull=False, node__isnull=True)
                    | Q(person__isnull=True, node__isnull=False)
                ),
                name="quota_one_holder",
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="quota_not_negative"),
        ]
        indexes = [
            models.Index(fields=["tenant", "valid_from", "valid_to"], name="quota_dates"),
            models.Index(fields=["tenant", "person", "quota_id"], name="quota_person"),
            models.Index(fields=["tenant", "node", "quota_id"], name="quota_node"),
            models.Index(fields=["tenant", "plan", "valid_from"], name="quota_plan"),
        ]

    def __str__(self) -> str:
        return f"{self.holder_label} {self.quota_id} {self.amount} {self.currency}"

    @property
    def holder_kind(self) -> str:
        return "person" if self.person_id is not None else "node"

    @property
    def holder_label(self) -> str:
        """The holder as a sentence names it: "Erin East", "team Sales West"."""
        return str(self.person) if self.person_id is not None else f"team {self.node}"


class PlanAssignmentVersion(Bitemporal):
    """What a run reads of one :class:`PlanAssignment` as Quotient knew it (its version log):
    written by the services at every write of the assignment (``plans/versions.py``), superseded,
    never edited, so a run replays ``known_at`` exactly after its end date was changed."""

    assignment = models.ForeignKey(
        PlanAssignment, on_delete=models.CASCADE, related_name="versions"
    )
    plan_version = models.ForeignKey(PlanVersion, on_delete=models.CASCADE, related_name="+")
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="+")
    person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    role = models.ForeignKey(
        JobRole, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    node = models.ForeignKey(
        Node, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    target_incentive = models.DecimalField(
        max_digits=settings.DEFAULT_MAX_DIGITS, decimal_places=settings.DEFAULT_DECIMAL_PLACES
    )
    currency = models.CharField(max_length=3)

    class Meta:
        ordering = ["assignment_id", "recorded_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "assignment"],
                condition=Q(superseded_at__isnull=True),
                name="planassignmentversion_current",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "valid_from", "valid_to"], name="pav_dates"),
            models.Index(fields=["tenant", "person", "valid_from"], name="pav_person"),
        ]

    def __str__(self) -> str:
        return f"version of plan assignment {self.assignment_id}"


class QuotaVersion(Bitemporal):
    """What a run reads of one :class:`Quota` as Quotient knew it (its version log); as
    :class:`PlanAssignmentVersion`. ``quota_row`` is the live quota (its ``quota_id`` is the
    plan language's id)."""

    quota_row = models.ForeignKey(Quota, on_delete=models.CASCADE, related_name="versions")
    person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    node = models.ForeignKey(
        Node, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    quota_id = models.CharField(max_length=64)
    amount = models.DecimalField(
        max_digits=settings.DEFAULT_MAX_DIGITS, decimal_places=settings.DEFAULT_DECIMAL_PLACES
    )
    currency = models.CharField(max_length=3)

    class Meta:
        ordering = ["quota_row_id", "recorded_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "quota_row"],
                condition=Q(superseded_at__isnull=True),
                name="quotaversion_current",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "valid_from", "valid_to"], name="quotaversion_dates"),
            models.Index(fields=["tenant", "person", "quota_id"], name="quotaversion_person"),
        ]

    def __str__(self) -> str:
        return f"version of quota {self.quota_row_id}"


class PlanAcknowledgement(TenantModel):
    """A person's "I acknowledge" of one published plan version's document."""

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="acknowledgements")
    plan_version = models.ForeignKey(
        PlanVersion, on_delete=models.PROTECT, related_name="acknowledgements"
    )
    # Denormalised from the version so "who has acknowledged plan P" is one indexed query.
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="acknowledgements")
    spec_hash = models.CharField(max_length=64, help_text="The version's spec hash, as read")
    acknowledged_at = models.DateTimeField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-acknowledged_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "person", "plan_version"], name="planack_once_per_version"
            ),
        ]
        indexes = [models.Index(fields=["tenant", "plan", "person"], name="planack_plan")]

    def __str__(self) -> str:
        return f"{self.person} acknowledged {self.plan_version}"


class PlanCase(TenantModel):
    """A worked case of one version: inputs -> the payout one payee must get (exact Decimal)."""

    plan_version = models.ForeignKey(PlanVersion, on_delete=models.CASCADE, related_name="cases")
    name = models.CharField(max_length=200)
    person = models.CharField(
        max_length=64,
        blank=True,
        help_text="The payee whose payout is expected (blank: the one person on this plan)",
    )
    inputs_source = models.TextField(help_text="The inputs as written (YAML or JSON)")
    inputs = models.JSONField(help_text="The parsed inputs the engine reads")
    expected_total = models.DecimalField(
        max_digits=settings.DEFAULT_MAX_DIGITS, decimal_places=settings.DEFAULT_DECIMAL_PLACES
    )
    # {component id: amount as text}; only the components named are checked one by one.
    expected_components = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["plan_version_id", "name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "plan_version", "name"], name="plancase_unique_name"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.plan_version}: {self.name}"


# --- MBO objectives (plans/objectives.py writes them; docs/objectives.md) ----------------------


class ObjectiveStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SET = "set", "Set (agreed)"
    SUBMITTED = "submitted", "Completion submitted"
    SIGNED_OFF = "signed_off", "Signed off"


class Objective(TenantModel):
    """One person's objective for one period: a title, a weight (% of its group) and, later, a
    completion % that a manager signs off. Linked to a plan's ``mbo`` component (``plan`` and
    ``component``), whose payout it feeds, or ad hoc (both empty), tracked only.

    ``draft`` → ``set`` (agreed: the group's weights sum to 100 %) → ``submitted`` (completion
    entered) → ``signed_off`` (by whom, when). ``reopened_*`` keeps the last reopening's reason.
    """

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="objectives")
    period = models.ForeignKey(
        "hierarchy.Period", on_delete=models.PROTECT, related_name="objectives"
    )
    plan = models.ForeignKey(
        Plan, null=True, blank=True, on_delete=models.PROTECT, related_name="objectives"
    )
    component = models.CharField(
        max_length=64, blank=True, help_text="The plan's mbo component id; empty: ad hoc"
    )
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    weight = models.DecimalField(max_digits=5, decimal_places=2, help_text="% of its group")
    completion = models.DecimalField(
        max_digits=5, decimal_places=2, null=True, blank=True, help_text="% complete"
    )
    status = models.CharField(
        max_length=12, choices=ObjectiveStatus.choices, default=ObjectiveStatus.DRAFT
    )
    comment = models.TextField(blank=True, help_text="The person's own comment")
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField()
    set_at = models.DateTimeField(null=True, blank=True)
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    signed_off_at = models.DateTimeField(null=True, blank=True)
    signed_off_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reopened_at = models.DateTimeField(null=True, blank=True)
    reopened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reopen_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["period__start", "person_id", "plan_id", "component", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(weight__gt=0) & Q(weight__lte=100), name="objective_weight_range"
            ),
            models.CheckConstraint(
                condition=Q(completion__isnull=True)
                | (Q(completion__gte=0) & Q(completion__lte=200)),
                name="objective_completion_range",
            ),
            models.CheckConstraint(
                condition=(Q(plan__isnull=True) & Q(component=""))
                | (Q(plan__isnull=False) & ~Q(component="")),
                name="objective_linked_or_ad_hoc",
            ),
            models.CheckConstraint(
                condition=~Q(status="signed_off") | Q(signed_off_at__isnull=False),
                name="objective_signed_off_has_time",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "period", "person"], name="objective_period_person"),
            models.Index(fields=["tenant", "period", "status"], name="objective_period_status"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_linked(self) -> bool:
        return self.plan_id is not None


class ObjectiveScore(Versioned):
    """What a calculation reads of one agreed, plan-linked objective: its weight and, once signed
    off, its completion (NULL: not signed off). Written by the services at every change that
    matters to pay, superseded (never updated otherwise) so a run replays ``known_at`` exactly."""

    objective = models.ForeignKey(Objective, on_delete=models.PROTECT, related_name="scores")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    period = models.ForeignKey("hierarchy.Period", on_delete=models.PROTECT, related_name="+")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="+")
    component = models.CharField(max_length=64)
    weight = models.DecimalField(max_digits=5, decimal_places=2)
    completion = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)

    class Meta:
        ordering = ["objective_id", "recorded_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "objective"],
                condition=Q(superseded_at__isnull=True),
                name="objectivescore_one_current",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "period", "person"], name="objectivescore_period"),
        ]

    def __str__(self) -> str:
        return f"score of objective {self.objective_id}"
