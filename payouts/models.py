"""Calculation runs, their chunks, payout lines and the append-only ledger (tenant tables).

A :class:`CalculationRun` computes one period for the people on a plan during it. It is
executed by Celery workers in chunks of people (:class:`RunChunk`), whose state lives here in
PostgreSQL, never in broker state: Redis may lose everything on restart, so a sweeper re-enqueues
chunks that went stale, and a chunk's lines are written in the same transaction that marks it
done, so a retried chunk writes nothing twice. A run is immutable once it has succeeded (a
database trigger, ``payouts/db.py``); re-running writes a new run.

:class:`PayoutLine` rows are the engine's output lines with their trace, one per (run, person,
plan version, component, kind); they are append-only (database trigger), so a closed period's
lines never change. :class:`LedgerEntry` rows are the money's history (earned, adjustment, draw,
draw recovery, clawback, hold, release, paid), append-only too: a correction to a closed period
is a new entry in an open period that references the original.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.currencies import validate_currency
from core.tenancy import TenantModel
from hierarchy.models import Period, Person
from plans.models import Plan, PlanVersion

MONEY_DIGITS, MONEY_PLACES = 20, 4


class RunKind(models.TextChoices):
    FULL = "full", "Full run"
    LIVE = "live", "Live run (open period, recalculated as data changes)"
    PREVIEW = "preview", "Preview of a draft plan version"


class RunTrigger(models.TextChoices):
    PAGE = "page", "Started from a page"
    API = "api", "Started through the API"
    SCHEDULE = "schedule", "Started by the schedule"
    CHANGE = "change", "Started by a data change"
    DEMO = "demo", "Started by the demo seed"


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class RunPhase(models.TextChoices):
    FETCH = "fetch", "Fetching inputs"
    MEASURE = "measure", "Measuring"
    REDUCE = "reduce", "Pools, gates and roll-ups"
    REWARD = "reward", "Rewarding"
    SETTLE = "settle", "Settling"
    PERSIST = "persist", "Writing lines"
    DONE = "done", "Done"


class CalculationRun(TenantModel):
    """One calculation of one period: its pins, its progress and, once done, its result hash."""

    period = models.ForeignKey(Period, on_delete=models.PROTECT, related_name="runs")
    number = models.PositiveIntegerField(help_text="1, 2, ... within the period")
    kind = models.CharField(max_length=8, choices=RunKind.choices, default=RunKind.FULL)
    trigger = models.CharField(max_length=8, choices=RunTrigger.choices, default=RunTrigger.PAGE)
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED)
    phase = models.CharField(max_length=8, choices=RunPhase.choices, default=RunPhase.FETCH)
    reason = models.TextField(blank=True, help_text="Why the run failed, in words")
    problems = models.JSONField(
        default=list, blank=True, help_text="[{person, plan, code, message}]: every input problem"
    )
    known_at = models.DateTimeField(help_text="The data as Quotient knew it at this instant")
    pins = models.JSONField(
        default=dict, blank=True, help_text="Plan versions, FX rates, rules... the run used"
    )
    result_hash = models.CharField(max_length=64, blank=True)
    people_count = models.PositiveIntegerField(default=0)
    chunk_size = models.PositiveIntegerField(default=500)
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    line_count = models.PositiveIntegerField(default=0)
    totals = models.JSONField(default=dict, blank=True, help_text='{"USD": "1234.5600"}')
    retry_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="retries"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Set when the run is created: it writes a LineSummary per person with its lines (runs
    # written before summaries existed have none and are summed from their lines).
    summarized = models.BooleanField(default=False, db_default=False)

    class Meta:
        ordering = ["period", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "period", "number"], name="run_unique_number"
            ),
        ]
        indexes = [models.Index(fields=["tenant", "status"], name="run_status")]

    def __str__(self) -> str:
        return f"run {self.number} of {self.period_id}"


class ChunkStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class RunChunk(TenantModel):
    """One chunk of people of one phase of a run: the fan-in's state, claimed by one worker.

    ``output`` holds the phase's persisted tables (``engine.phases.tables.dumps``) when a later
    phase needs them (map → reduce → map). A ``fetch`` chunk's ``inputs`` holds the engine
    inputs it gathered (``payouts.chunk_inputs``), which the later phases of the chunk read
    instead of gathering again; cleared when the run ends (a cache, never the record)."""

    run = models.ForeignKey(CalculationRun, on_delete=models.CASCADE, related_name="chunks")
    phase = models.CharField(max_length=8, choices=RunPhase.choices)
    number = models.PositiveIntegerField()
    person_ids = models.JSONField(default=list)
    status = models.CharField(
        max_length=8, choices=ChunkStatus.choices, default=ChunkStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    output = models.BinaryField(null=True, blank=True)
    inputs = models.BinaryField(null=True, blank=True)

    class Meta:
        ordering = ["run", "phase", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "run", "phase", "number"], name="chunk_unique_number"
            ),
        ]
        indexes = [models.Index(fields=["tenant", "status", "heartbeat_at"], name="chunk_stale")]


class PayoutLine(TenantModel):
    """One line the engine paid (or withheld) in a run, with its trace: append-only."""

    run = models.ForeignKey(CalculationRun, on_delete=models.PROTECT, related_name="lines")
    period = models.ForeignKey(Period, on_delete=models.PROTECT, related_name="+")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="payout_lines")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="+")
    plan_version = models.ForeignKey(PlanVersion, on_delete=models.PROTECT, related_name="+")
    component_id = models.CharField(max_length=100)
    kind = models.CharField(max_length=40, help_text="The engine's line kind")
    amount = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES)
    currency = models.CharField(max_length=3, validators=[validate_currency])
    attainment = models.DecimalField(max_digits=20, decimal_places=8, null=True, blank=True)
    measure = models.DecimalField(max_digits=24, decimal_places=4, null=True, blank=True)
    trace_text = models.TextField(blank=True, help_text="Why, in plain words")
    trace = models.JSONField(default=list, blank=True, help_text="The engine's steps")
    chunk = models.PositiveIntegerField(default=0)
    # Added by runs: a person moved mid-period has one segment per stretch, and a segment may
    # carry several lines of one kind (a clawback per reversed transaction), so the line's key
    # also holds its segment and its ordinal among the lines of that (segment, kind).
    segment = models.PositiveIntegerField(default=0)
    ordinal = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["run", "person", "plan", "component_id"]
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "tenant",
                    "run",
                    "person",
                    "plan_version",
                    "component_id",
                    "segment",
                    "kind",
                    "ordinal",
                ],
                name="payoutline_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "person", "period"], name="payoutline_person"),
        ]


class LineContribution(TenantModel):
    """What one credit contributed to one payout line (the drill-down to the transaction).

    The largest table a run writes (one row per credit and component: 680,292 for ICM-1M), so
    its one foreign key that matters, to its line (the line has its run and tenant, and
    row-level security checks the tenant of every row written), is checked once per INSERT,
    set-based, on PostgreSQL (``core.db.SetBasedForeignKeys``, migration 0017): PostgreSQL's own
    per-row check at commit cost as much as the insert itself (~10 µs a row). ``tenant`` and
    ``run`` are not constrained nor indexed on their own (``contribution_line`` leads with
    both): their per-row checks at commit took 0.4 s of every 40,000 rows (migration 0015).
    SQLite keeps its ordinary foreign key."""

    tenant = models.ForeignKey(
        "core.Tenant",
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    line = models.ForeignKey(
        PayoutLine,
        on_delete=models.PROTECT,
        related_name="contributions",
        db_constraint=False,  # checked set-based: see the class docstring
    )
    run = models.ForeignKey(
        CalculationRun,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    transaction_id = models.BigIntegerField(null=True, blank=True)
    credit_id = models.BigIntegerField(null=True, blank=True)
    amount = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES)

    class Meta:
        indexes = [models.Index(fields=["tenant", "run", "line"], name="contribution_line")]


class LineSummary(TenantModel):
    """One person's payout lines in one run, summed: written with the lines (same chunk, same
    transaction, set-based from the stored lines), append-only like them. Roll-ups read these
    instead of aggregating the lines."""

    run = models.ForeignKey(CalculationRun, on_delete=models.PROTECT, related_name="+")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    chunk = models.PositiveIntegerField(default=0)
    currency = models.CharField(max_length=3, validators=[validate_currency])
    earned = models.DecimalField(
        max_digits=MONEY_DIGITS,
        decimal_places=MONEY_PLACES,
        help_text="The lines an approval enters as earned (all but draws and clawbacks)",
    )
    payable = models.DecimalField(
        max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, help_text="Every line's amount"
    )
    attainment = models.DecimalField(
        max_digits=20,
        decimal_places=8,
        null=True,
        blank=True,
        help_text="The first line's attainment that has one (by line id)",
    )
    plan_ids = models.JSONField(default=list, help_text="The plans of its lines")
    lines = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "run", "person"], name="linesummary_unique"),
        ]


class EntryKind(models.TextChoices):
    EARNED = "earned", "Earned"
    ADJUSTMENT = "adjustment", "Adjustment"
    DRAW = "draw", "Draw"
    DRAW_RECOVERY = "draw_recovery", "Draw recovery"
    CLAWBACK = "clawback", "Clawback"
    HOLD = "hold", "Hold"
    RELEASE = "release", "Release"
    PAID = "paid", "Paid"


class LedgerEntry(TenantModel):
    """One movement of money owed to a person: append-only, corrections are new entries."""

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="ledger_entries")
    period = models.ForeignKey(Period, on_delete=models.PROTECT, related_name="ledger_entries")
    kind = models.CharField(max_length=16, choices=EntryKind.choices)
    amount = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES)
    currency = models.CharField(max_length=3, validators=[validate_currency])
    plan = models.ForeignKey(
        Plan, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    component_id = models.CharField(max_length=100, blank=True)
    run = models.ForeignKey(
        CalculationRun, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    line = models.ForeignKey(
        PayoutLine, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_entries"
    )
    corrects = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="corrections",
        help_text="The entry (often in a closed period) this one corrects",
    )
    rate = models.DecimalField(
        max_digits=12,
        decimal_places=8,
        null=True,
        blank=True,
        help_text="The rate the original line paid at (clawbacks read it)",
    )
    memo = models.CharField(max_length=300, blank=True)
    # The ledger is append-only: deleting a user must not try to UPDATE its entries (the app
    # role may not), so the id stays as history, without a database constraint.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    created_at = models.DateTimeField()
    # Added by the ledger (payouts/ledger.py): what wrote the entry, and a draw's kind.
    approval = models.ForeignKey(
        "PeriodApproval",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="entries",
        help_text="The period approval that wrote this entry (reversed when it is reopened)",
    )
    hold = models.ForeignKey(
        "Hold", null=True, blank=True, on_delete=models.PROTECT, related_name="entries"
    )
    recoverable = models.BooleanField(
        null=True, blank=True, help_text="Draws: whether later earnings pay it back"
    )

    class Meta:
        ordering = ["period", "person", "created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "line", "kind"],
                condition=Q(line__isnull=False),
                name="ledger_one_entry_per_line_kind",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "person", "period"], name="ledger_person_period"),
        ]


# --- the period lifecycle and the ledger's requests (payouts/lifecycle.py, payouts/ledger.py) --


class PeriodApproval(TenantModel):
    """Finance's approval of a period: the one succeeded full run whose lines it pays.

    Written by ``period_approve`` before the period's status moves (the status trigger checks a
    live approval exists); ``period_reopen`` stamps ``reopened_at`` instead of deleting it."""

    period = models.ForeignKey(Period, on_delete=models.PROTECT, related_name="approvals")
    run = models.ForeignKey(CalculationRun, on_delete=models.PROTECT, related_name="approvals")
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_at = models.DateTimeField()
    reopened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reopened_at = models.DateTimeField(null=True, blank=True)
    reopen_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["period", "-approved_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "period"],
                condition=Q(reopened_at__isnull=True),
                name="approval_one_live_per_period",
            ),
        ]


class AdjustmentStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class Adjustment(TenantModel):
    """A manual change to what a person is owed, requested by one person, decided by another.

    Approved, it becomes one ADJUSTMENT ledger entry in ``period`` (not yet approved); when it
    corrects an entry of a closed period, ``corrects`` names that entry."""

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="adjustments")
    period = models.ForeignKey(Period, on_delete=models.PROTECT, related_name="adjustments")
    amount = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES)
    currency = models.CharField(max_length=3, validators=[validate_currency])
    reason = models.CharField(max_length=500)
    plan = models.ForeignKey(
        Plan, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    component_id = models.CharField(max_length=100, blank=True)
    corrects = models.ForeignKey(
        LedgerEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(
        max_length=8, choices=AdjustmentStatus.choices, default=AdjustmentStatus.PENDING
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField()
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=500, blank=True)
    entry = models.ForeignKey(
        LedgerEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-requested_at", "-id"]
        indexes = [models.Index(fields=["tenant", "status"], name="adjustment_status")]


class Draw(TenantModel):
    """An advance paid to a person: recoverable ones are a balance later earnings pay back."""

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="draws")
    period = models.ForeignKey(Period, on_delete=models.PROTECT, related_name="draws")
    amount = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES)
    currency = models.CharField(max_length=3, validators=[validate_currency])
    recoverable = models.BooleanField(default=True)
    reason = models.CharField(max_length=500)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    entry = models.ForeignKey(LedgerEntry, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]


class HoldStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    RELEASED = "released", "Released"


class Hold(TenantModel):
    """Withhold a person's payout (or one line's) from the periods approved while it is active.

    Each approval writes a HOLD entry (minus the held amount) per held line; releasing writes a
    RELEASE entry per HOLD entry, in a period not yet approved."""

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="holds")
    line = models.ForeignKey(
        PayoutLine, null=True, blank=True, on_delete=models.PROTECT, related_name="holds"
    )
    period = models.ForeignKey(
        Period,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="holds",
        help_text="Only this period's payout; empty: every period approved while active",
    )
    reason = models.CharField(max_length=500)
    status = models.CharField(max_length=8, choices=HoldStatus.choices, default=HoldStatus.ACTIVE)
    placed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    placed_at = models.DateTimeField()
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    released_at = models.DateTimeField(null=True, blank=True)
    release_note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-placed_at", "-id"]
        indexes = [models.Index(fields=["tenant", "status", "person"], name="hold_active")]


class Statement(TenantModel):
    """A person's statement for a period as it stood when the period was approved: append-only.

    ``content`` is what :func:`payouts.statements.statement_build` returned (every line with its
    trace, the ledger's movements, payable), ``content_hash`` its SHA-256, so what a person was
    shown on approval can always be shown again and proven unchanged. Written only by
    :func:`payouts.statements.statements_freeze`, once per approval: a period reopened and
    approved again appends new rows, the old ones stay as what was shown then.
    """

    period = models.ForeignKey(Period, on_delete=models.PROTECT, related_name="statements")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="statements")
    run = models.ForeignKey(CalculationRun, on_delete=models.PROTECT, related_name="statements")
    approval = models.ForeignKey(
        PeriodApproval,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="statements",
        help_text="The approval that froze it (a reopened period's approval keeps its rows)",
    )
    currency = models.CharField(max_length=3, validators=[validate_currency])
    earned = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES)
    payable = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES)
    content = models.JSONField()
    content_hash = models.CharField(max_length=64)
    frozen_at = models.DateTimeField()
    # Append-only like the ledger: deleting a user must not UPDATE frozen statements.
    frozen_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )

    class Meta:
        ordering = ["period", "person", "-frozen_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "approval", "person"],
                condition=Q(approval__isnull=False),
                name="statement_one_per_approval",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "person", "period"], name="statement_person_period"),
        ]

    def __str__(self) -> str:
        return f"statement of {self.person_id} for {self.period_id} (run {self.run_id})"


# --- finance exports -----------------------------------------------------------------------------
#
# An :class:`ExportBatch` is one hand-over of approved amounts to payroll / the general ledger.
# Each approved ledger amount it carries is an :class:`ExportedLine` of its own, unique per ledger
# entry and per payout line, so an amount is exported once whatever is asked later; both tables
# are append-only but for the batch's one move ``created → paid`` (a paid batch is frozen). The
# bytes of every file a batch was asked for are kept (:class:`ExportFile`), so asking again
# returns the same bytes even after an earning code or a person's cost centre changes.


class ExportFormat(models.TextChoices):
    CSV = "csv", "CSV"
    XLSX = "xlsx", "Excel (XLSX)"
    JSON = "json", "JSON"


class ExportContent(models.TextChoices):
    LINES = "lines", "Payout lines"
    PAYROLL = "payroll", "Payroll file"
    GL = "gl", "GL / accrual summary by cost centre"


class ExportStatus(models.TextChoices):
    CREATED = "created", "Created"
    PAID = "paid", "Paid"


class EarningCode(TenantModel):
    """The payroll earning code a plan component is paid under (per tenant; a plan may differ)."""

    component_id = models.CharField(max_length=100)
    plan = models.ForeignKey(
        Plan,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="Only this plan's component (empty: the component in every plan)",
    )
    code = models.CharField(max_length=40)
    description = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["component_id", "plan_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "component_id", "plan"],
                condition=Q(plan__isnull=False),
                name="earningcode_unique_plan_component",
            ),
            models.UniqueConstraint(
                fields=["tenant", "component_id"],
                condition=Q(plan__isnull=True),
                name="earningcode_unique_component",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.component_id} → {self.code}"


class ExportBatch(TenantModel):
    """One export of approved amounts: what was asked (periods, filters), the lines, the bytes."""

    number = models.PositiveIntegerField(help_text="1, 2, ... within the tenant")
    period_ids = models.JSONField(default=list, help_text="The approved periods exported")
    person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    business_unit = models.ForeignKey(
        "hierarchy.Node", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    format = models.CharField(max_length=8, choices=ExportFormat.choices, default=ExportFormat.CSV)
    pay_date = models.DateField()
    idempotency_key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64, help_text="What was asked, for key reuse")
    status = models.CharField(
        max_length=8, choices=ExportStatus.choices, default=ExportStatus.CREATED
    )
    line_count = models.PositiveIntegerField(default=0)
    totals = models.JSONField(default=dict, blank=True, help_text='{"USD": "1234.5600"}')
    sha256 = models.CharField(max_length=64, help_text="Of the batch's file in its format")
    # A paid batch is frozen: deleting a user must not UPDATE it, so the id stays as history.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    created_by_label = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()
    paid_at = models.DateTimeField(null=True, blank=True)
    paid_by_label = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "number"], name="exportbatch_unique_number"),
            models.UniqueConstraint(
                fields=["tenant", "idempotency_key"], name="exportbatch_unique_key"
            ),
        ]

    def __str__(self) -> str:
        return f"export batch {self.number}"


class ExportedLine(TenantModel):
    """One approved ledger amount in one batch, as it was exported: append-only, once ever."""

    batch = models.ForeignKey(ExportBatch, on_delete=models.PROTECT, related_name="lines")
    entry = models.ForeignKey(LedgerEntry, on_delete=models.PROTECT, related_name="+")
    line = models.ForeignKey(
        PayoutLine, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    period = models.ForeignKey(Period, on_delete=models.PROTECT, related_name="+")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    employee_id = models.CharField(max_length=64)
    full_name = models.CharField(max_length=200)
    cost_centre = models.CharField(max_length=100, blank=True)
    plan = models.ForeignKey(
        Plan, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    component_id = models.CharField(max_length=100, blank=True)
    kind = models.CharField(max_length=16, choices=EntryKind.choices)
    amount = models.DecimalField(
        max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, help_text="Signed: what is payable"
    )
    currency = models.CharField(max_length=3, validators=[validate_currency])
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["batch", "employee_id", "component_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "entry"], name="exportedline_once_per_entry"),
            models.UniqueConstraint(
                fields=["tenant", "line", "kind"],
                condition=Q(line__isnull=False),
                name="exportedline_once_per_line",
            ),
        ]
        indexes = [models.Index(fields=["tenant", "batch"], name="exportedline_batch")]


class ExportFile(TenantModel):
    """The bytes of one file of a batch, kept the first time it is asked for: append-only."""

    batch = models.ForeignKey(ExportBatch, on_delete=models.PROTECT, related_name="files")
    content = models.CharField(max_length=8, choices=ExportContent.choices)
    format = models.CharField(max_length=8, choices=ExportFormat.choices)
    data = models.BinaryField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "batch", "content", "format"], name="exportfile_unique"
            ),
        ]


# --- accruals: capitalized commissions (ASC 340-40, payouts/accruals.py) -------------------------


class AmortizationStart(models.TextChoices):
    MONTH_AFTER_PERIOD_END = "month_after_period_end", "The month after the earning period ends"


class CapitalizationPolicy(TenantModel):
    """Which earned commissions a tenant capitalizes (ASC 340-40) and over how many months.

    A row covers one plan's component, a whole plan (``component_id`` empty), one component
    in every plan (``plan`` empty) or everything (both empty); the most specific active row
    matching an earned amount decides. Amortization is straight-line over ``benefit_months``
    from ``start_rule`` (the month after the earning period ends)."""

    plan = models.ForeignKey(
        Plan,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="Only this plan (empty: every plan)",
    )
    component_id = models.CharField(
        max_length=100, blank=True, help_text="Only this component (empty: every component)"
    )
    benefit_months = models.PositiveSmallIntegerField(
        help_text="The expected period of benefit, in months (1-120)"
    )
    start_rule = models.CharField(
        max_length=32,
        choices=AmortizationStart.choices,
        default=AmortizationStart.MONTH_AFTER_PERIOD_END,
    )
    is_active = models.BooleanField(default=True)
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["plan_id", "component_id", "id"]
        verbose_name_plural = "capitalization policies"
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "plan", "component_id"],
                condition=Q(plan__isnull=False),
                name="capitalization_unique_plan_component",
            ),
            models.UniqueConstraint(
                fields=["tenant", "component_id"],
                condition=Q(plan__isnull=True),
                name="capitalization_unique_component",
            ),
            models.CheckConstraint(
                condition=Q(benefit_months__gte=1) & Q(benefit_months__lte=120),
                name="capitalization_benefit_months_range",
            ),
        ]

    def __str__(self) -> str:
        what = self.component_id or "every component"
        return f"capitalize {what} over {self.benefit_months} months"


# --- nudges (payouts/nudges.py): who wants to be told, and what was told -----------------------


class NudgePreference(TenantModel):
    """One person's opt-in to nudges: on or off, by e-mail and/or a Slack-compatible incoming
    webhook, and quiet until a day. Off until the person turns it on."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    enabled = models.BooleanField(default=False)
    email = models.BooleanField(default=True, help_text="Send nudges by e-mail")
    webhook_url = models.URLField(
        max_length=500, blank=True, help_text="A Slack-compatible incoming webhook (POST JSON)"
    )
    quiet_until = models.DateField(
        null=True, blank=True, help_text="Send nothing before this day (nudges wait, not lost)"
    )
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "person"], name="nudgepreference_unique")
        ]

    def __str__(self) -> str:
        return f"nudges for person {self.person_id}: {'on' if self.enabled else 'off'}"


