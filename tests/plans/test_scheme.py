"""The scheme view (plans.scheme, /plans/scheme/, /api/v1/plans/scheme/): who is on what, and
the dependencies between plans and teams read from the specs, with warnings for a metric
nobody produces, a plan nobody is on and a dependency cycle; another tenant sees nothing."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from core.figures import flow_figure
from core.tenancy import tenant_scope
from plans import dependencies, scheme, services
from tests.plans.conftest import comp_admin_access
from tests.tenancy import assert_not_found

D = date
DAY = D(2026, 6, 1)


def _spec(plan_id: str, name: str, components: str, measures: str = "") -> str:
    return f"""version: 1
id: {plan_id}
name: {name}
currency: USD
measures:
  - {{id: bookings, aggregate: sum}}
  - {{id: mqls, aggregate: count}}
{measures}components:
{components}"""


def _publish(alice: Any, code: str, name: str, source: str, holder: services.Holder | None) -> Any:
    plan = services.plan_create(
        code=code, name=name, source=source, user_id=alice.pk, valid_from=D(2026, 1, 1)
    )
    version = services.plan_version_publish(version_id=plan.versions.get().pk, user_id=alice.pk)
    if holder is not None:
        services.plan_assignment_create(
            access=comp_admin_access(alice.pk),
            plan_version_id=version.pk,
            holder=holder,
            target_incentive="1000",
            valid_from=D(2026, 1, 1),
            user_id=alice.pk,
        )
    return plan


@pytest.fixture
def schemed(org, alice):
    """Sales Kicker on the AE role (Erin, Wes) gated on Marketing's MQLs; Marketing Bonus on the
    marketing node (Mia) gated on Sales' bookings (a cycle); Sam's override on the kicker's
    earned pay; a Launch milestone on Sales and a team "cs" that does not exist, on nobody."""
    with tenant_scope(org.tenant):
        gate = "    gate: {{measure: {m}, scope: node, holder: {h}, min_value: 1}}\n"
        kicker = _publish(
            alice,
            "sales-kicker",
            "Sales Kicker",
            _spec(
                "sales_kicker",
                "Sales Kicker",
                "  - id: kicker\n    name: Kicker\n    type: commission\n    measure: bookings\n"
                '    rate: "0.01"\n' + gate.format(m="mqls", h="mkt"),
            ),
            services.Holder(role_id=org.ae.pk),
        )
        marketing = _publish(
            alice,
            "mkt-bonus",
            "Marketing Bonus",
            _spec(
                "mkt_bonus",
                "Marketing Bonus",
                "  - id: leads\n    name: Leads bonus\n    type: commission\n    measure: mqls\n"
                '    per_unit: "5"\n' + gate.format(m="bookings", h="sales"),
            ),
            services.Holder(node_id=org.marketing.pk),
        )
        override = _publish(
            alice,
            "mgr-override",
            "Manager Override",
            _spec(
                "mgr_override",
                "Manager Override",
                "  - {id: override, name: Override, type: commission, measure: team_pay, "
                'rate: "0.10"}\n',
                measures="  - {id: team_pay, aggregate: earned, earned: {of: [{plan: "
                "sales_kicker, component: kicker}], scope: team}}\n",
            ),
            services.Holder(person_id=org.sam.pk),
        )
        launch = _publish(
            alice,
            "launch",
            "Launch",
            _spec(
                "launch",
                "Launch",
                "  - id: launch\n    name: Launch milestone\n    type: team_pool\n"
                "    teams: [sales, cs]\n    milestone: {measure: bookings, min_attainment: 1}\n"
                "    pool: {amount: 1000}\n    split: equal\n",
            ),
            None,
        )
        return kicker, marketing, override, launch


def test_the_classifier_reads_each_kind_of_dependency_from_a_spec():
    spec = {
        "measures": [{"id": "team_pay", "aggregate": "earned", "earned": {"of": [
            {"plan": "ae", "component": "commission"}]}}],
        "components": [
            {"id": "g", "type": "commission", "gate": {"scope": "node", "holder": "cs",
                                                       "measure": "nrr"}},
            {"id": "m", "type": "team_pool", "teams": ["a", "b"],
             "milestone": {"measure": "launches"}},
            {"id": "p", "type": "profit_share", "source_node": "plant", "kpi": "profit"},
            {"id": "o", "type": "commission", "measure": "team_pay"},
            {"id": "own", "type": "commission", "measure": "bookings",
             "gate": {"measure": "bookings", "min_value": 1}},
            {"id": "obj", "type": "mbo"},
        ],
    }  # fmt: skip
    found = dependencies.spec_dependencies(spec, plan_code="x", participants=2)
    assert [(d.component_id, d.kind, d.on, d.ref, d.measure) for d in found] == [
        ("g", "gate", "node", "cs", "nrr"),
        ("m", "shared_milestone", "node", "a", "launches"),
        ("m", "shared_milestone", "node", "b", "launches"),
        ("p", "pool", "node", "plant", "profit"),
        ("o", "override", "plan", "ae", "team_pay"),
        ("obj", "mbo", "participants", "", "objectives"),
    ]
    assert found[4].of_component == "commission"
    # an MBO on one person is hers alone; a gate on her own measure is no dependency
    alone = dependencies.spec_dependencies(spec, plan_code="x", participants=1)
    assert "obj" not in {d.component_id for d in alone}
    assert dependencies.shared_kind(spec["components"][4], 5) is None


def test_the_scheme_counts_who_is_on_what_and_names_each_dependency_and_its_producers(org, schemed):
    # when
    with tenant_scope(org.tenant):
        found = scheme.scheme_get(access=comp_admin_access(), day=DAY)
    # then: who is on what
    plans = {p.name: p for p in found.plans}
    assert set(plans) == {"Sales Kicker", "Marketing Bonus", "Manager Override", "Launch"}
    assert plans["Sales Kicker"].people == 2
    assert plans["Sales Kicker"].by_team == [("Sales East", 1), ("Sales West", 1)]
    assert plans["Sales Kicker"].by_role == [("Account Executive", 2)]
    assert (plans["Marketing Bonus"].people, plans["Marketing Bonus"].by_team) == (
        1,
        [("Marketing", 1)],
    )
    assert plans["Launch"].people == 0
    # the dependencies, with who produces what they read
    edges = {(e.plan, e.target_ref): e for e in found.edges}
    gate = edges[("Marketing Bonus", "sales")]
    assert (gate.kind, gate.target, gate.measure, gate.producers) == (
        "gate",
        "Sales",
        "bookings",
        3,  # Sam, Erin, Wes work in Sales' subtree
    )
    assert gate.producer_plans == [("Sales Kicker", 2), ("Manager Override", 1)]
    assert gate.sentence == (
        "Marketing Bonus · Leads bonus is gated on Sales' bookings (produced by: Sales Kicker, "
        "2 people, Manager Override, 1 person; 3 people in all)"
    )
    assert edges[("Sales Kicker", "mkt")].producer_plans == [("Marketing Bonus", 1)]
    override = edges[("Manager Override", "sales_kicker")]
    assert (override.kind, override.target, override.producers) == ("override", "Sales Kicker", 2)
    # warnings: the unknown team, the plan nobody is on, the cycle
    assert edges[("Launch", "cs")].warning == "no team 'cs' exists"
    assert edges[("Launch", "sales")].warning == ""
    assert "Launch has nobody on it on 2026-06-01." in found.warnings
    # Marketing waits on Sales (the kicker's and Sam's people), the kicker on Marketing, Sam's
    # override on the kicker's pay: one cycle of three
    assert [set(c) for c in found.cycles] == [
        {"Sales Kicker", "Marketing Bonus", "Manager Override"}
    ]
    assert any(w.startswith("Dependency cycle: Sales Kicker → ") for w in found.warnings)


def test_the_scheme_of_a_day_before_any_plan_is_empty(org, schemed):
    with tenant_scope(org.tenant):
        found = scheme.scheme_get(access=comp_admin_access(), day=D(2025, 6, 1))
    assert (found.plans, found.edges, found.warnings) == ([], [], [])


@pytest.mark.covers_url("plan_scheme")
def test_the_page_shows_the_map_and_the_table_and_hides_them_from_others(
    client, client_alice, client_charlie, org, schemed, bob
):
    # when
    page = client_alice.get("/plans/scheme/?date=2026-06-01")
    # then
    body = page.content.decode()
    assert page.status_code == 200
    assert 'id="scheme-chart"' in body and 'id="scheme-figure"' in body
    assert "Marketing Bonus · Leads bonus is gated on Sales&#x27; bookings" in body
    assert "no team &#x27;cs&#x27; exists" in body and "Dependency cycle" in body
    # bad input: the error next to the field, today's scheme shown
    bad = client_alice.get("/plans/scheme/?date=2026-13-45").content.decode()
    assert 'id="scheme-day-error"' in bad and "YYYY-MM-DD" in bad
    # another tenant: its own (empty) scheme, none of Acme's
    other = client_charlie.get("/plans/scheme/").content.decode()
    assert 'id="scheme-empty"' in other and "Sales Kicker" not in other
    # an employee has no scheme page
    client.force_login(bob)
    assert client.get("/plans/scheme/").status_code == 404


@pytest.mark.covers_url("api-plan-scheme")
def test_the_api_reads_the_scheme_and_another_tenant_sees_none_of_it(
    client_alice, client_charlie, org, schemed
):
    got = client_alice.get("/api/v1/plans/scheme/?date=2026-06-01")
    assert got.status_code == 200
    data = got.json()
    assert data["day"] == "2026-06-01"
    kicker = next(p for p in data["plans"] if p["name"] == "Sales Kicker")
    assert kicker["by_role"] == [{"name": "Account Executive", "people": 2}]
    gate = next(e for e in data["edges"] if e["plan"] == "Marketing Bonus")
    assert (gate["kind"], gate["target"], gate["producers"]) == ("gate", "Sales", 3)
    assert data["cycles"]
    bad = client_alice.get("/api/v1/plans/scheme/?date=nope")
    assert bad.status_code == 400 and "error" in bad.json()
    # Globex: nothing of Acme's
    other = client_charlie.get("/api/v1/plans/scheme/?date=2026-06-01").json()
    assert (other["plans"], other["edges"]) == ([], [])
    assert_not_found(client_charlie.get("/api/v1/plans/999999/"))


def test_the_map_joins_teams_to_their_plans_and_flags_each_dependency(org, schemed):
    # given
    with tenant_scope(org.tenant):
        found = scheme.scheme_get(access=comp_admin_access(), day=DAY)
    # when
    nodes, links = scheme.scheme_figure_links(found)
    figure = flow_figure(nodes, links)
    # then: one node per plan (primary) and per team or plan a link starts from
    labels = [label for label, _p in nodes]
    assert {label for label, primary in nodes if primary} == {p.name for p in found.plans}
    said = {(labels[s], labels[t], v, flagged) for s, t, v, _h, flagged in links}
    assert ("Sales East (team)", "Sales Kicker", 1, False) in said
    assert ("Sales (team)", "Marketing Bonus", 1, True) in said  # the gate on Sales
    assert ("Sales Kicker", "Manager Override", 1, True) in said  # the override on its pay
    assert not any(labels[s] == "cs (team)" for s, _t, _v, _h, _f in links)  # unknown: no link
    flagged = sum(1 for *_x, f in links if f)
    assert flagged == len([e for e in found.edges if not e.warning and e.on != "participants"])
    sankey = figure["data"][0]
    assert sankey["type"] == "sankey" and sankey["node"]["label"] == labels
    assert len(sankey["link"]["value"]) == len(links)


def test_the_builder_warns_of_a_gate_nobody_produces_and_a_company_wide_result(
    org, alice, client_alice
):
    """The plan health panel reads the scheme for the version it shows (a draft as if in force):
    a gate on a team that does not exist, and a support plan's pool on the whole company's
    profit; a management plan may pay on the company's result."""
    components = (
        "  - id: kicker\n    name: Kicker\n    type: commission\n    measure: bookings\n"
        '    rate: "0.01"\n'
        "    gate: {measure: mqls, scope: node, holder: ghost-team, min_value: 1}\n"
        "  - id: share\n    name: Profit share\n    type: profit_share\n    kpi: profit\n"
        '    source_node: ceo\n    share: "0.01"\n    split: equal\n'
    )
    with tenant_scope(org.tenant):
        for function, company_warned in (("support", True), ("management", False)):
            plan = services.plan_create(
                code=f"care-{function}",
                name=f"Care {function}",
                function=function,
                source=_spec(f"care_{function}", f"Care {function}", components),
                user_id=alice.pk,
                valid_from=D(2026, 1, 1),
            )
            draft = plan.versions.get()
            got = scheme.builder_warnings(
                access=comp_admin_access(alice.pk), version=draft, day=DAY
            )
            assert (
                "Kicker (gate on another team's metric) reads ghost-team: no team 'ghost-team' "
                "exists." in got
            )
            company = [w for w in got if "company-wide result" in w]
            assert bool(company) is company_warned, got
            page = client_alice.get(f"/plans/{plan.pk}/versions/1/").content.decode()
            assert ("company-wide result" in page) is company_warned
            assert "no team &#x27;ghost-team&#x27; exists" in page  # in the plan health panel
            if company_warned:
                assert company == [
                    "Profit share pays on Company's profit, a company-wide result: a support "
                    "role can hardly move it (guidance: pay people on what they can influence)."
                ]
