"""Incentive-data pages: upload with errors shown, transaction browser, credit explorer."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from core.tenancy import tenant_scope
from incentives.models import IngestBatch, Transaction
from tests.tenancy import assert_not_found

GOOD = (
    "external_id,kind,amount,currency,booked_on,owner_employee_id\n"
    "W-1,new_business,1000,USD,2026-02-02,E1\n"
    "W-2,expansion,abc,USD,2026-02-03,E2\n"
    "W-3,new_busines,10,USD,2026-02-04,E1\n"
)


@pytest.mark.covers_url("imports", "import_detail")
def test_uploading_a_file_shows_its_row_errors_and_another_tenant_cannot_see_it(
    org, client_alice, client_charlie
):
    response = client_alice.post(
        "/data/imports/",
        {
            "kind": "transactions",
            "mapping": "",
            "mode": "partial",
            "file": SimpleUploadedFile("deals.csv", GOOD.encode(), "text/csv"),
        },
    )
    assert response.status_code == 302
    page = client_alice.get(response["Location"])
    html = page.content.decode()
    assert "Committed with errors" in html and "Not a number." in html
    # the problem in words, the stable code kept for the report and the API in its title
    assert ">Bad number</span>" in html and 'title="Error code bad_number' in html
    assert "Did you mean new_business?" in html  # a near miss of a known kind
    assert client_alice.get("/data/imports/").status_code == 200
    with tenant_scope(org.tenant):
        batch = IngestBatch.objects.get()
    assert_not_found(client_charlie.get(f"/data/imports/{batch.pk}/"))
    assert "deals.csv" not in client_charlie.get("/data/imports/").content.decode()


def test_a_form_error_is_shown_not_a_crash(org, client_alice):
    response = client_alice.post("/data/imports/", {"kind": "transactions", "mode": "partial"})
    assert response.status_code == 200
    assert "Choose a file to import." in response.content.decode()


@pytest.mark.covers_url("transactions", "transaction_detail", "credits_recalculate")
def test_the_credit_explorer_explains_a_deal(org, client_alice, client_charlie, monkeypatch):
    client_alice.post(
        "/data/imports/",
        {
            "kind": "transactions",
            "mapping": "",
            "mode": "partial",
            "file": SimpleUploadedFile("deals.csv", GOOD.encode(), "text/csv"),
        },
    )
    listing = client_alice.get("/data/transactions/?owner=E1").content.decode()
    assert "W-1" in listing and "W-2" not in listing
    with tenant_scope(org.tenant):
        tx = Transaction.objects.get(external_id="W-1")
    detail = client_alice.get(f"/data/transactions/{tx.pk}/").content.decode()
    assert "Erin Seller" in detail and "Owner" in detail and "Rolled up to" in detail
    assert "Mark Lead" in detail and "Maria Vice" in detail
    assert_not_found(client_charlie.get(f"/data/transactions/{tx.pk}/"))
    assert "W-1" not in client_charlie.get("/data/transactions/").content.decode()
    assert client_alice.post("/data/credits/recalculate/").status_code == 302
    assert client_charlie.post("/data/credits/recalculate/").status_code == 302
    # each tenant's recalculation touches only its own transactions (run inline to read its
    # summary; with a broker it would be queued until the test's transaction commits)
    monkeypatch.setattr("core.tasks.workers_configured", lambda: False)
    mine = client_alice.post("/data/credits/recalculate/", follow=True).content.decode()
    theirs = client_charlie.post("/data/credits/recalculate/", follow=True).content.decode()
    assert "Recomputed credits of 1 transactions" in mine
    assert "Recomputed credits of 0 transactions" in theirs
    with tenant_scope(org.tenant):
        assert Transaction.objects.count() == 1


def test_employees_cannot_open_incentive_data_pages(org, client, bob):
    client.force_login(bob)
    for url in ("/data/imports/", "/data/transactions/"):
        assert_not_found(client.get(url))


@pytest.mark.covers_url("rollup_detail")
def test_a_managers_roll_up_page_shows_the_totals_and_whose_credits_reached_them(
    org, client_alice, client_charlie
):
    # given two deals of Erin's team in February, rolled up to Mark (team) and Maria (sales)
    rows = (
        "external_id,kind,amount,currency,booked_on,owner_employee_id\n"
        "R-1,new_business,1000,USD,2026-02-02,E1\n"
        "R-2,new_business,300,USD,2026-02-02,E2\n"
        "R-3,new_business,70,USD,2026-03-02,E1\n"
    )
    client_alice.post(
        "/data/imports/",
        {
            "kind": "transactions",
            "mapping": "",
            "mode": "partial",
            "file": SimpleUploadedFile("deals.csv", rows.encode(), "text/csv"),
        },
    )
    maria = org.people["M1"].pk
    # when Alice opens Maria's February roll-up
    page = client_alice.get(f"/data/credits/rollups/{maria}/?month=2026-02-15")
    html = page.content.decode()
    # then one total stands for both credits of the day, and both deals are listed below it
    assert page.status_code == 200
    assert "Roll-up of Maria Vice" in html and "February 2026" in html
    assert "1,300.00" in html and ">2</td>" in html  # the total and its two credits
    assert "R-1" in html and "R-2" in html and "R-3" not in html  # March is another month
    assert "Erin Seller" in html
    march = client_alice.get(f"/data/credits/rollups/{maria}/?month=2026-03-01").content.decode()
    assert "R-3" in march and "R-1" not in march
    # a bad month is a 400, another tenant's manager a 404
    assert client_alice.get(f"/data/credits/rollups/{maria}/?month=2026-13-01").status_code == 400
    assert_not_found(client_charlie.get(f"/data/credits/rollups/{maria}/?month=2026-02-15"))
