"""Every write of MBO objectives (docs/objectives.md).

An objective is one person's, for one period, in a group: the person's objectives of one plan's
``mbo`` component, or their ad hoc ones (tracked, never paid). Its life:

``draft`` (title, description, weight editable) → ``set`` (agreed; the group's weights must sum
to exactly 100 %, and setting one sets the group's drafts) → ``submitted`` (a completion % is in;
it stays editable) → ``signed_off`` (by whom, when; nothing changes any more). ``reopen`` (with
a reason) takes a signed-off objective back to ``submitted``, and a set or submitted one back to
``draft``.

Only a comp admin (``plans.change``) or the person's manager as of the period
(``objectives.manage.team``, never for their own objectives) changes one; nobody signs off
their own. Objectives of a closed period no longer change. Every call writes one audit event.

For plan-linked objectives, each change that matters to pay writes an :class:`ObjectiveScore`
(weight, and the completion once signed off) and supersedes the previous one, so a calculation
run reads, as known at its moment, exactly what was agreed and signed off then.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.audit import audit_record
from core.changes import ChangeKey, changes_record
from core.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationFailedError
from core.models import ChangeKind, model_snapshot
from hierarchy.access import Access
from hierarchy.models import Period, PeriodStatus, Person
from plans import objectives_selectors as sel
from plans.models import Objective, ObjectiveScore, ObjectiveStatus, Plan

MAX_COMPLETION = Decimal(200)
HUNDRED = Decimal(100)

MSG_TITLE = "Give the objective a title."
MSG_WEIGHT = "Enter a weight above 0 and at most 100 (%)."
MSG_COMPLETION = "Enter a completion between 0 and 200 (%)."
MSG_OVER_100 = (
    "The weights of this group would sum to {total} %; the objectives of one plan component "
    "(or the ad hoc ones) of a person and period sum to 100 %."
)
MSG_NOT_100 = (
    "The weights of {person}'s objectives for {group} sum to {total} %; they must sum to "
    "exactly 100 % before they can be set."
)
MSG_NO_COMPONENT = "Plan {plan} has no mbo component {component!r} in force during {period}."
MSG_COMPONENT_NEEDS_PLAN = "Choose the plan of this component, or leave both empty (ad hoc)."
MSG_UNKNOWN_PLAN = "Unknown plan."
MSG_UNKNOWN_PERSON = "Unknown person."
MSG_UNKNOWN_PERIOD = "Unknown period."
MSG_CLOSED = "{period} is closed: its objectives can no longer change."
MSG_NOT_YOURS = "Only a comp admin or {person}'s manager during {period} changes these objectives."
MSG_OWN = "You cannot sign off your own objectives."
MSG_DRAFT_ONLY = (
    "Only a draft objective's title, description, weight or plan change; reopen it first."
)
MSG_SIGNED_OFF = (
    "This objective is signed off: its completion can no longer change. Reopen it, with a "
    "reason, to change it."
)
MSG_NOT_AGREED = "Set (agree) the objective before entering its completion."
MSG_NEEDS_COMPLETION = "Enter the completion % before submitting it."
MSG_SET_FIRST = "Only a draft objective can be set; this one is {status}."
MSG_SUBMIT_FIRST = "Only a set objective can be submitted; this one is {status}."
MSG_SIGN_OFF_FIRST = "Submit the objective's completion before signing it off; it is {status}."
MSG_REOPEN_DRAFT = "A draft objective is already open."
MSG_REASON = "Say why you reopen it."
MSG_COMMENT_OWN = "Only the person whose objective it is comments on it."
MAX_COMMENT = 2000
MSG_COMMENT_LONG = f"Keep the comment under {MAX_COMMENT} characters."
MSG_DELETE_DRAFT = "Only a draft objective can be deleted; reopen it first."
MSG_DELETE_AGREED = "This objective was agreed before, so it stays on record; change it instead."

EDITABLE = ("title", "description", "weight", "plan_id", "component", "completion")


def _invalid(field: str, message: str, code: str = "invalid") -> ValidationFailedError:
    return ValidationFailedError(message, code=code, details={field: [message]})


def _decimal(value: Any, field: str, message: str, low: Decimal, high: Decimal) -> Decimal:
    try:
        number = Decimal(str(value).strip().rstrip("%").strip())
    except (InvalidOperation, ValueError):
        raise _invalid(field, message) from None
    if not number.is_finite() or number != number.quantize(Decimal("0.01")):
        raise _invalid(field, message)
    if not low <= number <= high or (field == "weight" and number == 0):
        raise _invalid(field, message)
    return number


def _period(period_id: int) -> Period:
    found: Period | None = (
        Period.objects.filter(pk=period_id).first() if 0 < period_id < 2**63 else None
    )
    if found is None:
        raise _invalid("period_id", MSG_UNKNOWN_PERIOD, "unknown_period")
    return found


def _check_open(period: Period) -> None:
    if period.status == PeriodStatus.CLOSED:
        raise ConflictError(MSG_CLOSED.format(period=period.label), code="period_closed")


def _check_writable(access: Access, person: Person, period: Period) -> None:
    """404 when the principal may not even read the person's objectives, 403 when only read."""
    if sel.objective_writable(access=access, person_id=person.pk, period=period):
        return
    if not sel.objective_people(access=access, period=period).filter(pk=person.pk).exists():
        raise NotFoundError("Objective not found.")
    raise PermissionDeniedError(MSG_NOT_YOURS.format(person=person.full_name, period=period))


