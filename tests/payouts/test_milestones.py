"""Shared goals (payouts/milestones.py) read from a real run: a two-team launch milestone, a gate
on another team's bookings, a shared MBO; who may open them; the API; a fixed number of queries."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.errors import NotFoundError
from core.models import Role
from core.permissions import ROLE_PERMISSIONS, Principal, principal_for_membership
from core.tenancy import tenant_scope
from hierarchy.access import access_for
from payouts import milestones
from payouts.models import PayoutLine
from tests.payouts.helpers import review_steps
from tests.payouts.milestones_data import JAN, build_launch
from tests.tenancy import assert_not_found

pytestmark = pytest.mark.django_db

COMP = Principal(permissions=ROLE_PERMISSIONS[Role.COMP_ADMIN])


def _user_access(user):
    return access_for(principal_for_membership(user.memberships.get()), today=JAN)


def _goals(launch, access):
    return {g.component_id: g for g in milestones.shared_goals(access=access, period=launch.period)}


def test_the_goals_are_the_runs_figures_two_teams_a_cross_team_gate_and_a_shared_mbo(org):
    # given January's run of the launch plan
    launch = build_launch(org)
    with tenant_scope(org.tenant):
        # when a comp admin reads the period's shared goals
        goals = _goals(launch, access_for(COMP, today=JAN))
        # then there are three, of three kinds
        assert {k: g.kind for k, g in goals.items()} == {
            "launch": milestones.SHARED_MILESTONE,
            "gated": milestones.GATE,
            "objectives": milestones.MBO,
        }
        launch_goal = goals["launch"]
        assert launch_goal.hit and launch_goal.status == "hit" and not launch_goal.final
        assert [(m.team, m.hit, m.value, m.threshold) for m in launch_goal.milestones] == [
            ("Sales", True, Decimal(1), Decimal(1)),
            ("Marketing", True, Decimal(1), Decimal(1)),
        ]
        # the team's count against its quota comes from the run's reduce output
        assert launch_goal.milestones[0].detail == "2 of a 2 deliverables quota"
        assert (launch_goal.pool, launch_goal.at_stake) == (Decimal("6000.00"), Decimal(6000))
        assert launch_goal.paid_total == Decimal("6000.0000")
        # who is in it: three people in three teams, as the engine placed them
        assert {(p.full_name, p.team) for p in launch_goal.participants} == {
            ("Erin East", "Sales East"),
            ("Wes West", "Sales West"),
            ("Mia Marketing", "Marketing"),
        }
        assert len(launch_goal.teams) == 3
        # the gate on the Sales team's bookings: 80,000 of 100,000 is 80 %, not yet
        gate = goals["gated"].milestones[0]
        assert (gate.hit, gate.value, gate.threshold, gate.percent) == (
            False,
            Decimal("0.8"),
            Decimal(1),
            80,
        )
        assert gate.label == "Sales' bookings reaches 100 % of quota"
        assert gate.detail == "80,000 of a 100,000 quota"
        assert goals["gated"].status == "not yet" and goals["gated"].paid_total == 0
        # the shared MBO: "ship" done by all, "docs" from 50 % to 100 %
        ship, docs = goals["objectives"].milestones
        assert (ship.hit, ship.value) == (True, Decimal(1))
        assert (docs.hit, docs.value, docs.detail) == (
            False,
            Decimal("0.5"),
            "from 50 % to 100 % across 3 people",
        )
        # every figure is one the engine wrote in the lines' traces
        line = PayoutLine.objects.get(
            run=launch.run, person=org.erin, component_id="gated", kind="earned"
        )
        steps = {s["name"]: s["value"] for s in line.trace}
        assert Decimal(steps["gate_attainment"]) == gate.value
        assert goals["launch"].sentence.startswith("Every team reached 100 %")


def test_participants_their_managers_and_comp_admins_open_a_goal_and_nobody_else(org):
    launch = build_launch(org)
    with tenant_scope(org.tenant):
        # a participant sees every goal she is in, her own amount and nobody else's
        erin = _goals(launch, _user_access(launch.users["erin"]))
        assert set(erin) == {"launch", "gated", "objectives"}
        amounts = {p.full_name: p.amount for p in erin["launch"].participants}
        assert amounts == {
            "Erin East": Decimal("2000.0000"),
            "Wes West": None,
            "Mia Marketing": None,
        }
        assert erin["launch"].my_amount == Decimal("2000.0000")
        # the participant of the other team opens the very same goal
        mia = milestones.shared_goal_get(
            access=_user_access(launch.users["mia"]), goal=launch.goal, period_id=launch.period.pk
        )
        assert [m.hit for m in mia.milestones] == [True, True]
        # Sales' manager sees it and her team's amounts, not Marketing's
        sam = _goals(launch, _user_access(launch.users["sam"]))["launch"]
        seen = {p.full_name for p in sam.participants if p.amount is not None}
        assert seen == {"Erin East", "Wes West"}
        # someone who is not in it and manages nobody in it: nothing, and the goal is a 404
        dana = _user_access(launch.users["dana"])
        assert milestones.shared_goals(access=dana, period=launch.period) == []
        with pytest.raises(NotFoundError):
            milestones.shared_goal_get(access=dana, goal=launch.goal, period_id=launch.period.pk)
        for bad in ("nope", "abc-launch", f"{launch.plan.pk}-missing", f"{launch.plan.pk}-"):
            with pytest.raises(NotFoundError):
                milestones.shared_goal_get(
                    access=access_for(COMP, today=JAN), goal=bad, period_id=launch.period.pk
                )


def test_an_approved_period_reads_its_approved_run_and_says_final(org):
    from payouts import lifecycle

    launch = build_launch(org)
    with tenant_scope(org.tenant):
        finance = Principal(permissions=ROLE_PERMISSIONS[Role.FINANCE])
        lifecycle.period_submit_for_review(period_id=launch.period.pk, principal=finance)
        review_steps(launch.period)
        lifecycle.period_approve(
            period_id=launch.period.pk, run_id=launch.run.pk, principal=finance
        )
        goal = milestones.shared_goal_get(
            access=access_for(COMP, today=JAN), goal=launch.goal, period_id=launch.period.pk
        )
        assert goal.final and goal.run.pk == launch.run.pk and goal.approved_at is not None
        assert "final" in goal.status_words


@pytest.mark.parametrize("extra", [0, 12])
def test_reading_the_goals_takes_the_same_queries_whatever_the_team_size(
    org, extra, django_assert_max_num_queries
):
    launch = build_launch(org, extra_sellers=extra)
    with tenant_scope(org.tenant):
        access = _user_access(launch.users["sam"])
        with django_assert_max_num_queries(14):
            goals = milestones.shared_goals(access=access, period=launch.period)
        assert len(goals) == 3
        assert len(goals[0].participants) == 3 + extra
        comp = access_for(COMP, today=JAN)
        with CaptureQueriesContext(connection) as captured:
            milestones.shared_goal_get(access=comp, goal=launch.goal, period_id=launch.period.pk)
        assert len(captured.captured_queries) <= 12


@pytest.mark.covers_url("api-milestone-list", "api-milestone-detail")
def test_the_milestones_api_answers_participants_and_404s_other_tenants(
    org, org_b, client_alice, client_charlie, client
):
    launch = build_launch(org)
    period = launch.period.pk
    # when a comp admin of the tenant lists and opens them
    listed = client_alice.get(f"/api/v1/milestones/?period={period}").json()
    detail = client_alice.get(f"/api/v1/milestones/{launch.goal}/?period={period}")
    # then
    assert listed["count"] == 3
    row = next(r for r in listed["results"] if r["id"] == launch.goal)
    assert (row["status"], row["kind"], row["pool"], row["participant_count"]) == (
        "hit",
        "shared_milestone",
        "6000.0000",
        3,
    )
    assert "participants" not in row
    body = detail.json()
    assert detail.status_code == 200
    assert [m["status"] for m in body["milestones"]] == ["hit", "hit"]
    assert body["period"]["last_day"] == "2026-01-31"
    assert {p["full_name"] for p in body["participants"]} == {
        "Erin East",
        "Wes West",
        "Mia Marketing",
    }
    # an employee in it reads it, with only her own amount
    client.force_login(launch.users["erin"])
    mine = client.get(f"/api/v1/milestones/{launch.goal}/?period={period}").json()
    assert {p["full_name"]: p["amount"] for p in mine["participants"]}["Wes West"] is None
    assert mine["my_amount"] == "2000.0000"
    # someone not in it: 404; bad input: 400
    client.force_login(launch.users["dana"])
    assert_not_found(client.get(f"/api/v1/milestones/{launch.goal}/?period={period}"))
    assert client.get(f"/api/v1/milestones/?period={period}").json()["count"] == 0
    assert client_alice.get("/api/v1/milestones/?nope=1").status_code == 400
    assert client_alice.get("/api/v1/milestones/?period=abc").status_code == 400
    # another tenant sees none of it: its list is empty and the goal is a 404
    assert client_charlie.get("/api/v1/milestones/").json()["count"] == 0
    assert_not_found(client_charlie.get(f"/api/v1/milestones/{launch.goal}/"))
    assert_not_found(client_charlie.get(f"/api/v1/milestones/{launch.goal}/?period={period}"))
    assert_not_found(client_charlie.get(f"/api/v1/milestones/?period={period}"))
