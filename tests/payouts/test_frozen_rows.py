"""The database refuses to rewrite what was paid: a succeeded run, payout lines, ledger entries.

Each through ``save()``, ``queryset.update()``, ``bulk_update`` and raw SQL, on SQLite and on
PostgreSQL (where the app role also lacks UPDATE and DELETE rights on the append-only tables).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from core.tenancy import tenant_scope
from hierarchy.models import Period
from payouts.models import CalculationRun, EntryKind, LedgerEntry, PayoutLine, RunStatus

D = dt.date


def _period() -> Period:
    return Period.objects.create(
        kind="monthly", fiscal_year=2026, start=D(2026, 1, 1), end=D(2026, 2, 1), label="Jan 2026"
    )


def _run(period: Period, status: str = RunStatus.RUNNING) -> CalculationRun:
    now = timezone.now()
    return CalculationRun.objects.create(
        period=period, number=1, status=status, known_at=now, created_at=now
    )


def _refused(action: Any) -> None:
    with pytest.raises(DatabaseError), transaction.atomic():
        action()


@pytest.fixture
def paid(org: Any, plan_a: Any) -> Any:
    with tenant_scope(org.tenant):
        period = _period()
        run = _run(period)
        line = PayoutLine.objects.create(
            run=run,
            period=period,
            person=org.erin,
            plan=plan_a,
            plan_version=plan_a.versions.get(),
            component_id="commission",
            kind="commission",
            amount=Decimal("100.00"),
            currency="USD",
        )
        entry = LedgerEntry.objects.create(
            person=org.erin,
            period=period,
            kind=EntryKind.EARNED,
            amount=Decimal("100.00"),
            currency="USD",
            run=run,
            line=line,
            created_at=timezone.now(),
        )
        CalculationRun.objects.filter(pk=run.pk).update(status=RunStatus.SUCCEEDED)
        run.refresh_from_db()
        yield run, line, entry


def test_a_running_run_moves_and_a_succeeded_run_is_frozen(org: Any) -> None:
    with tenant_scope(org.tenant):
        run = _run(_period())
        run.chunks_done = 3
        run.save()  # still running: progress moves
        CalculationRun.objects.filter(pk=run.pk).update(status=RunStatus.SUCCEEDED)
        run.refresh_from_db()
        run.chunks_done = 4
        _refused(run.save)
        _refused(lambda: CalculationRun.objects.filter(pk=run.pk).update(result_hash="x"))
        _refused(lambda: CalculationRun.objects.bulk_update([run], ["chunks_done"]))
        _refused(run.delete)


def test_payout_lines_and_ledger_entries_are_append_only(paid: Any) -> None:
    run, line, entry = paid
    with tenant_scope(run.tenant):
        for obj, model in ((line, PayoutLine), (entry, LedgerEntry)):
            obj.amount = Decimal("1.00")
            _refused(obj.save)
            _refused(lambda m=model, o=obj: m.objects.filter(pk=o.pk).update(amount=0))
            _refused(lambda m=model, o=obj: m.objects.bulk_update([o], ["amount"]))
            _refused(lambda m=model: m.objects.all().delete())
            table = model._meta.db_table
            _refused(lambda t=table: connection.cursor().execute(f'UPDATE "{t}" SET amount = 0'))  # noqa: S608
            _refused(lambda t=table: connection.cursor().execute(f'DELETE FROM "{t}"'))  # noqa: S608
        assert PayoutLine.objects.get(pk=line.pk).amount == Decimal("100.00")
        assert LedgerEntry.objects.get(pk=entry.pk).amount == Decimal("100.00")


@pytest.fixture
def closed(org: Any, plan_a: Any) -> Any:
    """A period closed through the lifecycle: its run, lines and the entries its approval wrote."""
    from tests.payouts.helpers import cast, walk_to

    with tenant_scope(org.tenant):
        p = _period()
        run = walk_to(p, "closed", cast(org.tenant), plan_a, [(org.erin, "250.00", "commission")])
        yield p, run, PayoutLine.objects.get(run=run), LedgerEntry.objects.get(run=run)


def test_a_closed_periods_run_lines_and_entries_refuse_every_change(closed: Any) -> None:
    p, run, line, entry = closed
    with tenant_scope(p.tenant):
        for obj, field, value in (
            (run, "result_hash", "forged"),
            (line, "amount", Decimal("1.00")),
            (entry, "amount", Decimal("1.00")),
        ):
            model = type(obj)
            setattr(obj, field, value)
            table = model._meta.db_table
            _refused(obj.save)
            _refused(
                lambda m=model, o=obj, f=field, v=value: m.objects.filter(pk=o.pk).update(**{f: v})
            )
            _refused(lambda m=model, o=obj, f=field: m.objects.bulk_update([o], [f]))
            _refused(lambda m=model, o=obj: m.objects.filter(pk=o.pk).delete())
            _refused(
                lambda t=table, o=obj: connection.cursor().execute(
                    f'DELETE FROM "{t}" WHERE id = %s',  # noqa: S608 (table from model metadata)
                    [o.pk],
                )
            )
        # and the period itself stays closed, its lock where close put it
        _refused(lambda: Period.objects.filter(pk=p.pk).update(status="open"))
        assert PayoutLine.objects.get(pk=line.pk).amount == Decimal("250.00")
        assert LedgerEntry.objects.get(pk=entry.pk).amount == Decimal("250.00")
        assert CalculationRun.objects.get(pk=run.pk).result_hash == ""


@pytest.mark.needs_pg
def test_the_app_role_lacks_update_and_delete_on_the_append_only_tables(db: None) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, usesuper FROM pg_user WHERE usename = current_user")
        user, superuser = cursor.fetchone()
        assert not superuser
        for table in ("payouts_ledgerentry", "payouts_payoutline", "payouts_linecontribution"):
            for privilege in ("UPDATE", "DELETE", "TRUNCATE"):
                cursor.execute("SELECT has_table_privilege(%s, %s, %s)", [user, table, privilege])
                assert cursor.fetchone() == (False,), (user, table, privilege)
            cursor.execute("SELECT has_table_privilege(%s, %s, 'INSERT')", [user, table])
            assert cursor.fetchone() == (True,)
