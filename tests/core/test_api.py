"""Foundation API: API clients, members, audit events, idempotency, errors, cross-tenant 404s."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.utils import timezone

from core import services
from core.models import ApiClient, AuditEvent, Membership, Role
from core.tenancy import tenant_scope
from tests.tenancy import assert_cross_tenant_detail, assert_list_omits, assert_not_found


def _token(tenant, scopes, name="integration"):
    with tenant_scope(tenant):
        return services.api_client_create(name=name, scopes=scopes, created_by_id=None)


def _bearer(token):
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def _post(client, url, body, **extra):
    return client.post(url, data=json.dumps(body), content_type="application/json", **extra)


# --- API clients --------------------------------------------------------------------------------


@pytest.mark.covers_url("api-me")
def test_an_api_client_authenticates_into_its_own_tenant_only(client, tenant_a, tenant_b):
    # given
    issued = _token(tenant_a, ["read:audit"])
    # when
    response = client.get("/api/v1/me/", **_bearer(issued.token))
    # then
    assert response.status_code == 200
    assert response.json()["tenant"]["slug"] == "acme"
    assert response.json()["scopes"] == ["read:audit"]
    issued.client.refresh_from_db()
    assert issued.client.last_used_at is not None
    # a token cannot pick another tenant by header: it stays in its own
    other = client.get("/api/v1/me/", **_bearer(issued.token), HTTP_X_QUOTIENT_TENANT="globex")
    assert other.status_code == 200
    assert other.json()["tenant"]["slug"] == "acme"


def test_only_a_hash_of_the_secret_is_stored(tenant_a):
    issued = _token(tenant_a, ["read:audit"])
    secret = issued.token.split("_", 2)[2]
    stored = ApiClient.objects.get(pk=issued.client.pk)
    assert secret not in stored.secret_hash
    assert len(stored.secret_hash) == 64


def test_a_wrong_or_revoked_token_is_refused_with_a_json_error(client, tenant_a):
    issued = _token(tenant_a, ["read:audit"])
    bad = client.get("/api/v1/me/", **_bearer(issued.token + "x"))
    assert bad.status_code == 401
    assert bad.json()["error"]["code"] == "authentication_failed"
    with tenant_scope(tenant_a):
        services.api_client_revoke(client_id=issued.client.pk)
    revoked = client.get("/api/v1/me/", **_bearer(issued.token))
    assert revoked.status_code == 401
    malformed = client.get("/api/v1/me/", HTTP_AUTHORIZATION="Bearer nope")
    assert malformed.json()["error"]["code"] == "authentication_failed"


def test_scopes_limit_what_a_client_may_do(client, tenant_a):
    reader = _token(tenant_a, ["read:payouts"], name="payroll")
    response = client.get("/api/v1/audit-events/", **_bearer(reader.token))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    auditor = _token(tenant_a, ["read:audit"], name="siem")
    assert client.get("/api/v1/audit-events/", **_bearer(auditor.token)).status_code == 200


def test_unauthenticated_calls_get_401_json(client, db):
    response = client.get("/api/v1/audit-events/")
    assert response.status_code in {401, 403}
    assert response.json()["error"]["code"] in {"not_authenticated", "authentication_failed"}


@pytest.mark.covers_url("api-client-list", "api-client-detail")
def test_tenant_admin_creates_lists_and_revokes_api_clients(client_alice, client_charlie):
    # when
    created = _post(
        client_alice, "/api/v1/api-clients/", {"name": "Payroll", "scopes": ["read:payouts"]}
    )
    # then
    assert created.status_code == 201, created.content
    token = created.json()["token"]
    client_id = created.json()["client"]["id"]
    assert token.startswith("qtk_")
    listed = client_alice.get("/api/v1/api-clients/").json()["results"]
    assert [c["name"] for c in listed] == ["Payroll"]
    assert "token" not in listed[0] and "secret_hash" not in listed[0]
    # and another tenant cannot see, read or revoke it
    assert_list_omits(client_charlie, "/api/v1/api-clients/", client_id)
    assert_cross_tenant_detail(
        client_charlie, f"/api/v1/api-clients/{client_id}/", methods=("get", "delete")
    )
    assert client_alice.get(f"/api/v1/api-clients/{client_id}/").json()["revoked_at"] is None
    # revoke
    revoked = client_alice.delete(f"/api/v1/api-clients/{client_id}/")
    assert revoked.json()["revoked_at"] is not None


def test_creating_an_api_client_with_an_unknown_scope_is_a_400(client_alice):
    response = _post(client_alice, "/api/v1/api-clients/", {"name": "x", "scopes": ["root"]})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_failed"
    assert "scopes" in response.json()["error"]["details"]


# --- members ------------------------------------------------------------------------------------


@pytest.mark.covers_url("api-member-list", "api-member-detail")
def test_members_api_invites_changes_roles_and_deactivates(
    client_alice, client_charlie, tenant_a, mailoutbox, django_capture_on_commit_callbacks
):
    # when
    with django_capture_on_commit_callbacks(execute=True):
        invited = _post(
            client_alice,
            "/api/v1/members/",
            {"email": "dora@acme.test", "full_name": "Dora Diaz", "roles": ["manager"]},
        )
    # then
    assert invited.status_code == 201, invited.content
    member_id = invited.json()["id"]
    assert len(mailoutbox) == 1 and "dora@acme.test" in mailoutbox[0].to
    assert "/reset/" in mailoutbox[0].body and "Acme Corp" in mailoutbox[0].subject
    changed = client_alice.patch(
        f"/api/v1/members/{member_id}/",
        data=json.dumps({"roles": ["manager", "employee"]}),
        content_type="application/json",
    )
    assert changed.json()["roles"] == ["employee", "manager"]
    assert client_alice.delete(f"/api/v1/members/{member_id}/").status_code == 204
    assert Membership.objects.get(pk=member_id).is_active is False
    # another tenant sees nothing
    assert_list_omits(client_charlie, "/api/v1/members/", member_id)
    assert_cross_tenant_detail(
        client_charlie, f"/api/v1/members/{member_id}/", update_body={"roles": ["tenant_admin"]}
    )
    assert Membership.objects.get(pk=member_id).roles == ["employee", "manager"]
    # and each change was audited
    with tenant_scope(tenant_a):
        actions = list(AuditEvent.objects.order_by("id").values_list("action", "actor_label"))
    assert ("membership.invite", "alice@acme.test") in actions
    assert ("membership.update_roles", "alice@acme.test") in actions
    assert ("membership.deactivate", "alice@acme.test") in actions


def test_the_last_tenant_admin_cannot_be_removed(client_alice, alice, tenant_a):
    own = Membership.objects.get(user=alice, tenant=tenant_a)
    response = client_alice.patch(
        f"/api/v1/members/{own.pk}/",
        data=json.dumps({"roles": ["employee"]}),
        content_type="application/json",
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "last_tenant_admin"


def test_an_employee_cannot_manage_members(client, bob, alice):
    client.force_login(bob)
    assert client.get("/api/v1/members/").status_code == 403


def test_an_unknown_tenant_header_is_a_404_that_reveals_nothing(client_alice, tenant_b):
    for slug in ("globex", "no-such-tenant"):
        response = client_alice.get("/api/v1/me/", HTTP_X_QUOTIENT_TENANT=slug)
        assert_not_found(response)


def test_an_inactive_membership_is_a_404(client, bob, tenant_a):
    Membership.objects.filter(user=bob).update(is_active=False)
    client.force_login(bob)
    assert_not_found(client.get("/api/v1/me/"))


# --- audit events -------------------------------------------------------------------------------


@pytest.mark.covers_url("api-audit-list", "api-audit-detail")
def test_audit_events_api_lists_only_own_tenant(client_alice, client_charlie, tenant_a):
    with tenant_scope(tenant_a):
        services.api_client_create(name="x", scopes=["read:audit"], created_by_id=None)
        event = AuditEvent.objects.get(action="api_client.create")
    body = client_alice.get("/api/v1/audit-events/?action=api_client").json()
    assert [e["action"] for e in body["results"]] == ["api_client.create"]
    assert client_alice.get(f"/api/v1/audit-events/{event.pk}/").status_code == 200
    assert_list_omits(client_charlie, "/api/v1/audit-events/", event.pk)
    assert_cross_tenant_detail(
        client_charlie, f"/api/v1/audit-events/{event.pk}/", methods=("get",)
    )
    # the audit log is read-only through the API
    assert client_alice.delete(f"/api/v1/audit-events/{event.pk}/").status_code == 405


# --- idempotency --------------------------------------------------------------------------------


def test_a_replayed_idempotency_key_returns_the_first_response_without_a_second_effect(
    client_alice, tenant_a
):
    body = {"name": "Payroll", "scopes": ["read:payouts"]}
    first = _post(client_alice, "/api/v1/api-clients/", body, HTTP_IDEMPOTENCY_KEY="k-1")
    second = _post(client_alice, "/api/v1/api-clients/", body, HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == second.status_code == 201
    assert first.json()["client"] == second.json()["client"]
    assert second["Idempotent-Replayed"] == "true"
    assert ApiClient.objects.filter(tenant=tenant_a).count() == 1
    # the token is shown once: never stored for replays
    assert first.json()["token"].startswith("qtk_") and second.json()["token"] is None
    from core.models import IdempotencyRecord
    from core.tenancy import tenant_scope

    with tenant_scope(tenant_a):
        stored = IdempotencyRecord.objects.get(key="k-1").response_body
    assert "qtk_" not in str(stored)


def test_the_same_idempotency_key_with_a_different_body_is_a_422(client_alice):
    _post(
        client_alice,
        "/api/v1/api-clients/",
        {"name": "A", "scopes": ["read:payouts"]},
        HTTP_IDEMPOTENCY_KEY="k-2",
    )
    response = _post(
        client_alice,
        "/api/v1/api-clients/",
        {"name": "B", "scopes": ["read:payouts"]},
        HTTP_IDEMPOTENCY_KEY="k-2",
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"


def test_idempotency_keys_are_per_tenant_and_principal(client_alice, client_charlie, tenant_b):
    body = {"name": "Payroll", "scopes": ["read:payouts"]}
    a = _post(client_alice, "/api/v1/api-clients/", body, HTTP_IDEMPOTENCY_KEY="shared")
    b = _post(client_charlie, "/api/v1/api-clients/", body, HTTP_IDEMPOTENCY_KEY="shared")
    assert a.status_code == b.status_code == 201
    assert a.json()["client"]["id"] != b.json()["client"]["id"]
    assert ApiClient.objects.filter(tenant=tenant_b).count() == 1


def test_a_failed_request_is_not_stored_and_may_be_retried(client_alice):
    bad = _post(
        client_alice,
        "/api/v1/api-clients/",
        {"name": "A", "scopes": []},
        HTTP_IDEMPOTENCY_KEY="k-3",
    )
    assert bad.status_code == 400
    good = _post(
        client_alice,
        "/api/v1/api-clients/",
        {"name": "A", "scopes": []},
        HTTP_IDEMPOTENCY_KEY="k-3",
    )
    assert good.status_code == 400  # same request, same answer, nothing stored either time


def test_malformed_json_is_a_400_with_a_stable_code(client_alice):
    response = client_alice.post(
        "/api/v1/api-clients/", data="{nope", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_request"


def test_api_clients_last_used_is_throttled_to_one_write_a_minute(client, tenant_a):
    issued = _token(tenant_a, ["read:audit"])
    client.get("/api/v1/me/", **_bearer(issued.token))
    issued.client.refresh_from_db()
    first = issued.client.last_used_at
    client.get("/api/v1/me/", **_bearer(issued.token))
    issued.client.refresh_from_db()
    assert issued.client.last_used_at == first
    assert first <= timezone.now()


def test_roles_constant_covers_every_role():
    assert set(Role.values) == {
        "tenant_admin",
        "comp_admin",
        "finance",
        "executive",
        "manager",
        "employee",
    }


# --- the API root -------------------------------------------------------------------------------


@pytest.mark.covers_url("api-root")
def test_the_api_root_lists_the_endpoints_to_members_and_clients_only(
    client_alice, tenant_a, tenant_b
):
    # a signed-in member: every endpoint that takes no id, with its address
    body = client_alice.get("/api/v1/").json()
    endpoints = body["endpoints"]
    assert endpoints["me"] == "http://testserver/api/v1/me/"
    assert {"people", "runs", "statements", "audit-events", "export-batches"} <= set(endpoints)
    assert not any("<" in name for name in endpoints)  # no path with an id
    assert body["docs"] == "http://testserver/api/docs/"
    # an API client's token works as for any endpoint
    token = _token(tenant_a, ["read:people"])
    assert Client().get("/api/v1/", **_bearer(token.token)).json()["endpoints"] == endpoints
    # another tenant named in the header: the same 404 as for any of its objects
    assert_not_found(client_alice.get("/api/v1/", HTTP_X_QUOTIENT_TENANT="globex"))
    # anonymous: the API's 401, nothing listed
    anonymous = Client().get("/api/v1/")
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "not_authenticated"
