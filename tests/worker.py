"""A real Celery worker for `needs_worker` tests (use it with
``@pytest.mark.usefixtures("celery_worker_process")`` after importing it).

The worker is a separate process on Redis against the test database, so the data a test hands
it must be committed (outside the per-test transaction); the tests clean up after themselves.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from config.celery import app as celery_app
from core.tasks import worker_argv

ROOT = Path(__file__).resolve().parents[1]


def start_worker(queue: str) -> subprocess.Popen[bytes]:
    """Start a real worker process on ``queue`` against the test database (the app role)."""
    db = dict(connection.settings_dict)
    url = (
        f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{db.get('HOST') or '127.0.0.1'}"
        f":{db.get('PORT') or 5432}/{db['NAME']}"
    )
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DEBUG": "true",
        "CELERY_QUEUE": queue,
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "REDIS_URL": settings.REDIS_URL,
    }
    env.pop("DATABASE_OWNER_URL", None)
    return subprocess.Popen(
        worker_argv(queue, f"{queue}@%h"),
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@pytest.fixture(scope="module")
def celery_worker_process(django_db_setup: None, django_db_blocker: Any) -> Iterator[str]:
    """Start a real worker on its own queue, pointed at the test database as the app role."""
    queue = f"quotient-test-{uuid.uuid4().hex[:8]}"
    with django_db_blocker.unblock():
        worker = start_worker(queue)
    previous = (celery_app.conf.task_always_eager, celery_app.conf.task_default_queue)
    celery_app.conf.task_always_eager = False
    celery_app.conf.task_default_queue = queue
    try:
        yield queue
    finally:
        celery_app.conf.task_always_eager, celery_app.conf.task_default_queue = previous
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
