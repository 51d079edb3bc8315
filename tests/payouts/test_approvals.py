"""Approval routes: a multi-level route walked to the end approves the period and freezes its
statements; a rejection sends it back to calculated; only a step's approver decides it, once;
a manager speaks only for their subtree; reminders e-mail late approvers once per window; every
action writes one audit event; the API reads and decides with the right scopes; another
tenant's requests and routes are 404."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from core import services as core_services
from core.errors import ConflictError, PermissionDeniedError, ValidationFailedError
from core.models import AuditEvent, Role
from core.tenancy import tenant_scope
from hierarchy.models import PeriodStatus
from payouts import approval_routes, approvals, lifecycle
from payouts.approvals import StepSpec
from payouts.models import (
    ApprovalDecision,
    ApprovalReminder,
    ApprovalRequest,
    ApprovalRoute,
    ApprovalStatus,
    ApproverKind,
    PeriodApproval,
    Statement,
)
from tests.payouts.helpers import cast, member, period, succeeded_run

THREE_LEVELS = [
    StepSpec("Manager review", ApproverKind.MANAGER),
    StepSpec("Comp admin review", ApproverKind.COMP_ADMIN),
    StepSpec("Finance approval", ApproverKind.FINANCE),
]


@pytest.fixture
def world(org: Any, plan_a: Any) -> Any:
    """Acme's cast, Sam (manages Sales: Erin, Wes) and Dana (manages the company) as manager
    members, January with a run paying Erin, Wes and Mia."""
    with tenant_scope(org.tenant):
        c = cast(org.tenant)
        sam_user, sam = member(org.tenant, "sam@acme.test", Role.MANAGER)
        dana_user, dana = member(org.tenant, "dana@acme.test", Role.MANAGER)
        org.sam.user, org.dana.user = sam_user, dana_user
        org.sam.save()
        org.dana.save()
        jan = period()
        run = succeeded_run(
            jan,
            plan_a,
            [
                (org.erin, "100.00", "commission"),
                (org.wes, "50.00", "commission"),
                (org.mia, "25.00", "commission"),
            ],
        )
        lifecycle.run_succeeded(run)
        yield org, plan_a, c, {"sam": sam, "dana": dana}, jan, run


def _status(p: Any) -> str:
    p.refresh_from_db()
    return str(p.status)


def _request(p: Any) -> ApprovalRequest:
    return ApprovalRequest.objects.filter(period=p).order_by("-pk").first()  # type: ignore[return-value]


def _three_level_route(c: Any) -> ApprovalRoute:
    return approvals.route_configure(
        principal=c.admin, name="Three levels", steps=THREE_LEVELS, is_default=True
    )


# --- services -----------------------------------------------------------------------------------


def test_a_three_level_route_walked_to_the_end_approves_and_freezes_statements(world: Any) -> None:
    # given a default route manager → comp admin → finance, and January submitted
    org, _plan, c, m, jan, run = world
    _three_level_route(c)
    lifecycle.period_submit_for_review(period_id=jan.pk, principal=c.comp)
    request = _request(jan)
    assert (request.route.name, request.current_step.name) == ("Three levels", "Manager review")
    # finance cannot jump the queue
    with pytest.raises(ConflictError) as early:
        lifecycle.period_approve(period_id=jan.pk, run_id=run.pk, principal=c.finance)
    assert early.value.details["guard"] == "approval_route"
    # when Sam approves, Mia (Marketing) is not yet covered: the step waits for Dana
    approvals.approval_approve(request_id=request.pk, principal=m["sam"], comment="Sales ok")
    request.refresh_from_db()
    assert request.current_step.name == "Manager review"
    progress = approval_routes.step_progress(request, request.current_step)
    assert progress.payees_left == 1 and progress.payees_covered == {org.erin.pk, org.wes.pk}
    approvals.approval_approve(request_id=request.pk, principal=m["dana"])
    request.refresh_from_db()
    assert request.current_step.name == "Comp admin review"
    approvals.approval_approve(request_id=request.pk, principal=c.comp)
    request.refresh_from_db()
    assert request.current_step.name == "Finance approval"
    assert not Statement.objects.filter(period=jan).exists()
    # then finance's approval of the last step approves the period as ever
    approvals.approval_approve(request_id=request.pk, principal=c.finance, comment="Pay it")
    request.refresh_from_db()
    assert request.status == ApprovalStatus.APPROVED and request.current_step is None
    assert _status(jan) == PeriodStatus.APPROVED
    assert PeriodApproval.objects.get(period=jan).run_id == run.pk
    assert Statement.objects.filter(period=jan).count() == 3
    # the route's history is in the audit log: one event per decision
    on_request = AuditEvent.objects.filter(
        object_type="payouts.approvalrequest", object_id=str(request.pk)
    )
    assert list(on_request.order_by("pk").values_list("action", flat=True)) == [
        "approval.approve",
        "approval.approve",
        "approval.approve",
    ]
    approve = AuditEvent.objects.get(action="period.approve", object_id=str(jan.pk))
    assert approve.after["approval_route"]["step"] == "Finance approval"
    assert approve.after["approval_route"]["comment"] == "Pay it"
    submit = AuditEvent.objects.get(action="period.submit", object_id=str(jan.pk))
    assert submit.after["route"] == "Three levels" and submit.after["waits_on"] == "Manager review"
    decisions = ApprovalDecision.objects.filter(request=request).order_by("pk")
    assert [d.comment for d in decisions] == ["Sales ok", "", "", "Pay it"]


def test_a_tenant_without_a_route_follows_the_built_in_one(world: Any) -> None:
    _org, _plan, c, _m, jan, run = world
    lifecycle.period_submit_for_review(period_id=jan.pk, principal=c.finance)
    request = _request(jan)
    assert request.route.is_builtin and request.route.is_default
    steps = approval_routes.request_steps(request)
    assert [(s.name, s.approver_kind) for s in steps] == [
        ("Comp admin review", ApproverKind.COMP_ADMIN),
        ("Finance approval", ApproverKind.FINANCE),
    ]
    approvals.approval_approve(request_id=request.pk, principal=c.comp)
    # the last step may also be approved the old way, on the period (same guards, one event)
    lifecycle.period_approve(period_id=jan.pk, run_id=run.pk, principal=c.finance)
    request.refresh_from_db()
    assert request.status == ApprovalStatus.APPROVED
    assert ApprovalDecision.objects.filter(request=request).count() == 2


def test_reject_sends_the_period_back_to_calculated_with_the_comment(world: Any) -> None:
    _org, _plan, c, _m, jan, _run = world
    lifecycle.period_submit_for_review(period_id=jan.pk, principal=c.comp)
    request = _request(jan)
    with pytest.raises(ValidationFailedError):
        approvals.approval_reject(request_id=request.pk, principal=c.comp, comment="  ")
    approvals.approval_reject(
        request_id=request.pk, principal=c.comp, comment="The Acme split is missing"
    )
    request.refresh_from_db()
    assert (request.status, request.outcome_comment) == (
        ApprovalStatus.REJECTED,
        "The Acme split is missing",
    )
    assert _status(jan) == PeriodStatus.CALCULATED
    event = AuditEvent.objects.get(action="approval.reject")
    assert (event.object_id, event.after["comment"]) == (
        str(request.pk),
        "The Acme split is missing",
    )
    assert event.before["status"] == "in_review" and event.after["status"] == "calculated"
    assert AuditEvent.objects.filter(object_id=str(jan.pk), action="period.submit").count() == 1
    # a decided request takes no more decisions; a new submission opens a new request
    with pytest.raises(ConflictError) as caught:
        approvals.approval_approve(request_id=request.pk, principal=c.comp)
    assert caught.value.details["guard"] == "request_status"
    lifecycle.period_submit_for_review(period_id=jan.pk, principal=c.comp)
    assert _request(jan).pk != request.pk and _request(jan).status == ApprovalStatus.PENDING


def test_withdraw_returns_the_period_for_a_new_run(world: Any) -> None:
    _org, _plan, c, _m, jan, _run = world
    lifecycle.period_submit_for_review(period_id=jan.pk, principal=c.comp)
    request = _request(jan)
    with pytest.raises(PermissionDeniedError):
        approvals.approval_withdraw(request_id=request.pk, principal=c.employee)
    approvals.approval_withdraw(request_id=request.pk, principal=c.comp, comment="late deal")
    assert _status(jan) == PeriodStatus.CALCULATED
    assert AuditEvent.objects.filter(action="approval.withdraw").count() == 1


def test_only_the_steps_approver_decides_it_and_only_once(world: Any) -> None:
    org, _plan, c, m, jan, _run = world
    approvals.route_configure(
        principal=c.comp,
        name="Two comp admins",
        is_default=True,
        steps=[
            StepSpec("Comp admins", ApproverKind.COMP_ADMIN, required_count=2),
            StepSpec("Finance", ApproverKind.FINANCE),
        ],
    )
    lifecycle.period_submit_for_review(period_id=jan.pk, principal=c.comp)
    request = _request(jan)
    for outsider in (c.finance, c.employee, m["sam"]):
        with pytest.raises(PermissionDeniedError) as denied:
            approvals.approval_approve(request_id=request.pk, principal=outsider)
        assert denied.value.code == "not_your_step"
    approvals.approval_approve(request_id=request.pk, principal=c.comp)
    with pytest.raises(ConflictError) as twice:
        approvals.approval_approve(request_id=request.pk, principal=c.comp)
    assert twice.value.details["guard"] == "already_decided"
    # someone who is comp admin and finance approves step 1, then may not approve step 2
    _user, both = member(org.tenant, "both@acme.test", Role.COMP_ADMIN, Role.FINANCE)
    approvals.approval_approve(request_id=request.pk, principal=both)
    request.refresh_from_db()
    assert request.current_step.name == "Finance"
    with pytest.raises(ConflictError) as four_eyes:
        approvals.approval_approve(request_id=request.pk, principal=both)
    assert four_eyes.value.details["guard"] == "four_eyes"
    approvals.approval_approve(request_id=request.pk, principal=c.finance)
    assert _status(jan) == PeriodStatus.APPROVED


def test_a_named_user_step_is_that_users_alone(world: Any) -> None:
    _org, _plan, c, _m, jan, _run = world
    cfo = c.users["finance2"]
    approvals.route_configure(
        principal=c.admin,
        name="CFO",
        is_default=True,
        steps=[StepSpec("CFO sign-off", ApproverKind.USER, user_id=cfo.pk), THREE_LEVELS[2]],
    )
    lifecycle.period_submit_for_review(period_id=jan.pk, principal=c.comp)
    request = _request(jan)
    with pytest.raises(PermissionDeniedError):
        approvals.approval_approve(request_id=request.pk, principal=c.finance)
    approvals.approval_approve(request_id=request.pk, principal=c.finance2)
    approvals.approval_approve(request_id=request.pk, principal=c.finance)
    assert _status(jan) == PeriodStatus.APPROVED


def test_a_manager_approves_only_for_payees_in_their_subtree(world: Any, plan_a: Any) -> None:
    org, _plan, c, m, _jan, _run = world
    approvals.route_configure(
        principal=c.admin, name="Managers", steps=THREE_LEVELS, is_default=True
    )
    # February pays Mia (Marketing) only: Sam (Sales) speaks for nobody on it
    feb = period("Feb 2026", start=dt.date(2026, 2, 1))
    run = succeeded_run(feb, plan_a, [(org.mia, "10.00", "commission")])
    lifecycle.run_succeeded(run)
    lifecycle.period_submit_for_review(period_id=feb.pk, principal=c.comp)
    request = _request(feb)
    with pytest.raises(PermissionDeniedError):
        approvals.approval_approve(request_id=request.pk, principal=m["sam"])
    assert request.pk not in {r.pk for r in approvals.waiting_for(principal=m["sam"])}
    assert request.pk in {r.pk for r in approvals.waiting_for(principal=m["dana"])}
    # Dana speaks for Mia, never for herself
    approvals.approval_approve(request_id=request.pk, principal=m["dana"])
    decision = ApprovalDecision.objects.get(request=request)
    assert decision.covers == [org.mia.pk]
    request.refresh_from_db()
    assert request.current_step.name == "Comp admin review"


def test_a_route_is_validated_and_each_change_audited_once(world: Any) -> None:
    _org, plan, c, _m, jan, _run = world
    with pytest.raises(ValidationFailedError, match="at least one step"):
        approvals.route_configure(principal=c.admin, name="Empty", steps=[])
    with pytest.raises(ValidationFailedError, match="only finance approves money"):
        approvals.route_configure(principal=c.admin, name="No money", steps=THREE_LEVELS[:2])
    with pytest.raises(ValidationFailedError, match="choose who"):
        approvals.route_configure(
            principal=c.admin,
            name="Who",
            steps=[StepSpec("Someone", ApproverKind.USER), THREE_LEVELS[2]],
        )
    with pytest.raises(PermissionDeniedError):
        approvals.route_configure(principal=c.finance, name="Finance", steps=THREE_LEVELS)
    route = approvals.route_configure(
        principal=c.admin, name="Plan A", plan_id=plan.pk, steps=THREE_LEVELS[1:]
    )
    assert not ApprovalRoute.objects.filter(pk=route.pk, is_default=True).exists()
    # the run pays plan A alone: it follows the plan's route
    lifecycle.period_submit_for_review(period_id=jan.pk, principal=c.comp)
    assert _request(jan).route_id == route.pk
    # a route with a pending request keeps its steps; renaming is fine
    with pytest.raises(ConflictError) as in_use:
        approvals.route_configure(
            principal=c.admin, route_id=route.pk, name="Plan A", steps=THREE_LEVELS
        )
    assert in_use.value.details["guard"] == "route_in_use"
    approvals.route_configure(
        principal=c.admin, route_id=route.pk, name="Plan A route", plan_id=plan.pk,
        steps=THREE_LEVELS[1:],
    )  # fmt: skip
    with pytest.raises(ConflictError) as history:
        approvals.route_delete(principal=c.admin, route_id=route.pk)
    assert history.value.details["guard"] == "route_has_history"
    spare = approvals.route_configure(principal=c.comp, name="Spare", steps=THREE_LEVELS[2:])
    approvals.route_delete(principal=c.comp, route_id=spare.pk)
    actions = list(
        AuditEvent.objects.filter(object_type="payouts.approvalroute")
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions == [
        "approval_route.create",
        "approval_route.update",
        "approval_route.create",
        "approval_route.delete",
    ]


def test_editing_a_route_keeps_the_old_steps_for_old_requests(world: Any) -> None:
    _org, _plan, c, _m, jan, _run = world
    route = _three_level_route(c)
    lifecycle.period_submit_for_review(period_id=jan.pk, principal=c.comp)
    request = _request(jan)
    approvals.approval_reject(
        request_id=request.pk, principal=approvals_manager(world), comment="no"
    )
    request.refresh_from_db()
    approvals.route_configure(
        principal=c.admin, route_id=route.pk, name=route.name, is_default=True,
        steps=THREE_LEVELS[2:],
    )  # fmt: skip
    old = approval_routes.request_steps(request)
    assert [s.name for s in old] == ["Manager review", "Comp admin review", "Finance approval"]
    timeline = approvals.request_timeline(request)
    assert [v.state for v in timeline] == ["rejected", "not reached", "not reached"]
    lifecycle.period_submit_for_review(period_id=jan.pk, principal=c.comp)
    assert [s.name for s in approval_routes.request_steps(_request(jan))] == ["Finance approval"]


def approvals_manager(world: Any) -> Any:
    return world[3]["dana"]


# --- reminders ----------------------------------------------------------------------------------


def test_reminders_mail_the_waiting_approvers_once_per_window(world: Any) -> None:
    _org, _plan, c, _m, jan, _run = world
    route = approval_routes.builtin_route()
    route.remind_after_hours = 4
    route.save()
    lifecycle.period_submit_for_review(period_id=jan.pk, principal=c.finance)
    request = _request(jan)
    mail.outbox.clear()
    start = request.step_started_at
    # not late yet
    assert approvals.approval_reminders_send(now=start + dt.timedelta(hours=3)) == 0
    # late: the step's approvers (comp admins: ours and Alice) get one e-mail each
    comp_admins = {c.users["comp"].email, "alice@acme.test"}
    assert approvals.approval_reminders_send(now=start + dt.timedelta(hours=5)) == 2
    assert {m.to[0] for m in mail.outbox} == comp_admins
    assert "Comp admin review" in mail.outbox[0].subject
    assert f"/approvals/{request.pk}/" in mail.outbox[0].body
    # within the window nothing repeats; after it, once more
    assert approvals.approval_reminders_send(now=start + dt.timedelta(hours=8)) == 0
    assert approvals.approval_reminders_send(now=start + dt.timedelta(hours=10)) == 2
    assert ApprovalReminder.objects.filter(request=request).count() == 4
    assert AuditEvent.objects.filter(action="approval.remind").count() == 2
    # the step done, finance is next; its clock starts again
    approvals.approval_approve(request_id=request.pk, principal=c.comp)
    request.refresh_from_db()
    later = request.step_started_at + dt.timedelta(hours=5)
    mail.outbox.clear()
    finance = {c.users[n].email for n in ("finance", "finance2", "admin")} | {"alice@acme.test"}
    assert approvals.approval_reminders_send(now=later) == len(finance)
    assert {m.to[0] for m in mail.outbox} == finance


def test_the_beat_task_starts_each_tenants_reminders(
    world: Any, django_capture_on_commit_callbacks: Any
) -> None:
    import time_machine

    from payouts.tasks import approval_remind_sweep_task

    _org, _plan, c, _m, jan, _run = world
    lifecycle.period_submit_for_review(period_id=jan.pk, principal=c.comp)
    mail.outbox.clear()
    with (
        time_machine.travel(timezone.now() + dt.timedelta(hours=25)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        approval_remind_sweep_task.apply()
    assert {m.to[0] for m in mail.outbox} == {c.users["comp"].email, "alice@acme.test"}


# --- API ----------------------------------------------------------------------------------------


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _post(client: Client, url: str, body: dict[str, Any] | None = None, **extra: Any) -> Any:
    return client.post(url, data=json.dumps(body or {}), content_type="application/json", **extra)


@pytest.mark.covers_url(
    "api-approval-list", "api-approval-detail", "api-approval-approve", "api-approval-reject"
)
def test_the_api_reads_and_decides_with_the_right_scopes(world: Any, client_charlie: Any) -> None:
    org, _plan, c, _m, jan, run = world
    with tenant_scope(org.tenant):
        lifecycle.period_submit_for_review(period_id=jan.pk, principal=c.comp)
        request = _request(jan)
        reader = core_services.api_client_create(
            name="reader", scopes=["read:payouts"], created_by_id=None
        )
        writer = core_services.api_client_create(
            name="payroll", scopes=["write:payouts"], created_by_id=None
        )
    comp, fin, emp = (
        _client(c.users["comp"]),
        _client(c.users["finance"]),
        _client(c.users["employee"]),
    )
    read_auth = {"HTTP_AUTHORIZATION": f"Bearer {reader.token}"}
    write_auth = {"HTTP_AUTHORIZATION": f"Bearer {writer.token}"}
    listed = Client().get("/api/v1/approvals/?status=pending", **read_auth)
    assert listed.status_code == 200 and [r["id"] for r in listed.json()["results"]] == [request.pk]
    assert Client().get("/api/v1/approvals/?status=maybe", **read_auth).status_code == 400
    detail = fin.get(f"/api/v1/approvals/{request.pk}/").json()
    assert [s["state"] for s in detail["steps"]] == ["current", "waiting"]
    assert detail["steps"][0]["approver"] == "a comp admin"
    # an employee decides nothing and sees nothing
    assert emp.get(f"/api/v1/approvals/{request.pk}/").status_code == 404
    assert _post(emp, f"/api/v1/approvals/{request.pk}/approve/").status_code == 404
    # finance may read it but the step is the comp admin's: 403, named
    denied = _post(fin, f"/api/v1/approvals/{request.pk}/approve/")
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "not_your_step"
    # rejecting needs a comment
    missing = _post(comp, f"/api/v1/approvals/{request.pk}/reject/", {})
    assert missing.status_code == 400 and "comment" in missing.json()["error"]["details"]
    ok = _post(comp, f"/api/v1/approvals/{request.pk}/approve/", {"comment": "fine"})
    assert ok.status_code == 200 and ok.json()["steps"][0]["state"] == "done"
    assert ok.json()["steps"][0]["decisions"][0]["comment"] == "fine"
    # a read:payouts client may not decide; a write:payouts client decides finance's step
    read_only = _post(Client(), f"/api/v1/approvals/{request.pk}/approve/", **read_auth)
    assert read_only.status_code == 403
    with tenant_scope(org.tenant):
        before = AuditEvent.objects.count()
    done = _post(
        Client(),
        f"/api/v1/approvals/{request.pk}/approve/",
        {"comment": "paid by payroll"},
        HTTP_IDEMPOTENCY_KEY="approve-jan",
        **write_auth,
    )
    assert done.status_code == 200 and done.json()["status"] == "approved"
    with tenant_scope(org.tenant):
        actions = list(AuditEvent.objects.order_by("pk").values_list("action", flat=True))
        # exactly what finance's approval on the period writes: one period.approve event (the
        # statements' freeze inside it); the last step's decision adds none of its own
        assert actions[before:] == ["period.approve"], actions[before:]
        assert _status(jan) == PeriodStatus.APPROVED
        assert PeriodApproval.objects.get(period=jan).run_id == run.pk
    # another tenant: 404 on every URL, and not in its list
    for url in (f"/api/v1/approvals/{request.pk}/",):
        assert client_charlie.get(url).status_code == 404
    for suffix, body in (("approve/", {}), ("reject/", {"comment": "x"})):
        response = _post(client_charlie, f"/api/v1/approvals/{request.pk}/{suffix}", body)
        assert response.status_code == 404
    assert request.pk not in {
        r["id"] for r in client_charlie.get("/api/v1/approvals/").json()["results"]
    }


def test_rejecting_through_the_api_returns_the_period(world: Any) -> None:
    org, _plan, c, _m, jan, _run = world
    with tenant_scope(org.tenant):
        lifecycle.period_submit_for_review(period_id=jan.pk, principal=c.comp)
        request = _request(jan)
    comp = _client(c.users["comp"])
    response = _post(comp, f"/api/v1/approvals/{request.pk}/reject/", {"comment": "wrong FX"})
    assert response.status_code == 200 and response.json()["status"] == "rejected"
    assert response.json()["outcome_comment"] == "wrong FX"
    with tenant_scope(org.tenant):
        assert _status(jan) == PeriodStatus.CALCULATED


@pytest.mark.covers_url("api-approval-route-list", "api-approval-route-detail")
def test_routes_are_created_edited_and_deleted_through_the_api(
    world: Any, client_charlie: Any
) -> None:
    org, plan, c, _m, _jan, _run = world
    admin, fin = _client(c.users["admin"]), _client(c.users["finance"])
    body = {
        "name": "Three levels",
        "is_default": True,
        "steps": [
            {"name": "Manager review", "approver_kind": "manager"},
            {"name": "Finance approval", "approver_kind": "finance"},
        ],
    }
    bad = _post(admin, "/api/v1/approval-routes/", {**body, "steps": body["steps"][:1]})
    assert bad.status_code == 400 and "finance" in bad.json()["error"]["message"]
    assert _post(fin, "/api/v1/approval-routes/", body).status_code == 403  # finance reads only
    created = _post(admin, "/api/v1/approval-routes/", body)
    assert created.status_code == 201, created.content
    route_id = created.json()["id"]
    assert [s["name"] for s in created.json()["steps"]] == ["Manager review", "Finance approval"]
    assert fin.get("/api/v1/approval-routes/").json()["count"] == 1
    replaced = admin.put(
        f"/api/v1/approval-routes/{route_id}/",
        data=json.dumps({**body, "plan": plan.pk, "steps": body["steps"][1:]}),
        content_type="application/json",
    )
    assert replaced.status_code == 200 and replaced.json()["plan"] == plan.pk
    assert [s["order"] for s in replaced.json()["steps"]] == [1]
    # another tenant: 404 on read, replace and delete, and absent from its list
    url = f"/api/v1/approval-routes/{route_id}/"
    assert client_charlie.get(url).status_code == 404
    assert (
        client_charlie.put(url, data=json.dumps(body), content_type="application/json").status_code
        == 404
    )
    assert client_charlie.delete(url).status_code == 404
    assert client_charlie.get("/api/v1/approval-routes/").json()["count"] == 0
    assert admin.delete(url).status_code == 204
    with tenant_scope(org.tenant):
        assert not ApprovalRoute.objects.filter(pk=route_id).exists()
        assert AuditEvent.objects.filter(action="approval_route.delete").count() == 1
