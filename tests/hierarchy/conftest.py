"""Fixtures for the people / hierarchy tests: a small org in tenant A (Acme)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from core.models import Tenant
from core.tenancy import tenant_scope
from hierarchy import people
from hierarchy.models import Hierarchy, JobFunction, JobRole, Node, Person

D = date


@dataclass
class Org:
    tenant: Tenant
    reporting: Hierarchy
    root: Node
    sales: Node
    east: Node
    west: Node
    marketing: Node
    ae: JobRole
    mgr: JobRole
    pmm: JobRole
    dana: Person  # VP, manages root
    sam: Person  # manages sales
    erin: Person  # AE in east
    wes: Person  # AE in west
    mia: Person  # marketing


def build_org(tenant: Tenant, prefix: str = "") -> Org:
    """Create a small reporting hierarchy with five people (call inside the tenant scope)."""
    start = D(2025, 1, 1)
    h = people.hierarchy_create(code=f"{prefix}reporting", name="Reporting", kind="reporting")
    root = people.node_create(hierarchy_id=h.pk, code="ceo", name="Company", valid_from=start)

    def node(code: str, name: str, parent: Node) -> Node:
        return people.node_create(
            hierarchy_id=h.pk, code=code, name=name, parent_id=parent.pk, valid_from=start
        )

    sales = node("sales", "Sales", root)
    east = node("east", "Sales East", sales)
    west = node("west", "Sales West", sales)
    marketing = node("mkt", "Marketing", root)
    ae = people.job_role_create(name="Account Executive", function=JobFunction.SALES)
    mgr = people.job_role_create(name="Manager", function=JobFunction.MANAGEMENT)
    pmm = people.job_role_create(name="Product Marketing", function=JobFunction.MARKETING)

    def person(emp: str, name: str) -> Person:
        return people.person_create(
            employee_id=f"{prefix}{emp}",
            full_name=name,
            email=f"{emp.lower()}@acme.test",
            hire_date=D(2020, 1, 1),
        )

    dana, sam, erin, wes, mia = (
        person("E1", "Dana VP"),
        person("E2", "Sam Sales"),
        person("E3", "Erin East"),
        person("E4", "Wes West"),
        person("E5", "Mia Marketing"),
    )

    def assign(p: Person, n: Node, r: JobRole, manager: bool = False) -> None:
        people.assignment_create(
            person_id=p.pk,
            node_id=n.pk,
            role_id=r.pk,
            valid_from=start,
            is_manager=manager,
            allocation_pct=Decimal(100),
        )

    assign(dana, root, mgr, True)
    assign(sam, sales, mgr, True)
    assign(erin, east, ae)
    assign(wes, west, ae)
    assign(mia, marketing, pmm)
    return Org(
        tenant, h, root, sales, east, west, marketing, ae, mgr, pmm, dana, sam, erin, wes, mia
    )


@pytest.fixture
def org(tenant_a: Tenant) -> Any:
    with tenant_scope(tenant_a):
        return build_org(tenant_a)


@pytest.fixture
def org_b(tenant_b: Tenant) -> Any:
    with tenant_scope(tenant_b):
        return build_org(tenant_b)
