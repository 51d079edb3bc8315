"""Reads of the org domain that several pages and APIs share."""

from __future__ import annotations

from collections.abc import Iterator
from typing import overload

from django.db.models import QuerySet

from core.errors import NotFoundError
from core.models import AuditEvent
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
    *, object_type: str | None = None, action: str | None = None
) -> QuerySet[AuditEvent]:
    """Return the current tenant's audit events, newest first, unredacted (filter rules only)."""
    events = AuditEvent.objects.all().order_by("-created_at", "-id")
    if object_type:
        events = events.filter(object_type=object_type)
    if action:
        events = events.filter(action__startswith=action)
    return events


def audit_event_list(
    *, access: Access, object_type: str | None = None, action: str | None = None
) -> AuditEvents:
    """Return the current tenant's audit events, newest first, as ``access`` may read them."""
    return AuditEvents(audit_event_queryset(object_type=object_type, action=action), access)
