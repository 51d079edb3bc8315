"""FETCH: a tenant's period read from the database as the engine's inputs (payouts/inputs.py).

The world (tenant A, Acme; February 2026, a 28-day monthly period):

* reporting hierarchy ``company`` > ``sales`` > (``east``, ``west``), ``company`` > ``mkt``;
* Erin: AE in east all month; Wes: AE in west, moves to east on 15 Feb; Dee: AE in east, and
  from 15 Feb 60 % AE in east + 40 % product marketer in mkt (a dual role); Mia: product
  marketer in mkt; Nora: in no hierarchy at all;
* plan "Flat" (10 % of new business, USD) on the AE job role, target incentive 1,000;
  version 2 (12 %) published from 15 Feb, the assignments carried over;
* plan "SDR" (the template: 50 per meeting, 250 per opportunity) on node ``mkt``;
* plan "Sales AE" (the template, needs quotas) directly on Erin.

Tenant B (Globex) holds the same shape of data, which must never show up.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest
from django.db import connection
from django.utils import timezone

from core.tenancy import tenant_scope
from engine import compute
from hierarchy import people, periods
from hierarchy.models import JobRole, Node, Period, Person
from incentives import services as incentive_services
from incentives.fx import convert
from incentives.models import Credit, CreditingRule, Transaction
from payouts import inputs as fetch
from plans import services as plan_services
from plans.models import PlanVersion
from tests.plans.conftest import comp_admin_access

D = dt.date
FEB, MID, MAR = D(2026, 2, 1), D(2026, 2, 15), D(2026, 3, 1)
START = D(2025, 1, 1)

FLAT = """\
version: 1
id: flat
name: Flat commission
currency: USD
measures:
  - {id: bookings, aggregate: sum, filter: {transaction_types: [new_business]}}
components:
  - {id: commission, type: commission, measure: bookings, rate: "RATE"}
