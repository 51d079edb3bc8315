"""Export batches: approved ledger amounts exported once each, the same bytes every time, PAID
ledger entries on mark-paid, the payroll file and GL summary, formula cells neutralised."""

from __future__ import annotations

import csv
import io
import json
import threading
import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction

from core.audit import Actor, acting_as
from core.errors import ConflictError, ValidationFailedError
from core.models import AuditEvent
from core.tenancy import tenant_scope
from hierarchy.models import PeriodStatus, Person
from payouts import exports
from payouts.models import (
    EntryKind,
    ExportBatch,
    ExportedLine,
    ExportStatus,
    LedgerEntry,
)
from payouts.selectors import period_checklist
from tests.payouts.exports_fixtures import D, approved_period, entry
from tests.payouts.helpers import cast


def _rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode())))


@pytest.fixture
def approved(org: Any, plan_a: Any) -> Any:
    with tenant_scope(org.tenant):
        Person.objects.filter(pk=org.erin.pk).update(attributes={"cost_centre": "CC-EAST"})
        Person.objects.filter(pk=org.wes.pk).update(attributes={"cost_centre": "=HYPERLINK(1)"})
        return approved_period(org, plan_a)


def test_a_batch_exports_the_approved_amounts_once_each(org: Any, approved: Any) -> None:
    with tenant_scope(org.tenant):
        # given an adjustment and a hold on Erin besides the earned lines
        entry(org.erin, approved.period, EntryKind.ADJUSTMENT, "50.00", component_id="commission")
        entry(org.erin, approved.period, EntryKind.HOLD, "-100.00", component_id="commission")
        finance = cast(org.tenant).finance

        def pending() -> int:
            return period_checklist(period_id=approved.period.pk, principal=finance).exports_pending

        assert pending() == 6  # the period-close checklist counts what is left to export
        # when
        batch, created = exports.export_batch_create(
            period_ids=[approved.period.pk], idempotency_key="k1"
        )
        # then earned 1250.50 + 50 - 100 hold
        assert created and batch.number == 1 and pending() == 0
        assert batch.line_count == 6
        assert batch.totals == {"USD": "1200.5000"}
        assert ExportedLine.objects.filter(batch=batch).count() == 6
        assert AuditEvent.objects.filter(action="export_batch.create").count() == 1
        # a second batch over the same period has nothing left to export
        with pytest.raises(ConflictError) as exc:
            exports.export_batch_create(period_ids=[approved.period.pk], idempotency_key="k2")
        assert exc.value.code == "nothing_to_export"
        # a late adjustment is exported by the next batch, alone
        entry(org.erin, approved.period, EntryKind.ADJUSTMENT, "7.25", component_id="spiff")
        second, _ = exports.export_batch_create(
            period_ids=[approved.period.pk], idempotency_key="k3"
        )
        assert second.line_count == 1 and second.totals == {"USD": "7.2500"}
        assert pending() == 0


def test_the_same_key_returns_the_same_batch_and_a_different_request_is_refused(
    org: Any, approved: Any
) -> None:
    with tenant_scope(org.tenant):
        first, created = exports.export_batch_create(
            period_ids=[approved.period.pk], idempotency_key="same"
        )
        again, created_again = exports.export_batch_create(
            period_ids=[approved.period.pk], idempotency_key="same"
        )
        assert created and not created_again and again.pk == first.pk
        with pytest.raises(ConflictError) as exc:
            exports.export_batch_create(
                period_ids=[approved.period.pk], idempotency_key="same", format="xlsx"
            )
        assert exc.value.code == "idempotency_key_reused"
        assert ExportBatch.objects.count() == 1


