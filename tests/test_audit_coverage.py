"""Every mutating API call writes exactly one audit event.

The test walks the URL conf (like tests/test_url_coverage.py), finds every ``/api/v1/`` view
with ``post``, ``put``, ``patch`` or ``delete``, and for each (URL name, method) sends the valid
request that :data:`MUTATIONS` builds, as tenant A's admin (tenant admin + comp admin + finance).
The call must succeed (2xx) and write exactly one ``AuditEvent``. A mutating endpoint missing
from the table fails the build, so a new endpoint cannot ship without its audit event.

HOW TO ADD AN ENDPOINT (one entry):

    MUTATIONS[("api-thing-approve", "POST")] = lambda w: Call(
        f"/api/v1/things/{w.thing().pk}/approve/", {"note": "ok"}
    )

``w`` is a :class:`World`: ``w.org`` (the small Acme org of tests/hierarchy/conftest.py:
dana, sam, erin, wes, mia; nodes root/sales/east/west/marketing; job roles ae/mgr/pmm),
``w.plan`` (a published Sales AE plan), ``w.calculated()`` / ``w.approved()`` /
``w.closed()`` (a period walked through the real lifecycle, with its run and ledger entries),
``w.scope()`` (enter tenant A to build objects with services). The callable runs *before* the
events are counted, so whatever it builds does not count; only the request does. ``Call``
takes ``body`` (JSON by default; ``content_type="multipart"`` for uploads, or a raw body and
its content type), ``events`` (1 unless the call is declared to write nothing, with
``why``) and ``status`` (the expected 2xx codes).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from core.models import AuditEvent, Membership, Role
from core.tenancy import tenant_scope
from tests.factories.hierarchy import MembershipFactory, UserFactory
from tests.hierarchy.conftest import Org, build_org

MUTATING = ("post", "put", "patch", "delete")
D = dt.date
PLAN_CASE_INPUTS = (
    "period: {id: 2026-01, start: 2026-01-01, end: 2026-02-01}\n"
    "people: [{person: erin}]\n"
    "quotas: [{holder: erin, quota: new_bookings, amount: 100000},"
    " {holder: erin, quota: expansion_bookings, amount: 20000}]\n"
    "credits: [{id: c1, person: erin, date: 2026-01-08, amount: 80000, type: new_business}]\n"
)


@dataclass
class Call:
    """One valid request: the URL, its body and what it must do."""

    url: str
    body: Any = None
    content_type: str = "application/json"
    events: int = 1
    why: str = ""  # required when events != 1
    status: tuple[int, ...] = (200, 201, 202, 204)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class World:
    """Tenant A with an org, a published plan and lazily built periods, runs and ledger rows."""

    tenant: Any
    admin: Any
    org: Org
    plan: Any
    _cache: dict[str, Any] = field(default_factory=dict)

    def scope(self) -> AbstractContextManager[Any]:
        return tenant_scope(self.tenant)

    def _once(self, key: str, build: Callable[[], Any]) -> Any:
        if key not in self._cache:
            with self.scope():
                self._cache[key] = build()
        return self._cache[key]

    # --- people and plans -------------------------------------------------------------------

    def member(self, role: str = Role.EMPLOYEE) -> Membership:
        """A second member of tenant A (another person for four-eyes and role changes)."""

        def build() -> Membership:
            user = UserFactory(email=f"{role}@acme.test")
            return MembershipFactory(user=user, tenant=self.tenant, roles=[role])

        return self._once(f"member:{role}", build)

    @cached_property
    def version(self) -> Any:
        with self.scope():
            return self.plan.versions.get()

    def draft(self) -> Any:
        """A draft version 2 of the plan."""
        from plans import services

        return self._once(
            "draft",
            lambda: services.plan_version_draft_create(plan_id=self.plan.pk, user_id=self.admin.pk),
        )

    def plan_case(self) -> Any:
        """A test case of the draft version 2 (an AE at 80 % of quota: 4,900.00)."""
        from plans import cases

        return self._once(
            "plan_case",
            lambda: cases.plan_case_create(
                version_id=self.draft().pk,
                name="AE at 80 %",
                inputs_source=PLAN_CASE_INPUTS,
                expected_total="4900.00",
                user_id=self.admin.pk,
            ),
        )

    def plan_assignment(self) -> Any:
        from plans import services

        return self._once(
            "plan_assignment",
            lambda: services.plan_assignment_create(
                access=self.access(),
                plan_version_id=self.version.pk,
                holder=services.Holder(person_id=self.org.erin.pk),
                target_incentive=Decimal("10000"),
                valid_from=D(2026, 1, 1),
                user_id=self.admin.pk,
            ),
        )

    def quota(self, quota_id: str = "new_bookings", amount: str = "100000") -> Any:
        from plans import services

        return self._once(
            "quota" if quota_id == "new_bookings" else f"quota:{quota_id}",
            lambda: services.quota_create(
                access=self.access(),
                holder=services.QuotaHolder(person_id=self.org.erin.pk),
                user_id=self.admin.pk,
                quota_id=quota_id,
                amount=Decimal(amount),
                currency="USD",
                plan_id=self.plan.pk,
                valid_from=D(2026, 1, 1),
                valid_to=D(2026, 4, 1),
            ),
        )

    def access(self) -> Any:
        from core.permissions import principal_for_membership
        from hierarchy.access import access_for

        membership = Membership.objects.get(user=self.admin, tenant=self.tenant)
        return access_for(principal_for_membership(membership), today=D(2026, 1, 15))

    # --- periods and money ------------------------------------------------------------------

    def _period(self, status: str, start: dt.date, label: str) -> Any:
        from tests.payouts.exports_fixtures import approved_period

        end = D(start.year + (start.month == 12), start.month % 12 + 1, 1)
        return self._once(
            f"period:{label}",
            lambda: approved_period(
                self.org, self.plan, start=start, end=end, label=label, status=status
            ),
        )

    def calculated(self) -> Any:
        return self._period("calculated", D(2026, 3, 1), "Mar 2026")

    def approved(self) -> Any:
        return self._period("approved", D(2026, 1, 1), "Jan 2026")

    def closed(self) -> Any:
        """Feb 2026, closed, its commission lines paid at a known rate (clawbacks need one)."""
        from hierarchy.models import PeriodStatus
        from payouts import lifecycle
        from payouts.models import LedgerEntry
        from tests.payouts.exports_fixtures import FINANCE, Approved
        from tests.payouts.helpers import period, review_steps, succeeded_run

        def build() -> Any:
            feb = period("Feb 2026", D(2026, 2, 1))
            lines = [(self.org.erin, "1000.00", "commission")]
            run = succeeded_run(feb, self.plan, lines)
            lifecycle.run_succeeded(run)
            lifecycle.period_submit_for_review(period_id=feb.pk, principal=FINANCE)
            review_steps(feb)  # the route's comp admin step, before finance approves
            lifecycle.period_approve(period_id=feb.pk, run_id=run.pk, principal=FINANCE)
            lifecycle.period_close(period_id=feb.pk, principal=FINANCE)
            feb.refresh_from_db()
            assert feb.status == PeriodStatus.CLOSED
            entries = list(LedgerEntry.objects.filter(period=feb).order_by("pk"))
            return Approved(feb, run, list(run.lines.all()), entries)

        return self._once("closed", build)

    def in_review(self) -> Any:
        """Mar 2026 in review, its route's steps before finance's approved (by a second comp
        admin: the admin holds comp admin too, and four eyes keeps them to one step), so the
        admin approves it as finance."""
        from core.permissions import principal_for_membership
        from payouts import lifecycle
        from tests.payouts.exports_fixtures import FINANCE
        from tests.payouts.helpers import review_steps

        reviewer = principal_for_membership(self.member(Role.COMP_ADMIN))

        def build() -> Any:
            calculated = self.calculated()
            lifecycle.period_submit_for_review(period_id=calculated.period.pk, principal=FINANCE)
            review_steps(calculated.period, by=reviewer)
            return calculated

        return self._once("in_review", build)

    def approval_request(self, label: str, start: dt.date) -> Any:
        """A period of its own submitted for review: its approval request waits on the built-in
        route's first step (comp admin review), which the admin may decide."""
        from payouts import approval_routes, lifecycle
        from tests.payouts.exports_fixtures import FINANCE

        def build() -> Any:
            submitted = self._period("calculated", start, label)
            lifecycle.period_submit_for_review(period_id=submitted.period.pk, principal=FINANCE)
            return approval_routes.pending_request(submitted.period.pk)

        return self._once(f"approval_request:{label}", build)

    def approval_route(self) -> Any:
        """A route of the tenant's own, no request has followed it (editable, deletable)."""
        from core.permissions import principal_for_membership
        from payouts import approvals

        membership = Membership.objects.get(user=self.admin, tenant=self.tenant)
        return self._once(
            "approval_route",
            lambda: approvals.route_configure(
                principal=principal_for_membership(membership),
                name="Sales review",
                plan_id=self.plan.pk,
                steps=[
                    approvals.StepSpec(name="Comp admin review", approver_kind="comp_admin"),
                    approvals.StepSpec(name="Finance approval", approver_kind="finance"),
                ],
            ),
        )

    def capitalization_policy(self) -> Any:
        from payouts import accruals

        return self._once(
            "capitalization_policy",
            lambda: accruals.policy_create(benefit_months=12, plan_id=self.plan.pk),
        )

    def run_schedule(self) -> Any:
        from payouts import schedules

        return self._once(
            "run_schedule",
            lambda: schedules.schedule_create(
                name="Nightly", cadence="daily", time_of_day=dt.time(2, 0), user_id=self.admin.pk
            ),
        )

    def dispute(self, key: str = "dispute") -> Any:
        """The admin's question on a line of Jan 2026 (``key``: one per call that ends it)."""
        from payouts import disputes

        approved = self.approved()
        return self._once(
            key,
            lambda: disputes.dispute_raise(
                access=self.access(),
                subject=disputes.Subject(kind="line", line_id=approved.lines[0].pk),
                reason_code="rate_tier",
                description="Why this rate?",
            ),
        )

    def objective(self, status: str = "draft") -> Any:
        """Erin's one objective (weight 100 %) on an MBO plan's component in the open period,
        walked to ``status`` (draft, set, submitted, signed_off) by the admin's services."""
        from plans import objectives
        from tests.plans.objectives_data import mbo_plan

        period = self.open_period()

        def build() -> Any:
            access = self.access()
            o = objectives.objective_create(
                access=access,
                person_id=self.org.erin.pk,
                period_id=period.pk,
                plan_id=mbo_plan().pk,
                component="mbo",
                title="Partner launch",
                weight="100",
            )
            steps = ("set", "submitted", "signed_off")
            walk = steps[: steps.index(status) + 1] if status in steps else ()
            if "set" in walk:
                objectives.objective_set(access=access, objective_id=o.pk)
            if "submitted" in walk:
                objectives.objective_submit(access=access, objective_id=o.pk, completion="80")
            if "signed_off" in walk:
                objectives.objective_sign_off(access=access, objective_id=o.pk)
            return o

        return self._once(f"objective:{status}", build)

    def own_objective(self) -> Any:
        """Erin's draft objective, with the admin's user linked to Erin (her own comment)."""
        from hierarchy.models import Person

        with self.scope():
            Person.objects.filter(pk=self.org.erin.pk).update(user=self.admin)
        return self.objective()

    def open_period(self) -> Any:
        from tests.payouts.helpers import period

        return self._once("open", lambda: period("Apr 2026", D(2026, 4, 1)))

    def adjustment(self) -> Any:
        """An adjustment requested by a comp admin who is not the admin (four eyes)."""
        from core.permissions import principal_for_membership
        from payouts import ledger

        requester = principal_for_membership(self.member(Role.COMP_ADMIN))
        open_period = self.open_period()
        return self._once(
            "adjustment",
            lambda: ledger.adjustment_request(
                principal=requester,
                person_id=self.org.erin.pk,
                period_id=open_period.pk,
                amount=Decimal("100"),
                currency="USD",
                reason="Missed deal",
            ),
        )

    def hold(self) -> Any:
        from payouts import ledger
        from tests.payouts.exports_fixtures import FINANCE

        return self._once(
            "hold",
            lambda: ledger.hold_place(
                principal=FINANCE, person_id=self.org.wes.pk, reason="Contract check"
            ),
        )

    def export_batch(self) -> Any:
        from payouts import exports

        approved = self.approved()
        return self._once(
            "export_batch",
            lambda: exports.export_batch_create(
                period_ids=[approved.period.pk],
                idempotency_key="audit-coverage",
                user_id=self.admin.pk,
            )[0],
        )

    def failed_run(self) -> Any:
        from payouts.models import CalculationRun, RunStatus

        def build() -> Any:
            period = self.open_period()
            now = timezone.now()
            return CalculationRun.objects.create(
                period=period,
                number=1,
                status=RunStatus.FAILED,
                reason="boom",
                known_at=now,
                created_at=now,
            )

        return self._once("failed_run", build)

    def failed_import(self, monkeypatch: Any) -> Any:
        from incentives import bulk_ingest, services

        def build() -> Any:
            with monkeypatch.context() as m:
                m.setattr(
                    bulk_ingest.TransactionValidator,
                    "validate",
                    lambda *a: (_ for _ in ()).throw(OSError("gone")),
                )
                return services.ingest_start(
                    request=services.IngestRequest(kind="transactions", source_format="csv"),
                    data=TX_CSV,
                    created_by_id=self.admin.pk,
                )

        return self._once("failed_import", build)

    def kpi_value(self) -> Any:
        from incentives import services
        from incentives.models import KpiValue

        def build() -> Any:
            from hierarchy import periods

            periods.period_generate_fiscal_year(fiscal_year=2027)
            services.ingest_rows(
                request=services.IngestRequest(kind="kpi_values", source_format="json"),
                rows=[
                    {
                        "metric": "csat",
                        "subject_type": "tenant",
                        "period": "2027-01-01",
                        "value": "4.5",
                    }
                ],
                created_by_id=self.admin.pk,
            )
            return KpiValue.objects.get()

        return self._once("kpi", build)

    def earning_code(self) -> Any:
        from payouts import exports

        return self._once(
            "earning_code",
            lambda: exports.earning_code_set(component_id="commission", code="COMM")[0],
        )


