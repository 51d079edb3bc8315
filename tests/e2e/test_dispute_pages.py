"""The demo employee finds her questions on first login, questions a step of a line from her
statement, and her manager answers it from the inbox; the pages fit a 390 px phone."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import shot, sign_in

pytestmark = pytest.mark.needs_browser


def _fits_a_phone(page, urls):
    page.set_viewport_size({"width": 390, "height": 844})
    for url in urls:
        page.goto(url)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, (url, width)


def test_an_employee_questions_a_step_and_her_manager_answers(page):
    sign_in(page, "employee@demo.quotient.dev")
    # the demo's questions are there on first login
    assert "Your open questions" in page.inner_text("#home-disputes")
    page.click("nav >> text=My questions")
    page.wait_for_selector("#my-questions")
    assert page.locator("#my-questions tbody tr").count() >= 2
    shot(page, "disputes-mine")
    # from a statement line, to the line, to one step of its calculation
    page.goto("/earnings/")
    page.click("#history a[href*='/earnings/statements/'] >> nth=0")
    page.wait_for_selector("#lines")
    assert page.locator("#lines a.question-this").count() >= 1
    page.click("#lines a[href*='/earnings/lines/']")
    page.wait_for_selector("#contributions, .empty")
    page.click("summary")
    page.click("#trace-steps a.question-this")
    page.wait_for_selector("#raise-form")
    assert "Step 1" in page.inner_text("#raise-subject")
    page.select_option("#r-reason", "credit_split")
    page.fill("#r-description", "My share of this deal should be 70 %.")
    shot(page, "disputes-raise")
    page.click("#raise-form button[type=submit]")
    page.wait_for_selector("#dispute-subject")
    assert "questioned" in page.inner_text("#dispute-trace")
    url = page.url
    shot(page, "disputes-detail-payee")
    _fits_a_phone(page, ["/disputes/mine/", url, "/disputes/new/?period=1"])

    # the manager answers it from her inbox
    page.context.clear_cookies()
    page.set_viewport_size({"width": 1280, "height": 860})
    sign_in(page, "manager@demo.quotient.dev")
    assert "Questions waiting for you" in page.inner_text("#home-disputes")
    page.goto("/disputes/?mine=1")
    page.wait_for_selector("#inbox")
    assert "Emma Employee" in page.inner_text("#inbox")
    shot(page, "disputes-inbox-manager")
    page.goto(url)
    page.fill("#c-body", "Checking the split with sales ops.")
    page.click("#comment-form button[type=submit]")
    page.wait_for_selector(".dispute-thread")
    page.fill("#a-reject", "The 50/50 split is the signed one.")
    page.click("#reject-form button[type=submit]")
    page.wait_for_selector("#dispute-outcome")
    assert "Rejected" in page.inner_text("h1")
    shot(page, "disputes-detail-rejected")
    _fits_a_phone(page, ["/disputes/", url])
