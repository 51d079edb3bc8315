"""Demo plans: one plan per template, published from the start of this fiscal year, assigned to
the job roles it was written for (the templates are loaded from plans/templates/, never copied),
and quotas for the people on those roles: every quota id the template's sample gives a person,
for each payout period of the fiscal year, at the sample's monthly amount x the period's months.
A template's worked cases become the test cases of its plan's first version (plans/cases.py), so
every demo plan is published with its cases passing.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from core.audit import Actor, acting_as
from core.models import Membership, Role
from core.permissions import ROLE_PERMISSIONS, Principal, principal_for_membership
from core.tenancy import get_current_tenant
from hierarchy import org_selectors, periods
from hierarchy.access import access_for
from hierarchy.models import Assignment, JobRole, Node, Period
from plans import catalog, objectives, objectives_selectors, services
from plans.models import Objective, Plan, PlanAssignment, Quota

# template -> (job role it is assigned to, target incentive per payout period)
ROLE_OF_TEMPLATE: dict[str, tuple[str, Decimal]] = {
    "sales_ae": ("Account Executive", Decimal(6000)),
    "sdr": ("Sales Development Rep", Decimal(1500)),
    "marketing": ("Demand Generation", Decimal(2000)),
    "customer_success": ("Customer Success Manager", Decimal(2000)),
    "support": ("Support Engineer", Decimal(800)),
    "product": ("Product Manager", Decimal(2500)),
    "operations": ("Revenue Operations Analyst", Decimal(8000)),
    "manager_override": ("Sales Manager", Decimal(4000)),
}
# Shared plans: template -> (the job roles of every team in it, target incentive per period).
SHARED_TEMPLATES: dict[str, tuple[tuple[str, ...], Decimal]] = {
    "shared_launch_milestone": (("Demand Generation", "Product Manager"), Decimal(1500)),
}
DEMO_ACTOR = Actor(label="plans demo seed")
# The templates name teams by short codes (their samples' org); the demo org's nodes for them.
DEMO_NODES = {
    "marketing": "vp-marketing",
    "product": "vp-product",
    "support": "vp-support",
    "plant": "vp-operations",
}
_NODE_REFS = re.compile(r"(source_node: )([\w-]+)|(teams: \[)([^\]]*)(\])")


def demo_source(key: str, *, plan_id: str, name: str) -> str:
    """The template's plan text with its team codes replaced by the demo org's node codes."""

    def node(code: str) -> str:
        return DEMO_NODES.get(code.strip(), code.strip())

    def swap(match: re.Match[str]) -> str:
        if match.group(1):
            return match.group(1) + node(match.group(2))
        teams = ", ".join(node(c) for c in match.group(4).split(","))
        return f"{match.group(3)}{teams}{match.group(5)}"

    return _NODE_REFS.sub(swap, catalog.template_source(key, plan_id=plan_id, name=name))


def seed_plans() -> dict[str, Any]:
    """Create and publish the template plans (once), assign them to their job roles, and give
    the people on those roles their quotas (once)."""
    if Plan.objects.exists():
        if Quota.objects.exists():
            return {"skipped": "plans already seeded"}
        return {"quotas": seed_quotas(), "skipped": "plans already seeded; quotas seeded"}
    result = _seed_plans()
    result["quotas"] = seed_quotas()
    return result


MONTHS_OF_FREQUENCY = {"monthly": 1, "quarterly": 3, "semiannual": 6, "annual": 12}


def seed_quotas() -> int:
    """Give everyone on a seeded role plan the quotas its template's sample names for a
    person, one per payout period of this fiscal year; return how many were written."""
    tenant = get_current_tenant()
    today = periods.tenant_today(tenant)
    fy = periods.fiscal_year_of(tenant, today)
    start, end = periods.fiscal_year_bounds(tenant, fy)
    months = [p for p in periods.fiscal_year_periods(tenant, fy) if p.kind == "monthly"]
    access = access_for(Principal(permissions=ROLE_PERMISSIONS[Role.COMP_ADMIN]), today=today)
    rows: list[services.QuotaRow] = []
    assigned = PlanAssignment.objects.filter(role__isnull=False).select_related("plan", "role")
    for assignment in assigned:
        template = catalog.template_get(assignment.plan.template)
        sample = template.sample
        # The plan's own quota ids only: a manager's sample also gives her team's AEs theirs.
        own = set(services.quota_ids_of(template.plan))
        wanted = [
            q
            for q in sample.get("quotas", [])
            if q.get("holder_kind", "person") == "person" and str(q["quota"]) in own
        ]
        if not wanted:
            continue
        step = MONTHS_OF_FREQUENCY.get(str(template.plan.get("payout_frequency", "monthly")), 1)
        people = sorted(
            set(
                Assignment.objects.filter(role_id=assignment.role_id)
                .known_now()
                .overlapping(start, end)
                .values_list("person_id", flat=True)
            )
        )
        for person_id in people:
            for i in range(0, len(months), step):
                span = months[i : i + step]
                rows.extend(
                    services.QuotaRow(
                        holder=services.QuotaHolder(person_id=person_id),
                        quota_id=str(q["quota"]),
                        amount=Decimal(str(q["amount"])) * len(span),
                        valid_from=span[0].start,
                        valid_to=span[-1].end,
                        plan_id=assignment.plan_id,
                    )
                    for q in wanted
                )
    rows = _team_quotas(rows)
    rows.extend(_node_quota_rows(fy))
    with acting_as(DEMO_ACTOR):
        return len(services.quota_bulk_create(access=access, rows=rows, user_id=None))


# A manager's team quota is the sum of the quotas of the team it stands for (what a comp admin
# sets), not the template sample's one figure for every team: (template, quota id) -> (the
# team's plan template, the quota ids summed).
TEAM_QUOTAS: dict[tuple[str, str], tuple[str, tuple[str, ...]]] = {
    ("manager_override", "team_bookings"): ("sales_ae", ("new_bookings", "expansion_bookings")),
}


def _team_quotas(rows: list[services.QuotaRow]) -> list[services.QuotaRow]:
    """``rows`` with each team quota of ``TEAM_QUOTAS`` set to the sum, over the people in its
    holder's subtree (the nodes she is assigned to, during the quota's span), of their quotas
    of the same span; a manager with no such team keeps the sample's figure."""
    template_of = dict(Plan.objects.values_list("pk", "template"))
    held: dict[tuple[str, str, int, Any], Decimal] = {}
    for row in rows:
        held[
            (
                template_of.get(row.plan_id, ""),
                row.quota_id,
                row.holder.person_id or 0,
                row.valid_from,
            )
        ] = Decimal(row.amount)
    out = []
    for row in rows:
        team = TEAM_QUOTAS.get((template_of.get(row.plan_id, ""), row.quota_id))
        manager = row.holder.person_id
        if team is None or manager is None:
            out.append(row)
            continue
        end = row.valid_to or row.valid_from
        nodes = (
            Assignment.objects.filter(person_id=manager, node__hierarchy__kind="reporting")
            .known_now()
            .overlapping(row.valid_from, end)
            .values_list("node_id", flat=True)
        )
        members = {
            person
            for node in set(nodes)
            for person in org_selectors.person_ids_in_subtree(
                node_id=node, start=row.valid_from, end=end
            ).values_list("person_id", flat=True)
            if person != manager
        }
        template, quota_ids = team
        total = sum(
            (
                held.get((template, q, person, row.valid_from), Decimal(0))
                for person in members
                for q in quota_ids
            ),
            Decimal(0),
        )
        out.append(dataclasses.replace(row, amount=total) if total else row)
    return out


