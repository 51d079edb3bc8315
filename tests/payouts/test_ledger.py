"""The ledger's writes: adjustments (four eyes), draws and their balances, holds, clawbacks."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from core.errors import ConflictError, PermissionDeniedError, ValidationFailedError
from core.models import AuditEvent
from core.tenancy import tenant_scope
from hierarchy.models import PeriodStatus
from payouts import ledger, lifecycle
from payouts.models import AdjustmentStatus, EntryKind, HoldStatus, LedgerEntry
from tests.payouts.helpers import cast, period, review_steps, succeeded_run, walk_to

FEB, MAR = "Feb 2026", "Mar 2026"


@pytest.fixture
def world(org: Any, plan_a: Any) -> Any:
    with tenant_scope(org.tenant):
        jan = period()
        feb = period(FEB, start=jan.end)
        mar = period(MAR, start=feb.end)
        yield org, plan_a, cast(org.tenant), (jan, feb, mar)


def _entries(p: Any) -> list[tuple[str, Decimal]]:
    return [(e.kind, e.amount) for e in LedgerEntry.objects.filter(period=p).order_by("pk")]


def test_an_adjustment_is_requested_decided_by_someone_else_and_entered(world: Any) -> None:
    org, _plan, c, (jan, _, _) = world
    adj = ledger.adjustment_request(
        principal=c.comp,
        person_id=org.erin.pk,
        period_id=jan.pk,
        amount="125.50",
        currency="USD",
        reason="Missed deal",
    )
    assert adj.status == AdjustmentStatus.PENDING and not _entries(jan)
    # the requester cannot decide, nor can an employee request
    with pytest.raises(PermissionDeniedError):
        ledger.adjustment_approve(adjustment_id=adj.pk, principal=c.comp)
    with pytest.raises(PermissionDeniedError):
        ledger.adjustment_request(
            principal=c.employee,
            person_id=org.erin.pk,
            period_id=jan.pk,
            amount="1",
            currency="USD",
            reason="x",
        )
    ledger.adjustment_approve(adjustment_id=adj.pk, principal=c.finance, note="ok")
    adj.refresh_from_db()
    assert adj.status == AdjustmentStatus.APPROVED and adj.entry is not None
    assert _entries(jan) == [(EntryKind.ADJUSTMENT, Decimal("125.50"))]
    with pytest.raises(ConflictError):
        ledger.adjustment_reject(adjustment_id=adj.pk, principal=c.finance, note="late")
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"adjustment.request", "adjustment.approve"} <= actions


def test_bad_adjustments_are_refused_with_their_field(world: Any) -> None:
    org, _plan, c, (jan, _, _) = world

    def field(**kw: Any) -> set[str]:
        args = {
            "principal": c.comp,
            "person_id": org.erin.pk,
            "period_id": jan.pk,
            "amount": "10",
            "currency": "USD",
            "reason": "why",
        }
        with pytest.raises(ValidationFailedError) as caught:
            ledger.adjustment_request(**{**args, **kw})
        return set(caught.value.details)

    assert field(amount="0") == {"amount"}
    assert field(amount="1.005") == {"amount"}  # USD has 2 places
    assert field(amount="abc") == {"amount"}
    assert field(currency="XYZ") == {"currency"}
    assert field(reason="  ") == {"reason"}


def test_a_correction_to_a_closed_period_is_an_entry_in_an_open_one(world: Any) -> None:
    org, plan, c, (jan, feb, _) = world
    walk_to(jan, PeriodStatus.CLOSED, c, plan, [(org.erin, "100.00", "commission")])
    original = LedgerEntry.objects.get(period=jan)
    # a closed (or approved) period takes no new entry
    with pytest.raises(ConflictError) as caught:
        ledger.adjustment_request(
            principal=c.comp,
            person_id=org.erin.pk,
            period_id=jan.pk,
            amount="-20",
            currency="USD",
            reason="x",
        )
    assert caught.value.details["guard"] == "period_status"
    adj = ledger.adjustment_request(
        principal=c.comp,
        person_id=org.erin.pk,
        period_id=feb.pk,
        amount="-20.00",
        currency="USD",
        reason="Deal re-priced",
        corrects_id=original.pk,
    )
    ledger.adjustment_approve(adjustment_id=adj.pk, principal=c.finance)
    entry = LedgerEntry.objects.get(period=feb)
    assert (entry.kind, entry.amount, entry.corrects_id) == (
        EntryKind.ADJUSTMENT,
        Decimal("-20.00"),
        original.pk,
    )
    assert entry.plan_id == original.plan_id and entry.component_id == "commission"
    assert _entries(jan) == [(EntryKind.EARNED, Decimal("100.00"))]


def test_pending_adjustments_hold_up_the_approval(world: Any) -> None:
    org, plan, c, (jan, _, _) = world
    run = walk_to(jan, PeriodStatus.IN_REVIEW, c, plan)
    ledger.adjustment_request(
        principal=c.comp,
        person_id=org.erin.pk,
        period_id=jan.pk,
        amount="5",
        currency="USD",
        reason="x",
    )
    with pytest.raises(ConflictError) as caught:
        lifecycle.period_approve(period_id=jan.pk, run_id=run.pk, principal=c.finance)
    assert caught.value.code == "adjustments_pending"


def test_a_recoverable_draw_is_carried_and_recovered_from_later_earnings(world: Any) -> None:
    org, plan, c, (jan, feb, mar) = world
    ledger.draw_grant(
        principal=c.finance,
        person_id=org.erin.pk,
        period_id=jan.pk,
        amount="300.00",
        currency="USD",
        recoverable=True,
        reason="Ramp advance",
    )
    ledger.draw_grant(
        principal=c.finance,
        person_id=org.wes.pk,
        period_id=jan.pk,
        amount="100.00",
        currency="USD",
        recoverable=False,
        reason="Guarantee",
    )
    walk_to(jan, PeriodStatus.CLOSED, c, plan)
    assert ledger.draw_balances(period_id=feb.pk) == {str(org.erin.pk): Decimal("300.00")}
    # February earns 200: all of it recovers the draw, 100 carried on
    walk_to(feb, PeriodStatus.CLOSED, c, plan, [(org.erin, "200.00", "commission")])
    assert _entries(feb) == [
        (EntryKind.EARNED, Decimal("200.00")),
        (EntryKind.DRAW_RECOVERY, Decimal("-200.00")),
    ]
    assert ledger.draw_balances(period_id=mar.pk) == {str(org.erin.pk): Decimal("100.00")}
    # March earns 500: the last 100 is recovered
    walk_to(mar, PeriodStatus.APPROVED, c, plan, [(org.erin, "500.00", "commission")])
    assert _entries(mar)[-1] == (EntryKind.DRAW_RECOVERY, Decimal("-100.00"))
    after = period("Apr 2026", start=mar.end)
    assert ledger.draw_balances(period_id=after.pk) == {}
    # only finance grants draws
    with pytest.raises(PermissionDeniedError):
        ledger.draw_grant(
            principal=c.comp,
            person_id=org.erin.pk,
            period_id=after.pk,
            amount="1",
            currency="USD",
            recoverable=True,
            reason="x",
        )


def test_the_engines_own_draw_lines_are_entered_as_draws_and_recoveries(world: Any) -> None:
    org, plan, c, (jan, _, _) = world
    lines = [(org.erin, "40.00", "commission"), (org.erin, "60.00", "draw")]
    walk_to(jan, PeriodStatus.APPROVED, c, plan, lines)
    assert _entries(jan) == [
        (EntryKind.EARNED, Decimal("40.00")),
        (EntryKind.DRAW, Decimal("60.00")),
    ]


def test_a_hold_withholds_what_is_approved_and_its_release_pays_it_later(world: Any) -> None:
    org, plan, c, (jan, feb, _) = world
    hold = ledger.hold_place(principal=c.finance, person_id=org.erin.pk, reason="Contract review")
    lines = [(org.erin, "100.00", "commission"), (org.wes, "70.00", "commission")]
    walk_to(jan, PeriodStatus.CLOSED, c, plan, lines)
    erin = [(e.kind, e.amount) for e in LedgerEntry.objects.filter(period=jan, person=org.erin)]
    assert erin == [(EntryKind.EARNED, Decimal("100.00")), (EntryKind.HOLD, Decimal("-100.00"))]
    assert [e.amount for e in LedgerEntry.objects.filter(period=jan, person=org.wes)] == [
        Decimal("70.00")
    ]
    ledger.hold_release(principal=c.finance, hold_id=hold.pk, note="Signed")
    hold.refresh_from_db()
    assert hold.status == HoldStatus.RELEASED
    release = LedgerEntry.objects.get(kind=EntryKind.RELEASE)
    assert (release.period_id, release.amount) == (feb.pk, Decimal("100.00"))
    assert release.corrects.kind == EntryKind.HOLD
    with pytest.raises(ConflictError):
        ledger.hold_release(principal=c.finance, hold_id=hold.pk)


def test_a_line_hold_holds_that_line_only(world: Any) -> None:
    org, plan, c, (jan, _, _) = world
    run = succeeded_run(jan, plan, [(org.erin, "100.00", "commission")])
    line = run.lines.get()
    ledger.hold_place(principal=c.finance, person_id=org.erin.pk, line_id=line.pk, reason="Dispute")
    lifecycle.run_succeeded(run)
    lifecycle.period_submit_for_review(period_id=jan.pk, principal=c.comp)
    review_steps(jan)
    lifecycle.period_approve(period_id=jan.pk, run_id=run.pk, principal=c.finance)
    held = LedgerEntry.objects.get(kind=EntryKind.HOLD)
    assert (held.line_id, held.amount) == (line.pk, Decimal("-100.00"))


def test_a_clawback_reads_the_original_rate_from_the_ledger(world: Any) -> None:
    org, plan, c, (jan, feb, _) = world
    trace = [{"name": "effective_rate", "value": "0.08", "note": "tier 2"}]
    run = succeeded_run(jan, plan, [(org.erin, "800.00", "commission")], trace=trace)
    lifecycle.run_succeeded(run)
    lifecycle.period_submit_for_review(period_id=jan.pk, principal=c.comp)
    review_steps(jan)
    lifecycle.period_approve(period_id=jan.pk, run_id=run.pk, principal=c.finance)
    lifecycle.period_close(period_id=jan.pk, principal=c.finance)
    earned = LedgerEntry.objects.get(period=jan)
    assert earned.rate == Decimal("0.08")
    assert list(
        ledger.original_rates(person_id=org.erin.pk, plan_id=plan.pk, component_id="commission")
    ) == [earned]
    claw = ledger.clawback_record(
        principal=c.finance,
        entry_id=earned.pk,
        period_id=feb.pk,
        reversed_amount="2500.00",
        reason="Deal cancelled",
    )
    assert (claw.kind, claw.amount, claw.rate, claw.corrects_id) == (
        EntryKind.CLAWBACK,
        Decimal("-200.00"),
        Decimal("0.08"),
        earned.pk,
    )
