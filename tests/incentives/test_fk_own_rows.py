"""The set-based key check skips the row lock on the transaction's own rows (core.db,
``quotient_fk_children``): an import's credits reference the transactions its writer has just
inserted, which no other transaction can see, let alone delete. Everything else is checked and
locked as before (tests/incentives/test_set_based_foreign_keys.py). Not in a test transaction:
the rows must be written at the top level, as the writer writes them; rolled back at the end.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, transaction

from core.tenancy import tenant_scope
from hierarchy.models import Person
from incentives.models import Credit, Transaction
from tests.incentives.test_set_based_foreign_keys import (
    FY,
    _credit,
    _credit_row,
    _missing_id,
    _refused,
    _transaction,
    _transaction_row,
)


def _top_level(tx: Transaction) -> Transaction:
    """Insert ``tx`` in the current transaction itself (``create`` would use a savepoint)."""
    (row,) = Transaction.objects.bulk_create([tx])
    return row


def _locked(tx: Transaction) -> bool:
    """Whether a row lock (the key check's ``FOR KEY SHARE``) was taken on ``tx``'s row."""
    with connection.cursor() as cursor:
        cursor.execute('SELECT xmax::text FROM "incentives_transaction" WHERE id = %s', [tx.pk])
        return cursor.fetchone()[0] != "0"


@pytest.mark.needs_pg
def test_references_to_the_transactions_own_rows_are_checked_without_a_lock(
    django_db_setup: None, django_db_blocker: Any
) -> None:
    from core.models import Tenant
    from incentives import services

    # one transaction at the top level (no savepoint), as the import's writer has; rolled back
    with django_db_blocker.unblock(), transaction.atomic():
        acme = Tenant.objects.create(slug="fk-own", name="Own rows")
        other = Tenant.objects.create(slug="fk-other", name="Other")
        with tenant_scope(acme):
            seller = Person.objects.create(employee_id="S1", full_name="Sal", hire_date=FY)
            rule = services.crediting_rule_create(
                name="Owner", kind="direct", priority=1, valid_from=FY
            )
            with transaction.atomic():  # a subtransaction's row: not the top level's own
                before = _transaction(seller, external_id="FK-OLD")
            fresh = _top_level(_transaction_row(seller, external_id="FK-NEW"))
            _credit(fresh, seller, rule)
            assert not _locked(fresh)  # nobody else can see it: nothing to lock it against
            _credit(before, seller, rule)
            assert _locked(before)  # any other row is locked against a DELETE, as before
        with tenant_scope(other):
            stranger = _top_level(_transaction_row(None, external_id="FK-B"))  # ours, tenant B's
        with tenant_scope(acme):
            with _refused("incentives_credit_transaction_id_fk"), transaction.atomic():
                _credit(stranger, seller, rule)  # still a dangling reference in tenant A
            missing = Transaction(pk=_missing_id(Transaction))
            with _refused("incentives_credit_transaction_id_fk"), transaction.atomic():
                # one own row and one missing: the statement is checked whole, not its first
                Credit.objects.bulk_create([_credit_row(t, seller, rule) for t in (fresh, missing)])
            assert Credit.objects.filter(transaction=fresh).count() == 1
        transaction.set_rollback(True)
