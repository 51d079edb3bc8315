"""Every incentive write that can move pay records its (person or node, period) keys in the
change feed, in its own transaction: credits by person and month (from imports, set-based on
the bulk path, and from recalculations), KPI values over their period, FX rates tenant-wide
over the days they are in force."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction

from core.changes import month_of
from core.models import Change
from hierarchy.models import Period
from incentives import bulk_ingest, services
from incentives.models import (
    Credit,
    CreditRollup,
    FxRate,
    IngestStatus,
    KpiValue,
    Transaction,
)
from tests.changes import feed_mark, feed_since
from tests.incentives.conftest import tx_row

D = dt.date
FEB = month_of(D(2026, 2, 1))
MAR = month_of(D(2026, 3, 1))


def _credited(credits) -> set[tuple]:
    return {("credit", c.person_id, None, *month_of(c.credit_date)) for c in credits}


def _rows(rows, *, kind="transactions", mode="all_or_nothing"):
    return services.ingest_rows(
        request=services.IngestRequest(kind=kind, source_format="json", mode=mode),
        rows=rows,
        created_by_id=None,
    )


def test_an_import_records_each_credited_person_and_month_once(in_org, monkeypatch):
    # given an import spread over several chunks (so keys repeat across them)
    monkeypatch.setattr(bulk_ingest, "CHUNK_ROWS", 2)
    people = in_org.people
    mark = feed_mark()
    # when
    batch = _rows(
        [
            tx_row("D-1"),
            tx_row("D-2", booked_on="2026-02-20"),
            tx_row("D-3", booked_on="2026-03-05"),
            tx_row("D-4", booked_on="2026-03-06", owner_employee_id="E2"),
            tx_row("D-5", booked_on="2026-03-09"),
        ]
    )
    # then the feed holds exactly the people and months credited, each once
    assert batch.status == IngestStatus.COMMITTED
    credited = _credited(Credit.objects.all()) | _credited(CreditRollup.objects.all())
    assert ("credit", people["E1"].pk, None, *FEB) in credited  # the owner
    assert ("credit", people["M1"].pk, None, *MAR) in credited  # a roll-up manager (a total)
    assert feed_since(mark) == credited
    assert Change.objects.filter(id__gt=mark).count() == len(credited)


def test_a_new_owner_records_the_person_who_lost_the_credit_too(in_org):
    _rows([tx_row("D-1")])
    mark = feed_mark()
    _rows([tx_row("D-1", owner_employee_id="E2")])
    keys = feed_since(mark)
    people = in_org.people
    assert ("credit", people["E1"].pk, None, *FEB) in keys
    assert ("credit", people["E2"].pk, None, *FEB) in keys


def test_an_unchanged_reimport_records_nothing(in_org):
    _rows([tx_row("D-1"), tx_row("D-2")])
    mark = feed_mark()
    again = _rows([tx_row("D-1"), tx_row("D-2")])
    assert again.counts["unchanged"] == 2
    assert feed_since(mark) == set()


def test_a_refused_or_rolled_back_import_records_nothing(in_org):
    mark = feed_mark()
    # an all-or-nothing import with a bad row commits nothing, keys included
    failed = _rows([tx_row("D-1"), tx_row("D-2", currency="XYZ")])
    assert failed.status == IngestStatus.FAILED
    # a good import inside a transaction that rolls back leaves no key behind either
    with transaction.atomic():
        assert _rows([tx_row("D-3")]).status == IngestStatus.COMMITTED
        assert feed_since(mark)
        transaction.set_rollback(True)
    assert not Transaction.objects.exists()
    assert feed_since(mark) == set()


def test_recalculating_after_a_rule_change_records_whose_credits_moved(in_org):
    _rows([tx_row("D-1")])
    credits = Credit.objects.filter(superseded_at__isnull=True)
    totals = CreditRollup.objects.filter(superseded_at__isnull=True)
    before = _credited(credits) | _credited(totals)
    assert len(totals) == 2  # the managers' roll-ups
    services.crediting_rule_update(rule_id=in_org.rules["direct"].pk, is_active=False)
    mark = feed_mark()
    summary = services.credits_recalculate()
    assert summary.superseded == len(credits)
    assert not CreditRollup.objects.filter(superseded_at__isnull=True).exists()
    assert feed_since(mark) == before  # the owner and the managers above, for February


def test_kpi_values_record_their_subject_over_their_period(in_org):
    q1 = Period.objects.get(label="FY2026 Q1")
    people, team = in_org.people, in_org.nodes["team"]
    rows = [
        {"metric": "nrr", "subject_type": "person", "subject": "E1", "period": q1.label},
        {"metric": "nrr", "subject_type": "node", "subject": "team-a", "period": q1.label},
        {"metric": "csat", "subject_type": "account", "subject": "Initech", "period": q1.label},
    ]
    mark = feed_mark()
    batch = _rows([dict(r, value="1.1") for r in rows], kind="kpi_values")
    assert batch.status == IngestStatus.COMMITTED
    span = (q1.start, q1.end)
    assert feed_since(mark) == {
        ("kpi_value", people["E1"].pk, None, *span),
        ("kpi_value", None, team.pk, *span),
        ("kpi_value", None, None, *span),  # an account's KPI: the whole tenant
    }
    # a sign-off is a write too
    mark = feed_mark()
    kpi = KpiValue.objects.get(metric="nrr", person=people["E1"])
    services.kpi_value_sign_off(kpi_value_id=kpi.pk, user_id=None)
    assert feed_since(mark) == {("kpi_value", people["E1"].pk, None, *span)}


def _fx(currency: str, quote: str, day: dt.date, rate: str) -> set[tuple]:
    mark = feed_mark()
    services.fx_rate_set(currency=currency, quote_currency=quote, valid_on=day, rate=Decimal(rate))
    return feed_since(mark)


def test_an_fx_rate_touches_the_tenant_until_the_next_rate_of_the_pair(in_org):
    assert _fx("USD", "EUR", D(2026, 1, 1), "0.9") == {("fx_rate", None, None, D(2026, 1, 1), None)}
    # the inverse pair counts: rate_on reads both directions
    assert _fx("EUR", "USD", D(2026, 3, 1), "1.2") == {("fx_rate", None, None, D(2026, 3, 1), None)}
    assert _fx("USD", "EUR", D(2026, 2, 1), "0.8") == {
        ("fx_rate", None, None, D(2026, 2, 1), D(2026, 3, 1))
    }
    # correcting a day's rate touches that day until the next rate
    assert _fx("USD", "EUR", D(2026, 1, 1), "0.95") == {
        ("fx_rate", None, None, D(2026, 1, 1), D(2026, 2, 1))
    }


def test_an_fx_rate_and_its_key_roll_back_together(in_org):
    mark = feed_mark()
    with transaction.atomic():
        _fx("USD", "EUR", D(2026, 1, 1), "0.9")
        transaction.set_rollback(True)
    assert not FxRate.objects.exists()
    assert feed_since(mark) == set()
