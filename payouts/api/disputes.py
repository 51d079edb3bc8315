"""Disputes API: payees question a number, managers and comp admins answer.

Thin views over ``payouts/disputes.py``: each calls one service or selector, which hold the
guards (a payee raises only on her own pay; the assignee, comp admins and finance answer; the
payee withdraws). Reading takes any payouts read permission (``payouts.view`` for comp admins,
finance and ``read:payouts`` clients; ``payouts.view.team`` for managers; ``payouts.view.self``
for payees) and shows only the questions the access policy lets the principal see; writing takes
``disputes.write`` (every member who reads pay; API clients with ``write:payouts``). Another
tenant's question, or one not yours, is a 404.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.base import TenantAPIView
from core.api.filters import (
    BooleanFilter,
    CharFilter,
    ChoiceFilter,
    FilterSet,
    IdFilter,
    Ordering,
)
from core.api.filters import list_parameters as _list_parameters
from core.api.pagination import paginate
from core.permissions import DISPUTE_WRITE
from core.tenancy import get_current_tenant
from hierarchy.access import request_access
from hierarchy.periods import tenant_today
from payouts import disputes
from payouts.models import (
    Dispute,
    DisputeComment,
    DisputeEvent,
    DisputeQueue,
    DisputeStatus,
    DisputeSubject,
)

READ = ("payouts.view", "payouts.view.team", "payouts.view.self")
TAGS = ["Disputes"]
STATUS_FILTER = [*DisputeStatus.choices, ("active", "Open or in review")]


# --- serializers --------------------------------------------------------------------------------


class DisputeCommentSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = DisputeComment
        fields = ["id", "author", "author_label", "body", "created_at"]


class DisputeEventSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = DisputeEvent
        fields = ["id", "kind", "actor", "actor_label", "status", "note", "created_at"]


class DisputeSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    ref = serializers.CharField(read_only=True, help_text="Q-<number>")
    age_days = serializers.SerializerMethodField(help_text="Calendar days since it was raised")
    overdue = serializers.SerializerMethodField(help_text="Past its SLA day and not answered")
    business_days_left = serializers.SerializerMethodField(
        help_text="Business days until the SLA day (negative: overdue by)"
    )
    adjustment_status = serializers.SerializerMethodField(
        help_text="The linked adjustment's status (pending, approved, rejected) or null"
    )

    class Meta:
        model = Dispute
        fields = [
            "id",
            "ref",
            "number",
            "person",
            "period",
            "raised_by",
            "raised_by_label",
            "subject_kind",
            "line",
            "trace_step",
            "trace_step_snapshot",
            "credit",
            "missing_external_id",
            "missing_description",
            "missing_amount",
            "missing_currency",
            "missing_date",
            "reason_code",
            "reason_label",
            "description",
            "queue",
            "assignee",
            "status",
            "raised_at",
            "sla_due",
            "age_days",
            "business_days_left",
            "overdue",
            "resolution",
            "data_correction",
            "adjustment",
            "adjustment_status",
            "decided_by",
            "decided_at",
            "updated_at",
        ]

    def get_age_days(self, obj: Dispute) -> int:
        return disputes.dispute_age(obj).days

    def get_overdue(self, obj: Dispute) -> bool:
        return disputes.dispute_age(obj).overdue

    def get_business_days_left(self, obj: Dispute) -> int:
        return disputes.dispute_age(obj).business_days_left

    def get_adjustment_status(self, obj: Dispute) -> str | None:
        return obj.adjustment.status if obj.adjustment_id and obj.adjustment else None


class DisputeDetailSerializer(DisputeSerializer):
    comments = DisputeCommentSerializer(many=True, read_only=True)
    events = DisputeEventSerializer(many=True, read_only=True)

    class Meta(DisputeSerializer.Meta):
        fields = [*DisputeSerializer.Meta.fields, "comments", "events"]


# --- filters ------------------------------------------------------------------------------------


def _status(queryset: QuerySet[Any], name: str, value: Any) -> QuerySet[Any]:
    if value == "active":
        return queryset.filter(status__in=disputes.ACTIVE)
    return queryset.filter(status=value) if value else queryset


def _overdue(queryset: QuerySet[Any], name: str, value: Any) -> QuerySet[Any]:
    if value is None:
        return queryset
    late = Q(status__in=disputes.ACTIVE, sla_due__lt=tenant_today(get_current_tenant()))
    return queryset.filter(late) if value else queryset.exclude(late)


class DisputeFilter(FilterSet):
    status = ChoiceFilter(choices=STATUS_FILTER, method=_status, help_text="A status or `active`")
    period = IdFilter(field_name="period_id", help_text="Period id")
    person = IdFilter(field_name="person_id", help_text="Person (payee) id")
    queue = ChoiceFilter(choices=DisputeQueue.choices)
    subject_kind = ChoiceFilter(choices=DisputeSubject.choices)
    reason_code = CharFilter(field_name="reason_code", help_text="A reason code")
    assignee = IdFilter(field_name="assignee_id", help_text="User id of the assignee")
    overdue = BooleanFilter(method=_overdue, help_text="Past its SLA day and not answered")
    ordering = Ordering(fields=("raised_at", "sla_due", "number", "updated_at"))


def list_parameters() -> Any:
    return _list_parameters(DisputeFilter)


def _access(request: Request) -> Any:
    return request_access(request)


def _valid(serializer_class: Any, request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _detail(request: Request, dispute_id: int) -> Response:
    dispute = disputes.dispute_get(access=_access(request), dispute_id=dispute_id)
    return Response(DisputeDetailSerializer(dispute).data)


# --- views --------------------------------------------------------------------------------------


class DisputeListView(TenantAPIView):
    """The questions you may read; POST raises one."""

    permission = READ
    write_permission = DISPUTE_WRITE

    class InputSerializer(serializers.Serializer):  # type: ignore[type-arg]
        subject_kind = serializers.ChoiceField(choices=DisputeSubject.choices)
        line = serializers.IntegerField(
            required=False, allow_null=True, help_text="Payout line (kinds line, step)"
        )
        trace_step = serializers.IntegerField(
            required=False, allow_null=True, min_value=0, help_text="Index in the line's trace"
        )
        credit = serializers.IntegerField(required=False, allow_null=True)
        period = serializers.IntegerField(
            required=False, allow_null=True, help_text="Period (kind missing)"
        )
        person = serializers.IntegerField(
            required=False, allow_null=True, help_text="Payee (kind missing; default: you)"
        )
        missing_external_id = serializers.CharField(
            max_length=200, required=False, allow_blank=True
        )
        missing_description = serializers.CharField(
            max_length=500, required=False, allow_blank=True
        )
        missing_amount = serializers.DecimalField(
            max_digits=20, decimal_places=4, required=False, allow_null=True
        )
        missing_currency = serializers.CharField(max_length=3, required=False, allow_blank=True)
        missing_date = serializers.DateField(required=False, allow_null=True)
        reason_code = serializers.CharField(max_length=40)
        description = serializers.CharField(max_length=disputes.DESCRIPTION_LIMIT)

    @extend_schema(
        tags=TAGS,
        summary="List questions",
        description="Questions about pay the principal may read: a payee her own, a manager "
        "her team's (as the team stood in each question's period) and those assigned to her, "
        "comp admins and finance everyone's. Each carries its age against its SLA.",
        parameters=list_parameters(),
        responses=DisputeSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        rows = disputes.dispute_list(access=_access(request))
        return paginate(self, request, rows, DisputeSerializer, filterset=DisputeFilter)

    @extend_schema(
        tags=TAGS,
        summary="Raise a question",
        description="Question a statement line, one step of its trace, a credit, or a missing "
        "transaction. It is routed by its reason (credit and missing-deal questions to the "
        "payee's manager as of the period, others to the comp admins) and gets an SLA day. "
        "A payee may raise only on her own pay: anything else is a 404.",
        request=InputSerializer,
        responses={201: DisputeDetailSerializer},
        examples=[
            OpenApiExample(
                "A step of a line's calculation",
                value={
                    "subject_kind": "step",
                    "line": 812,
                    "trace_step": 2,
                    "reason_code": "rate_tier",
                    "description": "I passed 100 %; this should be the accelerated rate.",
                },
                request_only=True,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        data = _valid(self.InputSerializer, request)
        subject = disputes.Subject(
            kind=data["subject_kind"],
            line_id=data.get("line"),
            trace_step=data.get("trace_step"),
            credit_id=data.get("credit"),
            period_id=data.get("period"),
            person_id=data.get("person"),
            missing_external_id=data.get("missing_external_id") or "",
            missing_description=data.get("missing_description") or "",
            missing_amount=data.get("missing_amount"),
            missing_currency=data.get("missing_currency") or "",
            missing_date=data.get("missing_date"),
        )
        dispute = disputes.dispute_raise(
            access=_access(request),
            subject=subject,
            reason_code=data["reason_code"],
            description=data["description"],
        )
        return Response(DisputeDetailSerializer(dispute).data, status=status.HTTP_201_CREATED)


class DisputeDetailView(TenantAPIView):
    """One question with its comments and history."""

    permission = READ

    @extend_schema(
        tags=TAGS,
        summary="Get a question",
        description="The question, its subject, its comments and its history.",
        responses=DisputeDetailSerializer,
    )
    def get(self, request: Request, dispute_id: int) -> Response:
        return _detail(request, dispute_id)


class DisputeCommentsView(TenantAPIView):
    """A question's comments; POST adds one."""

    permission = READ
    write_permission = DISPUTE_WRITE

    class InputSerializer(serializers.Serializer):  # type: ignore[type-arg]
        body = serializers.CharField(max_length=disputes.DESCRIPTION_LIMIT)

    @extend_schema(
        tags=TAGS,
        summary="List a question's comments",
        description="Oldest first; comments never change.",
        responses=DisputeCommentSerializer(many=True),
    )
    def get(self, request: Request, dispute_id: int) -> Response:
        dispute = disputes.dispute_get(access=_access(request), dispute_id=dispute_id)
        return Response(DisputeCommentSerializer(dispute.comments.all(), many=True).data)

    @extend_schema(
        tags=TAGS,
        summary="Comment on a question",
        description="Anyone who may read the question comments while it is open or in review; "
        "an answer from someone other than the payee puts an open question in review.",
        request=InputSerializer,
        responses={201: DisputeCommentSerializer},
    )
    def post(self, request: Request, dispute_id: int) -> Response:
        data = _valid(self.InputSerializer, request)
        comment = disputes.dispute_comment(
            access=_access(request), dispute_id=dispute_id, body=data["body"]
        )
        return Response(DisputeCommentSerializer(comment).data, status=status.HTTP_201_CREATED)


