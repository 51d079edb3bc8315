"""A new user's first minutes: sign in, look around, manage members and API clients."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import shot, sign_in

pytestmark = pytest.mark.needs_browser


def test_each_persona_signs_in_and_sees_a_home_for_their_role(page):
    for email, expected in [
        ("employee@demo.quotient.dev", "Employee"),
        ("manager@demo.quotient.dev", "Manager"),
        ("finance@demo.quotient.dev", "Finance"),
        ("exec@demo.quotient.dev", "Executive"),
        ("comp@demo.quotient.dev", "Comp admin"),
        ("admin@demo.quotient.dev", "Tenant admin"),
    ]:
        sign_in(page, email)
        page.wait_for_selector("h1")
        assert "Welcome" in page.inner_text("h1")
        assert expected in page.inner_text(".user-chip")
        shot(page, f"home-{expected.lower().replace(' ', '-')}")
        page.click("text=Sign out")
        page.wait_for_url("**/login/**")


def test_a_wrong_password_shows_an_error_and_the_login_page_looks_right(page):
    sign_in(page, "employee@demo.quotient.dev", "not-the-password")
    assert "didn't match" in page.inner_text(".alert.error")
    shot(page, "login-error")


def test_tenant_admin_invites_a_member_and_creates_an_api_client(page):
    sign_in(page, "admin@demo.quotient.dev")
    page.click("nav >> text=Members")
    assert "Northwind" in page.inner_text(".subtitle")  # the tenant joined first
    page.fill("#id_email", "new.hire@demo.quotient.dev")
    page.fill("#id_full_name", "Nina Newhire")
    page.click("button:has-text('Send invitation')")
    assert "Invited new.hire@demo.quotient.dev" in page.inner_text(".alert.success")
    assert "Nina Newhire" in page.inner_text("table.data")
    shot(page, "members")

    page.click("nav >> text=API clients")
    page.fill("#id_name", "Payroll export")
    page.check("input[value='read:payouts']")
    page.click("button:has-text('Create and show token')")
    token = page.inner_text("#new-token")
    assert re.fullmatch(r"qtk_[0-9a-f]+_[A-Za-z0-9_-]+", token)
    shot(page, "api-client-created")
    # the token works against the API, from outside the browser session
    response = page.request.get("/api/v1/me/", headers={"Authorization": f"Bearer {token}"})
    assert response.status == 200
    assert response.json()["scopes"] == ["read:payouts"]

    page.click("nav >> text=Audit log")
    text = page.inner_text("table.data")
    assert "api_client.create" in text and "membership.invite" in text
    shot(page, "audit-log")


def test_the_tenant_switcher_changes_the_working_tenant(page):
    sign_in(page, "admin@demo.quotient.dev")
    page.select_option("select[name=tenant]", "globex")
    page.wait_for_selector(".alert.success")
    assert "Globex" in page.inner_text(".subtitle")
    shot(page, "tenant-switched")
    page.select_option("select[name=tenant]", "demo")
    page.wait_for_selector(".alert.success")


def test_api_docs_render_from_local_assets(page):
    page.goto("/api/docs/")
    page.wait_for_selector(".swagger-ui .info", timeout=20000)
    assert "Quotient API" in page.inner_text(".swagger-ui .info")
    shot(page, "api-docs")
