"""Credits replay against the org and the transactions as Quotient knew them when computed."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from hierarchy import people
from hierarchy.models import Assignment, JobRole, Person
from incentives import services
from incentives.crediting import credits_recompute, credits_replay
from incentives.models import Credit, CreditRollup
from tests.incentives.conftest import tx_row

FEB = dt.date(2026, 2, 1)


def _ingest(rows):
    batch = services.ingest_rows(
        request=services.IngestRequest(kind="transactions", source_format="json"),
        rows=rows,
        created_by_id=None,
    )
    assert batch.status == "committed", batch.message
    return batch


def _stored(credits):
    names = dict(Person.objects.values_list("pk", "employee_id"))
    return sorted(
        (c.transaction_id, names[c.person_id], c.rule_id, c.rule_version, c.kind, c.amount)
        for c in credits
    )


def _replayed(replay):
    names = dict(Person.objects.values_list("pk", "employee_id"))
    return sorted(
        (c.transaction_id, names[c.person_id], c.rule_id, c.rule_version, c.kind, c.amount)
        for c in replay.credits
    )


def _rollups(totals):
    names = dict(Person.objects.values_list("pk", "employee_id"))
    return sorted(
        (names[t.person_id], t.rule_id, t.credit_date, t.amount, t.credit_count) for t in totals
    )


def _transfer_e1_to_a_new_team_from_february(org):
    """HR tells Quotient late: from 1 Feb E1 sat in Team B (Nina's), under Sales."""
    role = JobRole.objects.get()
    team_b = people.node_create(
        hierarchy_id=org.nodes["sales"].hierarchy_id,
        code="team-b",
        name="Team B",
        valid_from=dt.date(2024, 1, 1),
        parent_id=org.nodes["sales"].pk,
    )
    nina = people.person_create(employee_id="M3", full_name="Nina Lead", hire_date=FEB)
    people.assignment_create(
        person_id=nina.pk, node_id=team_b.pk, role_id=role.pk, valid_from=FEB, is_manager=True
    )
    e1 = Assignment.objects.known_now().get(person=org.people["E1"])
    people.assignment_update(assignment_id=e1.pk, valid_to=FEB)
    people.assignment_create(
        person_id=org.people["E1"].pk, node_id=team_b.pk, role_id=role.pk, valid_from=FEB
    )


def test_credits_replayed_at_their_computed_at_survive_a_late_learned_transfer(in_org):
    # given a February deal of E1 credited while E1 was known to be in Team A (Mark's)
    _ingest([tx_row("D-1", "1000.00", owner_employee_id="E1")])
    first = list(Credit.objects.known_now())
    computed_at = first[0].computed_at
    assert {c.computed_at for c in first} == {computed_at}
    before = _stored(first)
    assert {(p, k) for _t, p, _r, _v, k, _a in before} == {("E1", "direct")}
    rolled_before = _rollups(CreditRollup.objects.known_now())
    assert {(m, a, n) for m, _r, _d, a, n in rolled_before} == {
        ("M2", Decimal("1000.0000"), 1),
        ("M1", Decimal("1000.0000"), 1),
    }

    # when the transfer is learned afterwards, effective before the deal, and credits recomputed
    _transfer_e1_to_a_new_team_from_february(in_org)
    credits_recompute()
    after = _stored(Credit.objects.known_now())

    # then today's credits roll up to Nina, not Mark …
    assert {(p, k) for _t, p, _r, _v, k, _a in after} == {("E1", "direct")}
    rolled_after = _rollups(CreditRollup.objects.known_now())
    assert {m for m, *_ in rolled_after} == {"M3", "M1"}
    # … and a replay at the first computation's moment reproduces its credits exactly,
    written = Credit.objects.count()
    replay = credits_replay(known_at=computed_at)
    assert _replayed(replay) == before
    assert _stored(Credit.objects.known_at(computed_at)) == before
    assert _rollups(replay.rollups) == rolled_before  # the roll-ups of that moment, too
    assert _rollups(CreditRollup.objects.known_at(computed_at)) == rolled_before
    assert Credit.objects.count() == written  # a replay writes nothing
    # while a replay at the present moment gives today's credits
    today = credits_replay(known_at=timezone.now())
    assert _replayed(today) == after
    assert _rollups(today.rollups) == rolled_after


def test_a_replay_reads_the_transaction_versions_known_then(in_org):
    # given a deal credited at 1000, then a new version at 2500 credited later
    _ingest([tx_row("D-1", "1000.00")])
    computed_at = Credit.objects.known_now().first().computed_at
    _ingest([tx_row("D-1", "2500.00")])
    # then a replay at the first moment credits the first version's amount
    replay = credits_replay(known_at=computed_at)
    direct = [c for c in replay.credits if c.kind == "direct"]
    assert [c.amount for c in direct] == [Decimal("1000.0000")]
    now = credits_replay(known_at=timezone.now())
    assert [c.amount for c in now.credits if c.kind == "direct"] == [Decimal("2500.0000")]
    # and the replay can be limited to some business keys
    assert credits_replay(known_at=computed_at, transaction_ids=[]).credits == []


def test_a_replay_before_anything_was_known_credits_nothing(in_org):
    moment = timezone.now()
    _ingest([tx_row("D-1", "10.00")])
    assert credits_replay(known_at=moment).credits == []
