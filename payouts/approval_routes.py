"""The approval route's floor: which route a run follows, who may decide a step, when a step is
done, and the two hooks the period lifecycle calls (``payouts/lifecycle.py``).

Why this is a module of its own
-------------------------------
The lifecycle opens a request when a period is submitted and, when finance approves, records the
last step's decision in the same transaction, while the approvals services
(``payouts/approvals.py``) call the lifecycle to approve or send a period back. Both directions
cannot live in one pair of modules without an import circle, so what the lifecycle needs sits
here, beneath both. Nothing here writes an audit event: the action that calls it does (one
event per action), naming the request and the step in its ``after``.

Who decides a step (:func:`eligible`):

- ``finance`` — whoever may approve money today (``payouts.policy.may_approve``: finance, tenant
  admins, ``write:payouts`` API clients). The last step of every route is a finance step.
- ``comp_admin`` — a member holding the comp admin role.
- ``user`` — that one user.
- ``manager`` — a member who manages, during the period, a node with payees of the run (as the
  structure stood then, ``hierarchy/access.py``); their approval speaks for those payees only,
  never for themselves. The step is done when every payee some manager could speak for is
  covered and at least ``required_count`` managers approved (fewer if fewer can).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from core.audit import current_actor
from core.errors import ConflictError, PermissionDeniedError
from core.models import Membership, Role
from core.permissions import Principal, principal_for_membership
from core.tenancy import get_current_tenant
from hierarchy import org_selectors
from hierarchy.access import access_for
from hierarchy.models import Period
from payouts.models import (
    ApprovalDecision,
    ApprovalRequest,
    ApprovalRoute,
    ApprovalStatus,
    ApprovalStep,
    ApproverKind,
    CalculationRun,
    DecisionKind,
    PayoutLine,
)
from payouts.policy import may_approve

BUILTIN_NAME = "Built-in: comp admin → finance"
BUILTIN_STEPS: tuple[tuple[str, str], ...] = (
    ("Comp admin review", ApproverKind.COMP_ADMIN),
    ("Finance approval", ApproverKind.FINANCE),
)

NOT_YOUR_STEP = "Step {order} ({name}) is decided by {who}; you are not one of them."
ALREADY_DECIDED = "You have already decided step {order} ({name}) of this request."
TWO_STEPS = "You approved an earlier step of this request; another person decides this one."
STEPS_PENDING = (
    "The period waits on step {order} of {count} ({name}) of its approval route; finance "
    "approves after the earlier steps."
)
STEP_INCOMPLETE = "Step {order} ({name}) needs {needed} approvals; this one would be number {have}."
RUN_MISMATCH = (
    "The approval route reviewed run {reviewed}; approve that run, or withdraw the request and "
    "submit the period again to review another."
)
NOT_PENDING = "This approval request is {status}: nothing to decide."


class RouteGuardError(ConflictError):
    """An approval guard failed: ``code`` and ``details["guard"]`` name it (HTTP 409)."""

    def __init__(self, message: str, *, guard: str, **details: Any) -> None:
        super().__init__(message, code=guard, details={"guard": guard, **details})


def not_your_step(step: ApprovalStep) -> PermissionDeniedError:
    return PermissionDeniedError(
        NOT_YOUR_STEP.format(order=step.order, name=step.name, who=approver_label(step)),
        code="not_your_step",
        details={"guard": "approver", "step": step.pk},
    )


def approver_label(step: ApprovalStep) -> str:
    """Return who decides ``step``, in words."""
    if step.approver_kind == ApproverKind.USER:
        user = step.user
        return user.get_username() if user is not None else "a named user"
    return {
        ApproverKind.MANAGER: "the payees' managers",
        ApproverKind.COMP_ADMIN: "a comp admin",
        ApproverKind.FINANCE: "finance",
    }[ApproverKind(step.approver_kind)]


# --- routes and steps --------------------------------------------------------------------------


def active_steps(route: ApprovalRoute) -> list[ApprovalStep]:
    """Return the route's steps in force now, in order."""
    return list(
        ApprovalStep.objects.filter(route=route, retired_at__isnull=True)
        .select_related("user")
        .order_by("order")
    )


