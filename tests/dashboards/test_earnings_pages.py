"""Earnings pages: an employee's own earnings and statements explained to the transaction, a
manager's team roll-up and member drill-down; empty states; 404 for not yours and for another
tenant's."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from core.tenancy import tenant_scope
from payouts.models import CalculationRun, Statement
from tests import drawn
from tests.payouts.written_runs import approve, write_line, write_run
from tests.tenancy import assert_not_found

pytestmark = pytest.mark.django_db


def _as(client, user):
    client.force_login(user)
    return client


def _text(response) -> str:
    return re.sub(r"[ \t\r\n]+", " ", response.content.decode())


def test_an_employee_sees_her_earnings_this_period_and_year_to_date(client, org, written):
    erin = _as(client, written.users["erin"])
    # when
    page = erin.get("/earnings/")
    # then
    assert page.status_code == 200
    text = _text(page)
    assert "FY2026 Q1" in text and "provisional" in text
    assert 'id="period-earned">1,238,817.50\u00a0USD' in text
    assert 'id="ytd-earned">1,238,817.50\u00a0USD' in text
    assert "85\u00a0%" in text and 'style="width:85%"' in text  # commission attainment bar
    assert 'style="width:100%"' in text  # 120 % is drawn full, not past the end
    figure = json.loads(json.dumps(page.context["figure"]))
    assert [t["name"] for t in figure["data"]] == ["Earned", "Target"]
    assert figure["data"][1]["y"] == [5000.0]  # her own assignment's target, not the role's
    assert b"plotly/plotly.min.js" in page.content and b"cdn" not in page.content.lower()
    assert "Statement history" in text and f"/earnings/statements/{written.q1.pk}-" in text
    # the home page links to it
    home = _text(erin.get("/"))
    assert 'id="home-earnings"' in home and "1,238,817.50" in home
    assert "Your statements, each line explained." in home  # a sentence, capitalised
    assert "arrive with payout runs" not in home


def test_a_period_not_calculated_yet_adds_no_target_to_the_chart(client, org, written):
    from hierarchy.models import Period

    # given Q1 and Q3 calculated, Q2 between them without a run: Q3's page
    with tenant_scope(org.tenant):
        q3 = Period.objects.get(kind="quarterly", label="FY2026 Q3")
        write_line(write_run(q3), org.erin, written.run.lines.first().plan, "commission", "10.00")
    page = _as(client, written.users["erin"]).get(f"/earnings/?period={q3.pk}")
    figure = page.context["figure"]
    # then the chart compares Q1 and Q3: Q2's 5,000 target is not drawn as a shortfall
    assert list(figure["data"][0]["x"]) == ["FY2026 Q1", "FY2026 Q3"]
    assert list(figure["data"][1]["y"]) == [5000.0, 10000.0]
    text = _text(page)
    assert "FY2026, period by period up to FY2026 Q3" in text
    assert '<td class="num muted" colspan="3">not calculated yet</td>' in text
    points = page.context["overview"].points
    assert [(p.period.label, p.cumulative_target) for p in points] == [
        ("FY2026 Q1", 5000),
        ("FY2026 Q2", None),
        ("FY2026 Q3", 10000),
    ]


def test_a_period_without_a_run_says_so(client, org, written):
    erin = _as(client, written.users["erin"])
    text = _text(erin.get(f"/earnings/?period={written.q2.pk}"))
    assert "No calculation has been run for this period yet" in text
    statement = _text(erin.get(f"/earnings/statements/{written.q2.pk}-{org.erin.pk}/"))
    assert "No calculation has been run for this period yet" in statement


def test_the_statement_explains_each_line_and_drills_down_to_the_transactions(client, org, written):
    erin = _as(client, written.users["erin"])
    line = written.lines[("erin", "commission")]
    statement = _text(erin.get(f"/earnings/statements/{written.q1.pk}-{org.erin.pk}/"))
    assert "42,500.00 of bookings at 10 % = 4,250.00." in statement
    assert f"/earnings/lines/{line.pk}/" in statement
    assert "Payable" in statement and "1,238,817.50\u00a0USD" in statement
    assert f"/api/v1/statements/{written.q1.pk}-{org.erin.pk}/pdf/" in statement
    drill = _text(erin.get(f"/earnings/lines/{line.pk}/"))
    assert "D-1" in drill and "Initech" in drill and "30,000.00\u00a0USD" in drill
    assert "3,000.00\u00a0USD" in drill and "4,250.00\u00a0USD" in drill


def test_the_pages_call_components_by_the_names_the_plan_gave_them(client, org, written, plan_a):
    # given: Q2 run lines of a component the plan names and of one it does not know
    with tenant_scope(org.tenant):
        run = write_run(written.q2)
        named = write_line(run, org.erin, plan_a, "new_business", "900.00", attainment="0.9")
        write_line(run, org.erin, plan_a, "per_qualified_meeting", "50.00")
    erin = _as(client, written.users["erin"])
    # when
    earnings = _text(erin.get(f"/earnings/?period={written.q2.pk}"))
    statement = _text(erin.get(f"/earnings/statements/{written.q2.pk}-{org.erin.pk}/"))
    line = _text(erin.get(f"/earnings/lines/{named.pk}/"))
    member = _text(
        _as(Client(), written.users["sam"]).get(
            f"/earnings/people/{org.erin.pk}/?period={written.q2.pk}"
        )
    )
    # then: the plan's own name ("New business commission", not the tidied "New business"),
    # else the id in words
    for page in (earnings, statement, member):
        assert "<strong>New business commission</strong>" in page
        assert "<strong>Per qualified meeting</strong>" in page
        assert "<strong>New business</strong>" not in page
    assert "<h1>New business commission · 900.00\u00a0USD</h1>" in line
    assert "Attainment of New business commission" in earnings


def _engine_traced_line(org, written, plan_a):
    """Write a Q2 line traced as the engine traces one: its segment (dates, node and role by
    id), pro-ration factor, exact quota, attainment, money, a sentence naming a team by id."""
    trace = [
        {
            "name": "segment",
            "value": "2026-04-01..2026-07-01",
            "note": f"node {org.east.pk}, role {org.ae.pk}",
        },
        {"name": "proration_factor", "value": "1", "note": "allocation 1"},
        {"name": "measure", "value": "42500.0000", "note": "bookings"},
        {"name": "quota", "value": "12.000000", "note": ""},
        {"name": "attainment", "value": "0.1234", "note": ""},
        {"name": "earned", "value": "12345.5", "note": ""},
        {"name": "gate_passed", "value": "yes", "note": ""},
    ]
    with tenant_scope(org.tenant):
        run = write_run(written.q2)
        return write_line(
            run,
            org.erin,
            plan_a,
            "new_business",
            "12345.50",
            trace_text=f"node {org.west.pk}'s bookings counts the quarter to date.",
            trace=trace,
        )


def test_a_lines_steps_read_in_words_not_the_engines_ids(client, org, written, plan_a):
    # given: a line traced as the engine traces one
    line = _engine_traced_line(org, written, plan_a)
    # when
    html = _text(_as(client, written.users["erin"]).get(f"/earnings/lines/{line.pk}/"))
    # then: the steps' names in words, teams and roles by name, numbers formatted
    steps = re.findall(
        r'<td data-label="Step">([^<]*)</td><td data-label="Value" class="num nowrap">([^<]*)'
        r'</td><td data-label="How">([^<]*)</td>',
        html,
    )
    assert steps == [
        ("Dates counted", "1 Apr 2026 through 30 Jun 2026", "Sales East, Account Executive"),
        ("Pro-ration factor", "100\u00a0%", "allocation 100\u00a0%"),
        ("Measured", "42,500", "Bookings"),
        ("Quota", "12", ""),
        ("Attainment", "12.34\u00a0%", ""),
        ("Earned", "12,345.50\u00a0USD", ""),
        ("Gate passed", "Yes", ""),
    ]
    assert "Sales West&#x27;s bookings counts the quarter to date." in html  # the sentence too
    for raw in ("proration_factor", "12.000000", f"node {org.east.pk}", f"role {org.ae.pk}"):
        assert raw not in html, raw


@pytest.mark.covers_url(
    "my_earnings", "team_earnings", "member_earnings", "statement_page", "statement_line_page"
)
def test_not_yours_and_another_tenants_pages_are_404(client, org, written, client_charlie):
    wes_line = written.lines[("wes", "commission")]
    urls = [
        f"/earnings/statements/{written.q1.pk}-{org.wes.pk}/",
        f"/earnings/lines/{wes_line.pk}/",
        f"/earnings/people/{org.wes.pk}/",
        "/earnings/team/",
    ]
    erin = _as(client, written.users["erin"])
    for url in urls:
        assert_not_found(erin.get(url))
    foreign = [
        *urls[:3],
        f"/earnings/statements/{written.q1.pk}-{org.erin.pk}/",
        f"/earnings/team/?period={written.q1.pk}",
    ]
    for url in foreign:
        assert_not_found(client_charlie.get(url))
    # Charlie's own roll-up has nothing of Acme
    assert "Erin" not in _text(client_charlie.get("/earnings/team/"))


def test_a_sign_in_linked_to_nobody_is_told_so(client, bob, written):
    text = _text(_as(client, bob).get("/earnings/"))
    assert "Your sign-in is not linked to a person yet" in text


def test_a_manager_sees_her_teams_roll_up_sorted_and_opens_a_members_page(client, org, written):
    sam = _as(client, written.users["sam"])
    page = sam.get(f"/earnings/team/?period={written.q1.pk}&sort=earned&dir=desc")
    text = _text(page)
    names = re.findall(r'/earnings/people/\d+/\?period=\d+">([^<]+)</a>', text)
    assert names == ["Erin East", "Wes West"]  # Mia is not in Sales; Sam is left out
    # attainment: earned over target incentive (Wes 800.00 of the role's 3,000.00)
    assert "27\u00a0%" in text and "1,238,817.50\u00a0USD" in text
    assert "of 3,000.00\u00a0USD target" in text
    assert page.context["figure"]["data"][0]["y"] == [1, 0, 0, 0, 1]
    by_name = _text(sam.get(f"/earnings/team/?period={written.q1.pk}&sort=name"))
    assert re.findall(r'\?period=\d+">([^<]+)</a>', by_name) == ["Erin East", "Wes West"]
    member = _text(sam.get(f"/earnings/people/{org.wes.pk}/?period={written.q1.pk}"))
    assert "Wes West" in member and 'id="period-earned">800.00\u00a0USD' in member
    assert "3,000.00\u00a0USD" in member  # the AE role's target
    assert_not_found(sam.get(f"/earnings/people/{org.mia.pk}/"))
    assert "My team" in _text(sam.get("/"))


def test_a_person_on_two_components_shows_one_attainment_on_page_download_and_api(
    client, org, written, plan_a
):
    """Erin is paid on two components, 0 % on new business and 245 % on expansion: her
    roll-up attainment is what she earned over her target incentive (both together), not the
    first component's 0 %; the page, the CSV download and the API say the same."""
    with tenant_scope(org.tenant):
        run = write_run(written.q1, number=2)
        write_line(run, org.erin, plan_a, "new_business", "0.00", attainment="0")
        write_line(run, org.erin, plan_a, "expansion", "4900.00", attainment="2.45")
        write_line(run, org.wes, plan_a, "new_business", "1200.00", attainment="0.4")
    sam = _as(client, written.users["sam"])
    page = sam.get(f"/earnings/team/?period={written.q1.pk}&sort=attainment&dir=desc")
    text = _text(page)
    # 4,900.00 of her 5,000.00 target: 98 % (not 0 %); Wes 1,200.00 of 3,000.00: 40 %
    assert re.findall(r'\?period=\d+">([^<]+)</a>', text) == ["Erin East", "Wes West"]
    assert "98\u00a0%" in text and "of 5,000.00\u00a0USD target" in text
    assert ">0\u00a0%" not in text  # not the first component's 0 %
    assert page.context["figure"]["data"][0]["y"] == [1, 0, 1, 0, 0]
    csv_rows = sam.get(f"/earnings/team/download.csv?period={written.q1.pk}").content.decode()
    assert csv_rows.splitlines()[1].startswith("E3,Erin East,Sales AE,98.00,5000.00,4900.00,")
    api = sam.get(f"/api/v1/rollups/?period={written.q1.pk}&sort=attainment&dir=desc").json()
    erin = api["results"][0]
    assert (erin["full_name"], erin["attainment"], erin["target"]) == (
        "Erin East",
        "0.98000000",
        "5000.0000",
    )
    assert api["distribution"] == {
        "< 50 %": 1,
        "50-80 %": 0,
        "80-100 %": 1,
        "100-120 %": 0,
        "\u2265 120 %": 0,
    }


