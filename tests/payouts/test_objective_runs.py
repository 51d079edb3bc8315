"""Runs pay an mbo component on a person's own signed-off objectives (plans.objectives): an
objective that is set but not signed off scores 0 and the trace says so; a person with neither
objectives nor KPI values is a clear problem, not a crash; a run replays what was signed off
when it ran."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from core.tenancy import tenant_scope
from payouts import inputs as fetch
from payouts import runs
from payouts.models import CalculationRun, PayoutLine, RunStatus
from plans import objectives
from tests.plans.objectives_data import mbo_world, signed_off

pytestmark = pytest.mark.django_db


@pytest.fixture
def w(org: Any) -> Any:
    with tenant_scope(org.tenant):
        yield mbo_world(org)


def _run(w: Any, capture: Any) -> CalculationRun:
    with capture(execute=True):
        run = runs.run_start(period_id=w.period.pk, trigger="page", user_id=None)
    run.refresh_from_db()
    return run


def _line(run: CalculationRun, person: Any) -> PayoutLine:
    return PayoutLine.objects.get(run=run, person=person, component_id="mbo", kind="earned")


def test_a_run_pays_signed_off_completions_and_counts_the_rest_as_not_done(
    w, django_capture_on_commit_callbacks
):
    # given Erin: 60 % weight signed off at 100 %, 40 % set and submitted at 50 %, not signed
    # off; Wes: 50 % at 80 % and 50 % at 120 % (capped at 100 %), both signed off
    erin_a, erin_b = signed_off(w, w.org.erin, [("Launch", "60", "100"), ("Docs", "40", None)])
    objectives.objective_submit(access=w.access(), objective_id=erin_b.pk, completion="50")
    signed_off(w, w.org.wes, [("Pipeline", "50", "80"), ("Renewals", "50", "120")])
    # when the period is calculated
    run = _run(w, django_capture_on_commit_callbacks)
    assert run.status == RunStatus.SUCCEEDED, (run.reason, run.problems)
    # then Erin earns 60 % of 10,000 and her trace names the objective not signed off
    erin = _line(run, w.org.erin)
    assert erin.amount == Decimal("6000.00")
    text = erin.trace_text
    assert f"objective {erin_b.pk} not signed off -> 0 %" in text
    assert f"objective {erin_a.pk} 100 % x 60 %" in text
    # and Wes 0.5 x 80 % + 0.5 x 100 % = 90 %
    assert _line(run, w.org.wes).amount == Decimal("9000.00")
    # when the manager signs off Erin's second objective and the period is run again
    objectives.objective_sign_off(access=w.access(w.manager), objective_id=erin_b.pk)
    again = _run(w, django_capture_on_commit_callbacks)
    assert again.status == RunStatus.SUCCEEDED, (again.reason, again.problems)
    assert _line(again, w.org.erin).amount == Decimal("8000.00")  # 60 % + 40 % x 50 %
    # and the first run's moment still reads what was signed off then
    first = fetch.gather(
        period_id=w.period.pk, known_at=dt.datetime.fromisoformat(run.pins["known_at"])
    )
    names = set(first.inputs.kpi_values["kpi"])
    assert not any(n.endswith(f":{erin_b.pk}:completion") for n in names)
    now = fetch.gather(period_id=w.period.pk)
    assert any(n.endswith(f":{erin_b.pk}:completion") for n in set(now.inputs.kpi_values["kpi"]))


def test_a_reopened_objective_is_not_paid_until_signed_off_again(
    w, django_capture_on_commit_callbacks
):
    [erin] = signed_off(w, w.org.erin, [("Launch", "100", "100")])
    signed_off(w, w.org.wes, [("Pipeline", "100", "100")])
    objectives.objective_reopen(access=w.access(), objective_id=erin.pk, reason="Recount")
    run = _run(w, django_capture_on_commit_callbacks)
    assert run.status == RunStatus.SUCCEEDED, (run.reason, run.problems)
    assert _line(run, w.org.erin).amount == Decimal("0.00")
    assert _line(run, w.org.wes).amount == Decimal("10000.00")


def test_someone_with_no_objectives_and_no_kpi_values_is_a_clear_problem(w):
    # given Erin's objectives signed off, Wes with nothing (only a draft, never agreed)
    signed_off(w, w.org.erin, [("Launch", "100", "100")])
    objectives.objective_create(
        access=w.access(),
        person_id=w.org.wes.pk,
        period_id=w.period.pk,
        plan_id=w.plan.pk,
        component="mbo",
        title="Draft only",
        weight="100",
    )
    # when the run's inputs are gathered
    got = fetch.gather(period_id=w.period.pk)
    # then one problem per spec objective names Wes, the component and what to do
    wes = [p for p in got.problems if p.person_id == str(w.org.wes.pk)]
    assert {p.code for p in wes} == {fetch.NO_OBJECTIVE_COMPLETION}
    assert len(wes) == 2
    assert "set and sign off their objectives" in wes[0].message
    assert not [p for p in got.problems if p.person_id == str(w.org.erin.pk)]


@pytest.mark.needs_pg  # live runs are kept on PostgreSQL only (payouts.live.enabled_here)
def test_a_sign_off_reaches_the_open_periods_live_run(w, django_capture_on_commit_callbacks):
    from core.changes import changes_pending
    from payouts import live

    # given Erin's second objective submitted but not signed off, and the period calculated
    _a, erin_b = signed_off(w, w.org.erin, [("Launch", "60", "100"), ("Docs", "40", None)])
    objectives.objective_submit(access=w.access(), objective_id=erin_b.pk, completion="50")
    signed_off(w, w.org.wes, [("Pipeline", "100", "100")])
    assert _line(_run(w, django_capture_on_commit_callbacks), w.org.erin).amount == Decimal("6000")
    live.live_recalculate()  # the keys of building the world
    # when the manager signs it off
    objectives.objective_sign_off(access=w.access(w.manager), objective_id=erin_b.pk)
    # then the change feed names Erin over the period, and the live run pays her the 40 % share
    keys = changes_pending(kinds=["objective"]).values_list("person_id", "valid_from", "valid_to")
    assert set(keys) == {(w.org.erin.pk, w.period.start, w.period.end)}
    (done,) = live.live_recalculate()
    assert not done.full
    assert _line(done.run, w.org.erin).amount == Decimal("8000.00")
    assert _line(done.run, w.org.wes).amount == Decimal("10000.00")
