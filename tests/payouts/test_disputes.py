"""Disputes: a payee questions a line, a step of its trace, a credit or a missing deal; the
question is routed (to her manager as of the period, or to the comp admins), ages against its
SLA, and is resolved (with an adjustment that, once approved, is on her next statement, linked
both ways), rejected or withdrawn; one audit event per action; the API; other tenants' 404."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from functools import partial
from typing import Any

import pytest
from django.test import Client

from core import services as core_services
from core.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ValidationFailedError,
)
from core.models import AuditEvent, Membership, Role
from core.permissions import principal_for_membership
from core.tenancy import tenant_scope
from hierarchy import people
from hierarchy.access import access_for
from incentives.models import Credit
from payouts import disputes, ledger, statements
from payouts.disputes import AdjustmentAsk, Subject
from payouts.models import (
    AdjustmentStatus,
    Dispute,
    DisputeEvent,
    DisputeQueue,
    DisputeStatus,
    DisputeSubject,
    EntryKind,
)
from payouts.selectors import period_checklists
from tests.payouts.helpers import cast
from tests.payouts.written_runs import approve, link_user, write_line, write_run
from tests.tenancy import assert_list_omits, assert_not_found

pytestmark = pytest.mark.django_db
D = dt.date


def _access(tenant: Any, user: Any) -> Any:
    membership = Membership.objects.get(tenant=tenant, user=user)
    return access_for(principal_for_membership(membership))


def _audits(action: str) -> int:
    return AuditEvent.objects.filter(action=action).count()


@pytest.fixture
def world(org: Any, written: Any, plan_a: Any) -> Any:
    """Written's Q1 (Erin, Wes, Mia paid; Sam manages Sales) plus a comp admin and finance."""
    with tenant_scope(org.tenant):
        c = cast(org.tenant)
        yield org, written, plan_a, c


def _raise_line(tenant: Any, user: Any, line: Any, **kw: Any) -> Dispute:
    return disputes.dispute_raise(
        access=_access(tenant, user),
        subject=Subject(kind=kw.pop("kind", DisputeSubject.LINE), line_id=line.pk, **kw),
        reason_code="rate_tier",
        description="I passed 100 %; I expected the accelerated rate.",
    )


# --- raising and routing ------------------------------------------------------------------------


def test_a_payee_questions_her_line_and_it_goes_to_the_comp_admins(world):
    org, written, _plan, _c = world
    erin = written.users["erin"]
    line = written.lines[("erin", "commission")]
    # when
    d = _raise_line(org.tenant, erin, line)
    # then
    assert (d.subject_kind, d.line_id, d.person_id, d.period_id) == (
        "line",
        line.pk,
        org.erin.pk,
        written.q1.pk,
    )
    assert (d.queue, d.assignee_id, d.status) == (DisputeQueue.COMP_ADMIN, None, "open")
    assert d.ref == "Q-1" and d.raised_by_id == erin.pk
    assert d.sla_due == disputes.add_business_days(d.raised_at.date(), 5)
    assert _audits("dispute.raise") == 1
    assert list(DisputeEvent.objects.values_list("kind", flat=True)) == ["raised"]


def test_a_payee_questions_one_step_of_a_lines_trace(world):
    org, written, _plan, _c = world
    line = written.lines[("erin", "commission")]
    d = _raise_line(org.tenant, written.users["erin"], line, kind=DisputeSubject.STEP, trace_step=0)
    assert d.trace_step == 0 and d.trace_step_snapshot == line.trace[0]
    with pytest.raises(ValidationFailedError) as refused:
        _raise_line(org.tenant, written.users["erin"], line, kind=DisputeSubject.STEP, trace_step=7)
    assert "trace_step" in refused.value.details
    assert Dispute.objects.count() == 1  # nothing half-written


