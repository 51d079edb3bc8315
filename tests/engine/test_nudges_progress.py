"""Progress bars and nudges: every threshold of a component, the next one, the distance.

The distance is checked against the rule code itself: the measure plus the distance reaches
the next threshold (the engine's tier, curve and gate tests say so) and anything less does not.
No database.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from engine import parse_plan
from engine.loader import inputs_from_mapping
from engine.money import add, div, mul, sub
from engine.nudges import (
    Figures,
    component_progress,
    curve_progress,
    forecast,
    gate_progress,
    milestone_progress,
    tier_progress,
)
from engine.rules import curve_value, gate_passes, tier_reached
from engine.spec import Component, Condition, Curve, CurvePoint, Gate, Plan, RateTable, Tier

FAST = settings(max_examples=60, deadline=None)
EPS = Decimal("0.0001")


def _plan(component: dict[str, Any], measures: list[Any] | None = None) -> Plan:
    return parse_plan(
        {
            "version": 1,
            "id": "ae",
            "currency": "USD",
            "measures": measures
            or [
                {"id": "bookings", "aggregate": "sum"},
                {"id": "signups", "aggregate": "count"},
                {"id": "csat", "aggregate": "kpi", "kpi": "csat"},
            ],
            "components": [component],
        }
    )


AE = _plan(
    {
        "id": "new_business",
        "type": "commission",
        "measure": "bookings",
        "rate_table": {
            "convention": "marginal",
            "basis": "attainment",
            "tiers": [
                {"from": 0, "to": "0.5", "rate": "0.05"},
                {"from": "0.5", "to": "1.0", "rate": "0.08"},
                {"from": "1.0", "rate": "0.12"},
            ],
        },
    }
)


def test_it_says_how_much_more_puts_you_in_the_next_tier() -> None:
    # given: 12,000 of a 100,000 quota; the 8 % tier starts at 50 %
    [p] = component_progress(AE, AE.components[0], Figures(Decimal(12000), Decimal(100000)))
    # then
    assert p.text == "38,000.00 USD more puts you in the 8 % tier."
    assert p.distance == Decimal(38000)
    assert [(m.key, m.at, m.label, m.reached) for m in p.marks] == [
        ("tier_1", Decimal(0), "5 %", True),
        ("tier_2", Decimal("50000.0"), "8 %", False),
        ("tier_3", Decimal("100000.0"), "12 %", False),
    ]
    assert not p.within_reach


def test_within_reach_is_ten_percent_of_the_threshold() -> None:
    [near] = component_progress(AE, AE.components[0], Figures(Decimal(45000), Decimal(100000)))
    [far] = component_progress(AE, AE.components[0], Figures(Decimal(44999), Decimal(100000)))
    assert near.within_reach and not far.within_reach


def test_the_top_tier_has_no_next_step() -> None:
    [p] = component_progress(AE, AE.components[0], Figures(Decimal(130000), Decimal(100000)))
    assert p.next is None and p.distance is None
    assert p.text == "You are in the top tier (12 %): every extra sale pays the top rate."


def test_a_milestone_says_where_the_team_furthest_from_it_stands() -> None:
    plan = _plan(
        {
            "id": "launch",
            "name": "launch",
            "type": "team_pool",
            "teams": ["marketing", "product"],
            "milestone": {"measure": "signups", "min_attainment": 1},
            "pool": {"amount": 6000},
            "split": "equal",
        }
    )
    figures = Figures(
        None,
        teams=(
            ("marketing", Decimal(430), Decimal(500)),
            ("product", Decimal(610), Decimal(600)),
        ),
    )
    [p] = component_progress(plan, plan.components[0], figures)
    assert p.text == "The launch milestone unlocks at 500 signups for marketing, 430 so far."
    assert p.distance == Decimal(70)
    assert [m.reached for m in p.marks] == [False, True]


def test_a_kpi_gate_is_read_in_points() -> None:
    plan = _plan(
        {
            "id": "bonus",
            "type": "commission",
            "measure": "bookings",
            "rate": "0.05",
            "gate": {"measure": "csat", "min_value": "0.9"},
        }
    )
    [g] = component_progress(
        plan, plan.components[0], Figures(Decimal(1000), gate_value=Decimal("0.86"))
    )
    assert g.kind == "gate"
    assert g.text == "You are 4 points from the csat gate: it opens at 90 %, 86 % so far."
    assert g.within_reach  # 0.04 <= 10 % of 0.9


def test_an_open_gate_says_so_and_a_flat_rate_has_no_ladder() -> None:
    plan = _plan(
        {
            "id": "c",
            "type": "commission",
            "measure": "bookings",
            "rate": "0.05",
            "gate": {"measure": "bookings", "min_attainment": "0.5"},
        }
    )
    figures = Figures(Decimal(60000), Decimal(100000), Decimal(60000), Decimal(100000))
    [g] = component_progress(plan, plan.components[0], figures)
    assert g.next is None and g.text.startswith("The bookings gate is open")


def test_a_curve_names_threshold_target_and_stretch() -> None:
    plan = _plan(
        {
            "id": "bonus",
            "type": "attainment_bonus",
            "measure": "bookings",
            "curve": {
                "points": [
                    {"attainment": "0.5", "payout": "0.25"},
                    {"attainment": "1.0", "payout": "1.0"},
                    {"attainment": "1.5", "payout": "2.0"},
                ]
            },
        }
    )
    [p] = component_progress(plan, plan.components[0], Figures(Decimal(80000), Decimal(100000)))
    assert [m.label for m in p.marks] == [
        "threshold (25 % of target)",
        "target (100 % of target)",
        "stretch (200 % of target)",
    ]
    assert p.text == (
        "20,000.00 USD more reaches the target at 100 % of quota, which pays 100 % of your "
        "target incentive."
    )


def test_a_forecast_for_the_card_runs_the_engine() -> None:
    inputs = inputs_from_mapping(
        {
            "period": {"id": "q1", "start": "2025-01-01", "end": "2025-04-01"},
            "people": [{"person": "emma"}],
            "quotas": [{"holder": "emma", "quota": "bookings", "amount": 100000}],
            "credits": [{"id": "c1", "person": "emma", "date": "2025-01-05", "amount": 30000}],
        },
        {"ae": AE},
    )
    # 30 of 90 days elapsed: x3 -> 90,000 = 50,000 x 5 % + 40,000 x 8 % = 5,700
    projected = forecast(inputs, dt.date(2025, 1, 31))
    assert projected.lines[0].amount == Decimal("5700.00")


# --------------------------------------------------------------------------- properties

amounts = st.decimals(min_value=0, max_value=10**7, places=2, allow_nan=False)
quotas = st.decimals(min_value=1, max_value=10**6, places=2, allow_nan=False)


@st.composite
def tables(draw: st.DrawFn) -> RateTable:
    n = draw(st.integers(2, 5))
    bounds = sorted(draw(st.sets(st.integers(1, 10**6), min_size=n - 1, max_size=n - 1)))
    starts = [Decimal(0), *[Decimal(b) for b in bounds]]
    ends = [*starts[1:], None]
    rate = st.decimals(min_value=0, max_value=1, places=3)
    tiers = tuple(Tier(s, e, draw(rate)) for s, e in zip(starts, ends, strict=True))
    convention = draw(st.sampled_from(["marginal", "retroactive", "top_multiplier_on_overage"]))
    basis = draw(st.sampled_from(["amount", "attainment"]))
    if basis == "attainment":
        tiers = tuple(
            Tier(t.start / 1000, t.end / 1000 if t.end is not None else None, t.rate) for t in tiers
        )
    return RateTable(convention, basis, tiers)  # type: ignore[arg-type]


@FAST
@given(tables(), amounts, quotas)
def test_measure_plus_distance_reaches_the_next_tier_and_a_hair_less_does_not(
    table: RateTable, measure: Decimal, quota: Decimal
) -> None:
    c = Component(id="c", type="commission", measure="bookings", rate_table=table)
    p = tier_progress(c, measure, quota, unit="money", currency="USD")
    assert p is not None
    scale = quota if table.basis == "attainment" else Decimal(1)
    starts = [mul(t.start, scale) for t in table.tiers]
    now = tier_reached(measure, starts)
    if p.next is None:
        assert now == len(starts)
        return
    assert p.distance is not None and p.distance > 0
    assert tier_reached(add(measure, p.distance), starts) > now
    assert tier_reached(sub(add(measure, p.distance), EPS), starts) == now


@st.composite
def curves(draw: st.DrawFn) -> Curve:
    n = draw(st.integers(1, 4))
    atts = sorted(draw(st.sets(st.integers(1, 200), min_size=n, max_size=n)))
    pays = sorted(draw(st.lists(st.integers(1, 300), min_size=n, max_size=n)))
    return Curve(
        tuple(
            CurvePoint(Decimal(a) / 100, Decimal(p) / 100) for a, p in zip(atts, pays, strict=True)
        )
    )


@FAST
@given(curves(), amounts, quotas)
def test_measure_plus_distance_reaches_the_next_curve_point(
    curve: Curve, measure: Decimal, quota: Decimal
) -> None:
    c = Component(id="b", type="attainment_bonus", measure="bookings", curve=curve)
    p = curve_progress(c, curve, measure, quota, unit="money", currency="USD")
    assert p is not None
    if p.next is None:
        assert div(measure, quota) >= curve.points[-1].attainment
        return
    i = p.marks.index(p.next)
    point = curve.points[i]
    assert p.distance is not None
    reached = div(add(measure, p.distance), quota)
    assert reached >= point.attainment
    assert curve_value(curve, reached) == point.payout
    assert div(sub(add(measure, p.distance), EPS), quota) < point.attainment
    if i == 0:  # below the threshold the curve pays nothing
        assert curve_value(curve, div(sub(add(measure, p.distance), EPS), quota)) == 0


@st.composite
def gates(draw: st.DrawFn) -> Gate:
    kind = draw(st.sampled_from(["min_value", "min_attainment", ">=", "between", ">"]))
    low = Decimal(draw(st.integers(1, 10**6)))
    if kind == "min_value":
        return Gate(measure="m", min_value=low)
    if kind == "min_attainment":
        return Gate(measure="m", min_attainment=low / 1000)
    operands: tuple[Decimal, ...] = (low,) if kind != "between" else (low, low * 2)
    of = draw(st.sampled_from(["value", "attainment"]))
    if of == "attainment":
        operands = tuple(o / 1000 for o in operands)
    return Gate(measure="m", condition=Condition(kind, operands, "number"), of=of)


@FAST
@given(gates(), amounts, quotas)
def test_measure_plus_distance_opens_the_gate_and_a_hair_less_does_not(
    gate: Gate, value: Decimal, quota: Decimal
) -> None:
    c = Component(id="c", type="commission", measure="m", rate=Decimal("0.1"), gate=gate)
    p = gate_progress(c, gate, value, quota, unit="money", currency="USD")
    assert p is not None
    if p.next is None:
        assert gate_passes(gate, value, quota)
        return
    assert p.distance is not None
    strict = gate.condition is not None and gate.condition.op == ">"
    at = add(value, p.distance)
    if strict:  # "more than": exactly on it does not pass, a hair above does
        assert not gate_passes(gate, at, quota)
        assert gate_passes(gate, add(at, EPS), quota)
    else:
        assert gate_passes(gate, at, quota)
        assert not gate_passes(gate, sub(at, EPS), quota)


@FAST
@given(st.lists(st.tuples(amounts, quotas), min_size=1, max_size=4))
def test_a_milestone_distance_brings_the_furthest_team_to_it(
    teams: list[tuple[Decimal, Decimal]],
) -> None:
    c = Component(
        id="m",
        type="team_pool",
        measure="signups",
        teams=tuple(f"t{i}" for i in range(len(teams))),
        milestone_min_attainment=Decimal(1),
        pool_amount=Decimal(100),
    )
    rows = tuple((f"t{i}", v, q) for i, (v, q) in enumerate(teams))
    p = milestone_progress(c, rows, unit="count", currency="USD")
    assert p is not None
    if p.next is None:
        assert all(v >= q for v, q in teams)
        return
    assert p.distance is not None
    team = next(r for r in rows if f"milestone_{r[0]}" == p.next.key)
    assert div(add(team[1], p.distance), team[2]) >= 1
    assert div(sub(add(team[1], p.distance), EPS), team[2]) < 1
    assert p.distance == max(sub(q, v) for v, q in teams if v < q)


def test_components_paid_credit_by_credit_are_not_projected() -> None:
    from engine.nudges import projectable

    per_unit = Component(id="m", type="commission", measure="meetings", per_unit=Decimal(50))
    assert not projectable(per_unit)
    assert projectable(AE.components[0])
