"""Formula measures: the grammar, the units, exact evaluation against a plain-Decimal reference."""

from __future__ import annotations

import decimal
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import compute, validate_plan
from engine.formula import Env, Unit, check, evaluate, parse, settle
from engine.loader import inputs_from_mapping, plans_from_mapping

UNITS: dict[str, Unit] = {
    "a": "money",
    "b": "money",
    "n": "count",
    "r": "ratio",
    "target_incentive": "money",
}
REF = decimal.Context(prec=50, rounding=decimal.ROUND_HALF_EVEN)


def plan_with(formula: str, **extra: Any) -> dict[str, Any]:
    return {
        "version": 1,
        "id": "p",
        "currency": "USD",
        "measures": [
            {"id": "bookings", "aggregate": "sum"},
            {"id": "deals", "aggregate": "count"},
            {"id": "f", "aggregate": "formula", "formula": formula, **extra},
        ],
        "components": [{"id": "c", "type": "commission", "measure": "f", "rate": 1}],
    }


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("bookings +", "measures[2].formula: unexpected end of the formula, expected a number"),
        ("(bookings", "measures[2].formula: unexpected end of the formula, expected ')'"),
        ("bookings ** 2", "measures[2].formula: unexpected '*', expected a number"),
        ("bookings @ 2", "measures[2].formula: unexpected character '@' at character 10"),
        ("bookings 2", "measures[2].formula: unexpected '2', expected an operator at character 10"),
        ("1.2.3", "measures[2].formula: unexpected '.' after a number at character 4"),
        ("bokings * 2", "measures[2].formula: unknown name 'bokings'"),
        ("bookings * bookings", "money times money has no meaning at character 10"),
        ("1 / bookings", "a number divided by money has no meaning at character 3"),
        ("bookings + deals", "'+' mixes money and a count at character 10"),
        ("min(bookings)", "min() needs at least two arguments at character 1"),
        ("clamp(bookings, 0)", "clamp() takes 3 argument(s), not 2 at character 1"),
        ("if(deals, 1, 2)", "if() needs a condition first"),
        ("sqrt(deals)", "unknown function 'sqrt'"),
        ("deals > 1", "a formula must give a number, not a condition"),
        ("1 < deals < 3", "comparisons cannot be chained"),
        ("quota(1)", "quota() takes a quota id, such as quota(bookings)"),
        ("", "measures[2].formula: must not be empty"),
    ],
)
def test_a_bad_formula_names_its_path_and_character(formula: str, message: str) -> None:
    errors = validate_plan(plan_with(formula))
    assert any(message in e for e in errors), errors
    assert all(e.startswith("measures[2]") for e in errors), errors


def test_formulas_in_a_cycle_are_refused_naming_the_cycle() -> None:
    plan = plan_with("g + 1")
    plan["measures"].append({"id": "g", "aggregate": "formula", "formula": "f * 2"})
    errors = validate_plan(plan)
    assert "formulas refer to each other in a cycle: f -> g -> f" in " ".join(errors), errors


def test_a_declared_unit_must_match_the_formula() -> None:
    assert validate_plan(plan_with("bookings / bookings", unit="money")) == [
        "measures[2].unit: is money, but the formula gives ratio",
    ]
    assert validate_plan(plan_with("2 + 3", unit="money")) == []  # plain numbers are any unit


def test_a_formula_measure_cannot_feed_a_rule_that_works_credit_by_credit() -> None:
    plan = plan_with("bookings * 2")
    plan["components"][0] = {
        "id": "c",
        "type": "commission",
        "measure": "f",
        "rate": "0.1",
        "per_transaction": {"cap": 10},
    }
    assert "a formula measure has no credits of its own" in " ".join(validate_plan(plan))


def test_units_follow_the_rules() -> None:
    def unit(src: str) -> str:
        return check(parse(src), UNITS).unit

    assert unit("a + b") == "money"
    assert unit("a / b") == "ratio"
    assert unit("a * r") == "money"
    assert unit("a / n") == "money"
    assert unit("n / n") == "ratio"
    assert unit("n * 2") == "count"
    assert unit("r * n") == "ratio"
    assert unit("if(n >= 10, a, 0)") == "money"
    assert unit("clamp(a / b, 0, 1.5) * target_incentive") == "money"


def test_plain_numbers_take_the_unit_they_meet() -> None:
    f = settle(check(parse("a * 0.05 + if(n >= 10, 500, 0)"), UNITS), "money")
    assert f.units[24] == "money"  # 500
    assert f.units[29] == "money"  # 0
    assert f.units[20] == "count"  # 10
    assert f.units[5] == "number"  # 0.05


# --------------------------------------------------------------------------- the reference


Ref = tuple[str, Callable[[dict[str, Decimal]], Decimal | None]]
"""(formula text, plain-Decimal evaluation: None when there is no value)."""


def _bin(op: str, x: Ref, y: Ref) -> Ref:
    def run(env: dict[str, Decimal]) -> Decimal | None:
        a, b = x[1](env), y[1](env)
        if a is None or b is None:
            return None
        if op == "+":
            return REF.add(a, b)
        if op == "-":
            return REF.subtract(a, b)
        if op == "*":
            return REF.multiply(a, b)
        return None if b == 0 else REF.divide(a, b)

    return (f"({x[0]} {op} {y[0]})", run)


