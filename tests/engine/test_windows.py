"""Windows across periods: validation with paths, what history a run needs, missing history
refused, and a year's year-to-date settlements summing to the annual earned figure exactly."""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import InputError, Period, compute, history_needed, parse_plan, validate_plan
from engine.loader import inputs_from_mapping, plans_from_mapping
from engine.money import ROUNDING_MODES, div, mul
from engine.nudges import forecast, run_rate
from engine.periods import add_months
from engine.phases.chunks import run_in_chunks
from engine.windows import window_span

GOLDEN = Path(__file__).parent / "golden"


def case(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((GOLDEN / f"{name}.yaml").read_text())
    return data


def plan(measures: list[dict[str, Any]], components: list[dict[str, Any]], **top: Any) -> Any:
    return {
        "version": 1,
        "id": "p",
        "currency": "USD",
        **top,
        "measures": measures,
        "components": components,
    }


YTD = {"id": "bookings", "aggregate": "sum", "window": "year_to_date"}
RATE = {"id": "c", "type": "commission", "measure": "bookings", "rate": "0.1"}


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("measures", "components", "top", "error"),
    [
        (
            [{"id": "bookings", "aggregate": "sum", "window": "month_to_date"}],
            [RATE],
            {},
            "measures[0].window: must be one of period, quarter_to_date, year_to_date, "
            "trailing_n_periods",
        ),
        (
            [{"id": "bookings", "aggregate": "sum", "window": {"over": "trailing_n_periods"}}],
            [RATE],
            {},
            "measures[0].window.periods: is required for trailing_n_periods (N, with this period)",
        ),
        (
            [
                {
                    "id": "bookings",
                    "aggregate": "sum",
                    "window": {"over": "trailing_n_periods", "periods": 0},
                }
            ],
            [RATE],
            {},
            "measures[0].window.periods: must be >= 1 (1 is this period alone)",
        ),
        (
            [
                {
                    "id": "bookings",
                    "aggregate": "sum",
                    "window": {"over": "year_to_date", "periods": 3},
                }
            ],
            [{**RATE, "settle": "year_to_date"}],
            {},
            "measures[0].window.periods: only applies to trailing_n_periods",
        ),
        (
            [
                {
                    "id": "bookings",
                    "aggregate": "sum",
                    "window": {"over": "year_to_date", "year": "plan"},
                }
            ],
            [{**RATE, "settle": "year_to_date"}],
            {},
            "measures[0].window.year: year: plan needs plan_year_start_month at the top of "
            "the plan",
        ),
        (
            [YTD],
            [{**RATE, "settle": "year_to_date"}],
            {"plan_year_start_month": 13},
            "plan_year_start_month: must be a month from 1 to 12",
        ),
        (
            [
                {"id": "k", "aggregate": "kpi", "kpi": "csat", "window": "year_to_date"},
                {"id": "bookings", "aggregate": "sum"},
            ],
            [RATE],
            {},
            "measures[0].window: only sum, count and average measures have a window "
            "(a ratio or a formula reads windowed measures)",
        ),
        (
            [YTD],
            [RATE],
            {},
            "components[0].measure: bookings is over year_to_date: a component paid on it must "
            "settle: year_to_date (earned to date minus paid to date), or it would pay earlier "
            "periods again",
        ),
        (
            [{"id": "bookings", "aggregate": "sum", "window": "quarter_to_date"}],
            [{**RATE, "settle": "year_to_date"}],
            {},
            "components[0].measure: bookings is over quarter_to_date, but the component settles "
            "year_to_date: earned to date needs its measure over the same window",
        ),
        (
            [YTD],
            [
                {
                    "id": "k",
                    "type": "mbo",
                    "objectives": [{"id": "o", "weight": 1}],
                    "settle": "year_to_date",
                }
            ],
            {},
            "components[0].settle: only commission, attainment_bonus, fixed_pay, team_pool settle "
            "to date",
        ),
        (
            [YTD],
            [{"id": "f", "type": "fixed_pay", "amount": 100, "settle": "year_to_date"}],
            {},
            "components[0].gate: fixed_pay settled year_to_date needs a gate on a measure over "
            "year_to_date (a milestone paid once)",
        ),
        (
            [YTD],
            [{**RATE, "settle": "year_to_date", "instalments": {"periods": 3}}],
            {},
            "components[0].settle: a component settled to date is not paid in instalments",
        ),
        (
            [YTD],
            [
                {
                    "id": "c",
                    "type": "commission",
                    "measure": "bookings",
                    "per_unit": 5,
                    "settle": "year_to_date",
                }
            ],
            {},
            "components[0].measure: bookings is over year_to_date: per_unit, rate_by_type, "
            "per_transaction, hold_until_collected and prospective tiers pay this period's "
            "credits one by one",
        ),
        (
            [YTD],
            [{**RATE, "settle": "year_to_date"}],
            {"seasonality": {"bookings": ["0.5", "0.5", *["0"] * 10]}},
            "components[0].settle: seasonality gives each period its share of quota 'bookings'; "
            "a component settled to date reads the annual quota against the window (remove the "
            "seasonality of that quota, or settle by period)",
        ),
        (
            [YTD],
            [{**RATE, "settle": "month_to_date"}],
            {},
            "components[0].settle: must be one of period, quarter_to_date, year_to_date",
        ),
    ],
)
def test_it_names_the_path_of_every_window_problem(
    measures: list[dict[str, Any]], components: list[dict[str, Any]], top: Any, error: str
) -> None:
    # when
    errors = validate_plan(plan(measures, components, **top))
    # then
    assert error in errors, errors


