"""Roll-ups added up and sorted in the database (``statements.team_rollup``): the totals to the
cent, the attainment distribution, the count, every sort's order in both directions and every
page equal what adding and sorting each person's summary in Python gives (the rule the roll-up
had before: ``core.sorting.natural_key`` on names, the employee id between equal names, equal
figures in name order) - for a run read from its summaries, the same run read from its lines,
and ledger movements of people the run did not pay, in two currencies."""

from __future__ import annotations

import copy
import datetime as dt
import random
from collections import defaultdict
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from core import services as core_services
from core.models import Role
from core.permissions import ROLE_PERMISSIONS, Principal
from core.sorting import natural_key
from core.tenancy import tenant_scope
from hierarchy import people
from hierarchy.access import access_for
from hierarchy.models import Person
from payouts import runs, statements
from payouts.models import EntryKind, LedgerEntry, RunStatus
from tests.payouts.rundata import START, add_team_lead, build_sales

pytestmark = pytest.mark.django_db

# Names whose text order is not their natural order, equal names (told apart by employee
# ids whose text order is not theirs either), case and accents.
NAMES = ["Rep 11", "Rep 2", "rep 3", "Rep 2", "Émile Zola", "Zed", "alice", "Bob", "Rep 02"]
EMPLOYEE_IDS = ["E10", "E9", "E1", "E100", "E2", "E3", "E4", "E5", "E6"]


def _old_order(rows: list[statements.Summary], sort: str, descending: bool) -> list[Any]:
    """The roll-up's order as Python worked it out (rows come in (name, employee id) text
    order, as ``period_summaries`` returns them; Python's sort is stable)."""
    keys: dict[str, Any] = {
        "name": lambda r: (natural_key(r.person.full_name), natural_key(r.person.employee_id)),
        "plan": lambda r: (natural_key(", ".join(r.plans)), natural_key(r.person.full_name)),
        "attainment": lambda r: (r.attainment is not None, r.attainment or Decimal(0)),
        "earned": lambda r: r.earned,
        "payable": lambda r: r.payable,
    }
    return [r.person.pk for r in sorted(rows, key=keys[sort], reverse=descending)]


def _old_totals(rows: list[statements.Summary]) -> tuple[Any, ...]:
    earned: dict[str, Decimal] = defaultdict(Decimal)
    payable: dict[str, Decimal] = defaultdict(Decimal)
    bands = dict.fromkeys((b[0] for b in statements.BUCKETS), 0)
    for r in rows:
        earned[r.currency] += r.earned
        payable[r.currency] += r.payable
        for label, low, high in statements.BUCKETS:
            att = r.attainment
            if att is not None and att >= low and (high is None or att < high):
                bands[label] += 1
                break
    return len(rows), dict(sorted(earned.items())), dict(sorted(payable.items())), bands


def _world(tenant: Any) -> Any:
    rng = random.Random(5)
    world = build_sales(n_people=len(NAMES), deals_per_person=2, seed=5)
    add_team_lead(world)
    for person, name, emp in zip(world.people, NAMES, EMPLOYEE_IDS, strict=True):
        people.person_update(person_id=person.pk, full_name=name, employee_id=emp)
    run = runs.run_start(period_id=world.period.pk, trigger="page", user_id=None)
    run = runs.run_execute(run_id=run.pk)
    assert run.status == RunStatus.SUCCEEDED, (run.reason, run.problems)
    # ledger movements: of paid people, and of two the run did not pay (one in EUR)
    outsider = people.person_create(employee_id="X1", full_name="Rep 10", hire_date=START)
    euro = people.person_create(employee_id="X2", full_name="Rep 1", hire_date=START)
    for person, kind, currency in [
        (world.people[0], EntryKind.ADJUSTMENT, "USD"),
        (world.people[3], EntryKind.EARNED, "USD"),
        (outsider, EntryKind.HOLD, "USD"),
        (euro, EntryKind.EARNED, "EUR"),
        (euro, EntryKind.ADJUSTMENT, "EUR"),
    ]:
        LedgerEntry.objects.create(
            person=person,
            period=world.period,
            kind=kind,
            amount=Decimal(f"{rng.randint(-900, 900)}.37"),
            currency=currency,
            created_at=timezone.now(),
        )
    return world, run


