"""Clicking through people, the org as of a date, an import with errors and the credit explorer."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import shot, sign_in

pytestmark = pytest.mark.needs_browser

BAD_FILE = (
    "external_id,kind,amount,currency,booked_on,owner_employee_id\n"
    "E2E-1,new_business,1200,USD,2026-10-01,NOBODY\n"
    "E2E-2,new_business,12.345,USD,2026-10-01,NOBODY\n"
)


def test_comp_admin_browses_the_org_as_of_a_date_and_a_persons_timeline(page):
    sign_in(page, "comp@demo.quotient.dev")
    page.click("nav >> text=Org chart")
    page.wait_for_selector("#org-tree")
    assert "Office of the CEO" in page.inner_text("#org-tree")
    # a collapsible tree: collapse all, then open one branch from the keyboard
    page.click("button:has-text('Collapse all')")
    assert page.locator("#org-tree details[open]").count() == 0
    page.focus("#org-tree summary >> nth=0")
    page.keyboard.press("Enter")
    assert page.locator("#org-tree details[open]").count() == 1
    page.click("button:has-text('Expand all')")
    assert page.locator("#org-tree details:not([open])").count() == 0
    page.fill("input[type=date]", "2026-03-01")
    page.click("button:has-text('Show')")
    page.wait_for_selector("text=1 Mar 2026")
    shot(page, "org-chart")
    page.click("nav a:text-is('People')")
    page.click("table.data a >> nth=0")
    page.wait_for_selector("text=Timeline")
    assert "Manager chain" in page.content()
    shot(page, "person-timeline")


def test_an_employee_sees_only_themselves(page):
    sign_in(page, "employee@demo.quotient.dev")
    page.click("nav a:text-is('People')")
    page.wait_for_selector("table.data tbody tr")
    rows = page.locator("table.data tbody tr")
    assert rows.count() == 1


def test_a_bad_import_shows_every_row_error_and_the_credit_explorer_explains_a_deal(page, tmp_path):
    sign_in(page, "comp@demo.quotient.dev")
    page.click("nav >> text=Data imports")
    path = tmp_path / "deals.csv"
    path.write_text(BAD_FILE)
    page.set_input_files("#id_file", str(path))
    page.click("form[data-upload] button[type=submit]")
    page.wait_for_selector("#row-errors")
    errors = page.inner_text("table.data")
    assert "Unknown person" in errors and "Too many decimals" in errors  # the codes in words
    assert "Nothing was written" in page.inner_text(".headline")
    shot(page, "import-errors")

    page.click("nav >> text=Transactions & credits")
    page.select_option("select[name=kind]", "new_business")
    page.click("button:has-text('Filter')")
    # a deal the demo seeded (another test imports one of its own, with no owner)
    page.click("table.data tbody a:has-text('OPP-') >> nth=0")
    page.wait_for_selector("text=Who got credit, and why")
    text = page.inner_text("main")
    assert "Rolled up to" in text and ("Deal owner" in text or "Deal splits" in text)
    shot(page, "credit-explorer")