TX_CSV = (
    b"external_id,kind,amount,currency,booked_on,owner_employee_id,account\n"
    b"C-1,new_business,500,USD,2026-02-02,E3,Initech\n"
)


def _fresh(w: World, build: Callable[[], Any]) -> Any:
    with w.scope():
        return build()


def _spare(w: World, kind: str) -> Any:
    """A new, unused person, job role, hierarchy or node (deletable: nothing refers to it)."""
    from hierarchy import people

    def build() -> Any:
        if kind == "person":
            return people.person_create(
                employee_id="X9", full_name="Temp Person", hire_date=D(2026, 1, 1)
            )
        if kind == "job_role":
            return people.job_role_create(name="Temp role", function="sales")
        if kind == "hierarchy":
            return people.hierarchy_create(code="tmp", name="Temp", kind="region")
        return people.node_create(
            hierarchy_id=w.org.reporting.pk,
            code="tmp",
            name="Temp",
            parent_id=w.org.root.pk,
            valid_from=D(2026, 1, 1),
        )

    return _fresh(w, build)


# The table: (URL name, method) -> a valid request, built on the World. Keep it sorted by area.
MUTATIONS: dict[tuple[str, str], Callable[[World], Call]] = {
    # --- members and API clients (core) ---------------------------------------------------
    ("api-member-list", "POST"): lambda w: Call(
        "/api/v1/members/",
        {"email": "new@acme.test", "full_name": "New Person", "roles": ["employee"]},
    ),
    ("api-member-detail", "PATCH"): lambda w: Call(
        f"/api/v1/members/{w.member().pk}/", {"roles": ["manager"]}
    ),
    ("api-member-detail", "DELETE"): lambda w: Call(f"/api/v1/members/{w.member().pk}/"),
    ("api-client-list", "POST"): lambda w: Call(
        "/api/v1/api-clients/", {"name": "Payroll", "scopes": ["read:payouts"]}
    ),
    ("api-client-detail", "DELETE"): lambda w: Call(f"/api/v1/api-clients/{_api_client(w).pk}/"),
    # --- people and the org (hierarchy) ---------------------------------------------------
    ("api-person-list", "POST"): lambda w: Call(
        "/api/v1/people/",
        {"employee_id": "N1", "full_name": "Nia New", "hire_date": "2026-01-05"},
    ),
    ("api-person-detail", "PATCH"): lambda w: Call(
        f"/api/v1/people/{w.org.erin.pk}/", {"full_name": "Erin Eastwood"}
    ),
    ("api-person-detail", "DELETE"): lambda w: Call(f"/api/v1/people/{_spare(w, 'person').pk}/"),
    ("api-person-terminate", "POST"): lambda w: Call(
        f"/api/v1/people/{w.org.mia.pk}/terminate/", {"termination_date": "2026-06-30"}
    ),
    ("api-job-role-list", "POST"): lambda w: Call(
        "/api/v1/job-roles/", {"name": "Sales Engineer", "function": "sales"}
    ),
    ("api-job-role-detail", "PATCH"): lambda w: Call(
        f"/api/v1/job-roles/{w.org.ae.pk}/", {"name": "Account Executive II"}
    ),
    ("api-job-role-detail", "DELETE"): lambda w: Call(
        f"/api/v1/job-roles/{_spare(w, 'job_role').pk}/"
    ),
    ("api-hierarchy-list", "POST"): lambda w: Call(
        "/api/v1/hierarchies/", {"code": "region", "name": "Regions", "kind": "region"}
    ),
    ("api-hierarchy-detail", "PATCH"): lambda w: Call(
        f"/api/v1/hierarchies/{w.org.reporting.pk}/", {"name": "Reporting lines"}
    ),
    ("api-hierarchy-detail", "DELETE"): lambda w: Call(
        f"/api/v1/hierarchies/{_spare(w, 'hierarchy').pk}/"
    ),
    ("api-node-list", "POST"): lambda w: Call(
        "/api/v1/nodes/",
        {
            "hierarchy_id": w.org.reporting.pk,
            "code": "north",
            "name": "Sales North",
            "parent_id": w.org.sales.pk,
            "valid_from": "2026-01-01",
        },
    ),
    ("api-node-detail", "PATCH"): lambda w: Call(
        f"/api/v1/nodes/{w.org.east.pk}/", {"name": "Sales East Coast"}
    ),
    ("api-node-detail", "DELETE"): lambda w: Call(f"/api/v1/nodes/{_spare(w, 'node').pk}/"),
    ("api-node-move", "POST"): lambda w: Call(
        f"/api/v1/nodes/{w.org.east.pk}/move/",
        {"parent_id": w.org.marketing.pk, "valid_from": "2026-03-01"},
    ),
    ("api-assignment-list", "POST"): lambda w: Call(
        "/api/v1/assignments/",
        {
            "person_id": _spare(w, "person").pk,
            "node_id": w.org.east.pk,
            "role_id": w.org.ae.pk,
            "valid_from": "2026-03-01",
            "allocation_pct": "40",
        },
    ),
    ("api-assignment-detail", "PATCH"): lambda w: Call(
        f"/api/v1/assignments/{_assignment(w, w.org.wes).pk}/", {"title": "Senior AE"}
    ),
    ("api-assignment-detail", "DELETE"): lambda w: Call(
        f"/api/v1/assignments/{_assignment(w, w.org.wes).pk}/"
    ),
    ("api-period-list", "POST"): lambda w: Call("/api/v1/periods/", {"fiscal_year": 2031}),
    ("api-period-detail", "PATCH"): lambda w: Call(
        f"/api/v1/periods/{w.open_period().pk}/", {"label": "April 2026"}
    ),
    ("api-hr-import-list", "POST"): lambda w: Call(
        "/api/v1/hr-imports/",
        {
            "kind": "people",
            "rows": [{"employee_id": "H1", "full_name": "Hana Hire", "hire_date": "2026-02-01"}],
        },
    ),
    # --- plans and quotas -----------------------------------------------------------------
    ("api-plan-validate", "POST"): lambda w: Call(
        "/api/v1/plans/validate/", {}, events=0, why="checks a document, saves nothing"
    ),
    ("api-plan-list", "POST"): lambda w: Call(
        "/api/v1/plans/",
        {"code": "sdr", "name": "SDR", "template": "sdr", "valid_from": "2026-01-01"},
    ),
    ("api-plan-archive", "POST"): lambda w: Call(
        f"/api/v1/plans/{w.plan.pk}/archive/", {"archived": True}
    ),
    ("api-plan-versions", "POST"): lambda w: Call(f"/api/v1/plans/{w.plan.pk}/versions/", {}),
    ("api-plan-version-detail", "PUT"): lambda w: Call(
        f"/api/v1/plans/{w.plan.pk}/versions/{w.draft().number}/",
        {"source": w.draft().source, "note": "Same again"},
    ),
    ("api-plan-version-publish", "POST"): lambda w: Call(
        f"/api/v1/plans/{w.plan.pk}/versions/{w.draft().number}/publish/",
        {"valid_from": "2026-07-01"},
    ),
    ("api-plan-case-list", "POST"): lambda w: Call(
        f"/api/v1/plans/{w.plan.pk}/versions/{w.draft().number}/cases/",
        {"name": "AE at 80 %", "inputs_source": PLAN_CASE_INPUTS, "expected_total": "4900.00"},
    ),
    ("api-plan-case-detail", "PATCH"): lambda w: Call(
        f"/api/v1/plans/{w.plan.pk}/versions/{w.draft().number}/cases/{w.plan_case().pk}/",
        {"name": "AE at 80 % of quota"},
    ),
    ("api-plan-case-detail", "DELETE"): lambda w: Call(
        f"/api/v1/plans/{w.plan.pk}/versions/{w.draft().number}/cases/{w.plan_case().pk}/"
    ),
    ("api-plan-case-run", "POST"): lambda w: Call(
        f"/api/v1/plans/{w.plan.pk}/versions/{w.draft().number}/cases/run/",
        {},
        events=0,
        why="runs the cases through the engine, saves nothing",
    ),
    ("api-plan-assignment-list", "POST"): lambda w: Call(
        "/api/v1/plan-assignments/",
        {
            "plan_version": w.version.pk,
            "person_id": w.org.wes.pk,
            "target_incentive": "12000.00",
            "valid_from": "2026-01-01",
        },
    ),
    ("api-plan-assignment-bulk", "POST"): lambda w: Call(
        "/api/v1/plan-assignments/bulk/",
        {
            "plan_version": w.version.pk,
            "rows": [
                {
                    "person_id": w.org.wes.pk,
                    "target_incentive": "12000.00",
                    "valid_from": "2026-01-01",
                },
                {
                    "person_id": w.org.mia.pk,
                    "target_incentive": "8000.00",
                    "valid_from": "2026-01-01",
                },
            ],
        },
    ),
    ("api-plan-assignment-end", "POST"): lambda w: Call(
        f"/api/v1/plan-assignments/{w.plan_assignment().pk}/end/", {"valid_to": "2026-07-01"}
    ),
    ("api-quota-list", "POST"): lambda w: Call(
        "/api/v1/quotas/",
        {
            "person_id": w.org.wes.pk,
            "quota_id": "new_bookings",
            "amount": "90000.00",
            "currency": "USD",
            "plan": w.plan.pk,
            "valid_from": "2026-01-01",
            "valid_to": "2026-04-01",
        },
    ),
    ("api-quota-bulk", "POST"): lambda w: Call(
        "/api/v1/quotas/bulk/",
        {
            "plan": w.plan.pk,
            "rows": [
                {
                    "employee_id": employee,
                    "quota_id": "new_bookings",
                    "amount": "5000",
                    "valid_from": "2026-01-01",
                    "valid_to": "2026-02-01",
                }
                for employee in ("E3", "E4")
            ],
        },
    ),
    ("api-quota-upload", "POST"): lambda w: Call(
        "/api/v1/quotas/upload/",
        {
            "plan": w.plan.pk,
            "file": SimpleUploadedFile(
                "q.csv",
                b"employee_id,quota_id,amount,currency,valid_from,valid_to\n"
                b"E3,new_bookings,100,USD,2026-01-01,2026-02-01\n"
                b"E4,new_bookings,200,USD,2026-01-01,2026-02-01\n",
            ),
        },
        content_type="multipart",
    ),
    ("api-quota-detail", "PATCH"): lambda w: Call(
        f"/api/v1/quotas/{w.quota().pk}/", {"amount": "120000.00"}
    ),
    ("api-quota-end", "POST"): lambda w: Call(
        f"/api/v1/quotas/{w.quota().pk}/end/", {"valid_to": "2026-03-01"}
    ),
    ("api-plan-acknowledgement-list", "POST"): lambda w: Call(
        "/api/v1/plan-acknowledgements/", {"plan_version": _my_assignment(w).plan_version_id}
    ),
    # --- incentive data -------------------------------------------------------------------
    ("api-import-retry", "POST"): lambda w: Call(
        f"/api/v1/imports/{w._cache['failed_import'].pk}/retry/"
    ),
    ("api-import-rows", "POST"): lambda w: Call(
        "/api/v1/imports/transactions/rows/",
        {
            "rows": [
                {
                    "external_id": f"R-{i}",
                    "kind": "new_business",
                    "amount": "1000.00",
                    "currency": "USD",
                    "booked_on": "2026-02-10",
                    "owner_employee_id": "E3",
                }
                for i in range(3)
            ]
        },
    ),
    ("api-import-csv", "POST"): lambda w: Call(
        "/api/v1/imports/transactions/csv/", TX_CSV, content_type="text/csv"
    ),
    ("api-column-mappings", "POST"): lambda w: Call(
        "/api/v1/column-mappings/",
        {"name": "CRM export", "kind": "transactions", "columns": {"Deal ID": "external_id"}},
    ),
    ("api-credit-recalculate", "POST"): lambda w: Call("/api/v1/credits/recalculate/", {}),
    ("api-rule-list", "POST"): lambda w: Call(
        "/api/v1/crediting-rules/",
        {"name": "Owner", "kind": "direct", "priority": 20, "valid_from": "2026-01-01"},
    ),
    ("api-rule-detail", "PATCH"): lambda w: Call(
        f"/api/v1/crediting-rules/{_rule(w).pk}/", {"priority": 30}
    ),
    ("api-fx-rate-list", "POST"): lambda w: Call(
        "/api/v1/fx-rates/",
        {"currency": "EUR", "quote_currency": "USD", "valid_on": "2026-01-01", "rate": "1.1"},
    ),
    ("api-kpi-sign-off", "POST"): lambda w: Call(
        f"/api/v1/kpi-values/{w.kpi_value().pk}/sign-off/"
    ),
    # --- ledger and period lifecycle ------------------------------------------------------
    ("api-clawback", "POST"): lambda w: Call(
        "/api/v1/clawbacks/",
        {
            "entry": w.closed().entries[0].pk,
            "period": w.open_period().pk,
            "reversed_amount": "100.00",
            "reason": "Deal cancelled",
        },
    ),
    ("api-adjustment-list", "POST"): lambda w: Call(
        "/api/v1/adjustments/",
        {
            "person": w.org.erin.pk,
            "period": w.open_period().pk,
            "amount": "250.00",
            "currency": "USD",
            "reason": "Missed deal",
        },
    ),
    ("api-adjustment-approve", "POST"): lambda w: Call(
        f"/api/v1/adjustments/{w.adjustment().pk}/approve/", {"note": "Checked"}
    ),
    ("api-adjustment-reject", "POST"): lambda w: Call(
        f"/api/v1/adjustments/{w.adjustment().pk}/reject/", {"note": "No evidence"}
    ),
    ("api-draw-list", "POST"): lambda w: Call(
        "/api/v1/draws/",
        {
            "person": w.org.erin.pk,
            "period": w.open_period().pk,
            "amount": "500.00",
            "currency": "USD",
            "recoverable": True,
            "reason": "Ramp",
        },
    ),
    ("api-hold-list", "POST"): lambda w: Call(
        "/api/v1/holds/", {"person": w.org.erin.pk, "reason": "Contract check"}
    ),
    ("api-hold-release", "POST"): lambda w: Call(
        f"/api/v1/holds/{w.hold().pk}/release/", {"note": "Signed"}
    ),
    ("api-period-submit", "POST"): lambda w: Call(
        f"/api/v1/periods/{w.calculated().period.pk}/submit/"
    ),
    ("api-period-approve", "POST"): lambda w: Call(
        f"/api/v1/periods/{w.in_review().period.pk}/approve/", {"run": w.in_review().run.pk}
    ),
    ("api-period-reopen", "POST"): lambda w: Call(
        f"/api/v1/periods/{w.approved().period.pk}/reopen/", {"reason": "Late deal"}
    ),
    ("api-period-close", "POST"): lambda w: Call(
        f"/api/v1/periods/{w.approved().period.pk}/close/", {}
    ),
    # --- approvals and their routes ------------------------------------------------------
    ("api-approval-approve", "POST"): lambda w: Call(
        f"/api/v1/approvals/{w.approval_request('May 2026', D(2026, 5, 1)).pk}/approve/",
        {"comment": "Checked the top 10"},
    ),
    ("api-approval-reject", "POST"): lambda w: Call(
        f"/api/v1/approvals/{w.approval_request('Jun 2026', D(2026, 6, 1)).pk}/reject/",
        {"comment": "The Acme split is missing"},
    ),
    ("api-approval-route-list", "POST"): lambda w: Call(
        "/api/v1/approval-routes/",
        {
            "name": "Sales: manager, comp, finance",
            "is_default": True,
            "steps": [
                {"name": "Manager review", "approver_kind": "manager"},
                {"name": "Comp admin review", "approver_kind": "comp_admin"},
                {"name": "Finance approval", "approver_kind": "finance"},
            ],
        },
    ),
    ("api-approval-route-detail", "PUT"): lambda w: Call(
        f"/api/v1/approval-routes/{w.approval_route().pk}/",
        {
            "name": "Sales review",
            "plan": w.plan.pk,
            "remind_after_hours": 48,
            "steps": [
                {"name": "Comp admin review", "approver_kind": "comp_admin", "required_count": 1},
                {"name": "Finance approval", "approver_kind": "finance", "required_count": 2},
            ],
        },
    ),
    ("api-approval-route-detail", "DELETE"): lambda w: Call(
        f"/api/v1/approval-routes/{w.approval_route().pk}/"
    ),
    # --- disputes ------------------------------------------------------------------------
    ("api-dispute-list", "POST"): lambda w: Call(
        "/api/v1/disputes/",
        {
            "subject_kind": "line",
            "line": w.approved().lines[0].pk,
            "reason_code": "rate_tier",
            "description": "Why?",
        },
    ),
    ("api-dispute-comments", "POST"): lambda w: Call(
        f"/api/v1/disputes/{w.dispute().pk}/comments/", {"body": "Looking."}
    ),
    ("api-dispute-assign", "POST"): lambda w: Call(
        f"/api/v1/disputes/{w.dispute().pk}/assign/", {"assignee": w.admin.pk}
    ),
    ("api-dispute-resolve", "POST"): lambda w: Call(
        f"/api/v1/disputes/{w.dispute('dispute:resolve').pk}/resolve/",
        {"resolution": "Right.", "data_correction": "none"},
    ),
    ("api-dispute-reject", "POST"): lambda w: Call(
        f"/api/v1/disputes/{w.dispute('dispute:reject').pk}/reject/", {"reason": "As planned."}
    ),
    ("api-dispute-withdraw", "POST"): lambda w: Call(
        f"/api/v1/disputes/{w.dispute('dispute:withdraw').pk}/withdraw/", {"note": "Found it."}
    ),
    # --- accruals, nudges ----------------------------------------------------------------
    ("api-capitalization-policy-list", "POST"): lambda w: Call(
        "/api/v1/accruals/policies/",
        {"plan": w.plan.pk, "component_id": "commission", "benefit_months": 24},
    ),
    ("api-capitalization-policy-detail", "PATCH"): lambda w: Call(
        f"/api/v1/accruals/policies/{w.capitalization_policy().pk}/", {"benefit_months": 18}
    ),
    ("api-capitalization-policy-detail", "DELETE"): lambda w: Call(
        f"/api/v1/accruals/policies/{w.capitalization_policy().pk}/"
    ),
    ("api-nudge-preference", "PUT"): lambda w: Call(
        _as_erin(w, "/api/v1/nudges/preference/"),
        {"enabled": True, "email": True, "webhook_url": "", "quiet_until": None},
    ),
    # --- runs and exports -----------------------------------------------------------------
    ("api-run-list", "POST"): lambda w: Call("/api/v1/runs/", {"period": w.open_period().pk}),
    ("api-run-retry", "POST"): lambda w: Call(f"/api/v1/runs/{w.failed_run().pk}/retry/"),
    ("api-export-batch-list", "POST"): lambda w: Call(
        "/api/v1/export-batches/",
        {"periods": [w.approved().period.pk]},
        headers={"Idempotency-Key": "payroll-2026-01"},
    ),
    ("api-export-batch-mark-paid", "POST"): lambda w: Call(
        f"/api/v1/export-batches/{w.export_batch().pk}/mark-paid/"
    ),
    ("api-earning-code-list", "POST"): lambda w: Call(
        "/api/v1/earning-codes/", {"component": "commission", "code": "COMM"}
    ),
    ("api-earning-code-detail", "DELETE"): lambda w: Call(
        f"/api/v1/earning-codes/{w.earning_code().pk}/"
    ),
    # --- MBO objectives (plans/objectives.py) -----------------------------------------------
    ("api-objective-list", "POST"): lambda w: Call(
        "/api/v1/objectives/",
        {
            "person_id": w.org.wes.pk,
            "period_id": w.open_period().pk,
            "title": "Mentor two new hires",
            "weight": "100",
        },
    ),
    ("api-objective-detail", "PATCH"): lambda w: Call(
        f"/api/v1/objectives/{w.objective().pk}/", {"title": "Partner launch (DACH)"}
    ),
    ("api-objective-detail", "DELETE"): lambda w: Call(f"/api/v1/objectives/{w.objective().pk}/"),
    ("api-objective-set", "POST"): lambda w: Call(f"/api/v1/objectives/{w.objective().pk}/set/"),
    ("api-objective-submit", "POST"): lambda w: Call(
        f"/api/v1/objectives/{w.objective('set').pk}/submit/", {"completion": "75"}
    ),
    ("api-objective-sign-off", "POST"): lambda w: Call(
        f"/api/v1/objectives/{w.objective('submitted').pk}/sign-off/"
    ),
    ("api-objective-reopen", "POST"): lambda w: Call(
        f"/api/v1/objectives/{w.objective('signed_off').pk}/reopen/", {"reason": "Recount"}
    ),
    ("api-objective-comment", "POST"): lambda w: Call(
        f"/api/v1/objectives/{w.own_objective().pk}/comment/", {"comment": "On track"}
    ),
    ("api-run-schedule-list", "POST"): lambda w: Call(
        "/api/v1/run-schedules/",
        {"name": "Every 15 minutes", "cadence": "interval", "every_minutes": 15},
    ),
    ("api-run-schedule-detail", "PATCH"): lambda w: Call(
        f"/api/v1/run-schedules/{w.run_schedule().pk}/", {"time_of_day": "03:30"}
    ),
    ("api-run-schedule-detail", "DELETE"): lambda w: Call(
        f"/api/v1/run-schedules/{w.run_schedule().pk}/"
    ),
}


