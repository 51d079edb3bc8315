"""COPY text rendering (core.db.copy_text) and model instances inserted through it."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction

from core.db import bulk_create_copy, copy_text, copy_text_column
from core.tenancy import tenant_scope


def test_repeated_dates_and_nulls_render_like_single_values():
    days = [dt.date(2026, 1, 2), None, dt.date(2026, 1, 2), dt.date(2025, 12, 31)] * 5
    assert copy_text_column(days) == ["2026-01-02", "\\N", "2026-01-02", "2025-12-31"] * 5


def test_equal_decimals_keep_their_own_scale():
    # Decimal("1.0") == Decimal("1.00"): rendering them once each would lose a scale
    values = [Decimal("1.0"), Decimal("1.00"), Decimal("1")] * 4
    assert copy_text_column(values) == ["1.0", "1.00", "1"] * 4


def test_flags_and_escapes():
    assert copy_text_column([True, False, None, True] * 3) == ["t", "f", "\\N", "t"] * 3
    assert copy_text_column(["a\tb", "a\tb", "c", "c", "c", "c", "c", "c"])[:3] == [
        "a\\tb",
        "a\\tb",
        "c",
    ]


def test_rows_from_columns():
    text = copy_text([[1, 2], ["x", None], [dt.date(2026, 3, 1)] * 2])
    assert text == "1\tx\t2026-03-01\n2\t\\N\t2026-03-01\n"


@pytest.mark.django_db
def test_bulk_create_copy_sets_ids_and_auto_dates(tenant_a):
    tenant = tenant_a
    from hierarchy.models import Person

    with tenant_scope(tenant):
        with transaction.atomic():
            people = bulk_create_copy(
                Person,
                [
                    Person(
                        tenant=tenant,
                        employee_id=f"C{i}",
                        full_name=f"Copy {i}",
                        hire_date=dt.date(2024, 1, 1),
                        home_currency="EUR",
                        base_salary=Decimal("1234.50"),
                        attributes={"level": str(i), "note": "tab\there"},
                    )
                    for i in range(3)
                ],
            )
        stored = {p.employee_id: p for p in Person.objects.filter(employee_id__startswith="C")}
    assert [p.pk for p in people] == [stored[f"C{i}"].pk for i in range(3)]
    assert stored["C2"].attributes == {"level": "2", "note": "tab\there"}
    assert stored["C1"].base_salary == Decimal("1234.50")
    assert stored["C0"].created_at is not None and stored["C0"].updated_at is not None
    assert people[0]._state.adding is False
