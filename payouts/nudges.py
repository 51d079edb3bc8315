"""Tier progress, nudges and projections for an employee, and the nudges sent after a run.

Contract
--------
* :func:`earnings_cards` (read) - one :class:`Card` per plan component the period's run paid a
  person: the figures the run wrote on her lines (measure, quota, attainment, a gate's value,
  each team's attainment of a shared milestone), every threshold ladder of the component
  worked out by :func:`engine.nudges.component_progress` from the plan version the run used,
  and the projected payout at the current pace: the person's inputs gathered as a run gathers
  them (:func:`payouts.inputs.gather`) and computed by :func:`engine.nudges.forecast`, so the
  projection is the engine's, never a hand formula.
* :func:`nudge_preference_get` / :func:`nudge_preference_update` - a person's opt-in (off until
  she turns it on); the update writes one audit event.
* :func:`nudges_after_run` - called by a task after a run succeeds: for every person who opted
  in, each threshold that came within reach (:data:`engine.nudges.REACH`) or was crossed is
  told **once** per (person, period, plan, component, threshold, event): the row is claimed
  first (a unique key), then sent by e-mail (``core.mail``) and/or a webhook POST of
  ``{"text": ...}`` with a timeout; each channel's outcome is recorded, a failure never raised.
  "Crossed" means reached now and not in the period's previous succeeded run, which paid the
  component too (a first run, or a first line of a component, only tells what is within reach).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.audit import audit_record
from core.errors import ApplicationError, NotFoundError
from core.mail import email_link_context
from core.tenancy import get_current_tenant
from engine.money import from_e4
from engine.nudges import (
    REACH,
    Figures,
    Progress,
    component_progress,
    forecast,
    projectable,
    run_rate,
)
from engine.spec import Component, Plan, PlanValidationError, component_title, parse_plan
from hierarchy.access import Access
from hierarchy.models import Node, Period, Person
from hierarchy.periods import tenant_today
from payouts import inputs as fetch
from payouts.models import (
    CalculationRun,
    NudgeEvent,
    NudgePreference,
    PayoutLine,
    RunKind,
    RunStatus,
    SentNudge,
)
from plans.models import PlanVersion
from plans.selectors import component_names

log = logging.getLogger(__name__)

REACH_PCT = int(REACH * 100)
"""Within reach: at most this % of the threshold away (engine.nudges.REACH)."""

WEBHOOK_TIMEOUT = 5.0
"""Seconds a webhook POST may take; a slow or dead receiver is recorded as failed."""

EARNED = "earned"
NO_PROJECTION_BEFORE = "The period has not started yet: there is no pace to project."
NO_PROJECTION_AFTER = "The period has ended: its figures are what the run computed."
NO_PROJECTION_INPUTS = "No projection: {problem}"
NOT_PROJECTED = (
    "Not projected: this component pays deal by deal (per unit, by type or event), so a pace "
    "of totals cannot price it."
)
WEBHOOK_SCHEMES = ("https", "http")
BAD_WEBHOOK = "The webhook address must start with https:// (or http://)."
QUIET_IN_PAST = "Quiet until must be today or later."


class NudgePreferenceError(ApplicationError):
    code = "invalid_nudge_preference"
    status = 400


# --- reading: the cards ---------------------------------------------------------------------


@dataclass(frozen=True)
class Projection:
    """The projected payout of one component at the current pace, and its assumption."""

    amount: Decimal | None
    currency: str
    assumption: str
    pace: Decimal | None = None


@dataclass(frozen=True)
class Card:
    """One component of one person in one period: figures, ladders, projection."""

    plan_id: int
    plan_version_id: int
    plan_name: str
    component_id: str
    component_name: str
    currency: str
    earned: Decimal
    measure: Decimal | None
    quota: Decimal | None
    attainment: Decimal | None
    ladders: list[Progress]
    projection: Projection | None = None
    line_id: int | None = None

    @property
    def nudges(self) -> list[str]:
        """Return the sentences of the ladders, gate first."""
        return [p.text for p in self.ladders]


def _step(line: PayoutLine, name: str) -> Decimal | None:
    for s in line.trace or []:
        if s.get("name") == name and s.get("value") not in (None, ""):
            try:
                return Decimal(str(s["value"]))
            except ArithmeticError:
                return None
    return None


_TEAM_STEP = re.compile(r"^team_(.+)_attainment$")


def _team_attainments(line: PayoutLine) -> list[tuple[str, Decimal | None]]:
    out = []
    for s in line.trace or []:
        m = _TEAM_STEP.match(str(s.get("name", "")))
        if m:
            raw = s.get("value")
            out.append((m.group(1), Decimal(str(raw)) if raw not in (None, "") else None))
    return out


def _plans(version_ids: Iterable[int]) -> dict[int, tuple[Plan | None, str]]:
    out: dict[int, tuple[Plan | None, str]] = {}
    for v in PlanVersion.objects.filter(pk__in=set(version_ids)).select_related("plan"):
        try:
            out[v.pk] = (parse_plan(v.spec), v.plan.name)
        except PlanValidationError:
            out[v.pk] = (None, v.plan.name)
    return out


def _component(plan: Plan | None, component_id: str) -> Component | None:
    if plan is None:
        return None
    return next((c for c in plan.components if c.id == component_id), None)


def _node_quota(quotas: Any, node_key: str, quota_id: str) -> Decimal | None:
    if quotas is None or len(quotas) == 0 or "holder_kind" not in quotas:
        return None
    rows = quotas[
        (quotas["holder_kind"] == "node")
        & (quotas["holder_id"].astype(str) == node_key)
        & (quotas["quota_id"] == quota_id)
    ]
    if rows.empty:
        return None
    return from_e4(int(rows["amount_e4"].iloc[0]))


def _cards_from_lines(
    lines: list[PayoutLine], *, quotas: Any = None, node_names: Mapping[str, str] | None = None
) -> list[Card]:
    """Group a person's lines by (plan version, component) and work out their ladders."""
    groups: dict[tuple[int, str], list[PayoutLine]] = defaultdict(list)
    for line in lines:
        groups[(line.plan_version_id, line.component_id)].append(line)
    plans = _plans(v for v, _ in groups)
    cards = []
    for (version_id, component_id), rows in groups.items():
        plan, plan_name = plans.get(version_id, (None, ""))
        earned_rows = [r for r in rows if r.kind == EARNED] or rows
        last = max(earned_rows, key=lambda r: (r.segment, r.ordinal))
        component = _component(plan, component_id)
        quota = _step(last, "quota")
        ladders: list[Progress] = []
        if plan is not None and component is not None:
            teams = tuple(
                (
                    (node_names or {}).get(key, key),
                    None if att is None or q is None else att * q,
                    q,
                )
                for key, att in _team_attainments(last)
                for q in [_node_quota(quotas, key, component.measure or "")]
            )
            figures = Figures(
                measure=last.measure,
                quota=quota,
                gate_value=_step(last, "gate_value"),
                gate_quota=_step(last, "gate_quota"),
                teams=teams,
            )
            ladders = component_progress(plan, component, figures)
        cards.append(
            Card(
                plan_id=last.plan_id,
                plan_version_id=version_id,
                plan_name=plan_name,
                component_id=component_id,
                component_name=component_title(component_id, component.name if component else ""),
                currency=last.currency,
                earned=sum((r.amount for r in rows if r.kind == EARNED), Decimal(0)),
                measure=last.measure,
                quota=quota,
                attainment=last.attainment,
                ladders=ladders,
                line_id=last.pk,
            )
        )
    return sorted(cards, key=lambda c: (c.plan_name, c.component_id))


