"""A node-scoped admin reads only the credits of people inside their nodes and changes nothing
that credits or converts everyone (issue #8, hole 4). The access policy is
``hierarchy/access.py``.

The cast: a comp admin limited to Team A (Mark Lead, Erin, Eli, Eva); Maria Vice manages Sales
above it. A deal of Erin's credits Erin (direct) and rolls up to Mark and Maria (totals).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.models import Role
from core.tenancy import tenant_scope
from hierarchy.models import MembershipScope
from incentives.models import CreditingRule, CreditRollup, FxRate, Transaction
from tests.factories.hierarchy import MembershipFactory, UserFactory
from tests.incentives.conftest import tx_row


def _post(client: Any, url: str, body: Any, method: str = "post") -> Any:
    return getattr(client, method)(url, data=json.dumps(body), content_type="application/json")


@pytest.fixture
def deals(org: Any, client_alice: Any) -> Any:
    rows = [tx_row("D-1", "500.00"), tx_row("D-2", "250.00", owner_employee_id="E2")]
    response = _post(client_alice, "/api/v1/imports/transactions/rows/", {"rows": rows})
    assert response.status_code == 201, response.content
    client_alice.logout()
    return org


@pytest.fixture
def team_admin(client: Any, deals: Any, tenant_a: Any) -> Any:
    user = UserFactory(email="team-admin@acme.test")
    membership = MembershipFactory(user=user, tenant=tenant_a, roles=[Role.COMP_ADMIN])
    with tenant_scope(tenant_a):
        MembershipScope.objects.create(membership=membership, node=deals.nodes["team"])
    client.force_login(user)
    return client


def test_a_node_scoped_admin_reads_only_the_credits_of_their_people(team_admin, deals):
    # the tenant holds Maria's roll-up total (both deals of the day) ...
    with tenant_scope(deals.tenant):
        assert CreditRollup.objects.filter(person=deals.people["M1"]).count() == 1
        d1 = Transaction.objects.get(external_id="D-1")
    # ... the Team A admin sees none of it, in the lists, the deal's detail or the explorer
    listed = team_admin.get("/api/v1/credits/?limit=1000").json()["results"]
    assert {c["person_employee_id"] for c in listed} == {"E1", "E2"}
    totals = team_admin.get("/api/v1/credit-rollups/?limit=1000").json()["results"]
    assert {t["person_employee_id"] for t in totals} == {"M2"}
    assert team_admin.get("/api/v1/credit-rollups/?person=M1").json()["results"] == []
    detail = team_admin.get(f"/api/v1/transactions/{d1.pk}/").json()
    assert {c["person_employee_id"] for c in detail["credits"]} == {"E1"}
    assert {r["manager_employee_id"] for r in detail["rollups_reached"]} == {"M2"}
    page = team_admin.get(f"/data/transactions/{d1.pk}/").content.decode()
    assert "Mark Lead" in page and "Maria Vice" not in page
    # Maria's roll-up page is not found for them; Mark's shows whose credits reached him
    m1, m2 = deals.people["M1"].pk, deals.people["M2"].pk
    assert team_admin.get(f"/data/credits/rollups/{m1}/?month=2026-02-01").status_code == 404
    mark = team_admin.get(f"/data/credits/rollups/{m2}/?month=2026-02-01").content.decode()
    assert "Erin" in mark and "D-1" in mark and "D-2" in mark


def test_tenant_wide_access_reads_every_credit(client: Any, deals: Any, alice: Any) -> None:
    client.force_login(alice)
    listed = client.get("/api/v1/credits/?limit=1000").json()["results"]
    assert {c["person_employee_id"] for c in listed} == {"E1", "E2"}
    totals = client.get("/api/v1/credit-rollups/?limit=1000").json()["results"]
    assert {(t["person_employee_id"], t["amount"]) for t in totals} == {
        ("M1", "750.0000"),
        ("M2", "750.0000"),
    }


def test_a_node_scoped_admin_changes_no_rules_rates_or_recalculations(team_admin, deals):
    rule = {"name": "Mine", "kind": "direct", "priority": 5, "valid_from": "2026-01-01"}
    created = _post(team_admin, "/api/v1/crediting-rules/", rule)
    assert created.status_code == 403
    assert created.json()["error"]["code"] == "permission_denied"
    direct = deals.rules["direct"]
    changed = _post(
        team_admin, f"/api/v1/crediting-rules/{direct.pk}/", {"priority": 1}, method="patch"
    )
    assert changed.status_code == 403
    rate = {"currency": "EUR", "quote_currency": "USD", "valid_on": "2026-01-01", "rate": "2"}
    assert _post(team_admin, "/api/v1/fx-rates/", rate).status_code == 403
    assert _post(team_admin, "/api/v1/credits/recalculate/", {}).status_code == 403
    page = team_admin.post("/data/credits/recalculate/", follow=True)
    assert "tenant-wide access" in page.content.decode()
    with tenant_scope(deals.tenant):
        assert not CreditingRule.objects.filter(name="Mine").exists()
        assert CreditingRule.objects.get(pk=direct.pk).priority == 20
        assert not FxRate.objects.exists()
