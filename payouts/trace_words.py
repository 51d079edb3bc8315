"""A payout line's "why" in a reader's words: the one place that turns what the engine recorded
(step names such as ``proration_factor``, exact values such as ``12.000000``, teams and roles by
id such as ``node 22`` or a milestone's "(34 100 %, 58 0 %)", measures by id such as
``team_csat``, "3 participant(s)", "->") into what the pages and statement files show
("Pro-ration factor", ``12``, "Sales East", "(Marketing 100 %, Product 0 %)", "team CSAT",
"3 participants", "→").

The engine's trace stays as it is (it is hashed and replayed); only its display changes. Names
are looked up once per page (:func:`trace_names`), whatever the number of lines.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from django.template.defaultfilters import pluralize

from core.templatetags.quotient import money, span_words
from engine.rules import fmt_number, fmt_pct
from engine.spec import key_words
from hierarchy.models import JobRole, Node, Person
from plans.models import PlanVersion

_NODE: Final = re.compile(r"\bnode (\d+)\b")
_ROLE: Final = re.compile(r"\brole (\d+)\b")
_SPAN: Final = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")
_TEAMS: Final = re.compile(r"(\bevery team reached [^(]*\()([^)]*)(\))", re.IGNORECASE)
"""A team milestone's sentence: "Not every team reached 100 % (34 100 %, 58 0 %), ..."."""
_TEAM_PIECE: Final = re.compile(r"^(\d+) ")
_PAYEES: Final = re.compile(r"(\bof -?[\d,]+(?:\.\d+)? \()((?:\d+ -?[\d,]+(?:\.\d+)?(?:, )?)+)(\))")
"""An override's sentence: "10 % of the team's commissions of 17,415.57 (22 6,874.87, ...)"."""
_MAYBE_PLURAL: Final = re.compile(r"\b(\d+) ((?:[a-z]+ )?[a-z]+)\(s\)")
_ARROW: Final = re.compile(r" -> ")

ACRONYMS: Final = {
    "arr": "ARR", "csat": "CSAT", "kpi": "KPI", "kpis": "KPIs", "mql": "MQL", "mqls": "MQLs",
    "mrr": "MRR", "nps": "NPS", "nrr": "NRR", "otif": "OTIF", "pql": "PQL", "pqls": "PQLs",
    "sql": "SQL", "sqls": "SQLs", "ytd": "YTD",
}  # fmt: skip
"""Words of a measure id read as an acronym (``team_csat`` → "team CSAT")."""

STEP_WORDS: Final = {
    "segment": "Dates counted",
    "proration_factor": "Pro-ration factor",
    "proration": "Pro-ration factor",
    "measure": "Measured",
    "quota": "Quota",
    "attainment": "Attainment",
    "base": "Before accelerators",
    "earned": "Earned",
    "rounded": "Rounded",
    "paid_before": "Paid before",
    "payable": "Payable now",
    "target_incentive": "Target incentive",
    "curve_payout": "Payout on the curve",
    "tier_by": "Tier decided by",
    "tier_by_quota": "Quota that decides the tier",
    "units": "Units",
    "gate_passed": "Gate passed",
    "kpi_gate_passed": "KPI gate passed",
}
"""Step names whose words are not simply the name spelled out (:func:`step_label`)."""

MONEY_STEPS: Final = frozenset(
    {
        "accelerator", "actual", "amount", "amount_per_account", "amount_per_event",
        "amount_per_period", "balance_after", "balance_before", "base", "baseline", "cap",
        "clawback", "decelerator", "deferred", "draw", "earned", "earned_to_date", "floor",
        "guarantee", "held", "instalment", "paid_before", "paid_now", "paid_to_date", "payable",
        "payable_before", "payable_before_draw", "payout", "per_transaction_cap",
        "per_transaction_floor", "pool", "pool_share", "pool_to_split", "profit", "recovery",
        "released", "reserve", "retained", "reversed_amount", "rounded", "savings",
        "target_incentive", "top_up", "total",
    }
)  # fmt: skip
"""Steps whose value is an amount of the line's currency."""

PERCENT_STEPS: Final = frozenset(
    {
        "attainment", "curve_payout", "effective_rate", "original_rate", "proration",
        "proration_factor", "rate", "reserve_share", "scale_share", "score", "share",
        "weighted_score",
    }
)  # fmt: skip
"""Steps whose value is a fraction, read as a percentage (``0.85`` → ``85 %``)."""

_PERCENT_SUFFIXES: Final = ("_attainment", "_completion", "_factor", "_payout")
_MONEY_PATTERN: Final = re.compile(r"^(tier_\d+(_fill)?|instalment_\d+|reserve_.+|.+_from_.+)$")


