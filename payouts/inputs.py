"""FETCH: one tenant's period, read set-based from the database, as the engine's ``Inputs``.

Contract
--------
:func:`gather` reads what PostgreSQL (or the demo's SQLite) holds for the current tenant and one
period and returns a :class:`Gathered`: the :class:`engine.types.Inputs` snapshot, every
:class:`Problem` found (all of them, never only the first), the ``pins`` a run stores to replay
itself, and the people it covers. It writes nothing. One query per frame (``values_list`` into
DataFrames), never one per person; the ORM's tenant filter and, on PostgreSQL, row-level
security keep every other tenant's rows out.

Conventions the payout run relies on (docs/runs-inputs.md):

* engine ``person_id`` = ``str(Person.pk)``; plan key and ``Plan.id`` = ``str(PlanVersion.pk)``
  (the spec's own ``id`` is replaced, and ``earned.of`` references to another plan - by its
  spec id or its code - point at that plan's versions in force); node ids ``str(Node.pk)``;
  ``credit_id`` ``str(Credit.pk)`` (roll-up totals ``"rollup:<CreditRollup.pk>"``);
  ``transaction_id`` ``str(Transaction.pk)``; timeline ``role`` = ``str(JobRole.pk)``; the
  engine period id = ``str(Period.pk)``.
* Money is int64 ten-thousandths (``*_e4``); credits are converted to the currency of the
  person's plan assignments with the tenant's dated FX rates (the latest rate on or before the
  credit's day, direct or inverted, exactly as :mod:`incentives.fx` converts one amount).
* A plan assignment is on a *plan*: each published version of that plan in force during the
  period gets its own assignment rows, clipped to the version's ``[valid_from, valid_to)``.
  A person, job-role or node assignment is expanded over the person's timeline (the reporting
  hierarchy's assignments as they stood during the period), one row per timeline stretch, with
  that stretch's role, so a dual-role person's plans each follow their own role and
  allocation. Where two assignments put one person on one plan version on the same day, a
  direct assignment wins over a node's, a node's over a job role's, then the larger
  allocation.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone

from core.caches import LastUsed
from core.tenancy import get_current_tenant
from engine.money import from_e4, to_e4
from engine.rules import OBJECTIVE_KPI, objective_kpi
from engine.spec import Plan, PlanValidationError, dependency_errors, parse_plan
from engine.types import (
    ASSIGNMENT_COLUMNS,
    CREDIT_COLUMNS,
    HISTORY_PAYOUT_COLUMNS,
    KPI_COLUMNS,
    NODE_COLUMNS,
    PRIOR_PAYOUT_COLUMNS,
    QUOTA_COLUMNS,
    TIMELINE_COLUMNS,
    Inputs,
    Period,
    empty_frame,
)
from engine.windows import history_needed
from hierarchy.models import (
    Assignment,
    Hierarchy,
    HierarchyKind,
    Node,
    NodeClosure,
    NodeParent,
    Person,
)
from hierarchy.models import Period as PeriodRow
from incentives.models import (
    Credit,
    CreditingRule,
    CreditRollup,
    FxRate,
    KpiSubject,
    KpiValue,
    Transaction,
)
from payouts import as_known
from payouts.models import EntryKind, LedgerEntry
from plans.models import PlanAssignment, PlanVersion, VersionStatus
from plans.objectives_selectors import objective_score_rows
from plans.selectors import quota_frame

# --- problems ----------------------------------------------------------------------------------

NO_ASSIGNMENTS = "no_assignments"
NO_TIMELINE = "no_timeline"
NO_QUOTA = "no_quota"
FX_RATE_MISSING = "fx_rate_missing"
MIXED_CURRENCY = "mixed_currency"
CURRENCY_MISMATCH = "currency_mismatch"
PLAN_CYCLE = "plan_cycle"
PLAN_DEPENDENCY = "plan_dependency"
PLAN_INVALID = "plan_invalid"
UNKNOWN_REFERENCE = "unknown_reference"
HISTORY_MISSING = "history_missing"
QUOTA_INVALID = "quota_invalid"
NO_KPI = "no_kpi"
NO_OBJECTIVE_COMPLETION = "no_objective_completion"

MSG_NO_ASSIGNMENTS = "No one is on a published plan during {period}."
MSG_PERSON_NO_ASSIGNMENTS = "Person {person} is on no published plan during {period}."
MSG_NO_TIMELINE = (
    "Person {person} is on plan version {plan} from {start} to {end} but has no assignment in "
    "the reporting hierarchy then: nothing can be paid on those days."
)
MSG_NO_QUOTA = "Person {person} has no quota {quota!r} for plan version {plan}."
MSG_NO_KPI = (
    "Person {person} has no {kpi!r} value for {period}, which plan version {plan} pays on "
    "(measure {measure!r})."
)
MSG_NO_OBJECTIVE_COMPLETION = (
    "Person {person} has no objectives of their own for {period} on component {component!r} of "
    "plan version {plan}, and no {objective!r} value for the plan's objective: set and sign off "
    "their objectives (Objectives page), or import a KPI value {objective!r}."
)
MSG_FX_QUOTA = "No {currency}/{quote} rate on or before {day} (quota {quota!r} to convert)."
MSG_FX_MISSING = (
    "No {currency}/{quote} rate on or before {day} (person {person}: {count} credit(s) "
    "from {day} to convert)."
)
MSG_MIXED_CURRENCY = (
    "Person {person} is on plans in {currencies} during {period}: credits can be converted "
    "to one currency per person."
)
MSG_CURRENCY_MISMATCH = (
    "Person {person}'s assignment to plan version {plan} is in {currency}, but the version "
    "pays in {plan_currency}: the engine pays lines in the plan's currency."
)
MSG_HISTORY_MISSING = (
    "Plan version {plan} ({reasons}) needs the earlier period {start} to {end}, "
    "which is not in the period calendar."
)


@dataclass(frozen=True, order=True)
class Problem:
    """One reason a run on these inputs must not start: whose, which plan version, what."""

    person_id: str | None
    plan: str | None
    code: str
    message: str


@dataclass(frozen=True)
class Gathered:
    """What :func:`gather` returns: the engine snapshot, every problem, the replay pins."""

    inputs: Inputs
    problems: list[Problem]
    pins: dict[str, Any]
    people: list[int]


# --- small helpers -----------------------------------------------------------------------------


def _days(values: Any) -> np.ndarray:
    """Return dates (``datetime.date`` or None) as int day numbers; None -> a far future day."""
    far = dt.date(9999, 12, 31).toordinal()
    return np.array([far if v is None else v.toordinal() for v in values], dtype=np.int64)


def _date(ordinal: int) -> dt.date:
    return dt.date.fromordinal(int(ordinal))


def _sha(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _frame_hash(frame: pd.DataFrame, columns: Iterable[str]) -> str:
    cols = [c for c in columns if c in frame.columns]
    rows = sorted(tuple(str(v) for v in r) for r in frame[cols].itertuples(index=False))
    return _sha([cols, rows])


def _e4_list(values: Iterable[Any]) -> list[int]:
    return [to_e4(Decimal(v)) for v in values]


@dataclass
class _Context:
    period: PeriodRow
    engine_period: Period
    known_at: dt.datetime
    person_ids: frozenset[int] | None
    hierarchy_id: int | None
    problems: list[Problem] = field(default_factory=list)
    # A preview's version in force over the whole period in place of its plan's published ones.
    substitute: PlanVersion | None = None
    # A replay's FX rates and crediting rules as its run recorded them (``pins``), else None.
    pinned_fx: list[list[Any]] | None = None
    pinned_rules: list[list[Any]] | None = None
    # Plan version ends, plan assignments, quotas, hire dates and the closure as known at
    # ``known_at`` (``payouts.as_known``); False only for a replay of a run that predates it.
    versioned: bool = False
    fx_used: dict[int, list[Any]] = field(default_factory=dict)
    # Read the transactions' fields once for the whole window (kept per process) and join
    # them in memory, rather than join them in SQL for every chunk's credits: a run's chunks.
    shared_transactions: bool = False

    def problem(self, person: Any, plan: Any, code: str, message: str) -> None:
        self.problems.append(
            Problem(
                None if person is None else str(person),
                None if plan is None else str(plan),
                code,
                message,
            )
        )

    def narrow(self, q_field: str) -> Q:
        """Return the filter to the requested people on ``q_field`` (all when none named)."""
        if self.person_ids is None:
            return Q()
        return Q(**{f"{q_field}__in": sorted(self.person_ids)})


# --- plans -------------------------------------------------------------------------------------


@dataclass
class _Version:
    pk: int
    plan_id: int
    code: str
    spec: dict[str, Any]
    spec_hash: str
    start: dt.date
    end: dt.date | None


def _versions(ctx: _Context) -> list[_Version]:
    """Return the published versions in force during the period, as known at ``known_at``;
    a preview's ``substitute`` stands for its plan's over the whole period."""
    p = ctx.period
    rows = (
        as_known.published_versions(ctx.known_at, p.start, p.end)
        if ctx.versioned
        else PlanVersion.objects.filter(
            status=VersionStatus.PUBLISHED, published_at__lte=ctx.known_at
        )
        .overlapping(p.start, p.end)
        .order_by("plan_id", "valid_from", "pk")
        .values_list("pk", "plan_id", "plan__code", "spec", "spec_hash", "valid_from", "valid_to")
    )
    versions = [_Version(*r) for r in rows]
    sub = ctx.substitute
    if sub is None:
        return versions
    versions = [v for v in versions if v.plan_id != sub.plan_id]
    versions.append(
        _Version(sub.pk, sub.plan_id, sub.plan.code, sub.spec, sub.spec_hash, p.start, p.end)
    )
    return sorted(versions, key=lambda v: (v.plan_id, v.start, v.pk))


_NODE_KEYS = ("source_node", "node")


def _rewrite(
    spec: Any,
    *,
    key: str,
    plan_refs: Mapping[str, list[str]],
    nodes: Mapping[str, str],
    people: Mapping[str, str],
    missing: list[str],
    path: str = "$",
) -> Any:
    """Return ``spec`` with its plan id, plan, node and person references as the run's keys."""
    if isinstance(spec, list):
        return [
            _rewrite(
                v,
                key=key,
                plan_refs=plan_refs,
                nodes=nodes,
                people=people,
                missing=missing,
                path=f"{path}[{i}]",
            )
            for i, v in enumerate(spec)
        ]
    if not isinstance(spec, dict):
        return spec
    out: dict[str, Any] = {}
    for k, v in spec.items():
        here = f"{path}.{k}"
        if path == "$" and k == "id":
            out[k] = key
        elif k in _NODE_KEYS and isinstance(v, str):
            out[k] = _ref(v, nodes, "node", here, missing)
        elif k == "teams" and isinstance(v, list):
            out[k] = [_ref(str(t), nodes, "node", f"{here}[{i}]", missing) for i, t in enumerate(v)]
        elif k == "holder" and isinstance(v, str) and v != "own":
            scope = spec.get("scope")
            if scope == "node":
                out[k] = _ref(v, nodes, "node", here, missing)
            elif scope == "person":
                out[k] = _ref(v, people, "person", here, missing)
            else:
                out[k] = v
        elif k == "of" and isinstance(v, list) and path.endswith(".earned"):
            pairs = []
            for pair in v:
                if not isinstance(pair, dict) or not isinstance(pair.get("plan"), str):
                    pairs.append(pair)
                    continue
                targets = plan_refs.get(pair["plan"])
                if not targets:  # left as written: the dependency check names it
                    pairs.append(pair)
                    continue
                pairs += [{**pair, "plan": t} for t in targets]
            out[k] = pairs
        else:
            out[k] = _rewrite(
                v,
                key=key,
                plan_refs=plan_refs,
                nodes=nodes,
                people=people,
                missing=missing,
                path=here,
            )
    return out