class DisputeAssignView(TenantAPIView):
    """Give a question to someone (or back to the comp admins' queue)."""

    permission = READ
    write_permission = DISPUTE_WRITE

    class InputSerializer(serializers.Serializer):  # type: ignore[type-arg]
        assignee = serializers.IntegerField(
            allow_null=True, help_text="User id of a manager, comp admin or finance; null: queue"
        )
        note = serializers.CharField(max_length=500, required=False, allow_blank=True)

    @extend_schema(
        tags=TAGS,
        summary="Assign a question",
        description="Comp admins, finance or the current assignee give the question to a "
        "member who answers questions, or (null) back to the comp admins' queue.",
        request=InputSerializer,
        responses=DisputeDetailSerializer,
    )
    def post(self, request: Request, dispute_id: int) -> Response:
        data = _valid(self.InputSerializer, request)
        disputes.dispute_assign(
            access=_access(request),
            dispute_id=dispute_id,
            assignee_user_id=data["assignee"],
            note=data.get("note") or "",
        )
        return _detail(request, dispute_id)


class DisputeResolveView(TenantAPIView):
    """Resolve a question, optionally asking for an adjustment."""

    permission = READ
    write_permission = DISPUTE_WRITE

    class InputSerializer(serializers.Serializer):  # type: ignore[type-arg]
        resolution = serializers.CharField(max_length=disputes.DESCRIPTION_LIMIT)
        adjustment_amount = serializers.DecimalField(
            max_digits=20,
            decimal_places=4,
            required=False,
            allow_null=True,
            help_text="Ask for an adjustment of this amount (it still needs its approval)",
        )
        adjustment_currency = serializers.CharField(max_length=3, required=False, allow_blank=True)
        adjustment_period = serializers.IntegerField(
            required=False,
            allow_null=True,
            help_text="The period it goes into (default: the payee's next open one)",
        )
        data_correction = serializers.CharField(
            max_length=disputes.DESCRIPTION_LIMIT, required=False, allow_blank=True
        )

    @extend_schema(
        tags=TAGS,
        summary="Resolve a question",
        description="The assignee, a comp admin or finance resolves it, saying how. With "
        "`adjustment_amount` an adjustment is requested through the ledger (someone other "
        "than the resolver approves it; approved, it is in the payee's next statement) and "
        "linked to the question both ways; or note the data correction made.",
        request=InputSerializer,
        responses=DisputeDetailSerializer,
        examples=[
            OpenApiExample(
                "With an adjustment",
                value={"resolution": "The 70/30 split was agreed.", "adjustment_amount": "420.00"},
                request_only=True,
            )
        ],
    )
    def post(self, request: Request, dispute_id: int) -> Response:
        data = _valid(self.InputSerializer, request)
        ask = None
        if data.get("adjustment_amount") is not None:
            ask = disputes.AdjustmentAsk(
                amount=data["adjustment_amount"],
                currency=data.get("adjustment_currency") or "",
                period_id=data.get("adjustment_period"),
            )
        disputes.dispute_resolve(
            access=_access(request),
            dispute_id=dispute_id,
            resolution=data["resolution"],
            adjustment=ask,
            data_correction=data.get("data_correction") or "",
        )
        return _detail(request, dispute_id)


