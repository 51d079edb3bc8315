"""Executive analytics API (read-only): incentive cost and what it buys.

Thin views over ``payouts/analytics.py``; each answers for one period (``?period=<id>``, default
the latest with a run; ``?kind=`` monthly / quarterly / annual picks the calendar when no period
is named) and the window of periods up to it. Amounts are strings of Decimals in the tenant's
currency; ``status`` says whether the period's figures are ``final`` (its approved run) or
``provisional`` (its latest succeeded run).

Who: ``dashboards.exec`` (executives, finance, comp admins, tenant admins; API clients with
``read:payouts``), with tenant-wide access: a node-scoped member, like another tenant's period,
gets a 404.
"""

from __future__ import annotations

from dataclasses import is_dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import params
from core.api.base import TenantAPIView
from core.api.filters import UNKNOWN_PARAMETER
from core.errors import NotFoundError, PermissionDeniedError, ValidationFailedError
from hierarchy.access import request_access
from hierarchy.models import Period, PeriodKind, Person
from payouts import analytics

TAGS = ["Analytics"]
PERMISSION = "dashboards.exec"
WHAT = "the executive dashboard"
COMMON = frozenset({"period", "kind", "format"})
PERIOD_PARAMS = [
    OpenApiParameter("period", int, description="A period id (default: the latest with a run)"),
    OpenApiParameter(
        "kind",
        str,
        enum=list(PeriodKind.values),
        description="The calendar when no period is named (default quarterly)",
    ),
]


def jsonable(value: Any) -> Any:
    """Return a dashboard figure as JSON: Decimals and dates as text, people and periods short."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Period):
        return {"id": value.pk, "label": value.label, "kind": value.kind, "status": value.status}
    if isinstance(value, Person):
        return {"id": value.pk, "employee_id": value.employee_id, "full_name": value.full_name}
    if is_dataclass(value) and not isinstance(value, type):
        return {f: jsonable(getattr(value, f)) for f in value.__dataclass_fields__}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def _check(request: Request, extra: frozenset[str] = frozenset()) -> None:
    allowed = COMMON | extra
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        message = (
            f"Unknown parameter {unknown[0]}: this endpoint accepts {', '.join(sorted(allowed))}."
        )
        raise ValidationFailedError(
            message, code=UNKNOWN_PARAMETER, details={unknown[0]: [message]}
        )
    try:
        request_access(request).require_tenant_wide(WHAT)
    except PermissionDeniedError:
        raise NotFoundError("Not found.") from None


def _window(request: Request) -> tuple[Period | None, list[Period], analytics.Facts | None]:
    kind = params.choice(request, "kind", PeriodKind.values, default=PeriodKind.QUARTERLY)
    period, window = analytics.analytics_window(
        period_id=params.identifier(request, "period"), kind=kind or PeriodKind.QUARTERLY
    )
    if period is None:
        return None, [], None
    return period, window, analytics.facts_load(periods=window)


def _envelope(period: Period | None, facts: analytics.Facts | None, **data: Any) -> dict[str, Any]:
    from core.tenancy import get_current_tenant

    return {
        "period": jsonable(period) if period else None,
        "status": facts.basis(period.pk).status if facts and period else "none",
        "currency": facts.currency if facts else get_current_tenant().default_currency,
        "warnings": facts.warnings if facts else [],
        **{k: jsonable(v) for k, v in data.items()},
    }


class AnalyticsCostView(TenantAPIView):
    """Incentive cost of a period by business unit, function or plan (``?by=``), or of the
    window's periods (``by=period``)."""

    permission = PERMISSION

    @extend_schema(
        tags=TAGS,
        summary="Incentive cost by business unit, function, plan or period",
        description=(
            "Cost is what the period's run paid as earned (clawbacks included), converted to the "
            "tenant currency at the period's last day. `by=period` covers the window up to the "
            "period; the others the period alone. `share` is of the total cost."
        ),
        parameters=[
            *PERIOD_PARAMS,
            OpenApiParameter("by", str, enum=list(analytics.DIMENSIONS), description="Grouping"),
        ],
        responses={200: dict},
    )
    def get(self, request: Request) -> Response:
        _check(request, frozenset({"by"}))
        by = params.choice(request, "by", analytics.DIMENSIONS, default="business_unit") or ""
        period, _w, facts = _window(request)
        rows: list[Any] = []
        if facts is not None and period is not None:
            rows = analytics.cost_breakdown(
                facts, by=by, period_id=None if by == "period" else period.pk
            )
        return Response(_envelope(period, facts, by=by, results=rows))


