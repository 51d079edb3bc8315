"""A tiny run of the engine benchmark's workload (``benchmarks/engine.py``), so it cannot rot.

``make bench`` is not run in CI; this runs the same generator at a tiny fraction of its size
and requires what the benchmark requires before it times anything: the engine's lines and
per-credit contributions equal the independent pandas reference's, every manager's roll-up
total equals the credits at or below their node, and plans with formulas and modifiers leave
the other payees' lines alone. (No timing here: speed is measured by ``make bench``.)
"""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from benchmarks import engine as bench
from engine import compute


def test_the_engine_equals_the_benchmark_reference_on_a_tiny_workload() -> None:
    work = bench.generate(payees=200, transactions=2_000)
    inputs = work.inputs
    bench._check_rollups(work)
    result = compute(inputs)
    assert {ln.plan_id for ln in result.lines} == {"plan0", "plan1", "plan2", "plan3", "mgr"}
    assert any(ln.segment == 1 for ln in result.lines), "some payees moved mid-month"
    bench.check_equal(result, bench.reference(inputs))
    mixed = compute(bench.mixed(inputs))
    assert any(ln.plan_id.startswith("mix") for ln in mixed.lines)


def test_the_check_fails_when_the_reference_differs() -> None:
    work = bench.generate(payees=60, transactions=500)
    result = compute(work.inputs)
    ref = bench.reference(work.inputs)
    ref.lines.loc[0, "earned_minor"] += 1
    with pytest.raises(AssertionError, match="earned_minor"):
        bench.check_equal(result, ref)
    ref = bench.reference(work.inputs)
    contributions = ref.contributions.copy()
    contributions.loc[0, "amount_e4"] += 1
    with pytest.raises(AssertionError, match="amount_e4"):
        bench.check_equal(result, bench.Reference(ref.lines, contributions))


def test_a_few_general_rows_among_many_fast_ones_are_placed_as_the_general_path_orders_them() -> (
    None
):
    """The benchmark's managers (a few general rows) among 1,000 fast payees: the search that
    places them (``_inserted_order``) gives the order and hash the all-general path gives."""
    inputs = bench.generate(payees=1_000, transactions=5_000).inputs
    held = inputs.credits.drop_duplicates("person_id").iloc[[3, 500, 900]]  # general: holds
    plan_of = dict(zip(inputs.assignments["person_id"], inputs.assignments["plan_id"], strict=True))
    holds = pd.DataFrame(
        {
            "transaction_id": held["transaction_id"].to_numpy(),
            "person_id": held["person_id"].to_numpy(),
            "plan_id": [plan_of[p] for p in held["person_id"]],
            "component_id": "commission",
            "amount_e4": 10_000,
        }
    )
    inputs = dataclasses.replace(inputs, holds=holds)
    fast, slow = compute(inputs), compute(inputs, fast=False)
    fast_traces = sum(t.source is not None for t in fast.traces)
    assert 64 * (len(fast.lines) - fast_traces) < fast_traces, "a few general rows only"
    assert len(fast.lines) > fast_traces, "and some general rows"
    keys = [(ln.person_id, ln.plan_id, ln.segment, ln.component_id) for ln in fast.lines]
    assert keys == [(ln.person_id, ln.plan_id, ln.segment, ln.component_id) for ln in slow.lines]
    assert [(t.person_id, t.plan_id) for t in fast.traces] == [
        (t.person_id, t.plan_id) for t in slow.traces
    ]
    assert fast.lines == slow.lines
    assert fast.result_hash == slow.result_hash
