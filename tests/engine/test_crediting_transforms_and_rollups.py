"""engine.crediting: roll-up totals equal the per-credit roll-up, transforms round exactly,
rule configs are refused with their path, and arbitration claims each deal once."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_EVEN, Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.crediting import (
    CreditingError,
    RuleData,
    RuleSpec,
    credit_transactions,
    rollup_pairs,
    rollup_totals,
    validate_rule_config,
)
from engine.money import scale_e4

NODES = pd.DataFrame(
    {
        "node_id": ["org", "east", "west", "east1"],
        "parent_id": [None, "org", "org", "east"],
        "manager_id": ["ceo", "em", "wm", "em"],  # em manages two levels
    }
)
PEOPLE = ["a", "b", "c", "d", "em"]
MEMBERS = pd.DataFrame(
    {"person_id": ["a", "b", "c", "d", "em"], "node_id": ["east1", "east1", "west", "org", "east"]}
)


def _per_credit_reference(credits: pd.DataFrame) -> dict[tuple[str, str, str], tuple[int, int]]:
    """The roll-up as it used to be: each credit copied to every manager above its person."""
    pairs = rollup_pairs(MEMBERS, NODES)
    out: dict[tuple[str, str, str], tuple[int, int]] = {}
    for row in credits.itertuples(index=False):
        for manager in pairs[pairs["person_id"] == row.person_id]["manager_id"]:
            key = (manager, str(row.date), row.region)
            total, n = out.get(key, (0, 0))
            out[key] = (total + row.amount_e4, n + 1)
    return out


credit_rows = st.lists(
    st.tuples(
        st.sampled_from(PEOPLE),
        st.integers(1, 3),
        st.sampled_from(["EMEA", "APAC"]),
        st.integers(-(10**9), 10**12),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(credit_rows, st.randoms())
def test_roll_up_totals_equal_the_per_credit_roll_up_in_any_row_order(rows, rnd) -> None:
    # given credits in some order
    credits = pd.DataFrame(
        [
            {
                "credit_id": f"c{i}",
                "transaction_id": f"t{i}",
                "person_id": person,
                "date": dt.date(2025, 1, day),
                "amount_e4": amount,
                "transaction_type": "sale",
                "kind": "direct",
                "rule_id": "direct",
                "share_ppm": 1_000_000,
                "region": region,
            }
            for i, (person, day, region, amount) in enumerate(rows)
        ]
    )
    shuffled = credits.sample(frac=1, random_state=rnd.randint(0, 2**31))
    pairs = rollup_pairs(MEMBERS, NODES)
    # when rolled up as totals
    totals = rollup_totals(credits, pairs)
    again = rollup_totals(shuffled, pairs)
    # then every (manager, day, region) total and count is the per-credit one, whatever the order
    got = {
        (r.person_id, str(r.date), r.region): (int(r.amount_e4), int(r.credits_n))
        for r in totals.itertuples(index=False)
    }
    assert got == _per_credit_reference(credits)
    assert totals.reset_index(drop=True).equals(again.reset_index(drop=True))
    # a manager never rolls up their own credits, and one of two levels counts each once
    assert "em" not in {p for p, *_ in _per_credit_reference(credits[credits.person_id == "em"])}


def test_totals_summed_per_person_already_keep_their_credit_counts() -> None:
    # given one person's credits already summed (as the database hands them over)
    summed = pd.DataFrame(
        {
            "credit_id": ["x"],
            "transaction_id": ["x"],
            "person_id": ["a"],
            "date": [dt.date(2025, 1, 2)],
            "amount_e4": [70_000],
            "transaction_type": ["sale"],
            "kind": ["direct"],
            "rule_id": ["r"],
            "share_ppm": [0],
            "credits_n": [7],
        }
    )
    totals = rollup_totals(summed, rollup_pairs(MEMBERS, NODES), keep=())
    assert sorted(zip(totals.person_id, totals.credits_n, strict=True)) == [
        ("ceo", 7),
        ("em", 7),
    ]


@given(st.integers(-(10**15), 10**15), st.decimals(min_value=0, max_value=100, places=6))
def test_scale_e4_rounds_half_even_like_decimal(value, factor) -> None:
    exact = (Decimal(value) * factor).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
    assert int(scale_e4(np.array([value], dtype=np.int64), factor)[0]) == int(exact)


@pytest.mark.parametrize(
    ("kind", "config", "message"),
    [
        ("direct", {"multiplier": "-1"}, "config.multiplier: a factor must be zero or more"),
        ("direct", {"multiplier": "101"}, "config.multiplier: a factor above 100 is refused"),
        ("split", {"baseline": {"amounts": {}}}, "config.baseline.amounts: map each account"),
        (
            "direct",
            {"baseline": {"amounts": {"ACME": "1.00001"}}},
            "config.baseline.amounts.ACME: a baseline has more than 4 decimals",
        ),
        (
            "direct",
            {"multipliers": [{"factor": 2, "when": {}}]},
            "config.multipliers[0]: unknown key(s) ['when']",
        ),
        ("rollup", {"hierarchy": "r", "multiplier": 2}, "config: unknown key(s) for rollup"),
        ("direct", {"multiplier": 1, "multipliers": []}, "config: give either multiplier or"),
    ],
)
def test_a_bad_rule_config_is_refused_with_its_path(kind, config, message) -> None:
    with pytest.raises(CreditingError) as caught:
        validate_rule_config(kind, config)
    assert str(caught.value).startswith(message)


def test_a_later_rule_of_the_family_is_a_conflict_and_credits_nothing() -> None:
    tx = pd.DataFrame(
        {
            "transaction_id": ["t1", "t2"],
            "owner_id": ["a", "b"],
            "date": [dt.date(2025, 1, 3)] * 2,
            "amount_e4": [1_000_000, 500_000],
            "transaction_type": ["renewal", "new"],
        }
    )
    rules = [
        RuleSpec("renewals", "direct", transaction_kinds=("renewal",)),
        RuleSpec("owner", "direct"),
    ]
    credited = credit_transactions(tx, rules, {"renewals": RuleData(), "owner": RuleData()})
    assert sorted(zip(credited.credits.transaction_id, credited.credits.rule_id, strict=True)) == [
        ("t1", "renewals"),
        ("t2", "owner"),
    ]
    assert [(c.transaction_id, c.claimed_by, c.also_matched) for c in credited.conflicts] == [
        ("t1", "renewals", "owner")
    ]


def test_the_rule_config_schema_accepts_what_validation_accepts_and_is_in_docs() -> None:
    from pathlib import Path

    import jsonschema

    from engine.crediting import rule_config_json_schema, rule_config_schema_text

    validator = jsonschema.Draft202012Validator(rule_config_json_schema())
    good = {
        "baseline": {"attribute": "account", "amounts": {"ACME": "10000.00"}, "default": 0},
        "multipliers": [
            {"factor": "1.25", "attributes": {"product": ["Platform"]}},
            {"factor": "0.5", "transaction_types": ["renewal"]},
        ],
    }
    validate_rule_config("direct", good)
    assert validator.is_valid(good)
    for bad in ({"multiplier": "-1"}, {"baseline": {"amounts": {"A": "1.00001"}}}, {"x": 1}):
        assert not validator.is_valid(bad)
        with pytest.raises(CreditingError):
            validate_rule_config("direct", bad)
    path = Path(__file__).resolve().parents[2] / "docs" / "schema"
    assert (path / "crediting-rule-config.schema.json").read_text() == rule_config_schema_text()
