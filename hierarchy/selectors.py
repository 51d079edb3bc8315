"""Reads of the org domain that several pages and APIs share."""

from __future__ import annotations

from django.db.models import QuerySet

from core.models import AuditEvent


def audit_event_list(
    *, object_type: str | None = None, action: str | None = None
) -> QuerySet[AuditEvent]:
    """Return the current tenant's audit events, newest first."""
    events = AuditEvent.objects.all().order_by("-created_at", "-id")
    if object_type:
        events = events.filter(object_type=object_type)
    if action:
        events = events.filter(action__startswith=action)
    return events
