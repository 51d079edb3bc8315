"""The period close pages in a browser: the checklist on a phone, an adjustment requested."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import shot, sign_in

pytestmark = pytest.mark.needs_browser


def test_comp_admin_requests_an_adjustment_from_the_checklist_on_a_phone(page):
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, "comp@demo.quotient.dev")
    page.goto("/periods/close/")
    page.wait_for_selector("#close-table")
    text = page.inner_text("#close-table")
    # the quarter under way heads the list; the calendar's older never-run quarters are folded
    assert "Calculated" in text and "calculate it first" not in text
    assert "never calculated" in page.inner_text("#dormant-periods summary")
    # nothing sticks out sideways on a 390 px phone
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "period-close-phone")
    page.click("#close-table a >> nth=0")
    page.wait_for_selector("#checklist")
    # the quarter under way has its run (other browser tests may have run it again meanwhile)
    assert re.search(r"✓ Calculated: [1-9]\d* succeeded full run", page.inner_text("#checklist"))
    page.select_option("#id_person", index=1)
    page.fill("#id_amount", "125.50")
    page.fill("#id_reason", "Deal booked after the cut-off")
    page.click("#adjustment-form button[type=submit]")
    page.wait_for_selector("text=Adjustment requested")
    assert "Deal booked after the cut-off" in page.inner_text("#adjustments")
    assert "Pending" in page.inner_text("#adjustments")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "period-close-detail-phone")


def test_finance_sees_the_period_close_nav_and_an_employee_does_not(page):
    sign_in(page, "finance@demo.quotient.dev")
    assert page.locator("nav a:text-is('Period close')").count() == 1
    page.context.clear_cookies()
    sign_in(page, "employee@demo.quotient.dev")
    assert page.locator("nav a:text-is('Period close')").count() == 0