# Calls whose fixture needs pytest's monkeypatch (built before the request, like the others).
def _queued_not_run(w: World, monkeypatch: Any) -> None:
    """Starting a run writes its one event; executing it is the worker's (its own events). On
    the demo's SQLite, with no broker, ``core.tasks.start`` runs it inline inside the request:
    leave it queued, as a broker would, so the call is counted alike on both databases."""
    monkeypatch.setattr("payouts.runs.start", lambda *args, **kwargs: None)


NEEDS_MONKEYPATCH = {
    ("api-import-retry", "POST"): World.failed_import,
    ("api-run-list", "POST"): _queued_not_run,
    ("api-run-retry", "POST"): _queued_not_run,
}


def _version_preview(w: World) -> Call:
    """Erin on the plan with her quota, the draft previewed on March 2026 (payouts/preview.py)."""
    w.plan_assignment()
    w.quota()
    w.quota("expansion_bookings", "50000")
    period = w.calculated().period  # (before the draft: it reads the plan's one version)
    return Call(
        f"/api/v1/plans/{w.plan.pk}/versions/{w.draft().number}/preview/",
        {"person": w.org.erin.pk, "period": period.pk},
        events=0,
        why="computes a draft on real data beside the published version, writes nothing",
    )


MUTATIONS[("api-plan-version-preview", "POST")] = _version_preview


