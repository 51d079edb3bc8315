"""API clients and their scopes, the must-shows: a client with only ``read:payouts`` can write
nothing (every mutating endpoint of the URL conf refuses it with a 403 in the error envelope,
and nothing is written); a client without a payouts scope reads no payouts; a revoked token is
refused on its very next request.

The mutating endpoints and a valid request for each come from tests/test_audit_coverage.py
(``MUTATIONS``), so an endpoint added there is checked here too.
"""

from __future__ import annotations

from typing import Any

import pytest

from core import services as core_services
from core.models import API_SCOPES, AuditEvent
from core.tenancy import tenant_scope
from tests.test_audit_coverage import ENDPOINTS, MUTATIONS, NEEDS_MONKEYPATCH, build_world, send

pytestmark = pytest.mark.django_db

PAYOUT_READS = (
    "/api/v1/runs/",
    "/api/v1/statements/",
    "/api/v1/ledger-entries/",
    "/api/v1/payouts/",
    "/api/v1/export-batches/",
)
# Every scope that grants reading payouts (core/permissions.py SCOPE_PERMISSIONS).
PAYOUT_SCOPES = {"read:payouts", "write:payouts", "write:exports", "write:runs"}


def _token(tenant: Any, scopes: list[str], name: str = "client") -> Any:
    with tenant_scope(tenant):
        return core_services.api_client_create(name=name, scopes=scopes, created_by_id=None)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _assert_refused(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response.json()["error"]["code"] == code


@pytest.mark.parametrize(("name", "method"), [k for k in ENDPOINTS if k in MUTATIONS])
def test_a_read_payouts_client_can_write_nothing(
    name, method, client, tenant_a, alice, monkeypatch, settings, tmp_path
):
    # given the objects a valid request needs, and a payroll client that may only read payouts
    settings.VAR_DIR = tmp_path
    world = build_world(tenant_a, alice)
    if (name, method) in NEEDS_MONKEYPATCH:
        NEEDS_MONKEYPATCH[(name, method)](world, monkeypatch)
    call = MUTATIONS[(name, method)](world)
    reader = _token(tenant_a, ["read:payouts"], name="payroll")
    with tenant_scope(tenant_a):
        events = AuditEvent.objects.count()
    # when it sends the request an admin could send
    response = send(client, method, call, **_bearer(reader.token))
    # then it is refused, and nothing happened
    _assert_refused(response, 403, "permission_denied")
    with tenant_scope(tenant_a):
        assert AuditEvent.objects.count() == events, f"{method} {call.url} wrote something"


def test_a_client_without_a_payouts_scope_reads_no_payouts(client, tenant_a):
    others = sorted(set(API_SCOPES) - PAYOUT_SCOPES)
    assert "read:people" in others and "write:transactions" in others
    stranger = _token(tenant_a, others, name="everything-but-pay")
    reader = _token(tenant_a, ["read:payouts"], name="payroll")
    for url in PAYOUT_READS:
        _assert_refused(client.get(url, headers=_bearer(stranger.token)), 403, "permission_denied")
        allowed = client.get(url, headers=_bearer(reader.token))
        assert allowed.status_code == 200, (url, allowed.content[:200])


def test_a_revoked_token_is_refused_on_its_next_request(client_alice, client, tenant_a):
    # given a working payroll token
    issued = _token(tenant_a, ["read:payouts"], name="payroll")
    assert client.get("/api/v1/payouts/", headers=_bearer(issued.token)).status_code == 200
    # when a tenant admin revokes it over the API
    revoked = client_alice.delete(f"/api/v1/api-clients/{issued.client.pk}/")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    # then its very next request, read or write, is a 401 in the envelope
    for method, url in (("get", "/api/v1/payouts/"), ("post", "/api/v1/export-batches/")):
        response = getattr(client, method)(url, headers=_bearer(issued.token))
        _assert_refused(response, 401, "authentication_failed")
    assert client.get("/api/v1/me/", headers=_bearer(issued.token)).status_code == 401