"""


@dataclass
class World:
    tenant: Any
    period: Period
    nodes: dict[str, Node]
    roles: dict[str, JobRole]
    people: dict[str, Person]
    flat: list[PlanVersion]
    sdr: PlanVersion
    sales_ae: PlanVersion


def _publish(code: str, *, template: str = "", source: str | None = None, start: D = FEB) -> Any:
    plan = plan_services.plan_create(
        code=code, name=code, template=template, source=source, user_id=None, valid_from=start
    )
    return plan_services.plan_version_publish(version_id=plan.versions.get().pk, user_id=None)


def _assign(version: PlanVersion, *, ti: str = "1000", start: D = FEB, **holder: int) -> None:
    plan_services.plan_assignment_create(
        access=comp_admin_access(),
        plan_version_id=version.pk,
        holder=plan_services.Holder(**holder),
        target_incentive=Decimal(ti),
        valid_from=start,
        user_id=None,
    )


def _quota(person: Person, quota_id: str, amount: str, currency: str = "USD") -> None:
    plan_services.quota_create(
        access=comp_admin_access(),
        holder=plan_services.QuotaHolder(person_id=person.pk),
        quota_id=quota_id,
        amount=Decimal(amount),
        currency=currency,
        valid_from=FEB,
        valid_to=MAR,
        user_id=None,
    )


def _ingest(rows: list[dict[str, Any]]) -> None:
    batch = incentive_services.ingest_rows(
        request=incentive_services.IngestRequest(kind="transactions", source_format="json"),
        rows=rows,
        created_by_id=None,
    )
    assert batch.status == "committed", batch.message


def _tx(external_id: str, owner: str, amount: str, day: str, **extra: Any) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "kind": "new_business",
        "amount": amount,
        "currency": "USD",
        "booked_on": day,
        "owner_employee_id": owner,
        "account": "Initech",
        **extra,
    }


def build_world(tenant: Any, prefix: str = "") -> World:
    """Create the world of the module docstring in ``tenant`` (call inside its scope)."""
    periods.period_generate_fiscal_year(fiscal_year=2026)
    h = people.hierarchy_create(code="reporting", name="Reporting", kind="reporting")
    nodes: dict[str, Node] = {}
    nodes["company"] = people.node_create(
        hierarchy_id=h.pk, code="company", name="Company", valid_from=START
    )
    for code, parent in (("sales", "company"), ("east", "sales"), ("west", "sales")):
        nodes[code] = people.node_create(
            hierarchy_id=h.pk,
            code=code,
            name=code,
            valid_from=START,
            parent_id=nodes[parent].pk,
        )
    nodes["mkt"] = people.node_create(
        hierarchy_id=h.pk,
        code="mkt",
        name="Marketing",
        valid_from=START,
        parent_id=nodes["company"].pk,
    )
    roles = {
        "ae": people.job_role_create(name="Account Executive", function="sales"),
        "pmm": people.job_role_create(name="Product Marketing", function="marketing"),
    }
    staff = {
        name: people.person_create(
            employee_id=f"{prefix}{name.upper()}", full_name=name, hire_date=D(2024, 1, 1)
        )
        for name in ("erin", "wes", "dee", "mia", "nora")
    }

    def place(
        who: str, node: str, role: str, frm: D = START, to: D | None = None, pct: int = 100
    ) -> None:
        people.assignment_create(
            person_id=staff[who].pk,
            node_id=nodes[node].pk,
            role_id=roles[role].pk,
            valid_from=frm,
            valid_to=to,
            allocation_pct=Decimal(pct),
        )

    place("erin", "east", "ae")
    place("wes", "west", "ae", to=MID)
    place("wes", "east", "ae", frm=MID)
    place("dee", "east", "ae", to=MID)
    place("dee", "east", "ae", frm=MID, pct=60)
    place("dee", "mkt", "pmm", frm=MID, pct=40)
    place("mia", "mkt", "pmm")
    flat1 = _publish("flat", source=FLAT.replace("RATE", "0.10"))
    _assign(flat1, role_id=roles["ae"].pk)
    draft = plan_services.plan_version_draft_create(plan_id=flat1.plan_id, user_id=None)
    plan_services.plan_version_save(
        version_id=draft.pk, source=FLAT.replace("RATE", "0.12"), user_id=None
    )
    flat2 = plan_services.plan_version_publish(version_id=draft.pk, user_id=None, valid_from=MID)
    sdr = _publish("sdr", template="sdr")
    _assign(sdr, ti="500", node_id=nodes["mkt"].pk)
    sales_ae = _publish("sales-ae", template="sales_ae")
    _assign(sales_ae, ti="6000", person_id=staff["erin"].pk)
    for quota_id, amount in (("new_bookings", "10000"), ("expansion_bookings", "5000")):
        _quota(staff["erin"], quota_id, amount)
    incentive_services.crediting_rule_create(
        name="Owner", kind="direct", priority=20, valid_from=START
    )
    e = prefix
    _ingest(
        [
            _tx("t1", f"{e}ERIN", "1000.00", "2026-02-10", collected_on="2026-02-25"),
            _tx("t2", f"{e}WES", "2000.00", "2026-02-05"),
            _tx("t3", f"{e}WES", "500.00", "2026-02-20"),
            _tx("t4", f"{e}DEE", "3000.00", "2026-02-20"),
            _tx("t5", f"{e}ERIN", "4000.00", "2026-01-20"),  # January: not this period
            _tx("m1", f"{e}MIA", "0", "2026-02-03", kind="meeting"),
            _tx("m2", f"{e}MIA", "0", "2026-02-04", kind="meeting"),
            _tx("m3", f"{e}MIA", "0", "2026-02-05", kind="meeting"),
            _tx("o1", f"{e}MIA", "0", "2026-02-06", kind="opportunity"),
        ]
    )
    period = Period.objects.get(kind="monthly", start=FEB)
    return World(
        tenant,
        period,
        nodes,
        roles,
        staff,
        [flat1, flat2],
        sdr,
        PlanVersion.objects.get(pk=sales_ae.pk),
    )


@pytest.fixture
def world(tenant_a: Any, tenant_b: Any) -> World:
    with tenant_scope(tenant_b):
        build_world(tenant_b, prefix="b")
    with tenant_scope(tenant_a):
        return build_world(tenant_a)


@pytest.fixture
def in_world(world: World) -> Any:
    with tenant_scope(world.tenant):
        yield world


def _pk(w: World, name: str) -> str:
    return str(w.people[name].pk)


def _rows(frame: Any, columns: list[str]) -> list[tuple[Any, ...]]:
    return sorted(tuple(r) for r in frame[columns].itertuples(index=False))


def test_the_timeline_is_the_reporting_hierarchy_clipped_to_the_period(in_world: World) -> None:
    # given the world
    w = in_world
    # when
    got = fetch.gather(period_id=w.period.pk)
    # then
    n, r = w.nodes, w.roles
    ae, pmm = str(r["ae"].pk), str(r["pmm"].pk)
    assert _rows(
        got.inputs.timeline, ["person_id", "start", "end", "node_id", "role", "allocation"]
    ) == sorted(
        [
            (_pk(w, "erin"), FEB, MAR, str(n["east"].pk), ae, Decimal(1)),
            (_pk(w, "wes"), FEB, MID, str(n["west"].pk), ae, Decimal(1)),
            (_pk(w, "wes"), MID, MAR, str(n["east"].pk), ae, Decimal(1)),
            (_pk(w, "dee"), FEB, MID, str(n["east"].pk), ae, Decimal(1)),
            (_pk(w, "dee"), MID, MAR, str(n["east"].pk), ae, Decimal("0.6")),
            (_pk(w, "dee"), MID, MAR, str(n["mkt"].pk), pmm, Decimal("0.4")),
            (_pk(w, "mia"), FEB, MAR, str(n["mkt"].pk), pmm, Decimal(1)),
        ]
    )
    assert got.inputs.period.id == str(w.period.pk)
    assert (got.inputs.period.start, got.inputs.period.end) == (FEB, MAR)


def test_assignments_are_clipped_per_version_and_expanded_by_role_and_node(in_world: World) -> None:
    # given the world: Flat v1 until 15 Feb, v2 from then, on the AE role; SDR on node mkt
    w = in_world
    v1, v2 = (str(v.pk) for v in w.flat)
    sdr, ae_plan = str(w.sdr.pk), str(w.sales_ae.pk)
    ae, pmm = str(w.roles["ae"].pk), str(w.roles["pmm"].pk)
    # when
    got = fetch.gather(period_id=w.period.pk)
    # then
    cols = ["person_id", "plan_id", "start", "end", "target_incentive_e4", "role"]
    k = 10_000
    assert _rows(got.inputs.assignments, cols) == sorted(
        [
            # Erin: Flat by role (two versions), Sales AE directly (her AE role)
            (_pk(w, "erin"), v1, FEB, MID, 1000 * k, ae),
            (_pk(w, "erin"), v2, MID, MAR, 1000 * k, ae),
            (_pk(w, "erin"), ae_plan, FEB, MAR, 6000 * k, ae),
            # Wes: one row per timeline stretch (west, then east)
            (_pk(w, "wes"), v1, FEB, MID, 1000 * k, ae),
            (_pk(w, "wes"), v2, MID, MAR, 1000 * k, ae),
            # Dee: AE all month (Flat), and SDR from 15 Feb through her 40 % in mkt
            (_pk(w, "dee"), v1, FEB, MID, 1000 * k, ae),
            (_pk(w, "dee"), v2, MID, MAR, 1000 * k, ae),
            (_pk(w, "dee"), sdr, MID, MAR, 500 * k, pmm),
            # Mia: SDR through node mkt
            (_pk(w, "mia"), sdr, FEB, MAR, 500 * k, pmm),
        ]
    )
    assert got.people == sorted(w.people[p].pk for p in ("erin", "wes", "dee", "mia"))
    assert fetch.people_for_period(w.period.pk) == got.people
    assert set(got.inputs.plans) == {v1, v2, sdr, ae_plan}
    assert got.inputs.plans[v2].id == v2  # the spec's own id is replaced by the version key


def test_a_version_ended_without_carrying_its_assignments_still_splits_them(
    tenant_a: Any,
) -> None:
    # given an assignment on version 1 and version 2 published from 15 Feb without carrying
    with tenant_scope(tenant_a):
        periods.period_generate_fiscal_year(fiscal_year=2026)
        h = people.hierarchy_create(code="reporting", name="Reporting", kind="reporting")
        node = people.node_create(hierarchy_id=h.pk, code="n", name="N", valid_from=START)
        role = people.job_role_create(name="AE", function="sales")
        p = people.person_create(employee_id="P1", full_name="P", hire_date=D(2024, 1, 1))
        people.assignment_create(person_id=p.pk, node_id=node.pk, role_id=role.pk, valid_from=START)
        v1 = _publish("flat", source=FLAT.replace("RATE", "0.10"))
        _assign(v1, person_id=p.pk)
        draft = plan_services.plan_version_draft_create(plan_id=v1.plan_id, user_id=None)
        v2 = plan_services.plan_version_publish(
            version_id=draft.pk, user_id=None, valid_from=MID, carry_assignments=False
        )
        period = Period.objects.get(kind="monthly", start=FEB)
        # when
        got = fetch.gather(period_id=period.pk)
    # then
    assert _rows(got.inputs.assignments, ["plan_id", "start", "end"]) == [
        (str(v1.pk), FEB, MID),
        (str(v2.pk), MID, MAR),
    ]


def test_credits_are_the_periods_with_their_transaction_and_attributes(in_world: World) -> None:
    # given the world
    w = in_world
    # when
    got = fetch.gather(period_id=w.period.pk)
    # then only February's credits of people on a plan, in e4, with their transaction's pk
    c = got.inputs.credits
    tx = dict(Transaction.objects.known_now().values_list("external_id", "pk"))
    assert _rows(
        c, ["transaction_id", "person_id", "date", "amount_e4", "transaction_type", "kind"]
    ) == sorted(
        [
            (
                str(tx["t1"]),
                _pk(w, "erin"),
                D(2026, 2, 10),
                1000 * 10_000,
                "new_business",
                "direct",
            ),
            (str(tx["t2"]), _pk(w, "wes"), D(2026, 2, 5), 2000 * 10_000, "new_business", "direct"),
            (str(tx["t3"]), _pk(w, "wes"), D(2026, 2, 20), 500 * 10_000, "new_business", "direct"),
            (str(tx["t4"]), _pk(w, "dee"), D(2026, 2, 20), 3000 * 10_000, "new_business", "direct"),
            (str(tx["m1"]), _pk(w, "mia"), D(2026, 2, 3), 0, "meeting", "direct"),
            (str(tx["m2"]), _pk(w, "mia"), D(2026, 2, 4), 0, "meeting", "direct"),
            (str(tx["m3"]), _pk(w, "mia"), D(2026, 2, 5), 0, "meeting", "direct"),
            (str(tx["o1"]), _pk(w, "mia"), D(2026, 2, 6), 0, "opportunity", "direct"),
        ]
    )
    ids = set(Credit.objects.values_list("pk", flat=True))
    assert {int(i) for i in c["credit_id"]} <= ids
    assert set(c["account"]) == {"Initech"}
    assert set(c["share_ppm"]) == {1_000_000}
    rule = CreditingRule.objects.get()
    assert set(c["rule_id"]) == {str(rule.pk)}
    # t1's cash came in on 25 Feb: its credit is collected and the transaction releases holds
    assert got.inputs.collected_transactions == frozenset({str(tx["t1"])})
    assert set(c.loc[c["collected"], "transaction_id"]) == {str(tx["t1"])}


def test_the_engine_pays_the_hand_computed_figures(in_world: World) -> None:
    # given the world
    w = in_world
    got = fetch.gather(period_id=w.period.pk)
    v1, v2 = (str(v.pk) for v in w.flat)
    assert got.problems == []
    # when
    result = compute(got.inputs)
    # then
    paid: dict[tuple[str, str], Decimal] = {}
    for line in result.lines:
        key = (line.person_id, line.plan_id)
        paid[key] = paid.get(key, Decimal(0)) + line.amount
    # Erin: t1 1,000.00 on 10 Feb under v1 (10 %) = 100.00; nothing under v2.
    assert paid[(_pk(w, "erin"), v1)] == Decimal("100.00")
    assert paid.get((_pk(w, "erin"), v2), Decimal(0)) == Decimal("0.00")
    # Wes: t2 2,000.00 on 5 Feb under v1 = 200.00; t3 500.00 on 20 Feb under v2 (12 %) = 60.00.
    assert paid[(_pk(w, "wes"), v1)] == Decimal("200.00")
    assert paid[(_pk(w, "wes"), v2)] == Decimal("60.00")
    # Dee: t4 3,000.00 on 20 Feb under v2 = 360.00 (a commission is not pro-rated by allocation)
    assert paid[(_pk(w, "dee"), v2)] == Decimal("360.00")
    # Erin on Sales AE: 1,000.00 of new business against a 10,000.00 quota is 10 %, all in
    # the first tier (5 %): 50.00; no expansion.
    assert paid[(_pk(w, "erin"), str(w.sales_ae.pk))] == Decimal("50.00")
    # Mia: 3 meetings x 50 + 1 opportunity x 250 = 400.00 on the SDR template.
    assert paid[(_pk(w, "mia"), str(w.sdr.pk))] == Decimal("400.00")


def test_a_dual_roles_allocation_reaches_the_engine(in_world: World) -> None:
    # given Dee: 60 % AE and 40 % product marketer from 15 Feb
    w = in_world
    got = fetch.gather(period_id=w.period.pk, person_ids=[w.people["dee"].pk])
    from engine.pipeline import build_segments

    # when
    segments = build_segments(got.inputs)
    # then each plan sees its own role's stretch and allocation
    by_plan = sorted((s.plan_id, s.start, s.end, s.allocation) for s in segments)
    v1, v2 = (str(v.pk) for v in w.flat)
    assert by_plan == sorted(
        [
            (v1, FEB, MID, Decimal(1)),
            (v2, MID, MAR, Decimal("0.6")),
            (str(w.sdr.pk), MID, MAR, Decimal("0.4")),
        ]
    )
    assert got.people == [w.people["dee"].pk]
    assert set(got.inputs.credits["person_id"]) == {_pk(w, "dee")}


def test_credits_in_another_currency_are_converted_at_the_days_rate(in_world: World) -> None:
    # given a EUR deal for Erin on 12 Feb and rates on 1 Feb (1.10) and 13 Feb (1.20)
    w = in_world
    incentive_services.fx_rate_set(currency="EUR", quote_currency="USD", valid_on=FEB, rate="1.10")
    incentive_services.fx_rate_set(
        currency="EUR", quote_currency="USD", valid_on=D(2026, 2, 13), rate="1.20"
    )
    # and a GBP deal on 14 Feb with only a USD/GBP rate (the inverse is used)
    incentive_services.fx_rate_set(currency="USD", quote_currency="GBP", valid_on=FEB, rate="0.8")
    _ingest(
        [
            _tx("e1", "ERIN", "1000.00", "2026-02-12", currency="EUR"),
            _tx("g1", "ERIN", "100.00", "2026-02-14", currency="GBP"),
        ]
    )
    # when
    got = fetch.gather(period_id=w.period.pk, person_ids=[w.people["erin"].pk])
    # then
    tx = dict(Transaction.objects.known_now().values_list("external_id", "pk"))
    c = got.inputs.credits.set_index("transaction_id")
    assert c.loc[str(tx["e1"]), "amount_e4"] == 1100 * 10_000
    assert c.loc[str(tx["g1"]), "amount_e4"] == 125 * 10_000
    assert set(c["currency"]) == {"USD"}
    expected = convert(
        amount=Decimal("100.00"), currency="GBP", to_currency="USD", day=D(2026, 2, 14)
    )
    assert c.loc[str(tx["g1"]), "amount_e4"] == int(expected * 10_000)
    assert not [p for p in got.problems if p.code == fetch.FX_RATE_MISSING]
    assert len(got.pins["fx_rate_ids"]) == 2


def test_every_problem_is_listed_not_the_first_only(in_world: World) -> None:
    # given a CHF deal with no CHF rate, Nora on a plan with no place in the hierarchy, a
    # plan needing quotas, and two plans reading each other's pay (a cycle)
    w = in_world
    _ingest([_tx("c1", "WES", "10.00", "2026-02-11", currency="CHF")])
    flat = w.flat[1]
    _assign(flat, person_id=w.people["nora"].pk, start=MID)
    reader = """\
