"""A small sales org in tenant A (Acme) and one person in tenant B, for incentive-data tests.

Acme's FY2026 runs January to December (monthly, quarterly and annual periods). The reporting
hierarchy: ``sales`` (managed by M1) > ``team-a`` (managed by M2; E1, E2, E3 are members).
Rules: splits (priority 10), then direct to owner (20), and roll-ups on the reporting line.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from core.models import Tenant
from core.tenancy import tenant_scope
from hierarchy import people, periods
from hierarchy.models import Period, Person
from incentives import services

FY_START = dt.date(2026, 1, 1)


@dataclass
class Org:
    tenant: Tenant
    people: dict[str, Person]
    nodes: dict[str, Any]
    rules: dict[str, Any]


def _person(code: str, name: str) -> Person:
    return people.person_create(
        employee_id=code,
        full_name=name,
        hire_date=dt.date(2024, 1, 1),
        email=f"{code.lower()}@acme.test",
    )


@pytest.fixture
def org(tenant_a: Tenant, tenant_b: Tenant) -> Org:
    with tenant_scope(tenant_b):
        _person("B1", "Other Tenant Person")
    with tenant_scope(tenant_a):
        periods.period_generate_fiscal_year(fiscal_year=2026)
        staff = {
            code: _person(code, name)
            for code, name in [
                ("M1", "Maria Vice"),
                ("M2", "Mark Lead"),
                ("E1", "Erin Seller"),
                ("E2", "Eli Seller"),
                ("E3", "Eva Seller"),
                ("S1", "Sam SDR"),
                ("K1", "Kim Marketer"),
            ]
        }
        reporting = people.hierarchy_create(code="reporting", name="Reporting", kind="reporting")
        role = people.job_role_create(name="Account executive", function="sales")
        sales = people.node_create(
            hierarchy_id=reporting.pk, code="sales", name="Sales", valid_from=dt.date(2024, 1, 1)
        )
        team = people.node_create(
            hierarchy_id=reporting.pk,
            code="team-a",
            name="Team A",
            valid_from=dt.date(2024, 1, 1),
            parent_id=sales.pk,
        )
        start = dt.date(2024, 1, 1)
        people.assignment_create(
            person_id=staff["M1"].pk,
            node_id=sales.pk,
            role_id=role.pk,
            valid_from=start,
            is_manager=True,
        )
        people.assignment_create(
            person_id=staff["M2"].pk,
            node_id=team.pk,
            role_id=role.pk,
            valid_from=start,
            is_manager=True,
        )
        for code in ("E1", "E2", "E3"):
            people.assignment_create(
                person_id=staff[code].pk, node_id=team.pk, role_id=role.pk, valid_from=start
            )
        rules = {
            "split": services.crediting_rule_create(
                name="Splits", kind="split", priority=10, valid_from=start
            ),
            "direct": services.crediting_rule_create(
                name="Owner", kind="direct", priority=20, valid_from=start
            ),
            "rollup": services.crediting_rule_create(
                name="Managers",
                kind="rollup",
                priority=90,
                valid_from=start,
                config={"hierarchy": "reporting"},
            ),
        }
    return Org(tenant_a, staff, {"sales": sales, "team": team}, rules)


@pytest.fixture
def in_org(org: Org) -> Any:
    with tenant_scope(org.tenant):
        yield org


def close_period(label: str, *, lock: dt.date | None = None) -> Period:
    from tests.payouts.helpers import close_through_lifecycle

    # Only the lifecycle's services move a period's status (a database trigger refuses others).
    return close_through_lifecycle(Period.objects.get(label=label), lock=lock)


def tx_row(external_id: str, amount: str = "1000.00", **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "external_id": external_id,
        "kind": "new_business",
        "amount": amount,
        "currency": "USD",
        "booked_on": "2026-02-10",
        "owner_employee_id": "E1",
        "account": "Initech",
    }
    row.update(extra)
    return row


def total(credits: Any) -> Decimal:
    return sum((c.amount for c in credits), Decimal(0))
