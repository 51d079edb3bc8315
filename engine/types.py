"""Input and output types of :func:`engine.compute`.

Contract:

* :class:`Inputs` is a snapshot: frozen, holding DataFrames the caller must not mutate after
  building it. Money columns are int64 ten-thousandths (suffix ``_e4``, see
  :mod:`engine.money`); dates are ``datetime.date`` objects or ``datetime64[D]`` values;
  rates, allocations and KPI values are exact (``Decimal``, int or numeric strings).
* Required frame columns are listed in ``*_COLUMNS`` below; extra columns on ``credits``
  are transaction attributes that measure filters may use.
* :class:`Result` is what the apps persist: payout lines, one trace per
  (person, plan, component, segment), the per-credit contributions as a DataFrame, the
  measures, the draw balances carried forward and a ``result_hash`` over all of it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final

import pandas as pd

from engine.spec import Plan

CREDIT_COLUMNS: Final = (
    "credit_id",
    "transaction_id",
    "person_id",
    "date",
    "amount_e4",
    "transaction_type",
    "kind",
)
"""Optional credit columns: ``rule_id``, ``share_ppm``, ``collected`` and any attributes."""
TEXT_COLUMNS: Final = ("transaction_type", "kind")
"""Credit text columns the engine reads as categories (pass them as ``category`` dtype to
save the conversion and the memory: a handful of values over millions of rows)."""

TIMELINE_COLUMNS: Final = ("person_id", "start", "end", "node_id", "role", "allocation")
ASSIGNMENT_COLUMNS: Final = ("person_id", "plan_id", "start", "end", "target_incentive_e4")
"""Optional assignment columns: ``role`` (match timeline segments of that role only) and
``hire_date`` (for ramps)."""
QUOTA_COLUMNS: Final = ("holder_id", "quota_id", "amount_e4")
"""Optional quota column: ``holder_kind`` (``person`` by default, or ``node``)."""
KPI_COLUMNS: Final = ("holder_kind", "holder_id", "kpi", "value")
NODE_COLUMNS: Final = ("node_id", "parent_id")
PRIOR_PAYOUT_COLUMNS: Final = ("person_id", "plan_id", "component_id", "amount_e4")
REVERSAL_COLUMNS: Final = (
    "transaction_id",
    "person_id",
    "plan_id",
    "component_id",
    "amount_e4",
    "rate",
    "credited_date",
    "reversed_date",
)
HOLD_COLUMNS: Final = ("transaction_id", "person_id", "plan_id", "component_id", "amount_e4")
INSTALMENT_COLUMNS: Final = (
    "person_id",
    "plan_id",
    "component_id",
    "earned_period_id",
    "total_minor",
    "periods",
    "number",
)
"""Instalments due this period of amounts earned earlier: ``number`` of ``periods``."""
RESERVE_COLUMNS: Final = (
    "person_id",
    "plan_id",
    "component_id",
    "earned_period_id",
    "amount_minor",
)
"""Pool reserves held back in earlier periods (minor units), released in the release period."""
HISTORY_PAYOUT_COLUMNS: Final = ("person_id", "plan_id", "component_id", "period_id", "amount_e4")
"""What each earlier period paid a (person, plan, component): its lines' amounts summed."""


def empty_frame(columns: tuple[str, ...]) -> pd.DataFrame:
    """Return an empty DataFrame with ``columns``."""
    return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})


@dataclass(frozen=True, slots=True)
class Period:
    """The payout period computed: half-open ``[start, end)``."""

    id: str
    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        """Return the number of days in the period."""
        return (self.end - self.start).days


@dataclass(frozen=True)
class Inputs:
    """Everything one calculation needs; the engine reads nothing else."""

    period: Period
    plans: Mapping[str, Plan]
    assignments: pd.DataFrame
    timeline: pd.DataFrame
    credits: pd.DataFrame = field(default_factory=lambda: empty_frame(CREDIT_COLUMNS))
    quotas: pd.DataFrame = field(default_factory=lambda: empty_frame(QUOTA_COLUMNS))
    kpi_values: pd.DataFrame = field(default_factory=lambda: empty_frame(KPI_COLUMNS))
    nodes: pd.DataFrame = field(default_factory=lambda: empty_frame(NODE_COLUMNS))
    prior_payouts: pd.DataFrame = field(default_factory=lambda: empty_frame(PRIOR_PAYOUT_COLUMNS))
    draw_balances: Mapping[str, Decimal] = field(default_factory=dict)
    """Recoverable draw balance owed by each person at the start of the period (>= 0)."""
    reversals: pd.DataFrame = field(default_factory=lambda: empty_frame(REVERSAL_COLUMNS))
    holds: pd.DataFrame = field(default_factory=lambda: empty_frame(HOLD_COLUMNS))
    """Commission held in earlier periods; released when its transaction is collected."""
    collected_transactions: frozenset[str] = frozenset()
    """Transaction ids whose cash was collected in this period (releases holds)."""
    instalments: pd.DataFrame = field(default_factory=lambda: empty_frame(INSTALMENT_COLUMNS))
    """Instalments due this period of amounts earned in earlier periods (the payout run keeps
    each deferred total and its instalment count)."""
    fiscal_year_start_month: int = 1
    """The tenant's fiscal year start month (1-12): ramp periods are counted on that calendar."""
    reserves: pd.DataFrame = field(default_factory=lambda: empty_frame(RESERVE_COLUMNS))
    """Pool reserves held back in earlier periods, due for release in this one (the payout run
    keeps each ``reserve`` line and supplies it in the release period)."""
    # windows across periods (engine.windows): what earlier periods the inputs carry
    history_periods: tuple[Period, ...] = ()
    """The earlier periods whose credits and payouts are in ``history_credits`` and
    ``history_payouts`` (``engine.windows.history_needed`` says which a calculation needs)."""
    history_credits: pd.DataFrame = field(default_factory=lambda: empty_frame(CREDIT_COLUMNS))
    """Credits dated in ``history_periods`` (same columns as ``credits``), for windowed measures."""
    history_payouts: pd.DataFrame = field(
        default_factory=lambda: empty_frame(HISTORY_PAYOUT_COLUMNS)
    )
    """What each of ``history_periods`` paid, for components settled to date."""
    history_start: dt.date | None = None
    """The tenant's first day of history: a window reaching further back starts here instead."""


