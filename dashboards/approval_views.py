"""The approvals pages: the queue of what waits for the signed-in member, one request's steps as
a timeline with approve / reject / withdraw, and the route editor (comp admins, tenant admins).

They call the services and selectors of ``payouts/approvals.py``, as the API does. Any member may
open the queue (a named-user step may name anyone); a request the member may not read is the
404 page, as another tenant's is. A refused guard is shown as a message.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from core.errors import ApplicationError, NotFoundError
from core.permissions import Principal, request_principal
from core.tenancy import get_current_tenant
from hierarchy.models import HierarchyKind, Node
from hierarchy.periods import tenant_today
from payouts import approvals
from payouts.approval_routes import BUILTIN_NAME, active_steps, request_steps
from payouts.models import ApprovalStatus, ApproverKind
from payouts.policy import may_submit
from plans.models import Plan

QUEUE_SHOWN = 100
BLANK_STEP_ROWS = 3
ViewFunc = Callable[..., HttpResponse]


def member_required(view: ViewFunc) -> ViewFunc:
    """Allow a view to any member of the current tenant (others get a 404)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if getattr(request, "membership", None) is None:
            raise Http404("Not found")
        try:
            return view(request, *args, **kwargs)
        except NotFoundError:
            raise Http404("Not found") from None

    return login_required(wrapped)


def _principal(request: HttpRequest) -> Principal:
    return request_principal(request)


def _run(request: HttpRequest, action: Callable[[], Any], ok: str) -> bool:
    try:
        action()
    except ApplicationError as exc:
        if exc.code == "not_found":
            raise Http404("Not found") from None
        messages.error(request, exc.message)
        return False
    messages.success(request, ok)
    return True


@member_required
def approval_queue(request: HttpRequest) -> HttpResponse:
    """What waits for this member, then every request it may read (filtered by status)."""
    principal = _principal(request)
    status = request.GET.get("status") or ""
    if status not in ApprovalStatus.values:
        status = ""
    rows = approvals.request_list(principal=principal)
    if status:
        rows = rows.filter(status=status)
    return render(
        request,
        "dashboards/approvals/queue.html",
        {
            "active_nav": "approvals",
            "waiting": approvals.waiting_for(principal=principal),
            "requests": list(rows[:QUEUE_SHOWN]),
            "shown": QUEUE_SHOWN,
            "status": status,
            "statuses": ApprovalStatus.choices,
            "may_configure": approvals.may_configure(principal),
        },
    )


@member_required
def approval_detail(request: HttpRequest, request_id: int) -> HttpResponse:
    """One request: its steps as a timeline, and the decision forms for whoever decides now."""
    principal = _principal(request)
    item = approvals.request_get(principal=principal, request_id=request_id)
    waiting_ids = {r.pk for r in approvals.waiting_for(principal=principal)}
    return render(
        request,
        "dashboards/approvals/detail.html",
        {
            "active_nav": "approvals",
            "item": item,
            "timeline": approvals.request_timeline(item),
            "step_count": len(request_steps(item)),
            # the period's last day is still to come: the last step approves it early
            "still_running": tenant_today(get_current_tenant()) < item.period.end,
            "may_decide": item.pk in waiting_ids,
            "may_withdraw": item.status == ApprovalStatus.PENDING and may_submit(principal),
        },
    )


DECISIONS = {
    "approve": "Approved.",
    "reject": "Rejected: the period is back to calculated, with your comment.",
    "withdraw": "Withdrawn: the period is back to calculated.",
}


@require_POST
@member_required
def approval_decide(request: HttpRequest, request_id: int, decision: str) -> HttpResponse:
    """Approve, reject (a comment is required) or withdraw a request."""
    principal = _principal(request)
    item = approvals.request_get(principal=principal, request_id=request_id)
    if decision not in DECISIONS:
        raise Http404("Not found")
    comment = request.POST.get("comment", "")
    calls: dict[str, Callable[[], Any]] = {
        "approve": lambda: approvals.approval_approve(
            request_id=item.pk,
            principal=principal,
            comment=comment,
            early=request.POST.get("early") == "1",
        ),
        "reject": lambda: approvals.approval_reject(
            request_id=item.pk, principal=principal, comment=comment
        ),
        "withdraw": lambda: approvals.approval_withdraw(
            request_id=item.pk, principal=principal, comment=comment
        ),
    }
    _run(request, calls[decision], DECISIONS[decision])
    if request.POST.get("next") == "queue":
        return redirect("approvals")
    return redirect("approval_detail", request_id=item.pk)


# --- the route editor ----------------------------------------------------------------------------