def test_only_approved_or_closed_periods_are_exported(org: Any, plan_a: Any) -> None:
    with tenant_scope(org.tenant):
        calculated = approved_period(org, plan_a, status=PeriodStatus.CALCULATED)
        with pytest.raises(ValidationFailedError) as exc:
            exports.export_batch_create(period_ids=[calculated.period.pk], idempotency_key="x")
        assert exc.value.code == "period_not_approved"
        assert "calculated" in exc.value.message
        closed = approved_period(
            org,
            plan_a,
            start=D(2026, 2, 1),
            end=D(2026, 3, 1),
            label="Feb 2026",
            status=PeriodStatus.CLOSED,
        )
        batch, _ = exports.export_batch_create(period_ids=[closed.period.pk], idempotency_key="y")
        assert batch.line_count == 4
        with pytest.raises(ValidationFailedError):
            exports.export_batch_create(period_ids=[], idempotency_key="z")
        with pytest.raises(ValidationFailedError, match="Idempotency-Key"):
            exports.export_batch_create(period_ids=[closed.period.pk], idempotency_key=" ")


def test_the_files_are_the_same_bytes_every_time_and_formula_cells_are_neutralised(
    org: Any, approved: Any
) -> None:
    with tenant_scope(org.tenant):
        batch, _ = exports.export_batch_create(period_ids=[approved.period.pk], idempotency_key="k")
        for content, fmt in [("lines", "csv"), ("lines", "xlsx"), ("lines", "json"), ("gl", "csv")]:
            first = exports.export_batch_file(batch_id=batch.pk, content=content, format=fmt)
            # a person's cost centre changing afterwards changes nothing already exported
            Person.objects.filter(pk=org.erin.pk).update(attributes={"cost_centre": "CC-NEW"})
            second = exports.export_batch_file(batch_id=batch.pk, content=content, format=fmt)
            assert first.data == second.data and first.sha256 == second.sha256
        lines = exports.export_batch_file(batch_id=batch.pk, content="lines", format="csv")
        assert lines.sha256 == batch.sha256  # the batch's own file, hashed at creation
        rows = _rows(lines.data)
        assert rows[0][:3] == ["batch", "period", "employee_id"]
        cost_centres = {r[2]: r[4] for r in rows[1:]}
        assert cost_centres == {"E3": "CC-EAST", "E4": "'=HYPERLINK(1)"}
        doc = json.loads(
            exports.export_batch_file(batch_id=batch.pk, content="lines", format="json").data
        )
        assert sum(Decimal(r["amount"]) for r in doc["rows"]) == Decimal("1250.50")
        gl = _rows(exports.export_batch_file(batch_id=batch.pk, content="gl", format="csv").data)
        assert gl[1:] == [
            ["'=HYPERLINK(1)", "Jan 2026", "USD", "250.50", "2"],  # to the cent, as journals post
            ["CC-EAST", "Jan 2026", "USD", "1000.00", "2"],
        ]


def test_the_xlsx_file_holds_formula_text_as_text(org: Any, approved: Any) -> None:
    from openpyxl import load_workbook

    with tenant_scope(org.tenant):
        batch, _ = exports.export_batch_create(
            period_ids=[approved.period.pk], idempotency_key="k", format="xlsx"
        )
        data = exports.export_batch_file(batch_id=batch.pk, content="lines", format="xlsx").data
    sheet = load_workbook(io.BytesIO(data)).active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    cells = [c for row in sheet.iter_rows() for c in row]
    assert all(c.data_type != "f" for c in cells)
    assert "'=HYPERLINK(1)" in {row[4] for row in values}


