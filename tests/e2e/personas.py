"""The demo's personas and the pages each one reaches, for the browser tests that walk every
page of every persona (test_accessibility.py, test_personas.py).

A persona's pages are the links of her navigation, plus the first detail page of each kind
linked from those pages (a plan, a run, a period close, an export batch, a person, a
transaction, a statement, a line...), so a new page in the navigation is walked without
touching these tests.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from tests.e2e.conftest import sign_in

PERSONAS = ("employee", "manager", "comp", "finance", "exec", "admin")

# Detail pages worth opening once per persona: the first link of each kind found on her pages.
DETAIL_KINDS = {
    "plan": re.compile(r"^/plans/\d+/$"),
    "plan version": re.compile(r"^/plans/\d+/versions/\d+/$"),
    "plan test case": re.compile(r"^/plans/\d+/versions/\d+/cases/\d+/$"),
    "quota": re.compile(r"^/plans/quotas/\d+/$"),
    "run": re.compile(r"^/runs/\d+/$"),
    "period close": re.compile(r"^/periods/\d+/close/$"),
    "export batch": re.compile(r"^/exports/\d+/$"),
    "person": re.compile(r"^/people/\d+/$"),
    "member earnings": re.compile(r"^/earnings/people/\d+/"),
    "statement": re.compile(r"^/earnings/statements/\d+-\d+/$"),
    "line": re.compile(r"^/earnings/lines/\d+/$"),
    "transaction": re.compile(r"^/data/transactions/\d+/$"),
    "data import": re.compile(r"^/data/imports/\d+/$"),
    "hr import": re.compile(r"^/imports/\d+/$"),
}
SKIP = re.compile(r"^/api/|/download/|\.(csv|xlsx|pdf)$")


def email(persona: str) -> str:
    return f"{persona}@demo.quotient.dev"


def sign_in_as(page: Any, persona: str) -> None:
    sign_in(page, email(persona))
    assert "/login/" not in page.url, f"{persona} could not sign in"


def nav_urls(page: Any) -> list[str]:
    """Return the links of the signed-in persona's navigation (the API docs left out)."""
    hrefs: list[str] = page.eval_on_selector_all(
        "nav#main-nav a", "els => els.map(e => e.getAttribute('href'))"
    )
    return [h for h in dict.fromkeys(hrefs) if h and not SKIP.search(h)]


def links(page: Any) -> list[str]:
    """Return the same-site links of the page's main content, without their query."""
    hrefs: list[str] = page.eval_on_selector_all(
        "main a[href^='/']", "els => els.map(e => e.getAttribute('href'))"
    )
    return [h for h in hrefs if not SKIP.search(h)]


def pick_details(found: dict[str, str], hrefs: list[str]) -> None:
    """Add to ``found`` the first link of each detail kind not found yet."""
    for href in hrefs:
        path = href.split("?")[0]
        for kind, pattern in DETAIL_KINDS.items():
            if kind not in found and pattern.match(path):
                found[kind] = href


def walk(page: Any, extra: tuple[str, ...] = ()) -> Iterator[tuple[str, str]]:
    """Open every page of the signed-in persona in turn: her navigation, ``extra``, then the
    first detail page of each kind linked from any of them; yield ``(name, url)`` once each
    page has loaded."""
    found: dict[str, str] = {}
    seen: set[str] = set()
    for url in [*nav_urls(page), *extra]:
        visit(page, url)
        seen.add(url.split("?")[0])
        pick_details(found, links(page))
        yield slug(url), url
    done: set[str] = set()
    while pending := [kind for kind in found if kind not in done]:
        kind = pending[0]
        done.add(kind)
        if found[kind].split("?")[0] in seen:
            continue
        visit(page, found[kind])
        seen.add(found[kind].split("?")[0])
        pick_details(found, links(page))
        yield slug(kind), found[kind]


def visit(page: Any, url: str) -> None:
    response = page.goto(url)
    assert response is not None and response.status == 200, (url, response and response.status)
    page.wait_for_load_state()


def scroll_width(page: Any) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth"))


def slug(url: str) -> str:
    """Return a file-name-safe name for ``url`` ("/earnings/team/" → "earnings-team")."""
    return re.sub(r"[^a-z0-9]+", "-", url.lower()).strip("-") or "home"


def export_batch(page: Any, demo_run: dict[str, str]) -> str:
    """As finance, export the demo employee's approved quarter (or find the batch a test made
    before on this server); return the batch page's URL, the page left on it."""
    period, person = demo_run["period"], demo_run["person"]
    visit(page, f"/exports/?periods={period}&person={person}&format=csv")
    if page.locator("#export-create-form").count():
        page.click("#export-create-form button[type=submit]")
        page.wait_for_url(re.compile(r".*/exports/\d+/$"))
    else:  # another test exported it already
        visit(page, "/exports/")
        page.click("#batch-table a >> nth=0")
        page.wait_for_url(re.compile(r".*/exports/\d+/$"))
    return "/" + page.url.split("/", 3)[3]
