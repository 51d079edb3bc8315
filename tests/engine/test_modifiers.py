"""Modifiers: validation with paths, a missing factor refused, monotone in the factor."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import compute, validate_plan
from engine.fastpath import plain_plan
from engine.loader import inputs_from_mapping, plans_from_mapping
from engine.rules import RuleError
from engine.spec import parse_plan


def plan(modifier: dict[str, Any], *, where: str = "component", cap: Any = None) -> dict[str, Any]:
    component: dict[str, Any] = {
        "id": "c",
        "type": "commission",
        "measure": "bookings",
        "rate": "0.1",
    }
    if cap is not None:
        component["cap"] = {"amount": cap}
    out: dict[str, Any] = {
        "version": 1,
        "id": "p",
        "currency": "USD",
        "measures": [
            {"id": "bookings", "aggregate": "sum"},
            {"id": "perf", "aggregate": "kpi", "kpi": "perf"},
        ],
        "components": [component],
    }
    if where == "plan":
        out["modifiers"] = [modifier]
    else:
        component["modifiers"] = [modifier]
    return out


@pytest.mark.parametrize(
    ("modifier", "where", "message"),
    [
        ({"measure": "nope"}, "component", "components[0].modifiers[0].measure: unknown measure"),
        ({"measure": "nope"}, "plan", "modifiers[0].measure: unknown measure 'nope'"),
        (
            {"measure": "perf", "min": 2, "max": 1},
            "component",
            "modifiers[0].max: must not be below",
        ),
        ({"measure": "perf", "apply": "later"}, "plan", "modifiers[0].apply: must be one of"),
        ({"measure": "perf", "scope": "node"}, "plan", "modifiers[0].holder: is required"),
        ({"measure": "perf", "factor": 2}, "component", "modifiers[0].factor: unknown field"),
    ],
)
def test_a_bad_modifier_names_its_path(modifier: dict[str, Any], where: str, message: str) -> None:
    errors = validate_plan(plan(modifier, where=where))
    assert any(message in e for e in errors), errors


def test_a_plan_with_modifiers_does_not_take_the_fast_path() -> None:
    assert (
        plain_plan(
            parse_plan(
                {
                    **plan({"measure": "perf"}),
                    "measures": [
                        {"id": "bookings", "aggregate": "sum"},
                        {"id": "perf", "aggregate": "sum"},
                    ],
                }
            )
        )
        is False
    )


def _case(data: dict[str, Any], perf: list[Any]) -> dict[str, Any]:
    people = [f"p{i}" for i in range(len(perf))]
    return {
        "plan": data,
        "inputs": {
            "period": {"id": "2025-01", "start": "2025-01-01", "end": "2025-02-01"},
            "people": [{"person": p} for p in people],
            "kpis": [
                {"holder": p, "kpi": "perf", "value": v}
                for p, v in zip(people, perf, strict=True)
                if v is not None
            ],
            "credits": [
                {"id": f"c{i}", "person": p, "date": "2025-01-05", "amount": 12345}
                for i, p in enumerate(people)
            ],
        },
    }


def _run(case: dict[str, Any]) -> dict[str, Decimal]:
    plans = plans_from_mapping(case)
    result = compute(inputs_from_mapping(case["inputs"], plans))
    return {ln.person_id: ln.amount for ln in result.lines}


def test_a_missing_factor_is_refused_naming_the_person() -> None:
    with pytest.raises(RuleError, match="person p1 plan p: modifier 1 has no value for your perf"):
        _run(_case(plan({"measure": "perf"}), ["1", None]))


factors = st.decimals(min_value=0, max_value=3, places=3, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(factors, min_size=2, max_size=6),
    st.sampled_from(["before_cap", "after_cap"]),
    st.sampled_from(["component", "plan"]),
    st.one_of(st.none(), st.integers(0, 2000)),
    st.one_of(st.none(), st.tuples(factors, factors).map(sorted)),
    st.booleans(),
)
def test_modifiers_are_monotone_in_their_factor(
    perf: list[Decimal],
    order: str,
    where: str,
    cap: int | None,
    bounds: list[Decimal] | None,
    curve: bool,
) -> None:
    modifier: dict[str, Any] = {"measure": "perf", "apply": order}
    if bounds is not None:
        modifier["min"], modifier["max"] = str(bounds[0]), str(bounds[1])
    if curve:
        modifier["curve"] = {
            "points": [{"attainment": "0.5", "payout": "0.5"}, {"attainment": 2, "payout": "1.5"}]
        }
    got = _run(_case(plan(modifier, where=where, cap=cap), [str(p) for p in perf]))
    ranked = sorted(range(len(perf)), key=lambda i: perf[i])
    amounts = [got[f"p{i}"] for i in ranked]
    assert amounts == sorted(amounts), (perf, amounts)
    if bounds is not None and not curve:
        for i, p in enumerate(perf):  # the factor never leaves [min, max]
            kept = min(max(p, bounds[0]), bounds[1])
            base = Decimal("1234.50")
            if cap is not None and order == "before_cap":
                expect = min(base * kept, Decimal(cap))
            elif cap is not None:
                expect = min(base, Decimal(cap)) * kept
            else:
                expect = base * kept
            assert got[f"p{i}"] == expect.quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")


@pytest.mark.parametrize(
    ("clawback", "message"),
    [
        ({}, "components[0].clawback: needs exactly one of window_days, scale"),
        ({"window_days": 9, "scale": [{"through_month": 1, "share": 1}]}, "needs exactly one of"),
        ({"window_days": 9, "share": "1.5"}, "clawback.share: must be at most 1"),
        ({"scale": []}, "clawback.scale: must have at least one step"),
        (
            {"scale": [{"through_month": 3, "share": 1}, {"through_month": 3, "share": 0}]},
            "clawback.scale[1].through_month: must be after the previous step's",
        ),
        ({"scale": [{"through_month": 0, "share": 1}]}, "scale[0].through_month: must be >= 1"),
        ({"scale": [{"through_month": 2, "share": 1}], "share": 1}, "a scale gives each step"),
    ],
)
def test_a_bad_clawback_policy_names_its_path(clawback: dict[str, Any], message: str) -> None:
    data = plan({"measure": "perf"})
    data["components"][0]["clawback"] = clawback
    errors = validate_plan(data)
    assert any(message in e for e in errors), errors


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            {"convention": "marginal", "tier_by": {"measure": "perf"}},
            "components[0].rate_table.convention: must be retroactive with tier_by",
        ),
        (
            {"convention": "retroactive", "tier_by": {"measure": "nope"}},
            "components[0].rate_table.tier_by.measure: unknown measure 'nope'",
        ),
        (
            {"convention": "retroactive", "tier_by": {"measure": "perf", "scope": "node"}},
            "rate_table.tier_by.holder: is required when scope is node",
        ),
    ],
)
def test_a_bad_tier_picker_names_its_path(table: dict[str, Any], message: str) -> None:
    data = plan({"measure": "perf"})
    component = data["components"][0]
    del component["rate"], component["modifiers"]
    component["rate_table"] = {**table, "tiers": [{"from": 0, "rate": "0.1"}]}
    errors = validate_plan(data)
    assert any(message in e for e in errors), errors


def test_a_prospective_table_needs_a_sum_measure() -> None:
    data = plan({"measure": "perf"})
    data["measures"].append({"id": "deals", "aggregate": "count"})
    component = data["components"][0]
    del component["rate"], component["modifiers"]
    component["measure"] = "deals"
    component["rate_table"] = {"convention": "prospective", "tiers": [{"from": 0, "rate": 1}]}
    assert "components[0].measure: a prospective rate table pays credit by credit" in " ".join(
        validate_plan(data)
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"split": "kpi"}, "components[0].split_kpi: is required when split is kpi"),
        ({"split": "equal", "split_kpi": "hours"}, "split_kpi: only applies when split is kpi"),
        ({"retained_share": 1}, "components[0].retained_share: must be below 1"),
    ],
)
def test_a_bad_pool_split_names_its_path(fields: dict[str, Any], message: str) -> None:
    data = {
        "version": 1,
        "id": "p",
        "currency": "USD",
        "components": [
            {"id": "s", "type": "profit_share", "kpi": "profit", "source_node": "n", "share": 1}
            | fields
        ],
    }
    assert any(message in e for e in validate_plan(data)), validate_plan(data)


def _team_case(mode: str, node_quota: int | None) -> dict[str, Any]:
    quotas = [
        {"holder": "a", "quota": "b", "amount": 1000},
        {"holder": "c", "quota": "b", "amount": 3000},
    ]
    if node_quota is not None:
        quotas.append({"holder_kind": "node", "holder": "t", "quota": "b", "amount": node_quota})
    return {
        "plan": {
            "version": 1,
            "id": "p",
            "currency": "USD",
            "team_quota": mode,
            "measures": [{"id": "b", "aggregate": "sum"}],
            "components": [
                {
                    "id": "c",
                    "type": "commission",
                    "measure": "b",
                    "rate": "0.1",
                    "gate": {"measure": "b", "scope": "node", "holder": "t", "min_attainment": 1},
                }
            ],
        },
        "inputs": {
            "period": {"id": "2025-01", "start": "2025-01-01", "end": "2025-02-01"},
            "people": [{"person": "a", "node": "t"}, {"person": "c", "node": "t"}],
            "quotas": quotas,
            "credits": [{"id": "1", "person": "a", "date": "2025-01-02", "amount": 4000}],
        },
    }


def test_a_checked_team_quota_must_equal_its_members_sum() -> None:
    assert _run(_team_case("checked", 4000)) == {"a": Decimal("400.00"), "c": Decimal("0.00")}
    with pytest.raises(ValueError, match=r"node t quota 'b' is 5000.0000 but its members'"):
        _run(_team_case("checked", 5000))
    with pytest.raises(ValueError, match="quota 'b' is None"):
        _run(_team_case("checked", None))


def test_a_derived_team_quota_ignores_a_given_one() -> None:
    # members add up to 4,000 = the team's 4,000 bookings: the gate passes at 100 %
    assert _run(_team_case("derived", 999999))["a"] == Decimal("400.00")
    # given: the node quota of 5,000 is read as it is -> 80 %, the gate fails
    assert _run(_team_case("given", 5000))["a"] == Decimal("0.00")
