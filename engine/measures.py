"""Measures: credits and KPI values -> one figure per (person, plan, segment, measure).

Contract:

* Credits are filtered by a :class:`~engine.spec.Filter` (transaction types, attribute values,
  credit kinds) with :func:`filter_mask`, vectorized over the whole credits frame.
* ``sum`` and ``count`` are exact int64 group sums (:func:`group_sum`), money in ten-thousandths;
  ``average``, ``ratio`` and ``kpi`` are exact Decimals worked out per segment
  (:func:`finish_measures`). A ratio with a zero denominator, or a KPI with no value, is ``None``.
* Team (node) totals never include ``rollup`` credits, so a manager's roll-up is never counted
  twice in a team total (:func:`node_totals`).
* Nothing here rounds money; that is :mod:`engine.money`'s job, once, on the line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import numpy.typing as npt
import pandas as pd

from engine import conditions
from engine import formula as fx
from engine.money import div, from_e4, mul, to_decimal
from engine.rules import fmt_amount, fmt_number
from engine.spec import Filter, Measure, Plan
from engine.types import Step

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


def filter_mask(credits: pd.DataFrame, flt: Filter) -> BoolArray:
    """Return a boolean array: which rows of ``credits`` pass the filter."""
    mask = np.ones(len(credits), dtype=bool)
    if flt.transaction_types:
        mask &= text_in(credits["transaction_type"], flt.transaction_types)
    if flt.credit_kinds:
        mask &= text_in(credits["kind"], flt.credit_kinds)
    for key, values in flt.attributes:
        if key not in credits.columns:
            return np.zeros(len(credits), dtype=bool)
        mask &= credits[key].astype(str).isin(values).to_numpy()
    for cond in flt.conditions:
        if mask.any():
            mask &= conditions.mask(credits, cond)
    return mask


def text_in(column: pd.Series, values: Sequence[str]) -> BoolArray:
    """Return which rows of a text column are one of ``values`` (a look-up on category codes)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        cat = column.cat
        wanted = np.zeros(len(cat.categories) + 1, dtype=bool)  # the last slot: missing (-1)
        wanted[:-1] = cat.categories.isin(values)
        out: BoolArray = wanted[cat.codes.to_numpy()]
        return out
    return column.isin(values).to_numpy()


