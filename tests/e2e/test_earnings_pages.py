"""An employee opens her earnings, her statement and why its line is what it is, down to the
transaction; the pages' figures equal the API's; usable on a 390 px phone."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import shot, sign_in

pytestmark = pytest.mark.needs_browser


def test_an_employee_reads_her_statement_and_why_down_to_the_transaction(page, demo_run):
    sign_in(page, "employee@demo.quotient.dev")
    # the home card leads to her earnings
    assert "My earnings" in page.inner_text("#home-earnings")
    page.click("nav >> text=My earnings")
    page.wait_for_selector("#earnings-stats")
    # the page opens on the quarter under way (the demo's open period, calculated live)
    live = f"{demo_run['live']}-{demo_run['person']}"
    api = json.loads(page.evaluate(f"fetch('/api/v1/statements/{live}/').then(r => r.text())"))
    earned = page.inner_text("#period-earned")
    assert (
        earned.replace("\u00a0", " ") == f"{float(api['totals']['earned']):,.2f} {api['currency']}"
    )
    page.wait_for_selector("#earnings-chart[data-drawn=true]")
    shot(page, "earnings-employee")

    # the closed quarter's statement (approved, final): the trace sentence of the line
    key = f"{demo_run['period']}-{demo_run['person']}"
    api = json.loads(page.evaluate(f"fetch('/api/v1/statements/{key}/').then(r => r.text())"))
    page.goto(f"/earnings/statements/{key}/")
    page.wait_for_selector("#lines")
    trace = page.inner_text("#lines .trace")
    assert api["lines"][0]["trace_text"] in trace
    shot(page, "earnings-statement")

    # drill down: the credits and the transaction behind them
    assert page.locator(f"#lines a[href$='/earnings/lines/{demo_run['line']}/']").count() == 1
    page.click(f"#lines a[href$='/earnings/lines/{demo_run['line']}/']")
    page.wait_for_selector("#contributions")
    assert demo_run["external"] in page.inner_text("#contributions")
    shot(page, "earnings-line")

    # a 390 px phone: nothing wider than the screen
    page.set_viewport_size({"width": 390, "height": 844})
    for url in (
        "/earnings/",
        f"/earnings/statements/{key}/",
        f"/earnings/lines/{demo_run['line']}/",
    ):
        page.goto(url)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, (url, width)
    shot(page, "earnings-line-phone")
    page.goto(f"/earnings/statements/{key}/")
    shot(page, "earnings-statement-phone")


def test_a_manager_sees_the_team_roll_up(page, demo_run):
    sign_in(page, "manager@demo.quotient.dev")
    page.goto(f"/earnings/team/?period={demo_run['period']}")
    page.wait_for_selector("#team")
    assert "Emma Employee" in page.inner_text("#team")
    shot(page, "earnings-manager-team")
    page.click("#team >> text=Emma Employee")
    page.wait_for_selector("#earnings-stats")
    shot(page, "earnings-manager-member")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/earnings/team/?period={demo_run['period']}&sort=earned&dir=desc")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "earnings-manager-team-phone")
