"""Numeric, date and text conditions: validation with paths, and one rule on both paths."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import validate_plan
from engine.conditions import mask, row_holds
from engine.money import to_e4
from engine.spec import Condition, parse_plan


def plan_where(*conditions: Any) -> dict[str, Any]:
    return {
        "version": 1,
        "id": "p",
        "currency": "USD",
        "measures": [{"id": "m", "aggregate": "sum", "filter": {"where": list(conditions)}}],
        "components": [{"id": "c", "type": "commission", "measure": "m", "rate": 1}],
    }


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        (
            {"field": "quantity", "op": "=>", "value": 1},
            "measures[0].filter.where[0].op: must be one of",
        ),
        ({"field": "quantity", "op": ">="}, "measures[0].filter.where[0].value: is required"),
        ({"op": ">=", "value": 1}, "measures[0].filter.where[0]: needs exactly one of field"),
        (
            {"field": "q", "days": {"from": "created"}, "op": ">=", "value": 1},
            "measures[0].filter.where[0]: needs exactly one of field",
        ),
        ({"field": "q", "op": "between", "value": 5}, "where[0].value: must be a list for between"),
        ({"field": "q", "op": "between", "value": [1]}, "where[0].value: must be [low, high]"),
        ({"field": "q", "op": "between", "value": [5, 1]}, "low must not be above high"),
        ({"field": "q", "op": ">=", "value": [1, 2]}, "where[0].value: must be one value for >="),
        ({"field": "q", "op": ">=", "value": "lots"}, "compares numbers or dates"),
        (
            {"field": "amount", "op": "in", "value": ["big"]},
            "the credited amount compares with numbers",
        ),
        (
            {"days": {"from": "created"}, "op": "<=", "value": "2025-01-01"},
            "a number of days compares with numbers",
        ),
        ({"field": "date", "op": ">=", "value": 5}, "the credit date compares with dates"),
        (
            {"field": "q", "op": "in", "value": [1, "x"]},
            "must be all numbers, all dates or all text",
        ),
        ({"field": "q", "op": "in", "value": []}, "must list at least one value for in"),
        (
            {"days": {"from": "created", "until": "x"}, "op": "<=", "value": 9},
            "where[0].days.until: unknown field",
        ),
    ],
)
def test_a_bad_condition_names_its_path(condition: dict[str, Any], message: str) -> None:
    errors = validate_plan(plan_where(condition))
    assert any(message in e for e in errors), errors


def test_good_conditions_parse_to_exact_values() -> None:
    plan = parse_plan(
        plan_where(
            {"field": "quantity", "op": ">=", "value": "10"},
            {"field": "date", "op": "<", "value": "2025-01-15"},
            {"days": {"from": "created_date"}, "op": "<=", "value": 90},
            {"field": "region", "op": "not_in", "value": ["EMEA"]},
        )
    )
    conds = plan.measure("m").filter.conditions
    assert conds[0] == Condition(">=", (Decimal(10),), "number", "quantity")
    assert conds[1].operands == (dt.date(2025, 1, 15),) and conds[1].kind == "date"
    assert (conds[2].days_from, conds[2].days_to, conds[2].kind) == (
        "created_date",
        "date",
        "number",
    )
    assert conds[3] == Condition("not_in", ("EMEA",), "text", "region")


numbers = st.decimals(min_value=-50, max_value=50, places=1, allow_nan=False)
days = st.integers(0, 60).map(lambda d: dt.date(2025, 1, 1) + dt.timedelta(days=d))


@st.composite
def conditions(draw: st.DrawFn) -> Condition:
    subject = draw(st.sampled_from(["amount", "quantity", "date", "created", "days", "region"]))
    op = draw(st.sampled_from([">=", ">", "<=", "<", "between", "in", "not_in"]))
    if subject == "region":
        op = draw(st.sampled_from(["in", "not_in"]))
        values: tuple[Any, ...] = tuple(
            draw(st.lists(st.sampled_from("abc"), min_size=1, max_size=2))
        )
        return Condition(op, values, "text", "region")
    pick = days if subject in ("date", "created") else numbers
    kind = "date" if subject in ("date", "created") else "number"
    if op == "between":
        low, high = sorted([draw(pick), draw(pick)])
        values = (low, high)
    elif op in ("in", "not_in"):
        values = tuple(draw(st.lists(pick, min_size=1, max_size=3)))
    else:
        values = (draw(pick),)
    if subject == "days":
        return Condition(op, values, kind, None, "created", "date")
    return Condition(op, values, kind, subject)


@st.composite
def credits(draw: st.DrawFn) -> list[dict[str, Any]]:
    rows = []
    for i in range(draw(st.integers(1, 12))):
        row: dict[str, Any] = {
            "credit_id": str(i),
            "amount_e4": to_e4(draw(numbers)),
            "date": draw(days),
        }
        if draw(st.booleans()):
            row["quantity"] = draw(st.one_of(numbers.map(str), st.just("n/a")))
        if draw(st.booleans()):
            row["created"] = draw(days).isoformat()
        if draw(st.booleans()):
            row["region"] = draw(st.sampled_from("abcd"))
        rows.append(row)
    return rows


def _reference(cond: Condition, row: dict[str, Any]) -> bool:
    """Say what the condition means, written out plainly."""
    if cond.days_from is not None:
        if "created" not in row:
            return False
        subject: Any = Decimal((row["date"] - dt.date.fromisoformat(row["created"])).days)
    elif cond.field == "amount":
        subject = Decimal(row["amount_e4"]) / 10000
    elif cond.field == "date":
        subject = row["date"]
    elif cond.field == "created":
        if "created" not in row:
            return False
        subject = dt.date.fromisoformat(row["created"])
    elif cond.field not in row or row[cond.field] == "n/a":
        return False
    else:
        subject = row[cond.field] if cond.kind == "text" else Decimal(row[cond.field])
    ops: Any = cond.operands
    return {
        ">=": lambda: subject >= ops[0],
        ">": lambda: subject > ops[0],
        "<=": lambda: subject <= ops[0],
        "<": lambda: subject < ops[0],
        "between": lambda: ops[0] <= subject <= ops[1],
        "in": lambda: subject in ops,
        "not_in": lambda: subject not in ops,
    }[cond.op]()


@settings(max_examples=300, deadline=None)
@given(conditions(), credits())
def test_column_wise_and_row_by_row_agree_with_the_plain_meaning(
    cond: Condition, rows: list[dict[str, Any]]
) -> None:
    frame = pd.DataFrame(rows)
    got = mask(frame, cond).tolist()
    want = [_reference(cond, r) for r in rows]
    assert got == want
    by_row = [
        row_holds(
            cond,
            Decimal(r["amount_e4"]).scaleb(-4),
            r["date"],
            {k: str(v) for k, v in r.items() if k in ("quantity", "created", "region")},
        )
        for r in rows
    ]
    assert by_row == want


@pytest.mark.parametrize(
    ("gate", "message"),
    [
        ({"measure": "m", "op": ">=", "value": [1, 2]}, "gate.value: must be one number for >="),
        ({"measure": "m", "op": "between", "value": 3}, "gate.value: must be a list for between"),
        (
            {"measure": "m", "op": "between", "value": [3, 1]},
            "must be [low, high] with low <= high",
        ),
        ({"measure": "m", "op": ">="}, "gate.value: is required with op"),
        ({"measure": "m", "value": 3}, "gate.op: is required with value and of"),
        ({"measure": "m", "op": ">=", "value": 3, "min_value": 1}, "gate: needs exactly one of"),
        ({"measure": "m", "of": "share", "op": ">=", "value": 3}, "gate.of: must be one of"),
    ],
)
def test_a_bad_gate_condition_names_its_path(gate: dict[str, Any], message: str) -> None:
    plan = plan_where()
    plan["components"][0]["gate"] = gate
    errors = validate_plan(plan)
    assert any(message in e for e in errors), errors