def _api_client(w: World) -> Any:
    from core import services

    return _fresh(
        w,
        lambda: (
            services.api_client_create(
                name="Old", scopes=["read:people"], created_by_id=w.admin.pk
            ).client
        ),
    )


def _my_assignment(w: World) -> Any:
    """Erin's plan assignment, with Erin linked to the admin's user (one acknowledges one's own)."""
    from hierarchy.models import Person

    assignment = w.plan_assignment()
    _fresh(w, lambda: Person.objects.filter(pk=w.org.erin.pk).update(user_id=w.admin.pk))
    return assignment


def _as_erin(w: World, url: str) -> str:
    """``url``, with Erin linked to the admin's user (a call about one's own person)."""
    from hierarchy.models import Person

    _fresh(w, lambda: Person.objects.filter(pk=w.org.erin.pk).update(user_id=w.admin.pk))
    return url


def _assignment(w: World, person: Any) -> Any:
    from hierarchy.models import Assignment

    return _fresh(w, lambda: Assignment.objects.known_now().get(person=person))


def _rule(w: World) -> Any:
    from incentives import services

    return w._once(
        "rule",
        lambda: services.crediting_rule_create(
            name="Owner", kind="direct", priority=20, valid_from=D(2026, 1, 1)
        ),
    )


# --- the walk -------------------------------------------------------------------------------


