"""What a newcomer meets when they go astray in the demo (DEBUG=true): branded pages, and a clean
data-imports page on a fresh demo."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import shot, sign_in

pytestmark = pytest.mark.needs_browser


def test_an_unknown_or_forbidden_page_is_branded_with_a_way_home(page):
    sign_in(page, "employee@demo.quotient.dev")
    page.wait_for_selector("h1")
    for path in ("/no-such-page/", "/admin/members/"):
        response = page.goto(path)
        assert response.status == 404
        assert page.inner_text("h1") == "Not found"
        assert "Using the URLconf" not in page.content()
        shot(page, f"not-found{path.replace('/', '-').rstrip('-')}")
        page.click("text=Go to your home page")
        page.wait_for_selector("h1")
        assert "Welcome" in page.inner_text("h1")


def test_an_unknown_api_path_is_json(page):
    response = page.goto("/api/v1/no-such-endpoint/")
    assert response.status == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_fresh_demo_shows_every_import_committed_cleanly(page):
    sign_in(page, "comp@demo.quotient.dev")
    page.goto("/data/imports/")
    page.wait_for_selector("h1")
    text = page.inner_text("main")
    assert "Committed with errors" not in text and "Failed" not in text
    shot(page, "imports-fresh-demo")