class DisputeRejectView(TenantAPIView):
    """Reject a question, saying why."""

    permission = READ
    write_permission = DISPUTE_WRITE

    class InputSerializer(serializers.Serializer):  # type: ignore[type-arg]
        reason = serializers.CharField(max_length=disputes.DESCRIPTION_LIMIT)

    @extend_schema(
        tags=TAGS,
        summary="Reject a question",
        description="The assignee, a comp admin or finance rejects it with a reason the payee "
        "reads.",
        request=InputSerializer,
        responses=DisputeDetailSerializer,
    )
    def post(self, request: Request, dispute_id: int) -> Response:
        data = _valid(self.InputSerializer, request)
        disputes.dispute_reject(
            access=_access(request), dispute_id=dispute_id, reason=data["reason"]
        )
        return _detail(request, dispute_id)


class DisputeWithdrawView(TenantAPIView):
    """Withdraw a question (the payee)."""

    permission = READ
    write_permission = DISPUTE_WRITE

    class InputSerializer(serializers.Serializer):  # type: ignore[type-arg]
        note = serializers.CharField(max_length=500, required=False, allow_blank=True)

    @extend_schema(
        tags=TAGS,
        summary="Withdraw a question",
        description="The payee (or whoever raised it) withdraws a question still open or in "
        "review.",
        request=InputSerializer,
        responses=DisputeDetailSerializer,
    )
    def post(self, request: Request, dispute_id: int) -> Response:
        data = _valid(self.InputSerializer, request)
        disputes.dispute_withdraw(
            access=_access(request), dispute_id=dispute_id, note=data.get("note") or ""
        )
        return _detail(request, dispute_id)
