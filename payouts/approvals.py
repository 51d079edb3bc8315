"""Approval routes: configure a tenant's routes, decide a period's steps, remind who is late.

A period submitted for review follows one route (``payouts/approval_routes.py`` chooses it and
opens the request inside ``period_submit_for_review``). Each step is decided here:

- :func:`approval_approve` — the step's approver approves; when the step is complete the request
  moves to the next one. Approving the **last** step (finance) is the period's approval: it calls
  ``payouts.lifecycle.period_approve`` with the run the route reviewed, so the ledger is written
  and the statements frozen exactly as a finance approval always did.
- :func:`approval_reject` — any approver of the current step rejects, saying why: the period goes
  back to *calculated* with the comment, and a new submission starts a new request.
- :func:`approval_withdraw` — whoever may submit takes the request back (e.g. to recalculate).
- :func:`route_configure` / :func:`route_delete` — comp admins and tenant admins edit routes: at
  least one step, the last one finance (only finance approves money); a route with a pending
  request keeps its steps until that request is decided.
- :func:`approval_reminders_send` — e-mails the approvers of steps waiting longer than their
  route's ``remind_after_hours`` (0: never), at most once per window per approver and step.

Every mutating action writes exactly one audit event; the last step's approval is the
lifecycle's ``period.approve`` event (naming the request and decision), a rejection or
withdrawal the ``approval.reject`` / ``approval.withdraw`` event that also moves the period.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.utils import timezone

from core.audit import audit_record
from core.errors import NotFoundError, PermissionDeniedError, ValidationFailedError
from core.models import Membership
from core.permissions import Principal, principal_for_membership
from core.tenancy import get_current_tenant
from hierarchy.models import Node
from payouts import lifecycle
from payouts.approval_routes import (
    NOT_PENDING,
    RouteGuardError,
    StepProgress,
    active_steps,
    approver_label,
    decision_write,
    eligible,
    first_open_step,
    request_steps,
    step_progress,
)
from payouts.models import (
    ApprovalDecision,
    ApprovalReminder,
    ApprovalRequest,
    ApprovalRoute,
    ApprovalStatus,
    ApprovalStep,
    ApproverKind,
    DecisionKind,
)
from payouts.policy import may_submit
from plans.models import Plan

NOT_FOUND = "Approval request not found."
ROUTE_NOT_FOUND = "Approval route not found."
COMMENT_REQUIRED = "Say why the period is rejected: the comment goes back with it."
ROLE_CONFIGURE = "Approval routes are configured by comp admins and tenant admins."
ROLE_WITHDRAW = "Withdrawing an approval request is for whoever may submit the period."
NAME_REQUIRED = "Name the route."
NAME_TAKEN = "Another route is called {name!r}."
NO_STEPS = "A route needs at least one step."
LAST_NOT_FINANCE = "The last step must be a finance step: only finance approves money."
STEP_NAME_REQUIRED = "Name step {order}."
USER_REQUIRED = "Step {order} names a user: choose who."
USER_NOT_MEMBER = "Step {order}: that user is not an active member of this tenant."
USER_ONLY_ONE = "Step {order}: a named-user step needs exactly one approval."
COUNT_POSITIVE = "Step {order}: the required count is at least 1."
ONE_SCOPE = "Scope a route by a plan or by a business unit, not both."
UNKNOWN_PLAN = "Unknown plan."
UNKNOWN_NODE = "Unknown business unit."
SCOPE_TAKEN = "Another route ({name}) is scoped to the same {what}."
ROUTE_IN_USE = (
    "{count} pending approval request(s) follow this route; decide or withdraw them before "
    "changing its steps."
)
ROUTE_HAS_HISTORY = (
    "Requests have followed this route, so it stays as their history; make another route the "
    "default instead."
)
MAX_STEPS = 10


def may_configure(principal: Principal) -> bool:
    """Return whether the principal may create, edit and delete approval routes."""
    return principal.has("approvals.configure")


def _invalid(message: str, field_name: str) -> ValidationFailedError:
    return ValidationFailedError(message, details={field_name: [message]})


# --- routes --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepSpec:
    """One step as a route editor or the API describes it."""

    name: str
    approver_kind: str
    user_id: int | None = None
    required_count: int = 1


def _route_snapshot(route: ApprovalRoute, steps: list[ApprovalStep]) -> dict[str, Any]:
    return {
        "name": route.name,
        "plan": route.plan_id,
        "business_unit": route.business_unit_id,
        "is_default": route.is_default,
        "remind_after_hours": route.remind_after_hours,
        "steps": [_step_tuple(s) for s in steps],
    }


def _step_tuple(step: ApprovalStep | StepSpec) -> list[Any]:
    return [step.name, step.approver_kind, step.user_id, step.required_count]


def _check_steps(steps: list[StepSpec]) -> None:
    if not steps:
        raise _invalid(NO_STEPS, "steps")
    if len(steps) > MAX_STEPS:
        raise _invalid(f"A route has at most {MAX_STEPS} steps.", "steps")
    tenant = get_current_tenant()
    for order, spec in enumerate(steps, start=1):
        if not spec.name.strip():
            raise _invalid(STEP_NAME_REQUIRED.format(order=order), "steps")
        if spec.approver_kind not in ApproverKind.values:
            raise _invalid(f"Step {order}: unknown approver kind.", "steps")
        if spec.required_count < 1:
            raise _invalid(COUNT_POSITIVE.format(order=order), "steps")
        if spec.approver_kind == ApproverKind.USER:
            if spec.user_id is None:
                raise _invalid(USER_REQUIRED.format(order=order), "steps")
            if not Membership.objects.filter(
                tenant=tenant, user_id=spec.user_id, is_active=True
            ).exists():
                raise _invalid(USER_NOT_MEMBER.format(order=order), "steps")
            if spec.required_count != 1:
                raise _invalid(USER_ONLY_ONE.format(order=order), "steps")
    if steps[-1].approver_kind != ApproverKind.FINANCE:
        raise _invalid(LAST_NOT_FINANCE, "steps")


def _check_scope(route_id: int | None, plan_id: int | None, business_unit_id: int | None) -> None:
    if plan_id is not None and business_unit_id is not None:
        raise _invalid(ONE_SCOPE, "plan")
    if plan_id is not None and not Plan.objects.filter(pk=plan_id).exists():
        raise _invalid(UNKNOWN_PLAN, "plan")
    if business_unit_id is not None and not Node.objects.filter(pk=business_unit_id).exists():
        raise _invalid(UNKNOWN_NODE, "business_unit")
    others = ApprovalRoute.objects.exclude(pk=route_id or 0)
    if plan_id is not None:
        clash = others.filter(plan_id=plan_id).first()
        if clash is not None:
            raise _invalid(SCOPE_TAKEN.format(name=clash.name, what="plan"), "plan")
    if business_unit_id is not None:
        clash = others.filter(business_unit_id=business_unit_id).first()
        if clash is not None:
            raise _invalid(
                SCOPE_TAKEN.format(name=clash.name, what="business unit"), "business_unit"
            )


@transaction.atomic
def route_configure(
    *,
    principal: Principal,
    name: str,
    steps: list[StepSpec],
    route_id: int | None = None,
    plan_id: int | None = None,
    business_unit_id: int | None = None,
    is_default: bool = False,
    remind_after_hours: int = 24,
) -> ApprovalRoute:
    """Create a route, or edit one (its steps replaced: the old ones are retired, kept)."""
    if not may_configure(principal):
        raise PermissionDeniedError(ROLE_CONFIGURE, details={"guard": "role"})
    route: ApprovalRoute | None = None
    old_steps: list[ApprovalStep] = []
    if route_id is not None:
        route = ApprovalRoute.objects.select_for_update().filter(pk=route_id).first()
        if route is None:
            raise NotFoundError(ROUTE_NOT_FOUND)
        old_steps = active_steps(route)
    name = (name or "").strip()
    if not name:
        raise _invalid(NAME_REQUIRED, "name")
    if ApprovalRoute.objects.exclude(pk=route_id or 0).filter(name=name).exists():
        raise _invalid(NAME_TAKEN.format(name=name), "name")
    if remind_after_hours < 0:
        raise _invalid("Reminder hours cannot be negative (0: never remind).", "remind_after_hours")
    _check_scope(route_id, plan_id, business_unit_id)
    _check_steps(steps)
    steps_changed = [_step_tuple(s) for s in old_steps] != [_step_tuple(s) for s in steps]
    now = timezone.now()
    before = None
    if route is not None:
        before = _route_snapshot(route, old_steps)
        pending = ApprovalRequest.objects.filter(route=route, status=ApprovalStatus.PENDING)
        if steps_changed and pending.exists():
            raise RouteGuardError(
                ROUTE_IN_USE.format(count=pending.count()), guard="route_in_use", route=route.pk
            )
    else:
        route = ApprovalRoute(tenant=get_current_tenant(), created_at=now)
    if is_default:
        ApprovalRoute.objects.filter(is_default=True).exclude(pk=route.pk or 0).update(
            is_default=False
        )
    route.name = name
    route.plan_id = plan_id
    route.business_unit_id = business_unit_id
    route.is_default = is_default
    route.remind_after_hours = remind_after_hours
    route.updated_at = now
    route.full_clean(exclude=["tenant"], validate_constraints=False)
    route.save()
    if steps_changed:
        ApprovalStep.objects.filter(route=route, retired_at__isnull=True).update(retired_at=now)
        for order, spec in enumerate(steps, start=1):
            ApprovalStep.objects.create(
                tenant=route.tenant,
                route=route,
                order=order,
                name=spec.name.strip()[:100],
                approver_kind=spec.approver_kind,
                user_id=spec.user_id if spec.approver_kind == ApproverKind.USER else None,
                required_count=spec.required_count,
                created_at=now,
            )
    audit_record(
        action="approval_route.update" if before is not None else "approval_route.create",
        obj=route,
        before=before,
        after=_route_snapshot(route, active_steps(route)),
    )
    return route


@transaction.atomic
def route_delete(*, principal: Principal, route_id: int) -> None:
    """Delete a route no request has followed (one that has keeps its history)."""
    if not may_configure(principal):
        raise PermissionDeniedError(ROLE_CONFIGURE, details={"guard": "role"})
    route = ApprovalRoute.objects.select_for_update().filter(pk=route_id).first()
    if route is None:
        raise NotFoundError(ROUTE_NOT_FOUND)
    if ApprovalRequest.objects.filter(route=route).exists():
        raise RouteGuardError(ROUTE_HAS_HISTORY, guard="route_has_history", route=route.pk)
    before = _route_snapshot(route, active_steps(route))
    audit_record(action="approval_route.delete", obj=route, before=before)
    ApprovalStep.objects.filter(route=route).delete()
    route.delete()


def route_list() -> QuerySet[ApprovalRoute]:
    """Return the tenant's routes, the default first."""
    return ApprovalRoute.objects.select_related("plan", "business_unit").order_by(
        "-is_default", "name"
    )


