"""The comp admin's home: the first-run checklist (an empty tenant: all not done, importing
people next; the demo tenant: all done), the latest runs and imports, the anomalies with the
pages that fix them; the home page's card; 404 for others and another tenant's period."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from core.models import Membership, Role, Tenant
from core.tenancy import tenant_scope
from tests.factories.hierarchy import MembershipFactory, UserFactory
from tests.payouts.milestones_data import build_launch
from tests.tenancy import assert_not_found

pytestmark = pytest.mark.django_db


def test_an_empty_tenant_sees_every_step_not_done_and_importing_people_next(client, tenant_b):
    user = UserFactory(email="new@globex.test")
    MembershipFactory(user=user, tenant=tenant_b, roles=[Role.COMP_ADMIN])
    client.force_login(user)
    page = client.get("/admin-home/")
    html = page.content.decode()
    assert page.status_code == 200
    assert html.count('data-state="not yet"') == 5
    assert html.count('data-state="next"') == 1
    assert 'data-step="people" data-state="next"' in html
    assert "0 of 6 done" in html
    assert "No runs yet" in html and "No imports yet" in html
    assert "Nothing to check yet" in html
    # the home page shows the card with the next step
    home = client.get("/").content.decode()
    assert 'id="home-admin"' in home and "next: import people" in home


def test_the_demo_tenant_has_every_step_done(client):
    call_command("demo_seed", "--quiet")
    for command in ("incentives_demo_seed", "plans_demo_seed", "payouts_demo_seed"):
        call_command(command, "--tenant", "demo")
    demo = Tenant.objects.get(slug="demo")
    comp = Membership.objects.get(tenant=demo, user__email="comp@demo.quotient.dev").user
    client.force_login(comp)
    page = client.get("/admin-home/")
    html = page.content.decode()
    assert page.status_code == 200
    assert html.count('data-state="done"') == 6 and "6 of 6 done" in html
    assert "Every step is done" in html
    assert html.count('href="/runs/') >= 2  # the latest runs link to their pages
    assert "/data/imports/" in html
    with tenant_scope(demo):
        from payouts.milestones import default_period

        assert default_period() is not None
    assert 'data-kind="unacknowledged_plan"' in html
    # the demo's shared goals: its pools, with people from several teams
    goals = client.get("/milestones/").content.decode()
    assert "Retention pool" in goals and "First-pass yield gainshare" in goals


@pytest.mark.covers_url("admin_home")
def test_only_comp_admins_and_finance_open_it_and_another_tenants_period_is_a_404(
    client, client_alice, client_charlie, org
):
    launch = build_launch(org)
    page = client_alice.get(f"/admin-home/?period={launch.period.pk}")
    html = page.content.decode()
    assert page.status_code == 200
    assert 'data-kind="no_plan"' in html and "Dana VP" in html
    assert f'href="/plans/{launch.plan.pk}/acknowledgements/"' in html
    # an employee: 404
    client.force_login(launch.users["erin"])
    assert_not_found(client.get("/admin-home/"))
    assert 'id="home-admin"' not in client.get("/").content.decode()
    # another tenant: its own (empty) home, and tenant A's period is a 404
    theirs = client_charlie.get("/admin-home/")
    assert theirs.status_code == 200 and "Dana VP" not in theirs.content.decode()
    assert_not_found(client_charlie.get(f"/admin-home/?period={launch.period.pk}"))


def test_the_admin_home_takes_a_bounded_number_of_queries(
    client_alice, org, django_assert_max_num_queries
):
    launch = build_launch(org, extra_sellers=10)
    with django_assert_max_num_queries(60):
        page = client_alice.get(f"/admin-home/?period={launch.period.pk}")
    assert page.status_code == 200
