"""The comp admin's home: anomalies of the open period, the first-run checklist, recent runs and
imports. Reads only; each anomaly names the page where it is fixed.

Anomalies of a period (default: the open one, :func:`payouts.milestones.default_period`):

* **earnings outliers** - a person's earned total (the run that pays the period, as its
  statement reads it) changed against the previous period of the same kind by more than
  :data:`ROBUST_Z` robust standard deviations from the median change (the modified z-score
  ``0.6745 x (change - median) / MAD``, Iglewicz and Hoaglin; median and MAD resist the outliers
  they look for, unlike mean and standard deviation); where that spread cannot be measured
  (fewer than three people, or no spread), by more than :data:`CHANGE_SHARE` of it. Nothing
  is compared when either period has no run. While the period is under way, the previous
  period's earnings are first scaled to the share of it gone by (its pace).
* **no plan** - people placed in the organisation during the period on whom no plan assignment
  falls (their own, their job role's, or a node at or above theirs).
* **unacknowledged** - (person, plan version) pairs the period's run pays that the person has
  not acknowledged.
* **uncredited** - transactions booked in the period (current versions, not cancelled) that no
  current credit names: money nobody is paid on.
* **no quota** - people the run pays on a plan on which other payees hold a quota in the
  period while they hold none (a quota file that missed someone).

The first-run checklist takes a new tenant from empty to explained statements: import people ->
pick templates -> assign plans -> import deals -> run -> statements. Each step is worked out
from the data (done / next / not yet); the first step not done is "next".

Every read is a fixed number of queries, whatever the number of people (tests hold it).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import Exists, OuterRef, Sum
from django.urls import reverse

from core.tenancy import get_current_tenant
from hierarchy.access import Access
from hierarchy.models import Assignment, ImportBatch, NodeClosure, Period, Person
from hierarchy.periods import tenant_today
from incentives.models import Credit, IngestBatch, Transaction
from payouts.ledger import entry_kind_for_line
from payouts.milestones import default_period, period_get
from payouts.models import (
    CalculationRun,
    EntryKind,
    PayoutLine,
    RunKind,
    RunStatus,
    Statement,
)
from payouts.runs import RunProgress, run_progress
from payouts.statements import period_run
from plans.models import Plan, PlanAcknowledgement, PlanAssignment, Quota

CHANGE_SHARE = Decimal("0.5")  # earnings moved by more than 50 % against the previous period
ROBUST_Z = Decimal("3.5")  # modified z-score above which a change is an outlier
MAD_SCALE = Decimal("0.6745")  # makes the MAD comparable with a normal standard deviation
RECENT = 5  # runs and imports the home lists

OUTLIER, NO_PLAN, UNACKNOWLEDGED, UNCREDITED, NO_QUOTA = (
    "earnings_outlier",
    "no_plan",
    "unacknowledged_plan",
    "uncredited_transaction",
    "paid_without_quota",
)
KIND_LABELS: dict[str, str] = {
    OUTLIER: "Earnings changed sharply against the previous period",
    NO_PLAN: "No plan assigned in the period",
    UNACKNOWLEDGED: "Plan paid but not acknowledged",
    UNCREDITED: "Transaction nobody is credited with",
    NO_QUOTA: "Paid with no quota",
}
ZERO = Decimal(0)
Fix = tuple[str, tuple[Any, ...], str, str]  # a fixing page: url name, args, query, label


@dataclass(frozen=True)
class Anomaly:
    """One thing to look at, and the page where it is fixed."""

    kind: str
    message: str
    fix_url_name: str
    fix_args: tuple[Any, ...] = ()
    fix_query: str = ""
    fix_label: str = "Open"
    person_id: int | None = None
    person: str | None = None
    object_id: int | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[self.kind]

    @property
    def fix_url(self) -> str:
        url = reverse(self.fix_url_name, args=self.fix_args)
        return f"{url}?{self.fix_query}" if self.fix_query else url

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "kind_label": self.kind_label,
            "message": self.message,
            "person_id": self.person_id,
            "person": self.person,
            "object_id": self.object_id,
            "fix_url": self.fix_url,
            "fix_label": self.fix_label,
            "details": self.details,
        }


@dataclass
class AnomalyReport:
    """The anomalies of one period (and the period compared with)."""

    period: Period | None
    previous: Period | None
    items: list[Anomaly] = field(default_factory=list)

    def of(self, kind: str) -> list[Anomaly]:
        return [a for a in self.items if a.kind == kind]

    @property
    def groups(self) -> list[tuple[str, str, list[Anomaly]]]:
        """(kind, label, items) of every kind, in a fixed order (empty kinds included)."""
        return [(k, label, self.of(k)) for k, label in KIND_LABELS.items()]


def _money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')):,f}"


def _earned(run: CalculationRun | None, people: set[int] | None) -> dict[int, Decimal]:
    """Each person's earned total in ``run``: its earned-kind lines, as a statement adds them."""
    if run is None:
        return {}
    rows = PayoutLine.objects.filter(run=run)
    if people is not None:
        rows = rows.filter(person_id__in=people)
    out: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for row in rows.values("person_id", "kind").annotate(total=Sum("amount")):
        if entry_kind_for_line(row["kind"]) == EntryKind.EARNED:
            out[row["person_id"]] += row["total"]
    return dict(out)


