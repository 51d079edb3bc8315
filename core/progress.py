"""The one progress channel: how far a long piece of work (an import, a recalculation) has got.

Work reports ``done`` of ``total`` (and a short message) under a key of its tenant, a kind
(``"ingest"``) and an id; pages and the API read it back while the work runs. The channel is
deliberately outside the database: a worker's rows are invisible to everyone else until its
transaction commits, but its progress must be readable meanwhile.

* With a broker (``REDIS_URL``) it is kept in Redis, shared by web and worker processes, and
  expires :data:`TTL_SECONDS` after the last report.
* Without one (the demo) tasks run in the web process itself, so a store in this process
  serves, with the same expiry.

Progress is advice, never a source of truth: reporting never fails the work (a Redis outage
is logged and ignored) and reading answers None when nothing is known. Keys carry the current
tenant, taken from the scope, so one tenant can never read another's progress.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from core.health import redis_client
from core.tenancy import get_current_tenant

TTL_SECONDS = 24 * 3600

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Progress:
    """``done`` of ``total`` units (``total`` None: unknown), with a short message."""

    done: int
    total: int | None = None
    message: str = ""

    @property
    def pct(self) -> int | None:
        """Return the share done in whole percent (0-100), or None without a total."""
        if not self.total:
            return None
        return max(0, min(100, (100 * self.done) // self.total))


def _key(kind: str, object_id: int | str) -> str:
    return f"{settings.PROGRESS_KEY_PREFIX}:{get_current_tenant().pk}:{kind}:{object_id}"


def _redis(url: str) -> Any:
    return redis_client(url)


class _LocalStore:
    """The channel of one process, for deployments without a broker."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, tuple[float, str]] = {}

    def set(self, key: str, value: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._values = {k: v for k, v in self._values.items() if v[0] > now}
            self._values[key] = (now + TTL_SECONDS, value)

    def get(self, key: str) -> str | None:
        with self._lock:
            entry = self._values.get(key)
        if entry is None or entry[0] <= time.monotonic():
            return None
        return entry[1]


_local = _LocalStore()


def progress_report(
    *, kind: str, object_id: int | str, done: int, total: int | None = None, message: str = ""
) -> None:
    """Record that ``done`` of ``total`` units of the work are done."""
    key = _key(kind, object_id)
    value = json.dumps({"done": int(done), "total": total, "message": message[:200]})
    if not settings.REDIS_URL:
        _local.set(key, value)
        return
    try:
        _redis(str(settings.REDIS_URL)).set(key, value, ex=TTL_SECONDS)
    except Exception:  # progress is advice: the work goes on without it
        logger.warning("could not report progress of %s %s", kind, object_id, exc_info=True)


def progress_get(*, kind: str, object_id: int | str) -> Progress | None:
    """Return the last progress reported for the work, or None when none is known."""
    key = _key(kind, object_id)
    raw: Any
    if not settings.REDIS_URL:
        raw = _local.get(key)
    else:
        try:
            raw = _redis(str(settings.REDIS_URL)).get(key)
        except Exception:
            return None
    if raw is None:
        return None
    try:
        data = json.loads(raw)
        total = data.get("total")
        return Progress(
            done=int(data["done"]),
            total=None if total is None else int(total),
            message=str(data.get("message", "")),
        )
    except (ValueError, KeyError, TypeError):
        return None
