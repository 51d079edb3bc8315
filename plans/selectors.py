"""Every read of plans: plans, versions, the diff between two, assignments and quotas as the
policy allows, and the quota frame a payout run hands the engine."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pandas as pd
from django.db.models import Count, Q, QuerySet

from core.errors import NotFoundError
from core.params import ID_MAX
from engine.money import div, mul, to_e4
from engine.spec import component_title, spec_component_titles
from engine.types import QUOTA_COLUMNS
from hierarchy.access import Access
from hierarchy.models import Assignment, NodeClosure, Person
from plans.diff import spec_diff
from plans.documents import PlanDocument, plan_document
from plans.models import (
    Plan,
    PlanAcknowledgement,
    PlanAssignment,
    PlanVersion,
    Quota,
    QuotaVersion,
    VersionStatus,
)


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


@dataclass(frozen=True)
class ComponentNames:
    """What pages call the components of some plans (``component_names`` loads it): the
    plan's own name for each, else its id in words (``engine.spec.component_title``)."""

    by_version: Mapping[int, Mapping[str, str]] = field(default_factory=dict)
    by_plan: Mapping[int, Mapping[str, str]] = field(default_factory=dict)

    def get(
        self, component_id: str, *, version_id: int | None = None, plan_id: int | None = None
    ) -> str:
        """Return a component's name in a plan version (or a plan's newest published one);
        a version, plan or component it does not know gets the id in words."""
        if not component_id:
            return ""
        own = self.by_version.get(version_id or 0, {}).get(component_id)
        own = own or self.by_plan.get(plan_id or 0, {}).get(component_id)
        return own or component_title(component_id)


def component_names(
    *, version_ids: Iterable[int | None] = (), plan_ids: Iterable[int | None] = ()
) -> ComponentNames:
    """Return the component names of these plan versions and of these plans' newest published
    versions (at most two queries, whatever the number of rows a page shows)."""
    versions = {int(v) for v in version_ids if v}
    plans = {int(p) for p in plan_ids if p}
    by_version: dict[int, Mapping[str, str]] = {}
    if versions:
        rows = PlanVersion.objects.filter(pk__in=versions).values_list("pk", "spec")
        by_version = {pk: spec_component_titles(spec) for pk, spec in rows}
    by_plan: dict[int, Mapping[str, str]] = {}
    if plans:
        newest = (
            PlanVersion.objects.filter(plan_id__in=plans, status=VersionStatus.PUBLISHED)
            .order_by("plan_id", "-number")
            .values_list("plan_id", "spec")
        )
        for plan_id, spec in newest:
            by_plan.setdefault(plan_id, spec_component_titles(spec))
    return ComponentNames(by_version, by_plan)


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


# --- quotas -------------------------------------------------------------------------------------


def _visible_holders(access: Access, qs: QuerySet[Any]) -> QuerySet[Any]:
    """Keep the rows (with ``person_id`` / ``node_id``) of holders the principal answers for."""
    if access.sees_everyone:
        return qs
    if not access.principal.has("plans.view"):
        return qs.none()
    people = access.current_people().values("pk")
    nodes = NodeClosure.objects.filter(ancestor_id__in=sorted(access.scope or ())).values(
        "descendant_id"
    )
    return qs.filter(Q(person_id__in=people) | Q(node_id__in=nodes))


