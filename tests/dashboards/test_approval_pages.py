"""The approvals pages: the home card and the queue of what waits for each approver, a request's
timeline with approve / reject, the route editor; other tenants' and strangers' 404."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from core.models import Role
from core.tenancy import tenant_scope
from hierarchy.models import PeriodStatus
from payouts import lifecycle
from payouts.models import ApprovalRequest, ApprovalRoute, ApprovalStatus, Statement
from tests.payouts.helpers import cast, member, period, succeeded_run


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def world(org: Any, plan_a: Any) -> Any:
    with tenant_scope(org.tenant):
        c = cast(org.tenant)
        sam_user, _sam = member(org.tenant, "sam@acme.test", Role.MANAGER)
        org.sam.user = sam_user
        org.sam.save()
        jan = period()
        run = succeeded_run(
            jan, plan_a, [(org.erin, "100.00", "commission"), (org.wes, "50.00", "commission")]
        )
        lifecycle.run_succeeded(run)
        yield org, c, sam_user, jan


@pytest.mark.covers_url("approvals", "approval_detail", "approval_decide")
def test_each_approver_finds_the_step_that_waits_for_them_and_decides_it(
    world: Any, client_charlie: Any
) -> None:
    org, c, _sam, jan = world
    with tenant_scope(org.tenant):
        lifecycle.period_submit_for_review(period_id=jan.pk, principal=c.comp)
        request = ApprovalRequest.objects.get(period=jan)
    comp, fin = _client(c.users["comp"]), _client(c.users["finance"])
    # the comp admin's home and queue list it; finance's do not (not their step yet)
    home = comp.get("/").content.decode()
    assert 'id="home-approvals"' in home and "Comp admin review" in home
    assert "Nothing waits for your approval" in fin.get("/").content.decode()
    queue = comp.get("/approvals/").content.decode()
    assert "Jan 2026" in queue.split('id="all-requests"')[0]
    assert "Nothing waits for you" in fin.get("/approvals/").content.decode()
    # the timeline: step 1 waiting now, step 2 waiting
    detail = fin.get(f"/approvals/{request.pk}/").content.decode()
    assert "waiting now" in detail and "Finance approval" in detail and 'id="decide"' not in detail
    # finance trying the comp admin's step is refused with a message, nothing moves
    refused = fin.post(f"/approvals/{request.pk}/approve/", {"comment": ""}, follow=True)
    assert "decided by a comp admin" in refused.content.decode()
    # the comp admin approves with a comment, from the queue
    done = comp.post(
        f"/approvals/{request.pk}/approve/", {"comment": "Top deals checked", "next": "queue"}
    )
    assert done.status_code == 302 and done.url == "/approvals/"
    page = fin.get(f"/approvals/{request.pk}/").content.decode()
    assert "Top deals checked" in page and 'id="decide"' in page and "Approve the period" in page
    assert "Finance approval" in fin.get("/").content.decode()
    # finance approves the last step: the period is approved and its statements frozen
    fin.post(f"/approvals/{request.pk}/approve/", {"comment": "Pay"})
    with tenant_scope(org.tenant):
        jan.refresh_from_db()
        assert jan.status == PeriodStatus.APPROVED
        assert Statement.objects.filter(period=jan).count() == 2
    # the employee and another tenant see nothing
    employee = _client(c.users["employee"])
    assert employee.get(f"/approvals/{request.pk}/").status_code == 404
    assert client_charlie.get(f"/approvals/{request.pk}/").status_code == 404
    assert (
        client_charlie.post(f"/approvals/{request.pk}/reject/", {"comment": "x"}).status_code == 404
    )
    assert "Jan 2026" not in client_charlie.get("/approvals/").content.decode()
    assert comp.post(f"/approvals/{request.pk}/explode/").status_code == 404


def test_a_rejection_needs_a_comment_and_sends_the_period_back(world: Any) -> None:
    org, c, _sam, jan = world
    with tenant_scope(org.tenant):
        lifecycle.period_submit_for_review(period_id=jan.pk, principal=c.comp)
        request = ApprovalRequest.objects.get(period=jan)
    comp = _client(c.users["comp"])
    empty = comp.post(f"/approvals/{request.pk}/reject/", {"comment": " "}, follow=True)
    assert "Say why" in empty.content.decode()
    comp.post(f"/approvals/{request.pk}/reject/", {"comment": "Wrong split"})
    with tenant_scope(org.tenant):
        request.refresh_from_db()
        jan.refresh_from_db()
        assert (request.status, jan.status) == (ApprovalStatus.REJECTED, PeriodStatus.CALCULATED)
    page = comp.get(f"/approvals/{request.pk}/").content.decode()
    assert "Wrong split" in page and "rejected" in page
    checklist = comp.get(f"/periods/{jan.pk}/close/").content.decode()
    assert "Submit for review" in checklist


def test_a_manager_sees_only_requests_with_their_team(world: Any) -> None:
    org, c, sam, jan = world
    with tenant_scope(org.tenant):
        from payouts import approvals
        from payouts.approvals import StepSpec
        from payouts.models import ApproverKind

        approvals.route_configure(
            principal=c.admin,
            name="Managers first",
            is_default=True,
            steps=[
                StepSpec("Manager review", ApproverKind.MANAGER),
                StepSpec("Finance approval", ApproverKind.FINANCE),
            ],
        )
        lifecycle.period_submit_for_review(period_id=jan.pk, principal=c.comp)
        request = ApprovalRequest.objects.get(period=jan)
    manager = _client(sam)
    assert "Manager review" in manager.get("/").content.decode()
    assert manager.get(f"/approvals/{request.pk}/").status_code == 200
    manager.post(f"/approvals/{request.pk}/approve/", {"comment": "My team is right"})
    with tenant_scope(org.tenant):
        request.refresh_from_db()
        assert request.current_step.name == "Finance approval"
    # a manager of nobody on the run sees nothing
    with tenant_scope(org.tenant):
        other, _ = member(org.tenant, "nobody@acme.test", Role.MANAGER)
    assert _client(other).get(f"/approvals/{request.pk}/").status_code == 404


@pytest.mark.covers_url("approval_routes", "approval_route_edit", "approval_route_delete")
def test_comp_admins_edit_routes_on_the_route_editor(world: Any, client_charlie: Any) -> None:
    org, c, _sam, _jan = world
    comp = _client(c.users["comp"])
    page = comp.get("/approvals/routes/").content.decode()
    assert "No routes configured" in page and "Built-in: comp admin" in page
    # finance and employees have no route editor
    assert _client(c.users["finance"]).get("/approvals/routes/").status_code == 404
    body = {
        "name": "Sales route",
        "is_default": "on",
        "remind_after_hours": "12",
        "step-1-name": "Manager review",
        "step-1-kind": "manager",
        "step-1-count": "1",
        "step-2-name": "Comp admin review",
        "step-2-kind": "comp_admin",
        "step-2-count": "1",
    }
    refused = comp.post("/approvals/routes/", body, follow=True).content.decode()
    assert "only finance approves money" in refused
    body.update({"step-3-name": "Finance approval", "step-3-kind": "finance", "step-3-count": "1"})
    assert comp.post("/approvals/routes/", body).status_code == 302
    with tenant_scope(org.tenant):
        route = ApprovalRoute.objects.get(name="Sales route")
        assert route.is_default and route.remind_after_hours == 12
    listed = comp.get("/approvals/routes/").content.decode()
    assert "Sales route" in listed and "Manager review" in listed
    edit = comp.get(f"/approvals/routes/{route.pk}/").content.decode()
    assert 'value="Comp admin review"' in edit
    body.update({"name": "Sales route v2", "step-2-name": ""})
    assert comp.post(f"/approvals/routes/{route.pk}/", body).status_code == 302
    with tenant_scope(org.tenant):
        route.refresh_from_db()
        assert route.name == "Sales route v2"
    # another tenant: 404 on the editor and on delete
    assert client_charlie.get(f"/approvals/routes/{route.pk}/").status_code == 404
    assert client_charlie.post(f"/approvals/routes/{route.pk}/").status_code == 404
    assert client_charlie.post(f"/approvals/routes/{route.pk}/delete/").status_code == 404
    assert comp.post(f"/approvals/routes/{route.pk}/delete/").status_code == 302
    with tenant_scope(org.tenant):
        assert not ApprovalRoute.objects.filter(pk=route.pk).exists()
