"""The task base every Celery task uses, the one way to start background work, and the
foundation's own tasks.

Every task is a :class:`TenantTask` unless it opts out with ``base=GlobalTask``
(``config/celery.py`` makes it the app's ``task_cls``). The tenant travels with the task as the
``tenant_id`` keyword, captured from the enqueuer's scope; ``__call__`` enters that tenant's
scope before the body runs and refuses (before any query) a task that arrives without one.

Starting work, in one place:

* :func:`start` runs a piece of work inline now, or sends its task to a worker once the
  caller's transaction commits. Whether a worker is used is decided here and nowhere else
  (:func:`workers_configured`); ``*_start()`` services call it.
* :func:`send_on_commit` always goes through the task (a worker when a broker is configured,
  else the task runs eagerly in this process), after commit: for work that must not happen
  if the caller's transaction rolls back, such as an e-mail.

Both name the task by its registered name, so a service never imports its app's ``tasks``
module (which imports the service: a circle). Each app's ``AppConfig.ready()`` imports its
``tasks`` module, so the registry is complete in web and worker processes alike. Sending after
commit means a worker always finds the rows it is given and a rolled-back request sends
nothing; nobody hand-writes an on-commit callback that calls ``delay()``.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from celery import Task, current_app, shared_task
from celery.signals import worker_ready
from django.conf import settings
from django.db import connection, transaction

from core.models import IdempotencyRecord, Tenant
from core.tenancy import NoTenantError, get_current_tenant, get_current_tenant_id, tenant_scope


class TenantRequiredError(RuntimeError):
    """A tenant task was called with no tenant."""


class UnknownTaskError(LookupError):
    """No task is registered under the name a service started."""


@contextlib.contextmanager
def tenant_scope_by_id(tenant_id: int) -> Iterator[Tenant]:
    """Load an active tenant by id (a platform table) and make it current."""
    tenant = Tenant.objects.filter(pk=tenant_id, is_active=True).first()
    if tenant is None:
        raise NoTenantError(f"no active tenant with id {tenant_id}")
    with tenant_scope(tenant):
        yield tenant


def _with_tenant(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Return ``kwargs`` with the current tenant's id, unless it names one already."""
    kwargs = dict(kwargs)
    if "tenant_id" not in kwargs:
        tenant_id = get_current_tenant_id()
        if tenant_id is not None:
            kwargs["tenant_id"] = tenant_id
    return kwargs


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
        return super().apply_async(args=args, kwargs=_with_tenant(kwargs), **options)

    def delay_on_commit(self, *args: Any, **kwargs: Any) -> None:
        """Send the task once the current transaction commits (at once outside one).

        The tenant is captured now: the commit may happen after the caller's scope has ended.
        A transaction that rolls back sends nothing. Without a tenant it refuses at once, not
        later in the worker.
        """
        kwargs = _with_tenant(kwargs)
        if "tenant_id" not in kwargs:
            raise TenantRequiredError(f"task {self.name} was started outside a tenant scope")
        transaction.on_commit(functools.partial(self.apply_async, args=args, kwargs=kwargs))

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


# --- starting work -------------------------------------------------------------------------------


def workers_configured() -> bool:
    """Return whether work may go to a worker: a broker is configured.

    Without one (the demo) Celery runs tasks eagerly, so :func:`start` runs the work inline.
    The test settings keep tasks eager even with a broker, so the queued path runs in-process
    on commit there; tests marked ``needs_worker`` point the app at a real worker.
    """
    return bool(settings.REDIS_URL)


def worker_argv(queue: str, name: str) -> list[str]:
    """The command line of one single-process Celery worker on ``queue`` named ``name`` (the
    tests' and benchmarks' real workers; production starts workers with `make worker`)."""
    return [
        sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo",
        "--concurrency", "1", "-Q", queue, "--loglevel", "WARNING", "-n", name,
        "--without-mingle", "--without-gossip",
    ]  # fmt: skip


def task_named(name: str) -> TenantTask:
    """Return the registered task called ``name``."""
    try:
        return current_app.tasks[name]  # type: ignore[no-any-return]
    except KeyError:
        app = name.split(".", 1)[0]
        raise UnknownTaskError(
            f"no task named {name!r} is registered; does {app}'s AppConfig.ready() import "
            f"{app}.tasks?"
        ) from None


@dataclass(frozen=True)
class Started:
    """How a piece of work was started: ``queued`` for a worker, or done inline (``result``)."""

    queued: bool
    result: Any = None


def start(
    name: str, *, inline: Callable[[], Any], background: bool = True, **task_kwargs: Any
) -> Started:
    """Run ``inline()`` now, or send task ``name(**task_kwargs)`` to a worker after commit.

    ``background`` says the work is big enough to be worth a worker; it goes to one only when
    workers are configured. ``inline`` must do what the task does (usually: call the same
    service), in the caller's tenant and transaction.
    """
    task = task_named(name)
    if background and workers_configured():
        task.delay_on_commit(**task_kwargs)
        return Started(queued=True)
    return Started(queued=False, result=inline())


def send_on_commit(name: str, **task_kwargs: Any) -> None:
    """Send task ``name`` once the current transaction commits (eagerly without a broker)."""
    task_named(name).delay_on_commit(**task_kwargs)


def _debounce_key(name: str, tenant_id: int) -> str:
    return f"{settings.PROGRESS_KEY_PREFIX}:debounce:{tenant_id}:{name}"


def send_debounced_on_commit(name: str, *, seconds: int = 60) -> None:
    """Send task ``name`` once the current transaction commits, unless one is pending already.

    One pending task per tenant and name: the first commit sets a Redis key (``SET NX``, it
    expires after ``seconds`` should the task be lost) and sends; later commits find the key
    and send nothing. The task calls :func:`debounce_release` when it starts, so work committed
    while it runs sends the next one. Without Redis every commit sends (eagerly, in-process).
    """
    tenant_id = get_current_tenant_id()
    if tenant_id is None:
        raise TenantRequiredError(f"task {name} was started outside a tenant scope")
    task = task_named(name)

    def send() -> None:
        if settings.REDIS_URL and not current_app.conf.task_always_eager:
            from core.health import redis_client

            try:
                fresh = redis_client(str(settings.REDIS_URL)).set(
                    _debounce_key(name, tenant_id), "1", nx=True, ex=seconds
                )
            except Exception:  # Redis unreachable: send anyway (the task is idempotent)
                fresh = True
            if not fresh:
                return
        task.apply_async(kwargs={"tenant_id": tenant_id})

    transaction.on_commit(send)


def debounce_release(name: str) -> None:
    """Let the next commit send task ``name`` of the current tenant again (see above)."""
    tenant_id = get_current_tenant_id()
    if settings.REDIS_URL and tenant_id is not None:
        from core.health import redis_client

        with contextlib.suppress(Exception):
            redis_client(str(settings.REDIS_URL)).delete(_debounce_key(name, tenant_id))


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
def invitation_send_task(*, user_id: int) -> None:
    """E-mail a new member of the current tenant a link to choose their password."""
    from core.mail import invitation_send

    invitation_send(user_id=user_id)


@shared_task  # type: ignore[untyped-decorator]
def tenant_probe_task() -> dict[str, Any]:
    """Report the tenant this task runs under, as the ORM and the database see it."""
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
