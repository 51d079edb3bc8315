"""Quota pages: the list by plan and period, edit, upload (the import page pattern). Charlie
(Globex) asking for Acme's quota gets the 404 page."""

from __future__ import annotations

import datetime as dt
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from core.tenancy import tenant_scope
from hierarchy import periods
from plans import services
from plans.models import Quota
from tests.plans.conftest import comp_admin_access

D = date


def _quota(org, plan=None, **kw):
    with tenant_scope(org.tenant):
        return services.quota_create(
            access=comp_admin_access(),
            holder=services.QuotaHolder(person_id=org.erin.pk),
            quota_id="new_bookings",
            amount=kw.get("amount", "100000"),
            currency="USD",
            valid_from=kw.get("start", D(2026, 1, 1)),
            valid_to=kw.get("end", D(2026, 4, 1)),
            plan_id=plan.pk if plan else None,
            user_id=None,
        )


@pytest.mark.covers_url("quota_list", "quota_detail")
def test_quotas_are_listed_by_plan_and_period_and_edited(client_alice, client_charlie, org, plan_a):
    with tenant_scope(org.tenant):
        periods.period_generate_fiscal_year(fiscal_year=2026)
        q2 = periods.period_list(fiscal_year=2026).get(label="FY2026 Q2")
        q1 = periods.period_list(fiscal_year=2026).get(label="FY2026 Q1")
    quota = _quota(org, plan_a)
    page = client_alice.get(f"/plans/quotas/?plan={plan_a.pk}&period={q1.pk}")
    assert page.status_code == 200
    assert b"Erin East" in page.content and b"100,000.00" in page.content
    assert b'href="/plans/quotas/"' in page.content  # the navigation links it
    empty = client_alice.get(f"/plans/quotas/?period={q2.pk}")
    assert b"No quotas in FY2026 Q2" in empty.content
    plan_page = client_alice.get(f"/plans/{plan_a.pk}/")
    assert b"1 quota of this plan" in plan_page.content
    detail = client_alice.get(f"/plans/quotas/{quota.pk}/")
    assert detail.status_code == 200
    saved = client_alice.post(
        f"/plans/quotas/{quota.pk}/",
        {
            "amount": "150000",
            "currency": "usd",
            "valid_from": "2026-01-01",
            "valid_to": "2026-03-31",  # the form asks for the last day, inclusive
        },
    )
    assert saved.status_code == 302
    refused = client_alice.post(
        f"/plans/quotas/{quota.pk}/",
        {"amount": "1", "currency": "USD", "valid_from": "2026-04-01", "valid_to": "2026-01-01"},
    )
    assert b"must be after the start" in refused.content
    with tenant_scope(org.tenant):
        kept = Quota.objects.get()
        assert kept.amount == 150000
        assert kept.valid_to == dt.date(2026, 4, 1)  # stored as the first day after it
    shown = client_alice.get(f"/plans/quotas/{quota.pk}/").content.decode()
    assert 'value="2026-03-31"' in shown and "Last day" in shown and "exclusive" not in shown
    # another tenant
    assert b"Erin East" not in client_charlie.get("/plans/quotas/").content
    assert client_charlie.get(f"/plans/quotas/{quota.pk}/").status_code == 404
    assert (
        client_charlie.post(
            f"/plans/quotas/{quota.pk}/",
            {
                "amount": "1",
                "currency": "USD",
                "valid_from": "2026-01-01",
                "valid_to": "2026-04-01",
            },
        ).status_code
        == 404
    )


@pytest.mark.covers_url("quota_upload")
def test_an_upload_shows_row_errors_and_imports_after_a_clean_dry_run(
    client_alice, client_charlie, org, plan_a
):
    text = (
        "employee_id,quota_id,amount,valid_from,valid_to\n"
        "E3,new_bookings,100,2026-01-01,2026-02-01\n"
        "E4,pipeline,100,2026-01-01,2026-02-01\n"
    )

    def send(client, body, **fields):
        f = SimpleUploadedFile("q.csv", body.encode(), content_type="text/csv")
        return client.post("/plans/quotas/upload/", {"file": f, "plan": plan_a.pk, **fields})

    assert client_alice.get("/plans/quotas/upload/").status_code == 200
    checked = send(client_alice, text, dry_run="on", mode="all_or_nothing")
    assert checked.status_code == 200
    assert b"unknown_quota_id" in checked.content and b"Dry run" in checked.content
    good = "\n".join(text.splitlines()[:2]) + "\n"
    done = send(client_alice, good, mode="all_or_nothing")
    assert b"Imported" in done.content
    with tenant_scope(org.tenant):
        assert Quota.objects.count() == 1
    # Globex: Acme's plan is not a choice there (the form refuses it), and nothing is written
    other = send(client_charlie, good, mode="all_or_nothing")
    assert other.status_code == 200 and b"Imported" not in other.content
    with tenant_scope(org.tenant):
        assert Quota.objects.count() == 1


def test_an_employee_gets_the_404_page_for_quota_pages(client, bob):
    client.force_login(bob)
    assert client.get("/plans/quotas/").status_code == 404
    assert client.get("/plans/quotas/upload/").status_code == 404
