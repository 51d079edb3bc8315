"""Previewing a plan version on a person's real period (payouts/preview.py): the published side
is what a run pays, a draft's change shows in words, problems are listed, nothing is written."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from core.models import AuditEvent
from core.tenancy import tenant_scope
from hierarchy import people
from payouts import preview as pv
from payouts import runs
from payouts.models import CalculationRun, PayoutLine, RunStatus
from plans import services as plans
from plans.models import Plan
from tests.payouts.rundata import PLAN_SOURCE, START, add_team_lead, build_sales

pytestmark = pytest.mark.django_db
CENT = Decimal("0.01")  # the plan's rounding: USD, half up


@pytest.fixture
def sales(tenant_a: Any, django_capture_on_commit_callbacks: Any) -> Any:
    with tenant_scope(tenant_a):
        data = build_sales(n_people=4, deals_per_person=4)
        with django_capture_on_commit_callbacks(execute=True):
            run = runs.run_start(period_id=data.period.pk, trigger="page", user_id=None)
        run.refresh_from_db()
        assert run.status == RunStatus.SUCCEEDED, (run.reason, run.problems)
        data.run = run
        yield data


def _draft(sales: Any, source: str | None = None) -> Any:
    draft = plans.plan_version_draft_create(plan_id=sales.plan.pk, user_id=None)
    if source is not None:
        draft = plans.plan_version_save(version_id=draft.pk, source=source, user_id=None).version
    return draft


def _run_lines(run: Any, person: Any) -> list[tuple[str, str, Decimal]]:
    return sorted(
        (c, k, Decimal(a))
        for c, k, a in PayoutLine.objects.filter(run=run, person=person).values_list(
            "component_id", "kind", "amount"
        )
    )


def _side_lines(side: pv.PreviewSide) -> list[tuple[str, str, Decimal]]:
    return sorted((ln.component_id, ln.kind, ln.amount) for ln in side.lines)


def test_the_published_side_pays_what_a_run_pays_and_an_unchanged_draft_the_same(sales):
    # given a run of the period and a draft copied from the published version
    seller = sales.people[1]
    draft = _draft(sales)
    # when the draft is previewed on the seller's period
    got = pv.preview(version=draft, person=seller, period=sales.period)
    # then the published side is the run's lines of that person, line for line
    assert got.published is not None and got.people == 1
    assert _side_lines(got.published) == _run_lines(sales.run, seller)
    assert got.published.versions == [1] and got.draft.versions == [draft.number]
    # and the unchanged draft pays the same, with nothing to tell apart
    assert _side_lines(got.draft) == _side_lines(got.published)
    assert got.differences == []
    assert "exactly" in got.summary
    total = sum((a for _, _, a in _run_lines(sales.run, seller)), Decimal(0))
    assert got.draft.totals == {"USD": total}
    assert all(ln.trace for ln in got.draft.lines)


def test_a_draft_with_a_higher_rate_shows_the_difference_in_words(sales):
    # given a draft paying 7 % instead of 5 % on bookings
    seller = sales.people[0]
    source = PLAN_SOURCE.format(code=sales.plan.code).replace('rate: "0.05"', 'rate: "0.07"')
    draft = _draft(sales, source)
    # when it is previewed
    got = pv.preview(version=draft, person=seller, period=sales.period)
    # then the commission moves by 2 % of the seller's bookings, and per-meeting pay does not
    bookings = PayoutLine.objects.get(
        run=sales.run, person=seller, component_id="commission", kind="earned"
    ).measure
    [change] = got.differences
    assert change.component_id == "commission" and change.component == "Commission"
    assert change.before == (bookings * Decimal("0.05")).quantize(CENT, ROUND_HALF_UP)
    assert change.after == (bookings * Decimal("0.07")).quantize(CENT, ROUND_HALF_UP)
    assert change.words == (
        f"Commission: {change.before:,.2f} → {change.after:,.2f} USD ({change.delta:+,.2f})"
    )
    assert got.summary.startswith("In total: ") and f"{change.delta:+,.2f}" in got.summary
    [trace] = [ln.trace for ln in got.draft.lines if ln.component_id == "commission"]
    assert "7" in trace


def test_a_preview_writes_nothing(sales):
    draft = _draft(sales, PLAN_SOURCE.format(code=sales.plan.code).replace("50}", "80}"))
    counts = (
        CalculationRun.objects.count(),
        PayoutLine.objects.count(),
        AuditEvent.objects.count(),
    )
    got = pv.preview(version=draft, person=sales.people[2], period=sales.period)
    assert got.differences  # the per-meeting rate moved
    after = (CalculationRun.objects.count(), PayoutLine.objects.count(), AuditEvent.objects.count())
    assert after == counts


def test_a_person_not_on_the_plan_and_a_missing_quota_are_listed(sales):
    # given someone in the org on no plan
    other = people.person_create(employee_id="X1", full_name="Xavier Other", hire_date=START)
    draft = _draft(sales)
    with pytest.raises(pv.PreviewError) as caught:
        pv.preview(version=draft, person=other, period=sales.period)
    assert caught.value.code == "preview_problems"
    [problem] = caught.value.details["problems"]
    assert problem["code"] == "not_on_plan" and "Xavier Other" in problem["message"]
    # and a draft that needs a quota nobody set lists it for the seller
    source = PLAN_SOURCE.format(code=sales.plan.code) + (
        "  - {id: bonus, name: Bonus, type: attainment_bonus, measure: bookings,"
        " curve: {points: [{attainment: '1.0', payout: '1.0'}]}}\n"
    )
    draft = plans.plan_version_save(version_id=draft.pk, source=source, user_id=None).version
    with pytest.raises(pv.PreviewError) as caught:
        pv.preview(version=draft, person=sales.people[0], period=sales.period)
    problems = caught.value.details["problems"]
    assert [p["code"] for p in problems] == ["no_quota"]
    assert "bookings" in problems[0]["message"]


def test_a_plan_on_others_pay_is_previewed_on_the_whole_period(
    sales, django_capture_on_commit_callbacks
):
    # given a team lead paid 10 % of the team's commission, and a run that pays them
    lead = add_team_lead(sales)
    with django_capture_on_commit_callbacks(execute=True):
        run = runs.run_start(period_id=sales.period.pk, trigger="page", user_id=None)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, (run.reason, run.problems)
    lead_plan = Plan.objects.get(code="runs-lead")
    draft = plans.plan_version_draft_create(plan_id=lead_plan.pk, user_id=None)
    source = draft.source.replace('rate: "0.1"', 'rate: "0.2"')
    draft = plans.plan_version_save(version_id=draft.pk, source=source, user_id=None).version
    # when the lead's draft is previewed
    got = pv.preview(version=draft, person=lead, period=sales.period)
    # then the whole period was computed (the team's commission), the published side is the
    # run's line, and the draft doubles it
    assert got.people == 5
    assert got.published is not None
    assert _side_lines(got.published) == _run_lines(run, lead)
    team = sum(
        PayoutLine.objects.filter(
            run=run, person__in=sales.people, component_id="commission"
        ).values_list("amount", flat=True),
        Decimal(0),
    )
    [change] = got.differences
    assert change.before == (team * Decimal("0.1")).quantize(CENT, ROUND_HALF_UP) > 0
    assert change.after == (team * Decimal("0.2")).quantize(CENT, ROUND_HALF_UP)


def test_what_another_plan_of_the_person_lacks_does_not_block_the_preview(sales):
    """A seller also on a second plan whose quota nobody set: the second plan's problem is its
    own, and the preview of the first computes as the run of that plan alone would."""
    import datetime as dt

    from core.models import Role
    from core.permissions import ROLE_PERMISSIONS, Principal
    from hierarchy.access import access_for

    # given a second published plan on the sellers' node that needs a quota nobody set
    second = plans.plan_create(
        code="bonus-plan",
        name="Bonus plan",
        source=(
            "version: 1\nid: bonus-plan\nname: Bonus plan\ncurrency: USD\nmeasures:\n"
            "  - {id: bookings, aggregate: sum}\ncomponents:\n"
            "  - {id: bonus, name: Bonus, type: attainment_bonus, measure: bookings,"
            " curve: {points: [{attainment: '1.0', payout: '1.0'}]}}\n"
        ),
        user_id=None,
        valid_from=dt.date(2026, 1, 1),
    )
    plans.plan_version_publish(version_id=second.versions.get().pk, user_id=None)
    plans.plan_assignment_create(
        access=access_for(
            Principal(permissions=ROLE_PERMISSIONS[Role.COMP_ADMIN], user_id=None),
            today=dt.date(2026, 1, 1),
        ),
        plan_version_id=second.versions.get().pk,
        holder=plans.Holder(node_id=sales.node.pk),
        target_incentive=Decimal(1000),
        valid_from=dt.date(2026, 1, 1),
        user_id=None,
    )
    seller = sales.people[0]
    # when the first plan's draft is previewed for her
    got = pv.preview(version=_draft(sales), person=seller, period=sales.period)
    # then it computes, on the first plan only, what the earlier run paid her on it
    assert got.published is not None and not got.draft.problems
    assert _side_lines(got.draft) == _run_lines(sales.run, seller)
    assert {ln.component_id for ln in got.draft.lines} <= {"commission", "per_meeting"}
