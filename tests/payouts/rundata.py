"""A sales tenant to calculate: people on a commission plan with a quarter of deals, built
through the services (tests, the chaos target and the run benchmark share it)."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from core.models import Role
from core.permissions import ROLE_PERMISSIONS, Principal
from hierarchy import people, periods
from hierarchy.access import access_for
from hierarchy.models import Period, Person
from incentives import services as incentives
from plans import services as plans
from plans.services import Holder

START = dt.date(2025, 1, 1)

PLAN_SOURCE = """\
version: 1
id: {code}
name: Runs AE
currency: USD
measures:
  - {{id: bookings, aggregate: sum, filter: {{transaction_types: [new_business]}}}}
  - {{id: meetings, aggregate: count, filter: {{transaction_types: [meeting]}}}}
components:
  - {{id: commission, name: Commission, type: commission, measure: bookings, rate: "0.05"}}
  - {{id: per_meeting, name: Per meeting, type: commission, measure: meetings, per_unit: 50}}
"""


@dataclass
class Sales:
    period: Period
    people: list[Person]
    plan: Any
    role: Any
    node: Any


def build_sales(
    *, n_people: int = 6, deals_per_person: int = 3, seed: int = 7, code: str = "runs-ae"
) -> Sales:
    """Create the sales tenant's January 2026 (call inside the tenant's scope)."""
    periods.period_generate_fiscal_year(fiscal_year=2026)
    period = Period.objects.get(kind="monthly", start=dt.date(2026, 1, 1))
    h = people.hierarchy_create(code="reporting", name="Reporting", kind="reporting")
    node = people.node_create(hierarchy_id=h.pk, code="sales", name="Sales", valid_from=START)
    role = people.job_role_create(name="Account executive", function="sales")
    staff = []
    for i in range(n_people):
        person = people.person_create(
            employee_id=f"S{i:05d}", full_name=f"Seller {i:05d}", hire_date=START
        )
        people.assignment_create(
            person_id=person.pk, node_id=node.pk, role_id=role.pk, valid_from=START
        )
        staff.append(person)
    plan = plans.plan_create(
        code=code,
        name="Runs AE",
        source=PLAN_SOURCE.format(code=code),
        user_id=None,
        valid_from=dt.date(2026, 1, 1),
    )
    plans.plan_version_publish(version_id=plan.versions.get().pk, user_id=None)
    access = access_for(
        Principal(permissions=ROLE_PERMISSIONS[Role.COMP_ADMIN], user_id=None),
        today=dt.date(2026, 1, 1),
    )
    plans.plan_assignment_create(
        access=access,
        plan_version_id=plan.versions.get().pk,
        holder=Holder(role_id=role.pk),
        target_incentive=Decimal(10000),
        valid_from=dt.date(2026, 1, 1),
        user_id=None,
    )
    incentives.crediting_rule_create(name="Owner", kind="direct", priority=20, valid_from=START)
    rng = random.Random(seed)
    rows = []
    for i, _person in enumerate(staff):
        for d in range(deals_per_person):
            kind = "meeting" if d % 3 == 2 else "new_business"
            rows.append(deal(f"D{i:05d}-{d}", i, rng, kind=kind))
    for start in range(0, len(rows), 40_000):
        record(rows[start : start + 40_000])
    return Sales(period, staff, plan, role, node)


def deal(
    external_id: str, seller: int, rng: random.Random, *, kind: str = "new_business"
) -> dict[str, Any]:
    """Return a transaction row for seller number ``seller`` in January 2026."""
    return {
        "external_id": external_id,
        "kind": kind,
        "amount": f"{rng.randint(100_00, 50_000_00) / 100:.2f}" if kind != "meeting" else "0.00",
        "currency": "USD",
        "booked_on": f"2026-01-{rng.randint(1, 28):02d}",
        "owner_employee_id": f"S{seller:05d}",
        "account": "Initech",
    }


def record(rows: list[dict[str, Any]]) -> Any:
    """Import transaction rows (credits follow through the crediting rules)."""
    batch = incentives.ingest_rows(
        request=incentives.IngestRequest(kind="transactions", source_format="json"),
        rows=rows,
        created_by_id=None,
    )
    assert batch.status == "committed", batch.message
    return batch


LEAD_PLAN = """\
version: 1
id: {code}
name: Runs lead
currency: USD
measures:
  - id: team_pay
    aggregate: earned
    earned: {{of: [{{plan: {of}, component: commission}}], scope: team}}
components:
  - {{id: override, name: Override, type: commission, measure: team_pay, rate: "0.1"}}
"""


def add_team_lead(sales: Sales, *, code: str = "runs-lead") -> Person:
    """Give the sales node a lead paid 10 % of the team's commission (pay on others' pay: a
    cross-person dependency), on a plan of their own (the live-run tests and benchmark)."""
    role = people.job_role_create(name="Sales lead", function="sales")
    lead = people.person_create(employee_id="L00001", full_name="Lead One", hire_date=START)
    people.assignment_create(
        person_id=lead.pk, node_id=sales.node.pk, role_id=role.pk, valid_from=START,
        is_manager=True,
    )  # fmt: skip
    plan = plans.plan_create(
        code=code, name="Runs lead", source=LEAD_PLAN.format(code=code, of=sales.plan.code),
        user_id=None, valid_from=dt.date(2026, 1, 1),
    )  # fmt: skip
    plans.plan_version_publish(version_id=plan.versions.get().pk, user_id=None)
    access = access_for(
        Principal(permissions=ROLE_PERMISSIONS[Role.COMP_ADMIN], user_id=None),
        today=dt.date(2026, 1, 1),
    )
    plans.plan_assignment_create(
        access=access, plan_version_id=plan.versions.get().pk, holder=Holder(role_id=role.pk),
        target_incentive=Decimal(5000), valid_from=dt.date(2026, 1, 1), user_id=None,
    )  # fmt: skip
    return lead


def draft_with_rate(sales: Sales, rate: str) -> Any:
    """Return a draft of the sales plan paying ``rate`` on bookings instead of 0.05."""
    draft = plans.plan_version_draft_create(plan_id=sales.plan.pk, user_id=None)
    source = PLAN_SOURCE.format(code=sales.plan.code).replace('rate: "0.05"', f'rate: "{rate}"')
    return plans.plan_version_save(version_id=draft.pk, source=source, user_id=None).version
