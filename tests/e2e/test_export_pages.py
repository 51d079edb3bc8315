"""The Exports pages on a 390 px phone: finance reaches them from the Menu, nothing overflows."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import shot, sign_in

pytestmark = [pytest.mark.needs_browser]


def test_finance_opens_exports_and_earning_codes_on_a_phone(browser, demo_server):
    phone = browser.new_context(base_url=demo_server, viewport={"width": 390, "height": 844})
    page = phone.new_page()
    try:
        sign_in(page, "finance@demo.quotient.dev")
        page.click("[data-nav-toggle]")
        page.click("nav#main-nav a >> text='Exports'")
        page.wait_for_url("**/exports/")
        assert page.is_visible("h1 >> text='Exports'")
        assert page.is_visible("text=Export batches")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the exports page is {width} px wide on a 390 px screen"
        shot(page, "phone-exports")
        page.click("#earning-codes-link")
        page.wait_for_url("**/exports/earning-codes/")
        page.fill("#id_component_id", "commission")
        page.fill("#id_code", "=COMM")
        page.click("#earning-code-form button[type=submit]")
        page.wait_for_selector(".alert.error")
        assert "An earning code is letters" in page.inner_text(".alert.error")
        page.fill("#id_code", "COMM")
        page.click("#earning-code-form button[type=submit]")
        page.wait_for_selector("#earning-code-table")
        assert page.is_visible("#earning-code-table >> text='COMM'")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the earning codes page is {width} px wide on a 390 px screen"
        shot(page, "phone-earning-codes")
    finally:
        phone.close()
