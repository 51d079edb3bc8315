"""Roll-ups API: a team's or a business unit's earnings for one period, the read API behind the
manager's "My team" page.

``GET /api/v1/rollups/?period=<id>`` is the caller's roll-up as the team page shows it (a
manager: the subtree of every node she managed during the period; comp admins and finance:
everyone); ``&node=<id>`` narrows it to one node's subtree in any hierarchy as it stood then
(a team, a business unit, a region). Totals cover every person of the roll-up; the people
come a page at a time. Everything goes through the access policy (``Access.payees``).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import params
from core.api.base import TenantAPIView
from core.api.pagination import QuotientPagination
from core.errors import NotFoundError, ValidationFailedError
from hierarchy.access import request_access
from hierarchy.models import Period
from payouts import statements
from payouts.api.statements import StatementSummarySerializer

READ = ("payouts.view", "payouts.view.team")
NEEDS_PERIOD = "Name the period: ?period=<id>."
BAD_SORT = "sort must be one of: {sorts}."


class RollupTotalSerializer(serializers.Serializer):  # type: ignore[type-arg]
    currency = serializers.CharField()
    earned = serializers.DecimalField(max_digits=20, decimal_places=4)
    payable = serializers.DecimalField(max_digits=20, decimal_places=4)


class RollupSerializer(serializers.Serializer):  # type: ignore[type-arg]
    period_id = serializers.IntegerField()
    period = serializers.CharField()
    node_id = serializers.IntegerField(allow_null=True)
    status = serializers.ChoiceField(
        choices=[statements.FINAL, statements.PROVISIONAL, statements.NO_RUN]
    )
    run_id = serializers.IntegerField(allow_null=True)
    people = serializers.IntegerField()
    totals = RollupTotalSerializer(many=True)
    distribution = serializers.DictField(child=serializers.IntegerField())
    count = serializers.IntegerField()
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    results = StatementSummarySerializer(many=True)


class RollupView(TenantAPIView):
    """A team's or business unit's roll-up for a period: totals, the attainment distribution
    and each person's summary."""

    permission = READ

    @extend_schema(
        tags=["Statements"],
        summary="A team or business unit's earnings roll-up for one period",
        description=(
            "The people the caller may read for the period (a manager: the subtree of every "
            "node she managed during it, as the structure stood then; comp admins, finance "
            "and `read:payouts` clients: everyone), narrowed by `node` to one node's subtree "
            "in any hierarchy. `totals` are per currency over every person (never added "
            "across currencies); `distribution` counts people per attainment band; "
            "`results` is one page of statement summaries, sorted by `sort` (`name`, "
            "`plan`, `attainment`, `earned`, `payable`) and `dir` (`asc`, `desc`)."
        ),
        parameters=[
            OpenApiParameter("period", int, required=True),
            OpenApiParameter("node", int),
            OpenApiParameter("sort", str, enum=list(statements.TEAM_SORTS)),
            OpenApiParameter("dir", str, enum=["asc", "desc"]),
        ],
        responses={200: RollupSerializer},
        examples=[
            OpenApiExample(
                "A team's roll-up",
                response_only=True,
                value={
                    "period_id": 22,
                    "period": "FY2027 Q4",
                    "node_id": 12,
                    "status": "provisional",
                    "run_id": 2,
                    "people": 8,
                    "totals": [
                        {"currency": "USD", "earned": "61250.0000", "payable": "61250.0000"}
                    ],
                    "distribution": {"< 50 %": 3, "50-80 %": 2, "80-100 %": 2, "100-120 %": 1},
                    "count": 8,
                    "next": None,
                    "previous": None,
                    "results": [],
                },
            )
        ],
    )
    def get(self, request: Request) -> Response:
        period_id = params.identifier(request, "period")
        if period_id is None:
            raise ValidationFailedError(NEEDS_PERIOD, details={"period": [NEEDS_PERIOD]})
        period = Period.objects.filter(pk=period_id).first()
        if period is None:
            raise NotFoundError("Period not found.")
        sort = request.query_params.get("sort", "name")
        if sort not in statements.TEAM_SORTS:
            message = BAD_SORT.format(sorts=", ".join(statements.TEAM_SORTS))
            raise ValidationFailedError(message, details={"sort": [message]})
        choice = statements.period_run(period=period)
        paginator = QuotientPagination()
        rollup = statements.team_rollup(
            access=request_access(request),
            period=period,
            sort=sort,
            descending=request.query_params.get("dir") == "desc",
            node_id=params.identifier(request, "node"),
            # the page this response shows, read by the statement that adds up the totals
            page=(paginator.get_offset(request), paginator.get_limit(request) or 0),
            choice=choice,
        )
        totals = rollup.totals
        # Only this page's people are built (the paginator slices them).
        page: Any = paginator.paginate_queryset(rollup.people, request, view=self)
        body: dict[str, Any] = {
            "period_id": period.pk,
            "period": period.label,
            "node_id": params.identifier(request, "node"),
            "status": choice.status,
            "run_id": choice.run.pk if choice.run is not None else None,
            "people": totals.people,
            "totals": RollupTotalSerializer(
                [
                    {"currency": c, "earned": totals.earned[c], "payable": totals.payable[c]}
                    for c in totals.earned
                ],
                many=True,
            ).data,
            "distribution": dict(rollup.distribution),
        }
        paged = paginator.get_paginated_response(StatementSummarySerializer(page, many=True).data)
        return Response({**body, **paged.data})
