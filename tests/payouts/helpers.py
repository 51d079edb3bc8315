"""Helpers for the lifecycle and ledger tests: members by role, a succeeded run with lines."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils import timezone

from core.models import Membership, Role
from core.permissions import Principal, principal_for_membership
from core.tenancy import get_current_tenant
from hierarchy.models import Period, PeriodStatus
from payouts import lifecycle
from payouts.models import CalculationRun, PayoutLine, RunKind, RunStatus
from tests.factories.hierarchy import MembershipFactory, UserFactory

D = dt.date


@dataclass
class Cast:
    comp: Principal
    finance: Principal
    finance2: Principal
    admin: Principal
    employee: Principal
    users: dict[str, Any]


def member(tenant: Any, email: str, *roles: str) -> tuple[Any, Principal]:
    user = UserFactory(email=email)
    membership: Membership = MembershipFactory(user=user, tenant=tenant, roles=list(roles))
    return user, principal_for_membership(membership)


def cast(tenant: Any) -> Cast:
    users: dict[str, Any] = {}
    out: dict[str, Principal] = {}
    for name, role in (
        ("comp", Role.COMP_ADMIN),
        ("finance", Role.FINANCE),
        ("finance2", Role.FINANCE),
        ("admin", Role.TENANT_ADMIN),
        ("employee", Role.EMPLOYEE),
    ):
        users[name], out[name] = member(tenant, f"{name}@{tenant.slug}.test", role)
    return Cast(users=users, **out)


JAN = D(2026, 1, 1)


def period(label: str = "Jan 2026", start: dt.date = JAN, **kw: Any) -> Period:
    end = kw.pop("end", D(start.year + (start.month == 12), start.month % 12 + 1, 1))
    return Period.objects.create(
        kind=kw.pop("kind", "monthly"), fiscal_year=start.year, start=start, end=end, label=label
    )


def running_period(label: str, *, days_left: int) -> Period:
    """A period begun this month (the tenant's day) whose last day is ``days_left - 1`` days
    ahead: still running, so approving or closing it is an early step."""
    from hierarchy.periods import tenant_today

    today = tenant_today(get_current_tenant())
    return period(label, start=today.replace(day=1), end=today + dt.timedelta(days=days_left))


def succeeded_run(
    p: Period,
    plan: Any,
    lines: list[tuple[Any, str, str]] = (),  # type: ignore[assignment]
    *,
    kind: str = RunKind.FULL,
    trace: list[Any] | None = None,
) -> CalculationRun:
    """Create a run of ``p`` with ``lines`` = [(person, amount, line kind)], then succeed it."""
    now = timezone.now()
    number = CalculationRun.objects.filter(period=p).count() + 1
    run = CalculationRun.objects.create(
        period=p, number=number, kind=kind, status=RunStatus.RUNNING, known_at=now, created_at=now
    )
    version = plan.versions.order_by("number").first() if plan is not None else None
    for person, amount, line_kind in lines:
        PayoutLine.objects.create(
            run=run,
            period=p,
            person=person,
            plan=plan,
            plan_version=version,
            component_id="draw" if line_kind.startswith("draw") else "commission",
            kind=line_kind,
            amount=Decimal(amount),
            currency="USD",
            measure=Decimal("10000") if line_kind == "commission" else None,
            trace=trace or [],
        )
    CalculationRun.objects.filter(pk=run.pk).update(
        status=RunStatus.SUCCEEDED, line_count=len(lines)
    )
    run.refresh_from_db()
    return run


def walk_to(
    p: Period, status: str, c: Cast, plan: Any, lines: Any = (), *, early: bool = False
) -> CalculationRun:
    """Walk ``p`` through the services to ``status``; return the run it was calculated with
    (``early``: approve a period whose last day is still to come)."""
    run = succeeded_run(p, plan, list(lines))
    lifecycle.run_succeeded(run)
    if status == PeriodStatus.CALCULATED:
        return run
    lifecycle.period_submit_for_review(period_id=p.pk, principal=c.comp)
    if status == PeriodStatus.IN_REVIEW:
        return run
    review_steps(p)
    lifecycle.period_approve(period_id=p.pk, run_id=run.pk, principal=c.finance, early=early)
    if status == PeriodStatus.APPROVED:
        return run
    lifecycle.period_close(period_id=p.pk, principal=c.finance, data_lock_date=p.end)
    return run


# An API client with write:payouts: finance's permissions, no user (who closes in other tests).
FINANCE_CLIENT = Principal(permissions=frozenset({"payouts.view", "payouts.approve"}))


def close_through_lifecycle(p: Period, *, lock: dt.date | None = None) -> Period:
    """Close ``p`` the only way there is: a succeeded full run (no lines), then every service."""
    run = succeeded_run(p, None)
    lifecycle.run_succeeded(run)
    lifecycle.period_submit_for_review(period_id=p.pk, principal=FINANCE_CLIENT)
    review_steps(p)
    lifecycle.period_approve(period_id=p.pk, run_id=run.pk, principal=FINANCE_CLIENT)
    lifecycle.period_close(period_id=p.pk, principal=FINANCE_CLIENT, data_lock_date=lock)
    p.refresh_from_db()
    return p


def review_steps(p: Period, *, by: Principal | None = None) -> None:
    """Approve the steps of ``p``'s pending approval request that come before its last (finance)
    one, each as a member who may (the built-in route: a comp admin, created here if the tenant
    has none), so a test can then approve the period as finance, as it always did.

    ``by`` decides every such step instead (e.g. a second comp admin, when the member who will
    approve as finance also holds comp admin and four eyes would refuse them the last step)."""
    from core.tenancy import get_current_tenant
    from payouts import approval_routes, approvals

    tenant = get_current_tenant()
    while (request := approval_routes.pending_request(p.pk)) is not None:
        step = request.current_step
        steps = approval_routes.request_steps(request)
        if step is None or step.pk == steps[-1].pk:
            return
        if by is not None:
            approvals.approval_approve(request_id=request.pk, principal=by, comment="Reviewed.")
            continue
        members = Membership.objects.filter(tenant=tenant, is_active=True).order_by("pk")
        decider = next(
            (
                principal_for_membership(m)
                for m in members
                if approval_routes.eligible(step, principal_for_membership(m), request)
                and not approvals.ApprovalDecision.objects.filter(
                    request=request, actor_user_id=m.user_id
                ).exists()
            ),
            None,
        )
        if decider is None:
            _user, decider = member(
                tenant, f"reviewer-{step.pk}@{tenant.slug}.test", Role.COMP_ADMIN
            )
        approvals.approval_approve(request_id=request.pk, principal=decider, comment="Reviewed.")