def _run_lines(run: CalculationRun, person_ids: Iterable[int]) -> list[PayoutLine]:
    return list(
        PayoutLine.objects.filter(run=run, person_id__in=list(person_ids)).order_by(
            "person_id", "plan_version_id", "component_id", "segment", "ordinal"
        )
    )


def _node_names(lines: list[PayoutLine]) -> dict[str, str]:
    keys = {k for line in lines for k, _ in _team_attainments(line) if k.isdigit()}
    return {
        str(pk): name for pk, name in Node.objects.filter(pk__in=keys).values_list("pk", "name")
    }


def earnings_cards(
    *, person: Person, period: Period, run: CalculationRun | None, project: bool = True
) -> list[Card]:
    """Return the person's component cards for the period from ``run`` (the statement's run,
    chosen by the caller through the access policy), with projections when ``project`` and
    the period's statements can still change (an approved or closed period is not projected:
    its figures are final)."""
    from payouts import statements

    if run is None:
        return []
    project = project and not statements.is_closed(period)
    lines = _run_lines(run, [person.pk])
    if not lines:
        return []
    projection: dict[tuple[str, str], Decimal] | None = None
    words = ""
    pace: Decimal | None = None
    quotas = None
    if project:
        projection, words, pace, quotas = _project(person=person, period=period)
    cards = _cards_from_lines(lines, quotas=quotas, node_names=_node_names(lines))
    if not project:
        return cards
    plans = _plans(c.plan_version_id for c in cards)
    out = []
    for card in cards:
        amount = None
        said = words
        component = _component(plans[card.plan_version_id][0], card.component_id)
        if component is not None and not projectable(component):
            said = NOT_PROJECTED
        elif projection is not None:
            amount = projection.get((str(card.plan_version_id), card.component_id), Decimal(0))
        projected = Projection(amount, card.currency, said, pace if amount is not None else None)
        out.append(Card(**{**card.__dict__, "projection": projected}))
    return out


