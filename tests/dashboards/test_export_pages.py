"""The Exports pages: list, preview and create a batch, download, mark paid, earning codes.
Finance does everything, a tenant admin reads, an employee and another tenant get a 404."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from core.models import Role
from core.tenancy import tenant_scope
from payouts import exports
from payouts.models import EarningCode, EntryKind, ExportBatch, LedgerEntry
from tests.factories.hierarchy import MembershipFactory, UserFactory
from tests.payouts.exports_fixtures import approved_period, entry


def _member(tenant: Any, email: str, roles: list[str]) -> Client:
    user = UserFactory(email=email)
    MembershipFactory(user=user, tenant=tenant, roles=roles)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def approved(org: Any, plan_a: Any) -> Any:
    with tenant_scope(org.tenant):
        return approved_period(org, plan_a)


@pytest.fixture
def finance(org: Any) -> Client:
    return _member(org.tenant, "fin@acme.test", [Role.FINANCE])


@pytest.mark.covers_url("exports", "export_detail", "export_download", "export_mark_paid")
def test_finance_previews_creates_downloads_and_marks_a_batch_paid(
    finance: Client, approved: Any, org: Any, client_charlie: Any
) -> None:
    # the empty list, with the approved period offered
    page = finance.get("/exports/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "No export batches yet" in html and "Jan 2026" in html
    assert 'href="/exports/"' in html  # the nav
    # preview: counts and totals per currency, nothing written
    preview = finance.get(f"/exports/?periods={approved.period.pk}&format=csv")
    text = preview.content.decode()
    assert "What this batch would export" in text
    assert '<strong class="num">1,250.50</strong>' in text  # |money, not 1250.5000
    with tenant_scope(org.tenant):
        assert ExportBatch.objects.count() == 0
    key = re.search(r'name="idempotency_key" value="([0-9a-f]+)"', text).group(1)
    form = {"periods": [approved.period.pk], "format": "csv", "idempotency_key": key}
    # create, twice with the same form (a double click): one batch
    created = finance.post("/exports/", form)
    again = finance.post("/exports/", form)
    assert created.status_code == 302 and again["Location"] == created["Location"]
    with tenant_scope(org.tenant):
        batch = ExportBatch.objects.get()
        exports.earning_code_set(component_id="commission", code="COMM")
        exports.earning_code_set(component_id="spiff", code="SPF")
    listed = finance.get("/exports/").content.decode()
    assert '<div class="nowrap">1,250.50\u00a0USD</div>' in listed  # the batch's total
    detail = finance.get(created["Location"])
    assert detail.status_code == 200 and "Export batch 1" in detail.content.decode()
    # the Created card names who made it (her name; an address only when she has none)
    from django.utils.html import escape

    with tenant_scope(org.tenant):
        maker = ExportBatch.objects.select_related("created_by").get().created_by
    name = maker.get_full_name() or "fin<wbr>@acme.test"
    assert f'<div class="muted">{escape(name)}</div>' in detail.content.decode()
    download = finance.get(f"/exports/{batch.pk}/download/payroll.csv")
    assert download.status_code == 200 and download.content.startswith(b"employee_id,")
    assert finance.get(f"/exports/{batch.pk}/download/lines.xlsx").status_code == 200
    # another tenant's finance: 404 for every page of this batch
    for url in (
        f"/exports/{batch.pk}/",
        f"/exports/{batch.pk}/download/lines.csv",
    ):
        assert client_charlie.get(url).status_code == 404, url
    assert client_charlie.post(f"/exports/{batch.pk}/mark-paid/").status_code == 404
    # mark paid
    paid = finance.post(f"/exports/{batch.pk}/mark-paid/", follow=True)
    assert "marked paid" in paid.content.decode()
    with tenant_scope(org.tenant):
        assert LedgerEntry.objects.filter(kind=EntryKind.PAID).count() == 4
    assert "Mark paid</button>" not in finance.get(f"/exports/{batch.pk}/").content.decode()


def test_a_preview_with_no_period_ticked_says_to_choose_one(finance: Client, approved: Any) -> None:
    # when: "Preview" pressed with no period ticked (the form sends only its other fields)
    page = finance.get("/exports/?preview=1&person=&business_unit=&format=csv&pay_date=")
    html = page.content.decode()
    # then: the form again, with a clear error on the periods, and no preview
    assert page.status_code == 200
    assert "Choose at least one period." in html
    assert "What this batch would export" not in html


def test_a_missing_earning_code_sends_finance_back_with_the_reason(
    finance: Client, approved: Any, org: Any
) -> None:
    with tenant_scope(org.tenant):
        batch, _ = exports.export_batch_create(period_ids=[approved.period.pk], idempotency_key="k")
    response = finance.get(f"/exports/{batch.pk}/download/payroll.csv", follow=True)
    assert "No earning code for component(s) commission, spiff" in response.content.decode()
    assert finance.get(f"/exports/{batch.pk}/download/payroll.json").status_code == 302


@pytest.mark.covers_url("earning_codes", "earning_code_delete")
def test_finance_edits_earning_codes_and_another_tenant_cannot(
    finance: Client, org: Any, client_charlie: Any
) -> None:
    assert "No earning codes yet" in finance.get("/exports/earning-codes/").content.decode()
    saved = finance.post(
        "/exports/earning-codes/", {"component_id": "commission", "code": "COMM"}, follow=True
    )
    assert "Added commission → COMM" in saved.content.decode()
    with tenant_scope(org.tenant):
        code = EarningCode.objects.get()
    assert client_charlie.post(f"/exports/earning-codes/{code.pk}/delete/").status_code == 404
    assert "COMM" not in client_charlie.get("/exports/earning-codes/").content.decode()
    finance.post(f"/exports/earning-codes/{code.pk}/delete/")
    with tenant_scope(org.tenant):
        assert not EarningCode.objects.exists()


def test_a_tenant_admin_reads_and_an_employee_sees_nothing(approved: Any, org: Any) -> None:
    with tenant_scope(org.tenant):
        batch, _ = exports.export_batch_create(period_ids=[approved.period.pk], idempotency_key="k")
    admin = _member(org.tenant, "admin@acme.test", [Role.TENANT_ADMIN])
    employee = _member(org.tenant, "emp@acme.test", [Role.EMPLOYEE])
    listed = admin.get("/exports/").content.decode()
    assert "Batch 1" in listed and "New export batch" not in listed
    assert "Mark paid</button>" not in admin.get(f"/exports/{batch.pk}/").content.decode()
    assert admin.post(f"/exports/{batch.pk}/mark-paid/").status_code == 404
    assert (
        admin.post("/exports/earning-codes/", {"component_id": "x", "code": "X"}).status_code == 404
    )
    for url in ("/exports/", f"/exports/{batch.pk}/", "/exports/earning-codes/"):
        assert employee.get(url).status_code == 404, url
    assert 'href="/exports/"' not in employee.get("/").content.decode()


def test_the_batch_lines_name_components_as_the_plan_does(
    finance: Client, approved: Any, org: Any, plan_a: Any
) -> None:
    # given: a batch with an adjustment of a component its plan names, components the plan does
    # not know (one with an underscore in its id), and a line with no component
    with tenant_scope(org.tenant):
        entry(org.erin, approved.period, EntryKind.ADJUSTMENT, "40.00", component_id="per_meeting")
        entry(
            org.erin,
            approved.period,
            EntryKind.ADJUSTMENT,
            "7.00",
            plan=plan_a,
            component_id="new_business",
        )
        entry(org.wes, approved.period, EntryKind.ADJUSTMENT, "3.00")
        batch, _ = exports.export_batch_create(period_ids=[approved.period.pk], idempotency_key="k")
    # when
    html = finance.get(f"/exports/{batch.pk}/").content.decode()
    # then: the plan's own name, else the id in words as the statement shows it; never the raw id
    cells = re.findall(r'<td data-label="Component">([^<]*)</td>', html)
    assert set(cells) == {"Commission", "Spiff", "Per meeting", "New business commission", "—"}
    assert "per_meeting" not in html
