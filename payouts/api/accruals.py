"""Accruals API: earned-but-unpaid from the ledger, capitalized commissions (ASC 340-40) and
the tenant's capitalization policies.

Thin views over ``payouts/accruals.py``. Reading needs ``payouts.view`` with tenant-wide
access (finance, comp admins, executives, tenant admins; ``read:payouts`` clients); editing
policies needs ``accruals.change`` (finance; ``write:payouts`` clients), each change one audit
event. Another tenant's policy, like a node-scoped member asking, is a 404.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import params
from core.api.base import TenantAPIView
from core.api.filters import UNKNOWN_PARAMETER
from core.errors import NotFoundError, PermissionDeniedError, ValidationFailedError
from hierarchy.access import request_access
from payouts import accruals
from payouts.api.analytics import jsonable
from payouts.models import AmortizationStart, CapitalizationPolicy

TAGS = ["Accruals"]
READ = "payouts.view"
WRITE = "accruals.change"
WHAT = "accruals"


def _check(request: Request, allowed: frozenset[str] = frozenset()) -> None:
    unknown = sorted(set(request.query_params) - allowed - {"format"})
    if unknown:
        message = f"Unknown parameter {unknown[0]}."
        raise ValidationFailedError(
            message, code=UNKNOWN_PARAMETER, details={unknown[0]: [message]}
        )
    try:
        request_access(request).require_tenant_wide(WHAT)
    except PermissionDeniedError:
        raise NotFoundError("Not found.") from None


class PolicySerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = CapitalizationPolicy
        fields = [
            "id",
            "plan",
            "component_id",
            "benefit_months",
            "start_rule",
            "is_active",
            "note",
            "created_at",
            "updated_at",
        ]


class PolicyInputSerializer(serializers.Serializer):  # type: ignore[type-arg]
    plan = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    component_id = serializers.CharField(required=False, allow_blank=True, max_length=100)
    benefit_months = serializers.IntegerField(min_value=1, max_value=accruals.MAX_BENEFIT_MONTHS)
    start_rule = serializers.ChoiceField(
        choices=AmortizationStart.choices,
        required=False,
        default=AmortizationStart.MONTH_AFTER_PERIOD_END,
    )
    is_active = serializers.BooleanField(required=False, default=True)
    note = serializers.CharField(required=False, allow_blank=True, max_length=300)


class PolicyPatchSerializer(PolicyInputSerializer):
    benefit_months = serializers.IntegerField(
        min_value=1, max_value=accruals.MAX_BENEFIT_MONTHS, required=False
    )
    start_rule = serializers.ChoiceField(choices=AmortizationStart.choices, required=False)
    is_active = serializers.BooleanField(required=False)


class AccrualUnpaidView(TenantAPIView):
    """Earned but unpaid, from the ledger: by period, person, cost centre or currency."""

    permission = READ

    @extend_schema(
        tags=TAGS,
        summary="Earned but unpaid (accrued incentive liability)",
        description=(
            "Per group and currency: `earned` (earned + adjustments + clawbacks), `draws` (draws "
            "net of recoveries), `paid` (PAID entries, positive), `held` (withheld, net of "
            "releases; still owed) and `unpaid` = earned + draws - paid."
        ),
        parameters=[
            OpenApiParameter(
                "by",
                str,
                enum=["period", "person", "cost_centre", "currency"],
                description="Grouping",
            )
        ],
        responses={200: dict},
    )
    def get(self, request: Request) -> Response:
        _check(request, frozenset({"by"}))
        by = params.choice(request, "by", accruals.GROUPINGS, default="period") or "period"
        return Response({"by": by, "results": jsonable(accruals.unpaid_rows(by=by))})


class AccrualCapitalizedView(TenantAPIView):
    """Capitalized commissions: totals, amortized to date and remaining asset, grouped by
    earning period, person or month (the amortization schedule)."""

    permission = READ

    @extend_schema(
        tags=TAGS,
        summary="Capitalized commissions and their amortization (ASC 340-40)",
        description=(
            "Straight-line over each policy's benefit months from the month after the earning "
            "period ends; the last month takes the rounding remainder, so a schedule sums "
            "exactly to its capitalized amount. `as_of` (default today) decides what is "
            "amortized to date: the months that ended by then."
        ),
        parameters=[
            OpenApiParameter("by", str, enum=["period", "person", "month"], description="Grouping"),
            OpenApiParameter("as_of", str, description="YYYY-MM-DD"),
        ],
        responses={200: dict},
    )
    def get(self, request: Request) -> Response:
        _check(request, frozenset({"by", "as_of"}))
        by = params.choice(request, "by", ["period", "person", "month"], default="period")
        as_of = params.day(request, "as_of")
        items = accruals.capitalized_list(as_of=as_of)
        rows: Any = (
            accruals.month_rows(items, as_of=as_of)
            if by == "month"
            else accruals.asset_rows(items, by=by or "period")
        )
        return Response(
            {
                "by": by,
                "totals": jsonable(accruals.asset_totals(items)),
                "results": jsonable(rows),
            }
        )


class PolicyListView(TenantAPIView):
    """The tenant's capitalization policies; POST adds one."""

    permission = READ
    write_permission = WRITE

    @extend_schema(
        tags=TAGS,
        summary="List capitalization policies",
        description="Which plans' components are capitalized and over how many months.",
        responses={200: PolicySerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        _check(request)
        return Response(PolicySerializer(accruals.policy_list(), many=True).data)

    @extend_schema(
        tags=TAGS,
        summary="Add a capitalization policy",
        description=(
            "`plan` empty: every plan; `component_id` empty: every component. One policy per "
            "(plan, component): a second is a 409 `policy_exists`."
        ),
        request=PolicyInputSerializer,
        responses={201: PolicySerializer},
    )
    def post(self, request: Request) -> Response:
        _check(request)
        data = PolicyInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        policy = accruals.policy_create(
            benefit_months=v["benefit_months"],
            plan_id=v.get("plan"),
            component_id=v.get("component_id", ""),
            start_rule=v.get("start_rule"),
            is_active=v.get("is_active", True),
            note=v.get("note", ""),
        )
        return Response(PolicySerializer(policy).data, status=status.HTTP_201_CREATED)


class PolicyDetailView(TenantAPIView):
    """One capitalization policy: read, change, remove."""

    permission = READ
    write_permission = WRITE

    @extend_schema(
        tags=TAGS,
        summary="Get a capitalization policy",
        description="One policy of the tenant (404 for another tenant's).",
        responses={200: PolicySerializer},
    )
    def get(self, request: Request, policy_id: int) -> Response:
        _check(request)
        return Response(PolicySerializer(accruals.policy_get(policy_id=policy_id)).data)

    @extend_schema(
        tags=TAGS,
        summary="Change a capitalization policy",
        description="Fields not given stay; one audit event.",
        request=PolicyPatchSerializer,
        responses={200: PolicySerializer},
    )
    def patch(self, request: Request, policy_id: int) -> Response:
        _check(request)
        accruals.policy_get(policy_id=policy_id)
        data = PolicyPatchSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        changes = {("plan_id" if k == "plan" else k): v for k, v in data.validated_data.items()}
        policy = accruals.policy_update(policy_id=policy_id, **changes)
        return Response(PolicySerializer(policy).data)

    @extend_schema(
        tags=TAGS,
        summary="Remove a capitalization policy",
        description="Schedules are computed from policies and follow it; one audit event.",
        responses={204: None},
    )
    def delete(self, request: Request, policy_id: int) -> Response:
        _check(request)
        accruals.policy_delete(policy_id=policy_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
