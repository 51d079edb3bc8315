"""Audit events: one per mutating action, append-only in the database.

Services call :func:`audit_record` inside their transaction, so an action and its audit event
are written together or not at all. Who acted and the request id come from :data:`actor`,
which the request middleware, the API base view and tasks set.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.utils import timezone

from core.models import AuditEvent


@dataclass(frozen=True)
class Actor:
    user_id: int | None = None
    api_client_id: int | None = None
    label: str = ""
    request_id: str = ""


SYSTEM = Actor(label="system")
_actor: ContextVar[Actor | None] = ContextVar("quotient_actor", default=None)


@contextmanager
def acting_as(actor: Actor) -> Iterator[Actor]:
    """Attribute audit events in the block to ``actor``."""
    token = _actor.set(actor)
    try:
        yield actor
    finally:
        _actor.reset(token)


def current_actor() -> Actor:
    """Return who is acting now."""
    return _actor.get() or SYSTEM


def audit_record(
    *,
    action: str,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """Write one audit event for ``action`` on ``obj`` in the current tenant."""
    actor = current_actor()
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
    event: AuditEvent = AuditEvent.objects.create(
        created_at=timezone.now(),
        actor_user_id=actor.user_id,
        actor_api_client_id=actor.api_client_id,
        actor_label=actor.label[:200],
        action=action,
        object_type=object_type,
        object_id=object_id,
        object_repr=str(obj)[:200] if obj is not None else "",
        before=before,
        after=after,
        request_id=actor.request_id,
    )
    return event
