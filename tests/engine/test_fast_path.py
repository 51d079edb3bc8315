"""The column-wise fast path for plain tier tables equals the general Decimal path.

``compute(inputs, fast=False)`` sends every segment through the general rules; the property
tests below run random plain tier tables (every convention and basis, caps and floors as
amounts or target multiples, every pro-ration policy and rounding mode, three currencies,
negative measures, prior payments, transfers mid-period) both ways and require identical
lines (to the Decimal representation), measures, contributions, balances and - once
rendered - identical trace steps, inputs and sentences.
"""

from __future__ import annotations

import copy
import random
from decimal import (
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    ROUND_UP,
    Context,
    Decimal,
)
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import Result, compute, parse_plan
from engine.fastpath import plain_plan, round_scaled
from engine.loader import inputs_from_mapping
from engine.money import ROUNDING_MODES
from engine.pipeline import result_hash
from engine.types import Inputs

WIDE = Context(prec=100)
MODES = {
    "half_up": ROUND_HALF_UP,
    "half_even": ROUND_HALF_EVEN,
    "down": ROUND_DOWN,
    "up": ROUND_UP,
    "ceiling": ROUND_CEILING,
    "floor": ROUND_FLOOR,
}


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(-(10**30), 10**30), min_size=1, max_size=20),
    st.integers(0, 8),
    st.sampled_from(ROUNDING_MODES),
    st.booleans(),
)
def test_round_scaled_equals_decimal_quantize(
    values: list[int], digits: int, mode: str, as_int64: bool
) -> None:
    if as_int64:
        values = [v % 2**60 - 2**59 for v in values]
    arr = np.array(values, dtype=np.int64 if as_int64 else object)
    got = round_scaled(arr, digits, mode)  # type: ignore[arg-type]
    for v, g in zip(values, got.tolist(), strict=True):
        want = Decimal(v).scaleb(-digits, WIDE).quantize(Decimal(1), MODES[mode], WIDE)
        assert g == int(want)


def _decimal(rnd: random.Random, lo: int, hi: int, places: int) -> str:
    return str(Decimal(rnd.randint(lo * 10**places, hi * 10**places)).scaleb(-places))


def random_plan(rnd: random.Random, pid: str = "p") -> dict[str, Any]:
    components = []
    for k in range(rnd.choice([1, 1, 2])):
        n = rnd.randint(1, 4)
        basis = rnd.choice(["amount", "attainment"])
        if basis == "attainment":
            cuts = sorted({Decimal(rnd.randint(1, 40)) / rnd.choice([4, 10, 20]) for _ in range(n)})
        else:
            cuts = sorted(
                {Decimal(rnd.randint(1, 200_000)) / rnd.choice([1, 100]) for _ in range(n)}
            )
        bounds = [Decimal(0), *cuts[: n - 1]]
        tiers = []
        for i, start in enumerate(bounds):
            tier: dict[str, Any] = {
                "from": str(start),
                "rate": _decimal(rnd, 0, 1, rnd.randint(0, 5)),
            }
            if i + 1 < len(bounds):
                tier["to"] = str(bounds[i + 1])
            tiers.append(tier)
        comp: dict[str, Any] = {
            "id": f"c{k}",
            "type": "commission",
            "measure": "bookings" if k == 0 else "new_bookings",
            "rate_table": {
                "convention": rnd.choice(["marginal", "retroactive", "top_multiplier_on_overage"]),
                "basis": basis,
                "tiers": tiers,
            },
        }
        for limit in ("cap", "floor"):
            pick = rnd.choice([None, None, "amount", "target_multiple"])
            if pick == "amount":
                comp[limit] = {"amount": _decimal(rnd, 0, 5000 if limit == "cap" else 50, 2)}
            elif pick == "target_multiple":
                comp[limit] = {
                    "target_multiple": _decimal(
                        rnd, 0, 3 if limit == "cap" else 0, rnd.randint(0, 2)
                    )
                }
        components.append(comp)
    return {
        "version": 1,
        "id": pid,
        "currency": rnd.choice(["USD", "JPY", "BHD"]),
        "rounding": {"mode": rnd.choice(list(ROUNDING_MODES))},
        "proration": {"policy": rnd.choice(["none", "allocation", "days", "days_x_allocation"])},
        "measures": [
            {"id": "bookings", "aggregate": "sum"},
            {"id": "new_bookings", "aggregate": "sum", "filter": {"transaction_types": ["new"]}},
        ],
        "components": components,
    }


