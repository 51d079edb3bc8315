"""Earnings pages: an employee's "My earnings" (this period, year to date, per component with
attainment, cumulative earnings against target, statement history), a statement with "why this
number" for every line, a line's drill-down to credits and transactions, and a manager's team
roll-up for a chosen period whose members open the very same pages.

They render what ``payouts.statements`` computes, through the one access policy: not yours and
not found are the same 404.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from core.errors import NotFoundError
from core.etag import live_page
from core.figures import cumulative_figure, distribution_figure
from core.permissions import request_principal
from dashboards.downloads import table_download
from dashboards.nudge_cards import card_views
from engine.money import quantize
from hierarchy import org_selectors
from hierarchy.access import request_access
from hierarchy.intervals import OPEN_END
from hierarchy.models import Period, Person
from payouts import disputes, nudges, statements, trace_words
from plans.selectors import component_names

READ = ("payouts.view", "payouts.view.team", "payouts.view.self")
TEAM = ("payouts.view", "payouts.view.team")
ViewFunc = Callable[..., HttpResponse]


def require_any(*permissions: str) -> Callable[[ViewFunc], ViewFunc]:
    """Allow a page to members holding any of ``permissions``; others (and not-yours) 404."""

    def decorator(view: ViewFunc) -> ViewFunc:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if getattr(request, "membership", None) is None:
                raise Http404("Not found")
            if not request_principal(request).has(*permissions):
                raise Http404("Not found")
            try:
                return view(request, *args, **kwargs)
            except NotFoundError:
                raise Http404("Not found") from None

        return login_required(wrapped)

    return decorator


def _me(request: HttpRequest) -> Person | None:
    """Return the person the signed-in user is (None when her sign-in is linked to nobody)."""
    return org_selectors.person_for_user(user_id=int(request.user.pk or 0))


def _period_param(request: HttpRequest) -> int | None:
    raw = request.GET.get("period", "")
    return int(raw) if raw.isdigit() and len(raw) < 19 else None


def _overview_context(request: HttpRequest, person: Any, *, is_self: bool) -> dict[str, Any]:
    overview = statements.earnings_overview(
        access=request_access(request), person=person, period_id=_period_param(request)
    )
    figure = None
    # the chart compares what is calculated: a period with no run yet is left off it
    charted = [p for p in overview.points if p.status != statements.NO_RUN]
    if charted and any(p.earned or p.target for p in charted):
        figure = cumulative_figure(
            [p.period.label for p in charted],
            [p.cumulative_earned for p in charted],
            [p.cumulative_target for p in charted],
            currency=overview.currency,
        )
    this_target = overview.points[-1].target if overview.points else None
    # nudges: tier progress, the next threshold, the projection, and her credits
    cards: list[nudges.Card] = []
    credits: list[nudges.CreditRow] = []
    credits_total = 0
    final = False
    run = None
    payee = "" if is_self else trace_words.first_name(person.full_name)
    if overview.period is not None:
        choice = statements.period_run(period=overview.period)
        run, final = choice.run, choice.final
        cards = nudges.earnings_cards(person=person, period=overview.period, run=run)
        credits, credits_total = nudges.period_credits(
            access=request_access(request), person=person, period=overview.period, run=run
        )
    return {
        "cards": card_views(cards, final=final, payee=payee),
        "credits": credits,
        "credits_total": credits_total,
        "no_run": statements.NO_RUN,
        "final": final,
        # a credit recorded after the run the page reads waits for the next calculation
        "run_known_at": run.known_at if run is not None else None,
        "sees_transactions": request_principal(request).has("transactions.view"),
        "overview": overview,
        "st": statements.statement_named(overview.statement, payee=payee)
        if overview.statement
        else None,
        "person": person,
        "is_self": is_self,
        "figure": figure,
        "this_target": this_target,
        "no_run_message": statements.NO_RUN_MESSAGE,
        "active_nav": "my_earnings" if is_self else "my_team",
    }


@require_any(*READ)
@live_page()
def my_earnings(request: HttpRequest) -> HttpResponse:
    """The signed-in person's earnings: this period, year to date, components, history."""
    me = _me(request)
    if me is None:
        return render(
            request,
            "dashboards/earnings/overview.html",
            {"unlinked": True, "active_nav": "my_earnings"},
        )
    return render(
        request, "dashboards/earnings/overview.html", _overview_context(request, me, is_self=True)
    )


