"""Approvals API: approval requests (read, approve, reject) and approval routes (CRUD).

Thin views over ``payouts/approvals.py``. Reading takes ``payouts.view`` (``read:payouts``
clients, comp admins, finance...) — or being an approver of the request (a manager of its
payees, a named user), who then sees only the requests they decide. Deciding is the step's
approver's: an API client needs ``write:payouts``, and anyone else is refused by the service
(403 ``not_your_step``) when they may read the request, or gets 404 when they may not.
Routes are read with ``payouts.view`` and written by comp admins, tenant admins and
``write:payouts`` clients (``approvals.configure``).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.base import TenantAPIView
from core.api.filters import ChoiceFilter, FilterSet, IdFilter, Ordering, list_parameters
from core.api.pagination import paginate
from core.errors import PermissionDeniedError
from core.permissions import request_principal
from payouts import approvals
from payouts.models import (
    ApprovalDecision,
    ApprovalRequest,
    ApprovalRoute,
    ApprovalStatus,
    ApprovalStep,
    ApproverKind,
)

TAGS = ["Approvals"]
# Anyone who may be an approver passes the door; the service decides who decides.
READ = ("payouts.view", "payouts.view.team", "payouts.view.self")
ROUTES_READ = "payouts.view"
ROUTES_WRITE = "approvals.configure"
CLIENT_DECIDES = "An API client decides approval steps with the write:payouts scope."

_GUARDS = (
    "A failed guard answers 409 with the error envelope, `details.guard` naming it "
    "(`request_status`, `already_decided`, `four_eyes`, `approval_step_incomplete`, and the "
    "period's own guards such as `adjustments_pending`); someone who may read the request but "
    "does not decide its current step gets 403 `not_your_step`; a request you may not read, or "
    "another tenant's, is 404."
)


# --- serializers --------------------------------------------------------------------------------


class StepSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    user = serializers.IntegerField(source="user_id", allow_null=True, read_only=True)

    class Meta:
        model = ApprovalStep
        fields = ["id", "order", "name", "approver_kind", "user", "required_count"]


class DecisionSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    actor_user = serializers.IntegerField(source="actor_user_id", allow_null=True)
    actor_api_client = serializers.IntegerField(source="actor_api_client_id", allow_null=True)

    class Meta:
        model = ApprovalDecision
        fields = [
            "id",
            "step",
            "actor_user",
            "actor_api_client",
            "actor_label",
            "decision",
            "comment",
            "covers",
            "at",
        ]


class RequestSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    route_name = serializers.CharField(source="route.name", read_only=True)
    period_label = serializers.CharField(source="period.label", read_only=True)

    class Meta:
        model = ApprovalRequest
        fields = [
            "id",
            "period",
            "period_label",
            "run",
            "route",
            "route_name",
            "current_step",
            "status",
            "submitted_by",
            "submitted_at",
            "step_started_at",
            "decided_at",
            "outcome_comment",
        ]


class TimelineStepSerializer(serializers.Serializer):  # type: ignore[type-arg]
    step = StepSerializer()
    state = serializers.CharField(
        help_text="done, current, waiting, rejected, skipped, not reached"
    )
    approver = serializers.CharField(help_text="Who decides it, in words")
    approvals = serializers.IntegerField(
        allow_null=True, help_text="Current step: approvals so far"
    )
    needed = serializers.IntegerField(allow_null=True, help_text="Current step: approvals needed")
    payees_left = serializers.IntegerField(
        allow_null=True, help_text="Current manager step: payees no approving manager covers yet"
    )
    decisions = DecisionSerializer(many=True)


class RequestDetailSerializer(RequestSerializer):
    steps = serializers.SerializerMethodField()

    class Meta(RequestSerializer.Meta):
        fields = [*RequestSerializer.Meta.fields, "steps"]

    @extend_schema_field(TimelineStepSerializer(many=True))
    def get_steps(self, obj: ApprovalRequest) -> list[dict[str, Any]]:
        out = []
        for view in approvals.request_timeline(obj):
            progress = view.progress
            out.append(
                {
                    "step": StepSerializer(view.step).data,
                    "state": view.state,
                    "approver": view.approver,
                    "approvals": progress.approvals if progress else None,
                    "needed": progress.needed if progress else None,
                    "payees_left": (
                        progress.payees_left
                        if progress and view.step.approver_kind == ApproverKind.MANAGER
                        else None
                    ),
                    "decisions": DecisionSerializer(view.decisions, many=True).data,
                }
            )
        return out


class RouteSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    steps = serializers.SerializerMethodField()

    class Meta:
        model = ApprovalRoute
        fields = [
            "id",
            "name",
            "plan",
            "business_unit",
            "is_default",
            "is_builtin",
            "remind_after_hours",
            "steps",
            "created_at",
            "updated_at",
        ]

    @extend_schema_field(StepSerializer(many=True))
    def get_steps(self, obj: ApprovalRoute) -> list[dict[str, Any]]:
        from payouts.approval_routes import active_steps

        return list(StepSerializer(active_steps(obj), many=True).data)


class StepInput(serializers.Serializer):  # type: ignore[type-arg]
    name = serializers.CharField(max_length=100)
    approver_kind = serializers.ChoiceField(choices=ApproverKind.choices)
    user = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    required_count = serializers.IntegerField(required=False, min_value=1, max_value=20, default=1)


class RouteInput(serializers.Serializer):  # type: ignore[type-arg]
    name = serializers.CharField(max_length=100)
    plan = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    business_unit = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    is_default = serializers.BooleanField(required=False, default=False)
    remind_after_hours = serializers.IntegerField(
        required=False, min_value=0, max_value=24 * 365, default=24, help_text="0: never remind"
    )
    steps = StepInput(many=True, help_text="In order; the last must be a finance step")


class DecisionInput(serializers.Serializer):  # type: ignore[type-arg]
    comment = serializers.CharField(max_length=1000, required=False, allow_blank=True)
    early = serializers.BooleanField(
        required=False,
        default=False,
        help_text="The last step, before the period's last day has passed: approve it early "
        "(refused with 409 `period_not_ended` otherwise)",
    )


class RejectInput(serializers.Serializer):  # type: ignore[type-arg]
    comment = serializers.CharField(max_length=1000, help_text="Why: it goes back with the period")


def _valid(serializer_class: Any, request: Request, **kwargs: Any) -> dict[str, Any]:
    serializer = serializer_class(data=request.data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _route_fields(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": data["name"],
        "plan_id": data.get("plan"),
        "business_unit_id": data.get("business_unit"),
        "is_default": data.get("is_default", False),
        "remind_after_hours": data.get("remind_after_hours", 24),
        "steps": [
            approvals.StepSpec(
                name=s["name"],
                approver_kind=s["approver_kind"],
                user_id=s.get("user"),
                required_count=s.get("required_count", 1),
            )
            for s in data["steps"]
        ],
    }


class RequestFilter(FilterSet):
    status = ChoiceFilter(choices=ApprovalStatus.choices)
    period = IdFilter(field_name="period_id", help_text="Period id")
    ordering = Ordering(fields=("submitted_at", "step_started_at", "id"))


# --- requests -----------------------------------------------------------------------------------


class ApprovalListView(TenantAPIView):
    """The approval requests you may read."""

    permission = READ

    @extend_schema(
        tags=TAGS,
        summary="List approval requests",
        description="One request per period (and run) submitted for review, following its "
        "tenant's approval route. Readers with `read:payouts` see every request; a manager or "
        "named approver sees the requests they decide. Filter by `status` and `period`.",
        parameters=list_parameters(RequestFilter),
        responses=RequestSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        rows = approvals.request_list(principal=request_principal(request))
        return paginate(self, request, rows, RequestSerializer, filterset=RequestFilter)


class ApprovalDetailView(TenantAPIView):
    """One approval request with its steps and decisions."""

    permission = READ

    @extend_schema(
        tags=TAGS,
        summary="Get an approval request",
        description="The request with each step of its route (its state, who decides it, the "
        "approvals so far on the current step) and every decision (who, when, comment).",
        responses=RequestDetailSerializer,
    )
    def get(self, request: Request, request_id: int) -> Response:
        item = approvals.request_get(principal=request_principal(request), request_id=request_id)
        return Response(RequestDetailSerializer(item).data)


def _decider(request: Request, request_id: int) -> Any:
    principal = request_principal(request)
    approvals.request_get(principal=principal, request_id=request_id)
    if principal.api_client_id is not None and not principal.has("payouts.approve"):
        raise PermissionDeniedError(CLIENT_DECIDES, details={"guard": "scope"})
    return principal


class ApprovalApproveView(TenantAPIView):
    """Approve the request's current step."""

    permission = READ

    @extend_schema(
        tags=TAGS,
        summary="Approve the current step of an approval request",
        description="Records your approval of the step the request waits on; a complete step "
        "moves the request to the next. Approving the last (finance) step approves the period "
        "with the reviewed run: its lines enter the ledger and its statements are frozen. "
        + _GUARDS,
        request=DecisionInput,
        responses=RequestDetailSerializer,
        examples=[OpenApiExample("Looks right", value={"comment": "Checked the top 10"})],
    )
    def post(self, request: Request, request_id: int) -> Response:
        principal = _decider(request, request_id)
        data = _valid(DecisionInput, request)
        item = approvals.approval_approve(
            request_id=request_id,
            principal=principal,
            comment=data.get("comment", ""),
            early=data.get("early", False),
        )
        return Response(RequestDetailSerializer(item).data)


