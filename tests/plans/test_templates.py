"""Every plan template is a valid plan and computes correctly on a hand-worked example.

The cases in tests/plans/golden/*.yaml name a template (loaded from plans/templates/ through
plans.catalog, never copied), give inputs in the engine's readable format, the expected lines
and the arithmetic by hand. A template may carry its worked cases itself (``cases:``, the test
cases a plan made from it starts with); they run here through plans.cases, as the builder runs
them. No database: the templates are files and the engine is pure.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine import compute, validate_plan
from engine.loader import inputs_from_mapping, plans_from_mapping
from plans import cases, catalog, preview
from plans.source import check_source

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(GOLDEN.glob("*.yaml"))
REQUIRED = {
    "sales_ae",
    "sdr",
    "marketing",
    "customer_success",
    "support",
    "product",
    "operations",
    "manager_override",
    "hybrid_70_30",
    "shared_launch_milestone",
}


def load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def test_every_function_has_a_template_and_every_template_a_golden_case() -> None:
    keys = {t.key for t in catalog.template_list()}
    assert keys >= REQUIRED
    covered = {load(p)["template"] for p in CASES} | {
        t.key for t in catalog.template_list() if t.cases
    }
    assert covered == keys


@pytest.mark.parametrize("template", [t.key for t in catalog.template_list()])
def test_the_template_is_a_valid_plan_and_its_sample_pays_something(template: str) -> None:
    tpl = catalog.template_get(template)
    assert validate_plan(tpl.plan) == []
    # the text the builder starts from parses to the same plan, with the new plan's id
    checked = check_source(catalog.template_source(template, plan_id="new-plan"))
    assert checked.ok, checked.problems
    assert checked.spec == {**tpl.plan, "id": "new-plan"}
    tried = preview.try_it(checked.spec, tpl.sample)  # with the templates of plans it reads
    assert tried["error"] == ""
    assert sum(Decimal(line["amount"]) for line in tried["lines"]) > 0
    assert all(t["text"] for t in tried["traces"])


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_the_template_computes_its_hand_worked_case(path: Path) -> None:
    # given
    case = load(path)
    assert case.get("description") and case.get("arithmetic"), "describe the case and its sums"
    template = catalog.template_get(case["template"])
    plans = plans_from_mapping({"plan": template.plan})
    # when
    result = compute(inputs_from_mapping(case["inputs"], plans))
    # then
    got = {(ln.person_id, ln.component_id, ln.kind): ln for ln in result.lines}
    want = set()
    for exp in case["expected"]["lines"]:
        key = (str(exp["person"]), str(exp["component"]), exp.get("kind", "earned"))
        want.add(key)
        assert key in got, f"no line {key}; lines: {sorted(got)}"
        assert str(got[key].amount) == str(exp["amount"]), f"{key}: {got[key].amount}"
        if "attainment" in exp:
            assert got[key].attainment == Decimal(str(exp["attainment"]))
    extra = [k for k, ln in got.items() if k not in want and ln.amount != 0]
    assert not extra, f"lines not in the case: {extra}"


TEMPLATE_CASES = [(t.key, i) for t in catalog.template_list() for i in range(len(t.cases))]


@pytest.mark.parametrize(
    ("template", "index"), TEMPLATE_CASES, ids=[f"{k}-{i}" for k, i in TEMPLATE_CASES]
)
def test_the_template_passes_the_worked_cases_it_carries(template: str, index: int) -> None:
    # given a case the template carries, with the templates of the plans it reads
    tpl = catalog.template_get(template)
    case = tpl.cases[index]
    assert case.get("description") and case.get("arithmetic"), "describe the case and its sums"
    # when
    got = cases.run_inputs(
        spec=tpl.plan,
        inputs=case["inputs"],
        person=str(case.get("person", "")),
        name=case["name"],
        expected_total=Decimal(str(case["expected"]["total"])),
        expected_components=case["expected"].get("components") or {},
        related=preview.template_related(tpl.plan),
    )
    # then
    assert got.error == ""
    assert got.differences == ()
    assert got.passed
    assert str(got.actual_total) == str(case["expected"]["total"])


def test_the_manager_override_pays_on_the_teams_earned_commissions() -> None:
    # given the template's worked case with one AE's deal doubled (alice 240,000: 8,900.00 ->
    # 2,500 + 4,000 + 140,000 x 12 % = 23,300.00)
    tpl = catalog.template_get("manager_override")
    case = tpl.cases[0]
    inputs = dict(case["inputs"])
    inputs["credits"] = [
        {**c, "amount": 240000} if c["id"] == "a1" else c for c in case["inputs"]["credits"]
    ]
    # when
    got = cases.run_inputs(
        spec=tpl.plan,
        inputs=inputs,
        person="mia",
        name="doubled",
        expected_total=Decimal(str(case["expected"]["total"])),
        expected_components=case["expected"]["components"],
        related=preview.template_related(tpl.plan),
    )
    # then the override follows alice's pay, not her bookings: (23,300 + 6,500) x 10 % = 2,980.00
    override = next(c for c in got.components if c.component == "override")
    assert override.actual == Decimal("2980.00")
    assert not got.passed
    assert got.differences[0] == (
        "Case 'doubled': expected 1,540.00 USD, got 2,980.00 USD (+1,440.00) "
        "on Override on the team's commissions"
    )