def random_inputs(
    rnd: random.Random, people: int, deals: int, plan_ids: list[str], big: bool = False
) -> Inputs:
    plans = {pid: parse_plan(random_plan(rnd, pid)) for pid in plan_ids}
    rows: list[dict[str, Any]] = []
    assignments = []
    for i in range(people):
        plan = rnd.choice(plan_ids)
        ti = rnd.choice([0, 1000, 3000, rnd.randint(0, 9000), _decimal(rnd, 0, 9000, 4)])
        assignments.append({"person": f"p{i}", "plan": plan, "target_incentive": ti})
        alloc = rnd.choice(["1", "0.5", "0.25", "0.75", "0.50"])
        if rnd.random() < 0.3:
            day = rnd.randint(2, 29)
            rows.append(
                {"person": f"p{i}", "end": f"2025-04-{day:02d}", "allocation": alloc, "node": "a"}
            )
            rows.append({"person": f"p{i}", "start": f"2025-04-{day:02d}", "node": "b"})
        else:
            rows.append({"person": f"p{i}", "allocation": alloc, "node": "a"})
    credits = [
        {
            "id": f"c{j:04d}",
            "person": f"p{rnd.randrange(people)}",
            "date": f"2025-04-{rnd.randint(1, 30):02d}",
            "amount": _decimal(rnd, -2000, 60000 * (10**10 if big else 1), rnd.choice([0, 2, 4])),
            "type": rnd.choice(["new", "renewal"]),
        }
        for j in range(deals)
    ]
    quotas = []
    for i in range(people):
        for qid in ("bookings", "new_bookings"):
            if rnd.random() < 0.9:  # a missing quota on an attainment table is an error
                amount = rnd.choice([rnd.randint(1, 90000) * 120, rnd.randint(0, 90000)])
                quotas.append({"holder": f"p{i}", "quota": qid, "amount": amount})
    prior = [
        {
            "person": f"p{i}",
            "plan": assignments[i]["plan"],
            "component": rnd.choice(["c0", "c1"]),
            "amount": _decimal(rnd, 0, 500, rnd.choice([0, 3, 4])),
        }
        for i in range(people)
        if rnd.random() < 0.4
    ]
    data = {
        "period": {"id": "2025-04", "start": "2025-04-01", "end": "2025-05-01"},
        "assignments": assignments,
        "timeline": rows,
        "credits": credits,
        "quotas": quotas,
        "prior_payouts": prior,
    }
    return inputs_from_mapping(data, plans)


def outcome(inputs: Inputs, fast: bool) -> Result | str:
    try:
        return compute(inputs, fast=fast)
    except ValueError as exc:  # e.g. a missing quota: both paths must refuse alike
        return f"{type(exc).__name__}: {exc}"