def _locked(access: Access, objective_id: int) -> Objective:
    """Return the objective (visible to the principal) locked for update, its period open and
    the principal allowed to change it."""
    sel.objective_get(access=access, objective_id=objective_id)
    objective: Objective = (
        Objective.objects.select_for_update()
        .select_related("person", "period")
        .get(pk=objective_id)
    )
    _check_writable(access, objective.person, objective.period)
    _check_open(objective.period)
    return objective


def _link(plan_id: int | None, component: str, period: Period) -> tuple[Plan | None, str]:
    component = (component or "").strip()
    if plan_id is None:
        if component:
            raise _invalid("plan_id", MSG_COMPONENT_NEEDS_PLAN)
        return None, ""
    plan = Plan.objects.filter(pk=plan_id).first() if 0 < plan_id < 2**63 else None
    if plan is None:
        raise _invalid("plan_id", MSG_UNKNOWN_PLAN, "unknown_plan")
    ids = sel.mbo_components(plan, period)
    if not component and len(ids) == 1:
        component = ids[0]
    if component not in ids:
        message = MSG_NO_COMPONENT.format(plan=plan.name, component=component, period=period)
        raise _invalid("component", message, "not_mbo")
    return plan, component


def _check_total(
    *,
    person_id: int,
    period_id: int,
    plan_id: int | None,
    component: str,
    weight: Decimal,
    exclude: int | None,
) -> None:
    total = weight + sel.group_weight(
        person_id=person_id,
        period_id=period_id,
        plan_id=plan_id,
        component=component,
        exclude=exclude,
    )
    if total > HUNDRED:
        raise _invalid("weight", MSG_OVER_100.format(total=sel.pct(total)), "weights")


def _score(objective: Objective, *, now: Any, completion: bool) -> None:
    """Supersede the objective's current score and, unless it left the agreed states, record
    what a run reads now (plan-linked objectives only)."""
    ObjectiveScore.objects.filter(objective=objective, superseded_at__isnull=True).update(
        superseded_at=now
    )
    if objective.plan_id is not None:
        # what a run pays on changed (or stopped counting): the open period's live run
        # recalculates the person (payouts/live.py reads the change feed)
        period = objective.period
        changes_record(
            kind=ChangeKind.OBJECTIVE,
            keys=[ChangeKey(period.start, period.end, person_id=objective.person_id)],
        )
    if objective.plan_id is None or objective.status == ObjectiveStatus.DRAFT:
        return
    ObjectiveScore.objects.create(
        objective=objective,
        person_id=objective.person_id,
        period_id=objective.period_id,
        plan_id=objective.plan_id,
        component=objective.component,
        weight=objective.weight,
        completion=objective.completion if completion else None,
        recorded_at=now,
    )


def _save(objective: Objective, now: Any) -> None:
    objective.updated_at = now
    objective.full_clean()
    objective.save()


@transaction.atomic
def objective_create(
    *,
    access: Access,
    person_id: int,
    period_id: int,
    title: str,
    weight: Any,
    description: str = "",
    plan_id: int | None = None,
    component: str = "",
) -> Objective:
    """Create a draft objective for a person and period (plan-linked or ad hoc); audited."""
    period = _period(period_id)
    person = Person.objects.filter(pk=person_id).first() if 0 < person_id < 2**63 else None
    if (
        person is None
        or not sel.objective_people(access=access, period=period).filter(pk=person.pk).exists()
    ):
        raise _invalid("person_id", MSG_UNKNOWN_PERSON, "unknown_person")
    _check_writable(access, person, period)
    _check_open(period)
    title = (title or "").strip()
    if not title:
        raise _invalid("title", MSG_TITLE)
    value = _decimal(weight, "weight", MSG_WEIGHT, Decimal(0), HUNDRED)
    plan, component = _link(plan_id, component, period)
    _check_total(
        person_id=person.pk,
        period_id=period.pk,
        plan_id=plan.pk if plan else None,
        component=component,
        weight=value,
        exclude=None,
    )
    now = timezone.now()
    objective = Objective(
        person=person,
        period=period,
        plan=plan,
        component=component,
        title=title[:200],
        description=(description or "").strip(),
        weight=value,
        created_at=now,
        created_by_id=access.principal.user_id,
    )
    _save(objective, now)
    audit_record(action="objective.create", obj=objective, after=model_snapshot(objective))
    return objective


