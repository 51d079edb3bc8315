"""A person's stored sort keys (``Person.sort_name``, ``Person.sort_employee_id``): bytes whose
byte order is ``core.sorting.natural_key``'s order, kept true on every way a person is written
(save, save of some fields, bulk_create, the HR import's COPY path and its bulk_update of
changed people, QuerySet.update), so the database sorts people as Python does."""

from __future__ import annotations

import random
from datetime import date

import pytest
from django.db import transaction
from django.db.models import F

from core.db import bulk_create_copy
from core.sorting import natural_key, natural_sort_key
from core.tenancy import tenant_scope
from hierarchy import people
from hierarchy.imports import hr_import
from hierarchy.models import Person

ALPHABET = ["a", "B", "b", "z", "é", "É", "0", "1", "2", "9", " ", "-", "_", "\x01", "\x00", "ß"]


def test_the_stored_key_orders_text_exactly_as_natural_key():
    rng = random.Random(3)
    texts = ["", "0", "00", "007", "7", "Rep 2", "Rep 02", "Rep 11", "rep 3", "Rep", "Rep 2a"]
    texts += ["".join(rng.choices(ALPHABET, k=rng.randint(0, 7))) for _ in range(3000)]
    texts += [f"Team {rng.randint(0, 10**30)}" for _ in range(200)]
    # the same order, and equal keys exactly for equal texts
    assert sorted(texts, key=natural_sort_key) == sorted(texts, key=natural_key)
    for a, b in zip(texts, reversed(texts), strict=True):
        assert (natural_sort_key(a) < natural_sort_key(b)) == (natural_key(a) < natural_key(b))
        assert (natural_sort_key(a) == natural_sort_key(b)) == (a == b)


def _keys_true() -> None:
    for p in Person.objects.all():
        assert bytes(p.sort_name) == natural_sort_key(p.full_name), p.full_name
        assert bytes(p.sort_employee_id) == natural_sort_key(p.employee_id), p.employee_id


@pytest.mark.django_db
def test_every_write_path_keeps_the_keys_true(tenant_a):
    with tenant_scope(tenant_a):
        ada = people.person_create(
            employee_id="E10", full_name="Ada 11", hire_date=date(2024, 1, 1)
        )
        people.person_update(person_id=ada.pk, full_name="Ada 2", employee_id="E9")
        ada.full_name = "Ada 3"
        ada.save(update_fields=["full_name"])
        Person.objects.bulk_create(
            [Person(employee_id="B1", full_name="Bo 1", hire_date=date(2024, 1, 1))]
        )
        with transaction.atomic():  # the COPY path on PostgreSQL (bulk_create elsewhere)
            bulk_create_copy(
                Person,
                [
                    Person(
                        tenant=tenant_a,
                        employee_id="C1",
                        full_name="Cy 10",
                        hire_date=date(2024, 1, 1),
                    )
                ],
            )
        Person.objects.filter(employee_id="B1").update(full_name="Bo 20")
        bo = Person.objects.get(employee_id="B1")
        bo.employee_id = "B2"
        Person.objects.bulk_update([bo], ["employee_id"])
        _keys_true()
        assert bytes(Person.objects.get(employee_id="C1").sort_name) == natural_sort_key("Cy 10")
        # an update from an expression cannot key it: refused, nothing written
        with pytest.raises(TypeError, match="sort key"):
            Person.objects.filter(employee_id="B2").update(full_name=F("email"))
        assert Person.objects.get(employee_id="B2").full_name == "Bo 20"
    # the HR import: new people by COPY, changed ones by bulk_update
    header = "employee_id,full_name,hire_date\n"
    first = header + "H1,Hal 10,2024-01-15\nH2,Hal 9,2024-01-15\n"
    renamed = header + "H1,Hal 1,2024-01-15\nH2,Hal 9,2024-01-15\n"
    with tenant_scope(tenant_a):
        assert hr_import(kind="people", content=first.encode()).status == "committed"
        _keys_true()
        assert hr_import(kind="people", content=renamed.encode()).counts["updated"] == 1
        _keys_true()
        names = Person.objects.filter(employee_id__startswith="H").order_by("sort_name")
        assert [p.full_name for p in names] == ["Hal 1", "Hal 9"]