def test_a_credit_question_goes_to_the_payees_manager(world):
    org, written, _plan, _c = world
    credit = Credit.objects.get(transaction__external_id="D-1")
    d = disputes.dispute_raise(
        access=_access(org.tenant, written.users["erin"]),
        subject=Subject(kind=DisputeSubject.CREDIT, credit_id=credit.pk),
        reason_code="credit_split",
        description="We agreed a 70/30 split on Initech.",
    )
    assert (d.queue, d.assignee_id, d.assignee_person_id) == (
        DisputeQueue.MANAGER,
        written.users["sam"].pk,
        org.sam.pk,
    )
    assert d.credit_id == credit.pk and d.period_id == written.q1.pk


def test_a_missing_deal_goes_to_the_manager_as_of_the_period(world):
    org, written, _plan, _c = world
    # given: Erin moves to Marketing from Q2, which Max manages from then
    east = org.erin.assignments.known_now().get()
    people.assignment_update(assignment_id=east.pk, valid_to=D(2026, 4, 1))
    people.assignment_create(
        person_id=org.erin.pk,
        node_id=org.marketing.pk,
        role_id=org.pmm.pk,
        valid_from=D(2026, 4, 1),
    )
    max_ = people.person_create(
        employee_id="E9", full_name="Max Marketing", hire_date=D(2020, 1, 1)
    )
    people.assignment_create(
        person_id=max_.pk,
        node_id=org.marketing.pk,
        role_id=org.mgr.pk,
        valid_from=D(2026, 4, 1),
        is_manager=True,
    )
    max_user = link_user(org.tenant, max_, "max@acme.test", [Role.MANAGER])
    erin = _access(org.tenant, written.users["erin"])

    def missing(period: Any) -> Dispute:
        return disputes.dispute_raise(
            access=erin,
            subject=Subject(
                kind=DisputeSubject.MISSING,
                period_id=period.pk,
                missing_external_id="OPP-7",
                missing_amount=Decimal("1200.00"),
                missing_currency="USD",
            ),
            reason_code="missing_deal",
            description="Signed, not on my statement.",
        )

    # when
    q1, q2 = missing(written.q1), missing(written.q2)
    # then: each goes to whoever managed her in its own period
    assert q1.assignee_id == written.users["sam"].pk
    assert q2.assignee_id == max_user.pk and q2.missing_amount == Decimal("1200.00")
    # and each manager sees the question of the period she managed Erin in
    sam = _access(org.tenant, written.users["sam"])
    assert set(disputes.dispute_visible(sam)) == {q1}
    assert set(disputes.dispute_visible(_access(org.tenant, max_user))) == {q2}
    with pytest.raises(NotFoundError):
        disputes.dispute_get(access=sam, dispute_id=q2.pk)


def test_a_payee_cannot_question_someone_elses_line_or_credit(world):
    org, written, _plan, _c = world
    erin = written.users["erin"]
    with pytest.raises(NotFoundError):
        _raise_line(org.tenant, erin, written.lines[("wes", "commission")])
    credit = Credit.objects.get(transaction__external_id="D-3")  # Wes's
    with pytest.raises(NotFoundError):
        disputes.dispute_raise(
            access=_access(org.tenant, erin),
            subject=Subject(kind=DisputeSubject.CREDIT, credit_id=credit.pk),
            reason_code="credit_split",
            description="x",
        )
    with pytest.raises(NotFoundError):
        disputes.dispute_raise(
            access=_access(org.tenant, erin),
            subject=Subject(
                kind=DisputeSubject.MISSING,
                period_id=written.q1.pk,
                person_id=org.wes.pk,
                missing_external_id="X",
            ),
            reason_code="missing_deal",
            description="x",
        )
    assert not Dispute.objects.exists() and _audits("dispute.raise") == 0


def test_bad_input_is_refused_with_the_field_named(world):
    org, written, _plan, _c = world
    access = _access(org.tenant, written.users["erin"])
    line = written.lines[("erin", "commission")]
    cases = [
        ({"reason_code": "nope", "description": "x"}, "reason_code"),
        ({"reason_code": "other", "description": "  "}, "description"),
    ]
    for kwargs, field in cases:
        with pytest.raises(ValidationFailedError) as refused:
            disputes.dispute_raise(
                access=access, subject=Subject(kind="line", line_id=line.pk), **kwargs
            )
        assert field in refused.value.details
    with pytest.raises(ValidationFailedError):
        disputes.dispute_raise(
            access=access,
            subject=Subject(kind="missing", period_id=written.q1.pk),
            reason_code="missing_deal",
            description="no id, no words",
        )


