"""Every read of plans: plans, versions, the diff between two, assignments as the policy allows."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet

from core.errors import NotFoundError
from core.params import ID_MAX
from hierarchy.access import Access
from hierarchy.models import NodeClosure
from plans.diff import spec_diff
from plans.models import Plan, PlanAssignment, PlanVersion, VersionStatus


def _known(*ids: int | None) -> None:
    """Refuse ids no row can have (a path's 2**63 would overflow the database's integer)."""
    if any(i is not None and not 0 < i <= ID_MAX for i in ids):
        raise NotFoundError("Not found.")


def plan_list(*, archived: bool | None = False, search: str | None = None) -> QuerySet[Plan]:
    """Return plans (by default the ones not archived), with their version counts."""
    qs: QuerySet[Plan] = Plan.objects.annotate(
        version_count=Count("versions", distinct=True),
        published_count=Count(
            "versions", filter=Q(versions__status=VersionStatus.PUBLISHED), distinct=True
        ),
    ).order_by("name", "id")
    if archived is not None:
        qs = qs.filter(archived_at__isnull=not archived)
    if search:
        qs = qs.filter(Q(name__icontains=search) | Q(code__icontains=search))
    return qs


def plan_get(*, plan_id: int) -> Plan:
    """Return one plan (archived ones too) or raise NotFoundError."""
    _known(plan_id)
    plan: Plan | None = Plan.objects.filter(pk=plan_id).first()
    if plan is None:
        raise NotFoundError("Plan not found.")
    return plan


def plan_version_list(*, plan_id: int) -> QuerySet[PlanVersion]:
    """Return a plan's versions, newest first."""
    plan_get(plan_id=plan_id)
    return PlanVersion.objects.filter(plan_id=plan_id).order_by("-number")


def plan_version_get(*, plan_id: int, number: int) -> PlanVersion:
    """Return version ``number`` of a plan or raise NotFoundError."""
    _known(plan_id, number)
    version: PlanVersion | None = (
        PlanVersion.objects.select_related("plan", "created_by", "published_by")
        .filter(plan_id=plan_id, number=number)
        .first()
    )
    if version is None:
        raise NotFoundError("Plan version not found.")
    return version


def plan_version_by_id(*, version_id: int) -> PlanVersion:
    """Return a version by its id or raise NotFoundError."""
    _known(version_id)
    version: PlanVersion | None = (
        PlanVersion.objects.select_related("plan").filter(pk=version_id).first()
    )
    if version is None:
        raise NotFoundError("Plan version not found.")
    return version


def plan_version_in_force(*, plan_id: int, day: Any) -> PlanVersion | None:
    """Return the published version of a plan in force on ``day``, if any."""
    return (
        PlanVersion.objects.filter(plan_id=plan_id, status=VersionStatus.PUBLISHED)
        .as_of(day)
        .first()
    )


def plan_version_diff(*, plan_id: int, old: int, new: int) -> list[str]:
    """Return the changes from version ``old`` to version ``new`` of a plan, in words."""
    before = plan_version_get(plan_id=plan_id, number=old)
    after = plan_version_get(plan_id=plan_id, number=new)
    return spec_diff(before.spec, after.spec)


def plan_assignment_list(
    *, access: Access, plan_id: int | None = None, version_id: int | None = None
) -> QuerySet[PlanAssignment]:
    """Return the assignments the principal may see: all for tenant-wide readers; for a
    node-scoped admin, those of people they see and of nodes inside their scope."""
    qs = PlanAssignment.objects.select_related(
        "plan_version", "plan", "person", "role", "node"
    ).order_by("valid_from", "id")
    if plan_id is not None:
        qs = qs.filter(plan_id=plan_id)
    if version_id is not None:
        qs = qs.filter(plan_version_id=version_id)
    if access.sees_everyone:
        return qs
    if not access.principal.has("plans.view"):
        return qs.none()
    people = access.current_people().values("pk")
    nodes = NodeClosure.objects.filter(ancestor_id__in=sorted(access.scope or ())).values(
        "descendant_id"
    )
    return qs.filter(Q(person_id__in=people) | Q(node_id__in=nodes))


def plan_assignment_get(*, access: Access, assignment_id: int) -> PlanAssignment:
    """Return one assignment the principal may see or raise NotFoundError."""
    _known(assignment_id)
    found: PlanAssignment | None = (
        plan_assignment_list(access=access).filter(pk=assignment_id).first()
    )
    if found is None:
        raise NotFoundError("Plan assignment not found.")
    return found
