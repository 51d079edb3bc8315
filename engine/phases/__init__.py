"""The engine's phases, one module each (see docs/engine.md, "Stages" and "Phase tables").

``segments`` -> ``measure`` (map per person chunk) -> ``reduce`` (once) -> ``reward`` (map)
-> ``depend`` (pay on others' pay) -> ``settle`` -> ``result``; ``fast`` is the column-wise
path for plain tier tables. ``engine.pipeline`` runs them in order in memory
(:func:`engine.compute`); :mod:`engine.phases.chunks` runs them per person chunk with every
output a plain table (:mod:`engine.phases.tables`) that can be stored between steps.
"""

from __future__ import annotations

from engine.phases.chunks import (
    assemble_all,
    earned_all,
    measure_chunk,
    reduce_all,
    requests_all,
    reward_chunk,
    run_in_chunks,
    segments_chunk,
    settle_chunk,
    split_inputs,
)

__all__ = [
    "assemble_all",
    "earned_all",
    "measure_chunk",
    "reduce_all",
    "requests_all",
    "reward_chunk",
    "run_in_chunks",
    "segments_chunk",
    "settle_chunk",
    "split_inputs",
]
