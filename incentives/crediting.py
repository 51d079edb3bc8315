"""Credits from transactions: fetch set-based, compute with ``engine.crediting``, persist.

Rules compete within a family (revenue: direct, split, territory; attribution; roll-up): for
each transaction the first rule by priority that matches it claims it, and any other rule of
the same family that also matches is reported as a conflict instead of crediting twice. That
arbitration, and the rules' transforms (baseline, multipliers), are the engine's
(:func:`engine.crediting.credit_transactions`); this module fetches what the rules read and
writes what they give. Roll-ups are stored as totals (:class:`~incentives.models.CreditRollup`,
:func:`rollups_recompute`): the managers above every revenue credit, as indirect credit, using
the org of the chosen hierarchy as of the first day of the credit's month.

The org is read as Quotient knew it at one moment (``known_at``): a computation that writes
credits reads it at its own clock and stamps that moment on every credit as ``computed_at``, so
:func:`credits_replay` with ``known_at=computed_at`` recomputes exactly those credits even after
the org was changed retroactively (a late-learned transfer), and shows what changed and why.

Closed periods never change: for a transaction whose credits lie in a closed period, the
difference between what is now due and what that period holds is written as a correction
credit in the open period, with ``belongs_to_period`` naming the closed one.

Every credit written or superseded (corrections too) records its person and month in the
change feed (:mod:`core.changes`), in the same transaction: credits are how a transaction
or a crediting rule moves pay.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any, cast

import pandas as pd
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from core.changes import changes_record, month_keys
from core.models import ChangeKind
from engine import crediting as engine_crediting
from engine.money import from_e4, to_e4
from hierarchy.models import Assignment, Hierarchy, NodeParent, Period, PeriodKind, PeriodStatus
from incentives.models import (
    Credit,
    CreditingRule,
    CreditKind,
    CreditRollup,
    RuleKind,
    Transaction,
)

ATTRIBUTE_COLUMNS = ("region", "account", "product")


@dataclass
class Conflict:
    transaction_id: int
    claimed_by: str
    also_matched: str


@dataclass
class CreditSummary:
    transactions: int = 0
    credits_written: int = 0
    corrections_written: int = 0
    superseded: int = 0
    conflicts: list[Conflict] = field(default_factory=list)


# --- fetch --------------------------------------------------------------------------------------


_TX_FIELDS = [
    "id",
    "owner_id",
    "booked_on",
    "amount",
    "kind",
    "region",
    "account",
    "product",
    "touches",
    "currency",
    "source",
    "external_id",
]


def _transactions_frame(qs: Any) -> pd.DataFrame:
    """Return the transactions of ``qs`` as the engine's frame (money in int64 e4)."""
    rows = list(qs.values_list(*_TX_FIELDS))
    frame = pd.DataFrame(
        rows,
        columns=[
            "transaction_id",
            "owner_id",
            "date",
            "amount",
            "transaction_type",
            "region",
            "account",
            "product",
            "touches",
            "currency",
            "source",
            "external_id",
        ],
    )
    frame["amount_e4"] = pd.Series([to_e4(a) for a in frame["amount"]], dtype="int64")
    return frame.drop(columns=["amount"])


def rule_spec(rule: CreditingRule) -> engine_crediting.RuleSpec:
    """Return a crediting rule row as the engine's :class:`~engine.crediting.RuleSpec`."""
    config = rule.config or {}
    return engine_crediting.RuleSpec(
        id=str(rule.pk),
        kind=str(rule.kind),
        name=rule.name,
        valid_from=rule.valid_from,
        valid_to=rule.valid_to,
        transaction_kinds=tuple(rule.transaction_kinds or ()),
        transform=engine_crediting.parse_transform(config, f"rule {rule.name}: config"),
        model=str(config.get("model", "linear")),
        weights=tuple((str(k), Fraction(str(v))) for k, v in (config.get("weights") or {}).items()),
        attribute=str(config.get("attribute", "region")),
        keep=tuple(config["keep"]) if "keep" in config else ROLLUP_KEEP,
    )


def _engine_input(frame: pd.DataFrame) -> pd.DataFrame:
    # currency rides along as an attribute, so roll-up totals never add two currencies up
    return frame[
        [
            "transaction_id",
            "owner_id",
            "date",
            "amount_e4",
            "transaction_type",
            *ATTRIBUTE_COLUMNS,
            "currency",
        ]
    ]


