"""A comp admin builds a plan from a template, changes a tier, watches the chart redraw,
publishes it and assigns it to a node; the builder is usable on a 390 px phone."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import shot, sign_in

pytestmark = pytest.mark.needs_browser

DRAWS = "document.getElementById('chart').dataset.draws"
CURVE = "Array.from(document.getElementById('chart').data[0].y)"


def _draws(page: Any) -> int:
    return int(page.evaluate(DRAWS) or 0)


def _wait_for_draw(page: Any, more_than: int) -> None:
    """Wait until the chart has been drawn more than ``more_than`` times (polling from here:
    the page's CSP refuses the eval a string predicate of wait_for_function needs)."""
    for _ in range(400):
        if _draws(page) > more_than:
            return
        page.wait_for_timeout(100)
    shot(page, "plan-builder-no-redraw")
    note = page.inner_text("#chart-note")
    raise AssertionError(f"the chart did not redraw (still {_draws(page)} draws): {note}")


def test_a_comp_admin_builds_publishes_and_assigns_a_plan(page):
    page.on("dialog", lambda dialog: dialog.accept())  # "Publish? It can never change."
    sign_in(page, "comp@demo.quotient.dev")
    page.click("nav >> text=Plans")
    page.wait_for_selector("#plan-table")
    assert "Sales Account Executive" in page.inner_text("#plan-table")  # the demo seed's
    shot(page, "plans-list")

    # create from a template
    page.click("#new-plan")
    page.select_option("#id_template", "sales_ae")
    page.fill("#id_name", "Sales AE 2027")
    page.fill("#id_code", "sales-ae-2027")
    start = page.input_value("#id_valid_from")
    page.click("#plan-create-form button[type=submit]")
    page.wait_for_selector("#version-status")
    assert "draft" in page.inner_text("#version-status")
    _wait_for_draw(page, 0)
    before = page.evaluate(CURVE)
    assert "New business commission" in page.inner_text("#try-lines")  # try it ran on the sample
    shot(page, "plan-builder-from-template")

    # change tier 2's rate in the tier table: the text and the chart follow
    draws = _draws(page)
    page.fill("input[name='t0-1-rate']", "0.10")
    _wait_for_draw(page, draws)
    after = page.evaluate(CURVE)
    assert after != before
    # at 100 % of quota: 50,000 x 5 % + 50,000 x 10 % = 7,500 (it was 6,500 at 8 %)
    assert before[20] == 6500 and after[20] == 7500
    assert 'rate: "0.10"' in page.input_value("#plan-source")
    shot(page, "plan-builder-tier-changed")

    # a typo in the text is shown at its line, and the chart waits for a valid plan
    text = page.input_value("#plan-source")
    page.fill("#plan-source", text.replace('rate: "0.10"', "rate: -1"))
    page.wait_for_selector("#problems li")
    assert "must be >= 0" in page.inner_text("#problems")
    assert "line " in page.inner_text("#problems")
    shot(page, "plan-builder-problem")
    page.fill("#plan-source", text)
    page.wait_for_selector("#problems li", state="detached")

    # save and publish
    page.click("#save")
    page.wait_for_selector(".alert.success")
    page.click("#publish-form button[type=submit]")
    page.wait_for_selector("#assign-form")
    assert "Published version 1" in page.inner_text(".alert.success")
    assert "published" in page.inner_text("#version-table")

    # assign it to a node
    page.select_option("#id_holder_kind", "node")
    node = page.eval_on_selector("#id_node", "s => Array.from(s.options).find(o => o.value).value")
    page.select_option("#id_node", node)
    page.fill("#id_target_incentive", "6000")
    page.fill("#id_valid_from", start)
    page.click("#assign-form button[type=submit]")
    page.wait_for_selector("#assignment-table")
    assert "Assigned to team " in page.inner_text(".alert.success")
    row = page.inner_text("#assignment-table")
    assert "Team " in row and "6,000.00 USD" in row.replace("\u00a0", " ")
    shot(page, "plan-assigned-to-a-node")


def test_the_builder_fits_a_390_px_phone(browser, demo_server):
    context = browser.new_context(base_url=demo_server, viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        sign_in(page, "comp@demo.quotient.dev")
        page.goto("/plans/")
        page.click("#plan-table a >> text='Sales Account Executive'")
        page.click("#version-table a >> nth=0")
        _wait_for_draw(page, 0)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page is {width} px wide on a 390 px screen"
        shot(page, "plan-builder-phone")
    finally:
        context.close()


def test_a_failing_test_case_stops_the_publication(browser, demo_server):
    """Save the "try it" sample as a test case, change a tier so it fails, and see publishing
    refused with the difference; the case and builder pages pass axe."""
    from tests.e2e.test_accessibility import serious_violations, with_axe

    context = browser.new_context(base_url=demo_server, viewport={"width": 1280, "height": 900})
    with_axe(context)
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    try:
        sign_in(page, "comp@demo.quotient.dev")
        page.goto("/plans/new/?template=sales_ae")
        page.fill("#id_name", "Sales AE with cases")
        page.fill("#id_code", "sales-ae-cases")
        page.click("#plan-create-form button[type=submit]")
        page.wait_for_selector("#version-status")
        assert "no test cases" in page.inner_text("#cases-summary")
        _wait_for_draw(page, 0)
        page.wait_for_selector("#try-lines tbody tr")

        # "Save as test case": the sample and what the plan pays on it. By hand: alice books
        # 115,000 new business of a 100,000 quota: 2,500 + 4,000 + 15,000 x 12 % = 8,300.00;
        # 24,000 expansion of 20,000: 960 + 4,000 x 4 % x 0.5 = 1,040.00; total 9,340.00
        page.click("#save-as-case")
        page.wait_for_selector("#case-form")
        assert page.input_value("#id_expected_total") == "9340.00"
        assert 'new_business: "8300.00"' in page.input_value("#case-components")
        assert serious_violations(page) == []
        page.fill("#id_name", "Alice on the sample")
        page.click("#case-save")
        page.wait_for_selector("#cases-table")
        assert "all 1 pass" in page.inner_text("#cases-summary")

        # the accelerator from 12 % to 10 %: 15,000 x 10 % = 1,500, 300.00 less
        _wait_for_draw(page, 0)
        draws = _draws(page)
        page.fill("input[name='t0-2-rate']", "0.10")
        _wait_for_draw(page, draws)
        page.click("#save")
        page.wait_for_selector(".alert.success")
        assert "1 of 1 failing" in page.inner_text("#cases-summary")
        assert "fail" in page.inner_text("#cases-table")

        # publishing is refused, with the case and the difference
        page.click("#publish-form button[type=submit]")
        page.wait_for_selector(".alert.error")
        errors = " ".join(page.locator(".alert.error").all_inner_texts())
        assert "Not published: 1 test case(s) fail" in errors
        assert (
            "Case 'Alice on the sample': expected 9,340.00 USD, got 9,040.00 USD (\u2212300.00)"
            in errors
        )
        assert "draft" in page.inner_text("#version-status")
        assert serious_violations(page) == []
        shot(page, "plan-builder-test-case-refused")
    finally:
        context.close()
