"""Browser auth and the foundation's pages: sign-in limits, reset, tenant switch, admin pages."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

import pytest
import time_machine
from django.contrib.auth import get_user_model

from core import services
from core.models import ApiClient, AuditEvent, Membership, Role, Tenant
from core.tenancy import tenant_scope
from tests.factories.hierarchy import MembershipFactory
from tests.tenancy import assert_not_found

NOW = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


def _login(client, email, password="password", ip="10.0.0.1"):
    return client.post("/login/", {"username": email, "password": password}, REMOTE_ADDR=ip)


def test_a_member_signs_in_with_email_and_sees_their_tenant(client, alice):
    response = _login(client, "ALICE@acme.test")
    assert response.status_code == 302 and response["Location"] == "/"
    home = client.get("/")
    assert home.status_code == 200
    assert b"Acme Corp" in home.content


def test_a_wrong_password_shows_a_clear_error(client, alice):
    response = _login(client, "alice@acme.test", "wrong")
    assert response.status_code == 200
    assert b"didn&#x27;t match" in response.content or b"didn't match" in response.content


def test_five_failures_for_one_user_block_sign_in_with_429_until_the_window_passes(client, alice):
    with time_machine.travel(NOW, tick=False) as traveller:
        statuses = [
            _login(client, "alice@acme.test", "wrong", ip=f"10.0.0.{i}").status_code
            for i in range(5)
        ]
        assert statuses == [200, 200, 200, 200, 429]
        # even the right password is refused while blocked
        blocked = _login(client, "alice@acme.test", ip="10.9.9.9")
        assert blocked.status_code == 429
        assert int(blocked["Retry-After"]) > 0
        assert b"Too many failed sign-in attempts" in blocked.content
        traveller.shift(dt.timedelta(minutes=14))
        assert _login(client, "alice@acme.test", ip="10.9.9.9").status_code == 429
        traveller.shift(dt.timedelta(minutes=1, seconds=1))
        assert _login(client, "alice@acme.test", ip="10.9.9.9").status_code == 302


def test_sign_out_needs_post_and_ends_the_session(client_alice):
    assert client_alice.post("/logout/").status_code in {200, 302}
    assert client_alice.get("/")["Location"].startswith("/login/")


def test_password_reset_by_email_sets_a_new_password(client, alice, mailoutbox):
    response = client.post("/password-reset/", {"email": "alice@acme.test"})
    assert response.status_code == 302
    assert len(mailoutbox) == 1
    link = re.search(r"http://[^/]+(/reset/\S+)", mailoutbox[0].body).group(1)
    form = client.get(link, follow=True)
    assert form.status_code == 200
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "a-New-pass-2026", "new_password2": "a-New-pass-2026"},
    )
    assert done.status_code == 302
    assert client.get(done["Location"]).status_code == 200
    assert get_user_model().objects.get(email="alice@acme.test").check_password("a-New-pass-2026")


def test_password_reset_for_an_unknown_email_reveals_nothing(client, db, mailoutbox):
    response = client.post("/password-reset/", {"email": "nobody@example.com"})
    assert response.status_code == 302 and len(mailoutbox) == 0


@pytest.mark.covers_url("tenant_switch", "home")
def test_a_user_of_two_tenants_switches_and_cannot_switch_into_a_foreign_one(
    client_alice, alice, tenant_b
):
    MembershipFactory(user=alice, tenant=TenantFactoryOther(), roles=[Role.EMPLOYEE])
    response = client_alice.post("/tenant/switch/", {"tenant": "initech"})
    assert response.status_code == 302
    assert b"Initech" in client_alice.get("/").content
    assert_not_found(client_alice.post("/tenant/switch/", {"tenant": "globex"}))
    assert_not_found(client_alice.post("/tenant/switch/", {"tenant": "nope"}))


def TenantFactoryOther():  # noqa: N802
    from tests.factories.hierarchy import TenantFactory

    return TenantFactory(slug="initech", name="Initech")


def test_a_user_without_an_active_membership_sees_a_clear_page(client, bob):
    Membership.objects.filter(user=bob).update(is_active=False)
    client.force_login(bob)
    response = client.get("/")
    assert response.status_code == 404
    assert b"not an active member" in response.content


@pytest.mark.covers_url("members", "member_update")
def test_tenant_admin_invites_and_deactivates_members_in_pages(
    client_alice, client_charlie, tenant_a, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_alice.post(
            "/admin/members/",
            {"email": "erin@acme.test", "full_name": "Erin Ek", "roles": ["employee"]},
        )
    assert response.status_code == 302
    assert len(mailoutbox) == 1
    membership = Membership.objects.get(user__email="erin@acme.test")
    page = client_alice.get("/admin/members/")
    assert b"erin@acme.test" in page.content
    client_alice.post(
        f"/admin/members/{membership.pk}/",
        {"action": "roles", f"m{membership.pk}-roles": ["manager"]},
    )
    membership.refresh_from_db()
    assert membership.roles == ["manager"]
    client_alice.post(f"/admin/members/{membership.pk}/", {"action": "deactivate"})
    membership.refresh_from_db()
    assert membership.is_active is False
    # another tenant's admin: not found, nothing changed
    assert b"erin@acme.test" not in client_charlie.get("/admin/members/").content
    assert_not_found(
        client_charlie.post(f"/admin/members/{membership.pk}/", {"action": "activate"})
    )
    membership.refresh_from_db()
    assert membership.is_active is False


def test_employees_do_not_see_admin_pages(client, bob):
    client.force_login(bob)
    for url in ("/admin/members/", "/admin/api-clients/", "/admin/audit/"):
        assert_not_found(client.get(url))


@pytest.mark.covers_url("api_clients", "api_client_revoke")
def test_api_client_token_is_shown_once_and_revocable_in_pages(
    client_alice, client_charlie, tenant_a
):
    response = client_alice.post(
        "/admin/api-clients/", {"name": "AcmeBridge", "scopes": ["read:payouts"]}
    )
    assert response.status_code == 200
    token = re.search(rb"qtk_[0-9a-f]+_[A-Za-z0-9_-]+", response.content).group(0).decode()
    assert response["Cache-Control"] == "no-store"
    again = client_alice.get("/admin/api-clients/")
    assert token.encode() not in again.content
    client_obj = ApiClient.objects.get(name="AcmeBridge")
    assert_not_found(client_charlie.post(f"/admin/api-clients/{client_obj.pk}/revoke/"))
    assert b"AcmeBridge" not in client_charlie.get("/admin/api-clients/").content
    client_alice.post(f"/admin/api-clients/{client_obj.pk}/revoke/")
    client_obj.refresh_from_db()
    assert client_obj.revoked_at is not None


@pytest.mark.covers_url("audit_log")
def test_audit_log_page_shows_own_tenant_events_only(client_alice, client_charlie, tenant_a):
    with tenant_scope(tenant_a):
        services.api_client_create(name="Ledger sync", scopes=["read:payouts"], created_by_id=None)
    assert b"Ledger sync" in client_alice.get("/admin/audit/").content
    assert b"Ledger sync" not in client_charlie.get("/admin/audit/").content
    filtered = client_charlie.get("/admin/audit/?action=api_client")
    assert filtered.status_code == 200
    assert b"Ledger sync" not in filtered.content


def test_healthz_reports_database_and_broker(client, db):
    body = client.get("/healthz").json()
    assert body["database"]["status"] == "ok"
    assert body["status"] == "ok"
    assert body["broker"]["status"] in {"ok", "not_configured"}


def test_openapi_schema_and_docs_are_served_without_a_cdn(client, db):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/members/" in schema.content
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "cdn" not in html.lower() and "unpkg" not in html.lower()
    assert "/static/drf_spectacular_sidecar/" in html


def test_every_response_carries_a_request_id(client, db):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="abc-123")
    assert response["X-Request-ID"] == "abc-123"
    assert len(client.get("/healthz", HTTP_X_REQUEST_ID="bad id!")["X-Request-ID"]) == 32


def test_pages_show_times_in_the_tenants_time_zone(client_alice, tenant_a):
    Tenant.objects.filter(pk=tenant_a.pk).update(time_zone="America/New_York")
    with tenant_scope(tenant_a):
        services.api_client_create(name="Clock check", scopes=["read:payouts"], created_by_id=None)
        event = AuditEvent.objects.latest("id")
    local = event.created_at.astimezone(zoneinfo.ZoneInfo("America/New_York"))
    page = client_alice.get("/admin/audit/").content.decode()
    assert f"{local.day} {local:%b %Y %H:%M:%S}" in page
    assert local.tzname() in page  # EST or EDT beside the time