def as_categories(credits: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Return ``credits`` with its text ``columns`` as categories (a frame of the same rows).

    A million credits hold a handful of transaction types and kinds: as categories they take
    one byte a row instead of a Python string, and every filter is a look-up on the codes.
    Columns that are categories already are kept as they are (nothing is copied then).
    """
    convert = [c for c in columns if c in credits.columns and credits[c].dtype == object]
    if not convert:
        return credits
    out = credits.copy(deep=False)  # the other columns are shared, not copied
    for c in convert:
        out[c] = credits[c].astype("category")
    return out


def group_sum(codes: IntArray, values: IntArray, size: int) -> IntArray:
    """Return exact int64 sums of ``values`` grouped by ``codes`` in ``range(size)``."""
    out = np.zeros(size, dtype=np.int64)
    np.add.at(out, codes, values)
    return out


def credit_weights(credits: pd.DataFrame) -> IntArray:
    """Return how many credits each row stands for: ``credits_n`` of a roll-up total, else 1.

    Roll-ups are totals (:func:`engine.crediting.rollup_totals`), so ``count`` and
    ``average`` measures count the credits behind a total, not its row.
    """
    if "credits_n" not in credits.columns:
        return np.ones(len(credits), dtype=np.int64)
    return np.asarray(credits["credits_n"].fillna(1), dtype=np.int64)


def group_count(codes: IntArray, size: int) -> IntArray:
    """Return the number of rows per code in ``range(size)``."""
    return np.bincount(codes, minlength=size).astype(np.int64)


@dataclass(frozen=True, slots=True)
class FormulaContext:
    """What formula measures read besides other measures: quotas, KPI values, TI."""

    quota: Callable[[str], Decimal | None] = lambda _: None
    kpi: Callable[[str], Decimal | None] = lambda _: None
    target_incentive: Decimal | None = None
    steps: dict[str, tuple[Step, ...]] = field(default_factory=dict)
    """Filled in: each formula measure's sub-results, in plain words."""
    sentences: dict[str, str] = field(default_factory=dict)
    """Filled in: each formula measure's sentence."""


def formula_value(
    plan: Plan, m: Measure, done: Mapping[str, Decimal | None], ctx: FormulaContext
) -> Decimal | None:
    """Return a formula measure's value (None: no value) and record its steps in ``ctx``."""
    assert m.formula is not None
    env = fx.Env(done, ctx.quota, ctx.kpi, ctx.target_incentive)
    value, steps, sentence = run_formula(plan, m.id, m.formula, env)
    ctx.steps[m.id] = steps
    ctx.sentences[m.id] = sentence
    return value


def run_formula(
    plan: Plan, label: str, formula: fx.Formula, env: fx.Env
) -> tuple[Decimal | None, tuple[Step, ...], str]:
    """Return a formula's value (None: no value), its steps and its sentence, in plan money."""
    cur, mode = plan.rounding.currency, plan.rounding.mode

    def show(value: Decimal, unit: fx.Unit) -> str:
        if unit == "money":
            return fmt_amount(value, cur, mode)
        return fmt_number(value)

    got = fx.evaluate(formula, env, label=label, fmt=show)
    words = "; ".join(s[2] for s in got.steps[:-1])
    if got.value is None:
        sentence = f"{label} ({formula.source}) has no value: {got.reason}."
    elif words:
        sentence = f"{label} = {formula.source}: {words}."
    else:
        sentence = f"{label} = {got.steps[-1][2]}."
    return got.value, tuple(Step(*s) for s in got.steps), sentence


def measure_value(
    measure: Measure,
    sums: Mapping[str, int],
    counts: Mapping[str, int],
    done: Mapping[str, Decimal | None],
    kpi: Decimal | None,
) -> Decimal | None:
    """Return one segment's value of ``measure`` from its raw sums, counts and finished values."""
    if measure.aggregate == "sum":
        return from_e4(sums[measure.id])
    if measure.aggregate == "count":
        return Decimal(counts[measure.id])
    if measure.aggregate == "average":
        n = counts[measure.id]
        return div(from_e4(sums[measure.id]), Decimal(n)) if n else None
    if measure.aggregate == "ratio":
        num = done.get(measure.numerator or "")
        den = done.get(measure.denominator or "")
        if num is None or den is None or den == 0:
            return None
        return div(num, den)
    return kpi


_ORDERED: dict[int, tuple[Plan, list[Measure]]] = {}
""":func:`ordered_measures` by plan identity (the plan kept, so its id is not reused)."""


def ordered_measures(plan: Plan) -> list[Measure]:
    """Return the plan's measures so that a ratio comes after its numerator and denominator.

    Worked out once per plan object (a run asks for every segment); a copy of the list.
    """
    return list(_ordered(plan))


def _ordered(plan: Plan) -> list[Measure]:
    """Return :func:`ordered_measures` of ``plan``, cached (the list is not to be changed)."""
    got = _ORDERED.get(id(plan))
    if got is None or got[0] is not plan:
        if len(_ORDERED) >= 256:  # a long-lived worker sees many plans: keep the last few
            _ORDERED.clear()
        got = _ORDERED[id(plan)] = (plan, _ordered_measures(plan))
    return got[1]


def _ordered_measures(plan: Plan) -> list[Measure]:
    done: list[Measure] = []
    seen: set[str] = set()
    pending = list(plan.measures)
    while pending:
        progressed = False
        for m in list(pending):
            deps = [d for d in (m.numerator, m.denominator) if d is not None]
            if m.formula is not None:
                deps += list(m.formula.measures)
            deps = [d for d in deps if d in plan.measures_by_id]
            if all(d in seen for d in deps):
                done.append(m)
                seen.add(m.id)
                pending.remove(m)
                progressed = True
        if not progressed:
            raise ValueError(f"plan {plan.id}: measures refer to each other in a cycle")
    return done


def finish_measures(
    plan: Plan,
    sums: Mapping[str, int],
    counts: Mapping[str, int],
    kpis: Mapping[str, Decimal | None],
    pace: Decimal | None = None,
    formulas: FormulaContext | None = None,
    earlier: Mapping[str, tuple[int, int]] | None = None,
) -> dict[str, Decimal | None]:
    """Return every measure of ``plan`` for one segment; ``pace`` scales sums and counts.

    Formula measures read ``formulas`` (quotas, KPI values, target incentive) and record their
    steps and sentences in it; without it they see no quota, KPI or target incentive.
    ``earlier`` is the (sum e4, count) of windowed measures dated before the period: the pace
    scales only the rest (the earlier periods are over).
    """
    done: dict[str, Decimal | None] = {}
    for m in _ordered(plan):
        if m.formula is not None:
            done[m.id] = formula_value(plan, m, done, formulas or FormulaContext())
            continue
        value = measure_value(m, sums, counts, done, kpis.get(m.id))
        if pace is not None and value is not None and m.aggregate in ("sum", "count"):
            before = (earlier or {}).get(m.id)
            if before is None:
                value = mul(value, pace)
            else:
                over = from_e4(before[0]) if m.aggregate == "sum" else Decimal(before[1])
                value = over + mul(value - over, pace)
        done[m.id] = value
    return done


class KpiTable:
    """Exact KPI values by (holder kind, holder id, kpi name)."""

    def __init__(self, frame: pd.DataFrame) -> None:
        """Index the KPI values frame; a repeated key is an error."""
        self._values: dict[tuple[str, str, str], Decimal] = {}
        if len(frame) == 0:
            return
        kinds = frame["holder_kind"].astype(str).tolist()
        holders = frame["holder_id"].astype(str).tolist()
        names = frame["kpi"].astype(str).tolist()
        for kind, holder, name, value in zip(
            kinds, holders, names, frame["value"].tolist(), strict=True
        ):
            key = (kind, holder, name)
            if key in self._values:
                raise ValueError(f"kpi_values: {kind} {holder} has two values for {name!r}")
            self._values[key] = to_decimal(value)

    def get(self, kind: str, holder: str, name: str) -> Decimal | None:
        """Return a KPI value or None."""
        return self._values.get((kind, str(holder), name))

    def for_person(self, person: str) -> dict[str, Decimal]:
        """Return every KPI value of one person by name."""
        return {n: v for (k, h, n), v in self._values.items() if k == "person" and h == person}


def descendants(nodes: pd.DataFrame, root: str) -> set[str]:
    """Return ``root`` and every node below it in the ``nodes`` (node_id, parent_id) frame."""
    children: dict[str, list[str]] = {}
    for node, parent in zip(
        nodes["node_id"].astype(str).tolist(), nodes["parent_id"].tolist(), strict=True
    ):
        if parent is not None and not (isinstance(parent, float) and np.isnan(parent)):
            children.setdefault(str(parent), []).append(node)
    out = {root}
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in out:
                out.add(child)
                stack.append(child)
    return out


def node_totals(
    credits: pd.DataFrame,
    credit_days: IntArray,
    timeline: pd.DataFrame,
    nodes: pd.DataFrame,
    requests: Sequence[tuple[str, Filter]],
) -> dict[tuple[str, Filter], tuple[int, int]]:
    """Return (sum in e4, count) of credits per requested (node, filter), roll-ups excluded.

    A credit belongs to the node its person sat at on the credit's date (from the timeline),
    and counts for that node and every node above it.
    """
    out: dict[tuple[str, Filter], tuple[int, int]] = {}
    if not requests:
        return out
    # Only the keys are joined to the timeline (person, day, row), not the whole frame: each
    # filter is then one mask over all the credits, read at the rows under the node.
    rows = np.flatnonzero((credits["kind"] != "rollup").to_numpy())
    keys = pd.DataFrame(
        {
            "_person": credits["person_id"].astype(str).to_numpy()[rows],
            "_day": np.asarray(credit_days, dtype=np.int64)[rows],
            "_row": rows,
        }
    )
    tl = pd.DataFrame(
        {
            "_person": timeline["person_id"].astype(str).to_numpy(),
            "_start": _days(timeline["start"]),
            "_end": _days(timeline["end"]),
            "_node": timeline["node_id"].astype(str).to_numpy(),
        }
    )
    joined = keys.merge(tl, on="_person")
    joined = joined[(joined["_day"] >= joined["_start"]) & (joined["_day"] < joined["_end"])]
    at_node = joined["_node"].to_numpy()
    at_row = joined["_row"].to_numpy()
    amounts = credits["amount_e4"].to_numpy(dtype=np.int64)
    masks: dict[Filter, BoolArray] = {}
    for node, flt in requests:
        under = descendants(nodes, node) if len(nodes) else {node}
        picked = np.unique(at_row[pd.Series(at_node).isin(under).to_numpy()])
        if flt not in masks:
            masks[flt] = filter_mask(credits, flt)
        mask = masks[flt][picked]
        out[(node, flt)] = (int(amounts[picked][mask].sum()), int(mask.sum()))
    return out


def _days(column: pd.Series) -> IntArray:
    """Return a date column as int64 days since 1970-01-01."""
    values = pd.to_datetime(column).to_numpy().astype("datetime64[D]")
    return values.astype(np.int64)


def to_days(column: pd.Series) -> IntArray:
    """Return a date column (dates, strings or datetime64) as int64 days since 1970-01-01."""
    if pd.api.types.is_datetime64_any_dtype(column):
        return column.to_numpy().astype("datetime64[D]").astype(np.int64)
    return _days(column)