def _project(
    *, person: Person, period: Period
) -> tuple[dict[tuple[str, str], Decimal] | None, str, Decimal | None, Any]:
    """Return the engine's projected earned amount per (plan version, component) at the pace
    so far, the assumption in words, the pace, and the gathered quotas (for team milestones)."""
    today = tenant_today(get_current_tenant())
    if today <= period.start:
        return None, NO_PROJECTION_BEFORE, None, None
    if today >= period.end:
        return None, NO_PROJECTION_AFTER, None, None
    gathered = fetch.gather(period_id=period.pk, person_ids=[person.pk])
    mine = [p for p in gathered.problems if p.person_id in (None, str(person.pk))]
    if mine:
        return None, NO_PROJECTION_INPUTS.format(problem=mine[0].message), None, None
    inputs = gathered.inputs
    pace = run_rate(inputs, today)
    result = forecast(inputs, today)
    out: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for line in result.lines:
        if line.person_id == str(person.pk) and line.kind == EARNED:
            out[(line.plan_id, line.component_id)] += line.amount
    elapsed = (today - period.start).days
    days = (period.end - period.start).days
    last_day = period.end - dt.timedelta(days=1)
    words = (
        f"If the next {days - elapsed} days go as the first {elapsed} of {period.label} did: "
        f"your sales and counts so far x {pace:.2f} to {last_day:%-d %b %Y}, KPI values as "
        "they are now, worked out by the plan's own rules."
    )
    return dict(out), words, pace, inputs.quotas


AT_RISK_BELOW = Decimal("0.8")  # projected attainment under the usual threshold band


@dataclass(frozen=True)
class Outlook:
    """Where a person is heading this period, by the engine that pays: the earned amount
    projected at the pace so far (components paid credit by credit count as earned so far),
    and the projected attainment of the roll-up (``statements.attainment_of``: that amount
    over her target incentive); at risk when it is under :data:`AT_RISK_BELOW`. ``projected``
    is False when none of her components can be projected (:data:`NOT_PROJECTED`, as her own
    page says): then there is no forecast and no status."""

    forecast: Decimal | None
    attainment: Decimal | None
    at_risk: bool
    projected: bool = True


