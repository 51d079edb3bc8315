"""Incentive-data tasks: thin wrappers that load by id and call one service.

Services start them by name through :func:`core.tasks.start` (never by importing this module,
which imports them); ``IncentivesConfig.ready()`` registers them.
"""

from __future__ import annotations

from celery import shared_task

from core.tasks import GlobalTask
from incentives import services


@shared_task(acks_late=True)  # type: ignore[untyped-decorator]
def ingest_execute_task(*, batch_id: int) -> int:
    """Import a large stored upload (its progress goes to the progress channel)."""
    return services.ingest_execute(batch_id=batch_id).pk


@shared_task(acks_late=True)  # type: ignore[untyped-decorator]
def credits_recalculate_task() -> dict[str, int]:
    """Recompute every credit of the tenant (after crediting rules changed)."""
    summary = services.credits_recalculate()
    return {
        "transactions": summary.transactions,
        "written": summary.credits_written,
        "corrections": summary.corrections_written,
        "conflicts": len(summary.conflicts),
    }


@shared_task(base=GlobalTask)  # type: ignore[untyped-decorator]
def ingest_sweep_task() -> int:
    """Mark imports whose worker died as failed, in every tenant (run by beat every minute)."""
    from core.models import Tenant
    from core.tenancy import tenant_scope

    marked = 0
    for tenant in Tenant.objects.filter(is_active=True):
        with tenant_scope(tenant):
            marked += services.ingest_sweep()
    return marked
