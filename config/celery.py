"""The Celery app and its tenant-aware task base.

Every task is a :class:`TenantTask` unless it opts out with ``base=GlobalTask``. The tenant
travels with the task as the ``tenant_id`` keyword, captured from the enqueuer's scope in
``apply_async``; ``__call__`` enters that tenant's scope before the task body runs, and refuses
(before any query) a task that arrives without one.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery, Task

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")


class TenantRequiredError(RuntimeError):
    """A tenant task was called with no tenant."""


class TenantTask(Task):  # type: ignore[misc]
    """Run the task body inside the scope of the tenant that enqueued it."""

    abstract = True
    # Celery's own signature check would reject the injected tenant_id; we check first instead.
    typing = False

    def apply_async(self, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
        from hierarchy.tenancy import get_current_tenant_id

        kwargs = dict(kwargs or {})
        header = getattr(self, "__header__", None)
        if header is not None:
            header(*(args or ()), **{k: v for k, v in kwargs.items() if k != "tenant_id"})
        if "tenant_id" not in kwargs:
            tenant_id = get_current_tenant_id()
            if tenant_id is not None:
                kwargs["tenant_id"] = tenant_id
        return super().apply_async(args=args, kwargs=kwargs, **options)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from hierarchy.tenancy import tenant_scope_by_id

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


app = Celery("quotient", task_cls="config.celery:TenantTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
