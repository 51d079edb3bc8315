"""Preview a plan version (a draft) on one person's real period, beside what the published pays.

Contract
--------
:func:`preview` gathers the person's inputs for the period with the run's own FETCH
(:func:`payouts.inputs.gather`, as known now) twice - once with the previewed version in force
over the whole period in place of its plan's published versions (``substitute``), once as a run
would read them - computes both with the engine (:func:`engine.compute`, the one-call form of a
run's chunked phases) and returns the person's lines of that plan on each side, their totals,
trace sentences and the differences in words. It writes nothing.

When the person's plans read other people (pools, gates, roll-ups of a team, pay on others'
pay), one person's inputs are not enough: the engine's own reduce (``requests_all``) says so,
and the period is then gathered for everyone on a plan (what a run computes), the person's
lines taken from it. ``Preview.people`` says how many people were computed.

Problems are the run's (``payouts.inputs.Problem``: no quota, no FX rate, a spec that no longer
parses...), with ``not_on_plan`` instead of ``no_assignments`` when the person is on the plan on
no day of the period. The
previewed side's problems raise :class:`PreviewError` with every problem in ``details``; the
published side's are returned on it (the draft may need less than the published version).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from django.utils import timezone

from core.errors import NotFoundError, ValidationFailedError
from engine import InputError, compute
from engine.phases import chunks as ph
from engine.phases.dependency import component_levels, deferred
from engine.spec import component_title, key_words
from engine.types import Inputs
from hierarchy.models import Period, Person
from payouts import inputs as fetch
from payouts.runs import amount_change
from plans.models import PlanVersion, VersionStatus

NOT_ON_PLAN = "not_on_plan"
MSG_NOT_ON_PLAN = (
    "{person} is on plan {plan} on no day of {period}: assign the plan (a person, job role or "
    "node assignment) to preview it on their data."
)
MSG_PROBLEMS = "The preview cannot be computed: {n} problem(s) in the inputs."
MSG_ENGINE = "The engine refused these inputs: {error}"
MSG_PERSON = "No such person."
MSG_PERIOD = "No such period."


class PreviewError(ValidationFailedError):
    code = "preview_problems"


@dataclass(frozen=True)
class PreviewLine:
    """One line the person would be paid on the plan."""

    version: int  # the plan version's number
    component_id: str
    component: str  # its name in the spec (the id when it has none)
    segment: int
    kind: str
    amount: Decimal
    currency: str
    attainment: Decimal | None
    trace: str


@dataclass(frozen=True)
class PreviewSide:
    """What one version (or the published versions in force) pays the person in the period."""

    versions: list[int]
    lines: list[PreviewLine]
    totals: dict[str, Decimal]
    problems: list[fetch.Problem] = field(default_factory=list)

    @property
    def traces(self) -> list[str]:
        return [ln.trace for ln in self.lines if ln.trace]


@dataclass(frozen=True)
class Difference:
    """One component's pay (of one kind and currency) on each side; None: not paid there."""

    component_id: str
    component: str
    kind: str
    currency: str
    before: Decimal | None
    after: Decimal | None

    @property
    def delta(self) -> Decimal:
        return (self.after or Decimal(0)) - (self.before or Decimal(0))

    @property
    def words(self) -> str:
        what = self.component if self.kind == "earned" else f"{self.component} ({self.kind})"
        if self.before is None:
            return f"{what}: new, pays {self.after:,.2f} {self.currency}."
        if self.after is None:
            return f"{what}: gone (the published version pays {self.before:,.2f} {self.currency})."
        return f"{what}: {amount_change(self.before, self.after, self.currency)}"


@dataclass(frozen=True)
class Preview:
    version: PlanVersion
    person: Person
    period: Period
    known_at: dt.datetime
    people: int  # how many people were computed (1, or the period's when plans read others)
    draft: PreviewSide
    published: PreviewSide | None  # None: no published version of the plan in the period
    differences: list[Difference]

    @property
    def summary(self) -> str:
        """Return the comparison in one sentence."""
        if self.published is None:
            return "No version of this plan is published for the period: nothing to compare."
        if self.published.problems:
            return "The published version cannot be computed for this person (see its problems)."
        if not self.differences:
            return "The previewed version pays exactly what the published version pays."
        parts = []
        for cur in sorted(set(self.draft.totals) | set(self.published.totals)):
            b = self.published.totals.get(cur, Decimal(0))
            a = self.draft.totals.get(cur, Decimal(0))
            parts.append(amount_change(b, a, cur))
        return "In total: " + "; ".join(parts) + "."


