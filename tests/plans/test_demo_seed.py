"""The plans demo seed: every template becomes a published plan; role templates are assigned."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management import call_command

from core.tenancy import tenant_scope
from hierarchy import periods
from hierarchy.generator import generate_company
from plans import catalog
from plans.demo import DEMO_NODES, ROLE_OF_TEMPLATE, SHARED_TEMPLATES
from plans.models import Plan, PlanAssignment, VersionStatus


def _demo_nodes(value: Any, key: str = "") -> Any:
    """``value`` with every ``source_node`` and ``teams`` code named as the demo org's node."""
    if isinstance(value, dict):
        return {k: _demo_nodes(v, k) for k, v in value.items()}
    if key == "teams":
        return [DEMO_NODES.get(code, code) for code in value]
    if key == "source_node":
        return DEMO_NODES.get(value, value)
    if isinstance(value, list):
        return [_demo_nodes(v) for v in value]
    return value


def test_the_demo_seed_publishes_every_template_and_assigns_the_role_plans(tenant_a):
    with tenant_scope(tenant_a):
        generate_company(people=90, start=date(2025, 1, 1), seed=3)
    # when
    call_command("plans_demo_seed", "--tenant", tenant_a.slug)
    call_command("plans_demo_seed", "--tenant", tenant_a.slug)  # a second run adds nothing
    # then
    with tenant_scope(tenant_a):
        assert Plan.objects.count() == len(catalog.template_list())
        start, _ = periods.fiscal_year_bounds(
            tenant_a, periods.fiscal_year_of(tenant_a, periods.tenant_today(tenant_a))
        )
        for plan in Plan.objects.all():
            version = plan.versions.get()
            assert version.status == VersionStatus.PUBLISHED
            assert version.valid_from == start
            # the template's plan, its team codes named as the demo org's nodes (plans/demo.py)
            template = {**catalog.template_get(plan.template).plan, "id": plan.code}
            assert version.spec == _demo_nodes(template)
        roles = set(PlanAssignment.objects.values_list("plan__template", "role__name"))
        # each role plan on its job role; a shared plan on the job role of each of its teams
        assert roles == {(key, role) for key, (role, _ti) in ROLE_OF_TEMPLATE.items()} | {
            (key, role) for key, (names, _ti) in SHARED_TEMPLATES.items() for role in names
        }


def test_the_demo_seed_gives_the_people_on_quota_plans_their_quotas(tenant_a):
    from plans.models import Quota
    from plans.selectors import quota_frame

    with tenant_scope(tenant_a):
        generate_company(people=90, start=date(2025, 1, 1), seed=3)
    call_command("plans_demo_seed", "--tenant", tenant_a.slug)
    call_command("plans_demo_seed", "--tenant", tenant_a.slug)  # a second run adds nothing
    with tenant_scope(tenant_a):
        start, end = periods.fiscal_year_bounds(
            tenant_a, periods.fiscal_year_of(tenant_a, periods.tenant_today(tenant_a))
        )
        ids = set(Quota.objects.values_list("plan__template", "quota_id").distinct())
        # every quota id a seeded role plan's sample gives a person
        assert ids == {
            ("sales_ae", "new_bookings"),
            ("sales_ae", "expansion_bookings"),
            ("manager_override", "team_bookings"),
            ("shared_launch_milestone", "deliverables"),
        }
        # the shared milestone's team quotas: each team's node, one per quarter of the year
        shared = Quota.objects.filter(quota_id="deliverables")
        assert sorted(set(shared.values_list("node__code", flat=True))) == [
            "vp-marketing",
            "vp-product",
        ]
        assert shared.count() == 8 and not shared.filter(person__isnull=False).exists()
        ae = Quota.objects.filter(quota_id="new_bookings")
        assert ae.exists() and {q.amount for q in ae} == {100000}
        assert {
            (q.valid_to.year * 12 + q.valid_to.month)
            - (q.valid_from.year * 12 + q.valid_from.month)
            for q in ae
        } == {1}
        assert Quota.objects.filter(valid_from__lt=start).count() == 0
        assert Quota.objects.filter(valid_to__gt=end).count() == 0
        # a payout run of the first month finds one new-business quota per AE
        frame = quota_frame(
            start=start,
            end=periods.fiscal_year_periods(tenant_a, periods.fiscal_year_of(tenant_a, start))[
                5
            ].end,
        )
        assert len(frame) > 0


def test_a_managers_team_quota_is_the_sum_of_her_reporting_teams_ae_quotas(tenant_a):
    from hierarchy import org_selectors
    from hierarchy.models import Assignment
    from plans.models import Quota

    with tenant_scope(tenant_a):
        generate_company(people=90, start=date(2025, 1, 1), seed=3)
    call_command("plans_demo_seed", "--tenant", tenant_a.slug)
    with tenant_scope(tenant_a):
        team = Quota.objects.filter(quota_id="team_bookings", person__isnull=False)
        assert team.exists()
        checked = 0
        for quota in team:
            end = quota.valid_to
            nodes = Assignment.objects.filter(
                person_id=quota.person_id, node__hierarchy__kind="reporting"
            ).values_list("node_id", flat=True)
            members = {
                p
                for node in set(nodes)
                for p in org_selectors.person_ids_in_subtree(
                    node_id=node, start=quota.valid_from, end=end
                ).values_list("person_id", flat=True)
            } - {quota.person_id}
            theirs = Quota.objects.filter(
                person_id__in=members,
                plan__template="sales_ae",
                valid_from=quota.valid_from,
                quota_id__in=["new_bookings", "expansion_bookings"],
            )
            if not theirs.exists():  # a manager with no AE below keeps the sample's figure
                assert quota.amount == 300_000
                continue
            # then: 120,000 a month for each AE below her, never the sample's flat 300,000
            assert quota.amount == sum(q.amount for q in theirs)
            assert quota.amount % 120_000 == 0
            checked += 1
        assert checked > 0