def route_get(*, route_id: int) -> ApprovalRoute:
    route = route_list().filter(pk=route_id).first()
    if route is None:
        raise NotFoundError(ROUTE_NOT_FOUND)
    return route


# --- deciding ------------------------------------------------------------------------------------


def _locked(request_id: int) -> ApprovalRequest:
    request: ApprovalRequest | None = (
        ApprovalRequest.objects.select_for_update(of=("self",))
        .filter(pk=request_id)
        .select_related("route", "current_step", "period", "run")
        .first()
    )
    if request is None:
        raise NotFoundError(NOT_FOUND)
    if request.status != ApprovalStatus.PENDING or request.current_step is None:
        raise RouteGuardError(
            NOT_PENDING.format(status=ApprovalStatus(request.status).label.lower()),
            guard="request_status",
            status=request.status,
        )
    return request


def _request_after(request: ApprovalRequest, **extra: Any) -> dict[str, Any]:
    return {
        "request_status": request.status,
        "period": request.period_id,
        "run": request.run_id,
        "waits_on": request.current_step.name if request.current_step else None,
        **extra,
    }


@transaction.atomic
def approval_approve(
    *, request_id: int, principal: Principal, comment: str = "", early: bool = False
) -> ApprovalRequest:
    """Approve the request's current step; complete, the request moves on (the last step
    approves the period through ``period_approve``, ``early`` passed on)."""
    request = _locked(request_id)
    step = request.current_step
    assert step is not None  # _locked checked it
    comment = (comment or "").strip()[:1000]
    steps = request_steps(request)
    if step.pk == steps[-1].pk:
        draft = decision_write(
            request=request,
            step=step,
            principal=principal,
            decision=DecisionKind.APPROVE,
            comment=comment,
            save=False,
        )
        if step_progress(request, step, extra=draft).complete:
            lifecycle.period_approve(
                period_id=request.period_id,
                run_id=request.run_id,
                principal=principal,
                comment=comment,
                early=early,
            )
            request.refresh_from_db()
            return request
    decision = decision_write(
        request=request,
        step=step,
        principal=principal,
        decision=DecisionKind.APPROVE,
        comment=comment,
    )
    progress = step_progress(request, step)
    if progress.complete:
        later = [s for s in steps if s.order > step.order]
        request.current_step = first_open_step(request, later)
        request.step_started_at = decision.at
        request.save(update_fields=["current_step", "step_started_at"])
    audit_record(
        action="approval.approve",
        obj=request,
        before={"step": step.name},
        after=_request_after(
            request,
            step=step.name,
            decision=decision.pk,
            comment=comment,
            covers=len(decision.covers),
            step_complete=progress.complete,
        ),
    )
    return request