def test_a_measure_window_reads_as_a_name_or_a_mapping() -> None:
    # when
    parsed = parse_plan(
        plan(
            [
                YTD,
                {
                    "id": "t",
                    "aggregate": "count",
                    "window": {"over": "trailing_n_periods", "periods": 3},
                },
                {
                    "id": "q",
                    "aggregate": "average",
                    "window": {"over": "quarter_to_date", "year": "plan"},
                },
            ],
            [{**RATE, "settle": "year_to_date"}],
            plan_year_start_month=4,
        )
    )
    # then
    windows = [(m.window.over, m.window.periods, m.window.year) for m in parsed.measures]
    assert windows == [
        ("year_to_date", None, "fiscal"),
        ("trailing_n_periods", 3, "fiscal"),
        ("quarter_to_date", None, "plan"),
    ]
    assert parsed.plan_year_start_month == 4
    assert parsed.components[0].settle == "year_to_date"


# --------------------------------------------------------------------------- spans and needs


def test_window_spans_follow_the_fiscal_and_plan_years() -> None:
    # given: a February fiscal year, a plan year from April, period June 2025
    p = parse_plan(plan([YTD], [{**RATE, "settle": "year_to_date"}], plan_year_start_month=4))
    june = Period("2025-06", dt.date(2025, 6, 1), dt.date(2025, 7, 1))
    ytd, qtd = p.measures[0].window, type(p.measures[0].window)("quarter_to_date")
    plan_ytd = type(ytd)("year_to_date", None, "plan")
    trailing = type(ytd)("trailing_n_periods", 4)
    # then
    assert window_span(ytd, p, june, 2).start == dt.date(2025, 2, 1)
    assert window_span(qtd, p, june, 2).start == dt.date(2025, 5, 1)  # May-July
    assert window_span(plan_ytd, p, june, 2).start == dt.date(2025, 4, 1)
    assert window_span(trailing, p, june, 2).start == dt.date(2025, 3, 1)
    short = window_span(trailing, p, june, 2, history_start=dt.date(2025, 5, 1))
    assert (short.start, short.clipped, len(short.earlier)) == (dt.date(2025, 5, 1), True, 1)


