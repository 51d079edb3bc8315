"""The period lifecycle as services: open → calculated → in review → approved → closed.

Why this exists
---------------
A period is where money is decided, so its status may move only one way: through these
services, each with its guard, each writing one audit event. The database holds the same line
(``payouts/db.py``): a trigger on ``hierarchy_period`` refuses any change of status that is not
the transition a service announced, so ``save()``, ``queryset.update()``, raw SQL or an old
API call cannot walk a period to *closed* with nothing calculated.

- :func:`run_succeeded` — a succeeded **full** run makes an *open* period *calculated* (the runs
  service calls it); a period further along is never moved back.
- :func:`period_submit_for_review` — *calculated* → *in review* (comp admin or finance), opening
  the period's approval request on its tenant's route (``payouts/approval_routes.py``).
- :func:`period_approve` — *in review* → *approved* (finance or tenant admin): picks one
  succeeded full run of the period, writes the ledger entries of its lines (holds, draw
  recoveries; ``payouts/ledger.py``) and freezes the statements. It is the last step of the
  approval route: refused while earlier steps wait, it records finance's decision.
- :func:`period_send_back` — *in review* → *calculated*: an approval step rejected the period, or
  its request was withdrawn (``payouts/approvals.py`` calls it after its guards).
- :func:`period_reopen` — *approved* → *in review* before close: the approval's entries are
  reversed by new entries (the ledger is append-only) and the approval is stamped reopened; the
  route starts again with a new request.
- :func:`period_close` — *approved* → *closed*, setting the data lock: incoming data dated in the
  period is refused from ``data_lock_date`` on (``incentives/ingest.py``). A period whose last
  day is still to come closes only when the caller says so (``early``): one click must not lock
  the rest of a quarter's deals out. Approving such a period (its statements final on the deals
  so far) is said the same way.

Guard failures are :class:`GuardError` (HTTP 409) whose ``code`` and ``details.guard`` name the
guard; a role that may not do the step gets 403 ``details.guard = "role"``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.audit import audit_record
from core.errors import ConflictError, NotFoundError, PermissionDeniedError
from core.permissions import Principal
from core.tenancy import get_current_tenant
from hierarchy.models import Period, PeriodStatus
from hierarchy.periods import tenant_today
from payouts import approval_routes, ledger
from payouts.db import transition_marker
from payouts.models import (
    Adjustment,
    AdjustmentStatus,
    CalculationRun,
    PeriodApproval,
    RunKind,
    RunStatus,
)
from payouts.policy import may_approve, may_submit

NOT_FOUND = "Period not found."
RUN_NOT_FOUND = "Run not found in this period."
ROLE_SUBMIT = "Submitting a period for review is a comp admin's or finance's."
ROLE_APPROVE = "Approving, reopening and closing a period is finance's (or a tenant admin's)."
WRONG_STATUS = "The period is {status}; {action} needs it {wanted}."
NO_RUN = "The period has no succeeded full run: calculate it first."
RUN_NOT_SUCCEEDED = "Run {number} is {status}: only a succeeded full run can be approved."
RUN_NOT_FULL = "Run {number} is a {kind} run: only a full run can be approved."
ADJUSTMENTS_PENDING = "{count} adjustment(s) in this period await a decision."
REOPEN_REASON = "Say why the period is reopened."
CLOSED_IS_FINAL = "A closed period is locked; corrections go into an open period."
LOCK_BEFORE_START = "The data lock date cannot be before the period starts."
STILL_RUNNING = (
    "The period runs through {last_day}: closing it now refuses the deals still to come in it. "
    "Close it after that day, or say that it closes early."
)
APPROVE_RUNNING = (
    "The period runs through {last_day}: approving it now makes its statements final on the "
    "deals so far. Approve it after that day, or say that it is approved early."
)


class GuardError(ConflictError):
    """A transition's guard failed: ``code`` and ``details["guard"]`` name it."""

    def __init__(self, message: str, *, guard: str, **details: Any) -> None:
        super().__init__(message, code=guard, details={"guard": guard, **details})


def _role(message: str) -> PermissionDeniedError:
    return PermissionDeniedError(message, code="permission_denied", details={"guard": "role"})


def _locked_period(period_id: int) -> Period:
    period: Period | None = Period.objects.select_for_update().filter(pk=period_id).first()
    if period is None:
        raise NotFoundError(NOT_FOUND)
    return period


def _want(period: Period, action: str, *wanted: str) -> None:
    if period.status not in wanted:
        if period.status == PeriodStatus.CLOSED:
            raise GuardError(CLOSED_IS_FINAL, guard="period_closed", status=period.status)
        labels = " or ".join(PeriodStatus(w).label.lower() for w in wanted)
        raise GuardError(
            WRONG_STATUS.format(
                status=PeriodStatus(period.status).label.lower(), action=action, wanted=labels
            ),
            guard="period_status",
            status=period.status,
            wanted=list(wanted),
        )