def test_the_team_page_takes_the_same_queries_for_a_bigger_team(client, org, written, plan_a):
    sam = _as(client, written.users["sam"])
    url = f"/earnings/team/?period={written.q1.pk}"
    sam.get(url)  # the first request also loads the session
    with CaptureQueriesContext(connection) as small:
        sam.get(url)
    with tenant_scope(org.tenant):
        run = write_run(written.q1, number=2)
        for who in (org.erin, org.wes):
            write_line(run, who, plan_a, "commission", "5.00", attainment="0.5")
    with CaptureQueriesContext(connection) as big:
        sam.get(url)
    assert len(big) == len(small)


def test_a_counted_credit_reads_counted_not_zero_money(client, org, written):
    """A line paid per meeting: its credits carry no amount, so the drill-down says each was
    counted (and how many) instead of "0.00 USD contributed"."""
    from incentives import services as incentive_services
    from incentives.models import Credit
    from payouts.models import LineContribution

    with tenant_scope(org.tenant):
        incentive_services.ingest_rows(
            request=incentive_services.IngestRequest(kind="transactions", source_format="json"),
            rows=[
                {
                    "external_id": f"MTG-{n}",
                    "kind": "meeting",
                    "amount": "0",
                    "currency": "USD",
                    "booked_on": "2026-05-12",
                    "owner_employee_id": "E3",
                }
                for n in (1, 2)
            ],
            created_by_id=None,
        )
        run = write_run(written.q2)
        line = write_line(run, org.erin, written.run.lines.first().plan, "meetings", "100.00")
        for credit in Credit.objects.filter(transaction__external_id__startswith="MTG-"):
            LineContribution.objects.create(
                line=line,
                run=run,
                transaction_id=credit.transaction_id,
                credit_id=credit.pk,
                amount=credit.amount,
            )
    drill = _text(_as(client, written.users["erin"]).get(f"/earnings/lines/{line.pk}/"))
    assert "MTG-1" in drill and "MTG-2" in drill
    assert drill.count("counted once") == 2 and '1&nbsp;<span class="muted">meeting</span>' in drill
    assert 'Total contributed</td><td class="num nowrap">2 counted</td>' in drill
    assert ">0.00\u00a0USD" not in drill  # no zero-money contribution cell
    # her credits on the earnings page read the same way
    earnings = _text(_as(client, written.users["erin"]).get(f"/earnings/?period={written.q2.pk}"))
    assert earnings.count('1&nbsp;<span class="muted">meeting</span>') == 2


