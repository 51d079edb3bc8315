"""Incentive-data API, each URL with its cross-tenant case."""

from __future__ import annotations

import json

import pytest
from django.test import override_settings

from core.tenancy import tenant_scope
from incentives.models import Credit, CreditingRule, IngestBatch, KpiValue, Transaction
from tests.incentives.conftest import tx_row
from tests.tenancy import (
    assert_cross_tenant_detail,
    assert_foreign_id_like_missing,
    assert_list_omits,
    assert_not_found,
)


def _post(client, url, body, **extra):
    return client.post(url, data=json.dumps(body), content_type="application/json", **extra)


@pytest.fixture
def imported(org, client_alice):
    response = _post(
        client_alice,
        "/api/v1/imports/transactions/rows/",
        {"rows": [tx_row("D-1", "500.00"), tx_row("D-2", "250.00", owner_employee_id="E2")]},
    )
    assert response.status_code == 201, response.content
    return response.json()


@pytest.mark.covers_url(
    "api-import-rows",
    "api-import-list",
    "api-import-detail",
    "api-import-errors",
    "api-import-errors-csv",
)
def test_json_import_reports_and_another_tenant_sees_none_of_it(org, client_alice, client_charlie):
    # given a file with one bad row
    response = _post(
        client_alice,
        "/api/v1/imports/transactions/rows/",
        {"rows": [tx_row("D-1"), tx_row("D-2", amount="ten")], "mode": "partial"},
    )
    # then
    assert response.status_code == 201
    batch = response.json()
    assert (batch["status"], batch["counts"]["created"], batch["error_count"]) == (
        "committed_with_errors",
        1,
        1,
    )
    errors = client_alice.get(f"/api/v1/imports/{batch['id']}/errors/").json()["results"]
    assert errors == [
        {
            "line": 2,
            "column": "amount",
            "code": "bad_number",
            "message": "Not a number.",
            "value": "ten",
        }
    ]
    report = client_alice.get(f"/api/v1/imports/{batch['id']}/errors.csv")
    assert report["Content-Type"] == "text/csv"
    assert b"2,amount,bad_number,Not a number.,ten" in report.content
    # another tenant
    assert_list_omits(client_charlie, "/api/v1/imports/", batch["id"])
    for suffix in ("", "errors/", "errors.csv"):
        assert_cross_tenant_detail(
            client_charlie, f"/api/v1/imports/{batch['id']}/{suffix}", methods=("get",)
        )


@pytest.mark.covers_url("api-import-csv")
def test_csv_upload_as_a_file_or_a_body_with_options_in_the_query(
    org, client_alice, client_charlie
):
    csv_text = (
        "external_id,kind,amount,currency,booked_on,owner_employee_id\n"
        "C-1,renewal,99.90,USD,2026-03-03,E3\n"
    )
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = client_alice.post(
        "/api/v1/imports/transactions/csv/?dry_run=true",
        {"file": SimpleUploadedFile("deals.csv", csv_text.encode(), "text/csv")},
    )
    assert upload.status_code == 201, upload.content
    assert upload.json()["status"] == "validated" and upload.json()["filename"] == "deals.csv"
    body = client_alice.post(
        "/api/v1/imports/transactions/csv/?filename=raw.csv", data=csv_text, content_type="text/csv"
    )
    assert body.status_code == 201, body.content
    assert body.json()["status"] == "committed"
    with tenant_scope(org.tenant):
        assert Transaction.objects.get().external_id == "C-1"
    # Charlie's upload lands in Globex, where E3 does not exist
    other = client_charlie.post(
        "/api/v1/imports/transactions/csv/", data=csv_text, content_type="text/csv"
    )
    assert other.json()["status"] == "failed"
    assert other.json()["error_count"] == 1
    assert_not_found(
        client_alice.post("/api/v1/imports/widgets/csv/", data=csv_text, content_type="text/csv")
    )


