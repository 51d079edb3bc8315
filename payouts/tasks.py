"""Calculation-run tasks: thin wrappers that load by id and call one service of payouts.runs.

Every task is a :class:`core.tasks.TenantTask` (the tenant travels with it) with ``acks_late``
and ``reject_on_worker_lost``: a worker killed mid-task leaves its message to be delivered
again, and the chunk's own state in PostgreSQL (``RunChunk``) makes a second delivery write
nothing twice. Results are never stored (Redis may be restarting): the state is the database.
Services start them by name (``core.tasks.start``), never by importing this module.
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from core.tasks import GlobalTask
from payouts import runs

# One chunk of 500 people takes well under a minute on the benchmark's data (docs/runs.md);
# the soft limit leaves a chunk's transaction time to roll back before the hard one.
CHUNK_SOFT_LIMIT = max(30, settings.CELERY_TASK_TIME_LIMIT - 60)

_RELIABLE = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "ignore_result": True,
    "time_limit": settings.CELERY_TASK_TIME_LIMIT,
    "soft_time_limit": CHUNK_SOFT_LIMIT,
}


@shared_task(**_RELIABLE)  # type: ignore[untyped-decorator]
def run_execute_task(*, run_id: int) -> None:
    """Begin a run (its people in chunks) and send its first chunks to the workers."""
    runs.run_execute(run_id=run_id)


@shared_task(**_RELIABLE)  # type: ignore[untyped-decorator]
def run_chunk_task(*, chunk_id: int) -> str:
    """Compute one chunk of one phase of a run; the last of a phase moves the run on."""
    return runs.chunk_execute(chunk_id=chunk_id)


@shared_task(base=GlobalTask, ignore_result=True)  # type: ignore[untyped-decorator]
def run_sweep_task() -> int:
    """Send again the chunks of unfinished runs whose worker went silent (beat, every 30 s)."""
    from core.models import Tenant
    from core.tenancy import tenant_scope

    sent = 0
    for tenant in Tenant.objects.filter(is_active=True):
        with tenant_scope(tenant):
            sent += runs.run_sweep()
    return sent


# --- nudges (payouts/nudges.py) ----------------------------------------------------------------


@shared_task(acks_late=True, ignore_result=True)  # type: ignore[untyped-decorator]
def nudges_after_run_task(*, run_id: int) -> int:
    """Tell the people who opted in what a succeeded run brought within reach or crossed."""
    from payouts import nudges

    return nudges.nudges_after_run(run_id=run_id)


@shared_task(base=GlobalTask, ignore_result=True)  # type: ignore[untyped-decorator]
def nudge_retry_sweep_task() -> int:
    """Start each active tenant's nudge retries (beat, every minute)."""
    from core.models import Tenant
    from core.tasks import send_on_commit
    from core.tenancy import tenant_scope
    from payouts.models import SentNudge

    started = 0
    for tenant in Tenant.objects.filter(is_active=True):
        with tenant_scope(tenant):
            if SentNudge.objects.filter(retry_at__lte=timezone.now()).exists():
                send_on_commit("payouts.tasks.nudges_retry_task")
                started += 1
    return started


@shared_task(acks_late=True, ignore_result=True)  # type: ignore[untyped-decorator]
def nudges_retry_task() -> int:
    """Try again the current tenant's nudge channels whose retry is due."""
    from payouts import nudges

    return nudges.nudges_retry()


# --- approval reminders (payouts/approvals.py) ---------------------------------------------------


@shared_task(base=GlobalTask, ignore_result=True)  # type: ignore[untyped-decorator]
def approval_remind_sweep_task() -> int:
    """Start each active tenant's approval reminders (beat, every 15 minutes)."""
    from core.models import Tenant
    from core.tasks import send_on_commit
    from core.tenancy import tenant_scope

    started = 0
    for tenant in Tenant.objects.filter(is_active=True):
        with tenant_scope(tenant):
            send_on_commit("payouts.tasks.approval_reminders_send_task")
            started += 1
    return started


@shared_task(ignore_result=True)  # type: ignore[untyped-decorator]
def approval_reminders_send_task() -> int:
    """E-mail the current tenant's approvers whose step waits longer than its route allows."""
    from payouts import approvals

    return approvals.approval_reminders_send()


# --- live runs and schedules (payouts/live.py, payouts/schedules.py) -----------------------------

_LIVE = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "ignore_result": True,
    "time_limit": settings.CELERY_TASK_TIME_LIMIT,
    "soft_time_limit": CHUNK_SOFT_LIMIT,
}


@shared_task(**_LIVE)  # type: ignore[untyped-decorator]
def live_recalculate_task() -> int:
    """Bring the tenant's live periods up to date with its pending changes (sent, debounced,
    when a write records changes; one pass claims everything pending)."""
    from core.tasks import debounce_release
    from payouts import live

    debounce_release(live.TASK)
    return len(live.live_recalculate())


@shared_task(base=GlobalTask, ignore_result=True)  # type: ignore[untyped-decorator]
def live_sweep_task() -> int:
    """The change feed's safety net (beat, every 10 s): a pass for every tenant with pending
    changes whose task was lost (a Redis restart, a killed worker)."""
    from core.changes import changes_pending
    from core.models import Tenant
    from core.tenancy import tenant_scope
    from payouts import live

    if not live.enabled_here():
        return 0
    done = 0
    for tenant in Tenant.objects.filter(is_active=True):
        with tenant_scope(tenant):
            if changes_pending().exists():
                done += len(live.live_recalculate())
    return done


@shared_task(base=GlobalTask, ignore_result=True)  # type: ignore[untyped-decorator]
def run_schedules_task() -> int:
    """Start the full runs every tenant's run schedules have due (beat, every minute)."""
    from core.models import Tenant
    from core.tenancy import tenant_scope
    from payouts import schedules

    started = 0
    for tenant in Tenant.objects.filter(is_active=True):
        with tenant_scope(tenant):
            started += len(schedules.schedules_run_due())
    return started
