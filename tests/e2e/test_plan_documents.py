"""An employee opens her plan document and acknowledges it; the comp admin sees it; on a phone
the document reads top to bottom."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import shot, sign_in

pytestmark = pytest.mark.needs_browser


def test_an_employee_acknowledges_her_plan_and_the_admin_sees_it(page):
    sign_in(page, "employee@demo.quotient.dev")
    page.click("nav >> text=My plan")
    page.wait_for_selector("#my-plans")
    assert "not yet" in page.inner_text("#my-plans")
    shot(page, "my-plan")
    page.click("#my-plans a >> nth=0")
    page.wait_for_selector("#plan-document")
    text = page.inner_text("#plan-document")
    plan_name = page.inner_text("#plan-document h1")
    assert "target incentive" in text.lower() and "worked examples" in text.lower()
    shot(page, "plan-document")
    with page.expect_download() as download:
        page.click("#download-pdf")
    assert download.value.suggested_filename.endswith(".pdf")
    with open(download.value.path(), "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"
    page.click("#acknowledge")
    page.wait_for_selector(".alert.success")
    assert "Acknowledged" in page.inner_text("#acknowledgement")
    shot(page, "plan-document-acknowledged")
    with page.expect_popup() as popup:
        page.click("#print-view")
    printed = popup.value
    printed.wait_for_selector("#plan-document")
    shot(printed, "plan-document-print")
    printed.close()
    page.click("text=Sign out")
    page.wait_for_url("**/login/**")

    sign_in(page, "comp@demo.quotient.dev")
    page.click("nav >> text=Plans")
    page.click(f"#plan-table >> text={plan_name}")
    page.click("#plan-acks")
    page.wait_for_selector("#ack-table")
    assert int(page.inner_text("#ack-done")) >= 1
    row = page.locator("#ack-table tr", has_text="Emma Employee")
    assert "not yet" not in row.inner_text()
    shot(page, "plan-acknowledgements")


def test_the_plan_document_on_a_phone(browser, demo_server):
    context = browser.new_context(base_url=demo_server, viewport={"width": 390, "height": 844})
    phone = context.new_page()
    sign_in(phone, "employee@demo.quotient.dev")
    phone.goto("/plans/")  # an employee's /plans/ leads to "My plan"
    phone.wait_for_selector("#my-plans")
    phone.click("#my-plans a >> nth=0")
    phone.wait_for_selector("#plan-document")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the document scrolls sideways ({width} px)"
    shot(phone, "plan-document-phone")
    context.close()