# --- SLA ----------------------------------------------------------------------------------------


def test_business_days_skip_weekends():
    friday = D(2026, 11, 27)
    assert disputes.add_business_days(friday, 1) == D(2026, 11, 30)
    assert disputes.add_business_days(friday, 5) == D(2026, 12, 4)
    assert disputes.business_days_between(friday, D(2026, 12, 4)) == 5


def test_a_question_ages_against_its_sla_and_is_overdue_once_past_it(world):
    org, written, _plan, c = world
    d = _raise_line(org.tenant, written.users["erin"], written.lines[("erin", "commission")])
    on_time = disputes.dispute_age(d, today=d.sla_due)
    assert (on_time.overdue, on_time.business_days_left) == (False, 0)
    late_day = disputes.add_business_days(d.sla_due, 3)
    late = disputes.dispute_age(d, today=late_day)
    assert late.overdue and late.overdue_by == 3
    assert late.days == (late_day - d.raised_at.date()).days
    assert list(
        disputes.dispute_list(
            access=_access(org.tenant, written.users["erin"]), overdue=True, today=late_day
        )
    ) == [d]
    # a tenant's SLA is its own
    disputes.dispute_settings_update(
        principal=c.comp,
        sla_business_days=2,
        reasons=[{"code": "other", "label": "Something else", "route": "comp_admin"}],
    )
    again = disputes.dispute_raise(
        access=_access(org.tenant, written.users["erin"]),
        subject=Subject(kind="line", line_id=written.lines[("erin", "accelerator")].pk),
        reason_code="other",
        description="?",
    )
    assert again.sla_due == disputes.add_business_days(again.raised_at.date(), 2)
    assert again.reason_label == "Something else"


# --- answering ----------------------------------------------------------------------------------


def test_resolving_with_an_adjustment_puts_it_on_the_payees_next_statement(world):
    """The issue's must-show: resolve with an adjustment → finance approves it → it is on the
    payee's next period's statement, and the question and the adjustment name each other."""
    org, written, plan, c = world
    # given: Q1 approved (its statements frozen), Q2 calculated; Erin questions a Q1 line
    approve(org.tenant, written.q1, written.run)
    with tenant_scope(org.tenant):
        q2_run = write_run(written.q2)
        write_line(q2_run, org.erin, plan, "commission", "1000.00")
    d = _raise_line(org.tenant, written.users["erin"], written.lines[("erin", "commission")])
    comp = access_for(c.comp)
    # when: the comp admin resolves with an adjustment (Q1 is approved: it goes into Q2)
    resolved = disputes.dispute_resolve(
        access=comp,
        dispute_id=d.pk,
        resolution="The accelerated rate applied from 100 %: 420.00 owed.",
        adjustment=AdjustmentAsk(amount="420.00"),
    )
    # then: linked both ways, pending its own approval
    adjustment = resolved.adjustment
    assert adjustment is not None and list(adjustment.disputes.all()) == [resolved]
    assert (adjustment.period_id, adjustment.status) == (written.q2.pk, AdjustmentStatus.PENDING)
    assert adjustment.amount == Decimal("420.00") and adjustment.reason.startswith("Q-1: ")
    assert (adjustment.plan_id, adjustment.component_id) == (plan.pk, "commission")
    assert resolved.status == DisputeStatus.RESOLVED
    # the resolver may not approve her own request; finance does
    with pytest.raises(PermissionDeniedError):
        ledger.adjustment_approve(adjustment_id=adjustment.pk, principal=c.comp)
    ledger.adjustment_approve(adjustment_id=adjustment.pk, principal=c.finance)
    st = statements.statement_get(
        access=_access(org.tenant, written.users["erin"]),
        period_id=written.q2.pk,
        person_id=org.erin.pk,
    )
    moves = [e for e in st["ledger"] if e["kind"] == EntryKind.ADJUSTMENT]
    assert [m["amount"] for m in moves] == ["420.0000"]
    assert Decimal(st["totals"]["adjustments"]) == Decimal("420")
    assert Decimal(st["totals"]["payable"]) == Decimal("1420")
    adjustment.refresh_from_db()
    assert disputes.disputes_by_adjustment_entry(access_for(c.comp), [moves[0]["id"]]) == {
        adjustment.entry_id: resolved
    }
    # Q1's frozen statement is untouched
    q1 = statements.statement_get(access=comp, period_id=written.q1.pk, person_id=org.erin.pk)
    assert q1["frozen"] and not [e for e in q1["ledger"] if e["kind"] == EntryKind.ADJUSTMENT]
    # one audit event for the resolution, the adjustment it asked for inside it
    assert _audits("dispute.resolve") == 1 and _audits("adjustment.request") == 0


