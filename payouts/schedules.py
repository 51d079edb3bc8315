"""Run schedules: a tenant's standing order for full runs, started by Celery beat.

A :class:`~payouts.models.RunSchedule` names which periods (every open period that has
started, or the periods under way today; optionally of one kind) and how often (daily at a
time of day in the tenant's time zone, or every N minutes). ``payouts.tasks.run_schedules_task``
(beat, every minute) calls :func:`schedules_run_due`, which starts a full run of each chosen
period through :func:`payouts.runs.run_start` with ``RunTrigger.SCHEDULE`` — skipping a period
whose previous run is still unfinished — and moves the schedule's ``next_run_at`` on. A
schedule claimed by one beat is skipped by another (``SKIP LOCKED``).

Services (create, update, delete) write one audit event each.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from core.audit import audit_record
from core.errors import ConflictError, NotFoundError, ValidationFailedError
from core.tenancy import tenant_zone
from hierarchy.models import Period, PeriodKind, PeriodStatus
from payouts import runs
from payouts.models import (
    CalculationRun,
    RunKind,
    RunSchedule,
    RunStatus,
    RunTrigger,
    ScheduleCadence,
    SchedulePeriods,
)

MSG_NOT_FOUND = "No such run schedule."
MSG_TIME_NEEDED = "A daily schedule needs a time of day (HH:MM)."
MSG_MINUTES_NEEDED = "An every-N-minutes schedule needs a number of minutes (5 to 10080)."
MSG_NAME_TAKEN = "A run schedule called {name!r} exists already."
MSG_KIND = "Unknown period kind {kind!r}."
MIN_MINUTES, MAX_MINUTES = 5, 7 * 24 * 60
OPEN_STATUSES = (PeriodStatus.OPEN, PeriodStatus.CALCULATED, PeriodStatus.IN_REVIEW)
FIELDS = ("name", "periods", "period_kind", "cadence", "time_of_day", "every_minutes", "enabled")


def next_run(schedule: RunSchedule, *, after: dt.datetime) -> dt.datetime | None:
    """Return the first instant after ``after`` at which ``schedule`` is due (None: disabled)."""
    if not schedule.enabled:
        return None
    if schedule.cadence == ScheduleCadence.INTERVAL:
        return after + dt.timedelta(minutes=int(schedule.every_minutes or MIN_MINUTES))
    zone = tenant_zone()
    local = after.astimezone(zone)
    at = schedule.time_of_day or dt.time(0, 0)
    candidate = dt.datetime.combine(local.date(), at, tzinfo=zone)
    if candidate <= local:
        candidate = dt.datetime.combine(local.date() + dt.timedelta(days=1), at, tzinfo=zone)
    return candidate.astimezone(dt.UTC)


def _check(schedule: RunSchedule) -> None:
    if schedule.period_kind and schedule.period_kind not in PeriodKind.values:
        raise ValidationFailedError(
            MSG_KIND.format(kind=schedule.period_kind), details={"period_kind": ["invalid"]}
        )
    if schedule.cadence == ScheduleCadence.DAILY:
        if schedule.time_of_day is None:
            raise ValidationFailedError(MSG_TIME_NEEDED, details={"time_of_day": ["required"]})
        schedule.every_minutes = None
    else:
        minutes = schedule.every_minutes
        if minutes is None or not MIN_MINUTES <= int(minutes) <= MAX_MINUTES:
            raise ValidationFailedError(
                MSG_MINUTES_NEEDED, details={"every_minutes": ["between 5 and 10080"]}
            )
        schedule.time_of_day = None
    taken = RunSchedule.objects.filter(name=schedule.name).exclude(pk=schedule.pk).exists()
    if taken:
        raise ConflictError(MSG_NAME_TAKEN.format(name=schedule.name), code="name_taken")
    try:
        schedule.full_clean(exclude=["tenant"])
    except ValidationError as exc:
        raise ValidationFailedError(
            "The run schedule is not valid.", details=exc.message_dict
        ) from exc


def schedule_dict(schedule: RunSchedule) -> dict[str, Any]:
    """Return a schedule as the audit log and the API show it."""
    return {
        "name": schedule.name,
        "periods": schedule.periods,
        "period_kind": schedule.period_kind,
        "cadence": schedule.cadence,
        "time_of_day": schedule.time_of_day.strftime("%H:%M") if schedule.time_of_day else None,
        "every_minutes": schedule.every_minutes,
        "enabled": schedule.enabled,
        "next_run_at": schedule.next_run_at.isoformat() if schedule.next_run_at else None,
    }


@transaction.atomic
def schedule_create(
    *,
    name: str,
    cadence: str = ScheduleCadence.DAILY,
    periods: str = SchedulePeriods.OPEN,
    period_kind: str = "",
    time_of_day: dt.time | None = None,
    every_minutes: int | None = None,
    enabled: bool = True,
    user_id: int | None,
) -> RunSchedule:
    """Write a new run schedule (its first due instant computed) and audit it."""
    now = timezone.now()
    schedule = RunSchedule(
        name=name.strip(),
        cadence=cadence,
        periods=periods,
        period_kind=period_kind or "",
        time_of_day=time_of_day,
        every_minutes=every_minutes,
        enabled=enabled,
        created_by_id=user_id,
        created_at=now,
        updated_at=now,
    )
    _check(schedule)
    schedule.next_run_at = next_run(schedule, after=now)
    schedule.save()
    audit_record(action="run_schedule.create", obj=schedule, after=schedule_dict(schedule))
    return schedule


def _get(schedule_id: int, *, lock: bool = False) -> RunSchedule:
    qs = RunSchedule.objects.filter(pk=schedule_id)
    if lock:
        qs = qs.select_for_update()
    schedule: RunSchedule | None = qs.first()
    if schedule is None:
        raise NotFoundError(MSG_NOT_FOUND)
    return schedule


@transaction.atomic
def schedule_update(*, schedule_id: int, **changes: Any) -> RunSchedule:
    """Change a schedule's fields (those given); its next due instant is computed again."""
    schedule = _get(schedule_id, lock=True)
    before = schedule_dict(schedule)
    for name, value in changes.items():
        if name not in FIELDS:
            raise ValidationFailedError(f"Unknown field {name!r}.", details={name: ["unknown"]})
        setattr(schedule, name, value.strip() if name == "name" else value)
    if schedule.period_kind is None:
        schedule.period_kind = ""
    _check(schedule)
    now = timezone.now()
    schedule.updated_at = now
    schedule.next_run_at = next_run(schedule, after=now)
    schedule.save()
    audit_record(
        action="run_schedule.update", obj=schedule, before=before, after=schedule_dict(schedule)
    )
    return schedule


