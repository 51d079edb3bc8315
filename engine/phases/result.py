"""Phase 6, assemble: the result in its canonical order, and its hash.

Contract: :func:`assemble` sorts lines and traces canonically and hashes them with the
measures and draw balances (:func:`result_hash`), whatever order - or chunks - they come in.
The hash depends on the result only, never on the path taken (see docs/engine.md,
"Determinism").
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pandas as pd

from engine.phases.common import IntArray
from engine.phases.fast import FastOut, SegmentColumns, figures_of
from engine.phases.measure import MeasureRows, MeasureState
from engine.phases.segments import Segment
from engine.types import Inputs, PayoutLine, Result, Trace


def measure_frame(state: MeasureState) -> pd.DataFrame:
    """Return every segment's measures: person, plan, segment, measure id, value."""
    return _measure_frame(state.segments, state.measure_values)


def _measure_frame(
    segments: Sequence[Segment], measure_values: Sequence[Mapping[str, Decimal | None]]
) -> pd.DataFrame:
    rows = []
    for seg in segments:
        for mid in sorted(measure_values[seg.id]):
            value = measure_values[seg.id][mid]
            rows.append(
                (seg.person_key, seg.plan_id, seg.index, mid, None if value is None else value)
            )
    return pd.DataFrame(rows, columns=["person_id", "plan_id", "segment", "measure_id", "value"])