def problem_dict(p: fetch.Problem) -> dict[str, Any]:
    return {"person": p.person_id, "plan": p.plan, "code": p.code, "message": p.message}


def _reads_others(inputs: Inputs, person: str, versions: Sequence[int]) -> bool:
    """Return whether the previewed plan's lines read other people's figures: pay on others'
    pay, or a gate, pool or roll-up on a node or another person (the engine's own reduce)."""
    keys = {str(v) for v in versions}
    if any(plan in keys for plan, _ in deferred(component_levels(inputs.plans))):
        return True
    requests = ph.requests_all(inputs, [ph.segments_chunk(inputs)["segments"]])["requests"]
    return any(
        plan in keys and not (scope == "person" and holder == person)
        for scope, holder, plan in zip(
            requests["scope"], requests["holder"], requests["plan_id"], strict=True
        )
    )


def _side(
    *,
    period: Period,
    person: Person,
    plan_id: int,
    known_at: dt.datetime,
    substitute: PlanVersion | None,
    everyone: bool | None = None,
) -> tuple[PreviewSide, int]:
    """Gather, compute and keep the person's lines of the plan; also how many people were
    computed (``everyone``: True/False forces the period's people or the person's alone)."""
    key = str(person.pk)
    got = fetch.gather(
        period_id=period.pk, person_ids=[person.pk], known_at=known_at, substitute=substitute
    )
    ids = _plan_version_ids(plan_id)
    versions = sorted(int(k) for k in got.inputs.plans if int(k) in ids)
    numbers = _numbers(versions)
    mine = got.inputs.assignments
    on_plan = bool(
        len(mine)
        and ((mine["person_id"] == key) & mine["plan_id"].isin([str(v) for v in versions])).any()
    )
    # "On no plan" is said once, naming this plan (gather's says "no published plan"); what
    # another of the person's plans lacks (a quota of a plan she is also on) is not this
    # preview's business: those plans are left out of the computation below.
    problems = _of_versions([p for p in got.problems if p.code != fetch.NO_ASSIGNMENTS], versions)
    if not on_plan:
        message = MSG_NOT_ON_PLAN.format(
            person=person.full_name, plan=_plan_code(plan_id), period=period.label
        )
        problems.append(fetch.Problem(key, None, NOT_ON_PLAN, message))
    if problems:
        return PreviewSide(numbers, [], {}, _sorted(problems)), 1
    wide = _reads_others(got.inputs, key, versions) if everyone is None else everyone
    inputs = replace(got.inputs, assignments=mine[mine["plan_id"].isin([str(v) for v in versions])])
    people = 1
    if wide:
        whole = fetch.gather(period_id=period.pk, known_at=known_at, substitute=substitute)
        if whole.problems:
            return PreviewSide(numbers, [], {}, whole.problems), len(whole.people)
        inputs, people = whole.inputs, len(whole.people)
    try:
        result = compute(inputs)
    except InputError as exc:
        raise PreviewError(MSG_ENGINE.format(error=exc), code="preview_engine") from exc
    traces: dict[tuple[str, str, int], str] = {}
    for t in result.traces:
        if t.person_id == key:
            traces.setdefault((t.plan_id, t.component_id, t.segment), t.text)
    names = {
        (key, c.id): component_title(c.id, c.name)
        for key, plan in inputs.plans.items()
        for c in plan.components
    }
    number_of = dict(zip(versions, numbers, strict=True))
    lines: list[PreviewLine] = []
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for ln in result.lines:
        if ln.person_id != key or int(ln.plan_id) not in number_of:
            continue
        lines.append(
            PreviewLine(
                version=number_of[int(ln.plan_id)],
                component_id=ln.component_id,
                component=names.get((ln.plan_id, ln.component_id), key_words(ln.component_id)),
                segment=ln.segment,
                kind=ln.kind,
                amount=ln.amount,
                currency=ln.currency,
                attainment=ln.attainment,
                trace=traces.get((ln.plan_id, ln.component_id, ln.segment), ""),
            )
        )
        totals[ln.currency] += ln.amount
    return PreviewSide(numbers, lines, dict(sorted(totals.items()))), people


def _of_versions(problems: Sequence[fetch.Problem], versions: Sequence[int]) -> list[fetch.Problem]:
    """Keep the problems of these plan versions and those of no plan in particular."""
    mine = {str(v) for v in versions}
    return [p for p in problems if p.plan is None or p.plan in mine]


def _sorted(problems: Sequence[fetch.Problem]) -> list[fetch.Problem]:
    return sorted(set(problems), key=lambda p: (p.code, p.person_id or "", p.plan or "", p.message))


