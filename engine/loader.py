"""Build :class:`~engine.types.Inputs` from plain mappings (YAML/JSON), for cases and what-ifs.

Contract: :func:`inputs_from_mapping` reads a readable, hand-written description of a
calculation's inputs - amounts in currency units as numbers or strings, dates as
``YYYY-MM-DD`` - and returns the same :class:`Inputs` the apps build from the database.
A ``people`` shortcut row makes both the assignment and the timeline segment of one person.
The format is documented in docs/engine.md ("How to add a golden case").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pandas as pd

from engine import crediting
from engine.money import to_decimal, to_e4, to_minor
from engine.spec import Plan, PlanValidationError, dependency_errors, parse_plan
from engine.types import (
    ASSIGNMENT_COLUMNS,
    CREDIT_COLUMNS,
    HISTORY_PAYOUT_COLUMNS,
    HOLD_COLUMNS,
    INSTALMENT_COLUMNS,
    KPI_COLUMNS,
    NODE_COLUMNS,
    PRIOR_PAYOUT_COLUMNS,
    QUOTA_COLUMNS,
    RESERVE_COLUMNS,
    REVERSAL_COLUMNS,
    TIMELINE_COLUMNS,
    Inputs,
    Period,
    empty_frame,
)


def _num(value: object) -> Decimal:
    if isinstance(value, float):
        value = repr(value)
    return to_decimal(value)


def _e4(value: object) -> int:
    return to_e4(_num(value))


def _date(value: object) -> dt.date:
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def _frame(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> pd.DataFrame:
    if not rows:
        return empty_frame(tuple(columns))
    return pd.DataFrame(list(rows))


def plans_from_mapping(data: Mapping[str, Any]) -> dict[str, Plan]:
    """Return the plans of a case: ``plan`` (one) or ``plans`` (a list)."""
    raw = [data["plan"]] if "plan" in data else list(data.get("plans", []))
    plans = {p.id: p for p in (parse_plan(p) for p in raw)}
    errors = dependency_errors(plans)
    if errors:
        raise PlanValidationError(errors)
    return plans


def inputs_from_mapping(data: Mapping[str, Any], plans: Mapping[str, Plan]) -> Inputs:
    """Return engine inputs from a readable mapping (see docs/engine.md)."""
    p = data["period"]
    period = Period(str(p["id"]), _date(p["start"]), _date(p["end"]))
    default_plan = next(iter(plans)) if len(plans) == 1 else None
    assignments: list[dict[str, Any]] = []
    timeline: list[dict[str, Any]] = []
    for row in data.get("people", []):
        start = _date(row.get("start", period.start))
        end = _date(row.get("end", period.end))
        assignments.append(
            {
                "person_id": str(row["person"]),
                "plan_id": str(row.get("plan", default_plan)),
                "start": start,
                "end": end,
                "target_incentive_e4": _e4(row.get("target_incentive", 0)),
                "role": row.get("assignment_role"),
                "hire_date": _date(row["hire_date"]) if "hire_date" in row else None,
            }
        )
        if not row.get("no_timeline", False):
            timeline.append(
                {
                    "person_id": str(row["person"]),
                    "start": start,
                    "end": end,
                    "node_id": str(row.get("node", "root")),
                    "role": str(row.get("role", "member")),
                    "allocation": _num(row.get("allocation", 1)),
                }
            )
    assignments.extend(
        {
            "person_id": str(row["person"]),
            "plan_id": str(row.get("plan", default_plan)),
            "start": _date(row.get("start", period.start)),
            "end": _date(row.get("end", period.end)),
            "target_incentive_e4": _e4(row.get("target_incentive", 0)),
            "role": row.get("role"),
            "hire_date": _date(row["hire_date"]) if "hire_date" in row else None,
        }
        for row in data.get("assignments", [])
    )
    timeline.extend(
        {
            "person_id": str(row["person"]),
            "start": _date(row.get("start", period.start)),
            "end": _date(row.get("end", period.end)),
            "node_id": str(row.get("node", "root")),
            "role": str(row.get("role", "member")),
            "allocation": _num(row.get("allocation", 1)),
        }
        for row in data.get("timeline", [])
    )
    credits = _credit_records(data.get("credits", []))
    if data.get("transactions"):
        credits += credits_from_rules(data["transactions"], data.get("crediting", []))
    quotas = [
        {
            "holder_kind": str(q.get("holder_kind", "person")),
            "holder_id": str(q["holder"]),
            "quota_id": str(q["quota"]),
            "amount_e4": _e4(q["amount"]),
        }
        for q in data.get("quotas", [])
    ]
    kpis = [
        {
            "holder_kind": str(k.get("holder_kind", "person")),
            "holder_id": str(k["holder"]),
            "kpi": str(k["kpi"]),
            "value": _num(k["value"]),
        }
        for k in data.get("kpis", [])
    ]
    nodes = [{"node_id": str(n["id"]), "parent_id": n.get("parent")} for n in data.get("nodes", [])]
    prior = [
        {
            "person_id": str(r["person"]),
            "plan_id": str(r.get("plan", default_plan)),
            "component_id": str(r["component"]),
            "amount_e4": _e4(r["amount"]),
        }
        for r in data.get("prior_payouts", [])
    ]
    reversals = [
        {
            "transaction_id": str(r["transaction"]),
            "person_id": str(r["person"]),
            "plan_id": str(r.get("plan", default_plan)),
            "component_id": str(r["component"]),
            "amount_e4": _e4(r["amount"]),
            "rate": _num(r["rate"]),
            "credited_date": _date(r["credited_date"]),
            "reversed_date": _date(r["reversed_date"]),
        }
        for r in data.get("reversals", [])
    ]
    holds = [
        {
            "transaction_id": str(r["transaction"]),
            "person_id": str(r["person"]),
            "plan_id": str(r.get("plan", default_plan)),
            "component_id": str(r["component"]),
            "amount_e4": _e4(r["amount"]),
        }
        for r in data.get("holds", [])
    ]
    instalments = [
        {
            "person_id": str(r["person"]),
            "plan_id": str(r.get("plan", default_plan)),
            "component_id": str(r["component"]),
            "earned_period_id": str(r["earned_period"]),
            "total_minor": to_minor(
                _num(r["total"]), plans[str(r.get("plan", default_plan))].rounding.currency
            ),
            "periods": int(r["periods"]),
            "number": int(r["number"]),
        }
        for r in data.get("instalments", [])
    ]
    reserves = [
        {
            "person_id": str(r["person"]),
            "plan_id": str(r.get("plan", default_plan)),
            "component_id": str(r["component"]),
            "earned_period_id": str(r["earned_period"]),
            "amount_minor": to_minor(
                _num(r["amount"]), plans[str(r.get("plan", default_plan))].rounding.currency
            ),
        }
        for r in data.get("reserves", [])
    ]
    return Inputs(
        period=period,
        plans=dict(plans),
        assignments=_frame(assignments, ASSIGNMENT_COLUMNS),
        timeline=_frame(timeline, TIMELINE_COLUMNS),
        credits=_frame(credits, CREDIT_COLUMNS),
        quotas=_frame(quotas, QUOTA_COLUMNS),
        kpi_values=_frame(kpis, KPI_COLUMNS),
        nodes=_frame(nodes, NODE_COLUMNS),
        prior_payouts=_frame(prior, PRIOR_PAYOUT_COLUMNS),
        draw_balances={str(k): _num(v) for k, v in (data.get("draw_balances") or {}).items()},
        reversals=_frame(reversals, REVERSAL_COLUMNS),
        holds=_frame(holds, HOLD_COLUMNS),
        collected_transactions=frozenset(str(t) for t in data.get("collected", [])),
        instalments=_frame(instalments, INSTALMENT_COLUMNS),
        fiscal_year_start_month=int(data.get("fiscal_year_start_month", 1)),
        reserves=_frame(reserves, RESERVE_COLUMNS),
        **_history(data.get("history") or {}, default_plan),
    )


def _credit_records(rows: Sequence[Mapping[str, Any]], prefix: str = "") -> list[dict[str, Any]]:
    """Return credit records from readable rows (ids default to c1, c2... after ``prefix``)."""
    out = []
    for i, row in enumerate(rows):
        rec: dict[str, Any] = {
            "credit_id": str(row.get("id", f"{prefix}c{i + 1}")),
            "transaction_id": str(row.get("transaction", row.get("id", f"{prefix}t{i + 1}"))),
            "person_id": str(row["person"]),
            "date": _date(row["date"]),
            "amount_e4": _e4(row.get("amount", 0)),
            "transaction_type": str(row.get("type", "sale")),
            "kind": str(row.get("kind", "direct")),
            "share_ppm": int(_num(row.get("share", 1)) * 1_000_000),
            "collected": bool(row.get("collected", True)),
        }
        for key, value in (row.get("attributes") or {}).items():
            rec[str(key)] = str(value)
        out.append(rec)
    return out


def _history(data: Mapping[str, Any], default_plan: str | None) -> dict[str, Any]:
    """Return the ``history_*`` inputs: earlier periods, their credits and what they paid.

    ``history: {start, periods: [{id, start, end}], credits: [...], payouts: [{person,
    component, period, amount}]}`` - credits as in ``credits``, payouts in currency units.
    """
    periods = tuple(
        Period(str(p["id"]), _date(p["start"]), _date(p["end"])) for p in data.get("periods", [])
    )
    payouts = [
        {
            "person_id": str(r["person"]),
            "plan_id": str(r.get("plan", default_plan)),
            "component_id": str(r["component"]),
            "period_id": str(r["period"]),
            "amount_e4": _e4(r["amount"]),
        }
        for r in data.get("payouts", [])
    ]
    return {
        "history_periods": periods,
        "history_credits": _frame(_credit_records(data.get("credits", []), "h"), CREDIT_COLUMNS),
        "history_payouts": _frame(payouts, HISTORY_PAYOUT_COLUMNS),
        "history_start": _date(data["start"]) if data.get("start") else None,
    }


def credits_from_rules(
    transactions: Sequence[Mapping[str, Any]], rules: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Return credit records made by running crediting ``rules`` over ``transactions``.

    The rules go through the same arbitration as production (:func:`engine.crediting.
    credit_transactions`): in the order listed, the first rule of a family that matches a
    transaction claims it. A rule may state ``transaction_kinds``, ``valid_from`` /
    ``valid_to``, and the transforms ``baseline`` and ``multiplier`` / ``multipliers``.
    """
    tx = pd.DataFrame(
        [
            {
                "transaction_id": str(t["id"]),
                "owner_id": str(t.get("owner", "")),
                "date": _date(t["date"]),
                "amount_e4": _e4(t["amount"]),
                "transaction_type": str(t.get("type", "sale")),
                **{str(k): str(v) for k, v in (t.get("attributes") or {}).items()},
            }
            for t in transactions
        ]
    )
    specs: list[crediting.RuleSpec] = []
    data: dict[str, crediting.RuleData] = {}
    for i, rule in enumerate(rules):
        spec, rd = _rule(rule, f"crediting[{i}]")
        if spec.id in data:
            raise crediting.CreditingError(f"crediting[{i}].id: {spec.id!r} is used twice")
        specs.append(spec)
        data[spec.id] = rd
    credits = crediting.credit_transactions(tx, specs, data).credits
    if credits.empty:
        return []
    return [{str(k): v for k, v in rec.items()} for rec in credits.to_dict("records")]


