"""Demo payouts: the demo company's quarters computed by the real run, so every page shows real
figures from the first login.

The last quarter finished by today is calculated, submitted, approved by finance (its statements
frozen, its ledger written) and closed; the quarter under way is calculated and left open, as a
live period is. Everything goes through the services a person would use (runs, the period
lifecycle), acting as the demo seed in the audit log.
"""

from __future__ import annotations

import time
from typing import Any

from django.utils import timezone

from core.audit import Actor, acting_as
from core.models import Role
from core.permissions import ROLE_PERMISSIONS, Principal
from incentives.demo import demo_quarters
from payouts import exports, lifecycle, runs
from payouts.models import CalculationRun, PayoutLine, RunKind, RunStatus, RunTrigger

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
                lifecycle.period_approve(period_id=quarter.pk, run_id=run.pk, principal=finance)
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
    return {"periods": done, "earning_codes": codes}


def _seed_earning_codes() -> int:
    """A payroll earning code for every component the demo pays (INC001, INC002, ...), so
    finance's payroll file is complete from the first export."""
    components = sorted(set(PayoutLine.objects.values_list("component_id", flat=True)))
    for number, component in enumerate(components, start=1):
        exports.earning_code_set(
            component_id=component, code=f"INC{number:03d}", description=f"Incentive: {component}"
        )
    return len(components)
