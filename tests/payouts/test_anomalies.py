"""The comp admin's anomalies (payouts/anomalies.py): outliers by share and by median / MAD, people
with no plan, unacknowledged plans, transactions credited to nobody, payees without a quota;
the first-run checklist; the API, its cross-tenant case and a fixed number of queries."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from core.models import Role
from core.permissions import ROLE_PERMISSIONS, Principal
from core.tenancy import tenant_scope
from hierarchy.access import access_for
from hierarchy.models import Period
from incentives import services as incentives
from payouts import anomalies
from plans import services as plans
from plans.services import QuotaHolder
from tests.payouts.milestones_data import FEB, JAN, build_launch
from tests.tenancy import assert_not_found

pytestmark = pytest.mark.django_db

COMP = Principal(permissions=ROLE_PERMISSIONS[Role.COMP_ADMIN])
D = Decimal


def _period(label: str, start: dt.date) -> Period:
    return Period(pk=1, kind="monthly", fiscal_year=2026, start=start, end=start, label=label)


def test_an_outlier_lies_beyond_three_and_a_half_robust_deviations_of_the_changes():
    # given ten people whose earnings moved by about 100, and two who did not move alike
    before = {p: D(1000) for p in range(1, 13)}
    now = {p: D(1100) + p for p in range(1, 11)}
    now[11] = D(1400)  # +40 %: under the 50 % share, but far from the median change (+105.5)
    now[12] = D(2600)  # +160 %: both rules
    # when
    got = {
        p: details
        for p, _words, details in anomalies._outliers(
            now, before, _period("Feb 2026", FEB), _period("Jan 2026", JAN)
        )
    }
    # then only the two are flagged, the largest move first
    assert list(got) == [12, 11]
    assert got[11]["change_share"] == "0.4000"
    assert D(got[11]["robust_z"]) > anomalies.ROBUST_Z
    assert got[12]["change_share"] == "1.6000"


def test_a_share_move_alone_flags_when_the_changes_have_no_spread():
    before = {1: D(100), 2: D(100), 3: D(100)}
    now = {1: D(100), 2: D(100), 3: D(151)}  # MAD 0: the share rule alone
    got = anomalies._outliers(now, before, _period("Feb", FEB), _period("Jan", JAN))
    assert [(p, d["robust_z"]) for p, _, d in got] == [(3, None)]


def _report_setup(org):
    launch = build_launch(org)
    with tenant_scope(org.tenant):
        access = access_for(COMP, today=JAN)
        # Erin holds a bookings quota on the plan, Wes and Mia none
        plans.quota_create(
            access=access,
            holder=QuotaHolder(person_id=org.erin.pk),
            quota_id="bookings",
            amount=50000,
            valid_from=JAN,
            valid_to=FEB,
            user_id=None,
            plan_id=launch.plan.pk,
        )
        # a deal nobody owns: no credit
        batch = incentives.ingest_rows(
            request=incentives.IngestRequest(kind="transactions", source_format="json"),
            rows=[
                {
                    "external_id": "ORPHAN-1",
                    "kind": "new_business",
                    "amount": "1234.00",
                    "currency": "USD",
                    "booked_on": "2026-01-20",
                    "account": "Initech",
                }
            ],
            created_by_id=None,
        )
        assert batch.status == "committed", batch.message
    return launch


def test_the_report_names_each_anomaly_and_the_page_that_fixes_it(org):
    launch = _report_setup(org)
    with tenant_scope(org.tenant):
        report = anomalies.anomaly_report(
            access=access_for(COMP, today=JAN), period_id=launch.period.pk
        )
        assert report.period == launch.period
        by_kind = {k: items for k, _label, items in report.groups}
        # Dana and Sam are placed but no plan falls on them
        assert {a.person for a in by_kind[anomalies.NO_PLAN]} == {"Dana VP", "Sam Sales"}
        assert by_kind[anomalies.NO_PLAN][0].fix_url == "/plans/"
        # nobody acknowledged the launch plan
        assert {a.person for a in by_kind[anomalies.UNACKNOWLEDGED]} == {
            "Erin East",
            "Wes West",
            "Mia Marketing",
        }
        assert by_kind[anomalies.UNACKNOWLEDGED][0].fix_url == (
            f"/plans/{launch.plan.pk}/acknowledgements/"
        )
        # the ownerless deal is credited to nobody
        (orphan,) = by_kind[anomalies.UNCREDITED]
        assert "ORPHAN-1" in orphan.message and orphan.fix_url.startswith("/data/transactions/")
        # Wes and Mia are paid on a plan whose other payee holds a quota
        assert {a.person for a in by_kind[anomalies.NO_QUOTA]} == {"Wes West", "Mia Marketing"}
        # no earlier period was calculated: nothing to compare
        assert by_kind[anomalies.OUTLIER] == []
        assert report.previous is None  # FY2025 has no periods


def test_a_node_scoped_reader_sees_only_its_people_and_no_tenant_wide_rows(org):
    launch = _report_setup(org)
    with tenant_scope(org.tenant):
        # a manager of Sales reads the report through the same policy
        from tests.payouts.written_runs import link_user

        user = link_user(org.tenant, org.sam, "sam2@acme.test", [Role.MANAGER, Role.COMP_ADMIN])
        from core.permissions import principal_for_membership

        access = access_for(principal_for_membership(user.memberships.get()), today=JAN)
        assert access.sees_everyone  # a comp admin without node scopes reads everyone
        employee = access_for(
            Principal(permissions=ROLE_PERMISSIONS[Role.MANAGER], user_id=user.pk), today=JAN
        )
        report = anomalies.anomaly_report(access=employee, period_id=launch.period.pk)
        assert {a.person for a in report.items} <= {"Erin East", "Wes West", "Sam Sales"}
        assert not report.of(anomalies.UNCREDITED)


@pytest.mark.parametrize("extra", [0, 12])
def test_the_report_takes_the_same_queries_whatever_the_team_size(
    org, extra, django_assert_max_num_queries
):
    launch = build_launch(org, extra_sellers=extra)
    with tenant_scope(org.tenant):
        with django_assert_max_num_queries(16):
            report = anomalies.anomaly_report(
                access=access_for(COMP, today=JAN), period_id=launch.period.pk
            )
        assert len(report.of(anomalies.UNACKNOWLEDGED)) == 3 + extra
        with django_assert_max_num_queries(8):
            anomalies.first_run_checklist()


def test_the_first_run_checklist_of_an_empty_tenant_starts_at_importing_people(tenant_b):
    with tenant_scope(tenant_b):
        steps = anomalies.first_run_checklist()
    assert [s.key for s in steps] == ["people", "templates", "assign", "deals", "run", "statements"]
    assert [s.done for s in steps] == [False] * 6
    assert [s.state for s in steps] == ["next"] + ["not yet"] * 5
    assert steps[0].url == "/imports/"


def test_the_first_run_checklist_follows_the_data(org):
    launch = build_launch(org)
    with tenant_scope(org.tenant):
        steps = {s.key: s for s in anomalies.first_run_checklist()}
    assert all(steps[k].done for k in ("people", "templates", "assign", "deals", "run"))
    assert steps["run"].count == 1 and launch.run is not None
    assert (steps["statements"].done, steps["statements"].state) == (False, "next")


@pytest.mark.covers_url("api-anomaly-list")
def test_the_anomalies_api_lists_them_and_another_tenant_sees_none(
    org, org_b, client_alice, client_charlie, client
):
    launch = _report_setup(org)
    period = launch.period.pk
    body = client_alice.get(f"/api/v1/anomalies/?period={period}").json()
    kinds = {row["kind"] for row in body["results"]}
    assert {"no_plan", "unacknowledged_plan", "uncredited_transaction"} <= kinds
    one = client_alice.get(f"/api/v1/anomalies/?period={period}&kind=no_plan").json()
    assert {r["person"] for r in one["results"]} == {"Dana VP", "Sam Sales"}
    assert all(r["fix_url"] == "/plans/" for r in one["results"])
    assert client_alice.get("/api/v1/anomalies/?kind=nope").status_code == 400
    assert client_alice.get("/api/v1/anomalies/?other=1").status_code == 400
    # an employee may not read them
    client.force_login(launch.users["erin"])
    assert client.get("/api/v1/anomalies/").status_code in (403, 404)
    # another tenant: none of tenant A's people, and tenant A's period is a 404
    theirs = client_charlie.get("/api/v1/anomalies/").json()
    names = {r["person"] for r in theirs["results"]}
    assert not names & {"Dana VP", "Sam Sales", "Erin East", "Wes West", "Mia Marketing"}
    assert_not_found(client_charlie.get(f"/api/v1/anomalies/?period={period}"))


def test_a_period_under_way_is_compared_with_the_previous_pace():
    quarter = Period(
        pk=2,
        kind="quarterly",
        fiscal_year=2026,
        start=dt.date(2026, 4, 1),
        end=dt.date(2026, 7, 1),
        label="Q2",
    )
    previous = _period("Q1", JAN)
    # a third of the way in: 30 of 91 days gone by (the 30th counted)
    pace = anomalies.elapsed_share(quarter, dt.date(2026, 4, 30))
    assert pace == D(30) / D(91)
    assert anomalies.elapsed_share(quarter, dt.date(2026, 7, 1)) is None  # ended
    assert anomalies.elapsed_share(quarter, dt.date(2026, 3, 31)) is None  # not begun
    # two people (too few to measure a spread: the share rule decides)
    before = {1: D(9100), 2: D(9100)}
    now = {1: D(3000), 2: D(900)}
    # compared with the whole of Q1 both are "down" more than half
    assert [p for p, _, _ in anomalies._outliers(now, before, quarter, previous)] == [2, 1]
    # at Q1's pace (3,000 by now) only the one far behind it is flagged
    got = anomalies._outliers(now, before, quarter, previous, pace=pace)
    assert [p for p, _, _ in got] == [2]
    (words, details) = got[0][1:]
    assert "so far (33 % of the period) against 3,000.00 at Q1's pace: down 70 %" in words
    assert details["previous"] == "3000.00" and details["pace"] == "0.3297"


def test_where_the_spread_is_measured_a_common_drift_is_not_an_outlier():
    # everyone a third of the way through Q2 (about -6,100 each), one far behind the rest
    before = {p: D(9100) for p in range(1, 6)}
    now = {1: D(3000), 2: D(3050), 3: D(2950), 4: D(3100), 5: D(900)}
    got = anomalies._outliers(now, before, _period("Q2", FEB), _period("Q1", JAN))
    assert [p for p, _, _ in got] == [5]  # the other four moved by 66 % too, like everyone