def previous_period(period: Period) -> Period | None:
    """Return the period of the same kind just before ``period``."""
    found: Period | None = (
        Period.objects.filter(kind=period.kind, end__lte=period.start).order_by("-start").first()
    )
    return found


def elapsed_share(period: Period, today: date) -> Decimal | None:
    """Return the share of ``period`` gone by on ``today`` (today counted) while it is under
    way; None before it starts and once it has ended."""
    days = (period.end - period.start).days
    if days <= 0 or not period.start <= today < period.end:
        return None
    return Decimal((today - period.start).days + 1) / Decimal(days)


def _outliers(
    current: dict[int, Decimal],
    before: dict[int, Decimal],
    period: Period,
    previous: Period,
    *,
    pace: Decimal | None = None,
) -> list[tuple[int, str, dict[str, Any]]]:
    """Return (person, reason, details) of the earnings that moved sharply. With ``pace`` (the
    share of a period under way gone by), the previous period's earnings are scaled to it first:
    a third of the way into a quarter, a third of last quarter is the figure to compare with."""
    people = sorted(set(current) | set(before))
    if pace is not None:
        before = {p: (v * pace).quantize(Decimal("0.01")) for p, v in before.items()}
    changes = {p: current.get(p, ZERO) - before.get(p, ZERO) for p in people}
    z: dict[int, Decimal] = {}
    if len(changes) >= 3:
        median = statistics.median(changes.values())
        mad = statistics.median(abs(c - median) for c in changes.values())
        if mad > 0:
            z = {p: MAD_SCALE * (c - median) / mad for p, c in changes.items()}
    out: list[tuple[Decimal, int, str, dict[str, Any]]] = []
    for p in people:
        now, then = current.get(p, ZERO), before.get(p, ZERO)
        share = (now - then) / abs(then) if then else None
        # the robust z-score decides where the spread of changes can be measured; the share rule
        # only where it cannot (fewer than 3 people, or no spread): with deals as lumpy as they
        # are, half of a team moves by 50 % from one period to the next
        flagged = (
            abs(z[p]) > ROBUST_Z if p in z else share is not None and abs(share) > CHANGE_SHARE
        )
        if not flagged:
            continue
        reasons = []
        if share is not None:
            reasons.append(f"{'up' if share > 0 else 'down'} {abs(share) * 100:.0f} %")
        if p in z:
            reasons.append(f"{abs(z[p]):.1f} robust standard deviations from the median change")
        details = {
            "current": str(now),
            "previous": str(then),
            "change": str(now - then),
            "change_share": None if share is None else str(share.quantize(Decimal("0.0001"))),
            "robust_z": None if p not in z else str(z[p].quantize(Decimal("0.01"))),
            "period": period.label,
            "previous_period": previous.label,
            "pace": None if pace is None else str(pace.quantize(Decimal("0.0001"))),
        }
        if pace is None:
            words = (
                f"earned {_money(now)} in {period.label} against {_money(then)} in "
                f"{previous.label}: {'; '.join(reasons)}"
            )
        else:
            words = (
                f"earned {_money(now)} in {period.label} so far ({pace * 100:.0f} % of the "
                f"period) against {_money(then)} at {previous.label}'s pace: {'; '.join(reasons)}"
            )
        out.append((abs(now - then), p, words, details))
    out.sort(key=lambda row: (-row[0], row[1]))  # the largest moves first
    return [(p, words, details) for _, p, words, details in out]


