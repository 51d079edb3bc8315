"""The "Preview on real data" page: linked from the builder, it shows a draft beside the published
version for a chosen person and period, lists what is missing, is for comp admins only and
another tenant's version is a 404."""

from __future__ import annotations

from typing import Any

import pytest

from core.models import Role
from core.tenancy import tenant_scope
from hierarchy import people
from tests.factories.hierarchy import MembershipFactory, UserFactory
from tests.payouts.rundata import START, build_sales, draft_with_rate
from tests.tenancy import assert_not_found

pytestmark = pytest.mark.django_db


@pytest.fixture
def sales(tenant_a: Any) -> Any:
    with tenant_scope(tenant_a):
        data = build_sales(n_people=3, deals_per_person=3)
        data.draft = draft_with_rate(data, "0.08")
        return data


def _url(sales: Any) -> str:
    return f"/plans/{sales.plan.pk}/versions/{sales.draft.number}/real-data/"


@pytest.mark.covers_url("plan_version_real_preview")
def test_a_comp_admin_previews_the_draft_from_the_builder(client_alice, sales):
    # given the builder of the draft links to the preview
    builder = client_alice.get(f"/plans/{sales.plan.pk}/versions/{sales.draft.number}/")
    assert 'id="real-preview-link"' in builder.content.decode()
    # when the page opens: a picker and an empty state
    html = client_alice.get(_url(sales)).content.decode()
    assert 'id="preview-form"' in html and "Choose a person and a period" in html
    # the plan's people come first in the picker, under their own heading
    on_plan = html.index('<optgroup label="On this plan">')
    assert on_plan < html.index('<optgroup label="Everyone else">')
    assert html.index(f'value="{sales.people[0].pk}"') > on_plan
    # when she picks a seller and January
    seller = sales.people[0]
    page = client_alice.get(_url(sales), {"person": seller.pk, "period": sales.period.pk})
    html = page.content.decode()
    # then both sides are shown with the change in words and each side's reasons
    assert page.status_code == 200
    assert 'id="preview-table"' in html and 'class="data stack"' in html
    assert "Commission: " in html and "→" in html
    assert 'id="preview-traces-draft"' in html and 'id="preview-traces-published"' in html
    assert "Per meeting" in html and "same" in html


def test_what_is_missing_is_listed(client_alice, sales, tenant_a):
    with tenant_scope(tenant_a):
        other = people.person_create(employee_id="N1", full_name="Nora Noplan", hire_date=START)
    html = client_alice.get(_url(sales), {"person": other.pk, "period": sales.period.pk})
    html = html.content.decode()
    assert 'id="preview-problems"' in html and "Nora Noplan is on plan runs-ae" in html
    assert "not_on_plan" in html


def test_only_comp_admins_see_the_page(client, sales, tenant_a):
    for role in (Role.FINANCE, Role.MANAGER, Role.EMPLOYEE):
        user = UserFactory(email=f"{role}@acme.test")
        MembershipFactory(user=user, tenant=tenant_a, roles=[role])
        client.force_login(user)
        assert client.get(_url(sales)).status_code == 404, role


def test_another_tenants_version_is_a_404(client_charlie, sales):
    assert_not_found(client_charlie.get(_url(sales)))
    assert_not_found(
        client_charlie.get(_url(sales), {"person": sales.people[0].pk, "period": sales.period.pk})
    )