@require_any(*TEAM)
@live_page()
def member_earnings(request: HttpRequest, person_id: int) -> HttpResponse:
    """A team member's earnings page: exactly what she sees herself."""
    access = request_access(request)
    person = access.payee_get(person_id=person_id, start=date.min, end=OPEN_END)
    return render(
        request,
        "dashboards/earnings/overview.html",
        _overview_context(request, person, is_self=person.user_id == request.user.pk),
    )


@require_any(*READ)
def statement_page(request: HttpRequest, period_id: int, person_id: int) -> HttpResponse:
    """One statement: every line with why, the ledger's movements, totals, downloads."""
    st = statements.statement_get(
        access=request_access(request), period_id=period_id, person_id=person_id
    )
    is_self = st["person"]["id"] == getattr(_me(request), "pk", None)
    totals = [(key, statements.TOTAL_LABELS[key], st["totals"][key]) for key in statements.TOTALS]
    st = statements.statement_named(
        _with_questions(request, st),
        payee="" if is_self else trace_words.first_name(st["person"]["full_name"]),
    )
    return render(
        request,
        "dashboards/earnings/statement.html",
        {
            "st": st,
            "frozen_at": datetime.fromisoformat(st["frozen"]["at"]) if st.get("frozen") else None,
            "totals": totals,
            "is_self": is_self,
            "no_run_message": statements.NO_RUN_MESSAGE,
            "active_nav": "my_earnings" if is_self else "my_team",
        },
    )


@require_any(*READ)
def line_page(request: HttpRequest, line_id: int) -> HttpResponse:
    """One payout line: why, and which credits of which transactions made it."""
    drill = statements.line_get(access=request_access(request), line_id=line_id)
    # a counted row (a meeting, a lead) has no amount: it counts once
    counted = sum(1 for c in drill.contributions if c.transaction and c.transaction.count_unit)
    is_self = drill.person.user_id == request.user.pk
    questions = disputes.disputes_by_line(request_access(request), [drill.line.pk])
    names = component_names(version_ids=[drill.line.plan_version_id])
    why, steps = trace_words.line_why(
        drill.line, payee="" if is_self else trace_words.first_name(drill.person.full_name)
    )
    return render(
        request,
        "dashboards/earnings/line.html",
        {
            "drill": drill,
            "why": why,
            "steps": steps,
            "component": names.get(drill.line.component_id, version_id=drill.line.plan_version_id),
            "counted": counted,
            "is_self": is_self,
            "active_nav": "my_earnings" if is_self else "my_team",
            "questions": questions.get(drill.line.pk, []),
        },
    )


# --- disputes: "Question this" on each line, the questions already asked ----------------------


def _with_questions(request: HttpRequest, st: dict[str, Any]) -> dict[str, Any]:
    """Return a display copy of a statement whose lines carry the questions asked about them and
    whose adjustments carry the question that asked for them (payouts/disputes.py)."""
    access = request_access(request)
    asked = disputes.disputes_by_line(access, [line["id"] for line in st["lines"]])
    by_entry = disputes.disputes_by_adjustment_entry(access, [e["id"] for e in st["ledger"]])
    return {
        **st,
        "lines": [{**line, "questions": asked.get(line["id"], [])} for line in st["lines"]],
        "ledger": [{**e, "dispute": by_entry.get(e["id"])} for e in st["ledger"]],
    }


def _team_period(request: HttpRequest) -> Period | None:
    wanted = _period_param(request)
    periods = statements.statement_periods()
    if wanted is not None:
        chosen: Period | None = Period.objects.filter(pk=wanted).first()
        if chosen is None:
            raise Http404("Not found")
        return chosen
    return periods.first()


def _team_rows(request: HttpRequest, period: Period) -> tuple[statements.Rollup, str, bool]:
    sort = request.GET.get("sort", "name")
    sort = sort if sort in statements.TEAM_SORTS else "name"
    descending = request.GET.get("dir") == "desc"
    rollup = statements.team_rollup(
        access=request_access(request), period=period, sort=sort, descending=descending
    )
    return rollup, sort, descending


