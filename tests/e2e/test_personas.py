"""Each persona in headless Chromium: signs in, the figures on her pages equal the API's, she
drills down from earnings to a statement, its line's trace sentence and the transaction behind
it; each step's screenshot at desktop (1280 px) and phone (390 px) width lands in
var/screenshots/ (persona-<persona>-<step>-desktop.png / -phone.png).

The employee's own earnings page and statement are also covered by test_earnings_pages.py;
every page of every persona is checked by axe and for phone width in test_accessibility.py.
One browser and one signed-in context per persona.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import pytest

from tests.e2e.conftest import guarded_page, shot
from tests.e2e.personas import export_batch, scroll_width, sign_in_as, visit

pytestmark = pytest.mark.needs_browser

EVERYONE = ("comp", "finance", "exec", "admin")  # payouts.view: the whole company's roll-up


def api(page: Any, url: str) -> Any:
    """GET ``url`` with the page's session; return the JSON (asserting a 200)."""
    reply = page.evaluate("url => fetch(url).then(r => r.text().then(t => [r.status, t]))", url)
    assert reply[0] == 200, (url, reply)
    return json.loads(reply[1])


def money(amount: str | Decimal, currency: str) -> str:
    """Write an API amount as the pages do: "1,550.00 USD"."""
    return f"{Decimal(amount):,.2f} {currency}"


def text(page: Any, selector: str) -> str:
    return str(page.inner_text(selector)).replace("\u00a0", " ")


def both_widths(page: Any, persona: str, step: str) -> None:
    """Screenshot the page at desktop and at phone width; nothing may be wider than the phone."""
    shot(page, f"persona-{persona}-{step}-desktop")
    page.set_viewport_size({"width": 390, "height": 844})
    if page.locator(".js-plotly-plot").count():
        page.wait_for_timeout(250)  # plotly redraws on resize
    assert scroll_width(page) <= 390, f"{persona} {step} is wider than a 390 px phone"
    shot(page, f"persona-{persona}-{step}-phone")
    page.set_viewport_size({"width": 1280, "height": 860})


def roll_up_equals_the_api(page: Any, persona: str, period: str) -> None:
    """The team roll-up's earned and payable per person equal the statements API's."""
    visit(page, f"/earnings/team/?period={period}")
    page.wait_for_selector("#team")
    rows = page.eval_on_selector_all(
        "#team tbody tr",
        """trs => trs.map(tr => [
            tr.querySelector('a').getAttribute('href').match(/people\\/(\\d+)/)[1],
            tr.querySelector('[data-label=Earned]').innerText.replace(/\\u00a0/g, ' '),
            tr.querySelector('[data-label=Payable]').innerText.replace(/\\u00a0/g, ' ')])""",
    )
    listed = api(page, f"/api/v1/statements/?period={period}&limit=1000")["results"]
    expected = {
        str(s["person_id"]): [money(s["earned"], s["currency"]), money(s["payable"], s["currency"])]
        for s in listed
    }
    me = page.evaluate("document.querySelector('.user-chip').innerText")
    shown = {person: [earned, payable] for person, earned, payable in rows}
    assert shown, f"{persona}'s roll-up is empty"
    # the page leaves the signed-in person out of her own team; the API lists her too
    assert {k: v for k, v in expected.items() if k in shown} == shown, me
    assert len(expected) - len(shown) <= 1
    total = sum(Decimal(e.split()[0].replace(",", "")) for e, _ in shown.values())
    api_total = sum(Decimal(s["earned"]) for s in listed if str(s["person_id"]) in shown)
    assert total == api_total.quantize(Decimal("0.01"))
    both_widths(page, persona, "team")


def member_to_transaction(page: Any, persona: str, demo_run: dict[str, str]) -> None:
    """From the roll-up to the demo employee's page, her statement, the line's trace sentence
    and the transactions behind it: each figure as the API gives it."""
    period, person, line = demo_run["period"], demo_run["person"], demo_run["line"]
    page.click(f"#team a[href^='/earnings/people/{person}/']")
    page.wait_for_selector("#earnings-stats")
    key = f"{period}-{person}"
    statement = api(page, f"/api/v1/statements/{key}/")
    assert text(page, "#period-earned") == money(
        statement["totals"]["earned"], statement["currency"]
    )
    both_widths(page, persona, "member")
    page.click("a:has-text('Statement and why')")
    statement_to_transaction(page, persona, statement, key, line, demo_run["external"])


