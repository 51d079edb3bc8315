"""The import pages in a real browser: one upload form everywhere, the server's form error beside
the file field, a progress bar while the file is sent and checked, and a phone-sized layout."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.conftest import shot, sign_in

pytestmark = pytest.mark.needs_browser

PEOPLE_WITH_ERRORS = (
    "employee_id,full_name,hire_date,manager_employee_id\n"
    "E2E-1,Ada Lovelace,2026-01-05,\n"
    "E2E-2,Grace Hopper,2026-13-01,E2E-1\n"
    "E2E-3,Alan Turing,2026-02-01,NOBODY\n"
    "E2E-1,Ada Again,2026-01-05,\n"
)
# today in the demo tenant's time zone (demo_seed: New York); UTC's date is tomorrow there
# from 00:00 UTC, a future date the import refuses
DEMO_TODAY = dt.datetime.now(ZoneInfo("America/New_York")).date()
# Booked today: in the demo's open quarter (the quarter before it is closed, its data locked).
DEALS = (
    "external_id,kind,amount,currency,booked_on,owner_employee_id\n"
    f"E2E-OK-1,new_business,1200,USD,{DEMO_TODAY.isoformat()},\n"
)


def _no_sideways_scroll(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"the page is {width}px wide"


def test_an_empty_file_is_refused_beside_the_field_then_a_dry_run_lists_every_bad_row(
    page, tmp_path
):
    sign_in(page, "comp@demo.quotient.dev")
    page.click("nav >> text=HR import")
    page.wait_for_selector("form[data-upload]")
    # the same form as every import page: dry run ticked, all or nothing chosen
    assert page.is_checked("input[name=dry_run]")
    assert page.is_checked("input[name=mode][value=all_or_nothing]")
    assert page.inner_text("form[data-upload] button[type=submit]") == "Check the file"
    assert page.is_hidden(".upload-progress")
    shot(page, "hr-import-empty")

    # an empty file: the server's answer appears beside the file field, on the same page
    empty = tmp_path / "people.csv"
    empty.write_text("")
    page.set_input_files("#id_file", str(empty))
    assert "people.csv" in page.inner_text(".dropzone")
    page.click("form[data-upload] button[type=submit]")
    error = page.wait_for_selector("#id_file_error")
    assert "The file is empty" in error.inner_text()
    assert page.get_attribute("#id_file", "aria-invalid") == "true"
    shot(page, "hr-import-empty-file-error")

    # a file with bad rows: the upload shows progress, then every bad row is listed
    bad = tmp_path / "people-bad.csv"
    bad.write_text(PEOPLE_WITH_ERRORS)
    page.set_input_files("#id_file", str(bad))
    held: list = []
    page.route(
        "**/imports/",
        lambda route: held.append(route) if route.request.method == "POST" else route.continue_(),
    )
    page.click("form[data-upload] button[type=submit]")
    page.wait_for_selector(".upload-progress:not([hidden])")
    assert page.is_disabled("form[data-upload] button[type=submit]")
    for _ in range(50):  # the held request reaches the route handler while we wait
        if held:
            break
        page.wait_for_timeout(100)
    assert held, "the upload was not sent"
    shot(page, "hr-import-uploading")
    with page.expect_navigation():
        held[0].continue_()
    page.unroute("**/imports/")
    page.wait_for_selector("#row-errors")
    headline = page.inner_text(".headline")
    assert "Dry run" in headline and "Nothing was written" in headline
    table = page.inner_text("table.data.stack")
    for problem in ("Bad date", "Unknown manager", "Duplicate employee id"):  # codes in words
        assert problem in table
    shot(page, "hr-import-dry-run-errors")


def test_the_data_import_page_draws_the_same_form_and_imports_when_dry_run_is_off(page, tmp_path):
    sign_in(page, "comp@demo.quotient.dev")
    page.click("nav >> text=Data imports")
    page.wait_for_selector("form[data-upload]")
    assert page.is_checked("input[name=dry_run]")
    # untick the dry run (the toggle is the label): the button says what will happen
    page.click("label.toggle")
    assert not page.is_checked("input[name=dry_run]")
    assert page.inner_text("form[data-upload] button[type=submit]") == "Import the file"
    deals = tmp_path / "deals.csv"
    deals.write_text(DEALS)
    page.set_input_files("#id_file", str(deals))
    page.click("form[data-upload] button[type=submit]")
    page.wait_for_selector(".import-outcome")
    assert page.inner_text(".import-outcome .badge") == "Committed"
    assert page.inner_text(".headline") == "Imported 1 row."
    assert "No errors" in page.inner_text("main")
    shot(page, "data-import-committed")


def test_the_import_pages_fit_a_phone(browser, demo_server, tmp_path):
    context = browser.new_context(
        base_url=demo_server,
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    page = context.new_page()
    try:
        sign_in(page, "comp@demo.quotient.dev")
        pages = (("/imports/", "hr-import-phone"), ("/data/imports/", "data-import-phone"))
        for url, name in pages:
            page.goto(url)
            page.wait_for_selector("form[data-upload]")
            _no_sideways_scroll(page)
            shot(page, name)
        bad = tmp_path / "people-bad.csv"
        bad.write_text(PEOPLE_WITH_ERRORS)
        page.goto("/imports/")
        page.set_input_files("#id_file", str(bad))
        page.click("form[data-upload] button[type=submit]")
        page.wait_for_selector("#row-errors")
        _no_sideways_scroll(page)
        # each error row is a labelled card on a phone, not a table wider than the screen
        cell = page.locator("table.data.stack td[data-label=Problem]").first
        assert cell.evaluate("td => getComputedStyle(td).display") == "block"
        shot(page, "hr-import-errors-phone")
    finally:
        context.close()