def _node_quota_rows(fy: int) -> list[services.QuotaRow]:
    """The team quotas the assigned plans' samples name (e.g. each team's launch deliverables),
    for the demo org's node of each sample team, one per quarter of fiscal year ``fy``."""
    tenant = get_current_tenant()
    quarters = [p for p in periods.fiscal_year_periods(tenant, fy) if p.kind == "quarterly"]
    nodes = {n.code: n for n in Node.objects.all()}
    rows: list[services.QuotaRow] = []
    plans = Plan.objects.filter(pk__in=PlanAssignment.objects.values("plan_id")).order_by("pk")
    for plan in plans:
        sample = catalog.template_get(plan.template).sample
        for q in sample.get("quotas", []):
            node = nodes.get(DEMO_NODES.get(str(q.get("holder")), str(q.get("holder"))))
            if q.get("holder_kind") != "node" or node is None:
                continue
            rows.extend(
                services.QuotaRow(
                    holder=services.QuotaHolder(node_id=node.pk),
                    quota_id=str(q["quota"]),
                    amount=Decimal(str(q["amount"])),
                    valid_from=quarter.start,
                    valid_to=quarter.end,
                    plan_id=plan.pk,
                )
                for quarter in quarters
            )
    return rows


def _roles_of(key: str, roles: dict[str, JobRole]) -> list[JobRole]:
    """The job roles the demo assigns template ``key`` to (a shared plan: several)."""
    names = (
        SHARED_TEMPLATES[key][0]
        if key in SHARED_TEMPLATES
        else (ROLE_OF_TEMPLATE.get(key, ("",))[0],)
    )
    return [roles[n] for n in names if n in roles]