def team_outlook(
    *, period: Period, person_ids: Sequence[int], targets: Mapping[int, Decimal | None]
) -> tuple[dict[int, Outlook], str]:
    """Return each person's :class:`Outlook` for the period under way, from one gather of
    their inputs and one engine forecast (a fixed number of queries for any team), and why
    there is none when there is none. ``targets``: each person's target incentive (the
    roll-up's, ``statements.Summary.target``)."""
    from payouts.statements import attainment_of

    today = tenant_today(get_current_tenant())
    if not person_ids:
        return {}, ""
    if today <= period.start:
        return {}, NO_PROJECTION_BEFORE
    if today >= period.end:
        return {}, NO_PROJECTION_AFTER
    wanted = [int(pid) for pid in person_ids]
    gathered = fetch.gather(period_id=period.pk, person_ids=wanted)
    if any(p.person_id is None for p in gathered.problems):
        return {}, NO_PROJECTION_INPUTS.format(problem=gathered.problems[0].message)
    if gathered.problems:  # project the others; those with missing inputs show none
        missing = {int(p.person_id) for p in gathered.problems if p.person_id is not None}
        wanted = [pid for pid in wanted if pid not in missing]
        gathered = fetch.gather(period_id=period.pk, person_ids=wanted)
        if gathered.problems or not wanted:
            return {}, NO_PROJECTION_INPUTS.format(problem=gathered.problems[0].message)
    result = forecast(gathered.inputs, today)
    earned: dict[str, Decimal] = defaultdict(Decimal)
    paid_on: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for line in result.lines:
        if line.kind == EARNED:
            earned[line.person_id] += line.amount
        paid_on[line.person_id].add((line.plan_id, line.component_id))
    plans = _plans(int(v) for keys in paid_on.values() for v, _ in keys if str(v).isdigit())
    out = {}
    for pid in wanted:
        keys = paid_on.get(str(pid), set())
        components = [
            _component(plans.get(int(v), (None, ""))[0], c) for v, c in keys if str(v).isdigit()
        ]
        if components and not any(c is not None and projectable(c) for c in components):
            out[pid] = Outlook(None, None, False, projected=False)
            continue
        amount = earned.get(str(pid), Decimal(0))
        att = attainment_of(amount, targets.get(pid))
        out[pid] = Outlook(amount, att, att is not None and att < AT_RISK_BELOW)
    return out, ""


@dataclass(frozen=True)
class EarningsProgress:
    """A person's cards for one period, with the run they read and its status."""

    person: Person
    period: Period | None
    status: str
    run: CalculationRun | None
    cards: list[Card]


def earnings_progress(*, access: Access, person: Person, period_id: int | None) -> EarningsProgress:
    """Return the person's component cards for a period (default: her latest statement's,
    else the current one) through the access policy: not hers to read is a NotFoundError."""
    from payouts import statements

    if period_id is None:
        history = [
            s
            for s in statements.statement_list(access=access, person_id=person.pk)
            if s.person.pk == person.pk
        ]
        period = history[0].period if history else None
    else:
        period = Period.objects.filter(pk=period_id).first()
        if period is None:
            raise NotFoundError(statements.STATEMENT_NOT_FOUND)
    if period is None:
        return EarningsProgress(person, None, statements.NO_RUN, None, [])
    access.payee_get(person_id=person.pk, start=period.start, end=period.end)
    choice = statements.period_run(period=period)
    cards = earnings_cards(person=person, period=period, run=choice.run)
    return EarningsProgress(person, period, choice.status, choice.run, cards)


CREDITS_SHOWN = 50
"""The "My credits" table shows the latest 50 credits of the period (the API pages them all)."""


@dataclass(frozen=True)
class CreditRow:
    """One credit on the earnings page, with the payout line it counted towards."""

    credit: Any
    line_id: int | None