@override_settings(INGEST_MAX_BYTES=100)
def test_an_upload_over_the_size_cap_is_a_413(org, client_alice):
    response = client_alice.post(
        "/api/v1/imports/transactions/csv/", data="x" * 500, content_type="text/csv"
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    with tenant_scope(org.tenant):
        assert IngestBatch.objects.count() == 0


def test_an_import_replayed_with_its_idempotency_key_runs_once(org, client_alice):
    body = {"rows": [tx_row("D-1")]}
    first = _post(
        client_alice, "/api/v1/imports/transactions/rows/", body, HTTP_IDEMPOTENCY_KEY="import-1"
    )
    second = _post(
        client_alice, "/api/v1/imports/transactions/rows/", body, HTTP_IDEMPOTENCY_KEY="import-1"
    )
    assert first.json() == second.json()
    with tenant_scope(org.tenant):
        assert IngestBatch.objects.count() == 1


@pytest.mark.covers_url(
    "api-transaction-list", "api-transaction-detail", "api-credit-list", "api-credit-rollup-list"
)
def test_transactions_and_credits_explain_who_got_credit(
    imported, org, client_alice, client_charlie
):
    listed = client_alice.get("/api/v1/transactions/?owner=E1").json()["results"]
    assert [t["external_id"] for t in listed] == ["D-1"]
    tx_id = listed[0]["id"]
    detail = client_alice.get(f"/api/v1/transactions/{tx_id}/").json()
    credits = {(c["person_employee_id"], c["kind"], c["rule_name"]) for c in detail["credits"]}
    assert credits == {("E1", "direct", "Owner")}
    # the managers the deal reached are worked out when read: E1's team lead, then the head
    reached = {
        (r["manager_employee_id"], r["through_employee_id"], r["levels"], r["amount"])
        for r in detail["rollups_reached"]
    }
    assert reached == {("M2", "E1", 0, "500.0000"), ("M1", "E1", 1, "500.0000")}
    # roll-ups are stored as totals: M1's is both deals of the day, 500 + 250, two credits
    assert client_alice.get("/api/v1/credits/?person=M1").json()["results"] == []
    totals = client_alice.get("/api/v1/credit-rollups/?person=M1").json()["results"]
    assert [(t["amount"], t["credit_count"], t["rule_name"]) for t in totals] == [
        ("750.0000", 2, "Managers")
    ]
    assert_list_omits(client_charlie, "/api/v1/transactions/", tx_id)
    assert client_charlie.get("/api/v1/credits/").json()["results"] == []
    assert client_charlie.get("/api/v1/credit-rollups/").json()["results"] == []
    assert client_charlie.get("/api/v1/credit-rollups/?person=M1").json()["results"] == []
    assert_cross_tenant_detail(client_charlie, f"/api/v1/transactions/{tx_id}/", methods=("get",))


@pytest.mark.covers_url("api-credit-recalculate")
def test_recalculate_takes_ids_and_a_foreign_id_is_like_a_missing_one(
    imported, org, client_alice, client_charlie
):
    with tenant_scope(org.tenant):
        own = Transaction.objects.first()
    ok = _post(client_alice, "/api/v1/credits/recalculate/", {"transaction_ids": [own.pk]})
    assert ok.status_code == 200 and ok.json()["transactions"] == 1
    assert_foreign_id_like_missing(
        client_charlie,
        "/api/v1/credits/recalculate/",
        field="transaction_ids",
        foreign_id=[own.pk],
        missing_id=[own.pk + 10_000],
        body={},
    )


@pytest.mark.covers_url("api-rule-list", "api-rule-detail")
def test_crediting_rules_are_versioned_and_tenant_private(org, client_alice, client_charlie):
    created = _post(
        client_alice,
        "/api/v1/crediting-rules/",
        {
            "name": "Marketing W",
            "kind": "attribution",
            "priority": 50,
            "valid_from": "2026-01-01",
            "config": {"model": "w_shaped"},
        },
    )
    assert created.status_code == 201, created.content
    rule_id = created.json()["id"]
    changed = client_alice.patch(
        f"/api/v1/crediting-rules/{rule_id}/",
        data=json.dumps({"config": {"model": "linear"}}),
        content_type="application/json",
    )
    assert changed.json()["version"] == 2
    bad = _post(
        client_alice,
        "/api/v1/crediting-rules/",
        {
            "name": "Bad",
            "kind": "attribution",
            "valid_from": "2026-01-01",
            "config": {"model": "z_shaped"},
        },
    )
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_rule_config"
    assert_list_omits(client_charlie, "/api/v1/crediting-rules/", rule_id)
    assert_cross_tenant_detail(
        client_charlie,
        f"/api/v1/crediting-rules/{rule_id}/",
        update_body={"priority": 1},
        methods=("get", "patch"),
    )
    with tenant_scope(org.tenant):
        assert CreditingRule.objects.get(pk=rule_id).priority == 50


@pytest.mark.covers_url("api-fx-rate-list", "api-column-mappings")
def test_fx_rates_and_column_mappings(org, client_alice, client_charlie):
    made = _post(
        client_alice,
        "/api/v1/fx-rates/",
        {
            "currency": "EUR",
            "quote_currency": "USD",
            "valid_on": "2026-02-01",
            "rate": "1.08250000",
        },
    )
    assert made.status_code == 201, made.content
    assert (
        _post(
            client_alice,
            "/api/v1/fx-rates/",
            {"currency": "XXQ", "quote_currency": "USD", "valid_on": "2026-02-01", "rate": "1"},
        ).status_code
        == 400
    )
    assert_list_omits(client_charlie, "/api/v1/fx-rates/", made.json()["id"])
    mappings = client_alice.get("/api/v1/column-mappings/").json()
    assert {"salesforce_opportunity", "hubspot_deals"} <= set(mappings["presets"])
    assert client_charlie.get("/api/v1/column-mappings/").json()["saved"] == []


@pytest.mark.covers_url("api-kpi-list", "api-kpi-sign-off")
def test_kpi_values_list_and_sign_off(org, client_alice, client_charlie):
    response = _post(
        client_alice,
        "/api/v1/imports/kpi-values/rows/",
        {
            "rows": [
                {"metric": "csat", "subject_type": "tenant", "period": "2026-01-01", "value": "4.7"}
            ]
        },
    )
    assert response.json()["status"] == "committed", response.content
    kpi = client_alice.get("/api/v1/kpi-values/?metric=csat").json()["results"][0]
    assert kpi["subject"] == "Whole company" and kpi["status"] == "draft"
    assert_list_omits(client_charlie, "/api/v1/kpi-values/", kpi["id"])
    assert_not_found(client_charlie.post(f"/api/v1/kpi-values/{kpi['id']}/sign-off/"))
    signed = client_alice.post(f"/api/v1/kpi-values/{kpi['id']}/sign-off/")
    assert signed.json()["status"] == "signed_off"
    with tenant_scope(org.tenant):
        assert KpiValue.objects.get().signed_off_at is not None


def test_an_employee_cannot_import(org, client, bob):
    client.force_login(bob)
    response = _post(client, "/api/v1/imports/transactions/rows/", {"rows": [tx_row("X")]})
    assert response.status_code == 403
    with tenant_scope(org.tenant):
        assert Credit.objects.count() == 0


@pytest.mark.covers_url("api-fx-convert")
def test_fx_conversion_uses_the_rate_in_force_and_inverts_when_needed(
    org, client_alice, client_charlie
):
    for day, rate in (("2026-01-01", "1.05000000"), ("2026-03-01", "1.10000000")):
        _post(
            client_alice,
            "/api/v1/fx-rates/",
            {"currency": "EUR", "quote_currency": "USD", "valid_on": day, "rate": rate},
        )
    feb = client_alice.get("/api/v1/fx-rates/convert/?amount=1000&from=EUR&to=USD&on=2026-02-15")
    assert feb.json()["converted"] == "1050.0000"
    march = client_alice.get("/api/v1/fx-rates/convert/?amount=1000&from=EUR&to=USD&on=2026-03-01")
    assert march.json()["converted"] == "1100.0000"
    inverse = client_alice.get(
        "/api/v1/fx-rates/convert/?amount=1100&from=USD&to=EUR&on=2026-03-02"
    )
    assert inverse.json()["converted"] == "1000.0000"
    before = client_alice.get("/api/v1/fx-rates/convert/?amount=1&from=EUR&to=USD&on=2025-12-31")
    assert before.status_code == 400 and before.json()["error"]["code"] == "fx_rate_missing"
    # another tenant has no such rate: the same answer as a missing one
    other = client_charlie.get("/api/v1/fx-rates/convert/?amount=1&from=EUR&to=USD&on=2026-03-02")
    assert other.json()["error"]["code"] == "fx_rate_missing"


def test_a_saved_column_mapping_imports_a_custom_export(org, client_alice, client_charlie):
    saved = _post(
        client_alice,
        "/api/v1/column-mappings/",
        {
            "name": "Pipedrive",
            "columns": {
                "Deal": "external_id",
                "Value": "amount",
                "Cur": "currency",
                "Won": "booked_on",
                "Rep": "owner_employee_id",
            },
            "defaults": {"kind": "new_business", "source": "pipedrive"},
        },
    )
    assert saved.status_code == 201, saved.content
    bad = _post(
        client_alice, "/api/v1/column-mappings/", {"name": "X", "columns": {"A": "nonsense"}}
    )
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "unknown_field"
    csv_text = "Deal,Value,Cur,Won,Rep\nPD-1,300,USD,2026-04-01,E2\n"
    done = client_alice.post(
        "/api/v1/imports/transactions/csv/?mapping=Pipedrive",
        data=csv_text,
        content_type="text/csv",
    )
    assert done.json()["status"] == "committed", done.content
    with tenant_scope(org.tenant):
        tx = Transaction.objects.get(external_id="PD-1")
        assert (tx.source, tx.kind, tx.owner.employee_id) == ("pipedrive", "new_business", "E2")
    assert client_charlie.get("/api/v1/column-mappings/").json()["saved"] == []
    foreign = client_charlie.post(
        "/api/v1/imports/transactions/csv/?mapping=Pipedrive",
        data=csv_text,
        content_type="text/csv",
    )
    assert foreign.status_code == 400 and foreign.json()["error"]["code"] == "unknown_mapping"


def test_a_browser_upload_with_csrf_and_an_idempotency_key_is_imported_once(org, alice):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    browser.get("/data/imports/")
    token = browser.cookies["csrftoken"].value
    csv_text = (
        b"external_id,kind,amount,currency,booked_on,owner_employee_id\n"
        b"K-1,renewal,5,USD,2026-03-03,E3\n"
    )

    def send():
        return browser.post(
            "/api/v1/imports/transactions/csv/",
            {"file": SimpleUploadedFile("k.csv", csv_text, "text/csv")},
            HTTP_X_CSRFTOKEN=token,
            HTTP_IDEMPOTENCY_KEY="upload-1",
        )

    first, second = send(), send()
    assert first.status_code == 201, first.content
    assert second.status_code == 201 and second["Idempotent-Replayed"] == "true"
    with tenant_scope(org.tenant):
        assert IngestBatch.objects.count() == 1


def test_recalculating_everything_goes_to_a_worker_when_a_broker_is_configured(
    imported, org, client_alice, settings, django_capture_on_commit_callbacks
):
    settings.REDIS_URL = "redis://127.0.0.1:6379/0"  # tasks still run eagerly in tests
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = _post(client_alice, "/api/v1/credits/recalculate/", {})
    assert response.status_code == 202 and response.json() == {"status": "queued"}
    assert len(callbacks) == 1
    with tenant_scope(org.tenant):
        assert Credit.objects.filter(superseded_at__isnull=True).exists()