def test_a_line_measured_by_a_count_counts_its_deals_never_sums_them(client, org, written):
    """A per-opportunity line counts money deals: each reads "counted" and the total is the
    count (3), not the deals' amounts summed into "Total contributed 434,334.00 USD"."""
    from decimal import Decimal

    from payouts.models import LineContribution
    from plans import services as plan_services

    with tenant_scope(org.tenant):
        sdr = plan_services.plan_create(code="sdr-count", name="SDR", template="sdr", user_id=None)
        run = write_run(written.q2)
        line = write_line(run, org.erin, sdr, "per_opportunity", "750.00", measure="3")
        for amount in ("400000.00", "30000.00", "4334.00"):
            LineContribution.objects.create(
                line=line, run=run, transaction_id=None, credit_id=None, amount=Decimal(amount)
            )
    drill = _text(_as(client, written.users["erin"]).get(f"/earnings/lines/{line.pk}/"))
    assert drill.count('<span class="counted">counted</span>') == 3
    assert 'Total counted</td><td class="num nowrap">3</td>' in drill
    assert "434,334" not in drill and "Total contributed" not in drill
    assert 'data-label="Paid"' not in drill  # a phone reads "Contributed" beside the amount


def _attributed_credits(org, written, *, rule: str, deal: str) -> str:
    """Return Erin's /earnings/ page with her credits attributed, under a long rule name and
    long deal ids (the demo's "Pipeline attribution (W-shaped)" rule squeezes the columns)."""
    from incentives.models import Credit, CreditingRule, Transaction

    with tenant_scope(org.tenant):
        CreditingRule.objects.update(name=rule)
        Credit.objects.update(kind="attribution")
        for n, tx in enumerate(Transaction.objects.order_by("pk")):
            Transaction.objects.filter(pk=tx.pk).update(external_id=f"{deal}-{n}")
    client = Client()
    client.force_login(written.users["erin"])
    return client.get("/earnings/").content.decode()


