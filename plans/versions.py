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

from core.temporal import versions_record
from plans.models import PlanAssignment, PlanAssignmentVersion, Quota, QuotaVersion


def plan_assignment_versions_record(
    assignments: Iterable[PlanAssignment], *, moment: datetime | None = None
) -> int:
    """Log the assignments as they now stand (after their save); return the versions written."""
    return versions_record(
        PlanAssignmentVersion,
        key="assignment_id",
        rows=[
            {
                "assignment_id": a.pk,
                "plan_version_id": a.plan_version_id,
                "plan_id": a.plan_id,
                "person_id": a.person_id,
                "role_id": a.role_id,
                "node_id": a.node_id,
                "target_incentive": a.target_incentive,
                "currency": a.currency,
                "valid_from": a.valid_from,
                "valid_to": a.valid_to,
            }
            for a in assignments
        ],
        moment=moment,
    )


def quota_versions_record(quotas: Iterable[Quota], *, moment: datetime | None = None) -> int:
    """Log the quotas as they now stand (after their save); return the versions written."""
    return versions_record(
        QuotaVersion,
        key="quota_row_id",
        rows=[
            {
                "quota_row_id": q.pk,
                "person_id": q.person_id,
                "node_id": q.node_id,
                "quota_id": q.quota_id,
                "amount": q.amount,
                "currency": q.currency,
                "valid_from": q.valid_from,
                "valid_to": q.valid_to,
            }
            for q in quotas
        ],
        moment=moment,
    )
