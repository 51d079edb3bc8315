"""The plan language: frozen spec types, parsing and validation (format version 1).

Contract:

* :func:`parse_plan` turns a mapping (from JSON or YAML, see :func:`load_plan`) into a frozen
  :class:`Plan`, or raises :class:`PlanValidationError` carrying *every* problem found, each
  naming its exact path, e.g. ``components[2].rate_table.tiers[1].rate: must be >= 0``.
* :func:`validate_plan` returns that list of messages instead of raising.
* Numbers are exact: write rates and amounts as strings (``"0.05"``) or numbers; numbers are
  read through their shortest text form, so ``0.05`` means exactly ``Decimal("0.05")``.
* Rates, attainments, weights and shares are fractions (``0.05`` is 5 %, ``1.0`` is 100 %).
* The enumerations below are shared with :mod:`engine.schema`, which publishes the JSON Schema
  of the same format; a test keeps the two in step.

docs/plan-language.md documents every field with a worked example.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Final, Literal, TypeVar, cast

import yaml

from engine.formula import (
    FUNCTIONS,
    UNITS,
    Formula,
    FormulaError,
    Unit,
    check,
    names,
    parse,
    settle,
)
from engine.money import ROUNDING_MODES, RoundingMode, is_currency_code, to_decimal

FORMAT_VERSION: Final[int] = 1
POOL_FUNCTIONS: Final = tuple(f for f in FUNCTIONS if f != "quota")

AGGREGATES: Final = ("sum", "count", "average", "ratio", "kpi", "formula", "earned")
CREDIT_KINDS: Final = ("direct", "split", "rollup", "attribution")
KPI_SCOPES: Final = ("person", "node")
CONVENTIONS: Final = ("marginal", "retroactive", "top_multiplier_on_overage", "prospective")
TIER_BASES: Final = ("amount", "attainment")
DIRECTIONS: Final = ("higher_is_better", "lower_is_better")
GATE_SCOPES: Final = ("self", "person", "node")
PART_SCOPES: Final = ("self", "node")
SPLIT_METHODS: Final = ("target_incentive", "allocation", "equal", "kpi")
SPIF_FREQUENCIES: Final = ("every", "once_per_period")
DRAW_TYPES: Final = ("recoverable", "non_recoverable")
PRORATION_POLICIES: Final = (
    "days_x_allocation",
    "days",
    "allocation",
    "none",
    "months",
    "months_x_allocation",
)
PAYOUT_FREQUENCIES: Final = ("monthly", "quarterly", "semiannual", "annual")
TEAM_QUOTAS: Final = ("given", "derived", "checked")
# windows across periods (docs/plan-language.md, "Windows across periods")
WINDOW_KINDS: Final = ("period", "quarter_to_date", "year_to_date", "trailing_n_periods")
WINDOW_YEARS: Final = ("fiscal", "plan")
SETTLE_BASES: Final = ("period", "quarter_to_date", "year_to_date")
SETTLE_TYPES: Final = ("commission", "attainment_bonus", "fixed_pay", "team_pool")
WINDOWED_AGGREGATES: Final = ("sum", "count", "average")
COMPONENT_TYPES: Final = (
    "commission",
    "attainment_bonus",
    "kpi_bonus",
    "mbo",
    "hybrid",
    "team_pool",
    "spif",
    "profit_share",
    "gainshare",
    "retention_bonus",
    "fixed_pay",
    "payout_pool",
)

Aggregate = Literal["sum", "count", "average", "ratio", "kpi", "formula", "earned"]
FIXED_UNITS: Final[dict[str, Unit]] = {
    "sum": "money",
    "count": "count",
    "average": "money",
    "ratio": "ratio",
    "earned": "money",
}
"""The unit of each aggregate that cannot declare one (kpi: ratio unless declared)."""
Convention = Literal["marginal", "retroactive", "top_multiplier_on_overage", "prospective"]


# --------------------------------------------------------------------------- spec types


@dataclass(frozen=True, slots=True)
class Condition:
    """A comparison a credit must pass: its amount, date, an attribute, or days between dates.

    ``kind`` says how the subject is read: ``number`` (exact Decimal), ``date`` or ``text``
    (``in`` / ``not_in`` only). ``between`` includes both ends. See engine.conditions.
    """

    op: str
    operands: tuple[Decimal, ...] | tuple[dt.date, ...] | tuple[str, ...]
    kind: str
    field: str | None = None
    days_from: str | None = None
    days_to: str = "date"


@dataclass(frozen=True, slots=True)
class Filter:
    """Which credits count: transaction types, attribute values, credit kinds, conditions."""

    transaction_types: tuple[str, ...] = ()
    attributes: tuple[tuple[str, tuple[str, ...]], ...] = ()
    credit_kinds: tuple[str, ...] = ()
    conditions: tuple[Condition, ...] = ()


@dataclass(frozen=True, slots=True)
class EarnedSource:
    """Whose earned amounts an ``aggregate: earned`` measure adds up (pay on others' pay).

    ``of`` lists the (plan id, component id) pairs read; ``scope`` says whose lines count:
    ``team`` (the payees at the reader's node or below it, the reader excluded), ``node``
    (the payees at node ``holder`` or below) or ``person`` (payee ``holder``).
    """

    of: tuple[tuple[str, str], ...]
    scope: str = "team"
    holder: str | None = None
    label: str = ""
    """How the sentence names the figure ("the team's commissions"); a default is made."""


@dataclass(frozen=True, slots=True)
class Reserve:
    """The share of a pool payout held back until a later period (``release``)."""

    share: Decimal
    release: str = "year_end"


@dataclass(frozen=True, slots=True)
class MeasureWindow:
    """Which periods a measure counts: this ``period`` (the default) or a window reaching back.

    ``quarter_to_date`` and ``year_to_date`` start on the first day of the quarter or year that
    holds the period - the tenant's fiscal year (``year: fiscal``, from the inputs) or the
    plan's own (``year: plan``, ``Plan.plan_year_start_month``); ``trailing_n_periods`` counts
    ``periods`` payout periods ending with this one. See engine.windows.
    """

    over: str = "period"
    periods: int | None = None
    year: str = "fiscal"


@dataclass(frozen=True, slots=True)
class Measure:
    """A named figure per person and segment: a sum, count, average, ratio or KPI value."""

    id: str
    aggregate: Aggregate
    filter: Filter = Filter()
    numerator: str | None = None
    denominator: str | None = None
    kpi: str | None = None
    scope: str = "person"
    formula: Formula | None = None
    """For ``aggregate: formula``: the parsed, type-checked formula (engine.formula)."""
    unit: Unit = "money"
    """money, ratio or count: fixed for sum/count/average/ratio, declared or inferred else."""
    earned: EarnedSource | None = None
    """For ``aggregate: earned``: whose earned amounts the measure adds up."""
    window: MeasureWindow = MeasureWindow()
    """The periods counted (sum, count and average measures): see :class:`MeasureWindow`."""


@dataclass(frozen=True, slots=True)
class Tier:
    """One half-open band ``[start, end)`` of a rate table with its rate."""

    start: Decimal
    end: Decimal | None
    rate: Decimal


@dataclass(frozen=True, slots=True)
class TierBy:
    """The measure (own, a person's or a node's) whose value picks the tier of a rate table."""

    measure: str
    scope: str = "self"
    holder: str | None = None
    quota: str | None = None


@dataclass(frozen=True, slots=True)
class RateTable:
    """Tiers plus the named convention that says how they combine."""

    convention: Convention
    basis: str
    tiers: tuple[Tier, ...]
    tier_by: TierBy | None = None
    """When set, this measure picks the tier; the component's measure is paid at its rate."""


@dataclass(frozen=True, slots=True)
class CurvePoint:
    """An attainment and the payout (fraction of target incentive) it earns."""

    attainment: Decimal
    payout: Decimal


@dataclass(frozen=True, slots=True)
class Curve:
    """Threshold, target, stretch... points; linear between them, nothing below, flat above."""

    points: tuple[CurvePoint, ...]


@dataclass(frozen=True, slots=True)
class Multiplier:
    """A rate multiplier on the part of the measure above (or below) an attainment."""

    attainment: Decimal
    multiplier: Decimal


@dataclass(frozen=True, slots=True)
class Limit:
    """A cap or floor: an absolute amount or a multiple of the target incentive."""

    amount: Decimal | None = None
    target_multiple: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Gate:
    """A condition on a measure (own, another person's or a node's) that must hold to pay."""

    measure: str
    scope: str = "self"
    holder: str | None = None
    quota: str | None = None
    min_attainment: Decimal | None = None
    min_value: Decimal | None = None
    condition: Condition | None = None
    """Instead of a minimum: ``op`` + ``value`` on the measure's value or attainment."""
    of: str = "value"
    """What ``condition`` reads: ``value`` (the measure) or ``attainment`` (measure / quota)."""


@dataclass(frozen=True, slots=True)
class Modifier:
    """A multiplicative factor from a measure (own, another person's or a node's).

    The factor is the measure's value (or attainment, ``of``), read through ``curve`` when
    given, kept between ``min`` and ``max``; it multiplies the earned figure before the
    period cap and floor (``apply: before_cap``, the default) or after them (``after_cap``).
    """

    measure: str
    scope: str = "self"
    holder: str | None = None
    quota: str | None = None
    of: str = "value"
    curve: Curve | None = None
    min: Decimal | None = None
    max: Decimal | None = None
    apply: str = "before_cap"


@dataclass(frozen=True, slots=True)
class Kpi:
    """One weighted KPI of a KPI bonus, with its target, direction and curve."""

    measure: str
    weight: Decimal
    curve: Curve
    target: Decimal | None = None
    direction: str = "higher_is_better"


@dataclass(frozen=True, slots=True)
class KpiGate:
    """Pay the KPI bonus only if the weighted score, or one KPI's attainment, reaches ``min``.

    In the plan text the field is ``measure`` (``weighted_total`` or a KPI's measure id); it is
    not called ``on`` because YAML 1.1 reads a bare ``on`` as ``true``.
    """

    on: str
    min: Decimal


@dataclass(frozen=True, slots=True)
class Objective:
    """One MBO objective and its weight; completion comes from KPI values by objective id."""

    id: str
    weight: Decimal


@dataclass(frozen=True, slots=True)
class Part:
    """One weighted part of a hybrid component (own quota or a node's attainment)."""

    weight: Decimal
    measure: str
    scope: str = "self"
    node: str | None = None
    quota: str | None = None


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open date window ``[start, end)``."""

    start: dt.date
    end: dt.date


@dataclass(frozen=True, slots=True)
class ClawbackStep:
    """Reversals in months ``1..through_month`` since the credit (after the previous step's)."""

    through_month: int
    share: Decimal


@dataclass(frozen=True, slots=True)
class Component:
    """One pay component of a plan; ``type`` says which fields apply (see the docs)."""

    id: str
    type: str
    name: str = ""
    measure: str | None = None
    quota: str | None = None
    # commission
    rate: Decimal | None = None
    rate_by_type: tuple[tuple[str, Decimal], ...] = ()
    per_unit: Decimal | None = None
    rate_table: RateTable | None = None
    accelerator: Multiplier | None = None
    decelerator: Multiplier | None = None
    per_transaction_cap: Decimal | None = None
    per_transaction_floor: Decimal | None = None
    clawback_window_days: int | None = None
    clawback_share: Decimal = Decimal(1)
    """The part of the original commission clawed back inside the window (1 = all of it)."""
    clawback_scale: tuple[ClawbackStep, ...] = ()
    """A sliding scale by months since the original credit, instead of a window."""
    hold_until_collected: bool = False
    # curves, KPIs, MBO, hybrid
    curve: Curve | None = None
    kpis: tuple[Kpi, ...] = ()
    kpi_gate: KpiGate | None = None
    objectives: tuple[Objective, ...] = ()
    max_completion: Decimal = Decimal(1)
    parts: tuple[Part, ...] = ()
    # pools
    teams: tuple[str, ...] = ()
    milestone_min_attainment: Decimal | None = None
    pool_amount: Decimal | None = None
    split: str = "target_incentive"
    split_kpi: str | None = None
    """With ``split: kpi``: the person KPI (points, hours...) whose values are the weights."""
    retained_share: Decimal = Decimal(0)
    """The part of a pool the company keeps before the split (0.2 = 20 %)."""
    kpi: str | None = None
    source_node: str | None = None
    share: Decimal | None = None
    baseline: Decimal | None = None
    baseline_formula: Formula | None = None
    """A gainshare baseline written as a formula over the source node's KPIs."""
    value_formula: Formula | None = None
    """profit_share / gainshare: the figure shared, as a formula over the source node's KPIs."""
    # events
    filter: Filter = Filter()
    window: Window | None = None
    amount: Decimal | None = None
    frequency: str = "every"
    months: int | None = None
    months_attribute: str = "months_retained"
    # common
    gate: Gate | None = None
    cap: Limit | None = None
    floor: Limit | None = None
    modifiers: tuple[Modifier, ...] = ()
    instalments: int | None = None
    """Pay what is earned in this many periods (the last instalment takes the remainder)."""
    reserve: Reserve | None = None
    """Pools: the share of each payout held back until the release period."""
    settle: str = "period"
    """``quarter_to_date`` / ``year_to_date``: pay earned to date minus paid to date."""


@dataclass(frozen=True, slots=True)
class Rounding:
    """How a line is quantized: mode and currency."""

    mode: RoundingMode
    currency: str


@dataclass(frozen=True, slots=True)
class Draw:
    """A per-period draw: recoverable (balance carried forward) or not."""

    type: str
    amount: Decimal
    max_recovery_per_period: Decimal | None = None


@dataclass(frozen=True, slots=True)
class RampStep:
    """A new hire's n-th payout period: reduced quota and/or a guaranteed payout."""

    period: int
    quota_factor: Decimal = Decimal(1)
    guarantee: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    """A parsed, validated plan (format version 1)."""

    id: str
    currency: str
    measures: tuple[Measure, ...]
    components: tuple[Component, ...]
    name: str = ""
    version: int = FORMAT_VERSION
    payout_frequency: str = "monthly"
    rounding: Rounding = Rounding("half_up", "USD")
    proration: str = "days_x_allocation"
    mid_month_day: int = 15
    """months policies: a calendar month counts when the segment covers this day of it."""
    draw: Draw | None = None
    ramp: tuple[RampStep, ...] = ()
    modifiers: tuple[Modifier, ...] = ()
    """Factors on the plan total: they multiply every component's earned figure."""
    team_quota: str = "given"
    """A node's quota: ``given`` (an input), ``derived`` from its members' pro-rated, ramped
    quotas, or ``checked``: given, and refused unless it equals the members' sum."""
    seasonality: tuple[tuple[str, tuple[Decimal, ...]], ...] = ()
    """quota id -> 12 weights by fiscal month (summing to 1): an annual quota's periods."""
    plan_year_start_month: int | None = None
    """The plan's own year (1-12), for windows with ``year: plan``."""
    measures_by_id: Mapping[str, Measure] = field(default_factory=dict, compare=False)

    def measure(self, measure_id: str) -> Measure:
        """Return the measure called ``measure_id``."""
        return self.measures_by_id[measure_id]


# --------------------------------------------------------------------------- errors


class PlanValidationError(ValueError):
    """Raised by :func:`parse_plan` with every problem found, each prefixed by its path."""

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors: tuple[str, ...] = tuple(errors)
        super().__init__("invalid plan:\n" + "\n".join(f"  {e}" for e in self.errors))


_MISSING: Final = object()
T = TypeVar("T")


class _Reader:
    """Walk a mapping by path, converting values and collecting errors instead of raising."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def error(self, path: str, message: str) -> None:
        self.errors.append(f"{path}: {message}")

    def mapping(self, value: object, path: str) -> Mapping[str, Any] | None:
        if not isinstance(value, Mapping):
            self.error(path, "must be an object")
            return None
        return cast(Mapping[str, Any], value)

    def known(self, data: Mapping[str, Any], path: str, allowed: Sequence[str]) -> None:
        for key in data:
            if key not in allowed:
                self.error(_join(path, str(key)), "unknown field")

    def get(
        self,
        data: Mapping[str, Any],
        path: str,
        key: str,
        convert: Callable[[object, str], T | None],
        *,
        required: bool = False,
        default: T | None = None,
    ) -> T | None:
        value = data.get(key, _MISSING)
        sub = _join(path, key)
        if value is _MISSING or value is None:
            if required:
                self.error(sub, "is required")
            return default
        return convert(value, sub)

    def text(self, value: object, path: str) -> str | None:
        if isinstance(value, bool) or not isinstance(value, str | int):
            self.error(path, "must be a string")
            return None
        text = str(value)
        if not text:
            self.error(path, "must not be empty")
            return None
        return text

    def integer(self, value: object, path: str) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(path, "must be an integer")
            return None
        return value

    def boolean(self, value: object, path: str) -> bool | None:
        if not isinstance(value, bool):
            self.error(path, "must be true or false")
            return None
        return value

    def number(self, value: object, path: str) -> Decimal | None:
        if isinstance(value, float):
            value = repr(value)
        try:
            return to_decimal(value)
        except ValueError:
            self.error(path, "must be a number")
            return None

    def non_negative(self, value: object, path: str) -> Decimal | None:
        number = self.number(value, path)
        if number is not None and number < 0:
            self.error(path, "must be >= 0")
            return None
        return number

    def positive(self, value: object, path: str) -> Decimal | None:
        number = self.number(value, path)
        if number is not None and number <= 0:
            self.error(path, "must be > 0")
            return None
        return number

    def date(self, value: object, path: str) -> dt.date | None:
        if isinstance(value, dt.datetime):
            self.error(path, "must be a date (YYYY-MM-DD), not a date-time")
            return None
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                pass
        self.error(path, "must be a date (YYYY-MM-DD)")
        return None

    def choice(self, options: Sequence[str]) -> Callable[[object, str], str | None]:
        def convert(value: object, path: str) -> str | None:
            if value not in options:
                self.error(path, f"must be one of {', '.join(options)}")
                return None
            return cast(str, value)

        return convert

    def strings(self, value: object, path: str) -> tuple[str, ...] | None:
        if isinstance(value, str):
            return (value,)
        if not isinstance(value, list):
            self.error(path, "must be a list of strings")
            return None
        out = [self.text(v, f"{path}[{i}]") for i, v in enumerate(value)]
        return tuple(v for v in out if v is not None)

    def items(self, value: object, path: str) -> list[tuple[str, Mapping[str, Any]]]:
        if not isinstance(value, list):
            self.error(path, "must be a list")
            return []
        out = []
        for i, item in enumerate(value):
            sub = f"{path}[{i}]"
            data = self.mapping(item, sub)
            if data is not None:
                out.append((sub, data))
        return out


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# --------------------------------------------------------------------------- names


def key_words(key: object) -> str:
    """Return an id or field key in words: ``per_qualified_meeting`` → ``Per qualified meeting``."""
    text = str(key).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def component_title(component_id: str, name: object = "") -> str:
    """Return what a page calls a component: the plan's own ``name`` for it when it has one,
    else its id in words (the one rule; ``plans.selectors.component_names`` looks names up)."""
    return str(name or "").strip() or key_words(component_id)


def spec_component_titles(spec: object) -> dict[str, str]:
    """Return each component id of a plan spec as stored (parsed or not) → its title."""
    items = spec.get("components") if isinstance(spec, Mapping) else None
    return {
        str(c["id"]): component_title(str(c["id"]), c.get("name"))
        for c in items or ()
        if isinstance(c, Mapping) and c.get("id") not in (None, "")
    }


# --------------------------------------------------------------------------- parsing


def load_plan(text: str) -> Plan:
    """Parse a plan from JSON or YAML text."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise PlanValidationError([f"$: not valid JSON or YAML ({exc})"]) from exc
    return parse_plan(data)


def validate_plan(data: object) -> list[str]:
    """Return every validation error of the plan ``data`` (empty when it is valid)."""
    try:
        parse_plan(data)
    except PlanValidationError as exc:
        return list(exc.errors)
    return []


def parse_plan(data: object) -> Plan:
    """Parse and validate a plan mapping; raise PlanValidationError listing every problem."""
    r = _Reader()
    root = r.mapping(data, "$")
    if root is None:
        raise PlanValidationError(r.errors)
    r.known(root, "", PLAN_FIELDS)
    version = r.get(root, "", "version", r.integer, required=True)
    if version is not None and version != FORMAT_VERSION:
        r.error("version", f"must be {FORMAT_VERSION}")
    plan_id = r.get(root, "", "id", r.text, required=True) or ""
    name = r.get(root, "", "name", r.text, default="") or ""
    currency = r.get(root, "", "currency", _currency(r), required=True) or "USD"
    frequency = r.get(root, "", "payout_frequency", r.choice(PAYOUT_FREQUENCIES), default="monthly")
    rounding = _rounding(r, root.get("rounding"), currency)
    proration = "days_x_allocation"
    mid_month_day = 15
    if root.get("proration") is not None:
        pr = r.mapping(root["proration"], "proration")
        if pr is not None:
            r.known(pr, "proration", ("policy", "mid_month_day"))
            proration = (
                r.get(pr, "proration", "policy", r.choice(PRORATION_POLICIES), required=True)
                or proration
            )
            day = r.get(pr, "proration", "mid_month_day", r.integer)
            if day is not None and not proration.startswith("months"):
                r.error("proration.mid_month_day", "only applies to the months policies")
            elif day is not None and not 1 <= day <= 28:
                r.error("proration.mid_month_day", "must be a day from 1 to 28")
            elif day is not None:
                mid_month_day = day
    parsed = [
        (path, m)
        for path, item in r.items(root.get("measures", []), "measures")
        if (m := _measure(r, item, path)) is not None
    ]
    measures = _own_plan_sources(_check_formulas(r, parsed), plan_id)
    measure_ids = [m.id for m in measures]
    _unique(r, measure_ids, "measures")
    components = tuple(
        c
        for path, item in r.items(root.get("components"), "components")
        if (c := _component(r, item, path)) is not None
    )
    if "components" in root and not components and isinstance(root["components"], list):
        r.error("components", "must have at least one component")
    _unique(r, [c.id for c in components], "components")
    draw = _draw(r, root.get("draw"))
    ramp = tuple(
        s
        for path, item in r.items(root.get("ramp", []), "ramp")
        if (s := _ramp_step(r, item, path)) is not None
    )
    plan = Plan(
        id=plan_id,
        name=name,
        version=FORMAT_VERSION,
        currency=currency,
        payout_frequency=frequency or "monthly",
        rounding=rounding,
        proration=proration,
        mid_month_day=mid_month_day,
        measures=measures,
        components=components,
        draw=draw,
        ramp=ramp,
        modifiers=_modifiers(r, root.get("modifiers"), "modifiers"),
        seasonality=_seasonality(r, root.get("seasonality")),
        team_quota=r.get(root, "", "team_quota", r.choice(TEAM_QUOTAS), default="given") or "given",
        plan_year_start_month=_plan_year(r, root),
        measures_by_id={m.id: m for m in measures},
    )
    _cross_check(r, plan, root)
    _check_earned(r, plan, root)
    _check_windows(r, plan, root)
    if r.errors:
        raise PlanValidationError(r.errors)
    return plan


PLAN_FIELDS: Final = (
    "version",
    "id",
    "name",
    "currency",
    "payout_frequency",
    "rounding",
    "proration",
    "measures",
    "components",
    "draw",
    "ramp",
    "modifiers",
    "seasonality",
    "team_quota",
    "plan_year_start_month",
    "description",
)


def _seasonality(r: _Reader, value: object) -> tuple[tuple[str, tuple[Decimal, ...]], ...]:
    """Parse ``{quota id: [12 weights by fiscal month]}``; the weights must sum to 1."""
    if value is None:
        return ()
    data = r.mapping(value, "seasonality")
    out = []
    for key, raw in (data or {}).items():
        path = f"seasonality.{key}"
        if not isinstance(raw, list) or len(raw) != 12:
            r.error(path, "must list 12 weights, one per fiscal month (month 1 first)")
            continue
        weights = [r.non_negative(w, f"{path}[{i}]") for i, w in enumerate(raw)]
        if any(w is None for w in weights):
            continue
        exact = tuple(w for w in weights if w is not None)
        if sum(exact) != 1:
            r.error(path, f"weights must sum to 1 (they sum to {sum(exact)})")
            continue
        out.append((str(key), exact))
    return tuple(sorted(out))


def _currency(r: _Reader) -> Callable[[object, str], str | None]:
    def convert(value: object, path: str) -> str | None:
        if not isinstance(value, str) or not is_currency_code(value):
            r.error(path, "must be an ISO 4217 code such as USD")
            return None
        return value

    return convert


def _unique(r: _Reader, ids: Sequence[str], path: str) -> None:
    seen: set[str] = set()
    for i, item in enumerate(ids):
        if item in seen:
            r.error(f"{path}[{i}].id", f"duplicate id {item!r}")
        seen.add(item)


def _rounding(r: _Reader, value: object, currency: str) -> Rounding:
    if value is None:
        return Rounding("half_up", currency)
    data = r.mapping(value, "rounding")
    if data is None:
        return Rounding("half_up", currency)
    r.known(data, "rounding", ("mode", "currency"))
    mode = r.get(data, "rounding", "mode", r.choice(ROUNDING_MODES), default="half_up")
    cur = r.get(data, "rounding", "currency", _currency(r), default=currency)
    return Rounding(cast(RoundingMode, mode or "half_up"), cur or currency)


def _filter(r: _Reader, value: object, path: str) -> Filter:
    if value is None:
        return Filter()
    data = r.mapping(value, path)
    if data is None:
        return Filter()
    r.known(data, path, ("transaction_types", "attributes", "credit_kinds", "where"))
    types: tuple[str, ...] = r.get(data, path, "transaction_types", r.strings) or ()
    kinds: tuple[str, ...] = r.get(data, path, "credit_kinds", r.strings) or ()
    for i, kind in enumerate(kinds):
        if kind not in CREDIT_KINDS:
            r.error(f"{path}.credit_kinds[{i}]", f"must be one of {', '.join(CREDIT_KINDS)}")
    attrs: list[tuple[str, tuple[str, ...]]] = []
    if data.get("attributes") is not None:
        amap = r.mapping(data["attributes"], f"{path}.attributes")
        for key, val in (amap or {}).items():
            values = r.strings(val, f"{path}.attributes.{key}")
            if values is not None:
                attrs.append((str(key), values))
    conditions = tuple(
        cond
        for sub, item in r.items(data.get("where", []), f"{path}.where")
        if (cond := _condition(r, item, sub)) is not None
    )
    return Filter(tuple(types), tuple(sorted(attrs)), tuple(kinds), conditions)


CONDITION_OPS: Final = (">=", ">", "<=", "<", "between", "in", "not_in")


def _condition(r: _Reader, data: Mapping[str, Any], path: str) -> Condition | None:
    """Parse one ``where`` condition: ``{field | days, op, value}``."""
    r.known(data, path, ("field", "days", "op", "value"))
    op = r.get(data, path, "op", r.choice(CONDITION_OPS), required=True)
    field_name = r.get(data, path, "field", r.text)
    days_from = days_to = None
    if data.get("days") is not None:
        sub = f"{path}.days"
        span = r.mapping(data["days"], sub)
        if span is not None:
            r.known(span, sub, ("from", "to"))
            days_from = r.get(span, sub, "from", r.text, required=True)
            days_to = r.get(span, sub, "to", r.text, default="date") or "date"
    if ("field" in data) == ("days" in data):
        r.error(path, "needs exactly one of field (amount, date or an attribute), days")
        return None
    if "value" not in data:
        r.error(f"{path}.value", "is required")
        return None
    if op is None or (field_name is None and days_from is None):
        return None
    raw = data["value"]
    many = op in ("between", "in", "not_in")
    items = raw if isinstance(raw, list) else [raw]
    if many and not isinstance(raw, list):
        r.error(f"{path}.value", f"must be a list for {op}")
        return None
    if not many and isinstance(raw, list):
        r.error(f"{path}.value", f"must be one value for {op}")
        return None
    if op == "between" and len(items) != 2:
        r.error(f"{path}.value", "must be [low, high] for between")
        return None
    if many and not items:
        r.error(f"{path}.value", f"must list at least one value for {op}")
        return None
    kind = _condition_kind(items)
    if (field_name == "amount" or days_from is not None) and kind != "number":
        subject = "a number of days" if days_from is not None else "the credited amount"
        r.error(f"{path}.value", f"{subject} compares with numbers")
        return None
    if field_name == "date" and kind != "date":
        r.error(f"{path}.value", "the credit date compares with dates (YYYY-MM-DD)")
        return None
    if kind == "text" and op not in ("in", "not_in"):
        r.error(f"{path}.value", f"{op} compares numbers or dates (YYYY-MM-DD), not text")
        return None
    if kind == "mixed":
        r.error(f"{path}.value", "must be all numbers, all dates or all text")
        return None
    values: list[Any] = []
    for i, item in enumerate(items):
        where = f"{path}.value[{i}]" if many else f"{path}.value"
        got = (
            r.number(item, where)
            if kind == "number"
            else r.date(item, where)
            if kind == "date"
            else r.text(item, where)
        )
        if got is None:
            return None
        values.append(got)
    if op == "between" and values[0] > values[1]:
        r.error(f"{path}.value", "low must not be above high")
        return None
    return Condition(op, tuple(values), kind, field_name, days_from, days_to or "date")


def _condition_kind(items: Sequence[object]) -> str:
    """Return how a condition's values read: number, date, text (or mixed)."""
    kinds = set()
    for item in items:
        if isinstance(item, bool):
            kinds.add("text")
        elif isinstance(item, int | float | Decimal):
            kinds.add("number")
        elif isinstance(item, dt.date) or (isinstance(item, str) and _is_date(item)):
            kinds.add("date")
        elif isinstance(item, str) and _is_number(item):
            kinds.add("number")
        else:
            kinds.add("text")
    return kinds.pop() if len(kinds) == 1 else "mixed"


def _is_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == 10


MEASURE_FIELDS: Final = (
    "id",
    "aggregate",
    "filter",
    "numerator",
    "denominator",
    "kpi",
    "scope",
    "formula",
    "unit",
    "earned",
    "window",
    "description",
)


def _measure(r: _Reader, data: Mapping[str, Any], path: str) -> Measure | None:
    r.known(data, path, MEASURE_FIELDS)
    mid = r.get(data, path, "id", r.text, required=True)
    agg = r.get(data, path, "aggregate", r.choice(AGGREGATES), required=True)
    flt = _filter(r, data.get("filter"), f"{path}.filter")
    num = r.get(data, path, "numerator", r.text)
    den = r.get(data, path, "denominator", r.text)
    kpi = r.get(data, path, "kpi", r.text)
    scope = r.get(data, path, "scope", r.choice(KPI_SCOPES), default="person") or "person"
    if agg == "ratio" and (num is None or den is None):
        for key, val in (("numerator", num), ("denominator", den)):
            if val is None and key not in data:
                r.error(f"{path}.{key}", "is required for a ratio")
    if agg == "kpi" and kpi is None and "kpi" not in data:
        r.error(f"{path}.kpi", "is required for a kpi measure")
    formula = None
    text = r.get(data, path, "formula", r.text)
    if agg == "formula":
        if text is None and "formula" not in data:
            r.error(f"{path}.formula", "is required for a formula measure")
        elif text is not None:
            formula = _formula(r, text, f"{path}.formula")
    elif "formula" in data:
        r.error(f"{path}.formula", "only a measure with aggregate: formula has a formula")
    unit = r.get(data, path, "unit", r.choice(UNITS))
    if unit is not None and agg in FIXED_UNITS and unit != FIXED_UNITS[agg]:
        r.error(f"{path}.unit", f"a {agg} measure is always {FIXED_UNITS[agg]}")
    window = _measure_window(r, data.get("window"), f"{path}.window", agg)
    if mid is None or agg is None:
        return None
    declared = cast(Unit, unit or FIXED_UNITS.get(agg, "ratio" if agg == "kpi" else "number"))
    earned = _earned_source(r, data, path, agg)
    return Measure(
        mid, cast(Aggregate, agg), flt, num, den, kpi, scope, formula, declared, earned, window
    )


def _check_formulas(r: _Reader, parsed: Sequence[tuple[str, Measure]]) -> tuple[Measure, ...]:
    """Resolve every formula's names and units, in dependency order; refuse cycles."""
    by_id = {m.id: (path, m) for path, m in parsed}
    units: dict[str, Unit] = {"target_incentive": "money"}
    units.update({m.id: m.unit for _, m in parsed if m.formula is None})
    done: dict[str, Measure] = {}
    state: dict[str, str] = {}

    def visit(mid: str, chain: tuple[str, ...]) -> None:
        path, m = by_id[mid]
        if state.get(mid) == "done":
            return
        if state.get(mid) == "busy":
            cycle = " -> ".join((*chain[chain.index(mid) :], mid))
            r.error(f"{path}.formula", f"formulas refer to each other in a cycle: {cycle}")
            return
        state[mid] = "busy"
        assert m.formula is not None
        refs = [ref for ref in names(m.formula.tree) if ref in by_id and ref != "target_incentive"]
        for ref in refs:
            if by_id[ref][1].formula is not None:
                visit(ref, (*chain, mid))
        state[mid] = "done"
        if any(ref not in units for ref in refs):
            return  # a formula it reads is broken (or in a cycle): that one is reported
        try:
            checked = check(m.formula, units)
        except FormulaError as exc:
            r.error(f"{path}.formula", str(exc))
            return
        declared = m.unit
        unit = checked.unit
        if declared != "number" and unit not in ("number", declared):
            r.error(f"{path}.unit", f"is {declared}, but the formula gives {unit}")
            return
        final: Unit = declared if declared != "number" else unit
        if final == "number":
            final = "ratio"
        units[mid] = final
        settled = settle(checked, final)
        done[mid] = replace(m, formula=settled, unit=final)

    for _, m in parsed:
        if m.formula is not None:
            visit(m.id, ())
    return tuple(done.get(m.id, m) for _, m in parsed)


def _formula(r: _Reader, text: str, path: str) -> Formula | None:
    """Return the parsed formula, or record its syntax error with the character position."""
    try:
        return parse(text)
    except FormulaError as exc:
        r.error(path, str(exc))
        return None


def _tiers(r: _Reader, value: object, path: str) -> tuple[Tier, ...]:
    tiers: list[Tier] = []
    items = r.items(value, path)
    if isinstance(value, list) and not value:
        r.error(path, "must have at least one tier")
    for i, (sub, data) in enumerate(items):
        r.known(data, sub, ("from", "to", "rate"))
        start = r.get(data, sub, "from", r.non_negative, required=True)
        end = r.get(data, sub, "to", r.non_negative)
        rate = r.get(data, sub, "rate", r.non_negative, required=True)
        if start is not None and end is not None and end <= start:
            r.error(f"{sub}.to", "must be greater than from")
        if tiers and start is not None and tiers[-1].end != start:
            r.error(f"{sub}.from", "must equal the previous tier's to (tiers must be contiguous)")
        if i == 0 and start is not None and start != 0:
            r.error(f"{sub}.from", "the first tier must start at 0")
        if i < len(items) - 1 and end is None and "to" not in data:
            r.error(f"{sub}.to", "is required on every tier but the last")
        if start is not None and rate is not None:
            tiers.append(Tier(start, end, rate))
    return tuple(tiers)


def _rate_table(r: _Reader, value: object, path: str) -> RateTable | None:
    data = r.mapping(value, path)
    if data is None:
        return None
    r.known(data, path, ("convention", "basis", "tiers", "tier_by"))
    convention = r.get(data, path, "convention", r.choice(CONVENTIONS), required=True)
    basis = r.get(data, path, "basis", r.choice(TIER_BASES), default="amount") or "amount"
    tiers = _tiers(r, data.get("tiers"), f"{path}.tiers")
    if "tiers" not in data:
        r.error(f"{path}.tiers", "is required")
    tier_by = None
    if data.get("tier_by") is not None:
        sub = f"{path}.tier_by"
        tb = r.mapping(data["tier_by"], sub)
        if tb is not None:
            r.known(tb, sub, ("measure", "scope", "holder", "quota"))
            measure = r.get(tb, sub, "measure", r.text, required=True)
            scope = r.get(tb, sub, "scope", r.choice(GATE_SCOPES), default="self") or "self"
            holder = r.get(tb, sub, "holder", r.text)
            if scope != "self" and holder is None and "holder" not in tb:
                r.error(f"{sub}.holder", f"is required when scope is {scope}")
            if convention not in (None, "retroactive"):
                r.error(
                    f"{path}.convention",
                    "must be retroactive with tier_by (the other measure picks one tier, "
                    "whose rate pays the whole measure)",
                )
            if measure is not None:
                tier_by = TierBy(measure, scope, holder, r.get(tb, sub, "quota", r.text))
    if convention is None:
        return None
    return RateTable(cast(Convention, convention), basis, tiers, tier_by)


def _curve(r: _Reader, value: object, path: str) -> Curve | None:
    data = r.mapping(value, path)
    if data is None:
        return None
    r.known(data, path, ("points",))
    points: list[CurvePoint] = []
    items = r.items(data.get("points"), f"{path}.points")
    if not items and "points" not in data:
        r.error(f"{path}.points", "is required")
    for sub, item in items:
        r.known(item, sub, ("attainment", "payout"))
        att = r.get(item, sub, "attainment", r.non_negative, required=True)
        pay = r.get(item, sub, "payout", r.non_negative, required=True)
        if att is not None and points and att <= points[-1].attainment:
            r.error(f"{sub}.attainment", "must be greater than the previous point's")
        if att is not None and pay is not None:
            if points and pay < points[-1].payout:
                r.error(f"{sub}.payout", "must not be less than the previous point's")
            points.append(CurvePoint(att, pay))
    return Curve(tuple(points))


def _multiplier(r: _Reader, value: object, path: str, key: str) -> Multiplier | None:
    data = r.mapping(value, path)
    if data is None:
        return None
    r.known(data, path, (key, "multiplier"))
    att = r.get(data, path, key, r.non_negative, required=True)
    mult = r.get(data, path, "multiplier", r.non_negative, required=True)
    if att is None or mult is None:
        return None
    return Multiplier(att, mult)


def _limit(r: _Reader, value: object, path: str) -> Limit | None:
    data = r.mapping(value, path)
    if data is None:
        return None
    r.known(data, path, ("amount", "target_multiple"))
    amount = r.get(data, path, "amount", r.non_negative)
    multiple = r.get(data, path, "target_multiple", r.non_negative)
    if ("amount" in data) == ("target_multiple" in data):
        r.error(path, "needs exactly one of amount, target_multiple")
    return Limit(amount, multiple)


def _gate(r: _Reader, value: object, path: str) -> Gate | None:
    data = r.mapping(value, path)
    if data is None:
        return None
    r.known(data, path, GATE_FIELDS)
    measure = r.get(data, path, "measure", r.text, required=True)
    scope = r.get(data, path, "scope", r.choice(GATE_SCOPES), default="self") or "self"
    holder = r.get(data, path, "holder", r.text)
    quota = r.get(data, path, "quota", r.text)
    min_att = r.get(data, path, "min_attainment", r.non_negative)
    min_val = r.get(data, path, "min_value", r.number)
    of = r.get(data, path, "of", r.choice(GATE_OF), default="value") or "value"
    condition = None
    if "op" in data:
        condition = _numeric_condition(r, data, path)
    elif "value" in data or "of" in data:
        r.error(f"{path}.op", "is required with value and of")
    if sum(k in data for k in ("min_attainment", "min_value", "op")) != 1:
        r.error(path, "needs exactly one of min_attainment, min_value, op (with value)")
    if scope != "self" and holder is None and "holder" not in data:
        r.error(f"{path}.holder", f"is required when scope is {scope}")
    if measure is None:
        return None
    return Gate(measure, scope, holder, quota, min_att, min_val, condition, of)


GATE_FIELDS: Final = (
    "measure",
    "scope",
    "holder",
    "quota",
    "min_attainment",
    "min_value",
    "op",
    "value",
    "of",
)
GATE_OF: Final = ("value", "attainment")


def _numeric_condition(r: _Reader, data: Mapping[str, Any], path: str) -> Condition | None:
    """Parse ``op`` + ``value`` (a number, or a list for between / in / not_in)."""
    op = r.get(data, path, "op", r.choice(CONDITION_OPS), required=True)
    if "value" not in data:
        r.error(f"{path}.value", "is required with op")
        return None
    raw = data["value"]
    many = op in ("between", "in", "not_in")
    if op is None:
        return None
    if many != isinstance(raw, list):
        r.error(f"{path}.value", f"must be {'a list' if many else 'one number'} for {op}")
        return None
    items = raw if isinstance(raw, list) else [raw]
    values = [
        r.number(v, f"{path}.value[{i}]" if many else f"{path}.value") for i, v in enumerate(items)
    ]
    if any(v is None for v in values) or (many and not values):
        if many and not values:
            r.error(f"{path}.value", f"must list at least one number for {op}")
        return None
    numbers = [v for v in values if v is not None]
    if op == "between" and (len(numbers) != 2 or numbers[0] > numbers[1]):
        r.error(f"{path}.value", "must be [low, high] with low <= high for between")
        return None
    return Condition(op, tuple(numbers), "number")


COMPONENT_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "commission": (
        "measure",
        "quota",
        "rate",
        "rate_by_type",
        "per_unit",
        "rate_table",
        "accelerator",
        "decelerator",
        "per_transaction",
        "clawback",
        "hold_until_collected",
    ),
    "attainment_bonus": ("measure", "quota", "curve"),
    "kpi_bonus": ("kpis", "kpi_gate"),
    "mbo": ("objectives", "max_completion"),
    "hybrid": ("parts", "curve"),
    "team_pool": (
        "teams",
        "milestone",
        "pool",
        "split",
        "split_kpi",
        "retained_share",
        "reserve",
    ),
    "spif": ("filter", "window", "amount", "frequency"),
    "profit_share": (
        "kpi",
        "value",
        "source_node",
        "share",
        "split",
        "split_kpi",
        "retained_share",
        "reserve",
    ),
    "gainshare": (
        "kpi",
        "value",
        "source_node",
        "share",
        "baseline",
        "split",
        "split_kpi",
        "retained_share",
        "reserve",
    ),
    "retention_bonus": ("filter", "months", "months_attribute", "amount"),
    "fixed_pay": ("amount",),
    "payout_pool": ("measure", "share", "split", "split_kpi", "retained_share", "reserve"),
}
COMMON_COMPONENT_FIELDS: Final = (
    "id",
    "type",
    "name",
    "description",
    "gate",
    "cap",
    "floor",
    "modifiers",
    "instalments",
    "settle",
)
MODIFIER_FIELDS: Final = (
    "measure",
    "scope",
    "holder",
    "quota",
    "of",
    "curve",
    "min",
    "max",
    "apply",
)
MODIFIER_ORDERS: Final = ("before_cap", "after_cap")


def _instalments(r: _Reader, value: object, path: str) -> int | None:
    if value is None:
        return None
    data = r.mapping(value, path)
    if data is None:
        return None
    r.known(data, path, ("periods",))
    periods = r.get(data, path, "periods", r.integer, required=True)
    if periods is not None and periods < 2:
        r.error(f"{path}.periods", "must be >= 2 (1 is paying it all now)")
        return None
    return periods


def _modifiers(r: _Reader, value: object, path: str) -> tuple[Modifier, ...]:
    if value is None:
        return ()
    out = []
    for sub, data in r.items(value, path):
        r.known(data, sub, MODIFIER_FIELDS)
        measure = r.get(data, sub, "measure", r.text, required=True)
        scope = r.get(data, sub, "scope", r.choice(GATE_SCOPES), default="self") or "self"
        holder = r.get(data, sub, "holder", r.text)
        if scope != "self" and holder is None and "holder" not in data:
            r.error(f"{sub}.holder", f"is required when scope is {scope}")
        of = r.get(data, sub, "of", r.choice(GATE_OF), default="value") or "value"
        curve = r.get(data, sub, "curve", lambda v, p: _curve(r, v, p))
        low = r.get(data, sub, "min", r.non_negative)
        high = r.get(data, sub, "max", r.non_negative)
        if low is not None and high is not None and low > high:
            r.error(f"{sub}.max", "must not be below min")
        order = r.get(data, sub, "apply", r.choice(MODIFIER_ORDERS), default="before_cap")
        quota = r.get(data, sub, "quota", r.text)
        if measure is not None:
            out.append(
                Modifier(measure, scope, holder, quota, of, curve, low, high, order or "before_cap")
            )
    return tuple(out)


def _component(r: _Reader, data: Mapping[str, Any], path: str) -> Component | None:
    ctype = r.get(data, path, "type", r.choice(COMPONENT_TYPES), required=True)
    cid = r.get(data, path, "id", r.text, required=True)
    if ctype is None:
        return None
    r.known(data, path, COMMON_COMPONENT_FIELDS + COMPONENT_FIELDS[ctype])
    kw: dict[str, Any] = {
        "name": r.get(data, path, "name", r.text, default="") or "",
        "gate": _gate(r, data["gate"], f"{path}.gate") if data.get("gate") else None,
        "cap": _limit(r, data["cap"], f"{path}.cap") if data.get("cap") else None,
        "floor": _limit(r, data["floor"], f"{path}.floor") if data.get("floor") else None,
        "modifiers": _modifiers(r, data.get("modifiers"), f"{path}.modifiers"),
        "instalments": _instalments(r, data.get("instalments"), f"{path}.instalments"),
        "settle": r.get(data, path, "settle", r.choice(SETTLE_BASES), default="period") or "period",
    }
    handler = _COMPONENT_PARSERS[ctype]
    handler(r, data, path, kw)
    if cid is None:
        return None
    return Component(id=cid, type=ctype, **kw)


def _parse_commission(r: _Reader, data: Mapping[str, Any], path: str, kw: dict[str, Any]) -> None:
    kw["measure"] = r.get(data, path, "measure", r.text, required=True)
    kw["quota"] = r.get(data, path, "quota", r.text)
    kw["rate"] = r.get(data, path, "rate", r.non_negative)
    kw["per_unit"] = r.get(data, path, "per_unit", r.non_negative)
    if data.get("rate_by_type") is not None:
        rbt = r.mapping(data["rate_by_type"], f"{path}.rate_by_type")
        pairs = []
        for key, val in (rbt or {}).items():
            rate = r.non_negative(val, f"{path}.rate_by_type.{key}")
            if rate is not None:
                pairs.append((str(key), rate))
        kw["rate_by_type"] = tuple(sorted(pairs))
    if data.get("rate_table") is not None:
        kw["rate_table"] = _rate_table(r, data["rate_table"], f"{path}.rate_table")
    present = [k for k in ("rate", "rate_by_type", "per_unit", "rate_table") if k in data]
    if len(present) != 1:
        r.error(path, "needs exactly one of rate, rate_by_type, per_unit, rate_table")
    if data.get("accelerator") is not None:
        kw["accelerator"] = _multiplier(r, data["accelerator"], f"{path}.accelerator", "above")
    if data.get("decelerator") is not None:
        kw["decelerator"] = _multiplier(r, data["decelerator"], f"{path}.decelerator", "below")
    if data.get("per_transaction") is not None:
        sub = f"{path}.per_transaction"
        pt = r.mapping(data["per_transaction"], sub)
        if pt is not None:
            r.known(pt, sub, ("cap", "floor"))
            kw["per_transaction_cap"] = r.get(pt, sub, "cap", r.non_negative)
            kw["per_transaction_floor"] = r.get(pt, sub, "floor", r.non_negative)
    if data.get("clawback") is not None:
        sub = f"{path}.clawback"
        cb = r.mapping(data["clawback"], sub)
        if cb is not None:
            r.known(cb, sub, ("window_days", "share", "scale"))
            days = r.get(cb, sub, "window_days", r.integer)
            if days is not None and days < 0:
                r.error(f"{sub}.window_days", "must be >= 0")
            kw["clawback_window_days"] = days
            if ("window_days" in cb) == ("scale" in cb):
                r.error(sub, "needs exactly one of window_days, scale")
            if "share" in cb and "scale" in cb:
                r.error(f"{sub}.share", "a scale gives each step its own share")
            share = r.get(cb, sub, "share", r.non_negative, default=Decimal(1))
            if share is not None and share > 1:
                r.error(f"{sub}.share", "must be at most 1 (100 %)")
            kw["clawback_share"] = share if share is not None else Decimal(1)
            scale: list[ClawbackStep] = []
            for item_path, item in r.items(cb.get("scale", []), f"{sub}.scale"):
                r.known(item, item_path, ("through_month", "share"))
                month = r.get(item, item_path, "through_month", r.integer, required=True)
                part = r.get(item, item_path, "share", r.non_negative, required=True)
                if month is not None and month < 1:
                    r.error(f"{item_path}.through_month", "must be >= 1 (month 1 is the first)")
                elif month is not None and scale and month <= scale[-1].through_month:
                    r.error(f"{item_path}.through_month", "must be after the previous step's")
                if part is not None and part > 1:
                    r.error(f"{item_path}.share", "must be at most 1 (100 %)")
                if month is not None and part is not None:
                    scale.append(ClawbackStep(month, part))
            if "scale" in cb and not scale and isinstance(cb.get("scale"), list):
                r.error(f"{sub}.scale", "must have at least one step")
            kw["clawback_scale"] = tuple(scale)
    kw["hold_until_collected"] = bool(
        r.get(data, path, "hold_until_collected", r.boolean, default=False)
    )


def _parse_attainment_bonus(
    r: _Reader, data: Mapping[str, Any], path: str, kw: dict[str, Any]
) -> None:
    kw["measure"] = r.get(data, path, "measure", r.text, required=True)
    kw["quota"] = r.get(data, path, "quota", r.text)
    kw["curve"] = r.get(data, path, "curve", lambda v, p: _curve(r, v, p), required=True)


def _parse_kpi_bonus(r: _Reader, data: Mapping[str, Any], path: str, kw: dict[str, Any]) -> None:
    kpis = []
    items = r.items(data.get("kpis"), f"{path}.kpis")
    if "kpis" not in data:
        r.error(f"{path}.kpis", "is required")
    elif not 1 <= len(items) <= 6:
        r.error(f"{path}.kpis", "must have between 1 and 6 KPIs")
    for sub, item in items:
        r.known(item, sub, ("measure", "weight", "curve", "target", "direction"))
        measure = r.get(item, sub, "measure", r.text, required=True)
        weight = r.get(item, sub, "weight", r.non_negative, required=True)
        curve = r.get(item, sub, "curve", lambda v, p: _curve(r, v, p), required=True)
        target = r.get(item, sub, "target", r.positive)
        direction = r.get(item, sub, "direction", r.choice(DIRECTIONS), default="higher_is_better")
        if measure is not None and weight is not None and curve is not None:
            kpis.append(Kpi(measure, weight, curve, target, direction or "higher_is_better"))
    _weights_sum_to_one(r, [k.weight for k in kpis], f"{path}.kpis", len(items))
    kw["kpis"] = tuple(kpis)
    if data.get("kpi_gate") is not None:
        sub = f"{path}.kpi_gate"
        g = r.mapping(data["kpi_gate"], sub)
        if g is not None:
            r.known(g, sub, ("measure", "min"))
            on = r.get(g, sub, "measure", r.text, required=True)
            low = r.get(g, sub, "min", r.non_negative, required=True)
            if on is not None and low is not None:
                if on != "weighted_total" and on not in {k.measure for k in kpis}:
                    r.error(
                        f"{sub}.measure", "must be weighted_total or the measure of one of the kpis"
                    )
                kw["kpi_gate"] = KpiGate(on, low)


def _weights_sum_to_one(r: _Reader, weights: Sequence[Decimal], path: str, expected: int) -> None:
    if weights and len(weights) == expected and sum(weights) != 1:
        r.error(path, f"weights must sum to 1 (they sum to {sum(weights)})")


def _parse_mbo(r: _Reader, data: Mapping[str, Any], path: str, kw: dict[str, Any]) -> None:
    objectives = []
    items = r.items(data.get("objectives"), f"{path}.objectives")
    if "objectives" not in data:
        r.error(f"{path}.objectives", "is required")
    for sub, item in items:
        r.known(item, sub, ("id", "weight"))
        oid = r.get(item, sub, "id", r.text, required=True)
        weight = r.get(item, sub, "weight", r.non_negative, required=True)
        if oid is not None and weight is not None:
            objectives.append(Objective(oid, weight))
    _weights_sum_to_one(r, [o.weight for o in objectives], f"{path}.objectives", len(items))
    kw["objectives"] = tuple(objectives)
    kw["max_completion"] = r.get(data, path, "max_completion", r.positive, default=Decimal(1))


def _parse_hybrid(r: _Reader, data: Mapping[str, Any], path: str, kw: dict[str, Any]) -> None:
    parts = []
    items = r.items(data.get("parts"), f"{path}.parts")
    if "parts" not in data:
        r.error(f"{path}.parts", "is required")
    for sub, item in items:
        r.known(item, sub, ("weight", "measure", "scope", "node", "quota"))
        weight = r.get(item, sub, "weight", r.non_negative, required=True)
        measure = r.get(item, sub, "measure", r.text, required=True)
        scope = r.get(item, sub, "scope", r.choice(PART_SCOPES), default="self") or "self"
        node = r.get(item, sub, "node", r.text)
        quota = r.get(item, sub, "quota", r.text)
        if scope == "node" and node is None and "node" not in item:
            r.error(f"{sub}.node", "is required when scope is node (a node id or 'own')")
        if weight is not None and measure is not None:
            parts.append(Part(weight, measure, scope, node, quota))
    _weights_sum_to_one(r, [p.weight for p in parts], f"{path}.parts", len(items))
    kw["parts"] = tuple(parts)
    kw["curve"] = r.get(data, path, "curve", lambda v, p: _curve(r, v, p), required=True)


def _parse_team_pool(r: _Reader, data: Mapping[str, Any], path: str, kw: dict[str, Any]) -> None:
    kw["teams"] = r.get(data, path, "teams", r.strings, required=True) or ()
    if "teams" in data and not kw["teams"]:
        r.error(f"{path}.teams", "must name at least one team (node id)")
    sub = f"{path}.milestone"
    ms = r.get(data, path, "milestone", r.mapping, required=True)
    if ms is not None:
        r.known(ms, sub, ("measure", "quota", "min_attainment"))
        kw["measure"] = r.get(ms, sub, "measure", r.text, required=True)
        kw["quota"] = r.get(ms, sub, "quota", r.text)
        kw["milestone_min_attainment"] = r.get(
            ms, sub, "min_attainment", r.non_negative, required=True
        )
    sub = f"{path}.pool"
    pool = r.get(data, path, "pool", r.mapping, required=True)
    if pool is not None:
        r.known(pool, sub, ("amount",))
        kw["pool_amount"] = r.get(pool, sub, "amount", r.non_negative, required=True)
    _pool_split(r, data, path, kw)


def _pool_split(r: _Reader, data: Mapping[str, Any], path: str, kw: dict[str, Any]) -> None:
    """Parse how a pool is split: the method, its KPI weights, the company-retained share."""
    kw["split"] = r.get(data, path, "split", r.choice(SPLIT_METHODS), default="target_incentive")
    kw["split_kpi"] = r.get(data, path, "split_kpi", r.text)
    if kw["split"] == "kpi" and kw["split_kpi"] is None and "split_kpi" not in data:
        r.error(f"{path}.split_kpi", "is required when split is kpi (the KPI holding weights)")
    if kw["split"] != "kpi" and "split_kpi" in data:
        r.error(f"{path}.split_kpi", "only applies when split is kpi")
    retained = r.get(data, path, "retained_share", r.non_negative, default=Decimal(0))
    if retained is not None and retained >= 1:
        r.error(f"{path}.retained_share", "must be below 1 (100 %)")
    kw["retained_share"] = retained if retained is not None else Decimal(0)
    kw["reserve"] = _reserve(r, data.get("reserve"), f"{path}.reserve")


def _parse_spif(r: _Reader, data: Mapping[str, Any], path: str, kw: dict[str, Any]) -> None:
    kw["filter"] = _filter(r, data.get("filter"), f"{path}.filter")
    sub = f"{path}.window"
    win = r.get(data, path, "window", r.mapping, required=True)
    if win is not None:
        r.known(win, sub, ("start", "end"))
        start = r.get(win, sub, "start", r.date, required=True)
        end = r.get(win, sub, "end", r.date, required=True)
        if start is not None and end is not None:
            if end <= start:
                r.error(f"{sub}.end", "must be after start")
            kw["window"] = Window(start, end)
    kw["amount"] = r.get(data, path, "amount", r.non_negative, required=True)
    kw["frequency"] = r.get(data, path, "frequency", r.choice(SPIF_FREQUENCIES), default="every")


POOL_FORMULA_HINT: Final = "a pool formula reads kpi(name) of the source node and numbers"


def _pool_formula(r: _Reader, value: object, path: str) -> Formula | None:
    """Return a pool figure written as a formula over the source node's KPIs (checked)."""
    text = r.text(value, path)
    if text is None:
        return None
    formula = _formula(r, text, path)
    if formula is None:
        return None
    try:
        checked = check(formula, {}, known=POOL_FORMULA_HINT, functions=POOL_FUNCTIONS)
    except FormulaError as exc:
        r.error(path, str(exc))
        return None
    return settle(checked, "money")


def _parse_profit_share(r: _Reader, data: Mapping[str, Any], path: str, kw: dict[str, Any]) -> None:
    kw["kpi"] = r.get(data, path, "kpi", r.text)
    if data.get("value") is not None:
        kw["value_formula"] = _pool_formula(r, data["value"], f"{path}.value")
    if ("kpi" in data) == ("value" in data):
        r.error(path, "needs exactly one of kpi, value (a formula over the source node's KPIs)")
    kw["source_node"] = r.get(data, path, "source_node", r.text, required=True)
    kw["share"] = r.get(data, path, "share", r.non_negative, required=True)
    _pool_split(r, data, path, kw)


def _parse_gainshare(r: _Reader, data: Mapping[str, Any], path: str, kw: dict[str, Any]) -> None:
    _parse_profit_share(r, data, path, kw)
    raw = data.get("baseline")
    if isinstance(raw, str) and not _is_number(raw):
        kw["baseline_formula"] = _pool_formula(r, raw, f"{path}.baseline")
    else:
        kw["baseline"] = r.get(data, path, "baseline", r.number, required=True)


def _is_number(text: str) -> bool:
    try:
        to_decimal(text)
    except ValueError:
        return False
    return True


def _parse_retention(r: _Reader, data: Mapping[str, Any], path: str, kw: dict[str, Any]) -> None:
    kw["filter"] = _filter(r, data.get("filter"), f"{path}.filter")
    months = r.get(data, path, "months", r.integer, required=True)
    if months is not None and months < 1:
        r.error(f"{path}.months", "must be >= 1")
    kw["months"] = months
    kw["months_attribute"] = (
        r.get(data, path, "months_attribute", r.text, default="months_retained")
        or "months_retained"
    )
    kw["amount"] = r.get(data, path, "amount", r.non_negative, required=True)


def _parse_fixed_pay(r: _Reader, data: Mapping[str, Any], path: str, kw: dict[str, Any]) -> None:
    kw["amount"] = r.get(data, path, "amount", r.non_negative, required=True)


def _parse_payout_pool(r: _Reader, data: Mapping[str, Any], path: str, kw: dict[str, Any]) -> None:
    kw["measure"] = r.get(data, path, "measure", r.text, required=True)
    kw["share"] = r.get(data, path, "share", r.non_negative, required=True)
    _pool_split(r, data, path, kw)


_COMPONENT_PARSERS: Final[
    dict[str, Callable[[_Reader, Mapping[str, Any], str, dict[str, Any]], None]]
] = {
    "commission": _parse_commission,
    "attainment_bonus": _parse_attainment_bonus,
    "kpi_bonus": _parse_kpi_bonus,
    "mbo": _parse_mbo,
    "hybrid": _parse_hybrid,
    "team_pool": _parse_team_pool,
    "spif": _parse_spif,
    "profit_share": _parse_profit_share,
    "gainshare": _parse_gainshare,
    "retention_bonus": _parse_retention,
    "fixed_pay": _parse_fixed_pay,
    "payout_pool": _parse_payout_pool,
}


def _draw(r: _Reader, value: object) -> Draw | None:
    if value is None:
        return None
    data = r.mapping(value, "draw")
    if data is None:
        return None
    r.known(data, "draw", ("type", "amount", "max_recovery_per_period"))
    dtype = r.get(data, "draw", "type", r.choice(DRAW_TYPES), required=True)
    amount = r.get(data, "draw", "amount", r.non_negative, required=True)
    max_rec = r.get(data, "draw", "max_recovery_per_period", r.non_negative)
    if max_rec is not None and dtype == "non_recoverable":
        r.error("draw.max_recovery_per_period", "only applies to a recoverable draw")
    if dtype is None or amount is None:
        return None
    return Draw(dtype, amount, max_rec)


def _ramp_step(r: _Reader, data: Mapping[str, Any], path: str) -> RampStep | None:
    r.known(data, path, ("period", "quota_factor", "guarantee"))
    period = r.get(data, path, "period", r.integer, required=True)
    if period is not None and period < 1:
        r.error(f"{path}.period", "must be >= 1 (1 is the hire's first period)")
    factor = r.get(data, path, "quota_factor", r.non_negative, default=Decimal(1))
    guarantee = r.get(data, path, "guarantee", r.non_negative)
    if period is None:
        return None
    return RampStep(period, factor if factor is not None else Decimal(1), guarantee)


def pays_credit_by_credit(c: Component) -> bool:
    """Return whether a commission works credit by credit (per unit, type, limits, holds)."""
    return (
        c.per_unit is not None
        or bool(c.rate_by_type)
        or c.per_transaction_cap is not None
        or c.per_transaction_floor is not None
        or c.hold_until_collected
    )


def _cross_check(r: _Reader, plan: Plan, root: Mapping[str, Any]) -> None:
    """Check references between parts of the plan (measure ids, quota needs)."""
    ids = set(plan.measures_by_id)
    for i, m in enumerate(plan.measures):
        for key in ("numerator", "denominator"):
            ref = getattr(m, key)
            if ref is not None and ref not in ids:
                r.error(f"measures[{i}].{key}", f"unknown measure {ref!r}")
            if ref is not None and ref == m.id:
                r.error(f"measures[{i}].{key}", "a ratio cannot refer to itself")
    for j, mod in enumerate(plan.modifiers):
        if mod.measure not in ids:
            r.error(f"modifiers[{j}].measure", f"unknown measure {mod.measure!r}")
    raw_components = root.get("components")
    if not isinstance(raw_components, list):
        return
    index = {str(c.get("id")): i for i, c in enumerate(raw_components) if isinstance(c, Mapping)}
    for c in plan.components:
        path = f"components[{index.get(c.id, 0)}]"
        per_credit = pays_credit_by_credit(c)

        def ref(
            measure_id: str | None, where: str, *, sum_only: bool = False, per_credit: bool = False
        ) -> None:
            if measure_id is None:
                return
            if measure_id not in ids:
                r.error(where, f"unknown measure {measure_id!r}")
            elif sum_only:
                m = plan.measure(measure_id)
                if m.aggregate in ("formula", "earned") and per_credit:
                    r.error(
                        where,
                        f"a{'n' if m.aggregate == 'earned' else ''} {m.aggregate} measure has no "
                        "credits of its own: per_unit, rate_by_type, "
                        "per_transaction and hold_until_collected need a sum or count measure",
                    )
                elif m.aggregate == "formula" and m.unit == "ratio":
                    r.error(where, "must be money or a count (this formula gives a ratio)")
                elif m.aggregate not in ("sum", "count", "formula", "earned"):
                    r.error(where, "must be a sum, count, formula or earned measure")

        if c.rate_table is not None and c.rate_table.tier_by is not None:
            ref(c.rate_table.tier_by.measure, f"{path}.rate_table.tier_by.measure")
        if (
            c.rate_table is not None
            and c.rate_table.convention == "prospective"
            and c.measure in ids
            and plan.measure(c.measure).aggregate != "sum"
        ):
            r.error(
                f"{path}.measure",
                "a prospective rate table pays credit by credit: it needs a sum measure",
            )
        key = "milestone.measure" if c.type == "team_pool" else "measure"
        ref(c.measure, f"{path}.{key}", sum_only=c.type == "commission", per_credit=per_credit)
        if c.gate is not None:
            ref(c.gate.measure, f"{path}.gate.measure")
        for j, mod in enumerate(c.modifiers):
            ref(mod.measure, f"{path}.modifiers[{j}].measure")
        for j, k in enumerate(c.kpis):
            ref(k.measure, f"{path}.kpis[{j}].measure")
        for j, p in enumerate(c.parts):
            ref(p.measure, f"{path}.parts[{j}].measure")


# --------------------------------------------------------------------------- pay on others' pay
#
# An ``aggregate: earned`` measure adds up other payees' earned amounts of named components
# (a manager override on the team's commissions, commission on commissions, a pool that is a
# share of the team's payouts). The engine rewards the components it reads first: components
# are put in dependency levels (level 0 reads no earned amounts; level n reads components of
# levels below n), and a cycle - in one plan or across plans - is refused naming every plan
# and component in it. Pools may hold back a reserve until a later period.

EARNED_SCOPES: Final = ("team", "node", "person")
RESERVE_RELEASES: Final = ("year_end", "quarter_end")
POOL_TYPES: Final = ("team_pool", "profit_share", "gainshare", "payout_pool")
EARNED_FIELDS: Final = ("of", "scope", "holder", "label")
ComponentKey = tuple[str, str]
"""(plan id, component id)."""


def _earned_source(
    r: _Reader, data: Mapping[str, Any], path: str, agg: str | None
) -> EarnedSource | None:
    """Parse the ``earned`` source of an ``aggregate: earned`` measure (plan ids may be '')."""
    sub = f"{path}.earned"
    if agg != "earned":
        if "earned" in data:
            r.error(sub, "only a measure with aggregate: earned has an earned source")
        return None
    if "filter" in data:
        r.error(f"{path}.filter", "an earned measure adds up earned amounts, not credits")
    if "earned" not in data:
        r.error(sub, "is required for an earned measure (of, scope, holder)")
        return None
    src = r.mapping(data["earned"], sub)
    if src is None:
        return None
    r.known(src, sub, EARNED_FIELDS)
    pairs: list[tuple[str, str]] = []
    items = r.items(src["of"], f"{sub}.of") if "of" in src else []
    if "of" not in src:
        r.error(f"{sub}.of", "is required: the components whose earned amounts count")
    elif isinstance(src.get("of"), list) and not src["of"]:
        r.error(f"{sub}.of", "must name at least one component")
    for item_path, item in items:
        r.known(item, item_path, ("plan", "component"))
        plan = r.get(item, item_path, "plan", r.text, default="") or ""
        component = r.get(item, item_path, "component", r.text, required=True)
        if component is not None:
            if (plan, component) in pairs:
                r.error(item_path, f"{plan or 'this plan'}/{component} is listed twice")
            pairs.append((plan, component))
    scope = r.get(src, sub, "scope", r.choice(EARNED_SCOPES), default="team") or "team"
    holder = r.get(src, sub, "holder", r.text)
    if scope != "team" and holder is None and "holder" not in src:
        r.error(f"{sub}.holder", f"is required when scope is {scope}")
    if scope == "team" and "holder" in src:
        r.error(f"{sub}.holder", "the team is the reader's own node and below: no holder")
    label = r.get(src, sub, "label", r.text, default="") or ""
    return EarnedSource(tuple(pairs), scope, holder, label)


def _own_plan_sources(measures: tuple[Measure, ...], plan_id: str) -> tuple[Measure, ...]:
    """Return the measures with an earned source's omitted plan set to ``plan_id``."""
    out = []
    for m in measures:
        if m.earned is not None and any(not p for p, _ in m.earned.of):
            of = tuple((p or plan_id, c) for p, c in m.earned.of)
            m = dataclasses.replace(m, earned=dataclasses.replace(m.earned, of=of))
        out.append(m)
    return tuple(out)


def _reserve(r: _Reader, value: object, path: str) -> Reserve | None:
    """Parse a pool's ``reserve: {share, release}``: the held-back share, released later."""
    if value is None:
        return None
    data = r.mapping(value, path)
    if data is None:
        return None
    r.known(data, path, ("share", "release"))
    share = r.get(data, path, "share", r.positive, required=True)
    if share is not None and share >= 1:
        r.error(f"{path}.share", "must be below 1 (100 %): a reserve holds back a part")
    release = r.get(data, path, "release", r.choice(RESERVE_RELEASES), default="year_end")
    if share is None or share >= 1:
        return None
    return Reserve(share, release or "year_end")


def measure_closure(plan: Plan, measure_id: str) -> list[str]:
    """Return ``measure_id`` and every measure it reads (formulas, ratios), each once."""
    out: list[str] = []
    stack = [measure_id]
    while stack:
        mid = stack.pop()
        m = plan.measures_by_id.get(mid)
        if m is None or mid in out:
            continue
        out.append(mid)
        if m.formula is not None:
            stack.extend(m.formula.measures)
        stack.extend(x for x in (m.numerator, m.denominator) if x is not None)
    return out


def _own_reads(plan: Plan, c: Component) -> list[str]:
    """Return the measures component ``c`` reads of its own payee (scope self)."""
    reads = [c.measure] if c.measure is not None and c.type != "team_pool" else []
    if c.gate is not None and c.gate.scope == "self":
        reads.append(c.gate.measure)
    reads += [m.measure for m in (*c.modifiers, *plan.modifiers) if m.scope == "self"]
    by = c.rate_table.tier_by if c.rate_table is not None else None
    if by is not None and by.scope == "self":
        reads.append(by.measure)
    reads += [k.measure for k in c.kpis]
    reads += [p.measure for p in c.parts if p.scope == "self"]
    return reads


def _other_reads(plan: Plan, c: Component) -> list[tuple[str, str]]:
    """Return (measure, where) that ``c`` reads of another person or a node."""
    out = []
    if c.gate is not None and c.gate.scope != "self":
        out.append((c.gate.measure, "gate.measure"))
    out += [
        (m.measure, f"modifiers[{j}].measure")
        for j, m in enumerate(c.modifiers)
        if m.scope != "self"
    ]
    by = c.rate_table.tier_by if c.rate_table is not None else None
    if by is not None and by.scope != "self":
        out.append((by.measure, "rate_table.tier_by.measure"))
    out += [(p.measure, f"parts[{j}].measure") for j, p in enumerate(c.parts) if p.scope != "self"]
    if c.type == "team_pool" and c.measure is not None:
        out.append((c.measure, "milestone.measure"))
    return out


def earned_measures_read(plan: Plan, c: Component) -> list[str]:
    """Return the earned measures component ``c`` reads (directly or through formulas)."""
    out: list[str] = []
    for mid in _own_reads(plan, c):
        for dep in measure_closure(plan, mid):
            if plan.measures_by_id[dep].earned is not None and dep not in out:
                out.append(dep)
    return sorted(out)


def _edges(plan: Plan) -> dict[ComponentKey, list[tuple[ComponentKey, str]]]:
    """Return each component's (source component, path of the measure that reads it)."""
    index = {m.id: i for i, m in enumerate(plan.measures)}
    out: dict[ComponentKey, list[tuple[ComponentKey, str]]] = {}
    for c in plan.components:
        got = out.setdefault((plan.id, c.id), [])
        for mid in earned_measures_read(plan, c):
            src = plan.measure(mid).earned
            assert src is not None
            for j, pair in enumerate(src.of):
                got.append((pair, f"measures[{index[mid]}].earned.of[{j}]"))
    return out


def _cycles(
    edges: Mapping[ComponentKey, Sequence[tuple[ComponentKey, str]]],
) -> list[tuple[list[ComponentKey], str]]:
    """Return each distinct cycle of the component graph and the path of its first edge."""
    state: dict[ComponentKey, str] = {}
    found: list[tuple[list[ComponentKey], str]] = []
    seen: set[frozenset[ComponentKey]] = set()

    def visit(node: ComponentKey, chain: list[tuple[ComponentKey, str]]) -> None:
        state[node] = "busy"
        for nxt, where in edges.get(node, ()):
            if state.get(nxt) == "busy":
                nodes = [n for n, _ in chain] + [node]
                start = nodes.index(nxt)
                loop = [*nodes[start:], nxt]
                paths = [*[w for _, w in chain][start:], where]
                if frozenset(loop) not in seen:
                    seen.add(frozenset(loop))
                    found.append((loop, paths[0]))
            elif state.get(nxt) is None and nxt in edges:
                visit(nxt, [*chain, (node, where)])
        state[node] = "done"

    for node in sorted(edges):
        if state.get(node) is None:
            visit(node, [])
    return found


def cycle_message(loop: Sequence[ComponentKey]) -> str:
    """Return the words of a dependency cycle: the plans and components in it, in order."""
    chain = " -> ".join(f"plan {p} component {c}" for p, c in loop)
    return f"pay on others' pay runs in a cycle: {chain} (each reads the next one's earned amounts)"


def _check_earned(r: _Reader, plan: Plan, root: Mapping[str, Any]) -> None:
    """Check earned measures in one plan: sources, who reads them, cycles inside the plan."""
    index = {m.id: i for i, m in enumerate(plan.measures)}
    own = {c.id for c in plan.components}
    for m in plan.measures:
        if m.earned is None:
            continue
        for j, (pid, cid) in enumerate(m.earned.of):
            if pid == plan.id and cid not in own:
                r.error(
                    f"measures[{index[m.id]}].earned.of[{j}].component",
                    f"plan {plan.id} has no component {cid!r}",
                )
    raw = root.get("components")
    raw_index = (
        {str(c.get("id")): i for i, c in enumerate(raw) if isinstance(c, Mapping)}
        if isinstance(raw, list)
        else {}
    )
    for c in plan.components:
        path = f"components[{raw_index.get(c.id, 0)}]"
        for mid, where in _other_reads(plan, c):
            if any(
                plan.measures_by_id[d].aggregate == "earned" for d in measure_closure(plan, mid)
            ):
                r.error(
                    f"{path}.{where}",
                    "reads earned amounts of another person or node: an earned measure is read "
                    "by the payee's own components (scope self); its earned.scope says whose "
                    "lines count",
                )
        if c.reserve is not None and c.instalments is not None:
            r.error(
                f"{path}.reserve",
                "a pool is paid in instalments or holds back a reserve, not both",
            )
        if c.type == "payout_pool" and c.measure is not None and c.measure in plan.measures_by_id:
            src = plan.measure(c.measure).earned
            if src is None:
                r.error(f"{path}.measure", "a payout pool needs an earned measure")
            elif src.scope == "team":
                r.error(
                    f"{path}.measure",
                    "a payout pool belongs to no one payee: its earned measure needs scope "
                    "node or person, not team",
                )
    inside = {
        node: [(n, w) for n, w in out if n[0] == plan.id] for node, out in _edges(plan).items()
    }
    for loop, where in _cycles(inside):
        r.error(where, cycle_message(loop))


def dependency_errors(plans: Mapping[str, Plan]) -> list[str]:
    """Return what is wrong with pay on others' pay across ``plans`` (empty when nothing).

    Every earned source must name a plan of the run and a component of it, in the reader's
    currency, and no chain of components may come back to where it started.
    """
    errors: list[str] = []
    edges: dict[ComponentKey, list[tuple[ComponentKey, str]]] = {}
    for pid in sorted(plans):
        plan = plans[pid]
        for m_index, m in enumerate(plan.measures):
            if m.earned is None:
                continue
            for j, (src_plan, cid) in enumerate(m.earned.of):
                where = f"plans[{pid}].measures[{m_index}].earned.of[{j}]"
                other = plans.get(src_plan)
                if other is None:
                    errors.append(f"{where}.plan: unknown plan {src_plan!r}")
                elif cid not in {c.id for c in other.components}:
                    errors.append(f"{where}.component: plan {src_plan} has no component {cid!r}")
                elif other.rounding.currency != plan.rounding.currency:
                    errors.append(
                        f"{where}: plan {src_plan} pays {other.rounding.currency}, plan {pid} "
                        f"pays {plan.rounding.currency}: earned amounts are read in one currency"
                    )
        for node, out in _edges(plan).items():
            edges[node] = [(n, f"plans[{pid}].{w}") for n, w in out if n[0] in plans]
    errors += [f"{where}: {cycle_message(loop)}" for loop, where in _cycles(edges)]
    return errors


def dependency_levels(plans: Mapping[str, Plan]) -> dict[ComponentKey, int]:
    """Return each component's dependency level: 0 reads no earned amounts, n reads levels < n.

    Raises :class:`PlanValidationError` with :func:`dependency_errors` when there are any.
    """
    errors = dependency_errors(plans)
    if errors:
        raise PlanValidationError(errors)
    edges: dict[ComponentKey, list[ComponentKey]] = {}
    for plan in plans.values():
        for node, out in _edges(plan).items():
            edges[node] = [n for n, _ in out]
    levels: dict[ComponentKey, int] = {}

    def level(node: ComponentKey) -> int:
        if node not in levels:
            levels[node] = 1 + max((level(n) for n in edges.get(node, ())), default=-1)
        return levels[node]

    for node in sorted(edges):
        level(node)
    return levels


# --------------------------------------------------------------------------- windows across periods


def _plan_year(r: _Reader, root: Mapping[str, Any]) -> int | None:
    """Parse ``plan_year_start_month``: the plan's own year, for windows with ``year: plan``."""
    month = r.get(root, "", "plan_year_start_month", r.integer)
    if month is not None and not 1 <= month <= 12:
        r.error("plan_year_start_month", "must be a month from 1 to 12")
        return None
    return month


def _measure_window(r: _Reader, value: object, path: str, aggregate: str | None) -> MeasureWindow:
    """Parse a measure's ``window``: a name, or ``{over, periods, year}``."""
    if value is None:
        return MeasureWindow()
    if isinstance(value, str):
        if value not in WINDOW_KINDS:
            r.error(path, f"must be one of {', '.join(WINDOW_KINDS)}")
            return MeasureWindow()
        data: Mapping[str, Any] = {"over": value}
    else:
        got = r.mapping(value, path)
        if got is None:
            return MeasureWindow()
        data = got
        r.known(data, path, ("over", "periods", "year"))
    over = r.get(data, path, "over", r.choice(WINDOW_KINDS), required=True) or "period"
    periods = r.get(data, path, "periods", r.integer)
    year = r.get(data, path, "year", r.choice(WINDOW_YEARS), default="fiscal") or "fiscal"
    if over == "trailing_n_periods":
        if periods is None and "periods" not in data:
            r.error(f"{path}.periods", "is required for trailing_n_periods (N, with this period)")
        elif periods is not None and periods < 1:
            r.error(f"{path}.periods", "must be >= 1 (1 is this period alone)")
            periods = None
    elif "periods" in data:
        r.error(f"{path}.periods", "only applies to trailing_n_periods")
        periods = None
    if "year" in data and over not in ("quarter_to_date", "year_to_date"):
        r.error(f"{path}.year", "only applies to quarter_to_date and year_to_date")
    if over != "period" and aggregate is not None and aggregate not in WINDOWED_AGGREGATES:
        r.error(
            path,
            "only sum, count and average measures have a window "
            "(a ratio or a formula reads windowed measures)",
        )
        return MeasureWindow()
    return MeasureWindow(over, periods, year)


def _check_windows(r: _Reader, plan: Plan, root: Mapping[str, Any]) -> None:
    """Check windowed measures and to-date settlement against the components that read them."""
    for i, m in enumerate(plan.measures):
        if m.window.year == "plan" and plan.plan_year_start_month is None:
            r.error(
                f"measures[{i}].window.year",
                "year: plan needs plan_year_start_month at the top of the plan",
            )
    raw = root.get("components")
    if not isinstance(raw, list):
        return
    index = {str(c.get("id")): i for i, c in enumerate(raw) if isinstance(c, Mapping)}

    def window_of(measure_id: str | None) -> str:
        m = plan.measures_by_id.get(measure_id or "")
        return m.window.over if m is not None else "period"

    for c in plan.components:
        path = f"components[{index.get(c.id, 0)}]"
        own = window_of(c.measure) if c.type in ("commission", "attainment_bonus") else "period"
        prospective = c.rate_table is not None and c.rate_table.convention == "prospective"
        if own != "period" and (pays_credit_by_credit(c) or prospective):
            r.error(
                f"{path}.measure",
                f"{c.measure} is over {own}: per_unit, rate_by_type, per_transaction, "
                "hold_until_collected and prospective tiers pay this period's credits one by one",
            )
        if c.settle == "period":
            if own in ("quarter_to_date", "year_to_date"):
                r.error(
                    f"{path}.measure",
                    f"{c.measure} is over {own}: a component paid on it must settle: {own} "
                    "(earned to date minus paid to date), or it would pay earlier periods again",
                )
            continue
        if c.type not in SETTLE_TYPES:
            r.error(f"{path}.settle", f"only {', '.join(SETTLE_TYPES)} settle to date")
            continue
        if c.instalments is not None:
            r.error(f"{path}.settle", "a component settled to date is not paid in instalments")
        quota_id = c.quota or c.measure
        if quota_id in dict(plan.seasonality) and c.type != "fixed_pay":
            r.error(
                f"{path}.settle",
                f"seasonality gives each period its share of quota {quota_id!r}; a component "
                "settled to date reads the annual quota against the window (remove the "
                "seasonality of that quota, or settle by period)",
            )
        if c.type == "fixed_pay":
            where, measure_id = f"{path}.gate.measure", c.gate.measure if c.gate else None
            if c.gate is None:
                r.error(
                    f"{path}.gate",
                    f"fixed_pay settled {c.settle} needs a gate on a measure over {c.settle} "
                    "(a milestone paid once)",
                )
                continue
        elif c.type == "team_pool":
            where, measure_id = f"{path}.milestone.measure", c.measure
        else:
            where, measure_id = f"{path}.measure", c.measure
        if measure_id in plan.measures_by_id and window_of(measure_id) != c.settle:
            r.error(
                where,
                f"{measure_id} is over {window_of(measure_id)}, but the component settles "
                f"{c.settle}: earned to date needs its measure over the same window",
            )