def _fn(name: str, *args: Ref) -> Ref:
    def run(env: dict[str, Decimal]) -> Decimal | None:
        values = [a[1](env) for a in args]
        if any(v is None for v in values):
            return None
        vs = [v for v in values if v is not None]
        if name == "min":
            return min(vs)
        if name == "max":
            return max(vs)
        if name == "abs":
            return abs(vs[0])
        lo, hi = vs[1], vs[2]
        return None if lo > hi else min(max(vs[0], lo), hi)

    return (f"{name}({', '.join(a[0] for a in args)})", run)


def _if(left: Ref, op: str, right: Ref, then: Ref, other: Ref) -> Ref:
    def run(env: dict[str, Decimal]) -> Decimal | None:
        a, b = left[1](env), right[1](env)
        if a is None or b is None:
            return None
        return then[1](env) if (a >= b if op == ">=" else a < b) else other[1](env)

    return (f"if({left[0]} {op} {right[0]}, {then[0]}, {other[0]})", run)


def _leaf(name: str) -> Ref:
    return (name, lambda env: env[name])


def _const(value: Decimal) -> Ref:
    return (str(value), lambda env: value)


numbers = st.decimals(min_value=-1000, max_value=1000, places=2, allow_nan=False)
ratios: st.SearchStrategy[Ref] = st.one_of(
    st.builds(_const, numbers), st.just(_leaf("r")), st.just(_leaf("n"))
)


def _money(children: st.SearchStrategy[Ref]) -> st.SearchStrategy[Ref]:
    return st.one_of(
        st.builds(_bin, st.sampled_from(["+", "-"]), children, children),
        st.builds(lambda m, r: _bin("*", m, r), children, ratios),
        st.builds(lambda r, m: _bin("*", r, m), ratios, children),
        st.builds(lambda m, r: _bin("/", m, r), children, ratios),
        st.builds(
            lambda m, r: _bin("*", m, _bin("/", r[0], r[1])),
            children,
            st.tuples(children, children),
        ),
        st.builds(_fn, st.sampled_from(["min", "max"]), children, children),
        st.builds(lambda m: _fn("abs", m), children),
        st.builds(lambda x, lo, hi: _fn("clamp", x, lo, hi), children, children, children),
        st.builds(_if, children, st.sampled_from([">=", "<"]), children, children, children),
    )


money: st.SearchStrategy[Ref] = st.recursive(
    st.one_of(st.just(_leaf("a")), st.just(_leaf("b")), st.just(_leaf("target_incentive"))),
    _money,
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(
    money,
    st.fixed_dictionaries(
        {
            "a": numbers,
            "b": numbers,
            "target_incentive": numbers,
            "r": st.decimals(min_value=-5, max_value=5, places=3, allow_nan=False),
            "n": st.integers(0, 20).map(Decimal),
        }
    ),
)
def test_formulas_equal_a_plain_decimal_reference(ref: Ref, env: dict[str, Decimal]) -> None:
    text, run = ref
    formula = check(parse(text), UNITS)
    assert formula.unit == "money"
    measures = {k: v for k, v in env.items() if k != "target_incentive"}
    got = evaluate(formula, Env(measures, target_incentive=env["target_incentive"]))
    assert got.value == run(env)
    if got.value is not None:
        assert got.steps[-1] == ("formula", str(got.value), got.steps[-1][2])


def test_a_formula_measure_pays_through_the_engine() -> None:
    case = {
        "plan": plan_with("bookings * 0.1 - if(deals >= 2, 0, 50)"),
        "inputs": {
            "period": {"id": "2025-01", "start": "2025-01-01", "end": "2025-02-01"},
            "people": [{"person": "x"}, {"person": "y"}],
            "credits": [
                {"id": "1", "person": "x", "date": "2025-01-02", "amount": 1000},
                {"id": "2", "person": "x", "date": "2025-01-03", "amount": 1000},
                {"id": "3", "person": "y", "date": "2025-01-03", "amount": 1000},
            ],
        },
    }
    plans = plans_from_mapping(case)
    result = compute(inputs_from_mapping(case["inputs"], plans))
    assert result.total("x") == Decimal("200.00")
    assert result.total("y") == Decimal("50.00")
    steps = {s.name: s for s in result.trace("y", "c").steps}
    assert Decimal(steps["f"].value) == 50
    assert "bookings (1,000.00) times 0.1 = 100.00" in steps["f.1"].note
    assert set(result.measures["measure_id"]) == {"bookings", "deals", "f"}


def _pool_plan(**fields: Any) -> dict[str, Any]:
    component = {"id": "g", "type": "gainshare", "source_node": "plant", "share": "0.1"}
    return {
        "version": 1,
        "id": "p",
        "currency": "USD",
        "components": [{**component, **fields}],
    }


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"kpi": "cost", "baseline": "kpi(unit_cost) * units"},
            "components[0].baseline: unknown name 'units' (a pool formula reads kpi(name) of "
            "the source node and numbers) at character 18",
        ),
        (
            {"kpi": "cost", "baseline": "quota(cost) * 2"},
            "components[0].baseline: quota() cannot be used here",
        ),
        ({"kpi": "cost", "baseline": "kpi(a) *"}, "components[0].baseline: unexpected end"),
        (
            {"kpi": "cost", "value": "kpi(cost)", "baseline": 10},
            "components[0]: needs exactly one of kpi, value",
        ),
        ({"baseline": 10}, "components[0]: needs exactly one of kpi, value"),
    ],
)
def test_a_bad_pool_formula_names_its_path(fields: dict[str, Any], message: str) -> None:
    errors = validate_plan(_pool_plan(**fields))
    assert any(e.startswith(message) for e in errors), errors


def test_a_number_written_as_text_is_still_a_number_baseline() -> None:
    assert validate_plan(_pool_plan(kpi="cost", baseline="500000.50")) == []
