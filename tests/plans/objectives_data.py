"""An MBO plan and a manager for the objectives tests (plans, API, runs, audit coverage, e2e).

The small Acme org of tests/hierarchy/conftest.py: Sam manages Sales (Erin in East, Wes in
West); Dana manages the company. ``mbo_world`` puts Erin and Wes on an MBO plan for January 2026
and links users to Sam (a manager) and Erin (an employee).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from core.models import Role
from core.permissions import ROLE_PERMISSIONS, Principal, principal_for_membership
from hierarchy.access import Access, access_for
from hierarchy.models import Period, Person
from plans import objectives, services
from tests.factories.hierarchy import MembershipFactory, UserFactory

D = dt.date
TODAY = D(2026, 1, 15)

MBO_SOURCE = """\
version: 1
id: {code}
name: Objectives plan
currency: USD
measures: []
components:
  - id: mbo
    name: Objectives
    type: mbo
    objectives:
      - {{id: o1, weight: "0.5"}}
      - {{id: o2, weight: "0.5"}}
"""


@dataclass
class MboWorld:
    org: Any
    plan: Any
    period: Period
    manager: Any  # Sam's user
    employee: Any  # Erin's user

    def access(self, user: Any = None) -> Access:
        """Return the access policy of ``user``'s membership (None: a comp admin)."""
        if user is None:
            principal = Principal(permissions=ROLE_PERMISSIONS[Role.COMP_ADMIN], user_id=None)
        else:
            principal = principal_for_membership(user.memberships.get(tenant=self.org.tenant))
        return access_for(principal, today=TODAY)


def mbo_plan(code: str = "mbo-plan") -> Any:
    """Create and publish an MBO plan from 2026-01-01 (inside a tenant scope)."""
    plan = services.plan_create(
        code=code,
        name="Objectives plan",
        source=MBO_SOURCE.format(code=code),
        user_id=None,
        valid_from=D(2026, 1, 1),
    )
    services.plan_version_publish(version_id=plan.versions.get().pk, user_id=None)
    return plan


def mbo_world(org: Any, *, prefix: str = "") -> MboWorld:
    """Erin and Wes on an MBO plan in January 2026; Sam and Erin sign in (inside the scope)."""
    plan = mbo_plan(f"{prefix}mbo-plan")
    admin = Principal(permissions=ROLE_PERMISSIONS[Role.COMP_ADMIN], user_id=None)
    for person in (org.erin, org.wes):
        services.plan_assignment_create(
            access=access_for(admin, today=TODAY),
            plan_version_id=plan.versions.get().pk,
            holder=services.Holder(person_id=person.pk),
            target_incentive=Decimal(10000),
            valid_from=D(2026, 1, 1),
            user_id=None,
        )
    period = Period.objects.create(
        kind="monthly", fiscal_year=2026, start=D(2026, 1, 1), end=D(2026, 2, 1), label="Jan 2026"
    )
    manager = UserFactory(email=f"{prefix}sam@acme.test")
    MembershipFactory(user=manager, tenant=org.tenant, roles=[Role.MANAGER])
    employee = UserFactory(email=f"{prefix}erin@acme.test")
    MembershipFactory(user=employee, tenant=org.tenant, roles=[Role.EMPLOYEE])
    Person.objects.filter(pk=org.sam.pk).update(user=manager)
    Person.objects.filter(pk=org.erin.pk).update(user=employee)
    return MboWorld(org, plan, period, manager, employee)


def objective(w: MboWorld, person: Any, title: str, weight: str, **kw: Any) -> Any:
    """Create a draft objective of ``person`` on the plan's mbo component, as a comp admin."""
    return objectives.objective_create(
        access=w.access(),
        person_id=person.pk,
        period_id=w.period.pk,
        plan_id=kw.pop("plan_id", w.plan.pk),
        component=kw.pop("component", "mbo"),
        title=title,
        weight=weight,
        **kw,
    )


def signed_off(w: MboWorld, person: Any, items: list[tuple[str, str, str | None]]) -> list[Any]:
    """Create, set and complete ``(title, weight, completion)`` objectives; sign off those with
    a completion, leave the others set."""
    made = [objective(w, person, title, weight) for title, weight, _ in items]
    objectives.objective_set(access=w.access(), objective_id=made[0].pk)
    for o, (_, _, completion) in zip(made, items, strict=True):
        if completion is not None:
            objectives.objective_submit(access=w.access(), objective_id=o.pk, completion=completion)
            objectives.objective_sign_off(access=w.access(), objective_id=o.pk)
    for o in made:
        o.refresh_from_db()
    return made
