"""The period lifecycle: each transition a service with its guard, one audit event each."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from core.errors import ConflictError, NotFoundError, PermissionDeniedError
from core.models import AuditEvent
from core.tenancy import tenant_scope
from hierarchy.models import Period, PeriodStatus
from hierarchy.periods import tenant_today
from payouts import lifecycle
from payouts.models import EntryKind, LedgerEntry, PeriodApproval, RunKind
from tests.payouts.helpers import cast, period, review_steps, running_period, succeeded_run, walk_to


@pytest.fixture
def world(org: Any, plan_a: Any) -> Any:
    with tenant_scope(org.tenant):
        yield org, plan_a, cast(org.tenant), period()


def _status(p: Period) -> str:
    p.refresh_from_db()
    return p.status


def test_a_succeeded_full_run_makes_an_open_period_calculated(world: Any) -> None:
    _org, plan, _c, p = world
    # given a preview run: nothing moves
    lifecycle.run_succeeded(succeeded_run(p, plan, kind=RunKind.PREVIEW))
    assert _status(p) == PeriodStatus.OPEN
    # when a full run succeeds
    lifecycle.run_succeeded(succeeded_run(p, plan))
    # then
    assert _status(p) == PeriodStatus.CALCULATED
    assert AuditEvent.objects.filter(action="period.calculate", object_id=str(p.pk)).count() == 1


def test_a_later_run_never_moves_an_approved_or_closed_period_back(world: Any) -> None:
    _org, plan, c, p = world
    walk_to(p, PeriodStatus.APPROVED, c, plan)
    lifecycle.run_succeeded(succeeded_run(p, plan))
    assert _status(p) == PeriodStatus.APPROVED
    lifecycle.period_close(period_id=p.pk, principal=c.finance)
    lifecycle.run_succeeded(succeeded_run(p, plan))
    assert _status(p) == PeriodStatus.CLOSED


def test_the_whole_walk_writes_entries_and_sets_the_data_lock(world: Any) -> None:
    org, plan, c, p = world
    lines = [(org.erin, "100.00", "commission"), (org.wes, "50.00", "commission")]
    run = walk_to(p, PeriodStatus.CLOSED, c, plan, lines)
    p.refresh_from_db()
    assert (p.status, p.data_lock_date) == (PeriodStatus.CLOSED, p.end)
    entries = LedgerEntry.objects.filter(period=p).order_by("amount")
    assert [(e.kind, e.amount, e.run_id) for e in entries] == [
        (EntryKind.EARNED, Decimal("50.00"), run.pk),
        (EntryKind.EARNED, Decimal("100.00"), run.pk),
    ]
    # the rate the line paid at (amount / measure) is on the entry, for clawbacks
    assert entries[1].rate == Decimal("0.01000000")
    actions = list(
        AuditEvent.objects.filter(object_type="hierarchy.period", object_id=str(p.pk))
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions == ["period.calculate", "period.submit", "period.approve", "period.close"]


def test_each_guard_refuses_with_its_name(world: Any) -> None:
    _org, plan, c, p = world

    def guard(call: Any) -> str:
        with pytest.raises((ConflictError, PermissionDeniedError, NotFoundError)) as caught:
            call()
        return str(caught.value.details.get("guard"))

    # nothing calculated: no step forward
    assert guard(lambda: lifecycle.period_submit_for_review(period_id=p.pk, principal=c.comp)) == (
        "period_status"
    )
    run = succeeded_run(p, plan)
    lifecycle.run_succeeded(run)
    # employees submit nothing; comp admins approve nothing
    assert (
        guard(lambda: lifecycle.period_submit_for_review(period_id=p.pk, principal=c.employee))
        == "role"
    )
    lifecycle.period_submit_for_review(period_id=p.pk, principal=c.comp)
    assert (
        guard(lambda: lifecycle.period_approve(period_id=p.pk, run_id=run.pk, principal=c.comp))
        == "role"
    )
    # finance approves only once the earlier steps of the approval route are done
    assert (
        guard(lambda: lifecycle.period_approve(period_id=p.pk, run_id=run.pk, principal=c.finance))
        == "approval_route"
    )
    review_steps(p)
    # a preview run cannot be picked; a run of another period is not found
    preview = succeeded_run(p, plan, kind=RunKind.PREVIEW)
    assert (
        guard(
            lambda: lifecycle.period_approve(period_id=p.pk, run_id=preview.pk, principal=c.finance)
        )
        == "full_run"
    )
    other = succeeded_run(period("Feb 2026", start=p.end), plan)
    assert (
        guard(
            lambda: lifecycle.period_approve(period_id=p.pk, run_id=other.pk, principal=c.finance)
        )
        == "run"
    )
    # closing needs approval first; reopening needs a reason
    assert guard(lambda: lifecycle.period_close(period_id=p.pk, principal=c.finance)) == (
        "period_status"
    )
    lifecycle.period_approve(period_id=p.pk, run_id=run.pk, principal=c.admin)  # tenant admin may
    assert guard(
        lambda: lifecycle.period_reopen(period_id=p.pk, principal=c.finance, reason=" ")
    ) == ("reason")
    lifecycle.period_close(period_id=p.pk, principal=c.finance)
    assert (
        guard(
            lambda: lifecycle.period_reopen(period_id=p.pk, principal=c.finance, reason="late deal")
        )
        == "period_closed"
    )


def test_reopen_reverses_the_entries_and_a_second_approval_enters_them_again(world: Any) -> None:
    org, plan, c, p = world
    run = walk_to(p, PeriodStatus.APPROVED, c, plan, [(org.erin, "100.00", "commission")])
    lifecycle.period_reopen(period_id=p.pk, principal=c.finance, reason="a late deal")
    assert _status(p) == PeriodStatus.IN_REVIEW
    assert sum(e.amount for e in LedgerEntry.objects.filter(period=p)) == 0
    assert PeriodApproval.objects.get(period=p).reopened_at is not None
    # the same run approved again (the approval route walked again): entered again, linked to
    # the reversal, line+kind unique
    review_steps(p)
    lifecycle.period_approve(period_id=p.pk, run_id=run.pk, principal=c.finance)
    entries = list(LedgerEntry.objects.filter(period=p).order_by("pk"))
    assert [e.amount for e in entries] == [Decimal("100.00"), Decimal("-100.00"), Decimal("100.00")]
    assert entries[2].corrects_id == entries[1].pk and entries[1].corrects_id == entries[0].pk
    assert PeriodApproval.objects.filter(period=p, reopened_at__isnull=True).count() == 1


def test_a_period_still_running_is_approved_and_closed_only_when_finance_says_early(
    org: Any, plan_a: Any
) -> None:
    # given an approved period whose last day is still to come (it runs for another month)
    with tenant_scope(org.tenant):
        today = tenant_today(org.tenant)
        p = running_period("Running", days_left=31)
        c = cast(org.tenant)
        run = walk_to(p, PeriodStatus.IN_REVIEW, c, plan_a)
        review_steps(p)
        # approving it as if it had ended: refused, the last day named
        with pytest.raises(ConflictError) as refused:
            lifecycle.period_approve(period_id=p.pk, run_id=run.pk, principal=c.finance)
        assert refused.value.details["guard"] == "period_not_ended"
        assert "makes its statements final on the deals so far" in refused.value.message
        assert _status(p) == PeriodStatus.IN_REVIEW
        lifecycle.period_approve(period_id=p.pk, run_id=run.pk, principal=c.finance, early=True)
        # when finance closes it with one click: refused, the last day named, nothing moved
        with pytest.raises(ConflictError) as caught:
            lifecycle.period_close(period_id=p.pk, principal=c.finance)
        last_day = p.end - dt.timedelta(days=1)
        assert caught.value.details == {"guard": "period_not_ended", "last_day": str(last_day)}
        assert f"{last_day:%-d %b %Y}" in caught.value.message
        assert _status(p) == PeriodStatus.APPROVED
        # when finance says it closes early: closed, data locked from today
        lifecycle.period_close(period_id=p.pk, principal=c.finance, early=True)
        p.refresh_from_db()
        assert (p.status, p.data_lock_date) == (PeriodStatus.CLOSED, today)
