"""Shared goals: the pools, milestones, cross-team gates and shared MBOs of a period's run.

A **shared goal** is one (plan, component) whose pay depends on more than one person's own
figures: a ``team_pool`` (one team's milestone, or a launch milestone every team must hit), a
``profit_share`` / ``gainshare`` pool, any component with a ``gate`` on another team's (or
another person's) metric, and an ``mbo`` whose objectives everyone on the plan shares. Each
goal has **milestones** - binary, "hit" or "not yet" - with the figure reached and the threshold.

Nothing is computed again here. Every figure comes from what the run that paid the period
wrote (:func:`payouts.statements.period_run`: the approved run of an approved or closed period,
else the period's latest succeeded run, "live"):

* the lines' trace steps (``team_<node>_attainment`` and its hit/missed note, ``gate_value`` /
  ``gate_quota`` / ``gate_attainment`` / ``gate_passed``, ``<objective>_completion``,
  ``baseline`` / ``actual`` / ``profit`` / ``pool``, and ``segment``'s node: the team the
  engine placed the payee in);
* the run's reduce output (``holders``: each team's measure and quota, ``engine.phases.tables``),
  for a team milestone's "3 of 4";
* the lines' amounts (what each participant is paid).

Who may open a goal is the access policy's answer on its participants
(:meth:`hierarchy.access.Access.payees` for the period): a participant (herself), her managers
(their teams as the structure stood then), and whoever reads everyone's pay (comp admins,
finance, executives). Anyone else gets the same 404 as for a goal that does not exist. A
participant's own amount is shown to those who may read her pay; the goal's figures to all.

Reads are a fixed number of queries whatever the number of participants (tests hold it).
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import Min

from core.errors import NotFoundError
from core.tenancy import get_current_tenant
from engine.phases.tables import TableError
from engine.spec import component_title
from hierarchy import org_selectors
from hierarchy.access import Access
from hierarchy.models import Node, Period, Person
from hierarchy.periods import tenant_today
from payouts import runs
from payouts.models import (
    CalculationRun,
    ExportedLine,
    PayoutLine,
    PeriodApproval,
    RunChunk,
    RunPhase,
)
from payouts.statements import RunChoice, period_run, statement_periods
from plans.dependencies import (  # the one classifier of shared goals
    GATE,
    KIND_LABELS,
    MBO,
    POOL,
    SHARED_MILESTONE,
    TEAM_POOL,
    may_be_shared,
    shared_kind,
)
from plans.models import Plan, PlanVersion

GOAL_NOT_FOUND = "Shared goal not found."
PERIOD_NOT_FOUND = "No such period."

HIT = "hit"
NOT_YET = "not yet"

# The line kind that carries a component's earned amount and trace (reserves, deferrals and
# instalments are later movements of the same money).
EARNED_KIND = "earned"
ZERO, ONE = Decimal(0), Decimal(1)


# --- what a page shows ------------------------------------------------------------------------


@dataclass(frozen=True)
class Milestone:
    """One binary milestone of a goal: what it needs, what was reached, hit or not yet."""

    label: str
    hit: bool
    value: Decimal | None  # what was reached (a measure, an attainment, a completion)
    threshold: Decimal | None  # what it needs, in the same unit
    unit: str  # "percent" (a fraction: 1 = 100 %), "number" or "money"
    progress: Decimal  # value toward the threshold, 0..1, for a progress bar
    detail: str = ""  # e.g. "3 of 4 deliverables", "from 80 % to 100 % across 4 people"
    team: str = ""  # whose metric (a team's or a person's name)

    @property
    def status(self) -> str:
        return HIT if self.hit else NOT_YET

    @property
    def summary(self) -> str:
        """What was reached against what is needed, in words: "80 % of 100 %"."""
        if self.unit == "percent":
            return f"{_pct_words(self.value)} of {_pct_words(self.threshold)}"
        return f"{_num_words(self.value)} against {_num_words(self.threshold)}"

    @property
    def percent(self) -> int:
        """The progress as a whole percentage (0-100), for a bar's width."""
        return int((self.progress * 100).to_integral_value())


