"""The privacy matrix: for each role and each person field, the person page and the API (detail
and list) show the same thing, and it is what the policy table below says.

The table is written out by hand, independently of ``hierarchy/access.py``: if the policy
changes, this table has to change with it, on purpose.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest

from core.models import Role
from core.tenancy import tenant_scope
from hierarchy.models import MembershipScope, Person
from tests.factories.hierarchy import MembershipFactory, UserFactory

FIELDS = (
    "id",
    "employee_id",
    "full_name",
    "email",
    "user_id",
    "manager_id",
    "hire_date",
    "termination_date",
    "home_currency",
    "base_salary",
    "attributes",
    "created_at",
    "updated_at",
)
PAY = {"base_salary", "attributes", "user_id"}
ALL = set(FIELDS)
PUBLIC = ALL - PAY
NONE: set[str] = set()

# (role, whom they look at) -> the fields they see, on the page and in the API alike.
# In the org: Dana manages the company, Sam manages Sales (East: Erin, West: Wes), Mia is in
# Marketing. The employee is Erin, the manager is Sam, the node-scoped admin is a comp admin
# limited to Sales East.
POLICY: dict[tuple[str, str], set[str]] = {
    ("employee", "erin"): ALL,  # themselves, pay included
    ("employee", "wes"): NONE,  # a colleague: not found
    ("manager", "erin"): PUBLIC,  # a report: never their pay or attributes
    ("manager", "sam"): ALL,  # themselves
    ("manager", "mia"): NONE,  # outside the teams they manage
    ("node_admin", "erin"): ALL,  # inside their node
    ("node_admin", "wes"): NONE,  # outside it
    ("node_admin", "sam"): NONE,  # above it
    ("comp_admin", "wes"): ALL,
    ("finance", "wes"): ALL,
    ("executive", "wes"): ALL,
    ("tenant_admin", "wes"): ALL,
}
SALARY = {"erin": Decimal("91234"), "wes": Decimal("87654"), "sam": Decimal("154321")}
BAND = {"erin": "Band-E7", "wes": "Band-W5", "sam": "Band-S9"}


@pytest.fixture
def cast(org: Any, tenant_a: Any) -> dict[str, Any]:
    """One member per role; Erin, Wes and Sam have a salary and attributes."""
    roles = {
        "employee": [Role.EMPLOYEE],
        "manager": [Role.MANAGER],
        "node_admin": [Role.COMP_ADMIN],
        "comp_admin": [Role.COMP_ADMIN],
        "finance": [Role.FINANCE],
        "executive": [Role.EXECUTIVE],
        "tenant_admin": [Role.TENANT_ADMIN],
    }
    users = {}
    for name, granted in roles.items():
        users[name] = UserFactory(email=f"{name}@acme.test")
        membership = MembershipFactory(user=users[name], tenant=tenant_a, roles=granted)
        if name == "node_admin":
            with tenant_scope(tenant_a):
                MembershipScope.objects.create(membership=membership, node=org.east)
    with tenant_scope(tenant_a):
        for key in ("erin", "wes", "sam"):
            Person.objects.filter(pk=getattr(org, key).pk).update(
                base_salary=SALARY[key], attributes={"level": "L5", "salary_band": BAND[key]}
            )
        Person.objects.filter(pk=org.erin.pk).update(user=users["employee"], manager=org.sam)
        Person.objects.filter(pk=org.sam.pk).update(user=users["manager"])
    return {"users": users, "people": {k: getattr(org, k) for k in ("erin", "wes", "sam", "mia")}}


def _page_fields(client: Any, person_id: int) -> tuple[set[str], str]:
    response = client.get(f"/people/{person_id}/")
    if response.status_code == 404:
        return set(), ""
    assert response.status_code == 200, response.status_code
    html = response.content.decode()
    return set(re.findall(r'data-field="([a-z_]+)"', html)), html


def _api_detail_fields(client: Any, person_id: int) -> set[str]:
    response = client.get(f"/api/v1/people/{person_id}/")
    if response.status_code == 404:
        return set()
    assert response.status_code == 200, response.content
    return set(response.json())


def _api_list_fields(client: Any, person_id: int) -> set[str]:
    response = client.get("/api/v1/people/?limit=1000")
    assert response.status_code == 200, response.content
    rows = [r for r in response.json()["results"] if r["id"] == person_id]
    return set(rows[0]) if rows else set()


@pytest.mark.parametrize(("role", "subject"), sorted(POLICY))
def test_the_person_page_and_the_api_show_the_same_fields_as_the_policy(
    client: Any, cast: dict[str, Any], role: str, subject: str
) -> None:
    # given
    client.force_login(cast["users"][role])
    person = cast["people"][subject]
    # when
    page, html = _page_fields(client, person.pk)
    detail = _api_detail_fields(client, person.pk)
    listed = _api_list_fields(client, person.pk)
    # then: field by field, visible on all three or hidden on all three, as the table says
    expected = POLICY[(role, subject)]
    mismatches = {
        name: {"page": name in page, "api": name in detail, "list": name in listed}
        for name in FIELDS
        if {name in page, name in detail, name in listed} != {name in expected}
    }
    assert mismatches == {}, (role, subject)
    if "base_salary" not in expected and subject in SALARY:
        # hidden means absent, not merely unlabelled
        assert f"{SALARY[subject]:,.0f}".replace(",", "") not in html.replace(",", "")
        assert BAND[subject] not in html
    if "base_salary" in expected and subject in SALARY:
        assert BAND[subject] in html


def test_a_manager_sees_the_reports_manager_chain_without_pay(
    client: Any, cast: dict[str, Any]
) -> None:
    """Links of a chain are people too: the same policy applies to each."""
    client.force_login(cast["users"]["node_admin"])
    erin = cast["people"]["erin"]
    chain = client.get(f"/api/v1/people/{erin.pk}/managers/").json()
    # Sam and Dana are above Sales East: their names, never their pay
    assert [link["person"]["full_name"] for link in chain] == ["Sam Sales", "Dana VP"]
    assert all(not (PAY & set(link["person"])) for link in chain)
