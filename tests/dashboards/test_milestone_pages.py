"""The shared goals' pages: the list and one goal, for a participant of each team, their manager
and a comp admin; a 404 for anyone else and for another tenant; the query count."""

from __future__ import annotations

import pytest

from tests.payouts.milestones_data import build_launch
from tests.tenancy import assert_not_found

pytestmark = pytest.mark.django_db


@pytest.fixture
def launch(org):
    return build_launch(org)


def _as(client, user):
    client.force_login(user)
    return client


def test_a_participant_of_each_team_opens_the_launch_milestone(client, launch):
    url = f"/milestones/{launch.goal}/?period={launch.period.pk}"
    for who in ("erin", "mia"):
        page = _as(client, launch.users[who]).get(url)
        assert page.status_code == 200
        html = page.content.decode()
        assert "Launch milestone" in html and 'data-status="hit"' in html
        assert "Sales reaches 100 % of its deliverables quota" in html
        assert "Marketing reaches 100 % of its deliverables quota" in html
        assert "2 of a 2 deliverables quota" in html
        assert "Your share" in html and "2,000.00" in html
        assert "Erin East" in html and "Mia Marketing" in html
        assert 'id="milestone-chart"' in html  # two milestones: a chart
        assert "hidden" in html  # the other team's amounts are not hers to read


def test_the_list_shows_every_goal_she_is_in_with_its_status(client, launch):
    page = _as(client, launch.users["erin"]).get(f"/milestones/?period={launch.period.pk}")
    html = page.content.decode()
    assert page.status_code == 200
    assert html.count('data-goal="') == 3
    assert "1 of 3 goals hit" in html
    assert "Sales&#x27; bookings reaches 100 % of quota" in html
    assert "Shared goals" in html  # the nav link


def test_her_manager_and_a_comp_admin_open_it(client, client_alice, launch):
    url = f"/milestones/{launch.goal}/?period={launch.period.pk}"
    assert _as(client, launch.users["sam"]).get(url).status_code == 200
    assert client_alice.get(url).status_code == 200
    assert client_alice.get("/milestones/").status_code == 200


@pytest.mark.covers_url("milestones", "milestone_detail")
def test_nobody_else_and_no_other_tenant_opens_it(client, client_charlie, launch):
    url = f"/milestones/{launch.goal}/?period={launch.period.pk}"
    dana = _as(client, launch.users["dana"])
    assert_not_found(dana.get(url))
    assert "No shared goals" in dana.get(f"/milestones/?period={launch.period.pk}").content.decode()
    assert_not_found(client_charlie.get(url))
    assert_not_found(client_charlie.get(f"/milestones/{launch.goal}/"))
    assert_not_found(client_charlie.get(f"/milestones/?period={launch.period.pk}"))
    assert 'data-goal="' not in client_charlie.get("/milestones/").content.decode()
    assert_not_found(dana.get("/milestones/not-a-goal/"))


def test_the_goal_page_takes_a_bounded_number_of_queries(
    client_alice, launch, django_assert_max_num_queries
):
    with django_assert_max_num_queries(40):
        page = client_alice.get(f"/milestones/{launch.goal}/?period={launch.period.pk}")
    assert page.status_code == 200
