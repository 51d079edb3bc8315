"""Progress of an import running in a worker, readable by the web while the import's
transaction is still open (its own rows are invisible until it commits).

Kept in Redis when a broker is configured; without one the import runs inside the request,
so there is nothing to poll.
"""

from __future__ import annotations

from django.conf import settings

TTL_SECONDS = 24 * 3600


def _key(batch_id: int) -> str:
    return f"quotient:ingest:{batch_id}:rows"


def report(batch_id: int, rows: int) -> None:
    """Record that ``rows`` rows of the batch have been read."""
    if not settings.REDIS_URL:
        return
    from core.health import _redis

    _redis().set(_key(batch_id), rows, ex=TTL_SECONDS)


def read(batch_id: int) -> int | None:
    """Return the rows read so far by a running import, if known."""
    if not settings.REDIS_URL:
        return None
    from core.health import _redis

    try:
        raw = _redis().get(_key(batch_id))
    except Exception:
        return None
    return None if raw is None else int(raw)
