"""The preview API: a comp admin previews a draft on a person's real period; problems are a 400
listing each; only plan editors who see everyone's pay may ask; another tenant's plan, person
or period is a 404; nothing is written."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from core.models import AuditEvent, Role
from core.services import api_client_create
from core.tenancy import tenant_scope
from hierarchy import people
from payouts.models import PayoutLine
from tests.factories.hierarchy import MembershipFactory, UserFactory
from tests.payouts.rundata import START, build_sales, draft_with_rate
from tests.tenancy import assert_not_found

pytestmark = pytest.mark.django_db


@pytest.fixture
def sales(tenant_a: Any) -> Any:
    with tenant_scope(tenant_a):
        data = build_sales(n_people=3, deals_per_person=3)
        data.draft = draft_with_rate(data, "0.06")
        return data


def _url(sales: Any) -> str:
    return f"/api/v1/plans/{sales.plan.pk}/versions/{sales.draft.number}/preview/"


def _post(client: Any, url: str, body: dict[str, Any], **headers: Any) -> Any:
    return client.post(url, data=json.dumps(body), content_type="application/json", **headers)


@pytest.mark.covers_url("api-plan-version-preview")
def test_a_comp_admin_previews_a_draft_beside_the_published_version(client_alice, sales, tenant_a):
    seller = sales.people[0]
    with tenant_scope(tenant_a):
        events = AuditEvent.objects.count()
    response = _post(client_alice, _url(sales), {"person": seller.pk, "period": sales.period.pk})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["person"], body["period"], body["version"]) == (
        seller.pk,
        sales.period.pk,
        sales.draft.number,
    )
    assert body["published"]["versions"] == [1] and body["draft"]["versions"] == [2]
    [change] = body["differences"]
    assert change["component_id"] == "commission"
    before, after = Decimal(change["before"]), Decimal(change["after"])
    assert after > before and Decimal(change["delta"]) == after - before
    assert change["words"].startswith("Commission: ") and "→" in change["words"]
    assert all(line["trace"] for line in body["draft"]["lines"])
    assert Decimal(body["draft"]["totals"]["USD"]) - Decimal(
        body["published"]["totals"]["USD"]
    ) == Decimal(change["delta"])
    # and it wrote nothing: no run, no line, no audit event
    with tenant_scope(tenant_a):
        assert AuditEvent.objects.count() == events
        assert not PayoutLine.objects.exists()


def test_problems_are_a_400_listing_each(client_alice, sales, tenant_a):
    with tenant_scope(tenant_a):
        other = people.person_create(employee_id="X9", full_name="Nobody Onplan", hire_date=START)
    response = _post(client_alice, _url(sales), {"person": other.pk, "period": sales.period.pk})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "preview_problems"
    assert [p["code"] for p in error["details"]["problems"]] == ["not_on_plan"]
    # and a body without a period says which field
    bad = _post(client_alice, _url(sales), {"person": other.pk})
    assert bad.status_code == 400 and "period" in json.dumps(bad.json()["error"])


def test_only_plan_editors_who_see_everyones_pay_may_preview(client, sales, tenant_a):
    body = {"person": sales.people[0].pk, "period": sales.period.pk}
    for role in (Role.FINANCE, Role.EMPLOYEE, Role.EXECUTIVE):
        user = UserFactory(email=f"{role}@acme.test")
        MembershipFactory(user=user, tenant=tenant_a, roles=[role])
        client.force_login(user)
        assert _post(client, _url(sales), body).status_code == 403, role
    # API clients: write:plans and read:payouts do not see everyone; with read:people they do
    with tenant_scope(tenant_a):
        plans_only = api_client_create(
            name="p", scopes=["write:plans", "read:payouts"], created_by_id=None
        )
        both = api_client_create(
            name="pp", scopes=["write:plans", "read:people", "read:payouts"], created_by_id=None
        )
    client.logout()
    refused = _post(client, _url(sales), body, HTTP_AUTHORIZATION=f"Bearer {plans_only.token}")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied"
    allowed = _post(client, _url(sales), body, HTTP_AUTHORIZATION=f"Bearer {both.token}")
    assert allowed.status_code == 200, allowed.content


def test_another_tenants_plan_person_or_period_is_a_404(
    client_charlie, client_alice, sales, tenant_b
):
    body = {"person": sales.people[0].pk, "period": sales.period.pk}
    assert_not_found(_post(client_charlie, _url(sales), body))
    # and tenant A's admin naming tenant B's person or period gets a 404 too
    with tenant_scope(tenant_b):
        stranger = people.person_create(employee_id="B1", full_name="Globex One", hire_date=START)
        from hierarchy import periods

        periods.period_generate_fiscal_year(fiscal_year=2026)
        from hierarchy.models import Period

        theirs = Period.objects.filter(kind="monthly").first()
    mine = sales.people[0].pk
    assert_not_found(
        _post(client_alice, _url(sales), {"person": stranger.pk, "period": sales.period.pk})
    )
    assert_not_found(_post(client_alice, _url(sales), {"person": mine, "period": theirs.pk}))
