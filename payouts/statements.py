"""Statements: what one person earned in one period, why, and what is payable.

A statement is built from two sources and nothing else: the period's **run** (its payout lines,
each with its trace sentence and its per-credit contributions) and the **ledger** (adjustments,
draws and their recovery, clawbacks, holds and releases, payments) of that person and period.

Which run a statement reads (:func:`period_run`):

1. the run of the period's live approval (``PeriodApproval``, written by the approve service,
   which then calls :func:`statements_freeze`): the statement is **final**;
2. else the period's latest succeeded full or live run: the statement is **provisional** (the
   figures may still change until the period is approved);
3. else there is no statement yet ("No calculation has been run for this period yet").

Money, in the ledger's own convention (``payouts/ledger.py``): every entry's amount is signed by
its effect on what the person is owed (a draw recovery, a clawback, a hold, a payment are
negative; a release positive; a reopen writes the opposite of each approved entry). A final
statement's totals are the ledger's entries of the person and period, by kind; a provisional
one's are the run's lines (each line kind to its ledger kind, as an approval would enter it)
plus the ledger entries already there (adjustments, corrections, draws). The lines and their
traces are shown either way.

Who may read whose statement is the access policy's business alone
(:meth:`hierarchy.access.Access.payees`): an employee her own, a manager the people in the nodes
she managed during the period, as the structure stood then, comp admins and finance everyone.
Not yours and not found look the same (404).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import (
    BooleanField,
    DecimalField,
    Min,
    Model,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.audit import audit_record, current_actor
from core.errors import NotFoundError, ValidationFailedError
from core.sorting import natural_key
from core.tenancy import get_current_tenant
from engine.nudges import unit_of
from engine.spec import PlanValidationError, parse_plan
from hierarchy.access import Access
from hierarchy.models import Assignment, Node, NodeClosure, Period, PeriodStatus, Person
from hierarchy.org_selectors import person_ids_in_subtree
from incentives.models import Credit, Transaction
from payouts import trace_words
from payouts.ledger import LINE_KINDS, entry_kind_for_line
from payouts.models import (
    MONEY_DIGITS,
    MONEY_PLACES,
    CalculationRun,
    EntryKind,
    LedgerEntry,
    LineContribution,
    LineSummary,
    PayoutLine,
    PeriodApproval,
    RunKind,
    RunStatus,
    Statement,
)
from plans.models import Plan, PlanAssignment, PlanVersion
from plans.selectors import component_names

FINAL = "final"
PROVISIONAL = "provisional"
NO_RUN = "none"

NO_RUN_MESSAGE = "No calculation has been run for this period yet."
RUN_NOT_SUCCEEDED = "Only a succeeded run can be frozen into statements (run {run} is {status})."
RUN_OF_ANOTHER_PERIOD = "Run {run} calculated another period."
RUN_NOT_APPROVED = "Run {run} is not the approved run of {period}: only an approval freezes."
STATEMENT_NOT_FOUND = "Statement not found."
LINE_NOT_FOUND = "Payout line not found."

# The statement's totals, in the order a statement shows them; each ledger kind adds to one.
TOTAL_OF_KIND: dict[str, str] = {
    EntryKind.EARNED: "earned",
    EntryKind.ADJUSTMENT: "adjustments",
    EntryKind.DRAW: "draw",
    EntryKind.DRAW_RECOVERY: "draw_recovery",
    EntryKind.CLAWBACK: "clawbacks",
    EntryKind.HOLD: "holds",
    EntryKind.RELEASE: "holds",
    EntryKind.PAID: "previously_paid",
}
TOTALS: tuple[str, ...] = (
    "earned",
    "adjustments",
    "draw",
    "draw_recovery",
    "clawbacks",
    "holds",
    "previously_paid",
    "payable",
)
TOTAL_LABELS: dict[str, str] = {
    "earned": "Earned",
    "adjustments": "Adjustments",
    "draw": "Draw",
    "draw_recovery": "Draw recovery",
    "clawbacks": "Clawbacks",
    "holds": "Holds (net of releases)",
    "previously_paid": "Previously paid",
    "payable": "Payable",
}
ZERO = Decimal(0)
# The kinds an approval enters straight from the run's lines (shown as lines, not movements).
LINE_ENTRY_KINDS = frozenset(
    {EntryKind.EARNED, EntryKind.DRAW, EntryKind.DRAW_RECOVERY, EntryKind.CLAWBACK}
)


ATTAINMENT_PLACES = Decimal("0.00000001")  # as a line's attainment is stored


def money(value: Decimal) -> str:
    """Return the canonical text of an amount in a statement (4 places, as stored)."""
    return str(Decimal(value).quantize(Decimal("0.0001")))


# --- which run ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunChoice:
    """The run a period's statements read and whether they are final."""

    run: CalculationRun | None
    final: bool

    @property
    def status(self) -> str:
        if self.run is None:
            return NO_RUN
        return FINAL if self.final else PROVISIONAL


def live_approval(*, period: Period) -> PeriodApproval | None:
    """Return the period's live approval (not reopened), if any."""
    approval: PeriodApproval | None = (
        PeriodApproval.objects.filter(period=period, reopened_at__isnull=True)
        .select_related("run")
        .first()
    )
    return approval


def period_run(*, period: Period) -> RunChoice:
    """Return the run ``period``'s statements read: the approved one, else the latest."""
    approval = live_approval(period=period)
    if approval is not None:
        return RunChoice(approval.run, True)
    latest = (
        CalculationRun.objects.filter(period=period, status=RunStatus.SUCCEEDED)
        .exclude(kind=RunKind.PREVIEW)
        .order_by("-finished_at", "-number")
        .first()
    )
    return RunChoice(latest, False)


# --- building ------------------------------------------------------------------------------


def _line_dict(line: PayoutLine, plans: dict[int, Plan]) -> dict[str, Any]:
    plan = plans.get(line.plan_id)
    return {
        "id": line.pk,
        "plan_id": line.plan_id,
        "plan": plan.name if plan else "",
        "plan_version_id": line.plan_version_id,
        "component_id": line.component_id,
        "kind": line.kind,
        "amount": money(line.amount),
        "currency": line.currency,
        "attainment": None if line.attainment is None else str(line.attainment),
        "measure": None if line.measure is None else str(line.measure),
        "trace_text": line.trace_text,
        "trace": line.trace,
    }


