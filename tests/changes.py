"""Reading the change feed in tests: a mark before a write, the keys recorded since."""

from __future__ import annotations

from django.db.models import Max

from core.models import Change


def feed_mark() -> int:
    """Return the id of the feed's last row (0 when empty)."""
    return Change.objects.aggregate(last=Max("id"))["last"] or 0


def feed_since(mark: int) -> set[tuple]:
    """Return (kind, person_id, node_id, valid_from, valid_to) of the rows after ``mark``."""
    return {
        (c.kind, c.person_id, c.node_id, c.valid_from, c.valid_to)
        for c in Change.objects.filter(id__gt=mark)
    }
