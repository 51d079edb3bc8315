"""The fast path for plain tier tables: reward and settle column-wise, traces on demand.

Contract: :func:`fast_path` returns the same lines as :func:`~engine.phases.reward.reward_phase`
+ :func:`~engine.phases.settle.settle` for every (person, plan) it takes, and lazy traces that
render with the general rule when first read (see docs/engine.md, "Fast path").
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from engine import measures as ms
from engine.fastpath import SegmentFigures, TierBlock, plain_plan, tier_block
from engine.money import (
    ZERO,
    exponent,
    mul,
    quantize,
    ratios_e4,
)
from engine.periods import from_day_number
from engine.phases import digest
from engine.phases.common import IntArray
from engine.phases.digest import Codes, Table, decimal_parts
from engine.phases.linear import linear_plan, linear_rows
from engine.phases.measure import MeasureState
from engine.phases.reward import component_key, segment_facts
from engine.phases.segments import Segment, SegmentColumns, columns_of, quota_tables
from engine.phases.settle import earned_trace, prior_table
from engine.rules import (
    CreditRow,
    Shared,
    evaluate,
)
from engine.spec import Component, Plan
from engine.types import (
    Inputs,
    PayoutLine,
    Step,
    Trace,
    TraceBody,
)


def _no_credit_rows(measure_id: str | None) -> Sequence[CreditRow]:
    raise AssertionError("a plain tier table reads no credit rows")  # pragma: no cover


@dataclass
class _RenderContext:
    """What rendering a fast-path trace needs: the general rule is run for that one row."""

    inputs: Inputs
    measure_values: Sequence[dict[str, Decimal | None]]
    counts: Sequence[dict[str, int]]
    kpis: ms.KpiTable
    shared: Shared
    prior: dict[tuple[str, str, str], Decimal]
    person_quotas: dict[str, dict[str, Decimal]] | None = None
    formula_steps: Mapping[int, Mapping[str, tuple[Step, ...]]] | None = None
    formula_sentences: Mapping[int, Mapping[str, str]] | None = None

    def render(self, seg: Segment, c: Component) -> TraceBody:
        plan = self.inputs.plans[seg.plan_id]
        if self.person_quotas is None:
            self.person_quotas = quota_tables(self.inputs.quotas)[0]
        facts = segment_facts(
            self.inputs,
            seg,
            self.measure_values,
            self.counts,
            self.person_quotas,
            self.kpis,
            _no_credit_rows,
            self.formula_steps,
            self.formula_sentences,
        )
        o = evaluate(c, facts, self.shared)
        cur, mode = plan.rounding.currency, plan.rounding.mode
        earned = quantize(o.earned, cur, mode)
        paid = ZERO
        if seg.index == 0:
            paid = quantize(self.prior.get((seg.person_key, seg.plan_id, c.id), ZERO), cur, mode)
        t = earned_trace(seg, c, o, earned, paid, cur, mode, self.inputs.period)
        return t.steps, t.inputs, t.text


@dataclass
class FastBlock:
    """One plain tier component of one plan over many segments, computed column-wise."""

    plan: Plan
    component: Component
    segments: list[Segment]
    fig: SegmentFigures
    counts: IntArray
    minor: list[int]
    paid_minor: list[int]
    ctx: _RenderContext
    quota_raw: list[int | None]
    columns: SegmentColumns
    seg_texts: list[str] | None = None

    def figures(self, rows: Sequence[int]) -> list[str]:
        """Return the canonical figures of the traces of ``rows`` (as :func:`plain_figures`),
        one string per row (what a stored trace keeps; the hash reads :meth:`figure_table`).

        Built column by column: the segment's part once per segment (its shared Decimals'
        texts once per distinct object), then every row's integers.
        """
        key = component_key(self.plan, self.component)
        columns = [
            self.segment_texts(),
            self.fig.value_e4.tolist(),
            self.counts.tolist(),
            ["" if q is None else q for q in self.quota_raw],
            self.minor,
            self.paid_minor,
        ]
        if len(rows) != len(self.segments) or rows != range(len(rows)):
            columns = [[col[i] for i in rows] for col in columns]
        return [
            f"{key}|{part}|{value}|{count}|{raw}|{minor}|{paid}"
            for part, value, count, raw, minor, paid in zip(*columns, strict=True)
        ]

    def segment_texts(self) -> list[str]:
        """Return each segment's part of :func:`plain_figures` (person .. target incentive)."""
        if self.seg_texts is None:
            c = self.columns
            alloc, num, den, quota = (
                c.texts(f) for f in ("allocation", "factor_num", "factor_den", "quota_factor")
            )
            self.seg_texts = [
                f"{p}|{node}|{role}|{a}|{i}|{sd}|{ed}|{fn}|{fd}|{qf}|{ti}"
                for p, node, role, a, i, sd, ed, fn, fd, qf, ti in zip(
                    c["person_key"],
                    c["node_id"],
                    c["role"],
                    alloc,
                    c["index"],
                    c["start_day"],
                    c["end_day"],
                    num,
                    den,
                    quota,
                    c["ti_e4"],
                    strict=True,
                )
            ]
        return self.seg_texts

    def figure_table(self, rows: Sequence[int]) -> Table:
        """Return the figures of the traces of ``rows`` (distinct, in order) as
        ``digest.TRACE_FIGURES`` columns (the fields :meth:`figures` writes as one text)."""
        c = self.columns
        n = len(rows)
        at = None if n == len(self.segments) else np.asarray(rows, dtype=np.int64)

        def pick(col: Any) -> Any:
            if at is None:
                return col
            if isinstance(col, np.ndarray):
                return col[at]
            return [col[i] for i in rows]

        def codes(field: str) -> Codes:  # each distinct object's text once (by identity)
            values = c[field]
            ids = np.fromiter(map(id, values), dtype=np.int64, count=len(values))
            codes, first = pd.factorize(ids)
            firsts = _first_positions(codes, len(first))
            return Codes([str(values[i]) for i in firsts], pick(codes))

        quota = self.quota_raw
        return [
            Codes.same(component_key(self.plan, self.component), n),
            pick(c.holders()),
            codes("allocation"),
            pick(c.ints("index")),
            pick(c.ints("start_day")),
            pick(c.ints("end_day")),
            codes("factor_num"),
            codes("factor_den"),
            codes("quota_factor"),
            pick(c.ints("ti_e4")),
            pick(self.fig.value_e4),
            pick(self.counts),
            ["" if quota[i] is None else str(quota[i]) for i in rows],
            pick(self.minor),
            pick(self.paid_minor),
        ]


