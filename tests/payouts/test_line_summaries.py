"""Per-person run summaries (``payouts.models.LineSummary``): written with a run's lines (and
carried by live runs), append-only; statement lists and roll-ups read them and give exactly the
figures summing the lines gives (the read of a run written before summaries existed)."""

from __future__ import annotations

import copy
import random
from collections import defaultdict
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext

from core.models import Tenant
from core.tenancy import tenant_scope
from hierarchy import people
from hierarchy.models import Node, Period, Person
from hierarchy.org_selectors import people_in_subtrees
from payouts import live, runs, statements
from payouts.ledger import entry_kind_for_line
from payouts.models import CalculationRun, EntryKind, LineSummary, PayoutLine, RunStatus
from tests.payouts.rundata import START, add_team_lead, build_sales, deal, record
from tests.payouts.written_runs import ledger

pytestmark = pytest.mark.django_db


def _full(period_id: int) -> CalculationRun:
    run = runs.run_start(period_id=period_id, trigger="page", user_id=None)
    run = runs.run_execute(run_id=run.pk)
    assert run.status == RunStatus.SUCCEEDED, (run.reason, run.problems)
    return run


def _rows(rows: list[statements.Summary]) -> list[tuple[Any, ...]]:
    return [
        (
            r.person.pk,
            r.person.full_name,
            r.status,
            r.run_id,
            r.currency,
            r.earned,
            r.payable,
            r.attainment,
            r.plans,
            r.frozen,
        )
        for r in rows
    ]