def _covered(period: Period) -> tuple[set[int], set[int]]:
    """Return (people placed in the period, those a plan assignment falls on)."""
    placed = list(
        Assignment.objects.known_now()
        .overlapping(period.start, period.end)
        .values_list("person_id", "role_id", "node_id")
    )
    holders = list(
        PlanAssignment.objects.overlapping(period.start, period.end).values_list(
            "person_id", "role_id", "node_id"
        )
    )
    people = {p for p, _, _ in holders if p}
    roles = {r for _, r, _ in holders if r}
    nodes = {n for _, _, n in holders if n}
    under = (
        set(
            NodeClosure.objects.filter(ancestor_id__in=nodes)
            .overlapping(period.start, period.end)
            .values_list("descendant_id", flat=True)
        )
        if nodes
        else set()
    )
    everyone = {p for p, _, _ in placed}
    covered = {p for p, r, n in placed if p in people or r in roles or n in under}
    return everyone, covered


def anomaly_report(*, access: Access, period_id: int | None = None) -> AnomalyReport:
    """Return the anomalies of a period (default: the open one) about the people the principal
    answers for (a node-scoped admin: the people of its nodes; transactions tenant-wide only)."""
    period = period_get(period_id) if period_id is not None else default_period()
    if period is None:
        return AnomalyReport(None, None)
    visible: set[int] | None = None
    if not access.sees_everyone:
        visible = set(
            access.payees(start=period.start, end=period.end).values_list("pk", flat=True)
        )
    choice = period_run(period=period)
    run = choice.run
    previous = previous_period(period)
    items: list[Anomaly] = []
    found: list[tuple[str, int, str, dict[str, Any], Fix]] = []
    # --- earnings outliers against the previous period
    before_run = period_run(period=previous).run if previous is not None else None
    if run is not None and before_run is not None and previous is not None:
        pace = elapsed_share(period, tenant_today(get_current_tenant()))
        for pid, words, details in _outliers(
            _earned(run, visible), _earned(before_run, visible), period, previous, pace=pace
        ):
            fix: Fix = ("member_earnings", (pid,), f"period={period.pk}", "Open earnings")
            found.append((OUTLIER, pid, words, details, fix))
    # --- people with no plan
    everyone, covered = _covered(period)
    for pid in sorted(everyone - covered):
        if visible is None or pid in visible:
            words = f"is placed in the organisation in {period.label} but no plan falls on them"
            found.append((NO_PLAN, pid, words, {}, ("plans", (), "", "Assign a plan")))
    # --- paid, not acknowledged; paid without a quota their plan's other payees hold
    if run is not None:
        paid = set(
            PayoutLine.objects.filter(run=run)
            .values_list("person_id", "plan_version_id", "plan_id")
            .distinct()
        )
        acknowledged = set(
            PlanAcknowledgement.objects.filter(person_id__in={p for p, _, _ in paid}).values_list(
                "person_id", "plan_version_id"
            )
        )
        plans = Plan.objects.in_bulk({plan for _, _, plan in paid})
        for pid, version, plan_id in sorted(paid):
            if (pid, version) in acknowledged or (visible is not None and pid not in visible):
                continue
            name = plans[plan_id].name if plan_id in plans else str(plan_id)
            words = f"is paid on {name} in {period.label} and has not acknowledged it"
            ack: Fix = ("plan_acknowledgements", (plan_id,), "", "Acknowledgements")
            found.append((UNACKNOWLEDGED, pid, words, {"plan_id": plan_id}, ack))
        quotas = Quota.objects.filter(person__isnull=False).overlapping(period.start, period.end)
        holding = set(quotas.values_list("person_id", "plan_id"))
        anywhere = {p for p, plan in holding if plan is None}
        has = {(p, plan) for p, plan in holding if plan is not None}
        by_plan: dict[int, set[int]] = defaultdict(set)
        for pid, _, plan_id in paid:
            by_plan[plan_id].add(pid)
        for plan_id, payees in sorted(by_plan.items()):
            with_quota = {p for p in payees if p in anywhere or (p, plan_id) in has}
            if not with_quota:
                continue  # nobody on this plan holds a quota: it reads none
            name = plans[plan_id].name if plan_id in plans else str(plan_id)
            for pid in sorted(payees - with_quota):
                if visible is not None and pid not in visible:
                    continue
                words = (
                    f"is paid on {name} in {period.label} without a quota, while "
                    f"{len(with_quota)} other payee(s) of the plan hold one"
                )
                found.append(
                    (NO_QUOTA, pid, words, {"plan_id": plan_id}, ("quota_list", (), "", "Quotas"))
                )
    names = {
        p.pk: p.full_name
        for p in Person.objects.filter(pk__in={f[1] for f in found}).only("pk", "full_name")
    }
    for kind, pid, words, details, (url, args, query, label) in found:
        who = names.get(pid, f"person {pid}")
        items.append(
            Anomaly(
                kind=kind,
                message=f"{who} {words}.",
                fix_url_name=url,
                fix_args=args,
                fix_query=query,
                fix_label=label,
                person_id=pid,
                person=who,
                details=details,
            )
        )
    # --- transactions nobody is credited with (tenant-wide readers only)
    if access.sees_everyone:
        credited = Credit.objects.filter(transaction_id=OuterRef("pk"), superseded_at__isnull=True)
        orphans = (
            Transaction.objects.known_now()
            .filter(is_cancelled=False, booked_on__gte=period.start, booked_on__lt=period.end)
            .filter(~Exists(credited))
            .order_by("booked_on", "pk")
            .values_list("pk", "source", "external_id", "kind", "amount", "currency", "booked_on")
        )
        for pk, source, ext, kind, amount, currency, booked in orphans:
            items.append(
                Anomaly(
                    kind=UNCREDITED,
                    message=(
                        f"{kind} {source}:{ext} of {_money(amount)} {currency} booked on "
                        f"{booked.isoformat()} is credited to nobody."
                    ),
                    fix_url_name="transaction_detail",
                    fix_args=(pk,),
                    fix_label="Open the transaction",
                    object_id=pk,
                    details={"external_id": ext, "amount": str(amount), "currency": currency},
                )
            )
    return AnomalyReport(period, previous, items)


