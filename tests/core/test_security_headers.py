"""Deployment hardening (hole 9 of issue #8): Content-Security-Policy, no-store on everything
that can carry pay, no inline script without the response's nonce."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.services import api_client_create
from core.tenancy import tenant_scope

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_DIRS = [ROOT / "templates", *ROOT.glob("*/templates")]


def _csp(response) -> dict[str, str]:
    policy = response["Content-Security-Policy"]
    return {d.split()[0]: d.strip() for d in policy.split(";") if d.strip()}


def test_pages_carry_a_policy_that_allows_only_this_sites_scripts(client_alice):
    response = client_alice.get("/")
    policy = _csp(response)
    assert policy["default-src"] == "default-src 'self'"
    assert re.fullmatch(r"script-src 'self' 'nonce-[A-Za-z0-9_-]{16,}'", policy["script-src"])
    assert policy["object-src"] == "object-src 'none'"
    assert policy["frame-ancestors"] == "frame-ancestors 'none'"
    assert "unsafe-inline" not in policy["script-src"] and "unsafe-eval" not in str(policy)
    assert "http" not in response["Content-Security-Policy"]  # no CDN, no other host


def test_each_response_gets_its_own_nonce_and_inline_scripts_carry_it(client_alice):
    first, second = client_alice.get("/data/imports/"), client_alice.get("/data/imports/")
    assert first.status_code == 200
    nonces = [_nonce(r) for r in (first, second)]
    assert nonces[0] != nonces[1]
    # The import pages' behaviour (upload progress, polling) lives in app.js, so they need no
    # inline script; any page that has one must carry this response's nonce.
    assert b'src="/static/quotient/app.js"' in first.content
    inline = re.findall(rb"<script(?![^>]*\bsrc=)([^>]*)>", first.content)
    assert all(f'nonce="{nonces[0]}"'.encode() in attrs for attrs in inline)


def _nonce(response) -> str:
    return re.search(r"'nonce-([^']+)'", response["Content-Security-Policy"]).group(1)


def _template_files() -> list[Path]:
    return [p for d in TEMPLATE_DIRS for p in d.rglob("*.html")]


def test_no_template_has_an_inline_event_handler_or_an_inline_script_without_the_nonce():
    handler = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)
    script = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
    offenders = []
    for path in _template_files():
        text = path.read_text()
        name = path.relative_to(ROOT)
        offenders += [f"{name}: {m.group(0)[:60]}" for m in handler.finditer(text)]
        offenders += [
            f"{path.relative_to(ROOT)}: {m.group(0)}"
            for m in script.finditer(text)
            if "request.csp_nonce" not in m.group(0)
        ]
    assert len(_template_files()) > 20
    assert offenders == []


def test_the_api_docs_have_no_inline_script(client, db):
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert not re.findall(rb"<script(?![^>]*\bsrc=)[^>]*>", docs.content)
    script = re.search(rb'<script src="([^"]*\?[^"]*script[^"]*)"', docs.content).group(1)
    js = client.get(script.decode().replace("&amp;", "&"))
    assert js.status_code == 200 and b"SwaggerUIBundle" in js.content


@pytest.mark.parametrize("path", ["/", "/people/", "/admin/members/", "/data/imports/", "/login/"])
def test_pages_may_not_be_stored_by_a_browser_or_proxy(client_alice, path):
    response = client_alice.get(path)
    assert response.status_code in {200, 302}
    assert "no-store" in response["Cache-Control"]


def test_api_responses_that_carry_pay_may_not_be_stored(client, tenant_a, alice):
    with tenant_scope(tenant_a):
        issued = api_client_create(name="payroll", scopes=["read:people"], created_by_id=None)
    response = client.get("/api/v1/people/", HTTP_AUTHORIZATION=f"Bearer {issued.token}")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    error = client.get("/api/v1/people/", HTTP_AUTHORIZATION="Bearer qtk_bad_token")
    assert "no-store" in error["Cache-Control"]


def test_static_files_keep_their_caching(client, db):
    response = client.get("/static/quotient/app.css")
    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")