def test_resolving_with_an_adjustment_writes_one_audit_event_naming_the_adjustment(world):
    org, written, _plan, c = world
    # given: Q1 approved, so the adjustment goes into the open Q2
    approve(org.tenant, written.q1, written.run)
    d = _raise_line(org.tenant, written.users["erin"], written.lines[("erin", "commission")])
    before = set(AuditEvent.objects.values_list("pk", flat=True))
    # when
    resolved = disputes.dispute_resolve(
        access=access_for(c.comp),
        dispute_id=d.pk,
        resolution="420.00 owed.",
        adjustment=AdjustmentAsk(amount="420.00"),
    )
    # then: exactly one event, dispute.resolve, whose after carries the adjustment request
    events = list(AuditEvent.objects.exclude(pk__in=before))
    assert [e.action for e in events] == ["dispute.resolve"]
    after = events[0].after
    adjustment = resolved.adjustment
    assert adjustment is not None and after["adjustment_id"] == adjustment.pk
    request = after["adjustment_request"]
    assert request["id"] == adjustment.pk
    assert (request["person_id"], request["period_id"]) == (org.erin.pk, written.q2.pk)
    assert Decimal(request["amount"]) == Decimal("420.00") and request["status"] == "pending"
    assert request["reason"].startswith("Q-1: ")


def test_the_period_close_checklist_counts_open_questions(world):
    org, written, _plan, c = world
    lines = written.lines
    first = _raise_line(org.tenant, written.users["erin"], lines[("erin", "commission")])
    _raise_line(org.tenant, written.users["erin"], lines[("erin", "accelerator")])
    _raise_line(org.tenant, written.users["wes"], lines[("wes", "commission")])
    item = period_checklists(periods=[written.q1, written.q2], principal=c.finance)
    assert [i.disputes_open for i in item] == [3, 0]
    disputes.dispute_reject(access=access_for(c.comp), dispute_id=first.pk, reason="As planned.")
    assert period_checklists(periods=[written.q1], principal=c.finance)[0].disputes_open == 2
    # the checklist API says the same
    client = Client()
    client.force_login(c.users["finance"])
    checklist = client.get(f"/api/v1/periods/{written.q1.pk}/checklist/")
    assert checklist.status_code == 200 and checklist.json()["disputes_open"] == 2


def test_each_action_writes_one_audit_event_and_one_history_step(world):
    org, written, _plan, c = world
    erin = _access(org.tenant, written.users["erin"])
    sam = _access(org.tenant, written.users["sam"])
    credit = Credit.objects.get(transaction__external_id="D-2")
    d = disputes.dispute_raise(
        access=erin,
        subject=Subject(kind="credit", credit_id=credit.pk),
        reason_code="credit_split",
        description="Split?",
    )
    comp = access_for(c.comp)
    steps: list[tuple[str, Any]] = [
        ("dispute.comment", partial(disputes.dispute_comment, access=erin, body="70/30")),
        ("dispute.comment", partial(disputes.dispute_comment, access=sam, body="Hm")),
        (
            "dispute.assign",
            partial(disputes.dispute_assign, access=sam, assignee_user_id=c.users["comp"].pk),
        ),
        (
            "dispute.resolve",
            partial(
                disputes.dispute_resolve,
                access=comp,
                resolution="Fixed.",
                data_correction="OPP split 70/30",
            ),
        ),
    ]
    statuses = []
    for action, call in steps:
        before = AuditEvent.objects.count()
        call(dispute_id=d.pk)
        assert AuditEvent.objects.count() == before + 1
        assert AuditEvent.objects.order_by("-id").first().action == action
        d.refresh_from_db()
        statuses.append(d.status)
    # the payee's own comment leaves it open; the manager's answer puts it in review
    assert statuses == ["open", "in_review", "in_review", "resolved"]
    assert d.queue == DisputeQueue.COMP_ADMIN and d.assignee_id == c.users["comp"].pk
    assert d.data_correction == "OPP split 70/30"
    kinds = list(d.events.values_list("kind", flat=True))
    assert kinds == ["raised", "commented", "commented", "assigned", "resolved"]
    assert d.comments.count() == 2
    with pytest.raises(ConflictError):
        disputes.dispute_comment(access=erin, dispute_id=d.pk, body="late")


