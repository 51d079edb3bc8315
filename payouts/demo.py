"""Demo payouts: the demo company's quarters computed by the real run, so every page shows real
figures from the first login.

The last quarter finished by today is calculated, submitted, walked through its approval route
(the built-in one: the demo's comp admin reviews, its finance approves, so its statements are
frozen and its ledger written) and closed; the quarter under way is calculated and left open, as a
live period is. Everything goes through the services a person would use (runs, the period
lifecycle), acting as the demo seed in the audit log.
"""

from __future__ import annotations

import time
from typing import Any

from django.utils import timezone

from core.audit import Actor, acting_as
from core.models import Membership, Role
from core.permissions import ROLE_PERMISSIONS, Principal, principal_for_membership
from core.tenancy import get_current_tenant
from incentives.demo import demo_quarters
from payouts import approval_routes, approvals, exports, lifecycle, runs
from payouts.models import CalculationRun, PayoutLine, RunKind, RunStatus, RunTrigger
from plans.demo import seed_objectives

DEMO_ACTOR = Actor(label="payouts demo seed")


UNFINISHED = (RunStatus.QUEUED, RunStatus.RUNNING)
WAIT_SECONDS = 900


def _completed(run: CalculationRun) -> CalculationRun:
    """Wait for ``run`` to finish: drive it here when tasks run in this process (a start sent
    on commit inside a transaction has not begun yet), else poll while the workers compute it."""
    if run.status in UNFINISHED and runs.in_process():
        run = runs.run_execute(run_id=run.pk)
    deadline = time.monotonic() + WAIT_SECONDS
    while run.status in UNFINISHED and time.monotonic() < deadline:
        time.sleep(1)
        run.refresh_from_db()
    return run


def seed_payouts() -> dict[str, Any]:
    """Compute the demo quarters (once): close the finished one, leave the current one open."""
    if CalculationRun.objects.exists():
        return {"skipped": "runs already seeded"}
    quarters = demo_quarters(timezone.localdate())
    if not quarters:
        return {"skipped": "no periods"}
    finance = Principal(permissions=ROLE_PERMISSIONS[Role.FINANCE])
    done: list[dict[str, Any]] = []
    # Before the finished quarter closes: its objectives are signed off, then frozen with it.
    objectives = seed_objectives(quarters)
    with acting_as(DEMO_ACTOR):
        for number, quarter in enumerate(quarters):
            run = runs.run_start(
                period_id=quarter.pk, kind=RunKind.FULL, trigger=RunTrigger.DEMO, user_id=None
            )
            run = _completed(run)
            if run.status != RunStatus.SUCCEEDED:
                reason = run.reason or "; ".join(p.get("message", "") for p in run.problems[:3])
                return {"skipped": f"the run of {quarter.label} did not succeed: {reason}"}
            state = "calculated"
            if number == 0 and len(quarters) > 1:
                lifecycle.period_submit_for_review(period_id=quarter.pk, principal=finance)
                _walk_route(quarter.pk)
                lifecycle.period_close(period_id=quarter.pk, principal=finance)
                state = "closed"
            done.append(
                {
                    "period": quarter.label,
                    "state": state,
                    "lines": run.line_count,
                    "totals": run.totals,
                }
            )
        codes = _seed_earning_codes()
    return {"periods": done, "earning_codes": codes, "objectives": objectives}


def _walk_route(period_id: int) -> None:
    """Decide each step of the period's approval request as the demo member who may (the comp
    admin, then finance); the last approval approves the period."""
    members = Membership.objects.filter(tenant=get_current_tenant(), is_active=True)
    principals = [principal_for_membership(m) for m in members.order_by("pk")]
    principals.sort(key=lambda p: not p.has("payouts.approve"))  # finance before tenant admins
    while (request := approval_routes.pending_request(period_id)) is not None:
        step = request.current_step
        assert step is not None
        decider = next(p for p in principals if approval_routes.eligible(step, p, request))
        approvals.approval_approve(
            request_id=request.pk, principal=decider, comment="Reviewed by the demo seed."
        )
        principals.remove(decider)  # one person approves one step


def _seed_earning_codes() -> int:
    """A payroll earning code for every component the demo pays (INC001, INC002, ...), so
    finance's payroll file is complete from the first export."""
    components = sorted(set(PayoutLine.objects.values_list("component_id", flat=True)))
    for number, component in enumerate(components, start=1):
        exports.earning_code_set(
            component_id=component, code=f"INC{number:03d}", description=f"Incentive: {component}"
        )
    return len(components)
