"""The engine writes to the payee; someone else reading her page reads her name."""

from __future__ import annotations

from decimal import Decimal

from dashboards.nudge_cards import final_words, ladder_view
from engine.nudges import Mark, Progress
from payouts.trace_words import TraceNames, first_name, in_third_person


def test_the_engine_s_you_reads_as_the_payee_for_someone_else() -> None:
    said = (
        "You reached 85 % of a 100,000.00 USD quota: your rate is 10 %. "
        "38,000.00 USD more puts you in the 12 % tier (credits dated after the day you cross it "
        "earn it). You are not a participant of this pool."
    )
    assert in_third_person(said, "Erin") == (
        "Erin reached 85 % of a 100,000.00 USD quota: Erin's rate is 10 %. "
        "38,000.00 USD more puts Erin in the 12 % tier (credits dated after the day Erin crosses "
        "it earn it). Erin is not a participant of this pool."
    )
    # her own page keeps "you"; words like "young" or "layout" are never touched
    assert in_third_person(said, "") == said
    assert in_third_person("a young layout", "Erin") == "a young layout"
    assert TraceNames().about("Erin").words("You earned 5.00 USD") == "Erin earned 5.00 USD"
    assert first_name("Erin Example") == "Erin"


def _tier_ladder(measure: str, *, top: bool = False) -> Progress:
    marks = (
        Mark("tier_1", "tier", Decimal(0), "10 %", True),
        Mark("tier_2", "tier", Decimal(100000), "12 %", top),
    )
    nxt = None if top else marks[1]
    distance = None if top else Decimal(100000) - Decimal(measure)
    return Progress("commission", "tier", "money", Decimal(measure), marks, nxt, distance, "x")


def test_a_final_period_says_where_it_ended_never_what_is_next() -> None:
    ladder = ladder_view(_tier_ladder("98000"), "USD", final=True)
    assert ladder.text == "Final: it ended 2,000.00 USD short of the 12 % tier."
    assert not ladder.within_reach  # 2 % short, but the period is over
    assert ladder_view(_tier_ladder("98000"), "USD").within_reach
    assert final_words(_tier_ladder("120000", top=True), "USD") == (
        "Final: every mark on this ladder was reached."
    )


def test_numbers_the_engine_wrote_with_six_places_read_without_the_zeros() -> None:
    said = "4,290.22 above 60000.000000 at 0.080000; 169,588.443 in all; on 2026-12-04"
    assert TraceNames().words(said) == (
        "4,290.22 above 60,000 at 0.08; 169,588.443 in all; on 2026-12-04"
    )
