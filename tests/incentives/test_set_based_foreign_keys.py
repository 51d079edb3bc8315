"""The import tables' foreign keys, checked set-based (``core.db.SetBasedForeignKeys``).

On PostgreSQL ``incentives_transaction`` and ``incentives_credit`` have no foreign-key
constraints (``db_constraint=False``): statement-level triggers check each statement's
references at once, and deferred triggers on the parents refuse to delete a referenced row.
These tests go around the ORM (raw SQL, ``queryset.update``) to try what Django's own
``on_delete`` would stop earlier: a dangling reference must still be impossible. SQLite keeps
its ordinary foreign keys (the last test).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from core.tenancy import tenant_scope
from hierarchy.models import Period, Person
from incentives.models import Credit, CreditingRule, IngestBatch, Transaction

pytestmark = pytest.mark.django_db
FY = dt.date(2024, 1, 1)


def _transaction(owner: Person | None, **extra: Any) -> Transaction:
    extra.setdefault("external_id", "FK-1")
    tx = _transaction_row(owner, **extra)
    tx.save()
    return tx


def _credit(tx: Transaction, person: Person, rule: CreditingRule, **ids: Any) -> Credit:
    credit = _credit_row(tx, person, rule, **ids)
    credit.save()
    return credit


def _credit_row(tx: Transaction, person: Person, rule: CreditingRule, **ids: Any) -> Credit:
    return Credit(
        transaction=tx,
        person=person,
        rule=rule,
        rule_version=1,
        kind="direct",
        share_ppm=1_000_000,
        amount=Decimal(100),
        currency="USD",
        credit_date=dt.date(2026, 2, 1),
        computed_at=timezone.now(),
        **ids,
    )


def _missing_id(model: Any) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT coalesce(max(id), 0) + 1000 FROM "{model._meta.db_table}"')  # noqa: S608 (model metadata)
        return int(cursor.fetchone()[0])


@pytest.fixture
def credited(in_org: Any) -> tuple[Any, Transaction, Credit]:
    seller = in_org.people["E1"]
    rule = next(iter(in_org.rules.values()))
    tx = _transaction(seller)
    period = Period.objects.filter(kind="monthly").order_by("start").first()
    assert period is not None
    return in_org, tx, _credit(tx, seller, rule, period=period)


def _refused(match: str) -> Any:
    return pytest.raises(IntegrityError, match=match)


@pytest.mark.needs_pg
@pytest.mark.parametrize(
    ("column", "model"),
    [
        ("owner_id", Person),
        ("batch_id", IngestBatch),
        ("tenant_id", None),  # the tenant: the table has no row-level security, any id > all
    ],
)
def test_a_transaction_with_a_dangling_reference_is_refused_at_its_insert(credited, column, model):
    org, _, _ = credited
    from core.models import Tenant

    missing = _missing_id(model or Tenant)
    # the tenant case: a missing tenant of its own, a real owner (row-level security would
    # refuse a row of another tenant than the current one first, so that one is set too)
    tenant, value = (missing, org.people["E1"].pk) if model is None else (org.tenant.pk, missing)
    target = "owner_id" if model is None else column
    sql = (
        'INSERT INTO "incentives_transaction" (tenant_id, source, external_id, version, kind, '
        "amount, currency, quantity, booked_on, account, product, region, attributes, touches, "
        "is_cancelled, content_hash, recorded_at, " + target + ") "
        "VALUES (%s, 'upload', 'FK-2', 1, 'new_business', 1, 'USD', 1, '2026-02-01', '', '', '', "
        "'{}', '[]', false, 'fk', now(), %s)"
    )
    params: list[Any] = [tenant, value]
    if model is None:
        sql = "SELECT set_config('app.tenant_id', %s, true); " + sql
        params.insert(0, str(missing))
    with (
        _refused(f"incentives_transaction_{column}_fk"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, params)
    assert not Transaction.objects.filter(external_id="FK-2").exists()


@pytest.mark.needs_pg
@pytest.mark.parametrize("field", ["person", "rule", "transaction", "period", "belongs_to_period"])
def test_a_credit_with_a_dangling_reference_is_refused_by_the_orm_and_by_update(credited, field):
    org, tx, credit = credited
    model = Credit._meta.get_field(field).related_model
    missing = _missing_id(model)
    # an UPDATE that moves the reference is checked too (only the references it changes)
    with _refused(f"incentives_credit_{field}_id_fk"), transaction.atomic():
        Credit.objects.filter(pk=credit.pk).update(**{f"{field}_id": missing})
    # and an INSERT through the ORM, with the message naming the key
    seller, rule = org.people["E2"], next(iter(org.rules.values()))
    kwargs = {f"{field}_id": missing} if field in {"period", "belongs_to_period"} else {}
    values = {"person": seller, "rule": rule, "transaction": tx}
    if field in values:
        values[field] = model(pk=missing)
    with _refused(rf"Key \({field}_id\)=\({missing}\) is not present"), transaction.atomic():
        _credit(values["transaction"], values["person"], values["rule"], **kwargs)
    credit.refresh_from_db()
    assert getattr(credit, f"{field}_id") != missing


@pytest.mark.needs_pg
def test_another_tenants_person_is_a_dangling_reference(credited, tenant_b):
    _, _, credit = credited
    with tenant_scope(tenant_b):
        stranger = Person.objects.get(employee_id="B1")
    with _refused("incentives_credit_person_id_fk"), transaction.atomic():
        Credit.objects.filter(pk=credit.pk).update(person_id=stranger.pk)
    with _refused("incentives_transaction_owner_id_fk"), transaction.atomic():
        _transaction(stranger, external_id="FK-3")


@pytest.mark.needs_pg
def test_an_update_that_keeps_the_references_is_not_refused(credited):
    _, tx, credit = credited
    now = timezone.now()
    assert Credit.objects.filter(pk=credit.pk).update(superseded_at=now) == 1
    assert Transaction.objects.filter(pk=tx.pk).update(superseded_at=now) == 1


def _transaction_row(owner: Person | None, **extra: Any) -> Transaction:
    return Transaction(
        source="upload",
        kind="new_business",
        amount=Decimal(100),
        currency="USD",
        booked_on=dt.date(2026, 2, 1),
        owner=owner,
        content_hash="fk",
        recorded_at=timezone.now(),
        **extra,
    )


def _delete_at_commit(table: str, pk: int) -> None:
    """DELETE a row with raw SQL (no ``on_delete`` of Django's) and check as COMMIT would."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f'DELETE FROM "{table}" WHERE id = %s', [pk])  # noqa: S608 (test constants)
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # what COMMIT does (a failure: the
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")  # savepoint's rollback restores it)


@pytest.mark.needs_pg
@pytest.mark.parametrize(
    ("table", "referenced_by"),
    [
        ("hierarchy_person", "incentives_transaction_owner_id_fk"),
        ("incentives_transaction", "incentives_credit_transaction_id_fk"),
        ("incentives_creditingrule", "incentives_credit_rule_id_fk"),
        ("hierarchy_period", "incentives_credit_period_id_fk"),
        ("incentives_ingestbatch", "incentives_transaction_batch_id_fk"),
    ],
)
def test_a_referenced_parent_cannot_be_deleted(credited, table, referenced_by):
    _, tx, credit = credited
    batch = IngestBatch.objects.create(
        kind="transactions", filename="fk.csv", created_at=timezone.now()
    )
    # a person nothing else refers to (an assignment's or the version log's own foreign key
    # would refuse first: people.person_create writes both)
    loner = Person.objects.create(employee_id="FK1", full_name="Fay Key", hire_date=FY)
    Transaction.objects.filter(pk=tx.pk).update(batch=batch, owner=loner)
    pk = {
        "hierarchy_person": loner.pk,
        "incentives_transaction": tx.pk,
        "incentives_creditingrule": credit.rule_id,
        "hierarchy_period": credit.period_id,
        "incentives_ingestbatch": batch.pk,
    }[table]
    with _refused(referenced_by):
        _delete_at_commit(table, pk)
    tx.refresh_from_db()
    assert tx.owner_id is not None and tx.batch_id == batch.pk


@pytest.mark.needs_pg
def test_a_referenced_tenant_cannot_be_deleted(db):
    from core.models import Tenant

    lone = Tenant.objects.create(slug="fk-lone", name="Only a transaction")
    with tenant_scope(lone):
        _transaction(None)
    with _refused("incentives_transaction_tenant_id_fk"):
        _delete_at_commit("core_tenant", lone.pk)
    assert Tenant.objects.filter(pk=lone.pk).exists()


@pytest.mark.needs_pg
def test_an_unreferenced_parent_is_deleted_and_django_on_delete_still_applies(credited):
    _, tx, _ = credited
    batch = IngestBatch.objects.create(
        kind="transactions", filename="fk.csv", created_at=timezone.now()
    )
    Transaction.objects.filter(pk=tx.pk).update(batch=batch)
    batch.delete()  # SET_NULL: Django clears the reference first, then deletes
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    tx.refresh_from_db()
    assert tx.batch_id is None
    spare = _transaction(None, external_id="FK-4")
    _delete_at_commit("incentives_transaction", spare.pk)
    assert not Transaction.objects.filter(pk=spare.pk).exists()


def test_sqlite_keeps_its_ordinary_foreign_keys(in_org):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only: PostgreSQL checks these keys with triggers (above)")
    with transaction.atomic():  # rolled back: the test's own teardown checks the keys too
        tx = _transaction(None, external_id="FK-5")
        Transaction.objects.filter(pk=tx.pk).update(owner_id=_missing_id(Person))
        with pytest.raises(IntegrityError, match=r"incentives_transaction\.owner_id"):
            connection.check_constraints(table_names=["incentives_transaction"])
        transaction.set_rollback(True)
