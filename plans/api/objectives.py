"""Objectives API (``/api/v1/objectives/``): MBO objectives per person and period, and their
life (set, submit, sign off, reopen). Thin views over ``plans.objectives`` and its selectors;
the access policy decides who reads and who changes which (docs/objectives.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.base import TenantAPIView
from core.api.filters import list_parameters
from core.api.pagination import paginate
from hierarchy.access import request_access
from plans import objectives as services
from plans import objectives_selectors as selectors
from plans.api import filters
from plans.models import Objective

ID_MAX = 2**63 - 1


class ObjectiveSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    person_name = serializers.CharField(source="person.full_name", read_only=True)
    period_label = serializers.CharField(source="period.label", read_only=True)
    plan_name = serializers.SerializerMethodField()

    class Meta:
        model = Objective
        fields = [
            "id",
            "person",
            "person_name",
            "period",
            "period_label",
            "plan",
            "plan_name",
            "component",
            "title",
            "description",
            "weight",
            "completion",
            "status",
            "comment",
            "created_at",
            "created_by",
            "updated_at",
            "set_at",
            "set_by",
            "submitted_at",
            "submitted_by",
            "signed_off_at",
            "signed_off_by",
            "reopened_at",
            "reopened_by",
            "reopen_reason",
        ]

    def get_plan_name(self, obj: Objective) -> str:
        return obj.plan.name if obj.plan is not None else ""


class ObjectiveCreateSerializer(serializers.Serializer):  # type: ignore[type-arg]
    person_id = serializers.IntegerField(min_value=1, max_value=ID_MAX)
    period_id = serializers.IntegerField(min_value=1, max_value=ID_MAX)
    plan_id = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=ID_MAX
    )
    component = serializers.CharField(required=False, allow_blank=True, max_length=64)
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    weight = serializers.DecimalField(max_digits=5, decimal_places=2)


class ObjectiveUpdateSerializer(serializers.Serializer):  # type: ignore[type-arg]
    title = serializers.CharField(required=False, max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    weight = serializers.DecimalField(required=False, max_digits=5, decimal_places=2)
    plan_id = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=ID_MAX
    )
    component = serializers.CharField(required=False, allow_blank=True, max_length=64)
    completion = serializers.DecimalField(
        required=False, allow_null=True, max_digits=5, decimal_places=2
    )


class SubmitSerializer(serializers.Serializer):  # type: ignore[type-arg]
    completion = serializers.DecimalField(
        required=False, allow_null=True, max_digits=5, decimal_places=2
    )


class CommentSerializer(serializers.Serializer):  # type: ignore[type-arg]
    comment = serializers.CharField(allow_blank=True, max_length=2000)


class ReopenSerializer(serializers.Serializer):  # type: ignore[type-arg]
    reason = serializers.CharField(max_length=500)


def _done(objective: Objective, code: int = status.HTTP_200_OK) -> Response:
    return Response(ObjectiveSerializer(objective).data, status=code)


def _valid(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:  # type: ignore[type-arg]
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _act(
    request: Request,
    objective_id: int,
    service: Callable[..., Objective],
    serializer_class: type[serializers.Serializer] | None = None,  # type: ignore[type-arg]
) -> Response:
    """Check the objective is visible (404 otherwise), validate the body, call ``service``
    with it (its fields are the service's keyword arguments) and answer the objective."""
    access = request_access(request)
    selectors.objective_get(access=access, objective_id=objective_id)
    data = _valid(serializer_class, request) if serializer_class is not None else {}
    return _done(service(access=access, objective_id=objective_id, **data))


EXAMPLE = OpenApiExample(
    "A sales objective on the plan's MBO component",
    value={
        "person_id": 12,
        "period_id": 7,
        "plan_id": 3,
        "component": "mbo",
        "title": "Launch the partner program in DACH",
        "description": "Three signed partners by quarter end.",
        "weight": "40.00",
    },
    request_only=True,
)


class ObjectiveListView(TenantAPIView):
    """MBO objectives per person and period, as the access policy lets you see them (an
    employee their own, a manager their team's as of the period, a comp admin everyone's);
    POST creates a draft (a comp admin for anyone, a manager for their team, never their own)."""

    permission = selectors.READERS
    write_permission = selectors.WRITERS

    @extend_schema(
        summary="List objectives",
        description="Filter by person, period, plan or status (draft, set, submitted, "
        "signed_off). An employee sees her own, a manager her team's as of each period, a comp "
        "admin everyone's.",
        parameters=list_parameters(filters.ObjectiveFilter),
        responses=ObjectiveSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        qs = selectors.objective_list(access=request_access(request))
        return paginate(self, request, qs, ObjectiveSerializer, filterset=filters.ObjectiveFilter)

    @extend_schema(
        summary="Create a draft objective",
        description="A draft objective for a person and period, linked to a plan's mbo "
        "component (plan_id and component; the component may be left out when the plan has "
        "one) or ad hoc (neither). The weights of one group (the person's objectives of one "
        "component in the period) may not exceed 100 %.",
        request=ObjectiveCreateSerializer,
        responses={201: ObjectiveSerializer},
        examples=[EXAMPLE],
    )
    def post(self, request: Request) -> Response:
        data = _valid(ObjectiveCreateSerializer, request)
        objective = services.objective_create(access=request_access(request), **data)
        return _done(objective, status.HTTP_201_CREATED)


class ObjectiveDetailView(TenantAPIView):
    """One objective; change a draft's definition or an agreed one's completion; delete a
    draft."""

    permission = selectors.READERS
    write_permission = selectors.WRITERS

    @extend_schema(
        summary="Get an objective",
        description="One objective with its status and who set, submitted and signed it off.",
        responses=ObjectiveSerializer,
    )
    def get(self, request: Request, objective_id: int) -> Response:
        found = selectors.objective_get(access=request_access(request), objective_id=objective_id)
        return _done(found)

    @extend_schema(
        summary="Change an objective",
        description="A draft's title, description, weight or plan link; a set or submitted "
        "objective's completion %. A signed-off objective answers 409: reopen it first.",
        request=ObjectiveUpdateSerializer,
        responses=ObjectiveSerializer,
        examples=[OpenApiExample("Completion", value={"completion": "80"}, request_only=True)],
    )
    def patch(self, request: Request, objective_id: int) -> Response:
        return _act(request, objective_id, services.objective_update, ObjectiveUpdateSerializer)

    @extend_schema(
        summary="Delete a draft objective",
        description="Only a draft never agreed can be deleted; anything else answers 409.",
        responses={204: None},
    )
    def delete(self, request: Request, objective_id: int) -> Response:
        access = request_access(request)
        selectors.objective_get(access=access, objective_id=objective_id)
        services.objective_delete(access=access, objective_id=objective_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ObjectiveSetView(TenantAPIView):
    """Agree an objective and the other drafts of its group."""

    permission = selectors.WRITERS

    @extend_schema(
        summary="Set (agree) an objective",
        description="Sets the objective and every other draft of its group (the person's "
        "objectives of one plan component in the period, or their ad hoc ones). Their weights "
        "must sum to exactly 100 %, else 400 with the total.",
        request=None,
        responses=ObjectiveSerializer,
    )
    def post(self, request: Request, objective_id: int) -> Response:
        return _act(request, objective_id, services.objective_set)


class ObjectiveSubmitView(TenantAPIView):
    """Submit a set objective's completion."""

    permission = selectors.WRITERS

    @extend_schema(
        summary="Submit an objective's completion",
        description="A set objective's completion % (0 to 200, given here or entered before) is "
        "submitted for sign-off.",
        request=SubmitSerializer,
        responses=ObjectiveSerializer,
        examples=[OpenApiExample("80 % done", value={"completion": "80"}, request_only=True)],
    )
    def post(self, request: Request, objective_id: int) -> Response:
        return _act(request, objective_id, services.objective_submit, SubmitSerializer)


class ObjectiveSignOffView(TenantAPIView):
    """Sign off a submitted objective."""

    permission = selectors.WRITERS

    @extend_schema(
        summary="Sign off an objective's completion",
        description="From then on calculation runs pay the plan's mbo component on this "
        "completion. Nobody signs off their own objectives (403).",
        request=None,
        responses=ObjectiveSerializer,
    )
    def post(self, request: Request, objective_id: int) -> Response:
        return _act(request, objective_id, services.objective_sign_off)


class ObjectiveReopenView(TenantAPIView):
    """Reopen an objective, with a reason."""

    permission = selectors.WRITERS

    @extend_schema(
        summary="Reopen an objective",
        description="A signed-off objective goes back to submitted (runs stop paying on it "
        "until it is signed off again); a set or submitted one back to draft. The reason is "
        "required and kept.",
        request=ReopenSerializer,
        responses=ObjectiveSerializer,
        examples=[
            OpenApiExample("A late correction", value={"reason": "Deal slipped"}, request_only=True)
        ],
    )
    def post(self, request: Request, objective_id: int) -> Response:
        return _act(request, objective_id, services.objective_reopen, ReopenSerializer)


class ObjectiveCommentView(TenantAPIView):
    """The person's own comment on one of their objectives."""

    permission = selectors.READERS

    @extend_schema(
        summary="Comment on your own objective",
        description="The person whose objective it is (and nobody else: 403) adds or replaces "
        "their comment, at any status; an empty comment clears it.",
        request=CommentSerializer,
        responses=ObjectiveSerializer,
        examples=[
            OpenApiExample(
                "A note",
                value={"comment": "Two partners signed, third in legal"},
                request_only=True,
            )
        ],
    )
    def post(self, request: Request, objective_id: int) -> Response:
        return _act(request, objective_id, services.objective_comment, CommentSerializer)
