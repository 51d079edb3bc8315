"""Draw a page's HTML in Chromium with the real stylesheet and ask it a question: for tests of
how text breaks at a width (mid-word breaks at 1280 px, a header at 390 px). The database work
comes first: Django refuses queries while Playwright's event loop runs in the thread."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from django.conf import settings

CSS = Path(settings.BASE_DIR) / "static" / "quotient" / "app.css"


def evaluate(html: str, script: str, arg: Any = None, *, width: int = 1280) -> Any:
    """Return ``script`` (a JS function of ``arg``) evaluated on ``html`` drawn ``width`` wide."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=shutil.which("chromium"), args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = chromium.new_page(viewport={"width": width, "height": 860})
            page.set_content(html)
            page.add_style_tag(path=str(CSS))
            return page.evaluate(script, arg)
        finally:
            chromium.close()
