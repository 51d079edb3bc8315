"""The roll-ups API behind the team page: a manager's team, one node's subtree (a team or a
business unit), totals per currency, the attainment distribution; another tenant's period is a
404; every response says how long the server took (Server-Timing)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from core import services as core_services
from core.tenancy import tenant_scope
from tests.tenancy import assert_not_found

pytestmark = pytest.mark.django_db


def _as(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.covers_url("api-rollup")
def test_a_manager_reads_her_teams_rollup_and_a_node_narrows_it(org, written, client_charlie):
    sam = _as(written.users["sam"])
    # when
    team = sam.get(f"/api/v1/rollups/?period={written.q1.pk}&sort=earned&dir=desc")
    west = sam.get(f"/api/v1/rollups/?period={written.q1.pk}&node={org.west.pk}").json()
    # then: Sam manages Sales (East: Erin, West: Wes); Mia in Marketing is not his
    body = team.json()
    assert team.status_code == 200
    assert [r["full_name"] for r in body["results"]] == ["Erin East", "Wes West"]
    assert body["people"] == 2 and body["status"] == "provisional"
    earned = sum(Decimal(r["earned"]) for r in body["results"])
    assert body["totals"] == [
        {"currency": "USD", "earned": f"{earned:.4f}", "payable": f"{earned:.4f}"}
    ]
    assert sum(body["distribution"].values()) <= 2
    assert [r["full_name"] for r in west["results"]] == ["Wes West"]
    # a node outside his teams narrows to nobody; an unknown node or period is a 404
    mkt = sam.get(f"/api/v1/rollups/?period={written.q1.pk}&node={org.marketing.pk}").json()
    assert mkt["people"] == 0 and mkt["results"] == []
    assert_not_found(sam.get(f"/api/v1/rollups/?period={written.q1.pk}&node=999999"))
    assert_not_found(sam.get("/api/v1/rollups/?period=999999"))
    # another tenant's period is not found
    assert_not_found(client_charlie.get(f"/api/v1/rollups/?period={written.q1.pk}"))


def test_rollups_refuse_bad_input_and_employees_and_time_the_server(org, written):
    sam = _as(written.users["sam"])
    missing = sam.get("/api/v1/rollups/")
    assert missing.status_code == 400 and missing.json()["error"]["details"]["period"]
    bad = sam.get(f"/api/v1/rollups/?period={written.q1.pk}&sort=shoe_size")
    assert bad.status_code == 400 and "sort" in bad.json()["error"]["details"]
    # an employee reads her own statement, not a roll-up
    assert (
        _as(written.users["erin"]).get(f"/api/v1/rollups/?period={written.q1.pk}").status_code
        == 403
    )
    timed = sam.get(f"/api/v1/rollups/?period={written.q1.pk}")
    name, dur = timed["Server-Timing"].split(";")
    assert name == "app" and float(dur.removeprefix("dur=")) > 0


def test_an_api_client_reading_people_and_payouts_reads_everyones_rollup(org, written):
    # (pay is read about the people a principal sees: read:payouts alone sees nobody's)
    with tenant_scope(org.tenant):
        reader = core_services.api_client_create(
            name="bi", scopes=["read:people", "read:payouts"], created_by_id=None
        )
    response = Client().get(
        f"/api/v1/rollups/?period={written.q1.pk}&node={org.root.pk}",
        HTTP_AUTHORIZATION=f"Bearer {reader.token}",
    )
    assert response.status_code == 200
    assert sorted(r["full_name"] for r in response.json()["results"]) == [
        "Erin East",
        "Mia Marketing",
        "Wes West",
    ]
