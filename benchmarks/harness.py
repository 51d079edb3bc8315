"""Shared helpers for benchmarks: timing, peak memory, and the one-line summary + JSON result.

Every benchmark module defines ``NAME`` (its name on the command line), ``IN_ALL`` (whether
``make bench`` with no NAME runs it) and ``run() -> dict[str, float | int | str]``: a flat dict
of figures whose keys carry their unit (``compute_s``, ``p95_ms``, ``peak_mb``,
``ratio_vs_reference``). The runner prints ``name: key=value …`` and writes
``benchmarks/results/<name>.json``.
"""

from __future__ import annotations

import gc
import json
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def median_seconds(fn: Callable[[], Any], *, repeat: int = 5, warmup: int = 1) -> float:
    """Return the median wall time of ``fn`` over ``repeat`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def percentile(values: list[float], pct: float) -> float:
    """Return the ``pct`` percentile (0-100) of ``values`` by nearest rank."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("percentile of an empty list")
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def peak_rss_mb() -> float:
    """Return this process's peak resident set size in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def emit(name: str, figures: dict[str, Any]) -> None:
    """Print the one summary line and write ``results/<name>.json``."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    rounded = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in figures.items()}
    (RESULTS_DIR / f"{name}.json").write_text(json.dumps(rounded, indent=2, sort_keys=True) + "\n")
    line = " ".join(f"{k}={v}" for k, v in rounded.items())
    sys.stdout.write(f"{name}: {line}\n")
    sys.stdout.flush()