class NudgeEvent(models.TextChoices):
    WITHIN_REACH = "within_reach", "Within reach"
    CROSSED = "crossed", "Crossed"


class SentNudge(TenantModel):
    """A nudge told once: one row per (person, period, plan, component, threshold, event);
    each channel's outcome is recorded ("sent", or why it failed), never raised."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    period = models.ForeignKey(Period, on_delete=models.PROTECT, related_name="+")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="+")
    component_id = models.CharField(max_length=100)
    threshold = models.CharField(max_length=120, help_text="The mark's key: tier_2, gate...")
    event = models.CharField(max_length=16, choices=NudgeEvent.choices)
    run = models.ForeignKey(CalculationRun, on_delete=models.PROTECT, related_name="+")
    text = models.TextField()
    channels = models.JSONField(default=dict, help_text='{"email": "sent", "webhook": "..."}')
    sent_at = models.DateTimeField()
    # delivery retries (payouts.nudges.nudges_retry): how many times the channels were tried,
    # and when a channel that failed for a passing reason is tried again (None: nothing to retry)
    attempts = models.PositiveSmallIntegerField(default=1)
    retry_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-sent_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "person", "period", "plan", "component_id", "threshold", "event"],
                name="sentnudge_once",
            )
        ]
        indexes = [
            models.Index(
                fields=["tenant", "retry_at"],
                name="sentnudge_retry_due",
                condition=models.Q(retry_at__isnull=False),
            )
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.component_id}/{self.threshold} for person {self.person_id}"


# --- approval routes (payouts/approval_routes.py, payouts/approvals.py) ------------------------
#
# A period submitted for review follows one :class:`ApprovalRoute` of its tenant: ordered
# :class:`ApprovalStep` rows, each decided by one kind of approver. The submission opens an
# :class:`ApprovalRequest` (one pending per period); every approve or reject is an
# :class:`ApprovalDecision` (append-only). Approving the last step (always finance) is the
# period's approval (``payouts.lifecycle.period_approve``); a rejection sends it back to
# *calculated*. Steps are never edited in place: editing a route retires its steps
# (``retired_at``) and writes new ones, so an old request's timeline keeps the steps it had.


class ApproverKind(models.TextChoices):
    MANAGER = "manager", "Manager of the payees"
    COMP_ADMIN = "comp_admin", "Comp admin"
    FINANCE = "finance", "Finance"
    USER = "user", "A named user"


class ApprovalRoute(TenantModel):
    """How a tenant's periods are approved: ordered steps, optionally only for one plan's or
    one business unit's runs; the default route applies to the rest."""

    name = models.CharField(max_length=100)
    plan = models.ForeignKey(
        Plan,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Only runs that pay this plan alone",
    )
    business_unit = models.ForeignKey(
        "hierarchy.Node",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Only runs whose payees all sit in this node's subtree",
    )
    is_default = models.BooleanField(default=False)
    is_builtin = models.BooleanField(
        default=False, help_text="Created from the built-in route comp admin → finance"
    )
    remind_after_hours = models.PositiveIntegerField(
        default=24, help_text="E-mail the approvers of a step pending longer than this"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["-is_default", "name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="approvalroute_unique_name"),
            models.UniqueConstraint(
                fields=["tenant"], condition=Q(is_default=True), name="approvalroute_one_default"
            ),
            models.UniqueConstraint(
                fields=["tenant", "plan"],
                condition=Q(plan__isnull=False),
                name="approvalroute_one_per_plan",
            ),
            models.UniqueConstraint(
                fields=["tenant", "business_unit"],
                condition=Q(business_unit__isnull=False),
                name="approvalroute_one_per_unit",
            ),
            models.CheckConstraint(
                condition=Q(plan__isnull=True) | Q(business_unit__isnull=True),
                name="approvalroute_one_scope",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ApprovalStep(TenantModel):
    """One step of a route: who decides it and how many of them must approve."""

    route = models.ForeignKey(ApprovalRoute, on_delete=models.PROTECT, related_name="steps")
    order = models.PositiveSmallIntegerField(help_text="1, 2, ... within the route")
    name = models.CharField(max_length=100)
    approver_kind = models.CharField(max_length=12, choices=ApproverKind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The approver of a named-user step",
    )
    required_count = models.PositiveSmallIntegerField(
        default=1, help_text="Approvals needed (managers: at least this many, covering every team)"
    )
    created_at = models.DateTimeField()
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["route", "order"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "route", "order"],
                condition=Q(retired_at__isnull=True),
                name="approvalstep_unique_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order}. {self.name}"


class ApprovalStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    WITHDRAWN = "withdrawn", "Withdrawn"


class ApprovalRequest(TenantModel):
    """One period with one run on its way through a route (opened when it is submitted)."""

    period = models.ForeignKey(Period, on_delete=models.PROTECT, related_name="approval_requests")
    run = models.ForeignKey(CalculationRun, on_delete=models.PROTECT, related_name="+")
    route = models.ForeignKey(ApprovalRoute, on_delete=models.PROTECT, related_name="requests")
    current_step = models.ForeignKey(
        ApprovalStep, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(
        max_length=10, choices=ApprovalStatus.choices, default=ApprovalStatus.PENDING
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    submitted_at = models.DateTimeField()
    step_started_at = models.DateTimeField(help_text="When the current step began waiting")
    decided_at = models.DateTimeField(null=True, blank=True)
    outcome_comment = models.TextField(blank=True)

    class Meta:
        ordering = ["-submitted_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "period"],
                condition=Q(status="pending"),
                name="approvalrequest_one_pending_per_period",
            ),
        ]
        indexes = [models.Index(fields=["tenant", "status"], name="approvalrequest_status")]

    def __str__(self) -> str:
        return f"approval of {self.period_id} (run {self.run_id})"


class DecisionKind(models.TextChoices):
    APPROVE = "approve", "Approved"
    REJECT = "reject", "Rejected"


class ApprovalDecision(TenantModel):
    """One person's (or API client's) decision on one step of a request: append-only."""

    request = models.ForeignKey(ApprovalRequest, on_delete=models.PROTECT, related_name="decisions")
    step = models.ForeignKey(ApprovalStep, on_delete=models.PROTECT, related_name="decisions")
    # Append-only: deleting a user must not UPDATE decisions, so the id stays as history.
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_api_client = models.ForeignKey(
        "core.ApiClient",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_label = models.CharField(max_length=200, blank=True)
    decision = models.CharField(max_length=8, choices=DecisionKind.choices)
    comment = models.TextField(blank=True)
    covers = models.JSONField(
        default=list, blank=True, help_text="Manager steps: the payees this approval speaks for"
    )
    at = models.DateTimeField()

    class Meta:
        ordering = ["request", "at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "request", "step", "actor_user"],
                condition=Q(actor_user__isnull=False),
                name="approvaldecision_one_per_user",
            ),
            models.UniqueConstraint(
                fields=["tenant", "request", "step", "actor_api_client"],
                condition=Q(actor_api_client__isnull=False),
                name="approvaldecision_one_per_client",
            ),
        ]


class ApprovalReminder(TenantModel):
    """A reminder e-mailed to one approver of a waiting step (so it is not sent twice)."""

    request = models.ForeignKey(ApprovalRequest, on_delete=models.CASCADE, related_name="+")
    step = models.ForeignKey(ApprovalStep, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    sent_at = models.DateTimeField()

    class Meta:
        ordering = ["-sent_at"]
        indexes = [
            models.Index(fields=["tenant", "request", "step", "user"], name="approvalreminder_key")
        ]


# --- live: run schedules (payouts/schedules.py) ------------------------------------------------


class SchedulePeriods(models.TextChoices):
    OPEN = "open", "Every open period (started, not yet approved)"
    CURRENT = "current", "The periods under way today"


class ScheduleCadence(models.TextChoices):
    DAILY = "daily", "Daily at a time of day"
    INTERVAL = "interval", "Every N minutes"


class RunSchedule(TenantModel):
    """A tenant's standing order for full runs: which periods, how often; beat starts them."""

    name = models.CharField(max_length=100)
    periods = models.CharField(
        max_length=8, choices=SchedulePeriods.choices, default=SchedulePeriods.OPEN
    )
    period_kind = models.CharField(
        max_length=10, blank=True, help_text="Only periods of this kind (blank: every kind)"
    )
    cadence = models.CharField(
        max_length=8, choices=ScheduleCadence.choices, default=ScheduleCadence.DAILY
    )
    time_of_day = models.TimeField(
        null=True, blank=True, help_text="Daily: HH:MM in the tenant's time zone"
    )
    every_minutes = models.PositiveIntegerField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    next_run_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="runschedule_unique_name"),
        ]
        indexes = [models.Index(fields=["tenant", "enabled", "next_run_at"], name="schedule_due")]

    def __str__(self) -> str:
        return self.name


# --- disputes (payouts/disputes.py) ---------------------------------------------------------------
#
# A :class:`Dispute` is a payee's question about one number, attached to what produced it: a
# statement line, one step of a line's trace, a credit, or a transaction that is missing. It is
# routed (credit and missing-deal questions to the payee's manager as of the period, rate / plan /
# quota ones to the comp admins), carries an SLA due date, and ends resolved (maybe with an
# adjustment through the ledger's own approval), rejected or withdrawn. Its comments and its
# history are append-only.


class DisputeSubject(models.TextChoices):
    LINE = "line", "Statement line"
    STEP = "step", "Step of a line's calculation"
    CREDIT = "credit", "Credit"
    MISSING = "missing", "Missing transaction"


class DisputeStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_REVIEW = "in_review", "In review"
    RESOLVED = "resolved", "Resolved"
    REJECTED = "rejected", "Rejected"
    WITHDRAWN = "withdrawn", "Withdrawn"


class DisputeQueue(models.TextChoices):
    MANAGER = "manager", "The payee's manager"
    COMP_ADMIN = "comp_admin", "Comp admins"


class DisputeSettings(TenantModel):
    """A tenant's dispute policy: the SLA in business days and the reason codes offered."""

    sla_business_days = models.PositiveSmallIntegerField(default=5)
    reasons = models.JSONField(
        default=list, blank=True, help_text='[{"code", "label", "route": manager|comp_admin}]'
    )
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant"], name="disputesettings_one_per_tenant"),
        ]


class Dispute(TenantModel):
    """A payee's question about one number, attached to the step that produced it."""

    number = models.PositiveIntegerField(help_text="1, 2, ... within the tenant")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="disputes")
    period = models.ForeignKey(Period, on_delete=models.PROTECT, related_name="disputes")
    raised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    raised_by_label = models.CharField(max_length=200, blank=True)
    subject_kind = models.CharField(max_length=8, choices=DisputeSubject.choices)
    line = models.ForeignKey(
        PayoutLine, null=True, blank=True, on_delete=models.PROTECT, related_name="disputes"
    )
    trace_step = models.PositiveIntegerField(
        null=True, blank=True, help_text="Index of the step in the line's trace"
    )
    trace_step_snapshot = models.JSONField(
        null=True, blank=True, help_text="The step as the payee saw it"
    )
    # Credits are versioned by the million and superseded in place: no database constraint.
    credit = models.ForeignKey(
        "incentives.Credit",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    missing_external_id = models.CharField(max_length=200, blank=True)
    missing_description = models.CharField(max_length=500, blank=True)
    missing_amount = models.DecimalField(
        max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, null=True, blank=True
    )
    missing_currency = models.CharField(max_length=3, blank=True)
    missing_date = models.DateField(null=True, blank=True)
    reason_code = models.CharField(max_length=40)
    reason_label = models.CharField(max_length=200)
    description = models.TextField()
    queue = models.CharField(max_length=12, choices=DisputeQueue.choices)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    assignee_person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(
        max_length=10, choices=DisputeStatus.choices, default=DisputeStatus.OPEN
    )
    raised_at = models.DateTimeField()
    sla_due = models.DateField(help_text="Answer by this day (business days from raising)")
    resolution = models.TextField(blank=True)
    data_correction = models.TextField(blank=True, help_text="What was corrected in the data")
    adjustment = models.ForeignKey(  # one question per adjustment: unique per tenant, below
        Adjustment, null=True, blank=True, on_delete=models.PROTECT, related_name="disputes"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["-raised_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "number"], name="dispute_unique_number"),
            models.UniqueConstraint(
                fields=["tenant", "adjustment"], name="dispute_unique_adjustment"
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "status", "period"], name="dispute_status_period"),
            models.Index(fields=["tenant", "person"], name="dispute_person"),
        ]

    def __str__(self) -> str:
        return f"question Q-{self.number}"

    @property
    def ref(self) -> str:
        return f"Q-{self.number}"


class DisputeComment(TenantModel):
    """One comment on a dispute: append-only."""

    dispute = models.ForeignKey(Dispute, on_delete=models.PROTECT, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    author_label = models.CharField(max_length=200, blank=True)
    body = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["dispute", "created_at", "id"]
        indexes = [models.Index(fields=["tenant", "dispute"], name="disputecomment_dispute")]


class DisputeEvent(TenantModel):
    """One step of a dispute's history (raised, assigned, commented, resolved...): append-only."""

    dispute = models.ForeignKey(Dispute, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=20)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_label = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=10, choices=DisputeStatus.choices)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["dispute", "created_at", "id"]
        indexes = [models.Index(fields=["tenant", "dispute"], name="disputeevent_dispute")]
