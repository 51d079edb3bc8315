"""Incentive-data tasks: thin wrappers that load by id and call one service."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from incentives import progress as ingest_progress
from incentives import services


@shared_task(bind=True, acks_late=True)  # type: ignore[untyped-decorator]
def ingest_execute_task(self: Any, *, batch_id: int) -> int:
    """Process a large stored upload, reporting progress as rows are read."""

    def progress(rows: int) -> None:
        self.update_state(state="PROGRESS", meta={"rows_processed": rows})
        ingest_progress.report(batch_id, rows)

    return services.ingest_execute(batch_id=batch_id, progress=progress).pk


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
