"""The earnings page's per-component cards laid out: each threshold ladder as a progress bar
with its marks (tiers, curve points, gate, milestone), the nudge sentence and the projection.

Figures from ``payouts.nudges``; this module only turns them into what a template shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine.nudges import Progress, amount_words
from payouts import nudges, trace_words


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


def final_words(p: Progress, currency: str) -> str:
    """Return where a ladder ended once its period is final: no "more puts you in" about a
    period nobody can sell in any more."""
    if p.next is None or p.distance is None:
        return "Final: every mark on this ladder was reached."
    what = f"the {p.next.label} tier" if p.kind == "tier" else p.next.label
    return f"Final: it ended {amount_words(p.distance, p.unit, currency)} short of {what}."


def ladder_view(p: Progress, currency: str, *, final: bool = False, payee: str = "") -> LadderView:
    """Return one threshold ladder laid out for a progress bar with its marks; ``final``: the
    period is approved or closed (where it ended, not what is next); ``payee``: her name when
    someone else reads (the engine's "you" becomes it)."""
    return LadderView(
        kind=p.kind,
        text=final_words(p, currency) if final else trace_words.in_third_person(p.text, payee),
        fill_pct=_pct(p, p.measure),
        now=_shown(p.measure, p.unit, currency),
        marks=[
            MarkView(m.label, _shown(m.at, p.unit, currency), _pct(p, m.at), m.reached, m is p.next)
            for m in p.marks
        ],
        within_reach=p.within_reach and not final,
        reached_all=p.next is None,
    )


def card_views(
    cards: list[nudges.Card], *, final: bool = False, payee: str = ""
) -> list[dict[str, Any]]:
    """Return the earnings page's component cards: the card and its ladders laid out (see
    :func:`ladder_view` for ``final`` and ``payee``), the projection's assumption in the
    reader's words."""
    return [
        {
            "card": c,
            "ladders": [ladder_view(p, c.currency, final=final, payee=payee) for p in c.ladders],
            "assumption": trace_words.in_third_person(
                c.projection.assumption if c.projection else "", payee
            ),
        }
        for c in cards
    ]