def test_only_the_payee_withdraws_and_only_answerers_decide(world):
    org, written, _plan, c = world
    erin = _access(org.tenant, written.users["erin"])
    sam = _access(org.tenant, written.users["sam"])
    d = _raise_line(org.tenant, written.users["erin"], written.lines[("erin", "commission")])
    # a rate question sits with the comp admins: the manager sees it but does not answer it
    assert disputes.dispute_get(access=sam, dispute_id=d.pk) == d
    with pytest.raises(PermissionDeniedError):
        disputes.dispute_reject(access=sam, dispute_id=d.pk, reason="no")
    with pytest.raises(PermissionDeniedError):
        disputes.dispute_resolve(access=erin, dispute_id=d.pk, resolution="I decide")
    with pytest.raises(PermissionDeniedError):
        disputes.dispute_withdraw(access=access_for(c.comp), dispute_id=d.pk)
    with pytest.raises(ValidationFailedError):
        disputes.dispute_reject(access=access_for(c.comp), dispute_id=d.pk, reason=" ")
    disputes.dispute_withdraw(access=erin, dispute_id=d.pk, note="Found it.")
    d.refresh_from_db()
    assert d.status == DisputeStatus.WITHDRAWN and _audits("dispute.withdraw") == 1
    with pytest.raises(ConflictError):
        disputes.dispute_withdraw(access=erin, dispute_id=d.pk)
    # Wes sees none of it
    assert not disputes.dispute_visible(_access(org.tenant, written.users["wes"])).exists()


def test_demo_disputes_are_raised_only_for_the_demo_employee(world):
    org, _written, _plan, _c = world
    assert disputes.demo_disputes(org.tenant) == 0  # no demo employee in this tenant
    assert not Dispute.objects.exists()


# --- the API ------------------------------------------------------------------------------------


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _post(client: Client, url: str, body: dict[str, Any] | None = None, **extra: Any) -> Any:
    return client.post(url, data=json.dumps(body or {}), content_type="application/json", **extra)


