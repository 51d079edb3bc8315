"""A replay pays exactly as its run did after inputs edited in place were changed: a quota
corrected, a plan assignment's end moved, a hire date corrected, a node moved, a new plan
version published over the period (payouts/as_known.py, plans/versions.py,
hierarchy/versions.py); a fresh run sees each change. SQLite and PostgreSQL alike.

The tenant: ``tests.payouts.rundata.build_sales`` (January 2026, seven sellers on "Runs AE" by
job role) plus seller 0 directly on "Quota AE" (an attainment bonus on a 200,000.00 quota, with a
first-period ramp halving the quota) and a node plan "Team" on the sales node, whose one member
sits in a ``team`` node below it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from core.tenancy import tenant_scope
from hierarchy import people
from hierarchy.models import NodeClosure, PersonVersion
from payouts import as_known, runs
from payouts import inputs as fetch
from payouts.models import CalculationRun, PayoutLine, RunStatus
from plans import services as plans
from plans.models import PlanAssignment, PlanAssignmentVersion, Quota, QuotaVersion
from tests.payouts.rundata import PLAN_SOURCE, START, build_sales, deal, record
from tests.plans.conftest import comp_admin_access

pytestmark = pytest.mark.django_db

JAN, MID, FEB = dt.date(2026, 1, 1), dt.date(2026, 1, 15), dt.date(2026, 2, 1)

QUOTA_AE = """\
version: 1
id: quota-ae
name: Quota AE
currency: USD
ramp:
  - {period: 1, quota_factor: "0.5"}
measures:
  - {id: bookings, aggregate: sum, filter: {transaction_types: [new_business]}}
components:
  - id: bonus
    name: Bonus
    type: attainment_bonus
    measure: bookings
    curve:
      points:
        - {attainment: 0, payout: 0}
        - {attainment: 2, payout: 2}
"""

TEAM = """\
version: 1
id: team
name: Team
currency: USD
measures:
  - {id: bookings, aggregate: sum, filter: {transaction_types: [new_business]}}
components:
  - {id: team_commission, name: Team commission, type: commission, measure: bookings, rate: "0.01"}