def test_history_needed_says_which_periods_and_tables() -> None:
    # given: a YTD commission paid monthly (credits and payouts) beside a trailing gate (credits)
    plans = {
        "p": parse_plan(plan([YTD], [{**RATE, "settle": "year_to_date"}])),
        "q": parse_plan(
            {
                **plan(
                    [
                        {"id": "b", "aggregate": "sum"},
                        {
                            "id": "t",
                            "aggregate": "sum",
                            "window": {"over": "trailing_n_periods", "periods": 2},
                        },
                    ],
                    [
                        {
                            "id": "c",
                            "type": "commission",
                            "measure": "b",
                            "rate": "0.1",
                            "gate": {"measure": "t", "min_value": 1},
                        }
                    ],
                ),
                "id": "q",
            }
        ),
        "plain": parse_plan(
            {**plan([{"id": "b", "aggregate": "sum"}], [{**RATE, "measure": "b"}]), "id": "plain"}
        ),
    }
    april = Period("2025-04", dt.date(2025, 4, 1), dt.date(2025, 5, 1))
    # when
    needs = history_needed(plans, april)
    # then
    assert [n.plan_id for n in needs] == ["p", "q"]
    p, q = needs
    assert p.periods == (
        (dt.date(2025, 1, 1), dt.date(2025, 2, 1)),
        (dt.date(2025, 2, 1), dt.date(2025, 3, 1)),
        (dt.date(2025, 3, 1), dt.date(2025, 4, 1)),
    )
    assert p.tables == ("history_credits", "history_payouts")
    assert p.reasons == ("measures[0].window (year_to_date)", "components[0].settle (year_to_date)")
    assert (q.start, q.tables, q.reasons) == (
        dt.date(2025, 3, 1),
        ("history_credits",),
        ("measures[1].window (trailing_n_periods)",),
    )
    # and the first period of the year needs nothing earlier
    january = Period("2025-01", dt.date(2025, 1, 1), dt.date(2025, 2, 1))
    assert [n.plan_id for n in history_needed(plans, january)] == ["q"]
    assert history_needed(plans, january, history_start=dt.date(2025, 1, 1)) == ()


# --------------------------------------------------------------------------- bad input


def test_a_window_that_needs_a_period_the_inputs_lack_is_refused_with_its_path() -> None:
    # given: March on the year to date, with February missing from the history
    data = case("window_ytd_annual_quota_paid_monthly")
    data["inputs"]["history"]["periods"] = data["inputs"]["history"]["periods"][:1]
    data["inputs"]["history"]["payouts"] = data["inputs"]["history"]["payouts"][:1]
    inputs = inputs_from_mapping(data["inputs"], plans_from_mapping(data))
    # when / then
    with pytest.raises(InputError) as err:
        compute(inputs)
    assert str(err.value) == (
        "plan ae: measures[0].window (year_to_date) needs the earlier periods 2025-01-01 to "
        "2025-02-28 (history_credits), but the inputs lack 2025-02-01 to 2025-02-28 "
        "(history_periods: 2025-01)"
    )


def test_a_payout_of_a_period_not_in_the_history_is_refused() -> None:
    # given
    data = case("window_ytd_annual_quota_paid_monthly")
    data["inputs"]["history"]["payouts"].append(
        {"person": "ann", "component": "bonus", "period": "2024-12", "amount": 1}
    )
    inputs = inputs_from_mapping(data["inputs"], plans_from_mapping(data))
    # when / then
    with pytest.raises(InputError, match=r"^history_payouts: period\(s\) 2024-12 not in "):
        compute(inputs)


WINDOW_CASES = sorted(GOLDEN.glob("window_*.yaml"))


@pytest.mark.parametrize("path", WINDOW_CASES, ids=[p.stem for p in WINDOW_CASES])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_window_case_gives_the_same_result_whatever_the_row_order(
    path: Path, seed: int
) -> None:
    # given
    data = yaml.safe_load(path.read_text())
    plans = plans_from_mapping(data)
    inputs = inputs_from_mapping(data["inputs"], plans)

    def mix(frame: Any) -> Any:
        return frame.sample(frac=1, random_state=seed).reset_index(drop=True)

    turned = replace(
        inputs,
        credits=mix(inputs.credits),
        timeline=mix(inputs.timeline),
        assignments=mix(inputs.assignments),
        history_credits=mix(inputs.history_credits),
        history_payouts=mix(inputs.history_payouts),
        history_periods=tuple(reversed(inputs.history_periods)),
    )
    # when
    one, two = compute(inputs), compute(turned)
    # then
    assert one.lines == two.lines
    assert one.result_hash == two.result_hash
    assert one.contributions.equals(two.contributions)


