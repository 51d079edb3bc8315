"""What earns: ingested transactions and KPI values, FX rates, crediting rules and credits.

Transactions are versioned and bitemporal (core/temporal.py): a row is unique per tenant by
(source, external id, version); ``recorded_at`` says when Quotient learned a version and
``superseded_at`` when a newer one replaced it, so the data of a closed period can be replayed
as it was known. Credits are computed by ``engine.crediting`` from the current transactions and
the crediting rules in force, against the org as known at their ``computed_at``; a credit dated
in a closed period never changes that period: it is written as a correction credited to the
open period, with ``belongs_to_period`` naming the closed one.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models

from core.currencies import validate_currency
from core.imports import ImportMode, ImportStatus, Reason
from core.temporal import (
    EffectiveDated,
    Versioned,
    VersionedQuerySet,
    known_now_q,
)
from core.tenancy import TenantManager, TenantModel
from hierarchy.models import Node, Period, Person


class TransactionKind(models.TextChoices):
    NEW_BUSINESS = "new_business", "New business"
    EXPANSION = "expansion", "Expansion"
    RENEWAL = "renewal", "Renewal"
    CHURN = "churn", "Churn / downgrade"
    MQL = "mql", "Marketing-qualified lead"
    SQL = "sql", "Sales-qualified lead"
    OPPORTUNITY = "opportunity", "Opportunity"
    MEETING = "meeting", "Meeting"
    PQL = "pql", "Product-qualified lead"
    FEATURE_ADOPTION = "feature_adoption", "Feature adoption"
    SUPPORT_TICKET = "support_ticket", "Support ticket"
    CUSTOM = "custom", "Custom"


# Kinds whose amount may be negative (a churn or downgrade reduces revenue).
NEGATIVE_KINDS = frozenset({TransactionKind.CHURN})


class IngestKind(models.TextChoices):
    TRANSACTIONS = "transactions", "Transactions"
    KPI_VALUES = "kpi_values", "KPI values"
    FX_RATES = "fx_rates", "FX rates"
    CREDITING_RULES = "crediting_rules", "Crediting rules"


# The import kernel's vocabulary (core/imports): one for every import in the tree.
IngestMode = ImportMode
IngestStatus = ImportStatus


class IngestBatch(TenantModel):
    """One upload or API call of transactions or KPI values, with its row-level report."""

    kind = models.CharField(max_length=16, choices=IngestKind.choices)
    source_format = models.CharField(max_length=8)  # csv | json
    filename = models.CharField(max_length=255, blank=True)
    mapping = models.CharField(max_length=100, blank=True)
    mode = models.CharField(
        max_length=16, choices=IngestMode.choices, default=IngestMode.ALL_OR_NOTHING
    )
    dry_run = models.BooleanField(default=False)
    status = models.CharField(
        max_length=24, choices=IngestStatus.choices, default=IngestStatus.PENDING
    )
    reason = models.CharField(max_length=16, choices=Reason.choices, blank=True)
    content_sha256 = models.CharField(max_length=64, blank=True)
    size_bytes = models.BigIntegerField(default=0)
    rows_total = models.PositiveIntegerField(default=0)
    rows_processed = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True)  # created, new_version, unchanged, …
    error_count = models.PositiveIntegerField(default=0)
    message = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    # Renewed by the importing process at each chunk; the sweeper fails a validating batch
    # whose heartbeat stopped (its worker died).
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "-created_at"], name="ingest_tenant_time")]

    def __str__(self) -> str:
        return f"{self.kind} {self.filename or self.source_format} #{self.pk}"


class IngestError(TenantModel):
    """One problem with one row (line 1 is the header) of an ingest batch."""

    batch = models.ForeignKey(IngestBatch, on_delete=models.CASCADE, related_name="errors")
    line = models.PositiveIntegerField()
    column = models.CharField(max_length=100, blank=True)
    code = models.CharField(max_length=40)
    message = models.CharField(max_length=500)
    value = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["line", "id"]
        indexes = [models.Index(fields=["tenant", "batch", "line"], name="ingest_error_line")]

    def __str__(self) -> str:
        return f"line {self.line} {self.column}: {self.code}"


class ColumnMapping(TenantModel):
    """A saved mapping of a file's column names to Quotient's fields."""

    name = models.CharField(max_length=100)
    kind = models.CharField(
        max_length=16, choices=IngestKind.choices, default=IngestKind.TRANSACTIONS
    )
    columns = models.JSONField()  # {"Their column": "our_field"}
    defaults = models.JSONField(default=dict, blank=True)  # {"source": "salesforce"}

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="column_mapping_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class FxRate(TenantModel):
    """One unit of ``currency`` is worth ``rate`` units of ``quote_currency`` from ``valid_on``."""

    currency = models.CharField(max_length=3, validators=[validate_currency])
    quote_currency = models.CharField(max_length=3, validators=[validate_currency])
    valid_on = models.DateField()
    rate = models.DecimalField(
        max_digits=settings.RATE_MAX_DIGITS, decimal_places=settings.RATE_DECIMAL_PLACES
    )

    class Meta:
        ordering = ["currency", "quote_currency", "-valid_on"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "currency", "quote_currency", "valid_on"],
                name="fxrate_unique_day",
            ),
            models.CheckConstraint(condition=models.Q(rate__gt=0), name="fxrate_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.currency}/{self.quote_currency} {self.rate} from {self.valid_on}"


# What one unit of a counted (amount-less) transaction is, as pages read it ("1 lead", "3 tickets").
COUNT_UNITS: dict[str, tuple[str, str]] = {
    TransactionKind.MQL: ("lead", "leads"),
    TransactionKind.SQL: ("lead", "leads"),
    TransactionKind.PQL: ("lead", "leads"),
    TransactionKind.OPPORTUNITY: ("opportunity", "opportunities"),
    TransactionKind.MEETING: ("meeting", "meetings"),
    TransactionKind.FEATURE_ADOPTION: ("adoption", "adoptions"),
    TransactionKind.SUPPORT_TICKET: ("ticket", "tickets"),
}


def count_unit(kind: str, quantity: Any) -> str:
    """Return the unit a counted transaction of ``kind`` reads in ("1 lead", "3 tickets")."""
    one, many = COUNT_UNITS.get(kind, ("unit", "units"))
    return one if quantity == 1 else many


class Transaction(Versioned):
    """One version of a deal, lead, ticket or other event that earns.

    Indexes are few on purpose (imports write millions of rows): every lookup is by tenant
    first, so the composite indexes below serve them and the per-FK indexes are left out. The
    foreign keys are checked once per statement, not per row, by triggers on PostgreSQL
    (``db_constraint=False``; ``core.db.SetBasedForeignKeys``, migration 0004): a dangling
    reference is still refused, with SQLSTATE 23503. SQLite keeps ordinary foreign keys.
    """

    tenant = models.ForeignKey(
        "core.Tenant",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,  # checked set-based: see the class docstring
    )
    source = models.CharField(max_length=50)
    external_id = models.CharField(max_length=100)
    version = models.PositiveIntegerField(default=1)
    kind = models.CharField(max_length=20, choices=TransactionKind.choices)
    amount = models.DecimalField(max_digits=20, decimal_places=4)
    currency = models.CharField(max_length=3, validators=[validate_currency])
    quantity = models.DecimalField(max_digits=20, decimal_places=4, default=1)
    booked_on = models.DateField()
    closed_on = models.DateField(null=True, blank=True)
    collected_on = models.DateField(null=True, blank=True)
    owner = models.ForeignKey(
        Person,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="transactions",
        db_index=False,
        db_constraint=False,
    )
    account = models.CharField(max_length=200, blank=True)
    product = models.CharField(max_length=200, blank=True)
    region = models.CharField(max_length=100, blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    # [{"person_id": 12, "role": "sdr", "at": "2026-01-03", "share_pct": "40"}]
    touches = models.JSONField(default=list, blank=True)
    is_cancelled = models.BooleanField(default=False)
    content_hash = models.CharField(max_length=64)
    batch = models.ForeignKey(
        IngestBatch,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="transactions",
        db_constraint=False,
    )

    class Meta:
        ordering = ["-booked_on", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "source", "external_id", "version"],
                name="transaction_unique_version",
            ),
            models.UniqueConstraint(
                fields=["tenant", "source", "external_id"],
                condition=known_now_q(),
                name="transaction_one_current",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "booked_on"], name="transaction_booked"),
            # (tenant, owner) alone: an owner's rows are read and sorted (the list's filter);
            # booked_on in the key was upkeep on every import INSERT for no faster plan
            # (docs/imports.md "The indexes, decided").
            models.Index(fields=["tenant", "owner"], name="transaction_by_owner"),
        ]

    def __str__(self) -> str:
        return f"{self.source}:{self.external_id} v{self.version}"

    @property
    def count_unit(self) -> str:
        """The unit of a counted (amount-less) row ("meeting", "tickets"); "" for an amount."""
        return "" if self.amount else count_unit(self.kind, self.quantity)

    @property
    def is_current(self) -> bool:
        return self.superseded_at is None


class KpiSubject(models.TextChoices):
    PERSON = "person", "Person"
    NODE = "node", "Team / node"
    ACCOUNT = "account", "Account"
    TENANT = "tenant", "Whole company"


class KpiStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SIGNED_OFF = "signed_off", "Signed off"


class KpiValue(Versioned):
    """A non-sales metric's value for a subject and period (NRR, CSAT, adoption, OTIF, …)."""

    metric = models.CharField(max_length=64)
    subject_type = models.CharField(max_length=8, choices=KpiSubject.choices)
    person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.PROTECT, related_name="kpi_values"
    )
    node = models.ForeignKey(
        Node, null=True, blank=True, on_delete=models.PROTECT, related_name="kpi_values"
    )
    account = models.CharField(max_length=200, blank=True)
    # "person:<id>", "node:<id>", "account:<name>" or "tenant": one key for uniqueness.
    subject_key = models.CharField(max_length=220)
    period = models.ForeignKey(Period, on_delete=models.PROTECT, related_name="kpi_values")
    value = models.DecimalField(max_digits=20, decimal_places=6)
    source = models.CharField(max_length=50, blank=True)
    owner = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="owned_kpis"
    )
    status = models.CharField(max_length=12, choices=KpiStatus.choices, default=KpiStatus.DRAFT)
    signed_off_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    signed_off_at = models.DateTimeField(null=True, blank=True)
    batch = models.ForeignKey(
        IngestBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="kpi_values"
    )

    class Meta:
        ordering = ["metric", "period__start"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "metric", "subject_key", "period"],
                condition=known_now_q(),
                name="kpi_one_current",
            ),
        ]
        indexes = [models.Index(fields=["tenant", "metric", "period"], name="kpi_metric_period")]

    def __str__(self) -> str:
        return f"{self.metric}={self.value}"

    @property
    def subject_label(self) -> str:
        if self.subject_type == KpiSubject.PERSON and self.person_id:
            return str(self.person)
        if self.subject_type == KpiSubject.NODE and self.node_id:
            return str(self.node)
        if self.subject_type == KpiSubject.ACCOUNT:
            return self.account
        return "Whole company"


