"""The plan language: parsing, validation errors with paths, and the published JSON Schema."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from engine import load_plan, parse_plan, plan_json_schema, validate_plan
from engine.schema import schema_text
from engine.spec import PlanValidationError

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden"

PLAN: dict[str, Any] = {
    "version": 1,
    "id": "ae",
    "currency": "USD",
    "measures": [{"id": "bookings", "aggregate": "sum"}],
    "components": [
        {"id": "c0", "type": "commission", "measure": "bookings", "rate": "0.05"},
        {"id": "c1", "type": "commission", "measure": "bookings", "rate": "0.05"},
        {
            "id": "c2",
            "type": "commission",
            "measure": "bookings",
            "rate_table": {
                "convention": "marginal",
                "tiers": [
                    {"from": 0, "to": 100, "rate": "0.05"},
                    {"from": 100, "rate": "-0.07"},
                ],
            },
        },
    ],
}


def golden_plans() -> list[Any]:
    plans = []
    for path in sorted(GOLDEN.glob("*.yaml")):
        case = yaml.safe_load(path.read_text())
        plans += [case["plan"]] if "plan" in case else case["plans"]
    return plans


def test_it_names_the_exact_path_of_an_error() -> None:
    errors = validate_plan(PLAN)
    assert errors == ["components[2].rate_table.tiers[1].rate: must be >= 0"]


def test_it_collects_every_error_not_just_the_first() -> None:
    # given
    plan = copy.deepcopy(PLAN)
    plan["currency"] = "dollars"
    plan["components"][0]["rate"] = "abc"
    plan["components"][1]["measure"] = "nope"
    plan["components"][2]["rate_table"]["tiers"][1]["from"] = 50
    plan["components"].append({"id": "c0", "type": "bonus"})
    # when
    errors = validate_plan(plan)
    # then
    assert "currency: must be an ISO 4217 code such as USD" in errors
    assert "components[0].rate: must be a number" in errors
    assert "components[1].measure: unknown measure 'nope'" in errors
    assert (
        "components[2].rate_table.tiers[1].from: must equal the previous tier's to "
        "(tiers must be contiguous)" in errors
    )
    assert any(e.startswith("components[3].type: must be one of") for e in errors)
    assert len(errors) >= 6


def test_it_rejects_unknown_fields_and_wrong_versions() -> None:
    plan = copy.deepcopy(PLAN) | {"version": 2, "colour": "red"}
    errors = validate_plan(plan)
    assert "colour: unknown field" in errors
    assert "version: must be 1" in errors


def test_weights_must_sum_to_one() -> None:
    plan = {
        "version": 1,
        "id": "p",
        "currency": "USD",
        "measures": [],
        "components": [
            {
                "id": "m",
                "type": "mbo",
                "objectives": [{"id": "a", "weight": "0.5"}, {"id": "b", "weight": "0.4"}],
            }
        ],
    }
    assert validate_plan(plan) == [
        "components[0].objectives: weights must sum to 1 (they sum to 0.9)"
    ]


def test_parse_raises_with_all_errors() -> None:
    with pytest.raises(PlanValidationError) as info:
        parse_plan({"version": 1})
    assert {"id: is required", "currency: is required"} <= set(info.value.errors)


def test_it_reads_yaml_and_json_exactly() -> None:
    as_json = json.dumps(copy.deepcopy(PLAN) | {"components": PLAN["components"][:1]})
    assert str(load_plan(as_json).components[0].rate) == "0.05"
    as_yaml = (
        "version: 1\nid: p\ncurrency: JPY\nmeasures: [{id: m, aggregate: sum}]\n"
        "components: [{id: c, type: commission, measure: m, rate: 0.1}]\n"
    )
    plan = load_plan(as_yaml)
    assert str(plan.components[0].rate) == "0.1"
    assert plan.rounding.currency == "JPY"


def test_every_golden_plan_validates_against_the_published_schema() -> None:
    schema = plan_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    plans = golden_plans()
    assert len(plans) >= 40
    for plan in plans:
        data = json.loads(json.dumps(plan, default=str))
        errors = [e.message for e in validator.iter_errors(data)]
        assert not errors, (plan["id"], errors)


def test_the_schema_rejects_what_the_parser_rejects() -> None:
    validator = jsonschema.Draft202012Validator(plan_json_schema())
    bad = copy.deepcopy(PLAN)
    assert not validator.is_valid(bad)  # negative rate
    bad = copy.deepcopy(PLAN) | {"colour": "red"}
    assert not validator.is_valid(bad)


def test_the_schema_file_in_docs_is_current() -> None:
    path = ROOT / "docs" / "schema" / "plan.schema.json"
    assert path.read_text() == schema_text(), (
        "regenerate: python -c 'from engine.schema import schema_text; "
        'open("docs/schema/plan.schema.json", "w").write(schema_text())\''
    )
