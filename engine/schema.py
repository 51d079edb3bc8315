"""The JSON Schema of the plan language, built from the same tables the parser uses.

Contract: :func:`plan_json_schema` returns a JSON Schema (draft 2020-12) dict for plan format
version 1. Field names and enumerations come from :mod:`engine.spec`, so the schema and the
parser cannot drift apart silently; the parser stays the authority for cross-field rules
(contiguous tiers, weights summing to 1, references to measures) that a schema cannot say.
``docs/schema/plan.schema.json`` is this dict serialized by :func:`schema_text`; a test checks
the file is current and that every golden plan validates against it.
"""

from __future__ import annotations

import json
from typing import Any

from engine import spec
from engine.formula import UNITS
from engine.money import CURRENCY_EXPONENTS, ROUNDING_MODES

Schema = dict[str, Any]

_NUMBER: Schema = {
    "description": 'An exact decimal: a number or a numeric string such as "0.05".',
    "anyOf": [{"type": "number"}, {"type": "string", "pattern": r"^-?[0-9][0-9_]*(\.[0-9]+)?$"}],
}
_NON_NEGATIVE: Schema = {
    "anyOf": [
        {"type": "number", "minimum": 0},
        {"type": "string", "pattern": r"^[0-9][0-9_]*(\.[0-9]+)?$"},
    ]
}
_TEXT: Schema = {"type": "string", "minLength": 1}
_FORMULA: Schema = {
    "type": "string",
    "minLength": 1,
    "description": "A formula: numbers, names and + - * / min max abs clamp if "
    "(docs/plan-language.md, Formula measures).",
}
_DATE: Schema = {"type": "string", "format": "date"}
_CURRENCY: Schema = {
    "description": "A current ISO 4217 currency code.",
    "type": "string",
    "enum": sorted(CURRENCY_EXPONENTS),
}


def _enum(values: tuple[str, ...]) -> Schema:
    return {"type": "string", "enum": list(values)}


def _obj(properties: Schema, required: tuple[str, ...] = ()) -> Schema:
    out: Schema = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        out["required"] = list(required)
    return out


def _ref(name: str) -> Schema:
    return {"$ref": f"#/$defs/{name}"}


def _strings() -> Schema:
    return {"anyOf": [_TEXT, {"type": "array", "items": _TEXT}]}


def _component(ctype: str) -> Schema:
    fields: dict[str, Schema] = {
        "measure": _TEXT,
        "quota": _TEXT,
        "rate": _NON_NEGATIVE,
        "rate_by_type": {"type": "object", "additionalProperties": _NON_NEGATIVE},
        "per_unit": _NON_NEGATIVE,
        "rate_table": _ref("rate_table"),
        "accelerator": _obj(
            {"above": _NON_NEGATIVE, "multiplier": _NON_NEGATIVE}, ("above", "multiplier")
        ),
        "decelerator": _obj(
            {"below": _NON_NEGATIVE, "multiplier": _NON_NEGATIVE}, ("below", "multiplier")
        ),
        "per_transaction": _obj({"cap": _NON_NEGATIVE, "floor": _NON_NEGATIVE}),
        "clawback": {
            **_obj(
                {
                    "window_days": {"type": "integer", "minimum": 0},
                    "share": _NON_NEGATIVE,
                    "scale": {
                        "type": "array",
                        "minItems": 1,
                        "items": _obj(
                            {
                                "through_month": {"type": "integer", "minimum": 1},
                                "share": _NON_NEGATIVE,
                            },
                            ("through_month", "share"),
                        ),
                    },
                }
            ),
            "oneOf": [{"required": ["window_days"]}, {"required": ["scale"]}],
        },
        "hold_until_collected": {"type": "boolean"},
        "curve": _ref("curve"),
        "kpis": {"type": "array", "minItems": 1, "maxItems": 6, "items": _ref("kpi")},
        "kpi_gate": _obj({"measure": _TEXT, "min": _NON_NEGATIVE}, ("measure", "min")),
        "objectives": {
            "type": "array",
            "items": _obj({"id": _TEXT, "weight": _NON_NEGATIVE}, ("id", "weight")),
        },
        "max_completion": _NON_NEGATIVE,
        "parts": {"type": "array", "items": _ref("part")},
        "teams": {"type": "array", "minItems": 1, "items": _TEXT},
        "milestone": _obj(
            {"measure": _TEXT, "quota": _TEXT, "min_attainment": _NON_NEGATIVE},
            ("measure", "min_attainment"),
        ),
        "pool": _obj({"amount": _NON_NEGATIVE}, ("amount",)),
        "split": _enum(spec.SPLIT_METHODS),
        "split_kpi": _TEXT,
        "retained_share": _NON_NEGATIVE,
        "kpi": _TEXT,
        "source_node": _TEXT,
        "share": _NON_NEGATIVE,
        "baseline": {"anyOf": [_NUMBER, _FORMULA]},
        "value": _FORMULA,
        "filter": _ref("filter"),
        "window": _obj({"start": _DATE, "end": _DATE}, ("start", "end")),
        "amount": _NON_NEGATIVE,
        "frequency": _enum(spec.SPIF_FREQUENCIES),
        "months": {"type": "integer", "minimum": 1},
        "months_attribute": _TEXT,
        # pools: a reserve held back until a later period
        "reserve": _obj(
            {"share": _NON_NEGATIVE, "release": _enum(spec.RESERVE_RELEASES)}, ("share",)
        ),
    }
    common: dict[str, Schema] = {
        "id": _TEXT,
        "type": {"const": ctype},
        "name": {"type": "string"},
        "description": {"type": "string"},
        "gate": _ref("gate"),
        "cap": _ref("limit"),
        "floor": _ref("limit"),
        "modifiers": {"type": "array", "items": _ref("modifier")},
        "instalments": _obj({"periods": {"type": "integer", "minimum": 2}}, ("periods",)),
    }
    props = common | {k: fields[k] for k in spec.COMPONENT_FIELDS[ctype]}
    required: dict[str, tuple[str, ...]] = {
        "commission": ("measure",),
        "attainment_bonus": ("measure", "curve"),
        "kpi_bonus": ("kpis",),
        "mbo": ("objectives",),
        "hybrid": ("parts", "curve"),
        "team_pool": ("teams", "milestone", "pool"),
        "spif": ("window", "amount"),
        "profit_share": ("source_node", "share"),
        "gainshare": ("source_node", "share", "baseline"),
        "retention_bonus": ("months", "amount"),
        "fixed_pay": ("amount",),
        "payout_pool": ("measure", "share"),
    }
    out = _obj(props, ("id", "type", *required[ctype]))
    if ctype == "commission":
        out["oneOf"] = [
            {"required": [k]} for k in ("rate", "rate_by_type", "per_unit", "rate_table")
        ]
    if ctype in ("profit_share", "gainshare"):
        out["oneOf"] = [{"required": ["kpi"]}, {"required": ["value"]}]
    return out