@dataclass(frozen=True)
class Participant:
    """Who is in a goal, in which team, and (for those allowed to see it) what it pays her."""

    person_id: int
    full_name: str
    employee_id: str
    team_id: int | None
    team: str
    amount: Decimal | None  # None: the reader may not see this person's pay


@dataclass
class SharedGoal:
    """One shared goal of one period, as the run that pays the period computed it."""

    id: str  # "<plan id>-<component id>"
    plan: Plan
    component_id: str
    name: str
    kind: str
    period: Period
    run: CalculationRun
    final: bool  # the approved run (the figures no longer change) or the latest, live
    currency: str
    milestones: list[Milestone] = field(default_factory=list)
    participants: list[Participant] = field(default_factory=list)
    pool: Decimal | None = None  # what a pool pays out in the period (0 when it did not pay)
    at_stake: Decimal | None = None  # a milestone pool's fixed amount, whether hit or not
    paid_total: Decimal = ZERO  # what the component's lines pay everyone in the period
    my_amount: Decimal | None = None  # the reader's own share, when she takes part
    sentence: str = ""  # one participant's trace sentence (the figures are the same for all)
    pay_date: dt.date | None = None  # the export batch's pay date, once exported
    approved_at: dt.datetime | None = None

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[self.kind]

    @property
    def hit(self) -> bool:
        return bool(self.milestones) and all(m.hit for m in self.milestones)

    @property
    def status(self) -> str:
        return HIT if self.hit else NOT_YET

    @property
    def hits(self) -> int:
        return sum(1 for m in self.milestones if m.hit)

    @property
    def teams(self) -> list[tuple[str, int]]:
        """The participants' teams (as the engine placed them) with how many are in each."""
        counts: dict[str, int] = defaultdict(int)
        for p in self.participants:
            counts[p.team] += 1
        return sorted(counts.items())

    @property
    def period_last_day(self) -> dt.date:
        return self.period.end - dt.timedelta(days=1)

    @property
    def status_words(self) -> str:
        return "final (approved run)" if self.final else "live (latest run, may still change)"


# --- reading the run --------------------------------------------------------------------------


def _dec(text: Any) -> Decimal | None:
    if text is None or text == "":
        return None
    try:
        value = Decimal(str(text))
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() else None


def _clip(value: Decimal | None) -> Decimal:
    if value is None:
        return ZERO
    return max(ZERO, min(ONE, value))


def _ratio(value: Decimal | None, threshold: Decimal | None) -> Decimal:
    """Return value / threshold kept in [0, 1] (a zero or missing threshold: reached or not)."""
    if value is None:
        return ZERO
    if threshold is None or threshold <= 0:
        return ONE if value >= (threshold or ZERO) else ZERO
    return _clip(value / threshold)


def _steps(trace: Any) -> dict[str, tuple[str, str]]:
    """Return a line's trace steps by name: (value text, note)."""
    out: dict[str, tuple[str, str]] = {}
    for s in trace if isinstance(trace, list) else []:
        if isinstance(s, dict) and "name" in s:
            out.setdefault(str(s["name"]), (str(s.get("value", "")), str(s.get("note", ""))))
    return out


def _segment_node(steps: Mapping[str, tuple[str, str]]) -> int | None:
    """The node the engine placed the payee in: the ``segment`` step's note, "node 56, role 19"."""
    note = steps.get("segment", ("", ""))[1]
    head = note.split(",", 1)[0].strip()
    if head.startswith("node "):
        digits = head.removeprefix("node ").strip()
        return int(digits) if digits.isdigit() else None
    return None


