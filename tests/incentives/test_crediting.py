"""Crediting rules as data: attribution, territories, conflicts, roll-ups never double-count."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incentives import services
from incentives.crediting import credits_recompute
from incentives.models import Credit, CreditRollup
from tests.incentives.conftest import tx_row

START = dt.date(2024, 1, 1)


def _rows(rows):
    return services.ingest_rows(
        request=services.IngestRequest(kind="transactions", source_format="json"),
        rows=rows,
        created_by_id=None,
    )


def test_w_shaped_attribution_shares_one_deal_across_functions(in_org):
    services.crediting_rule_create(
        name="Pipeline W",
        kind="attribution",
        priority=30,
        valid_from=START,
        config={"model": "w_shaped"},
    )
    batch = _rows(
        [
            tx_row(
                "D-1",
                "1000.00",
                touches=(
                    "K1:marketing:2026-01-02;S1:sdr:2026-01-05;E2:ae:2026-01-20;E3:csm:2026-02-01"
                ),
            )
        ]
    )
    assert batch.status == "committed", batch.message
    shares = {
        c.person.employee_id: (c.share_pct, c.amount)
        for c in Credit.objects.filter(kind="attribution")
    }
    # W-shaped on 4 touches: 30 % first, 30 % middle key touch (index 1), 30 % last, 10 % rest
    assert shares == {
        "K1": (Decimal(30), Decimal("300.0000")),
        "S1": (Decimal(30), Decimal("300.0000")),
        "E2": (Decimal(10), Decimal("100.0000")),
        "E3": (Decimal(30), Decimal("300.0000")),
    }


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    model=st.sampled_from(["first_touch", "last_touch", "linear", "u_shaped", "w_shaped"]),
    n=st.integers(min_value=1, max_value=6),
    cents=st.integers(min_value=1, max_value=10_000_000),
)
def test_attribution_shares_sum_to_exactly_100_percent(in_org, model, n, cents):
    Credit.objects.all().delete()
    services.crediting_rule_create(
        name=f"A {model} {n} {cents}",
        kind="attribution",
        priority=30,
        valid_from=START,
        config={"model": model},
    )
    people = ["K1", "S1", "E1", "E2", "E3", "M2"][:n]
    touches = ";".join(f"{p}:t:2026-01-{i + 1:02d}" for i, p in enumerate(people))
    amount = Decimal(cents) / 100
    _rows([tx_row(f"P-{model}-{n}-{cents}", str(amount), touches=touches)])
    credits = Credit.objects.filter(
        kind="attribution",
        superseded_at__isnull=True,
        transaction__external_id=f"P-{model}-{n}-{cents}",
    )
    assert sum(c.share_ppm for c in credits) == 1_000_000
    assert sum(c.amount for c in credits) == amount


def test_roll_ups_never_double_count_in_a_team_total(in_org):
    _rows(
        [
            tx_row("D-1", "100.00", splits="E1:50;E2:50"),
            tx_row("D-2", "40.00", owner_employee_id="E3"),
        ]
    )
    direct = Credit.objects.filter(kind__in=["direct", "split"], superseded_at__isnull=True)
    team_total = sum(c.amount for c in direct)
    assert team_total == Decimal("140.00")  # E1 + E2 + E3: each deal once
    # the manager's roll-up is a total beside the credits (indirect), never one of them
    rollups = CreditRollup.objects.known_now().filter(person__employee_id="M2")
    assert sum(r.amount for r in rollups) == Decimal("140.00")
    assert sum(r.credit_count for r in rollups) == 3  # E1's and E2's split, E3's deal
    assert not Credit.objects.filter(kind="rollup").exists()
    all_current = Credit.objects.filter(superseded_at__isnull=True)
    assert sum(c.amount for c in all_current) == team_total


def test_a_territory_rule_credits_the_mapped_person(in_org):
    services.crediting_rule_create(
        name="EMEA desk",
        kind="territory",
        priority=5,
        valid_from=START,
        transaction_kinds=["renewal"],
        config={"attribute": "region", "map": {"EMEA": {"employee_id": "E3"}}},
    )
    _rows([tx_row("R-1", "70.00", kind="renewal", region="EMEA", owner_employee_id="E1")])
    direct = {(c.person.employee_id, c.rule.name) for c in Credit.objects.filter(kind="direct")}
    assert direct == {("E3", "EMEA desk")}


def test_two_rules_claiming_one_deal_are_reported_as_a_conflict(in_org):
    services.crediting_rule_create(name="Also owner", kind="direct", priority=25, valid_from=START)
    _rows([tx_row("D-1", "10.00")])
    summary = credits_recompute()
    assert [(c.claimed_by, c.also_matched) for c in summary.conflicts] == [("Owner", "Also owner")]
    assert Credit.objects.filter(kind="direct", superseded_at__isnull=True).count() == 1


def test_recomputing_changes_nothing_when_nothing_changed(in_org):
    _rows([tx_row("D-1", "10.00"), tx_row("D-2", "20.00", splits="E1:30;E3:70")])
    before = sorted(
        Credit.objects.filter(superseded_at__isnull=True).values_list(
            "person__employee_id", "kind", "amount"
        )
    )
    credits_recompute()
    after = sorted(
        Credit.objects.filter(superseded_at__isnull=True).values_list(
            "person__employee_id", "kind", "amount"
        )
    )
    assert before == after


@pytest.mark.parametrize(
    ("share", "code"),
    [
        ("60;E2:50", "over_credited"),
        ("NaN", "bad_number"),
        ("Infinity", "bad_number"),
        ("abc", "bad_number"),
        ("120", "bad_share"),
    ],
)
def test_bad_splits_are_a_row_error(in_org, share, code):
    batch = _rows([tx_row("D-1", splits=f"E1:{share}")])
    assert batch.status == "failed"
    assert code in {e.code for e in batch.errors.all()}


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    deals=st.lists(
        st.tuples(
            st.sampled_from(["E1", "E2", "E3"]),
            st.integers(min_value=1, max_value=10**9),
            st.one_of(
                st.none(),
                st.tuples(
                    st.sampled_from(["E1", "E2", "E3"]), st.integers(min_value=0, max_value=100)
                ),
            ),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_roll_up_credit_never_double_counts_in_a_team_total(in_org, deals):
    CreditRollup.objects.all().delete()
    Credit.objects.all().delete()
    from incentives.models import Transaction

    Transaction.objects.all().delete()
    rows = []
    for i, (owner, cents, split) in enumerate(deals):
        extra = {}
        if split is not None and split[0] != owner:
            extra["splits"] = f"{owner}:{100 - split[1]};{split[0]}:{split[1]}"
        rows.append(tx_row(f"R-{i}", str(Decimal(cents) / 100), owner_employee_id=owner, **extra))
    batch = _rows(rows)
    assert batch.status == "committed", batch.message
    current = Credit.objects.filter(superseded_at__isnull=True)
    team = sum(c.amount for c in current if c.kind in ("direct", "split"))
    booked = sum(Decimal(cents) / 100 for _, cents, _ in deals)
    # the team's total counts every deal exactly once, roll-ups excluded
    assert team == booked
    # each manager's indirect credit equals the team's total, once, never more
    totals = CreditRollup.objects.known_now().select_related("person")
    for manager in ("M2", "M1"):
        mine = [t for t in totals if t.person.employee_id == manager]
        assert sum(t.amount for t in mine) == booked
        assert sum(t.credit_count for t in mine) == len(current)
    assert not any(t.person.employee_id in {"E1", "E2", "E3"} for t in totals)


def test_split_shares_with_more_than_4_decimals_are_refused(in_org):
    batch = _rows([tx_row("D-1", splits="E1:33.33333;E2:66.66667")])
    assert batch.status == "failed"
    assert {e.code for e in batch.errors.all()} == {"bad_share"}