def plan_json_schema() -> dict[str, Any]:
    """Return the JSON Schema of plan format version 1."""
    curve = _obj(
        {
            "points": {
                "type": "array",
                "minItems": 1,
                "items": _obj(
                    {"attainment": _NON_NEGATIVE, "payout": _NON_NEGATIVE},
                    ("attainment", "payout"),
                ),
            }
        },
        ("points",),
    )
    defs: dict[str, Schema] = {
        "filter": _obj(
            {
                "transaction_types": _strings(),
                "attributes": {"type": "object", "additionalProperties": _strings()},
                "credit_kinds": {"type": "array", "items": _enum(spec.CREDIT_KINDS)},
                "where": {"type": "array", "items": _ref("condition")},
            }
        ),
        "condition": {
            **_obj(
                {
                    "field": _TEXT,
                    "days": _obj({"from": _TEXT, "to": _TEXT}, ("from",)),
                    "op": _enum(spec.CONDITION_OPS),
                    "value": {
                        "description": "A number, a date (YYYY-MM-DD) or, for in / not_in, "
                        "text; a list for between ([low, high], both included), in, not_in.",
                        "anyOf": [
                            _NUMBER,
                            _DATE,
                            {"type": "string"},
                            {"type": "array", "minItems": 1, "items": {}},
                        ],
                    },
                },
                ("op", "value"),
            ),
            "oneOf": [{"required": ["field"]}, {"required": ["days"]}],
        },
        "measure": _obj(
            {
                "id": _TEXT,
                "aggregate": _enum(spec.AGGREGATES),
                "filter": _ref("filter"),
                "numerator": _TEXT,
                "denominator": _TEXT,
                "kpi": _TEXT,
                "scope": _enum(spec.KPI_SCOPES),
                "formula": _FORMULA,
                "unit": _enum(UNITS),
                "earned": _ref("earned"),
                "description": {"type": "string"},
            },
            ("id", "aggregate"),
        ),
        # pay on others' pay: whose earned amounts an aggregate: earned measure adds up
        "earned": _obj(
            {
                "of": {
                    "type": "array",
                    "minItems": 1,
                    "items": _obj({"plan": _TEXT, "component": _TEXT}, ("component",)),
                },
                "scope": _enum(spec.EARNED_SCOPES),
                "holder": _TEXT,
                "label": _TEXT,
            },
            ("of",),
        ),
        "rate_table": _obj(
            {
                "convention": _enum(spec.CONVENTIONS),
                "basis": _enum(spec.TIER_BASES),
                "tiers": {
                    "type": "array",
                    "minItems": 1,
                    "items": _obj(
                        {"from": _NON_NEGATIVE, "to": _NON_NEGATIVE, "rate": _NON_NEGATIVE},
                        ("from", "rate"),
                    ),
                },
                "tier_by": _obj(
                    {
                        "measure": _TEXT,
                        "scope": _enum(spec.GATE_SCOPES),
                        "holder": _TEXT,
                        "quota": _TEXT,
                    },
                    ("measure",),
                ),
            },
            ("convention", "tiers"),
        ),
        "curve": curve,
        "limit": {
            **_obj({"amount": _NON_NEGATIVE, "target_multiple": _NON_NEGATIVE}),
            "oneOf": [{"required": ["amount"]}, {"required": ["target_multiple"]}],
        },
        "gate": {
            **_obj(
                {
                    "measure": _TEXT,
                    "scope": _enum(spec.GATE_SCOPES),
                    "holder": _TEXT,
                    "quota": _TEXT,
                    "min_attainment": _NON_NEGATIVE,
                    "min_value": _NUMBER,
                    "op": _enum(spec.CONDITION_OPS),
                    "value": {"anyOf": [_NUMBER, {"type": "array", "items": _NUMBER}]},
                    "of": _enum(spec.GATE_OF),
                },
                ("measure",),
            ),
            "oneOf": [
                {"required": ["min_attainment"]},
                {"required": ["min_value"]},
                {"required": ["op", "value"]},
            ],
        },
        "modifier": _obj(
            {
                "measure": _TEXT,
                "scope": _enum(spec.GATE_SCOPES),
                "holder": _TEXT,
                "quota": _TEXT,
                "of": _enum(spec.GATE_OF),
                "curve": _ref("curve"),
                "min": _NON_NEGATIVE,
                "max": _NON_NEGATIVE,
                "apply": _enum(spec.MODIFIER_ORDERS),
            },
            ("measure",),
        ),
        "kpi": _obj(
            {
                "measure": _TEXT,
                "weight": _NON_NEGATIVE,
                "curve": _ref("curve"),
                "target": _NUMBER,
                "direction": _enum(spec.DIRECTIONS),
            },
            ("measure", "weight", "curve"),
        ),
        "part": _obj(
            {
                "weight": _NON_NEGATIVE,
                "measure": _TEXT,
                "scope": _enum(spec.PART_SCOPES),
                "node": _TEXT,
                "quota": _TEXT,
            },
            ("weight", "measure"),
        ),
    }
    for ctype in spec.COMPONENT_TYPES:
        defs[f"component_{ctype}"] = _component(ctype)
    defs["currency"] = _CURRENCY
    top: dict[str, Schema] = {
        "version": {"const": spec.FORMAT_VERSION},
        "id": _TEXT,
        "name": {"type": "string"},
        "description": {"type": "string"},
        "currency": _ref("currency"),
        "payout_frequency": _enum(spec.PAYOUT_FREQUENCIES),
        "rounding": _obj({"mode": _enum(ROUNDING_MODES), "currency": _ref("currency")}),
        "proration": _obj(
            {
                "policy": _enum(spec.PRORATION_POLICIES),
                "mid_month_day": {"type": "integer", "minimum": 1, "maximum": 28},
            },
            ("policy",),
        ),
        "measures": {"type": "array", "items": _ref("measure")},
        "components": {
            "type": "array",
            "minItems": 1,
            "items": {"oneOf": [_ref(f"component_{t}") for t in spec.COMPONENT_TYPES]},
        },
        "draw": _obj(
            {
                "type": _enum(spec.DRAW_TYPES),
                "amount": _NON_NEGATIVE,
                "max_recovery_per_period": _NON_NEGATIVE,
            },
            ("type", "amount"),
        ),
        "modifiers": {"type": "array", "items": _ref("modifier")},
        "team_quota": _enum(spec.TEAM_QUOTAS),
        "seasonality": {
            "type": "object",
            "additionalProperties": {
                "type": "array",
                "minItems": 12,
                "maxItems": 12,
                "items": _NON_NEGATIVE,
            },
        },
        "ramp": {
            "type": "array",
            "items": _obj(
                {
                    "period": {"type": "integer", "minimum": 1},
                    "quota_factor": _NON_NEGATIVE,
                    "guarantee": _NON_NEGATIVE,
                },
                ("period",),
            ),
        },
    }
    if set(top) != set(spec.PLAN_FIELDS):
        raise RuntimeError("the schema and the parser disagree on the plan's fields")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://quotient.example/schema/plan.schema.json",
        "title": "Quotient plan",
        "description": "A Quotient incentive plan, format version 1 (docs/plan-language.md).",
        **_obj(top, ("version", "id", "currency", "components")),
        "$defs": defs,
    }


def schema_text() -> str:
    """Return the schema as the canonical JSON text written to docs/schema/plan.schema.json."""
    return json.dumps(plan_json_schema(), indent=2, sort_keys=True) + "\n"
