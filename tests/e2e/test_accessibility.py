"""Every page of every persona, in headless Chromium: axe-core finds no serious or critical
violation, nothing is wider than a 390 px phone, and a screenshot of the page at desktop
(1280 px) and phone (390 px) width is saved under var/screenshots/pages/
(<persona>-<page>-desktop.jpg, -phone.jpg).

A persona's pages are every link of her navigation plus the first detail page of each kind
linked from them (a plan, a run, a period close, an export batch, a person, a transaction, a
statement, a line...: tests/e2e/personas.py). axe-core is the script axe-playwright-python
ships in its wheel, injected into each page by the browser context: nothing is fetched.
One browser and one signed-in context per persona.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.conftest import SHOTS, demo_manage, guarded_page
from tests.e2e.personas import PERSONAS, export_batch, scroll_width, sign_in_as, walk

pytestmark = pytest.mark.needs_browser

# WCAG 2.1 A and AA, and axe's best practices; only serious and critical findings fail.
AXE_OPTIONS = {
    "resultTypes": ["violations"],
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"],
    },
}
# A long table's rows come from one template: axe reads the first 10 of each (the 320-row
# roll-up took 9 s to check whole, about one with this).
AXE_CONTEXT = {"exclude": ["table tbody tr:nth-child(n+11)"]}
FAILING = {"serious", "critical"}
PHONE, DESKTOP = 390, 1280
TALLEST_SHOT = 4000  # px: a 320-row table's screenshot says nothing more past this


def with_axe(context: Any) -> None:
    """Have every page of ``context`` load axe-core before its own scripts."""
    from axe_playwright_python.base import AXE_FILE_PATH

    context.add_init_script(path=str(AXE_FILE_PATH))


def serious_violations(page: Any) -> list[str]:
    """Run axe on the page; return one line per serious or critical violation."""
    results = page.evaluate(f"axe.run({json.dumps(AXE_CONTEXT)}, {json.dumps(AXE_OPTIONS)})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {len(v['nodes'])}x, e.g. "
        f"{v['nodes'][0]['target']} {v['nodes'][0]['html'][:160]}"
        for v in results["violations"]
        if v["impact"] in FAILING
    ]


def page_shot(page: Any, name: str) -> None:
    """Save the page (its first TALLEST_SHOT px) as var/screenshots/pages/<name>.jpg."""
    folder = SHOTS / "pages"
    folder.mkdir(parents=True, exist_ok=True)
    width = int(page.viewport_size["width"])
    height = min(int(page.evaluate("document.documentElement.scrollHeight")), TALLEST_SHOT)
    page.screenshot(  # JPEG: half the time of a PNG, and these are for looking at
        path=str(folder / f"{name}.jpg"),
        type="jpeg",
        quality=75,
        full_page=True,
        clip={"x": 0, "y": 0, "width": width, "height": height},
    )


def resize(page: Any, width: int) -> None:
    """Change the viewport's width and let the page follow (plotly redraws on resize)."""
    page.set_viewport_size({"width": width, "height": 860})
    if page.locator(".js-plotly-plot").count():
        page.wait_for_timeout(250)


def extra_pages(persona: str, demo_run: dict[str, str]) -> tuple[str, ...]:
    """Pages a persona reaches other than through her navigation's pages."""
    if persona == "employee":
        key = f"{demo_run['period']}-{demo_run['person']}"
        return (f"/earnings/statements/{key}/", f"/earnings/lines/{demo_run['line']}/")
    if persona == "manager":  # the closed quarter, whose roll-up is final
        return (f"/earnings/team/?period={demo_run['period']}",)
    if persona == "comp":  # the runs of the closed quarter (the list opens on this month)
        # and a draft of the demo employee's plan previewed on her closed quarter
        out = demo_manage("shell", "-c", "from tests.e2e.demo_preview import main; main()")
        plan, number = out.split()[-2:]
        preview = (
            f"/plans/{plan}/versions/{number}/real-data/"
            f"?person={demo_run['person']}&period={demo_run['period']}"
        )
        return (f"/runs/?period={demo_run['period']}", preview)
    return ()


def test_the_sign_in_page_has_no_serious_violations(browser, demo_server):
    with guarded_page(browser, demo_server) as page:
        with_axe(page.context)
        page.goto("/login/")
        assert serious_violations(page) == []
        page_shot(page, "login-desktop")


@pytest.mark.parametrize("persona", PERSONAS)
def test_every_page_of(persona, browser, demo_server, demo_run):
    """axe finds 0 serious/critical violations, no page is wider than a phone, screenshots."""
    violations: dict[str, list[str]] = {}
    too_wide: dict[str, int] = {}
    seen: list[str] = []
    with guarded_page(browser, demo_server, width=DESKTOP) as page:
        with_axe(page.context)
        sign_in_as(page, persona)
        extra = extra_pages(persona, demo_run)
        if persona == "finance":  # an export batch to open (made here or by test_personas)
            extra = (*extra, export_batch(page, demo_run))
        for name, url in walk(page, extra):
            seen.append(url)
            found = serious_violations(page)
            if found:
                violations[url] = found
            page_shot(page, f"{persona}-{name}-desktop")
            resize(page, PHONE)
            if (width := scroll_width(page)) > PHONE:
                too_wide[url] = width
            page_shot(page, f"{persona}-{name}-phone")
            resize(page, DESKTOP)
    assert len(seen) >= 4, f"{persona} reached too few pages: {seen}"
    assert violations == {}, "\n".join(
        f"{url}\n  " + "\n  ".join(lines) for url, lines in violations.items()
    )
    assert too_wide == {}, f"wider than a {PHONE} px phone: {too_wide}"


def test_long_unbroken_text_wraps_inside_its_card(browser, demo_server, demo_run):
    """A 3,000-character word (an id, a URL, a pasted note) in a table cell, a card's text and a
    heading leaves the page as wide as the screen: it wraps inside its card."""
    word = "x" * 3000
    with guarded_page(browser, demo_server, width=DESKTOP) as page:
        sign_in_as(page, "employee")
        page.goto(f"/earnings/statements/{demo_run['period']}-{demo_run['person']}/")
        page.evaluate(
            """word => {
                document.querySelector('#lines tbody td').append(word);
                document.querySelector('.card').append(word);
                document.querySelector('h1').append(word);
            }""",
            word,
        )
        for width in (DESKTOP, PHONE):
            resize(page, width)
            assert scroll_width(page) <= width, f"a long word widens the page at {width} px"
        page_shot(page, "long-text-phone")