def _move(
    period: Period,
    new: str,
    *,
    action: str,
    extra: dict[str, Any] | None = None,
    data_lock_date: dt.date | None = None,
    audit_obj: Any = None,
) -> Period:
    """Move ``period`` to ``new`` (the trigger checks the marker) and audit it (on the period,
    or on ``audit_obj`` when the action is about something else, e.g. an approval request)."""
    old = period.status
    before = {"status": old, "data_lock_date": _iso(period.data_lock_date)}
    period.status = new
    fields = ["status"]
    if data_lock_date is not None:
        period.data_lock_date = data_lock_date
        fields.append("data_lock_date")
    with transition_marker(period.pk, old, new):
        period.save(update_fields=fields)
    after = {"status": new, "data_lock_date": _iso(period.data_lock_date), **(extra or {})}
    if audit_obj is not None:
        after = {"period": period.pk, **after}
    audit_record(action=action, obj=audit_obj or period, before=before, after=after)
    return period


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


def succeeded_runs(period_id: int) -> list[CalculationRun]:
    """Return the period's succeeded full runs, newest first."""
    return list(
        CalculationRun.objects.filter(
            period_id=period_id, kind=RunKind.FULL, status=RunStatus.SUCCEEDED
        ).order_by("-number")
    )


# --- transitions --------------------------------------------------------------------------------


@transaction.atomic
def run_succeeded(run: CalculationRun) -> Period:
    """Make the run's period *calculated* if it is *open* and the run a succeeded full run.

    Called by the runs service when a run succeeds. A period already calculated, in review,
    approved or closed stays where it is: a later run is a candidate for approval, nothing more.
    """
    period = _locked_period(run.period_id)
    if (
        run.kind == RunKind.FULL
        and run.status == RunStatus.SUCCEEDED
        and period.status == PeriodStatus.OPEN
    ):
        _move(period, PeriodStatus.CALCULATED, action="period.calculate", extra={"run": run.pk})
    return period


@transaction.atomic
def period_submit_for_review(*, period_id: int, principal: Principal) -> Period:
    """Move a *calculated* period to *in review*."""
    period = _locked_period(period_id)
    if not may_submit(principal):
        raise _role(ROLE_SUBMIT)
    _want(period, "submitting for review", PeriodStatus.CALCULATED)
    runs = succeeded_runs(period.pk)
    if not runs:
        raise GuardError(NO_RUN, guard="succeeded_run")
    route = approval_routes.request_open(period=period, run=runs[0], principal=principal)
    return _move(period, PeriodStatus.IN_REVIEW, action="period.submit", extra=route)


def pending_adjustments(period_id: int) -> int:
    return Adjustment.objects.filter(period_id=period_id, status=AdjustmentStatus.PENDING).count()


@dataclass(frozen=True)
class ApprovalOutcome:
    period: Period
    approval: PeriodApproval
    entries: dict[str, int]
    statements_frozen: Any


def _not_running(period: Period, *, early: bool, message: str) -> None:
    """Refuse a step that makes a period final before its last day has passed, unless the
    caller says ``early`` (409, guard ``period_not_ended``, ``details.last_day``)."""
    last_day = period.end - dt.timedelta(days=1)
    if tenant_today(get_current_tenant()) <= last_day and not early:
        raise GuardError(
            message.format(last_day=f"{last_day:%-d %b %Y}"),
            guard="period_not_ended",
            last_day=last_day.isoformat(),
        )


@transaction.atomic
def period_approve(
    *, period_id: int, run_id: int, principal: Principal, comment: str = "", early: bool = False
) -> ApprovalOutcome:
    """Approve an *in review* period with one of its succeeded full runs.

    Writes one ledger entry per payout line of the run (earned; draw and draw recovery lines as
    such), HOLD entries for active holds and recoveries of manual draw balances, then freezes
    the period's statements. This is the last step of the period's approval route: while an
    earlier step waits it is refused (``approval_route``), the run must be the one the route
    reviewed (``approval_run``), and finance's decision (with ``comment``) is recorded. One
    audit event names the run, the entries written and the route's last decision. Before the
    period's last day has passed it is refused (``period_not_ended``) unless ``early``.
    """
    period = _locked_period(period_id)
    if not may_approve(principal):
        raise _role(ROLE_APPROVE)
    _want(period, "approving", PeriodStatus.IN_REVIEW)
    _not_running(period, early=early, message=APPROVE_RUNNING)
    run = CalculationRun.objects.filter(pk=run_id, period_id=period.pk).first()
    if run is None:
        raise NotFoundError(RUN_NOT_FOUND, code="run_not_found", details={"guard": "run"})
    if run.kind != RunKind.FULL:
        raise GuardError(
            RUN_NOT_FULL.format(number=run.number, kind=run.kind), guard="full_run", run=run.pk
        )
    if run.status != RunStatus.SUCCEEDED:
        raise GuardError(
            RUN_NOT_SUCCEEDED.format(number=run.number, status=run.status),
            guard="succeeded_run",
            run=run.pk,
        )
    pending = pending_adjustments(period.pk)
    if pending:
        raise GuardError(
            ADJUSTMENTS_PENDING.format(count=pending), guard="adjustments_pending", count=pending
        )
    route = approval_routes.final_step_approve(
        period=period, run=run, principal=principal, comment=comment
    )
    approval = PeriodApproval.objects.create(
        tenant=get_current_tenant(),
        period=period,
        run=run,
        approved_by_id=principal.user_id,
        approved_at=timezone.now(),
    )
    entries = ledger.approval_entries_write(period=period, run=run, principal=principal)
    frozen = _freeze_statements(period_id=period.pk, run_id=run.pk)
    _move(
        period,
        PeriodStatus.APPROVED,
        action="period.approve",
        extra={
            "run": run.pk,
            "approval": approval.pk,
            "entries": entries,
            **({"approval_route": route} if route else {}),
            "statements_frozen": len(frozen),
        },
    )
    return ApprovalOutcome(period, approval, entries, frozen)


