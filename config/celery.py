"""The Celery app. Its task base is :class:`core.tasks.TenantTask` (tenant-scoped, fail-closed);
the few cross-tenant maintenance tasks opt out with ``base=core.tasks.GlobalTask``."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("quotient", task_cls="core.tasks:TenantTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