def period_credits(
    *, access: Access, person: Person, period: Period, run: CalculationRun | None
) -> tuple[list[CreditRow], int]:
    """Return the person's credits dated in the period that ``access`` may read (her own; a
    manager's team member's on the days she was in the team) - the latest
    :data:`CREDITS_SHOWN` - with the line of ``run`` each counted towards, and their count."""
    from incentives import selectors as credit_selectors
    from payouts.models import LineContribution

    qs = credit_selectors.credit_list(access=access).filter(
        person=person, credit_date__gte=period.start, credit_date__lt=period.end
    )
    total = qs.count()
    credits = list(qs[:CREDITS_SHOWN])
    lines: dict[int, int] = {}
    if run is not None and credits:
        for credit_id, line_id in LineContribution.objects.filter(
            run=run, credit_id__in=[c.pk for c in credits]
        ).values_list("credit_id", "line_id"):
            lines.setdefault(int(credit_id), line_id)
    return [CreditRow(c, lines.get(c.pk)) for c in credits], total


# --- preferences ----------------------------------------------------------------------------


def nudge_preference_get(*, person: Person) -> NudgePreference:
    """Return the person's preference (an unsaved, switched-off one when she has none)."""
    found: NudgePreference | None = NudgePreference.objects.filter(person=person).first()
    if found is not None:
        return found
    return NudgePreference(
        tenant=get_current_tenant(), person=person, enabled=False, updated_at=timezone.now()
    )


def _snapshot(pref: NudgePreference) -> dict[str, Any]:
    return {
        "enabled": pref.enabled,
        "email": pref.email,
        "webhook": bool(pref.webhook_url),
        "quiet_until": pref.quiet_until.isoformat() if pref.quiet_until else None,
    }


@transaction.atomic
def nudge_preference_update(
    *,
    person: Person,
    enabled: bool,
    email: bool,
    webhook_url: str,
    quiet_until: dt.date | None,
) -> NudgePreference:
    """Save the person's nudge preference; one audit event (the webhook address not logged)."""
    webhook_url = webhook_url.strip()
    if webhook_url and webhook_url.split("://", 1)[0].lower() not in WEBHOOK_SCHEMES:
        raise NudgePreferenceError(BAD_WEBHOOK, details={"webhook_url": [BAD_WEBHOOK]})
    if quiet_until is not None and quiet_until < tenant_today(get_current_tenant()):
        raise NudgePreferenceError(QUIET_IN_PAST, details={"quiet_until": [QUIET_IN_PAST]})
    pref = NudgePreference.objects.select_for_update().filter(
        person=person
    ).first() or nudge_preference_get(person=person)
    before = _snapshot(pref) if pref.pk else None
    pref.enabled, pref.email, pref.webhook_url = enabled, email, webhook_url
    pref.quiet_until = quiet_until
    pref.updated_at = timezone.now()
    try:
        pref.full_clean()
    except ValidationError as exc:
        raise NudgePreferenceError(
            "; ".join(m for ms in exc.message_dict.values() for m in ms),
            details=exc.message_dict,
        ) from None
    pref.save()
    audit_record(action="nudges.preference_update", obj=pref, before=before, after=_snapshot(pref))
    return pref


# --- sending after a run --------------------------------------------------------------------


@dataclass
class Pending:
    """A nudge to tell: whose, which threshold, what event, the sentence."""

    person: Person
    card: Card
    threshold: str
    event: str
    text: str
    channels: dict[str, str] = field(default_factory=dict)


def _previous_run(run: CalculationRun) -> CalculationRun | None:
    prev: CalculationRun | None = (
        CalculationRun.objects.filter(
            period_id=run.period_id, status=RunStatus.SUCCEEDED, number__lt=run.number
        )
        .exclude(kind=RunKind.PREVIEW)
        .order_by("-number")
        .first()
    )
    return prev


