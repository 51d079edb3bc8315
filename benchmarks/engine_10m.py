"""ICM-10M: the ICM-1M workload at 10x - 100k payees, 10M transactions (~15M credits).

Same generator (ordinary whole-cent figures, manager roll-ups), plans and reference as
``benchmarks/engine.py`` (lines checked equal to the reference's); not part of ``make bench``
(``IN_ALL = False``) because it needs minutes and several GB. Target: the engine within 4 GB
peak. Only one timed run of each (no warm-up, no median) to keep it bearable on a shared
machine.

The engine's own memory is measured apart from the generator's and the reference's: the
inputs are generated in this process, then ``compute`` runs in a forked child that shares
them (copy-on-write). ``engine_peak_mb`` is the child's peak resident set minus its resident
set when it started - what computing added on top of the inputs it was handed.
``peak_mb`` is still this whole process (generator + inputs + reference).
"""

from __future__ import annotations

import multiprocessing as mp
import resource
import time
from multiprocessing.connection import Connection

from benchmarks.engine import check_equal, generate, reference
from benchmarks.harness import peak_rss_mb
from engine import compute
from engine.types import Inputs

NAME = "engine-10m"
IN_ALL = False

_INPUTS: Inputs | None = None


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def _child(conn: Connection) -> None:
    assert _INPUTS is not None
    start_mb = _rss_mb()
    t0 = time.perf_counter()
    result = compute(_INPUTS)
    compute_s = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    check_equal(result, reference(_INPUTS), contributions=False)
    conn.send((compute_s, len(result.lines), peak_mb - start_mb, start_mb))
    conn.close()


def run() -> dict[str, float | int | str]:
    """Generate the 10x workload, time one engine run (child) and one reference run."""
    global _INPUTS
    t0 = time.perf_counter()
    work = generate(payees=100_000, transactions=10_000_000)
    inputs = work.inputs
    del work
    generate_s = time.perf_counter() - t0
    _INPUTS = inputs
    ctx = mp.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child, args=(send,))
    child.start()
    compute_s, lines, engine_peak_mb, inputs_mb = receive.recv()
    child.join()
    if child.exitcode:
        raise AssertionError("the engine's lines differ from the reference's (see the child)")
    _INPUTS = None
    t0 = time.perf_counter()
    reference(inputs)
    reference_s = time.perf_counter() - t0
    return {
        "payees": 100_000,
        "credits": len(inputs.credits),
        "lines": lines,
        "generate_s": generate_s,
        "compute_s": compute_s,
        "reference_s": reference_s,
        "ratio_vs_reference": compute_s / reference_s,
        "engine_peak_mb": engine_peak_mb,
        "inputs_rss_mb": inputs_mb,
        "peak_mb": peak_rss_mb(),
        "goal_engine_peak_mb": 4096.0,
    }
