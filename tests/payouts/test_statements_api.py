"""The statements API: lists, detail with traces, CSV, PDF, line drill-down; an employee's
own credits. Every URL has its cross-tenant case (another tenant's statement is a 404)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.payouts.written_runs import approve
from tests.pdftext import pdf_text
from tests.tenancy import assert_not_found

pytestmark = pytest.mark.django_db


def _as(client, user):
    client.force_login(user)
    return client


@pytest.mark.covers_url(
    "api-statement-list",
    "api-statement-detail",
    "api-statement-csv",
    "api-statement-pdf",
    "api-statement-line",
)
def test_statements_api_reads_what_the_statement_says_and_hides_it_from_other_tenants(
    org, written, client_alice, client_charlie
):
    key = f"{written.q1.pk}-{org.erin.pk}"
    line = written.lines[("erin", "commission")]
    # when
    listed = client_alice.get(f"/api/v1/statements/?period={written.q1.pk}").json()
    detail = client_alice.get(f"/api/v1/statements/{key}/").json()
    csv = client_alice.get(f"/api/v1/statements/{key}/csv/")
    pdf = client_alice.get(f"/api/v1/statements/{key}/pdf/")
    drill = client_alice.get(f"/api/v1/statements/lines/{line.pk}/").json()
    # then
    assert listed["count"] == 3
    erin = next(r for r in listed["results"] if r["id"] == key)
    assert (erin["status"], erin["earned"], erin["plans"]) == (
        "provisional",
        "1238817.5000",
        ["Sales AE"],
    )
    assert detail["totals"]["payable"] == "1238817.5000"
    assert {x["trace_text"] for x in detail["lines"]} >= {
        "42,500.00 of bookings at 10 % = 4,250.00."
    }
    assert csv["Content-Type"].startswith("text/csv")
    assert "statement-E3-FY2026-Q1.csv" in csv["Content-Disposition"]
    assert "42,500.00 of bookings at 10 % = 4,250.00." in csv.content.decode()
    # the component as the page names it (its plan's name, else its id in words), not its id
    rows = [r.split(",") for r in csv.content.decode().splitlines() if r.startswith("line,")]
    assert rows and {r[2] for r in rows} >= {"Commission"}
    # amounts to the currency's decimals, as the page shows them; the run by its reference
    assert any(r[4] == "4250.00" for r in rows)
    assert all(len(r[4].partition(".")[2]) == 2 for r in rows)
    assert f"Reference run {written.run.number}" in csv.content.decode()
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    text = pdf_text(pdf.content)
    assert "Erin East (E3)" in text and "Page 1 of" in text and org.tenant.name in text
    assert "4,250.00 USD" in text and "1,238,817.50 USD" in text  # a line, the payable
    assert "Sales AE · Commission" in text
    # the period as the page says it: first and last day, not the exclusive end
    assert "period,FY2026 Q1,2026-01-01,2026-03-31\r\n" in csv.content.decode()
    assert "1 Jan 2026 through 31 Mar 2026" in text and "end exclusive" not in text
    assert [c["transaction"] for c in drill["contributions"]] == ["D-1", "D-2"]
    assert drill["contributed"] == "4250.0000"
    # another tenant sees none of it
    assert client_charlie.get("/api/v1/statements/").json()["count"] == 0
    for url in (
        f"/api/v1/statements/{key}/",
        f"/api/v1/statements/{key}/csv/",
        f"/api/v1/statements/{key}/pdf/",
        f"/api/v1/statements/lines/{line.pk}/",
    ):
        assert_not_found(client_charlie.get(url))


def test_an_employee_reads_only_her_own_statements_and_gets_404_for_others(client, org, written):
    erin = _as(client, written.users["erin"])
    listed = erin.get("/api/v1/statements/").json()["results"]
    assert [r["full_name"] for r in listed] == ["Erin East"]
    assert erin.get(f"/api/v1/statements/{written.q1.pk}-{org.erin.pk}/").status_code == 200
    for url in (
        f"/api/v1/statements/{written.q1.pk}-{org.wes.pk}/",
        f"/api/v1/statements/{written.q1.pk}-{org.wes.pk}/csv/",
        f"/api/v1/statements/{written.q1.pk}-{org.wes.pk}/pdf/",
        f"/api/v1/statements/lines/{written.lines[('wes', 'commission')].pk}/",
        f"/api/v1/statements/999999-{org.erin.pk}/",
    ):
        assert_not_found(erin.get(url))
    # and the filter by person cannot widen it
    assert erin.get(f"/api/v1/statements/?person={org.wes.pk}").json()["count"] == 0


def test_a_manager_reads_her_teams_statements(client, org, written):
    sam = _as(client, written.users["sam"])
    listed = sam.get(f"/api/v1/statements/?period={written.q1.pk}").json()["results"]
    assert [r["full_name"] for r in listed] == ["Erin East", "Wes West"]
    assert_not_found(sam.get(f"/api/v1/statements/{written.q1.pk}-{org.mia.pk}/"))


def test_a_frozen_statement_is_served_as_frozen(client_alice, org, written):
    approve(org.tenant, written.q1, written.run)
    detail = client_alice.get(f"/api/v1/statements/{written.q1.pk}-{org.erin.pk}/").json()
    assert detail["status"] == "final" and len(detail["frozen"]["hash"]) == 64


def test_a_frozen_statements_files_say_when_in_the_tenants_zone_and_a_short_fingerprint(
    client_alice, org, written
):
    # given: a tenant in New York and an approved (frozen) statement
    org.tenant.time_zone = "America/New_York"
    org.tenant.save(update_fields=["time_zone"])
    approve(org.tenant, written.q1, written.run)
    key = f"{written.q1.pk}-{org.erin.pk}"
    frozen = client_alice.get(f"/api/v1/statements/{key}/").json()["frozen"]
    at = datetime.fromisoformat(frozen["at"]).astimezone(ZoneInfo("America/New_York"))
    when = at.strftime("%Y-%m-%d %H:%M %Z")
    # when
    csv = client_alice.get(f"/api/v1/statements/{key}/csv/").content.decode()
    text = pdf_text(client_alice.get(f"/api/v1/statements/{key}/pdf/").content)
    # then: New York's time without microseconds, the first 12 characters of the hash, named
    assert f"frozen,{when},Statement fingerprint,{frozen['hash'][:12]}\r\n" in csv
    assert f"Statement fingerprint {frozen['hash'][:12]}" in text
    assert f"approved, {when}" in text and f" {at:%Z} by Quotient for" in text
    assert frozen["hash"] not in csv + text and frozen["at"] not in csv + text
    assert "SHA-256" not in text and " UTC " not in text


def test_an_employee_reads_her_own_credits_and_no_one_elses(client, org, written, bob):
    # bob: an employee linked to no person reads no credits (and is not refused)
    assert _as(client, bob).get("/api/v1/credits/").json()["count"] == 0
    erin = _as(client, written.users["erin"])
    mine = erin.get("/api/v1/credits/?limit=1000").json()["results"]
    assert {c["transaction_external_id"] for c in mine} == {"D-1", "D-2"}
    assert erin.get("/api/v1/credits/?person=E4").json()["count"] == 0
    # a manager reads her team's
    sam = _as(client, written.users["sam"])
    team = sam.get("/api/v1/credits/?limit=1000").json()["results"]
    assert {c["transaction_external_id"] for c in team} == {"D-1", "D-2", "D-3"}
    # transactions stay for readers of transactions
    assert erin.get("/api/v1/transactions/").status_code == 403