def _holders(run: CalculationRun) -> dict[tuple[str, str, str], tuple[Decimal | None, Any]]:
    """Return the run's holder measures (scope, holder, measure) -> (value, quota): the reduce
    output ``payouts.runs`` stored (read by ``runs.unpack_output``, the one reader of it)."""
    raw = (
        RunChunk.objects.filter(run=run, phase=RunPhase.REDUCE, number=runs.REDUCE_SHARED)
        .values_list("output", flat=True)
        .first()
    )
    if raw is None:
        return {}
    try:
        _head, tables = runs.unpack_output(raw)
    except (zlib.error, UnicodeDecodeError, ValueError, TableError):
        return {}
    holders = tables.get("holders")
    if holders is None:
        return {}
    return {
        (str(s), str(h), str(m)): (_dec(v), _dec(q))
        for s, h, m, v, q in zip(
            holders["scope"],
            holders["holder"],
            holders["measure_id"],
            holders["value"],
            holders["quota"],
            strict=True,
        )
    }


@dataclass
class _Found:
    plan: Plan
    component: Mapping[str, Any]
    lines: list[dict[str, Any]] = field(default_factory=list)


def _candidates(run: CalculationRun) -> dict[tuple[int, str], _Found]:
    """Return every (plan, component) of the run's plan versions that could be shared."""
    versions = (
        PlanVersion.objects.filter(
            pk__in=PayoutLine.objects.filter(run=run).values("plan_version_id")
        )
        .select_related("plan")
        .order_by("plan_id", "number")
    )
    found: dict[tuple[int, str], _Found] = {}
    for v in versions:  # a later version of a plan in the same run wins
        for c in (v.spec or {}).get("components", []):
            if not isinstance(c, Mapping) or "id" not in c:
                continue
            if may_be_shared(c):
                found[(v.plan_id, str(c["id"]))] = _Found(v.plan, c)
    return found


def _lines(run: CalculationRun, found: Mapping[tuple[int, str], _Found]) -> None:
    """Attach every line of the candidates to them, in one query."""
    if not found:
        return
    rows = (
        PayoutLine.objects.filter(
            run=run,
            plan_id__in={k[0] for k in found},
            component_id__in={k[1] for k in found},
        )
        .order_by("person_id", "segment", "kind", "ordinal", "pk")
        .values(
            "pk", "person_id", "plan_id", "component_id", "kind", "amount", "currency",
            "trace", "trace_text",
        )
    )  # fmt: skip
    for row in rows:
        goal = found.get((row["plan_id"], row["component_id"]))
        if goal is not None:
            goal.lines.append(row)


def _whose(name: str) -> str:
    """Return the possessive of a name: "Sales's" reads "Sales'"."""
    return f"{name}'" if name.endswith("s") else f"{name}'s"


def _pct_words(value: Decimal | None) -> str:
    if value is None:
        return "no value"
    return f"{(value * 100).quantize(Decimal('0.1')).normalize():f} %"


def _num_words(value: Decimal | None) -> str:
    if value is None:
        return "no value"
    return f"{value.quantize(Decimal('0.01')).normalize():,f}"


def _first_steps(goal: _Found) -> dict[str, tuple[str, str]]:
    for line in goal.lines:
        if line["kind"] == EARNED_KIND:
            return _steps(line["trace"])
    return _steps(goal.lines[0]["trace"]) if goal.lines else {}


def _team_milestones(
    goal: _Found,
    holders: Mapping[tuple[str, str, str], tuple[Decimal | None, Any]],
    nodes: Mapping[str, Node],
) -> list[Milestone]:
    c = goal.component
    raw = c.get("milestone")
    rule: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    need = _dec(rule.get("min_attainment")) or ONE
    measure = str(rule.get("measure", c.get("measure", "")))
    steps = _first_steps(goal)
    out = []
    for name, (value, note) in steps.items():
        if not (name.startswith("team_") and name.endswith("_attainment")):
            continue
        team = name.removeprefix("team_").removesuffix("_attainment")
        att = _dec(value)
        got, quota = holders.get(("node", team, measure), (None, None))
        node = nodes.get(team)
        label = node.name if node else f"node {team}"
        detail = (
            f"{_num_words(got)} of a {_num_words(quota)} {measure} quota"
            if got is not None and quota is not None
            else f"{measure}: {'no quota' if quota is None else 'no value'}"
        )
        out.append(
            Milestone(
                label=f"{label} reaches {_pct_words(need)} of its {measure} quota",
                hit=note == "hit",
                value=att,
                threshold=need,
                unit="percent",
                progress=_ratio(att, need),
                detail=detail,
                team=label,
            )
        )
    return out


