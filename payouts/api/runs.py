"""Calculation runs API: list, start (create), detail with progress, retry, lines, compare.

Thin views: each calls one service or selector of :mod:`payouts.runs`. Reading runs needs
``payouts.view``; starting or retrying one ``payouts.calculate`` (comp admins and finance, or
an API client with the ``write:runs`` scope). A node-scoped principal sees the lines of the
people it answers for only, and cannot start a run (it pays the whole tenant).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
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
from core.params import ID_MAX
from hierarchy.access import request_access
from payouts import runs
from payouts.models import CalculationRun, PayoutLine, RunKind, RunStatus, RunTrigger

TAG = "Runs"
RUNS = "starting a calculation run"  # a run pays everyone in the period


class RunFilter(FilterSet):
    period = IdFilter(help_text="Only this period's runs")
    status = ChoiceFilter(choices=RunStatus.choices)
    ordering = Ordering(fields=("created_at", "number", "finished_at"))


class LineFilter(FilterSet):
    person = IdFilter(help_text="Only this person's lines")
    ordering = Ordering(fields=("amount", "component_id", "person"))


class RunSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    period_label = serializers.CharField(source="period.label", read_only=True)
    progress = serializers.SerializerMethodField()
    lines_url = serializers.SerializerMethodField()

    class Meta:
        model = CalculationRun
        fields = [
            "id",
            "period",
            "period_label",
            "number",
            "kind",
            "trigger",
            "status",
            "phase",
            "reason",
            "problems",
            "known_at",
            "result_hash",
            "people_count",
            "chunk_size",
            "chunks_total",
            "line_count",
            "totals",
            "retry_of",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
            "progress",
            "lines_url",
        ]

    @extend_schema_field(
        inline_serializer(
            "RunProgress",
            {
                "status": serializers.CharField(),
                "phase": serializers.CharField(),
                "phase_label": serializers.CharField(),
                "chunks_done": serializers.IntegerField(),
                "chunks_total": serializers.IntegerField(),
                "percent": serializers.IntegerField(),
                "eta_seconds": serializers.IntegerField(allow_null=True),
                "elapsed_seconds": serializers.IntegerField(allow_null=True),
            },
        )
    )
    def get_progress(self, obj: CalculationRun) -> dict[str, Any]:
        return runs.run_progress(obj).as_dict()

    def get_lines_url(self, obj: CalculationRun) -> str:
        return f"/api/v1/runs/{obj.pk}/lines/"


class RunCreateSerializer(serializers.Serializer):  # type: ignore[type-arg]
    period = serializers.IntegerField(min_value=1, max_value=ID_MAX)
    kind = serializers.ChoiceField(choices=RunKind.choices, default=RunKind.FULL)
    person_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=ID_MAX),
        required=False,
        allow_empty=False,
        max_length=100_000,
        help_text="Compute these people only (default: everyone on a plan in the period)",
    )


class LineSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    person_name = serializers.CharField(source="person.full_name", read_only=True)
    plan_code = serializers.CharField(source="plan.code", read_only=True)

    class Meta:
        model = PayoutLine
        fields = [
            "id",
            "run",
            "period",
            "person",
            "person_name",
            "plan",
            "plan_code",
            "plan_version",
            "component_id",
            "segment",
            "kind",
            "ordinal",
            "amount",
            "currency",
            "attainment",
            "measure",
            "trace_text",
            "trace",
        ]


_LINE_CHANGE_FIELDS: dict[str, serializers.Field[Any, Any, Any, Any]] = {
    "plan": serializers.CharField(),
    "component_id": serializers.CharField(),
    "segment": serializers.IntegerField(),
    "kind": serializers.CharField(),
    "currency": serializers.CharField(),
    "before": serializers.DecimalField(max_digits=20, decimal_places=4, allow_null=True),
    "after": serializers.DecimalField(max_digits=20, decimal_places=4, allow_null=True),
    "delta": serializers.DecimalField(max_digits=20, decimal_places=4),
    "words": serializers.CharField(),
}
_COMPARISON = inline_serializer(
    "RunComparison",
    {
        "run": serializers.IntegerField(),
        "other": serializers.IntegerField(),
        "same_hash": serializers.BooleanField(),
        "unchanged": serializers.IntegerField(),
        "people": inline_serializer(
            "RunPersonChange",
            {
                "person": serializers.IntegerField(),
                "name": serializers.CharField(),
                "before": serializers.DictField(child=serializers.CharField()),
                "after": serializers.DictField(child=serializers.CharField()),
                "words": serializers.CharField(),
                "lines": inline_serializer("RunLineChange", _LINE_CHANGE_FIELDS, many=True),
            },
            many=True,
        ),
    },
)


def _user(request: Request) -> int | None:
    return request.user.pk if getattr(request, "membership", None) else None


def _detail(run: CalculationRun, *, status_code: int = status.HTTP_200_OK) -> Response:
    return Response(RunSerializer(run).data, status=status_code)


class RunListView(TenantAPIView):
    """The tenant's calculation runs, newest first; start one."""

    permission = "payouts.view"
    write_permission = "payouts.calculate"

    @extend_schema(
        tags=[TAG],
        summary="List calculation runs",
        parameters=list_parameters(RunFilter),
        responses=RunSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        return paginate(self, request, runs.run_list(), RunSerializer, filterset=RunFilter)

    @extend_schema(
        tags=[TAG],
        summary="Start a calculation run of a period",
        description=(
            "Writes a new run and starts it on the workers (inline without a broker); poll "
            "its detail for progress. A run whose inputs have problems fails before writing "
            "anything, with every problem listed. Honours Idempotency-Key."
        ),
        request=RunCreateSerializer,
        responses={201: RunSerializer},
        examples=[
            OpenApiExample("Start", value={"period": 12}, request_only=True),
            OpenApiExample(
                "Queued",
                value={
                    "id": 3,
                    "period": 12,
                    "period_label": "FY2027 Q4",
                    "number": 2,
                    "kind": "full",
                    "trigger": "api",
                    "status": "queued",
                    "phase": "fetch",
                    "reason": "",
                    "problems": [],
                    "known_at": "2026-12-01T17:20:00.000000Z",
                    "result_hash": "",
                    "people_count": 0,
                    "chunk_size": 500,
                    "chunks_total": 0,
                    "line_count": 0,
                    "totals": {},
                    "retry_of": None,
                    "created_by": "api:payroll",
                    "created_at": "2026-12-01T17:20:00.000000Z",
                    "started_at": None,
                    "finished_at": None,
                    "progress": {
                        "status": "queued",
                        "phase": "fetch",
                        "phase_label": "Waiting for a worker",
                        "chunks_done": 0,
                        "chunks_total": 0,
                        "percent": 0,
                        "eta_seconds": None,
                        "elapsed_seconds": 0,
                    },
                    "lines_url": "/api/v1/runs/3/lines/",
                },
                response_only=True,
                status_codes=["201"],
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        request_access(request).require_tenant_wide(RUNS)
        serializer = RunCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        run = runs.run_start(
            period_id=data["period"],
            kind=data["kind"],
            trigger=RunTrigger.API,
            user_id=_user(request),
            person_ids=data.get("person_ids"),
        )
        return _detail(run, status_code=status.HTTP_201_CREATED)


class RunDetailView(TenantAPIView):
    """One run: its status, reason and problems, totals and live progress."""

    permission = "payouts.view"

    @extend_schema(tags=[TAG], summary="Get a calculation run", responses=RunSerializer)
    def get(self, request: Request, run_id: int) -> Response:
        return _detail(runs.run_get(run_id=run_id))


class RunRetryView(TenantAPIView):
    """Start a failed run again (a new run of its period, ``retry_of`` the failed one)."""

    permission = "payouts.calculate"

    @extend_schema(
        tags=[TAG],
        summary="Retry a failed calculation run",
        request=None,
        responses={201: RunSerializer},
    )
    def post(self, request: Request, run_id: int) -> Response:
        request_access(request).require_tenant_wide(RUNS)
        run = runs.run_retry(run_id=run_id, user_id=_user(request), trigger=RunTrigger.API)
        return _detail(run, status_code=status.HTTP_201_CREATED)


class RunLinesView(TenantAPIView):
    """A run's payout lines with their traces, a page at a time."""

    permission = "payouts.view"

    @extend_schema(
        tags=[TAG],
        summary="List a calculation run's payout lines",
        parameters=list_parameters(LineFilter),
        responses=LineSerializer(many=True),
    )
    def get(self, request: Request, run_id: int) -> Response:
        run = runs.run_get(run_id=run_id)
        lines = runs.run_lines(run_id=run.pk)
        access = request_access(request)
        if not access.sees_everyone:
            lines = lines.filter(person__in=access.current_people())
        return paginate(self, request, lines, LineSerializer, filterset=LineFilter)


class RunCompareView(TenantAPIView):
    """What changed from one run to another of the same period, person by person."""

    permission = "payouts.view"

    @extend_schema(tags=[TAG], summary="Compare two calculation runs", responses=_COMPARISON)
    def get(self, request: Request, run_id: int, other_id: int) -> Response:
        comparison = runs.run_compare(run_id=run_id, other_id=other_id)
        access = request_access(request)
        people = comparison.people
        if not access.sees_everyone:
            visible = access.pay_visible_ids([p.person_id for p in people])
            people = [p for p in people if p.person_id in visible]
        return Response(
            {
                "run": comparison.run.pk,
                "other": comparison.other.pk,
                "same_hash": comparison.same_hash,
                "unchanged": comparison.unchanged,
                "people": [
                    {
                        "person": p.person_id,
                        "name": p.name,
                        "before": {k: f"{v:.4f}" for k, v in p.before.items()},
                        "after": {k: f"{v:.4f}" for k, v in p.after.items()},
                        "words": p.words,
                        "lines": [
                            {
                                "plan": c.plan,
                                "component_id": c.component_id,
                                "segment": c.segment,
                                "kind": c.kind,
                                "currency": c.currency,
                                "before": None if c.before is None else f"{c.before:.4f}",
                                "after": None if c.after is None else f"{c.after:.4f}",
                                "delta": f"{c.delta:.4f}",
                                "words": c.words,
                            }
                            for c in p.lines
                        ],
                    }
                    for p in people
                ],
            }
        )