def _ref(value: str, table: Mapping[str, str], kind: str, path: str, missing: list[str]) -> str:
    if value in table or value == "own":  # "own": the payee's own node, not a reference
        return table.get(value, value)
    if value in table:
        return table[value]
    missing.append(f"{path}: no {kind} {value!r} in this tenant")
    return value


def _plans(ctx: _Context, versions: list[_Version]) -> dict[str, Plan]:
    """Parse every version in force, with the run's keys; problems for what does not parse."""
    plan_refs: dict[str, list[str]] = defaultdict(list)
    for v in versions:
        for ref in {str(v.spec.get("id", "")), v.code}:
            if ref:
                plan_refs[ref].append(str(v.pk))
    nodes, people = _reference_tables(versions, ctx)
    plans: dict[str, Plan] = {}
    for v in versions:
        key = str(v.pk)
        missing: list[str] = []
        spec = _rewrite(
            v.spec, key=key, plan_refs=plan_refs, nodes=nodes, people=people, missing=missing
        )
        for m in missing:
            ctx.problem(None, key, UNKNOWN_REFERENCE, f"Plan version {key} ({v.code}): {m}.")
        try:
            plans[key] = parse_plan(spec)
        except PlanValidationError as exc:
            for e in exc.errors:
                ctx.problem(None, key, PLAN_INVALID, f"Plan version {key} ({v.code}): {e}")
    for error in dependency_errors(plans):
        plan = error.split("]", 1)[0].removeprefix("plans[") if error.startswith("plans[") else None
        code = PLAN_CYCLE if "cycle" in error else PLAN_DEPENDENCY
        ctx.problem(None, plan, code, error)
    return plans


def _reference_tables(
    versions: list[_Version], ctx: _Context
) -> tuple[dict[str, str], dict[str, str]]:
    """Return node and person references a spec may use -> the run's ids (two small queries,
    only when a spec names any): a node by its pk or code (the reporting hierarchy's code wins
    when codes repeat), a person by pk or employee id."""
    text = json.dumps([v.spec for v in versions])
    nodes: dict[str, str] = {}
    people: dict[str, str] = {}
    if any(f'"{k}"' in text for k in (*_NODE_KEYS, "teams", "holder")):
        rows = Node.objects.values_list("pk", "code", "hierarchy_id").order_by("pk")
        for pk, code, hierarchy in rows:
            nodes[str(pk)] = str(pk)
            if code not in nodes or hierarchy == ctx.hierarchy_id:
                nodes.setdefault(code, str(pk))
                if hierarchy == ctx.hierarchy_id:
                    nodes[code] = str(pk)
    if '"holder"' in text:
        for pk, employee_id in Person.objects.values_list("pk", "employee_id"):
            people[str(pk)] = str(pk)
            people.setdefault(employee_id, str(pk))
    return nodes, people


# --- the timeline and the assignments ----------------------------------------------------------


def _reporting_hierarchy(hierarchy_id: int | None) -> int | None:
    if hierarchy_id is not None:
        return hierarchy_id
    return (
        Hierarchy.objects.filter(kind=HierarchyKind.REPORTING)
        .order_by("pk")
        .values_list("pk", flat=True)
        .first()
    )


def _timeline(ctx: _Context) -> pd.DataFrame:
    """Return the reporting hierarchy's assignments overlapping the period, clipped to it."""
    p = ctx.period
    cols = ["row_id", "person", "node", "role", "t_start", "t_end", "allocation"]
    if ctx.hierarchy_id is None:
        return pd.DataFrame({c: [] for c in cols})
    rows = list(
        Assignment.objects.filter(node__hierarchy_id=ctx.hierarchy_id)
        .filter(ctx.narrow("person_id"))
        .overlapping(p.start, p.end)
        .known_at(ctx.known_at)
        .order_by("person_id", "valid_from", "pk")
        .values_list(
            "pk", "person_id", "node_id", "role_id", "valid_from", "valid_to", "allocation_pct"
        )
    )
    frame = pd.DataFrame(rows, columns=cols)
    p0, p1 = p.start.toordinal(), p.end.toordinal()
    frame["t_start"] = np.maximum(_days(frame["t_start"]), p0)
    frame["t_end"] = np.minimum(_days(frame["t_end"]), p1)
    frame["allocation"] = pd.Series(
        [Decimal(a) / 100 for a in frame["allocation"]], index=frame.index, dtype=object
    )
    return frame


_PRECEDENCE = {"person": 0, "node": 1, "role": 2}


def _plan_assignments(ctx: _Context, versions: list[_Version]) -> pd.DataFrame:
    """Return plan assignments overlapping the period x their plan's versions, clipped."""
    p = ctx.period
    narrow = Q() if ctx.person_ids is None else ctx.narrow("person_id") | Q(person_id=None)
    rows = (
        as_known.plan_assignment_rows(ctx.known_at, narrow, p.start, p.end)
        if ctx.versioned
        else list(
            PlanAssignment.objects.filter(created_at__lte=ctx.known_at)
            .filter(narrow)
            .overlapping(p.start, p.end)
            .order_by("pk")
            .values_list("pk", *as_known.ASSIGNMENT_COLUMNS)
        )
    )
    cols = ["pa", "plan", "person", "role", "node", "ti", "currency", "a_start", "a_end"]
    pa = pd.DataFrame(rows, columns=cols)
    for c in ("person", "role", "node"):
        pa[c] = pa[c].astype("Int64")
    vf = pd.DataFrame(
        [(v.pk, v.plan_id, v.start, v.end) for v in versions],
        columns=["version", "plan", "v_start", "v_end"],
    )
    if pa.empty or vf.empty:
        return pd.DataFrame(columns=[*cols, "version", "start", "end", "kind"])
    j = pa.merge(vf, on="plan")
    start = np.maximum(np.maximum(_days(j["a_start"]), _days(j["v_start"])), p.start.toordinal())
    end = np.minimum(np.minimum(_days(j["a_end"]), _days(j["v_end"])), p.end.toordinal())
    j = j.assign(start=start, end=end)
    j = j[j["start"] < j["end"]].copy()
    j["kind"] = np.where(j["person"].notna(), "person", np.where(j["node"].notna(), "node", "role"))
    return j.drop(columns=["a_start", "a_end", "v_start", "v_end"])


