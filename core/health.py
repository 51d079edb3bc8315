"""Broker and worker heartbeat for /healthz (only when REDIS_URL is configured)."""

from __future__ import annotations

import functools
import time
from typing import Any

from django.conf import settings

HEARTBEAT_KEY = "quotient:worker:heartbeat"


@functools.cache
def redis_client(url: str) -> Any:
    """Return this process's client of the Redis at ``url`` (one pool; 1 s timeouts, so a
    slow Redis never slows the work or the health check down)."""
    import redis

    return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)


def _redis() -> Any:
    return redis_client(str(settings.REDIS_URL))


def broker_status() -> dict[str, Any]:
    """Return whether Redis answers a PING."""
    try:
        _redis().ping()
    except Exception as exc:
        return {"status": "error", "error": exc.__class__.__name__}
    return {"status": "ok"}


def record_heartbeat() -> None:
    """Store the time a worker last proved it is alive."""
    _redis().set(HEARTBEAT_KEY, str(time.time()), ex=3600)


def worker_status() -> dict[str, Any]:
    """Return the age of the last worker heartbeat and whether it is fresh."""
    try:
        raw = _redis().get(HEARTBEAT_KEY)
    except Exception as exc:
        return {"status": "error", "error": exc.__class__.__name__}
    if raw is None:
        return {"status": "no_heartbeat"}
    age = max(0.0, time.time() - float(raw))
    fresh = age <= settings.WORKER_HEARTBEAT_STALE_SECONDS
    return {"status": "ok" if fresh else "stale", "last_heartbeat_age_s": round(age, 1)}
