"""Property tests: monotone tiers, exact allocation, order independence, caps, attribution."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import compute, parse_plan
from engine.crediting import attribution_weights, credit_attribution, credit_splits
from engine.loader import inputs_from_mapping, plans_from_mapping
from engine.money import allocate, allocate_groups, from_e4, instalment
from engine.rules import CreditRow, prospective_amount, tier_fills, tier_reached, tiered_amount
from engine.spec import RateTable, Tier
from engine.types import Inputs

FAST = settings(max_examples=40, deadline=None)

amounts = st.decimals(min_value=0, max_value=10**7, places=4, allow_nan=False)
rates = st.decimals(min_value=0, max_value=1, places=4)


@st.composite
def tables(draw: st.DrawFn, convention: str = "marginal") -> RateTable:
    n = draw(st.integers(1, 5))
    bounds = sorted(draw(st.sets(st.integers(1, 10**6), min_size=n - 1, max_size=n - 1)))
    starts = [Decimal(0), *[Decimal(b) for b in bounds]]
    ends: list[Decimal | None] = [*starts[1:], None]
    tiers = tuple(Tier(s, e, draw(rates)) for s, e in zip(starts, ends, strict=True))
    return RateTable(convention, "amount", tiers)  # type: ignore[arg-type]


def reference_marginal(value: Decimal, table: RateTable) -> Decimal:
    """Plain-Decimal reference: walk the tiers one by one."""
    total = Decimal(0)
    for tier in table.tiers:
        top = value if tier.end is None else min(value, tier.end)
        if top > tier.start:
            total += (top - tier.start) * tier.rate
    return total


def reference_retroactive(value: Decimal, table: RateTable) -> Decimal:
    rate = next(t.rate for t in reversed(table.tiers) if value >= t.start)
    return value * rate


@FAST
@given(tables(), amounts, amounts)
def test_marginal_payout_never_decreases_as_the_measure_grows(
    table: RateTable, a: Decimal, b: Decimal
) -> None:
    lo, hi = sorted((a, b))
    assert tiered_amount(lo, table)[0] <= tiered_amount(hi, table)[0]


@FAST
@given(tables(), amounts)
def test_engine_tiers_equal_a_plain_decimal_reference(table: RateTable, value: Decimal) -> None:
    assert tiered_amount(value, table)[0] == reference_marginal(value, table)
    retro = RateTable("retroactive", "amount", table.tiers)
    assert tiered_amount(value, retro)[0] == reference_retroactive(value, retro)


@FAST
@given(st.integers(-(10**12), 10**12), st.lists(st.integers(0, 10**6), min_size=1, max_size=8))
def test_allocation_parts_sum_to_the_whole(total: int, weights: list[int]) -> None:
    parts = allocate(total, weights)
    assert sum(parts) == total
    if sum(weights):
        for part, w in zip(parts, weights, strict=True):
            exact = Fraction(abs(total) * w, sum(weights))
            assert abs(abs(part) - exact) < 1


@FAST
@given(
    st.lists(
        st.tuples(st.integers(0, 5), st.integers(0, 10**9), st.integers(0, 1000)),
        min_size=1,
        max_size=30,
    )
)
def test_grouped_allocation_sums_per_group(rows: list[tuple[int, int, int]]) -> None:
    groups = np.array([g for g, _, _ in rows], dtype=np.int64)
    firsts = {g: t for g, t, _ in reversed(rows)}
    totals = np.array([firsts[g] for g in groups], dtype=np.int64)
    weights = np.array([w for _, _, w in rows], dtype=np.int64)
    parts = allocate_groups(totals, weights, groups)
    for g, t in firsts.items():
        assert int(parts[groups == g].sum()) == t


@FAST
@given(
    st.integers(1, 12),
    st.sampled_from(["first_touch", "last_touch", "linear", "u_shaped", "w_shaped"]),
    st.integers(1, 10**10),
)
def test_attribution_shares_sum_to_exactly_one_hundred_percent(
    n: int, model: str, amount: int
) -> None:
    assert sum(attribution_weights(model, n)) == 1
    tx = pd.DataFrame(
        {
            "transaction_id": ["t"],
            "owner_id": ["o"],
            "date": [dt.date(2025, 1, 2)],
            "amount_e4": [amount],
            "transaction_type": ["sale"],
        }
    )
    touches = pd.DataFrame(
        {
            "transaction_id": ["t"] * n,
            "person_id": [f"p{i:02d}" for i in range(n)],
            "touched_at": list(range(n)),
        }
    )
    credits = credit_attribution(tx, touches, model=model)
    assert int(credits["share_ppm"].sum()) == 1_000_000
    assert int(credits["amount_e4"].sum()) == amount


@FAST
@given(st.lists(st.integers(0, 333_333), min_size=1, max_size=3), st.integers(0, 10**9))
def test_split_credits_never_exceed_the_transaction(shares: list[int], amount: int) -> None:
    tx = pd.DataFrame(
        {
            "transaction_id": ["t"],
            "owner_id": ["o"],
            "date": [dt.date(2025, 1, 2)],
            "amount_e4": [amount],
            "transaction_type": ["sale"],
        }
    )
    splits = pd.DataFrame(
        {
            "transaction_id": ["t"] * len(shares),
            "person_id": [f"p{i}" for i in range(len(shares))],
            "share_ppm": shares,
        }
    )
    credits = credit_splits(tx, splits)
    total = int(credits["amount_e4"].sum())
    assert total <= amount
    assert abs(Fraction(total) - Fraction(amount * sum(shares), 1_000_000)) <= 1


PLAN = parse_plan(
    {
        "version": 1,
        "id": "ae",
        "currency": "USD",
        "measures": [{"id": "bookings", "aggregate": "sum"}],
        "components": [
            {
                "id": "tiers",
                "type": "commission",
                "measure": "bookings",
                "cap": {"amount": 3000},
                "rate_table": {
                    "convention": "marginal",
                    "basis": "attainment",
                    "tiers": [
                        {"from": 0, "to": 1, "rate": "0.05"},
                        {"from": 1, "to": "1.5", "rate": "0.08"},
                        {"from": "1.5", "rate": "0.12"},
                    ],
                },
            },
            {
                "id": "spif",
                "type": "spif",
                "window": {"start": "2025-04-05", "end": "2025-04-20"},
                "amount": 50,
                "filter": {"transaction_types": ["new"]},
            },
        ],
    }
)


def random_inputs(seed: int, people: int, deals: int) -> dict[str, object]:
    rnd = random.Random(seed)
    rows = []
    for i in range(people):
        if rnd.random() < 0.3:
            rows.append({"person": f"p{i}", "end": "2025-04-11", "allocation": "0.5", "node": "a"})
            rows.append(
                {"person": f"p{i}", "start": "2025-04-11", "node": "b", "no_assignment": True}
            )
        else:
            rows.append({"person": f"p{i}", "target_incentive": rnd.randint(0, 5000)})
    assignments = [
        {"person": r["person"], "target_incentive": r.get("target_incentive", 1000)}
        for r in rows
        if not r.get("no_assignment")
    ]
    timeline = [
        {k: v for k, v in r.items() if k in ("person", "start", "end", "node", "allocation")}
        for r in rows
    ]
    credits = [
        {
            "id": f"c{j}",
            "person": f"p{rnd.randrange(people)}",
            "date": f"2025-04-{rnd.randint(1, 30):02d}",
            "amount": f"{rnd.randint(-1000, 100000)}.{rnd.randint(0, 9999):04d}",
            "type": rnd.choice(["new", "renewal"]),
        }
        for j in range(deals)
    ]
    quotas = [
        {"holder": f"p{i}", "quota": "bookings", "amount": rnd.randint(1, 90000)}
        for i in range(people)
    ]
    return {
        "period": {"id": "2025-04", "start": "2025-04-01", "end": "2025-05-01"},
        "assignments": assignments,
        "timeline": timeline,
        "credits": credits,
        "quotas": quotas,
    }


def shuffled(inputs: Inputs, seed: int) -> Inputs:
    def mix(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.sample(frac=1, random_state=seed).reset_index(drop=True)

    return Inputs(
        period=inputs.period,
        plans=dict(reversed(list(inputs.plans.items()))),
        assignments=mix(inputs.assignments),
        timeline=mix(inputs.timeline),
        credits=mix(inputs.credits),
        quotas=mix(inputs.quotas),
        kpi_values=mix(inputs.kpi_values),
        nodes=mix(inputs.nodes),
        reserves=mix(inputs.reserves),
    )


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10**6), st.integers(0, 10**6))
def test_results_do_not_depend_on_row_order(seed: int, shuffle_seed: int) -> None:
    # given
    inputs = inputs_from_mapping(random_inputs(seed, 8, 40), {"ae": PLAN})
    # when
    first = compute(inputs)
    second = compute(shuffled(inputs, shuffle_seed))
    # then
    assert first.lines == second.lines
    assert first.result_hash == second.result_hash
    assert first.contributions.equals(second.contributions)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10**6))
def test_caps_are_never_exceeded(seed: int) -> None:
    result = compute(inputs_from_mapping(random_inputs(seed, 6, 60), {"ae": PLAN}))
    for trace in result.traces:
        if trace.component_id == "tiers":
            assert Decimal(trace.step("earned")) <= Decimal(trace.step("cap"))
    for line in result.lines:
        if line.component_id == "tiers":
            assert line.earned <= Decimal(3000)


def test_contributions_add_up_to_the_measures() -> None:
    result = compute(inputs_from_mapping(random_inputs(7, 8, 80), {"ae": PLAN}))
    sums = result.contributions.groupby(["person_id", "segment"], observed=True)["amount_e4"].sum()
    for row in result.measures.itertuples(index=False):
        if row.measure_id == "bookings":
            got = sums.get((row.person_id, row.segment), 0)
            assert from_e4(int(got)) == row.value


@settings(max_examples=200, deadline=None)
@given(tables(), st.decimals(min_value=-1000, max_value=200_000, places=2, allow_nan=False))
def test_tier_fills_sum_to_the_measure_and_fill_in_order(table: RateTable, value: Decimal) -> None:
    fills = tier_fills(value, table)
    assert sum(f.amount for f in fills) == max(value, Decimal(0))
    for f in fills:
        assert f.share is None or Decimal(0) <= f.share <= 1
    partly = [i for i, f in enumerate(fills) if f.share is not None and 0 < f.share < 1]
    for i in partly:  # a band is partly filled only when every band before it is full
        assert all(g.share == 1 for g in fills[:i])
        assert all(g.amount == 0 for g in fills[i + 1 :])


def test_a_commission_trace_reports_each_tier_fill() -> None:
    case = yaml.safe_load(
        (Path(__file__).parent / "golden" / "commission_marginal.yaml").read_text()
    )
    plans = plans_from_mapping(case)
    result = compute(inputs_from_mapping(case["inputs"], plans))
    trace = next(t for t in result.traces if t.component_id == "commission")
    fills = {s.name: (s.value, s.note) for s in trace.steps if s.name.endswith("_fill")}
    assert fills, trace.steps
    assert fills == {
        "tier_1_fill": ("10000", "100 % of 0..10,000"),
        "tier_2_fill": ("10000", "100 % of 10,000..20,000"),
        "tier_3_fill": ("10000.0000", "from 20,000, open-ended"),
    }


@settings(max_examples=200, deadline=None)
@given(
    tables(),
    st.lists(
        st.tuples(st.integers(1, 28), st.decimals(min_value=0, max_value=50_000, places=2)),
        max_size=15,
    ),
)
def test_prospective_tiers_pay_each_day_at_the_tier_reached_before_it(
    table: RateTable, credits: list[tuple[int, Decimal]]
) -> None:
    rows = [
        CreditRow(str(i), str(i), dt.date(2025, 1, day), amount, "sale", "direct")
        for i, (day, amount) in enumerate(credits)
    ]
    paid, slices, reached, crossings = prospective_amount(rows, table)
    starts = [t.start for t in table.tiers]
    want = Decimal(0)
    total = Decimal(0)
    for day in sorted({d for d, _ in credits}):
        rate = table.tiers[tier_reached(total, starts) - 1].rate
        today = sum((a for d, a in credits if d == day), Decimal(0))
        want += today * rate
        total += today
    assert paid == want
    assert sum((s.portion for s in slices), Decimal(0)) == total
    assert reached == tier_reached(total, starts)
    assert [t for t, _ in crossings] == list(range(2, reached + 1))
    rates = [t.rate for t in table.tiers]
    if rates == sorted(rates):  # a credit never earns more than its marginal slice would
        assert paid <= tiered_amount(total, table)[0]


@settings(max_examples=300, deadline=None)
@given(st.integers(-(10**12), 10**12), st.integers(2, 36))
def test_instalments_sum_to_the_whole(total: int, periods: int) -> None:
    parts = [instalment(total, periods, k) for k in range(1, periods + 1)]
    assert sum(parts) == total
    assert len(set(parts[:-1])) == 1  # every instalment but the last is the same
    assert 0 <= abs(parts[-1]) - abs(parts[0]) < periods  # the last takes the remainder


@settings(max_examples=40, deadline=None)
@given(st.decimals(min_value=-5000, max_value=90000, places=2), st.integers(2, 12))
def test_what_is_paid_now_and_later_adds_up_to_what_was_earned(
    amount: Decimal, periods: int
) -> None:
    plan = {
        "version": 1,
        "id": "p",
        "currency": "USD",
        "measures": [{"id": "b", "aggregate": "sum"}],
        "components": [
            {"id": "c", "type": "commission", "measure": "b", "rate": "0.1"}
            | {"instalments": {"periods": periods}}
        ],
    }
    plans = {"p": parse_plan(plan)}
    data = {
        "period": {"id": "2025-01", "start": "2025-01-01", "end": "2025-02-01"},
        "people": [{"person": "x"}],
        "credits": [{"id": "1", "person": "x", "date": "2025-01-02", "amount": str(amount)}],
    }
    result = compute(inputs_from_mapping(data, plans))
    earned = next(ln for ln in result.lines if ln.kind == "earned")
    now = result.total("x")
    later = [instalment(earned.amount_minor, periods, k) for k in range(2, periods + 1)]
    assert now * 100 + sum(later) == earned.amount_minor