def _touch_rows(
    frame: pd.DataFrame, in_force: Any, roles: list[str] | None, *, shares: bool
) -> pd.DataFrame:
    """The touches (splits, or attribution touches) of ``frame``'s rows where ``in_force``."""
    ids, lists = frame["transaction_id"].to_numpy(), frame["touches"].to_numpy()
    if not in_force.all():  # two columns filtered, not the whole frame
        ids, lists = ids[in_force], lists[in_force]
    rows: list[tuple[Any, ...]] = []
    for tx_id, touches in zip(ids.tolist(), lists.tolist(), strict=True):
        for touch in touches or []:
            if roles and touch.get("role") not in roles:
                continue
            if shares and "share_pct" in touch:
                ppm = int(Decimal(touch["share_pct"]) * 10_000)
                rows.append((tx_id, touch["person_id"], ppm, None))
            elif not shares and "at" in touch:
                rows.append((tx_id, touch["person_id"], 0, str(touch["at"])))
    return pd.DataFrame(rows, columns=["transaction_id", "person_id", "share_ppm", "touched_at"])


def _node_members(node_ids: Iterable[int], day: dt.date, known_at: dt.datetime) -> pd.DataFrame:
    rows = (
        Assignment.objects.filter(node_id__in=list(node_ids))
        .as_of(day)
        .known_at(known_at)
        .values_list("person_id", "node_id")
    )
    return pd.DataFrame(list(rows), columns=["person_id", "node_id"])


def _months(dates: Iterable[dt.date]) -> list[dt.date]:
    return sorted({d.replace(day=1) for d in set(dates)})  # distinct days first: few


def _territory_data(
    rule: CreditingRule, frame: pd.DataFrame, known_at: dt.datetime
) -> engine_crediting.RuleData:
    """Return a territory rule's map (people and nodes by id) and node members per month."""
    from hierarchy.models import Node, Person

    mapping: dict[str, dict[str, str]] = rule.config.get("map", {})
    people = dict(
        Person.objects.filter(
            employee_id__in=[m["employee_id"] for m in mapping.values() if "employee_id" in m]
        ).values_list("employee_id", "id")
    )
    nodes = dict(
        Node.objects.filter(
            code__in=[m["node"] for m in mapping.values() if "node" in m]
        ).values_list("code", "id")
    )
    rows = []
    for value, m in mapping.items():
        person = people.get(m.get("employee_id", ""))
        node = nodes.get(m.get("node", ""))
        if person is not None or node is not None:
            rows.append(
                (
                    value,
                    None if person is None else str(person),
                    None if node is None else str(node),
                )
            )
    territories = pd.DataFrame(rows, columns=["value", "person_id", "node_id"])
    node_ids = sorted({int(n) for n in territories["node_id"].dropna()})
    parts = []
    # Node members are taken as of each transaction's month, like roll-ups.
    for month in _months(frame["date"]) if node_ids else []:
        members = _node_members(node_ids, month, known_at).astype(str)
        parts.append(members.assign(month=month))
    members_frame = (
        pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame(columns=["person_id", "node_id", "month"])
    )
    return engine_crediting.RuleData(territories=territories, members=members_frame)


