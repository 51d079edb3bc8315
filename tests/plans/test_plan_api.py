"""The plan language over the API: its JSON Schema, and validation with exact paths."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

GOLDEN = Path(__file__).resolve().parents[1] / "engine" / "golden" / "commission_marginal.yaml"


def test_the_plan_schema_is_served_and_matches_the_published_file(client, db):
    response = client.get("/api/v1/plans/schema/")
    assert response.status_code == 200
    published = json.loads(
        (Path(__file__).resolve().parents[2] / "docs" / "schema" / "plan.schema.json").read_text()
    )
    assert response.json() == published


@pytest.mark.covers_url("api-plan-validate")
def test_validation_names_each_problem_by_path(client_alice, client_charlie):
    plan = yaml.safe_load(GOLDEN.read_text())["plan"]
    ok = client_alice.post(
        "/api/v1/plans/validate/", data=json.dumps(plan), content_type="application/json"
    )
    assert ok.json() == {"valid": True, "errors": []}
    plan["components"][0]["rate_table"]["tiers"][1]["rate"] = -1
    plan["components"][0]["rate_table"]["convention"] = "sideways"
    bad = client_alice.post(
        "/api/v1/plans/validate/", data=json.dumps(plan), content_type="application/json"
    ).json()
    assert bad["valid"] is False
    assert any(e.startswith("components[0].rate_table.tiers[1].rate") for e in bad["errors"])
    assert any(e.startswith("components[0].rate_table.convention") for e in bad["errors"])
    # validation reads nothing of any tenant: another tenant gets the same answer
    other = client_charlie.post(
        "/api/v1/plans/validate/", data=json.dumps(plan), content_type="application/json"
    ).json()
    assert other == bad


def test_an_employee_cannot_validate_plans(client, bob):
    client.force_login(bob)
    response = client.post("/api/v1/plans/validate/", data="{}", content_type="application/json")
    assert response.status_code == 403