def test_the_payroll_file_maps_earning_codes_and_sums_per_employee(org: Any, approved: Any) -> None:
    with tenant_scope(org.tenant):
        batch, _ = exports.export_batch_create(
            period_ids=[approved.period.pk], idempotency_key="k", pay_date=D(2026, 2, 15)
        )
        # without codes the payroll file is refused, naming the components, and nothing is kept
        with pytest.raises(ValidationFailedError) as exc:
            exports.export_batch_file(batch_id=batch.pk, content="payroll", format="csv")
        assert exc.value.code == "earning_code_missing"
        assert exc.value.details["components"] == ["commission", "spiff"]
        exports.earning_code_set(component_id="commission", code="COMM")
        exports.earning_code_set(component_id="spiff", code="SPF")
        # a plan-specific code wins over the tenant-wide one
        exports.earning_code_set(
            component_id="spiff", code="SPF-AE", plan_id=approved.lines[0].plan_id
        )
        payroll = exports.export_batch_file(batch_id=batch.pk, content="payroll", format="csv")
        rows = _rows(payroll.data)
        assert rows == [
            ["employee_id", "earning_code", "amount", "currency", "pay_date"],
            ["E3", "COMM", "800.00", "USD", "2026-02-15"],
            ["E3", "SPF-AE", "200.00", "USD", "2026-02-15"],
            ["E4", "COMM", "200.40", "USD", "2026-02-15"],
            ["E4", "SPF-AE", "50.10", "USD", "2026-02-15"],
        ]
        # sums per currency to the batch's approved total
        assert sum(Decimal(r[2]) for r in rows[1:]) == Decimal(batch.totals["USD"])
        # a later change of a code does not change the file already handed over
        exports.earning_code_set(component_id="commission", code="CHANGED")
        again = exports.export_batch_file(batch_id=batch.pk, content="payroll", format="csv")
        assert again.data == payroll.data


def test_marking_paid_writes_one_paid_entry_per_line_and_freezes_the_batch(
    org: Any, approved: Any
) -> None:
    with tenant_scope(org.tenant), acting_as(Actor(label="finance@acme.test")):
        entry(org.erin, approved.period, EntryKind.ADJUSTMENT, "5.00", component_id="commission")
        batch, _ = exports.export_batch_create(period_ids=[approved.period.pk], idempotency_key="k")
        paid = exports.export_batch_mark_paid(batch_id=batch.pk)
        assert paid.status == ExportStatus.PAID and paid.paid_by_label == "finance@acme.test"
        entries = LedgerEntry.objects.filter(kind=EntryKind.PAID)
        assert entries.count() == 5
        assert sum(e.amount for e in entries) == Decimal("-1255.50")  # what was owed, paid
        assert entries.filter(line__isnull=False).count() == 4
        with pytest.raises(ConflictError) as exc:
            exports.export_batch_mark_paid(batch_id=batch.pk)
        assert exc.value.code == "already_paid"
        assert LedgerEntry.objects.filter(kind=EntryKind.PAID).count() == 5
        assert AuditEvent.objects.filter(action="export_batch.mark_paid").count() == 1
        # the database refuses to change a paid batch or an exported line
        with pytest.raises(DatabaseError), transaction.atomic():
            ExportBatch.objects.filter(pk=batch.pk).update(line_count=1)
        with pytest.raises(DatabaseError), transaction.atomic():
            ExportedLine.objects.filter(batch=batch).update(amount=0)
        with pytest.raises(DatabaseError), transaction.atomic():
            ExportedLine.objects.filter(batch=batch).delete()


def test_a_held_line_is_exported_with_its_hold_and_paid_without_a_clash(
    org: Any, plan_a: Any
) -> None:
    with tenant_scope(org.tenant):
        # given a hold on Erin when the period was approved: EARNED and HOLD on each line
        held = approved_period(org, plan_a, hold="erin")
        kinds = sorted(e.kind for e in held.entries if e.person_id == org.erin.pk)
        assert kinds == ["earned", "earned", "hold", "hold"]
        # when
        batch, _ = exports.export_batch_create(period_ids=[held.period.pk], idempotency_key="h")
        paid = exports.export_batch_mark_paid(batch_id=batch.pk)
        # then Erin's held amount nets to zero and only Wes is paid money
        assert batch.line_count == 6 and batch.totals == {"USD": "250.5000"}
        assert paid.status == ExportStatus.PAID
        payments = LedgerEntry.objects.filter(kind=EntryKind.PAID)
        assert payments.count() == 6
        assert payments.filter(line__isnull=False).count() == 4  # one per line, its EARNED
        assert sum(e.amount for e in payments) == Decimal("-250.50")
        # and the ledger's balance of the period is zero once paid
        owed = LedgerEntry.objects.filter(period=held.period).values_list("amount", flat=True)
        assert sum(owed, Decimal(0)) == 0