def _entry_dict(entry: LedgerEntry) -> dict[str, Any]:
    return {
        "id": entry.pk,
        "kind": entry.kind,
        "label": EntryKind(entry.kind).label,
        "amount": money(entry.amount),
        "currency": entry.currency,
        "component_id": entry.component_id,
        "memo": entry.memo,
        "corrects": entry.corrects_id,
        "created_at": entry.created_at.isoformat(),
    }


def _mirrors_a_line(entry: LedgerEntry) -> bool:
    """Return whether an entry is an approval's copy of a run's line (or a reopen's reversal
    of one): shown as the line, not as a movement of its own."""
    return entry.kind in LINE_ENTRY_KINDS and entry.run_id is not None and entry.component_id != ""


def _components(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Group a statement's lines by plan and component, with the earned sum and attainment."""
    groups: dict[tuple[int, str], dict[str, Any]] = {}
    for line in lines:
        key = (line["plan_id"], line["component_id"])
        group = groups.get(key)
        if group is None:
            group = groups[key] = {
                "plan_id": line["plan_id"],
                "plan": line["plan"],
                "component_id": line["component_id"],
                "earned": ZERO,
                "currency": line["currency"],
                "attainment": None,
                "line_ids": [],
            }
        group["earned"] += Decimal(line["amount"])
        if line["attainment"] is not None and group["attainment"] is None:
            group["attainment"] = line["attainment"]
        group["line_ids"].append(line["id"])
    return [{**g, "earned": money(g["earned"])} for g in groups.values()]


def _assemble(
    *,
    period: Period,
    person: Person,
    choice: RunChoice,
    lines: list[dict[str, Any]],
    entries: list[LedgerEntry],
    currency: str,
) -> dict[str, Any]:
    totals = dict.fromkeys(TOTALS, ZERO)
    if not choice.final:
        # Provisional: the lines as an approval would enter them, then the ledger so far.
        for line in lines:
            kind = entry_kind_for_line(line["kind"])
            totals[TOTAL_OF_KIND[kind]] += Decimal(line["amount"])
    movements = []
    for entry in entries:
        totals[TOTAL_OF_KIND[entry.kind]] += entry.amount
        if not _mirrors_a_line(entry):
            movements.append(_entry_dict(entry))
    totals["payable"] = sum((totals[k] for k in TOTALS if k != "payable"), ZERO)
    run = choice.run
    return {
        "key": f"{period.pk}-{person.pk}",
        "status": choice.status,
        "period": {
            "id": period.pk,
            "label": period.label,
            "kind": period.kind,
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
            "status": period.status,
        },
        "person": {
            "id": person.pk,
            "employee_id": person.employee_id,
            "full_name": person.full_name,
        },
        "run": None
        if run is None
        else {
            "id": run.pk,
            "number": run.number,
            "kind": run.kind,
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        },
        "currency": lines[0]["currency"] if lines else currency,
        "components": _components(lines),
        "lines": lines,
        "ledger": movements,
        "totals": {k: money(v) for k, v in totals.items()},
    }


def statements_build(
    *, period: Period, people: Iterable[Person], choice: RunChoice | None = None
) -> list[dict[str, Any]]:
    """Return the statements of ``people`` for ``period``, built live (a fixed number of
    queries whatever the number of people)."""
    people = list(people)
    choice = choice or period_run(period=period)
    ids = [p.pk for p in people]
    by_person: dict[int, list[PayoutLine]] = defaultdict(list)
    if choice.run is not None:
        for line in (
            PayoutLine.objects.filter(run=choice.run, person_id__in=ids)
            .defer("tenant_id")
            .order_by("person_id", "plan_id", "component_id", "kind", "id")
        ):
            by_person[line.person_id].append(line)
    plan_ids = {line.plan_id for rows in by_person.values() for line in rows}
    plans = Plan.objects.in_bulk(plan_ids) if plan_ids else {}
    entries: dict[int, list[LedgerEntry]] = defaultdict(list)
    for entry in LedgerEntry.objects.filter(period=period, person_id__in=ids).order_by(
        "created_at", "id"
    ):
        entries[entry.person_id].append(entry)
    currency = get_current_tenant().default_currency
    return [
        _assemble(
            period=period,
            person=person,
            choice=choice,
            lines=[_line_dict(x, plans) for x in by_person.get(person.pk, [])],
            entries=entries.get(person.pk, []),
            currency=currency,
        )
        for person in people
    ]


def statement_named(st: dict[str, Any], *, payee: str = "") -> dict[str, Any]:
    """Return a display copy of a statement (built live or frozen) whose lines, components and
    movements carry the name each component has in its plan version (``component_name``), and
    whose lines say why in words (``trace_text`` through :mod:`payouts.trace_words`: teams and
    measures named); a few queries, whatever the number of lines: what the page and the files
    show. The stored statement (and its hash) keep the engine's text. ``payee``: the person's
    name when someone else reads it (the engine's "you" becomes her name)."""
    lines = st.get("lines", [])
    version_of = {line["id"]: line.get("plan_version_id") for line in lines}
    names = component_names(version_ids=version_of.values())
    # a component's version: that of its (first) line; a movement's: its component's line's
    by_component = {line["component_id"]: line.get("plan_version_id") for line in reversed(lines)}
    words = trace_words.trace_names(
        (line.get("trace_text") or "" for line in lines), version_ids=version_of.values()
    ).about(payee)

    def name(component_id: str, version_id: int | None) -> str:
        return names.get(component_id, version_id=version_id)

    return {
        **st,
        "lines": [
            {
                **x,
                "component_name": name(x["component_id"], x.get("plan_version_id")),
                "trace_text": words.words(x.get("trace_text") or ""),
            }
            for x in lines
        ],
        "components": [
            {
                **c,
                "component_name": name(
                    c["component_id"], version_of.get((c.get("line_ids") or [0])[0])
                ),
            }
            for c in st.get("components", [])
        ],
        "ledger": [
            {**e, "component_name": name(e["component_id"], by_component.get(e["component_id"]))}
            for e in st.get("ledger", [])
        ],
    }


def statement_build(*, period: Period, person: Person) -> dict[str, Any]:
    """Return one person's statement for ``period``, built live."""
    return statements_build(period=period, people=[person])[0]


def content_hash(content: dict[str, Any]) -> str:
    """Return the SHA-256 of a statement's canonical JSON."""
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _statement_people(period: Period, run: CalculationRun) -> QuerySet[Person]:
    with_lines = PayoutLine.objects.filter(run=run).values("person_id")
    with_entries = LedgerEntry.objects.filter(period=period).values("person_id")
    return Person.objects.filter(Q(pk__in=with_lines) | Q(pk__in=with_entries)).order_by("pk")


@transaction.atomic
def statements_freeze(*, period_id: int, run_id: int, audit: bool = True) -> list[Statement]:
    """Freeze, for the period's live approval of ``run_id``, the statement of every person the
    run paid (or the ledger moved): one append-only row each with its content and hash.

    Called by the approve service inside its transaction, after the approval's ledger entries,
    with ``audit=False``: the approval's one audit event counts the statements it froze.
    Idempotent: a person already frozen for this approval keeps the row written first.
    """
    period = Period.objects.filter(pk=period_id).first()
    run = CalculationRun.objects.filter(pk=run_id).first()
    if period is None or run is None:
        raise NotFoundError("Period or run not found.")
    if run.period_id != period.pk:
        raise ValidationFailedError(RUN_OF_ANOTHER_PERIOD.format(run=run.number), code="run_period")
    if run.status != RunStatus.SUCCEEDED:
        raise ValidationFailedError(
            RUN_NOT_SUCCEEDED.format(run=run.number, status=run.status), code="run_not_succeeded"
        )
    approval = live_approval(period=period)
    if approval is None or approval.run_id != run.pk:
        raise ValidationFailedError(
            RUN_NOT_APPROVED.format(run=run.number, period=period.label), code="run_not_approved"
        )
    frozen = Statement.objects.filter(approval=approval)
    done = set(frozen.values_list("person_id", flat=True))
    people = [p for p in _statement_people(period, run) if p.pk not in done]
    now = timezone.now()
    user_id = current_actor().user_id
    rows = []
    for content in statements_build(period=period, people=people, choice=RunChoice(run, True)):
        content["frozen_at"] = now.isoformat()
        rows.append(
            Statement(
                period=period,
                person_id=content["person"]["id"],
                run=run,
                approval=approval,
                currency=content["currency"],
                earned=Decimal(content["totals"]["earned"]),
                payable=Decimal(content["totals"]["payable"]),
                content=content,
                content_hash=content_hash(content),
                frozen_at=now,
                frozen_by_id=user_id,
            )
        )
    Statement.objects.bulk_create(rows, batch_size=1000)
    if not audit:
        return list(frozen.order_by("person_id"))
    audit_record(
        action="statements.freeze",
        obj=run,
        after={
            "period": period.pk,
            "run": run.pk,
            "approval": approval.pk,
            "frozen": len(rows),
            "already": len(done),
        },
    )
    return list(frozen.order_by("person_id"))


# --- reading, through the access policy ---------------------------------------------------------


def _period(period_id: int) -> Period:
    period: Period | None = Period.objects.filter(pk=period_id).first()
    if period is None:
        raise NotFoundError(STATEMENT_NOT_FOUND)
    return period


def statement_get(*, access: Access, period_id: int, person_id: int) -> dict[str, Any]:
    """Return the statement of a person for a period the principal may read (404 otherwise):
    the frozen one once the period was approved, else built live."""
    period = _period(period_id)
    try:
        person = access.payee_get(person_id=person_id, start=period.start, end=period.end)
    except NotFoundError:
        raise NotFoundError(STATEMENT_NOT_FOUND) from None
    choice = period_run(period=period)
    if choice.final:
        frozen = (
            Statement.objects.filter(
                period=period, person=person, approval__reopened_at__isnull=True
            )
            .order_by("-frozen_at")
            .first()
        )
        if frozen is not None:
            return {**frozen.content, "frozen": _frozen(frozen)}
    return {**statement_build(period=period, person=person), "frozen": None}


def _frozen(row: Statement) -> dict[str, Any]:
    return {"id": row.pk, "at": row.frozen_at.isoformat(), "hash": row.content_hash}


@dataclass(frozen=True)
class Summary:
    """One row of a statement list: who, which period, the run's status, earned and payable,
    her target incentive and attainment (earned over target: :func:`attainment_of`) (``person``
    is loaded with its id, name, employee id and user only)."""

    period: Period
    person: Person
    status: str
    run_id: int | None
    currency: str
    earned: Decimal
    payable: Decimal
    attainment: Decimal | None
    plans: tuple[str, ...]
    frozen: bool
    target: Decimal | None = None

    @property
    def key(self) -> str:
        return f"{self.period.pk}-{self.person.pk}"


def among(model: type[Model], ids: Sequence[int], column: str = "person_id") -> Any:
    """A filter keeping the rows of ``model`` whose ``column`` is one of ``ids``: on PostgreSQL
    one array parameter (``= ANY(%s)``); Django compiles a literal ``IN`` list parameter by
    parameter, which for a business unit's 10k ids took seconds."""
    if connection.vendor != "postgresql":
        return Q(**{f"{column}__in": list(ids)})
    table = connection.ops.quote_name(model._meta.db_table)
    name = connection.ops.quote_name(column)
    # (names from the model, quoted; the ids a parameter)
    sql = f"{table}.{name} = ANY(%s::bigint[])"
    return RawSQL(sql, (list(ids),), output_field=BooleanField())  # noqa: S611


@dataclass
class _Figures:
    """What a person's lines in a run add to her summary (before the ledger)."""

    currency: str
    earned: Decimal
    payable: Decimal
    plan_ids: set[int]


def _figures_from_summaries(run: CalculationRun, ids: list[int]) -> dict[int, _Figures]:
    """Read the run's :class:`LineSummary` rows of the people ``ids``: one indexed read."""
    rows = LineSummary.objects.filter(among(LineSummary, ids), run=run).values_list(
        "person_id", "currency", "earned", "payable", "plan_ids"
    )
    return {
        pid: _Figures(currency, earned, payable, set(plan_ids))
        for pid, currency, earned, payable, plan_ids in rows
    }


def _figures_from_lines(run: CalculationRun, ids: list[int]) -> dict[int, _Figures]:
    """Sum the run's lines of the people ``ids`` (a run written before summaries existed):
    the figures :func:`payouts.runs.write_summaries` stores, by aggregate queries."""
    out: dict[int, _Figures] = {}
    lines = PayoutLine.objects.filter(among(PayoutLine, ids), run=run)
    rows = lines.values("person_id", "kind", "currency").annotate(total=Sum("amount"))
    for row in rows.order_by("person_id", "currency"):
        pid = row["person_id"]
        got = out.setdefault(pid, _Figures(row["currency"], ZERO, ZERO, set()))
        if entry_kind_for_line(row["kind"]) == EntryKind.EARNED:
            got.earned += row["total"]
        got.payable += row["total"]
    for pid, plan_id in lines.values_list("person_id", "plan_id").distinct():
        out[pid].plan_ids.add(plan_id)
    return out


def period_summaries(
    *, period: Period, people: QuerySet[Person], choice: RunChoice | None = None
) -> list[Summary]:
    """Return the statement summary of every person in ``people`` the period's run paid or
    the ledger moved, sorted by name and employee id.

    ``people`` is read once; then, by their ids, the run's part from its per-person summaries
    (``LineSummary``: one indexed read; summed from the lines for a run written before
    summaries existed) and the ledger's by one aggregate query. The number of queries does
    not grow with the people."""
    choice = choice or period_run(period=period)
    run = choice.run
    # A summary names its person (id, name, employee id, user): the other fields stay unread.
    persons = {
        p.pk: p for p in people.order_by().only("full_name", "employee_id", "user_id", "sort_name")
    }
    ids = sorted(persons)
    if not ids:
        return []
    figures: dict[int, _Figures] = {}
    if run is not None:
        read = _figures_from_summaries if run.summarized else _figures_from_lines
        figures = read(run, ids)
    earned: dict[int, Decimal] = {}
    moved: dict[int, Decimal] = {}
    currency: dict[int, str] = {}
    for pid, got in figures.items():
        currency[pid] = got.currency
        # Final: the ledger holds what the approval entered from the lines.
        earned[pid] = ZERO if choice.final else got.earned
        moved[pid] = ZERO if choice.final else got.payable
    entries = (
        LedgerEntry.objects.filter(among(LedgerEntry, ids), period=period)
        .values("person_id", "kind", "currency")
        .annotate(total=Sum("amount"))
        .order_by("person_id", "currency")
    )
    for row in entries:
        pid = row["person_id"]
        if row["kind"] == EntryKind.EARNED:
            earned[pid] = earned.get(pid, ZERO) + row["total"]
        moved[pid] = moved.get(pid, ZERO) + row["total"]
        currency.setdefault(pid, row["currency"])
    frozen = (
        set(
            Statement.objects.filter(
                among(Statement, list(moved)), period=period, approval__reopened_at__isnull=True
            ).values_list("person_id", flat=True)
        )
        if choice.final and moved
        else set()
    )
    plan_ids = {p for got in figures.values() for p in got.plan_ids}
    names = dict(Plan.objects.filter(pk__in=plan_ids).values_list("pk", "name"))
    target = period_targets(period=period, person_ids=list(moved))
    default = get_current_tenant().default_currency
    out = []
    for pid in moved:
        paid = figures.get(pid)
        out.append(
            Summary(
                period=period,
                person=persons[pid],
                status=choice.status,
                run_id=run.pk if run else None,
                currency=currency.get(pid, default),
                earned=earned.get(pid, ZERO),
                payable=moved[pid],
                attainment=attainment_of(earned.get(pid, ZERO), target.get(pid)),
                target=target.get(pid),
                plans=tuple(sorted({names[x] for x in paid.plan_ids})) if paid else (),
                frozen=pid in frozen,
            )
        )
    return sorted(out, key=lambda r: (r.person.full_name, r.person.employee_id))


def statement_periods() -> QuerySet[Period]:
    """Return the periods that have a statement to read: a succeeded run or ledger entries."""
    runs = CalculationRun.objects.filter(status=RunStatus.SUCCEEDED).exclude(kind=RunKind.PREVIEW)
    entries = LedgerEntry.objects.values("period_id")
    return Period.objects.filter(Q(pk__in=runs.values("period_id")) | Q(pk__in=entries)).order_by(
        "-start", "kind"
    )


def statement_list(
    *, access: Access, period_id: int | None = None, person_id: int | None = None
) -> list[Summary]:
    """Return the statement summaries the principal may read, newest period first."""
    periods: Sequence[Period]
    if period_id is not None:
        periods = list(statement_periods().filter(pk=period_id))
    else:
        periods = list(statement_periods())
    out: list[Summary] = []
    for period in periods:
        people = access.payees(start=period.start, end=period.end)
        if person_id is not None:
            people = people.filter(pk=person_id)
        out.extend(period_summaries(period=period, people=people))
    return out


# --- drill-down: line → credits → transactions ------------------------------------------------


@dataclass(frozen=True)
class Contribution:
    """What one credit (and its transaction) contributed to a payout line."""

    amount: Decimal
    credit: Credit | None
    transaction: Transaction | None


@dataclass(frozen=True)
class LineDrill:
    line: PayoutLine
    period: Period
    person: Person
    contributions: list[Contribution]
    total: Decimal
    counts: bool = False
    """The line's measure counts credits (a count): each credit counts once, whatever its
    deal's amount, so the drill-down counts rather than sums."""


def measure_counts(line: PayoutLine) -> bool:
    """Return whether ``line``'s component is measured by a count (``engine.nudges.unit_of``,
    the one rule for how a measure reads), from the plan version the line was paid on."""
    spec = (
        PlanVersion.objects.filter(pk=line.plan_version_id).values_list("spec", flat=True).first()
    )
    try:
        plan = parse_plan(spec)
    except PlanValidationError:
        return False
    component = next((c for c in plan.components if c.id == line.component_id), None)
    return component is not None and unit_of(plan, component.measure) == "count"


def line_get(*, access: Access, line_id: int) -> LineDrill:
    """Return a payout line the principal may read with what each credit contributed to it
    and the transaction behind each credit (404 when not found or not theirs)."""
    line = PayoutLine.objects.select_related("period", "person", "plan").filter(pk=line_id).first()
    if line is None:
        raise NotFoundError(LINE_NOT_FOUND)
    period = line.period
    try:
        access.payee_get(person_id=line.person_id, start=period.start, end=period.end)
    except NotFoundError:
        raise NotFoundError(LINE_NOT_FOUND) from None
    rows = list(LineContribution.objects.filter(line=line).order_by("-amount", "id"))
    credit_ids = {r.credit_id for r in rows if r.credit_id is not None}
    credits = Credit.objects.select_related("rule").in_bulk(credit_ids) if credit_ids else {}
    tx_ids = {r.transaction_id for r in rows if r.transaction_id is not None}
    tx_ids |= {c.transaction_id for c in credits.values()}
    transactions = Transaction.objects.in_bulk(tx_ids) if tx_ids else {}
    contributions = []
    for row in rows:
        credit = credits.get(row.credit_id) if row.credit_id is not None else None
        tx_id = row.transaction_id or (credit.transaction_id if credit else None)
        contributions.append(
            Contribution(
                amount=row.amount,
                credit=credit,
                transaction=transactions.get(tx_id) if tx_id is not None else None,
            )
        )
    return LineDrill(
        line=line,
        period=period,
        person=line.person,
        contributions=contributions,
        total=sum((r.amount for r in rows), ZERO),
        counts=bool(rows) and measure_counts(line),
    )


def is_closed(period: Period) -> bool:
    """Return whether a period's statements can no longer change (approved or closed)."""
    return period.status in (PeriodStatus.APPROVED, PeriodStatus.CLOSED)


# --- earnings pages: a person's periods, a manager's team ------------------------------------


def _targets_sql(day: date) -> tuple[str, list[Any]]:
    """CTEs (to follow a ``WITH`` naming ``m``, the people) ending in ``tgp (person_id, plan_id,
    target)`` and ``tg (person_id, target)``: each person's target incentive on ``day`` per
    plan - the plan assignments in force then, her own over her job role's over her nodes'
    (the most specific holder wins) - and summed over her plans; a person with no plan has no
    row. The one rule :func:`targets`, :func:`period_plan_targets` and the roll-up read."""
    placed = Assignment.objects.filter(_in_members(Assignment)).known_now().as_of(day)
    parts = [
        placed.order_by().values_list("person_id", "node_id", "role_id"),
        PlanAssignment.objects.as_of(day)
        .order_by()
        .values_list("plan_id", "person_id", "role_id", "node_id", "target_incentive"),
        NodeClosure.objects.as_of(day).order_by().values_list("ancestor_id", "descendant_id"),
    ]
    compiled = [q.query.sql_with_params() for q in parts]
    (asql, aparams), (psql, pparams), (csql, cparams) = compiled
    sql = (
        f"ta (person_id, node_id, role_id) AS ({asql}), "  # noqa: S608 (SQL compiled by the ORM, values as parameters)
        f"tpa (plan_id, person_id, role_id, node_id, ti) AS ({psql}), "
        f"tcl (ancestor_id, descendant_id) AS ({csql}), "
        "tc (person_id, plan_id, rnk, ti) AS ("
        "SELECT tpa.person_id, tpa.plan_id, 0, tpa.ti FROM tpa "
        "WHERE tpa.person_id IN (SELECT m.person_id FROM m) "
        "UNION ALL SELECT ta.person_id, tpa.plan_id, 1, tpa.ti FROM tpa "
        "JOIN ta ON ta.role_id = tpa.role_id "
        "UNION ALL SELECT ta.person_id, tpa.plan_id, 2, tpa.ti FROM tpa "
        "JOIN tcl ON tcl.ancestor_id = tpa.node_id JOIN ta ON ta.node_id = tcl.descendant_id), "
        "tcb (person_id, plan_id, rnk) AS (SELECT person_id, plan_id, MIN(rnk) FROM tc "
        "GROUP BY person_id, plan_id), "
        "tgp (person_id, plan_id, target) AS (SELECT c.person_id, c.plan_id, c.ti FROM (SELECT "
        "person_id, plan_id, rnk, MAX(ti) AS ti FROM tc GROUP BY person_id, plan_id, rnk) c "
        "JOIN tcb cb ON cb.person_id = c.person_id AND cb.plan_id = c.plan_id "
        "AND cb.rnk = c.rnk), "
        "tg (person_id, target) AS (SELECT person_id, SUM(target) FROM tgp GROUP BY person_id)"
    )
    return sql, [*aparams, *pparams, *cparams]


def _target_rows(period: Period, person_ids: Sequence[int], select: str) -> list[tuple[Any, ...]]:
    """Run ``select`` (reading ``tg`` or ``tgp``) over the targets of ``person_ids`` on the
    period's first day (:func:`_targets_sql`): one query whatever their number."""
    if not person_ids:
        return []
    members = Person.objects.filter(among(Person, list(person_ids), "id")).values("pk")
    msql, mparams = members.order_by().query.sql_with_params()
    tsql, tparams = _targets_sql(period.start)
    with connection.cursor() as cursor:
        cursor.execute(f"WITH m (person_id) AS ({msql}), {tsql} {select}", [*mparams, *tparams])
        return list(cursor.fetchall())


def period_targets(*, period: Period, person_ids: Sequence[int]) -> dict[int, Decimal]:
    """Return the target incentive of each of ``person_ids`` who had a plan on the period's
    first day (:func:`_targets_sql`, summed over her plans)."""
    rows = _target_rows(period, person_ids, "SELECT person_id, target FROM tg")
    return {pid: _money_sum(target) for pid, target in rows}


def period_plan_targets(
    *, period: Period, person_ids: Sequence[int]
) -> dict[tuple[int, int], Decimal]:
    """Return ``{(person_id, plan_id): target incentive}`` on the period's first day for
    ``person_ids`` (:func:`_targets_sql`, plan by plan)."""
    rows = _target_rows(period, person_ids, "SELECT person_id, plan_id, target FROM tgp")
    return {(pid, plan): _money_sum(t) for pid, plan, t in rows if t is not None}


def targets(*, person: Person, periods: Sequence[Period]) -> dict[int, Decimal | None]:
    """Return the person's target incentive for each period (:func:`period_targets`); None when
    no plan was assigned."""
    return {p.pk: period_targets(period=p, person_ids=[person.pk]).get(person.pk) for p in periods}


def attainment_of(earned: Decimal, target: Decimal | None) -> Decimal | None:
    """A person's attainment in a roll-up: what she earned over her target incentive (none
    without a target). Comparable across plans, components and functions: a person paid on
    several components is one figure, each component's own attainment beside it."""
    if not target:
        return None
    return (earned / target).quantize(ATTAINMENT_PLACES)


@dataclass(frozen=True)
class PeriodPoint:
    """One period of a person's year: earned, target, and both summed so far (over the
    periods calculated: a period with no run yet adds no target, ``cumulative_target`` None)."""

    period: Period
    status: str
    earned: Decimal
    target: Decimal | None
    cumulative_earned: Decimal
    cumulative_target: Decimal | None


@dataclass(frozen=True)
class Overview:
    """What a person's earnings page shows for one chosen period."""

    person: Person
    period: Period | None
    statement: dict[str, Any] | None
    points: list[PeriodPoint]
    history: list[Summary]
    ytd_earned: Decimal
    currency: str
    periods: list[Period]


def _default_period(history: list[Summary]) -> Period | None:
    if history:
        return history[0].period
    today = timezone.localdate()
    return (
        Period.objects.filter(kind="quarterly", start__lte=today, end__gt=today).first()
        or Period.objects.filter(start__lte=today, end__gt=today).order_by("-start").first()
    )


def earnings_overview(*, access: Access, person: Person, period_id: int | None) -> Overview:
    """Return a person's earnings page (the principal must be allowed to read her: callers
    resolve ``person`` through the access policy): the chosen period's statement, the year's
    periods so far with cumulative earned against target, and her statement history."""
    history = statement_list(access=access, person_id=person.pk)
    history = [s for s in history if s.person.pk == person.pk]
    period = _period(period_id) if period_id is not None else _default_period(history)
    currency = get_current_tenant().default_currency
    if period is None:
        return Overview(person, None, None, [], history, ZERO, currency, [])
    statement = statement_get(access=access, period_id=period.pk, person_id=person.pk)
    year = list(
        Period.objects.filter(
            kind=period.kind, fiscal_year=period.fiscal_year, start__lte=period.start
        ).order_by("start")
    )
    target = targets(person=person, periods=year)
    points: list[PeriodPoint] = []
    run_earned, run_target = ZERO, ZERO
    for p in year:
        row = period_summaries(period=p, people=Person.objects.filter(pk=person.pk))
        earned = row[0].earned if row else ZERO
        status = row[0].status if row else period_run(period=p).status
        run_earned += earned
        t = target.get(p.pk)
        # a period not calculated yet has earned nothing so far: its target is not "behind"
        if t is not None and status != NO_RUN:
            run_target += t
        points.append(
            PeriodPoint(
                p,
                status,
                earned,
                t,
                run_earned,
                run_target if t is not None and status != NO_RUN else None,
            )
        )
    return Overview(
        person=person,
        period=period,
        statement=statement,
        points=points,
        history=history,
        ytd_earned=run_earned,
        currency=statement["currency"],
        periods=list(statement_periods()),
    )


# Attainment buckets of the team roll-up's distribution chart: [low, high) as fractions.
BUCKETS: tuple[tuple[str, Decimal, Decimal | None], ...] = (
    ("< 50 %", Decimal("-Infinity"), Decimal("0.5")),
    ("50-80 %", Decimal("0.5"), Decimal("0.8")),
    ("80-100 %", Decimal("0.8"), Decimal("1")),
    ("100-120 %", Decimal("1"), Decimal("1.2")),
    ("≥ 120 %", Decimal("1.2"), None),
)
TEAM_SORTS = ("name", "plan", "attainment", "earned", "payable")
MONEY = DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES)


