"""Phase 6, assemble: the result in its canonical order, and its hash.

Contract: :func:`assemble` sorts lines and traces canonically and hashes them with the
measures and draw balances (:func:`result_hash`), whatever order - or chunks - they come in.
The hash depends on the result only, never on the path taken (see docs/engine.md,
"Determinism").
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pandas as pd

from engine.phases.common import IntArray
from engine.phases.digest import (
    BALANCES,
    FIGURES,
    INT,
    LINES,
    MEASURES,
    TRACE_FIGURES,
    TRACE_TEXTS,
    TRACES,
    WORDS,
    Table,
    balance_table,
    canon,
    decimal_parts,
    digest,
    joined,
    taken,
)
from engine.phases.fast import FastOut, figures_of
from engine.phases.measure import MeasureRows, MeasureState
from engine.phases.segments import Segment, columns_of
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
    """Every segment's measures: the hashed columns (``digest.MEASURES``), the frame built
    when read.

    ``columns`` are :func:`measure_frame`'s rows as the hash reads them; a plan of sums and
    counts only writes them from its integer columns, so neither its Decimals nor its dicts
    are made to hash a result.
    """

    columns: Table
    frame: Callable[[], pd.DataFrame]


def measure_table(state: MeasureState) -> MeasureTable:
    """Return :func:`measure_frame` of ``state`` as a :class:`MeasureTable` (frame deferred)."""
    values = state.measure_values
    segments = state.segments
    columns = columns_of(segments)
    n = len(segments)
    groups, general = (
        values.lazy_groups() if isinstance(values, MeasureRows) else ({}, list(range(n)))
    )
    counts = np.zeros(n, dtype=np.int64)
    rows_of: list[tuple[int, list[str]]] = []
    for pos in general:
        row = values[pos]
        mids = sorted(row)
        counts[pos] = len(mids)
        rows_of.append((pos, mids))
    for block, positions, _ in groups.values():
        counts[positions] = len(block.figures)
    starts = np.cumsum(counts) - counts
    total = int(counts.sum())
    measure = np.empty(total, dtype=object)
    value = np.empty(total, dtype=object)
    for block, positions, sids in groups.values():
        at = starts[positions]
        for k, (mid, col, is_sum) in enumerate(sorted(block.figures, key=lambda c: c[0])):
            got = [col[s] for s in sids]
            measure[at + k] = mid
            value[at + k] = _e4_texts(got) if is_sum else list(map(str, got))
    for pos, mids in rows_of:
        row = values[pos]
        first = int(starts[pos])
        for k, mid in enumerate(mids):
            measure[first + k] = mid
            value[first + k] = canon(row[mid])
    table: Table = [
        np.repeat(np.asarray(columns["person_key"], dtype=object), counts),
        np.repeat(np.asarray(columns["plan_id"], dtype=object), counts),
        np.repeat(np.asarray(columns["index"], dtype=np.int64), counts),
        measure,
        value,
    ]

    def frame() -> pd.DataFrame:
        return _measure_frame(segments, values)

    return MeasureTable(table, frame)


def result_hash(
    lines: Sequence[PayoutLine],
    traces: Sequence[Trace],
    measures: pd.DataFrame | MeasureTable,
    balances: Mapping[str, Decimal],
) -> str:
    """Return the sha256 of a result's tables (:mod:`engine.phases.digest`), its lines and
    traces in the order given (their canonical order, as :func:`assemble` sorts them)."""
    heads, figures, texts = trace_tables(traces)
    return _digest(line_table(lines), heads, figures, texts, measures, balances)


_canon = canon


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


def line_table(lines: Sequence[PayoutLine]) -> Table:
    """Return ``lines`` as ``digest.LINES`` columns."""
    earned, paid, amount = (
        decimal_parts(getattr(ln, f) for ln in lines) for f in ("earned", "paid_before", "amount")
    )
    return [
        [ln.person_id for ln in lines],
        [ln.plan_id for ln in lines],
        [ln.component_id for ln in lines],
        [ln.period_id for ln in lines],
        [ln.segment for ln in lines],
        [str(ln.segment_start) for ln in lines],
        [str(ln.segment_end) for ln in lines],
        [ln.kind for ln in lines],
        *earned,
        *paid,
        *amount,
        [ln.amount_minor for ln in lines],
        [ln.currency for ln in lines],
        [canon(ln.attainment) for ln in lines],
        ["" if ln.tier is None else str(ln.tier) for ln in lines],
    ]


def _figure_fields(figures: str) -> list[object]:
    """Return the ``digest.TRACE_FIGURES`` fields of a trace's figures text
    (:func:`engine.phases.reward.plain_figures` and the settled minor units)."""
    key, rest = figures.split("|", 1)  # the key is a hex digest; the holder's ids may hold "|"
    parts = rest.rsplit("|", len(TRACE_FIGURES) - 2)
    if len(parts) != len(TRACE_FIGURES) - 1:
        raise ValueError(f"a trace's figures have {len(parts) + 1} fields: {figures!r}")
    return [
        int(v) if kind == INT else v
        for v, (_, kind) in zip([key, *parts], TRACE_FIGURES, strict=True)
    ]


def trace_tables(traces: Sequence[Trace]) -> tuple[Table, Table, Table]:
    """Return ``traces`` as ``digest.TRACES`` columns and the ``TRACE_FIGURES`` and
    ``TRACE_TEXTS`` columns of the traces of each form, in the traces' order."""
    figures = figures_of(traces)
    rows = [_figure_fields(f) for f in figures if f is not None]
    heads: Table = [
        [t.person_id for t in traces],
        [t.plan_id for t in traces],
        [t.component_id for t in traces],
        [t.segment for t in traces],
        [t.rule for t in traces],
        [FIGURES if f is not None else WORDS for f in figures],
    ]
    texts = [
        f"{';'.join(f'{s.name}={s.value}#{s.note}' for s in t.steps)}|{','.join(t.inputs)}|{t.text}"
        for t, f in zip(traces, figures, strict=True)
        if f is None
    ]
    columns: Table = [list(c) for c in zip(*rows, strict=True)] if rows else []
    return heads, columns or [[] for _ in TRACE_FIGURES], [texts]


