"""Fixtures for the analytics and accrual tests: two quarters of hand-written runs over the
small Acme org (tests/payouts/written_runs.py), and extra people to count queries with."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils import timezone

from hierarchy.models import Assignment, Person
from payouts.models import CalculationRun, PayoutLine, RunStatus
from plans import services as plan_services
from tests.payouts.written_runs import Written, write_line, write_run

D = dt.date


@dataclass
class TwoQuarters:
    written: Written
    q2_run: CalculationRun
    launch_plan: Any


def two_quarters(
    org: Any, plan: Any, written: Written, user_id: int | None, *, extra: int = 0
) -> TwoQuarters:
    """Add to ``written`` (Q1 2026) a Q2 run: Erin earns less, Wes more, Mia a shared
    launch milestone (a ``team_pool``) whose trace says Marketing hit and Sales missed."""
    launch = plan_services.plan_create(
        code="launch",
        name="Launch milestone",
        template="shared_launch_milestone",
        user_id=user_id,
        valid_from=D(2026, 1, 1),
    )
    plan_services.plan_version_publish(version_id=launch.versions.get().pk, user_id=user_id)
    run = write_run(written.q2, status=RunStatus.RUNNING)
    write_line(run, org.erin, plan, "commission", "1000.00", attainment="0.50")
    write_line(run, org.wes, plan, "commission", "2000.00", attainment="1.10")
    write_line(run, org.mia, launch, "launch", "600.00")
    PayoutLine.objects.create(
        run=run,
        period=run.period,
        person=org.erin,
        plan=launch,
        plan_version=launch.versions.get(),
        component_id="launch",
        kind="earned",
        amount=Decimal("0.00"),
        currency="USD",
        trace=[
            {"name": "team_mkt_attainment", "value": "1.2", "note": "hit"},
            {"name": "team_sales_attainment", "value": "0.8", "note": "missed"},
        ],
    )
    add_people(org, plan, run, extra, "X")
    CalculationRun.objects.filter(pk=run.pk).update(
        status=RunStatus.SUCCEEDED, finished_at=timezone.now()
    )
    run.refresh_from_db()
    return TwoQuarters(written, run, launch)


def add_people(org: Any, plan: Any, run: CalculationRun, n: int, prefix: str) -> None:
    """Add ``n`` people placed in Sales East with one line each in ``run``."""
    now = timezone.now()
    for i in range(n):
        person = Person.objects.create(
            employee_id=f"{prefix}{i}", full_name=f"Extra {prefix}{i}", hire_date=D(2020, 1, 1)
        )
        Assignment.objects.create(
            person=person,
            node=org.east if i % 2 else org.marketing,
            role=org.ae if i % 2 else org.pmm,
            valid_from=D(2025, 1, 1),
            recorded_at=now,
        )
        write_line(run, person, plan, "commission", "10.00", attainment="0.9")