@dataclass(frozen=True)
class RollupTotals:
    """A roll-up's totals: how many people, earned and payable per currency."""

    people: int
    earned: dict[str, Decimal]
    payable: dict[str, Decimal]


class RollupPeople(Sequence[Summary]):
    """A roll-up's people in the order asked for, built a slice at a time: ``len()`` is how
    many there are, ``people[a:b]`` builds the summaries of those only (the API's paginator
    slices it), iterating builds them all in one read (the team page, its download)."""

    def __init__(self, count: int, read: Callable[[int, int | None], list[Summary]]) -> None:
        self._count = count
        self._read = read

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            start, stop, step = index.indices(self._count)
            if step != 1:
                raise ValueError("a roll-up's people are read in order: people[start:stop]")
            return self._read(start, stop - start) if stop > start else []
        position = index + self._count if index < 0 else index
        if not 0 <= position < self._count:
            raise IndexError(index)
        return self._read(position, 1)[0]

    def __iter__(self) -> Iterator[Summary]:
        return iter(self._read(0, None) if self._count else [])


@dataclass(frozen=True)
class Rollup:
    """A roll-up: totals and the attainment distribution over everyone in it (added up in the
    database), and its people, sorted, built only as far as they are read."""

    totals: RollupTotals
    distribution: list[tuple[str, int]]
    people: RollupPeople