def _node_members(ctx: _Context, node_ids: list[int]) -> pd.DataFrame:
    """Return who sat at or below each node (any hierarchy) during the period: (node, person,
    member_row, m_start, m_end), from the closure and the assignments as they stood then."""
    cols = ["node", "person", "member_row", "m_start", "m_end"]
    if not node_ids:
        return pd.DataFrame(columns=cols)
    p = ctx.period
    closure = pd.DataFrame(
        as_known.closure_rows(node_ids, p.start, p.end, ctx.known_at)
        if ctx.versioned
        else list(
            NodeClosure.objects.filter(ancestor_id__in=node_ids)
            .overlapping(p.start, p.end)
            .values_list("ancestor_id", "descendant_id", "valid_from", "valid_to")
        ),
        columns=["node", "descendant", "c_start", "c_end"],
    )
    below = sorted({int(d) for d in closure["descendant"]})
    members = pd.DataFrame(
        list(
            Assignment.objects.filter(node_id__in=below)
            .filter(ctx.narrow("person_id"))
            .overlapping(p.start, p.end)
            .known_at(ctx.known_at)
            .values_list("pk", "node_id", "person_id", "valid_from", "valid_to")
        ),
        columns=["member_row", "descendant", "person", "s_start", "s_end"],
    )
    j = closure.merge(members, on="descendant")
    if j.empty:
        return pd.DataFrame(columns=cols)
    m_start = np.maximum(_days(j["c_start"]), _days(j["s_start"]))
    m_end = np.minimum(_days(j["c_end"]), _days(j["s_end"]))
    j = j.assign(m_start=m_start, m_end=m_end)
    return j[j["m_start"] < j["m_end"]][cols]


def _expand(ctx: _Context, pa: pd.DataFrame, timeline: pd.DataFrame) -> pd.DataFrame:
    """Return one candidate row per (plan assignment x version, timeline stretch) it covers."""
    t = timeline.rename(columns={"person": "t_person", "role": "t_role", "node": "t_node"})
    parts = []
    direct = pa[pa["kind"] == "person"]
    if len(direct):
        parts.append(direct.merge(t, left_on="person", right_on="t_person"))
    by_role = pa[pa["kind"] == "role"]
    if len(by_role):
        parts.append(by_role.merge(t, left_on="role", right_on="t_role"))
    by_node = pa[pa["kind"] == "node"]
    if len(by_node):
        members = _node_members(ctx, sorted({int(n) for n in by_node["node"]}))
        j = by_node.drop(columns=["person"]).merge(members, on="node")
        # A member's own timeline stretch when the node is in the reporting hierarchy (a dual
        # role's other stretch is not under the node); any stretch of theirs otherwise.
        own = j["member_row"].isin(set(t["row_id"]))
        pieces = [
            j[own].merge(t, left_on="member_row", right_on="row_id"),
            j[~own].merge(t, left_on="person", right_on="t_person"),
        ]
        j = pd.concat([x for x in pieces if len(x)] or pieces[:1], ignore_index=True)
        j = j.assign(
            start=np.maximum(j["start"], j["m_start"]), end=np.minimum(j["end"], j["m_end"])
        )
        parts.append(j[j["start"] < j["end"]])
    parts = [part for part in parts if len(part)]
    if not parts:
        return pd.DataFrame()
    j = pd.concat(parts, ignore_index=True)
    j = j.assign(
        start=np.maximum(j["start"].astype(np.int64), j["t_start"].astype(np.int64)),
        end=np.minimum(j["end"].astype(np.int64), j["t_end"].astype(np.int64)),
    )
    j = j[j["start"] < j["end"]]
    return j[
        [
            "pa",
            "version",
            "kind",
            "t_person",
            "t_role",
            "row_id",
            "allocation",
            "ti",
            "currency",
            "start",
            "end",
        ]
    ].rename(columns={"t_person": "person", "t_role": "role"})


def _resolve(candidates: pd.DataFrame) -> pd.DataFrame:
    """Keep, for each (person, version) and day, one candidate: person > node > role, then the
    larger allocation, then the lower timeline row; cut the others to the days left."""
    if candidates.empty:
        return candidates
    c = candidates.assign(
        rank=candidates["kind"].map(_PRECEDENCE),
        alloc_key=pd.Series(
            [-Decimal(a) for a in candidates["allocation"]], index=candidates.index, dtype=object
        ),
    ).sort_values(["person", "version", "rank", "alloc_key", "row_id", "pa"], kind="stable")
    out: list[tuple[Any, ...]] = []
    taken: dict[tuple[Any, Any], list[tuple[int, int]]] = defaultdict(list)
    r: Any
    for r in c.itertuples(index=False):
        spans = [(int(r.start), int(r.end))]
        for a, b in taken[(r.person, r.version)]:
            spans = [piece for s, e in spans for piece in _minus(s, e, a, b)]
        for s, e in spans:
            taken[(r.person, r.version)].append((s, e))
            out.append((r.pa, r.version, r.kind, r.person, r.role, r.ti, r.currency, s, e))
    frame = pd.DataFrame(
        out, columns=["pa", "version", "kind", "person", "role", "ti", "currency", "start", "end"]
    )
    return frame.sort_values(["person", "version", "start", "role"], kind="stable").reset_index(
        drop=True
    )


def _minus(s: int, e: int, a: int, b: int) -> list[tuple[int, int]]:
    if b <= s or a >= e:
        return [(s, e)]
    return [(x, y) for x, y in ((s, a), (b, e)) if x < y]