def _first_positions(codes: IntArray, n: int) -> list[int]:
    """Return the first position of each of ``n`` codes (each occurs)."""
    first = np.full(n, len(codes), dtype=np.int64)
    np.minimum.at(first, codes, np.arange(len(codes), dtype=np.int64))
    return first.tolist()


@dataclass
class LinearBlock:
    """One component of a plan of modified tier tables (:mod:`engine.phases.linear`) over
    many segments: its traces' hashed texts written, their objects rendered when read."""

    plan: Plan
    component: Component
    segments: list[Segment]
    ctx: _RenderContext
    texts: list[str | None]
    """Per segment, the trace's text after its head (``steps|inputs|sentence``)."""
    columns: SegmentColumns

    def text_table(self, rows: Sequence[int]) -> Table:
        """Return the hashed texts of the traces of ``rows`` as ``digest.TRACE_TEXTS``."""
        texts = self.texts
        return [[texts[i] for i in rows]]


class LazyTrace:
    """Renders one fast-path trace on demand (the trace's ``source``)."""

    __slots__ = ("block", "row")

    def __init__(self, block: FastBlock | LinearBlock, row: int) -> None:
        self.block = block
        self.row = row

    def __call__(self) -> TraceBody:
        b = self.block
        return b.ctx.render(b.segments[self.row], b.component)


def figures_of(traces: Sequence[Trace]) -> list[str | None]:
    """Return the canonical figures of each trace (None for a trace hashed by its text).

    A fast-path trace gives the figures it renders from, unrendered (worked out column-wise,
    per block); a general-path trace of a plain tier table gives the same figures.
    """
    out: list[str | None] = []
    lazy: dict[int, tuple[FastBlock, list[int], list[int]]] = {}
    for t in traces:
        src = t.source
        if isinstance(src, LazyTrace) and isinstance(src.block, FastBlock):
            got = lazy.setdefault(id(src.block), (src.block, [], []))
            got[1].append(src.row)
            got[2].append(len(out))
            out.append(None)
        else:
            out.append(t.figures)
    for block, rows, slots in lazy.values():
        for slot, text in zip(slots, block.figures(rows), strict=True):
            out[slot] = text
    return out


