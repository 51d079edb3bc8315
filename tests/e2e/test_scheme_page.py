"""The comp admin opens the scheme view from her navigation: the map is drawn (plotly, served
locally), the dependency table says each edge in words, and at 390 px nothing scrolls sideways;
screenshots at desktop and phone width."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import guarded_page, shot, sign_in

pytestmark = pytest.mark.needs_browser


def test_the_comp_admin_reads_the_scheme_on_desktop_and_phone(browser, demo_server):
    with guarded_page(browser, demo_server) as page:
        sign_in(page, "comp@demo.quotient.dev")
        page.click("nav >> text=Scheme")
        page.wait_for_selector("#scheme-plans")
        # the demo's launch milestone is shared by two teams: an edge per team
        edges = page.inner_text("#scheme-edges")
        assert "Shared milestone" in edges and "must hit its" in edges
        page.wait_for_selector("#scheme-chart[data-drawn=true]")
        assert page.locator("#scheme-chart .sankey").count() == 1
        plans = page.locator("#scheme-plans tbody tr").count()
        assert plans >= 8
        shot(page, "scheme-desktop")
        page.set_viewport_size({"width": 390, "height": 844})
        page.wait_for_timeout(250)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the scheme scrolls sideways ({width} px)"
        shot(page, "scheme-phone")
        # a date before any plan: the empty state
        page.fill("#scheme-day", "2000-01-01")
        page.click("#scheme-date button")
        page.wait_for_selector("#scheme-empty")
