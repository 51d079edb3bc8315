"""The column path for tier tables on formula measures with modifiers equals the general path.

Plans of *modified tier tables* (``engine.phases.linear``: a rate table on a formula measure
such as ``new + 0.8 * renewal`` or on a sum, with KPI or attainment modifiers kept in a band,
a cap or floor) are settled column-wise by ``compute``; ``compute(inputs, fast=False)`` sends
them through the general rules. Both must give identical lines, trace steps, inputs and
sentences, measures and ``result_hash`` - on random plans (pro-ration with mid-period moves,
negative credits, caps, every rounding mode, modifiers before and after the cap) and on the
edges: an earned amount on half a cent, a pro-rated tier bound hit exactly, a KPI value on
the modifier's band edge, a missing KPI value.
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from engine import parse_plan
from engine.fastpath import plain_plan
from engine.loader import inputs_from_mapping
from engine.money import ROUNDING_MODES
from engine.phases import run_in_chunks
from engine.phases.linear import linear_plan
from engine.types import Inputs
from tests.engine.test_fast_path import _decimal, assert_same, outcome

PERIOD = {"id": "2025-04", "start": "2025-04-01", "end": "2025-05-01"}


def linear_plan_data(rnd: random.Random, pid: str = "m") -> dict[str, Any]:
    """A random plan of modified tier tables: a formula or a sum, modifiers, a cap."""
    n = rnd.randint(1, 4)
    basis = rnd.choice(["attainment", "attainment", "amount"])
    if basis == "attainment":
        cuts = sorted({Decimal(rnd.randint(1, 40)) / rnd.choice([2, 4, 10]) for _ in range(n)})
    else:
        cuts = sorted({Decimal(rnd.randint(1, 200_000)) / rnd.choice([1, 100]) for _ in range(n)})
    bounds = [Decimal(0), *cuts[: n - 1]]
    tiers = []
    for i, start in enumerate(bounds):
        tier: dict[str, Any] = {"from": str(start), "rate": _decimal(rnd, 0, 1, rnd.randint(0, 4))}
        if i + 1 < len(bounds):
            tier["to"] = str(bounds[i + 1])
        tiers.append(tier)
    weight = rnd.choice(["0.8", "0.5", "1.25", "0.333"])
    formula = rnd.choice([f"new + {weight} * renewal", f"{weight} * (new + renewal)", "new"])
    modifiers = []
    for _ in range(rnd.choice([1, 1, 2])):
        mod: dict[str, Any] = {"measure": rnd.choice(["perf", "perf", "credited"])}
        if mod["measure"] == "credited":
            mod["of"] = "attainment"
            mod["quota"] = "bookings"
        if rnd.random() < 0.8:
            mod["min"] = rnd.choice(["0", "0.5", "0.8"])
        if rnd.random() < 0.8:
            mod["max"] = rnd.choice(["1.25", "1.5", "1"])
        if rnd.random() < 0.3:
            mod["apply"] = "after_cap"
        modifiers.append(mod)
    comp: dict[str, Any] = {
        "id": "c0",
        "type": "commission",
        "measure": rnd.choice(["credited", "credited", "bookings"]),
        "quota": "bookings",
        "rate_table": {
            "convention": rnd.choice(["marginal", "retroactive", "top_multiplier_on_overage"]),
            "basis": basis,
            "tiers": tiers,
        },
        "modifiers": modifiers,
    }
    for limit in ("cap", "floor"):
        pick = rnd.choice([None, "amount", "target_multiple"] if limit == "cap" else [None, None])
        if pick == "amount":
            comp[limit] = {"amount": _decimal(rnd, 0, 5000, 2)}
        elif pick == "target_multiple":
            comp[limit] = {"target_multiple": _decimal(rnd, 0, 3, rnd.randint(0, 2))}
    if rnd.random() < 0.2:
        comp["floor"] = {"amount": _decimal(rnd, 0, 50, 2)}
    return {
        "version": 1,
        "id": pid,
        "currency": rnd.choice(["USD", "USD", "JPY", "BHD"]),
        "rounding": {"mode": rnd.choice(list(ROUNDING_MODES))},
        "proration": {"policy": rnd.choice(["none", "allocation", "days", "days_x_allocation"])},
        "measures": [
            {"id": "bookings", "aggregate": "sum"},
            {"id": "new", "aggregate": "sum", "filter": {"transaction_types": ["new"]}},
            {"id": "renewal", "aggregate": "sum", "filter": {"transaction_types": ["renewal"]}},
            {"id": "credited", "aggregate": "formula", "formula": formula},
            {"id": "perf", "aggregate": "kpi", "kpi": "perf"},
        ],
        "components": [comp],
    }


def linear_inputs(rnd: random.Random, people: int, deals: int) -> Inputs:
    plans = {pid: parse_plan(linear_plan_data(rnd, pid)) for pid in ("m", "n")}
    assignments, rows, quotas, kpis, prior = [], [], [], [], []
    for i in range(people):
        plan = rnd.choice(["m", "n"])
        ti = rnd.choice([0, 1000, 3000, rnd.randint(0, 9000), _decimal(rnd, 0, 9000, 4)])
        assignments.append({"person": f"p{i}", "plan": plan, "target_incentive": ti})
        alloc = rnd.choice(["1", "0.5", "0.25", "0.75"])
        if rnd.random() < 0.3:  # a mid-period role change: two pro-rated segments
            day = rnd.randint(2, 29)
            rows.append(
                {"person": f"p{i}", "end": f"2025-04-{day:02d}", "allocation": alloc, "node": "a"}
            )
            rows.append({"person": f"p{i}", "start": f"2025-04-{day:02d}", "node": "b"})
        else:
            rows.append({"person": f"p{i}", "allocation": alloc, "node": "a"})
        if rnd.random() < 0.985:  # a missing quota or KPI: both paths refuse alike
            amount = rnd.choice([rnd.randint(1, 90000) * 120, rnd.randint(1, 90000), 301])
            quotas.append({"holder": f"p{i}", "quota": "bookings", "amount": amount})
        if rnd.random() < 0.99:
            value = rnd.choice(["0.5", "0.8", "1", "1.25", "1.5", _decimal(rnd, 0, 2, 2)])
            kpis.append({"holder": f"p{i}", "kpi": "perf", "value": value})
        if rnd.random() < 0.4:
            paid = _decimal(rnd, -50, 500, rnd.choice([0, 3, 4]))
            prior.append({"person": f"p{i}", "plan": plan, "component": "c0", "amount": paid})
    credits = [
        {
            "id": f"c{j:04d}",
            "person": f"p{rnd.randrange(people)}",
            "date": f"2025-04-{rnd.randint(1, 30):02d}",
            # negative credits: clawed-back deals
            "amount": _decimal(rnd, -3000, 60000, rnd.choice([0, 2, 4])),
            "type": rnd.choice(["new", "renewal"]),
        }
        for j in range(deals)
    ]
    data = {
        "period": PERIOD,
        "assignments": assignments,
        "timeline": rows,
        "credits": credits,
        "quotas": quotas,
        "kpis": kpis,
        "prior_payouts": prior,
    }
    return inputs_from_mapping(data, plans)


def test_random_plans_are_plans_of_modified_tier_tables() -> None:
    for seed in range(20):
        plan = parse_plan(linear_plan_data(random.Random(seed)))
        assert linear_plan(plan) and not plain_plan(plan)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10**9))
def test_the_column_path_equals_the_general_path_on_formula_and_modifier_plans(
    seed: int,
) -> None:
    inputs = linear_inputs(random.Random(seed), people=8, deals=60)
    assert_same(outcome(inputs, fast=True), outcome(inputs, fast=False))


def test_the_column_path_is_taken_and_chunks_give_the_same_result() -> None:
    rnd = random.Random(7)
    taken = 0
    for _ in range(12):
        inputs = linear_inputs(rnd, people=10, deals=80)
        fast = outcome(inputs, fast=True)
        if isinstance(fast, str):
            continue
        lazy = [t for t in fast.traces if t.source is not None]
        assert all(not t.rendered for t in lazy), "computing the hash rendered nothing"
        taken += len(lazy)
        assert_same(fast, outcome(inputs, fast=False))
        chunked = run_in_chunks(inputs, 3, persist=True)
        assert chunked.result_hash == fast.result_hash
        assert [repr(x) for x in chunked.lines] == [repr(x) for x in fast.lines]
    assert taken > 40


def _case(
    *,
    quota: str = "1000",
    new: str = "500",
    renewal: str = "0",
    perf: str | None = "1",
    end: str | None = None,
    cap: dict[str, Any] | None = None,
    mode: str = "half_up",
    band: tuple[str, str] = ("0.5", "1.25"),
) -> Inputs:
    """One person on ``new + 0.8 * renewal``: 5 % to 100 % of quota, 10 % above; x perf."""
    comp: dict[str, Any] = {
        "id": "c0",
        "type": "commission",
        "measure": "credited",
        "quota": "bookings",
        "rate_table": {
            "convention": "marginal",
            "basis": "attainment",
            "tiers": [{"from": 0, "to": 1, "rate": "0.05"}, {"from": 1, "rate": "0.1"}],
        },
        "modifiers": [{"measure": "perf", "min": band[0], "max": band[1]}],
    }
    if cap is not None:
        comp["cap"] = cap
    plan = {
        "version": 1,
        "id": "m",
        "currency": "USD",
        "rounding": {"mode": mode},
        "proration": {"policy": "days"},
        "measures": [
            {"id": "bookings", "aggregate": "sum"},
            {"id": "new", "aggregate": "sum", "filter": {"transaction_types": ["new"]}},
            {"id": "renewal", "aggregate": "sum", "filter": {"transaction_types": ["renewal"]}},
            {"id": "credited", "aggregate": "formula", "formula": "new + 0.8 * renewal"},
            {"id": "perf", "aggregate": "kpi", "kpi": "perf"},
        ],
        "components": [comp],
    }
    timeline: list[dict[str, Any]] = [{"person": "p0"}]
    if end is not None:  # moved to another node on ``end``: two pro-rated segments
        timeline = [{"person": "p0", "end": end, "node": "a"}, {"person": "p0", "start": end}]
    data = {
        "period": PERIOD,
        "assignments": [{"person": "p0", "plan": "m", "target_incentive": "3000"}],
        "timeline": timeline,
        "credits": [
            {"id": "c1", "person": "p0", "date": "2025-04-03", "amount": new, "type": "new"},
            {
                "id": "c2",
                "person": "p0",
                "date": "2025-04-20",
                "amount": renewal,
                "type": "renewal",
            },
        ],
        "quotas": [{"holder": "p0", "quota": "bookings", "amount": quota}],
        "kpis": [] if perf is None else [{"holder": "p0", "kpi": "perf", "value": perf}],
    }
    return inputs_from_mapping(data, {"m": parse_plan(plan)})


def _both(inputs: Inputs) -> Any:
    fast, slow = outcome(inputs, fast=True), outcome(inputs, fast=False)
    assert_same(fast, slow)
    assert not isinstance(fast, str), fast
    assert all(t.source is not None for t in fast.traces), "the column path took every row"
    return fast


def test_an_earned_amount_on_half_a_cent_rounds_as_the_general_path() -> None:
    # 250.1 x 5 % = 12.505 exactly, x 1: half a cent, up in half_up, to even in half_even.
    assert _both(_case(new="250.1")).lines[0].amount == Decimal("12.51")
    assert _both(_case(new="250.1", mode="half_even")).lines[0].amount == Decimal("12.50")
    assert _both(_case(new="250.1", mode="down")).lines[0].amount == Decimal("12.50")


def test_a_pro_rated_tier_bound_hit_exactly_and_a_mid_period_move() -> None:
    # Quota 301 over 10 of 30 days = 100.333...; credited 200.0625 (the tie that sends a
    # plain tier table the general way): the column path does the general path's Decimals.
    result = _both(_case(quota="301", new="200.0625", end="2025-04-11"))
    assert [ln.segment for ln in result.lines] == [0, 1]
    _both(_case(quota="301", new="100.3333333333333", end="2025-04-11"))


def test_negative_credits_clawbacks_give_a_negative_measure() -> None:
    result = _both(_case(new="-400", renewal="125"))
    assert result.lines[0].amount == Decimal("-15.00")  # (-400 + 100) x 5 %


def test_a_cap_caps_the_modified_amount() -> None:
    # 3,000 credited on a 1,000 quota: 50 + 200 = 250, x 1.25 = 312.50, capped at 300.
    result = _both(_case(new="3000", perf="1.4", cap={"amount": "300"}))
    assert result.lines[0].amount == Decimal("300.00")
    assert "Capped at 300.00." in result.traces[0].text


def test_a_kpi_value_on_the_modifier_band_edge() -> None:
    for perf, amount in (("1.25", "31.25"), ("0.5", "12.50"), ("0.49", "12.50"), ("1.26", "31.25")):
        result = _both(_case(new="500", perf=perf))
        assert result.lines[0].amount == Decimal(amount)
        kept = "kept at the" in result.traces[0].text
        assert kept == (perf in ("0.49", "1.26"))


def test_a_missing_kpi_value_is_refused_on_both_paths() -> None:
    fast, slow = outcome(_case(perf=None), fast=True), outcome(_case(perf=None), fast=False)
    assert isinstance(fast, str) and fast == slow