"""

_capture: Any = None


def _publish(code: str, source: str) -> Any:
    plan = plans.plan_create(code=code, name=code, source=source, user_id=None, valid_from=JAN)
    return plans.plan_version_publish(version_id=plan.versions.get().pk, user_id=None)


@pytest.fixture
def world(tenant_a: Any, django_capture_on_commit_callbacks: Any) -> Any:
    global _capture
    _capture = django_capture_on_commit_callbacks
    with tenant_scope(tenant_a):
        sales = build_sales(n_people=7, deals_per_person=4)
        seller = sales.people[0]
        quota_ae = _publish("quota-ae", QUOTA_AE)
        sales.quota_assignment = plans.plan_assignment_create(
            access=comp_admin_access(),
            plan_version_id=quota_ae.pk,
            holder=plans.Holder(person_id=seller.pk),
            target_incentive=Decimal(6000),
            valid_from=JAN,
            user_id=None,
        )
        sales.quota = plans.quota_create(
            access=comp_admin_access(),
            holder=plans.QuotaHolder(person_id=seller.pk),
            quota_id="bookings",
            amount=Decimal(200000),
            valid_from=JAN,
            valid_to=FEB,
            user_id=None,
        )
        hierarchy_id = sales.node.hierarchy_id
        sales.team = people.node_create(
            hierarchy_id=hierarchy_id, code="team", name="Team", valid_from=START,
            parent_id=sales.node.pk,
        )  # fmt: skip
        sales.elsewhere = people.node_create(
            hierarchy_id=hierarchy_id, code="elsewhere", name="Elsewhere", valid_from=START
        )
        member = people.person_create(employee_id="T00001", full_name="Tess Team", hire_date=START)
        people.assignment_create(
            person_id=member.pk, node_id=sales.team.pk, role_id=sales.role.pk, valid_from=START
        )
        sales.member = member
        team = _publish("team", TEAM)
        plans.plan_assignment_create(
            access=comp_admin_access(),
            plan_version_id=team.pk,
            holder=plans.Holder(node_id=sales.node.pk),
            target_incentive=Decimal(0),
            valid_from=JAN,
            user_id=None,
        )
        import random

        record([deal("T-1", 0, random.Random(5)) | {"owner_employee_id": "T00001"}])
        yield sales


def _go(service: Any, **kwargs: Any) -> CalculationRun:
    with _capture(execute=True):
        run = service(**kwargs)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, (run.reason, run.problems)
    return run


def _start(world: Any) -> CalculationRun:
    return _go(
        runs.run_start, period_id=world.period.pk, trigger="page", user_id=None, chunk_size=3
    )


def _lines(run: CalculationRun) -> list[tuple[Any, ...]]:
    return sorted(
        PayoutLine.objects.filter(run=run).values_list(
            "person_id", "plan_version_id", "component_id", "kind", "amount", "measure"
        )
    )


def _replayed_exactly_while_fresh_differs(world: Any, first: CalculationRun) -> CalculationRun:
    replay = _go(runs.run_replay, run_id=first.pk, user_id=None)
    fresh = _start(world)
    assert replay.known_at == first.known_at
    assert replay.result_hash == first.result_hash
    assert _lines(replay) == _lines(first)
    assert replay.pins[as_known.VERSIONED_PIN] is True
    assert fresh.result_hash != first.result_hash
    return fresh


def _bonus(run: CalculationRun, person_id: int) -> Decimal:
    return Decimal(
        PayoutLine.objects.get(
            run=run, person_id=person_id, component_id="bonus", kind="earned"
        ).amount
    )


def test_a_replay_after_a_quota_edit_pays_as_the_run_did(world):
    # given a run paying seller 0's bonus on a 200,000.00 quota
    first = _start(world)
    seller = world.people[0].pk
    # when the quota is corrected to 100,000.00
    plans.quota_update(access=comp_admin_access(), quota_pk=world.quota.pk, amount="100000")
    # then the replay pays as the run did; a fresh run pays twice the bonus
    fresh = _replayed_exactly_while_fresh_differs(world, first)
    assert _bonus(fresh, seller) == 2 * _bonus(first, seller)
    # and the quota kept its id, its log two versions, one of them current
    assert Quota.objects.get(pk=world.quota.pk).amount == Decimal(100000)
    log = QuotaVersion.objects.filter(quota_row=world.quota.pk).order_by("recorded_at")
    assert [(v.amount, v.superseded_at is None) for v in log] == [
        (Decimal(200000), False),
        (Decimal(100000), True),
    ]


def test_a_replay_after_a_plan_assignments_end_moved_pays_as_the_run_did(world):
    # given a run with seller 0 on Quota AE all January
    first = _start(world)
    seller = world.people[0].pk
    # when the assignment is ended on 15 January (in place)
    plans.plan_assignment_end(
        access=comp_admin_access(), assignment_id=world.quota_assignment.pk, valid_to=MID
    )
    # then the replay pays the whole month; a fresh run only the first fortnight
    fresh = _replayed_exactly_while_fresh_differs(world, first)
    assert _bonus(fresh, seller) != _bonus(first, seller)
    assert PlanAssignment.objects.get(pk=world.quota_assignment.pk).valid_to == MID
    assert PlanAssignmentVersion.objects.filter(assignment=world.quota_assignment).count() == 2


def test_a_replay_after_a_hire_date_correction_pays_as_the_run_did(world):
    # given a run where seller 0, hired in 2025, is past the ramp
    first = _start(world)
    seller = world.people[0].pk
    # when HR corrects the hire date to 1 January 2026 (January is the first, ramped period)
    people.person_update(person_id=seller, hire_date=JAN)
    # then the replay pays as the run did; a fresh run halves the quota: twice the bonus
    fresh = _replayed_exactly_while_fresh_differs(world, first)
    assert _bonus(fresh, seller) == 2 * _bonus(first, seller)
    log = PersonVersion.objects.filter(person_id=seller).order_by("recorded_at")
    assert [v.hire_date for v in log] == [START, JAN]


def test_a_replay_after_a_node_move_pays_as_the_run_did(world):
    # given a run paying the sales node's Team plan to Tess, in the team node below it
    first = _start(world)
    tess = world.member.pk
    assert PayoutLine.objects.filter(run=first, person_id=tess, component_id="team_commission")
    # when the team node moves out from under sales for all of January
    people.node_move(node_id=world.team.pk, parent_id=world.elsewhere.pk, valid_from=JAN)
    # then the replay still pays Tess the Team plan; a fresh run no longer does
    fresh = _replayed_exactly_while_fresh_differs(world, first)
    assert not PayoutLine.objects.filter(run=fresh, person_id=tess, component_id="team_commission")


def test_a_replay_after_a_new_plan_version_pays_as_the_run_did(world):
    # given a run on Runs AE version 1 (5 %)
    first = _start(world)
    # when version 2 (10 %) is published from 15 January, the assignments carried over
    draft = plans.plan_version_draft_create(plan_id=world.plan.pk, user_id=None)
    source = PLAN_SOURCE.format(code=world.plan.code).replace('rate: "0.05"', 'rate: "0.10"')
    plans.plan_version_save(version_id=draft.pk, source=source, user_id=None)
    plans.plan_version_publish(version_id=draft.pk, user_id=None, valid_from=MID)
    # then the replay pays version 1 all month; a fresh run splits the month
    fresh = _replayed_exactly_while_fresh_differs(world, first)
    assert str(draft.pk) in fresh.pins["plan_versions"]
    assert str(draft.pk) not in first.pins["plan_versions"]


def test_the_closure_as_known_now_is_the_closure_table(world):
    # given the fixture's hierarchy (sales > team, elsewhere) and a later move
    people.node_move(node_id=world.team.pk, parent_id=world.elsewhere.pk, valid_from=MID)
    nodes = [world.node.pk, world.team.pk, world.elsewhere.pk]
    # then the closure built from the parent links known now is the table's, row for row
    table = sorted(
        NodeClosure.objects.filter(ancestor_id__in=nodes)
        .overlapping(JAN, FEB)
        .values_list("ancestor_id", "descendant_id", "valid_from", "valid_to")
    )
    from django.utils import timezone

    assert as_known.closure_rows(nodes, JAN, FEB, timezone.now()) == table


def test_a_gather_for_a_run_older_than_the_logs_reads_the_tables(world):
    # given a quota changed behind the services' back (no version recorded)
    Quota.objects.filter(pk=world.quota.pk).update(amount=Decimal(100000))
    pinned_old = {"fx_rates": [], "crediting_rules": []}  # a run's pins before the logs
    # then a gather as a replay of such a run reads the table, a fresh one the log
    old = fetch.gather(period_id=world.period.pk, pinned=pinned_old)
    new = fetch.gather(period_id=world.period.pk)
    seller = str(world.people[0].pk)

    def amount(got: Any) -> int:
        q = got.inputs.quotas
        return int(
            q[(q["holder_id"] == seller) & (q["quota_id"] == "bookings")]["amount_e4"].iloc[0]
        )

    assert amount(old) == 100000_0000 and amount(new) == 200000_0000
    assert old.pins[as_known.VERSIONED_PIN] is False and new.pins[as_known.VERSIONED_PIN] is True
    assert not as_known.reads_versions({}) and as_known.reads_versions(None)
