"""FX rates and crediting rules as files, through the import kernel."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from core.models import Change
from incentives import services
from incentives.models import CreditingRule, FxRate, IngestError, IngestStatus


def _upload(kind: str, text: str, **kwargs):
    return services.ingest_start(
        request=services.IngestRequest(kind=kind, source_format="csv", filename="r.csv", **kwargs),
        data=text.encode(),
        created_by_id=None,
    )


def _errors(batch):
    return [(e.line, e.column, e.code) for e in IngestError.objects.filter(batch=batch)]


FX = (
    "currency,quote_currency,valid_on,rate\n"
    "EUR,USD,2026-01-01,1.08500000\n"
    "GBP,USD,2026-01-01,1.27\n"
)


def test_an_fx_file_sets_rates_records_changes_and_a_reimport_changes_nothing(in_org):
    batch = _upload("fx_rates", FX)
    assert batch.status == IngestStatus.COMMITTED, _errors(batch)
    assert batch.counts["created"] == 2
    eur = FxRate.objects.get(currency="EUR")
    assert (eur.quote_currency, eur.valid_on, eur.rate) == (
        "USD",
        dt.date(2026, 1, 1),
        Decimal("1.085"),
    )
    assert Change.objects.filter(kind="fx_rate").count() == 2
    again = _upload("fx_rates", FX)
    assert (again.counts["unchanged"], again.counts["created"]) == (2, 0)
    corrected = _upload("fx_rates", FX.replace("1.27", "1.26"))
    assert corrected.counts["new_version"] == 1
    assert FxRate.objects.get(currency="GBP").rate == Decimal("1.26")


def test_bad_fx_rows_are_reported_and_all_or_nothing_writes_none(in_org):
    text = (
        "currency,quote_currency,valid_on,rate\n"
        "EUR,EUR,2026-01-01,1\n"
        "XYZ,USD,2026-01-01,1\n"
        "EUR,USD,2026-13-01,1\n"
        "EUR,USD,2026-01-02,0\n"
        "EUR,USD,2026-01-03,1.123456789\n"
        "EUR,USD,2026-01-04,-1\n"
        "EUR,USD,2026-01-05,1.1\n"
    )
    batch = _upload("fx_rates", text)
    assert (batch.status, batch.reason) == (IngestStatus.FAILED, "row_errors")
    assert _errors(batch) == [
        (2, "quote_currency", "same_currency"),
        (3, "currency", "unknown_currency"),
        (4, "valid_on", "bad_date"),
        (5, "rate", "not_positive"),
        (6, "rate", "too_many_decimals"),
        (7, "rate", "negative_amount"),
    ]
    assert not FxRate.objects.exists()
    partial = _upload("fx_rates", text, mode="partial")
    assert partial.status == IngestStatus.COMMITTED_WITH_ERRORS
    assert list(FxRate.objects.values_list("valid_on", flat=True)) == [dt.date(2026, 1, 5)]


def test_a_crediting_rule_file_creates_and_versions_rules(in_org):
    text = (
        "name,kind,priority,valid_from,valid_to,transaction_kinds,config\n"
        'Regional,territory,40,2026-01-01,,new_business;expansion,"{""attribute"": ""region"", '
        '""map"": {""EMEA"": {""employee_id"": ""E1""}}}"\n'
        "Broken,rollup,50,2026-01-01,,,{}\n"
        "Odd,direct,60,2026-01-01,,,[1]\n"
    )
    batch = _upload("crediting_rules", text, mode="partial")
    assert batch.status == IngestStatus.COMMITTED_WITH_ERRORS
    assert _errors(batch) == [(3, "config", "bad_rule"), (4, "config", "bad_format")]
    rule = CreditingRule.objects.get(name="Regional")
    assert (rule.kind, rule.priority, rule.transaction_kinds) == (
        "territory",
        40,
        ["new_business", "expansion"],
    )
    moved = _upload("crediting_rules", text.replace(",40,", ",45,"), mode="partial")
    assert moved.counts["new_version"] == 1
    rule.refresh_from_db()
    assert (rule.priority, rule.version) == (45, 2)
