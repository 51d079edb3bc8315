"""Natural ("human") ordering of names: "Sales team 2" before "Sales team 11".

Text sorts digit by digit, so a list of teams reads "team 1, 11, 12, 2, 3"; people expect
"team 1, 2, 3, 11, 12". ``natural_key`` splits a name into text and number runs so that
``sorted(names, key=natural_key)`` puts them in that order (case-insensitively, ties broken by
the exact text so the order is total and stable).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")

_RUNS = re.compile(r"(\d+)")


def natural_key(text: str) -> tuple[tuple[tuple[int, int | str], ...], str]:
    """Return a sort key that orders the number runs of ``text`` by value."""
    parts = tuple(
        (0, int(run)) if run.isdigit() else (1, run.casefold())
        for run in _RUNS.split(text or "")
        if run
    )
    return parts, text or ""


def natural_sorted(items: Iterable[T], key: Callable[[T], str]) -> list[T]:
    """Return ``items`` in the natural order of ``key(item)``."""
    return sorted(items, key=lambda item: natural_key(key(item)))