@transaction.atomic
def approval_reject(*, request_id: int, principal: Principal, comment: str) -> ApprovalRequest:
    """Reject the request at its current step: the period goes back to *calculated*."""
    request = _locked(request_id)
    step = request.current_step
    assert step is not None
    comment = (comment or "").strip()[:1000]
    if not comment:
        raise _invalid(COMMENT_REQUIRED, "comment")
    decision = decision_write(
        request=request,
        step=step,
        principal=principal,
        decision=DecisionKind.REJECT,
        comment=comment,
    )
    request.status = ApprovalStatus.REJECTED
    request.current_step = None
    request.decided_at = decision.at
    request.outcome_comment = comment
    request.save(update_fields=["status", "current_step", "decided_at", "outcome_comment"])
    lifecycle.period_send_back(
        period_id=request.period_id,
        action="approval.reject",
        audit_obj=request,
        extra=_request_after(request, step=step.name, decision=decision.pk, comment=comment),
    )
    return request


@transaction.atomic
def approval_withdraw(
    *, request_id: int, principal: Principal, comment: str = ""
) -> ApprovalRequest:
    """Take a pending request back: the period returns to *calculated* (to recalculate it)."""
    request = _locked(request_id)
    if not may_submit(principal):
        raise PermissionDeniedError(ROLE_WITHDRAW, details={"guard": "role"})
    comment = (comment or "").strip()[:1000]
    step = request.current_step
    request.status = ApprovalStatus.WITHDRAWN
    request.current_step = None
    request.decided_at = timezone.now()
    request.outcome_comment = comment
    request.save(update_fields=["status", "current_step", "decided_at", "outcome_comment"])
    lifecycle.period_send_back(
        period_id=request.period_id,
        action="approval.withdraw",
        audit_obj=request,
        extra=_request_after(request, step=step.name if step else None, comment=comment),
    )
    return request


