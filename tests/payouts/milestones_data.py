"""A shared-goals tenant computed by the real run: tests/hierarchy's small Acme org on a launch
plan with a two-team milestone pool (Sales and Marketing must each deliver), a bonus gated on
the Sales team's bookings, and a shared MBO, for January 2026.

Erin (Sales East) and Wes (Sales West) deliver 2 deliverables, Mia (Marketing) 1: both teams
reach their quota (Sales 2, Marketing 1), so the 6,000.00 pool pays 2,000.00 each. Sales books
80,000 against a 100,000 node quota: the gate (100 %) is not met. The MBO objective ``ship``
is completed by all three (1), ``docs`` by 0.5 to 1.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from core.models import Role
from core.permissions import ROLE_PERMISSIONS, Principal
from core.tenancy import tenant_scope
from hierarchy import periods
from hierarchy.access import access_for
from hierarchy.models import Period, Person
from incentives import services as incentives
from payouts import runs
from payouts.models import CalculationRun, RunStatus
from plans import services as plans
from plans.services import Holder, QuotaHolder
from tests.payouts.written_runs import link_user

JAN = dt.date(2026, 1, 1)
FEB = dt.date(2026, 2, 1)

PLAN = """\
version: 1
id: launch
name: Launch
currency: USD
measures:
  - {id: deliverables, aggregate: count, filter: {transaction_types: [custom]}}
  - {id: bookings, aggregate: sum, filter: {transaction_types: [new_business]}}
components:
  - id: launch
    name: Launch milestone
    type: team_pool
    teams: [sales, mkt]
    milestone: {measure: deliverables, min_attainment: 1}
    pool: {amount: 6000}
    split: equal
  - id: gated
    name: Bonus gated on Sales bookings
    type: fixed_pay
    amount: 500
    gate: {measure: bookings, scope: node, holder: sales, min_attainment: 1}
  - id: objectives
    name: Shared objectives
    type: mbo
    objectives: [{id: ship, weight: "0.5"}, {id: docs, weight: "0.5"}]
"""


@dataclass
class Launch:
    period: Period
    run: CalculationRun
    plan: Any
    people: dict[str, Person]
    users: dict[str, Any] = field(default_factory=dict)

    @property
    def goal(self) -> str:
        return f"{self.plan.pk}-launch"


def _tx(ext: str, emp: str, kind: str, amount: str = "0.00", day: int = 10) -> dict[str, Any]:
    return {
        "external_id": ext,
        "kind": kind,
        "amount": amount,
        "currency": "USD",
        "booked_on": f"2026-01-{day:02d}",
        "owner_employee_id": emp,
        "account": "Initech",
    }


def build_launch(org: Any, *, extra_sellers: int = 0, run: bool = True) -> Launch:
    """Create the launch plan, its inputs and (``run``) January's run, inside the org's tenant.

    ``extra_sellers`` adds that many more people to Sales East on the plan (query-count tests).
    """
    tenant = org.tenant
    with tenant_scope(tenant):
        periods.period_generate_fiscal_year(fiscal_year=2026)
        period = Period.objects.get(kind="monthly", start=JAN)
        from hierarchy import people as hr

        extra = []
        for i in range(extra_sellers):
            p = hr.person_create(
                employee_id=f"X{i:04d}", full_name=f"Extra {i:04d}", hire_date=dt.date(2020, 1, 1)
            )
            hr.assignment_create(
                person_id=p.pk, node_id=org.east.pk, role_id=org.ae.pk, valid_from=JAN
            )
            extra.append(p)
        plan = plans.plan_create(
            code="launch", name="Launch", source=PLAN, user_id=None, valid_from=JAN
        )
        version = plans.plan_version_publish(version_id=plan.versions.get().pk, user_id=None)
        access = access_for(Principal(permissions=ROLE_PERMISSIONS[Role.COMP_ADMIN]), today=JAN)
        members = [org.erin, org.wes, org.mia, *extra]
        for person in members:
            plans.plan_assignment_create(
                access=access,
                plan_version_id=version.pk,
                holder=Holder(person_id=person.pk),
                target_incentive=Decimal(1000),
                valid_from=JAN,
                user_id=None,
            )
        for node, quota, amount in (
            (org.sales, "deliverables", 2),
            (org.marketing, "deliverables", 1),
            (org.sales, "bookings", 100000),
        ):
            plans.quota_create(
                access=access,
                holder=QuotaHolder(node_id=node.pk),
                quota_id=quota,
                amount=amount,
                valid_from=JAN,
                valid_to=FEB,
                user_id=None,
                plan_id=plan.pk,
            )
        incentives.crediting_rule_create(
            name="Owner", kind="direct", priority=20, valid_from=dt.date(2025, 1, 1)
        )
        rows = [
            _tx("D-1", "E3", "custom"),
            _tx("D-2", "E4", "custom"),
            _tx("D-3", "E5", "custom"),
            _tx("B-1", "E3", "new_business", "50000.00"),
            _tx("B-2", "E4", "new_business", "30000.00"),
        ]
        batch = incentives.ingest_rows(
            request=incentives.IngestRequest(kind="transactions", source_format="json"),
            rows=rows,
            created_by_id=None,
        )
        assert batch.status == "committed", batch.message
        kpis = []
        for person in members:
            docs = "0.5" if person.pk == org.wes.pk else "1"
            for metric, value in (("ship", "1"), ("docs", docs)):
                kpis.append(
                    {
                        "metric": metric,
                        "subject_type": "person",
                        "subject": person.employee_id,
                        "period": period.label,
                        "value": value,
                    }
                )
        kbatch = incentives.ingest_rows(
            request=incentives.IngestRequest(kind="kpi_values", source_format="json"),
            rows=kpis,
            created_by_id=None,
        )
        assert kbatch.status == "committed", kbatch.message
        users = {
            "erin": link_user(tenant, org.erin, "erin@acme.test", [Role.EMPLOYEE]),
            "mia": link_user(tenant, org.mia, "mia@acme.test", [Role.EMPLOYEE]),
            "sam": link_user(tenant, org.sam, "sam@acme.test", [Role.MANAGER, Role.EMPLOYEE]),
            "dana": link_user(tenant, org.dana, "dana@acme.test", [Role.EMPLOYEE]),
        }
        done = None
        if run:
            done = runs.run_start(period_id=period.pk, trigger="page", user_id=None)
            done.refresh_from_db()
            if done.status in (RunStatus.QUEUED, RunStatus.RUNNING):
                done = runs.run_execute(run_id=done.pk)
            done.refresh_from_db()
            assert done.status == RunStatus.SUCCEEDED, (done.reason, done.problems)
        people = {"erin": org.erin, "wes": org.wes, "mia": org.mia}
        return Launch(period=period, run=done, plan=plan, people=people, users=users)  # type: ignore[arg-type]
