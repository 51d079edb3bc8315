"""The earnings page's per-component cards laid out: each threshold ladder as a progress bar
with its marks (tiers, curve points, gate, milestone), the nudge sentence and the projection.

Figures from ``payouts.nudges``; this module only turns them into what a template shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine.nudges import Progress, amount_words
from payouts import nudges


@dataclass(frozen=True)
class MarkView:
    label: str
    value: str
    pct: str
    reached: bool
    is_next: bool


@dataclass(frozen=True)
class LadderView:
    kind: str
    text: str
    fill_pct: str
    now: str
    marks: list[MarkView]
    within_reach: bool
    reached_all: bool


def _shown(value: Decimal, unit: str, currency: str) -> str:
    if unit == "points":
        return f"{(value * 100).quantize(Decimal('0.1')).normalize():f}\u00a0%"
    return amount_words(value, unit, currency)


def _pct(p: Progress, value: Decimal) -> str:
    return str((p.position(value) * 100).quantize(Decimal("0.1")))


def ladder_view(p: Progress, currency: str) -> LadderView:
    """Return one threshold ladder laid out for a progress bar with its marks."""
    return LadderView(
        kind=p.kind,
        text=p.text,
        fill_pct=_pct(p, p.measure),
        now=_shown(p.measure, p.unit, currency),
        marks=[
            MarkView(m.label, _shown(m.at, p.unit, currency), _pct(p, m.at), m.reached, m is p.next)
            for m in p.marks
        ],
        within_reach=p.within_reach,
        reached_all=p.next is None,
    )


def card_views(cards: list[nudges.Card]) -> list[dict[str, Any]]:
    """Return the earnings page's component cards: the card and its ladders laid out."""
    return [{"card": c, "ladders": [ladder_view(p, c.currency) for p in c.ladders]} for c in cards]