def request_steps(request: ApprovalRequest) -> list[ApprovalStep]:
    """Return the steps ``request`` follows: its route's steps as they stood when submitted."""
    rows = ApprovalStep.objects.filter(
        route_id=request.route_id, created_at__lte=request.submitted_at
    ).select_related("user")
    return [
        s
        for s in rows.order_by("order")
        if s.retired_at is None or s.retired_at > request.submitted_at
    ]


def builtin_route() -> ApprovalRoute:
    """Return the tenant's built-in route (comp admin → finance), writing it the first time."""
    existing: ApprovalRoute | None = ApprovalRoute.objects.filter(is_builtin=True).first()
    if existing is not None:
        return existing
    now = timezone.now()
    route: ApprovalRoute = ApprovalRoute.objects.create(
        tenant=get_current_tenant(),
        name=BUILTIN_NAME,
        is_default=not ApprovalRoute.objects.filter(is_default=True).exists(),
        is_builtin=True,
        created_at=now,
        updated_at=now,
    )
    for order, (name, kind) in enumerate(BUILTIN_STEPS, start=1):
        ApprovalStep.objects.create(
            tenant=route.tenant, route=route, order=order, name=name, approver_kind=kind,
            created_at=now,
        )  # fmt: skip
    return route


def run_payee_ids(run_id: int) -> set[int]:
    """Return the people a run pays."""
    return set(
        PayoutLine.objects.filter(run_id=run_id).values_list("person_id", flat=True).distinct()
    )


def route_for_run(run: CalculationRun) -> ApprovalRoute:
    """Return the route a run follows: a route scoped to the one plan it pays, else one scoped
    to a business unit holding all its payees, else the default route, else the built-in one."""
    routes: list[ApprovalRoute] = list(ApprovalRoute.objects.exclude(plan=None, business_unit=None))
    if routes:
        plans = set(PayoutLine.objects.filter(run=run).values_list("plan_id", flat=True).distinct())
        for route in routes:
            if route.plan_id is not None and plans == {route.plan_id}:
                return route
        payees = run_payee_ids(run.pk)
        period = run.period
        for route in routes:
            if route.business_unit_id is None or not payees:
                continue
            inside = org_selectors.people_in_subtrees(
                node_ids=[route.business_unit_id], start=period.start, end=period.end
            ).filter(pk__in=payees)
            if inside.count() == len(payees):
                return route
    default: ApprovalRoute | None = ApprovalRoute.objects.filter(is_default=True).first()
    return default if default is not None else builtin_route()


# --- who may decide ----------------------------------------------------------------------------


def member_roles(principal: Principal) -> list[str]:
    """Return the roles of access of a member principal (none for API clients)."""
    if principal.membership_id is None:
        return []
    roles = (
        Membership.objects.filter(pk=principal.membership_id, is_active=True)
        .values_list("roles", flat=True)
        .first()
    )
    return list(roles) if isinstance(roles, list) else []


def own_person_id(principal: Principal) -> int | None:
    if principal.user_id is None:
        return None
    me = org_selectors.person_for_user(user_id=principal.user_id)
    return me.pk if me is not None else None


def manager_covers(principal: Principal, request: ApprovalRequest, payees: set[int]) -> set[int]:
    """Return the payees of ``request`` a manager principal speaks for (never themselves)."""
    if not principal.has("payouts.view.team") or principal.user_id is None:
        return set()
    if Role.MANAGER not in member_roles(principal):
        return set()
    period: Period = request.period
    seen = access_for(principal).payees(start=period.start, end=period.end)
    covered = set(seen.filter(pk__in=payees).values_list("pk", flat=True))
    covered.discard(own_person_id(principal) or 0)
    return covered


def eligible(step: ApprovalStep, principal: Principal, request: ApprovalRequest) -> bool:
    """Return whether ``principal`` may decide ``step`` of ``request``."""
    kind = step.approver_kind
    if kind == ApproverKind.FINANCE:
        return may_approve(principal)
    if kind == ApproverKind.COMP_ADMIN:
        return Role.COMP_ADMIN in member_roles(principal)
    if kind == ApproverKind.USER:
        return principal.user_id is not None and principal.user_id == step.user_id
    return bool(manager_covers(principal, request, run_payee_ids(request.run_id)))


