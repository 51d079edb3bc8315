"""Phase 2, measure (map, chunkable by person): credits -> measures per segment.

Contract: :func:`measure_phase` matches credits to segments, sums and counts them exactly
(int64 group sums), finishes averages / ratios / KPIs / formulas as Decimals and returns a
:class:`MeasureState`, with the per-credit contributions frame.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, overload

import numpy as np
import numpy.typing as npt
import pandas as pd

from engine import measures as ms
from engine import windows
from engine.money import (
    ONE,
)
from engine.periods import (
    day_number,
)
from engine.phases.common import InputError, IntArray, require
from engine.phases.segments import (
    Segment,
    columns_of,
    prorated_quota,
    quota_tables,
    seasons,
)
from engine.spec import Filter, Plan
from engine.types import (
    CREDIT_COLUMNS,
    TEXT_COLUMNS,
    Inputs,
    Period,
    Step,
)


class MeasureRows(Sequence[dict[str, Any]]):
    """Per-segment dicts (measure id -> value, or -> count), some built on first read.

    A plan of sums and counts only keeps its figures as columns (:meth:`columns`): a segment's
    dict is made when something reads it (the general rules, a rendered trace, a table) and
    :func:`~engine.phases.result.measure_table` writes the hashed text from the integers.
    Otherwise a list: ``rows[i]`` and ``rows[i] = {...}`` by position.
    """

    __slots__ = ("_blocks", "_rows", "_sids")

    def __init__(self, n: int) -> None:
        self._rows: list[dict[str, Any] | None] = [{} for _ in range(n)]
        # Two flat columns, not a (block, row) tuple per segment: at 100k payees those
        # tuples were 220k objects for the cyclic collector to walk once it is back on.
        self._blocks: list[PlainColumns | None] = [None] * n
        self._sids: list[int] = [0] * n

    def columns(self, positions: list[int], block: PlainColumns) -> None:
        """Leave the dicts at ``positions`` to be built from ``block`` (its ``sids``' rows)."""
        rows, blocks, sids = self._rows, self._blocks, self._sids
        for pos, sid in zip(positions, block.sids, strict=True):
            rows[pos] = None
            blocks[pos] = block
            sids[pos] = sid

    def plain(self, pos: int) -> tuple[PlainColumns, int] | None:
        """Return the columns and row of a dict not built yet (None once built or set)."""
        block = self._blocks[pos]
        return (block, self._sids[pos]) if block is not None and self._rows[pos] is None else None

    def lazy_groups(
        self,
    ) -> tuple[dict[int, tuple[PlainColumns, list[int], list[int]]], list[int]]:
        """Return the dicts not built yet by block (the block, their positions, their rows in
        it - both in position order) and the positions of every other dict."""
        groups: dict[int, tuple[PlainColumns, list[int], list[int]]] = {}
        general: list[int] = []
        for pos, (row, block, sid) in enumerate(
            zip(self._rows, self._blocks, self._sids, strict=True)
        ):
            if row is not None or block is None:
                general.append(pos)
                continue
            got = groups.get(id(block))
            if got is None:
                got = groups[id(block)] = (block, [], [])
            got[1].append(pos)
            got[2].append(sid)
        return groups, general

    @overload
    def __getitem__(self, i: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, i: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, i: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(i, slice):
            return [self[k] for k in range(len(self._rows))[i]]
        got = self._rows[i]
        if got is None:
            block = self._blocks[i]
            assert block is not None
            got = self._rows[i] = block.row(self._sids[i])
        return got

    def __setitem__(self, i: int, value: dict[str, Any]) -> None:
        self._rows[i] = value

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for i in range(len(self._rows)):
            yield self[i]

    def __eq__(self, other: object) -> bool:
        """Equal to a sequence of the same dicts (a list, or another :class:`MeasureRows`)."""
        if not isinstance(other, Sequence) or isinstance(other, str):
            return NotImplemented
        return list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        """The list's repr: every dict, built."""
        return repr(list(self))


@dataclass(frozen=True)
class PlainColumns:
    """The sums and counts of a plan of sums and counts only, for its segments ``sids``.

    ``figures`` is per measure (the plan's order) its integer column by segment id and whether
    it is a sum (ten-thousandths, ``from_e4``) or a count (the integer as a Decimal); ``counts``
    the raw counts of the measures that have them. ``row`` makes one segment's dict.
    """

    sids: list[int]
    figures: tuple[tuple[str, list[int], bool], ...]
    counts: tuple[tuple[str, list[int]], ...]
    of_counts: bool = False
    """This block's rows are the counts' dicts (else the values')."""

    def row(self, sid: int) -> dict[str, Any]:
        if self.of_counts:
            return {mid: col[sid] for mid, col in self.counts}
        return {
            mid: Decimal(col[sid]).scaleb(-4) if is_sum else Decimal(col[sid])
            for mid, col, is_sum in self.figures
        }


@dataclass
class MeasureState:
    """What the measure phase hands to the reduce and reward phases."""

    segments: list[Segment]
    credits: pd.DataFrame
    credit_days: IntArray
    pairs: dict[str, tuple[IntArray, IntArray]]
    measure_values: Sequence[dict[str, Decimal | None]]
    """By segment position: a :class:`MeasureRows` from :func:`measure_phase`, or a list."""
    counts: Sequence[dict[str, int]]
    contributions: pd.DataFrame
    masks: dict[Filter, npt.NDArray[np.bool_]] = field(default_factory=dict)
    sum_arrays: dict[tuple[str, str], IntArray] = field(default_factory=dict)
    """(plan, measure) -> int64 sum per segment id (ten-thousandths)."""
    count_arrays: dict[tuple[str, str], IntArray] = field(default_factory=dict)
    """(plan, measure) -> number of credits counted per segment id."""
    pace: Decimal | None = None
    """The forecast pace the sums were scaled by (None for an actual calculation)."""
    formula_steps: dict[int, dict[str, tuple[Step, ...]]] = field(default_factory=dict)
    """segment id -> formula measure -> its sub-results (segments of plans with formulas)."""
    formula_sentences: dict[int, dict[str, str]] = field(default_factory=dict)
    """segment id -> formula measure -> its sentence."""


def _credits_frame(credits: pd.DataFrame, period: Period) -> tuple[pd.DataFrame, IntArray]:
    require(credits, CREDIT_COLUMNS, "credits")
    days = ms.to_days(credits["date"]) if len(credits) else np.zeros(0, dtype=np.int64)
    inside = (days >= day_number(period.start)) & (days < day_number(period.end))
    if not inside.all():
        credits = credits[inside]
        days = days[inside]
    return ms.as_categories(credits, TEXT_COLUMNS), days


def _assign(
    segments: Sequence[Segment],
    seg_ids: IntArray,
    ccode: IntArray,
    cday: IntArray,
    pcode: IntArray,
) -> tuple[IntArray, IntArray]:
    """Return (credit row, segment id) pairs for segments that never overlap per person."""
    columns = columns_of(segments)
    starts = columns.ints("start_day")[seg_ids]
    ends = columns.ints("end_day")[seg_ids]
    pc = pcode[seg_ids]
    if len(seg_ids) and len(cday):
        # A (person x day) table of segment ids: one gather per credit, no binary search.
        d0 = int(starts.min())
        width = int(ends.max()) - d0
        npersons = int(pc.max()) + 1
        if width > 0 and npersons * width <= max(4 * len(cday), 1 << 20):
            table = np.full(npersons * width, -1, dtype=np.int64)
            lengths = ends - starts
            cells = np.repeat(pc * width + (starts - d0), lengths) + (
                np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
            )
            table[cells] = np.repeat(seg_ids, lengths)
            rel = cday - d0
            ok = (ccode >= 0) & (ccode < npersons) & (rel >= 0) & (rel < width)
            found = np.full(len(cday), -1, dtype=np.int64)
            found[ok] = table[ccode[ok] * width + rel[ok]]
            rows = np.flatnonzero(found >= 0).astype(np.int64)
            return rows, found[rows]
    shift = np.int64(1 << 22)
    order = np.lexsort((starts, pc))
    seg_sorted = seg_ids[order]
    keys = pc[order] * shift + starts[order]
    ckey = ccode * shift + cday
    pos = np.searchsorted(keys, ckey, side="right") - 1
    ok = (ccode >= 0) & (pos >= 0)
    pos_c = np.where(ok, pos, 0)
    ok &= (pc[order][pos_c] == ccode) & (cday < ends[order][pos_c])
    rows = np.flatnonzero(ok).astype(np.int64)
    return rows, seg_sorted[pos_c[rows]]


def credit_pairs(
    inputs: Inputs, segments: Sequence[Segment]
) -> tuple[pd.DataFrame, IntArray, dict[str, tuple[IntArray, IntArray]]]:
    """Return the period's credits, their day numbers and each plan's (credit row, segment id).

    A credit counts in the segment of its person on its plan that holds its date.
    """
    credits, cday = _credits_frame(inputs.credits, inputs.period)
    columns = columns_of(segments)
    pcode, persons = columns.codes("person")  # int64 when every id is an int: faster look-ups
    ccode = (
        persons.get_indexer(pd.Index(credits["person_id"])).astype(np.int64)
        if len(credits)
        else np.zeros(0, dtype=np.int64)
    )
    nseg = len(segments)
    seg_plan, plan_uniques = columns.codes("plan_id")  # in order of appearance
    plan_names: list[str] = plan_uniques.tolist()
    # One pass when no person's segments overlap across plans, else one per plan.
    all_ids = np.arange(nseg, dtype=np.int64)
    starts, ends = columns.ints("start_day"), columns.ints("end_day")
    by_person = np.lexsort((starts, pcode))  # (person, start), column-wise
    same = pcode[by_person][1:] == pcode[by_person][:-1]
    overlap = bool((same & (starts[by_person][1:] < ends[by_person][:-1])).any())
    pairs: dict[str, tuple[IntArray, IntArray]] = {}
    if not overlap and nseg:
        rows, segs = _assign(segments, all_ids, ccode, cday, pcode)
        if len(plan_names) == 1:
            pairs[plan_names[0]] = (rows, segs)
        else:
            plan_of = seg_plan[segs]
            order = _stable_order(plan_of)
            bounds = np.searchsorted(plan_of[order], np.arange(len(plan_names) + 1))
            for k, plan_id in enumerate(plan_names):
                pick = order[bounds[k] : bounds[k + 1]]  # stable: rows stay ascending
                pairs[plan_id] = (rows[pick], segs[pick])
    else:
        for k, plan_id in enumerate(plan_names):
            ids = np.flatnonzero(seg_plan == k).astype(np.int64)
            pairs[plan_id] = _assign(segments, ids, ccode, cday, pcode)
    return credits, cday, pairs


def measure_phase(
    inputs: Inputs,
    segments: list[Segment],
    pace: Decimal | None = None,
    kpi_table: ms.KpiTable | None = None,
) -> MeasureState:
    """Return every segment's measures, and the per-credit contributions, from the credits."""
    try:
        windows.check_history(inputs)
    except windows.HistoryError as exc:  # a window needs periods the inputs lack: say which
        raise InputError(str(exc)) from exc
    credits, cday, pairs = credit_pairs(inputs, segments)
    kpis = kpi_table or ms.KpiTable(inputs.kpi_values)
    amounts = (
        credits["amount_e4"].to_numpy(dtype=np.int64)
        if len(credits)
        else np.zeros(0, dtype=np.int64)
    )
    weights = ms.credit_weights(credits) if "credits_n" in credits.columns else None
    nseg = len(segments)
    masks: dict[Filter, npt.NDArray[np.bool_]] = {}
    sum_arrays: dict[tuple[str, str], IntArray] = {}
    count_arrays: dict[tuple[str, str], IntArray] = {}
    sums: dict[tuple[str, str], list[int]] = {}
    counts: dict[tuple[str, str], list[int]] = {}
    contrib_parts: list[tuple[IntArray, IntArray, str]] = []
    for plan_id, (rows, segs) in pairs.items():
        plan = inputs.plans[plan_id]
        for m in plan.measures:
            if m.aggregate not in ("sum", "count", "average") or m.window.over != "period":
                continue  # windowed measures: below
            if m.filter not in masks:
                masks[m.filter] = ms.filter_mask(credits, m.filter)
            keep = masks[m.filter]
            if keep.all():
                r, sg = rows, segs
            else:
                sel = keep[rows]
                r, sg = rows[sel], segs[sel]
            sum_arrays[(plan_id, m.id)] = ms.group_sum(sg, amounts[r], nseg)
            sums[(plan_id, m.id)] = sum_arrays[(plan_id, m.id)].tolist()
            count_arrays[(plan_id, m.id)] = (
                ms.group_count(sg, nseg) if weights is None else ms.group_sum(sg, weights[r], nseg)
            )
            counts[(plan_id, m.id)] = count_arrays[(plan_id, m.id)].tolist()
            contrib_parts.append((r, sg, m.id))
    seg_columns = columns_of(segments)
    seg_end = seg_columns.ints("end_day")
    win = windows.measure_windows(
        inputs,
        seg_columns["plan_id"],
        seg_columns["person"],
        seg_end,
        credits,
        cday,
        amounts,
    )
    if win is not None:
        for key, (sum_array, count_array) in win.arrays.items():
            sum_arrays[key], count_arrays[key] = sum_array, count_array
            sums[key], counts[key] = sum_array.tolist(), count_array.tolist()
        contrib_parts += win.parts
    values = MeasureRows(len(segments))
    seg_counts = MeasureRows(len(segments))
    formula_steps: dict[int, dict[str, tuple[Step, ...]]] = {}
    formula_sentences: dict[int, dict[str, str]] = {}
    with_formulas = {pid for pid, p in inputs.plans.items() if any(m.formula for m in p.measures)}
    person_quotas = quota_tables(inputs.quotas)[0] if with_formulas else {}
    season = seasons(inputs) if with_formulas else {}
    simple: dict[str, bool] = {
        pid: pace is None and all(m.aggregate in ("sum", "count") for m in p.measures)
        for pid, p in inputs.plans.items()
    }
    plain: dict[str, list[int]] = {}  # plans of sums and counts only: column by column
    for pos, seg in enumerate(segments):
        if simple[seg.plan_id]:
            plain.setdefault(seg.plan_id, []).append(pos)
    for pid, positions in plain.items():
        _plain_measures(inputs.plans[pid], positions, segments, sums, counts, values, seg_counts)
    columns: dict[str, tuple[list[tuple[str, list[int]]], list[tuple[str, list[int]]]]] = {
        pid: (
            [(m.id, counts[(pid, m.id)]) for m in p.measures if (pid, m.id) in counts],
            [(m.id, sums[(pid, m.id)]) for m in p.measures if (pid, m.id) in sums],
        )
        for pid, p in inputs.plans.items()
        if not simple[pid]
    }  # each plan's count and sum columns, looked up once
    kpi_measures = {
        pid: [m for m in p.measures if m.aggregate == "kpi"] for pid, p in inputs.plans.items()
    }
    for pos, seg in enumerate(segments):
        pid, sid = seg.plan_id, seg.id
        if simple[pid]:
            continue
        plan = inputs.plans[pid]
        count_cols, sum_cols = columns[pid]
        raw_counts = {mid: col[sid] for mid, col in count_cols}
        seg_counts[pos] = raw_counts
        raw_sums = {mid: col[sid] for mid, col in sum_cols}
        kpi_values: dict[str, Decimal | None] = {}
        for m in kpi_measures[pid]:
            holder = seg.node_id if m.scope == "node" else seg.person_key
            kpi_values[m.id] = kpis.get(m.scope, holder, m.kpi or "")
        ctx = None
        if pid in with_formulas:
            ctx = formula_context(seg, person_quotas, kpis, season)
            formula_steps[sid], formula_sentences[sid] = ctx.steps, ctx.sentences
        before = None
        if pace is not None and win is not None:
            before = {
                mid: (int(s[sid]), int(n[sid]))
                for (p_id, mid), (s, n) in win.earlier.items()
                if p_id == pid
            }
        values[pos] = ms.finish_measures(plan, raw_sums, raw_counts, kpi_values, pace, ctx, before)
    contributions = (
        _contributions(contrib_parts, segments, credits, amounts)
        if win is None
        else _contributions(contrib_parts, segments, win.credits, win.amounts)
    )
    return MeasureState(
        segments,
        credits,
        cday,
        pairs,
        values,
        seg_counts,
        contributions,
        masks,
        sum_arrays,
        count_arrays,
        pace,
        formula_steps,
        formula_sentences,
    )


def _plain_measures(
    plan: Plan,
    positions: list[int],
    segments: Sequence[Segment],
    sums: Mapping[tuple[str, str], list[int]],
    counts: Mapping[tuple[str, str], list[int]],
    values: MeasureRows,
    seg_counts: MeasureRows,
) -> None:
    """Leave the measures of a plan of sums and counts only, at ``positions``, as columns.

    Their dicts, when read, hold the figures :func:`engine.measures.finish_measures` gives: a
    sum is its ten-thousandths as a Decimal (``from_e4``), a count its integer as a Decimal.
    """
    pid = plan.id
    sids = [segments[p].id for p in positions]
    block = PlainColumns(
        sids,
        tuple(
            (m.id, sums[(pid, m.id)], True)
            if m.aggregate == "sum"
            else (m.id, counts[(pid, m.id)], False)
            for m in plan.measures
        ),
        tuple((m.id, counts[(pid, m.id)]) for m in plan.measures if (pid, m.id) in counts),
    )
    if block.figures:  # no measures: every segment keeps its empty dict
        values.columns(positions, block)
    if block.counts:
        seg_counts.columns(positions, replace(block, of_counts=True))


def formula_context(
    seg: Segment,
    person_quotas: Mapping[str, Mapping[str, Decimal]],
    kpis: ms.KpiTable,
    season: Mapping[tuple[str, str], Decimal],
) -> ms.FormulaContext:
    """Return what one segment's formula measures read: its quotas, KPI values and TI."""
    own = person_quotas.get(seg.person_key, {})

    def quota(quota_id: str) -> Decimal | None:
        value = own.get(quota_id)
        if value is None:
            return None
        return prorated_quota(seg, value, season.get((seg.plan_id, quota_id), ONE))

    return ms.FormulaContext(
        quota=quota,
        kpi=lambda name: kpis.get("person", seg.person_key, name),
        target_incentive=seg.target_incentive,
    )


def _stable_order(keys: IntArray) -> IntArray:
    """Return the stable argsort of non-negative int keys < 2**32 (radix passes of 16 bits)."""
    low = np.argsort((keys & 0xFFFF).astype(np.uint16), kind="stable")
    if int(keys.max(initial=0)) < 1 << 16:
        return low.astype(np.int64)
    high = np.argsort((keys[low] >> 16).astype(np.uint16), kind="stable")
    return low[high].astype(np.int64)


def _contributions(
    parts: list[tuple[IntArray, IntArray, str]],
    segments: Sequence[Segment],
    credits: pd.DataFrame,
    amounts: IntArray,
) -> pd.DataFrame:
    """Return the per-credit contributions (one row per credit x measure it counts in).

    Rows are ordered by (person, plan, segment, measure, credit id), whatever the input order.
    """
    columns = [
        "person_id",
        "plan_id",
        "segment",
        "measure_id",
        "credit_id",
        "transaction_id",
        "amount_e4",
    ]
    if not parts or not segments:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    measure_names = sorted({m for _, _, m in parts})
    rows = np.concatenate([r for r, _, _ in parts])
    seg = np.concatenate([s for _, s, _ in parts])
    mcode = np.concatenate(
        [np.full(len(r), measure_names.index(m), dtype=np.int64) for r, _, m in parts]
    )
    all_credits = credits["credit_id"].to_numpy()
    group = seg * len(measure_names) + mcode
    if (
        np.issubdtype(all_credits.dtype, np.integer)
        and bool((all_credits[1:] >= all_credits[:-1]).all())
        and int(group.max(initial=0)) < 2**32
    ):
        # Credits come sorted by id and each group's rows ascend: a stable sort by group
        # alone gives (group, credit id) order - two 16-bit radix passes, no comparison sort.
        order = _stable_order(group)
    else:
        credit = all_credits[rows]
        if (
            np.issubdtype(credit.dtype, np.integer)
            and (len(credit) == 0 or (credit.min() >= 0 and credit.max() < 2**31))
            and int(group.max(initial=0)) < 2**31
        ):
            order = np.argsort((group << 31) | credit.astype(np.int64), kind="stable")
        else:
            credit_key = pd.factorize(credit.astype(str), sort=True)[0]
            order = np.lexsort((credit_key, group))
    rows = rows[order]
    # Sorted by group, the groups are each group id repeated as often as it occurs.
    nm = len(measure_names)
    # (segment, measure) of each group id worked out once per group, then repeated.
    sizes = np.bincount(group, minlength=int(group.max(initial=0)) + 1)
    ids = np.arange(len(sizes), dtype=np.int64)
    if nm == 1:
        seg, mcode = np.repeat(ids, sizes), np.zeros(len(rows), dtype=np.int64)
    else:
        seg, mcode = np.repeat(ids // nm, sizes), np.repeat(ids % nm, sizes)
    seg_columns = columns_of(segments)
    seg_person, people = seg_columns.codes("person")
    plan_codes, plan_names = seg_columns.codes("plan_id")
    plans = sorted(plan_names.tolist())
    rank = np.array([plans.index(p) for p in plan_names.tolist()], dtype=np.int64)
    seg_plan = rank[plan_codes]
    seg_index = seg_columns.ints("index")
    categorical: Any = pd.Categorical  # pandas-stubs cannot type mixed-type categories
    return pd.DataFrame(
        {
            "person_id": categorical.from_codes(seg_person[seg], categories=people),
            "plan_id": categorical.from_codes(seg_plan[seg], categories=plans),
            "segment": seg_index[seg],
            "measure_id": categorical.from_codes(mcode, categories=measure_names),
            "credit_id": all_credits[rows],
            "transaction_id": credits["transaction_id"].to_numpy()[rows],
            "amount_e4": amounts[rows],
        },
        copy=False,
    )