def assert_same(a: Result | str, b: Result | str) -> None:
    if isinstance(a, str) or isinstance(b, str):
        assert a == b
        return
    assert [repr(x) for x in a.lines] == [repr(x) for x in b.lines]
    assert len(a.traces) == len(b.traces)
    for x, y in zip(a.traces, b.traces, strict=True):
        assert (x.person_id, x.plan_id, x.component_id, x.period_id, x.segment, x.rule) == (
            y.person_id,
            y.plan_id,
            y.component_id,
            y.period_id,
            y.segment,
            y.rule,
        )
        assert x.steps == y.steps
        assert x.inputs == y.inputs
        assert x.text == y.text
    assert a.measures.equals(b.measures)
    assert a.contributions.equals(b.contributions)
    assert dict(a.draw_balances) == dict(b.draw_balances)
    assert a.result_hash == b.result_hash, "the hash depends on the result, not on the path"


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10**9))
def test_fast_path_equals_the_general_decimal_path(seed: int) -> None:
    inputs = random_inputs(random.Random(seed), people=8, deals=50, plan_ids=["p", "q"])
    assert_same(outcome(inputs, fast=True), outcome(inputs, fast=False))


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10**9))
def test_fast_path_equals_the_general_path_beyond_int64(seed: int) -> None:
    # Measures of ~10^15 with many decimals: the fast path works in Python integers.
    inputs = random_inputs(random.Random(seed), people=6, deals=30, plan_ids=["p"], big=True)
    assert_same(outcome(inputs, fast=True), outcome(inputs, fast=False))


def test_the_fast_path_is_taken_and_renders_traces_on_demand() -> None:
    rnd = random.Random(3)
    seen_fast = 0
    for _ in range(20):
        inputs = random_inputs(rnd, people=6, deals=40, plan_ids=["p"])
        fast = outcome(inputs, fast=True)
        if isinstance(fast, str):
            continue
        lazy = [t for t in fast.traces if t.source is not None]
        assert all(not t.rendered for t in lazy), "computing the hash rendered nothing"
        seen_fast += len(lazy)
        slow = outcome(inputs, fast=False)
        assert_same(fast, slow)
        for t in lazy:
            assert t.rendered
            assert t.sentence == t.text
    assert seen_fast > 20


def test_result_hash_is_stable_and_independent_of_rendering() -> None:
    inputs = random_inputs(random.Random(11), people=8, deals=60, plan_ids=["p"])
    first = compute(inputs)
    for t in first.traces:
        t.render()
    assert compute(inputs).result_hash == first.result_hash


def test_the_column_wise_hash_is_the_hash_of_the_lines_and_traces_built_from_it() -> None:
    # given a run whose plain-tier lines stay column-wise until read
    inputs = random_inputs(random.Random(33), people=12, deals=90, plan_ids=["p", "q"])
    result = compute(inputs)
    assert any(t.source is not None for t in result.traces), "the fast path was taken"
    # when the objects are built and hashed the ordinary way
    again = result_hash(result.lines, result.traces, result.measures, result.draw_balances)
    # then it is the hash worked out from the columns, and the objects are built once
    assert again == result.result_hash
    assert result.lines is result.lines and result.traces is result.traces
    copied = copy.copy(result)
    assert copied.lines == result.lines and copied.result_hash == result.result_hash
    assert [(t.person_id, t.component_id) for t in result.traces] == [
        (ln.person_id, ln.component_id) for ln in result.lines
    ]


def test_fast_and_general_paths_give_the_same_result_hash() -> None:
    # A plain plan, with prior payments and a mid-period transfer: both paths, one hash.
    inputs = random_inputs(random.Random(22), people=8, deals=60, plan_ids=["p", "q"])
    fast, slow = compute(inputs), compute(inputs, fast=False)
    assert any(t.source is not None for t in fast.traces), "the fast path was taken"
    assert all(t.source is None for t in slow.traces), "the general path was taken"
    assert fast.result_hash == slow.result_hash


def test_the_hash_still_changes_when_a_trace_figure_changes() -> None:
    # The same lines can come from different figures (a zero measure pays zero at any
    # rate): the hash covers what the trace shows, on both paths.
    data = {
        "period": {"id": "2025-04", "start": "2025-04-01", "end": "2025-05-01"},
        "assignments": [{"person": "p0", "plan": "p"}],
        "timeline": [{"person": "p0"}],
    }
    hashes = set()
    for rate in ("0.05", "0.07"):
        plan = {
            "version": 1,
            "id": "p",
            "currency": "USD",
            "measures": [{"id": "bookings", "aggregate": "sum"}],
            "components": [
                {
                    "id": "c0",
                    "type": "commission",
                    "measure": "bookings",
                    "rate_table": {"convention": "marginal", "tiers": [{"from": 0, "rate": rate}]},
                }
            ],
        }
        plans = {"p": parse_plan(plan)}
        for fast in (True, False):
            result = outcome(inputs_from_mapping(data, plans), fast=fast)
            assert not isinstance(result, str), result
            assert result.total() == 0
            hashes.add((rate, result.result_hash))
    assert len({h for _, h in hashes}) == 2
    assert len(hashes) == 2


