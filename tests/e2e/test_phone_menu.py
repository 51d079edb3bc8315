"""On a 390 px phone the navigation is one Menu button that opens every link the desktop shows."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import shot, sign_in

pytestmark = [pytest.mark.needs_browser]


def test_the_phone_menu_opens_every_link_and_closes(browser, demo_server):
    context = browser.new_context(base_url=demo_server, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    phone = browser.new_context(base_url=demo_server, viewport={"width": 390, "height": 844})
    small = phone.new_page()
    try:
        sign_in(page, "comp@demo.quotient.dev")
        desktop_links = page.locator("nav#main-nav a").all_inner_texts()
        assert not page.is_visible("[data-nav-toggle]")
        sign_in(small, "comp@demo.quotient.dev")
        assert not small.is_visible("nav#main-nav a >> text='Plans'")
        small.click("[data-nav-toggle]")
        assert small.get_attribute("[data-nav-toggle]", "aria-expanded") == "true"
        visible = [a.inner_text() for a in small.locator("nav#main-nav a").all() if a.is_visible()]
        assert visible == desktop_links and "Plans" in visible
        shot(small, "phone-menu-open")
        small.click("nav#main-nav a >> text='Plans'")
        small.wait_for_url("**/plans/")
        assert not small.is_visible("nav#main-nav a >> text='People'")
        width = small.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page is {width} px wide on a 390 px screen"
    finally:
        context.close()
        phone.close()