def _freeze_statements(*, period_id: int, run_id: int) -> Any:
    """Freeze the period's statements from the approved run (``payouts/statements.py``)."""
    from payouts import statements

    return statements.statements_freeze(period_id=period_id, run_id=run_id, audit=False)


@transaction.atomic
def period_reopen(*, period_id: int, principal: Principal, reason: str) -> Period:
    """Move an *approved* (not closed) period back to *in review*, reversing its entries."""
    period = _locked_period(period_id)
    if not may_approve(principal):
        raise _role(ROLE_APPROVE)
    _want(period, "reopening", PeriodStatus.APPROVED)
    reason = (reason or "").strip()
    if not reason:
        raise GuardError(REOPEN_REASON, guard="reason")
    approval = PeriodApproval.objects.select_for_update().get(
        period=period, reopened_at__isnull=True
    )
    reversed_count = ledger.approval_entries_reverse(
        period=period, run=approval.run, principal=principal, reason=reason
    )
    approval.reopened_at = timezone.now()
    approval.reopened_by_id = principal.user_id
    approval.reopen_reason = reason[:300]
    approval.save(update_fields=["reopened_at", "reopened_by", "reopen_reason"])
    route = approval_routes.request_open(period=period, run=approval.run, principal=principal)
    return _move(
        period,
        PeriodStatus.IN_REVIEW,
        action="period.reopen",
        extra={"approval": approval.pk, "reason": reason, "reversed": reversed_count, **route},
    )


@transaction.atomic
def period_send_back(
    *, period_id: int, action: str, audit_obj: Any, extra: dict[str, Any]
) -> Period:
    """Move an *in review* period back to *calculated* (a rejected or withdrawn approval).

    Called by ``payouts/approvals.py`` after its guards (who may reject or withdraw); the one
    audit event is the approvals action's (``action`` on ``audit_obj``, the request).
    """
    period = _locked_period(period_id)
    _want(period, "sending back", PeriodStatus.IN_REVIEW)
    return _move(period, PeriodStatus.CALCULATED, action=action, extra=extra, audit_obj=audit_obj)


@transaction.atomic
def period_close(
    *,
    period_id: int,
    principal: Principal,
    data_lock_date: dt.date | None = None,
    early: bool = False,
) -> Period:
    """Close an *approved* period and set its data lock (default: today, the tenant's day).

    Before the period's last day has passed the close is refused (409, guard
    ``period_not_ended``) unless ``early`` says the caller means it."""
    period = _locked_period(period_id)
    if not may_approve(principal):
        raise _role(ROLE_APPROVE)
    _want(period, "closing", PeriodStatus.APPROVED)
    _not_running(period, early=early, message=STILL_RUNNING)
    lock = data_lock_date or tenant_today(get_current_tenant())
    if lock < period.start:
        raise GuardError(LOCK_BEFORE_START, guard="data_lock_date", start=period.start.isoformat())
    return _move(period, PeriodStatus.CLOSED, action="period.close", data_lock_date=lock)


# --- what the close checklist shows -----------------------------------------------------------


def allowed_transitions(period: Period, principal: Principal) -> list[str]:
    """Return the transitions (``submit``, ``approve``, ``reopen``, ``close``) the principal
    could try on ``period`` now (the guards still decide)."""
    out: list[str] = []
    if period.status == PeriodStatus.CALCULATED and may_submit(principal):
        out.append("submit")
    if may_approve(principal):
        if period.status == PeriodStatus.IN_REVIEW:
            out.append("approve")
        if period.status == PeriodStatus.APPROVED:
            out += ["reopen", "close"]
    return out
