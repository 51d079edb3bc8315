"""No period transition can be reached except through its service and guard.

Every other road (``save()``, ``queryset.update()``, ``bulk_update``, raw SQL, a forged marker
for another transition, the old ``PATCH /api/v1/periods/{id}/``, creating a period already
closed) meets the database trigger of ``payouts/db.py``, on SQLite and on PostgreSQL (where the
suite connects as the app role).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction

from core.tenancy import tenant_scope
from hierarchy.models import Period, PeriodStatus
from payouts import lifecycle
from payouts.db import TRANSITIONS, transition_marker
from payouts.models import PeriodApproval
from tests.payouts.helpers import JAN, cast, period, review_steps, succeeded_run, walk_to

STATUSES = [s for s, _ in PeriodStatus.choices]


def _roads(p: Period, new: str) -> list[tuple[str, Any]]:
    def by_save() -> None:
        p.status = new
        p.save()

    def by_update() -> None:
        Period.objects.filter(pk=p.pk).update(status=new)

    def by_bulk_update() -> None:
        p.status = new
        Period.objects.bulk_update([p], ["status"])

    def by_raw_sql() -> None:
        with connection.cursor() as cursor:
            cursor.execute("UPDATE hierarchy_period SET status = %s WHERE id = %s", [new, p.pk])

    return [
        ("save", by_save),
        ("update", by_update),
        ("bulk_update", by_bulk_update),
        ("raw", by_raw_sql),
    ]


def _refused(action: Any) -> None:
    with pytest.raises(DatabaseError), transaction.atomic():
        action()


@pytest.fixture
def world(org: Any, plan_a: Any) -> Any:
    with tenant_scope(org.tenant):
        yield plan_a, cast(org.tenant)


@pytest.mark.parametrize("start", STATUSES)
def test_no_road_but_the_service_moves_a_period(world: Any, start: str) -> None:
    # given a period walked to ``start`` through the services
    plan, c = world
    p = period()
    if start != PeriodStatus.OPEN:
        walk_to(p, start, c, plan)
    p.refresh_from_db()
    assert p.status == start
    # when every other road tries every other status
    for new in STATUSES:
        if new == start:
            continue
        for _name, road in _roads(p, new):
            _refused(road)
            p.refresh_from_db()
    # then nothing moved
    assert Period.objects.get(pk=p.pk).status == start


def test_a_marker_allows_only_its_own_transition_and_the_database_guards_still_hold(
    world: Any,
) -> None:
    plan, c = world
    p = period()
    # a marker for open -> calculated does not carry open -> closed
    with transition_marker(p.pk, PeriodStatus.OPEN, PeriodStatus.CALCULATED):
        _refused(lambda: Period.objects.filter(pk=p.pk).update(status=PeriodStatus.CLOSED))
        # nor does it carry the right step without a succeeded full run (the database's guard)
        _refused(lambda: Period.objects.filter(pk=p.pk).update(status=PeriodStatus.CALCULATED))
    # a marker off the lifecycle's graph is refused even when "announced"
    with transition_marker(p.pk, PeriodStatus.OPEN, PeriodStatus.CLOSED):
        _refused(lambda: Period.objects.filter(pk=p.pk).update(status=PeriodStatus.CLOSED))
    # approved needs a live approval, even with the right marker
    walk_to(p, PeriodStatus.IN_REVIEW, c, plan)
    with transition_marker(p.pk, PeriodStatus.IN_REVIEW, PeriodStatus.APPROVED):
        _refused(lambda: Period.objects.filter(pk=p.pk).update(status=PeriodStatus.APPROVED))
    assert not PeriodApproval.objects.exists()
    # the marker does not outlive its block
    _refused(lambda: Period.objects.filter(pk=p.pk).update(status=PeriodStatus.CALCULATED))
    assert Period.objects.get(pk=p.pk).status == PeriodStatus.IN_REVIEW


def test_a_period_cannot_be_created_past_open(world: Any) -> None:
    for status in STATUSES[1:]:
        _refused(
            lambda s=status: Period.objects.create(
                kind="monthly",
                fiscal_year=2026,
                start=JAN,
                end=JAN.replace(month=2),
                label="x",
                status=s,
            )
        )


def test_every_transition_of_the_graph_has_its_service(world: Any) -> None:
    # the graph the trigger allows is exactly the services' steps
    assert set(TRANSITIONS) == {
        ("open", "calculated"),  # run_succeeded
        ("calculated", "in_review"),  # period_submit_for_review
        ("in_review", "approved"),  # period_approve
        ("approved", "closed"),  # period_close
        ("approved", "in_review"),  # period_reopen
        ("in_review", "calculated"),  # period_send_back (an approval step rejected it)
    }
    plan, c = world
    p = period()
    run = succeeded_run(p, plan)
    lifecycle.run_succeeded(run)
    lifecycle.period_submit_for_review(period_id=p.pk, principal=c.comp)
    review_steps(p)
    lifecycle.period_approve(period_id=p.pk, run_id=run.pk, principal=c.finance)
    lifecycle.period_reopen(period_id=p.pk, principal=c.finance, reason="recheck")
    review_steps(p)
    lifecycle.period_approve(period_id=p.pk, run_id=run.pk, principal=c.finance)
    lifecycle.period_close(period_id=p.pk, principal=c.finance)
    assert Period.objects.get(pk=p.pk).status == PeriodStatus.CLOSED


def test_the_old_patch_moves_no_status(client_alice: Any, tenant_a: Any) -> None:
    with tenant_scope(tenant_a):
        p = period()
    for status in STATUSES[1:]:
        response = client_alice.patch(
            f"/api/v1/periods/{p.pk}/",
            data=json.dumps({"status": status}),
            content_type="application/json",
        )
        assert response.status_code == 400, response.content
        assert response.json()["error"]["code"] == "status_read_only"
    with tenant_scope(tenant_a):
        assert Period.objects.get(pk=p.pk).status == PeriodStatus.OPEN