# The engine writes to the payee ("You reached 85 % of quota", "38,000.00 USD more puts you in
# the 12 % tier"); a page someone else reads (her manager, a comp admin) names her instead.
_SECOND_PERSON: Final = (
    (re.compile(r"\b[Yy]ou are\b"), "{name} is"),
    (re.compile(r"\bthe day you cross it\b"), "the day {name} crosses it"),
    (re.compile(r"\b[Yy]ou\b"), "{name}"),
    (re.compile(r"\b[Yy]our\b"), "{name}'s"),
)


# A number the engine wrote with a fixed six places ("above 60000.000000"): read without the
# needless zeros and with separators ("above 60,000"); shorter decimals are left as written.
_RAW_DECIMAL: Final = re.compile(r"(?<![\d,.])\d+\.\d{4,}(?![\d.])")


def in_third_person(text: str, name: str) -> str:
    """Return the engine's words to the payee about ``name`` instead ("You reached" → "Erin
    reached", "your share" → "Erin's share"); an empty ``name`` leaves ``text`` as it is."""
    if not name or not text:
        return text
    for pattern, words in _SECOND_PERSON:
        text = pattern.sub(words.format(name=name), text)
    return text


def first_name(full_name: str) -> str:
    """Return the name a sentence about a person uses: her first name (``Erin`` of "Erin
    Example")."""
    return (full_name or "").split(" ")[0]


@dataclass(frozen=True)
class TraceNames:
    """The teams' (nodes') and job roles' names a page's traces mention, by id."""

    nodes: Mapping[str, str] = field(default_factory=dict)
    roles: Mapping[str, str] = field(default_factory=dict)
    people: Mapping[str, str] = field(default_factory=dict)
    measures: Mapping[str, str] = field(default_factory=dict)
    """The plans' measure (and KPI) ids → their words, for the ids that read differently."""
    payee: str = ""
    """The payee's name when someone else reads: the engine's "you" becomes her name."""

    def words(self, text: str) -> str:
        """Return ``text`` in words: measures by their words, "node 22", "role 5" and a team
        milestone's "(34 100 %, ...)" by their names, "3 participant(s)" in the plural it
        needs, "->" as an arrow."""
        if self.measures:
            text = _measure_pattern(tuple(self.measures)).sub(lambda m: self.measures[m[0]], text)
        text = _TEAMS.sub(lambda m: m[1] + self._team_pieces(m[2], self.nodes) + m[3], text)
        text = _PAYEES.sub(lambda m: m[1] + self._team_pieces(m[2], self.people) + m[3], text)
        text = _NODE.sub(lambda m: self.nodes.get(m[1], m[0]), text)
        text = _ROLE.sub(lambda m: self.roles.get(m[1], m[0]), text)
        text = _MAYBE_PLURAL.sub(lambda m: f"{m[1]} {m[2]}{pluralize(int(m[1]))}", text)
        text = _RAW_DECIMAL.sub(lambda m: fmt_number(Decimal(m[0])), text)
        return in_third_person(_ARROW.sub(" → ", text), self.payee)

    def about(self, payee: str) -> TraceNames:
        """Return these names reading the engine's "you" as ``payee`` (empty: as "you")."""
        return TraceNames(self.nodes, self.roles, self.people, self.measures, payee)

    @staticmethod
    def _team_pieces(pieces: str, names: Mapping[str, str]) -> str:
        """ "34 100 %, 58 0 %" → "Marketing 100 %, Product 0 %" (a team's or a payee's id first)."""
        return ", ".join(
            _TEAM_PIECE.sub(lambda m: f"{names.get(m[1], m[1])} ", piece)
            for piece in pieces.split(", ")
        )


@dataclass(frozen=True)
class StepRow:
    """One step of a line's calculation as a page shows it."""

    label: str
    value: str
    how: str


def trace_names(texts: Iterable[str], *, version_ids: Iterable[int | None] = ()) -> TraceNames:
    """Return the names of the nodes and roles ``texts`` mention, and the words of the
    measures of plan versions ``version_ids`` (the lines' own; three queries at most)."""
    texts = list(texts)
    node_ids = {int(m) for t in texts for m in _NODE.findall(t)}
    node_ids |= {
        int(p[1])
        for t in texts
        for m in _TEAMS.finditer(t)
        for p in map(_TEAM_PIECE.match, m[2].split(", "))
        if p
    }
    role_ids = {int(m) for t in texts for m in _ROLE.findall(t)}
    person_ids = {
        int(p[1])
        for t in texts
        for m in _PAYEES.finditer(t)
        for p in map(_TEAM_PIECE.match, m[2].split(", "))
        if p
    }
    nodes = Node.objects.filter(pk__in=node_ids).values_list("pk", "name") if node_ids else []
    roles = JobRole.objects.filter(pk__in=role_ids).values_list("pk", "name") if role_ids else []
    people = (
        Person.objects.filter(pk__in=person_ids).values_list("pk", "full_name")
        if person_ids
        else []
    )
    return TraceNames(
        nodes={str(pk): name for pk, name in nodes},
        roles={str(pk): name for pk, name in roles},
        people={str(pk): name for pk, name in people},
        measures=plan_measure_words(version_ids),
    )