def test_a_credits_kind_breaks_between_words_only(org, written):
    # given / when
    html = _attributed_credits(org, written, rule="Owner", deal="D")
    # then: the Kind cell keeps its words whole, by a rule the stylesheet has
    cells = re.findall(r'<td data-label="Kind"([^>]*)>([^<]*)</td>', html)
    assert cells and all(cell == (' class="words"', "Attribution") for cell in cells)
    css = (Path(settings.BASE_DIR) / "static" / "quotient" / "app.css").read_text()
    assert re.search(r"table\.data td\.words\s*\{\s*overflow-wrap:\s*normal;", css)


@pytest.mark.needs_browser
def test_attribution_is_not_broken_mid_word_at_1280_px(org, written):
    # given: long rule names and deal ids, which leave the Kind column little room
    html = _attributed_credits(
        org,
        written,
        rule="Pipeline attribution (W-shaped) across the inbound marketing funnel, EMEA and NA",
        deal="DEMO-INBOUND-E1042-ACCOUNT-RENEWAL",
    )
    # when: drawn by Chromium at a laptop's width, with the real stylesheet
    kinds = drawn.evaluate(
        html,
        """() => [...document.querySelectorAll('#my-credits td[data-label="Kind"]')]
        .map(td => {
            const range = document.createRange();
            range.selectNodeContents(td);
            const tops = [...range.getClientRects()].map(r => Math.round(r.top));
            return [td.textContent, new Set(tops).size];
        })""",
    )
    # then: "Attribution" on one line in every row (it was "Attribu / tion")
    assert kinds and all(kind == ["Attribution", 1] for kind in kinds), kinds