def quota_list(
    *,
    access: Access,
    plan_id: int | None = None,
    quota_id: str | None = None,
    person_id: int | None = None,
    node_id: int | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> QuerySet[Quota]:
    """Return the quotas the principal may see, optionally of one plan, id or holder, or
    overlapping ``[start, end)``."""
    base = Quota.objects.overlapping(start, end) if start is not None else Quota.objects.all()
    qs: QuerySet[Quota] = base.select_related("person", "node", "plan").order_by(
        "quota_id", "valid_from", "id"
    )
    if plan_id is not None:
        qs = qs.filter(plan_id=plan_id)
    if quota_id:
        qs = qs.filter(quota_id=quota_id)
    if person_id is not None:
        qs = qs.filter(person_id=person_id)
    if node_id is not None:
        qs = qs.filter(node_id=node_id)
    return _visible_holders(access, qs)


def quota_get(*, access: Access, quota_pk: int) -> Quota:
    """Return one quota the principal may see or raise NotFoundError."""
    _known(quota_pk)
    found: Quota | None = quota_list(access=access).filter(pk=quota_pk).first()
    if found is None:
        raise NotFoundError("Quota not found.")
    return found


QUOTA_FRAME_COLUMNS = ("holder_kind", *QUOTA_COLUMNS, "currency")
MIXED_CURRENCY = "{kind} {holder}: quota {quota_id!r} is in {currencies} within {start}..{end}."


def quota_frame(
    *,
    start: dt.date,
    end: dt.date,
    person_ids: Collection[int] | None = None,
    node_ids: Collection[int] | None = None,
    whole: Collection[str] = (),
    known_at: dt.datetime | None = None,
) -> pd.DataFrame:
    """Return the quotas of the window ``[start, end)`` in the engine's shape, one row per
    holder and quota id: ``holder_kind`` (person|node), ``holder_id`` (str(Person.pk) or
    str(Node.pk)), ``quota_id``, ``amount_e4`` (int, ten-thousandths) and ``currency``.

    A quota lying inside the window counts whole (three monthly quotas make a quarter's); one
    reaching beyond it counts for the share of its days inside the window (an annual quota in
    a monthly run: its days in that month / its days), exact, rounded once to ten-thousandths
    (half-even). Quota ids in ``whole`` are passed as the row in force on ``start``, unshared:
    a plan with ``seasonality`` on them gives each period its share of the annual quota itself.
    ``person_ids`` / ``node_ids`` None: every person / node; an empty collection: none.
    Rows of one holder and id in different currencies are refused (ValueError) rather than
    added. A payout run reads this for its tenant (no principal: the run sees everyone), with
    ``known_at``: the quotas as known then (their version log, ``plans/versions.py``); without
    it, the quotas as they stand."""
    qs: Any = (
        Quota.objects.overlapping(start, end)
        if known_at is None
        else QuotaVersion.objects.overlapping(start, end).known_at(known_at)
    )
    if person_ids is not None or node_ids is not None:
        holders = Q(pk__in=[])
        if person_ids is None:
            holders |= Q(person_id__isnull=False)
        elif person_ids:
            holders |= Q(person_id__in=sorted(person_ids))
        if node_ids is None:
            holders |= Q(node_id__isnull=False)
        elif node_ids:
            holders |= Q(node_id__in=sorted(node_ids))
        qs = qs.filter(holders)
    rows = qs.order_by("quota_id", "person_id", "node_id", "valid_from").values_list(
        "person_id", "node_id", "quota_id", "amount", "currency", "valid_from", "valid_to"
    )
    totals: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    currencies: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for person_id, node_id, quota_id, amount, currency, valid_from, valid_to in rows:
        key = (("person", str(person_id)) if person_id is not None else ("node", str(node_id))) + (
            quota_id,
        )
        if quota_id in whole:
            if valid_from <= start < valid_to:
                totals[key] = amount
                currencies[key].add(currency)
            continue
        inside = (min(end, valid_to) - max(start, valid_from)).days
        span = (valid_to - valid_from).days
        totals[key] += (
            amount if inside == span else div(mul(amount, Decimal(inside)), Decimal(span))
        )
        currencies[key].add(currency)
    for (kind, holder, quota_id), found in currencies.items():
        if len(found) > 1:
            raise ValueError(
                MIXED_CURRENCY.format(
                    kind=kind,
                    holder=holder,
                    quota_id=quota_id,
                    currencies=" and ".join(sorted(found)),
                    start=start,
                    end=end,
                )
            )
    records = [
        {
            "holder_kind": kind,
            "holder_id": holder,
            "quota_id": quota_id,
            "amount_e4": to_e4(amount),
            "currency": next(iter(currencies[(kind, holder, quota_id)])),
        }
        for (kind, holder, quota_id), amount in totals.items()
    ]
    frame = pd.DataFrame.from_records(records, columns=list(QUOTA_FRAME_COLUMNS))
    return frame.astype({"amount_e4": "int64"})


# --- plan documents and acknowledgements --------------------------------------------------------


def plan_assignments_of_person(*, person: Person, day: dt.date) -> QuerySet[PlanAssignment]:
    """Return the assignments that put a plan on ``person`` on ``day`` or later: on them by
    name, on a job role they hold on ``day``, or on a node whose subtree they work in then."""
    mine = Assignment.objects.filter(person=person).known_now().as_of(day)
    nodes = NodeClosure.objects.filter(descendant_id__in=mine.values("node_id")).as_of(day)
    return (
        PlanAssignment.objects.filter(
            Q(person=person)
            | Q(role_id__in=mine.values("role_id"))
            | Q(node_id__in=nodes.values("ancestor_id"))
        )
        .overlapping(day, None)
        .select_related("plan_version", "plan", "person", "role", "node")
        .order_by("plan__name", "valid_from", "id")
    )


def plan_people(*, plan_id: int, day: dt.date) -> list[tuple[Person, PlanAssignment]]:
    """Return who is on a plan on ``day`` (or from a later start) and through which assignment:
    by name, by a job role they hold, or by working in an assigned node's subtree."""
    out: dict[tuple[int, int], tuple[Person, PlanAssignment]] = {}
    assignments = (
        PlanAssignment.objects.filter(plan_id=plan_id)
        .overlapping(day, None)
        .select_related("plan_version", "person")
        .order_by("valid_from", "id")
    )
    for a in assignments:
        on = max(day, a.valid_from)
        if a.person_id is not None:
            people: Any = [a.person]
        elif a.role_id is not None:
            held = Assignment.objects.filter(role_id=a.role_id).known_now().as_of(on)
            people = Person.objects.filter(pk__in=held.values("person_id"))
        else:
            subtree = NodeClosure.objects.filter(ancestor_id=a.node_id).as_of(on)
            held = (
                Assignment.objects.filter(node_id__in=subtree.values("descendant_id"))
                .known_now()
                .as_of(on)
            )
            people = Person.objects.filter(pk__in=held.values("person_id"))
        for person in people:
            out.setdefault((person.pk, a.plan_version_id), (person, a))
    return sorted(out.values(), key=lambda pa: (pa[0].full_name, pa[1].plan_version.number))


def person_quotas(
    *, person_id: int, day: dt.date
) -> dict[str, tuple[Decimal, str, dt.date, dt.date]]:
    """Return a person's quotas in force on ``day`` (else the next one) by quota id."""
    out: dict[str, tuple[Decimal, str, dt.date, dt.date]] = {}
    rows = (
        Quota.objects.filter(person_id=person_id)
        .overlapping(day, None)
        .order_by("valid_from", "id")
        .values_list("quota_id", "amount", "currency", "valid_from", "valid_to")
    )
    for quota_id, amount, currency, start, end in rows:
        out.setdefault(quota_id, (amount, currency, start, end))
    return out


def plan_acknowledgement_list(*, access: Access) -> QuerySet[PlanAcknowledgement]:
    """Return the acknowledgements of the people the principal sees (an employee: her own; a
    manager: her team's, on the days she manages it; a comp admin: everyone's)."""
    qs = PlanAcknowledgement.objects.select_related("person", "plan", "plan_version").order_by(
        "-acknowledged_at", "id"
    )
    if access.sees_everyone and access.principal.has("plans.view"):
        return qs
    if not access.principal.has("plans.view", "plans.view.team", "plans.view.self"):
        return qs.none()
    today = access.today
    visible = access.people(start=today, end=today + dt.timedelta(days=1))
    return qs.filter(person_id__in=visible.values("pk"))


def plan_acknowledgement_get(*, access: Access, acknowledgement_id: int) -> PlanAcknowledgement:
    """Return one acknowledgement the principal may see or raise NotFoundError."""
    _known(acknowledgement_id)
    found = plan_acknowledgement_list(access=access).filter(pk=acknowledgement_id).first()
    if found is None:
        raise NotFoundError("Acknowledgement not found.")
    return found


def plan_document_person(*, access: Access, person_id: int) -> Person:
    """Return a person whose plan documents the principal may read (404 otherwise): herself
    (plans.view.self), her team (plans.view.team), anyone she sees (plans.view)."""
    _known(person_id)
    if not access.principal.has("plans.view", "plans.view.team", "plans.view.self"):
        raise NotFoundError("Not found.")
    today = access.today
    return access.person_get(person_id=person_id, start=today, end=today + dt.timedelta(days=1))


def plan_document_get(
    *, access: Access, person_id: int, version_id: int, day: dt.date
) -> tuple[Person, PlanAssignment, PlanDocument]:
    """Return a person's document of one published version assigned to her on ``day`` (or
    later), with the engine's worked examples; 404 when she is not the principal's to read or
    not on that version."""
    _known(version_id)
    person = plan_document_person(access=access, person_id=person_id)
    assignment = (
        plan_assignments_of_person(person=person, day=day)
        .filter(plan_version_id=version_id, plan_version__status=VersionStatus.PUBLISHED)
        .first()
    )
    if assignment is None:
        raise NotFoundError("Not found.")
    version = assignment.plan_version
    doc = plan_document(
        spec=version.spec,
        plan_name=assignment.plan.name,
        version_number=version.number,
        spec_hash=version.spec_hash,
        valid_from=version.valid_from,
        valid_to=version.valid_to,
        assignment_from=assignment.valid_from,
        assignment_to=assignment.valid_to,
        holder_label=assignment.holder_label,
        target_incentive=assignment.target_incentive,
        currency=assignment.currency,
        quotas=person_quotas(person_id=person.pk, day=day),
    )
    return person, assignment, doc