# --- reading -------------------------------------------------------------------------------------


def _base() -> QuerySet[ApprovalRequest]:
    return ApprovalRequest.objects.select_related(
        "period", "run", "route", "current_step", "current_step__user", "submitted_by"
    )


def _involved(request: ApprovalRequest, principal: Principal) -> bool:
    """Return whether ``principal`` decides (or decided) a step of ``request``."""
    if principal.user_id is not None and any(
        d.actor_user_id == principal.user_id for d in request.decisions.all()
    ):
        return True
    return any(eligible(step, principal, request) for step in request_steps(request))


def request_list(*, principal: Principal) -> QuerySet[ApprovalRequest]:
    """Return the requests the principal may read: all of them with ``payouts.view``, else
    those it decides or decided a step of (a manager: where it speaks for payees of the run)."""
    rows = _base()
    if principal.has("payouts.view"):
        return rows
    recent = list(rows.prefetch_related("decisions")[:500])
    return rows.filter(pk__in=[r.pk for r in recent if _involved(r, principal)])


def request_get(*, principal: Principal, request_id: int) -> ApprovalRequest:
    """Return one request the principal may read, or raise NotFoundError."""
    request = request_list(principal=principal).filter(pk=request_id).first()
    if request is None:
        raise NotFoundError(NOT_FOUND)
    return request


def waiting_for(*, principal: Principal) -> list[ApprovalRequest]:
    """Return the pending requests whose current step waits for this principal's decision."""
    out: list[ApprovalRequest] = []
    pending = _base().filter(status=ApprovalStatus.PENDING, current_step__isnull=False)
    for request in pending.prefetch_related("decisions").order_by("step_started_at"):
        step = request.current_step
        assert step is not None
        if not eligible(step, principal, request):
            continue
        decided = request.decisions.all()  # prefetched: one query for every request
        mine = [
            d
            for d in decided
            if (principal.user_id is not None and d.actor_user_id == principal.user_id)
            or (
                principal.api_client_id is not None
                and d.actor_api_client_id == principal.api_client_id
            )
        ]
        if any(d.step_id == step.pk for d in mine):
            continue
        if any(d.decision == DecisionKind.APPROVE for d in mine):
            continue  # they approved an earlier step: another person decides this one
        out.append(request)
    return out