class ApprovalRejectView(TenantAPIView):
    """Reject the request at its current step, saying why."""

    permission = READ

    @extend_schema(
        tags=TAGS,
        summary="Reject an approval request (comment required)",
        description="Any approver of the current step may reject: the request ends rejected and "
        "the period goes back to calculated with the comment; a new submission starts a new "
        "request. " + _GUARDS,
        request=RejectInput,
        responses=RequestDetailSerializer,
        examples=[OpenApiExample("Split missing", value={"comment": "The Acme split is missing"})],
    )
    def post(self, request: Request, request_id: int) -> Response:
        principal = _decider(request, request_id)
        data = _valid(RejectInput, request)
        item = approvals.approval_reject(
            request_id=request_id, principal=principal, comment=data["comment"]
        )
        return Response(RequestDetailSerializer(item).data)


# --- routes -------------------------------------------------------------------------------------


class RouteFilter(FilterSet):
    ordering = Ordering(fields=("name", "created_at", "id"))


class ApprovalRouteListView(TenantAPIView):
    """The tenant's approval routes; POST creates one."""

    permission = ROUTES_READ
    write_permission = ROUTES_WRITE

    @extend_schema(
        tags=TAGS,
        summary="List approval routes",
        description="Each route with its steps in order. Without any, periods follow the "
        "built-in route (comp admin review, then finance approval), written on first use.",
        parameters=list_parameters(RouteFilter),
        responses=RouteSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        return paginate(
            self, request, approvals.route_list(), RouteSerializer, filterset=RouteFilter
        )

    @extend_schema(
        tags=TAGS,
        summary="Create an approval route",
        description="At least one step; the last must be `finance` (only finance approves "
        "money). A `user` step names one active member. Scope by `plan` or `business_unit` "
        "(not both), or mark it `is_default`.",
        request=RouteInput,
        responses={201: RouteSerializer},
        examples=[
            OpenApiExample(
                "Three levels",
                value={
                    "name": "Sales: manager, comp, finance",
                    "is_default": True,
                    "remind_after_hours": 24,
                    "steps": [
                        {"name": "Manager review", "approver_kind": "manager"},
                        {"name": "Comp admin review", "approver_kind": "comp_admin"},
                        {"name": "Finance approval", "approver_kind": "finance"},
                    ],
                },
                request_only=True,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        data = _valid(RouteInput, request)
        route = approvals.route_configure(
            principal=request_principal(request), **_route_fields(data)
        )
        return Response(RouteSerializer(route).data, status=status.HTTP_201_CREATED)


class ApprovalRouteDetailView(TenantAPIView):
    """One approval route: read, replace (PUT), delete."""

    permission = ROUTES_READ
    write_permission = ROUTES_WRITE

    @extend_schema(tags=TAGS, summary="Get an approval route", responses=RouteSerializer)
    def get(self, request: Request, route_id: int) -> Response:
        return Response(RouteSerializer(approvals.route_get(route_id=route_id)).data)

    @extend_schema(
        tags=TAGS,
        summary="Replace an approval route",
        description="New steps retire the old ones (decisions keep theirs). A route with a "
        "pending request keeps its steps: 409 `route_in_use`.",
        request=RouteInput,
        responses=RouteSerializer,
    )
    def put(self, request: Request, route_id: int) -> Response:
        approvals.route_get(route_id=route_id)
        data = _valid(RouteInput, request)
        route = approvals.route_configure(
            principal=request_principal(request), route_id=route_id, **_route_fields(data)
        )
        return Response(RouteSerializer(route).data)

    @extend_schema(
        tags=TAGS,
        summary="Delete an approval route",
        description="Only a route no request has followed: otherwise 409 "
        "`route_has_history` (it stays as their history).",
        request=None,
        responses={204: None},
    )
    def delete(self, request: Request, route_id: int) -> Response:
        approvals.route_get(route_id=route_id)
        approvals.route_delete(principal=request_principal(request), route_id=route_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
