"""A manager signs off a report's objective in Chromium; the employee then reads it signed off
on "My objectives"; on a phone the team page reads top to bottom."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import shot, sign_in

pytestmark = pytest.mark.needs_browser


def test_a_manager_signs_off_an_objective_and_the_employee_sees_it(page):
    # given the demo manager's team for the quarter under way: one objective waits for him
    sign_in(page, "manager@demo.quotient.dev")
    page.click('nav a[href="/plans/objectives/"]')
    page.wait_for_selector("#objective-progress")
    before = int(page.inner_text("#objectives-done"))
    button = page.locator("button[id^=sign-off-]").first
    pk = str(button.get_attribute("id")).removeprefix("sign-off-")
    title = page.inner_text(f"#objective-{pk} strong")
    shot(page, "objectives-team")
    # when he signs it off
    button.click()
    page.wait_for_selector(".alert.success")
    # then it is signed off, by him, and the page counts it
    assert "Signed off" in page.inner_text(".alert.success")
    assert int(page.inner_text("#objectives-done")) == before + 1
    row = page.inner_text(f"#objective-{pk}")
    assert "Signed off" in row and "Marcus Manager" in row
    assert page.locator(f"#sign-off-{pk}").count() == 0
    shot(page, "objectives-signed-off")
    page.click("text=Sign out")
    page.wait_for_url("**/login/**")
    # and Emma reads it signed off on her own page, with nothing to click
    sign_in(page, "employee@demo.quotient.dev")
    page.click('nav a[href="/plans/objectives/mine/"]')
    page.wait_for_selector("h1:has-text('My objectives')")
    mine = page.inner_text("main")
    assert title in mine and "Signed off" in mine
    assert page.locator("button[id^=sign-off-]").count() == 0
    shot(page, "my-objectives")


def test_the_objectives_page_on_a_phone(browser, demo_server):
    context = browser.new_context(base_url=demo_server, viewport={"width": 390, "height": 844})
    phone = context.new_page()
    sign_in(phone, "manager@demo.quotient.dev")
    phone.goto("/plans/objectives/")
    phone.wait_for_selector("#objective-progress")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the objectives page scrolls sideways ({width} px)"
    shot(phone, "objectives-phone")
    context.close()