def _check(period: Any) -> None:
    access = access_for(
        Principal(permissions=ROLE_PERMISSIONS[Role.COMP_ADMIN], user_id=None),
        today=dt.date(2026, 1, 15),
    )
    everyone = statements.period_summaries(
        period=period, people=access.payees(start=period.start, end=period.end)
    )
    assert len(everyone) == len(NAMES) + 3  # the sellers, the lead, two ledger-only people
    count, earned, payable, bands = _old_totals(everyone)
    assert len(earned) == 2  # USD and EUR, never added together
    for sort in statements.TEAM_SORTS:
        for descending in (False, True):
            rollup = statements.team_rollup(
                access=access, period=period, sort=sort, descending=descending
            )
            assert (rollup.totals.people, rollup.totals.earned, rollup.totals.payable) == (
                count,
                earned,
                payable,
            )
            assert dict(rollup.distribution) == bands
            wanted = _old_order(everyone, sort, descending)
            assert [r.person.pk for r in rollup.people] == wanted, (sort, descending)
            assert len(rollup.people) == count
            # every page is that slice of the order, each row the person's own summary
            pages = [rollup.people[i : i + 4] for i in range(0, count, 4)]
            assert [r.person.pk for page in pages for r in page] == wanted
            assert rollup.people[count : count + 4] == []
            by_pk = {r.person.pk: r for r in everyone}
            assert all(r == by_pk[r.person.pk] for page in pages for r in page)
            # a page asked for up front comes with the totals, from the same statement
            for offset in range(0, count + 4, 4):
                paged = statements.team_rollup(
                    access=access,
                    period=period,
                    sort=sort,
                    descending=descending,
                    page=(offset, 4),
                )
                assert paged.totals == rollup.totals and paged.distribution == rollup.distribution
                got = paged.people[offset : offset + 4]
                assert [r.person.pk for r in got] == wanted[offset : offset + 4], (sort, offset)
                assert all(r == by_pk[r.person.pk] for r in got)


def test_totals_order_and_pages_equal_pythons_for_a_run_read_from_its_summaries(tenant_a):
    with tenant_scope(tenant_a):
        world, run = _world(tenant_a)
        assert run.summarized
        names = [
            r.person.full_name
            for r in statements.period_summaries(period=world.period, people=Person.objects.all())
        ]
        assert {"Rep 2", "Rep 11", "Rep 02"} <= set(names)
        _check(world.period)


def test_the_same_run_read_from_its_lines_rolls_up_the_same(tenant_a, monkeypatch):
    # the run read as one written before summaries existed (a run is immutable: a copy)
    read = statements.period_run

    def as_unsummarized(*, period: Any) -> statements.RunChoice:
        choice = read(period=period)
        old = copy.copy(choice.run)
        if old is not None:
            old.summarized = False
        return statements.RunChoice(old, choice.final)

    monkeypatch.setattr(statements, "period_run", as_unsummarized)
    with tenant_scope(tenant_a):
        world, _run = _world(tenant_a)
        _check(world.period)


def test_the_api_pages_the_rollup_in_natural_order_with_the_totals_of_everyone(tenant_a):
    with tenant_scope(tenant_a):
        world, _run = _world(tenant_a)
        reader = core_services.api_client_create(
            name="bi", scopes=["read:people", "read:payouts"], created_by_id=None
        )
    client = Client()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {reader.token}"}
    url = f"/api/v1/rollups/?period={world.period.pk}&limit=5"
    first = client.get(url, **auth).json()
    second = client.get(first["next"], **auth).json()
    third = client.get(second["next"], **auth).json()
    assert first["count"] == first["people"] == len(NAMES) + 3
    assert third["next"] is None and second["previous"] is not None
    assert [r["full_name"] for r in first["results"] + second["results"] + third["results"]] == [
        "alice",
        "Bob",
        "Lead One",
        "Rep 1",
        "Rep 02",
        "Rep 2",
        "Rep 2",
        "rep 3",
        "Rep 10",
        "Rep 11",
        "Zed",
        "Émile Zola",
    ]
    twins = [
        r["employee_id"] for r in first["results"] + second["results"] if r["full_name"] == "Rep 2"
    ]
    assert twins == ["E9", "E100"]
    assert [t["currency"] for t in first["totals"]] == ["EUR", "USD"]
    assert first["totals"] == second["totals"] and first["distribution"] == third["distribution"]
