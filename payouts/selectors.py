"""Reads of the period lifecycle and the ledger that pages and APIs share."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, Q

from core.permissions import Principal
from core.tenancy import get_current_tenant
from hierarchy.models import Period
from hierarchy.periods import tenant_today
from payouts.exports import approved_entries, not_exported
from payouts.lifecycle import allowed_transitions
from payouts.models import (
    Adjustment,
    AdjustmentStatus,
    ApprovalRequest,
    ApprovalStatus,
    ApprovalStep,
    CalculationRun,
    Dispute,
    DisputeStatus,
    Hold,
    HoldStatus,
    PayoutLine,
    PeriodApproval,
    RunKind,
    RunStatus,
)
from plans.models import PlanAcknowledgement

DISPUTE_ACTIVE = (DisputeStatus.OPEN, DisputeStatus.IN_REVIEW)


@dataclass
class ChecklistItem:
    """What stands between one period and its close."""

    period: Period
    runs_succeeded: int = 0
    runs_running: int = 0
    runs_failed: int = 0
    latest_run: CalculationRun | None = None
    approved_run: CalculationRun | None = None
    adjustments_pending: int = 0
    holds_active: int = 0
    unacknowledged_plans: int = 0  # people paid on a plan version they have not acknowledged
    disputes_open: int = 0  # questions about the period still open or in review (disputes)
    exports_pending: int = 0  # approved ledger entries no export batch has exported yet
    transitions: list[str] = field(default_factory=list)
    # the period's last day is still to come (today, the tenant's day): closing it is an early close
    still_running: bool = False
    # approvals: the pending request of a period in review, and the step it waits on
    approval_request: ApprovalRequest | None = None
    approval_steps: int = 0

    @property
    def ready(self) -> dict[str, bool]:
        """Each check of the checklist, True when it no longer stands in the way."""
        return {
            "calculated": self.runs_succeeded > 0,
            "no_run_in_progress": self.runs_running == 0,
            "no_adjustment_pending": self.adjustments_pending == 0,
            "plans_acknowledged": not self.unacknowledged_plans,
        }


def period_checklists(*, periods: list[Period], principal: Principal) -> list[ChecklistItem]:
    """Return the checklist of each period in a fixed number of queries."""
    ids = [p.pk for p in periods]
    items = {p.pk: ChecklistItem(period=p) for p in periods}
    runs = (
        CalculationRun.objects.filter(period_id__in=ids, kind=RunKind.FULL)
        .values("period_id")
        .annotate(
            ok=Count("pk", filter=Q(status=RunStatus.SUCCEEDED)),
            busy=Count("pk", filter=Q(status__in=[RunStatus.QUEUED, RunStatus.RUNNING])),
            failed=Count("pk", filter=Q(status=RunStatus.FAILED)),
        )
    )
    for row in runs:
        item = items[row["period_id"]]
        item.runs_succeeded, item.runs_running, item.runs_failed = (
            row["ok"],
            row["busy"],
            row["failed"],
        )
    latest: dict[int, CalculationRun] = {}
    for run in CalculationRun.objects.filter(
        period_id__in=ids, kind=RunKind.FULL, status=RunStatus.SUCCEEDED
    ).order_by("period_id", "-number"):
        latest.setdefault(run.period_id, run)
    for approval in PeriodApproval.objects.filter(
        period_id__in=ids, reopened_at__isnull=True
    ).select_related("run"):
        items[approval.period_id].approved_run = approval.run
    pending = (
        Adjustment.objects.filter(period_id__in=ids, status=AdjustmentStatus.PENDING)
        .values("period_id")
        .annotate(n=Count("pk"))
    )
    for row in pending:
        items[row["period_id"]].adjustments_pending = row["n"]
    everywhere = Hold.objects.filter(status=HoldStatus.ACTIVE, period__isnull=True).count()
    per_period = (
        Hold.objects.filter(status=HoldStatus.ACTIVE, period_id__in=ids)
        .values("period_id")
        .annotate(n=Count("pk"))
    )
    held = {row["period_id"]: row["n"] for row in per_period}
    unacknowledged = _unacknowledged_plans(latest)
    # --- disputes (payouts/disputes.py): questions about the period not yet answered ---
    for row in (
        Dispute.objects.filter(period_id__in=ids, status__in=DISPUTE_ACTIVE)
        .values("period_id")
        .annotate(n=Count("pk"))
    ):
        items[row["period_id"]].disputes_open = row["n"]
    # --- exports (payouts/exports.py): approved amounts not yet in an export batch ---
    for row in (
        not_exported(approved_entries().filter(period_id__in=ids))
        .values("period_id")
        .annotate(n=Count("pk"))
    ):
        items[row["period_id"]].exports_pending = row["n"]
    today = tenant_today(get_current_tenant())
    for pk, item in items.items():
        item.still_running = today < item.period.end
        item.latest_run = latest.get(pk)
        item.holds_active = everywhere + held.get(pk, 0)
        item.unacknowledged_plans = unacknowledged.get(pk, 0)
        item.transitions = allowed_transitions(item.period, principal)
    _approval_waits(items)
    return [items[p.pk] for p in periods]


# --- approvals: the step a period in review waits on (payouts/approvals.py) --------------------


def _approval_waits(items: dict[int, ChecklistItem]) -> None:
    """Name on each item the approval step its period waits on; finance's "approve" is offered
    only once the earlier steps of the route are done."""
    pending = ApprovalRequest.objects.filter(
        period_id__in=list(items), status=ApprovalStatus.PENDING
    ).select_related("current_step", "run", "route")
    requests = {r.period_id: r for r in pending}
    counts = dict(
        ApprovalStep.objects.filter(route_id__in={r.route_id for r in requests.values()})
        .filter(retired_at__isnull=True)
        .values("route_id")
        .annotate(n=Count("pk"))
        .values_list("route_id", "n")
    )
    for period_id, request in requests.items():
        item = items[period_id]
        item.approval_request = request
        item.approval_steps = counts.get(request.route_id, 0)
        step = request.current_step
        if step is not None and step.order < item.approval_steps:
            item.transitions = [t for t in item.transitions if t != "approve"]


def _unacknowledged_plans(latest: dict[int, CalculationRun]) -> dict[int, int]:
    """Per period: how many people its latest succeeded run pays on a plan version they have
    not acknowledged (plans' acknowledgements) - people, not lines or plans: one on two such
    versions counts once; 0 for a period with no run yet."""
    acknowledged = set(PlanAcknowledgement.objects.values_list("person_id", "plan_version_id"))
    paid = (
        PayoutLine.objects.filter(run_id__in=[r.pk for r in latest.values()])
        .values_list("run__period_id", "person_id", "plan_version_id")
        .distinct()
    )
    waiting: dict[int, set[int]] = {}
    for period_id, person_id, version_id in paid:
        if (person_id, version_id) not in acknowledged:
            waiting.setdefault(period_id, set()).add(person_id)
    return {period_id: len(people) for period_id, people in waiting.items()}


def period_checklist(*, period_id: int, principal: Principal) -> ChecklistItem:
    """Return one period's checklist."""
    period = Period.objects.get(pk=period_id)
    return period_checklists(periods=[period], principal=principal)[0]
