"""Each phase's output as a plain table (:mod:`engine.phases.tables`) and back.

Contract: for every phase output there is ``<output>_table(...) -> DataFrame`` and
``<output>_from(...)``, and reading a table back gives an object equal to the one written
(Decimals keep their exact text; a fast-path trace is rendered and keeps the figures it is
hashed by), so a run that writes its phases' tables between steps gives the same
``result_hash`` as one :func:`engine.compute` call. Tables carry no segment ids: a chunk's
segments are numbered by their canonical order (person, plan, start), as
:func:`~engine.phases.segments.build_segments` numbers them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from engine.phases.fast import figures_of
from engine.phases.measure import MeasureState, credit_pairs
from engine.phases.reduce import Partials, Request
from engine.phases.reward import Reward
from engine.phases.segments import Segment
from engine.phases.tables import SCHEMAS, frame
from engine.rules import Outcome, PoolShare, Shared
from engine.spec import Plan
from engine.types import Inputs, PayoutLine, Step, Trace


def _table(name: str, rows: Iterable[Sequence[Any]]) -> pd.DataFrame:
    names = list(SCHEMAS[name])
    got = list(rows)
    columns = list(zip(*got, strict=True)) if got else [()] * len(names)
    return frame(name, dict(zip(names, columns, strict=True)))


def _records(table: pd.DataFrame, name: str) -> Iterable[tuple[Any, ...]]:
    columns = [table[c].tolist() for c in SCHEMAS[name]]
    return zip(*columns, strict=True)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _steps_json(steps: Sequence[Step]) -> str:
    return json.dumps([[s.name, s.value, s.note] for s in steps])


def _steps(text: str) -> tuple[Step, ...]:
    return tuple(Step(name, value, note) for name, value, note in json.loads(text))


# --------------------------------------------------------------------------- segments


def segments_table(segments: Sequence[Segment]) -> pd.DataFrame:
    """Return segments as the ``segments`` table."""
    return _table(
        "segments",
        (
            (
                s.person,
                s.person_key,
                s.plan_id,
                s.index,
                s.start_day,
                s.end_day,
                s.node_id,
                s.role,
                str(s.allocation),
                str(s.factor),
                str(s.factor_num),
                str(s.factor_den),
                str(s.target_incentive_full),
                str(s.target_incentive),
                str(s.quota_factor),
                s.ramp_period,
                s.ti_e4,
            )
            for s in segments
        ),
    )


def segments_from(table: pd.DataFrame) -> list[Segment]:
    """Return the segments of a ``segments`` table, in canonical order and numbered so."""
    rows = sorted(_records(table, "segments"), key=lambda r: (r[1], r[2], r[4]))
    return [
        Segment(
            id=i,
            person=r[0],
            person_key=r[1],
            plan_id=r[2],
            index=int(r[3]),
            start_day=int(r[4]),
            end_day=int(r[5]),
            node_id=r[6],
            role=r[7],
            allocation=Decimal(r[8]),
            factor=Decimal(r[9]),
            factor_num=Decimal(r[10]),
            factor_den=Decimal(r[11]),
            quota_factor=Decimal(r[14]),
            ramp_period=None if r[15] is None else int(r[15]),
            ti_e4=int(r[16]),
        )
        for i, r in enumerate(rows)
    ]


# --------------------------------------------------------------------------- measure


def measures_table(state: MeasureState) -> pd.DataFrame:
    """Return every segment's measures, raw sums and counts and formula steps (``measures``)."""
    rows = []
    sums = {key: a.tolist() for key, a in state.sum_arrays.items()}
    counts = {key: a.tolist() for key, a in state.count_arrays.items()}
    for seg in state.segments:
        steps = state.formula_steps.get(seg.id, {})
        sentences = state.formula_sentences.get(seg.id, {})
        for position, (mid, value) in enumerate(state.measure_values[seg.id].items()):
            key = (seg.plan_id, mid)
            rows.append(
                (
                    seg.person_key,
                    seg.plan_id,
                    seg.index,
                    mid,
                    position,
                    _text(value),
                    sums[key][seg.id] if key in sums else None,
                    counts[key][seg.id] if key in counts else None,
                    _steps_json(steps[mid]) if mid in steps else None,
                    sentences.get(mid),
                )
            )
    return _table("measures", rows)


def contributions_table(state: MeasureState) -> pd.DataFrame:
    """Return the per-credit contributions as the ``contributions`` table."""
    c = state.contributions
    return frame(
        "contributions", {n: c[n].tolist() if len(c) else [] for n in SCHEMAS["contributions"]}
    )


