"""The executive dashboard and the accruals pages: who sees them, downloads, the policy
editor (one audit event per change); another tenant and an employee get a 404."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from core.models import AuditEvent, Role
from core.tenancy import tenant_scope
from payouts import accruals
from payouts.models import CapitalizationPolicy
from tests.factories.hierarchy import MembershipFactory, UserFactory
from tests.payouts.analytics_fixtures import two_quarters


def _member(tenant: Any, email: str, roles: list[str]) -> Client:
    user = UserFactory(email=email)
    MembershipFactory(user=user, tenant=tenant, roles=roles)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def quarters(org: Any, plan_a: Any, written: Any, alice: Any) -> Any:
    with tenant_scope(org.tenant):
        return two_quarters(org, plan_a, written, alice.pk)


@pytest.mark.covers_url("executive_dashboard", "executive_download")
def test_an_executive_sees_the_dashboard_and_downloads_each_table(
    quarters: Any, org: Any, client_charlie: Any, bob: Any
) -> None:
    executive = _member(org.tenant, "exec@acme.test", [Role.EXECUTIVE])
    page = executive.get("/analytics/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "FY2026 Q2" in html and "provisional" in html
    assert 'href="/analytics/"' in html  # the nav
    for heading in (
        "Incentive cost",
        "Cost by business unit",
        "Cost by function",
        "Cost by plan",
        "Attainment by plan",
        "Shared-goal scorecard",
        "Top movers",
        "Compensation recovery",
    ):
        assert heading in html, heading
    assert "Launch milestone" in html and "✓ Hit" in html and "✗ Missed" in html
    # card text begins with a capital, as a sentence does
    assert "Incentive cost ÷ monthly revenue" in html and "Revenue per payee: " in html
    assert "Pools, milestones, team gates and metrics" in html and " revenue each" not in html
    assert "Shared launch milestone" in html and "<code>launch</code>" not in html
    assert 'data-figure="trend-figure"' in html and "plotly.min.js" in html
    q1 = quarters.written.q1.pk
    assert "1,239,717.50" in executive.get(f"/analytics/?period={q1}").content.decode()
    csv = executive.get(f"/analytics/download/plans.csv?period={q1}")
    assert csv.status_code == 200 and csv.content.startswith(b"group,cost_USD")
    assert b"Sales AE,1239717.50" in csv.content
    xlsx = executive.get("/analytics/download/scorecard.xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    assert executive.get("/analytics/download/nope.csv").status_code == 404
    # another tenant's period, and an employee: the 404 page
    assert client_charlie.get(f"/analytics/?period={q1}").status_code == 404
    assert client_charlie.get(f"/analytics/download/plans.csv?period={q1}").status_code == 404
    employee = Client()
    employee.force_login(bob)
    assert employee.get("/analytics/").status_code == 404
    # finance sees it too; the empty state for another tenant with no run
    finance = _member(org.tenant, "fin@acme.test", [Role.FINANCE])
    assert finance.get("/analytics/").status_code == 200
    assert "No calculation has been run yet" in client_charlie.get("/analytics/").content.decode()


@pytest.mark.covers_url(
    "accruals",
    "accruals_download",
    "capitalization_policies",
    "capitalization_policy_edit",
    "capitalization_policy_delete",
)
def test_finance_edits_policies_and_reads_the_accruals(
    org: Any, plan_a: Any, written: Any, client_charlie: Any
) -> None:
    from tests.payouts.written_runs import approve

    approve(org.tenant, written.q1, written.run)
    finance = _member(org.tenant, "fin@acme.test", [Role.FINANCE])
    empty = finance.get("/finance/accruals/").content.decode()
    assert "No capitalization policy" in empty and 'href="/finance/accruals/"' in empty
    with tenant_scope(org.tenant):
        before = AuditEvent.objects.count()
    added = finance.post(
        "/finance/accruals/policies/",
        {
            "plan": plan_a.pk,
            "component_id": "commission",
            "benefit_months": 7,
            "start_rule": "month_after_period_end",
            "is_active": "on",
        },
    )
    assert added.status_code == 302
    with tenant_scope(org.tenant):
        policy = CapitalizationPolicy.objects.get()
        assert AuditEvent.objects.count() == before + 1
    page = finance.get("/finance/accruals/?by=cost_centre&as_of=2026-12-31").content.decode()
    assert "Capitalized (USD)" in page and "5,150.00" in page  # Erin 4,250 + Wes 800 + Mia 100
    assert "Amortization schedule" in page
    schedule = finance.get("/finance/accruals/download/schedule.csv")
    assert schedule.status_code == 200 and schedule.content.startswith(b"period,employee_id")
    assert finance.get("/finance/accruals/download/amortization.xlsx").content[:2] == b"PK"
    # edit, with a bad value first (nothing written)
    url = f"/finance/accruals/policies/{policy.pk}/"
    bad = finance.post(url, {"benefit_months": 0, "start_rule": "month_after_period_end"})
    assert bad.status_code == 200 and "greater than or equal to 1" in bad.content.decode()
    ok = finance.post(
        url,
        {
            "plan": plan_a.pk,
            "component_id": "commission",
            "benefit_months": 12,
            "start_rule": "month_after_period_end",
            "is_active": "on",
        },
    )
    assert ok.status_code == 302
    with tenant_scope(org.tenant):
        assert accruals.policy_get(policy_id=policy.pk).benefit_months == 12
        assert AuditEvent.objects.count() == before + 2
    # another tenant: every page of this policy is a 404
    assert client_charlie.get(url).status_code == 404
    assert client_charlie.post(f"{url}delete/").status_code == 404
    assert (
        "No capitalization policy yet"
        in client_charlie.get("/finance/accruals/policies/").content.decode()
    )
    assert client_charlie.get("/finance/accruals/download/schedule.csv").status_code == 200
    # an executive reads but may not change
    executive = _member(org.tenant, "exec@acme.test", [Role.EXECUTIVE])
    assert executive.get(url).status_code == 200
    assert executive.post(f"{url}delete/").status_code == 404
    # finance removes it
    assert finance.post(f"{url}delete/").status_code == 302
    with tenant_scope(org.tenant):
        assert not CapitalizationPolicy.objects.exists()
        assert AuditEvent.objects.count() == before + 3