def _target_of(key: str) -> Decimal:
    if key in SHARED_TEMPLATES:
        return SHARED_TEMPLATES[key][1]
    return ROLE_OF_TEMPLATE.get(key, ("", Decimal(0)))[1]


def _seed_plans() -> dict[str, Any]:
    tenant = get_current_tenant()
    today = periods.tenant_today(tenant)
    start, _end = periods.fiscal_year_bounds(tenant, periods.fiscal_year_of(tenant, today))
    access = access_for(Principal(permissions=ROLE_PERMISSIONS[Role.COMP_ADMIN]), today=today)
    roles = {r.name: r for r in JobRole.objects.all()}
    created, assigned = 0, 0
    with acting_as(DEMO_ACTOR):
        for template in catalog.template_list():
            code = template.key.replace("_", "-")
            plan = services.plan_create(
                code=code,
                name=template.name,
                source=demo_source(template.key, plan_id=code, name=template.name),
                description=template.summary,
                template=template.key,
                valid_from=start,
                user_id=None,
            )
            version = services.plan_version_publish(version_id=plan.versions.get().pk, user_id=None)
            created += 1
            for role in _roles_of(template.key, roles):
                services.plan_assignment_create(
                    access=access,
                    plan_version_id=version.pk,
                    holder=services.Holder(role_id=role.pk),
                    target_incentive=_target_of(template.key),
                    valid_from=start,
                    user_id=None,
                )
                assigned += 1
    return {"plans": created, "assignments": assigned, "from": start.isoformat()}


# --- MBO objectives (docs/objectives.md) -------------------------------------------------------

DEMO_OBJECTIVES = (
    ("Launch the partner program in two regions", "50"),
    ("Run a quarterly account review with every top-10 customer", "30"),
    ("Mentor a new hire through their first quarter", "20"),
)
DEMO_COMPLETION = ("100", "80", "60")
DEMO_TEAM_SIZE = 4  # the demo manager's first reports that get objectives


def seed_objectives(quarters: Sequence[Period]) -> int:
    """Give the demo manager's first reports ad hoc objectives (the demo's plans have no mbo
    component, so they are tracked, not paid): in the finished quarter set, completed and signed
    off by the manager; in the quarter under way set, the first person's first one submitted
    and waiting for the manager's sign-off. Once; return how many were written."""
    if Objective.objects.exists() or not quarters:
        return 0
    members = Membership.objects.filter(tenant=get_current_tenant()).order_by("pk")
    membership = next((m for m in members if Role.MANAGER in m.roles), None)
    if membership is None:
        return 0
    access = access_for(principal_for_membership(membership), today=quarters[-1].start)
    # The writes are the manager's (his user signs off) with the comp team's reach: his team is
    # worked out once per quarter above, not again by every write's access check (on a fresh
    # PostgreSQL database, before autovacuum has gathered statistics, each is a second).
    writer = access_for(
        Principal(
            permissions=access.principal.permissions | ROLE_PERMISSIONS[Role.COMP_ADMIN],
            user_id=membership.user_id,
            membership_id=membership.pk,
        ),
        today=quarters[-1].start,
    )
    made = 0
    with acting_as(DEMO_ACTOR):
        for number, quarter in enumerate(quarters):
            finished = number == 0 and len(quarters) > 1
            visible = list(objectives_selectors.objective_people(access=access, period=quarter))
            ids = objectives_selectors.writable_ids(
                access=access, period=quarter, person_ids=[p.pk for p in visible]
            )
            team = [p for p in visible if p.pk in ids]
            team.sort(key=lambda p: (p.user_id is None, p.full_name))  # Emma Employee first
            for i, person in enumerate(team[:DEMO_TEAM_SIZE]):
                group = [
                    objectives.objective_create(
                        access=writer,
                        person_id=person.pk,
                        period_id=quarter.pk,
                        title=title,
                        weight=weight,
                    )
                    for title, weight in DEMO_OBJECTIVES
                ]
                made += len(group)
                objectives.objective_set(access=writer, objective_id=group[0].pk)
                for o, completion in zip(group, DEMO_COMPLETION, strict=True):
                    if finished:
                        objectives.objective_submit(
                            access=writer, objective_id=o.pk, completion=completion
                        )
                        objectives.objective_sign_off(access=writer, objective_id=o.pk)
                    elif i == 0 and o is group[0]:
                        objectives.objective_submit(
                            access=writer, objective_id=o.pk, completion=completion
                        )
    return made