class AnalyticsRevenueView(TenantAPIView):
    """Cost against revenue for each period of the window: cost as % of revenue, revenue per
    payee, months of revenue that pay the period's incentive cost."""

    permission = PERMISSION

    @extend_schema(
        tags=TAGS,
        summary="Incentive cost as a share of revenue, by period",
        description=(
            "Revenue is the period's booked transactions (new business, expansion, renewal, "
            "churn) in the tenant currency; `cost_pct` is cost ÷ revenue; `recovery_months` the "
            "months of revenue that pay the cost. Oldest period first (the trend)."
        ),
        parameters=PERIOD_PARAMS,
        responses={200: dict},
    )
    def get(self, request: Request) -> Response:
        _check(request)
        period, _w, facts = _window(request)
        rows = analytics.period_rows(facts) if facts else []
        return Response(_envelope(period, facts, results=rows))


class AnalyticsRecoveryView(TenantAPIView):
    """Compensation recovery: the people who own booked revenue in the period, their pay and
    the months of their revenue it takes, slowest first."""

    permission = PERMISSION

    @extend_schema(
        tags=TAGS,
        summary="Compensation recovery time per person",
        description=(
            "Pay is the period's incentive plus its share of base salary; recovery months are "
            "pay ÷ the person's monthly booked revenue. At most 25 rows, slowest to recover first."
        ),
        parameters=PERIOD_PARAMS,
        responses={200: dict},
    )
    def get(self, request: Request) -> Response:
        _check(request)
        period, _w, facts = _window(request)
        rows = analytics.recovery_rows(facts, period_id=period.pk) if facts and period else []
        return Response(_envelope(period, facts, results=rows))


class AnalyticsAttainmentView(TenantAPIView):
    """Attainment distribution per plan: every payee's attainment, median, buckets."""

    permission = PERMISSION

    @extend_schema(
        tags=TAGS,
        summary="Attainment distribution per plan",
        description=(
            "A person's attainment on a plan is that of its first component with one (as on "
            "statements); `values` are fractions (1 = 100 %), sorted."
        ),
        parameters=PERIOD_PARAMS,
        responses={200: dict},
    )
    def get(self, request: Request) -> Response:
        _check(request)
        period, _w, facts = _window(request)
        rows = analytics.attainment_rows(facts, period_id=period.pk) if facts and period else []
        return Response(_envelope(period, facts, results=rows))


class AnalyticsScorecardView(TenantAPIView):
    """The cross-functional shared-goal scorecard: per team, the variable pay on shared goals
    and the shared goals hit; and every shared milestone with each team's attainment."""

    permission = PERMISSION

    @extend_schema(
        tags=TAGS,
        summary="Shared-goal scorecard per team",
        description=(
            "Lines are classified by their component's kind in the plan version "
            "(shared milestone, team pool, shared gate, team metric, MBO, individual); the first "
            "four are shared goals. `shared_share` is shared pay ÷ variable pay."
        ),
        parameters=PERIOD_PARAMS,
        responses={200: dict},
    )
    def get(self, request: Request) -> Response:
        _check(request)
        period, _w, facts = _window(request)
        rows: list[Any] = []
        milestones: list[Any] = []
        if facts and period:
            rows = analytics.scorecard_rows(facts, period_id=period.pk)
            milestones = analytics.milestone_rows(facts, period_id=period.pk)
        return Response(
            _envelope(
                period, facts, kinds=analytics.KIND_LABELS, results=rows, milestones=milestones
            )
        )


class AnalyticsMoversView(TenantAPIView):
    """Top movers: the people or teams (``?by=person|team``) whose earnings changed most
    against the previous period."""

    permission = PERMISSION

    @extend_schema(
        tags=TAGS,
        summary="Top movers against the previous period",
        description="The ten largest changes in earned incentive, in absolute terms.",
        parameters=[
            *PERIOD_PARAMS,
            OpenApiParameter("by", str, enum=["person", "team"], description="Default person"),
        ],
        responses={200: dict},
    )
    def get(self, request: Request) -> Response:
        _check(request, frozenset({"by"}))
        by = params.choice(request, "by", ["person", "team"], default="person") or "person"
        period, _w, facts = _window(request)
        rows = analytics.movers(facts, period_id=period.pk, by=by) if facts and period else []
        return Response(_envelope(period, facts, by=by, results=rows))