def _busy_keys(inputs: Inputs) -> set[tuple[str, str]]:
    """Return the (person, plan) pairs with holds, reversals or instalments, or credits that a
    crediting transform made (their trace says it): settled generally."""
    out: set[tuple[str, str]] = set()
    credits = inputs.credits
    if "multiplier" in credits.columns and len(credits):
        moved = (credits["multiplier"].fillna("1").astype(str) != "1").to_numpy()
        if "baseline_e4" in credits.columns:
            moved |= (credits["baseline_e4"].fillna(0).astype("int64") != 0).to_numpy()
        people = set(credits["person_id"][moved].astype(str).tolist())
        if people:
            out.update(
                (str(p), str(plan))
                for p, plan in zip(
                    inputs.assignments["person_id"].tolist(),
                    inputs.assignments["plan_id"].tolist(),
                    strict=True,
                )
                if str(p) in people
            )
    for frame in (inputs.holds, inputs.reversals, inputs.instalments):
        if len(frame):
            out.update(
                zip(
                    frame["person_id"].astype(str).tolist(),
                    frame["plan_id"].astype(str).tolist(),
                    strict=True,
                )
            )
    return out


def _quota_e4(quotas: pd.DataFrame) -> dict[str, tuple[pd.Index, npt.NDArray[Any]]]:
    """Return person quotas in ten-thousandths by quota id: the holders (an index) and their
    amounts, column-wise; refuse repeated keys."""
    if len(quotas) == 0:
        return {}
    kinds = (
        quotas["holder_kind"].astype(str).to_numpy()
        if "holder_kind" in quotas.columns
        else np.full(len(quotas), "person", dtype=object)
    )
    holders = quotas["holder_id"].astype(str).to_numpy()
    qids = quotas["quota_id"].astype(str).to_numpy()
    if pd.DataFrame({"k": kinds, "h": holders, "q": qids}).duplicated().any():
        quota_tables(quotas)  # raises the InputError naming the repeated quota
    amounts = quotas["amount_e4"].to_numpy()
    if amounts.dtype == object:
        amounts = np.array([int(x) for x in amounts.tolist()], dtype=object)
    person = kinds != "node"
    codes, names = pd.factorize(qids)
    out: dict[str, tuple[pd.Index, npt.NDArray[Any]]] = {}
    for k, qid in enumerate(names.tolist()):
        sel = person & (codes == k)
        if sel.any():
            out[qid] = (pd.Index(holders[sel]), amounts[sel])
    return out


def _quotas_of(
    table: tuple[pd.Index, npt.NDArray[Any]] | None, keys: Sequence[str]
) -> tuple[list[int | None], npt.NDArray[Any]]:
    """Return each person's quota (None without one) and the quotas with 0 for none."""
    if table is None:
        return [None] * len(keys), np.zeros(len(keys), dtype=object)
    holders, amounts = table
    at = holders.get_indexer(pd.Index(np.asarray(keys, dtype=object)))
    present = at >= 0
    got = np.where(present, amounts[np.where(present, at, 0)], 0).astype(object)
    raw: list[int | None] = got.tolist()
    if not present.all():
        for i in np.flatnonzero(~present).tolist():
            raw[i] = None
    return raw, got