def test_a_payout_line_is_exported_once_even_through_a_second_entry(
    org: Any, approved: Any
) -> None:
    with tenant_scope(org.tenant):
        batch, _ = exports.export_batch_create(period_ids=[approved.period.pk], idempotency_key="k")
        first = ExportedLine.objects.filter(batch=batch).first()
        assert first is not None
        # the database holds "once per payout line" whatever a service might try
        with pytest.raises(DatabaseError), transaction.atomic():
            ExportedLine.objects.create(
                batch=batch,
                entry=entry(org.erin, approved.period, EntryKind.ADJUSTMENT, "1.00"),
                line=first.line,
                period=first.period,
                person=first.person,
                employee_id="E3",
                full_name="x",
                kind=first.kind,
                amount=1,
                currency="USD",
                created_at=first.created_at,
            )


def test_person_and_business_unit_narrow_the_batch(org: Any, approved: Any) -> None:
    with tenant_scope(org.tenant):
        preview = exports.export_preview(period_ids=[approved.period.pk], person_id=org.wes.pk)
        assert (preview.line_count, preview.people_count) == (2, 1)
        assert preview.totals == {"USD": Decimal("250.50")}
        east = exports.export_preview(period_ids=[approved.period.pk], business_unit_id=org.east.pk)
        assert east.line_count == 2 and east.totals == {"USD": Decimal("1000.00")}
        batch, _ = exports.export_batch_create(
            period_ids=[approved.period.pk], business_unit_id=org.east.pk, idempotency_key="e"
        )
        assert set(batch.lines.values_list("employee_id", flat=True)) == {"E3"}
        rest = exports.export_preview(period_ids=[approved.period.pk])
        assert rest.line_count == 2 and rest.already_exported == 2


def test_the_payouts_read_shows_each_amount_approved_exported_then_paid(
    org: Any, approved: Any
) -> None:
    with tenant_scope(org.tenant):

        def statuses() -> set[str]:
            return set(exports.payout_list().values_list("export_status", flat=True))

        assert statuses() == {"approved"}
        batch, _ = exports.export_batch_create(period_ids=[approved.period.pk], idempotency_key="k")
        assert statuses() == {"exported"}
        exports.export_batch_mark_paid(batch_id=batch.pk)
        assert statuses() == {"paid"}
        # PAID entries are not themselves payable amounts
        assert exports.payout_list().count() == 4


@pytest.fixture
def committed(django_db_blocker: Any) -> Any:
    """Autocommit on the test database (threads see each other's rows), then wipe it as the
    owner with the append-only triggers off, as a transactional test's flush would."""
    from django.core.management import call_command

    from core.management.base import use_app_role, use_owner_role

    with django_db_blocker.unblock():
        yield
        use_owner_role()
        try:
            with connection.cursor() as cursor:
                tables = connection.introspection.django_table_names(only_existing=True)
                for table in tables:
                    cursor.execute(f'ALTER TABLE "{table}" DISABLE TRIGGER USER')
                call_command("flush", interactive=False, verbosity=0)
                with connection.cursor() as again:
                    for table in tables:
                        again.execute(f'ALTER TABLE "{table}" ENABLE TRIGGER USER')
        finally:
            use_app_role()