def test_windowed_results_do_not_depend_on_the_order_of_history_rows() -> None:
    # given
    data = case("window_ytd_tier_crossed_mid_year")
    plans = plans_from_mapping(data)
    turned = copy.deepcopy(data)
    for key in ("periods", "credits", "payouts"):
        turned["inputs"]["history"][key].reverse()
    # when
    one = compute(inputs_from_mapping(data["inputs"], plans))
    two = compute(inputs_from_mapping(turned["inputs"], plans), fast=False)
    # then
    assert one.result_hash == two.result_hash
    assert one.lines == two.lines
    assert sorted(one.contributions["credit_id"]) == ["a1", "f1", "j1", "m1"]


# --------------------------------------------------------------------------- the year sums up

money = st.decimals(min_value=-5000, max_value=60000, places=2, allow_nan=False)


def _year_plan(kind: str, frequency: str, tiers: list[int], to_date: bool) -> dict[str, Any]:
    window = {"window": "year_to_date"} if to_date else {}
    settle = {"settle": "year_to_date"} if to_date else {}
    if kind == "tiers":
        starts = [0, *tiers]
        component: dict[str, Any] = {
            "id": "pay",
            "type": "commission",
            "measure": "bookings",
            "rate_table": {
                "convention": "marginal",
                "tiers": [
                    {"from": s, **({"to": e} if e is not None else {}), "rate": r}
                    for s, e, r in zip(
                        starts, [*tiers, None], ["0.03", "0.05", "0.08", "0.11"], strict=False
                    )
                ],
            },
        }
    else:
        component = {
            "id": "pay",
            "type": "attainment_bonus",
            "measure": "bookings",
            "curve": {
                "points": [
                    {"attainment": "0.5", "payout": "0.25"},
                    {"attainment": 1, "payout": 1},
                    {"attainment": "1.5", "payout": 2},
                ]
            },
        }
    return {
        "version": 1,
        "id": "ae",
        "currency": "USD",
        "payout_frequency": frequency if to_date else "annual",
        "proration": {"policy": "none"},
        "measures": [{"id": "bookings", "aggregate": "sum", **window}],
        "components": [{**component, **settle}],
    }