def _both(period: Period, people: Any) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The period's summaries of ``people`` read from the run's summaries, and summed from its
    lines (the same run read as one written before summaries existed)."""
    choice = statements.period_run(period=period)
    assert choice.run is not None and choice.run.summarized
    old = copy.copy(choice.run)
    old.summarized = False
    new = statements.period_summaries(period=period, people=people, choice=choice)
    lines = statements.period_summaries(
        period=period, people=people, choice=statements.RunChoice(old, choice.final)
    )
    return _rows(new), _rows(lines)


def _by_hand(run: CalculationRun) -> dict[int, tuple[Any, ...]]:
    """Each person's figures added up in Python from the run's lines."""
    out: dict[int, list[Any]] = {}
    plans: dict[int, set[int]] = defaultdict(set)
    for pid, kind, amount, currency, att, plan in (
        PayoutLine.objects.filter(run=run)
        .order_by("id")
        .values_list("person_id", "kind", "amount", "currency", "attainment", "plan_id")
    ):
        row = out.setdefault(pid, [currency, Decimal(0), Decimal(0), None, 0])
        if entry_kind_for_line(kind) == EntryKind.EARNED:
            row[1] += amount
        row[2] += amount
        if row[3] is None:
            row[3] = att
        row[4] += 1
        plans[pid].add(plan)
    return {pid: (*row, sorted(plans[pid])) for pid, row in out.items()}


def _stored(run: CalculationRun) -> dict[int, tuple[Any, ...]]:
    return {
        s.person_id: (s.currency, s.earned, s.payable, s.attainment, s.lines, sorted(s.plan_ids))
        for s in LineSummary.objects.filter(run=run)
    }


def test_the_demos_roll_ups_read_from_summaries_equal_the_lines(db):
    # given the demo company: one quarter approved (final), the current one provisional
    call_command("demo_seed", "--quiet")
    for command in ("incentives_demo_seed", "plans_demo_seed", "payouts_demo_seed"):
        call_command(command, "--tenant", "demo")
    with tenant_scope(Tenant.objects.get(slug="demo")):
        done = list(CalculationRun.objects.filter(status=RunStatus.SUCCEEDED))
        assert len(done) == 2
        for run in done:
            # each person's summary is what her lines add up to
            assert _stored(run) == _by_hand(run)
            assert any(s[3] is not None for s in _stored(run).values())  # attainment read
            period = Period.objects.get(pk=run.period_id)
            # everyone's, and every node's roll-up in every hierarchy: the same rows
            new, old = _both(period, Person.objects.all())
            assert new == old and len(new) == len(_stored(run))
            # (every business unit, and a few teams: each subtree read is a query)
            units = list(Node.objects.filter(hierarchy__kind="business_unit"))
            teams = list(Node.objects.filter(hierarchy__kind="reporting").order_by("pk"))
            assert units and teams
            for node in units + teams[-3:]:
                under = people_in_subtrees(node_ids=[node.pk], start=period.start, end=period.end)
                ids = list(under.values_list("pk", flat=True))
                new, old = _both(period, Person.objects.filter(pk__in=ids))
                assert new == old, node.name
        statuses = {statements.period_run(period=p).status for p in Period.objects.all()}
        assert {statements.FINAL, statements.PROVISIONAL} <= statuses


@pytest.mark.parametrize("seed", [3, 17, 41])
def test_random_runs_with_ledger_entries_read_the_same_from_summaries(tenant_a, seed):
    rng = random.Random(seed)
    with tenant_scope(tenant_a):
        world = build_sales(
            n_people=rng.randint(5, 14), deals_per_person=rng.randint(1, 4), seed=seed
        )
        add_team_lead(world)  # pay on others' pay
        run = _full(world.period.pk)
        # ledger movements, some for people the run did not pay
        outsider = people.person_create(
            employee_id="X1", full_name="Outside Ledger", hire_date=START
        )
        for person in [*rng.sample(world.people, 3), outsider]:
            kind = rng.choice([EntryKind.ADJUSTMENT, EntryKind.HOLD, EntryKind.EARNED])
            ledger(person, world.period, kind, f"{rng.randint(-900, 900)}.25")
        assert _stored(run) == _by_hand(run)
        new, old = _both(world.period, Person.objects.all())
        assert new == old
        assert "Outside Ledger" in {r[1] for r in new}
        # a roll-up's queries do not grow with its people
        everyone = Person.objects.all()
        with CaptureQueriesContext(connection) as one:
            statements.period_summaries(
                period=world.period, people=everyone.filter(pk=world.people[0].pk)
            )
        with CaptureQueriesContext(connection) as many:
            statements.period_summaries(period=world.period, people=everyone)
        assert len(one) == len(many)
        assert not any("payouts_payoutline" in q["sql"] for q in many.captured_queries)


@pytest.mark.needs_pg
def test_a_live_run_carries_and_recomputes_summaries_equal_to_its_lines(tenant_a, settings):
    settings.LIVE_CHUNK_SIZE = 3
    with tenant_scope(tenant_a):
        world = build_sales(n_people=11, deals_per_person=2)
        add_team_lead(world)
        _full(world.period.pk)
        (warm,) = live.live_recalculate()  # the full run again in live chunks
        # when one seller's deal changes: her chunk (and the lead's) recomputed, others carried
        record([deal("LIVE-SUM", 4, random.Random(5))])
        (done,) = live.live_recalculate()
        assert not done.full and done.settled < done.chunks
        for run in (warm.run, done.run):
            assert run.summarized and _stored(run) == _by_hand(run)
        new, old = _both(world.period, Person.objects.all())
        assert new == old
        assert new != _rows(
            statements.period_summaries(
                period=world.period,
                people=Person.objects.all(),
                choice=statements.RunChoice(warm.run, False),
            )
        )  # the changed deal moved someone's figures


@pytest.mark.needs_pg
def test_summaries_are_append_only(tenant_a):
    with tenant_scope(tenant_a):
        world = build_sales(n_people=2, deals_per_person=1)
        run = _full(world.period.pk)
        row = LineSummary.objects.filter(run=run).first()
        assert row is not None
        for action in (
            lambda: LineSummary.objects.filter(pk=row.pk).update(earned=Decimal(1)),
            lambda: LineSummary.objects.filter(pk=row.pk).delete(),
        ):
            with pytest.raises(DatabaseError), transaction.atomic():
                action()
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cur:
            cur.execute("TRUNCATE payouts_linesummary")