class RuleKind(models.TextChoices):
    DIRECT = "direct", "Direct to owner"
    SPLIT = "split", "Splits among participants"
    ROLLUP = "rollup", "Roll-up to managers"
    TERRITORY = "territory", "Territory / attribute rule"
    ATTRIBUTION = "attribution", "Multi-touch attribution"


# Rules of one family compete for a transaction: the first by priority claims it and any other
# that matches is reported as a conflict. Roll-ups build on the others' credits.
RULE_FAMILY = {
    RuleKind.DIRECT: "revenue",
    RuleKind.SPLIT: "revenue",
    RuleKind.TERRITORY: "revenue",
    RuleKind.ATTRIBUTION: "attribution",
    RuleKind.ROLLUP: "rollup",
}


class CreditingRule(EffectiveDated):
    """An ordered, effective-dated crediting rule; its parameters live in ``config``.

    config by kind: direct ``{}``; split ``{"roles": ["split"]}`` (touches with a share_pct);
    rollup ``{"hierarchy": "<code>"}``; territory ``{"attribute": "region",
    "map": {"EMEA": {"node": "<code>"} | {"employee_id": "E1"}}}``; attribution
    ``{"model": "w_shaped", "roles": ["marketing", "sdr", "ae", "csm"], "weights": {...}}``.
    """

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=12, choices=RuleKind.choices)
    priority = models.PositiveIntegerField(default=100)
    transaction_kinds = models.JSONField(default=list, blank=True)  # empty = all kinds
    config = models.JSONField(default=dict, blank=True)
    version = models.PositiveIntegerField(default=1)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["priority", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="crediting_rule_unique_name")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def family(self) -> str:
        return RULE_FAMILY[RuleKind(self.kind)]