def _reached(cards: list[Card]) -> set[tuple[int, str, str]]:
    """Return the (plan, component, mark) reached on these cards."""
    return {
        (c.plan_id, c.component_id, m.key)
        for c in cards
        for ladder in c.ladders
        for m in ladder.marks
        if m.reached
    }


def nudges_due(run: CalculationRun) -> list[Pending]:
    """Return what the run's figures say to tell the people who opted in (not sent before)."""
    today = tenant_today(get_current_tenant())
    prefs = {
        p.person_id: p
        for p in NudgePreference.objects.filter(enabled=True).select_related("person__user")
        if p.quiet_until is None or p.quiet_until <= today
    }
    if not prefs:
        return []
    lines = _run_lines(run, prefs)
    previous = _previous_run(run)
    before_lines = _run_lines(previous, prefs) if previous is not None else []
    sent_keys = set(
        SentNudge.objects.filter(period_id=run.period_id, person_id__in=list(prefs)).values_list(
            "person_id", "plan_id", "component_id", "threshold", "event"
        )
    )
    by_person: dict[int, list[PayoutLine]] = defaultdict(list)
    for line in lines:
        by_person[line.person_id].append(line)
    before_by_person: dict[int, list[PayoutLine]] = defaultdict(list)
    for line in before_lines:
        before_by_person[line.person_id].append(line)
    due = []
    for person_id, rows in by_person.items():
        cards = _cards_from_lines(rows)
        before = _cards_from_lines(before_by_person[person_id])
        was = _reached(before)
        had = {(c.plan_id, c.component_id) for c in before}
        for card in cards:
            for ladder in card.ladders:
                for mark in ladder.marks:
                    key = (card.plan_id, card.component_id, mark.key)
                    crossed = mark.reached and key not in was and mark.at > 0
                    if crossed and (card.plan_id, card.component_id) in had:
                        event, text = NudgeEvent.CROSSED, _crossed_text(card, ladder, mark.label)
                    elif ladder.next is mark and ladder.within_reach:
                        event, text = NudgeEvent.WITHIN_REACH, ladder.text
                    else:
                        continue
                    if (person_id, card.plan_id, card.component_id, mark.key, event) in sent_keys:
                        continue
                    due.append(Pending(prefs[person_id].person, card, mark.key, event, text))
    return due


def _crossed_text(card: Card, ladder: Progress, label: str) -> str:
    what = {
        "tier": f"the {label} tier",
        "curve": f"the {label.split(' (')[0]} of the curve",
        "gate": "the gate",
        "milestone": "the milestone",
    }[ladder.kind]
    return f"{card.component_name} ({card.plan_name}): you reached {what}. {ladder.text}"


def _claim(run: CalculationRun, p: Pending) -> SentNudge | None:
    """Record the nudge before sending it; None when it was already told (the unique key)."""
    try:
        with transaction.atomic():
            row: SentNudge = SentNudge.objects.create(
                tenant=get_current_tenant(),
                person=p.person,
                period_id=run.period_id,
                plan_id=p.card.plan_id,
                component_id=p.card.component_id,
                threshold=p.threshold,
                event=p.event,
                run=run,
                text=p.text,
                channels={},
                sent_at=timezone.now(),
            )
        return row
    except IntegrityError:
        return None


# A channel that failed for a passing reason (the receiver down, a timeout, HTTP 429 or 5xx, the
# mail server refusing for now) is tried again after these delays, then given up on; a refusal
# that will not pass (HTTP 4xx, a bad address, no address) is not retried.
RETRY_DELAYS: tuple[dt.timedelta, ...] = (
    dt.timedelta(minutes=1),
    dt.timedelta(minutes=5),
    dt.timedelta(minutes=30),
)
_PERMANENT = re.compile(r"^failed: (HTTP 4(?!29)\d\d|The webhook address)")