@transaction.atomic
def schedule_delete(*, schedule_id: int) -> None:
    """Delete a schedule (the runs it started stay)."""
    schedule = _get(schedule_id, lock=True)
    audit_record(action="run_schedule.delete", obj=schedule, before=schedule_dict(schedule))
    schedule.delete()


# --- reads ----------------------------------------------------------------------------------


def schedule_list() -> QuerySet[RunSchedule]:
    """Return the tenant's run schedules by name."""
    return RunSchedule.objects.order_by("name", "pk")


def schedule_get(*, schedule_id: int) -> RunSchedule:
    """Return one schedule of the tenant (404 when it is not one)."""
    return _get(schedule_id)


def schedule_periods(schedule: RunSchedule, *, today: dt.date) -> list[Period]:
    """Return the periods a schedule calculates on ``today`` (the tenant's local date)."""
    qs = Period.objects.filter(status__in=OPEN_STATUSES, start__lte=today)
    if schedule.periods == SchedulePeriods.CURRENT:
        qs = qs.filter(end__gt=today)
    if schedule.period_kind:
        qs = qs.filter(kind=schedule.period_kind)
    return list(qs.order_by("start", "kind", "pk"))


# --- the beat -------------------------------------------------------------------------------


def schedules_run_due(*, now: dt.datetime | None = None) -> list[CalculationRun]:
    """Start the runs of every schedule due by ``now`` and move each on; return the runs."""
    now = now or timezone.now()
    today = now.astimezone(tenant_zone()).date()
    started: list[CalculationRun] = []
    due = list(
        RunSchedule.objects.filter(enabled=True, next_run_at__lte=now)
        .order_by("next_run_at", "pk")
        .values_list("pk", flat=True)
    )
    for schedule_id in due:
        with transaction.atomic():
            schedule = (
                RunSchedule.objects.select_for_update(skip_locked=True)
                .filter(pk=schedule_id, enabled=True, next_run_at__lte=now)
                .first()
            )
            if schedule is None:
                continue  # another beat has it, or it changed
            for period in schedule_periods(schedule, today=today):
                busy = CalculationRun.objects.filter(
                    period=period, status__in=(RunStatus.QUEUED, RunStatus.RUNNING)
                ).exists()
                if busy:
                    continue
                started.append(
                    runs.run_start(
                        period_id=period.pk,
                        kind=RunKind.FULL,
                        trigger=RunTrigger.SCHEDULE,
                        user_id=None,
                    )
                )
            RunSchedule.objects.filter(pk=schedule.pk).update(
                last_run_at=now, next_run_at=next_run(schedule, after=now)
            )
    return started


__all__ = [
    "next_run",
    "schedule_create",
    "schedule_delete",
    "schedule_get",
    "schedule_list",
    "schedule_periods",
    "schedule_update",
    "schedules_run_due",
]
