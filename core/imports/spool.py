"""Spooling an upload to disk: hashed, measured and counted while it streams in.

The SHA-256 of the bytes is the upload's fingerprint: an ``Idempotency-Key`` replay is honoured
only for the same bytes (a different file of the same size is a different request).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Spooled:
    path: Path
    sha256: str
    size: int
    lines: int  # line feeds seen (an upper bound of the records)


class TooLargeError(ValueError):
    """The upload is larger than allowed."""


def spool(chunks: Iterable[bytes], directory: Path, *, max_bytes: int | None = None) -> Spooled:
    """Write ``chunks`` to a new file under ``directory``; raise :class:`TooLargeError` (and
    keep nothing) past ``max_bytes``."""
    digest, size, lines = hashlib.sha256(), 0, 0
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"incoming-{uuid.uuid4().hex}.csv"
    try:
        with path.open("wb") as out:
            for chunk in chunks:
                size += len(chunk)
                if max_bytes is not None and size > max_bytes:
                    raise TooLargeError(f"Files are limited to {max_bytes} bytes.")
                out.write(chunk)
                digest.update(chunk)
                lines += chunk.count(b"\n")
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return Spooled(path, digest.hexdigest(), size, lines)


def fingerprint(data: bytes) -> str:
    """The fingerprint of bytes already in memory (a JSON body)."""
    return hashlib.sha256(data).hexdigest()