def _in_members(model: type[Model]) -> Any:
    """A filter keeping the rows of ``model`` whose person is one of the roll-up's people (the
    ``m`` of :func:`_rows_sql`): the people are a subquery of the same statement, not ids sent
    back and forth (a business unit's 10k)."""
    table = connection.ops.quote_name(model._meta.db_table)
    # (a name from the model, quoted; no values)
    sql = f"{table}.person_id IN (SELECT m.person_id FROM m)"  # noqa: S608
    return RawSQL(sql, (), output_field=BooleanField())  # noqa: S611


def _rows_sql(
    *, period: Period, choice: RunChoice, members: QuerySet[Any]
) -> tuple[str, list[Any]]:
    """A ``WITH`` clause naming ``m``, the person ids ``members`` selects (one column, a person
    may repeat), and ``r``: one row per person of ``m`` the run paid or the ledger moved, with
    the figures :func:`period_summaries` gives her: ``person_id, currency, earned, payable,
    attainment`` (the run's part from its summaries, or summed from its lines for a run written
    before them; plus the ledger's entries of the period; final: the ledger alone)."""
    run = choice.run
    msql, mparams = members.order_by().query.sql_with_params()
    with_m = f"WITH m (person_id) AS ({msql}), "
    ledger = (
        LedgerEntry.objects.filter(_in_members(LedgerEntry), period=period)
        .order_by()
        .values("person_id")
        .annotate(
            l_earned=Coalesce(
                Sum("amount", filter=Q(kind=EntryKind.EARNED)), Value(ZERO, output_field=MONEY)
            ),
            l_moved=Sum("amount"),
            l_currency=Min("currency"),
        )
        .values_list("person_id", "l_earned", "l_moved", "l_currency")
    )
    lsql, lparams = ledger.query.sql_with_params()
    tsql, tparams = _targets_sql(period.start)
    # Her attainment: earned over her target incentive (attainment_of; none without a target).
    with_r = (
        f", {tsql}, r AS (SELECT r0.person_id, r0.currency, r0.earned, r0.payable, "  # noqa: S608 (SQL from the ORM and constants)
        "CASE WHEN tg.target > 0 THEN r0.earned * 1.0 / tg.target END AS attainment "
        "FROM r0 LEFT JOIN tg ON tg.person_id = r0.person_id)"
    )
    if run is None:
        sql = (
            f"{with_m}l (person_id, earned, moved, currency) AS ({lsql}), "  # noqa: S608 (SQL compiled by the ORM, values as parameters)
            "r0 AS (SELECT l.person_id, l.currency, l.earned, l.moved AS payable FROM l)"
            f"{with_r}"
        )
        return sql, [*mparams, *lparams, *tparams]
    figures: QuerySet[Any]
    if run.summarized:
        figures = LineSummary.objects.filter(_in_members(LineSummary), run=run).values_list(
            "person_id", "currency", "earned", "payable"
        )
    else:
        figures = (
            PayoutLine.objects.filter(_in_members(PayoutLine), run=run)
            .order_by()
            .values("person_id")
            .annotate(
                f_currency=Min("currency"),
                f_earned=Coalesce(
                    Sum("amount", filter=~Q(kind__in=list(LINE_KINDS))),
                    Value(ZERO, output_field=MONEY),
                ),
                f_payable=Sum("amount"),
            )
            .values_list("person_id", "f_currency", "f_earned", "f_payable")
        )
    fsql, fparams = figures.query.sql_with_params()
    # Final: what the approval entered from the lines is in the ledger already.
    run_earned, run_payable = ("0", "0") if choice.final else ("f.earned", "f.payable")
    sql = (
        f"{with_m}f (person_id, currency, earned, payable) AS ({fsql}), "  # noqa: S608 (SQL compiled by the ORM, values as parameters)
        f"l (person_id, earned, moved, currency) AS ({lsql}), "
        f"r0 AS (SELECT f.person_id, f.currency, {run_earned} + COALESCE(l.earned, 0) AS earned, "
        f"{run_payable} + COALESCE(l.moved, 0) AS payable "
        "FROM f LEFT JOIN l ON l.person_id = f.person_id "
        "UNION ALL SELECT l.person_id, l.currency, l.earned, l.moved "
        "FROM l WHERE NOT EXISTS (SELECT 1 FROM f WHERE f.person_id = l.person_id))"
        f"{with_r}"
    )
    return sql, [*mparams, *fparams, *lparams, *tparams]