def mutating_endpoints(
    resolver: URLResolver | None = None, prefix: str = ""
) -> Iterator[tuple[str, str, str]]:
    """Yield (URL name, METHOD, route) for every API view method that can change data."""
    for pattern in (resolver or get_resolver()).url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from mutating_endpoints(pattern, route)
        elif isinstance(pattern, URLPattern) and route.startswith("api/v1/"):
            view = getattr(pattern.callback, "view_class", None) or getattr(
                pattern.callback, "cls", None
            )
            for method in MUTATING:
                if view is not None and hasattr(view, method):
                    yield str(pattern.name), method.upper(), route


ENDPOINTS = sorted({(name, method) for name, method, _ in mutating_endpoints()})


def test_every_mutating_endpoint_is_in_the_table():
    missing = [key for key in ENDPOINTS if key not in MUTATIONS]
    assert not missing, (
        "Mutating API endpoints with no audit-coverage entry; add each to MUTATIONS in "
        f"tests/test_audit_coverage.py (see the module docstring): {missing}"
    )
    stale = sorted(set(MUTATIONS) - set(ENDPOINTS))
    assert not stale, f"MUTATIONS names endpoints that do not exist: {stale}"


def build_world(tenant: Any, admin: Any) -> World:
    """Tenant A's org and a published Sales AE plan (tests/security/test_api_scopes.py too)."""
    from plans import services

    with tenant_scope(tenant):
        org = build_org(tenant)
        plan = services.plan_create(
            code="sales-ae",
            name="Sales AE",
            template="sales_ae",
            user_id=admin.pk,
            valid_from=D(2026, 1, 1),
        )
        services.plan_version_publish(version_id=plan.versions.get().pk, user_id=admin.pk)
    return World(tenant=tenant, admin=admin, org=org, plan=plan)