def _org_as_of(
    hierarchy_id: int, day: dt.date, known_at: dt.datetime
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (memberships person→node, nodes node/parent/manager) of a hierarchy on ``day``,
    as Quotient knew them at ``known_at``."""
    assignments = list(
        Assignment.objects.filter(node__hierarchy_id=hierarchy_id)
        .as_of(day)
        .known_at(known_at)
        .values_list("person_id", "node_id", "is_manager")
    )
    parents = dict(
        NodeParent.objects.filter(node__hierarchy_id=hierarchy_id)
        .as_of(day)
        .known_at(known_at)
        .values_list("node_id", "parent_id")
    )
    from hierarchy.models import Node

    node_ids = list(Node.objects.filter(hierarchy_id=hierarchy_id).values_list("id", flat=True))
    managers: dict[int, int] = {}
    for person, node, is_manager in sorted(assignments):
        if is_manager:
            managers.setdefault(node, person)
    memberships = pd.DataFrame(
        [(str(p), str(n)) for p, n, _ in assignments], columns=["person_id", "node_id"]
    )
    nodes = pd.DataFrame(
        [
            (
                str(n),
                None if parents.get(n) is None else str(parents[n]),
                None if n not in managers else str(managers[n]),
            )
            for n in node_ids
        ],
        columns=["node_id", "parent_id", "manager_id"],
    )
    return memberships, nodes


def rollup_orgs(
    rule: CreditingRule,
    months: Iterable[dt.date],
    known_at: dt.datetime,
    cache: dict[tuple[Any, ...], Any] | None = None,
) -> dict[dt.date | None, tuple[pd.DataFrame, pd.DataFrame]]:
    """Return a roll-up rule's org (memberships, nodes) as of the first day of each month."""
    cache = {} if cache is None else cache
    code = rule.config.get("hierarchy")
    if ("hierarchy", code) not in cache:
        cache[("hierarchy", code)] = Hierarchy.objects.filter(code=code).first()
    hierarchy = cache[("hierarchy", code)]
    out: dict[dt.date | None, tuple[pd.DataFrame, pd.DataFrame]] = {}
    if hierarchy is None:
        return out
    for month in months:
        key = ("org", hierarchy.pk, month, known_at)
        if key not in cache:
            cache[key] = _org_as_of(hierarchy.pk, month, known_at)
        out[month] = cache[key]
    return out


def compute_credits(
    frame: pd.DataFrame,
    rules: list[CreditingRule],
    cache: dict[tuple[Any, ...], Any] | None = None,
    *,
    known_at: dt.datetime,
) -> tuple[pd.DataFrame, list[Conflict]]:
    """Return the credits the rules give ``frame``'s transactions, and the conflicts.

    The arbitration itself is the engine's (:func:`engine.crediting.credit_transactions`);
    this fetches what the rules read. Territories and roll-ups read the org as known at
    ``known_at``. ``cache`` keeps hierarchies and orgs as of a month between calls on chunks of
    one import (same ``known_at``). Roll-up rules among ``rules`` give roll-up totals.
    """
    cache = {} if cache is None else cache
    specs: list[engine_crediting.RuleSpec] = []
    data: dict[str, engine_crediting.RuleData] = {}
    months = _months(frame["date"]) if len(frame) else []
    for rule in rules:
        spec = rule_spec(rule)
        specs.append(spec)
        if rule.kind in (RuleKind.SPLIT, RuleKind.ATTRIBUTION):
            touches = _touch_rows(
                frame,
                engine_crediting.rule_in_force(spec, frame),
                rule.config.get("roles") or (["split"] if rule.kind == RuleKind.SPLIT else None),
                shares=rule.kind == RuleKind.SPLIT,
            )
            data[spec.id] = (
                engine_crediting.RuleData(splits=touches)
                if rule.kind == RuleKind.SPLIT
                else engine_crediting.RuleData(touches=touches)
            )
        elif rule.kind == RuleKind.TERRITORY:
            data[spec.id] = _territory_data(rule, frame, known_at)
        elif rule.kind == RuleKind.ROLLUP:
            data[spec.id] = engine_crediting.RuleData(
                orgs=rollup_orgs(rule, months, known_at, cache)
            )
    credited = engine_crediting.credit_transactions(_engine_input(frame), specs, data)
    conflicts = [
        Conflict(int(c.transaction_id), c.claimed_by, c.also_matched) for c in credited.conflicts
    ]
    return credited.credits, conflicts


# --- persist ------------------------------------------------------------------------------------


def _periods() -> tuple[list[Period], str | None]:
    kinds = set(Period.objects.values_list("kind", flat=True).distinct())
    for kind in (PeriodKind.MONTHLY, PeriodKind.QUARTERLY, PeriodKind.ANNUAL):
        if kind in kinds:
            return list(Period.objects.filter(kind=kind).order_by("start")), kind
    return [], None


def _period_of(periods: list[Period], day: dt.date) -> Period | None:
    for period in periods:
        if period.start <= day < period.end:
            return period
    return None


def _open_period(periods: list[Period], today: dt.date) -> Period | None:
    open_ones = [p for p in periods if p.status != PeriodStatus.CLOSED]
    current = [p for p in open_ones if p.start <= today < p.end]
    if current:
        return current[0]
    later = [p for p in open_ones if p.start > today]
    return later[0] if later else (open_ones[-1] if open_ones else None)


def _scope(
    batch_id: int | None,
    transaction_ids: Iterable[int] | None,
    *,
    only_new_versions: bool,
    known_at: dt.datetime | None = None,
) -> tuple[Any, Any]:
    """Return (transactions in scope as known at ``known_at`` (None: now), filter for their
    business keys' credits)."""
    current = Transaction.objects.known_at(known_at)
    if batch_id is not None:
        keys = Transaction.objects.filter(batch_id=batch_id)
        if only_new_versions:
            keys = keys.filter(version__gt=1)
    elif transaction_ids is not None:
        keys = Transaction.objects.filter(pk__in=list(transaction_ids))
    else:
        return current, None
    in_scope = current.filter(
        Exists(keys.filter(source=OuterRef("source"), external_id=OuterRef("external_id")))
    )
    credit_filter = Exists(
        keys.filter(
            source=OuterRef("transaction__source"), external_id=OuterRef("transaction__external_id")
        )
    )
    return in_scope, credit_filter


def _e4_text(values: Any) -> list[str]:
    """Format int64 ten-thousandths as exact decimal strings (the digits, a point slid in:
    twice as fast as ``divmod`` and a format, for a million credits an import)."""
    out: list[str] = []
    append = out.append
    for v in values:
        if v >= 0:
            digits = str(v).rjust(5, "0")
            append(digits[:-4] + "." + digits[-4:])
        else:
            digits = str(-v).rjust(5, "0")
            append("-" + digits[:-4] + "." + digits[-4:])
    return out


def _active_rules() -> list[CreditingRule]:
    return list(CreditingRule.objects.filter(is_active=True).order_by("priority", "id"))


@dataclass
class CreditContext:
    """What crediting reads once per run: rules, periods, the open period, the clock.

    ``now`` is both the ``computed_at`` of the credits the run writes and the moment whose
    knowledge of the org it reads, which is what makes a run replayable.
    """

    rules: list[CreditingRule]
    periods: list[Period]
    open_period: Period | None
    today: dt.date
    now: dt.datetime
    cache: dict[tuple[Any, ...], Any] = field(default_factory=dict)
    months: set[dt.date] = field(default_factory=set)
    """The months whose revenue credits this run computed: their roll-ups are recomputed
    (:func:`rollups_recompute`) once the credits are written."""

    @property
    def crediting_rules(self) -> list[CreditingRule]:
        """Return the rules that credit transactions (roll-ups are totals, made after)."""
        return [r for r in self.rules if r.kind != RuleKind.ROLLUP]

    @property
    def rule_versions(self) -> dict[int, int]:
        return {r.pk: r.version for r in self.rules}

    @classmethod
    def load(cls) -> CreditContext:
        now = timezone.now()
        today = timezone.localdate()
        periods, _ = _periods()
        return cls(_active_rules(), periods, _open_period(periods, today), today, now)


Wanted = dict[tuple[Any, ...], Decimal]


def credit_frame(
    frame: pd.DataFrame, ctx: CreditContext, summary: CreditSummary, wanted: Wanted
) -> pd.DataFrame:
    """Compute the credits of ``frame`` (current, not cancelled transactions).

    Returns the credits to write (dated in no closed period), with ``period_id`` and
    ``currency``; the amounts due in closed periods are added to ``wanted`` by business key
    (they become corrections, see :func:`write_corrections`).
    """
    if not len(frame):
        return pd.DataFrame()
    credits, conflicts = compute_credits(frame, ctx.crediting_rules, ctx.cache, known_at=ctx.now)
    summary.conflicts.extend(conflicts)
    if credits.empty:
        return credits
    ctx.months.update(_months(credits["date"]))
    tx = frame.set_index("transaction_id")
    credits = credits.assign(
        person_id=credits["person_id"].astype("int64"),
        rule_id=credits["rule_id"].astype("int64"),
        transaction_id=credits["transaction_id"].astype("int64"),
    )
    credits["currency"] = tx["currency"].reindex(credits["transaction_id"]).to_numpy()
    period_ids, closed = _assign_periods(ctx.periods, credits["date"])
    credits["period_id"] = period_ids
    closed_rows = credits[closed]
    if len(closed_rows):
        src = tx["source"].reindex(closed_rows["transaction_id"]).to_numpy()
        ext = tx["external_id"].reindex(closed_rows["transaction_id"]).to_numpy()
        for s_, e_, row in zip(src, ext, closed_rows.itertuples(index=False), strict=True):
            key = (s_, e_, int(row.person_id), int(row.rule_id), row.kind, int(row.period_id))
            wanted[key] = wanted.get(key, Decimal(0)) + from_e4(int(row.amount_e4))
    open_credits: pd.DataFrame = credits[~closed]
    return open_credits


def write_corrections(
    locked: Wanted,
    wanted: Wanted,
    latest: dict[tuple[str, str], int],
    ctx: CreditContext,
) -> int:
    """Write what closed periods should now hold minus what they hold, in the open period."""
    keys = [k for k in sorted(set(locked) | set(wanted), key=str) if k[:2] not in latest]
    if keys:
        wanted_keys = {k[:2] for k in keys}
        for pk, source, ext in (
            Transaction.objects.known_now()
            .filter(external_id__in={k[1] for k in wanted_keys})
            .values_list("pk", "source", "external_id")
        ):
            if (source, ext) in wanted_keys:
                latest[(source, ext)] = pk
    corrections: list[Credit] = []
    deltas = {
        key6: wanted.get(key6, Decimal(0)) - locked.get(key6, Decimal(0))
        for key6 in sorted(set(locked) | set(wanted), key=str)
    }
    deltas = {k: v for k, v in deltas.items() if v != 0}
    currencies = dict(
        Transaction.objects.filter(pk__in={latest.get(k[:2]) for k in deltas}).values_list(
            "pk", "currency"
        )
    )  # one query for all corrections
    for key6, delta in deltas.items():
        source, ext, person, rule_id, kind, period_id = key6
        latest_tx = latest.get((source, ext))
        currency = currencies.get(latest_tx)
        corrections.append(
            Credit(
                transaction_id=cast(int, latest_tx),
                person_id=person,
                rule_id=rule_id,
                rule_version=ctx.rule_versions.get(rule_id, 1),
                kind=kind,
                share_ppm=0,
                amount=delta,
                currency=currency or "",
                credit_date=ctx.today,
                period=ctx.open_period,
                is_correction=True,
                belongs_to_period_id=period_id,
                computed_at=ctx.now,
            )
        )
    Credit.objects.bulk_create(corrections)
    if corrections:
        ctx.months.add(ctx.today.replace(day=1))  # corrections roll up in the open period
    changes_record(
        kind=ChangeKind.CREDIT,
        keys=month_keys([c.person_id for c in corrections], [c.credit_date for c in corrections]),
    )
    return len(corrections)


@transaction.atomic
def credits_recompute(
    *,
    batch_id: int | None = None,
    transaction_ids: Iterable[int] | None = None,
    only_new_versions: bool = False,
) -> CreditSummary:
    """Recompute the credits of an import's (or some transactions') business keys, or all.

    ``only_new_versions`` limits an import's keys to those it gave a new version (its new
    keys were credited while it ran).
    """
    summary = CreditSummary()
    ctx = CreditContext.load()
    current, credit_filter = _scope(batch_id, transaction_ids, only_new_versions=only_new_versions)
    frame = _transactions_frame(current.filter(is_cancelled=False))
    summary.transactions = current.count()

    # What these business keys hold now: closed periods stay, the rest is replaced.
    existing = Credit.objects.known_now()
    if credit_filter is not None:
        existing = existing.filter(credit_filter)
    locked: Wanted = defaultdict(Decimal)
    to_supersede: list[int] = []
    superseded_people: list[int] = []
    superseded_days: list[dt.date] = []
    for (
        pk,
        source,
        ext,
        person,
        rule_id,
        kind,
        amount,
        period_id,
        status,
        belongs,
        credit_date,
    ) in existing.values_list(
        "id",
        "transaction__source",
        "transaction__external_id",
        "person_id",
        "rule_id",
        "kind",
        "amount",
        "period_id",
        "period__status",
        "belongs_to_period_id",
        "credit_date",
    ):
        if kind == CreditKind.ROLLUP and period_id is not None and status == PeriodStatus.CLOSED:
            # A roll-up credit stored before roll-ups became totals: history, left as it was.
            continue
        ctx.months.add(credit_date.replace(day=1))  # its month's roll-ups are recomputed
        if period_id is not None and status == PeriodStatus.CLOSED:
            locked[(source, ext, person, rule_id, kind, belongs or period_id)] += amount
        else:
            to_supersede.append(pk)
            superseded_people.append(person)
            superseded_days.append(credit_date)
    if to_supersede:
        summary.superseded = Credit.objects.filter(pk__in=to_supersede).update(
            superseded_at=ctx.now
        )

    wanted: Wanted = {}
    credits = credit_frame(frame, ctx, summary, wanted)
    summary.credits_written = _write_credits(credits, ctx.rule_versions, ctx.now)
    # The people and months whose credits this run superseded or wrote: one key each.
    changed = month_keys(superseded_people, superseded_days)
    if not credits.empty:
        changed |= month_keys(credits["person_id"], credits["date"])
    changes_record(kind=ChangeKind.CREDIT, keys=changed)

    # Corrections: what a closed period should now hold minus what it holds.
    latest = dict(
        zip(
            zip(frame["source"], frame["external_id"], strict=True),
            frame["transaction_id"],
            strict=True,
        )
    )
    summary.corrections_written = write_corrections(locked, wanted, latest, ctx)
    rollups_recompute(ctx=ctx)
    return summary


@dataclass(frozen=True)
class ReplayedCredit:
    """One credit as a computation at a given moment of knowledge gives it."""

    transaction_id: int
    person_id: int
    rule_id: int
    rule_version: int
    kind: str
    share_ppm: int
    amount: Decimal
    credit_date: dt.date


@dataclass(frozen=True)
class ReplayedRollup:
    """One roll-up total as a computation at a given moment of knowledge gives it."""

    person_id: int
    rule_id: int
    credit_date: dt.date
    transaction_kind: str
    region: str
    product: str
    currency: str
    amount: Decimal
    credit_count: int


@dataclass
class CreditReplay:
    known_at: dt.datetime
    credits: list[ReplayedCredit]
    conflicts: list[Conflict]
    rollups: list[ReplayedRollup] = field(default_factory=list)


def credits_replay(
    *, known_at: dt.datetime, transaction_ids: Iterable[int] | None = None
) -> CreditReplay:
    """Recompute credits from the transactions and the org as known at ``known_at``; write nothing.

    With ``known_at`` a credit's ``computed_at`` this reproduces that computation's credits
    (of those business keys when ``transaction_ids`` is given), whatever was learned since,
    and the roll-up totals those credits make (of those credits only). The crediting rules
    are today's (each credit names the rule version it came from), and closed-period
    corrections are not re-derived: this is the computation, before persisting.
    """
    rules = _active_rules()
    current, _ = _scope(None, transaction_ids, only_new_versions=False, known_at=known_at)
    frame = _transactions_frame(current.filter(is_cancelled=False))
    if not len(frame):
        return CreditReplay(known_at, [], [])
    credits, conflicts = compute_credits(frame, rules, known_at=known_at)
    if credits.empty:
        return CreditReplay(known_at, [], conflicts)
    versions = {r.pk: r.version for r in rules}
    base = credits[credits["kind"] != CreditKind.ROLLUP]
    columns = ["transaction_id", "person_id", "rule_id", "kind", "share_ppm", "amount_e4", "date"]
    out = [
        ReplayedCredit(
            transaction_id=int(tx),
            person_id=int(person),
            rule_id=int(rule),
            rule_version=versions[int(rule)],
            kind=str(kind),
            share_ppm=int(share),
            amount=from_e4(int(e4)),
            credit_date=day,
        )
        for tx, person, rule, kind, share, e4, day in base[columns].itertuples(
            index=False, name=None
        )
    ]
    totals = credits[credits["kind"] == CreditKind.ROLLUP]
    keys = ["person_id", "rule_id", "date", "transaction_type", "region", "product", "currency"]
    rollups = [
        ReplayedRollup(
            person_id=int(person),
            rule_id=int(rule),
            credit_date=day,
            transaction_kind=str(kind),
            region=str(region or ""),
            product=str(product or ""),
            currency=str(currency),
            amount=from_e4(int(e4)),
            credit_count=int(n),
        )
        for person, rule, day, kind, region, product, currency, e4, n in totals[
            [*keys, "amount_e4", "credits_n"]
        ].itertuples(index=False, name=None)
    ]
    return CreditReplay(known_at, out, conflicts, rollups)


def _assign_periods(periods: list[Period], dates: pd.Series) -> tuple[Any, Any]:
    """Return (period id or None, in-a-closed-period mask) for each date, vectorized."""
    import numpy as np

    if not periods:
        return [None] * len(dates), np.zeros(len(dates), dtype=bool)
    starts = np.array([p.start.toordinal() for p in periods])
    ends = np.array([p.end.toordinal() for p in periods])
    ids = np.array([p.pk for p in periods], dtype=object)
    closed_flags = np.array([p.status == PeriodStatus.CLOSED for p in periods])
    days = np.array([d.toordinal() for d in dates])
    idx = np.searchsorted(starts, days, side="right") - 1
    inside = (idx >= 0) & (days < ends[np.clip(idx, 0, None)])
    safe = np.clip(idx, 0, None)
    period_ids = np.where(inside, ids[safe], np.array(None, dtype=object))
    closed = inside & closed_flags[safe]
    return period_ids, closed


_CREDIT_COLUMNS = [
    "tenant_id",
    "transaction_id",
    "person_id",
    "rule_id",
    "rule_version",
    "kind",
    "share_ppm",
    "amount",
    "currency",
    "credit_date",
    "period_id",
    "multiplier",
    "baseline",
    "is_correction",
    "computed_at",
]


def _transform_texts(credits: pd.DataFrame) -> tuple[list[str], list[str | None]]:
    """Return each credit's multiplier and baseline as exact text (baseline None: none)."""
    n = len(credits)
    factors = (
        credits["multiplier"].fillna("1").astype(str).tolist()
        if "multiplier" in credits.columns
        else ["1"] * n
    )
    if "baseline_e4" not in credits.columns:
        return factors, [None] * n
    base = credits["baseline_e4"].fillna(0).astype("int64").tolist()
    texts = _e4_text(base)
    return factors, [t if b else None for b, t in zip(base, texts, strict=True)]


def credit_columns(credits: pd.DataFrame, rule_versions: dict[int, int]) -> list[Any]:
    """Return the columns of ``_CREDIT_COLUMNS`` after tenant_id, up to baseline (lists)."""
    versions = [rule_versions[r] for r in credits["rule_id"].tolist()]
    factors, baselines = _transform_texts(credits)
    return [
        credits["transaction_id"].tolist(),
        credits["person_id"].tolist(),
        credits["rule_id"].tolist(),
        versions,
        credits["kind"].tolist(),
        credits["share_ppm"].tolist(),
        _e4_text(credits["amount_e4"].tolist()),
        credits["currency"].tolist(),
        credits["date"].tolist(),
        credits["period_id"].tolist(),
        factors,
        baselines,
    ]


def _write_credits(credits: pd.DataFrame, rule_versions: dict[int, int], now: dt.datetime) -> int:
    """Persist computed credits: COPY on PostgreSQL, bulk_create elsewhere."""
    if credits.empty:
        return 0
    from django.db import connection

    from core.db import bulk_insert
    from core.tenancy import get_current_tenant

    tenant_id = get_current_tenant().pk
    columns = credit_columns(credits, rule_versions)
    if connection.vendor == "postgresql":
        n = len(credits)
        return bulk_insert(
            Credit,
            _CREDIT_COLUMNS,
            None,
            column_values=[[tenant_id] * n, *columns, [False] * n, [now] * n],
        )
    objs = [
        Credit(
            transaction_id=t,
            person_id=p,
            rule_id=r,
            rule_version=v,
            kind=k,
            share_ppm=s,
            amount=Decimal(a),
            currency=c,
            credit_date=d,
            period_id=per,
            multiplier=Decimal(f),
            baseline=None if b is None else Decimal(b),
            computed_at=now,
        )
        for t, p, r, v, k, s, a, c, d, per, f, b in zip(*columns, strict=True)
    ]
    Credit.objects.bulk_create(objs, batch_size=2_000)
    return len(objs)


# --- roll-up totals -----------------------------------------------------------------------------

# What a stored roll-up total keeps besides its day and transaction kind: the attributes plan
# measures filter on (account is left out: it would make a total per account, i.e. per deal).
ROLLUP_KEEP = ("region", "product", "currency")


def _next_month(month: dt.date) -> dt.date:
    return (month + dt.timedelta(days=32)).replace(day=1)


def revenue_credit_sums(month: dt.date, rules: list[CreditingRule]) -> pd.DataFrame:
    """Return the month's current revenue credits summed per (person, day, kind, region,
    product, currency) in the database: what roll-ups are made from (``credits_n`` each)."""
    from django.db.models import Count, Sum

    revenue = [r.pk for r in rules if r.family == "revenue"]
    rows = (
        Credit.objects.known_now()
        .filter(
            rule_id__in=revenue,
            credit_date__gte=month,
            credit_date__lt=_next_month(month),
            kind__in=(CreditKind.DIRECT, CreditKind.SPLIT),
        )
        .values_list(
            "person_id",
            "credit_date",
            "transaction__kind",
            "transaction__region",
            "transaction__product",
            "currency",
        )
        .annotate(total=Sum("amount"), n=Count("id"))
        .order_by()
    )
    frame = pd.DataFrame(
        list(rows),
        columns=[
            "person_id",
            "date",
            "transaction_type",
            "region",
            "product",
            "currency",
            "t",
            "n",
        ],
    )
    frame["amount_e4"] = pd.Series([to_e4(a) for a in frame["t"]], dtype="int64")
    frame["person_id"] = frame["person_id"].astype(str)
    return frame.drop(columns=["t"]).rename(columns={"n": "credits_n"}).assign(kind="direct")


def rollups_recompute(*, ctx: CreditContext, months: Iterable[dt.date] | None = None) -> int:
    """Recompute the stored roll-up totals of ``months`` (default: ``ctx.months``); return how
    many totals were written.

    Per month and roll-up rule: the current revenue credits are summed per person in the
    database, rolled up over the org as of the month's first day as known at ``ctx.now``
    (:func:`engine.crediting.credit_rollups`), and the month's totals in open periods are
    replaced (superseded, then written). Totals dated in a closed period never change.
    """
    rules = [r for r in ctx.rules if r.kind == RuleKind.ROLLUP]
    wanted_months = sorted(set(ctx.months if months is None else months))
    if not rules or not wanted_months:
        return 0
    written = 0
    people: list[int] = []
    days: list[dt.date] = []
    for month in wanted_months:
        sums = revenue_credit_sums(month, ctx.rules)
        for rule in rules:
            existing = CreditRollup.objects.known_now().filter(
                rule=rule, credit_date__gte=month, credit_date__lt=_next_month(month)
            )
            old = list(existing.values_list("pk", "person_id", "credit_date", "period__status"))
            stale = [(pk, p, d) for pk, p, d, status in old if status != PeriodStatus.CLOSED]
            if stale:
                CreditRollup.objects.filter(pk__in=[pk for pk, _, _ in stale]).update(
                    superseded_at=ctx.now
                )
                people += [p for _, p, _ in stale]
                days += [d for _, _, d in stale]
            if sums.empty:
                continue
            spec = rule_spec(rule)
            scoped = sums[engine_crediting.rule_in_force(spec, sums)]
            orgs = rollup_orgs(rule, [month], ctx.now, ctx.cache)
            if scoped.empty or month not in orgs:
                continue
            memberships, nodes = orgs[month]
            totals = engine_crediting.credit_rollups(
                scoped, memberships, nodes, rule_id=str(rule.pk), keep=ROLLUP_KEEP
            )
            if totals.empty:
                continue
            period_ids, closed = _assign_periods(ctx.periods, totals["date"])
            totals = totals.assign(period_id=period_ids)[~closed]
            objs = [
                CreditRollup(
                    person_id=int(person),
                    rule=rule,
                    rule_version=rule.version,
                    credit_date=day,
                    transaction_kind=kind,
                    region=region or "",
                    product=product or "",
                    amount=from_e4(int(e4)),
                    currency=currency,
                    credit_count=int(n),
                    period_id=period,
                    computed_at=ctx.now,
                )
                for person, day, kind, region, product, currency, e4, n, period in totals[
                    [
                        "person_id",
                        "date",
                        "transaction_type",
                        "region",
                        "product",
                        "currency",
                        "amount_e4",
                        "credits_n",
                        "period_id",
                    ]
                ].itertuples(index=False, name=None)
            ]
            CreditRollup.objects.bulk_create(objs, batch_size=5_000)
            written += len(objs)
            people += [o.person_id for o in objs]
            days += [o.credit_date for o in objs]
    if people:
        changes_record(kind=ChangeKind.CREDIT, keys=month_keys(people, days))
    return written
