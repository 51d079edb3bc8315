"""Golden cases: hand-computed examples in tests/engine/golden/*.yaml, one parametrized test."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine import InputError, PlanValidationError, compute
from engine.loader import inputs_from_mapping, plans_from_mapping

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(GOLDEN.glob("*.yaml"))


def load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


GOLDEN_FLOOR = 126
"""The number of golden cases there are: raise it when you add one, never lower it."""


def test_no_golden_case_goes_missing() -> None:
    assert len(CASES) >= GOLDEN_FLOOR


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_golden_case(path: Path) -> None:
    # given
    case = load(path)
    assert case.get("description") and case.get("arithmetic"), "describe the case and its sums"
    expected = case["expected"]
    if "error" in expected:  # a case that must be refused, with its message
        with pytest.raises((PlanValidationError, InputError)) as refused:
            compute(inputs_from_mapping(case["inputs"], plans_from_mapping(case)))
        assert expected["error"] in str(refused.value), str(refused.value)
        return
    plans = plans_from_mapping(case)
    inputs = inputs_from_mapping(case["inputs"], plans)
    # when
    result = compute(inputs)
    # then
    got = {(ln.person_id, ln.component_id, ln.kind, ln.segment): ln for ln in result.lines}
    sums: dict[tuple[str, str, str, int], Decimal] = {}
    for ln in result.lines:  # several clawback lines of one component: the case gives the sum
        key = (ln.person_id, ln.component_id, ln.kind, ln.segment)
        sums[key] = sums.get(key, Decimal(0)) + ln.amount
    want_keys = set()
    for exp in expected["lines"]:
        key = (
            str(exp["person"]),
            str(exp["component"]),
            exp.get("kind", "earned"),
            int(exp.get("segment", 0)),
        )
        want_keys.add(key)
        assert key in got, f"no line {key}; lines: {sorted(got)}"
        line = got[key]
        assert sums[key] == Decimal(str(exp["amount"])), f"{key}: {sums[key]}"
        assert str(sums[key]) == str(exp["amount"]), f"{key}: quantized as {sums[key]}"
        if "tier" in exp:
            assert line.tier == exp["tier"], f"{key}: tier {line.tier}"
        if "attainment" in exp:
            assert line.attainment == Decimal(str(exp["attainment"])), f"{key}: {line.attainment}"
        if "minor" in exp:
            assert line.amount_minor == exp["minor"]
    unexpected = [k for k, ln in got.items() if k not in want_keys and ln.amount != 0]
    assert not unexpected, f"lines not in the case: {unexpected}"
    for person, balance in (expected.get("draw_balances") or {}).items():
        assert result.draw_balances[str(person)] == Decimal(str(balance))
    for check in expected.get("trace_contains", []):
        if "rule" in check:  # e.g. one of several clawback traces of a component
            texts = [
                t.text
                for t in result.traces
                if (t.person_id, t.component_id, t.segment, t.rule)
                == (str(check["person"]), str(check["component"]), 0, check["rule"])
            ]
            assert any(check["text"] in text for text in texts), texts
            continue
        trace = result.trace(
            str(check["person"]), str(check["component"]), int(check.get("segment", 0))
        )
        assert check["text"] in trace.text, trace.text