def _require_configure(request: HttpRequest) -> Principal:
    principal = _principal(request)
    if not approvals.may_configure(principal):
        raise Http404("Not found")
    return principal


def _editor_context(route: Any, rows: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    if rows is None:
        rows = [
            {
                "name": s.name,
                "kind": s.approver_kind,
                "user": s.user_id,
                "count": s.required_count,
            }
            for s in (active_steps(route) if route is not None else [])
        ]
        if route is None:
            rows = [
                {"name": "Comp admin review", "kind": ApproverKind.COMP_ADMIN, "user": None,
                 "count": 1},
                {"name": "Finance approval", "kind": ApproverKind.FINANCE, "user": None,
                 "count": 1},
            ]  # fmt: skip
    rows = rows + [{"name": "", "kind": "", "user": None, "count": 1}] * BLANK_STEP_ROWS
    return {
        "route": route,
        "rows": [{"n": n, **row} for n, row in enumerate(rows[: approvals.MAX_STEPS], start=1)],
        "kinds": ApproverKind.choices,
        "users": approvals.user_choices(),
        "plans": list(Plan.objects.order_by("name").values_list("pk", "name")),
        "units": list(
            Node.objects.filter(hierarchy__kind=HierarchyKind.BUSINESS_UNIT)
            .order_by("name")
            .values_list("pk", "name")
        ),
    }


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _posted_route(request: HttpRequest) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    post = request.POST
    rows: list[dict[str, Any]] = []
    for n in range(1, approvals.MAX_STEPS + 1):
        name = post.get(f"step-{n}-name", "").strip()
        if not name:
            continue
        rows.append(
            {
                "name": name,
                "kind": post.get(f"step-{n}-kind", ""),
                "user": _int_or_none(post.get(f"step-{n}-user")),
                "count": _int_or_none(post.get(f"step-{n}-count")) or 1,
            }
        )
    fields = {
        "name": post.get("name", ""),
        "plan_id": _int_or_none(post.get("plan")),
        "business_unit_id": _int_or_none(post.get("business_unit")),
        "is_default": post.get("is_default") == "on",
        "remind_after_hours": _int_or_none(post.get("remind_after_hours")) or 0,
    }
    return fields, rows


def _save_route(request: HttpRequest, principal: Principal, route_id: int | None) -> Any:
    fields, rows = _posted_route(request)
    steps = [
        approvals.StepSpec(
            name=r["name"], approver_kind=r["kind"], user_id=r["user"], required_count=r["count"]
        )
        for r in rows
    ]
    try:
        return approvals.route_configure(
            principal=principal, route_id=route_id, steps=steps, **fields
        ), rows
    except ApplicationError as exc:
        if exc.code == "not_found":
            raise Http404("Not found") from None
        messages.error(request, exc.message)
        return None, rows


@member_required
def approval_routes(request: HttpRequest) -> HttpResponse:
    """Every route of the tenant with its steps; POST creates one."""
    principal = _require_configure(request)
    rows = None
    if request.method == "POST":
        route, rows = _save_route(request, principal, None)
        if route is not None:
            messages.success(request, f"Route {route.name} created.")
            return redirect("approval_routes")
    routes = list(approvals.route_list())
    return render(
        request,
        "dashboards/approvals/routes.html",
        {
            "active_nav": "approval_routes",
            "routes": [(r, active_steps(r)) for r in routes],
            "has_default": any(r.is_default for r in routes),
            "builtin_name": BUILTIN_NAME,
            **_editor_context(None, rows),
        },
    )


@member_required
def approval_route_edit(request: HttpRequest, route_id: int) -> HttpResponse:
    """Edit one route (its steps replaced; the old ones stay as history)."""
    principal = _require_configure(request)
    route = approvals.route_get(route_id=route_id)
    rows = None
    if request.method == "POST":
        saved, rows = _save_route(request, principal, route.pk)
        if saved is not None:
            messages.success(request, f"Route {saved.name} saved.")
            return redirect("approval_routes")
    return render(
        request,
        "dashboards/approvals/route_edit.html",
        {"active_nav": "approval_routes", **_editor_context(route, rows)},
    )


@require_POST
@member_required
def approval_route_delete(request: HttpRequest, route_id: int) -> HttpResponse:
    """Delete a route no request has followed."""
    principal = _require_configure(request)
    route = approvals.route_get(route_id=route_id)
    if _run(
        request,
        lambda: approvals.route_delete(principal=principal, route_id=route.pk),
        f"Route {route.name} deleted.",
    ):
        return redirect("approval_routes")
    return redirect("approval_route_edit", route_id=route.pk)
