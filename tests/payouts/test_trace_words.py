"""payouts.trace_words: a line's "why" as pages and statement files show it (the engine's text
stays as it is)."""

from __future__ import annotations

import pytest

from core.tenancy import tenant_scope
from payouts.trace_words import TraceNames, measure_words, plan_measure_words, trace_names


def test_a_measure_id_reads_as_words_with_its_acronyms():
    assert measure_words("launched_on_time") == "launched on time"
    assert measure_words("team_csat") == "team CSAT"
    assert measure_words("pqls") == "PQLs"
    assert measure_words("expansion_bookings") == "expansion bookings"


def test_a_sentence_names_teams_and_measures_in_the_plural_it_needs():
    names = TraceNames(
        nodes={"34": "Marketing", "58": "Product"},
        measures={"team_csat": "team CSAT", "pqls": "PQLs"},
    )
    assert (
        names.words("Not every team reached 100 % (34 100 %, 58 0 %), so the pool pays nothing")
        == "Not every team reached 100 % (Marketing 100 %, Product 0 %), so the pool pays nothing"
    )
    assert names.words("split by pqls among 3 participant(s), 1 qualifying event(s)") == (
        "split by PQLs among 3 participants, 1 qualifying event"
    )
    assert names.words("node 34's team_csat 0.95 -> x1.05") == "Marketing's team CSAT 0.95 → x1.05"
    # an id inside another word is left alone
    assert names.words("team_csat_bonus") == "team_csat_bonus"


@pytest.mark.django_db
def test_names_come_from_the_lines_teams_and_plan_versions(org, plan_a):
    with tenant_scope(org.tenant):
        version = plan_a.versions.get()
        words = plan_measure_words([version.pk, None])
        names = trace_names(
            [f"Every team reached 100 % ({org.west.pk} 100 %)"], version_ids=[version.pk]
        )
    assert words["expansion_bookings"] == "expansion bookings"
    assert "new_bookings" in words and "bookings" not in words
    assert names.nodes == {str(org.west.pk): "Sales West"}
    assert names.words(f"Every team reached 100 % ({org.west.pk} 100 %)") == (
        "Every team reached 100 % (Sales West 100 %)"
    )


def test_an_overrides_sentence_names_the_payees_it_sums():
    names = TraceNames(people={"22": "Ada Bauer", "23": "Bo Chen"})
    assert names.words(
        "10 % of the team's commissions of 9,000.00 (22 5,215.71, 23 3,784.29) = 900.00"
    ) == (
        "10 % of the team's commissions of 9,000.00 (Ada Bauer 5,215.71, Bo Chen 3,784.29) = 900.00"
    )
    # a payee the page could not name keeps its id; other parentheses are left alone
    assert names.words("of 1.00 (99 1.00)") == "of 1.00 (99 1.00)"
    assert names.words("(22 of 30 days)") == "(22 of 30 days)"


@pytest.mark.django_db
def test_the_payees_of_an_override_are_looked_up_by_id(org):
    erin = org.erin
    with tenant_scope(org.tenant):
        names = trace_names([f"5 % of the team's commissions of 100.00 ({erin.pk} 100.00)"])
    assert names.people == {str(erin.pk): erin.full_name}


def test_the_rounding_step_says_its_rule_in_words():
    from payouts.trace_words import step_rows

    trace = [{"name": "rounded", "value": "1234.5", "how": "half_even to USD"}]
    (row,) = step_rows(trace, currency="USD", names=TraceNames())
    assert (row.label, row.how) == ("Rounded", "Half even (banker's), to the decimals of USD")
    assert row.value == "1,234.50\u00a0USD"