def _gate_milestone(
    goal: _Found, nodes: Mapping[str, Node], people: Mapping[str, Person]
) -> list[Milestone]:
    gate = goal.component["gate"]
    steps = _first_steps(goal)
    if "gate_passed" not in steps:
        return []
    holder = str(gate.get("holder", ""))
    if gate.get("scope") == "node":
        node = nodes.get(holder)
        who = node.name if node else holder
    else:
        person = people.get(holder)
        who = person.full_name if person else holder
    measure = str(gate.get("measure", ""))
    value = _dec(steps.get("gate_value", ("", ""))[0])
    quota = _dec(steps.get("gate_quota", ("", ""))[0])
    att = _dec(steps.get("gate_attainment", ("", ""))[0])
    hit = steps["gate_passed"][0] == "yes"
    if gate.get("min_attainment") is not None:
        need = _dec(gate.get("min_attainment"))
        return [
            Milestone(
                label=f"{_whose(who)} {measure} reaches {_pct_words(need)} of quota",
                hit=hit,
                value=att,
                threshold=need,
                unit="percent",
                progress=_ratio(att, need),
                detail=f"{_num_words(value)} of a {_num_words(quota)} quota",
                team=who,
            )
        ]
    op = str(gate.get("op", ">="))
    on_attainment = gate.get("of") == "attainment"
    subject = att if on_attainment else value
    limit = gate.get("value", gate.get("min_value", 0))
    need = _dec(limit) if not isinstance(limit, list) else None
    unit = "percent" if on_attainment else "number"
    shown = _pct_words if on_attainment else _num_words
    progress = _ratio(subject, need) if op in (">=", ">") else (ONE if hit else ZERO)
    words = f"{op} {shown(need)}" if need is not None else f"{op} {limit}"
    return [
        Milestone(
            label=f"{_whose(who)} {measure} {words}",
            hit=hit,
            value=subject,
            threshold=need,
            unit=unit,
            progress=ONE if hit else min(progress, Decimal("0.99")),
            detail=f"reached {shown(subject)}",
            team=who,
        )
    ]


def _mbo_milestones(goal: _Found) -> list[Milestone]:
    completions: dict[str, list[Decimal]] = defaultdict(list)
    for line in goal.lines:
        if line["kind"] != EARNED_KIND:
            continue
        for name, (value, _note) in _steps(line["trace"]).items():
            got = _dec(value)
            if name.endswith("_completion") and got is not None:
                completions[name.removesuffix("_completion")].append(got)
    out = []
    for o in goal.component.get("objectives", []):
        oid = str(o.get("id", "")) if isinstance(o, Mapping) else ""
        done = completions.get(oid, [])
        low = min(done) if done else None
        high = max(done) if done else None
        detail = (
            f"{_pct_words(low)} for all {len(done)}"
            if low == high
            else f"from {_pct_words(low)} to {_pct_words(high)} across {len(done)} people"
        )
        out.append(
            Milestone(
                label=f"Objective {oid} (weight {_pct_words(_dec(o.get('weight')))}) completed",
                hit=low is not None and low >= ONE,
                value=low,
                threshold=ONE,
                unit="percent",
                progress=_clip(low),
                detail=detail,
            )
        )
    return out


def _pool_milestone(goal: _Found, nodes: Mapping[str, Node]) -> list[Milestone]:
    c = goal.component
    steps = _first_steps(goal)
    node = nodes.get(str(c.get("source_node", "")))
    who = node.name if node else str(c.get("source_node", ""))
    kpi = str(c.get("kpi") or "the figure")
    if c.get("type") == "gainshare":
        baseline = _dec(steps.get("baseline", ("", ""))[0])
        actual = _dec(steps.get("actual", ("", ""))[0])
        savings = _dec(steps.get("savings", ("", ""))[0]) or ZERO
        hit = savings > 0
        progress = ONE if hit else (_clip(baseline / actual) if baseline and actual else ZERO)
        return [
            Milestone(
                label=f"{_whose(who)} {kpi} below the baseline",
                hit=hit,
                value=actual,
                threshold=baseline,
                unit="number",
                progress=progress if hit else min(progress, Decimal("0.99")),
                detail=f"savings {_num_words(savings)}",
                team=who,
            )
        ]
    profit = _dec(steps.get("profit", ("", ""))[0])
    hit = profit is not None and profit > 0
    return [
        Milestone(
            label=f"{_whose(who)} {kpi} above zero",
            hit=hit,
            value=profit,
            threshold=ZERO,
            unit="number",
            progress=ONE if hit else ZERO,
            team=who,
        )
    ]