@dataclass(frozen=True, slots=True)
class PayoutLine:
    """One payable line; ``amount`` = ``earned`` - ``paid_before``, quantized once."""

    person_id: str
    plan_id: str
    component_id: str
    period_id: str
    segment: int
    segment_start: dt.date
    segment_end: dt.date
    kind: str
    earned: Decimal
    paid_before: Decimal
    amount: Decimal
    amount_minor: int
    currency: str
    attainment: Decimal | None = None
    tier: int | None = None


@dataclass(frozen=True, slots=True)
class Step:
    """One intermediate figure of a trace: its name, exact value and how it was produced."""

    name: str
    value: str
    note: str = ""


TraceBody = tuple[tuple[Step, ...], tuple[str, ...], str]
"""What a trace renders to: (steps, inputs, sentence)."""


class Trace:
    """Why one (person, plan, component, segment) earned what it did.

    ``steps``, ``inputs`` and ``text`` (the plain-language sentence, also ``sentence``) are
    either given when the trace is built or rendered on first use by ``render`` - the fast
    path keeps the figures a trace is made of and renders the Decimal steps and the sentence
    only when someone reads them (the product shows them one payee at a time). A rendered
    trace is cached; a trace is immutable and compares by its full content.
    """

    __slots__ = (
        "_body",
        "_figures",
        "_render",
        "component_id",
        "period_id",
        "person_id",
        "plan_id",
        "rule",
        "segment",
    )

    person_id: str
    plan_id: str
    component_id: str
    period_id: str
    segment: int
    rule: str
    _body: TraceBody | None
    _figures: str | None
    _render: Callable[[], TraceBody] | None

    def __init__(
        self,
        person_id: str,
        plan_id: str,
        component_id: str,
        period_id: str,
        segment: int,
        rule: str,
        steps: tuple[Step, ...] = (),
        inputs: tuple[str, ...] = (),
        text: str = "",
        *,
        render: Callable[[], TraceBody] | None = None,
        figures: str | None = None,
    ) -> None:
        """Build a trace from its steps, inputs and text, or from a ``render`` callable.

        ``figures`` is the canonical text of every figure the trace is made of, when the
        engine knows it (plain tier tables, on either path): ``result_hash`` hashes it
        instead of the rendered steps and sentence, so the hash needs no rendering.
        """
        init = object.__setattr__
        init(self, "person_id", person_id)
        init(self, "plan_id", plan_id)
        init(self, "component_id", component_id)
        init(self, "period_id", period_id)
        init(self, "segment", segment)
        init(self, "rule", rule)
        init(self, "_body", None if render is not None else (tuple(steps), tuple(inputs), text))
        init(self, "_render", render)
        init(self, "_figures", figures)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Trace is immutable: cannot set {name!r}")

    def _full(self) -> TraceBody:
        body = self._body
        if body is None:
            assert self._render is not None
            body = self._render()
            object.__setattr__(self, "_body", body)
        return body

    @property
    def rendered(self) -> bool:
        """Return whether the steps and sentence have been worked out already."""
        return self._body is not None

    @property
    def steps(self) -> tuple[Step, ...]:
        """Return every intermediate figure (rendered on first use)."""
        return self._full()[0]

    @property
    def inputs(self) -> tuple[str, ...]:
        """Return the ids of the inputs used (rendered on first use)."""
        return self._full()[1]

    @property
    def text(self) -> str:
        """Return the plain-language sentence (rendered on first use)."""
        return self._full()[2]

    @property
    def sentence(self) -> str:
        """Return the plain-language sentence; the same as ``text``."""
        return self.text

    @property
    def source(self) -> Callable[[], TraceBody] | None:
        """Return what renders this trace on demand (None when it was built rendered)."""
        return self._render

    @property
    def figures(self) -> str | None:
        """Return the canonical figures the trace is rendered from, when the engine keeps them."""
        return self._figures

    def render(self) -> Trace:
        """Work out the steps and sentence now (if not done yet) and return this trace."""
        self._full()
        return self

    def _key(self) -> tuple[object, ...]:
        return (
            self.person_id,
            self.plan_id,
            self.component_id,
            self.period_id,
            self.segment,
            self.rule,
            *self._full(),
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Trace):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (
            f"Trace(person_id={self.person_id!r}, plan_id={self.plan_id!r}, "
            f"component_id={self.component_id!r}, period_id={self.period_id!r}, "
            f"segment={self.segment!r}, rule={self.rule!r}, steps={self.steps!r}, "
            f"inputs={self.inputs!r}, text={self.text!r})"
        )

    def step(self, name: str) -> str:
        """Return the value of the step called ``name``."""
        for s in self.steps:
            if s.name == name:
                return s.value
        raise KeyError(name)


