"""Query counts of the dashboard pages: the number of queries a page takes does not grow with
the team (no N+1). Each page is measured with a team of 3 and again with a team of 12 under
Sam's Sales, every member with two payout lines in the run, each traced to a transaction.

The pages: the employee's earnings page, the manager's team roll-up, a statement, a line's
drill-down to its transactions, the period close checklist, the runs list.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.models import Role
from core.tenancy import tenant_scope
from hierarchy import people
from incentives.models import Transaction
from payouts.models import LineContribution, PayoutLine
from tests.factories.hierarchy import MembershipFactory, UserFactory
from tests.payouts.written_runs import write_line, write_run

pytestmark = pytest.mark.django_db

SMALL, BIG = 3, 12


class Team:
    """Grows Sam's Sales by members, each with two lines in the run traced to a transaction of
    her own; Erin's commission line gets one more contribution per member."""

    def __init__(self, org: Any, written: Any, plan: Any) -> None:
        self.org, self.written, self.plan = org, written, plan
        self.size = 2  # Erin and Wes
        self.runs = 1

    def grow_to(self, size: int) -> None:
        org, written = self.org, self.written
        with tenant_scope(org.tenant):
            erin_line = written.lines[("erin", "commission")]
            tx = Transaction.objects.filter(pk=written.transactions["D-1"].pk).get()
            while self.size < size:
                self.size += 1
                n = self.size
                member = people.person_create(
                    employee_id=f"Q{n}",
                    full_name=f"Member {n}",
                    email=f"member{n}@acme.test",
                    hire_date=dt.date(2020, 1, 1),
                )
                people.assignment_create(
                    person_id=member.pk,
                    node_id=org.east.pk,
                    role_id=org.ae.pk,
                    valid_from=dt.date(2025, 1, 1),
                    is_manager=False,
                    allocation_pct=Decimal(100),
                )
                commission = write_line(
                    written.run,
                    member,
                    self.plan,
                    "commission",
                    f"{100 + n}.00",
                    attainment="0.5",
                    measure="1000",
                    trace_text=f"1,000.00 at 10 % = {100 + n}.00.",
                )
                write_line(written.run, member, self.plan, "accelerator", "1.00", kind="bonus")
                for line in (commission, erin_line):
                    LineContribution.objects.create(
                        line=line,
                        run=written.run,
                        transaction_id=tx.pk,
                        credit_id=None,
                        amount=Decimal("1.00"),
                    )

    def add_runs_to(self, count: int) -> None:
        with tenant_scope(self.org.tenant):
            while self.runs < count:
                self.runs += 1
                write_run(self.written.q2, number=self.runs - 1)


@pytest.fixture
def team(org: Any, written: Any, plan_a: Any) -> Team:
    return Team(org, written, plan_a)


@pytest.fixture
def comp_user(org: Any) -> Any:
    user = UserFactory(email="carla@acme.test")
    MembershipFactory(user=user, tenant=org.tenant, roles=[Role.COMP_ADMIN])
    return user


def _erin_line(written: Any) -> PayoutLine:
    return written.lines[("erin", "commission")]


PAGES: dict[str, tuple[str, Callable[[Any, Any], str]]] = {
    "the employee's earnings page": ("erin", lambda org, w: f"/earnings/?period={w.q1.pk}"),
    "the team roll-up": ("sam", lambda org, w: f"/earnings/team/?period={w.q1.pk}"),
    "the team roll-up by earned": (
        "sam",
        lambda org, w: f"/earnings/team/?period={w.q1.pk}&sort=earned&dir=desc",
    ),
    "a member's earnings page": (
        "sam",
        lambda org, w: f"/earnings/people/{org.erin.pk}/?period={w.q1.pk}",
    ),
    "a statement": ("erin", lambda org, w: f"/earnings/statements/{w.q1.pk}-{org.erin.pk}/"),
    "a line's drill-down": ("erin", lambda org, w: f"/earnings/lines/{_erin_line(w).pk}/"),
    "the period close checklist": ("comp", lambda org, w: f"/periods/{w.q1.pk}/close/"),
    "the period close list": ("comp", lambda org, w: "/periods/close/"),
    "the runs list": ("comp", lambda org, w: "/runs/"),
    "a run": ("comp", lambda org, w: f"/runs/{w.run.pk}/"),
}


def _queries(client: Any, url: str) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return [q["sql"] for q in captured.captured_queries]


@pytest.mark.parametrize("name", PAGES)
def test_the_page_takes_as_many_queries_for_a_team_of_12_as_for_3(
    name, client, org, written, team, comp_user
):
    who, url_of = PAGES[name]
    user = comp_user if who == "comp" else written.users[who]
    client.force_login(user)
    url = url_of(org, written)
    # given a team of 3
    team.grow_to(SMALL)
    team.add_runs_to(SMALL)
    client.get(url)  # the first request also loads the session and warms caches
    small = _queries(client, url)
    # when it is a team of 12 (and the runs list has 12 runs)
    team.grow_to(BIG)
    team.add_runs_to(BIG)
    big = _queries(client, url)
    # then
    assert len(big) == len(small), "\n".join(q for q in big if q not in small)[:4000]


def test_the_team_of_12_is_on_the_roll_up(client, org, written, team):
    # the measured page really shows the grown team, so the counts above compare like with like
    team.grow_to(BIG)
    client.force_login(written.users["sam"])
    text = client.get(f"/earnings/team/?period={written.q1.pk}").content.decode()
    assert all(f"Member {n}" in text for n in range(3, BIG + 1))