@transaction.atomic
def objective_update(*, access: Access, objective_id: int, **changes: Any) -> Objective:
    """Change a draft's title, description, weight or plan link, or a set or submitted
    objective's completion; refuse everything on a signed-off one; audited."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValidationFailedError(f"Unknown fields: {', '.join(sorted(unknown))}.")
    objective = _locked(access, objective_id)
    before = model_snapshot(objective)
    if objective.status == ObjectiveStatus.SIGNED_OFF:
        raise ConflictError(MSG_SIGNED_OFF, code="signed_off")
    definition = {k: v for k, v in changes.items() if k != "completion"}
    if definition and objective.status != ObjectiveStatus.DRAFT:
        field = sorted(definition)[0]
        raise ConflictError(MSG_DRAFT_ONLY, code="not_draft", details={field: [MSG_DRAFT_ONLY]})
    if "title" in changes:
        title = (changes["title"] or "").strip()
        if not title:
            raise _invalid("title", MSG_TITLE)
        objective.title = title[:200]
    if "description" in changes:
        objective.description = (changes["description"] or "").strip()
    if "weight" in changes:
        objective.weight = _decimal(changes["weight"], "weight", MSG_WEIGHT, Decimal(0), HUNDRED)
    if "plan_id" in changes or "component" in changes:
        plan, component = _link(
            changes.get("plan_id", objective.plan_id),
            changes.get("component", objective.component),
            objective.period,
        )
        objective.plan, objective.component = plan, component
    if definition:
        _check_total(
            person_id=objective.person_id,
            period_id=objective.period_id,
            plan_id=objective.plan_id,
            component=objective.component,
            weight=objective.weight,
            exclude=objective.pk,
        )
    if "completion" in changes:
        if objective.status == ObjectiveStatus.DRAFT:
            raise ConflictError(
                MSG_NOT_AGREED, code="not_set", details={"completion": [MSG_NOT_AGREED]}
            )
        raw = changes["completion"]
        objective.completion = (
            None
            if raw in (None, "")
            else _decimal(raw, "completion", MSG_COMPLETION, Decimal(0), MAX_COMPLETION)
        )
    _save(objective, timezone.now())
    audit_record(
        action="objective.update", obj=objective, before=before, after=model_snapshot(objective)
    )
    return objective


@transaction.atomic
def objective_set(*, access: Access, objective_id: int) -> Objective:
    """Agree an objective and the other drafts of its group, whose weights must sum to exactly
    100 %; audited once for the group."""
    objective = _locked(access, objective_id)
    if objective.status != ObjectiveStatus.DRAFT:
        raise ConflictError(MSG_SET_FIRST.format(status=objective.get_status_display().lower()))
    group = list(sel.group_of(objective).select_for_update())
    total = sum((o.weight for o in group), Decimal(0))
    if total != HUNDRED:
        label = f"{objective.plan} · {objective.component}" if objective.plan else "ad hoc"
        message = MSG_NOT_100.format(
            person=objective.person.full_name, group=label, total=sel.pct(total)
        )
        raise ValidationFailedError(message, code="weights", details={"weight": [message]})
    now = timezone.now()
    changed = []
    for o in group:
        if o.status != ObjectiveStatus.DRAFT:
            continue
        o.status, o.set_at, o.set_by_id = ObjectiveStatus.SET, now, access.principal.user_id
        _save(o, now)
        _score(o, now=now, completion=False)
        changed.append(o.pk)
    objective.refresh_from_db()
    audit_record(
        action="objective.set",
        obj=objective,
        before={"status": ObjectiveStatus.DRAFT, "objectives": changed},
        after={"status": ObjectiveStatus.SET, "objectives": changed, "weight_total": "100"},
    )
    return objective


@transaction.atomic
def objective_submit(*, access: Access, objective_id: int, completion: Any = None) -> Objective:
    """Submit a set objective's completion % (given here or entered before); audited."""
    objective = _locked(access, objective_id)
    if objective.status != ObjectiveStatus.SET:
        raise ConflictError(MSG_SUBMIT_FIRST.format(status=objective.get_status_display().lower()))
    before = model_snapshot(objective)
    if completion not in (None, ""):
        objective.completion = _decimal(
            completion, "completion", MSG_COMPLETION, Decimal(0), MAX_COMPLETION
        )
    if objective.completion is None:
        raise _invalid("completion", MSG_NEEDS_COMPLETION, "no_completion")
    now = timezone.now()
    objective.status, objective.submitted_at, objective.submitted_by_id = (
        ObjectiveStatus.SUBMITTED,
        now,
        access.principal.user_id,
    )
    _save(objective, now)
    audit_record(
        action="objective.submit", obj=objective, before=before, after=model_snapshot(objective)
    )
    return objective


