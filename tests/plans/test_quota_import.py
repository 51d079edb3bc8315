"""Quota uploads through the import kernel: row errors with line and column, nothing
half-written, re-uploads change nothing."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pytest

from core.tenancy import tenant_scope
from hierarchy import periods
from plans.models import Quota
from plans.quota_import import quota_import_csv, quota_import_rows
from tests.plans.conftest import comp_admin_access

D = date
pytestmark = pytest.mark.django_db


def _csv(text: str) -> io.BytesIO:
    return io.BytesIO(text.encode())


GOOD = (
    "employee_id,node,quota_id,amount,currency,period,valid_from,valid_to\n"
    "E3,,new_bookings,100000,USD,,2026-01-01,2026-02-01\n"
    ",west,new_bookings,250000.50,USD,FY2026 Q1,,\n"
    'E4,,expansion_bookings,"20,000",,FY2026 M02,,\n'
)


def test_a_good_file_is_imported_and_a_second_upload_changes_nothing(org, alice, plan_a):
    with tenant_scope(org.tenant):
        periods.period_generate_fiscal_year(fiscal_year=2026)
        access = comp_admin_access(alice.pk)
        # when
        first = quota_import_csv(_csv(GOOD), access=access, user_id=alice.pk, plan_id=plan_a.pk)
        # then
        assert first.errors == []
        assert first.counts == {"rows": 3, "errors": 0, "created": 3, "changed": 0, "unchanged": 0}
        team = Quota.objects.get(node=org.west)
        assert (team.valid_from, team.valid_to, team.amount) == (
            D(2026, 1, 1),
            D(2026, 4, 1),
            Decimal("250000.50"),
        )
        feb = Quota.objects.get(person=org.wes)
        assert (feb.valid_from, feb.valid_to, feb.currency, feb.plan_id) == (
            D(2026, 2, 1),
            D(2026, 3, 1),
            "USD",  # the plan's
            plan_a.pk,
        )
        again = quota_import_csv(_csv(GOOD), access=access, user_id=alice.pk, plan_id=plan_a.pk)
        assert again.counts["unchanged"] == 3 and again.errors == []
        changed = quota_import_csv(
            _csv(GOOD.replace("100000,", "110000,")), access=access, user_id=alice.pk
        )
        assert (changed.counts["changed"], changed.counts["unchanged"]) == (1, 2)
        assert Quota.objects.get(person=org.erin).amount == Decimal("110000")


BAD = (
    "employee_id,node,quota_id,amount,currency,period,valid_from,valid_to\n"
    "E3,,new_bookings,100000,USD,,2026-01-01,2026-02-01\n"  # 2: good
    "NOPE,,new_bookings,1,USD,,2026-01-01,2026-02-01\n"  # 3: unknown person
    ",nowhere,new_bookings,1,USD,,2026-01-01,2026-02-01\n"  # 4: unknown node
    "E4,,new_bookings,1,USD,FY2031 Q9,,\n"  # 5: unknown period
    "E4,,pipeline,1,USD,,2026-01-01,2026-02-01\n"  # 6: not a quota id of the plan
    "E4,,new_bookings,-5,USD,,2026-01-01,2026-02-01\n"  # 7: negative
    "E3,,new_bookings,5,USD,,2026-01-15,2026-03-01\n"  # 8: overlaps line 2
    "E4,west,new_bookings,5,USD,,2026-01-01,2026-02-01\n"  # 9: two holders
    "E4,,new_bookings,5,USD,,2026-03-01,2026-02-01\n"  # 10: dates out of order
    "E4,,new_bookings,5,USD,,2026-01-01,\n"  # 11: no end
)


def test_every_bad_row_is_reported_with_line_column_and_reason_and_nothing_is_written(
    org, alice, plan_a
):
    with tenant_scope(org.tenant):
        access = comp_admin_access(alice.pk)
        out = quota_import_csv(_csv(BAD), access=access, user_id=alice.pk, plan_id=plan_a.pk)
        got = {(e.line, e.column, e.code) for e in out.errors}
        assert got == {
            (3, "employee_id", "unknown_person"),
            (4, "node", "unknown_node"),
            (5, "period", "unknown_period"),
            (6, "quota_id", "unknown_quota_id"),
            (7, "amount", "negative_amount"),
            (8, "valid_from", "quota_overlap"),
            (9, "employee_id", "one_holder"),
            (10, "valid_to", "dates_out_of_order"),
            (11, "valid_to", "required"),
        }
        assert out.counts["created"] == 0 and out.error_rows == 9
        assert Quota.objects.count() == 0  # all or nothing
        overlap = next(e for e in out.errors if e.code == "quota_overlap")
        assert "Person Erin East" in overlap.message
        # partial: the good row is written
        part = quota_import_csv(
            _csv(BAD), access=access, user_id=alice.pk, plan_id=plan_a.pk, mode="partial"
        )
        assert part.counts["created"] == 1 and Quota.objects.count() == 1


def test_a_dry_run_checks_everything_and_writes_nothing(org, alice):
    with tenant_scope(org.tenant):
        periods.period_generate_fiscal_year(fiscal_year=2026)
        out = quota_import_csv(
            _csv(GOOD), access=comp_admin_access(alice.pk), user_id=alice.pk, dry_run=True
        )
        assert out.errors == [] and out.counts["created"] == 3
        assert Quota.objects.count() == 0


def test_a_file_without_the_required_columns_fails_at_line_one(org, alice):
    with tenant_scope(org.tenant):
        out = quota_import_csv(
            _csv("employee_id,amount\nE3,5\n"), access=comp_admin_access(), user_id=None
        )
        assert out.file_error
        assert [(e.line, e.column, e.code) for e in out.errors] == [
            (1, "quota_id", "missing_column")
        ]


def test_a_row_without_currency_or_plan_takes_the_tenants_currency(org, alice):
    with tenant_scope(org.tenant):
        periods.period_generate_fiscal_year(fiscal_year=2026)
        quota_import_csv(_csv(GOOD), access=comp_admin_access(alice.pk), user_id=alice.pk)
        assert Quota.objects.get(person=org.wes).currency == org.tenant.default_currency


def test_json_rows_go_through_the_same_checks(org, alice, org_b):
    with tenant_scope(org.tenant):
        out = quota_import_rows(
            [
                {
                    "employee_id": "E3",
                    "quota_id": "q",
                    "amount": "5",
                    "currency": "USD",
                    "valid_from": "2026-01-01",
                    "valid_to": "2026-02-01",
                },
                # another tenant's employee id is unknown like any other
                {
                    "employee_id": "B-E3",
                    "quota_id": "q",
                    "amount": "5",
                    "currency": "USD",
                    "valid_from": "2026-01-01",
                    "valid_to": "2026-02-01",
                },
            ],
            access=comp_admin_access(),
            user_id=None,
        )
        assert [(e.line, e.code) for e in out.errors] == [(2, "unknown_person")]