def _money_sum(value: Any) -> Decimal:
    """A sum read back from the database (SQLite keeps decimals as floating point: rounded to
    the money's places, as Django reads them)."""
    if isinstance(value, Decimal):
        return value
    return Decimal(repr(value)).quantize(Decimal(1).scaleb(-MONEY_PLACES))


def _bucket_sql() -> tuple[list[str], list[Any]]:
    """One ``CASE`` per attainment bucket (``[low, high)``) counting ``r``'s rows in it."""
    cases: list[str] = []
    params: list[Any] = []
    for _label, low, high in BUCKETS:
        test = ["r.attainment IS NOT NULL"]
        if low.is_finite():
            test.append("r.attainment >= CAST(%s AS NUMERIC)")
            params.append(str(low))
        if high is not None:
            test.append("r.attainment < CAST(%s AS NUMERIC)")
            params.append(str(high))
        cases.append(f"SUM(CASE WHEN {' AND '.join(test)} THEN 1 ELSE 0 END)")
    return cases, params


def _order_sql(sort: str, descending: bool, figures: str = "r", person: str = "p") -> str:
    """``ORDER BY`` of a roll-up's rows ``r`` joined to their people ``p`` (or a subquery of
    both's columns, named ``figures`` and ``person``): by name, the natural order (the stored
    keys, core/sorting.py) with the employee id between equal names; by a figure, equal figures
    by name and employee id code point by code point (as Python compares them: the order
    :func:`period_summaries` gives them)."""
    way = " DESC" if descending else ""
    if sort == "name":
        return f"{person}.sort_name{way}, {person}.sort_employee_id{way}"
    exact = ' COLLATE "C"' if connection.vendor == "postgresql" else ""
    ties = f"{person}.full_name{exact}, {person}.employee_id{exact}"
    if sort == "attainment":
        return (
            f"CASE WHEN {figures}.attainment IS NULL THEN 0 ELSE 1 END{way}, "
            f"COALESCE({figures}.attainment, 0){way}, {ties}"
        )
    return f"{figures}.{sort}{way}, {ties}"