# --- the first-run checklist ------------------------------------------------------------------

DONE, NEXT, NOT_YET = "done", "next", "not yet"


@dataclass(frozen=True)
class Step:
    """One step of the first-run checklist, worked out from the data."""

    key: str
    title: str
    why: str
    done: bool
    url_name: str
    action: str
    state: str = NOT_YET
    count: int = 0

    @property
    def url(self) -> str:
        return reverse(self.url_name)


def first_run_checklist() -> list[Step]:
    """Return the steps from an empty tenant to explained statements, each done or not."""
    succeeded = CalculationRun.objects.filter(status=RunStatus.SUCCEEDED).exclude(
        kind=RunKind.PREVIEW
    )
    facts: list[tuple[str, str, str, int, str, str]] = [
        (
            "people",
            "Import people",
            "Your people, their teams and roles: what every plan, quota and statement hangs on.",
            Person.objects.count(),
            "hr_imports",
            "Import people",
        ),
        (
            "templates",
            "Pick plan templates",
            "Start each function's plan from a template (sales, marketing, CS, support, ...).",
            Plan.objects.filter(versions__status="published").distinct().count(),
            "plan_create",
            "Pick a template",
        ),
        (
            "assign",
            "Assign plans",
            "Put each plan on the people, job roles or teams it pays, with a target incentive.",
            PlanAssignment.objects.count(),
            "plans",
            "Assign plans",
        ),
        (
            "deals",
            "Import deals and KPIs",
            "The transactions (deals, leads, tickets) and KPI values plans pay on.",
            Transaction.objects.known_now().count(),
            "imports",
            "Import data",
        ),
        (
            "run",
            "Run a calculation",
            "Calculate a period: every payee's lines with the trace of why.",
            succeeded.count(),
            "runs",
            "Calculate",
        ),
        (
            "statements",
            "Approve and publish statements",
            "Approve the period: everyone's statement is frozen, explained line by line.",
            Statement.objects.count(),
            "period_close_list",
            "Close a period",
        ),
    ]
    steps: list[Step] = []
    seen_next = False
    for key, title, why, count, url, action in facts:
        done = count > 0
        state = DONE if done else (NOT_YET if seen_next else NEXT)
        seen_next = seen_next or not done
        steps.append(Step(key, title, why, done, url, action, state, count))
    return steps