version: 1
id: PLANID
currency: USD
measures:
  - {id: theirs, aggregate: earned, earned: {of: [{plan: OTHER, component: bonus}], scope: team}}
components:
  - {id: bonus, type: commission, measure: theirs, rate: "0.1"}
"""
    a = _publish("coach", source=reader.replace("PLANID", "coach").replace("OTHER", "lead"))
    b = _publish("lead", source=reader.replace("PLANID", "lead").replace("OTHER", "coach"))
    _assign(a, person_id=w.people["mia"].pk)
    _assign(b, person_id=w.people["erin"].pk)
    _assign(w.sales_ae, person_id=w.people["wes"].pk)  # and no quota for Wes
    cs = _publish("cs", template="customer_success")  # a bonus on the person's NRR: none given
    _assign(cs, person_id=w.people["mia"].pk)
    # when
    got = fetch.gather(period_id=w.period.pk)
    # then
    codes = {(p.code, p.person_id, p.plan) for p in got.problems}
    assert (fetch.FX_RATE_MISSING, _pk(w, "wes"), None) in codes
    assert (fetch.NO_TIMELINE, _pk(w, "nora"), str(flat.pk)) in codes
    no_quota = [p for p in got.problems if p.code == fetch.NO_QUOTA]
    assert {(p.person_id, p.plan) for p in no_quota} == {(_pk(w, "wes"), str(w.sales_ae.pk))}
    assert sorted(p.message.split("'")[1] for p in no_quota) == [
        "expansion_bookings",
        "new_bookings",
    ]
    cycles = [p for p in got.problems if p.code == fetch.PLAN_CYCLE]
    assert cycles
    assert all(p.plan in {str(a.pk), str(b.pk)} for p in cycles)
    assert (fetch.NO_KPI, _pk(w, "mia"), str(cs.pk)) in codes
    fx = next(p for p in got.problems if p.code == fetch.FX_RATE_MISSING)
    assert "CHF/USD" in fx.message
    assert "2026-02-11" in fx.message


def test_a_period_with_no_assignments_is_a_problem(tenant_a: Any) -> None:
    # given a period and nothing assigned
    with tenant_scope(tenant_a):
        periods.period_generate_fiscal_year(fiscal_year=2026)
        period = Period.objects.get(kind="monthly", start=FEB)
        # when
        got = fetch.gather(period_id=period.pk)
        people_list = fetch.people_for_period(period.pk)
    # then
    assert [p.code for p in got.problems] == [fetch.NO_ASSIGNMENTS]
    assert got.people == people_list == []
    assert got.inputs.assignments.empty
    assert got.inputs.credits.empty


def test_a_person_asked_for_who_is_on_no_plan_is_a_problem(in_world: World) -> None:
    w = in_world
    got = fetch.gather(period_id=w.period.pk, person_ids=[w.people["nora"].pk])
    assert [(p.code, p.person_id) for p in got.problems] == [
        (fetch.NO_ASSIGNMENTS, None),
        (fetch.NO_ASSIGNMENTS, _pk(w, "nora")),
    ]


def test_another_tenants_rows_never_appear(world: World, tenant_b: Any) -> None:
    # given both tenants hold the same world
    with tenant_scope(tenant_b):
        b_people = set(Person.objects.values_list("pk", flat=True))
        b_nodes = {str(n) for n in Node.objects.values_list("pk", flat=True)}
        b_credits = {str(c) for c in Credit.objects.values_list("pk", flat=True)}
        b_versions = {str(v) for v in PlanVersion.objects.values_list("pk", flat=True)}
    # when tenant A gathers
    with tenant_scope(world.tenant):
        got = fetch.gather(period_id=world.period.pk)
    # then nothing of B is in it
    assert not set(got.people) & b_people
    assert not {int(p) for p in got.inputs.timeline["person_id"]} & b_people
    assert not set(got.inputs.timeline["node_id"]) & b_nodes
    assert not set(got.inputs.nodes["node_id"]) & b_nodes
    assert not set(got.inputs.credits["credit_id"]) & b_credits
    assert not set(got.inputs.plans) & b_versions
    # and B's period is not found from A
    with tenant_scope(tenant_b):
        b_period = Period.objects.get(kind="monthly", start=FEB)
    with tenant_scope(world.tenant), pytest.raises(Period.DoesNotExist):
        fetch.gather(period_id=b_period.pk)


def test_nodes_are_the_parent_links_on_the_periods_first_day(in_world: World) -> None:
    w = in_world
    got = fetch.gather(period_id=w.period.pk)
    n = {k: str(v.pk) for k, v in w.nodes.items()}
    assert _rows(got.inputs.nodes, ["node_id", "parent_id"]) == sorted(
        [
            (n["company"], None),
            (n["sales"], n["company"]),
            (n["east"], n["sales"]),
            (n["west"], n["sales"]),
            (n["mkt"], n["company"]),
        ],
        key=lambda r: (r[0], r[1] or ""),
    )


def test_known_at_replays_the_org_and_credits_as_known_then(in_world: World) -> None:
    # given a gather now, then a late-learned change: Erin leaves on 20 Feb, a new deal arrives
    w = in_world
    before = fetch.gather(period_id=w.period.pk)
    known = dt.datetime.fromisoformat(before.pins["known_at"])
    from hierarchy.models import Assignment

    erin = Assignment.objects.known_now().get(person=w.people["erin"])
    people.assignment_update(assignment_id=erin.pk, valid_to=D(2026, 2, 20))
    _ingest([_tx("late", "ERIN", "50.00", "2026-02-11")])
    # when
    now = fetch.gather(period_id=w.period.pk)
    replay = fetch.gather(period_id=w.period.pk, known_at=known)
    # then the replay sees what the first gather saw
    cols = ["person_id", "start", "end", "node_id", "role"]
    assert _rows(replay.inputs.timeline, cols) == _rows(before.inputs.timeline, cols)
    assert _rows(replay.inputs.credits, ["credit_id", "amount_e4"]) == _rows(
        before.inputs.credits, ["credit_id", "amount_e4"]
    )
    assert replay.pins["timeline_hash"] == before.pins["timeline_hash"]
    assert now.pins["timeline_hash"] != before.pins["timeline_hash"]
    assert len(now.inputs.credits) == len(before.inputs.credits) + 1


def test_pins_name_the_versions_and_their_spec_hashes(in_world: World) -> None:
    w = in_world
    got = fetch.gather(period_id=w.period.pk)
    assert got.pins["plan_versions"] == {
        str(v.pk): v.spec_hash for v in [*w.flat, w.sdr, w.sales_ae]
    }
    assert got.pins["period_id"] == w.period.pk
    assert len(got.pins["quotas_hash"]) == 64
    assert len(got.pins["crediting_rules_hash"]) == 64


def test_quotas_are_the_periods_in_the_persons_currency(in_world: World) -> None:
    # given Erin's quotas (USD) and a EUR quota for Wes, whose plans pay USD
    w = in_world
    incentive_services.fx_rate_set(currency="EUR", quote_currency="USD", valid_on=FEB, rate="1.5")
    _quota(w.people["wes"], "new_bookings", "2000", currency="EUR")
    # when
    got = fetch.gather(period_id=w.period.pk)
    # then
    assert _rows(got.inputs.quotas, ["holder_kind", "holder_id", "quota_id", "amount_e4"]) == [
        ("person", _pk(w, "erin"), "expansion_bookings", 5000 * 10_000),
        ("person", _pk(w, "erin"), "new_bookings", 10000 * 10_000),
        ("person", _pk(w, "wes"), "new_bookings", 3000 * 10_000),
    ]


def test_roll_up_totals_reach_the_manager_as_rollup_credits(in_world: World) -> None:
    # given Sam managing Sales, a roll-up rule on the reporting line, the manager template
    w = in_world
    from incentives.crediting import credits_recompute
    from incentives.models import CreditRollup

    sam = people.person_create(employee_id="SAM", full_name="Sam", hire_date=D(2024, 1, 1))
    mgr = people.job_role_create(name="Sales Manager", function="management")
    people.assignment_create(
        person_id=sam.pk,
        node_id=w.nodes["sales"].pk,
        role_id=mgr.pk,
        valid_from=START,
        is_manager=True,
    )
    incentive_services.crediting_rule_create(
        name="Managers",
        kind="rollup",
        priority=90,
        valid_from=START,
        config={"hierarchy": "reporting"},
    )
    credits_recompute()
    override = _publish("mgr", template="manager_override")
    _assign(override, ti="4000", person_id=sam.pk)
    _quota(sam, "team_bookings", "6500")
    # when (Sam and Erin, the AE in east below Sales, on the Sales AE plan "sales-ae")
    got = fetch.gather(period_id=w.period.pk, person_ids=[sam.pk, w.people["erin"].pk])
    # then Sam's credits are the roll-up totals of February: 2,000 (5 Feb), 1,000 (10 Feb),
    # 500 + 3,000 (20 Feb, one total of two credits)
    totals = {
        str(t.pk): t
        for t in CreditRollup.objects.known_now().filter(person=sam, credit_date__gte=FEB)
    }
    c = got.inputs.credits
    c = c[c["person_id"] == str(sam.pk)]
    assert _rows(c, ["person_id", "date", "amount_e4", "kind", "credits_n"]) == [
        (str(sam.pk), D(2026, 2, 5), 2000 * 10_000, "rollup", 1),
        (str(sam.pk), D(2026, 2, 10), 1000 * 10_000, "rollup", 1),
        (str(sam.pk), D(2026, 2, 20), 3500 * 10_000, "rollup", 2),
    ]
    assert {i.removeprefix("rollup:") for i in c["credit_id"]} == set(totals)
    assert list(c["transaction_id"]) == list(c["credit_id"])
    # and the engine pays the team bonus at 100 % of quota: 1.0 x 4,000.00 = 4,000.00, plus
    # the override of 10 % on what the team earned (aggregate: earned): Erin's 1,000.00 new
    # business of a 10,000.00 quota in the 5 % tier = 50.00 -> 5.00
    assert got.problems == []
    result = compute(got.inputs)
    erin = [
        ln
        for ln in result.lines
        if ln.person_id == str(w.people["erin"].pk) and ln.plan_id == str(w.sales_ae.pk)
    ]
    assert {ln.component_id: ln.amount for ln in erin} == {
        "new_business": Decimal("50.00"),
        "expansion": Decimal("0.00"),
    }
    sam_lines = {ln.component_id: ln.amount for ln in result.lines if ln.person_id == str(sam.pk)}
    assert sam_lines == {"override": Decimal("5.00"), "team_bonus": Decimal("4000.00")}


def test_a_window_reaching_back_brings_the_earlier_periods_and_their_credits(
    in_world: World,
) -> None:
    # given a plan counting bookings quarter to date, on Erin (January: t5, 4,000.00)
    w = in_world
    qtd = (
        FLAT.replace("RATE", "0.10")
        .replace('rate: "0.10"}', 'rate: "0.10", settle: quarter_to_date}')
        .replace("}}", "}, window: quarter_to_date}", 1)
    )
    version = _publish("qtd", source=qtd, start=D(2026, 1, 1))
    _assign(version, person_id=w.people["erin"].pk, start=D(2026, 1, 1))
    january = Period.objects.get(kind="monthly", start=D(2026, 1, 1))
    # when
    got = fetch.gather(period_id=w.period.pk, person_ids=[w.people["erin"].pk])
    # then
    assert [(p.id, p.start, p.end) for p in got.inputs.history_periods] == [
        (str(january.pk), D(2026, 1, 1), FEB)
    ]
    tx = Transaction.objects.known_now().get(external_id="t5")
    h = got.inputs.history_credits
    assert _rows(h, ["transaction_id", "date", "amount_e4"]) == [
        (str(tx.pk), D(2026, 1, 20), 4000 * 10_000)
    ]
    assert D(2026, 1, 20) not in set(got.inputs.credits["date"])
    assert got.inputs.history_start == Period.objects.order_by("start").first().start
    # and the engine counts January's 4,000.00 with February's 1,000.00: 10 % of 5,000.00
    # earned to date, nothing paid to date: 500.00
    lines = [ln for ln in compute(got.inputs).lines if ln.plan_id == str(version.pk)]
    assert sum(ln.amount for ln in lines) == Decimal("500.00")


def test_a_window_reaching_before_the_calendar_is_a_problem(in_world: World) -> None:
    # given a trailing 3 periods window in February, and December 2025 not in the calendar
    w = in_world
    periods.period_generate_fiscal_year(fiscal_year=2025)
    Period.objects.filter(kind="monthly", start=D(2025, 12, 1)).delete()
    spec = FLAT.replace("RATE", "0.10").replace(
        "filter: {transaction_types: [new_business]}}",
        "filter: {transaction_types: [new_business]}, "
        "window: {over: trailing_n_periods, periods: 3}}",
    )
    version = _publish("trailing", source=spec, start=D(2025, 12, 1))
    _assign(version, person_id=w.people["erin"].pk, start=D(2025, 12, 1))
    # when
    got = fetch.gather(period_id=w.period.pk)
    # then
    missing = [p for p in got.problems if p.code == fetch.HISTORY_MISSING]
    assert [(p.plan, "2025-12-01 to 2025-12-31" in p.message) for p in missing] == [
        (str(version.pk), True)
    ]


def test_the_ledger_gives_prior_payouts_draw_balances_and_history_payouts(
    in_world: World,
) -> None:
    # given what the ledger holds for Erin and Wes
    w = in_world
    from django.utils import timezone

    from payouts.models import EntryKind, LedgerEntry

    january = Period.objects.get(kind="monthly", start=D(2026, 1, 1))
    december = Period.objects.get(kind="monthly", start=D(2026, 12, 1))
    plan = w.flat[0].plan

    def entry(who: str, period: Period, kind: str, amount: str, component: str = "") -> None:
        LedgerEntry.objects.create(
            person=w.people[who],
            period=period,
            kind=kind,
            amount=Decimal(amount),
            currency="USD",
            plan=plan if component else None,
            component_id=component,
            created_at=timezone.now(),
        )

    entry("erin", w.period, EntryKind.PAID, "30.00", "commission")
    entry("erin", w.period, EntryKind.PAID, "5.00", "commission")
    entry("wes", january, EntryKind.DRAW, "500.00")
    entry("wes", january, EntryKind.DRAW_RECOVERY, "200.00")
    entry("erin", january, EntryKind.DRAW, "100.00")
    entry("erin", january, EntryKind.DRAW_RECOVERY, "100.00")
    entry("wes", december, EntryKind.DRAW, "999.00")  # later: not owed at the start of February
    entry("erin", january, EntryKind.EARNED, "400.00", "commission")
    qtd = (
        FLAT.replace("RATE", "0.10")
        .replace('rate: "0.10"}', 'rate: "0.10", settle: quarter_to_date}')
        .replace("}}", "}, window: quarter_to_date}", 1)
    )
    # when
    got = fetch.gather(period_id=w.period.pk)
    # then prior payouts are keyed by the plan's version in force last in the period (v2)
    v2 = str(w.flat[1].pk)
    assert _rows(got.inputs.prior_payouts, list(fetch.PRIOR_PAYOUT_COLUMNS)) == [
        (_pk(w, "erin"), v2, "commission", 35 * 10_000)
    ]
    assert dict(got.inputs.draw_balances) == {_pk(w, "wes"): Decimal("300.00")}
    assert got.inputs.history_payouts.empty  # no plan settles to date
    # and with a plan settled quarter to date, January's earned lines are its history payouts
    assert "settle: quarter_to_date" in qtd
    draft = plan_services.plan_version_draft_create(plan_id=plan.pk, user_id=None)
    plan_services.plan_version_save(version_id=draft.pk, source=qtd, user_id=None)
    plan_services.plan_version_publish(version_id=draft.pk, user_id=None, valid_from=D(2026, 2, 20))
    got = fetch.gather(period_id=w.period.pk, person_ids=[w.people["erin"].pk])
    v3 = str(draft.pk)
    assert _rows(got.inputs.history_payouts, list(fetch.HISTORY_PAYOUT_COLUMNS)) == [
        (_pk(w, "erin"), v3, "commission", str(january.pk), 400 * 10_000)
    ]


@pytest.mark.needs_pg
def test_row_level_security_keeps_another_tenant_out_even_unscoped(
    world: World, tenant_b: Any
) -> None:
    # given the ORM's tenant filter switched off, the database's row-level security remains
    from core.tenancy import dangerously_unscoped

    with tenant_scope(tenant_b):
        b_people = set(Person.objects.values_list("pk", flat=True))
    # when tenant A gathers with the ORM filter off
    with tenant_scope(world.tenant), dangerously_unscoped():
        got = fetch.gather(period_id=world.period.pk)
    # then nothing of B is in it either
    assert got.people
    assert not set(got.people) & b_people
    assert not {int(p) for p in got.inputs.credits["person_id"]} & b_people


def test_a_runs_chunks_read_the_windows_transactions_once_and_get_the_same_rows(
    in_world: World,
) -> None:
    # given everyone on a plan, gathered in two halves as a run's chunks are
    w = in_world
    known_at = timezone.now()
    people = fetch.people_for_period(w.period.pk, known_at=known_at)
    halves = [people[: len(people) // 2], people[len(people) // 2 :]]
    fetch._transactions_kept.clear()
    for half in halves:
        joined = fetch.gather(period_id=w.period.pk, person_ids=half, known_at=known_at)
        shared = fetch.gather(
            period_id=w.period.pk, person_ids=half, known_at=known_at, shared_transactions=True
        )
        # then the credits (their transactions' fields, collected flags) are the join's, exactly
        for name in ("credits", "history_credits"):
            a, b = getattr(joined.inputs, name), getattr(shared.inputs, name)
            pd.testing.assert_frame_equal(a, b)
            for column in a.columns:
                assert [type(v) for v in a[column].tolist()] == [
                    type(v) for v in b[column].tolist()
                ], column
        assert joined.inputs.collected_transactions == shared.inputs.collected_transactions
        assert joined.pins == shared.pins
    # and on PostgreSQL the window's transactions were read once for both halves
    assert len(fetch._transactions_kept) == (1 if connection.vendor == "postgresql" else 0)