def _outlook(
    period: Period, rows: list[statements.Summary], choice: statements.RunChoice
) -> tuple[dict[int, nudges.Outlook], str]:
    """Each member's forecast and status while the period is under way (its run not final),
    for the page and its download alike; none otherwise."""
    if choice.run is None or choice.final:
        return {}, ""
    return nudges.team_outlook(
        period=period,
        person_ids=[r.person.pk for r in rows],
        targets={r.person.pk: r.target for r in rows},
    )


@require_any(*TEAM)
@live_page()
def team(request: HttpRequest) -> HttpResponse:
    """A manager's team roll-up for a chosen period: a sortable table with each member's
    forecast at the pace so far and who is at risk (a period under way), the attainment
    distribution; every member opens her own earnings page."""
    period = _team_period(request)
    rows: list[statements.Summary] = []
    sort, descending = "name", False
    choice = None
    figure = None
    outlook: dict[int, nudges.Outlook] = {}
    no_outlook = ""
    if period is not None:
        choice = statements.period_run(period=period)
        rollup, sort, descending = _team_rows(request, period)
        rows = list(rollup.people)
        buckets = rollup.distribution
        if any(n for _, n in buckets):
            figure = distribution_figure([b for b, _ in buckets], [n for _, n in buckets])
        outlook, no_outlook = _outlook(period, rows, choice)
    columns = [
        ("name", "Person"),
        ("plan", "Plan"),
        ("attainment", "Attainment"),
        ("earned", "Earned"),
        ("payable", "Payable"),
    ]
    return render(
        request,
        "dashboards/earnings/team.html",
        {
            "period": period,
            "periods": statements.statement_periods(),
            "rows": [(r, outlook.get(r.person.pk)) for r in rows],
            "outlook": bool(outlook),
            "no_outlook": no_outlook,
            "at_risk": sum(1 for o in outlook.values() if o.at_risk),
            "choice": choice,
            "figure": figure,
            "sort": sort,
            "descending": descending,
            "columns": columns,
            "no_run_message": statements.NO_RUN_MESSAGE,
            "active_nav": "my_team",
        },
    )


TEAM_HEADER = (
    "employee_id",
    "person",
    "plans",
    "attainment_pct",
    "target",
    "earned",
    "payable",
    "forecast",
    "status",
    "currency",
)


def _pct(value: Decimal | None) -> str:
    """A fraction as a percentage with two decimals (``0.56529481`` is ``56.53``)."""
    return "" if value is None else str((value * 100).quantize(Decimal("0.01")))


def _amount(value: Decimal | None, currency: str) -> str:
    """An amount with the currency's own decimals, as every file writes them (docs/api.md)."""
    return "" if value is None else str(quantize(value, currency))


def _status(o: nudges.Outlook | None) -> str:
    if o is None:
        return ""
    if not o.projected:
        return "not_projected"
    return "at_risk" if o.at_risk else "on_track" if o.attainment is not None else ""


@require_any(*TEAM)
def team_download(request: HttpRequest, fmt: str) -> HttpResponse:
    """The team roll-up table as CSV or XLSX, for the period and sort on the page: the page's
    figures, money with the currency's decimals, attainment as a percentage."""
    period = _team_period(request)
    if period is None:
        raise Http404("Not found")
    rollup, _sort, _desc = _team_rows(request, period)
    rows = list(rollup.people)
    outlook, _none = _outlook(period, rows, statements.period_run(period=period))
    table = [
        (
            r.person.employee_id,
            r.person.full_name,
            ", ".join(r.plans),
            _pct(r.attainment),
            _amount(r.target, r.currency),
            _amount(r.earned, r.currency),
            _amount(r.payable, r.currency),
            _amount(o.forecast if o else None, r.currency),
            _status(o),
            r.currency,
        )
        for r in rows
        for o in [outlook.get(r.person.pk)]
    ]
    return table_download(
        title=f"Team {period.label}",
        header=TEAM_HEADER,
        rows=table,
        fmt=fmt,
        name=f"team-{period.label.replace(' ', '-')}",
    )
