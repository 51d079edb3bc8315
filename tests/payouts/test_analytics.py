"""The executive analytics selectors and API: cost by dimension, cost against revenue,
recovery, attainment, the shared-goal scorecard, movers; queries that do not grow with people;
another tenant's period is a 404."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.models import Role
from core.tenancy import tenant_scope
from payouts import analytics
from tests.factories.hierarchy import MembershipFactory, UserFactory
from tests.payouts.analytics_fixtures import two_quarters
from tests.tenancy import assert_not_found

TEMPLATES = Path(__file__).resolve().parents[2] / "plans" / "templates"


def _spec(name: str) -> dict[str, Any]:
    return yaml.safe_load((TEMPLATES / f"{name}.yaml").read_text())["plan"]


@pytest.fixture
def quarters(org: Any, plan_a: Any, written: Any, alice: Any) -> Any:
    with tenant_scope(org.tenant):
        return two_quarters(org, plan_a, written, alice.pk)


# --- the plan language: component kinds ---------------------------------------------


def test_components_are_classified_by_the_goal_they_pay_on() -> None:
    # given / when
    support = analytics.component_kinds(_spec("support"))
    launch = analytics.component_kinds(_spec("shared_launch_milestone"))
    product = analytics.component_kinds(_spec("product"))
    hybrid = analytics.component_kinds(_spec("hybrid_70_30"))
    ops = analytics.component_kinds(_spec("operations"))
    # then
    assert support == {"team_csat_bonus": "team_metric", "retention_pool": "team_pool"}
    assert launch == {"launch": "shared_milestone"}
    assert product == {"growth_bonus": "individual", "time_to_market": "individual"}
    assert hybrid == {"hybrid": "team_metric"}
    assert ops["yield_gainshare"] == "team_pool"


def test_a_gate_on_another_team_is_a_shared_gate_and_an_mbo_is_an_mbo() -> None:
    spec = {
        "measures": [{"id": "bookings"}],
        "components": [
            {"id": "c", "type": "commission", "gate": {"measure": "bookings", "scope": "node"}},
            {"id": "m", "type": "mbo", "objectives": []},
        ],
    }
    assert analytics.component_kinds(spec) == {"c": "shared_gate", "m": "mbo"}
    assert analytics.component_kinds(None) == {}


# --- the figures ---------------------------------------------


def test_cost_by_plan_function_and_period_adds_up_in_decimal(quarters: Any, org: Any) -> None:
    with tenant_scope(org.tenant):
        # given
        q1, q2 = quarters.written.q1, quarters.written.q2
        facts = analytics.facts_load(periods=[q1, q2])
        # when
        by_period = analytics.cost_breakdown(facts, by="period")
        by_function = analytics.cost_breakdown(facts, by="function", period_id=q1.pk)
        by_plan = analytics.cost_breakdown(facts, by="plan", period_id=q2.pk)
    # then: Q1 is 4,250 + 1,234,567.50 + 800 + 100; Q2 1,000 + 2,000 + 600 + 0
    assert [(r.label, r.cost) for r in by_period] == [
        ("FY2026 Q1", Decimal("1239717.50")),
        ("FY2026 Q2", Decimal("3600.00")),
    ]
    assert all(isinstance(r.cost, Decimal) for r in by_period)
    assert {r.label: r.cost for r in by_function} == {
        "Sales": Decimal("1239617.50"),
        "Marketing": Decimal("100.00"),
    }
    assert {r.label: r.cost for r in by_plan} == {
        "Sales AE": Decimal("3000.00"),
        "Launch milestone": Decimal("600.00"),
    }
    assert sum(r.share for r in by_plan) == Decimal(1)
    assert all(r.provisional for r in by_period)  # no approval: the latest runs


def test_cost_against_revenue_uses_the_booked_transactions(quarters: Any, org: Any) -> None:
    with tenant_scope(org.tenant):
        rows = analytics.period_rows(analytics.facts_load(periods=[quarters.written.q1]))
    (q1,) = rows
    assert q1.revenue == Decimal("50500.00")  # D-1 30,000 + D-2 12,500 + D-3 8,000
    assert q1.cost_pct == (Decimal("1239717.50") / Decimal("50500.00")).quantize(Decimal("0.0001"))
    assert q1.payees == 3
    assert q1.revenue_per_payee == Decimal("16833.33")
    # 1,239,717.50 / (50,500 / 3 months)
    assert q1.recovery_months == Decimal("73.65")


def test_recovery_lists_the_revenue_owners_with_their_months(quarters: Any, org: Any) -> None:
    with tenant_scope(org.tenant):
        facts = analytics.facts_load(periods=[quarters.written.q1])
        rows = analytics.recovery_rows(facts, period_id=quarters.written.q1.pk)
    by_name = {r.person.full_name: r for r in rows}
    assert set(by_name) == {"Erin East", "Wes West"}  # Mia owns no revenue
    erin = by_name["Erin East"]
    assert erin.revenue == Decimal("42500.00")
    assert erin.pay == Decimal("1238817.50")
    assert erin.recovery_months == (Decimal("1238817.50") / (Decimal("42500") / 3)).quantize(
        Decimal("0.01")
    )


def test_attainment_distribution_per_plan(quarters: Any, org: Any) -> None:
    with tenant_scope(org.tenant):
        facts = analytics.facts_load(periods=[quarters.written.q1])
        (row,) = analytics.attainment_rows(facts, period_id=quarters.written.q1.pk)
    assert row.plan == "Sales AE"
    # a plan's attainment is what it paid over the target incentive on it (the team page's
    # rule): Wes 800.00 of the AE role's 3,000; Erin 1,238,817.50 of her own 5,000; Mia has no
    # target on the plan, so her first component's own 10 %
    assert row.values == [Decimal("0.1"), Decimal("0.26666667"), Decimal("247.7635")]
    assert row.median == Decimal("0.26666667")
    assert dict(row.buckets)["< 50 %"] == 2 and dict(row.buckets)["\u2265 120 %"] == 1


def test_the_scorecard_counts_shared_goals_and_milestones_per_team(quarters: Any, org: Any) -> None:
    with tenant_scope(org.tenant):
        q2 = quarters.written.q2
        facts = analytics.facts_load(periods=[quarters.written.q1, q2])
        rows = {r.team: r for r in analytics.scorecard_rows(facts, period_id=q2.pk)}
        (milestone,) = analytics.milestone_rows(facts, period_id=q2.pk)
    marketing = rows["Marketing"]
    assert marketing.shared_pay == marketing.variable_pay == Decimal("600.00")
    assert marketing.shared_share == Decimal(1)
    assert (marketing.goals, marketing.goals_hit) == (1, 1)
    east = rows["Sales East"]  # Erin: 1,000 individual, the shared pool paid her nothing
    assert east.shared_pay == Decimal("0.00") and (east.goals, east.goals_hit) == (1, 0)
    assert milestone.plan == "Launch milestone" and milestone.paid
    assert milestone.component == "Shared launch milestone"  # the plan's own name for it
    assert milestone.pool == Decimal("600.00")
    assert [(t, hit) for t, _a, hit in milestone.teams] == [("Marketing", True), ("Sales", False)]


def test_movers_compare_with_the_previous_period(quarters: Any, org: Any) -> None:
    with tenant_scope(org.tenant):
        d = analytics.executive_dashboard()
    assert d.period == quarters.written.q2 and d.status == "provisional"
    people = {m.label: m.change for m in d.movers_people}
    assert people["Erin East"] == Decimal("-1237817.50")
    assert people["Wes West"] == Decimal("1200.00")
    assert people["Mia Marketing"] == Decimal("500.00")
    assert d.movers_people[0].label == "Erin East"  # the largest change first
    teams = {m.label: m.change for m in d.movers_teams}
    assert teams["Sales West"] == Decimal("1200.00")


def test_the_selectors_do_not_grow_with_the_number_of_people(
    org: Any, plan_a: Any, written: Any, alice: Any, django_assert_max_num_queries: Any
) -> None:
    with tenant_scope(org.tenant):
        two_quarters(org, plan_a, written, alice.pk, extra=3)
        with CaptureQueriesContext(connection) as few:
            analytics.executive_dashboard()
        # 30 more people, each in a team, with a line
        from payouts.models import CalculationRun, RunStatus
        from tests.payouts.analytics_fixtures import add_people
        from tests.payouts.written_runs import write_run

        run = write_run(written.q2, number=2, status=RunStatus.RUNNING)
        add_people(org, plan_a, run, 30, "Y")
        CalculationRun.objects.filter(pk=run.pk).update(
            status=RunStatus.SUCCEEDED, finished_at=timezone.now()
        )
        with django_assert_max_num_queries(len(few)):
            d = analytics.executive_dashboard()
    assert d.current.payees == 30


# --- the API -------------------------------------------------------------------------------------


def _executive(tenant: Any) -> Any:
    from django.test import Client

    user = UserFactory(email=f"exec-{tenant.slug}@x.test")
    MembershipFactory(user=user, tenant=tenant, roles=[Role.EXECUTIVE])
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.covers_url(
    "api-analytics-cost",
    "api-analytics-revenue",
    "api-analytics-recovery",
    "api-analytics-attainment",
    "api-analytics-scorecard",
    "api-analytics-movers",
)
def test_the_analytics_api_answers_executives_and_hides_other_tenants_periods(
    quarters: Any, org: Any, client_charlie: Any, bob: Any, client: Any
) -> None:
    executive = _executive(org.tenant)
    q1 = quarters.written.q1.pk
    urls = [
        "/api/v1/analytics/cost/?by=plan",
        "/api/v1/analytics/revenue/",
        "/api/v1/analytics/recovery/",
        "/api/v1/analytics/attainment/",
        "/api/v1/analytics/scorecard/",
        "/api/v1/analytics/movers/?by=team",
    ]
    for url in urls:
        sep = "&" if "?" in url else "?"
        ok = executive.get(f"{url}{sep}period={q1}")
        assert ok.status_code == 200, (url, ok.content[:300])
        body = ok.json()
        assert body["period"]["label"] == "FY2026 Q1" and body["status"] == "provisional"
        assert body["currency"] == "USD"
        # another tenant's period: 404, as if it did not exist
        assert_not_found(client_charlie.get(f"{url}{sep}period={q1}"))
    cost = executive.get(f"/api/v1/analytics/cost/?by=period&period={q1}").json()
    assert cost["results"][0]["cost"] == "1239717.50"
    q2 = quarters.written.q2.pk
    (goal,) = executive.get(f"/api/v1/analytics/scorecard/?period={q2}").json()["milestones"]
    assert (goal["component_id"], goal["component"]) == ("launch", "Shared launch milestone")
    # an employee may not; a bad grouping or an unknown parameter is a 400 in the envelope
    client.force_login(bob)
    assert client.get("/api/v1/analytics/cost/").status_code == 403
    bad = executive.get("/api/v1/analytics/cost/?by=colour")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_parameter"
    unknown = executive.get("/api/v1/analytics/revenue/?colour=red")
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "unknown_parameter"
