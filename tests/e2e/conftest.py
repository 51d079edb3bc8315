"""Browser tests: a real server on a fresh demo database, driven by Playwright in Chromium.

The server runs in a subprocess exactly as `make demo` runs it (migrate, the demo seeds, runserver)
on a throwaway SQLite file, so these tests see what a new user sees.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "var" / "screenshots"  # gitignored; CI leaves them in its clone
CHROMIUM = "/usr/bin/chromium"
# The demo server's environment, so a test can run manage.py against the same database.
DEMO_ENV: dict[str, str] = {}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not Path(CHROMIUM).exists():
        pytest.skip("needs Chromium: apt-get install chromium")
    var = tmp_path_factory.mktemp("e2e-var")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "DATABASE_OWNER_URL", "REDIS_URL"}
    }
    env.update(
        {
            "DEBUG": "true",
            "VAR_DIR": str(var),
            "DJANGO_SETTINGS_MODULE": "config.settings.base",
            "QUOTIENT_ENV_FILE": "/dev/null",
        }
    )
    DEMO_ENV.clear()
    DEMO_ENV.update(env)
    # A demo server already running (QUOTIENT_E2E_SERVER=http://127.0.0.1:8000 and its VAR_DIR
    # in QUOTIENT_E2E_VAR_DIR) saves the minute of seeding while writing a browser test.
    if reuse := os.environ.get("QUOTIENT_E2E_SERVER"):
        DEMO_ENV["VAR_DIR"] = os.environ["QUOTIENT_E2E_VAR_DIR"]
        yield reuse
        return
    manage = [sys.executable, str(ROOT / "manage.py")]
    for command in (
        ["migrate", "--no-input", "-v", "0"],
        ["demo_seed", "--quiet"],
        ["incentives_demo_seed", "--tenant", "demo"],
        ["plans_demo_seed", "--tenant", "demo"],
        ["payouts_demo_seed", "--tenant", "demo"],
    ):
        subprocess.run(manage + command, cwd=ROOT, env=env, check=True, timeout=600)
    port = _free_port()
    log = (var / "server.log").open("w")
    server = subprocess.Popen(
        [*manage, "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=2)  # noqa: S310 (loopback)
            break
        except OSError:
            time.sleep(0.3)
    else:
        server.kill()
        raise RuntimeError((var / "server.log").read_text()[-2000:])
    try:
        yield base
    finally:
        server.terminate()
        server.wait(timeout=20)


@pytest.fixture
def browser() -> Iterator[Any]:
    # Per test, not per session: Playwright's sync API keeps an asyncio loop running in this
    # thread while it is open, and Django then refuses every database call made outside a
    # test's own connection handling (SynchronousOnlyOperation) — in whichever test xdist
    # happens to run next on this worker.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, demo_server: str) -> Iterator[Any]:
    with guarded_page(browser, demo_server) as page:
        yield page


@contextmanager
def guarded_page(browser: Any, base: str, *, width: int = 1280) -> Iterator[Any]:
    """Open a page in a new context that may reach only ``base``; on leaving, assert it tried
    no other host and the Content-Security-Policy refused nothing."""
    demo_server = base
    context = browser.new_context(base_url=demo_server, viewport={"width": width, "height": 860})
    blocked: list[str] = []

    def guard(route: Any) -> None:
        # No network beyond this server: any other host is a defect (CDN, fonts, analytics).
        if route.request.url.startswith(demo_server):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    # The Content-Security-Policy must never block anything our own pages do.
    refused: list[str] = []
    page.on(
        "console",
        lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None,
    )
    try:
        yield page
    finally:
        context.close()
    assert blocked == [], f"the page tried to reach other hosts: {blocked}"
    assert refused == [], f"the Content-Security-Policy refused: {refused}"


def demo_manage(*args: str) -> str:
    """Run ``manage.py`` with ``args`` against the demo server's database; return its output."""
    assert DEMO_ENV, "the demo_server fixture starts first"
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=DEMO_ENV,
        check=False,
        timeout=300,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def shot(page: Any, name: str) -> None:
    """Save a screenshot for people to look at (var/screenshots/)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def sign_in(page: Any, email: str, password: str = "quotient-demo") -> None:
    page.goto("/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()  # the next page, its scripts included


@pytest.fixture(scope="session")
def demo_run(demo_server: str) -> dict[str, Any]:
    """The demo's ids the browser tests open: the closed quarter, the demo employee, her line
    with the most credits, one transaction behind it, the open quarter (demo_statement.py)."""
    out = demo_manage("shell", "-c", "from tests.e2e.demo_statement import main; main()").split()
    period, person, line, external, live = out[-5:]
    return {"period": period, "person": person, "line": line, "external": external, "live": live}
