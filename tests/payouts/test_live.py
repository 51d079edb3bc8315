"""Live runs (payouts/live.py): the change feed's keys recalculated incrementally, equal to a
full run of the same inputs; only the chunks touched (and those that read them) computed
again; triggered on commit, debounced; statements read the newest live run."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection

from core.changes import changes_pending
from core.models import AuditEvent, Role
from core.permissions import ROLE_PERMISSIONS, Principal
from core.tenancy import tenant_scope
from engine import compute
from payouts import inputs as fetch
from payouts import live, runs, statements
from payouts.models import CalculationRun, LineContribution, PayoutLine, RunKind, RunStatus
from tests.payouts.helpers import review_steps
from tests.payouts.rundata import add_team_lead, build_sales, deal, record

pytestmark = [pytest.mark.django_db, pytest.mark.needs_pg]


def _full(period_id: int) -> CalculationRun:
    run = runs.run_start(period_id=period_id, trigger="page", user_id=None)
    run = runs.run_execute(run_id=run.pk)
    assert run.status == RunStatus.SUCCEEDED, (run.reason, run.problems)
    return run


def _lines(run: CalculationRun) -> list[tuple[Any, ...]]:
    return sorted(
        PayoutLine.objects.filter(run=run).values_list(
            "person_id", "plan_version_id", "component_id", "segment", "kind", "ordinal", "amount"
        )
    )


def _engine_lines(period_id: int, known_at: dt.datetime) -> list[tuple[Any, ...]]:
    result = compute(fetch.gather(period_id=period_id, known_at=known_at).inputs)
    return sorted(
        (
            int(ln.person_id),
            ln.component_id,
            ln.kind,
            Decimal(str(ln.amount)).quantize(Decimal(1) / 10000),
        )
        for ln in result.lines
    )


def _as_engine(run: CalculationRun) -> list[tuple[Any, ...]]:
    return sorted((p, c, k, a) for p, _v, c, _s, k, _o, a in _lines(run))


@pytest.fixture
def sales(tenant_a: Any, settings: Any) -> Any:
    settings.LIVE_CHUNK_SIZE = 3
    with tenant_scope(tenant_a):
        world = build_sales(n_people=11, deals_per_person=2)
        # a team lead paid 10 % of the team's commission: pay on others' pay (a dependency)
        lead = add_team_lead(world)
        world.lead = lead
        yield world


def test_random_changes_recalculated_live_equal_a_full_run(sales):
    period = sales.period
    base = _full(period.pk)
    # the keys of building the world: the first pass rebuilds the full run in live chunks
    (warm,) = live.live_recalculate()
    assert warm.full and warm.run.result_hash == base.result_hash
    rng = random.Random(12)
    rows: list[dict[str, Any]] = []
    passes = []
    for step in range(8):
        seller = rng.randrange(len(sales.people))
        if rows and step % 3 == 2:
            row = dict(rng.choice(rows), amount=f"{rng.randint(100, 90_000)}.00")  # a new version
        else:
            row = deal(f"LIVE-{step}", seller, rng)
            rows.append(row)
        record([row])
        done = live.live_recalculate()
        assert len(done) == 1, step
        passes.append(done[0])
        run = done[0].run
        assert run.kind == RunKind.LIVE and run.status == RunStatus.SUCCEEDED
        # each live run equals the engine's one-call result on the same inputs
        assert _as_engine(run) == _engine_lines(period.pk, run.known_at), step
        # and the statements read it
        assert statements.period_run(period=period).run.pk == run.pk
    # every pass was incremental
    assert not any(p.full for p in passes)
    assert all(p.measured < p.chunks for p in passes)
    last = passes[-1].run
    assert last.pins["supersedes"] == passes[-2].run.pk
    # a fresh full run on the same inputs: the same lines, the same hash
    fresh = _full(period.pk)
    assert fresh.result_hash == last.result_hash
    assert last.result_hash != base.result_hash
    assert _lines(fresh) == _lines(last)
    # and the same per-credit contributions, each under the same line (carried ones too)
    assert _contributions(fresh) == _contributions(last)


def _contributions(run: CalculationRun) -> list[tuple[Any, ...]]:
    return sorted(
        LineContribution.objects.filter(run=run).values_list(
            "line__person_id",
            "line__component_id",
            "line__segment",
            "line__kind",
            "line__ordinal",
            "transaction_id",
            "credit_id",
            "amount",
        )
    )


def test_one_changed_deal_recomputes_its_chunk_and_the_leads_only(sales):
    period = sales.period
    _full(period.pk)
    first = live.live_recalculate()[0]  # rebuilds the full run's figures in live chunks
    assert first.full and first.chunks == 4  # 12 people in chunks of 3
    # when one more deal of seller 0 comes in
    record([deal("ONE", 0, random.Random(2))])
    (done,) = live.live_recalculate()
    # then only seller 0's chunk is gathered and measured again, and the lead's chunk settled
    # again (his override reads the team's pay); everything else is carried forward
    assert not done.full
    assert done.measured == 1
    assert done.settled == 2
    run = done.run
    assert run.pins["live"]["recomputed"]["fetch"] == 1
    assert len(set(run.pins["live"]["sources"]["fetch"])) == 2  # this run's and the last one's
    # the carried lines kept their contributions
    assert LineContribution.objects.filter(run=run).count() == (
        LineContribution.objects.filter(run=first.run).count() + 1
    )
    # one audit event says what the pass did
    event = AuditEvent.objects.filter(action="run.live").order_by("-pk").first()
    assert event is not None and event.after["recomputed"]["measure"] == 1


def test_an_untouched_chunk_settled_again_is_decoded_not_gathered(sales, monkeypatch):
    period = sales.period
    _full(period.pk)
    live.live_recalculate()  # every chunk gathered once, its inputs stored with its fetch row
    gathered: list[list[int]] = []
    real = fetch.gather

    def counting(**kwargs: Any) -> Any:
        if kwargs.get("person_ids") is not None:  # a pass's (the engine check reads all)
            gathered.append(sorted(kwargs["person_ids"]))
        return real(**kwargs)

    monkeypatch.setattr(fetch, "gather", counting)
    groups = CalculationRun.objects.filter(kind=RunKind.LIVE).latest("pk").pins["live"]["groups"]
    leads = groups[-1]  # the lead's chunk (the last person made), settled again every pass
    assert sales.lead.pk in leads
    rng = random.Random(4)
    seller_0, seller_in_leads = 0, len(sales.people) - 1
    assert sales.people[seller_in_leads].pk in leads
    for step, (seller, forget) in enumerate(
        [(seller_0, False), (seller_0, True), (seller_in_leads, False), (seller_0, False)]
    ):
        if forget:  # a worker that has not seen the chunk reads its stored inputs
            live._kept_inputs.clear()
        gathered.clear()
        record([deal(f"DEC-{step}", seller, rng)])
        (done,) = live.live_recalculate()
        mine = next(g for g in groups if sales.people[seller].pk in g)
        assert not done.full and done.settled == (1 if mine == leads else 2), step
        # one read per pass, of the touched chunk only: the lead's, when untouched, is decoded
        assert gathered == [sorted(mine)], step
        # and the result is the engine's on the same inputs (the decoded chunk after its own
        # change, step 2, is the one that change's pass gathered: not the first pass's)
        assert _as_engine(done.run) == _engine_lines(period.pk, done.run.known_at), step
    fresh = _full(period.pk)
    assert fresh.result_hash == done.run.result_hash


def test_a_full_pass_gathers_in_batches_equal_to_a_full_run(sales, monkeypatch):
    period = sales.period
    base = _full(period.pk)
    monkeypatch.setattr(live, "GATHER_BATCH", 5)  # 12 people in chunks of 3: batches of 2 chunks
    gathered: list[list[int]] = []
    real = fetch.gather

    def counting(**kwargs: Any) -> Any:
        if kwargs.get("person_ids") is not None:
            gathered.append(sorted(kwargs["person_ids"]))
        return real(**kwargs)

    monkeypatch.setattr(fetch, "gather", counting)
    (first,) = live.live_recalculate()
    assert first.full and first.chunks == 4
    assert [len(g) for g in gathered] == [6, 6]
    assert first.run.result_hash == base.result_hash
    assert _contributions(first.run) == _contributions(base)


def test_changes_nobody_pays_for_and_periods_without_a_run_write_nothing(sales):
    # no run of January yet: keys are consumed, nothing is written
    record([deal("EARLY", 1, random.Random(3))])
    assert live.live_recalculate() == []
    assert not changes_pending().exists()
    assert not CalculationRun.objects.filter(kind=RunKind.LIVE).exists()


def test_a_full_run_newer_than_the_live_run_is_the_next_base(sales):
    period = sales.period
    _full(period.pk)
    record([deal("A", 2, random.Random(4))])
    live.live_recalculate()
    _full(period.pk)  # may have seen plan data the feed does not name
    record([deal("B", 2, random.Random(5))])
    (done,) = live.live_recalculate()
    assert done.full


def test_a_write_wakes_the_consumer_on_commit(sales, settings, django_capture_on_commit_callbacks):
    settings.CHANGE_FEED_TASKS = [live.TASK]
    _full(sales.period.pk)
    # when a deal is imported (its credits record keys in the feed), in its transaction
    with django_capture_on_commit_callbacks(execute=True):
        record([deal("WAKE", 3, random.Random(6))])
    # then the live run was written after the commit (tasks are eager in the tests)
    newest = statements.period_run(period=sales.period).run
    assert newest.kind == RunKind.LIVE and newest.trigger == "change"
    assert not changes_pending().exists()


def test_the_wake_up_is_debounced_to_one_pending_task_per_tenant(
    sales, settings, monkeypatch, django_capture_on_commit_callbacks
):
    from celery import current_app

    from core import tasks as core_tasks

    if not settings.REDIS_URL:
        pytest.skip("the debounce key lives in Redis")
    settings.CHANGE_FEED_TASKS = [live.TASK]
    sent: list[Any] = []
    task = core_tasks.task_named(live.TASK)
    monkeypatch.setattr(task, "apply_async", lambda **kw: sent.append(kw))
    eager = current_app.conf.task_always_eager
    current_app.conf.task_always_eager = False
    try:
        core_tasks.debounce_release(live.TASK)
        for n in range(3):
            with django_capture_on_commit_callbacks(execute=True):
                record([deal(f"DEB-{n}", 4, random.Random(n))])
        assert len(sent) == 1  # one task pending for the three commits
        core_tasks.debounce_release(live.TASK)  # the task started: the next commit sends again
        with django_capture_on_commit_callbacks(execute=True):
            record([deal("DEB-x", 4, random.Random(9))])
        assert len(sent) == 2
    finally:
        current_app.conf.task_always_eager = eager
        core_tasks.debounce_release(live.TASK)


def test_the_beat_sweep_catches_up_on_pending_changes(sales):
    from payouts import tasks

    _full(sales.period.pk)
    record([deal("SWEPT", 5, random.Random(7))])
    assert changes_pending().exists()
    assert tasks.live_sweep_task.run() == 1
    assert statements.period_run(period=sales.period).run.kind == RunKind.LIVE


def test_a_closed_or_approved_period_gets_no_live_run(sales):
    from payouts import lifecycle

    run = _full(sales.period.pk)
    finance = Principal(permissions=ROLE_PERMISSIONS[Role.FINANCE])
    lifecycle.period_submit_for_review(period_id=sales.period.pk, principal=finance)
    review_steps(sales.period)
    lifecycle.period_approve(period_id=sales.period.pk, run_id=run.pk, principal=finance)
    record([deal("LATE", 6, random.Random(8))])
    assert live.live_recalculate() == []


def test_live_needs_postgresql_tables():
    assert connection.vendor == "postgresql"


def _comp_admin_access() -> Any:
    from hierarchy.access import access_for

    principal = Principal(permissions=ROLE_PERMISSIONS[Role.COMP_ADMIN], user_id=None)
    return access_for(principal, today=dt.date(2026, 1, 1))


def test_a_quota_change_recalculates_its_holder_live(sales):
    from plans import services as plans

    period = sales.period
    base = _full(period.pk)
    live.live_recalculate()  # the keys of building the world
    # when seller 3 is given a quota, then has it changed
    seller = sales.people[3]
    quota = plans.quota_create(
        access=_comp_admin_access(),
        holder=plans.QuotaHolder(person_id=seller.pk),
        quota_id="bookings",
        amount=Decimal(50000),
        currency="USD",
        plan_id=sales.plan.pk,
        valid_from=dt.date(2026, 1, 1),
        valid_to=dt.date(2026, 4, 1),
        user_id=None,
    )
    plans.quota_update(access=_comp_admin_access(), quota_pk=quota.pk, amount=Decimal(60000))
    keys = list(changes_pending(kinds=["quota"]).values_list("person_id", "valid_from", "valid_to"))
    # then each write recorded the holder over its days, and the open period's live run
    # recalculates that holder's chunk only: the same pay (a flat rate), now with attainment
    assert set(keys) == {(seller.pk, dt.date(2026, 1, 1), dt.date(2026, 4, 1))}
    (done,) = live.live_recalculate()
    assert not done.full and done.measured == 1
    run = done.run
    assert _as_engine(run) == _as_engine(base)
    line = PayoutLine.objects.get(run=run, person=seller, component_id="commission")
    whole = compute(fetch.gather(period_id=period.pk, known_at=run.known_at).inputs)
    [want] = [
        ln.attainment
        for ln in whole.lines
        if ln.person_id == str(seller.pk) and ln.component_id == "commission"
    ]
    assert want is not None and line.attainment == want.quantize(line.attainment)
    others = PayoutLine.objects.filter(run=run, component_id="commission").exclude(person=seller)
    assert not others.filter(attainment__isnull=False).exists()


def test_a_plan_assignment_change_reaches_the_live_run(sales):
    from plans import services as plans
    from plans.models import PlanAssignment

    period = sales.period
    base = _full(period.pk)
    live.live_recalculate()
    # when the sellers' job-role assignment ends mid-January
    role_assignment = PlanAssignment.objects.get(role=sales.role)
    plans.plan_assignment_end(
        access=_comp_admin_access(), assignment_id=role_assignment.pk, valid_to=dt.date(2026, 1, 16)
    )
    # then the tenant-wide key (a job role's holders) is recorded for the days it no longer
    # covers, and the live run pays the sellers for the first half of the month only
    keys = list(changes_pending(kinds=["plan_assignment"]).values_list("person_id", "node_id"))
    assert keys == [(None, None)]
    (done,) = live.live_recalculate()
    run = done.run
    assert run.result_hash != base.result_hash
    assert _as_engine(run) == _engine_lines(period.pk, run.known_at)
    sellers = {p.pk for p in sales.people}
    assert run.lines.filter(person_id__in=sellers).exists()
    total = sum(
        PayoutLine.objects.filter(run=run, person_id__in=sellers).values_list("amount", flat=True)
    )
    before = sum(
        PayoutLine.objects.filter(run=base, person_id__in=sellers).values_list("amount", flat=True)
    )
    assert total < before


def test_a_pass_keeps_its_layout_unless_people_may_have_moved(sales, monkeypatch):
    from hierarchy import people
    from plans import services as plans
    from tests.payouts.rundata import START, draft_with_rate

    monkeypatch.setattr(live, "LAYOUT_MARGIN", dt.timedelta(0))  # the world was built just now
    period = sales.period
    _full(period.pk)
    live.live_recalculate()
    reads: list[int] = []
    real = fetch.people_for_period

    def counting(period_id: int, **kwargs: Any) -> list[int]:
        reads.append(period_id)
        return real(period_id, **kwargs)

    monkeypatch.setattr(fetch, "people_for_period", counting)
    rng = random.Random(8)
    # a new deal moves figures only: the pass keeps the last run's layout, not reading it again
    record([deal("KEEP-1", 2, rng)])
    (done,) = live.live_recalculate()
    assert reads == [] and not done.full and done.measured == 1
    assert _as_engine(done.run) == _engine_lines(period.pk, done.run.known_at)
    # a new seller (an assignment: a layout key) is read, and changes the layout: a full pass
    newcomer = people.person_create(
        employee_id=f"S{len(sales.people):05d}", full_name="New Seller", hire_date=START
    )
    people.assignment_create(
        person_id=newcomer.pk, node_id=sales.node.pk, role_id=sales.role.pk, valid_from=START
    )
    sales.people.append(newcomer)
    record([deal("KEEP-2", len(sales.people) - 1, rng)])
    (done,) = live.live_recalculate()
    assert reads == [period.pk] and done.full
    assert newcomer.pk in {p for g in done.run.pins["live"]["groups"] for p in g}
    assert _as_engine(done.run) == _engine_lines(period.pk, done.run.known_at)
    # figures only again: kept
    reads.clear()
    record([deal("KEEP-3", 0, rng)])
    (done,) = live.live_recalculate()
    assert reads == [] and not done.full
    assert _as_engine(done.run) == _engine_lines(period.pk, done.run.known_at)
    # a plan version published (no key) since the last pass: the layout is read again
    draft = draft_with_rate(sales, "0.05")
    plans.plan_version_publish(version_id=draft.pk, user_id=None, valid_from=dt.date(2026, 1, 16))
    record([deal("KEEP-4", 1, rng)])
    (done,) = live.live_recalculate()
    assert reads == [period.pk]
    fresh = _full(period.pk)
    assert fresh.result_hash == done.run.result_hash