def _plan_version_ids(plan_id: int) -> set[int]:
    return set(PlanVersion.objects.filter(plan_id=plan_id).values_list("pk", flat=True))


def _plan_code(plan_id: int) -> str:
    return str(PlanVersion.objects.filter(plan_id=plan_id).values_list("plan__code", flat=True)[0])


def _numbers(version_ids: Sequence[int]) -> list[int]:
    by_pk = dict(PlanVersion.objects.filter(pk__in=version_ids).values_list("pk", "number"))
    return [int(by_pk[v]) for v in version_ids]


def _differences(before: PreviewSide, after: PreviewSide) -> list[Difference]:
    def sums(side: PreviewSide) -> Mapping[tuple[str, str, str], Decimal]:
        out: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
        for ln in side.lines:
            out[(ln.component_id, ln.kind, ln.currency)] += ln.amount
        return out

    names = {ln.component_id: ln.component for ln in [*before.lines, *after.lines]}
    b, a = sums(before), sums(after)
    return [
        Difference(comp, names[comp], kind, cur, b.get(k), a.get(k))
        for k in sorted(set(a) | set(b))
        for comp, kind, cur in [k]
        if a.get(k) != b.get(k)
    ]


def preview(
    *, version: PlanVersion, person: Person, period: Period, known_at: dt.datetime | None = None
) -> Preview:
    """Return what ``version`` would pay ``person`` in ``period`` on their real data, beside
    what the published version(s) pay, and the differences in words; writes nothing."""
    at = known_at or timezone.now()
    side = functools.partial(
        _side, period=period, person=person, plan_id=version.plan_id, known_at=at
    )
    draft, people = side(substitute=version)
    if draft.problems:
        raise PreviewError(
            MSG_PROBLEMS.format(n=len(draft.problems)),
            details={"problems": [problem_dict(p) for p in draft.problems]},
        )
    in_force = (
        PlanVersion.objects.filter(plan_id=version.plan_id, status=VersionStatus.PUBLISHED)
        .overlapping(period.start, period.end)
        .exists()
    )
    published: PreviewSide | None = None
    if in_force:
        published, _ = side(substitute=None, everyone=people > 1 or None)
    differences = (
        _differences(published, draft) if published is not None and not published.problems else []
    )
    return Preview(
        version=version,
        person=person,
        period=period,
        known_at=at,
        people=people,
        draft=draft,
        published=published,
        differences=differences,
    )


def preview_targets(*, person_id: int, period_id: int) -> tuple[Person, Period]:
    """Return the tenant's person and period of a preview (404 when either is not one)."""
    person = Person.objects.filter(pk=person_id).first()
    if person is None:
        raise NotFoundError(MSG_PERSON)
    period = Period.objects.filter(pk=period_id).first()
    if period is None:
        raise NotFoundError(MSG_PERIOD)
    return person, period


def _money(value: Any) -> str | None:
    return None if value is None else f"{value:.4f}"


def _side_data(side: PreviewSide | None) -> dict[str, Any] | None:
    if side is None:
        return None
    return {
        "versions": side.versions,
        "lines": [
            {
                "version": ln.version,
                "component_id": ln.component_id,
                "component": ln.component,
                "segment": ln.segment,
                "kind": ln.kind,
                "amount": _money(ln.amount),
                "currency": ln.currency,
                "attainment": None if ln.attainment is None else str(ln.attainment),
                "trace": ln.trace,
            }
            for ln in side.lines
        ],
        "totals": {k: _money(v) for k, v in side.totals.items()},
        "problems": [problem_dict(p) for p in side.problems],
    }


def preview_as_dict(result: Preview) -> dict[str, Any]:
    """Return a preview as the API's JSON (the page's download reads the same)."""
    return {
        "plan": result.version.plan_id,
        "version": result.version.number,
        "person": result.person.pk,
        "person_name": result.person.full_name,
        "period": result.period.pk,
        "period_label": result.period.label,
        "known_at": result.known_at.isoformat(),
        "people_computed": result.people,
        "draft": _side_data(result.draft),
        "published": _side_data(result.published),
        "differences": [
            {
                "component_id": d.component_id,
                "component": d.component,
                "kind": d.kind,
                "currency": d.currency,
                "before": _money(d.before),
                "after": _money(d.after),
                "delta": _money(d.delta),
                "words": d.words,
            }
            for d in result.differences
        ],
        "summary": result.summary,
    }


__all__ = [
    "Difference",
    "Preview",
    "PreviewError",
    "PreviewLine",
    "PreviewSide",
    "preview",
    "preview_as_dict",
    "preview_targets",
    "problem_dict",
]
