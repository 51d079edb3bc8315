"""MBO objectives: weights, the draft → set → submitted → signed off life, reopening, the access
policy (a manager's team as of the period, never their own sign-off) and audit events."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from core.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationFailedError
from core.models import AuditEvent
from core.tenancy import tenant_scope
from hierarchy import people
from hierarchy.models import PeriodStatus
from plans import objectives as svc
from plans import objectives_selectors as sel
from plans.models import ObjectiveScore, ObjectiveStatus
from tests.plans.objectives_data import D, mbo_world, objective, signed_off

pytestmark = pytest.mark.django_db


@pytest.fixture
def w(org: Any) -> Any:
    with tenant_scope(org.tenant):
        yield mbo_world(org)


def test_weights_must_sum_to_100_before_an_objective_is_set(w):
    # given two drafts of Erin's weighing 60 % and 30 %
    a = objective(w, w.org.erin, "Partner launch", "60")
    objective(w, w.org.erin, "Hiring", "30")
    # when the manager sets them, then the total is named beside the weight
    with pytest.raises(ValidationFailedError) as refused:
        svc.objective_set(access=w.access(w.manager), objective_id=a.pk)
    assert "sum to 90 %" in refused.value.message
    assert refused.value.details is not None and "weight" in refused.value.details
    # and a third one that would take the group past 100 % is refused at once
    with pytest.raises(ValidationFailedError, match="would sum to 110 %"):
        objective(w, w.org.erin, "Too much", "20")
    # with 10 % more the group sums to 100 %: setting one sets both
    objective(w, w.org.erin, "Docs", "10")
    svc.objective_set(access=w.access(w.manager), objective_id=a.pk)
    statuses = set(sel.group_of(a).values_list("status", flat=True))
    assert statuses == {ObjectiveStatus.SET}
    # each agreed objective is now what runs read: its weight, no completion yet
    scores = ObjectiveScore.objects.filter(superseded_at__isnull=True).order_by("weight")
    assert [(s.weight, s.completion) for s in scores] == [
        (Decimal("10.00"), None),
        (Decimal("30.00"), None),
        (Decimal("60.00"), None),
    ]


def test_a_linked_objective_names_an_mbo_component_of_the_plan(w):
    with pytest.raises(ValidationFailedError) as refused:
        objective(w, w.org.erin, "Wrong", "50", component="commission")
    assert refused.value.details == {"component": [refused.value.message]}
    # the component may be left out when the plan has one mbo component
    found = objective(w, w.org.erin, "Right", "50", component="")
    assert found.component == "mbo"
    # ad hoc objectives have neither plan nor component
    ad_hoc = objective(w, w.org.erin, "Mentoring", "100", plan_id=None, component="")
    assert ad_hoc.plan_id is None and ad_hoc.component == ""


def test_the_life_of_an_objective_and_its_sign_off(w):
    # given Erin's one objective, set
    o = objective(w, w.org.erin, "Partner launch", "100")
    svc.objective_set(access=w.access(w.manager), objective_id=o.pk)
    # when the manager submits 80 % and signs it off
    svc.objective_submit(access=w.access(w.manager), objective_id=o.pk, completion="80")
    done = svc.objective_sign_off(access=w.access(w.manager), objective_id=o.pk)
    # then it records who and when, and runs now read 80 %
    assert done.status == ObjectiveStatus.SIGNED_OFF
    assert done.signed_off_by_id == w.manager.pk and done.signed_off_at is not None
    current = ObjectiveScore.objects.get(objective=o, superseded_at__isnull=True)
    assert current.completion == Decimal("80.00")
    # and its completion no longer changes
    with pytest.raises(ConflictError, match="Reopen it"):
        svc.objective_update(access=w.access(w.manager), objective_id=o.pk, completion="90")
    # reopening needs a reason
    with pytest.raises(ValidationFailedError) as refused:
        svc.objective_reopen(access=w.access(w.manager), objective_id=o.pk, reason=" ")
    assert refused.value.details == {"reason": [svc.MSG_REASON]}
    back = svc.objective_reopen(
        access=w.access(w.manager), objective_id=o.pk, reason="Deal slipped to February"
    )
    assert back.status == ObjectiveStatus.SUBMITTED and back.signed_off_at is None
    assert back.reopen_reason == "Deal slipped to February"
    # runs no longer pay on its completion, and the signed-off score is kept, superseded
    current = ObjectiveScore.objects.get(objective=o, superseded_at__isnull=True)
    assert current.completion is None
    assert ObjectiveScore.objects.filter(objective=o, completion=Decimal("80.00")).exists()
    svc.objective_update(access=w.access(w.manager), objective_id=o.pk, completion="90")
    # every mutation wrote one audit event
    actions = list(
        AuditEvent.objects.filter(object_type="plans.objective", object_id=str(o.pk))
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions == [
        "objective.create",
        "objective.set",
        "objective.submit",
        "objective.sign_off",
        "objective.reopen",
        "objective.update",
    ]


def test_steps_cannot_be_skipped_and_drafts_alone_are_edited(w):
    o = objective(w, w.org.erin, "Partner launch", "100")
    with pytest.raises(ConflictError):
        svc.objective_update(access=w.access(), objective_id=o.pk, completion="50")
    with pytest.raises(ConflictError):
        svc.objective_submit(access=w.access(), objective_id=o.pk, completion="50")
    with pytest.raises(ConflictError):
        svc.objective_sign_off(access=w.access(), objective_id=o.pk)
    svc.objective_set(access=w.access(), objective_id=o.pk)
    with pytest.raises(ConflictError):
        svc.objective_update(access=w.access(), objective_id=o.pk, weight="50")
    with pytest.raises(ValidationFailedError, match="completion"):
        svc.objective_submit(access=w.access(), objective_id=o.pk)
    with pytest.raises(ValidationFailedError) as bad:
        svc.objective_submit(access=w.access(), objective_id=o.pk, completion="250")
    assert bad.value.details == {"completion": [svc.MSG_COMPLETION]}
    # reopening a set objective takes it back to draft, where it can be edited or deleted
    svc.objective_reopen(access=w.access(), objective_id=o.pk, reason="Wrong weight")
    svc.objective_update(access=w.access(), objective_id=o.pk, title="Partner launch (DACH)")
    with pytest.raises(ConflictError, match="agreed before"):
        svc.objective_delete(access=w.access(), objective_id=o.pk)
    fresh = objective(w, w.org.wes, "Scratch", "50")
    svc.objective_delete(access=w.access(), objective_id=fresh.pk)
    assert not sel.group_of(fresh).exists()


def test_a_manager_changes_their_team_as_of_the_period_never_their_own(w):
    # given Sam (a manager of Sales) and the comp admin
    erin = objective(w, w.org.erin, "Partner launch", "100")
    mia = objective(w, w.org.mia, "Campaign", "100")  # Marketing: not Sam's team
    sam_own = objective(w, w.org.sam, "Team hiring", "100")
    sam = w.access(w.manager)
    # then Sam sees his team's and his own, not Marketing's
    seen = set(sel.objective_list(access=sam).values_list("pk", flat=True))
    assert seen == {erin.pk, sam_own.pk}
    with pytest.raises(NotFoundError):
        svc.objective_set(access=sam, objective_id=mia.pk)
    # he may not change or sign off his own objectives
    with pytest.raises(PermissionDeniedError):
        svc.objective_set(access=sam, objective_id=sam_own.pk)
    svc.objective_set(access=w.access(), objective_id=sam_own.pk)
    svc.objective_submit(access=w.access(), objective_id=sam_own.pk, completion="100")
    with pytest.raises(PermissionDeniedError):
        svc.objective_sign_off(access=sam, objective_id=sam_own.pk)
    # and he cannot create objectives outside his team (as if the person were unknown)
    with pytest.raises(ValidationFailedError) as refused:
        svc.objective_create(
            access=sam, person_id=w.org.mia.pk, period_id=w.period.pk, title="x", weight="10"
        )
    assert refused.value.details == {"person_id": [svc.MSG_UNKNOWN_PERSON]}


def test_a_manager_who_managed_the_team_only_later_does_not_see_this_period(w):
    # given Wes moves to Marketing from February: in January he was Sam's
    from hierarchy.models import Assignment

    west = Assignment.objects.get(person=w.org.wes)
    people.assignment_update(assignment_id=west.pk, valid_to=D(2026, 2, 1))
    people.assignment_create(
        person_id=w.org.wes.pk,
        node_id=w.org.marketing.pk,
        role_id=w.org.pmm.pk,
        valid_from=D(2026, 2, 1),
    )
    feb = type(w.period).objects.create(
        kind="monthly", fiscal_year=2026, start=D(2026, 2, 1), end=D(2026, 3, 1), label="Feb 2026"
    )
    jan_o = objective(w, w.org.wes, "January goal", "100")
    feb_o = svc.objective_create(
        access=w.access(),
        person_id=w.org.wes.pk,
        period_id=feb.pk,
        title="February goal",
        weight="100",
    )
    sam = w.access(w.manager)
    # then Sam still answers for January, not for February
    assert sel.objective_writable(access=sam, person_id=w.org.wes.pk, period=w.period)
    assert not sel.objective_writable(access=sam, person_id=w.org.wes.pk, period=feb)
    seen = set(sel.objective_list(access=sam).values_list("pk", flat=True))
    assert jan_o.pk in seen and feb_o.pk not in seen


def test_an_employee_reads_her_own_objectives_only(w):
    mine = objective(w, w.org.erin, "Partner launch", "100")
    objective(w, w.org.wes, "Other", "100")
    erin = w.access(w.employee)
    assert list(sel.objective_list(access=erin)) == [mine]
    with pytest.raises(PermissionDeniedError):
        svc.objective_set(access=erin, objective_id=mine.pk)


def test_a_closed_periods_objectives_no_longer_change(w):
    [o] = signed_off(w, w.org.erin, [("Partner launch", "100", "100")])
    from tests.payouts.helpers import close_through_lifecycle

    assert close_through_lifecycle(w.period).status == PeriodStatus.CLOSED
    with pytest.raises(ConflictError, match="is closed"):
        svc.objective_reopen(access=w.access(), objective_id=o.pk, reason="late")


def test_the_team_page_groups_and_progress(w):
    signed_off(w, w.org.erin, [("A", "60", "100"), ("B", "40", None)])
    rows = {
        r.person.pk: r for r in sel.team_objectives(access=w.access(w.manager), period=w.period)
    }
    erin = rows[w.org.erin.pk]
    assert erin.writable and erin.count == 2 and erin.signed_off == 1 and erin.progress_pct == 50
    [group] = erin.groups
    assert group.weights_ok and group.score == Decimal("60")
    assert not rows[w.org.sam.pk].writable  # Sam's own row
    # B's completion entered, not signed off: the run still pays 60 %, the page says 80 % waits
    b = next(o for o in group.objectives if o.title == "B")
    svc.objective_submit(access=w.access(), objective_id=b.pk, completion="50")
    erin = next(
        r
        for r in sel.team_objectives(access=w.access(w.manager), period=w.period)
        if r.person.pk == w.org.erin.pk
    )
    [group] = erin.groups
    assert (group.score, group.entered, group.waiting) == (Decimal("60"), Decimal("80"), 1)
    # the group is named by the plan's component name, never its id
    assert group.label == "Objectives plan · Objectives"  # not "· mbo"


def test_only_the_person_comments_on_their_objective(w):
    o = objective(w, w.org.erin, "Partner launch", "100")
    with pytest.raises(PermissionDeniedError):
        svc.objective_comment(access=w.access(w.manager), objective_id=o.pk, comment="x")
    with pytest.raises(ValidationFailedError) as long:
        svc.objective_comment(access=w.access(w.employee), objective_id=o.pk, comment="x" * 2001)
    assert long.value.details == {"comment": [svc.MSG_COMMENT_LONG]}
    saved = svc.objective_comment(
        access=w.access(w.employee), objective_id=o.pk, comment=" Two partners signed "
    )
    assert saved.comment == "Two partners signed"
    assert AuditEvent.objects.filter(action="objective.comment", object_id=str(o.pk)).count() == 1