def manager_principals() -> list[Principal]:
    """Return the tenant's active members holding the manager role, as principals."""
    rows = Membership.objects.filter(tenant=get_current_tenant(), is_active=True).order_by("pk")
    return [principal_for_membership(m) for m in rows if Role.MANAGER in (m.roles or [])]


# --- progress of a step ------------------------------------------------------------------------


def actor_key(principal: Principal) -> str:
    """Return who decides, as a key: one decision per key per step."""
    if principal.user_id is not None:
        return f"user:{principal.user_id}"
    if principal.api_client_id is not None:
        return f"client:{principal.api_client_id}"
    return f"label:{current_actor().label}"


def decision_key(decision: ApprovalDecision) -> str:
    if decision.actor_user_id is not None:
        return f"user:{decision.actor_user_id}"
    if decision.actor_api_client_id is not None:
        return f"client:{decision.actor_api_client_id}"
    return f"label:{decision.actor_label}"


@dataclass
class StepProgress:
    """Where one step of a request stands."""

    step: ApprovalStep
    approvals: int = 0
    needed: int = 1
    payees_needed: set[int] = field(default_factory=set)  # manager steps
    payees_covered: set[int] = field(default_factory=set)
    deciders: int | None = None  # manager steps: the managers who could decide

    @property
    def complete(self) -> bool:
        if self.step.approver_kind == ApproverKind.MANAGER:
            return self.payees_needed <= self.payees_covered and self.approvals >= self.needed
        return self.approvals >= self.needed

    @property
    def payees_left(self) -> int:
        return len(self.payees_needed - self.payees_covered)


def step_progress(
    request: ApprovalRequest, step: ApprovalStep, *, extra: ApprovalDecision | None = None
) -> StepProgress:
    """Return how far ``step`` of ``request`` is, counting ``extra`` (a decision not yet
    written) as if it were."""
    decisions = list(
        ApprovalDecision.objects.filter(request=request, step=step, decision=DecisionKind.APPROVE)
    )
    if extra is not None:
        decisions.append(extra)
    progress = StepProgress(step=step, approvals=len({decision_key(d) for d in decisions}))
    progress.needed = max(1, step.required_count)
    if step.approver_kind == ApproverKind.MANAGER:
        payees = run_payee_ids(request.run_id)
        coverable: set[int] = set()
        deciders = 0
        for principal in manager_principals():
            covers = manager_covers(principal, request, payees)
            if covers:
                deciders += 1
                coverable |= covers
        progress.deciders = deciders
        progress.payees_needed = coverable
        progress.needed = min(progress.needed, deciders)
        for d in decisions:
            progress.payees_covered |= set(d.covers or [])
    return progress


def first_open_step(request: ApprovalRequest, steps: list[ApprovalStep]) -> ApprovalStep | None:
    """Return the first step of ``steps`` not complete (a manager step nobody can decide counts
    as complete: its ``deciders`` is 0); None when all are."""
    for step in steps:
        if not step_progress(request, step).complete:
            return step
    return None


# --- the lifecycle's hooks ---------------------------------------------------------------------


def pending_request(period_id: int, *, lock: bool = False) -> ApprovalRequest | None:
    """Return the period's pending approval request (locked for update when asked)."""
    rows: QuerySet[ApprovalRequest] = ApprovalRequest.objects.filter(
        period_id=period_id, status=ApprovalStatus.PENDING
    )
    if lock:
        rows = rows.select_for_update(of=("self",))
    return rows.select_related("route", "current_step", "period", "run").first()


def latest_full_run(period_id: int) -> CalculationRun | None:
    from payouts.models import RunKind, RunStatus

    return (
        CalculationRun.objects.filter(
            period_id=period_id, kind=RunKind.FULL, status=RunStatus.SUCCEEDED
        )
        .order_by("-number")
        .first()
    )