_RULE_DATA_KEYS = {
    "direct": set(),
    "split": {"splits"},
    "territory": {"map", "memberships"},
    "attribution": {"touches"},
    "rollup": {"nodes", "memberships"},
}
_RULE_KEYS = {"rule", "id", "name", "transaction_kinds", "valid_from", "valid_to"}


def _rule(rule: Mapping[str, Any], path: str) -> tuple[crediting.RuleSpec, crediting.RuleData]:
    """Return one case rule as the engine's spec and data; errors name ``path``."""
    kind = rule.get("rule")
    if kind not in _RULE_DATA_KEYS:
        raise ValueError(f"{path}.rule: unknown crediting rule {kind!r}")
    config = {
        k: v for k, v in rule.items() if k not in _RULE_KEYS and k not in _RULE_DATA_KEYS[kind]
    }
    if kind == "territory":
        config["attribute"] = rule.get("attribute", "region")
        config["map"] = rule.get("map")
    if kind == "rollup":
        config.setdefault("hierarchy", "case")
    crediting.validate_rule_config(kind, config, path)
    rule_id = str(rule.get("id", kind))
    rd = crediting.RuleData()
    if kind == "split":
        rd = crediting.RuleData(
            splits=pd.DataFrame(
                [
                    {
                        "transaction_id": str(s["transaction"]),
                        "person_id": str(s["person"]),
                        "share_ppm": int(_num(s["share"]) * 1_000_000),
                    }
                    for s in rule["splits"]
                ],
                columns=["transaction_id", "person_id", "share_ppm"],
            )
        )
    elif kind == "territory":
        terr = pd.DataFrame(
            [
                {"value": str(k), **{f"{t}_id": str(v[t]) for t in v}}
                if isinstance(v, Mapping)
                else {"value": str(k), "person_id": str(v)}
                for k, v in rule["map"].items()
            ]
        )
        members = pd.DataFrame(rule.get("memberships", []), columns=["person_id", "node_id"])
        rd = crediting.RuleData(territories=terr, members=members.astype(str))
    elif kind == "attribution":
        rd = crediting.RuleData(
            touches=pd.DataFrame(
                [
                    {
                        "transaction_id": str(t["transaction"]),
                        "person_id": str(t["person"]),
                        "touched_at": str(t["at"]),
                    }
                    for t in rule["touches"]
                ],
                columns=["transaction_id", "person_id", "touched_at"],
            )
        )
    elif kind == "rollup":
        nodes = pd.DataFrame(
            [
                {
                    "node_id": str(n["id"]),
                    "parent_id": n.get("parent"),
                    "manager_id": n.get("manager"),
                }
                for n in rule["nodes"]
            ],
            columns=["node_id", "parent_id", "manager_id"],
        )
        members = pd.DataFrame(
            [
                {"person_id": str(m["person"]), "node_id": str(m["node"])}
                for m in rule["memberships"]
            ],
            columns=["person_id", "node_id"],
        )
        rd = crediting.RuleData(orgs={None: (members, nodes)})
    spec = crediting.RuleSpec(
        id=rule_id,
        kind=str(kind),
        name=str(rule.get("name", rule_id)),
        valid_from=_date(rule["valid_from"]) if "valid_from" in rule else None,
        valid_to=_date(rule["valid_to"]) if "valid_to" in rule else None,
        transaction_kinds=tuple(str(k) for k in rule.get("transaction_kinds", [])),
        transform=crediting.parse_transform(config, path),
        model=str(rule.get("model", "linear")),
        weights=tuple((str(k), Fraction(str(v))) for k, v in (rule.get("weights") or {}).items()),
        attribute=str(rule.get("attribute", "region")),
        keep=tuple(rule["keep"]) if "keep" in rule else None,
    )
    return spec, rd