def _plan_sorted(rows: list[Summary], descending: bool) -> list[Summary]:
    """``rows`` by their plans' names (natural order), then the person's name."""
    plan_keys: dict[tuple[str, ...], Any] = {}

    def key(r: Summary) -> tuple[Any, bytes]:
        if r.plans not in plan_keys:
            plan_keys[r.plans] = natural_key(", ".join(r.plans))
        return plan_keys[r.plans], bytes(r.person.sort_name)

    return sorted(rows, key=key, reverse=descending)


def team_rollup(
    *,
    access: Access,
    period: Period,
    sort: str = "name",
    descending: bool = False,
    node_id: int | None = None,
    page: tuple[int, int] | None = None,
    choice: RunChoice | None = None,
) -> Rollup:
    """Return the roll-up of the people the principal may read for ``period`` (a manager: the
    subtree of every node she managed during it), herself left out; ``node_id``: only those in
    that node's subtree (any hierarchy: a team, a business unit, a region) as it stood during
    the period. An unknown node is a 404.

    Its totals (per currency, never added across), attainment distribution and count are
    aggregates over the run's per-person summaries and the ledger; its people are sorted
    (``sort``: name, plan, attainment, earned, payable) and paged in the database, and only the
    page read is built into :class:`Summary` rows (sorting by plan reads them all: plans are
    names, not columns). ``page`` (offset, limit): the page the caller will read, found by the
    same statement as the totals (one read of the summaries and the ledger). ``choice``: the
    period's run when the caller has it already. The API and the team page both read this."""
    sort = sort if sort in TEAM_SORTS else "name"  # (a column name in the SQL below)
    labels = [b[0] for b in BUCKETS]
    nobody = Rollup(
        RollupTotals(0, {}, {}), [(b, 0) for b in labels], RollupPeople(0, lambda _o, _n: [])
    )
    me = access.principal.user_id
    members: QuerySet[Any]
    if node_id is not None and not Node.objects.filter(pk=node_id).exists():
        raise NotFoundError("Node not found.")
    if access.sees_all_payees:
        # Everyone may be read: the roll-up is the node's subtree (or everyone), a subquery of
        # the statement below.
        if node_id is None:
            members = Person.objects.exclude(user_id=me) if me else Person.objects.all()
            members = members.values("pk")
        else:
            members = person_ids_in_subtree(node_id=node_id, start=period.start, end=period.end)
            if me is not None:
                members = members.exclude(person_id__in=Person.objects.filter(user_id=me))
    else:
        people = access.payees(start=period.start, end=period.end)
        if node_id is not None:
            # The subtree's ids first (read once), then the principal's people among them (one
            # array parameter): planned as one nested subquery it scanned every person the
            # principal sees, and a business unit's subtree was read twice.
            under = person_ids_in_subtree(node_id=node_id, start=period.start, end=period.end)
            people = people.filter(
                among(Person, list(under.values_list("person_id", flat=True)), "id")
            )
        if me is not None:
            people = people.exclude(user_id=me)
        ids = sorted(people.order_by().values_list("pk", flat=True))
        if not ids:
            return nobody
        members = Person.objects.filter(among(Person, ids, "id")).values("pk")
    choice = choice or period_run(period=period)
    try:
        rows_sql, rows_params = _rows_sql(period=period, choice=choice, members=members)
    except EmptyResultSet:  # a subtree of no nodes
        return nobody
    cases, case_params = _bucket_sql()
    person_table = connection.ops.quote_name(Person._meta.db_table)
    order = _order_sql(sort, descending)
    # The page asked for, numbered in the roll-up's order, beside the totals (plan: in Python).
    first = page if page is not None and sort != "plan" else None
    blanks = ", ".join(["NULL"] * len(cases))
    bands_sql = ", ".join(f"{case} AS b{i}" for i, case in enumerate(cases))
    page_sql, page_params = "", []
    if first is not None:
        # The first offset + limit rows in order (a top-N sort, not a sort of everyone), then
        # numbered in that order, the page's kept.
        keys = "r.person_id, r.attainment, r.earned, r.payable, p.sort_name, p.sort_employee_id"
        page_sql = (
            f"UNION ALL SELECT 1, NULL, NULL, NULL, NULL, {blanks}, k.person_id, k.pos "  # noqa: S608 (SQL from constants, values as parameters)
            f"FROM (SELECT n.person_id, ROW_NUMBER() OVER (ORDER BY "
            f"{_order_sql(sort, descending, 'n', 'n')}) AS pos FROM (SELECT {keys}, "
            f"p.full_name, p.employee_id FROM r JOIN {person_table} p ON p.id = r.person_id "
            f"ORDER BY {order} LIMIT %s) n) k WHERE k.pos > %s"
        )
        page_params = [first[0] + first[1], first[0]]
    earned: dict[str, Decimal] = {}
    payable: dict[str, Decimal] = {}
    count = 0
    counts = [0] * len(labels)
    found: list[tuple[int, int]] = []
    with connection.cursor() as cursor:
        cursor.execute(
            f"{rows_sql}, t AS (SELECT r.currency, SUM(r.earned) AS earned, "  # noqa: S608 (SQL from the ORM and constants, values as parameters)
            f"SUM(r.payable) AS payable, COUNT(*) AS n, {bands_sql} "
            f"FROM r GROUP BY r.currency) SELECT 0, t.*, NULL, NULL FROM t {page_sql}",
            [*rows_params, *case_params, *page_params],
        )
        for part, currency, got_earned, got_payable, n, *rest in cursor.fetchall():
            *bands, person_id, pos = rest
            if part == 1:
                found.append((pos, person_id))
                continue
            earned[currency] = _money_sum(got_earned)
            payable[currency] = _money_sum(got_payable)
            count += n
            counts = [a + int(b or 0) for a, b in zip(counts, bands, strict=True)]
    # Per currency in code point order, as the statement's GROUP BY used to order them.
    earned = dict(sorted(earned.items()))
    payable = dict(sorted(payable.items()))
    totals = RollupTotals(count, earned, payable)
    distribution = list(zip(labels, counts, strict=True))
    if not count:
        return nobody
    prefetched = [pid for _, pid in sorted(found)]

    def summaries_of(chosen: list[int]) -> dict[int, Summary]:
        of = Person.objects.filter(among(Person, chosen, "id"))
        return {r.person.pk: r for r in period_summaries(period=period, people=of, choice=choice)}

    def read(offset: int, limit: int | None) -> list[Summary]:
        if sort == "plan":
            everyone = _plan_sorted(list(summaries_of(_all_ids()).values()), descending)
            return everyone[offset : None if limit is None else offset + limit]
        if first is not None and (offset, limit) == (first[0], min(first[1], count - offset)):
            chosen = prefetched
        else:
            chosen = _ids(offset, limit)
        built = summaries_of(chosen) if chosen else {}
        return [built[pid] for pid in chosen]

    def _ids(offset: int, limit: int | None) -> list[int]:
        paged = "" if limit is None and not offset else " LIMIT %s OFFSET %s"
        with connection.cursor() as cursor:
            cursor.execute(
                f"{rows_sql} SELECT r.person_id FROM r JOIN {person_table} p "  # noqa: S608 (as above)
                f"ON p.id = r.person_id ORDER BY {order}{paged}",
                [*rows_params, *([] if not paged else [-1 if limit is None else limit, offset])],
            )
            return [pid for (pid,) in cursor.fetchall()]

    def _all_ids() -> list[int]:
        with connection.cursor() as cursor:
            cursor.execute(f"{rows_sql} SELECT r.person_id FROM r", rows_params)  # noqa: S608 (as above)
            return sorted(pid for (pid,) in cursor.fetchall())

    return Rollup(totals, distribution, RollupPeople(count, read))