def test_the_statement_says_its_dates_in_plain_words(client, org, written):
    # given: Q1, stored as 2026-01-01 to 2026-04-01 (the end exclusive)
    erin = _as(client, written.users["erin"])
    # when
    html = _text(erin.get(f"/earnings/statements/{written.q1.pk}-{org.erin.pk}/"))
    # then: its first and last day
    assert "1 Jan 2026 through 31 Mar 2026" in html
    assert "exclusive" not in html


def test_the_statement_says_when_it_was_calculated_and_a_reference_not_jargon(client, org, written):
    # given: Q1 approved (its statements frozen)
    approve(org.tenant, written.q1, written.run)
    with tenant_scope(org.tenant):
        run = CalculationRun.objects.get(pk=written.run.pk)
        statement = Statement.objects.get(period=written.q1, person=org.erin)
    erin = _as(client, written.users["erin"])
    # when
    html = _text(erin.get(f"/earnings/statements/{written.q1.pk}-{org.erin.pk}/"))
    # then: words for an employee, the hash a small reference
    assert f"Calculated on {run.finished_at.day} {run.finished_at:%b %Y}" in html
    assert f"<small>Reference <code>{statement.content_hash[:12]}</code></small>" in html
    assert f"run {run.number}" not in html and "fingerprint" not in html


def test_her_manager_reads_her_name_where_she_reads_you(client, org, written):
    said = "You reached 85 % of a 5,000.00 USD quota: your commission pays 10 %."
    with tenant_scope(org.tenant):
        line = write_line(
            write_run(written.q2),
            org.erin,
            written.run.lines.first().plan,
            "commission",
            "1.00",
            trace_text=said,
        )
    first = org.erin.full_name.split(" ")[0]
    theirs = f"{first} reached 85 % of a 5,000.00 USD quota: {first}&#x27;s commission pays 10 %."
    # her manager: her name, on the line and on her statement
    sam = _as(Client(), written.users["sam"])
    assert theirs in _text(sam.get(f"/earnings/lines/{line.pk}/"))
    statement = _text(sam.get(f"/earnings/statements/{written.q2.pk}-{org.erin.pk}/"))
    assert theirs in statement and "You reached" not in statement
    # she herself: "you"
    own = _text(_as(Client(), written.users["erin"]).get(f"/earnings/lines/{line.pk}/"))
    assert said in own


def test_a_final_period_says_where_it_ended_and_projects_nothing(client, org, written):
    approve(org.tenant, written.q1, written.run)
    page = _text(_as(client, written.users["erin"]).get(f"/earnings/?period={written.q1.pk}"))
    assert "Where FY2026 Q1 ended" in page and "Progress and next steps" not in page
    assert "Projected at" not in page and "Nudge settings" not in page


def test_a_deal_recorded_after_the_latest_run_waits_for_the_next_calculation(client, org, written):
    from incentives import services as incentive_services

    with tenant_scope(org.tenant):
        incentive_services.ingest_rows(
            request=incentive_services.IngestRequest(kind="transactions", source_format="json"),
            rows=[
                {
                    "external_id": "LATE-1",
                    "kind": "new_business",
                    "amount": "1000",
                    "currency": "USD",
                    "booked_on": "2026-02-10",
                    "owner_employee_id": "E3",
                }
            ],
            created_by_id=None,
        )
    page = _text(_as(client, written.users["erin"]).get(f"/earnings/?period={written.q1.pk}"))
    assert "LATE-1" in page and "in the next calculation" in page
