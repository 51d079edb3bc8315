"""Pay on others' pay (the dependency phase) and pool reserves: properties and validation."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import InputError, PlanValidationError, compute, parse_plan, validate_plan
from engine.loader import inputs_from_mapping, plans_from_mapping
from engine.phases import run_in_chunks
from engine.spec import dependency_errors, dependency_levels
from engine.types import Inputs
from tests.engine.test_properties import shuffled

NODES = [
    ("world", None),
    ("west", "world"),
    ("west-a", "west"),
    ("west-b", "west"),
    ("east", "world"),
    ("east-a", "east"),
]


def earned(of: list[dict[str, str]], **kw: str) -> dict[str, Any]:
    return {"of": of, **kw}


PLANS: list[dict[str, Any]] = [
    {  # a plain tier table: the fast path rewards it
        "version": 1,
        "id": "ae",
        "currency": "USD",
        "measures": [{"id": "bookings", "aggregate": "sum"}],
        "components": [
            {
                "id": "commission",
                "type": "commission",
                "measure": "bookings",
                "rate_table": {
                    "convention": "marginal",
                    "tiers": [
                        {"from": 0, "to": 50000, "rate": "0.05"},
                        {"from": 50000, "rate": "0.07"},
                    ],
                },
            }
        ],
    },
    {  # a flat rate: the general path
        "version": 1,
        "id": "se",
        "currency": "USD",
        "measures": [{"id": "bookings", "aggregate": "sum"}],
        "components": [
            {"id": "commission", "type": "commission", "measure": "bookings", "rate": "0.033"}
        ],
    },
    {
        "version": 1,
        "id": "mgr",
        "currency": "USD",
        "measures": [
            {
                "id": "team",
                "aggregate": "earned",
                "earned": earned(
                    [
                        {"plan": "ae", "component": "commission"},
                        {"plan": "se", "component": "commission"},
                    ]
                ),
            },
            {"id": "above", "aggregate": "formula", "formula": "max(team - 1000, 0)"},
        ],
        "components": [
            {"id": "override", "type": "commission", "measure": "team", "rate": "0.10"},
            {"id": "kicker", "type": "commission", "measure": "above", "rate": "0.015"},
        ],
    },
    {
        "version": 1,
        "id": "vp",
        "currency": "USD",
        "measures": [
            {
                "id": "overrides",
                "aggregate": "earned",
                "earned": earned([{"plan": "mgr", "component": "override"}]),
            }
        ],
        "components": [
            {"id": "override", "type": "commission", "measure": "overrides", "rate": "0.07"}
        ],
    },
    {
        "version": 1,
        "id": "support",
        "currency": "USD",
        "measures": [
            {
                "id": "west_pay",
                "aggregate": "earned",
                "earned": earned(
                    [
                        {"plan": "ae", "component": "commission"},
                        {"plan": "mgr", "component": "override"},
                    ],
                    scope="node",
                    holder="west",
                ),
            }
        ],
        "components": [
            {
                "id": "pool",
                "type": "payout_pool",
                "measure": "west_pay",
                "share": "0.013",
                "split": "target_incentive",
                "reserve": {"share": "0.3"},
            }
        ],
    },
]


def org_case(seed: int) -> dict[str, Any]:
    """Return a random month: reps on ae and se, managers, a VP and a support pool."""
    rnd = random.Random(seed)
    people: list[dict[str, Any]] = []
    timeline: list[dict[str, Any]] = []
    leaves = ["west-a", "west-b", "east-a", "west", "east"]
    for i in range(rnd.randint(2, 9)):
        plan = rnd.choice(["ae", "se"])
        people.append({"person": f"r{i}", "plan": plan, "node": rnd.choice(leaves)})
    people += [
        {"person": f"m-{node}", "plan": "mgr", "node": node, "role": "manager"}
        for node in ("west", "west-a", "east")
        if rnd.random() < 0.8
    ]
    # a manager who moves mid-month: two segments on the plan
    people.append({"person": "mover", "plan": "mgr", "no_timeline": True})
    timeline += [
        {"person": "mover", "node": "west-b", "end": "2025-01-12"},
        {"person": "mover", "node": "east-a", "start": "2025-01-12"},
    ]
    people.append({"person": "vp", "plan": "vp", "node": "world", "role": "vp"})
    people += [
        {
            "person": f"s{i}",
            "plan": "support",
            "node": "ops",
            "target_incentive": rnd.randint(1, 900),
        }
        for i in range(rnd.randint(1, 3))
    ]
    sellers = [p["person"] for p in people if p["plan"] in ("ae", "se")]
    credits = [
        {
            "id": f"c{j}",
            "person": rnd.choice(sellers),
            "date": f"2025-01-{rnd.randint(1, 31):02d}",
            "amount": f"{rnd.randint(-500, 60000)}.{rnd.randint(0, 9999):04d}",
        }
        for j in range(rnd.randint(0, 30))
    ]
    return {
        "period": {"id": "2025-01", "start": "2025-01-01", "end": "2025-02-01"},
        "nodes": [{"id": n, "parent": p} for n, p in NODES],
        "people": people,
        "timeline": timeline,
        "credits": credits,
    }


def org_inputs(seed: int) -> Inputs:
    return inputs_from_mapping(org_case(seed), plans_from_mapping({"plans": PLANS}))


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10**6), st.integers(0, 10**6))
def test_the_dependency_phase_does_not_depend_on_row_order(seed: int, shuffle_seed: int) -> None:
    # given
    inputs = org_inputs(seed)
    # when
    first = compute(inputs)
    second = compute(shuffled(inputs, shuffle_seed))
    # then
    assert first.lines == second.lines
    assert first.result_hash == second.result_hash
    assert [t.text for t in first.traces] == [t.text for t in second.traces]


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10**6))
def test_the_dependency_phase_gives_the_same_hash_on_either_path(seed: int) -> None:
    # given
    inputs = org_inputs(seed)
    # when
    fast, general = compute(inputs), compute(inputs, fast=False)
    # then
    assert fast.lines == general.lines
    assert fast.result_hash == general.result_hash


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 4))
def test_the_dependency_phase_chunked_and_persisted_gives_one_calls_result(
    seed: int, chunks: int
) -> None:
    # given: a team, a VP and a pool spread over several chunks of people
    inputs = org_inputs(seed)
    # when
    chunked = run_in_chunks(inputs, chunks, persist=True)
    # then
    assert chunked.lines == compute(inputs).lines
    assert chunked.result_hash == compute(inputs).result_hash


def _descendants(node: str) -> set[str]:
    out, grew = {node}, True
    while grew:
        more = {n for n, p in NODES if p in out}
        grew = not more <= out
        out |= more
    return out


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10**6))
def test_overrides_equal_a_plain_reference_over_the_team(seed: int) -> None:
    # given
    case = org_case(seed)
    result = compute(inputs_from_mapping(case, plans_from_mapping({"plans": PLANS})))
    lines = [ln for ln in result.lines if ln.kind == "earned"]
    commissions = {
        (ln.person_id, ln.plan_id): ln.earned for ln in lines if ln.component_id == "commission"
    }
    home = {p["person"]: p.get("node", "root") for p in case["people"] if p["plan"] in ("ae", "se")}
    cent = Decimal("0.01")
    for p in case["people"]:
        if p["plan"] != "mgr" or p["person"] == "mover":
            continue
        # when: the team is the manager's node and every node below it
        team = sum(
            (v for (who, _), v in commissions.items() if home[who] in _descendants(p["node"])),
            Decimal(0),
        )
        got = {ln.component_id: ln.earned for ln in lines if ln.person_id == p["person"]}
        # then
        assert got["override"] == (team * Decimal("0.10")).quantize(cent, "ROUND_HALF_UP")
        above = max(team - 1000, Decimal(0))
        assert got["kicker"] == (above * Decimal("0.015")).quantize(cent, "ROUND_HALF_UP")
    # every manager's override lines (the mover has one per segment), all below the VP
    overrides = [ln.earned for ln in lines if ln.plan_id == "mgr" and ln.component_id == "override"]
    vp = next(ln.earned for ln in lines if ln.person_id == "vp")
    assert vp == (sum(overrides, Decimal(0)) * Decimal("0.07")).quantize(cent, "ROUND_HALF_UP")


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10**6))
def test_a_reserve_and_what_is_paid_now_add_up_to_the_share(seed: int) -> None:
    # given
    result = compute(org_inputs(seed))
    # when
    pool = [ln for ln in result.lines if ln.plan_id == "support"]
    earned = {ln.person_id: ln.amount for ln in pool if ln.kind == "earned"}
    held = {ln.person_id: -ln.amount for ln in pool if ln.kind == "reserve"}
    # then: 30 % held, what is paid now rounded once, the rest held exactly
    for person, share in earned.items():
        now = (share * Decimal("0.7")).quantize(Decimal("0.01"), "ROUND_HALF_UP")
        assert held.get(person, Decimal("0.00")) == share - now


def test_reserves_released_in_the_release_period_add_up_exactly() -> None:
    # given: December closes the calendar fiscal year
    case = org_case(7)
    case["period"] = {"id": "2025-12", "start": "2025-12-01", "end": "2026-01-01"}
    for c in case["credits"]:
        c["date"] = c["date"].replace("2025-01", "2025-12")
    case["timeline"] = [
        {"person": "mover", "node": "west-b", "end": "2025-12-12"},
        {"person": "mover", "node": "east-a", "start": "2025-12-12"},
    ]
    parts = ["0.01", "333.33", "1250.07"]
    case["reserves"] = [
        {
            "person": "s0",
            "plan": "support",
            "component": "pool",
            "earned_period": f"2025-0{i + 1}",
            "amount": a,
        }
        for i, a in enumerate(parts)
    ]
    # when
    result = compute(inputs_from_mapping(case, plans_from_mapping({"plans": PLANS})))
    # then
    released = [ln for ln in result.lines if ln.kind == "reserve_release"]
    assert [(ln.person_id, ln.amount) for ln in released] == [("s0", Decimal("1583.41"))]
    assert not [ln for ln in result.lines if ln.kind == "reserve"]


# --------------------------------------------------------------------------- validation

BASE: dict[str, Any] = {"version": 1, "id": "mgr", "currency": "USD"}


def plan_with(measures: list[dict[str, Any]], components: list[dict[str, Any]]) -> dict[str, Any]:
    return {**BASE, "measures": measures, "components": components}


OVERRIDE = {"id": "override", "type": "commission", "measure": "team", "rate": "0.1"}


@pytest.mark.parametrize(
    ("earned_source", "message"),
    [
        ({}, "measures[0].earned.of: is required: the components whose earned amounts count"),
        ({"of": []}, "measures[0].earned.of: must name at least one component"),
        ({"of": [{"plan": "ae"}]}, "measures[0].earned.of[0].component: is required"),
        (
            {"of": [{"component": "nope"}]},
            "measures[0].earned.of[0].component: plan mgr has no component 'nope'",
        ),
        (
            {"of": [{"plan": "ae", "component": "c"}], "scope": "node"},
            "measures[0].earned.holder: is required when scope is node",
        ),
        (
            {"of": [{"plan": "ae", "component": "c"}], "holder": "west"},
            "measures[0].earned.holder: the team is the reader's own node and below: no holder",
        ),
        (
            {"of": [{"plan": "ae", "component": "c"}], "scope": "company"},
            "measures[0].earned.scope: must be one of team, node, person",
        ),
        (
            {"of": [{"plan": "ae", "component": "c"}, {"plan": "ae", "component": "c"}]},
            "measures[0].earned.of[1]: ae/c is listed twice",
        ),
    ],
)
def test_an_earned_source_is_checked_with_its_path(
    earned_source: dict[str, Any], message: str
) -> None:
    # given
    plan = plan_with([{"id": "team", "aggregate": "earned", "earned": earned_source}], [OVERRIDE])
    # when
    errors = validate_plan(plan)
    # then
    assert message in errors, errors


def test_an_earned_measure_needs_its_source_and_no_filter() -> None:
    # given
    plan = plan_with(
        [
            {"id": "team", "aggregate": "earned", "filter": {"transaction_types": ["new"]}},
            {"id": "b", "aggregate": "sum", "earned": {"of": [{"component": "override"}]}},
        ],
        [OVERRIDE],
    )
    # when
    errors = validate_plan(plan)
    # then
    assert "measures[0].earned: is required for an earned measure (of, scope, holder)" in errors
    assert "measures[0].filter: an earned measure adds up earned amounts, not credits" in errors
    assert (
        "measures[1].earned: only a measure with aggregate: earned has an earned source" in errors
    )


def test_earned_amounts_are_read_by_the_payees_own_components_only() -> None:
    # given: a gate on another node's earned measure
    plan = plan_with(
        [
            {"id": "bookings", "aggregate": "sum"},
            {
                "id": "team",
                "aggregate": "earned",
                "earned": {"of": [{"plan": "ae", "component": "c"}]},
            },
            {"id": "half", "aggregate": "formula", "formula": "team / 2"},
        ],
        [
            {
                "id": "bonus",
                "type": "commission",
                "measure": "bookings",
                "rate": "0.1",
                "gate": {"measure": "half", "scope": "node", "holder": "west", "min_value": 1},
            },
            {
                "id": "per_unit",
                "type": "commission",
                "measure": "team",
                "per_unit": 5,
            },
        ],
    )
    # when
    errors = validate_plan(plan)
    # then
    assert any(
        e.startswith("components[0].gate.measure: reads earned amounts of another person or node")
        for e in errors
    ), errors
    assert any(
        e.startswith("components[1].measure: an earned measure has no credits of its own")
        for e in errors
    ), errors


def test_a_payout_pool_needs_an_earned_measure_of_a_node_or_person() -> None:
    # given
    team = {
        "id": "team",
        "aggregate": "earned",
        "earned": {"of": [{"plan": "ae", "component": "c"}]},
    }
    plan = plan_with(
        [team, {"id": "bookings", "aggregate": "sum"}],
        [
            {"id": "p1", "type": "payout_pool", "measure": "team", "share": "0.1"},
            {"id": "p2", "type": "payout_pool", "measure": "bookings", "share": "0.1"},
            {"id": "p3", "type": "payout_pool", "measure": "team"},
        ],
    )
    # when
    errors = validate_plan(plan)
    # then
    assert any(
        e.startswith("components[0].measure: a payout pool belongs to no one payee") for e in errors
    )
    assert "components[1].measure: a payout pool needs an earned measure" in errors
    assert "components[2].share: is required" in errors


def profit_share_plan(**extra: Any) -> dict[str, Any]:
    share = {"id": "ps", "type": "profit_share", "kpi": "profit", "source_node": "n"}
    return plan_with([], [{**share, "share": "0.05", **extra}])


@pytest.mark.parametrize(
    ("reserve", "message"),
    [
        (
            {"share": 1},
            "components[0].reserve.share: must be below 1 (100 %): a reserve holds back a part",
        ),
        ({"share": 0}, "components[0].reserve.share: must be > 0"),
        (
            {"share": "0.2", "release": "never"},
            "components[0].reserve.release: must be one of year_end, quarter_end",
        ),
        ({"release": "year_end"}, "components[0].reserve.share: is required"),
        ({"share": "0.2", "when": 1}, "components[0].reserve.when: unknown field"),
    ],
)
def test_a_reserve_is_checked_with_its_path(reserve: dict[str, Any], message: str) -> None:
    # given
    plan = profit_share_plan(reserve=reserve)
    # when / then
    assert message in validate_plan(plan)


def test_a_pool_holds_back_a_reserve_or_pays_in_instalments_not_both() -> None:
    plan = profit_share_plan(reserve={"share": "0.2"}, instalments={"periods": 3})
    assert (
        "components[0].reserve: a pool is paid in instalments or holds back a reserve, not both"
        in validate_plan(plan)
    )


def test_only_pools_hold_back_a_reserve() -> None:
    plan = plan_with(
        [{"id": "b", "aggregate": "sum"}],
        [{"id": "c", "type": "commission", "measure": "b", "rate": 1, "reserve": {"share": "0.1"}}],
    )
    assert "components[0].reserve: unknown field" in validate_plan(plan)


def _pair(source_plan: str, currency: str = "USD") -> dict[str, Any]:
    return {
        "plans": [
            {
                **plan_with(
                    [
                        {
                            "id": "team",
                            "aggregate": "earned",
                            "earned": {"of": [{"plan": source_plan, "component": "commission"}]},
                        }
                    ],
                    [OVERRIDE],
                )
            },
            {
                "version": 1,
                "id": "ae",
                "currency": currency,
                "measures": [{"id": "b", "aggregate": "sum"}],
                "components": [
                    {"id": "commission", "type": "commission", "measure": "b", "rate": 1}
                ],
            },
        ]
    }


def test_sources_across_plans_are_checked_when_the_plans_are_read_together() -> None:
    # when / then
    with pytest.raises(PlanValidationError) as unknown:
        plans_from_mapping(_pair("nope"))
    assert "plans[mgr].measures[0].earned.of[0].plan: unknown plan 'nope'" in unknown.value.errors
    with pytest.raises(PlanValidationError) as currency:
        plans_from_mapping(_pair("ae", "EUR"))
    assert currency.value.errors[0].startswith(
        "plans[mgr].measures[0].earned.of[0]: plan ae pays EUR, plan mgr pays USD"
    )


def test_dependency_levels_put_each_component_after_what_it_reads() -> None:
    # given
    plans = plans_from_mapping({"plans": PLANS})
    # when
    levels = dependency_levels(plans)
    # then
    assert levels[("ae", "commission")] == 0
    assert levels[("mgr", "override")] == 1
    assert levels[("mgr", "kicker")] == 1  # through the formula 'above'
    assert levels[("vp", "override")] == 2
    assert levels[("support", "pool")] == 2
    assert dependency_errors(plans) == []


def test_compute_refuses_a_cycle_in_inputs_built_by_hand() -> None:
    # given: plans parsed one by one (each valid alone) form a cycle together
    a = parse_plan(
        plan_with(
            [
                {
                    "id": "team",
                    "aggregate": "earned",
                    "earned": {"of": [{"plan": "b", "component": "x"}]},
                }
            ],
            [OVERRIDE],
        )
        | {"id": "a"}
    )
    b = parse_plan(
        plan_with(
            [
                {
                    "id": "team",
                    "aggregate": "earned",
                    "earned": {"of": [{"plan": "a", "component": "override"}]},
                }
            ],
            [{"id": "x", "type": "commission", "measure": "team", "rate": "0.1"}],
        )
        | {"id": "b"}
    )
    inputs = inputs_from_mapping(
        {
            "period": {"id": "2025-01", "start": "2025-01-01", "end": "2025-02-01"},
            "people": [{"person": "ann", "plan": "a"}],
        },
        {"a": a, "b": b},
    )
    # when / then
    with pytest.raises(
        InputError,
        match="plan a component override -> plan b component x -> plan a component override",
    ):
        compute(inputs)