@dataclass
class StepView:
    """One step of a request's timeline."""

    step: ApprovalStep
    state: str  # done | current | waiting | rejected | skipped
    approver: str
    decisions: list[ApprovalDecision] = field(default_factory=list)
    progress: StepProgress | None = None


def request_timeline(request: ApprovalRequest) -> list[StepView]:
    """Return each step of the request with its decisions (who, when, comment) and state."""
    decisions = list(
        ApprovalDecision.objects.filter(request=request)
        .select_related("actor_user")
        .order_by("at", "pk")
    )
    out: list[StepView] = []
    current = request.current_step
    for step in request_steps(request):
        mine = [d for d in decisions if d.step_id == step.pk]
        passed = request.status == ApprovalStatus.APPROVED or (
            current is not None and step.order < current.order
        )
        if any(d.decision == DecisionKind.REJECT for d in mine):
            state = "rejected"
        elif current is not None and step.pk == current.pk:
            state = "current"
        elif passed:
            state = "done" if mine else "skipped"
        elif request.status == ApprovalStatus.PENDING:
            state = "waiting"
        else:
            state = "not reached"
        view = StepView(step=step, state=state, approver=approver_label(step), decisions=mine)
        if state == "current":
            view.progress = step_progress(request, step)
        out.append(view)
    return out


def period_waits_on(period_ids: list[int]) -> dict[int, ApprovalRequest]:
    """Return, per period, its pending approval request (with the step it waits on)."""
    rows = ApprovalRequest.objects.filter(
        period_id__in=period_ids, status=ApprovalStatus.PENDING
    ).select_related("current_step", "route", "run")
    return {r.period_id: r for r in rows}


# --- reminders -----------------------------------------------------------------------------------


def _approvers(step: ApprovalStep, request: ApprovalRequest) -> list[Any]:
    """Return the users who may decide ``step`` of ``request`` and have not decided it."""
    decided = set(
        ApprovalDecision.objects.filter(request=request, actor_user__isnull=False).values_list(
            "actor_user_id", flat=True
        )
    )
    users: list[Any] = []
    memberships = Membership.objects.filter(
        tenant=get_current_tenant(), is_active=True
    ).select_related("user")
    for membership in memberships.order_by("pk"):
        if membership.user_id in decided or not membership.user.email:
            continue
        if eligible(step, principal_for_membership(membership), request):
            users.append(membership.user)
    return users


@transaction.atomic
def approval_reminders_send(*, now: dt.datetime | None = None) -> int:
    """E-mail the approvers of steps waiting longer than their route's reminder window; record
    each reminder so none repeats within the window. Return how many were sent."""
    now = now or timezone.now()
    sent: list[dict[str, Any]] = []
    pending = _base().filter(status=ApprovalStatus.PENDING, current_step__isnull=False)
    site = str(settings.SITE_URL).rstrip("/")
    for request in pending.order_by("step_started_at"):
        hours = request.route.remind_after_hours
        step = request.current_step
        if not hours or step is None:
            continue
        window = dt.timedelta(hours=hours)
        if request.step_started_at > now - window:
            continue
        for user in _approvers(step, request):
            if ApprovalReminder.objects.filter(
                request=request, step=step, user=user, sent_at__gt=now - window
            ).exists():
                continue
            context = {
                "request": request,
                "step": step,
                "user": user,
                "hours": hours,
                "waiting_since": request.step_started_at,
                "link": f"{site}/approvals/{request.pk}/",
                "tenant": get_current_tenant(),
            }
            subject = render_to_string("dashboards/approvals/reminder_subject.txt", context).strip()
            body = render_to_string("dashboards/approvals/reminder_email.txt", context)
            send_mail(subject, body, None, [user.email])
            ApprovalReminder.objects.create(
                tenant=get_current_tenant(), request=request, step=step, user=user, sent_at=now
            )
            sent.append({"request": request.pk, "step": step.name, "to": user.email})
    if sent:
        audit_record(
            action="approval.remind",
            object_type="payouts.approvalrequest",
            object_id=str(sent[0]["request"]) if len({s["request"] for s in sent}) == 1 else "",
            after={"sent": sent},
        )
    return len(sent)


def user_choices() -> list[tuple[int, str]]:
    """Return the tenant's active members (id, e-mail) a named-user step may name."""
    user_model = get_user_model()
    ids = Membership.objects.filter(tenant=get_current_tenant(), is_active=True).values_list(
        "user_id", flat=True
    )
    return list(
        user_model.objects.filter(pk__in=list(ids)).order_by("email").values_list("pk", "email")
    )
