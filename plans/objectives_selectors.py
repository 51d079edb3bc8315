"""Reads of MBO objectives (docs/objectives.md): who may see which, a manager's team for a
period, and the agreed scores a calculation run reads.

Visibility is the one access policy's (``hierarchy/access.py``), as of the objective's period:
``plans.view`` sees every objective (a node-scoped admin those of the people in their nodes
during the period); ``plans.view.team`` a manager's team during the period, and their own;
``plans.view.self`` one's own. Who may *change* one is :func:`objective_writable`'s answer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Q, QuerySet

from core.errors import NotFoundError
from core.permissions import OBJECTIVES_TEAM
from hierarchy import org_selectors
from hierarchy.access import Access
from hierarchy.models import Period, Person
from plans.models import Objective, ObjectiveScore, ObjectiveStatus, Plan
from plans.selectors import component_names

ID_MAX = 2**63 - 1
READERS = ("plans.view", "plans.view.team", "plans.view.self")
WRITERS = ("plans.change", OBJECTIVES_TEAM)
HUNDRED = Decimal(100)


def pct(value: Decimal | None) -> str:
    """Return a percentage figure without trailing zeros: ``Decimal('60.00')`` -> ``60``."""
    if value is None:
        return ""
    return f"{value.quantize(Decimal('0.01')).normalize():f}"


def _people(access: Access, period: Period) -> QuerySet[Person]:
    """Return the people whose objectives of ``period`` the principal may read."""
    principal = access.principal
    if principal.has("plans.view"):
        if access.scope is None:
            return Person.objects.all()
        return access.people(start=period.start, end=period.end)
    if not principal.has("plans.view.team", "plans.view.self"):
        return Person.objects.none()
    return access.people(start=period.start, end=period.end)


def objective_people(*, access: Access, period: Period) -> QuerySet[Person]:
    """Return the people whose objectives of ``period`` the principal may read, by name."""
    return _people(access, period).order_by("full_name", "employee_id")


def objective_list(
    *,
    access: Access,
    period_id: int | None = None,
    person_id: int | None = None,
    status: str | None = None,
    plan_id: int | None = None,
) -> QuerySet[Objective]:
    """Return the objectives the principal may read, optionally of one period, person, status
    or plan, by period, person, plan, component."""
    qs = Objective.objects.select_related("person", "period", "plan").order_by(
        "period__start", "person__full_name", "plan_id", "component", "id"
    )
    if period_id is not None:
        qs = qs.filter(period_id=period_id)
    if person_id is not None:
        qs = qs.filter(person_id=person_id)
    if status:
        qs = qs.filter(status=status)
    if plan_id is not None:
        qs = qs.filter(plan_id=plan_id)
    if access.principal.has("plans.view") and access.scope is None:
        return qs
    if not access.principal.has(*READERS):
        return qs.none()
    # Visibility depends on the period (a team as it stood then): one condition per period.
    visible = Q(pk__in=[])
    period_ids = qs.order_by().values_list("period_id", flat=True).distinct()
    for period in Period.objects.filter(pk__in=list(period_ids)):
        visible |= Q(period_id=period.pk, person_id__in=_people(access, period).values("pk"))
    return qs.filter(visible)


def objective_get(*, access: Access, objective_id: int) -> Objective:
    """Return one objective the principal may read, or raise NotFoundError."""
    if not 0 < objective_id <= ID_MAX:
        raise NotFoundError("Objective not found.")
    found = objective_list(access=access).filter(pk=objective_id).first()
    if found is None:
        raise NotFoundError("Objective not found.")
    return found


def me(access: Access) -> Person | None:
    """Return the person linked to the principal's user, if any."""
    user_id = access.principal.user_id
    return org_selectors.person_for_user(user_id=user_id) if user_id else None


def writable_ids(*, access: Access, period: Period, person_ids: Iterable[int]) -> set[int]:
    """Return which of ``person_ids`` the principal may set, edit and sign off the objectives
    of in ``period``: a comp admin anyone it sees; a manager the people of their team then,
    never their own."""
    wanted = sorted(set(person_ids))
    principal = access.principal
    if principal.has("plans.change"):
        people = _people(access, period)
    elif principal.has(OBJECTIVES_TEAM):
        people = access.people(start=period.start, end=period.end)
        own = me(access)
        if own is not None:
            people = people.exclude(pk=own.pk)
    else:
        return set()
    return set(people.filter(pk__in=wanted).values_list("pk", flat=True))


def objective_writable(*, access: Access, person_id: int, period: Period) -> bool:
    """Return whether the principal may change ``person_id``'s objectives of ``period``."""
    return person_id in writable_ids(access=access, period=period, person_ids=[person_id])


def mbo_components(plan: Plan, period: Period) -> list[str]:
    """Return the ids of the mbo components of ``plan``'s published versions in force during
    ``period``, in spec order."""
    out: list[str] = []
    versions = plan.versions.filter(status="published").overlapping(period.start, period.end)
    for spec in versions.order_by("valid_from").values_list("spec", flat=True):
        for c in (spec or {}).get("components") or []:
            if isinstance(c, dict) and c.get("type") == "mbo" and str(c.get("id")) not in out:
                out.append(str(c.get("id")))
    return out