class CreditKind(models.TextChoices):
    DIRECT = "direct", "Direct"
    SPLIT = "split", "Split"
    ROLLUP = "rollup", "Roll-up (indirect)"
    ATTRIBUTION = "attribution", "Attribution"


class CreditQuerySet(VersionedQuerySet):
    """Credits by knowledge time: a credit was recorded when it was computed."""

    recorded_field = "computed_at"


CreditManager = TenantManager.from_queryset(CreditQuerySet)


class Credit(TenantModel):
    """Who got credit for a transaction, how much, by which rule (and which version of it).

    ``computed_at`` is also the moment whose knowledge the computation read (transactions and
    org as known then), so ``incentives.crediting.credits_replay(known_at=computed_at)``
    reproduces it. Like transactions, credits are written by the million, so only the indexes
    their reads use exist: (tenant, person), (tenant, transaction) and the period.
    Their foreign keys are checked set-based on PostgreSQL, as the transactions' are.
    """

    tenant = models.ForeignKey(
        "core.Tenant",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,  # checked set-based: see the class docstring
    )
    transaction = models.ForeignKey(
        Transaction,
        on_delete=models.PROTECT,
        related_name="credits",
        db_index=False,
        db_constraint=False,
    )
    person = models.ForeignKey(
        Person,
        on_delete=models.PROTECT,
        related_name="credits",
        db_index=False,
        db_constraint=False,
    )
    rule = models.ForeignKey(
        CreditingRule,
        on_delete=models.PROTECT,
        related_name="credits",
        db_index=False,
        db_constraint=False,
    )
    rule_version = models.PositiveIntegerField()
    kind = models.CharField(max_length=12, choices=CreditKind.choices)
    share_ppm = models.PositiveIntegerField()
    amount = models.DecimalField(max_digits=20, decimal_places=4)
    currency = models.CharField(max_length=3)
    credit_date = models.DateField()
    period = models.ForeignKey(
        Period,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="credits",
        db_constraint=False,
    )
    is_correction = models.BooleanField(default=False)
    belongs_to_period = models.ForeignKey(
        Period,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    computed_at = models.DateTimeField()
    superseded_at = models.DateTimeField(null=True, blank=True)
    # Crediting transforms (engine/crediting.py): the rule's multiplier, already applied to
    # ``amount``, and the baseline it took off the deal first (null: none).
    multiplier = models.DecimalField(max_digits=12, decimal_places=6, default=1, db_default=1)
    baseline = models.DecimalField(max_digits=20, decimal_places=4, null=True, blank=True)

    objects: ClassVar[CreditManager] = CreditManager()

    class Meta:
        ordering = ["-credit_date", "id"]
        indexes = [
            # (tenant, person): the reads by person filter on the date (runs) or sort by it
            # (lists); the period in the key was INSERT upkeep no reader's plan used.
            models.Index(fields=["tenant", "person"], name="credit_by_person"),
            models.Index(fields=["tenant", "transaction"], name="credit_transaction"),
        ]

    def __str__(self) -> str:
        return f"{self.person} {self.share_ppm / 10_000:.2f}% of {self.transaction}"

    @property
    def share_pct(self) -> Any:
        from decimal import Decimal

        return Decimal(self.share_ppm) / Decimal(10_000)


class CreditRollup(TenantModel):
    """A manager's roll-up total: the revenue credits of the people below them, summed.

    Roll-ups are stored as totals, not as one copy of each credit per manager above it (at a
    million deals and a 5-level org that was six million rows): one row per (manager, rule,
    day, transaction kind, region, product, currency), with ``credit_count`` the credits it
    stands for. Which credits reached a manager is worked out when it is read
    (``incentives.selectors.rollup_reach``). A total dated in a closed period never changes;
    a correction credit of a member (dated in the open period) rolls up in the open period, as
    every other credit does.
    """

    tenant = models.ForeignKey(
        "core.Tenant",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    person = models.ForeignKey(
        Person, on_delete=models.PROTECT, related_name="credit_rollups", db_index=False
    )
    rule = models.ForeignKey(
        CreditingRule, on_delete=models.PROTECT, related_name="rollups", db_index=False
    )
    rule_version = models.PositiveIntegerField()
    credit_date = models.DateField()
    transaction_kind = models.CharField(max_length=20, choices=TransactionKind.choices)
    region = models.CharField(max_length=100, blank=True)
    product = models.CharField(max_length=200, blank=True)
    amount = models.DecimalField(max_digits=20, decimal_places=4)
    currency = models.CharField(max_length=3)
    credit_count = models.IntegerField()
    period = models.ForeignKey(
        Period, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    computed_at = models.DateTimeField()
    superseded_at = models.DateTimeField(null=True, blank=True)

    objects: ClassVar[CreditManager] = CreditManager()

    class Meta:
        ordering = ["-credit_date", "id"]
        indexes = [
            models.Index(fields=["tenant", "person", "credit_date"], name="rollup_person_day"),
            models.Index(fields=["tenant", "rule", "credit_date"], name="rollup_rule_day"),
        ]

    def __str__(self) -> str:
        return f"{self.person} roll-up {self.amount} {self.currency} on {self.credit_date}"
