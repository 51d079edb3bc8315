"""Run schedules API: list, create, read, change and delete a tenant's run schedules.

Thin views over :mod:`payouts.schedules`. Reading needs ``payouts.view``; changing a schedule
``payouts.calculate`` (comp admins and finance, or an API client with ``write:runs``), tenant
wide (a schedule starts runs that pay everyone). Each change writes one audit event.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.base import TenantAPIView
from core.api.pagination import paginate
from hierarchy.access import request_access
from hierarchy.models import PeriodKind
from payouts import schedules
from payouts.models import RunSchedule, ScheduleCadence, SchedulePeriods

TAG = "Runs"
SCHEDULES = "scheduling calculation runs"


class RunScheduleSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    time_of_day = serializers.TimeField(
        format="%H:%M",
        input_formats=["%H:%M", "%H:%M:%S"],
        required=False,
        allow_null=True,
        help_text="Daily: HH:MM in the tenant's time zone",
    )
    period_kind = serializers.ChoiceField(
        choices=[("", "Every kind"), *PeriodKind.choices], required=False, allow_blank=True
    )
    every_minutes = serializers.IntegerField(
        min_value=schedules.MIN_MINUTES,
        max_value=schedules.MAX_MINUTES,
        required=False,
        allow_null=True,
    )

    class Meta:
        model = RunSchedule
        fields = [
            "id",
            "name",
            "periods",
            "period_kind",
            "cadence",
            "time_of_day",
            "every_minutes",
            "enabled",
            "last_run_at",
            "next_run_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "last_run_at", "next_run_at", "created_at", "updated_at"]
        extra_kwargs = {
            "periods": {"default": SchedulePeriods.OPEN},
            "cadence": {"default": ScheduleCadence.DAILY},
        }

    def validate_name(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("A schedule needs a name.")
        return value


def _user(request: Request) -> int | None:
    return request.user.pk if getattr(request, "membership", None) else None


def _writes(request: Request) -> None:
    request_access(request).require_tenant_wide(SCHEDULES)


class RunScheduleListView(TenantAPIView):
    """The tenant's run schedules; create one."""

    permission = "payouts.view"
    write_permission = "payouts.calculate"

    @extend_schema(
        tags=[TAG],
        summary="List run schedules",
        description="Every schedule of the tenant by name, with when it runs next.",
        responses=RunScheduleSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        return paginate(self, request, schedules.schedule_list(), RunScheduleSerializer)

    @extend_schema(
        tags=[TAG],
        summary="Create a run schedule",
        description=(
            "A standing order for full runs (trigger `schedule`): `periods` `open` (every open "
            "period that has started, not yet approved) or `current` (under way today), "
            "optionally of one `period_kind`; `cadence` `daily` at `time_of_day` (HH:MM, the "
            "tenant's time zone) or `interval` every `every_minutes` (5 to 10080). Celery beat "
            "starts the runs when due."
        ),
        request=RunScheduleSerializer,
        responses={201: RunScheduleSerializer},
        examples=[
            OpenApiExample(
                "Nightly",
                value={"name": "Nightly", "cadence": "daily", "time_of_day": "02:00"},
                request_only=True,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        _writes(request)
        serializer = RunScheduleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data: dict[str, Any] = dict(serializer.validated_data)
        schedule = schedules.schedule_create(user_id=_user(request), **data)
        return Response(RunScheduleSerializer(schedule).data, status=status.HTTP_201_CREATED)


class RunScheduleDetailView(TenantAPIView):
    """One run schedule: read, change (any of its fields), delete."""

    permission = "payouts.view"
    write_permission = "payouts.calculate"

    @extend_schema(
        tags=[TAG],
        summary="Get a run schedule",
        description="The schedule, with its last and next run.",
        responses=RunScheduleSerializer,
    )
    def get(self, request: Request, schedule_id: int) -> Response:
        schedule = schedules.schedule_get(schedule_id=schedule_id)
        return Response(RunScheduleSerializer(schedule).data)

    @extend_schema(
        tags=[TAG],
        summary="Change a run schedule",
        description="Changes the fields given; the next due instant is computed again.",
        request=RunScheduleSerializer(partial=True),
        responses=RunScheduleSerializer,
    )
    def patch(self, request: Request, schedule_id: int) -> Response:
        _writes(request)
        schedule = schedules.schedule_get(schedule_id=schedule_id)
        serializer = RunScheduleSerializer(schedule, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        changed = schedules.schedule_update(
            schedule_id=schedule.pk, **dict(serializer.validated_data)
        )
        return Response(RunScheduleSerializer(changed).data)

    @extend_schema(
        tags=[TAG],
        summary="Delete a run schedule",
        description="The runs it started stay.",
        responses={204: None},
    )
    def delete(self, request: Request, schedule_id: int) -> Response:
        _writes(request)
        schedules.schedule_delete(schedule_id=schedule_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
