"""The change feed's mechanics: keys recorded once, per tenant; claims that a rollback undoes.

What each domain write records is tested next to it (tests/incentives/test_change_feed.py,
tests/hierarchy/test_change_feed.py).
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection, transaction

from core.changes import (
    ChangeKey,
    MonthKeys,
    changes_claim,
    changes_pending,
    changes_record,
    changes_record_select,
    month_keys,
    month_of,
)
from core.models import Change, ChangeKind
from core.tenancy import tenant_scope

D = dt.date


def _keys(queryset) -> set[tuple]:
    return {(c.kind, c.person_id, c.node_id, c.valid_from, c.valid_to) for c in queryset}


def test_month_keys_bucket_days_by_calendar_month():
    keys = month_keys([1, 1, 1, 2], [D(2026, 1, 31), D(2026, 1, 1), D(2026, 2, 1), D(2026, 12, 9)])
    assert keys == {
        ChangeKey(valid_from=D(2026, 1, 1), valid_to=D(2026, 2, 1), person_id=1),
        ChangeKey(valid_from=D(2026, 2, 1), valid_to=D(2026, 3, 1), person_id=1),
        ChangeKey(valid_from=D(2026, 12, 1), valid_to=D(2027, 1, 1), person_id=2),
    }
    assert month_of(D(2024, 2, 29)) == (D(2024, 2, 1), D(2024, 3, 1))
    assert month_keys([], []) == set()


def test_month_keys_gathered_chunk_by_chunk_are_the_keys_of_all_the_chunks():
    import numpy as np
    import pandas as pd

    months = MonthKeys()
    months.add(np.array([7, 7], dtype=np.int64), [D(2026, 1, 5), D(2026, 3, 2)])
    months.add(pd.Series([7, 8]), pd.Series([D(2026, 1, 30), D(2026, 1, 1)]))  # one seen before
    months.add([], [])
    assert months.as_keys() == month_keys([7, 7, 8], [D(2026, 1, 1), D(2026, 3, 1), D(2026, 1, 9)])
    assert {type(k.person_id) for k in months.as_keys()} == {int}
    assert len(months.as_keys()) == 3


def test_keys_are_recorded_once_and_only_seen_by_their_tenant(tenant_a, tenant_b):
    key = ChangeKey(valid_from=D(2026, 3, 1), valid_to=None, node_id=5)
    with tenant_scope(tenant_a):
        assert changes_record(kind=ChangeKind.NODE_PARENT, keys=[key, key]) == 1
        assert _keys(changes_pending()) == {("node_parent", None, 5, D(2026, 3, 1), None)}
    with tenant_scope(tenant_b):
        assert not changes_pending().exists()


def test_a_set_based_select_records_its_distinct_rows(tenant_a):
    start, end = D(2026, 4, 1), D(2026, 5, 1)
    with tenant_scope(tenant_a):
        written = changes_record_select(
            kind=ChangeKind.CREDIT,
            select="SELECT 3 AS person_id, CAST(NULL AS BIGINT) AS node_id, %s AS valid_from, "
            "%s AS valid_to UNION ALL SELECT 3, CAST(NULL AS BIGINT), %s, %s",
            params=[start, end, start, end],
        )
        assert written == 1
        assert _keys(Change.objects.all()) == {("credit", 3, None, start, end)}


def test_an_unknown_kind_is_refused(tenant_a):
    with tenant_scope(tenant_a), pytest.raises(ValueError, match="ChangeKind"):
        changes_record(kind="payroll", keys=[ChangeKey(valid_from=D(2026, 1, 1))])


def test_keys_roll_back_with_the_write(tenant_a):
    with tenant_scope(tenant_a):
        with transaction.atomic():
            changes_record(kind=ChangeKind.FX_RATE, keys=[ChangeKey(valid_from=D(2026, 1, 1))])
            transaction.set_rollback(True)
        assert not Change.objects.exists()


def test_a_claim_hands_out_the_oldest_pending_changes_and_a_rollback_returns_them(tenant_a):
    with tenant_scope(tenant_a):
        for month in (1, 2, 3):
            changes_record(
                kind=ChangeKind.CREDIT,
                keys=[ChangeKey(valid_from=D(2026, month, 1), valid_to=D(2026, month + 1, 1))],
            )
        # a consumer that fails after claiming gives its changes back
        with transaction.atomic():
            first = changes_claim(limit=2)
            assert [c.valid_from.month for c in first] == [1, 2]
            assert changes_pending().count() == 1
            transaction.set_rollback(True)
        assert changes_pending().count() == 3
        # a consumer that commits has consumed them; the next claim gets the rest
        with transaction.atomic():
            assert [c.valid_from.month for c in changes_claim(limit=2)] == [1, 2]
        with transaction.atomic():
            rest = changes_claim()
        assert [c.valid_from.month for c in rest] == [3]
        assert all(c.claimed_at is not None for c in rest)
        assert not changes_pending().exists()


@pytest.mark.needs_pg
def test_row_level_security_hides_other_tenants_changes_from_raw_sql(tenant_a, tenant_b):
    with tenant_scope(tenant_a):
        changes_record(kind=ChangeKind.FX_RATE, keys=[ChangeKey(valid_from=D(2026, 1, 1))])
    with tenant_scope(tenant_a), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM core_change")
        assert cursor.fetchone() == (1,)
    with tenant_scope(tenant_b), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM core_change")
        assert cursor.fetchone() == (0,)
