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
from collections.abc import Mapping
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


@dataclass(frozen=True, slots=True)
class Trace:
    """Why one (person, plan, component, segment) earned what it did."""

    person_id: str
    plan_id: str
    component_id: str
    period_id: str
    segment: int
    rule: str
    steps: tuple[Step, ...]
    inputs: tuple[str, ...]
    text: str

    def step(self, name: str) -> str:
        """Return the value of the step called ``name``."""
        for s in self.steps:
            if s.name == name:
                return s.value
        raise KeyError(name)


@dataclass(frozen=True)
class Result:
    """The output of :func:`engine.compute`; ``result_hash`` covers lines, traces, measures."""

    period_id: str
    lines: tuple[PayoutLine, ...]
    traces: tuple[Trace, ...]
    contributions: pd.DataFrame
    measures: pd.DataFrame
    draw_balances: Mapping[str, Decimal]
    result_hash: str

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