def _assignment_rows(
    ctx: _Context, versions: list[_Version], timeline: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (resolved assignment rows, plan assignment rows x versions before expansion)."""
    pa = _plan_assignments(ctx, versions)
    if pa.empty:
        return pd.DataFrame(), pa
    resolved = _resolve(_expand(ctx, pa, timeline))
    if ctx.person_ids is not None and len(resolved):
        resolved = resolved[resolved["person"].isin(ctx.person_ids)].reset_index(drop=True)
    return resolved, pa


# --- credits, FX -------------------------------------------------------------------------------

_CREDIT_FIELDS = (
    "pk",
    "transaction_id",
    "person_id",
    "credit_date",
    "amount",
    "currency",
    "kind",
    "share_ppm",
    "rule_id",
    "transaction__kind",
    "transaction__region",
    "transaction__account",
    "transaction__product",
    "transaction__collected_on",
)
_CREDIT_NAMES = (
    "credit_id",
    "transaction_id",
    "person_id",
    "date",
    "amount",
    "currency",
    "kind",
    "share_ppm",
    "rule_id",
    "transaction_type",
    "region",
    "account",
    "product",
    "collected_on",
)
_ROLLUP_FIELDS = (
    "pk",
    "person_id",
    "credit_date",
    "amount",
    "currency",
    "transaction_kind",
    "region",
    "product",
    "credit_count",
    "rule_id",
)


def _credits(ctx: _Context, people: Collection[int], start: dt.date, end: dt.date) -> pd.DataFrame:
    """Return the credits and roll-up totals of ``people`` dated in ``[start, end)``, as known
    at ``known_at`` (two queries), money as ``amount_e4`` still in the credit's own currency."""
    # All the period's credits when everyone is asked for (one range scan; the list of
    # people would be a long IN), the people's otherwise.
    narrow = ctx.person_ids is not None or not people
    # No ORDER BY (the model's newest-first): the frame is sorted below.
    qs = (
        Credit.objects.filter(credit_date__gte=start, credit_date__lt=end)
        .known_at(ctx.known_at)
        .order_by()
    )
    if narrow:
        qs = qs.filter(person_id__in=sorted(people))
    if connection.vendor == "postgresql" and people and ctx.shared_transactions:
        frame = _credit_rows_shared(ctx, qs, start, end)
    elif connection.vendor == "postgresql" and people:
        frame = _credit_rows_copied(ctx, qs)
    else:
        frame = pd.DataFrame(list(qs.values_list(*_CREDIT_FIELDS)), columns=list(_CREDIT_NAMES))
        frame = frame.assign(
            amount_e4=pd.Series(_e4_list(frame["amount"]), index=frame.index, dtype="int64"),
            credit_id=frame["credit_id"].astype(str),
            transaction_id=frame["transaction_id"].astype(str),
            collected=frame["collected_on"].notna()
            & (frame["collected_on"].fillna(dt.date.max) < ctx.period.end),
            collected_now=frame["collected_on"].notna()
            & (frame["collected_on"].fillna(dt.date.min) >= ctx.period.start)
            & (frame["collected_on"].fillna(dt.date.max) < ctx.period.end),
        ).drop(columns=["collected_on", "amount"])
    frame["credits_n"] = 1
    rollups = (
        CreditRollup.objects.filter(credit_date__gte=start, credit_date__lt=end)
        .known_at(ctx.known_at)
        .order_by()
    )
    if narrow:
        rollups = rollups.filter(person_id__in=sorted(people))
    if connection.vendor == "postgresql" and people:
        r = _rollup_rows_copied(rollups)
    else:
        r = pd.DataFrame(
            list(rollups.values_list(*_ROLLUP_FIELDS)),
            columns=[
                "pk",
                "person_id",
                "date",
                "amount",
                "currency",
                "transaction_type",
                "region",
                "product",
                "credits_n",
                "rule_id",
            ],
        )
        if len(r):
            r["amount_e4"] = pd.Series(_e4_list(r["amount"]), index=r.index, dtype="int64")
        r = r.drop(columns=["amount"])
    if not narrow:
        wanted = set(people)
        frame = frame[frame["person_id"].isin(wanted)]
        r = r[r["person_id"].isin(wanted)]
    if len(r):
        ids = "rollup:" + r["pk"].astype(str)
        r = r.assign(
            credit_id=ids,
            transaction_id=ids,
            kind="rollup",
            share_ppm=0,
            account="",
            collected=True,
            collected_now=False,
        ).drop(columns=["pk"])
        frame = pd.concat([frame, r[frame.columns]], ignore_index=True)
    frame["person_id"] = frame["person_id"].astype(str)
    frame["rule_id"] = frame["rule_id"].astype(str)
    for c in ("region", "account", "product"):
        frame[c] = frame[c].fillna("").astype(str)
    frame["share_ppm"] = frame["share_ppm"].astype(np.int64)
    frame["credits_n"] = frame["credits_n"].astype(np.int64)
    frame["amount_e4"] = frame["amount_e4"].astype(np.int64)
    return frame.sort_values(["person_id", "date", "credit_id"], kind="stable").reset_index(
        drop=True
    )


# The credits' columns as ``COPY`` writes them (CSV), their pandas types and the SQL of each
# over the credits query (``c``) joined to its transactions (``t``). Amounts have four decimal
# places, so ``amount * 10000`` is exactly the ten-thousandths ``to_e4`` gives; days are
# ordinals (``date.toordinal``); text is CSV-quoted, so tabs, commas and newlines survive.
_COPIED_CREDITS = (
    ("credit_id", str, "c.pk"),
    ("transaction_id", str, "c.transaction_id"),
    ("person_id", np.int64, "c.person_id"),
    ("date", np.int64, "c.credit_date - DATE '0001-01-01' + 1"),
    ("amount_e4", np.int64, "(c.amount * 10000)::bigint"),
    ("currency", str, "c.currency"),
    ("kind", str, "c.kind"),
    ("share_ppm", np.int64, "c.share_ppm"),
    ("rule_id", np.int64, "c.rule_id"),
    ("transaction_type", str, "t.kind"),
    ("region", str, "coalesce(t.region, '')"),
    ("account", str, "coalesce(t.account, '')"),
    ("product", str, "coalesce(t.product, '')"),
    ("collected", str, "coalesce(t.collected_on < %s, false)"),
    ("collected_now", str, "coalesce(t.collected_on >= %s AND t.collected_on < %s, false)"),
)


def _credit_rows_copied(ctx: _Context, qs: Any) -> pd.DataFrame:
    """Return the credits of ``qs`` with their transactions' fields, read by ``COPY … TO
    STDOUT`` and parsed in C (PostgreSQL): the rows :func:`_credits` makes from the ORM's
    tuples (the same values and types), without a Python object per value."""
    sql, params = qs.values_list(*_CREDIT_FIELDS[:9]).query.sql_with_params()
    select = ", ".join(expr for _, _, expr in _COPIED_CREDITS)
    query = (
        f"SELECT {select} FROM ({sql}) c "  # noqa: S608 (the ORM's SQL, parameters apart)
        f"JOIN {Transaction._meta.db_table} t ON t.id = c.transaction_id"
    )
    # (the select list's parameters come before the subquery's)
    args = [ctx.period.end, ctx.period.start, ctx.period.end, *params]
    frame = _copied(query, args, _COPIED_CREDITS)
    for name in ("collected", "collected_now"):
        frame[name] = frame[name].to_numpy() == "t"
    return frame


# A credit's own columns (``_COPIED_CREDITS`` up to its transaction's), with the transaction's
# id as a number to look it up by.
_COPIED_CREDITS_ONLY = (*_COPIED_CREDITS[:9], ("tx", np.int64, "c.transaction_id"))
# The transactions' fields a credit row takes, read once for a window (``t``); collected_on as
# a day ordinal, 0 for none.
_COPIED_TRANSACTIONS = (
    ("tx", np.int64, "t.id"),
    ("transaction_type", "category", "t.kind"),
    ("region", "category", "coalesce(t.region, '')"),
    ("account", "category", "coalesce(t.account, '')"),
    ("product", "category", "coalesce(t.product, '')"),
    ("collected_on", np.int64, "coalesce(t.collected_on - DATE '0001-01-01' + 1, 0)"),
)
# The transactions of the last windows this process read (tenant, database, window, known_at)
# -> the frame sorted by id: a run's chunks each read their credits and look their
# transactions up here (transaction rows are not edited by a run's reads; the key's known_at
# is the run's).
_transactions_kept: LastUsed[tuple[Any, ...], pd.DataFrame] = LastUsed(2)


def _window_transactions(ctx: _Context, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Return the fields of every transaction a credit dated in ``[start, end)`` (as known at
    ``known_at``) points at, sorted by id: one read for all of a run's chunks in a process."""
    key = (get_current_tenant().pk, connection.alias, start, end, ctx.known_at.isoformat())
    kept = _transactions_kept.get(key)
    if kept is not None:
        return kept
    credits = (
        Credit.objects.filter(credit_date__gte=start, credit_date__lt=end)
        .known_at(ctx.known_at)
        .order_by()
        .values("transaction_id")
    )
    sql, params = credits.query.sql_with_params()
    select = ", ".join(expr for _, _, expr in _COPIED_TRANSACTIONS)
    query = (
        f"SELECT {select} FROM {Transaction._meta.db_table} t "  # noqa: S608 (the ORM's SQL)
        f"WHERE t.id IN ({sql})"
    )
    frame = _copied(query, list(params), _COPIED_TRANSACTIONS, dates=False)
    if not len(frame):
        frame = pd.DataFrame(
            {
                name: pd.Series([], dtype=np.int64 if kind is np.int64 else "category")
                for name, kind, _ in _COPIED_TRANSACTIONS
            }
        )
    frame = frame.sort_values("tx", kind="stable").reset_index(drop=True)
    _transactions_kept.put(key, frame)
    return frame


def _credit_rows_shared(ctx: _Context, qs: Any, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Return the rows :func:`_credit_rows_copied` reads (the same values and types), the
    credits by ``COPY`` alone and their transactions' fields looked up in the window's
    transactions read once (:func:`_window_transactions`)."""
    sql, params = qs.values_list(*_CREDIT_FIELDS[:9]).query.sql_with_params()
    select = ", ".join(expr for _, _, expr in _COPIED_CREDITS_ONLY)
    frame = _copied(f"SELECT {select} FROM ({sql}) c", list(params), _COPIED_CREDITS_ONLY)  # noqa: S608
    names = [name for name, _, _ in _COPIED_CREDITS]
    if not len(frame):
        return pd.DataFrame({name: pd.Series([], dtype=object) for name in names})
    known = _window_transactions(ctx, start, end)
    ids = known["tx"].to_numpy()
    wanted = frame["tx"].to_numpy()
    at = np.searchsorted(ids, wanted)
    found = at < len(ids)
    found[found] = ids[at[found]] == wanted[found]
    if not found.all():  # (a credit of the window always has its transaction: never here)
        raise ValueError("credits without their transactions in the window's read")
    for name in ("transaction_type", "region", "account", "product"):
        values = known[name].array  # (categorical: each text once)
        names_of = np.asarray(values.categories, dtype=object)
        frame[name] = names_of[values.codes[at]]
    day = known["collected_on"].to_numpy()[at]
    end_day, start_day = ctx.period.end.toordinal(), ctx.period.start.toordinal()
    frame["collected"] = (day > 0) & (day < end_day)
    frame["collected_now"] = (day > 0) & (day >= start_day) & (day < end_day)
    return frame[names]


# The roll-up totals' columns as ``COPY`` writes them, over the roll-ups query (``r``): the
# frame :func:`_credits` made from the ORM's tuples, the amount already in ten-thousandths.
_COPIED_ROLLUPS = (
    ("pk", np.int64, "r.pk"),
    ("person_id", np.int64, "r.person_id"),
    ("date", np.int64, "r.credit_date - DATE '0001-01-01' + 1"),
    ("currency", str, "r.currency"),
    ("transaction_type", str, "r.transaction_kind"),
    ("region", str, "r.region"),
    ("product", str, "r.product"),
    ("credits_n", np.int64, "r.credit_count"),
    ("rule_id", np.int64, "r.rule_id"),
    ("amount_e4", np.int64, "(r.amount * 10000)::bigint"),
)


def _rollup_rows_copied(qs: Any) -> pd.DataFrame:
    """Return the roll-up totals of ``qs`` read by ``COPY`` (PostgreSQL), as :func:`_credits`
    reads them through the ORM (a roll-up total has as many rows as a manager's days)."""
    sql, params = qs.values_list(*_ROLLUP_FIELDS).query.sql_with_params()
    select = ", ".join(expr for _, _, expr in _COPIED_ROLLUPS)
    return _copied(f"SELECT {select} FROM ({sql}) r", list(params), _COPIED_ROLLUPS)  # noqa: S608


def _copied(
    query: str, args: Sequence[Any], columns: Sequence[tuple[str, Any, str]], *, dates: bool = True
) -> pd.DataFrame:
    """Return the rows of ``query`` read by ``COPY … TO STDOUT (FORMAT csv)`` and parsed by
    pandas' C reader into ``columns`` (name, type, SQL); ``date`` from day ordinals to dates."""
    buffer = io.StringIO()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")  # through the wrapper: the tenant setting is in force
        text = cursor.cursor.mogrify(query, args).decode()
        cursor.cursor.copy_expert(f"COPY ({text}) TO STDOUT WITH (FORMAT csv)", buffer)
    names = [name for name, _, _ in columns]
    if not buffer.tell():
        return pd.DataFrame({name: pd.Series([], dtype=object) for name in names})
    buffer.seek(0)
    frame = pd.read_csv(
        buffer,
        header=None,
        names=names,
        dtype={name: kind for name, kind, _ in columns},
        keep_default_na=False,
        na_filter=False,
    )
    if not dates:
        return frame
    days = frame["date"].to_numpy()
    unique, inverse = np.unique(days, return_inverse=True)
    as_dates = np.array([dt.date.fromordinal(int(d)) for d in unique] + [None], dtype=object)
    frame["date"] = as_dates[inverse] if len(days) else as_dates[:0]
    return frame


@dataclass
class _Rates:
    """The tenant's FX rates for some pairs: per (currency, quote) sorted days, rates, ids."""

    table: dict[tuple[str, str], tuple[np.ndarray, list[Decimal], list[int]]]
    used: set[int] = field(default_factory=set)
    rows: dict[int, list[Any]] = field(default_factory=dict)  # pk -> [pk, cur, quote, day, rate]

    @classmethod
    def load(
        cls, pairs: set[tuple[str, str]], until: dt.date, pinned: list[list[Any]] | None = None
    ) -> _Rates:
        """Load both directions of ``pairs`` up to ``until`` (one query), or take them from a
        replayed run's ``pinned`` rates (``fx_rates`` of its pins) instead of the table."""
        if not pairs:
            return cls({})
        currencies = sorted({c for pair in pairs for c in pair})
        rows: Iterable[tuple[int, str, str, dt.date, Decimal]]
        if pinned is None:
            rows = (
                FxRate.objects.filter(
                    currency__in=currencies, quote_currency__in=currencies, valid_on__lt=until
                )
                .order_by("currency", "quote_currency", "valid_on")
                .values_list("pk", "currency", "quote_currency", "valid_on", "rate")
            )
        else:
            wanted = set(currencies)
            rows = sorted(
                (
                    (int(pk), cur, quote, dt.date.fromisoformat(day), Decimal(rate))
                    for pk, cur, quote, day, rate in pinned
                    if cur in wanted and quote in wanted and dt.date.fromisoformat(day) < until
                ),
                key=lambda r: (r[1], r[2], r[3]),
            )
        grouped: dict[tuple[str, str], list[tuple[int, dt.date, Decimal]]] = defaultdict(list)
        known: dict[int, list[Any]] = {}
        for pk, cur, quote, day, rate in rows:
            grouped[(cur, quote)].append((pk, day, rate))
            known[pk] = [pk, cur, quote, day.isoformat(), str(rate)]
        table = {
            k: (_days([d for _, d, _ in v]), [r for _, _, r in v], [pk for pk, _, _ in v])
            for k, v in grouped.items()
        }
        return cls(table, rows=known)

    def _latest(self, pair: tuple[str, str], days: np.ndarray) -> tuple[np.ndarray, Any]:
        got = self.table.get(pair)
        if got is None:
            return np.full(len(days), -1, dtype=np.int64), None
        return np.searchsorted(got[0], days, side="right") - 1, got

    def convert(self, amounts_e4: list[int], days: np.ndarray, cur: str, quote: str) -> Any:
        """Return the amounts in ``quote`` (None where no rate), as :func:`incentives.fx.convert`
        would: the latest rate on or before the day, direct or inverted (the later wins)."""
        di, direct = self._latest((cur, quote), days)
        ii, inverse = self._latest((quote, cur), days)
        out: list[int | None] = []
        for amount, d, i in zip(amounts_e4, di, ii, strict=True):
            d_day = direct[0][d] if d >= 0 else None
            i_day = inverse[0][i] if i >= 0 else None
            if d_day is not None and (i_day is None or d_day >= i_day):
                rate = direct[1][d]
                self.used.add(direct[2][d])
            elif i_day is not None:
                rate = Decimal(1) / inverse[1][i]
                self.used.add(inverse[2][i])
            else:
                out.append(None)
                continue
            out.append(to_e4(from_e4(amount) * rate))
        return out


def _convert(
    ctx: _Context, credits: pd.DataFrame, currency_of: Mapping[str, str], rates: _Rates
) -> pd.DataFrame:
    """Return ``credits`` with ``amount_e4`` in each person's currency; problems for gaps."""
    credits = credits.assign(to_currency=credits["person_id"].map(currency_of))
    convert = credits["to_currency"].notna() & (credits["currency"] != credits["to_currency"])
    if not convert.any():
        return credits.drop(columns=["to_currency"])
    keep = np.ones(len(credits), dtype=bool)
    amounts = credits["amount_e4"].to_numpy().copy()
    sub = credits[convert]
    for (cur, quote), group in sub.groupby(["currency", "to_currency"], sort=True):
        days = _days(group["date"])
        converted = rates.convert(group["amount_e4"].tolist(), days, str(cur), str(quote))
        missing: dict[str, list[dt.date]] = defaultdict(list)
        for idx, value, person, day in zip(
            group.index, converted, group["person_id"], group["date"], strict=True
        ):
            pos = credits.index.get_loc(idx)
            if value is None:
                keep[pos] = False
                missing[person].append(day)
            else:
                amounts[pos] = value
        for person, missed in sorted(missing.items()):
            ctx.problem(
                person,
                None,
                FX_RATE_MISSING,
                MSG_FX_MISSING.format(
                    currency=cur, quote=quote, day=min(missed), person=person, count=len(missed)
                ),
            )
    credits = credits.assign(
        amount_e4=amounts, currency=credits["to_currency"].fillna(credits["currency"])
    )
    return credits[keep].drop(columns=["to_currency"]).reset_index(drop=True)


def _fx_pairs(credits: pd.DataFrame, currency_of: Mapping[str, str]) -> set[tuple[str, str]]:
    if credits.empty:
        return set()
    target = credits["person_id"].map(currency_of)
    need = credits[target.notna() & (credits["currency"] != target)]
    return {
        (str(a), str(b))
        for a, b in zip(need["currency"], need["person_id"].map(currency_of), strict=True)
    }


# --- KPIs, nodes, quotas, ledger ---------------------------------------------------------------


def _kpis(ctx: _Context, people: set[str], versions: list[_Version]) -> pd.DataFrame:
    """Return the period's KPI values of people and nodes, as known at ``known_at``, and the
    people's own agreed MBO objectives (``_objective_kpis``)."""
    rows = (
        KpiValue.objects.filter(
            period_id=ctx.period.pk, subject_type__in=(KpiSubject.PERSON, KpiSubject.NODE)
        )
        .known_at(ctx.known_at)
        .order_by("metric", "subject_key")
        .values_list("subject_type", "person_id", "node_id", "metric", "value")
    )
    out = []
    for kind, person, node, metric, value in rows:
        holder = str(person if kind == KpiSubject.PERSON else node)
        if kind == KpiSubject.PERSON and holder not in people:
            continue
        out.append((kind, holder, metric, value))
    out += _objective_kpis(ctx, people, versions)
    if not out:
        return empty_frame(KPI_COLUMNS)
    return pd.DataFrame(out, columns=list(KPI_COLUMNS))


def _mbo_components(spec: Mapping[str, Any]) -> set[str]:
    return {
        str(c.get("id"))
        for c in spec.get("components") or []
        if isinstance(c, dict) and c.get("type") == "mbo"
    }


def _objective_kpis(
    ctx: _Context, people: set[str], versions: list[_Version]
) -> list[tuple[str, str, str, Decimal]]:
    """Return the people's agreed objectives of the period as person KPI values, as known at
    ``known_at``: a weight per objective and, only once signed off, its completion (fractions,
    named by ``engine.rules.objective_kpi`` for every version of the plan in force that has the
    mbo component). The engine's mbo rule reads them in place of the spec's objectives."""
    by_plan: dict[int, list[_Version]] = defaultdict(list)
    for v in versions:
        by_plan[v.plan_id].append(v)
    out: list[tuple[str, str, str, Decimal]] = []
    for row in objective_score_rows(
        period_id=ctx.period.pk, person_ids=ctx.person_ids, known_at=ctx.known_at
    ):
        person = str(row.person_id)
        if person not in people:
            continue
        for v in by_plan.get(row.plan_id, []):
            if row.component not in _mbo_components(v.spec):
                continue
            name = partial(objective_kpi, str(v.pk), row.component, str(row.objective_id))
            out.append((KpiSubject.PERSON, person, name("weight"), row.weight / 100))
            if row.completion is not None:
                out.append((KpiSubject.PERSON, person, name("completion"), row.completion / 100))
    return out


def _nodes(ctx: _Context) -> pd.DataFrame:
    """Return the reporting hierarchy's parent links on the period's first day."""
    if ctx.hierarchy_id is None:
        return empty_frame(NODE_COLUMNS)
    rows = (
        NodeParent.objects.filter(node__hierarchy_id=ctx.hierarchy_id)
        .as_of(ctx.period.start)
        .known_at(ctx.known_at)
        .order_by("node_id")
        .values_list("node_id", "parent_id")
    )
    frame = pd.DataFrame(
        [(str(n), None if p is None else str(p)) for n, p in rows], columns=list(NODE_COLUMNS)
    )
    return frame if len(frame) else empty_frame(NODE_COLUMNS)


def required_quotas(plan: Plan) -> list[str]:
    """Return the quota ids a plan reads for each payee (their own, not a node's)."""
    need: list[str] = []
    for c in plan.components:
        ids: list[str | None] = []
        if c.type == "commission":
            table = c.rate_table
            if (table is not None and table.basis == "attainment" and table.tier_by is None) or (
                c.accelerator is not None or c.decelerator is not None
            ):
                ids.append(c.quota or c.measure)
        elif c.type == "attainment_bonus":
            ids.append(c.quota or c.measure)
        elif c.type == "kpi_bonus":
            ids += [k.measure for k in c.kpis if k.target is None]
        elif c.type == "hybrid":
            ids += [p.quota or p.measure for p in c.parts if p.scope == "self"]
        need += [i for i in ids if i and i not in need]
    return need


def required_kpis(plan: Plan) -> list[tuple[str, str]]:
    """Return (measure id, KPI) of the person KPIs a plan's KPI bonuses cannot pay without."""
    need: list[tuple[str, str]] = []
    for c in plan.components:
        if c.type != "kpi_bonus":
            continue
        for k in c.kpis:
            m = plan.measures_by_id.get(k.measure)
            if m is not None and m.aggregate == "kpi" and m.scope == "person":
                pair = (m.id, m.kpi or m.id)
                if pair not in need:
                    need.append(pair)
    return need


def _check_kpis(
    ctx: _Context, plans: Mapping[str, Plan], rows: pd.DataFrame, kpis: pd.DataFrame
) -> None:
    """A KPI bonus on a person's KPI with no value for the period cannot be paid, nor an mbo
    component for a person with neither agreed objectives of their own nor the spec's
    objectives' KPI values: say so."""
    if rows.empty:
        return
    have = {
        (str(h), str(k))
        for kind, h, k in zip(kpis["holder_kind"], kpis["holder_id"], kpis["kpi"], strict=True)
        if kind == KpiSubject.PERSON
    }
    own_groups = {(p, k.rsplit(":", 2)[0]) for p, k in have if k.startswith(OBJECTIVE_KPI + ":")}
    pairs = {(str(v), str(p)) for v, p in zip(rows["version"], rows["person"], strict=True)}
    for key, person in sorted(pairs):
        plan = plans.get(key)
        for measure, kpi in required_kpis(plan) if plan is not None else []:
            if (person, kpi) not in have:
                ctx.problem(
                    person,
                    key,
                    NO_KPI,
                    MSG_NO_KPI.format(
                        person=person, kpi=kpi, period=ctx.period.label, plan=key, measure=measure
                    ),
                )
        for c in plan.components if plan is not None else ():
            if c.type != "mbo":
                continue
            if (person, f"{OBJECTIVE_KPI}:{key}:{c.id}") in own_groups:
                continue  # their own objectives replace the spec's (unsigned ones score 0)
            for o in c.objectives:
                if (person, o.id) not in have:
                    ctx.problem(
                        person,
                        key,
                        NO_OBJECTIVE_COMPLETION,
                        MSG_NO_OBJECTIVE_COMPLETION.format(
                            person=person,
                            objective=o.id,
                            component=c.id,
                            period=ctx.period.label,
                            plan=key,
                        ),
                    )


def _quotas(
    ctx: _Context,
    plans: Mapping[str, Plan],
    rows: pd.DataFrame,
    currency_of: Mapping[str, str],
) -> pd.DataFrame:
    """Return the period's quotas of the people and nodes (``plans.selectors.quota_frame``),
    each person's in their payout currency; a ``no_quota`` problem for every (person, plan
    version, quota id) a plan needs and nobody gave."""
    if rows.empty:
        return empty_frame((*QUOTA_COLUMNS, "holder_kind"))
    whole = sorted({qid for plan in plans.values() for qid, _ in plan.seasonality})
    people = sorted({int(p) for p in rows["person"]})
    try:
        frame = quota_frame(
            start=ctx.period.start,
            end=ctx.period.end,
            person_ids=people,
            whole=whole,
            known_at=ctx.known_at if ctx.versioned else None,
        )
    except ValueError as exc:
        ctx.problem(None, None, QUOTA_INVALID, str(exc))
        frame = pd.DataFrame(
            columns=["holder_kind", "holder_id", "quota_id", "amount_e4", "currency"]
        )
    frame = _quotas_converted(ctx, frame, currency_of)
    have = {
        (h, q)
        for k, h, q in zip(frame["holder_kind"], frame["holder_id"], frame["quota_id"], strict=True)
        if k == "person"
    }
    pairs = {(str(v), str(p)) for v, p in zip(rows["version"], rows["person"], strict=True)}
    for key, person in sorted(pairs):
        plan = plans.get(key)
        if plan is None:
            continue
        for quota in required_quotas(plan):
            if (person, quota) not in have:
                ctx.problem(
                    person, key, NO_QUOTA, MSG_NO_QUOTA.format(plan=key, quota=quota, person=person)
                )
    if frame.empty:
        return empty_frame((*QUOTA_COLUMNS, "holder_kind"))
    return frame[[*QUOTA_COLUMNS, "holder_kind"]].reset_index(drop=True)


def _quotas_converted(
    ctx: _Context, frame: pd.DataFrame, currency_of: Mapping[str, str]
) -> pd.DataFrame:
    """Return person quotas in their holder's payout currency, at the rate of the period's
    first day (node quotas as given); a problem where no rate is known."""
    if frame.empty:
        return frame
    target = [
        currency_of.get(h) if k == "person" else None
        for k, h in zip(frame["holder_kind"], frame["holder_id"], strict=True)
    ]
    pairs = {(c, t) for c, t in zip(frame["currency"], target, strict=True) if t and c != t}
    if not pairs:
        return frame
    rates = _Rates.load(pairs, ctx.period.start + dt.timedelta(days=1), ctx.pinned_fx)
    amounts = frame["amount_e4"].tolist()
    day = np.array([ctx.period.start.toordinal()], dtype=np.int64)
    keep = []
    for i, (cur, to, holder, qid) in enumerate(
        zip(frame["currency"], target, frame["holder_id"], frame["quota_id"], strict=True)
    ):
        if not to or cur == to:
            keep.append(True)
            continue
        value = rates.convert([int(amounts[i])], day, str(cur), str(to))[0]
        if value is None:
            ctx.problem(
                holder,
                None,
                FX_RATE_MISSING,
                MSG_FX_QUOTA.format(currency=cur, quote=to, day=ctx.period.start, quota=qid),
            )
            keep.append(False)
            continue
        amounts[i] = value
        keep.append(True)
    ctx.fx_used.update({pk: rates.rows[pk] for pk in rates.used})
    return frame.assign(amount_e4=amounts)[keep]


def _plan_keys(versions: list[_Version]) -> dict[int, str]:
    """Return each plan's key in this run: its version in force last in the period."""
    out: dict[int, str] = {}
    for v in sorted(versions, key=lambda v: (v.plan_id, v.start, v.pk)):
        out[v.plan_id] = str(v.pk)
    return out


def _ledger(
    ctx: _Context,
    versions: list[_Version],
    people: set[str],
    history: tuple[Period, ...],
) -> dict[str, Any]:
    """Return prior payouts, draw balances and history payouts from the ledger (3 queries).

    Each entry's plan is keyed as the run keys that plan (its version in force last in the
    period), so a year-to-date settlement subtracts what an earlier version paid too.

    * ``prior_payouts``: ``paid`` entries of this period per (person, plan, component);
    * ``draw_balances``: ``draw`` minus ``draw_recovery`` entries of earlier periods per
      person, never below 0 (amounts are written positive for both kinds);
    * ``history_payouts``: ``earned`` entries (one per approved line) of the history periods.
    """
    keys = _plan_keys(versions)
    ids = sorted(int(p) for p in people)
    base = LedgerEntry.objects.filter(created_at__lte=ctx.known_at, person_id__in=ids)

    def frame(qs: Any, with_period: bool) -> pd.DataFrame:
        fields = ["person_id", "plan_id", "component_id", *(["period_id"] if with_period else [])]
        rows = []
        for *key, amount in qs.values_list(*fields, "amount"):
            plan = keys.get(key[1])
            if plan is None:
                continue
            rows.append((str(key[0]), plan, str(key[2]), *map(str, key[3:]), to_e4(amount)))
        columns = HISTORY_PAYOUT_COLUMNS if with_period else PRIOR_PAYOUT_COLUMNS
        if not rows:
            return empty_frame(columns)
        out = pd.DataFrame(rows, columns=list(columns))
        group = [c for c in columns if c != "amount_e4"]
        return out.groupby(group, as_index=False, sort=True).agg(amount_e4=("amount_e4", "sum"))

    prior = frame(
        base.filter(period_id=ctx.period.pk, kind=EntryKind.PAID, plan_id__isnull=False), False
    )
    draws: dict[str, Decimal] = defaultdict(Decimal)
    for person, kind, amount in base.filter(
        kind__in=(EntryKind.DRAW, EntryKind.DRAW_RECOVERY), period__start__lt=ctx.period.start
    ).values_list("person_id", "kind", "amount"):
        draws[str(person)] += amount if kind == EntryKind.DRAW else -amount
    history_payouts = empty_frame(HISTORY_PAYOUT_COLUMNS)
    if history:
        history_payouts = frame(
            base.filter(
                period_id__in=[int(p.id) for p in history],
                kind=EntryKind.EARNED,
                plan_id__isnull=False,
            ),
            True,
        )
    return {
        "prior_payouts": prior,
        "draw_balances": {p: b for p, b in sorted(draws.items()) if b > 0},
        "history_payouts": history_payouts,
    }


# --- history ------------------------------------------------------------------------------------


def _history(
    ctx: _Context, plans: Mapping[str, Plan], fiscal_start: int
) -> tuple[tuple[Period, ...], dt.date | None, dt.date | None]:
    """Return the earlier periods the plans' windows need, the first day of history, and the
    first day whose credits must be read (None: no history credits)."""
    first = PeriodRow.objects.order_by("start").values_list("start", flat=True).first()
    needs = history_needed(plans, ctx.engine_period, fiscal_start, first)
    if not needs:
        return (), first, None
    wanted = {span for need in needs for span in need.periods}
    rows = PeriodRow.objects.filter(
        start__gte=min(s for s, _ in wanted), end__lte=ctx.period.start
    ).values_list("pk", "start", "end")
    by_span: dict[tuple[dt.date, dt.date], int] = {}
    for pk, start, end in rows:
        by_span.setdefault((start, end), pk)
    for need in needs:
        for start, end in need.periods:
            if (start, end) not in by_span:
                ctx.problem(
                    None,
                    need.plan_id,
                    HISTORY_MISSING,
                    MSG_HISTORY_MISSING.format(
                        plan=need.plan_id,
                        reasons=", ".join(need.reasons),
                        start=start,
                        end=end - dt.timedelta(days=1),
                    ),
                )
    periods = tuple(Period(str(by_span[s]), s[0], s[1]) for s in sorted(wanted) if s in by_span)
    credits_from = None
    if any("history_credits" in need.tables for need in needs):
        credits_from = min(need.start for need in needs)
    return periods, first, credits_from


# --- gather ------------------------------------------------------------------------------------


def _context(
    period_id: int,
    person_ids: Collection[int] | None,
    known_at: dt.datetime | None,
    hierarchy_id: int | None,
    substitute: PlanVersion | None = None,
    pinned: Mapping[str, Any] | None = None,
) -> _Context:
    period = PeriodRow.objects.get(pk=period_id)
    versioned = as_known.reads_versions(pinned)
    pinned = pinned or {}
    return _Context(
        period=period,
        engine_period=Period(str(period.pk), period.start, period.end),
        known_at=known_at or timezone.now(),
        person_ids=None if person_ids is None else frozenset(int(p) for p in person_ids),
        hierarchy_id=_reporting_hierarchy(hierarchy_id),
        substitute=substitute,
        pinned_fx=pinned.get("fx_rates"),
        pinned_rules=pinned.get("crediting_rules"),
        versioned=versioned,
    )


def people_for_period(
    period_id: int,
    *,
    known_at: dt.datetime | None = None,
    hierarchy_id: int | None = None,
    substitute: PlanVersion | None = None,
    pinned: Mapping[str, Any] | None = None,
) -> list[int]:
    """Return everyone on a published plan during the period (pks, sorted): what runs chunk
    (``pinned``: a replayed run's pins, as :func:`gather`)."""
    ctx = _context(period_id, None, known_at, hierarchy_id, substitute, pinned)
    versions = _versions(ctx)
    rows, _ = _assignment_rows(ctx, versions, _timeline(ctx))
    return sorted({int(p) for p in rows["person"]}) if len(rows) else []


def credit_counts(period_id: int, *, known_at: dt.datetime | None = None) -> dict[int, int]:
    """Return how many credit and roll-up total rows each person has dated in the period, as
    known at ``known_at`` (two grouped counts): what a chunk's reads and rows cost, for cutting
    a run's people into chunks of even work."""
    period = PeriodRow.objects.get(pk=period_id)
    known = known_at or timezone.now()
    counts: dict[int, int] = defaultdict(int)
    for model in (Credit, CreditRollup):
        rows = (
            model.objects.filter(credit_date__gte=period.start, credit_date__lt=period.end)
            .known_at(known)
            .order_by()
            .values("person_id")
            .annotate(n=Count("pk"))
            .values_list("person_id", "n")
        )
        for person, n in rows:
            counts[int(person)] += int(n)
    return dict(counts)


def gather(
    *,
    period_id: int,
    person_ids: Collection[int] | None = None,
    known_at: dt.datetime | None = None,
    hierarchy_id: int | None = None,
    substitute: PlanVersion | None = None,
    pinned: Mapping[str, Any] | None = None,
    shared_transactions: bool = False,
) -> Gathered:
    """Return the engine inputs of one period (all its people, or ``person_ids``), every
    problem that must stop a run, and what a replay must pin; reads only, set-based.

    ``substitute``: a plan version (a draft, for a preview) in force over the whole period in
    place of its plan's published versions. ``pinned``: a replayed run's pins, whose
    ``fx_rates`` and ``crediting_rules`` stand for the tables (edited in place since).
    ``shared_transactions`` (a run's chunks, PostgreSQL): the credits' transactions are read
    once for the whole window and kept in this process, each chunk's credits looked up in
    them, instead of a join over the transactions for every chunk (the same rows)."""
    ctx = _context(period_id, person_ids, known_at, hierarchy_id, substitute, pinned)
    ctx.shared_transactions = shared_transactions
    tenant = get_current_tenant()
    fiscal_start = int(tenant.fiscal_year_start_month)
    versions = _versions(ctx)
    plans = _plans(ctx, versions)
    timeline = _timeline(ctx)
    rows, pa = _assignment_rows(ctx, versions, timeline)
    label = ctx.period.label
    if rows.empty:
        ctx.problem(None, None, NO_ASSIGNMENTS, MSG_NO_ASSIGNMENTS.format(period=label))
    people = sorted({int(p) for p in rows["person"]}) if len(rows) else []
    if ctx.person_ids is not None:
        for pid in sorted(ctx.person_ids - set(people)):
            ctx.problem(
                pid,
                None,
                NO_ASSIGNMENTS,
                MSG_PERSON_NO_ASSIGNMENTS.format(person=pid, period=label),
            )
    _check_coverage(ctx, pa, rows, timeline)
    keys = {str(p) for p in people}
    currency_of = _currencies(ctx, rows, plans)
    history_periods, history_start, credits_from = _history(ctx, plans, fiscal_start)
    start = min(credits_from or ctx.period.start, ctx.period.start)
    raw = _credits(ctx, people, start, ctx.period.end)
    rates = _Rates.load(_fx_pairs(raw, currency_of), ctx.period.end, ctx.pinned_fx)
    converted = _convert(ctx, raw, currency_of, rates)
    in_period = converted["date"] >= ctx.period.start
    collected = frozenset(converted.loc[converted["collected_now"].astype(bool), "transaction_id"])
    credits = _credit_frame(converted[in_period])
    history_credits = _credit_frame(converted[~in_period])
    assignments = _engine_assignments(rows, ctx.known_at if ctx.versioned else None)
    engine_timeline = _engine_timeline(timeline, keys)
    quotas = _quotas(ctx, plans, rows, currency_of)
    ledger = _ledger(ctx, versions, keys, history_periods)
    kpis = _kpis(ctx, keys, versions)
    _check_kpis(ctx, plans, rows, kpis)
    inputs = Inputs(
        period=ctx.engine_period,
        plans=plans,
        assignments=assignments,
        timeline=engine_timeline,
        credits=credits,
        quotas=quotas,
        kpi_values=kpis,
        nodes=_nodes(ctx),
        prior_payouts=ledger["prior_payouts"],
        draw_balances=ledger["draw_balances"],
        collected_transactions=collected,
        fiscal_year_start_month=fiscal_start,
        history_periods=history_periods,
        history_credits=history_credits,
        history_payouts=ledger["history_payouts"],
        history_start=history_start,
    )
    pins = _pins(ctx, versions, inputs, rates, converted)
    problems = sorted(
        set(ctx.problems), key=lambda p: (p.code, p.person_id or "", p.plan or "", p.message)
    )
    return Gathered(inputs=inputs, problems=problems, pins=pins, people=people)


def _check_coverage(
    ctx: _Context, pa: pd.DataFrame, rows: pd.DataFrame, timeline: pd.DataFrame
) -> None:
    """A direct assignment on days with no timeline pays nothing: say so."""
    direct = pa[pa["kind"] == "person"] if len(pa) else pa
    r: Any
    for r in direct.itertuples(index=False):
        if ctx.person_ids is not None and int(r.person) not in ctx.person_ids:
            continue
        covered = 0
        if len(rows):
            mine = rows[(rows["person"] == r.person) & (rows["version"] == r.version)]
            covered = int(
                (np.minimum(mine["end"], r.end) - np.maximum(mine["start"], r.start)).clip(0).sum()
            )
        if covered == 0:
            ctx.problem(
                int(r.person),
                r.version,
                NO_TIMELINE,
                MSG_NO_TIMELINE.format(
                    person=int(r.person),
                    plan=r.version,
                    start=_date(r.start),
                    end=_date(r.end) - dt.timedelta(days=1),
                ),
            )


def _currencies(ctx: _Context, rows: pd.DataFrame, plans: Mapping[str, Plan]) -> dict[str, str]:
    """Return each person's payout currency (their assignments'); problems when it is mixed or
    differs from the plan's."""
    out: dict[str, str] = {}
    if rows.empty:
        return out
    seen: dict[str, set[str]] = defaultdict(set)
    for person, version, currency in sorted(
        {
            (str(p), str(v), str(c))
            for p, v, c in zip(rows["person"], rows["version"], rows["currency"], strict=True)
        }
    ):
        seen[person].add(currency)
        plan = plans.get(version)
        if plan is not None and plan.rounding.currency != currency:
            ctx.problem(
                person,
                version,
                CURRENCY_MISMATCH,
                MSG_CURRENCY_MISMATCH.format(
                    person=person,
                    plan=version,
                    currency=currency,
                    plan_currency=plan.rounding.currency,
                ),
            )
    for person, currencies in seen.items():
        if len(currencies) > 1:
            ctx.problem(
                person,
                None,
                MIXED_CURRENCY,
                MSG_MIXED_CURRENCY.format(
                    person=person, currencies=", ".join(sorted(currencies)), period=ctx.period.label
                ),
            )
        out[person] = sorted(currencies)[0]
    return out


def _credit_frame(frame: pd.DataFrame) -> pd.DataFrame:
    cols = [
        *CREDIT_COLUMNS,
        "share_ppm",
        "collected",
        "credits_n",
        "rule_id",
        "currency",
        "region",
        "account",
        "product",
    ]
    if frame.empty:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in cols})
    out = frame[cols].reset_index(drop=True)
    for c in ("transaction_type", "kind"):
        out[c] = out[c].astype("category")
    return out


def _engine_assignments(rows: pd.DataFrame, known_at: dt.datetime | None) -> pd.DataFrame:
    """Return the engine's assignments, with hire dates as known at ``known_at`` (None: the
    people's table, for a replay of a run that predates the version logs)."""
    cols = [*ASSIGNMENT_COLUMNS, "role", "hire_date", "currency", "plan_assignment_id"]
    if rows.empty:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in cols})
    people = sorted({int(p) for p in rows["person"]})
    hires = (
        as_known.hire_dates(people, known_at)
        if known_at is not None
        else dict(Person.objects.filter(pk__in=people).values_list("pk", "hire_date"))
    )
    return pd.DataFrame(
        {
            "person_id": rows["person"].astype(int).astype(str),
            "plan_id": rows["version"].astype(int).astype(str),
            "start": [_date(d) for d in rows["start"]],
            "end": [_date(d) for d in rows["end"]],
            "target_incentive_e4": pd.Series(_e4_list(rows["ti"]), dtype="int64"),
            "role": rows["role"].astype(int).astype(str),
            "hire_date": [hires.get(int(p)) for p in rows["person"]],
            "currency": rows["currency"].astype(str),
            "plan_assignment_id": rows["pa"].astype(int),
        }
    )