def state_from(
    inputs: Inputs, segments: list[Segment], measures: pd.DataFrame, plans: Mapping[str, Plan]
) -> MeasureState:
    """Return the measure phase's state of a chunk from its ``measures`` table.

    The credits' pairing with segments is an index, not a figure: it is worked out again from
    the chunk's credits (:func:`~engine.phases.measure.credit_pairs`).
    """
    credits, cday, pairs = credit_pairs(inputs, segments)
    ids = {(s.person_key, s.plan_id, s.index): s.id for s in segments}
    nseg = len(segments)
    values: list[dict[str, Decimal | None]] = [{} for _ in segments]
    counts: list[dict[str, int]] = [{} for _ in segments]
    placed: list[list[tuple[int, str, Decimal | None]]] = [[] for _ in segments]
    sum_arrays: dict[tuple[str, str], Any] = {}
    count_arrays: dict[tuple[str, str], Any] = {}
    formula_steps: dict[int, dict[str, tuple[Step, ...]]] = {}
    formula_sentences: dict[int, dict[str, str]] = {}
    for person, plan_id, index, mid, position, value, total, count, steps, sentence in _records(
        measures, "measures"
    ):
        sid = ids[(person, plan_id, int(index))]
        placed[sid].append((int(position), mid, _dec(value)))
        if total is not None:
            if (plan_id, mid) not in sum_arrays:
                sum_arrays[(plan_id, mid)] = np.zeros(nseg, dtype=np.int64)
                count_arrays[(plan_id, mid)] = np.zeros(nseg, dtype=np.int64)
            sum_arrays[(plan_id, mid)][sid] = int(total)
            count_arrays[(plan_id, mid)][sid] = int(count)
        if steps is not None:
            formula_steps.setdefault(sid, {})[mid] = _steps(steps)
        if sentence is not None:
            formula_sentences.setdefault(sid, {})[mid] = sentence
    for seg in segments:
        values[seg.id] = {mid: value for _, mid, value in sorted(placed[seg.id])}
        arrays = [
            (m.id, count_arrays.get((seg.plan_id, m.id))) for m in plans[seg.plan_id].measures
        ]
        counts[seg.id] = {mid: int(a[seg.id]) for mid, a in arrays if a is not None}
    return MeasureState(
        segments,
        credits,
        cday,
        pairs,
        values,
        counts,
        pd.DataFrame(),
        sum_arrays=sum_arrays,
        count_arrays=count_arrays,
        formula_steps=formula_steps,
        formula_sentences=formula_sentences,
    )


def measure_frame_from(measures: pd.DataFrame) -> pd.DataFrame:
    """Return :attr:`Result.measures` from the ``measures`` tables of every chunk."""
    rows = sorted(
        (person, plan, int(index), mid, _dec(value))
        for person, plan, index, mid, _, value, *_ in _records(measures, "measures")
    )
    return pd.DataFrame(rows, columns=["person_id", "plan_id", "segment", "measure_id", "value"])


# --------------------------------------------------------------------------- reduce


def requests_table(requests: Sequence[Request]) -> pd.DataFrame:
    """Return the holder requests as the ``requests`` table."""
    return _table("requests", requests)


def requests_from(table: pd.DataFrame) -> list[Request]:
    """Return the holder requests of a ``requests`` table, sorted."""
    return sorted((a, b, c, d) for a, b, c, d in _records(table, "requests"))


def partials_table(partials: Partials) -> pd.DataFrame:
    """Return a chunk's partial sums as the ``partials`` table."""
    return _table("partials", ((*key, total, count) for key, (total, count) in partials.items()))


def partials_from(table: pd.DataFrame) -> Partials:
    """Return the partial sums of a ``partials`` table (one chunk's, or several added)."""
    out: Partials = {}
    for scope, holder, plan_id, mid, total, count in _records(table, "partials"):
        key = (scope, holder, plan_id, mid)
        got = out.get(key, (0, 0))
        out[key] = (got[0] + int(total), got[1] + int(count))
    return out


def holders_table(shared: Shared) -> pd.DataFrame:
    """Return other holders' measures and quotas as the ``holders`` table."""
    return _table(
        "holders",
        (
            (scope, holder, mid, _text(value), _text(quota))
            for (scope, holder, mid), (value, quota) in shared.holder_measures.items()
        ),
    )


def pools_table(shared: Shared) -> pd.DataFrame:
    """Return every participant's pool share as the ``pools`` table."""
    return _table(
        "pools",
        (
            (
                plan,
                comp,
                person,
                index,
                str(p.amount),
                _steps_json(p.steps),
                p.text,
                json.dumps(p.inputs),
            )
            for (plan, comp, person, index), p in shared.pool_shares.items()
        ),
    )


def shared_from(holders: pd.DataFrame, pools: pd.DataFrame) -> Shared:
    """Return the reduce phase's figures from its ``holders`` and ``pools`` tables."""
    return Shared(
        holder_measures={
            (scope, holder, mid): (_dec(value), _dec(quota))
            for scope, holder, mid, value, quota in _records(holders, "holders")
        },
        pool_shares={
            (plan, comp, person, int(index)): PoolShare(
                Decimal(amount), _steps(steps), text, tuple(json.loads(inputs))
            )
            for plan, comp, person, index, amount, steps, text, inputs in _records(pools, "pools")
        },
    )