# --- the goals of a period --------------------------------------------------------------------


def goal_id(plan_id: int, component_id: str) -> str:
    """Return a shared goal's id: ``<plan id>-<component id>``."""
    return f"{plan_id}-{component_id}"


def parse_goal_id(value: str) -> tuple[int, str]:
    """Return (plan id, component id) of a goal id, or raise NotFoundError."""
    head, sep, component = value.partition("-")
    if not sep or not head.isdigit() or len(head) > 18 or not component:
        raise NotFoundError(GOAL_NOT_FOUND)
    return int(head), component


def goal_periods() -> list[Period]:
    """Return the periods a goal can be read for: those with a succeeded run, newest first."""
    return list(statement_periods())


def default_period(periods: Sequence[Period] | None = None) -> Period | None:
    """Return the period a page opens on: the one today falls in that has a run (the open,
    live one), else the latest with a run."""
    choices = list(goal_periods() if periods is None else periods)
    today = tenant_today(get_current_tenant())
    current = [p for p in choices if p.start <= today < p.end]
    # Prefer the longest period holding today (a quarter over its month), as statements do.
    current.sort(key=lambda p: p.end - p.start, reverse=True)
    return current[0] if current else (choices[0] if choices else None)


def period_get(period_id: int) -> Period:
    """Return a period of the tenant, or raise NotFoundError."""
    period: Period | None = Period.objects.filter(pk=period_id).first()
    if period is None:
        raise NotFoundError(PERIOD_NOT_FOUND)
    return period


