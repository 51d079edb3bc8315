"""Test overrides only; everything else comes from base.py and the environment."""

from __future__ import annotations

import os
import uuid

os.environ.setdefault("DEBUG", "true")
# Progress keys live in a Redis shared by every xdist worker and every run, while tenant and
# batch ids repeat across the workers' databases and between runs: one prefix per worker and
# run (in the environment, so the real worker a test starts uses the same one).
os.environ["PROGRESS_KEY_PREFIX"] = (
    f"quotient-test:{uuid.uuid4().hex[:12]}:"
    f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')}:progress"
)
os.environ.setdefault("SECRET_KEY", "test-secret-key-that-is-long-enough-for-checks-0123456789")

from config.settings.base import *  # noqa: F403
from config.settings.base import DATABASES, REDIS_URL

DEBUG = False
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_SSL_REDIRECT = False  # the test client speaks plain http
SECURE_HSTS_SECONDS = 0
# Tests run tasks in-process unless marked `needs_worker`, which switch to the real worker.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
DATABASES["default"]["CONN_MAX_AGE"] = 0
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Live runs only where a test asks for them (settings.CHANGE_FEED_TASKS): every other test that
# writes a transaction after a run would otherwise get a live run too.
CHANGE_FEED_TASKS = []