def statement_to_transaction(
    page: Any, persona: str, statement: dict[str, Any], key: str, line: str, external: str
) -> None:
    page.wait_for_url(f"**/earnings/statements/{key}/")
    page.wait_for_selector("#lines")
    for total in ("earned", "payable"):
        shown = text(page, f"#totals [data-total={total}] td.num")
        assert shown == money(statement["totals"][total], statement["currency"]), total
    traces = text(page, "#lines")
    for each in statement["lines"]:
        assert each["trace_text"] and each["trace_text"] in traces
    both_widths(page, persona, "statement")
    page.click(f"#lines a[href$='/earnings/lines/{line}/']")
    page.wait_for_selector("#contributions")
    drill = api(page, f"/api/v1/statements/lines/{line}/")
    assert drill["trace_text"] in text(page, ".trace")
    contributions = text(page, "#contributions")
    assert external in contributions
    assert {c["transaction"] for c in drill["contributions"]} <= set(
        re.findall(r"[A-Z]{2,4}-\d+", contributions)
    )
    both_widths(page, persona, "line")
    if page.locator(f"#contributions a:has-text('{external}')").count():
        page.click(f"#contributions a:has-text('{external}')")
        page.wait_for_selector("text=Who got credit, and why")
        assert external in text(page, "main")
        both_widths(page, persona, "transaction")


def test_the_employee_reads_her_earnings_down_to_the_transaction(browser, demo_server, demo_run):
    with guarded_page(browser, demo_server) as page:
        sign_in_as(page, "employee")
        both_widths(page, "employee", "home")
        period, person = demo_run["period"], demo_run["person"]
        visit(page, f"/earnings/?period={period}")
        key = f"{period}-{person}"
        statement = api(page, f"/api/v1/statements/{key}/")
        assert text(page, "#period-earned") == money(
            statement["totals"]["earned"], statement["currency"]
        )
        assert text(page, "#period-payable") == money(
            statement["totals"]["payable"], statement["currency"]
        )
        both_widths(page, "employee", "earnings")
        page.click("a:has-text('Statement and why')")
        statement_to_transaction(
            page, "employee", statement, key, demo_run["line"], demo_run["external"]
        )
        # the statements API lists hers
        assert api(page, "/api/v1/statements/")["count"] >= 1


def test_the_manager_sees_her_team_and_drills_into_a_member(browser, demo_server, demo_run):
    with guarded_page(browser, demo_server) as page:
        sign_in_as(page, "manager")
        roll_up_equals_the_api(page, "manager", demo_run["period"])
        member_to_transaction(page, "manager", demo_run)


@pytest.mark.parametrize("persona", EVERYONE)
def test_the_company_wide_personas_roll_up_and_drill_down(persona, browser, demo_server, demo_run):
    with guarded_page(browser, demo_server) as page:
        sign_in_as(page, persona)
        both_widths(page, persona, "home")
        roll_up_equals_the_api(page, persona, demo_run["period"])
        member_to_transaction(page, persona, demo_run)
        if persona == "comp":
            a_run_equals_the_api(page, demo_run["period"])
        if persona == "finance":
            an_export_batch_equals_the_api(page, demo_run)


def a_run_equals_the_api(page: Any, period: str) -> None:
    """The run page's totals by plan add up to the run's line count and totals in the API."""
    visit(page, f"/runs/?period={period}")
    href = page.get_attribute("#run-table a[href^='/runs/']", "href")
    assert href and re.match(r"^/runs/\d+/$", href), href
    visit(page, href)
    run = api(page, f"/api/v1{href}")
    lines = page.eval_on_selector_all(
        "#totals tbody tr [data-label=Lines]", "tds => tds.map(td => Number(td.innerText))"
    )
    assert sum(lines) == run["line_count"]
    both_widths(page, "comp", "run")


def an_export_batch_equals_the_api(page: Any, demo_run: dict[str, str]) -> None:
    """Finance exports the demo employee's approved quarter: the batch page's lines and totals
    are the API's."""
    export_batch(page, demo_run)
    batch_id = page.url.rstrip("/").rsplit("/", 1)[1]
    batch = api(page, f"/api/v1/export-batches/{batch_id}/")
    stats = text(page, "main .grid")
    assert f"Lines\n{batch['line_count']}" in stats
    for currency, total in batch["totals"].items():
        assert f"Total {currency}\n{money(total, currency).split()[0]}" in stats
    both_widths(page, "finance", "export-batch")