# --------------------------------------------------------------------------- reward


def rewards_table(rewards: Sequence[Reward]) -> pd.DataFrame:
    """Return every (segment, component) outcome as the ``rewards`` table (nothing rounded)."""
    return _table(
        "rewards",
        (
            (
                r.segment.person_key,
                r.segment.plan_id,
                r.segment.index,
                r.component.id,
                str(r.outcome.earned),
                str(r.outcome.held),
                _text(r.outcome.attainment),
                r.outcome.tier,
                _steps_json(r.outcome.steps),
                json.dumps(r.outcome.inputs),
                r.outcome.text,
                r.figures,
            )
            for r in rewards
        ),
    )


def rewards_from(
    table: pd.DataFrame, segments: Sequence[Segment], plans: Mapping[str, Plan]
) -> list[Reward]:
    """Return the rewards of a ``rewards`` table, on the chunk's segments, in segment order."""
    by_key = {(s.person_key, s.plan_id, s.index): s for s in segments}
    components = {(p.id, c.id): (i, c) for p in plans.values() for i, c in enumerate(p.components)}
    out: list[tuple[int, int, Reward]] = []
    for (
        person,
        plan_id,
        index,
        comp,
        earned,
        held,
        attainment,
        tier,
        steps,
        inputs,
        text,
        figures,
    ) in _records(table, "rewards"):
        seg = by_key[(person, plan_id, int(index))]
        order, component = components[(plan_id, comp)]
        outcome = Outcome(
            earned=Decimal(earned),
            steps=_steps(steps),
            text=text,
            inputs=tuple(json.loads(inputs)),
            attainment=_dec(attainment),
            tier=None if tier is None else int(tier),
            held=Decimal(held),
        )
        out.append((seg.id, order, Reward(seg, component, outcome, figures)))
    out.sort(key=lambda x: (x[0], x[1]))
    return [r for _, _, r in out]


# --------------------------------------------------------------------------- settle


def lines_table(lines: Sequence[PayoutLine]) -> pd.DataFrame:
    """Return payout lines as the ``lines`` table."""
    return _table(
        "lines",
        (
            (
                ln.person_id,
                ln.plan_id,
                ln.component_id,
                ln.period_id,
                ln.segment,
                ln.segment_start.isoformat(),
                ln.segment_end.isoformat(),
                ln.kind,
                str(ln.earned),
                str(ln.paid_before),
                str(ln.amount),
                ln.amount_minor,
                ln.currency,
                _text(ln.attainment),
                ln.tier,
            )
            for ln in lines
        ),
    )


def lines_from(table: pd.DataFrame) -> list[PayoutLine]:
    """Return the payout lines of a ``lines`` table."""
    return [
        PayoutLine(
            person_id=r[0],
            plan_id=r[1],
            component_id=r[2],
            period_id=r[3],
            segment=int(r[4]),
            segment_start=dt.date.fromisoformat(r[5]),
            segment_end=dt.date.fromisoformat(r[6]),
            kind=r[7],
            earned=Decimal(r[8]),
            paid_before=Decimal(r[9]),
            amount=Decimal(r[10]),
            amount_minor=int(r[11]),
            currency=r[12],
            attainment=_dec(r[13]),
            tier=None if r[14] is None else int(r[14]),
        )
        for r in _records(table, "lines")
    ]


def traces_table(traces: Sequence[Trace]) -> pd.DataFrame:
    """Return traces as the ``traces`` table; a fast-path trace is rendered to be written."""
    return _table(
        "traces",
        (
            (
                t.person_id,
                t.plan_id,
                t.component_id,
                t.period_id,
                t.segment,
                t.rule,
                _steps_json(t.steps),
                json.dumps(t.inputs),
                t.text,
                figures,
            )
            for t, figures in zip(traces, figures_of(traces), strict=True)
        ),
    )


def traces_from(table: pd.DataFrame) -> list[Trace]:
    """Return the traces of a ``traces`` table (rendered, with the figures they hash by)."""
    return [
        Trace(
            r[0],
            r[1],
            r[2],
            r[3],
            int(r[4]),
            r[5],
            _steps(r[6]),
            tuple(json.loads(r[7])),
            r[8],
            figures=r[9],
        )
        for r in _records(table, "traces")
    ]


def balances_table(balances: Mapping[str, Decimal]) -> pd.DataFrame:
    """Return the draw balances carried forward as the ``balances`` table."""
    return _table("balances", ((p, str(b)) for p, b in balances.items()))


def balances_from(table: pd.DataFrame) -> dict[str, Decimal]:
    """Return the draw balances of a ``balances`` table, sorted by person."""
    return dict(sorted((p, Decimal(b)) for p, b in _records(table, "balances")))