@pytest.mark.needs_pg
def test_two_concurrent_creates_with_one_key_make_one_batch(committed: Any) -> None:
    from plans import services as plan_services
    from tests.factories.hierarchy import TenantFactory
    from tests.hierarchy.conftest import build_org

    tenant = TenantFactory(slug=f"race-{uuid.uuid4().hex[:8]}", name="Race")
    with tenant_scope(tenant):
        org = build_org(tenant)
        plan = plan_services.plan_create(
            code="ae", name="AE", template="sales_ae", user_id=None, valid_from=D(2026, 1, 1)
        )
        plan_services.plan_version_publish(version_id=plan.versions.get().pk, user_id=None)
        approved = approved_period(org, plan)
    results: list[Any] = []
    barrier = threading.Barrier(2)

    def create(key: str) -> None:
        try:
            with tenant_scope(tenant):
                barrier.wait()
                batch, created = exports.export_batch_create(
                    period_ids=[approved.period.pk], idempotency_key=key
                )
                results.append((batch.pk, created))
        except Exception as exc:  # the assertion shows it
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=create, args=("race",)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 2 and all(isinstance(r, tuple) for r in results), results
    assert {r[0] for r in results} == {results[0][0]}
    assert sorted(r[1] for r in results) == [False, True]
    # two keys at once: one batch takes every line, the other finds nothing left
    with tenant_scope(tenant):
        entry(org.erin, approved.period, EntryKind.ADJUSTMENT, "9.00", component_id="spiff")
    results.clear()
    barrier.reset()
    threads = [threading.Thread(target=create, args=(k,)) for k in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    outcomes = sorted(
        "created" if isinstance(r, tuple) else getattr(r, "code", repr(r)) for r in results
    )
    assert outcomes == ["created", "nothing_to_export"], results
    with tenant_scope(tenant):
        assert ExportBatch.objects.count() == 2
        assert ExportedLine.objects.count() == 5


def test_the_payroll_file_sums_per_currency_to_the_frozen_statements_payable(
    org: Any, plan_a: Any
) -> None:
    from payouts.models import Statement

    with tenant_scope(org.tenant):
        # given a period approved with Erin held, so statements and export both net her out
        held = approved_period(org, plan_a, hold="erin", amounts={"erin": "999.99", "wes": "0.03"})
        exports.earning_code_set(component_id="commission", code="COMM")
        exports.earning_code_set(component_id="spiff", code="SPF")
        batch, _ = exports.export_batch_create(period_ids=[held.period.pk], idempotency_key="s")
        payroll = _rows(
            exports.export_batch_file(batch_id=batch.pk, content="payroll", format="csv").data
        )
        # then
        by_currency: dict[str, Decimal] = {}
        for _emp, _code, amount, currency, _day in payroll[1:]:
            by_currency[currency] = by_currency.get(currency, Decimal(0)) + Decimal(amount)
        frozen: dict[str, Decimal] = {}
        for s in Statement.objects.filter(period=held.period):
            frozen[s.currency] = frozen.get(s.currency, Decimal(0)) + s.payable
        assert by_currency == frozen == {"USD": Decimal("0.03")}


def test_a_payroll_row_that_sums_to_zero_is_left_out(org: Any, approved: Any) -> None:
    with tenant_scope(org.tenant):
        # given Erin's 200.00 spiff taken back in the same period
        plan_id = approved.lines[0].plan_id
        entry(
            org.erin,
            approved.period,
            EntryKind.ADJUSTMENT,
            "-200.00",
            component_id="spiff",
            plan_id=plan_id,
        )
        exports.earning_code_set(component_id="commission", code="COMM")
        exports.earning_code_set(component_id="spiff", code="SPF")
        batch, _ = exports.export_batch_create(
            period_ids=[approved.period.pk], idempotency_key="k", pay_date=D(2026, 2, 15)
        )
        rows = _rows(
            exports.export_batch_file(batch_id=batch.pk, content="payroll", format="csv").data
        )
    # then her zero spiff is no pay instruction
    assert [r[:3] for r in rows[1:]] == [
        ["E3", "COMM", "800.00"],
        ["E4", "COMM", "200.40"],
        ["E4", "SPF", "50.10"],
    ]


def test_an_export_without_a_pay_date_pays_today_never_a_day_past(org: Any, approved: Any) -> None:
    from hierarchy.periods import tenant_today

    with tenant_scope(org.tenant):
        # the approved period ended in January 2026: its pay date is today, not 31 Jan
        batch, _ = exports.export_batch_create(period_ids=[approved.period.pk], idempotency_key="k")
        assert batch.pay_date == tenant_today(org.tenant)
        # the same key without a pay date replays the batch (another day would too)
        again, created = exports.export_batch_create(
            period_ids=[approved.period.pk], idempotency_key="k"
        )
        assert (again.pk, created) == (batch.pk, False)