def test_plans_with_anything_but_plain_tier_tables_take_the_general_path() -> None:
    data = random_plan(random.Random(5))
    assert plain_plan(parse_plan(data))
    data["components"][0]["gate"] = {"measure": "bookings", "min_value": 1}
    assert not plain_plan(parse_plan(data))


def _tier_case(quota: str, amount: str, ti: str = "0") -> Inputs:
    """One person, 10 of April's 30 days (factor 1/3): 5 % to 100 % of quota, 8 % above."""
    plan = {
        "version": 1,
        "id": "p",
        "currency": "USD",
        "proration": {"policy": "days"},
        "measures": [{"id": "bookings", "aggregate": "sum"}],
        "components": [
            {
                "id": "c0",
                "type": "commission",
                "measure": "bookings",
                "rate_table": {
                    "convention": "marginal",
                    "basis": "attainment",
                    "tiers": [{"from": 0, "to": 1, "rate": "0.05"}, {"from": 1, "rate": "0.08"}],
                },
            }
        ],
    }
    data = {
        "period": {"id": "2025-04", "start": "2025-04-01", "end": "2025-05-01"},
        "assignments": [{"person": "p0", "plan": "p", "target_incentive": ti}],
        "timeline": [{"person": "p0", "end": "2025-04-11"}],
        "credits": [{"id": "c1", "person": "p0", "date": "2025-04-03", "amount": amount}],
        "quotas": [{"holder": "p0", "quota": "bookings", "amount": quota}],
    }
    return inputs_from_mapping(data, {"p": parse_plan(plan)})


def test_pro_rated_whole_cent_figures_take_the_fast_path() -> None:
    # Quota 1,234.57 x 1/3 is no whole number of ten-thousandths: the fast path carries it
    # as a fraction and gives the general path's line (1,234.57 / 3 = 411.5233...;
    # 500 - 411.52333 = 88.47667 at 8 % + 411.52333 at 5 % = 7.07813 + 20.57617 = 27.65).
    fast, slow = (
        compute(_tier_case("1234.57", "500")),
        compute(_tier_case("1234.57", "500"), fast=False),
    )
    assert [t.source is not None for t in fast.traces] == [True]
    assert fast.lines[0].amount == Decimal("27.65")
    assert_same(fast, slow)


def test_an_exact_tie_on_a_pro_rated_figure_goes_the_general_way() -> None:
    # Quota 301 x 1/3 = 100.333...; 200.0625 booked: 100.333... at 5 % + 99.729166... at 8 %
    # = 200.0625 x 8 % - 100.333... x 3 % = 16.005 - 3.01 = 12.995 exactly, half a cent,
    # which the general path's rounded Decimals could put on either side: it decides.
    fast, slow = (
        compute(_tier_case("301", "200.0625")),
        compute(_tier_case("301", "200.0625"), fast=False),
    )
    assert [t.source for t in fast.traces] == [None], "the tie went the general way"
    assert_same(fast, slow)
    # A tenth more is no tie: the fast path takes it (200.1625 x 8 % = 16.013; - 3.01 = 13.003).
    near = compute(_tier_case("301", "200.1625"))
    assert [t.source is not None for t in near.traces] == [True]
    assert near.lines[0].amount == Decimal("13.00")
    assert_same(near, compute(_tier_case("301", "200.1625"), fast=False))