@settings(max_examples=25, deadline=None)
@given(
    kind=st.sampled_from(["tiers", "bonus"]),
    frequency=st.sampled_from(["monthly", "quarterly"]),
    fiscal_start=st.integers(1, 12),
    mode=st.sampled_from(ROUNDING_MODES),
    currency=st.sampled_from(["USD", "JPY", "BHD"]),
    tiers=st.lists(
        st.integers(1, 400).map(lambda k: k * 1000), min_size=1, max_size=3, unique=True
    ).map(sorted),
    sales=st.lists(st.tuples(st.integers(0, 11), st.integers(1, 28), money), max_size=30),
    quota=st.integers(1, 500).map(lambda k: k * 1000),
    target=st.decimals(min_value=1, max_value=50000, places=2, allow_nan=False),
)
def test_a_years_year_to_date_settlements_sum_to_the_annual_earned_figure(
    kind: str,
    frequency: str,
    fiscal_start: int,
    mode: str,
    currency: str,
    tiers: list[int],
    sales: list[tuple[int, int, Decimal]],
    quota: int,
    target: Decimal,
) -> None:
    # given: one fiscal year of credits, and the periods of the plan's payout frequency
    year_start = dt.date(2025, fiscal_start, 1)
    size = 1 if frequency == "monthly" else 3
    periods = [
        Period(
            f"P{k + 1}", add_months(year_start, k * size), add_months(year_start, (k + 1) * size)
        )
        for k in range(12 // size)
    ]
    credits = [
        {
            "id": f"c{i}",
            "person": "ann",
            "date": add_months(year_start, month).replace(day=day),
            "amount": str(amount),
        }
        for i, (month, day, amount) in enumerate(sales)
    ]
    rounding = {"mode": mode, "currency": currency}

    def inputs(p: Period, plans: Any, **more: Any) -> Any:
        return inputs_from_mapping(
            {
                "period": {"id": p.id, "start": p.start, "end": p.end},
                "fiscal_year_start_month": fiscal_start,
                "people": [{"person": "ann", "target_incentive": str(target)}],
                "quotas": [{"holder": "ann", "quota": "bookings", "amount": quota}],
                "credits": [c for c in credits if p.start <= c["date"] < p.end],
                **more,
            },
            plans,
        )

    monthly = plans_from_mapping(
        {"plan": {**_year_plan(kind, frequency, tiers, True), "rounding": rounding}}
    )
    annual = plans_from_mapping(
        {"plan": {**_year_plan(kind, frequency, tiers, False), "rounding": rounding}}
    )
    # when: each period pays earned to date minus what the earlier ones paid
    paid: list[dict[str, Any]] = []
    total = Decimal(0)
    for k, p in enumerate(periods):
        history = {
            "periods": [{"id": e.id, "start": e.start, "end": e.end} for e in periods[:k]],
            "credits": [c for c in credits if c["date"] < p.start],
            "payouts": paid,
        }
        result = compute(inputs(p, monthly, history=history))
        (line,) = [ln for ln in result.lines if ln.kind == "earned"]
        paid = [
            *paid,
            {"person": "ann", "component": "pay", "period": p.id, "amount": str(line.amount)},
        ]
        total += line.amount
    whole_year = Period("FY", year_start, add_months(year_start, 12))
    (year_line,) = compute(inputs(whole_year, annual)).lines
    # then
    assert total == year_line.amount
    assert str(total) == str(year_line.amount)  # the currency's decimals too


def test_a_forecast_paces_only_this_periods_part_of_a_window() -> None:
    # given: March on the year to date (January + February 50,000 are over), 15 days elapsed
    data = case("window_ytd_annual_quota_paid_monthly")
    inputs = inputs_from_mapping(data["inputs"], plans_from_mapping(data))
    as_of = dt.date(2025, 3, 16)
    pace = run_rate(inputs, as_of)
    # when
    result = forecast(inputs, as_of)
    # then: 50,000 + 40,000 x 31/15, not 90,000 x 31/15
    (value,) = result.measures["value"].tolist()
    assert pace == div(Decimal(31), Decimal(15))
    assert value == Decimal(50000) + mul(Decimal(40000), pace)


def test_another_persons_and_a_nodes_windows_count_their_earlier_periods() -> None:
    # given: the team milestone case; its plan reads node west's year to date
    data = case("window_ytd_team_milestone_pool")
    plans = plans_from_mapping(data)
    inputs = inputs_from_mapping(data["inputs"], plans)
    # when
    (need,) = history_needed(plans, inputs.period)
    # then: the timeline is needed too (who sat in west on each credit's date)
    assert need.tables == ("history_credits", "history_payouts", "timeline")
    # and a gate on another person's year to date reads their earlier credits
    gated = copy.deepcopy(data)
    gated["plan"]["measures"].append({"id": "sold", "aggregate": "sum"})
    gated["plan"]["components"] = [
        {
            "id": "c",
            "type": "commission",
            "measure": "sold",
            "rate": "0.1",
            "gate": {"measure": "bookings", "scope": "person", "holder": "bob", "min_value": 90000},
        }
    ]  # bob: 50,000 in Q1 + 40,000 in Q2 = 90,000, exactly the minimum
    gated_inputs = inputs_from_mapping(gated["inputs"], plans_from_mapping(gated))
    result = compute(gated_inputs)
    lines = {ln.person_id: ln.amount for ln in result.lines}
    assert lines == {"ann": Decimal("5000.00"), "bob": Decimal("4000.00")}
    assert "person bob's bookings counts the year to date" in result.trace("ann", "c").text
    # and a run in person chunks sums each holder's history once
    chunked = run_in_chunks(gated_inputs, [["ann"], ["bob"]])
    assert chunked.result_hash == result.result_hash
