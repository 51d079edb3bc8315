"""The temporal layer (core/temporal.py) against brute force, on real rows through the ORM.

Random bitemporal histories — rows with random ``[valid_from, valid_to)`` and random
``[recorded_at, superseded_at)``, written straight to the table so every shape occurs, not only
those the services write — are queried with ``.as_of(d).known_at(t)`` and ``.overlapping()``,
and the answer must equal a plain-Python filter of the same rows, on probe days and moments
that include every boundary (where ``<=`` versus ``<`` matters).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.tenancy import NoTenantError, tenant_scope
from hierarchy import people
from hierarchy.models import Assignment, JobRole, Node, NodeParent, Person

DAY0 = date(2026, 1, 1)
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Row:
    valid_from: int  # days after DAY0
    valid_to: int | None
    recorded_at: int  # hours after T0
    superseded_at: int | None


@st.composite
def rows(draw: st.DrawFn) -> Row:
    start = draw(st.integers(0, 40))
    length = draw(st.one_of(st.none(), st.integers(1, 30)))
    recorded = draw(st.integers(0, 20))
    lasted = draw(st.one_of(st.none(), st.integers(1, 20)))
    return Row(
        start,
        None if length is None else start + length,
        recorded,
        None if lasted is None else recorded + lasted,
    )


def d(offset: int) -> date:
    return DAY0 + timedelta(days=offset)


def t(offset: int) -> datetime:
    return T0 + timedelta(hours=offset)


# --- brute force --------------------------------------------------------------------------------


def in_force(r: Row, day: int) -> bool:
    return r.valid_from <= day and (r.valid_to is None or day < r.valid_to)


def known(r: Row, moment: int | None) -> bool:
    if moment is None:
        return r.superseded_at is None
    return r.recorded_at <= moment and (r.superseded_at is None or moment < r.superseded_at)


def shares_a_day(r: Row, start: int, end: int | None) -> bool:
    # Day by day, so the reference does not restate the interval algebra it checks; an open
    # window is walked past the row's last boundary.
    last = max(start, r.valid_from, r.valid_to or 0) + 1 if end is None else end
    return any(in_force(r, day) for day in range(start, last))


# --- writing random histories ------------------------------------------------------------------


@dataclass
class Fixture:
    person: Person
    node: Node
    parent: Node
    role: JobRole


def _fixture() -> Fixture:
    h = people.hierarchy_create(code="t", name="T", kind="reporting")
    parent = people.node_create(hierarchy_id=h.pk, code="p", name="P", valid_from=d(0))
    node = people.node_create(hierarchy_id=h.pk, code="n", name="N", valid_from=d(0))
    role = people.job_role_create(name="R", function="sales")
    person = people.person_create(employee_id="E", full_name="E", hire_date=date(2020, 1, 1))
    return Fixture(person, node, parent, role)


def _write(model: type, fx: Fixture, history: list[Row]) -> dict[int, Row]:
    """Insert one row per spec (no services: any shape may occur); return them by pk.

    Each example runs in a transaction that is rolled back; the node's own parent link (from
    ``node_create``) is removed first so the history is exactly ``history``.
    """
    model.objects.filter(node=fx.node).delete()
    objs = []
    for r in history:
        common = {
            "node": fx.node,
            "valid_from": d(r.valid_from),
            "valid_to": None if r.valid_to is None else d(r.valid_to),
            "recorded_at": t(r.recorded_at),
            "superseded_at": None if r.superseded_at is None else t(r.superseded_at),
        }
        if model is Assignment:
            objs.append(
                Assignment(person=fx.person, role=fx.role, allocation_pct=Decimal(10), **common)
            )
        else:
            objs.append(NodeParent(parent=fx.parent, **common))
    created = model.objects.bulk_create(objs)
    return {o.pk: r for o, r in zip(created, history, strict=True)}


def _days(history: list[Row], extra: list[int]) -> list[int]:
    edges = {r.valid_from for r in history} | {r.valid_to for r in history if r.valid_to}
    return sorted(edges | {e - 1 for e in edges} | set(extra))


def _moments(history: list[Row], extra: list[int]) -> list[int | None]:
    edges = {r.recorded_at for r in history} | {r.superseded_at for r in history if r.superseded_at}
    return [None, *sorted(edges | {e - 1 for e in edges} | set(extra))]


SETTINGS = settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


# --- the properties -----------------------------------------------------------------------------


@pytest.mark.parametrize("model", [Assignment, NodeParent])
def test_as_of_and_known_at_equal_a_brute_force_filter(tenant_a, model):
    with tenant_scope(tenant_a):
        fx = _fixture()

    @SETTINGS
    @given(
        history=st.lists(rows(), max_size=10),
        extra_days=st.lists(st.integers(-2, 75), max_size=3),
        extra_moments=st.lists(st.integers(-2, 45), max_size=3),
    )
    def check(history, extra_days, extra_moments):
        with transaction.atomic(), tenant_scope(tenant_a):
            by_pk = _write(model, fx, history)
            base = model.objects.filter(node=fx.node)
            for moment in _moments(history, extra_moments):
                at = None if moment is None else t(moment)
                for day in _days(history, extra_days):
                    got = set(base.as_of(d(day)).known_at(at).values_list("pk", flat=True))
                    want = {pk for pk, r in by_pk.items() if in_force(r, day) and known(r, moment)}
                    assert got == want, (day, moment)
                    # the two filters commute
                    assert set(base.known_at(at).as_of(d(day)).values_list("pk", flat=True)) == got
            now = set(base.known_now().values_list("pk", flat=True))
            assert now == {pk for pk, r in by_pk.items() if r.superseded_at is None}
            assert now == set(base.known_at(None).values_list("pk", flat=True))
            transaction.set_rollback(True)

    check()


@pytest.mark.parametrize("model", [Assignment, NodeParent])
def test_overlapping_equals_a_brute_force_filter(tenant_a, model):
    with tenant_scope(tenant_a):
        fx = _fixture()

    @SETTINGS
    @given(
        history=st.lists(rows(), max_size=10),
        windows=st.lists(
            st.tuples(st.integers(-3, 75), st.one_of(st.none(), st.integers(1, 40))),
            min_size=1,
            max_size=4,
        ),
    )
    def check(history, windows):
        with transaction.atomic(), tenant_scope(tenant_a):
            by_pk = _write(model, fx, history)
            base = model.objects.filter(node=fx.node)
            edges = _days(history, [])
            probes = [*windows, *((s, e - s) for s in edges for e in edges if e > s)][:40]
            for start, length in probes:
                end = None if length is None else start + length
                got = set(
                    base.overlapping(d(start), None if end is None else d(end)).values_list(
                        "pk", flat=True
                    )
                )
                want = {pk for pk, r in by_pk.items() if shares_a_day(r, start, end)}
                assert got == want, (start, end)
            transaction.set_rollback(True)

    check()


# --- composition with tenancy and with other field names ---------------------------------------


def test_temporal_queries_stay_inside_the_tenant_and_refuse_to_run_without_one(tenant_a, tenant_b):
    # given one open-ended, current assignment in each tenant
    for tenant in (tenant_a, tenant_b):
        with tenant_scope(tenant):
            fx = _fixture()
            _write(Assignment, fx, [Row(0, None, 0, None)])
    # then each tenant sees its own row only, through every temporal method
    for tenant in (tenant_a, tenant_b):
        with tenant_scope(tenant):
            rows_ = Assignment.objects.as_of(d(5)).known_at(t(1)).overlapping(d(0), None)
            assert set(rows_.values_list("tenant_id", flat=True)) == {tenant.pk}
            assert Assignment.objects.known_now().count() == 1
    # and with no tenant in scope the manager raises instead of answering
    for query in (
        lambda: Assignment.objects.as_of(d(5)),
        lambda: Assignment.objects.known_at(t(1)),
        lambda: Assignment.objects.known_now(),
        lambda: NodeParent.objects.overlapping(d(0), d(9)),
        lambda: Person.objects.as_of(d(0)),
    ):
        with pytest.raises(NoTenantError):
            list(query())


def test_a_persons_employment_is_their_effective_interval(tenant_a):
    with tenant_scope(tenant_a):
        # given employment [1 Jan, 1 Mar) and an open-ended one from 1 Feb
        left = people.person_create(
            employee_id="L", full_name="L", hire_date=d(0), termination_date=d(59)
        )
        joined = people.person_create(employee_id="J", full_name="J", hire_date=d(31))
        ours = Person.objects.filter(pk__in=[left.pk, joined.pk])
        # then
        assert set(ours.as_of(d(10))) == {left}
        assert set(ours.as_of(d(40))) == {left, joined}
        assert set(ours.as_of(d(59))) == {joined}  # the termination date is exclusive
        assert set(ours.overlapping(d(0), d(31))) == {left}
        assert set(ours.overlapping(d(58), None)) == {left, joined}