@transaction.atomic
def objective_sign_off(*, access: Access, objective_id: int) -> Objective:
    """Sign off a submitted objective's completion (never one's own): from now on runs pay on
    it; audited."""
    objective = _locked(access, objective_id)
    own = sel.me(access)
    if own is not None and own.pk == objective.person_id:
        raise PermissionDeniedError(MSG_OWN, code="own_objective")
    if objective.status != ObjectiveStatus.SUBMITTED:
        raise ConflictError(
            MSG_SIGN_OFF_FIRST.format(status=objective.get_status_display().lower())
        )
    before = model_snapshot(objective)
    now = timezone.now()
    objective.status = ObjectiveStatus.SIGNED_OFF
    objective.signed_off_at, objective.signed_off_by_id = now, access.principal.user_id
    _save(objective, now)
    _score(objective, now=now, completion=True)
    audit_record(
        action="objective.sign_off", obj=objective, before=before, after=model_snapshot(objective)
    )
    return objective


@transaction.atomic
def objective_reopen(*, access: Access, objective_id: int, reason: str) -> Objective:
    """Reopen an objective, with a reason: signed off → submitted (runs no longer pay on its
    completion), set or submitted → draft; audited."""
    objective = _locked(access, objective_id)
    reason = (reason or "").strip()
    if not reason:
        raise _invalid("reason", MSG_REASON)
    if objective.status == ObjectiveStatus.DRAFT:
        raise ConflictError(MSG_REOPEN_DRAFT, code="already_open")
    before = model_snapshot(objective)
    now = timezone.now()
    if objective.status == ObjectiveStatus.SIGNED_OFF:
        objective.status = ObjectiveStatus.SUBMITTED
        objective.signed_off_at, objective.signed_off_by_id = None, None
    else:
        objective.status = ObjectiveStatus.DRAFT
        objective.set_at, objective.set_by_id = None, None
        objective.submitted_at, objective.submitted_by_id = None, None
    objective.reopened_at, objective.reopened_by_id = now, access.principal.user_id
    objective.reopen_reason = reason[:500]
    _save(objective, now)
    _score(objective, now=now, completion=False)
    audit_record(
        action="objective.reopen",
        obj=objective,
        before=before,
        after={**model_snapshot(objective), "reason": reason[:500]},
    )
    return objective


@transaction.atomic
def objective_delete(*, access: Access, objective_id: int) -> None:
    """Delete a draft objective (nothing was agreed on it); audited."""
    objective = _locked(access, objective_id)
    if objective.status != ObjectiveStatus.DRAFT:
        raise ConflictError(MSG_DELETE_DRAFT, code="not_draft")
    before = model_snapshot(objective)
    if objective.scores.exists():  # reopened to draft: its old scores stay, superseded
        raise ConflictError(MSG_DELETE_AGREED, code="has_history")
    audit_record(action="objective.delete", obj=objective, before=before)
    objective.delete()


@transaction.atomic
def objective_comment(*, access: Access, objective_id: int, comment: str) -> Objective:
    """Save the person's own comment on their objective (any status; an empty one clears it);
    audited. Nobody else writes it."""
    found = sel.objective_get(access=access, objective_id=objective_id)
    own = sel.me(access)
    if own is None or own.pk != found.person_id:
        raise PermissionDeniedError(MSG_COMMENT_OWN, code="not_own")
    text = (comment or "").strip()
    if len(text) > MAX_COMMENT:
        raise _invalid("comment", MSG_COMMENT_LONG)
    objective: Objective = Objective.objects.select_for_update().get(pk=objective_id)
    _check_open(objective.period)
    before = model_snapshot(objective)
    objective.comment = text
    _save(objective, timezone.now())
    audit_record(
        action="objective.comment", obj=objective, before=before, after=model_snapshot(objective)
    )
    return objective
