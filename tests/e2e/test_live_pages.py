"""Live pages in the browser: the employee's earnings page shows a new figure after her pay
changes, without a reload (live.js polls with If-None-Match; the server answers 304 until a
change, then the page whose live blocks are swapped in)."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import demo_manage, shot, sign_in

pytestmark = pytest.mark.needs_browser


def test_the_earnings_figure_changes_without_a_reload(page, demo_server):
    sign_in(page, "employee@demo.quotient.dev")
    page.goto("/earnings/")
    page.wait_for_selector("#live-earnings #period-earned")
    before = page.inner_text("#period-earned")
    page.evaluate("window.__sameDocument = true")
    statuses: list[int] = []
    page.on(
        "response",
        lambda r: statuses.append(r.status) if r.request.headers.get("x-quotient-live") else None,
    )
    page.wait_for_timeout(7000)  # a few polls with nothing changed
    assert 304 in statuses
    # when her pay changes (two meetings imported, the quarter calculated again)
    demo_manage("shell", "-c", "from tests.e2e.demo_live_change import main; main()")
    # then the figure on the page moves within the 5 s the pages promise (+ a poll's slack)
    page.wait_for_function(
        "before => document.querySelector('#period-earned').innerText !== before",
        arg=before,
        timeout=10_000,
    )
    assert page.evaluate("window.__sameDocument") is True  # no reload happened
    assert page.inner_text("#period-earned") != before
    assert "Figures updated." in page.inner_text("[data-live-status]")
    shot(page, "earnings-live-updated")