def measure_words(measure_id: str) -> str:
    """Return a measure's id as a sentence reads it: ``launched_on_time`` → "launched on
    time", ``team_csat`` → "team CSAT", ``pqls`` → "PQLs"."""
    return " ".join(ACRONYMS.get(w, w) for w in measure_id.split("_") if w)


def plan_measure_words(version_ids: Iterable[int | None]) -> dict[str, str]:
    """Return the measure and KPI ids of these plan versions that read differently in words
    (``expansion_bookings`` → "expansion bookings"; "bookings" is left as it is), one query.
    The plan language gives a measure an id only, so its words are the id's."""
    versions = {int(v) for v in version_ids if v}
    if not versions:
        return {}
    ids: set[str] = set()
    for spec in PlanVersion.objects.filter(pk__in=versions).values_list("spec", flat=True):
        measures = spec.get("measures") if isinstance(spec, Mapping) else None
        for m in measures if isinstance(measures, list) else ():
            if isinstance(m, Mapping):
                ids.update(str(m[k]) for k in ("id", "kpi") if m.get(k))
    return {i: w for i in ids if i.isidentifier() and (w := measure_words(i)) != i}


@functools.lru_cache(maxsize=64)
def _measure_pattern(ids: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(i) for i in sorted(ids, key=len, reverse=True))
    return re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])")


def trace_texts(trace: Any) -> list[str]:
    """Return the notes of a stored trace's steps (what :func:`trace_names` should read)."""
    return [_how(s) for s in trace if isinstance(s, Mapping)] if isinstance(trace, list) else []


def step_label(name: str) -> str:
    """Return a step's name in words: ``proration_factor`` → ``Pro-ration factor``."""
    return STEP_WORDS.get(name) or key_words(name.replace(":", " "))


def step_value(name: str, value: Any, currency: str) -> str:
    """Return a step's value for reading: money with separators and 2 places, fractions as
    percentages, other numbers without needless zeros (``12.000000`` → ``12``), a date span
    as its first and last day."""
    text = "" if value is None else str(value)
    span = _SPAN.match(text)
    if span:
        return span_words(span[1], span[2])  # the end is exclusive
    if text in ("yes", "no"):
        return text.capitalize()
    try:
        number = Decimal(text)
    except (InvalidOperation, ValueError):
        return text
    if not number.is_finite():
        return text
    if name in MONEY_STEPS or _MONEY_PATTERN.match(name):
        return money(number, currency)
    if name in PERCENT_STEPS or name.endswith(_PERCENT_SUFFIXES):
        return fmt_pct(number).replace(" ", "\u00a0")
    return fmt_number(number)


def _how(step: Mapping[str, Any]) -> str:
    return str(step.get("how") or step.get("note") or "")


def step_rows(trace: Any, *, currency: str, names: TraceNames) -> list[StepRow]:
    """Return a stored trace's steps as a page shows them (an unreadable trace: none)."""
    if not isinstance(trace, list):
        return []
    rows = []
    for s in trace:
        if not isinstance(s, Mapping):
            continue
        name = str(s.get("name") or "")
        how = names.words(_how(s))
        if name.endswith("_factor"):
            how = re.sub(r"^allocation ([\d.]+)$", lambda m: _allocation(m[1]), how)
        elif name == "rounded":  # "half_up to USD" → "Half up, to the currency's decimals"
            how = _ROUNDED.sub(lambda m: _rounding_words(m[1], m[2]), how)
        rows.append(
            StepRow(
                label=step_label(name) if name else "—",
                value=step_value(name, s.get("value"), currency),
                how=key_words(how) if how.isidentifier() else how,
            )
        )
    return rows


_ROUNDED: Final = re.compile(r"^([a-z_]+) to ([A-Z]{3})$")


def _rounding_words(mode: str, currency: str) -> str:
    from core.tenant import RoundingMode

    words = dict(RoundingMode.choices).get(mode, key_words(mode))
    return f"{words}, to the decimals of {currency}"


def _allocation(text: str) -> str:
    try:
        return f"allocation {fmt_pct(Decimal(text))}".replace(" %", "\u00a0%")
    except InvalidOperation:
        return f"allocation {text}"


def line_why(line: Any, *, payee: str = "") -> tuple[str, list[StepRow]]:
    """Return a payout line's "why" and its steps in words, as every page shows them (the line
    page, a question about it): names and measures looked up, "you" as ``payee`` when someone
    else reads (empty: the payee herself)."""
    words = trace_names(
        [line.trace_text, *trace_texts(line.trace)], version_ids=[line.plan_version_id]
    ).about(payee)
    return words.words(line.trace_text), step_rows(line.trace, currency=line.currency, names=words)
