"""Plan health: cost at 100 % / 120 % from the engine's payout curve, the share on shared
goals, the pay mix, and the warnings where guidance is crossed."""

from __future__ import annotations

from decimal import Decimal

import pytest

from plans import catalog
from plans.health import plan_health


def test_the_sales_ae_plan_costs_what_the_engine_pays_and_rides_on_no_shared_goal():
    # given: a quota of 100,000 and a target incentive of 10,000
    health = plan_health(catalog.template_get("sales_ae").plan)
    # then: 100 %: 2,500 + 4,000 (tiers) + 4,000 (expansion at 4 %) = 10,500
    assert health.cost_at_100 == Decimal("1.05")
    # 120 %: + 20,000 x 12 % on new business; expansion 4,000 + 20,000 x 4 % x 1.5
    assert health.cost_at_120 == Decimal("1.41")
    assert health.shared_share == 0
    assert (health.components, health.measures, health.warnings) == (2, 2, [])


def test_a_team_bonus_rides_on_shared_goals_and_is_warned():
    health = plan_health(catalog.template_get("manager_override").plan)
    assert health.shared_share == 1
    assert any("shared or team goals" in w for w in health.warnings)


def test_the_hybrid_puts_its_team_part_on_shared_goals():
    health = plan_health(catalog.template_get("hybrid_70_30").plan)
    assert health.shared_share == Decimal("0.3")
    assert not any("shared" in w for w in health.warnings)  # 30 %: at the guidance's edge


def test_pools_are_listed_as_not_costed():
    health = plan_health(catalog.template_get("support").plan)
    assert health.not_costed == ["Retention pool"]  # by the name the plan gives it


def test_too_many_measures_a_cap_below_stretch_and_a_thin_pay_mix_are_warned():
    spec = {
        **catalog.template_get("sales_ae").plan,
        "measures": [
            {"id": f"m{i}", "aggregate": "sum", "filter": {"transaction_types": ["new_business"]}}
            for i in range(5)
        ],
        "components": [
            {
                "id": "capped",
                "type": "commission",
                "measure": "m0",
                "rate": "0.1",
                "cap": {"amount": 10000},
            }
        ],
    }
    health = plan_health(spec, mixes=[(Decimal(200000), Decimal(12000))])
    text = " ".join(health.warnings)
    assert "5 measures" in text
    assert "pays no more at 120 % than at 100 %" in text
    assert "At-risk pay is 5.7 %" in text


@pytest.mark.parametrize("key", [t.key for t in catalog.template_list()])
def test_every_template_has_a_health(key):
    health = plan_health(catalog.template_get(key).plan)
    assert health.components >= 1


def test_the_builder_shows_the_health_panel_with_the_pay_mix(client_alice, plan_a, org, alice):
    from core.tenancy import tenant_scope
    from hierarchy.models import Person
    from plans import services
    from tests.plans.conftest import comp_admin_access

    with tenant_scope(org.tenant):
        services.plan_assignment_create(
            access=comp_admin_access(alice.pk),
            plan_version_id=plan_a.versions.get().pk,
            holder=services.Holder(person_id=org.erin.pk),
            target_incentive="500",  # a month: 6,000 a year
            valid_from=plan_a.versions.get().valid_from,
            user_id=alice.pk,
        )
        Person.objects.filter(pk=org.erin.pk).update(base_salary=Decimal(94000))
    page = client_alice.get(f"/plans/{plan_a.pk}/versions/1/").content.decode()
    assert 'id="plan-health"' in page
    assert 'id="health-100">105 % of target' in page
    assert 'id="health-mix">6 % of pay at target' in page  # 6,000 / 100,000
    assert "At-risk pay is 6 %" in page
