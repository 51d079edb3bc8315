"""Org writes that can move pay record their keys in the change feed, in their own transaction:
an assignment (superseded and new rows) as its person and node over its own dates, a node's
move as the node over the days it moved."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import transaction

from core.tenancy import tenant_scope
from hierarchy import people
from hierarchy.imports import hr_import
from hierarchy.models import Assignment
from tests.changes import feed_mark, feed_since

D = date
START = D(2025, 1, 1)


@pytest.fixture
def in_org(org):
    with tenant_scope(org.tenant):
        yield org


@pytest.fixture
def newcomer(in_org):
    return people.person_create(employee_id="E9", full_name="Nia New", hire_date=D(2026, 1, 1))


def test_creating_changing_and_withdrawing_an_assignment_records_each_version(in_org, newcomer):
    org, nia = in_org, newcomer.pk
    mark = feed_mark()
    new = people.assignment_create(
        person_id=nia, node_id=org.east.pk, role_id=org.ae.pk, valid_from=D(2026, 2, 1)
    )
    assert feed_since(mark) == {("assignment", nia, org.east.pk, D(2026, 2, 1), None)}
    # a change supersedes the row: the old version and the new one both count
    mark = feed_mark()
    moved = people.assignment_update(
        assignment_id=new.pk, node_id=org.west.pk, valid_to=D(2026, 6, 1)
    )
    assert feed_since(mark) == {
        ("assignment", nia, org.east.pk, D(2026, 2, 1), None),
        ("assignment", nia, org.west.pk, D(2026, 2, 1), D(2026, 6, 1)),
    }
    mark = feed_mark()
    people.assignment_delete(assignment_id=moved.pk)
    assert feed_since(mark) == {("assignment", nia, org.west.pk, D(2026, 2, 1), D(2026, 6, 1))}


def test_a_termination_records_the_assignments_it_ends(in_org):
    org = in_org
    mark = feed_mark()
    people.person_terminate(person_id=org.erin.pk, termination_date=D(2026, 3, 1))
    assert feed_since(mark) == {
        ("assignment", org.erin.pk, org.east.pk, START, None),  # superseded
        ("assignment", org.erin.pk, org.east.pk, START, D(2026, 3, 1)),  # its replacement
    }


def test_a_node_move_records_the_node_over_the_days_it_moved(in_org):
    org = in_org
    mark = feed_mark()
    people.node_move(node_id=org.west.pk, parent_id=org.marketing.pk, valid_from=D(2026, 4, 1))
    assert feed_since(mark) == {("node_parent", None, org.west.pk, D(2026, 4, 1), None)}


def test_an_assignment_file_records_what_it_supersedes_and_creates(in_org):
    org = in_org
    content = (
        b"employee_id,hierarchy,node,role,valid_from,valid_to,allocation_pct,is_manager\n"
        b"E3,reporting,east,Account Executive,2025-01-01,2026-02-15,100,false\n"
        b"E3,reporting,west,Account Executive,2026-02-15,,100,false\n"
    )
    mark = feed_mark()
    batch = hr_import(kind="assignments", content=content)
    assert batch.status == "committed", batch.errors
    assert feed_since(mark) == {
        ("assignment", org.erin.pk, org.east.pk, START, None),
        ("assignment", org.erin.pk, org.east.pk, START, D(2026, 2, 15)),
        ("assignment", org.erin.pk, org.west.pk, D(2026, 2, 15), None),
    }
    # the same file again changes nothing, and records nothing
    mark = feed_mark()
    hr_import(kind="assignments", content=content)
    assert feed_since(mark) == set()
    # a dry run records nothing either
    hr_import(
        kind="assignments",
        content=content.replace(b"2026-02-15,,", b"2026-02-15,2026-09-01,"),
        dry_run=True,
    )
    assert feed_since(mark) == set()


def test_an_assignment_and_its_keys_roll_back_together(in_org, newcomer):
    org = in_org
    mark = feed_mark()
    count = Assignment.objects.count()
    with transaction.atomic():
        people.assignment_create(
            person_id=newcomer.pk, node_id=org.east.pk, role_id=org.ae.pk, valid_from=D(2026, 2, 1)
        )
        assert feed_since(mark)
        transaction.set_rollback(True)
    assert Assignment.objects.count() == count
    assert feed_since(mark) == set()
