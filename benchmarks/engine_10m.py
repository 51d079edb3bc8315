"""ICM-10M: the ICM-1M workload at 10x - 100k payees, 10M transactions (~15M credits).

Same generator, plans and reference as ``benchmarks/engine.py``; not part of ``make bench``
(``IN_ALL = False``) because it needs minutes and several GB. Target: within 4 GB peak.
Only one timed run of each (no warm-up, no median) to keep it bearable on a shared machine.
"""

from __future__ import annotations

import time

from benchmarks.engine import generate, reference
from benchmarks.harness import peak_rss_mb
from engine import compute

NAME = "engine-10m"
IN_ALL = False


def run() -> dict[str, float | int | str]:
    """Generate the 10x workload, time one engine run and one reference run, check totals."""
    t0 = time.perf_counter()
    inputs = generate(payees=100_000, transactions=10_000_000)
    generate_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = compute(inputs)
    compute_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    reference_total = reference(inputs)
    reference_s = time.perf_counter() - t0
    engine_total = sum(line.amount_minor for line in result.lines)
    if engine_total != reference_total:
        raise AssertionError(f"totals differ: engine {engine_total} reference {reference_total}")
    return {
        "payees": 100_000,
        "credits": len(inputs.credits),
        "lines": len(result.lines),
        "generate_s": generate_s,
        "compute_s": compute_s,
        "reference_s": reference_s,
        "ratio_vs_reference": compute_s / reference_s,
        "peak_mb": peak_rss_mb(),
        "goal_peak_mb": 4096.0,
    }