@pytest.fixture
def world(tenant_a: Any, alice: Any) -> World:
    return build_world(tenant_a, alice)


def send(client: Any, method: str, call: Call, **headers: str) -> Any:
    """Send ``call`` with ``method`` (and extra ``headers``) through a Django test client."""
    send = functools.partial(getattr(client, method.lower()), headers={**call.headers, **headers})
    if call.body is None:
        return send(call.url)
    if call.content_type == "multipart":
        return send(call.url, data=call.body)
    if call.content_type == "application/json":
        return send(call.url, data=json.dumps(call.body), content_type=call.content_type)
    return send(call.url, data=call.body, content_type=call.content_type)


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "method"), [k for k in ENDPOINTS if k in MUTATIONS])
def test_each_mutating_call_writes_exactly_one_audit_event(
    name, method, world, client_alice, monkeypatch, settings, tmp_path
):
    settings.VAR_DIR = tmp_path  # uploads are spooled under VAR_DIR
    # given the objects the call needs (not counted)
    if (name, method) in NEEDS_MONKEYPATCH:
        NEEDS_MONKEYPATCH[(name, method)](world, monkeypatch)
    call = MUTATIONS[(name, method)](world)
    assert call.events == 1 or call.why, f"{name} {method}: say why it writes {call.events} events"
    with tenant_scope(world.tenant):
        before = set(AuditEvent.objects.values_list("pk", flat=True))
    # when it is sent
    response = send(client_alice, method, call)
    # then it succeeded and wrote exactly the declared events
    assert response.status_code in call.status, (
        name,
        method,
        response.status_code,
        response.content[:600],
    )
    with tenant_scope(world.tenant):
        written = list(AuditEvent.objects.exclude(pk__in=before).values_list("action", flat=True))
    assert len(written) == call.events, (
        f"{method} {call.url} ({name}) wrote {len(written)} audit events {written}; "
        f"every mutating call writes exactly one (core.audit.audit_record in its service)"
    )
