"""Calculation runs in one process (the demo's path): start, chunks, lines, hash, problems,
retry, replay and compare, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from core.tenancy import tenant_scope
from engine import compute
from hierarchy.models import Period
from payouts import inputs as fetch
from payouts import runs
from payouts.models import (
    CalculationRun,
    ChunkStatus,
    LineContribution,
    PayoutLine,
    RunChunk,
    RunPhase,
    RunStatus,
)
from tests.payouts.rundata import build_sales, deal, record

pytestmark = pytest.mark.django_db


_capture: Any = None


@pytest.fixture
def sales(tenant_a: Any, django_capture_on_commit_callbacks: Any) -> Any:
    global _capture
    _capture = django_capture_on_commit_callbacks
    with tenant_scope(tenant_a):
        yield build_sales(n_people=7, deals_per_person=4)


def _go(service: Any, **kwargs: Any) -> CalculationRun:
    """Call a starting service; with a broker configured the run's task is sent on commit
    (and runs eagerly in the test settings): run those callbacks, return the run as it ended."""
    with _capture(execute=True):
        run = service(**kwargs)
    run.refresh_from_db()
    return run


def _start(period_id: int, **kwargs: Any) -> CalculationRun:
    kwargs.setdefault("trigger", "page")
    kwargs.setdefault("user_id", None)
    return _go(runs.run_start, period_id=period_id, **kwargs)


def test_a_run_in_chunks_writes_the_engines_lines_once_with_their_contributions(sales):
    # given seven sellers with deals, in chunks of three people
    run = _start(sales.period.pk, chunk_size=3)
    # then the run succeeded through every phase's chunks
    assert run.status == RunStatus.SUCCEEDED, (run.reason, run.problems)
    assert run.phase == RunPhase.DONE
    assert run.people_count == 7
    assert run.chunks_total == 4 * 3 + 3
    phases = dict(
        RunChunk.objects.filter(run=run)
        .values_list("phase")
        .annotate()
        .values_list("phase", "number")
    )
    assert set(phases) == {"fetch", "measure", "reduce", "reward", "settle"}
    assert not RunChunk.objects.filter(run=run).exclude(status=ChunkStatus.DONE).exists()
    # and its lines are the engine's for the same inputs computed in one go
    whole = compute(fetch.gather(period_id=sales.period.pk, known_at=run.known_at).inputs)
    expected = sorted(
        (int(ln.person_id), ln.component_id, ln.kind, ln.amount) for ln in whole.lines
    )
    got = sorted(
        PayoutLine.objects.filter(run=run).values_list(
            "person_id", "component_id", "kind", "amount"
        )
    )
    assert [(p, c, k, Decimal(a)) for p, c, k, a in got] == expected
    assert run.line_count == len(expected)
    total = sum((ln.amount for ln in whole.lines), Decimal(0))
    assert Decimal(run.totals["USD"]) == total
    # and every credit's contribution points at its line
    line = PayoutLine.objects.filter(run=run, component_id="commission").first()
    contributions = LineContribution.objects.filter(line=line)
    assert contributions.exists()
    assert all(c.transaction_id and c.credit_id for c in contributions)
    assert line.trace_text and line.trace
    # and the result hash is the lines' hash
    assert run.result_hash == runs.lines_hash(run.pk) and len(run.result_hash) == 64
    # and the period's lifecycle heard of it: an open period is calculated now
    sales.period.refresh_from_db()
    assert sales.period.status == "calculated"


def test_the_same_inputs_give_the_same_hash_whatever_the_chunks(sales):
    one = _start(sales.period.pk, chunk_size=100)
    two = _start(sales.period.pk, chunk_size=2)
    assert (one.number, two.number) == (1, 2)
    assert one.result_hash == two.result_hash
    assert one.totals == two.totals


def test_a_replay_after_new_data_gives_the_same_hash_and_a_new_run_sees_the_change(sales):
    first = _start(sales.period.pk, chunk_size=3)
    # when a deal is recorded after the run's known_at
    record([deal("LATE-1", 0, random.Random(1))])
    replay = _go(runs.run_replay, run_id=first.pk, user_id=None)
    fresh = _start(sales.period.pk, chunk_size=3)
    # then the replay pays as the first run did, and a fresh run sees the new deal
    assert replay.known_at == first.known_at
    assert replay.pins["replay_of"] == first.pk
    assert replay.result_hash == first.result_hash
    assert fresh.result_hash != first.result_hash
    comparison = runs.run_compare(run_id=first.pk, other_id=fresh.pk)
    assert [p.person_id for p in comparison.people] == [sales.people[0].pk]
    assert comparison.unchanged == 6
    change = comparison.people[0].lines[0]
    assert change.component_id == "commission" and change.delta > 0
    assert "rose from" in change.words


def _person_lines(run: CalculationRun) -> list[tuple[Any, ...]]:
    return sorted(
        PayoutLine.objects.filter(run=run).values_list(
            "person_id", "component_id", "kind", "amount", "measure"
        )
    )


def test_a_replay_after_an_fx_correction_and_a_rule_edit_pays_as_the_run_did(sales):
    # given a deal in EUR for seller 0, converted at a dated rate, and a run
    from incentives import services as incentives
    from incentives.models import CreditingRule

    incentives.fx_rate_set(
        currency="EUR", quote_currency="USD", valid_on=dt.date(2025, 12, 31), rate=Decimal("1.1")
    )
    row = deal("EUR-1", 0, random.Random(3))
    record([{**row, "amount": "1000.00", "currency": "EUR"}])
    first = _start(sales.period.pk, chunk_size=3)
    assert first.status == RunStatus.SUCCEEDED, (first.reason, first.problems)
    assert [r[3] for r in first.pins["fx_rates"]] == ["2025-12-31"]
    assert first.pins["crediting_rules"][0][1] == 1  # the Owner rule, version 1
    # when the rate is corrected in place and the crediting rule doubles every credit
    incentives.fx_rate_set(
        currency="EUR", quote_currency="USD", valid_on=dt.date(2025, 12, 31), rate=Decimal("1.3")
    )
    owner = CreditingRule.objects.get(name="Owner")
    incentives.crediting_rule_update(rule_id=owner.pk, config={"multiplier": "2"})
    incentives.credits_recalculate()
    replay = _go(runs.run_replay, run_id=first.pk, user_id=None)
    fresh = _start(sales.period.pk, chunk_size=3)
    # then the replay pays line for line as the run did, with the rates and rules it pinned
    assert replay.status == RunStatus.SUCCEEDED, (replay.reason, replay.problems)
    assert replay.result_hash == first.result_hash
    assert _person_lines(replay) == _person_lines(first)
    assert replay.pins["fx_rates"] == first.pins["fx_rates"]
    assert replay.pins["crediting_rules"] == first.pins["crediting_rules"]
    assert replay.pins["chunk_hashes"] == first.pins["chunk_hashes"]
    # and a fresh run sees the corrected rate and the edited rule
    assert fresh.status == RunStatus.SUCCEEDED, (fresh.reason, fresh.problems)
    assert fresh.result_hash != first.result_hash
    assert fresh.pins["fx_rates"][0][4] == "1.30000000"
    assert fresh.pins["crediting_rules"][0][1] == 2
    before = dict(
        PayoutLine.objects.filter(run=first, component_id="commission").values_list(
            "person_id", "amount"
        )
    )
    after = dict(
        PayoutLine.objects.filter(run=fresh, component_id="commission").values_list(
            "person_id", "amount"
        )
    )
    assert all(after[p] > before[p] for p in before)


def test_bad_input_fails_the_run_before_writing_anything_with_every_problem(sales, tenant_a):
    # given a second plan that needs a quota nobody has, on the same role
    from plans import services as plans
    from tests.plans.conftest import comp_admin_access

    plan = plans.plan_create(
        code="quota-plan",
        name="Quota plan",
        template="sales_ae",
        user_id=None,
        valid_from=dt.date(2026, 1, 1),
    )
    version = plan.versions.get()
    plans.plan_version_publish(version_id=version.pk, user_id=None)
    plans.plan_assignment_create(
        access=comp_admin_access(),
        plan_version_id=version.pk,
        holder=plans.Holder(role_id=sales.role.pk),
        target_incentive=Decimal(5000),
        valid_from=dt.date(2026, 1, 1),
        user_id=None,
    )
    run = _start(sales.period.pk, chunk_size=3)
    # then the run failed with every person's missing quotas listed, nothing written
    assert run.status == RunStatus.FAILED
    assert "problem" in run.reason
    quota_problems = [p for p in run.problems if p["code"] == "no_quota"]
    assert {p["person"] for p in quota_problems} == {str(p.pk) for p in sales.people}
    assert len(quota_problems) == 7 * 2  # two quotas each
    assert not PayoutLine.objects.filter(run=run).exists()
    assert not RunChunk.objects.filter(run=run, phase=RunPhase.MEASURE).exists()
    # and a retry on unchanged data is a new run that fails alike
    retry = _go(runs.run_retry, run_id=run.pk, user_id=None)
    assert retry.retry_of_id == run.pk and retry.number == run.number + 1
    assert retry.status == RunStatus.FAILED and retry.problems == run.problems


def test_a_period_with_no_one_on_a_plan_fails_with_that_problem(
    tenant_a, django_capture_on_commit_callbacks
):
    global _capture
    _capture = django_capture_on_commit_callbacks
    from hierarchy import periods

    with tenant_scope(tenant_a):
        periods.period_generate_fiscal_year(fiscal_year=2026)
        period = Period.objects.get(kind="monthly", start=dt.date(2026, 1, 1))
        run = _start(period.pk)
        assert run.status == RunStatus.FAILED
        assert [p["code"] for p in run.problems] == ["no_assignments"]


def test_only_a_failed_run_is_retried_and_only_a_succeeded_one_replayed(sales):
    from core.errors import ConflictError

    run = _start(sales.period.pk)
    with pytest.raises(ConflictError):
        runs.run_retry(run_id=run.pk, user_id=None)
    assert _go(runs.run_replay, run_id=run.pk, user_id=None).status == RunStatus.SUCCEEDED


def test_a_chunk_delivered_twice_writes_nothing_twice(sales):
    run = _start(sales.period.pk, chunk_size=3)
    lines = PayoutLine.objects.filter(run=run).count()
    for chunk in RunChunk.objects.filter(run=run):
        assert runs.chunk_execute(chunk_id=chunk.pk) == "skipped"
    assert PayoutLine.objects.filter(run=run).count() == lines


@pytest.mark.needs_pg
def test_a_contribution_to_a_missing_line_is_refused_by_its_set_based_key(sales):
    # given a run's contributions (their line's key is checked once per INSERT: migration 0017)
    from django.db import IntegrityError, connection, transaction

    run = _start(sales.period.pk, chunk_size=3)
    some = LineContribution.objects.filter(run=run).first()
    assert some is not None
    missing = PayoutLine.objects.order_by("-pk").values_list("pk", flat=True)[0] + 1000
    sql = (
        "INSERT INTO payouts_linecontribution (tenant_id, line_id, run_id, transaction_id, "
        "credit_id, amount) VALUES (%s, %s, %s, NULL, NULL, 1)"
    )
    # then one more for an existing line goes in, one for a missing line is refused
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [run.tenant_id, some.line_id, run.pk])
        transaction.set_rollback(True)
    with (
        pytest.raises(IntegrityError, match="payouts_linecontribution_line_id_fk"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, [run.tenant_id, missing, run.pk])


def test_progress_reads_phase_chunks_percent(sales):
    run = _start(sales.period.pk, chunk_size=3)
    progress = runs.run_progress(run)
    assert (progress.percent, progress.chunks_done, progress.chunks_total) == (100, 15, 15)
    assert progress.phase == "done" and progress.eta_seconds is None


def test_the_sweeper_sends_a_stale_chunk_again_and_the_run_completes(sales, monkeypatch):
    # given a run whose measure chunks were lost (the worker died before they were sent)
    monkeypatch.setattr(runs, "in_process", lambda: False)
    monkeypatch.setattr(runs, "_dispatch", lambda ids: None)  # nothing reaches a worker
    run = _start(sales.period.pk, chunk_size=3)
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING
    assert RunChunk.objects.filter(run=run, status=ChunkStatus.PENDING).count() == 3
    monkeypatch.undo()
    # when the sweeper runs after they went stale
    RunChunk.objects.filter(run=run).update(heartbeat_at=timezone.now() - dt.timedelta(hours=1))
    assert runs.run_sweep(stale_seconds=60) >= 3
    run.refresh_from_db()
    # then the run completed, each line once
    assert run.status == RunStatus.SUCCEEDED
    again = _start(sales.period.pk, chunk_size=3)
    assert again.result_hash == run.result_hash


def test_an_engine_error_in_a_chunk_fails_the_run_with_its_reason(sales, monkeypatch):
    def boom(*args, **kwargs):
        raise ValueError("the engine refused")

    monkeypatch.setattr(runs.ph, "reward_chunk", boom)
    run = _start(sales.period.pk, chunk_size=3)
    assert run.status == RunStatus.FAILED
    assert "reward phase failed: ValueError: the engine refused" in run.reason
    assert RunChunk.objects.filter(run=run, status=ChunkStatus.FAILED).exists()
    # and once the cause is gone a retry succeeds
    monkeypatch.undo()
    retry = _go(runs.run_retry, run_id=run.pk, user_id=None)
    assert retry.status == RunStatus.SUCCEEDED and retry.retry_of_id == run.pk


def test_people_are_cut_into_chunks_of_even_work_not_even_heads():
    people = list(range(1, 101))
    credits = {1: 5_000, 2: 3_000, **dict.fromkeys(range(3, 101), 10)}
    groups = runs.chunk_groups(people, 25, credits)
    # as many chunks as 25 people a chunk, consecutive, everyone once
    assert len(groups) == 4
    assert [p for g in groups for p in g] == people
    mean = sum(credits.values()) / len(people)
    work = [sum(credits.get(p, 0) + mean for p in g) for g in groups]
    # the heavy first people share no chunk with the long light tail
    assert groups[0] == [1] and len(groups[-1]) > 25
    assert max(work) < 2 * min(work)
    # without counts: chunks of 25 as before
    assert runs.chunk_groups(people, 25, {}) == [people[i : i + 25] for i in range(0, 100, 25)]
    assert runs.chunk_groups(people, 1000, credits) == [people]
    assert runs.chunk_groups([], 25, credits) == []
    # one chunk a person at most, however heavy one is
    assert runs.chunk_groups([1, 2, 3], 1, {1: 10**6}) == [[1], [2], [3]]


def test_a_run_chunks_by_credits_and_pays_as_chunks_by_people(sales):
    counts = fetch.credit_counts(sales.period.pk)
    assert sum(counts.values()) > 0
    one = _start(sales.period.pk, chunk_size=3)
    groups = list(
        RunChunk.objects.filter(run=one, phase=RunPhase.FETCH)
        .order_by("number")
        .values_list("person_ids", flat=True)
    )
    people = fetch.people_for_period(sales.period.pk, known_at=one.known_at)
    assert groups == runs.chunk_groups(people, 3, counts)
    assert [p for g in groups for p in g] == people
    whole = _start(sales.period.pk, chunk_size=100)
    assert one.result_hash == whole.result_hash and one.totals == whole.totals


def test_a_person_whose_total_stays_says_which_lines_moved() -> None:
    from decimal import Decimal

    new = runs.LineChange("SDR", "per_meeting", 0, "earned", "USD", None, Decimal(0), "Per meeting")
    gone = runs.LineChange("AE", "spiff", 0, "earned", "USD", Decimal(0), None, "Spiff")
    change = runs.PersonChange(
        1, "Dana Smith", {"USD": Decimal(0)}, {"USD": Decimal(0)}, [new, gone]
    )
    assert change.words == "Dana Smith: same total: 1 new line, 1 line gone"
    assert new.words == "New line: Per meeting (earned) on SDR pays 0.00 USD."