# --- recent runs and imports --------------------------------------------------------------------


@dataclass(frozen=True)
class RecentRun:
    run: CalculationRun
    progress: RunProgress

    @property
    def running(self) -> bool:
        return self.run.status in (RunStatus.QUEUED, RunStatus.RUNNING)


@dataclass(frozen=True)
class RecentImport:
    """One import job (HR, or transactions / KPI values / FX / rules) and its error count."""

    kind: str
    label: str
    status: str
    rows: int
    errors: int
    created_at: Any
    url_name: str
    pk: int

    @property
    def url(self) -> str:
        return reverse(self.url_name, args=(self.pk,))


def recent_runs(limit: int = RECENT) -> list[RecentRun]:
    """Return the latest runs (previews left out) with their progress."""
    rows = (
        CalculationRun.objects.exclude(kind=RunKind.PREVIEW)
        .select_related("period")
        .order_by("-created_at", "-pk")[:limit]
    )
    return [RecentRun(r, run_progress(r)) for r in rows]


def _hr_errors(batch: ImportBatch) -> int:
    counted = batch.counts.get("errors") if isinstance(batch.counts, dict) else None
    return int(counted) if isinstance(counted, int) else len(batch.errors or [])


def recent_imports(limit: int = RECENT) -> list[RecentImport]:
    """Return the latest import jobs of every kind, newest first, with their error counts."""
    out = [
        RecentImport(
            kind=b.kind,
            label=f"{b.get_kind_display()} ({b.source_format})",
            status=b.status,
            rows=b.rows_total,
            errors=b.error_count,
            created_at=b.created_at,
            url_name="import_detail",
            pk=b.pk,
        )
        for b in IngestBatch.objects.order_by("-created_at", "-pk")[:limit]
    ]
    out += [
        RecentImport(
            kind=b.kind,
            label=f"HR: {b.get_kind_display()} ({b.source})",
            status=b.status,
            rows=b.row_count,
            errors=_hr_errors(b),
            created_at=b.created_at,
            url_name="hr_import_detail",
            pk=b.pk,
        )
        for b in ImportBatch.objects.defer("diffs").order_by("-created_at", "-pk")[:limit]
    ]
    return sorted(out, key=lambda i: (i.created_at, i.pk), reverse=True)[:limit]