def mbo_plans(period: Period) -> list[tuple[Plan, list[str]]]:
    """Return the plans with an mbo component in force during ``period``, with those ids."""
    out = []
    for plan in Plan.objects.filter(archived_at__isnull=True).order_by("name", "id"):
        ids = mbo_components(plan, period)
        if ids:
            out.append((plan, ids))
    return out


def group_of(objective: Objective) -> QuerySet[Objective]:
    """Return the objectives whose weights sum to 100 % with ``objective``'s: the same person,
    period, plan and component (the ad hoc ones of the person and period together)."""
    return Objective.objects.filter(
        person_id=objective.person_id,
        period_id=objective.period_id,
        plan_id=objective.plan_id,
        component=objective.component,
    ).order_by("id")


def group_weight(
    *, person_id: int, period_id: int, plan_id: int | None, component: str, exclude: int | None
) -> Decimal:
    """Return the sum of the weights of one group's objectives (without ``exclude``)."""
    qs = Objective.objects.filter(
        person_id=person_id, period_id=period_id, plan_id=plan_id, component=component
    )
    if exclude is not None:
        qs = qs.exclude(pk=exclude)
    return sum((w for w in qs.values_list("weight", flat=True)), Decimal(0))


@dataclass
class Group:
    """One person's objectives of one plan component (or their ad hoc ones) in a period."""

    label: str
    objectives: list[Objective]
    weight: Decimal = Decimal(0)
    score: Decimal = Decimal(0)  # sum(weight x signed-off completion) / 100, in %
    signed_off: int = 0
    entered: Decimal = Decimal(0)  # the same over every completion entered, signed off or not
    waiting: int = 0  # completions entered, not signed off yet

    @property
    def weights_ok(self) -> bool:
        return self.weight == HUNDRED


@dataclass
class PersonObjectives:
    """A person's row on the objectives page: their groups and how far along they are."""

    person: Person
    groups: list[Group] = field(default_factory=list)
    writable: bool = False

    @property
    def count(self) -> int:
        return sum(len(g.objectives) for g in self.groups)

    @property
    def signed_off(self) -> int:
        return sum(g.signed_off for g in self.groups)

    @property
    def progress_pct(self) -> int:
        """Return the share of objectives signed off, in whole %."""
        return round(100 * self.signed_off / self.count) if self.count else 0


def _groups(objectives: Iterable[Objective]) -> list[Group]:
    objectives = list(objectives)
    names = component_names(plan_ids=[o.plan_id for o in objectives])
    groups: dict[tuple[int | None, str], Group] = {}
    for o in objectives:
        key = (o.plan_id, o.component)
        if key not in groups:
            label = (
                f"{o.plan.name} · {names.get(o.component, plan_id=o.plan_id)}"
                if o.plan is not None
                else "Ad hoc"
            )
            groups[key] = Group(label=label, objectives=[])
        g = groups[key]
        g.objectives.append(o)
        g.weight += o.weight
        if o.completion is not None:
            g.entered += o.weight * o.completion / HUNDRED
        if o.status == ObjectiveStatus.SIGNED_OFF and o.completion is not None:
            g.score += o.weight * o.completion / HUNDRED
            g.signed_off += 1
        elif o.completion is not None:
            g.waiting += 1
    return sorted(groups.values(), key=lambda g: (g.label == "Ad hoc", g.label))


def team_objectives(
    *, access: Access, period: Period, people: Sequence[Person] | None = None
) -> list[PersonObjectives]:
    """Return, for every person the principal may read in ``period`` (or ``people``), their
    objectives grouped by plan component, and whether the principal may change them."""
    if people is None:
        people = list(objective_people(access=access, period=period))
    ids = [p.pk for p in people]
    rows: dict[int, list[Objective]] = {pk: [] for pk in ids}
    for o in (
        Objective.objects.filter(period=period, person_id__in=ids)
        .select_related("plan", "period", "person", "signed_off_by")
        .order_by("plan_id", "component", "id")
    ):
        rows[o.person_id].append(o)
    writable = writable_ids(access=access, period=period, person_ids=ids)
    return [
        PersonObjectives(person=p, groups=_groups(rows[p.pk]), writable=p.pk in writable)
        for p in people
    ]


def objective_score_rows(
    *, period_id: int, person_ids: Iterable[int] | None, known_at: dt.datetime | None
) -> list[ObjectiveScore]:
    """Return the agreed, plan-linked objectives' scores of a period as known at ``known_at``
    (payouts.inputs feeds them to the engine), in objective order."""
    qs = ObjectiveScore.objects.filter(period_id=period_id).known_at(known_at)
    if person_ids is not None:
        qs = qs.filter(person_id__in=sorted(person_ids))
    return list(qs.order_by("person_id", "plan_id", "component", "objective_id"))