def _bearer(tenant: Any, scopes: list[str]) -> dict[str, str]:
    with tenant_scope(tenant):
        token = core_services.api_client_create(
            name="-".join(scopes), scopes=scopes, created_by_id=None
        ).token
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.mark.covers_url(
    "api-dispute-list",
    "api-dispute-detail",
    "api-dispute-comments",
    "api-dispute-assign",
    "api-dispute-resolve",
    "api-dispute-reject",
    "api-dispute-withdraw",
)
def test_the_disputes_api(org, written, client_charlie):
    with tenant_scope(org.tenant):
        c = cast(org.tenant)
    erin, comp = _client(written.users["erin"]), _client(c.users["comp"])
    line = written.lines[("erin", "commission")]
    body = {
        "subject_kind": "step",
        "line": line.pk,
        "trace_step": 0,
        "reason_code": "rate_tier",
        "description": "Rate?",
    }
    # a payee raises on her own line, not on Wes's
    created = _post(erin, "/api/v1/disputes/", body)
    assert created.status_code == 201, created.content
    d = created.json()
    assert (d["ref"], d["status"], d["queue"], d["trace_step"]) == ("Q-1", "open", "comp_admin", 0)
    assert d["events"][0]["kind"] == "raised" and d["overdue"] is False
    wes_line = written.lines[("wes", "commission")]
    assert_not_found(_post(erin, "/api/v1/disputes/", {**body, "line": wes_line.pk}))
    bad = _post(erin, "/api/v1/disputes/", {**body, "reason_code": "nope"})
    assert bad.status_code == 400 and bad.json()["error"]["details"]["reason_code"]
    assert _post(erin, "/api/v1/disputes/", {"subject_kind": "x"}).status_code == 400
    base = f"/api/v1/disputes/{d['id']}/"
    # list with filters
    listed = comp.get(f"/api/v1/disputes/?status=active&period={written.q1.pk}").json()
    assert [r["id"] for r in listed["results"]] == [d["id"]]
    assert comp.get("/api/v1/disputes/?status=resolved").json()["count"] == 0
    assert comp.get("/api/v1/disputes/?overdue=true").json()["count"] == 0
    assert comp.get("/api/v1/disputes/?colour=red").status_code == 400
    # comments, assign
    assert _post(erin, base + "comments/", {"body": "Also step 2."}).status_code == 201
    assert [x["body"] for x in erin.get(base + "comments/").json()] == ["Also step 2."]
    assigned = _post(comp, base + "assign/", {"assignee": c.users["comp"].pk})
    assert assigned.status_code == 200 and assigned.json()["status"] == "in_review"
    assert _post(erin, base + "resolve/", {"resolution": "mine"}).status_code == 403
    # an API client reads with read:payouts, and writes only with write:payouts
    reader = _bearer(org.tenant, ["read:payouts"])
    assert comp.get(base).status_code == 200 and Client().get(base, **reader).status_code == 200
    assert _post(Client(), base + "reject/", {"reason": "no"}, **reader).status_code == 403
    writer = _bearer(org.tenant, ["write:payouts"])
    resolved = _post(
        Client(), base + "resolve/", {"resolution": "OK", "adjustment_amount": "420.00"}, **writer
    )
    assert resolved.status_code == 200, resolved.content
    assert resolved.json()["status"] == "resolved"
    assert resolved.json()["adjustment_status"] == "pending"
    # a finished question takes no more answers
    assert _post(comp, base + "reject/", {"reason": "late"}).status_code == 409
    assert _post(erin, base + "withdraw/", {}).status_code == 409
    # a second question: rejected; a third: withdrawn by the payee
    second = _post(erin, "/api/v1/disputes/", {**body, "trace_step": None, "subject_kind": "line"})
    rejected = _post(comp, f"/api/v1/disputes/{second.json()['id']}/reject/", {"reason": "Right"})
    assert rejected.json()["status"] == "rejected" and rejected.json()["resolution"] == "Right"
    third = _post(
        erin,
        "/api/v1/disputes/",
        {
            "subject_kind": "missing",
            "period": written.q1.pk,
            "missing_external_id": "OPP-9",
            "reason_code": "missing_deal",
            "description": "Missing",
        },
    )
    assert third.status_code == 201 and third.json()["queue"] == "manager"
    gone = _post(erin, f"/api/v1/disputes/{third.json()['id']}/withdraw/", {"note": "found"})
    assert gone.json()["status"] == "withdrawn"
    # another tenant: 404 on every URL, and its list omits ours
    assert_list_omits(client_charlie, "/api/v1/disputes/", d["id"])
    assert_not_found(client_charlie.get(base))
    assert_not_found(client_charlie.get(base + "comments/"))
    for suffix, payload in (
        ("comments/", {"body": "x"}),
        ("assign/", {"assignee": None}),
        ("resolve/", {"resolution": "x"}),
        ("reject/", {"reason": "x"}),
        ("withdraw/", {}),
    ):
        assert_not_found(_post(client_charlie, base + suffix, payload))
    # and Wes, in the same tenant, gets the same 404
    wes = _client(written.users["wes"])
    assert_not_found(wes.get(base))
    assert wes.get("/api/v1/disputes/").json()["count"] == 0
