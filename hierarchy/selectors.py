"""Reads of the org domain that several pages and APIs share."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Any, overload
from zoneinfo import ZoneInfo

from django.db.models import QuerySet

from core.errors import NotFoundError
from core.models import AuditEvent
from core.tenancy import get_current_tenant
from hierarchy.access import Access


class AuditEvents:
    """Audit events as one principal reads them: sliced lazily like a queryset (pagination
    counts and slices it), every slice passed through the access policy, which takes pay
    fields out of the snapshots of people whose pay the principal may not see."""

    def __init__(self, events: QuerySet[AuditEvent], access: Access) -> None:
        self._events = events
        self._access = access

    def count(self) -> int:
        return self._events.count()

    def __len__(self) -> int:
        return self.count()

    def __iter__(self) -> Iterator[AuditEvent]:
        return iter(self[:])

    @overload
    def __getitem__(self, index: int, /) -> AuditEvent: ...

    @overload
    def __getitem__(self, index: slice, /) -> list[AuditEvent]: ...

    def __getitem__(self, index: int | slice, /) -> AuditEvent | list[AuditEvent]:
        if isinstance(index, slice):
            return self._access.audit_events(self._events[index])
        return self._access.audit_events([self._events[index]])[0]

    def get(self, *, event_id: int) -> AuditEvent:
        """Return one event, redacted, or raise NotFoundError."""
        event = self._events.filter(pk=event_id).first()
        if event is None:
            raise NotFoundError("Audit event not found.")
        return self._access.audit_events([event])[0]


def audit_event_queryset(
    *,
    object_type: str | None = None,
    object_id: str | None = None,
    action: str | None = None,
    actor: str | None = None,
    since: date | None = None,
    until: date | None = None,
) -> QuerySet[AuditEvent]:
    """Return the current tenant's audit events, newest first, unredacted (the filter rules
    only; the page, the API and the CSV all filter here).

    ``object_type`` and ``object_id`` match exactly (``hierarchy.person`` and ``42``), ``action``
    by prefix (``plan`` finds ``plan.create`` and ``plan_version.publish``), ``actor`` is part of
    the actor's label (an e-mail, ``api:<client name>`` or ``system``, any case), and
    ``since`` / ``until`` are days in the tenant's time zone (as pages show times), both
    included.
    """
    events = AuditEvent.objects.all().order_by("-created_at", "-id")
    if object_type:
        events = events.filter(object_type=object_type)
    if object_id:
        events = events.filter(object_id=object_id)
    if action:
        events = events.filter(action__startswith=action)
    if actor:
        events = events.filter(actor_label__icontains=actor)
    if since is not None:
        events = events.filter(created_at__gte=_day_start(since))
    if until is not None:
        events = events.filter(created_at__lt=_day_start(until + timedelta(days=1)))
    return events


def _day_start(day: date) -> datetime:
    zone = ZoneInfo(get_current_tenant().time_zone)
    return datetime.combine(day, time.min, tzinfo=zone)


def audit_event_list(*, access: Access, **filters: Any) -> AuditEvents:
    """Return the current tenant's audit events, newest first, as ``access`` may read them
    (``filters``: those of :func:`audit_event_queryset`)."""
    return AuditEvents(audit_event_queryset(**filters), access)


def audit_object_types() -> list[str]:
    """Return the object types the tenant's audit log holds, for the page's filter."""
    return sorted(set(AuditEvent.objects.values_list("object_type", flat=True).distinct()))
