"""Roll-ups stored as totals, crediting transforms stored on credits, and what the explorer
shows of both (issue #10: "roll up totals, not credits"; crediting transforms).

The cast (tests/incentives/conftest.py): Erin (E1), Eli (E2) and Eva (E3) sit in Team A under
Mark Lead (M2), inside Sales under Maria Vice (M1); rules "Splits", "Owner", "Managers".
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection

from core.tenancy import tenant_scope
from hierarchy.models import Period
from incentives import services
from incentives.crediting import credits_recompute
from incentives.models import Credit, CreditRollup, IngestStatus
from tests.incentives.conftest import close_period, tx_row


def _rows(rows):
    return services.ingest_rows(
        request=services.IngestRequest(kind="transactions", source_format="json"),
        rows=rows,
        created_by_id=None,
    )


def _totals():
    return sorted(
        (t.person.employee_id, t.credit_date, t.region, t.amount, t.credit_count)
        for t in CreditRollup.objects.known_now().select_related("person")
    )


def test_roll_ups_are_one_total_per_manager_day_and_region_and_count_their_credits(in_org):
    # given three deals on one day (two in EMEA, one split) and one on another day
    batch = _rows(
        [
            tx_row("D-1", "100.00", region="EMEA"),
            tx_row("D-2", "50.00", region="EMEA", splits="E2:60;E3:40"),
            tx_row("D-3", "7.00", region="APAC", owner_employee_id="E3"),
            tx_row("D-4", "1.00", region="EMEA", booked_on="2026-02-11"),
        ]
    )
    assert batch.status == IngestStatus.COMMITTED
    # then each manager holds one total per (day, region): 100 + 30 + 20 in EMEA on the 10th
    # from 3 credits, 7 in APAC, 1 on the 11th - and no copy of any credit
    days = (dt.date(2026, 2, 10), dt.date(2026, 2, 11))
    expected = []
    for manager in ("M1", "M2"):
        expected += [
            (manager, days[0], "APAC", Decimal("7.0000"), 1),
            (manager, days[0], "EMEA", Decimal("150.0000"), 3),
            (manager, days[1], "EMEA", Decimal("1.0000"), 1),
        ]
    assert _totals() == sorted(expected)
    assert not Credit.objects.filter(kind="rollup").exists()


def test_recomputing_replaces_the_open_months_totals_and_keeps_closed_ones(in_org):
    # given February's and March's deals, rolled up, then February closed
    _rows([tx_row("D-1", "100.00"), tx_row("D-2", "40.00", booked_on="2026-03-04")])
    feb = Period.objects.filter(kind="monthly", start=dt.date(2026, 2, 1)).get()
    close_period(feb.label, lock=dt.date(2027, 1, 1))
    february = list(CreditRollup.objects.filter(period=feb).values_list("pk", "amount"))
    assert len(february) == 2  # Mark and Maria
    # when both deals grow and credits are recomputed
    _rows([tx_row("D-1", "130.00"), tx_row("D-2", "45.00", booked_on="2026-03-04")])
    credits_recompute()
    # then February's totals are untouched; March's are replaced by the new figure; the
    # February correction of Erin's credit (dated in the open period) rolls up there
    assert list(CreditRollup.objects.filter(period=feb).values_list("pk", "amount")) == february
    mark = CreditRollup.objects.known_now().filter(person__employee_id="M2")
    march = {t.credit_date: (t.amount, t.credit_count) for t in mark if t.period_id != feb.pk}
    correction = Credit.objects.known_now().get(is_correction=True)
    assert correction.amount == Decimal("30.0000")
    assert march[dt.date(2026, 3, 4)] == (Decimal("45.0000"), 1)
    assert march[correction.credit_date] == (Decimal("30.0000"), 1)
    assert len(march) == 2  # the old March total (40) is superseded, not current
    superseded = CreditRollup.objects.filter(superseded_at__isnull=False, person=mark[0].person)
    assert Decimal("40.0000") in {t.amount for t in superseded}


def test_a_transformed_rule_stores_its_multiplier_and_baseline_and_the_explorer_says_it(
    org, client_alice
):
    # given an owner rule crediting only what lies above Initech's run rate, 1.25 x on Platform
    with tenant_scope(org.tenant):
        services.crediting_rule_update(
            rule_id=org.rules["direct"].pk,
            config={
                "baseline": {"amounts": {"Initech": "1000.00"}},
                "multipliers": [{"factor": "1.25", "attributes": {"product": ["Platform"]}}],
            },
        )
        batch = _rows(
            [
                tx_row("D-1", "1800.00", product="Platform"),  # (1800 - 1000) x 1.25 = 1000
                tx_row("D-2", "1000.00", product="Platform"),  # on the baseline: nothing
                tx_row("D-3", "300.00", account="Globex"),  # no baseline, no multiplier
            ]
        )
        assert batch.status == IngestStatus.COMMITTED
        credits = {
            c.transaction.external_id: (c.amount, c.multiplier, c.baseline)
            for c in Credit.objects.known_now().select_related("transaction")
        }
        d1 = Credit.objects.get(transaction__external_id="D-1").transaction_id
    # then each credit carries what made it, and the deal on its baseline has none
    assert credits == {
        "D-1": (Decimal("1000.0000"), Decimal("1.250000"), Decimal("1000.0000")),
        "D-3": (Decimal("300.0000"), Decimal("1.000000"), None),
    }
    page = client_alice.get(f"/data/transactions/{d1}/").content.decode()
    assert "above a baseline of 1,000.00" in page and "\u00d7 1.25" in page
    detail = client_alice.get(f"/api/v1/transactions/{d1}/").json()
    assert [(c["multiplier"], c["baseline"]) for c in detail["credits"]] == [
        ("1.250000", "1000.0000")
    ]
    # and the managers' roll-ups total the transformed credits, one total per product
    with tenant_scope(org.tenant):
        totals = {
            (t.person.employee_id, t.product, t.amount, t.credit_count)
            for t in CreditRollup.objects.known_now().select_related("person")
        }
    assert totals == {
        (manager, product, amount, 1)
        for manager in ("M1", "M2")
        for product, amount in (("Platform", Decimal("1000.0000")), ("", Decimal("300.0000")))
    }


def test_a_bad_transform_is_refused_naming_its_path(in_org):
    with pytest.raises(Exception) as caught:
        services.crediting_rule_create(
            name="Odd",
            kind="direct",
            priority=5,
            valid_from=dt.date(2026, 1, 1),
            config={"multipliers": [{"factor": "1.25"}, {"factor": "x", "label": "renewal"}]},
        )
    assert caught.value.code == "bad_rule_config"
    assert caught.value.message.startswith("config.multipliers[1].factor: a factor must be")
    assert caught.value.details == {"path": "config.multipliers[1].factor"}


@pytest.mark.needs_pg
def test_row_level_security_hides_other_tenants_roll_up_totals(org, tenant_b):
    with tenant_scope(org.tenant):
        _rows([tx_row("D-1", "100.00")])
    with tenant_scope(org.tenant), connection.cursor() as cursor:
        cursor.execute("SELECT count(*), sum(credit_count) FROM incentives_creditrollup")
        assert cursor.fetchone() == (2, 2)
    with tenant_scope(tenant_b), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM incentives_creditrollup")
        assert cursor.fetchone() == (0,)