def shared_goals(
    *,
    access: Access,
    period: Period,
    only: tuple[int, str] | None = None,
    choice: RunChoice | None = None,
) -> list[SharedGoal]:
    """Return the shared goals of ``period`` the principal takes part in (or may read), as the
    period's run computed them, by plan name and component; ``only`` = (plan id, component id).

    A fixed number of queries, whatever the number of participants."""
    choice = choice or period_run(period=period)
    run = choice.run
    if run is None:
        return []
    found = _candidates(run)
    if only is not None:
        found = {k: v for k, v in found.items() if k == only}
    _lines(run, found)
    kinds: dict[tuple[int, str], str] = {}
    for key, goal in found.items():
        kind = shared_kind(goal.component, len({ln["person_id"] for ln in goal.lines}))
        if kind is not None and goal.lines:
            kinds[key] = kind
    if not kinds:
        return []
    everyone = {ln["person_id"] for k in kinds for ln in found[k].lines}
    visible = set(
        access.payees(start=period.start, end=period.end)
        .filter(pk__in=everyone)
        .values_list("pk", flat=True)
    )
    kinds = {
        k: kind for k, kind in kinds.items() if visible & {ln["person_id"] for ln in found[k].lines}
    }
    if not kinds:
        return []
    placed: dict[int, int | None] = {}
    team_pks: set[int] = set()
    codes: set[str] = set()
    person_refs: set[str] = set()
    for key in kinds:
        goal = found[key]
        for ln in goal.lines:
            if ln["person_id"] not in placed or placed[ln["person_id"]] is None:
                placed[ln["person_id"]] = _segment_node(_steps(ln["trace"]))
        for name in _first_steps(goal):
            if name.startswith("team_") and name.endswith("_attainment"):
                team = name.removeprefix("team_").removesuffix("_attainment")
                if team.isdigit():
                    team_pks.add(int(team))
        gate = goal.component.get("gate")
        if isinstance(gate, Mapping) and gate.get("scope") == "node":
            codes.add(str(gate.get("holder", "")))
        elif isinstance(gate, Mapping) and gate.get("scope") == "person":
            person_refs.add(str(gate.get("holder", "")))
        codes.add(str(goal.component.get("source_node", "") or ""))
    person_refs |= {str(p) for p in placed}
    nodes, people = org_selectors.nodes_and_people_by_ref(
        {n for n in placed.values() if n} | team_pks, codes, person_refs
    )
    holders = (
        _holders(run) if any(k in (TEAM_POOL, SHARED_MILESTONE) for k in kinds.values()) else {}
    )
    exported: dict[tuple[int, str], dt.date] = {}
    if choice.final:
        rows = (
            ExportedLine.objects.filter(
                line__run=run,
                plan_id__in={k[0] for k in kinds},
                component_id__in={k[1] for k in kinds},
            )
            .values("plan_id", "component_id")
            .annotate(day=Min("batch__pay_date"))
        )
        exported = {(r["plan_id"], r["component_id"]): r["day"] for r in rows}
    approval = (
        PeriodApproval.objects.filter(period=period, run=run, reopened_at__isnull=True)
        .values_list("approved_at", flat=True)
        .first()
        if choice.final
        else None
    )
    me = (
        set(
            Person.objects.filter(user_id=access.principal.user_id, pk__in=everyone).values_list(
                "pk", flat=True
            )
        )
        if access.principal.user_id is not None
        else set()
    )
    out = []
    for key, kind in kinds.items():
        goal = found[key]
        out.append(
            _build(
                key, kind, goal, run=run, choice=choice, period=period, visible=visible,
                nodes=nodes, people=people, placed=placed, holders=holders, me=me,
                pay_date=exported.get(key), approved_at=approval,
            )
        )  # fmt: skip
    return sorted(out, key=lambda g: (g.plan.name.lower(), g.name.lower(), g.id))


def _build(
    key: tuple[int, str],
    kind: str,
    goal: _Found,
    *,
    run: CalculationRun,
    choice: RunChoice,
    period: Period,
    visible: set[int],
    nodes: Mapping[str, Node],
    people: Mapping[str, Person],
    placed: Mapping[int, int | None],
    holders: Mapping[tuple[str, str, str], tuple[Decimal | None, Any]],
    me: set[int],
    pay_date: dt.date | None,
    approved_at: dt.datetime | None,
) -> SharedGoal:
    c = goal.component
    if kind in (TEAM_POOL, SHARED_MILESTONE):
        milestones = _team_milestones(goal, holders, nodes)
    elif kind == GATE:
        milestones = _gate_milestone(goal, nodes, people)
    elif kind == MBO:
        milestones = _mbo_milestones(goal)
    else:
        milestones = _pool_milestone(goal, nodes)
    amounts: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for ln in goal.lines:
        if ln["kind"] == EARNED_KIND:
            amounts[ln["person_id"]] += ln["amount"]
    participants = []
    for pid in sorted({ln["person_id"] for ln in goal.lines}):
        person = people.get(str(pid))
        node_pk = placed.get(pid)
        node = nodes.get(str(node_pk)) if node_pk else None
        participants.append(
            Participant(
                person_id=pid,
                full_name=person.full_name if person else f"person {pid}",
                employee_id=person.employee_id if person else "",
                team_id=node_pk,
                team=node.name if node else "-",
                amount=amounts.get(pid, ZERO) if pid in visible else None,
            )
        )
    participants.sort(key=lambda p: (p.team.lower(), p.full_name.lower(), p.person_id))
    steps = _first_steps(goal)
    pool = None
    if kind in (TEAM_POOL, SHARED_MILESTONE, POOL):
        pool = _dec(steps.get("pool_to_split", steps.get("pool", ("", "")))[0])
    at_stake = None
    if kind in (TEAM_POOL, SHARED_MILESTONE) and isinstance(c.get("pool"), Mapping):
        at_stake = _dec(c["pool"].get("amount"))
    mine = [pid for pid in me if any(ln["person_id"] == pid for ln in goal.lines)]
    first = next((ln for ln in goal.lines if ln["kind"] == EARNED_KIND), goal.lines[0])
    return SharedGoal(
        id=goal_id(*key),
        plan=goal.plan,
        component_id=key[1],
        name=component_title(key[1], c.get("name")),
        kind=kind,
        period=period,
        run=run,
        final=choice.final,
        currency=str(first["currency"]),
        milestones=milestones,
        participants=participants,
        pool=pool,
        at_stake=at_stake,
        paid_total=sum(amounts.values(), ZERO),
        my_amount=sum((amounts.get(pid, ZERO) for pid in mine), ZERO) if mine else None,
        sentence=str(first["trace_text"]),
        pay_date=pay_date,
        approved_at=approved_at,
    )