def _ints(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Return an object array of Python integers as int64 when all fit with room, else as is."""
    if len(values) == 0 or max(abs(int(values.max())), abs(int(values.min()))) < 2**62:
        return values.astype(np.int64)
    return values


def _attainments(
    values: list[int],
    raw: list[int | None],
    present: list[bool],
    ratios: list[tuple[Decimal | None, Decimal]],
    kept: list[int],
) -> list[Decimal | None]:
    """Return value / pro-rated quota of the ``kept`` rows exactly as the general path's
    Decimals give it (None without a quota); ``ratios`` is each row's quota factor and
    denominator (:func:`engine.money.ratios_e4`'s)."""
    rows = [k for k in kept if present[k]]
    got = ratios_e4(
        [values[k] for k in rows],
        [raw[k] or 0 for k in rows],
        [ratios[k][0] for k in rows],
        [ratios[k][1] for k in rows],
    )
    if len(rows) == len(kept):
        return list(got)
    out: list[Decimal | None] = [None] * len(kept)
    at = {k: j for j, k in enumerate(kept)}
    for k, a in zip(rows, got, strict=True):
        out[at[k]] = a
    return out


@dataclass
class FastRows:
    """The settled lines of one :class:`FastBlock`, column-wise: ``kept`` rows of its segments.

    Per kept row: ``earned_minor`` (the earned amount in minor units; a zero is ``0.00``, as
    ``engine.money.quantize`` writes it, never ``-0.00``),
    ``paid`` (the prior payment quantized, None when none is subtracted - a later segment, or
    none on record: ``first`` says which), ``paid_minor``, ``minor`` (payable minor units),
    ``attainment`` and ``tier``. The lines' Decimals, :meth:`lines` and :meth:`traces` are
    built on demand; :meth:`line_texts` writes the hashed text from the integers.
    """

    block: FastBlock | LinearBlock
    period_id: str
    kept: list[int]
    earned_minor: list[int]
    first: list[bool]
    paid: list[Decimal | None]
    paid_minor: list[int]
    minor: list[int]
    attainment: list[Decimal | None]
    tier: list[int | None]

    def _digits(self) -> tuple[int, str]:
        cur = self.block.plan.rounding.currency
        return exponent(cur), cur

    def settled(self, j: int) -> tuple[Decimal, Decimal, Decimal]:
        """Return kept row ``j``'s earned, paid before and payable Decimals (the line's)."""
        digits, cur = self._digits()
        earned = Decimal(self.earned_minor[j]).scaleb(-digits)  # a zero is 0.00, never -0.00
        paid = self.paid[j]
        if paid is None:
            paid = quantize(ZERO, cur, self.block.plan.rounding.mode) if self.first[j] else ZERO
        return earned, paid, earned - paid

    def lines(self) -> list[PayoutLine]:
        """Return the block's payout lines, in ``kept`` order."""
        b = self.block
        segs, pid, cid, period = b.segments, b.plan.id, b.component.id, self.period_id
        cur = b.plan.rounding.currency
        dates: dict[int, dt.date] = {}
        out = []
        for j, k in enumerate(self.kept):
            s = segs[k]
            start = dates.get(s.start_day)
            if start is None:
                start = dates[s.start_day] = s.start
            end = dates.get(s.end_day)
            if end is None:
                end = dates[s.end_day] = s.end
            earned, paid, amount = self.settled(j)
            out.append(
                PayoutLine(  # positional: the field order of PayoutLine
                    s.person_key,
                    pid,
                    cid,
                    period,
                    s.index,
                    start,
                    end,
                    "earned",
                    earned,
                    paid,
                    amount,
                    self.minor[j],
                    cur,
                    self.attainment[j],
                    self.tier[j],
                )
            )
        return out

    def traces(self) -> list[Trace]:
        """Return the block's lazy traces, in ``kept`` order."""
        b = self.block
        segs, pid, c, period = b.segments, b.plan.id, b.component, self.period_id
        return [
            Trace(
                segs[k].person_key,
                pid,
                c.id,
                period,
                segs[k].index,
                c.type,
                render=LazyTrace(b, k),
            )
            for k in self.kept
        ]

    def line_table(self) -> Table:
        """Return the lines as ``digest.LINES`` columns, in ``kept`` order (without building a
        :class:`PayoutLine` or its Decimals).

        The money from the integers: earned and payable are their minor units at the
        currency's exponent, paid before too, or a zero of exponent 0 on a later segment (the
        general path's ``ZERO``); a huge figure (beyond 10**20) takes the Decimals themselves.
        """
        b = self.block
        n = len(self.kept)
        digits, cur = self._digits()
        person = self._columns("person_key")[0]
        index, start, end = self._ints("index", "start_day", "end_day")
        days, day_codes = np.unique(np.concatenate([start, end]), return_inverse=True)
        dates = [str(from_day_number(d)) for d in days.tolist()]
        earned, paid_minor, payable = self.earned_minor, self.paid_minor, self.minor
        exp = -digits
        e_exp: Any = np.full(n, exp, dtype=np.int64)
        paid_exp: Any = np.where(
            np.asarray([p is not None for p in self.paid], dtype=bool)
            | np.asarray(self.first, dtype=bool),
            exp,
            0,
        ).astype(np.int64)
        e_coef: Any = earned
        p_coef: Any = paid_minor
        a_coef: Any = payable
        a_exp = e_exp
        big = 10**20  # Decimal(m).scaleb() rounds at 28 digits: the Decimals beyond this
        huge = bool(earned) and not (-big < min(earned) and max(earned) < big)
        huge = huge or (bool(paid_minor) and max(paid_minor) >= big)
        if huge:
            e_coef, p_coef, a_coef = list(earned), list(paid_minor), list(payable)
            e_exp, paid_exp, a_exp = e_exp.copy(), paid_exp.copy(), e_exp.copy()
            for j in range(n):
                if not (-big < earned[j] < big and paid_minor[j] < big):
                    parts = decimal_parts(self.settled(j))
                    e_coef[j], p_coef[j], a_coef[j] = parts[0]
                    e_exp[j], paid_exp[j], a_exp[j] = parts[1]
        tiers = self.tier
        return [
            person,
            Codes.same(b.plan.id, n),
            Codes.same(b.component.id, n),
            Codes.same(self.period_id, n),
            index,
            Codes(dates, day_codes[:n]),
            Codes(dates, day_codes[n:]),
            Codes.same("earned", n),
            e_coef,
            e_exp,
            p_coef,
            paid_exp,
            a_coef,
            a_exp,
            payable,
            Codes.same(cur, n),
            ["" if att is None else f"{att.normalize():f}" for att in self.attainment],
            ["" if tier is None else str(tier) for tier in tiers],
        ]

    def trace_tables(self) -> tuple[Table, Table | None, Table | None]:
        """Return the traces as ``digest.TRACES`` columns and, by their form, their
        ``digest.TRACE_FIGURES`` or ``digest.TRACE_TEXTS`` columns (the other None)."""
        b = self.block
        n = len(self.kept)
        figures = isinstance(b, FastBlock)
        head: Table = [
            self._columns("person_key")[0],
            Codes.same(b.plan.id, n),
            Codes.same(b.component.id, n),
            self._ints("index")[0],
            Codes.same(b.component.type, n),
            Codes.same(digest.FIGURES if figures else digest.WORDS, n),
        ]
        if isinstance(b, FastBlock):
            return head, b.figure_table(self.kept), None
        return head, None, b.text_table(self.kept)

    def keys(self) -> tuple[list[str], list[int]]:
        """Return the kept rows' person keys and segment indexes (their sort keys)."""
        person, index = self._columns("person_key", "index")
        return list(person), list(index)

    def segment_ids(self) -> list[int]:
        """Return the kept rows' segment ids (positions in the run's segments)."""
        return list(self._columns("id")[0])

    def _columns(self, *fields: str) -> list[Sequence[Any]]:
        """Return the kept rows' values of segment ``fields``, column by column."""
        columns = self.block.columns
        kept = self.kept
        if len(kept) == len(columns.segments):  # every row (kept is in order, distinct)
            return [columns[f] for f in fields]
        return [[col[k] for k in kept] for col in (columns[f] for f in fields)]

    def _ints(self, *fields: str) -> list[IntArray]:
        """Return the kept rows' values of integer segment ``fields`` as int64 arrays."""
        columns = self.block.columns
        if len(self.kept) == len(columns.segments):
            return [columns.ints(f) for f in fields]
        at = np.asarray(self.kept, dtype=np.int64)
        return [columns.ints(f)[at] for f in fields]


@dataclass
class FastOut:
    """What the fast path settled: its blocks' rows, and the segment ids it took."""

    rows: list[FastRows]
    done: set[int]

    def lines(self) -> list[PayoutLine]:
        """Return every line (block by block)."""
        return [ln for r in self.rows for ln in r.lines()]

    def traces(self) -> list[Trace]:
        """Return every lazy trace (block by block, in the order of :meth:`lines`)."""
        return [t for r in self.rows for t in r.traces()]

    def __len__(self) -> int:
        return sum(len(r.kept) for r in self.rows)

    def order(self, order: Callable[[str, str], int]) -> IntArray:
        """Return the canonical order of every row (positions in the order of :meth:`lines`).

        ``build_segments`` sorts the segments by (person, plan, index) - Python's string
        order, as the result is sorted - and a row's segment id is its position there; a
        plan's components are told apart by ``order(component, plan)``, its index among them.
        """
        if not self.rows:
            return np.zeros(0, dtype=np.int64)
        ids = np.concatenate([np.asarray(r.segment_ids(), dtype=np.int64) for r in self.rows])
        rank = np.concatenate(
            [
                np.full(len(r.kept), order(r.block.component.id, r.block.plan.id), np.int64)
                for r in self.rows
            ]
        )
        got: IntArray = np.lexsort((rank, ids))
        return got

    def keys(
        self, order: Callable[[str, str], int]
    ) -> tuple[list[str], list[str], list[int], list[int], list[str]]:
        """Return every row's sort keys as columns: person, plan, segment, component order
        (``order(component, plan)``), component - in the order of :meth:`lines`."""
        person: list[str] = []
        plan: list[str] = []
        segment: list[int] = []
        rank: list[int] = []
        component: list[str] = []
        for r in self.rows:
            pid, cid = r.block.plan.id, r.block.component.id
            keys, index = r.keys()
            n = len(keys)
            person += keys
            segment += index
            plan += [pid] * n
            rank += [order(cid, pid)] * n
            component += [cid] * n
        return person, plan, segment, rank, component


def fast_path(
    inputs: Inputs, state: MeasureState, shared: Shared, kpis: ms.KpiTable
) -> tuple[list[PayoutLine], list[Trace], set[int]]:
    """Return the lines and (lazy) traces of every plain-tier (person, plan), and their segments.

    The objects of :func:`fast_rows` (which keeps them column-wise until read).
    """
    out = fast_rows(inputs, state, shared, kpis)
    return out.lines(), out.traces(), out.done


def fast_rows(inputs: Inputs, state: MeasureState, shared: Shared, kpis: ms.KpiTable) -> FastOut:
    """Return the settled lines of every plain-tier (person, plan), column-wise, and its segments.

    A (person, plan) goes this way when its plan is made of plain tier tables only
    (:func:`engine.fastpath.plain_plan`), it has no holds or reversals, and every figure of
    every segment is exact in integers (:func:`engine.fastpath.tier_block`); the rest goes
    the general way. Lines are identical to the general path's; a trace keeps the figures it
    is made of and renders its steps and sentence with the general rule when first read.
    """
    plans = [pid for pid in sorted(inputs.plans) if plain_plan(inputs.plans[pid])]
    linear = [
        pid for pid in sorted(inputs.plans) if pid not in plans and linear_plan(inputs.plans[pid])
    ]
    if not (plans or linear) or not state.segments:
        return FastOut([], set())
    busy = _busy_keys(inputs)
    quota_e4 = _quota_e4(inputs.quotas) if plans else {}
    prior = prior_table(inputs.prior_payouts)
    prior_by: dict[tuple[str, str], dict[str, Decimal]] = {}
    for (person, plan_id, component_id), amount in prior.items():
        prior_by.setdefault((plan_id, component_id), {})[person] = amount
    ctx = _RenderContext(
        inputs,
        state.measure_values,
        state.counts,
        kpis,
        shared,
        prior,
        formula_steps=state.formula_steps,
        formula_sentences=state.formula_sentences,
    )
    period = inputs.period
    fractions: dict[tuple[int, int, int], int] = {}
    ratio_of: list[tuple[Decimal | None, Decimal]] = []
    uniques: list[tuple[int, int, int]] = []
    out: list[FastRows] = []
    done: set[int] = set()
    every = columns_of(state.segments)
    by_plan = _by_plan(state.segments, every)
    for pid in plans:
        plan = inputs.plans[pid]
        cur, mode = plan.rounding.currency, plan.rounding.mode
        digits = exponent(cur)
        segs, positions = by_plan.get(pid, ([], np.zeros(0, dtype=np.int64)))
        if busy:
            free = np.array([(s.person_key, pid) not in busy for s in segs], dtype=bool)
            segs = [s for s, f in zip(segs, free.tolist(), strict=True) if f]
            positions = positions[free]
        if not segs:
            continue
        columns = every.take(positions, segs)
        index = columns["index"]
        ids = np.array(columns["id"], dtype=np.int64)
        # build_segments shares these Decimals between segments: key on identity, and work
        # each distinct triple's fractions out once.
        triple = np.zeros(len(segs), dtype=np.int64)
        for column in ("factor_num", "factor_den", "quota_factor"):
            got, seen = pd.factorize(np.fromiter(map(id, columns[column]), np.int64))
            triple = pd.factorize(triple * len(seen) + got)[0]  # codes stay below len(segs)
        inverse, first_at = pd.factorize(triple)
        first = np.full(len(first_at), len(segs), dtype=np.int64)
        np.minimum.at(first, inverse, np.arange(len(segs), dtype=np.int64))
        distinct = [
            (id(segs[at].factor_num), id(segs[at].factor_den), id(segs[at].quota_factor))
            for at in first.tolist()
        ]
        distinct_codes = []
        for key_ids, at in zip(distinct, first.tolist(), strict=True):
            code = fractions.get(key_ids)
            if code is None:
                s = segs[at]
                fq = Fraction(mul(s.factor_num, s.quota_factor)) / Fraction(s.factor_den)
                ff = Fraction(s.factor_num) / Fraction(s.factor_den)
                d = math.lcm(fq.denominator, ff.denominator)
                code = fractions[key_ids] = len(uniques)
                num = mul(s.factor_num, s.quota_factor)
                unit = num == s.factor_den and num.as_tuple().exponent == 0
                unit = unit and s.factor_den.as_tuple().exponent == 0
                # the attainment's quota factor (None: the pro-rated quota is the quota itself)
                ratio_of.append((None if unit else num, s.factor_den))
                # the row's denominator, quota scale and pro-ration factor x denominator
                uniques.append(
                    (d, fq.numerator * (d // fq.denominator), ff.numerator * (d // ff.denominator))
                )
            distinct_codes.append(code)
        codes = np.array(distinct_codes, dtype=np.int64)[inverse]
        ratios = [ratio_of[c] for c in codes.tolist()]
        per = np.array(uniques, dtype=object)[codes]
        # One denominator per row (a quota x 17 / 31): every pro-rated figure is an integer
        # once multiplied by it.
        den, quota_scale, factor_d = per[:, 0], per[:, 1], per[:, 2]
        ti_d = _ints(np.array(columns["ti_e4"], dtype=object) * factor_d)
        exact = np.asarray(den == 1, dtype=bool)
        den, factor_d = _ints(den), _ints(factor_d)
        keys = columns["person_key"]
        blocks: list[tuple[Component, SegmentFigures, TierBlock, list[int | None]]] = []
        eligible = np.ones(len(segs), dtype=bool)
        for c in plan.components:
            assert c.measure is not None
            qid = c.quota or c.measure
            raw, amounts = _quotas_of(quota_e4.get(qid), keys)
            present = np.array([x is not None for x in raw], dtype=bool)
            quota_d = _ints(amounts * quota_scale)
            fig = SegmentFigures(
                value_e4=state.sum_arrays[(pid, c.measure)][ids],
                den=den,
                exact=exact,
                quota_d=quota_d,
                quota_present=present,
                ti_d=ti_d,
                factor_d=factor_d,
            )
            tb = tier_block(c, fig, digits, mode)
            eligible &= tb.eligible
            blocks.append((c, fig, tb, raw))
        if not eligible.all():
            bad = {keys[i] for i in np.flatnonzero(~eligible).tolist()}
            eligible &= np.array([k not in bad for k in keys], dtype=bool)
        kept = np.flatnonzero(eligible).tolist()
        if not kept:
            continue
        done.update(int(i) for i in ids[eligible].tolist())
        for c, fig, tb, raw in blocks:
            assert c.measure is not None
            minor = tb.minor.tolist()
            values = fig.value_e4.tolist()
            present_l = fig.quota_present.tolist()
            tiers = tb.tier.tolist()
            paid_minor = [0] * len(segs)
            block = FastBlock(
                plan,
                c,
                segs,
                fig,
                state.count_arrays[(pid, c.measure)][ids],
                minor,
                paid_minor,
                ctx,
                raw,
                columns,
            )
            first_l = [index[k] == 0 for k in kept]
            paid_l: list[Decimal | None] = [None] * len(kept)
            priors = prior_by.get((pid, c.id))
            if priors:
                for j, before in enumerate(map(priors.get, [keys[k] for k in kept])):
                    if before is not None and first_l[j]:
                        paid = paid_l[j] = quantize(before, cur, mode)
                        paid_minor[kept[j]] = int(paid.scaleb(digits))
            earned_l = [minor[k] for k in kept]
            paid_kept = [paid_minor[k] for k in kept]
            att_l = _attainments(values, raw, present_l, ratios, kept)
            out.append(
                FastRows(
                    block,
                    period.id,
                    kept,
                    earned_l,
                    first_l,
                    paid_l,
                    paid_kept,
                    [m - p for m, p in zip(earned_l, paid_kept, strict=True)],
                    att_l,
                    [tiers[k] for k in kept],
                )
            )
    if linear:
        _linear_out(inputs, state, ctx, linear, by_plan, busy, prior_by, out, done)
    return FastOut(out, done)


def _by_plan(
    segments: Sequence[Segment], columns: SegmentColumns
) -> dict[str, tuple[list[Segment], IntArray]]:
    """Return each plan's segments and their positions among ``segments`` (in order)."""
    if not segments:
        return {}
    codes, names = pd.factorize(columns.objects("plan_id"))
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(names) + 1)).tolist()
    out = {}
    for k, pid in enumerate(names.tolist()):
        at = order[bounds[k] : bounds[k + 1]]
        out[pid] = ([segments[i] for i in at.tolist()], at)
    return out


def _linear_out(
    inputs: Inputs,
    state: MeasureState,
    ctx: _RenderContext,
    plan_ids: list[str],
    by_plan: Mapping[str, tuple[list[Segment], IntArray]],
    busy: set[tuple[str, str]],
    prior_by: Mapping[tuple[str, str], Mapping[str, Decimal]],
    out: list[FastRows],
    done: set[int],
) -> None:
    """Add the settled rows of the plans of modified tier tables (``plan_ids``) to ``out``."""
    picked = {
        pid: [s for s in by_plan.get(pid, ([], None))[0] if (s.person_key, pid) not in busy]
        for pid in plan_ids
    }
    n = sum(map(len, picked.values()))
    if not n:
        return
    quotas = inputs.quotas
    if n * 4 < len(state.segments) and len(quotas):  # their people's quotas only
        people = {s.person_key for segs in picked.values() for s in segs}
        quotas = quotas[quotas["holder_id"].astype(str).isin(people).to_numpy()]
    person_quotas = quota_tables(quotas)[0]
    period_id = inputs.period.id
    for pid in plan_ids:
        segs = picked[pid]
        if not segs:
            continue
        plan = inputs.plans[pid]
        digits = exponent(plan.rounding.currency)
        done_rows = [
            linear_rows(
                plan,
                c,
                segs,
                state.measure_values,
                state.counts,
                person_quotas,
                state.formula_steps,
                state.formula_sentences,
                prior_by.get((pid, c.id), {}),
            )
            for c in plan.components
        ]
        bad = {
            segs[k].person_key
            for rows in done_rows
            for k, text in enumerate(rows.texts)
            if text is None
        }
        kept = [k for k, s in enumerate(segs) if s.person_key not in bad]
        if not kept:
            continue
        done.update(segs[k].id for k in kept)
        columns = SegmentColumns(segs)
        for c, rows in zip(plan.components, done_rows, strict=True):
            earned = [rows.earned[k] for k in kept]
            paid = [rows.paid[k] for k in kept]
            earned_minor = [int(e.scaleb(digits)) for e in earned if e is not None]
            paid_minor = [0 if p is None else int(p.scaleb(digits)) for p in paid]
            out.append(
                FastRows(
                    LinearBlock(plan, c, segs, ctx, rows.texts, columns),
                    period_id,
                    kept,
                    earned_minor,
                    [segs[k].index == 0 for k in kept],
                    paid,
                    paid_minor,
                    [m - p for m, p in zip(earned_minor, paid_minor, strict=True)],
                    [rows.attainment[k] for k in kept],
                    [rows.tier[k] for k in kept],
                )
            )
