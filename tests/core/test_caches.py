"""core.caches.LastUsed: the entries used last are kept, the least recently used dropped."""

from __future__ import annotations

from core.caches import LastUsed


def test_the_least_recently_used_entry_is_dropped_beyond_the_size() -> None:
    kept: LastUsed[str, int] = LastUsed(2)
    kept.put("a", 1)
    kept.put("b", 2)
    assert kept.get("a") == 1  # "a" used: "b" is now the oldest
    kept.put("c", 3)
    assert "b" not in kept and kept.get("a") == 1 and kept.get("c") == 3 and len(kept) == 2


def test_a_miss_is_none_and_discard_and_clear_forget() -> None:
    kept: LastUsed[str, int] = LastUsed(3)
    assert kept.get("x") is None
    kept.put("x", 0)
    kept.put("y", 1)
    kept.discard("x")
    kept.discard("never there")
    assert "x" not in kept and kept.get("y") == 1
    kept.clear()
    assert len(kept) == 0 and kept.get("y") is None
