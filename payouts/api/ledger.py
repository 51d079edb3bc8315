"""Ledger and period-lifecycle API: ledger entries (read), adjustments, draws, holds, clawbacks,
and the period transitions. Thin views: each calls one service or selector of
``payouts/ledger.py`` / ``payouts/lifecycle.py``; the services hold the guards and the roles, and
their refusals come back in the error envelope naming the guard (``details.guard``).

Reading the ledger takes ``payouts.view`` (comp admin, finance, executive, tenant admin,
``read:payouts`` clients), limited to a node-scoped member's people; an employee
(``payouts.view.self``) reads their own entries. Writing needs ``payouts.view`` at the door and
the service's role inside (finance decides; comp admins request adjustments and submit periods).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.base import TenantAPIView
from core.api.filters import (
    ChoiceFilter,
    FilterSet,
    IdFilter,
    Ordering,
    list_parameters,
)
from core.api.pagination import paginate
from core.errors import NotFoundError
from hierarchy.access import request_access
from hierarchy.api.people_views import PeriodSerializer
from hierarchy.models import Period, Person
from payouts import ledger, lifecycle
from payouts.models import (
    Adjustment,
    AdjustmentStatus,
    Draw,
    EntryKind,
    Hold,
    HoldStatus,
    LedgerEntry,
)

READ = ("payouts.view", "payouts.view.self")
WRITE = "payouts.view"
LEDGER = ["Ledger"]
LIFECYCLE = ["Periods"]


def _visible_people(request: Request) -> QuerySet[Person] | None:
    """Return the people whose ledger the principal may read (None: everyone)."""
    access = request_access(request)
    principal = access.principal
    if principal.has("payouts.view"):
        return None if not access.node_limited else access.current_people()
    if principal.has("payouts.view.self") and principal.user_id is not None:
        return Person.objects.filter(user_id=principal.user_id)
    return Person.objects.none()


def _scoped(request: Request, queryset: QuerySet[Any]) -> QuerySet[Any]:
    people = _visible_people(request)
    return queryset if people is None else queryset.filter(person__in=people.values("pk"))


def _get(request: Request, queryset: QuerySet[Any], pk: int) -> Any:
    obj = _scoped(request, queryset).filter(pk=pk).first()
    if obj is None:
        raise NotFoundError("Not found.")
    return obj


def _principal(request: Request) -> Any:
    return request_access(request).principal


# --- serializers --------------------------------------------------------------------------------


class LedgerEntrySerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = LedgerEntry
        fields = [
            "id",
            "person",
            "period",
            "kind",
            "amount",
            "currency",
            "plan",
            "component_id",
            "run",
            "line",
            "corrects",
            "rate",
            "recoverable",
            "approval",
            "hold",
            "memo",
            "created_by",
            "created_at",
        ]


class AdjustmentSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = Adjustment
        fields = [
            "id",
            "person",
            "period",
            "amount",
            "currency",
            "reason",
            "plan",
            "component_id",
            "corrects",
            "status",
            "requested_by",
            "requested_at",
            "approver",
            "decided_at",
            "decision_note",
            "entry",
        ]


class DrawSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = Draw
        fields = [
            "id",
            "person",
            "period",
            "amount",
            "currency",
            "recoverable",
            "reason",
            "created_by",
            "created_at",
            "entry",
        ]


class HoldSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = Hold
        fields = [
            "id",
            "person",
            "line",
            "period",
            "reason",
            "status",
            "placed_by",
            "placed_at",
            "released_by",
            "released_at",
            "release_note",
        ]


# --- filters ------------------------------------------------------------------------------------


class EntryFilter(FilterSet):
    period = IdFilter(field_name="period_id", help_text="Period id")
    person = IdFilter(field_name="person_id", help_text="Person id")
    run = IdFilter(field_name="run_id", help_text="Run id")
    kind = ChoiceFilter(choices=EntryKind.choices)
    ordering = Ordering(fields=("created_at", "amount", "id"))


class AdjustmentFilter(FilterSet):
    period = IdFilter(field_name="period_id", help_text="Period id")
    person = IdFilter(field_name="person_id", help_text="Person id")
    status = ChoiceFilter(choices=AdjustmentStatus.choices)
    ordering = Ordering(fields=("requested_at", "amount", "id"))


class DrawFilter(FilterSet):
    period = IdFilter(field_name="period_id", help_text="Period id")
    person = IdFilter(field_name="person_id", help_text="Person id")
    ordering = Ordering(fields=("created_at", "amount", "id"))


class HoldFilter(FilterSet):
    person = IdFilter(field_name="person_id", help_text="Person id")
    status = ChoiceFilter(choices=HoldStatus.choices)
    ordering = Ordering(fields=("placed_at", "id"))


# --- ledger entries -----------------------------------------------------------------------------


class LedgerEntryListView(TenantAPIView):
    """The append-only ledger: every movement of money owed (read only)."""

    permission = READ

    @extend_schema(
        tags=LEDGER,
        summary="List ledger entries",
        description="Earned, adjustment, draw, draw recovery, clawback, hold, release and paid "
        "entries. Entries never change: a correction is a new entry whose `corrects` names "
        "the original.",
        parameters=list_parameters(EntryFilter),
        responses=LedgerEntrySerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        rows = _scoped(request, ledger.entry_list())
        return paginate(self, request, rows, LedgerEntrySerializer, filterset=EntryFilter)


class LedgerEntryDetailView(TenantAPIView):
    """One ledger entry: kind, signed amount, currency, rate and what it corrects."""

    permission = READ

    @extend_schema(tags=LEDGER, summary="Get a ledger entry", responses=LedgerEntrySerializer)
    def get(self, request: Request, entry_id: int) -> Response:
        entry = _get(request, LedgerEntry.objects.all(), entry_id)
        return Response(LedgerEntrySerializer(entry).data)


class ClawbackView(TenantAPIView):
    """Claw back part of an earned entry at the rate it paid (finance)."""

    permission = WRITE

    class InputSerializer(serializers.Serializer):  # type: ignore[type-arg]
        entry = serializers.IntegerField(help_text="The earned entry clawed back")
        period = serializers.IntegerField(help_text="An open period the clawback goes into")
        reversed_amount = serializers.DecimalField(max_digits=20, decimal_places=4)
        reason = serializers.CharField(max_length=500)

    @extend_schema(
        tags=LEDGER,
        summary="Claw back at the original rate",
        request=InputSerializer,
        responses={201: LedgerEntrySerializer},
        examples=[
            OpenApiExample(
                "A cancelled deal",
                value={"entry": 41, "period": 7, "reversed_amount": "2500.00", "reason": "Churn"},
                request_only=True,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        data = _valid(self.InputSerializer, request)
        entry = ledger.clawback_record(
            principal=_principal(request),
            entry_id=data["entry"],
            period_id=data["period"],
            reversed_amount=data["reversed_amount"],
            reason=data["reason"],
        )
        return Response(LedgerEntrySerializer(entry).data, status=status.HTTP_201_CREATED)


def _valid(serializer_class: Any, request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


# --- adjustments --------------------------------------------------------------------------------


class AdjustmentListView(TenantAPIView):
    """Manual adjustments; POST requests one (comp admin or finance)."""

    permission = READ
    write_permission = WRITE

    class InputSerializer(serializers.Serializer):  # type: ignore[type-arg]
        person = serializers.IntegerField()
        period = serializers.IntegerField(help_text="A period not yet approved")
        amount = serializers.DecimalField(max_digits=20, decimal_places=4)
        currency = serializers.CharField(max_length=3)
        reason = serializers.CharField(max_length=500)
        plan = serializers.IntegerField(required=False, allow_null=True)
        component_id = serializers.CharField(max_length=100, required=False, allow_blank=True)
        corrects = serializers.IntegerField(
            required=False,
            allow_null=True,
            help_text="The entry (e.g. of a closed period) corrected",
        )

    @extend_schema(
        tags=LEDGER,
        summary="List adjustments",
        parameters=list_parameters(AdjustmentFilter),
        responses=AdjustmentSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        rows = _scoped(request, Adjustment.objects.all())
        return paginate(self, request, rows, AdjustmentSerializer, filterset=AdjustmentFilter)

    @extend_schema(
        tags=LEDGER,
        summary="Request an adjustment",
        description="Pending until someone other than the requester approves or rejects it.",
        request=InputSerializer,
        responses={201: AdjustmentSerializer},
        examples=[
            OpenApiExample(
                "A missed deal",
                value={
                    "person": 12,
                    "period": 7,
                    "amount": "125.50",
                    "currency": "USD",
                    "reason": "Deal booked after the cut-off",
                },
                request_only=True,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        data = _valid(self.InputSerializer, request)
        adjustment = ledger.adjustment_request(
            principal=_principal(request),
            person_id=data["person"],
            period_id=data["period"],
            amount=data["amount"],
            currency=data["currency"],
            reason=data["reason"],
            plan_id=data.get("plan"),
            component_id=data.get("component_id") or "",
            corrects_id=data.get("corrects"),
        )
        return Response(AdjustmentSerializer(adjustment).data, status=status.HTTP_201_CREATED)


class AdjustmentDetailView(TenantAPIView):
    """One adjustment with its requester, decision and ledger entry once approved."""

    permission = READ

    @extend_schema(tags=LEDGER, summary="Get an adjustment", responses=AdjustmentSerializer)
    def get(self, request: Request, adjustment_id: int) -> Response:
        return Response(
            AdjustmentSerializer(_get(request, Adjustment.objects.all(), adjustment_id)).data
        )


class _DecisionInput(serializers.Serializer):  # type: ignore[type-arg]
    note = serializers.CharField(max_length=500, required=False, allow_blank=True)


class AdjustmentApproveView(TenantAPIView):
    """Approve a pending adjustment (finance, and never the person who requested it): it becomes
    a ledger entry in its period."""

    permission = WRITE

    @extend_schema(
        tags=LEDGER,
        summary="Approve an adjustment (finance; not its requester)",
        request=_DecisionInput,
        responses=AdjustmentSerializer,
    )
    def post(self, request: Request, adjustment_id: int) -> Response:
        _get(request, Adjustment.objects.all(), adjustment_id)
        data = _valid(_DecisionInput, request)
        adjustment = ledger.adjustment_approve(
            adjustment_id=adjustment_id, principal=_principal(request), note=data.get("note", "")
        )
        return Response(AdjustmentSerializer(adjustment).data)


class AdjustmentRejectView(TenantAPIView):
    """Reject a pending adjustment with a note saying why; nothing reaches the ledger."""

    permission = WRITE

    @extend_schema(
        tags=LEDGER,
        summary="Reject an adjustment, saying why",
        request=_DecisionInput,
        responses=AdjustmentSerializer,
    )
    def post(self, request: Request, adjustment_id: int) -> Response:
        _get(request, Adjustment.objects.all(), adjustment_id)
        data = _valid(_DecisionInput, request)
        adjustment = ledger.adjustment_reject(
            adjustment_id=adjustment_id, principal=_principal(request), note=data.get("note", "")
        )
        return Response(AdjustmentSerializer(adjustment).data)


# --- draws --------------------------------------------------------------------------------------


class DrawListView(TenantAPIView):
    """Draws (advances); POST grants one (finance)."""

    permission = READ
    write_permission = WRITE

    class InputSerializer(serializers.Serializer):  # type: ignore[type-arg]
        person = serializers.IntegerField()
        period = serializers.IntegerField()
        amount = serializers.DecimalField(max_digits=20, decimal_places=4)
        currency = serializers.CharField(max_length=3)
        recoverable = serializers.BooleanField()
        reason = serializers.CharField(max_length=500)

    @extend_schema(
        tags=LEDGER,
        summary="List draws",
        parameters=list_parameters(DrawFilter),
        responses=DrawSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        rows = _scoped(request, Draw.objects.all())
        return paginate(self, request, rows, DrawSerializer, filterset=DrawFilter)

    @extend_schema(
        tags=LEDGER,
        summary="Grant a draw",
        request=InputSerializer,
        responses={201: DrawSerializer},
    )
    def post(self, request: Request) -> Response:
        data = _valid(self.InputSerializer, request)
        draw = ledger.draw_grant(
            principal=_principal(request),
            person_id=data["person"],
            period_id=data["period"],
            amount=data["amount"],
            currency=data["currency"],
            recoverable=data["recoverable"],
            reason=data["reason"],
        )
        return Response(DrawSerializer(draw).data, status=status.HTTP_201_CREATED)


class DrawDetailView(TenantAPIView):
    """One draw (advance): amount, whether it is recoverable, and its ledger entry."""

    permission = READ

    @extend_schema(tags=LEDGER, summary="Get a draw", responses=DrawSerializer)
    def get(self, request: Request, draw_id: int) -> Response:
        return Response(DrawSerializer(_get(request, Draw.objects.all(), draw_id)).data)


class DrawBalanceView(TenantAPIView):
    """The recoverable draw balances carried into a period (what the engine recovers from)."""

    permission = READ

    @extend_schema(
        tags=LEDGER,
        summary="Draw balances carried into a period",
        responses=inline_serializer(
            "DrawBalances",
            {
                "period": serializers.IntegerField(),
                "balances": serializers.DictField(child=serializers.DecimalField(20, 4)),
            },
        ),
    )
    def get(self, request: Request, period_id: int) -> Response:
        if not Period.objects.filter(pk=period_id).exists():
            raise NotFoundError("Period not found.")
        people = _visible_people(request)
        ids = None if people is None else list(people.values_list("pk", flat=True))
        balances = ledger.draw_balances(period_id=period_id, person_ids=ids)
        return Response({"period": period_id, "balances": {k: str(v) for k, v in balances.items()}})


# --- holds --------------------------------------------------------------------------------------


class HoldListView(TenantAPIView):
    """Holds on a person's (or one line's) payout; POST places one (finance)."""

    permission = READ
    write_permission = WRITE

    class InputSerializer(serializers.Serializer):  # type: ignore[type-arg]
        person = serializers.IntegerField()
        reason = serializers.CharField(max_length=500)
        line = serializers.IntegerField(required=False, allow_null=True)
        period = serializers.IntegerField(
            required=False, allow_null=True, help_text="Only this period (default: every period)"
        )

    @extend_schema(
        tags=LEDGER,
        summary="List holds",
        parameters=list_parameters(HoldFilter),
        responses=HoldSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        rows = _scoped(request, Hold.objects.all())
        return paginate(self, request, rows, HoldSerializer, filterset=HoldFilter)

    @extend_schema(
        tags=LEDGER,
        summary="Place a hold",
        request=InputSerializer,
        responses={201: HoldSerializer},
    )
    def post(self, request: Request) -> Response:
        data = _valid(self.InputSerializer, request)
        hold = ledger.hold_place(
            principal=_principal(request),
            person_id=data["person"],
            reason=data["reason"],
            line_id=data.get("line"),
            period_id=data.get("period"),
        )
        return Response(HoldSerializer(hold).data, status=status.HTTP_201_CREATED)


class HoldDetailView(TenantAPIView):
    """One hold on a person's (or one line's) payouts: reason, status, what it held."""

    permission = READ

    @extend_schema(tags=LEDGER, summary="Get a hold", responses=HoldSerializer)
    def get(self, request: Request, hold_id: int) -> Response:
        return Response(HoldSerializer(_get(request, Hold.objects.all(), hold_id)).data)


class HoldReleaseView(TenantAPIView):
    """Release an active hold: what it held is paid in an open period (the next one unless
    named)."""

    permission = WRITE

    class InputSerializer(serializers.Serializer):  # type: ignore[type-arg]
        period = serializers.IntegerField(
            required=False, allow_null=True, help_text="Where the release goes (default: next open)"
        )
        note = serializers.CharField(max_length=500, required=False, allow_blank=True)

    @extend_schema(
        tags=LEDGER,
        summary="Release a hold: pay what it held",
        request=InputSerializer,
        responses=HoldSerializer,
    )
    def post(self, request: Request, hold_id: int) -> Response:
        _get(request, Hold.objects.all(), hold_id)
        data = _valid(self.InputSerializer, request)
        hold = ledger.hold_release(
            principal=_principal(request),
            hold_id=hold_id,
            period_id=data.get("period"),
            note=data.get("note", ""),
        )
        return Response(HoldSerializer(hold).data)


# --- period transitions -------------------------------------------------------------------------


def _period_exists(period_id: int) -> None:
    if not Period.objects.filter(pk=period_id).exists():
        raise NotFoundError("Period not found.")


_GUARD_DESCRIPTION = (
    "A failed guard answers 409 (403 for a role) with the error envelope; `details.guard` names "
    "it (`period_status`, `succeeded_run`, `full_run`, `adjustments_pending`, `reason`, "
    "`period_closed`, `data_lock_date`, `role`)."
)


class PeriodSubmitView(TenantAPIView):
    """Submit a calculated period for review (comp admin or finance)."""

    permission = WRITE

    @extend_schema(
        tags=LIFECYCLE,
        summary="Submit a calculated period for review",
        description=_GUARD_DESCRIPTION,
        request=None,
        responses=PeriodSerializer,
    )
    def post(self, request: Request, period_id: int) -> Response:
        _period_exists(period_id)
        period = lifecycle.period_submit_for_review(
            period_id=period_id, principal=_principal(request)
        )
        return Response(PeriodSerializer(period).data)


class PeriodApproveView(TenantAPIView):
    """Approve a period in review with one of its succeeded full runs (finance)."""

    permission = WRITE

    class InputSerializer(serializers.Serializer):  # type: ignore[type-arg]
        run = serializers.IntegerField(help_text="The succeeded full run of the period to pay")
        early = serializers.BooleanField(
            required=False,
            default=False,
            help_text="Approve before the period's last day has passed (refused with 409 "
            "`period_not_ended` otherwise)",
        )

    @extend_schema(
        tags=LIFECYCLE,
        summary="Approve a period with one of its runs (finance)",
        description="Writes one ledger entry per payout line of the run, the holds' entries "
        "and draw recoveries, and freezes the statements. " + _GUARD_DESCRIPTION,
        request=InputSerializer,
        responses=PeriodSerializer,
        examples=[OpenApiExample("Run 3", value={"run": 3}, request_only=True)],
    )
    def post(self, request: Request, period_id: int) -> Response:
        _period_exists(period_id)
        data = _valid(self.InputSerializer, request)
        outcome = lifecycle.period_approve(
            period_id=period_id,
            run_id=data["run"],
            principal=_principal(request),
            early=data["early"],
        )
        return Response(PeriodSerializer(outcome.period).data)


class PeriodReopenView(TenantAPIView):
    """Reopen an approved, not yet closed period, saying why (finance)."""

    permission = WRITE

    class InputSerializer(serializers.Serializer):  # type: ignore[type-arg]
        reason = serializers.CharField(max_length=300)

    @extend_schema(
        tags=LIFECYCLE,
        summary="Reopen an approved period (before close)",
        description="Back to in review; the approval's entries are reversed by new entries. "
        + _GUARD_DESCRIPTION,
        request=InputSerializer,
        responses=PeriodSerializer,
    )
    def post(self, request: Request, period_id: int) -> Response:
        _period_exists(period_id)
        data = _valid(self.InputSerializer, request)
        period = lifecycle.period_reopen(
            period_id=period_id, principal=_principal(request), reason=data["reason"]
        )
        return Response(PeriodSerializer(period).data)


class PeriodCloseView(TenantAPIView):
    """Close an approved period: its data is locked from the data lock date on (finance)."""

    permission = WRITE

    class InputSerializer(serializers.Serializer):  # type: ignore[type-arg]
        data_lock_date = serializers.DateField(
            required=False, allow_null=True, help_text="Default: today (the tenant's day)"
        )
        early = serializers.BooleanField(
            required=False,
            default=False,
            help_text="Close before the period's last day has passed (refused with 409 "
            "`period_not_ended` otherwise)",
        )

    @extend_schema(
        tags=LIFECYCLE,
        summary="Close an approved period and lock its data",
        description="From `data_lock_date` on, incoming data dated in the period is refused. "
        + _GUARD_DESCRIPTION,
        request=InputSerializer,
        responses=PeriodSerializer,
    )
    def post(self, request: Request, period_id: int) -> Response:
        _period_exists(period_id)
        data = _valid(self.InputSerializer, request)
        period = lifecycle.period_close(
            period_id=period_id,
            principal=_principal(request),
            data_lock_date=data.get("data_lock_date"),
            early=data["early"],
        )
        return Response(PeriodSerializer(period).data)


class PeriodChecklistView(TenantAPIView):
    """What stands between a period and its close."""

    permission = "payouts.view"

    @extend_schema(
        tags=LIFECYCLE,
        summary="The period-close checklist",
        responses=inline_serializer(
            "PeriodChecklist",
            {
                "period": PeriodSerializer(),
                "runs_succeeded": serializers.IntegerField(),
                "runs_running": serializers.IntegerField(),
                "runs_failed": serializers.IntegerField(),
                "latest_run": serializers.IntegerField(allow_null=True),
                "approved_run": serializers.IntegerField(allow_null=True),
                "adjustments_pending": serializers.IntegerField(),
                "holds_active": serializers.IntegerField(),
                "unacknowledged_plans": serializers.IntegerField(allow_null=True),
                "disputes_open": serializers.IntegerField(),
                "exports_pending": serializers.IntegerField(),
                "approval_request": serializers.IntegerField(allow_null=True),
                "transitions": serializers.ListField(child=serializers.CharField()),
            },
        ),
    )
    def get(self, request: Request, period_id: int) -> Response:
        from payouts.selectors import period_checklist

        _period_exists(period_id)
        item = period_checklist(period_id=period_id, principal=_principal(request))
        return Response(
            {
                "period": PeriodSerializer(item.period).data,
                "runs_succeeded": item.runs_succeeded,
                "runs_running": item.runs_running,
                "runs_failed": item.runs_failed,
                "latest_run": item.latest_run.pk if item.latest_run else None,
                "approved_run": item.approved_run.pk if item.approved_run else None,
                "adjustments_pending": item.adjustments_pending,
                "holds_active": item.holds_active,
                "unacknowledged_plans": item.unacknowledged_plans,
                "disputes_open": item.disputes_open,
                "exports_pending": item.exports_pending,
                "approval_request": item.approval_request.pk if item.approval_request else None,
                "transitions": item.transitions,
            }
        )
