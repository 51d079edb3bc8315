"""Accruals: earned-but-unpaid from the ledger, ASC 340-40 schedules (the last month takes the
rounding remainder, sums exact), the policy services (one audit event each) and the API."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from core.models import AuditEvent, Role
from core.tenancy import tenant_scope
from hierarchy.models import Period
from payouts import accruals
from payouts.models import CapitalizationPolicy, EntryKind
from tests.factories.hierarchy import MembershipFactory, UserFactory
from tests.payouts.written_runs import ledger
from tests.tenancy import assert_not_found

D = dt.date


# --- straight-line, remainder in the last month -----------------------------------------------


@pytest.mark.parametrize(
    ("amount", "months", "currency", "first", "last"),
    [
        ("1000.00", 7, "USD", "142.85", "142.90"),
        ("100.00", 3, "USD", "33.33", "33.34"),
        ("0.05", 7, "USD", "0.00", "0.05"),
        ("1000", 7, "JPY", "142", "148"),
        ("10.000", 3, "BHD", "3.333", "3.334"),
        ("-1000.00", 7, "USD", "-142.85", "-142.90"),
        ("999999.99", 36, "USD", "27777.77", "27778.04"),
    ],
)
def test_the_last_month_takes_the_remainder_and_the_months_sum_exactly(
    amount: str, months: int, currency: str, first: str, last: str
) -> None:
    parts = accruals.straight_line(Decimal(amount), months, currency)
    assert len(parts) == months
    assert all(p == Decimal(first) for p in parts[:-1])
    assert parts[-1] == Decimal(last)
    assert sum(parts, Decimal(0)) == Decimal(amount)
    assert all(isinstance(p, Decimal) for p in parts)


def test_amortization_starts_the_month_after_the_period_ends() -> None:
    period = Period(start=D(2026, 1, 1), end=D(2026, 4, 1))  # Q1: ends 31 March
    assert accruals.amortization_start(period) == D(2026, 4, 1)
    december = Period(start=D(2026, 12, 1), end=D(2027, 1, 1))
    assert accruals.amortization_start(december) == D(2027, 1, 1)
    assert accruals.amortization_months(D(2026, 11, 1), 3) == [
        D(2026, 11, 1),
        D(2026, 12, 1),
        D(2027, 1, 1),
    ]


# --- from the ledger ---------------------------------------------


@pytest.fixture
def approved_q1(org: Any, written: Any) -> Any:
    """Q1 2026 approved (status only through the lifecycle) with ledger entries for Erin."""
    from tests.payouts.written_runs import approve

    approve(org.tenant, written.q1, written.run)
    return written


def test_unpaid_is_earned_plus_draws_minus_paid_with_holds_still_owed(
    org: Any, approved_q1: Any
) -> None:
    with tenant_scope(org.tenant):
        q1 = approved_q1.q1
        ledger(org.erin, q1, EntryKind.PAID, "-1000.00")
        ledger(org.wes, q1, EntryKind.HOLD, "-800.00")
        rows = accruals.unpaid_rows(by="period")
        people = {r.label: r for r in accruals.unpaid_rows(by="person")}
        centres = accruals.unpaid_rows(by="cost_centre")
    (row,) = rows
    # the approval entered 4,250 + 1,234,567.50 + 800 + 100
    assert row.earned == Decimal("1239717.5000")
    assert row.paid == Decimal("1000.0000")
    assert row.held == Decimal("800.0000")
    assert row.unpaid == Decimal("1238717.5000")
    assert people["Erin East"].unpaid == Decimal("1237817.5000")
    assert people["Wes West"].unpaid == Decimal("800.0000")  # held, still owed
    assert [c.label for c in centres] == ["UNASSIGNED"]


def test_capitalized_commissions_follow_the_most_specific_policy(
    org: Any, plan_a: Any, approved_q1: Any
) -> None:
    with tenant_scope(org.tenant):
        # given: everything over 12 months, but plan_a's commission over 7
        accruals.policy_create(benefit_months=12)
        accruals.policy_create(benefit_months=7, plan_id=plan_a.pk, component_id="commission")
        items = accruals.capitalized_list(as_of=D(2026, 5, 31))
        totals = accruals.asset_totals(items)
        months = accruals.month_rows(items, as_of=D(2026, 5, 31))
        by_person = {r.label: r for r in accruals.asset_rows(items, by="person")}
    by_key = {(c.person.full_name, c.component_id): c for c in items}
    erin = by_key[("Erin East", "commission")]
    assert erin.benefit_months == 7 and erin.start == D(2026, 4, 1)
    assert [a for _m, a in erin.schedule][-1] == Decimal("607.16")  # six of 607.14, then the rest
    assert sum(a for _m, a in erin.schedule) == Decimal("4250.00")
    accelerator = by_key[("Erin East", "accelerator")]
    assert accelerator.benefit_months == 12
    # April and May have ended by 31 May
    assert erin.amortized == Decimal("1214.28")
    assert erin.remaining == Decimal("3035.72")
    (total,) = totals
    assert total.capitalized == Decimal("1239717.50")
    assert total.capitalized == total.amortized + total.remaining
    assert sum(m.expense for m in months) == total.capitalized
    assert months[-1].remaining_after == Decimal("0.00")
    assert by_person["Wes West"].capitalized == Decimal("800.00")


def test_an_inactive_policy_capitalizes_nothing(org: Any, approved_q1: Any) -> None:
    with tenant_scope(org.tenant):
        accruals.policy_create(benefit_months=12, is_active=False)
        assert accruals.capitalized_list() == []


def test_every_policy_change_writes_exactly_one_audit_event(org: Any, plan_a: Any) -> None:
    with tenant_scope(org.tenant):
        before = AuditEvent.objects.count()
        policy = accruals.policy_create(benefit_months=24, plan_id=plan_a.pk)
        assert AuditEvent.objects.count() == before + 1
        accruals.policy_update(policy_id=policy.pk, benefit_months=36)
        assert AuditEvent.objects.count() == before + 2
        accruals.policy_delete(policy_id=policy.pk)
        assert AuditEvent.objects.count() == before + 3
        actions = list(AuditEvent.objects.order_by("-id").values_list("action", flat=True)[:3])
    assert actions == [
        "capitalization_policy.delete",
        "capitalization_policy.update",
        "capitalization_policy.create",
    ]


def test_bad_policies_are_refused_and_nothing_is_written(org: Any, plan_a: Any) -> None:
    from core.errors import ConflictError, ValidationFailedError

    with tenant_scope(org.tenant):
        for months in (0, 121, "x"):
            with pytest.raises(ValidationFailedError):
                accruals.policy_create(benefit_months=months)
        accruals.policy_create(benefit_months=12, plan_id=plan_a.pk)
        with pytest.raises(ConflictError):
            accruals.policy_create(benefit_months=6, plan_id=plan_a.pk)
        assert CapitalizationPolicy.objects.count() == 1


# --- the API -----------------------------------------------------------------------------------


def _member(tenant: Any, email: str, roles: list[str]) -> Client:
    user = UserFactory(email=email)
    MembershipFactory(user=user, tenant=tenant, roles=roles)
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.covers_url(
    "api-accruals",
    "api-accruals-capitalized",
    "api-capitalization-policy-list",
    "api-capitalization-policy-detail",
)
def test_finance_edits_policies_and_reads_accruals_other_tenants_get_404(
    org: Any, plan_a: Any, approved_q1: Any, client_charlie: Any
) -> None:
    finance = _member(org.tenant, "fin@acme.test", [Role.FINANCE])
    executive = _member(org.tenant, "exec@acme.test", [Role.EXECUTIVE])
    # create
    created = finance.post(
        "/api/v1/accruals/policies/",
        data=json.dumps({"plan": plan_a.pk, "component_id": "commission", "benefit_months": 7}),
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    # read
    unpaid = finance.get("/api/v1/accruals/?by=person").json()
    assert {r["label"] for r in unpaid["results"]} >= {"Erin East", "Wes West"}
    cap = finance.get("/api/v1/accruals/capitalized/?by=month&as_of=2026-12-31").json()
    assert cap["totals"][0]["capitalized"] == "5150.00"  # Erin 4,250 + Wes 800 + Mia 100
    assert executive.get("/api/v1/accruals/policies/").status_code == 200
    # an executive reads but does not edit
    refused = executive.patch(
        f"/api/v1/accruals/policies/{pk}/",
        data=json.dumps({"benefit_months": 9}),
        content_type="application/json",
    )
    assert refused.status_code == 403
    changed = finance.patch(
        f"/api/v1/accruals/policies/{pk}/",
        data=json.dumps({"benefit_months": 9}),
        content_type="application/json",
    )
    assert changed.status_code == 200 and changed.json()["benefit_months"] == 9
    bad = finance.post(
        "/api/v1/accruals/policies/",
        data=json.dumps({"benefit_months": 500}),
        content_type="application/json",
    )
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "validation_failed"
    # another tenant: the policy is not found, whatever the method; its lists omit ours
    url = f"/api/v1/accruals/policies/{pk}/"
    assert_not_found(client_charlie.get(url))
    assert_not_found(
        client_charlie.patch(
            url, data=json.dumps({"benefit_months": 3}), content_type="application/json"
        )
    )
    assert_not_found(client_charlie.delete(url))
    assert client_charlie.get("/api/v1/accruals/policies/").json() == []
    assert client_charlie.get("/api/v1/accruals/").json()["results"] == []
    assert client_charlie.get("/api/v1/accruals/capitalized/").json()["results"] == []
    assert finance.delete(url).status_code == 204