def request_open(*, period: Period, run: CalculationRun, principal: Principal) -> dict[str, Any]:
    """Open the approval request of a period just put in review; return what the lifecycle's
    audit event says about it (the route, its steps, the step it waits on)."""
    route = route_for_run(run)
    now = timezone.now()
    request = ApprovalRequest.objects.create(
        tenant=get_current_tenant(),
        period=period,
        run=run,
        route=route,
        submitted_by_id=principal.user_id,
        submitted_at=now,
        step_started_at=now,
    )
    steps = request_steps(request)
    request.current_step = first_open_step(request, steps)
    request.save(update_fields=["current_step"])
    return {
        "approval_request": request.pk,
        "route": route.name,
        "steps": [f"{s.order}. {s.name}" for s in steps],
        "waits_on": request.current_step.name if request.current_step else None,
    }


def decision_write(
    *,
    request: ApprovalRequest,
    step: ApprovalStep,
    principal: Principal,
    decision: str,
    comment: str,
    covers: set[int] | None = None,
    save: bool = True,
) -> ApprovalDecision:
    """Check the decider (eligible, first decision on this step, no earlier step approved by
    them) and write (or, with ``save=False``, build) their decision."""
    if not eligible(step, principal, request):
        raise not_your_step(step)
    key = actor_key(principal)
    earlier = ApprovalDecision.objects.filter(request=request)
    for d in earlier:
        if decision_key(d) != key:
            continue
        if d.step_id == step.pk:
            raise RouteGuardError(
                ALREADY_DECIDED.format(order=step.order, name=step.name), guard="already_decided"
            )
        if d.decision == DecisionKind.APPROVE and decision == DecisionKind.APPROVE:
            raise RouteGuardError(TWO_STEPS, guard="four_eyes", step=d.step_id)
    if step.approver_kind == ApproverKind.MANAGER and covers is None:
        covers = manager_covers(principal, request, run_payee_ids(request.run_id))
    row = ApprovalDecision(
        tenant=get_current_tenant(),
        request=request,
        step=step,
        actor_user_id=principal.user_id,
        actor_api_client_id=principal.api_client_id,
        actor_label=current_actor().label[:200],
        decision=decision,
        comment=comment,
        covers=sorted(covers or []),
        at=timezone.now(),
    )
    if save:
        row.save()
    return row


def final_step_approve(
    *, period: Period, run: CalculationRun, principal: Principal, comment: str = ""
) -> dict[str, Any] | None:
    """Record finance's approval of the last step, inside ``period_approve``.

    Without a pending request (a period put in review before routes existed) nothing is
    recorded and None returned. Otherwise the request must wait on its last step, for this run,
    and this approval must complete it; the request is then approved.
    """
    request = pending_request(period.pk, lock=True)
    if request is None:
        return None
    steps = request_steps(request)
    step = request.current_step
    if step is None or step.pk != steps[-1].pk:
        waiting = step or steps[0]
        raise RouteGuardError(
            STEPS_PENDING.format(order=waiting.order, count=len(steps), name=waiting.name),
            guard="approval_route",
            step=waiting.pk,
            request=request.pk,
        )
    if request.run_id != run.pk:
        raise RouteGuardError(
            RUN_MISMATCH.format(reviewed=request.run.number),
            guard="approval_run",
            run=request.run_id,
        )
    decision = decision_write(
        request=request,
        step=step,
        principal=principal,
        decision=DecisionKind.APPROVE,
        comment=comment,
        save=False,
    )
    progress = step_progress(request, step, extra=decision)
    if not progress.complete:
        raise RouteGuardError(
            STEP_INCOMPLETE.format(
                order=step.order, name=step.name, needed=progress.needed, have=progress.approvals
            ),
            guard="approval_step_incomplete",
            step=step.pk,
        )
    decision.save()
    request.status = ApprovalStatus.APPROVED
    request.current_step = None
    request.decided_at = decision.at
    request.outcome_comment = comment
    request.save(update_fields=["status", "current_step", "decided_at", "outcome_comment"])
    return {
        "approval_request": request.pk,
        "route": request.route.name,
        "step": step.name,
        "decision": decision.pk,
        "comment": comment,
    }