def _e4_text(v: int) -> str:
    """Return ``f"{from_e4(v).normalize():f}"`` from the integer (a sum's canonical text)."""
    if not v % 10000:
        return str(v // 10000)
    q, r = divmod(-v if v < 0 else v, 10000)
    return f"{'-' if v < 0 else ''}{q}.{f'{r:04d}'.rstrip('0')}"


_FRACTIONS = ["", *(f".{r:04d}".rstrip("0") for r in range(1, 10000))]
"""The text of each fraction of ten-thousandths in :func:`_e4_text` (none for a whole)."""


def _e4_texts(values: Sequence[int]) -> list[str]:
    """Return :func:`_e4_text` of every value (the fractions' texts looked up)."""
    frac = _FRACTIONS
    out = []
    for v in values:
        if v < 0:
            q, r = divmod(-v, 10000)
            out.append(f"-{q}{frac[r]}")
        else:
            q, r = divmod(v, 10000)
            out.append(f"{q}{frac[r]}")
    return out


@dataclass(frozen=True)
class MeasureTable:
    """Every segment's measures: the hashed text of each row, and the frame built when read.

    ``texts`` are the rows :func:`result_hash` writes for :func:`measure_frame`'s frame
    (``person|plan|segment|measure|value``); a plan of sums and counts only writes them from
    its integer columns, so neither its Decimals nor its dicts are made to hash a result.
    """

    texts: list[str]
    frame: Callable[[], pd.DataFrame]


def measure_table(state: MeasureState) -> MeasureTable:
    """Return :func:`measure_frame` of ``state`` as a :class:`MeasureTable` (frame deferred)."""
    values = state.measure_values
    columns = SegmentColumns(state.segments)
    ids = columns["id"]
    plain = values.plain if isinstance(values, MeasureRows) else None
    lazy = list(map(plain, ids)) if plain is not None else [None] * len(ids)
    ordered: dict[int, tuple[dict[int, int], list[list[str]]]] = {}
    texts: list[str] = []
    append = texts.append
    for person, plan, index, got, pos in zip(
        columns["person_key"], columns["plan_id"], columns["index"], lazy, ids, strict=True
    ):
        if got is None:
            row = values[pos]
            head = f"{person}|{plan}|{index}|"
            texts.extend(f"{head}{mid}|{_canon(row[mid])}\n" for mid in sorted(row))
            continue
        block, sid = got
        cols = ordered.get(id(block))
        if cols is None:  # the block's rows' texts after the head, measure by measure
            sids = block.sids
            cols = ordered[id(block)] = (
                {s: j for j, s in enumerate(sids)},
                [
                    [
                        f"{mid}|{v}\n"
                        for v in (
                            _e4_texts([col[s] for s in sids]) if is_sum else [col[s] for s in sids]
                        )
                    ]
                    for mid, col, is_sum in sorted(block.figures, key=lambda c: c[0])
                ],
            )
        at, rows = cols
        j = at[sid]
        if len(rows) == 1:
            append(f"{person}|{plan}|{index}|{rows[0][j]}")
        else:
            head = f"{person}|{plan}|{index}|"
            texts.extend(head + r[j] for r in rows)
    segments = state.segments

    def frame() -> pd.DataFrame:
        return _measure_frame(segments, values)

    return MeasureTable(texts, frame)


def result_hash(
    lines: Sequence[PayoutLine],
    traces: Sequence[Trace],
    measures: pd.DataFrame | MeasureTable,
    balances: Mapping[str, Decimal],
) -> str:
    """Return the sha256 of the canonical serialization of a result."""
    return _hash_texts(map(_line_text, lines), _trace_texts(traces), measures, balances)


def _canon_column(values: list[object]) -> list[str]:
    """Return :func:`_canon` of every value of a column (text columns as they are)."""
    if all(type(v) is str for v in values):
        return values  # type: ignore[return-value]
    return [f"{v.normalize():f}" if type(v) is Decimal else _canon(v) for v in values]


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


def _line_text(ln: PayoutLine) -> str:
    return (
        f"{ln.person_id}|{ln.plan_id}|{ln.component_id}|{ln.period_id}|{ln.segment}|"
        f"{ln.segment_start}|{ln.segment_end}|{ln.kind}|{ln.earned}|{ln.paid_before}|"
        f"{ln.amount}|{ln.amount_minor}|{ln.currency}|{_canon(ln.attainment)}|"
        f"{'' if ln.tier is None else ln.tier}\n"
    )


def _trace_texts(traces: Sequence[Trace]) -> list[str]:
    out = []
    for t, figures in zip(traces, figures_of(traces), strict=True):
        head = f"{t.person_id}|{t.plan_id}|{t.component_id}|{t.segment}|{t.rule}|"
        if figures is not None:
            out.append(head + figures)
        else:
            steps = ";".join(f"{s.name}={s.value}#{s.note}" for s in t.steps)
            out.append(f"{head}{steps}|{','.join(t.inputs)}|{t.text}")
    return out


def _hash_texts(
    line_texts: Iterable[str],
    trace_texts: Iterable[str],
    measures: pd.DataFrame | MeasureTable,
    balances: Mapping[str, Decimal],
) -> str:
    """Return the sha256 :func:`result_hash` gives, from the lines' and traces' texts."""
    h = hashlib.sha256()
    h.update("".join(line_texts).encode())
    traces = list(trace_texts)
    if traces:  # each trace's text and a newline, in one update
        h.update("\n".join(traces).encode())
        h.update(b"\n")
    if isinstance(measures, MeasureTable):
        h.update("".join(measures.texts).encode())
    else:
        columns = [_canon_column(measures[c].tolist()) for c in measures.columns]
        h.update("".join(f"{'|'.join(row)}\n" for row in zip(*columns, strict=True)).encode())
    for person, balance in sorted(balances.items()):
        h.update(f"{person}={_canon(balance)}\n".encode())
    return h.hexdigest()


def _codes(values: Sequence[str]) -> IntArray:
    """Return each value's rank among the distinct values (Python's string order).

    NumPy orders its fixed-width strings by code point, as Python orders ``str``.
    """
    if not len(values):
        return np.zeros(0, dtype=np.int64)
    inverse: IntArray = np.unique(np.asarray(values, dtype=str), return_inverse=True)[1]
    return inverse.astype(np.int64)


Keys = tuple[Sequence[str], Sequence[str], Sequence[int], Sequence[int], Sequence[str]]
"""Sort keys as columns: person, plan, segment, component order, component."""


def _key_columns(rows: Sequence[PayoutLine | Trace], order: Callable[[str, str], int]) -> Keys:
    """Return the sort keys of general lines or traces as columns."""
    if not rows:
        return ([], [], [], [], [])
    return (
        [r.person_id for r in rows],
        [r.plan_id for r in rows],
        [r.segment for r in rows],
        [order(r.component_id, r.plan_id) for r in rows],
        [r.component_id for r in rows],
    )


def _inserted_order(general: Keys, fast: FastOut, order: Callable[[str, str], int]) -> list[int]:
    """Return :func:`_merged_order` of a few general rows (already sorted) and the fast rows.

    The fast rows' own order (:meth:`FastOut.order`, from integers) stays; each general row
    is placed by a binary search on the fast rows' keys, built only for the rows it visits.
    """
    ng = len(general[0])
    fast_sorted = (fast.order(order) + ng).tolist()
    starts = np.cumsum([0, *(len(r.kept) for r in fast.rows)]).tolist()
    columns: dict[int, tuple[Sequence[str], Sequence[int], str, int, str]] = {}

    def key(g: int) -> tuple[str, str, int, int, str]:
        at = g - ng
        b = bisect.bisect_right(starts, at) - 1
        got = columns.get(b)
        if got is None:
            r = fast.rows[b]
            pid, cid = r.block.plan.id, r.block.component.id
            person, index = r.keys()
            got = columns[b] = (person, index, pid, order(cid, pid), cid)
        j = at - starts[b]
        return (got[0][j], got[2], got[1][j], got[3], got[4])

    out: list[int] = []
    lo = 0
    for i, row in enumerate(zip(*general, strict=True)):
        at = bisect.bisect_left(fast_sorted, row, lo=lo, key=key)
        out += fast_sorted[lo:at]
        out.append(i)
        lo = at
    out += fast_sorted[lo:]
    return out


def _merged_order(general: Keys, fast: Keys) -> IntArray:
    """Return the canonical order of general rows (already sorted) followed by fast rows.

    The fast path's (person, plan) pairs have no general row, so (person, plan, segment,
    component order, component) decides between the two; the general rows keep their order.
    Both are given column by column.
    """
    ng, nf = len(general[0]), len(fast[0])
    rank = np.r_[np.arange(ng, dtype=np.int64), np.zeros(nf, dtype=np.int64)]

    def text(k: int) -> IntArray:
        return _codes([*general[k], *fast[k]])

    def number(k: int) -> IntArray:
        both: IntArray = np.r_[
            np.asarray(general[k], dtype=np.int64), np.asarray(fast[k], dtype=np.int64)
        ]
        return both

    order: IntArray = np.lexsort((rank, text(4), number(3), number(2), text(1), text(0)))
    return order


def assemble(
    inputs: Inputs,
    lines: Iterable[PayoutLine],
    traces: Iterable[Trace],
    measures: pd.DataFrame | MeasureTable,
    contributions: pd.DataFrame,
    balances: Mapping[str, Decimal],
    fast: FastOut | None = None,
) -> Result:
    """Return the :class:`Result`: lines and traces in their canonical order, and its hash.

    Lines and traces are sorted by (person, plan, segment, component order, kind), so the
    order they come in (one call, or chunks in any order) does not matter. ``fast`` is the
    fast path's output kept column-wise (:func:`~engine.phases.fast.fast_rows`): it is hashed
    from its columns and its objects are built only when the result's lines or traces are read.
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
    if fast is not None and len(fast):
        general = {(ln.plan_id, ln.person_id) for ln in ordered_lines} | {
            (t.plan_id, t.person_id) for t in ordered_traces
        }
        plans = {plan for plan, _ in general}
        if any(
            (r.block.plan.id, r.block.segments[k].person_key) in general
            for r in fast.rows
            if r.block.plan.id in plans
            for k in r.kept
        ):  # not expected: a fast (person, plan) with a general row too - sort them all
            return assemble(
                inputs,
                [*ordered_lines, *fast.lines()],
                [*ordered_traces, *fast.traces()],
                measures,
                contributions,
                balances,
            )
        return _assemble_fast(
            inputs, ordered_lines, ordered_traces, measures, contributions, balances, fast, order
        )
    digest = result_hash(ordered_lines, ordered_traces, measures, balances)
    return Result(
        period_id=inputs.period.id,
        lines=tuple(ordered_lines),
        traces=tuple(ordered_traces),
        contributions=contributions,
        measures=measures.frame if isinstance(measures, MeasureTable) else measures,
        draw_balances=balances,
        result_hash=digest,
    )


def _assemble_fast(
    inputs: Inputs,
    lines: list[PayoutLine],
    traces: list[Trace],
    measures: pd.DataFrame | MeasureTable,
    contributions: pd.DataFrame,
    balances: Mapping[str, Decimal],
    fast: FastOut,
    order: Callable[[str, str], int],
) -> Result:
    """The canonical result of sorted general rows and the fast path's column-wise rows."""
    if not lines and not traces:  # every row fast (as a rule): in the segments' order
        line_order = trace_order = fast.order(order).tolist()
    else:
        line_keys, trace_keys = _key_columns(lines, order), _key_columns(traces, order)
        # the same general keys give the same order
        same = all(len(a) == len(b) for a, b in zip(line_keys, trace_keys, strict=True))
        same = same and line_keys == trace_keys
        if (len(lines) + len(traces)) * 64 < len(fast):  # a few general rows: placed by search
            line_order = _inserted_order(line_keys, fast, order)
            trace_order = line_order if same else _inserted_order(trace_keys, fast, order)
        else:
            fast_keys = fast.keys(order)
            line_order = _merged_order(line_keys, fast_keys).tolist()
            trace_order = line_order if same else _merged_order(trace_keys, fast_keys).tolist()
    line_texts = [_line_text(ln) for ln in lines]
    trace_texts = _trace_texts(traces)
    for r in fast.rows:
        line_texts += r.line_texts()
        trace_texts += r.trace_texts()
    digest = _hash_texts(
        [line_texts[i] for i in line_order],
        [trace_texts[i] for i in trace_order],
        measures,
        balances,
    )

    def build_lines() -> tuple[PayoutLine, ...]:
        every = [*lines, *fast.lines()]
        return tuple(every[i] for i in line_order)

    def build_traces() -> tuple[Trace, ...]:
        every = [*traces, *fast.traces()]
        return tuple(every[i] for i in trace_order)

    return Result(
        period_id=inputs.period.id,
        lines=build_lines,
        traces=build_traces,
        contributions=contributions,
        measures=measures.frame if isinstance(measures, MeasureTable) else measures,
        draw_balances=balances,
        result_hash=digest,
    )
