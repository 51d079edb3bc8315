"""The Celery app. Its task base is :class:`core.tasks.TenantTask` (tenant-scoped, fail-closed);
the few cross-tenant maintenance tasks opt out with ``base=core.tasks.GlobalTask``."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("quotient", task_cls="core.tasks:TenantTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _statement_timeout_of_tasks(**_: Any) -> None:
    """Let a worker's statements run as long as its tasks may (CELERY_TASK_TIME_LIMIT)."""
    from django.conf import settings
    from django.db import connections

    from config.settings.base import pg_session_options

    db: dict[str, Any] = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        return
    seconds = settings.DATABASE_STATEMENT_TIMEOUT  # 0: no limit, for tasks too
    if seconds:
        seconds = max(seconds, settings.CELERY_TASK_TIME_LIMIT)
    options = dict(db.get("OPTIONS") or {})
    db["OPTIONS"] = {**options, **pg_session_options(statement_timeout_s=seconds)}
    connections["default"].close()
    connections["default"].settings_dict["OPTIONS"] = db["OPTIONS"]


worker_init.connect(_statement_timeout_of_tasks)
