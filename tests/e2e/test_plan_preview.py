"""A comp admin opens "Preview on real data" from a draft's builder, previews it on the demo
employee's closed quarter: both sides and their reasons, no serious axe violation, usable on a
390 px phone (screenshots under var/screenshots/)."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import demo_manage, guarded_page, shot
from tests.e2e.personas import scroll_width, sign_in_as
from tests.e2e.test_accessibility import serious_violations, with_axe

pytestmark = pytest.mark.needs_browser


def test_a_comp_admin_previews_a_draft_on_real_data(browser, demo_server, demo_run):
    out = demo_manage("shell", "-c", "from tests.e2e.demo_preview import main; main()").split()
    plan, number = out[-2:]
    with guarded_page(browser, demo_server) as page:
        with_axe(page.context)
        sign_in_as(page, "comp")
        page.goto(f"/plans/{plan}/versions/{number}/")
        page.click("#real-preview-link")
        page.wait_for_selector("#preview-form")
        page.select_option("#id_person", demo_run["person"])
        page.select_option("#id_period", demo_run["period"])
        page.click("#preview-run")
        page.wait_for_load_state("networkidle")
        assert page.locator("#preview-result").count() == 1, page.inner_text("main")[-3000:]
        assert page.locator("#preview-table tbody tr").count() >= 1
        assert page.inner_text("#preview-summary")
        assert page.locator("#preview-traces-draft li").count() >= 1
        assert serious_violations(page) == []
        shot(page, "plan-preview-desktop")
        page.set_viewport_size({"width": 390, "height": 860})
        assert scroll_width(page) <= 390
        shot(page, "plan-preview-phone")
