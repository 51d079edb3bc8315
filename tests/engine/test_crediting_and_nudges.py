"""Crediting errors, nudges, forecasts and traces."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest

from engine import compute, parse_plan
from engine.crediting import CreditingError, check_direct_shares, credit_splits
from engine.loader import inputs_from_mapping
from engine.nudges import forecast, gate_gap, next_tier
from engine.spec import Gate

TX = pd.DataFrame(
    {
        "transaction_id": ["t1"],
        "owner_id": ["a"],
        "date": [dt.date(2025, 1, 2)],
        "amount_e4": [1_000_000],
        "transaction_type": ["new"],
    }
)

PLAN = parse_plan(
    {
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
                        {"from": 0, "to": 10000, "rate": "0.05"},
                        {"from": 10000, "to": 20000, "rate": "0.07"},
                        {"from": 20000, "rate": "0.10"},
                    ],
                },
            }
        ],
    }
)


def test_splits_over_one_hundred_percent_are_an_error() -> None:
    splits = pd.DataFrame(
        {"transaction_id": ["t1", "t1"], "person_id": ["a", "b"], "share_ppm": [600_000, 500_000]}
    )
    with pytest.raises(CreditingError, match="exceed 100 % on transaction"):
        credit_splits(TX, splits)


def test_direct_and_split_shares_together_are_checked() -> None:
    credits = pd.DataFrame(
        {"transaction_id": ["t1", "t1"], "kind": ["direct", "split"], "share_ppm": [1_000_000, 1]}
    )
    with pytest.raises(CreditingError):
        check_direct_shares(credits)


def test_it_tells_how_much_more_reaches_the_next_tier() -> None:
    nudge = next_tier(PLAN.components[0], Decimal(15000))
    assert (nudge.current_tier, nudge.next_tier) == (2, 3)
    assert nudge.amount_needed == Decimal(5000)
    assert nudge.payout_now == Decimal(850)  # 10,000 x 5 % + 5,000 x 7 %
    assert nudge.payout_at_next == Decimal(1200)  # 500 + 700


def test_it_tells_how_much_more_unlocks_a_gate() -> None:
    gate = Gate(measure="bookings", min_attainment=Decimal("0.5"))
    assert gate_gap(gate, Decimal(30000), Decimal(100000)) == Decimal(20000)
    assert gate_gap(gate, Decimal(60000), Decimal(100000)) == 0


def test_forecast_projects_the_pace_through_the_same_rules() -> None:
    # given: 10,000 sold in the first 10 of 31 days -> run-rate 31,000
    inputs = inputs_from_mapping(
        {
            "period": {"id": "2025-01", "start": "2025-01-01", "end": "2025-02-01"},
            "people": [{"person": "alice"}],
            "credits": [{"id": "c1", "person": "alice", "date": "2025-01-05", "amount": 10000}],
        },
        {"ae": PLAN},
    )
    # when
    projected = forecast(inputs, dt.date(2025, 1, 11))
    # then: 500 + 700 + 11,000 x 10 % = 2,300
    assert projected.lines[0].amount == Decimal("2300.00")
    assert compute(inputs).lines[0].amount == Decimal("500.00")


def test_every_line_has_a_trace_with_inputs_and_steps() -> None:
    inputs = inputs_from_mapping(
        {
            "period": {"id": "2025-01", "start": "2025-01-01", "end": "2025-02-01"},
            "people": [{"person": "alice"}, {"person": "bob"}],
            "credits": [{"id": "c1", "person": "alice", "date": "2025-01-05", "amount": 30000}],
        },
        {"ae": PLAN},
    )
    result = compute(inputs)
    assert len(result.traces) == len(result.lines) == 2
    trace = result.trace("alice", "commission")
    assert Decimal(trace.step("earned")) == Decimal(2200)
    assert "credits:alice/ae/0/bookings (1 rows)" in trace.inputs
    assert list(result.contributions["credit_id"]) == ["c1"]
    assert len(result.result_hash) == 64


def test_a_nudge_refuses_tables_one_figure_cannot_price() -> None:
    base = {
        "version": 1,
        "id": "p",
        "currency": "USD",
        "measures": [{"id": "b", "aggregate": "sum"}],
    }
    for table in (
        {
            "convention": "prospective",
            "tiers": [{"from": 0, "to": 10, "rate": 1}, {"from": 10, "rate": 2}],
        },
        {
            "convention": "retroactive",
            "tier_by": {"measure": "b"},
            "tiers": [{"from": 0, "rate": 1}],
        },
    ):
        plan = parse_plan(
            base
            | {
                "components": [
                    {"id": "c", "type": "commission", "measure": "b", "rate_table": table}
                ]
            }
        )
        with pytest.raises(ValueError, match="one figure cannot say"):
            next_tier(plan.components[0], Decimal(5))
