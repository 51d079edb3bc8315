"""Shared goals and anomalies API: the goals a caller takes part in, one goal with its
participants, and the comp admin's anomalies of a period.

Thin views over :mod:`payouts.milestones` and :mod:`payouts.anomalies`. A goal is read by its
participants, their managers and whoever reads everyone's pay (``payouts.view``); anyone else,
and another tenant, gets a 404. Anomalies need ``payouts.calculate`` or ``plans.change``.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import params
from core.api.base import TenantAPIView
from core.api.filters import ChoiceFilter, FilterSet, IdFilter, check_params, list_parameters
from core.api.filters import view_param as _view
from core.api.pagination import QuotientPagination
from hierarchy.access import request_access
from payouts import anomalies, milestones
from plans.dependencies import SHARED_GOAL_KINDS

TAG = "Milestones"
ANOMALY_TAG = "Anomalies"
READ = ("payouts.view", "payouts.view.team", "payouts.view.self")
ADMIN = ("payouts.calculate", "plans.change")


class MilestoneFilter(FilterSet):
    period = IdFilter(
        method=_view, help_text="A period id (default: the period today falls in that has a run)"
    )


class AnomalyFilter(FilterSet):
    period = IdFilter(method=_view, help_text="A period id (default: the open period)")
    kind = ChoiceFilter(method=_view, choices=[(k, v) for k, v in anomalies.KIND_LABELS.items()])


_MILESTONE = inline_serializer(
    "SharedGoalMilestone",
    {
        "label": serializers.CharField(),
        "status": serializers.CharField(help_text="hit or not yet"),
        "hit": serializers.BooleanField(),
        "value": serializers.CharField(allow_null=True, help_text="Exact decimal text"),
        "threshold": serializers.CharField(allow_null=True),
        "unit": serializers.CharField(help_text="percent (a fraction: 1 = 100 %), number or money"),
        "progress": serializers.CharField(help_text="0..1 toward the threshold"),
        "detail": serializers.CharField(),
        "team": serializers.CharField(),
    },
    many=True,
)
_GOAL_FIELDS: dict[str, Any] = {
    "id": serializers.CharField(help_text="<plan id>-<component id>"),
    "name": serializers.CharField(),
    "kind": serializers.CharField(help_text=", ".join(SHARED_GOAL_KINDS)),
    "kind_label": serializers.CharField(),
    "status": serializers.CharField(help_text="hit or not yet"),
    "plan": inline_serializer(
        "SharedGoalPlan",
        {
            "id": serializers.IntegerField(),
            "code": serializers.CharField(),
            "name": serializers.CharField(),
        },
    ),
    "component_id": serializers.CharField(),
    "period": inline_serializer(
        "SharedGoalPeriod",
        {
            "id": serializers.IntegerField(),
            "label": serializers.CharField(),
            "start": serializers.DateField(),
            "end": serializers.DateField(help_text="Exclusive"),
            "last_day": serializers.DateField(),
        },
    ),
    "run": inline_serializer(
        "SharedGoalRun",
        {
            "id": serializers.IntegerField(),
            "number": serializers.IntegerField(),
            "final": serializers.BooleanField(help_text="The approved run (else the latest)"),
        },
    ),
    "currency": serializers.CharField(),
    "pool": serializers.DecimalField(max_digits=20, decimal_places=4, allow_null=True),
    "at_stake": serializers.DecimalField(max_digits=20, decimal_places=4, allow_null=True),
    "paid_total": serializers.DecimalField(max_digits=20, decimal_places=4),
    "my_amount": serializers.DecimalField(max_digits=20, decimal_places=4, allow_null=True),
    "pay_date": serializers.DateField(allow_null=True),
    "approved_at": serializers.DateTimeField(allow_null=True),
    "sentence": serializers.CharField(),
    "milestones": _MILESTONE,
    "teams": inline_serializer(
        "SharedGoalTeam",
        {"name": serializers.CharField(), "participants": serializers.IntegerField()},
        many=True,
    ),
    "participant_count": serializers.IntegerField(),
    "url": serializers.CharField(),
}
_GOAL = inline_serializer("SharedGoal", _GOAL_FIELDS, many=True)
_GOAL_DETAIL = inline_serializer(
    "SharedGoalDetail",
    {
        **_GOAL_FIELDS,
        "participants": inline_serializer(
            "SharedGoalParticipant",
            {
                "person_id": serializers.IntegerField(),
                "full_name": serializers.CharField(),
                "employee_id": serializers.CharField(),
                "team": serializers.CharField(),
                "amount": serializers.DecimalField(
                    max_digits=20,
                    decimal_places=4,
                    allow_null=True,
                    help_text="Null when the caller may not read this person's pay",
                ),
            },
            many=True,
        ),
    },
)


class MilestoneListView(TenantAPIView):
    """The shared goals of a period that the caller takes part in (or manages, or reads)."""

    permission = READ

    @extend_schema(
        tags=[TAG],
        summary="List the shared goals you take part in",
        description=(
            "Team pools, launch milestones every team must hit, gates on another team's "
            "metric and shared MBOs of one period, each with its binary milestones (hit / "
            "not yet), the figure reached against the threshold, the teams in it, and what it "
            "pays. Figures are those of the run that pays the period: the approved run once "
            "the period is approved, else the latest succeeded run (live)."
        ),
        parameters=list_parameters(MilestoneFilter),
        responses=_GOAL,
    )
    def get(self, request: Request) -> Response:
        check_params(request, MilestoneFilter)
        period_id = params.identifier(request, "period")
        period = (
            milestones.period_get(period_id)
            if period_id is not None
            else milestones.default_period()
        )
        goals = (
            milestones.shared_goals(access=request_access(request), period=period)
            if period is not None
            else []
        )
        rows = [milestones.as_dict(g, with_participants=False) for g in goals]
        paginator = QuotientPagination()
        page: Any = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(page)


class MilestoneDetailView(TenantAPIView):
    """One shared goal of a period: milestones, progress, participants, what it pays and when."""

    permission = READ

    @extend_schema(
        tags=[TAG],
        summary="Get a shared goal",
        description=(
            "One shared goal (`<plan id>-<component id>`) for `?period=` (default: the period "
            "today falls in that has a run). Participants' amounts are shown to those who may "
            "read their pay (an employee: her own). Not taking part, not managing anyone in "
            "it, or another tenant's goal: 404."
        ),
        parameters=list_parameters(MilestoneFilter)[:1],
        responses=_GOAL_DETAIL,
    )
    def get(self, request: Request, goal_id: str) -> Response:
        check_params(request, MilestoneFilter)
        goal = milestones.shared_goal_get(
            access=request_access(request),
            goal=goal_id,
            period_id=params.identifier(request, "period"),
        )
        return Response(milestones.as_dict(goal))


_ANOMALY = inline_serializer(
    "Anomaly",
    {
        "kind": serializers.CharField(help_text=", ".join(anomalies.KIND_LABELS)),
        "kind_label": serializers.CharField(),
        "message": serializers.CharField(),
        "person_id": serializers.IntegerField(allow_null=True),
        "person": serializers.CharField(allow_null=True),
        "object_id": serializers.IntegerField(allow_null=True),
        "fix_url": serializers.CharField(help_text="The page where it is fixed"),
        "fix_label": serializers.CharField(),
        "details": serializers.DictField(),
    },
    many=True,
)


class AnomalyListView(TenantAPIView):
    """The anomalies a comp admin should look at before approving a period."""

    permission = ADMIN

    @extend_schema(
        tags=[ANOMALY_TAG],
        summary="List the anomalies of a period",
        description=(
            "Earnings that moved by more than "
            f"{anomalies.CHANGE_SHARE * 100:.0f} % or more than {anomalies.ROBUST_Z} robust "
            "standard deviations (median / MAD) against the previous period; people placed "
            "in the period with no plan assigned; plans paid but not acknowledged; "
            "transactions nobody is credited with; people paid on a plan whose other payees "
            "hold quotas while they hold none. Each names the page where it is fixed. "
            "`?kind=` keeps one kind."
        ),
        parameters=list_parameters(AnomalyFilter),
        responses=_ANOMALY,
    )
    def get(self, request: Request) -> Response:
        check_params(request, AnomalyFilter)
        period_id = params.identifier(request, "period")
        kind = params.choice(request, "kind", list(anomalies.KIND_LABELS))
        report = anomalies.anomaly_report(access=request_access(request), period_id=period_id)
        rows = [a.as_dict() for a in report.items if kind is None or a.kind == kind]
        paginator = QuotientPagination()
        page: Any = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(page)