def retryable(outcome: str) -> bool:
    """Return whether a channel's outcome is a failure worth trying again."""
    return outcome.startswith("failed: ") and not _PERMANENT.match(outcome)


def retry_at(channels: Mapping[str, str], attempts: int) -> dt.datetime | None:
    """Return when to try the failed channels again after ``attempts`` tries (None: never)."""
    if attempts > len(RETRY_DELAYS) or not any(retryable(o) for o in channels.values()):
        return None
    return timezone.now() + RETRY_DELAYS[attempts - 1]


def webhook_post(url: str, text: str, *, timeout: float = WEBHOOK_TIMEOUT) -> str:
    """POST ``{"text": text}`` as JSON to ``url``; return "sent" or why it failed (no raise)."""
    body = json.dumps({"text": text}).encode()
    req = urllib.request.Request(  # noqa: S310 - the scheme is checked below and on save
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    if url.split("://", 1)[0].lower() not in WEBHOOK_SCHEMES:
        return f"failed: {BAD_WEBHOOK}"
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
            status = int(resp.status)
    except urllib.error.HTTPError as exc:  # the receiver answered, with an error status
        status = int(exc.code)
    except Exception as exc:
        return f"failed: {type(exc).__name__}: {exc}"[:300]
    return "sent" if 200 <= status < 300 else f"failed: HTTP {status}"


def _email(person: Person, text: str) -> str:
    user = person.user
    if user is None or not user.email:
        return "skipped: no e-mail address"
    link = email_link_context()
    body = (
        f"{text}\n\nYour earnings: {link['protocol']}://{link['domain']}/earnings/\n"
        f"Nudges settings: {link['protocol']}://{link['domain']}/settings/nudges/\n"
    )
    try:
        send_mail(f"Quotient: {text[:70]}", body, settings.DEFAULT_FROM_EMAIL, [user.email])
    except Exception as exc:
        return f"failed: {type(exc).__name__}: {exc}"[:300]
    return "sent"


def nudges_after_run(*, run_id: int) -> int:
    """Tell the people who opted in what the succeeded run brought within reach or crossed,
    each once; return how many nudges were told."""
    run = CalculationRun.objects.filter(pk=run_id, status=RunStatus.SUCCEEDED).first()
    if run is None or run.kind == RunKind.PREVIEW:
        return 0
    told = 0
    prefs = {p.person_id: p for p in NudgePreference.objects.filter(enabled=True)}
    for pending in nudges_due(run):
        row = _claim(run, pending)
        if row is None:
            continue
        pref = prefs[pending.person.pk]
        channels: dict[str, str] = {}
        if pref.email:
            channels["email"] = _email(pending.person, pending.text)
        if pref.webhook_url:
            channels["webhook"] = webhook_post(pref.webhook_url, pending.text)
        SentNudge.objects.filter(pk=row.pk).update(
            channels=channels, retry_at=retry_at(channels, 1)
        )
        told += 1
    return told


def _deliver(row: SentNudge, channel: str, pref: NudgePreference | None) -> str:
    """Try one channel of a told nudge again, as the person's preference now stands."""
    if pref is None or not pref.enabled:
        return "skipped: nudges turned off"
    if channel == "email":
        return _email(row.person, row.text) if pref.email else "skipped: e-mail turned off"
    if channel == "webhook" and pref.webhook_url:
        return webhook_post(pref.webhook_url, row.text)
    return "skipped: no webhook address"


def nudges_retry() -> int:
    """Try again the channels of the nudges whose retry is due (beat, every minute); return how
    many nudges were tried. Each row is claimed first (its ``retry_at`` cleared where it still
    holds the value read), so two workers never send one nudge twice; a person in a quiet spell
    is tried once it ends."""
    today = tenant_today(get_current_tenant())
    due = list(
        SentNudge.objects.filter(retry_at__lte=timezone.now())
        .select_related("person__user")
        .order_by("retry_at", "pk")
    )
    prefs = {
        p.person_id: p
        for p in NudgePreference.objects.filter(person_id__in={r.person_id for r in due})
    }
    tried = 0
    for row in due:
        pref = prefs.get(row.person_id)
        if pref is not None and pref.enabled and pref.quiet_until and pref.quiet_until > today:
            continue
        if not SentNudge.objects.filter(pk=row.pk, retry_at=row.retry_at).update(retry_at=None):
            continue  # another worker claimed it
        channels = {
            ch: _deliver(row, ch, pref) if retryable(outcome) else outcome
            for ch, outcome in row.channels.items()
        }
        attempts = row.attempts + 1
        SentNudge.objects.filter(pk=row.pk).update(
            channels=channels, attempts=attempts, retry_at=retry_at(channels, attempts)
        )
        tried += 1
    return tried


def sent_nudges(*, person: Person, limit: int = 20) -> list[SentNudge]:
    """Return the latest nudges told to the person, with what each channel did."""
    return list(SentNudge.objects.filter(person=person).select_related("period")[:limit])


# --- the tenant's leaderboard -----------------------------------------------------------------


@transaction.atomic
def leaderboard_setting_update(*, enabled: bool) -> Any:
    """Turn the current tenant's leaderboard on or off; one audit event."""
    from core.models import Tenant

    tenant = Tenant.objects.select_for_update().get(pk=get_current_tenant().pk)
    before = {"leaderboard_enabled": tenant.leaderboard_enabled}
    tenant.leaderboard_enabled = enabled
    tenant.save(update_fields=["leaderboard_enabled"])
    audit_record(
        action="tenant.leaderboard_update",
        obj=tenant,
        before=before,
        after={"leaderboard_enabled": enabled},
    )
    return tenant


LEADERBOARD_SIZE = 10


@dataclass(frozen=True)
class Board:
    """One plan's leaderboard: the top people by attainment in the period's run."""

    plan: str
    component: str
    rows: list[tuple[int, str, Decimal]]
    """(rank, full name, attainment)."""
    people: int
    component_name: str
    """What the plan calls the component (``plans.selectors.component_names``)."""


def leaderboard(*, period: Period) -> list[Board]:
    """Return per plan the top :data:`LEADERBOARD_SIZE` people by attainment of the plan's
    component most of its people have an attainment on, in the run the period's statements
    read. Names and attainment only, never money."""
    from payouts import statements

    run = statements.period_run(period=period).run
    if run is None:
        return []
    rows = (
        PayoutLine.objects.filter(run=run, attainment__isnull=False)
        .order_by("plan__name", "component_id", "-attainment", "person__full_name")
        .values_list(
            "plan__name",
            "component_id",
            "person_id",
            "person__full_name",
            "attainment",
            "plan_version_id",
        )
    )
    by_component: dict[tuple[str, str], list[tuple[int, str, Decimal]]] = defaultdict(list)
    seen: dict[tuple[str, str], set[int]] = defaultdict(set)
    version_of: dict[tuple[str, str], int] = {}
    for plan, component, person_id, name, att, version in rows:
        key = (plan, component)
        version_of.setdefault(key, version)
        if person_id not in seen[key]:
            seen[key].add(person_id)
            by_component[key].append((len(by_component[key]) + 1, name, att))
    # per plan, the component most of its people have an attainment on (ties: by id)
    chosen: dict[str, str] = {}
    for plan, component in sorted(by_component, key=lambda k: (k[0], -len(seen[k]), k[1])):
        chosen.setdefault(plan, component)
    names = component_names(version_ids=[version_of[k] for k in chosen.items()])
    return [
        Board(
            plan,
            comp,
            by_component[(plan, comp)][:LEADERBOARD_SIZE],
            len(seen[(plan, comp)]),
            names.get(comp, version_id=version_of[(plan, comp)]),
        )
        for plan, comp in sorted(chosen.items())
    ]
