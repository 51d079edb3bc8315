"""Statements: built from a run's lines and the ledger, provisional until approved, frozen on
approval, read through the one access policy. Runs here are hand-written (written_runs.py)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext

from core.errors import NotFoundError, ValidationFailedError
from core.models import Membership
from core.permissions import Principal, principal_for_membership
from core.tenancy import tenant_scope
from hierarchy.access import access_for
from hierarchy.models import Person
from payouts import statements
from payouts.models import EntryKind, RunStatus, Statement
from tests.payouts.written_runs import approve, ledger, write_line, write_run

pytestmark = pytest.mark.django_db


def _access(user: Any) -> Any:
    membership = Membership.objects.get(user=user)
    return access_for(principal_for_membership(membership))


def test_a_statement_reads_the_latest_succeeded_run_as_provisional(org, written):
    with tenant_scope(org.tenant):
        # when
        st = statements.statement_build(period=written.q1, person=org.erin)
    # then
    assert st["status"] == statements.PROVISIONAL
    assert st["run"]["id"] == written.run.pk
    assert [c["component_id"] for c in st["components"]] == ["accelerator", "commission"]
    assert st["totals"]["earned"] == "1238817.5000"
    assert st["totals"]["payable"] == "1238817.5000"
    traces = {line["component_id"]: line["trace_text"] for line in st["lines"]}
    assert traces["commission"] == "42,500.00 of bookings at 10 % = 4,250.00."


def test_a_period_without_a_run_has_an_empty_statement(org, written):
    with tenant_scope(org.tenant):
        st = statements.statement_build(period=written.q2, person=org.erin)
        failed = write_run(written.q2, status=RunStatus.FAILED)
        still = statements.period_run(period=written.q2)
    assert st["status"] == statements.NO_RUN and st["lines"] == []
    assert st["totals"]["payable"] == "0.0000"
    assert still.run is None and failed.pk  # a failed run is no statement


def test_the_ledger_entries_move_payable_by_their_signed_amounts(org, written):
    with tenant_scope(org.tenant):
        # given, signed by their effect as the ledger writes them: a draw, its recovery, a
        # hold, a partial release, a negative adjustment and a payment
        ledger(org.wes, written.q1, EntryKind.DRAW, "500.00", "Ramp draw")
        ledger(org.wes, written.q1, EntryKind.DRAW_RECOVERY, "-200.00")
        ledger(org.wes, written.q1, EntryKind.HOLD, "-300.00", "Deal under review")
        ledger(org.wes, written.q1, EntryKind.RELEASE, "100.00")
        ledger(org.wes, written.q1, EntryKind.ADJUSTMENT, "-50.00", "Split correction")
        ledger(org.wes, written.q1, EntryKind.PAID, "-400.00", "Advance paid")
        # when
        st = statements.statement_build(period=written.q1, person=org.wes)
        summary = statements.period_summaries(
            period=written.q1, people=Person.objects.filter(pk=org.wes.pk)
        )[0]
    # then: 800 + 500 - 200 - (300 - 100) - 50 - 400 = 450
    t = st["totals"]
    assert (t["earned"], t["draw"], t["draw_recovery"]) == ("800.0000", "500.0000", "-200.0000")
    assert (t["holds"], t["adjustments"], t["previously_paid"]) == (
        "-200.0000",
        "-50.0000",
        "-400.0000",
    )
    assert t["payable"] == "450.0000"
    assert summary.payable == Decimal("450.0000") and summary.earned == Decimal("800.0000")
    assert st["ledger"][0]["memo"] == "Ramp draw"


def test_approving_freezes_one_row_per_person_with_a_hash_and_makes_the_statement_final(
    org, written
):
    # when the period is approved through the lifecycle (ledger entries, then the freeze)
    outcome = approve(org.tenant, written.q1, written.run)
    with tenant_scope(org.tenant):
        rows = outcome.statements_frozen
        again = statements.statements_freeze(period_id=written.q1.pk, run_id=written.run.pk)
        # a later run does not move an approved period
        later = write_run(written.q1, number=2)
        write_line(later, org.erin, written.lines[("erin", "commission")].plan, "commission", "1")
        st = statements.statement_get(
            access=_access(written.users["erin"]), period_id=written.q1.pk, person_id=org.erin.pk
        )
    # then
    assert sorted(r.person_id for r in rows) == sorted([org.erin.pk, org.wes.pk, org.mia.pk])
    assert [r.pk for r in again] == [r.pk for r in rows]  # idempotent
    erin = next(r for r in rows if r.person_id == org.erin.pk)
    assert erin.content_hash == statements.content_hash(erin.content)
    assert erin.earned == Decimal("1238817.5000") == Decimal(st["totals"]["earned"])
    assert st["status"] == statements.FINAL and st["run"]["id"] == written.run.pk
    assert st["frozen"]["hash"] == erin.content_hash
    assert st["ledger"] == []  # the approval's entries are the lines, not movements
    assert st["totals"]["payable"] == "1238817.5000"


def test_a_reopened_period_is_provisional_again_and_a_new_approval_freezes_anew(org, written):
    from payouts import lifecycle
    from tests.payouts.helpers import FINANCE_CLIENT, review_steps

    first = approve(org.tenant, written.q1, written.run).statements_frozen
    with tenant_scope(org.tenant):
        lifecycle.period_reopen(
            period_id=written.q1.pk, principal=FINANCE_CLIENT, reason="Split fixed"
        )
        ledger(org.erin, written.q1, EntryKind.ADJUSTMENT, "250.00", "Split fixed")
        reopened = statements.statement_build(period=written.q1, person=org.erin)
        review_steps(written.q1)  # reopening starts the approval route again
        lifecycle.period_approve(
            period_id=written.q1.pk, run_id=written.run.pk, principal=FINANCE_CLIENT
        )
        st = statements.statement_get(
            access=_access(written.users["erin"]), period_id=written.q1.pk, person_id=org.erin.pk
        )
        assert Statement.objects.filter(person=org.erin).count() == 2
    # reopened: the approval's entries and their reversals cancel out; the lines count again
    assert reopened["status"] == statements.PROVISIONAL
    assert reopened["totals"]["payable"] == "1239067.5000"
    assert st["status"] == statements.FINAL and st["totals"]["adjustments"] == "250.0000"
    assert st["totals"]["payable"] == "1239067.5000"
    assert st["frozen"]["id"] not in {r.pk for r in first}


def test_a_frozen_statement_cannot_be_changed_or_deleted(org, written):
    row = approve(org.tenant, written.q1, written.run).statements_frozen[0]
    with tenant_scope(org.tenant):
        for action in (
            lambda: Statement.objects.filter(pk=row.pk).update(payable=Decimal(0)),
            lambda: Statement.objects.filter(pk=row.pk).delete(),
        ):
            with pytest.raises(DatabaseError), transaction.atomic():
                action()
        if connection.vendor == "postgresql":
            with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cur:
                cur.execute("UPDATE payouts_statement SET content_hash = 'x'")


def test_freezing_refuses_a_run_that_was_not_approved(org, written):
    with tenant_scope(org.tenant):
        running = write_run(written.q2, status=RunStatus.RUNNING)
        with pytest.raises(ValidationFailedError, match="Only a succeeded run"):
            statements.statements_freeze(period_id=written.q2.pk, run_id=running.pk)
        with pytest.raises(ValidationFailedError, match="another period"):
            statements.statements_freeze(period_id=written.q2.pk, run_id=written.run.pk)
        with pytest.raises(ValidationFailedError, match="not the approved run"):
            statements.statements_freeze(period_id=written.q1.pk, run_id=written.run.pk)
        assert not Statement.objects.exists()


def test_an_employee_reads_her_own_statement_a_manager_her_team_as_of_the_period(org, written):
    with tenant_scope(org.tenant):
        erin, sam, dana = (_access(written.users[k]) for k in ("erin", "sam", "dana"))
        mine = statements.statement_get(access=erin, period_id=written.q1.pk, person_id=org.erin.pk)
        with pytest.raises(NotFoundError):
            statements.statement_get(access=erin, period_id=written.q1.pk, person_id=org.wes.pk)
        team = {s.person.full_name for s in statements.statement_list(access=sam)}
        with pytest.raises(NotFoundError):
            statements.statement_get(access=sam, period_id=written.q1.pk, person_id=org.mia.pk)
        everyone = {s.person.full_name for s in statements.statement_list(access=dana)}
        nobody = statements.statement_list(access=access_for(Principal(permissions=frozenset())))
    assert mine["person"]["id"] == org.erin.pk
    assert team == {"Erin East", "Wes West"}
    assert everyone == {"Erin East", "Wes West", "Mia Marketing"}
    assert nobody == []


def test_a_manager_no_longer_sees_a_member_in_periods_after_she_left_the_team(org, written):
    from hierarchy import people
    from hierarchy.models import Assignment

    with tenant_scope(org.tenant):
        # given Wes moves to Marketing from Q2 on, and Q2 has a run paying him
        current = Assignment.objects.known_now().get(person=org.wes)
        people.assignment_update(assignment_id=current.pk, valid_to=written.q2.start)
        people.assignment_create(
            person_id=org.wes.pk,
            node_id=org.marketing.pk,
            role_id=org.ae.pk,
            valid_from=written.q2.start,
            allocation_pct=Decimal(100),
        )
        q2_run = write_run(written.q2)
        write_line(q2_run, org.wes, written.lines[("wes", "commission")].plan, "commission", "9")
        sam = _access(written.users["sam"])
        # when
        q1 = {
            s.person.full_name
            for s in statements.statement_list(access=sam, period_id=written.q1.pk)
        }
        q2 = {
            s.person.full_name
            for s in statements.statement_list(access=sam, period_id=written.q2.pk)
        }
    # then: Sam reads Wes's Q1 (he was hers then), not his Q2
    assert "Wes West" in q1 and "Wes West" not in q2


def test_a_line_drills_down_to_its_credits_and_transactions(org, written):
    with tenant_scope(org.tenant):
        drill = statements.line_get(
            access=_access(written.users["erin"]), line_id=written.lines[("erin", "commission")].pk
        )
        with pytest.raises(NotFoundError):
            statements.line_get(
                access=_access(written.users["erin"]),
                line_id=written.lines[("wes", "commission")].pk,
            )
    assert drill.total == Decimal("4250.00")
    assert [c.transaction.external_id for c in drill.contributions] == ["D-1", "D-2"]
    assert drill.contributions[0].credit.person_id == org.erin.pk


def test_building_statements_takes_the_same_queries_for_one_person_or_many(org, written):
    with tenant_scope(org.tenant):
        everyone = Person.objects.all()
        with CaptureQueriesContext(connection) as one:
            statements.statements_build(period=written.q1, people=everyone.filter(pk=org.erin.pk))
            statements.period_summaries(period=written.q1, people=everyone.filter(pk=org.erin.pk))
        with CaptureQueriesContext(connection) as many:
            statements.statements_build(period=written.q1, people=everyone)
            statements.period_summaries(period=written.q1, people=everyone)
    assert len(many) == len(one)
