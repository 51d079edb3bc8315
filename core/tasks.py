"""The task base every Celery task uses, the one way to start background work, and the
foundation's own tasks.

Every task is a :class:`TenantTask` unless it opts out with ``base=GlobalTask``
(``config/celery.py`` makes it the app's ``task_cls``). The tenant travels with the task as the
``tenant_id`` keyword, captured from the enqueuer's scope; ``__call__`` enters that tenant's
scope before the body runs and refuses (before any query) a task that arrives without one.

Starting work: services call :meth:`TenantTask.delay_on_commit` (the task is sent only once the
caller's transaction commits, so a worker always finds the rows it is given and a rolled-back
request sends nothing), or :func:`start` when the work may also run inline. Nobody writes
``transaction.on_commit(lambda: task.delay(...))`` by hand.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from celery import Task, shared_task
from celery.signals import worker_ready
from django.conf import settings
from django.db import connection, transaction

from core.tenancy import get_current_tenant, get_current_tenant_id, tenant_scope_by_id


class TenantRequiredError(RuntimeError):
    """A tenant task was called with no tenant."""


class TenantTask(Task):  # type: ignore[misc]
    """Run the task body inside the scope of the tenant that enqueued it."""

    abstract = True
    # Celery's own signature check would reject the injected tenant_id; we check first instead.
    typing = False

    def apply_async(self, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
        kwargs = dict(kwargs or {})
        header = getattr(self, "__header__", None)
        if header is not None:
            header(*(args or ()), **{k: v for k, v in kwargs.items() if k != "tenant_id"})
        if "tenant_id" not in kwargs:
            tenant_id = get_current_tenant_id()
            if tenant_id is not None:
                kwargs["tenant_id"] = tenant_id
        return super().apply_async(args=args, kwargs=kwargs, **options)

    def delay_on_commit(self, *args: Any, **kwargs: Any) -> None:
        """Send the task once the current transaction commits (at once outside one).

        The tenant is captured now: the commit may happen after the caller's scope has ended.
        """
        if "tenant_id" not in kwargs:
            tenant_id = get_current_tenant_id()
            if tenant_id is not None:
                kwargs["tenant_id"] = tenant_id
        transaction.on_commit(lambda: self.apply_async(args=args, kwargs=kwargs))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        tenant_id = kwargs.pop("tenant_id", None)
        if tenant_id is None:
            raise TenantRequiredError(
                f"task {self.name} was enqueued outside a tenant scope; refusing to run"
            )
        with tenant_scope_by_id(int(tenant_id)):
            return super().__call__(*args, **kwargs)


class GlobalTask(Task):  # type: ignore[misc]
    """A deliberate cross-tenant maintenance task (no tenant scope)."""

    abstract = True


def workers_configured() -> bool:
    """Return whether tasks go to real workers (a broker is configured and not eager)."""
    return bool(settings.REDIS_URL) and not settings.CELERY_TASK_ALWAYS_EAGER


@dataclass(frozen=True)
class Started:
    """How a piece of work was started: ``queued`` in a worker, or ``done`` inline."""

    queued: bool
    result: Any = None


def start(
    task: Any, *, inline: Callable[[], Any], background: bool | None = None, **task_kwargs: Any
) -> Started:
    """Run ``inline()`` now, or send ``task(**task_kwargs)`` to a worker after commit.

    ``background`` None means "in a worker when workers are configured". This is the one
    decision point between the request and a worker; ``*_start()`` services call it.
    """
    use_worker = (
        workers_configured() if background is None else background and bool(settings.REDIS_URL)
    )
    if use_worker:
        task.delay_on_commit(**task_kwargs)
        return Started(queued=True)
    return Started(queued=False, result=inline())


# --- the foundation's own tasks ------------------------------------------------------------------


@shared_task(base=GlobalTask)  # type: ignore[untyped-decorator]
def worker_heartbeat_task() -> None:
    """Record that a worker is alive (run every 30 s by beat)."""
    from core.health import record_heartbeat

    record_heartbeat()


@worker_ready.connect  # type: ignore[untyped-decorator]
def _heartbeat_on_start(**kwargs: Any) -> None:
    from core.health import record_heartbeat

    with contextlib.suppress(Exception):  # no broker reachable: nothing to record
        record_heartbeat()


@shared_task  # type: ignore[untyped-decorator]
def tenant_probe_task() -> dict[str, Any]:
    """Report the tenant this task runs under, as the ORM and the database see it."""
    from core.models import IdempotencyRecord

    tenant = get_current_tenant()
    orm_visible = IdempotencyRecord.objects.count()
    db_setting, raw_visible = None, None
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # Raw SQL, no ORM filter: what row-level security alone lets this task see.
            cursor.execute(
                "SELECT current_setting('app.tenant_id', true), "
                "(SELECT count(*) FROM core_idempotencyrecord)"
            )
            db_setting, raw_visible = cursor.fetchone()
    return {
        "tenant_id": tenant.pk,
        "tenant_slug": tenant.slug,
        "db_setting": db_setting,
        "orm_visible": orm_visible,
        "raw_visible": raw_visible,
    }