def _digest(
    lines: Table,
    heads: Table,
    figures: Table,
    texts: Table,
    measures: pd.DataFrame | MeasureTable,
    balances: Mapping[str, Decimal],
) -> str:
    """Return the sha256 of a result's tables, each in its canonical order."""
    if isinstance(measures, MeasureTable):
        measure_columns = measures.columns
    else:
        measure_columns = [
            measures["person_id"].tolist(),
            measures["plan_id"].tolist(),
            measures["segment"].to_numpy(),
            measures["measure_id"].tolist(),
            [canon(v) for v in measures["value"].tolist()],
        ]
    return digest(
        [
            ("lines", LINES, lines),
            ("traces", TRACES, heads),
            ("trace_figures", TRACE_FIGURES, figures),
            ("trace_texts", TRACE_TEXTS, texts),
            ("measures", MEASURES, measure_columns),
            ("balances", BALANCES, balance_table(balances)),
        ]
    )


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
        people: dict[str, set[str]] = {}
        for plan, person in general:
            people.setdefault(plan, set()).add(person)
        if any(
            not people[r.block.plan.id].isdisjoint(r.keys()[0])
            for r in fast.rows
            if r.block.plan.id in people
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
    line_tables = [line_table(lines), *(r.line_table() for r in fast.rows)]
    heads, figures, texts = trace_tables(traces)
    head_tables, figure_tables, text_tables = [heads], [figures], [texts]
    general_forms = heads[-1]
    assert isinstance(general_forms, list)
    forms = [np.asarray([f == FIGURES for f in general_forms], dtype=np.bool_)]
    for r in fast.rows:
        h, f, t = r.trace_tables()
        head_tables.append(h)
        forms.append(np.full(len(r.kept), f is not None, dtype=bool))
        if f is not None:
            figure_tables.append(f)
        if t is not None:
            text_tables.append(t)
    lines_order = np.asarray(line_order, dtype=np.int64)
    traces_order = np.asarray(trace_order, dtype=np.int64)
    every_form = np.concatenate(forms)
    is_figures = every_form[traces_order]  # each trace's form, in canonical order
    at = np.cumsum(every_form) - 1  # a figures trace's row among the figures
    at_text = np.cumsum(~every_form) - 1
    digest_ = _digest(
        taken(joined(line_tables, len(LINES)), lines_order),
        taken(joined(head_tables, len(TRACES)), traces_order),
        taken(joined(figure_tables, len(TRACE_FIGURES)), at[traces_order[is_figures]]),
        taken(joined(text_tables, len(TRACE_TEXTS)), at_text[traces_order[~is_figures]]),
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
        result_hash=digest_,
    )