def _engine_timeline(timeline: pd.DataFrame, people: set[str]) -> pd.DataFrame:
    if timeline.empty:
        return empty_frame(TIMELINE_COLUMNS)
    t = timeline[timeline["person"].astype(str).isin(people)]
    t = t[t["t_start"] < t["t_end"]]
    if t.empty:
        return empty_frame(TIMELINE_COLUMNS)
    return pd.DataFrame(
        {
            "person_id": t["person"].astype(int).astype(str).to_numpy(),
            "start": [_date(d) for d in t["t_start"]],
            "end": [_date(d) for d in t["t_end"]],
            "node_id": t["node"].astype(int).astype(str).to_numpy(),
            "role": t["role"].astype(int).astype(str).to_numpy(),
            "allocation": list(t["allocation"]),
        }
    )


def _pins(
    ctx: _Context,
    versions: list[_Version],
    inputs: Inputs,
    rates: _Rates,
    credits: pd.DataFrame,
) -> dict[str, Any]:
    """Return what a run stores to replay itself exactly: besides hashes, the FX rates it
    converted with and the crediting rules behind its credits, as rows (a replay reads those
    instead of the tables, where a rate may have been corrected or a rule edited in place)."""
    rule_ids = sorted({int(r) for r in credits["rule_id"]}) if len(credits) else []
    rules: list[list[Any]]
    if ctx.pinned_rules is not None:
        wanted = set(rule_ids)
        rules = [list(r) for r in ctx.pinned_rules if int(r[0]) in wanted]
    else:
        rules = [
            [pk, version, kind, priority, config, str(start), None if end is None else str(end)]
            for pk, version, kind, priority, config, start, end in CreditingRule.objects.filter(
                pk__in=rule_ids
            )
            .order_by("pk")
            .values_list("pk", "version", "kind", "priority", "config", "valid_from", "valid_to")
        ]
    fx = {**rates.rows, **ctx.fx_used}
    used = sorted(rates.used | set(ctx.fx_used))
    fx_rows = [fx[pk] for pk in used]
    return {
        "known_at": ctx.known_at.isoformat(),
        "period_id": ctx.period.pk,
        "hierarchy_id": ctx.hierarchy_id,
        "person_ids": None if ctx.person_ids is None else sorted(ctx.person_ids),
        "plan_versions": {str(v.pk): v.spec_hash for v in versions},
        "fx_rate_ids": used,
        "fx_rates": fx_rows,
        "fx_rates_hash": _sha(fx_rows),
        "crediting_rules": rules,
        "crediting_rules_hash": _sha(rules),
        "assignments_hash": _frame_hash(inputs.assignments, inputs.assignments.columns),
        "timeline_hash": _frame_hash(inputs.timeline, TIMELINE_COLUMNS),
        "nodes_hash": _frame_hash(inputs.nodes, NODE_COLUMNS),
        "credit_count": len(inputs.credits),
        "credit_total_e4": int(inputs.credits["amount_e4"].sum()) if len(inputs.credits) else 0,
        "quotas_hash": _frame_hash(inputs.quotas, inputs.quotas.columns),
        as_known.VERSIONED_PIN: ctx.versioned,
    }
