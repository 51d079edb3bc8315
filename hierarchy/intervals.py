"""Pure helpers on half-open ``[start, end)`` date intervals (``end`` None = open-ended).

No database here: the services fetch rows, call these, and persist what they return, so the
rules (allocation ≤ 100 % on every day, no overlapping duplicates, no cycles) are checked the
same way for one API call and for a 100k-row import.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from itertools import pairwise

OPEN_END = date.max  # stands for "no end" in comparisons


def end_or_max(end: date | None) -> date:
    return OPEN_END if end is None else end


def overlaps(a_start: date, a_end: date | None, b_start: date, b_end: date | None) -> bool:
    """Return whether two half-open intervals share at least one day."""
    return a_start < end_or_max(b_end) and b_start < end_or_max(a_end)


def clip(
    start: date, end: date | None, window_start: date, window_end: date
) -> tuple[date, date] | None:
    """Return the part of ``[start, end)`` inside ``[window_start, window_end)``, or None."""
    lo, hi = max(start, window_start), min(end_or_max(end), window_end)
    return (lo, hi) if lo < hi else None


def live_on(start: date, end: date | None, day: date) -> bool:
    return start <= day < end_or_max(end)


def covers(spans: Iterable[tuple[date, date | None]], start: date, end: date | None) -> bool:
    """Return whether the union of ``spans`` contains every day of ``[start, end)``."""
    reach, goal = start, end_or_max(end)
    for span_start, span_end in sorted(spans, key=lambda s: s[0]):
        if span_start > reach:
            break
        reach = max(reach, end_or_max(span_end))
    return reach >= goal


# --- assignments -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    """One assignment reduced to what the person-level rules look at."""

    key: Hashable  # identifies the row to the caller (an id, or an import line)
    node: Hashable
    role: Hashable
    allocation: Decimal
    start: date
    end: date | None
    group: Hashable = None  # the node's hierarchy: allocation adds up within one hierarchy


@dataclass(frozen=True)
class SpanProblem:
    key: Hashable
    code: str  # "overlapping_duplicate" | "allocation_over_100"
    day: date
    other: Hashable | None = None
    total: Decimal | None = None


HUNDRED = Decimal(100)


def check_spans(spans: Sequence[Span]) -> list[SpanProblem]:
    """Return rule violations among one person's spans: duplicates, then over-allocation.

    A duplicate is two spans with the same node and role sharing a day. Allocation adds up
    within one hierarchy (a person is 100 % in their reporting team *and* 100 % in their
    region; a dual role is 60/40 inside one hierarchy). Over-allocation is found by a sweep
    over start/end events and reported once per hierarchy, on the first day it happens,
    against the span that pushed the total over 100 %.
    """
    problems: list[SpanProblem] = []
    by_slot: dict[tuple[Hashable, Hashable], list[Span]] = defaultdict(list)
    for span in spans:
        by_slot[(span.node, span.role)].append(span)
    for slot in by_slot.values():
        slot.sort(key=lambda s: s.start)
        for prev, cur in pairwise(slot):
            if cur.start < end_or_max(prev.end):
                problems.append(
                    SpanProblem(cur.key, "overlapping_duplicate", cur.start, other=prev.key)
                )
    by_group: dict[Hashable, list[Span]] = defaultdict(list)
    for span in spans:
        by_group[span.group].append(span)
    for group in by_group.values():
        problem = _over_allocated(group)
        if problem is not None:
            problems.append(problem)
    return problems


def _over_allocated(spans: Sequence[Span]) -> SpanProblem | None:
    events: list[tuple[date, int, Decimal, Hashable]] = []
    for span in spans:
        events.append((span.start, 1, span.allocation, span.key))
        if span.end is not None:
            events.append((span.end, 0, -span.allocation, span.key))
    # Ends (0) sort before starts (1) on the same day: [a, d) and [d, e) do not overlap.
    events.sort(key=lambda e: (e[0], e[1]))
    total = Decimal(0)
    for day, _kind, delta, key in events:
        total += delta
        if delta > 0 and total > HUNDRED:
            return SpanProblem(key, "allocation_over_100", day, total=total)
    return None


# --- effective-dated trees -----------------------------------------------------------------------


@dataclass(frozen=True)
class Link:
    node: int
    parent: int | None
    start: date
    end: date | None


@dataclass(frozen=True)
class ClosureRow:
    ancestor: int
    descendant: int
    depth: int
    start: date
    end: date | None


class CycleError(ValueError):
    def __init__(self, node: int, day: date, path: list[int]) -> None:
        super().__init__(f"node {node} would be its own ancestor on {day}")
        self.node = node
        self.day = day
        self.path = path


class OverlappingLinkError(ValueError):
    def __init__(self, node: int, day: date) -> None:
        super().__init__(f"node {node} has two parents on {day}")
        self.node = node
        self.day = day


def build_closure(links: Iterable[Link]) -> list[ClosureRow]:
    """Return the effective-dated closure of a forest given by parent links.

    Between two consecutive dates at which any link starts or ends the forest is constant; each
    such slice gets its (ancestor, descendant, depth) set, and a pair that stays the same across
    consecutive slices becomes one row. A parent with no link of its own on a day acts as a
    root. Raises :class:`CycleError` or :class:`OverlappingLinkError`.
    """
    links = list(links)
    if not links:
        return []
    cuts = sorted({k.start for k in links} | {k.end for k in links if k.end is not None})
    starts: dict[date, list[Link]] = defaultdict(list)
    ends: dict[date, list[Link]] = defaultdict(list)
    for link in links:
        starts[link.start].append(link)
        if link.end is not None:
            ends[link.end].append(link)
    parent_of: dict[int, int | None] = {}
    open_rows: dict[tuple[int, int, int], date] = {}
    rows: list[ClosureRow] = []
    for cut in cuts:
        for link in ends.get(cut, ()):
            if parent_of.get(link.node, -1) == link.parent:
                del parent_of[link.node]
        for link in starts.get(cut, ()):
            if link.node in parent_of:
                raise OverlappingLinkError(link.node, cut)
            parent_of[link.node] = link.parent
        current = _slice_pairs(parent_of, cut)
        closed = [k for k in open_rows if k not in current]
        rows.extend(ClosureRow(k[0], k[1], k[2], open_rows.pop(k), cut) for k in closed)
        for key in current:
            if key not in open_rows:
                open_rows[key] = cut
    rows.extend(ClosureRow(a, d, depth, start, None) for (a, d, depth), start in open_rows.items())
    return rows


def _slice_pairs(parent_of: dict[int, int | None], day: date) -> set[tuple[int, int, int]]:
    """Return (ancestor, descendant, depth) for one constant slice of the forest."""
    chains: dict[int, list[int]] = {}

    def chain(node: int) -> list[int]:
        # Iterative walk up with memoisation: ancestors of `node`, nearest first, self included.
        path: list[int] = []
        seen: set[int] = set()
        cur: int | None = node
        while cur is not None and cur not in chains:
            if cur in seen:
                raise CycleError(cur, day, [*path, cur])
            seen.add(cur)
            path.append(cur)
            cur = parent_of.get(cur)
        tail = chains[cur] if cur is not None else []
        for i in range(len(path) - 1, -1, -1):
            tail = [path[i], *tail]
            chains[path[i]] = tail
        return chains[node]

    pairs: set[tuple[int, int, int]] = set()
    for node in parent_of:
        path = chain(node)
        for depth, ancestor in enumerate(path):
            pairs.add((ancestor, node, depth))
        if path[-1] not in parent_of:  # a parent with no link today is a root of its own
            pairs.add((path[-1], path[-1], 0))
    return pairs