class Result:
    """The output of :func:`engine.compute`; ``result_hash`` covers lines, traces, measures.

    ``lines`` and ``traces`` are tuples in their canonical order. The engine may hand them (and
    ``measures``) over as a callable that builds them (the fast path keeps its lines
    column-wise): they are then built on first read, once, and cached - a run that only needs
    the hash, the totals of a frame or a few traces never builds the rest. A result is
    immutable.
    """

    __slots__ = (
        "_lines",
        "_measures",
        "_traces",
        "contributions",
        "draw_balances",
        "period_id",
        "result_hash",
    )

    period_id: str
    contributions: pd.DataFrame
    draw_balances: Mapping[str, Decimal]
    result_hash: str
    _lines: tuple[PayoutLine, ...] | Callable[[], tuple[PayoutLine, ...]]
    _traces: tuple[Trace, ...] | Callable[[], tuple[Trace, ...]]
    _measures: pd.DataFrame | Callable[[], pd.DataFrame]

    def __init__(
        self,
        period_id: str,
        lines: Sequence[PayoutLine] | Callable[[], tuple[PayoutLine, ...]],
        traces: Sequence[Trace] | Callable[[], tuple[Trace, ...]],
        contributions: pd.DataFrame,
        measures: pd.DataFrame | Callable[[], pd.DataFrame],
        draw_balances: Mapping[str, Decimal],
        result_hash: str,
    ) -> None:
        """Keep the parts; ``lines``, ``traces`` (as tuples) and ``measures`` may be callables
        that build them."""
        init = object.__setattr__
        init(self, "period_id", period_id)
        init(self, "_lines", lines if callable(lines) else tuple(lines))
        init(self, "_traces", traces if callable(traces) else tuple(traces))
        init(self, "contributions", contributions)
        init(self, "_measures", measures)
        init(self, "draw_balances", draw_balances)
        init(self, "result_hash", result_hash)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Result is immutable: cannot set {name!r}")

    def __reduce__(self) -> tuple[type[Result], tuple[object, ...]]:
        """Copy (and reduce) with the lines and traces built: their builders are closures."""
        return (
            Result,
            (
                self.period_id,
                self.lines,
                self.traces,
                self.contributions,
                self.measures,
                self.draw_balances,
                self.result_hash,
            ),
        )

    @property
    def measures(self) -> pd.DataFrame:
        """Return every segment's measures: person, plan, segment, measure id, value (built on
        first read)."""
        got = self._measures
        if callable(got):
            got = got()
            object.__setattr__(self, "_measures", got)
        return got

    @property
    def lines(self) -> tuple[PayoutLine, ...]:
        """Return the payout lines in their canonical order (built on first read)."""
        got = self._lines
        if callable(got):
            got = got()
            object.__setattr__(self, "_lines", got)
        return got

    @property
    def traces(self) -> tuple[Trace, ...]:
        """Return the traces in the order of the lines (built on first read)."""
        got = self._traces
        if callable(got):
            got = got()
            object.__setattr__(self, "_traces", got)
        return got

    def __repr__(self) -> str:
        return (
            f"Result(period_id={self.period_id!r}, lines={len(self.lines)}, "
            f"traces={len(self.traces)}, result_hash={self.result_hash!r})"
        )

    def lines_frame(self) -> pd.DataFrame:
        """Return the payout lines as a DataFrame (one row per line)."""
        columns = list(PayoutLine.__slots__)
        return pd.DataFrame(
            [[getattr(line, c) for c in columns] for line in self.lines], columns=columns
        )

    def trace(self, person_id: str, component_id: str, segment: int = 0) -> Trace:
        """Return the trace of one person's component in one segment."""
        for t in self.traces:
            if (t.person_id, t.component_id, t.segment) == (person_id, component_id, segment):
                return t
        raise KeyError((person_id, component_id, segment))

    def total(self, person_id: str | None = None) -> Decimal:
        """Return the sum of line amounts, for one person or everybody."""
        return sum(
            (line.amount for line in self.lines if person_id in (None, line.person_id)),
            Decimal(0),
        )
