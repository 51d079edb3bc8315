"""The version logs of plan assignments and quotas: the one place that writes them.

A :class:`~plans.models.PlanAssignment` or :class:`~plans.models.Quota` is edited in place (an
assignment's end moves, a quota's amount is corrected) and keeps its id, which pages, the API,
the change feed and audit events name. What a calculation reads of it is logged beside it
(:class:`~plans.models.PlanAssignmentVersion`, :class:`~plans.models.QuotaVersion`), through
``core.temporal.versions_record``, by every service that writes one, in the same transaction, so
``payouts.inputs`` reads them as known at a run's ``known_at`` and a replay pays as the run did.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from core.temporal import versions_record
from plans.models import PlanAssignment, PlanAssignmentVersion, Quota, QuotaVersion

# The fields each log copies from its live row (same names on both).
ASSIGNMENT_FIELDS = (
    "plan_version_id",
    "plan_id",
    "person_id",
    "role_id",
    "node_id",
    "target_incentive",
    "currency",
    "valid_from",
    "valid_to",
)
QUOTA_FIELDS = ("person_id", "node_id", "quota_id", "amount", "currency", "valid_from", "valid_to")


def _rows(key: str, objs: Iterable[Any], fields: tuple[str, ...]) -> list[dict[str, Any]]:
    return [{key: o.pk, **{f: getattr(o, f) for f in fields}} for o in objs]


def plan_assignment_versions_record(
    assignments: Iterable[PlanAssignment], *, moment: datetime | None = None
) -> int:
    """Log the assignments as they now stand (after their save); return the versions written."""
    return versions_record(
        PlanAssignmentVersion,
        key="assignment_id",
        rows=_rows("assignment_id", assignments, ASSIGNMENT_FIELDS),
        moment=moment,
    )


def quota_versions_record(quotas: Iterable[Quota], *, moment: datetime | None = None) -> int:
    """Log the quotas as they now stand (after their save); return the versions written."""
    return versions_record(
        QuotaVersion,
        key="quota_row_id",
        rows=_rows("quota_row_id", quotas, QUOTA_FIELDS),
        moment=moment,
    )