def shared_goal_get(*, access: Access, goal: str, period_id: int | None = None) -> SharedGoal:
    """Return one shared goal for a period (default: :func:`default_period`) that the principal
    may open, or raise NotFoundError (not found and not yours look the same)."""
    key = parse_goal_id(goal)
    period = period_get(period_id) if period_id is not None else default_period()
    if period is None:
        raise NotFoundError(GOAL_NOT_FOUND)
    got = shared_goals(access=access, period=period, only=key)
    if not got:
        raise NotFoundError(GOAL_NOT_FOUND)
    return got[0]


def goal_history(*, access: Access, goal: str, periods: Sequence[Period]) -> list[SharedGoal]:
    """Return the goal in each of ``periods`` where the principal may open it, oldest first
    (a few queries per period: callers pass a handful)."""
    key = parse_goal_id(goal)
    out: list[SharedGoal] = []
    for period in sorted(periods, key=lambda p: p.start):
        out.extend(shared_goals(access=access, period=period, only=key))
    return out


def as_dict(goal: SharedGoal, *, with_participants: bool = True) -> dict[str, Any]:
    """Return a goal as the API answers it (amounts as exact texts, ISO dates)."""

    def money(v: Decimal | None) -> str | None:
        return None if v is None else str(Decimal(v).quantize(Decimal("0.0001")))

    def num(v: Decimal | None) -> str | None:
        return None if v is None else str(v)

    body: dict[str, Any] = {
        "id": goal.id,
        "name": goal.name,
        "kind": goal.kind,
        "kind_label": goal.kind_label,
        "status": goal.status,
        "plan": {"id": goal.plan.pk, "code": goal.plan.code, "name": goal.plan.name},
        "component_id": goal.component_id,
        "period": {
            "id": goal.period.pk,
            "label": goal.period.label,
            "start": goal.period.start.isoformat(),
            "end": goal.period.end.isoformat(),
            "last_day": goal.period_last_day.isoformat(),
        },
        "run": {"id": goal.run.pk, "number": goal.run.number, "final": goal.final},
        "currency": goal.currency,
        "pool": money(goal.pool),
        "at_stake": money(goal.at_stake),
        "paid_total": money(goal.paid_total),
        "my_amount": money(goal.my_amount),
        "pay_date": goal.pay_date.isoformat() if goal.pay_date else None,
        "approved_at": goal.approved_at.isoformat() if goal.approved_at else None,
        "sentence": goal.sentence,
        "milestones": [
            {
                "label": m.label,
                "status": m.status,
                "hit": m.hit,
                "value": num(m.value),
                "threshold": num(m.threshold),
                "unit": m.unit,
                "progress": str(m.progress.quantize(Decimal("0.0001"))),
                "detail": m.detail,
                "team": m.team,
            }
            for m in goal.milestones
        ],
        "teams": [{"name": name, "participants": n} for name, n in goal.teams],
        "participant_count": len(goal.participants),
        "url": f"/api/v1/milestones/{goal.id}/?period={goal.period.pk}",
    }
    if with_participants:
        body["participants"] = [
            {
                "person_id": p.person_id,
                "full_name": p.full_name,
                "employee_id": p.employee_id,
                "team": p.team,
                "amount": money(p.amount),
            }
            for p in goal.participants
        ]
    return body
