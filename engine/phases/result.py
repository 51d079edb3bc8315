"""Phase 6, assemble: the result in its canonical order, and its hash.

Contract: :func:`assemble` sorts lines and traces canonically and hashes them with the
measures and draw balances (:func:`result_hash`), whatever order - or chunks - they come in.
The hash depends on the result only, never on the path taken (see docs/engine.md,
"Determinism").
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal

import pandas as pd

from engine.phases.fast import figures_of
from engine.phases.measure import MeasureState
from engine.types import Inputs, PayoutLine, Result, Trace


def measure_frame(state: MeasureState) -> pd.DataFrame:
    """Return every segment's measures: person, plan, segment, measure id, value."""
    rows = []
    for seg in state.segments:
        for mid in sorted(state.measure_values[seg.id]):
            value = state.measure_values[seg.id][mid]
            rows.append(
                (seg.person_key, seg.plan_id, seg.index, mid, None if value is None else value)
            )
    return pd.DataFrame(rows, columns=["person_id", "plan_id", "segment", "measure_id", "value"])


def result_hash(
    lines: Sequence[PayoutLine],
    traces: Sequence[Trace],
    measures: pd.DataFrame,
    balances: Mapping[str, Decimal],
) -> str:
    """Return the sha256 of the canonical serialization of a result."""
    h = hashlib.sha256()
    canon = _canon
    # One update of every line's text (sha256 is streaming: the same digest as line by line).
    h.update(
        "".join(
            f"{ln.person_id}|{ln.plan_id}|{ln.component_id}|{ln.period_id}|{ln.segment}|"
            f"{ln.segment_start}|{ln.segment_end}|{ln.kind}|{ln.earned}|{ln.paid_before}|"
            f"{ln.amount}|{ln.amount_minor}|{ln.currency}|{canon(ln.attainment)}|"
            f"{'' if ln.tier is None else ln.tier}\n"
            for ln in lines
        ).encode()
    )
    parts: list[str] = []
    for t, figures in zip(traces, figures_of(traces), strict=True):
        head = f"{t.person_id}|{t.plan_id}|{t.component_id}|{t.segment}|{t.rule}|"
        if figures is not None:  # a plain tier table, on either path: hashed unrendered
            parts.append(head + figures)
        else:
            steps = ";".join(f"{s.name}={s.value}#{s.note}" for s in t.steps)
            parts.append(f"{head}{steps}|{','.join(t.inputs)}|{t.text}")
    for part in parts:
        h.update(part.encode())
        h.update(b"\n")
    columns = [measures[c].tolist() for c in measures.columns]
    h.update(
        "".join("|".join(map(canon, row)) + "\n" for row in zip(*columns, strict=True)).encode()
    )
    for person, balance in sorted(balances.items()):
        h.update(f"{person}={_canon(balance)}\n".encode())
    return h.hexdigest()


def _canon(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    if value is None:
        return ""
    return str(value)


_KIND_ORDER = {
    "earned": 0,
    "deferred": 1,
    "hold": 2,
    "release": 3,
    "instalment": 4,
    "clawback": 5,
    "guarantee": 6,
    "draw": 7,
    "draw_recovery": 8,
    "reserve": 9,
    "reserve_release": 10,
}


def assemble(
    inputs: Inputs,
    lines: Iterable[PayoutLine],
    traces: Iterable[Trace],
    measures: pd.DataFrame,
    contributions: pd.DataFrame,
    balances: Mapping[str, Decimal],
) -> Result:
    """Return the :class:`Result`: lines and traces in their canonical order, and its hash.

    Lines and traces are sorted by (person, plan, segment, component order, kind), so the
    order they come in (one call, or chunks in any order) does not matter.
    """
    comp_order = {
        (pid, c.id): i for pid, p in inputs.plans.items() for i, c in enumerate(p.components)
    }

    def order(component_id: str, plan_id: str) -> int:
        return comp_order.get((plan_id, component_id), len(comp_order) + 1)

    ordered_lines = sorted(
        lines,
        key=lambda ln: (
            ln.person_id,
            ln.plan_id,
            ln.segment,
            order(ln.component_id, ln.plan_id),
            ln.component_id,
            _KIND_ORDER[ln.kind],
            ln.amount,
        ),
    )
    ordered_traces = sorted(
        traces,
        key=lambda t: (
            t.person_id,
            t.plan_id,
            t.segment,
            order(t.component_id, t.plan_id),
            t.component_id,
            t.rule,
            () if t.source is not None else t.inputs,
            "" if t.source is not None else t.text,
        ),
    )
    digest = result_hash(ordered_lines, ordered_traces, measures, balances)
    return Result(
        period_id=inputs.period.id,
        lines=tuple(ordered_lines),
        traces=tuple(ordered_traces),
        contributions=contributions,
        measures=measures,
        draw_balances=balances,
        result_hash=digest,
    )
