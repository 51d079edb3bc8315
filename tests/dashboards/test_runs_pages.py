"""The runs pages: the runs of a period with "Calculate" and progress bars, a run's detail
(status, reason and problems, totals by plan, lines a page at a time), retry and compare;
who sees them, and another tenant's run is a 404."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from core.models import Role
from core.tenancy import tenant_scope
from payouts.models import CalculationRun, PayoutLine, RunStatus
from tests.factories.hierarchy import MembershipFactory, UserFactory
from tests.payouts.rundata import build_sales, deal, record
from tests.payouts.written_runs import write_line, write_run
from tests.tenancy import assert_not_found

pytestmark = pytest.mark.django_db


@pytest.fixture
def sales(tenant_a: Any) -> Any:
    with tenant_scope(tenant_a):
        return build_sales(n_people=4, deals_per_person=3)


def _calculate(client: Any, capture: Any, period_id: int) -> Any:
    with capture(execute=True):
        return client.post("/runs/calculate/", {"period": period_id})


def _latest(tenant: Any) -> CalculationRun:
    with tenant_scope(tenant):
        return CalculationRun.objects.order_by("-pk").first()


@pytest.mark.covers_url("runs", "run_calculate", "run_detail")
def test_a_comp_admin_calculates_a_period_from_the_runs_page(
    client_alice, sales, django_capture_on_commit_callbacks
):
    # given no run yet: an empty state and a Calculate button
    page = client_alice.get(f"/runs/?period={sales.period.pk}")
    html = page.content.decode()
    assert page.status_code == 200
    assert "No runs of" in html and 'id="calculate"' in html
    assert 'href="/runs/"' in html  # the nav item
    # when she calculates
    response = _calculate(client_alice, django_capture_on_commit_callbacks, sales.period.pk)
    run = _latest(sales.period.tenant)
    assert response.status_code == 302 and response["Location"] == f"/runs/{run.pk}/"
    # then the run's page shows it done: totals by plan, its lines and their reasons
    html = client_alice.get(f"/runs/{run.pk}/").content.decode()
    assert "Succeeded" in html and 'id="totals"' in html and "Runs AE" in html
    assert 'id="lines"' in html and "Seller 00000" in html
    assert run.result_hash[:12] in html
    assert '<td data-label="Kind" class="words">' in html  # "earn / ed" never splits
    assert '<td data-label="Plan" class="words">' in html  # nor "Sales Developmen / t Rep"
    assert "— s<" not in html  # a run done in under a second takes "0 s", not "— s"
    # and the list shows it with a full bar, its lines and total
    html = client_alice.get(f"/runs/?period={sales.period.pk}").content.decode()
    assert f"/runs/{run.pk}/" in html and "width:100%" in html
    assert 'class="data stack"' in html  # rows become cards on a phone


def test_a_running_run_polls_its_progress(client_alice, sales, django_capture_on_commit_callbacks):
    with tenant_scope(sales.period.tenant):
        from django.utils import timezone

        run = CalculationRun.objects.create(
            period=sales.period,
            number=9,
            status="running",
            phase="measure",
            known_at=timezone.now(),
            created_at=timezone.now(),
            started_at=timezone.now(),
            chunks_total=7,
        )
    html = client_alice.get(f"/runs/{run.pk}/").content.decode()
    assert f'data-run-poll="/api/v1/runs/{run.pk}/"' in html
    assert "Measuring · 0 of 7 chunks" in html, html[html.find("data-run-text") :][:300]
    assert "They are written as the last phase" in html


@pytest.mark.covers_url("run_retry")
def test_a_failed_run_lists_every_problem_and_can_be_retried(
    client_alice, tenant_a, django_capture_on_commit_callbacks
):
    from hierarchy import periods

    with tenant_scope(tenant_a):
        period = periods.period_generate_fiscal_year(fiscal_year=2026)[5]
    _calculate(client_alice, django_capture_on_commit_callbacks, period.pk)
    run = _latest(tenant_a)
    html = client_alice.get(f"/runs/{run.pk}/").content.decode()
    assert "Why it failed" in html and 'id="problems"' in html and "no_assignments" in html
    assert 'id="retry"' in html
    with django_capture_on_commit_callbacks(execute=True):
        response = client_alice.post(f"/runs/{run.pk}/retry/")
    retry = _latest(tenant_a)
    assert retry.retry_of_id == run.pk and response["Location"] == f"/runs/{retry.pk}/"


@pytest.mark.covers_url("run_compare", "run_compare_pick")
def test_two_runs_compare_in_words(client_alice, sales, django_capture_on_commit_callbacks):
    _calculate(client_alice, django_capture_on_commit_callbacks, sales.period.pk)
    one = _latest(sales.period.tenant)
    with tenant_scope(sales.period.tenant):
        record([deal("LATE-2", 2, random.Random(5))])
    _calculate(client_alice, django_capture_on_commit_callbacks, sales.period.pk)
    two = _latest(sales.period.tenant)
    picked = client_alice.get(f"/runs/{one.pk}/compare/?other={two.pk}")
    assert picked["Location"] == f"/runs/{one.pk}/compare/{two.pk}/"
    html = client_alice.get(picked["Location"]).content.decode()
    assert "Seller 00002" in html and "rose from" in html and "3 unchanged" in html
    # asked from the later run, the change still reads from before to after, plans by name
    back = client_alice.get(f"/runs/{two.pk}/compare/{one.pk}/").content.decode()
    assert f"Run {one.number} → run {two.number}" in back and "rose from" in back
    assert f'href="/runs/{two.pk}/">← Run {two.number}' in back
    with tenant_scope(sales.period.tenant):
        plan = PayoutLine.objects.filter(run=two).select_related("plan").first().plan
    assert f"{plan.name} · " in back and f">{plan.code} · " not in back
    same = client_alice.get(f"/runs/{one.pk}/compare/{one.pk}/").content.decode()
    assert "same result hash" in same and "Nothing changed" in same


def test_an_employee_sees_no_runs_and_finance_calculates(
    client, tenant_a, bob, sales, django_capture_on_commit_callbacks
):
    client.force_login(bob)
    assert client.get("/runs/").status_code == 404
    assert client.post("/runs/calculate/", {"period": sales.period.pk}).status_code == 404
    finance = UserFactory(email="fin2@acme.test")
    MembershipFactory(user=finance, tenant=tenant_a, roles=[Role.FINANCE])
    client.force_login(finance)
    assert 'id="calculate"' in client.get("/runs/").content.decode()
    assert (
        _calculate(client, django_capture_on_commit_callbacks, sales.period.pk).status_code == 302
    )
    executive = UserFactory(email="exec2@acme.test")
    MembershipFactory(user=executive, tenant=tenant_a, roles=[Role.EXECUTIVE])
    client.force_login(executive)
    html = client.get("/runs/").content.decode()
    assert 'id="calculate"' not in html and 'href="/runs/"' not in html  # no nav item


def test_another_tenants_run_is_a_404(
    client_alice, client_charlie, sales, django_capture_on_commit_callbacks
):
    _calculate(client_alice, django_capture_on_commit_callbacks, sales.period.pk)
    run = _latest(sales.period.tenant)
    for url in (
        f"/runs/{run.pk}/",
        f"/runs/{run.pk}/compare/{run.pk}/",
        f"/runs/?period={sales.period.pk}",
    ):
        assert_not_found(client_charlie.get(url))
    assert_not_found(client_charlie.post(f"/runs/{run.pk}/retry/"))
    assert_not_found(client_charlie.post("/runs/calculate/", {"period": sales.period.pk}))
    # a redirect to a comparison that is then a 404
    assert_not_found(
        client_charlie.get(
            client_charlie.get(f"/runs/{run.pk}/compare/?other={run.pk}")["Location"]
        )
    )


def test_a_runs_lines_are_called_by_the_names_their_plan_version_gives_them(
    client_alice, org, written, plan_a
):
    # given: a run with a line of a component its plan names and one of an id it does not know
    with tenant_scope(org.tenant):
        run = write_run(written.q2)
        write_line(run, org.erin, plan_a, "new_business", "900.00")
        write_line(run, org.erin, plan_a, "per_qualified_meeting", "50.00")
    # when
    html = client_alice.get(f"/runs/{run.pk}/").content.decode()
    # then: the plan's own name, else the id in words
    cells = re.findall(r'<td data-label="Component" class="words">([^<]*)', html)
    assert [c.strip() for c in cells] == ["New business commission", "Per qualified meeting"]


def test_a_runs_lines_name_their_plan_and_say_why_in_words(client_alice, org, written, plan_a):
    # given: a line whose sentence names a team by its id, as the engine writes it
    with tenant_scope(org.tenant):
        run = write_run(written.q2, status=RunStatus.RUNNING)
        write_line(
            run, org.erin, plan_a, "new_business", "1234.50", trace_text=f"node {org.west.pk} hit."
        )
        CalculationRun.objects.filter(pk=run.pk).update(
            status=RunStatus.SUCCEEDED, result_hash="ab" * 32
        )
    # when
    html = client_alice.get(f"/runs/{run.pk}/").content.decode()
    # then: the plan by its name (not its code), the team by its name, money with separators
    assert '<td data-label="Plan" class="words">Sales AE</td>' in html
    assert '<td data-label="Plan" class="words">sales-ae</td>' not in html
    assert '<td data-label="Why" class="muted">Sales West hit.</td>' in html
    assert "1,234.50\u00a0USD" in html
    # the result hash: whole, in a monospace box cut by CSS, the full value in its title
    assert f'<code class="hash" title="{"ab" * 32}">{"ab" * 32}</code>' in html


def test_a_runs_page_says_when_its_data_was_known_in_the_tenants_time_zone(
    client_alice, org, written
):
    # given: a tenant in New York and a run whose data was known at 20:59 UTC
    org.tenant.time_zone = "America/New_York"
    org.tenant.save(update_fields=["time_zone"])
    known = datetime(2026, 12, 4, 20, 59, tzinfo=UTC)
    with tenant_scope(org.tenant):
        run = write_run(written.q2, status=RunStatus.RUNNING)
        CalculationRun.objects.filter(pk=run.pk).update(known_at=known)
        CalculationRun.objects.filter(pk=run.pk).update(status=RunStatus.SUCCEEDED)
    # when
    html = client_alice.get(f"/runs/{run.pk}/").content.decode()
    # then: New York's time with New York's zone, never that time labelled UTC
    assert "data as known at 2026-12-04 15:59:00 EST" in html
    assert "15:59:00 UTC" not in html


def test_a_runs_why_names_teams_and_measures_in_words(client_alice, org, written, plan_a):
    # given: a team milestone's sentence as the engine writes it: team ids, measure ids, "(s)"
    engine_text = (
        f"Not every team reached 100 % ({org.west.pk} 100 %, {org.east.pk} 0 %), so the pool "
        "pays nothing, split by equal shares among 1 participant(s): your share 100 % = 0.00. "
        "Your expansion_bookings 0.95 -> x1.05."
    )
    with tenant_scope(org.tenant):
        run = write_run(written.q2)
        write_line(run, org.erin, plan_a, "new_business", "0.00", trace_text=engine_text)
    # when
    html = client_alice.get(f"/runs/{run.pk}/").content.decode()
    # then: the teams by name, the measure in words, the plural it needs, an arrow; a run page
    # is read by the comp admin, so the engine's "your" names the payee
    first = org.erin.full_name.split(" ")[0]
    assert (
        "Not every team reached 100 % (Sales West 100 %, Sales East 0 %), so the pool pays "
        f"nothing, split by equal shares among 1 participant: {first}'s share 100 % = 0.00. "
        f"{first}'s expansion bookings 0.95 → x1.05."
    ).replace("'", "&#x27;") in html
    with tenant_scope(org.tenant):  # the engine's own text is kept as it was
        assert PayoutLine.objects.get(run=run).trace_text == engine_text


def test_the_runs_page_opens_on_the_latest_period_that_has_a_run(client_alice, org, written):
    # given: Q1 has a run (the hand-written one), later periods have none
    # when
    html = client_alice.get("/runs/").content.decode()
    # then: it opens on Q1, not on an empty period
    assert re.search(rf'<option value="{written.q1.pk}" selected>', html)
    assert f"/runs/{written.run.pk}/" in html
