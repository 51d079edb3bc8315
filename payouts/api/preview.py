"""Preview a plan version on a person's real period (``payouts.preview``), beside the published.

``POST /api/v1/plans/{plan_id}/versions/{number}/preview/`` with ``{"person", "period"}``. It
reads pay of anyone, so only a principal who both edits plans (``plans.change``) and sees every
person and their pay may ask: a comp admin, or an API client with ``write:plans``,
``read:people`` and ``read:payouts``.
It writes nothing (a POST because it computes, as ``plans/validate/`` does).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.base import TenantAPIView
from core.errors import PermissionDeniedError
from core.params import ID_MAX
from hierarchy.access import request_access
from payouts import preview as pv
from plans.selectors import plan_version_get

TAG = "Plans"
MSG_ACCESS = "Previewing a plan on real data needs plan editing and everyone's pay (comp admins)."

_LINE = inline_serializer(
    "PreviewLine",
    {
        "version": serializers.IntegerField(),
        "component_id": serializers.CharField(),
        "component": serializers.CharField(),
        "segment": serializers.IntegerField(),
        "kind": serializers.CharField(),
        "amount": serializers.DecimalField(max_digits=20, decimal_places=4),
        "currency": serializers.CharField(),
        "attainment": serializers.DecimalField(max_digits=20, decimal_places=6, allow_null=True),
        "trace": serializers.CharField(),
    },
    many=True,
)


def _side(name: str) -> Any:
    return inline_serializer(
        name,
        {
            "versions": serializers.ListField(child=serializers.IntegerField()),
            "lines": _LINE,
            "totals": serializers.DictField(child=serializers.CharField()),
            "problems": serializers.ListField(child=serializers.DictField()),
        },
        allow_null=name == "PreviewPublished",
    )


_OUTPUT = inline_serializer(
    "PlanVersionPreview",
    {
        "plan": serializers.IntegerField(),
        "version": serializers.IntegerField(),
        "person": serializers.IntegerField(),
        "person_name": serializers.CharField(),
        "period": serializers.IntegerField(),
        "period_label": serializers.CharField(),
        "known_at": serializers.DateTimeField(),
        "people_computed": serializers.IntegerField(),
        "draft": _side("PreviewDraft"),
        "published": _side("PreviewPublished"),
        "differences": inline_serializer(
            "PreviewDifference",
            {
                "component_id": serializers.CharField(),
                "component": serializers.CharField(),
                "kind": serializers.CharField(),
                "currency": serializers.CharField(),
                "before": serializers.CharField(allow_null=True),
                "after": serializers.CharField(allow_null=True),
                "delta": serializers.CharField(),
                "words": serializers.CharField(),
            },
            many=True,
        ),
        "summary": serializers.CharField(),
    },
)

_EXAMPLE = {
    "plan": 3,
    "version": 4,
    "person": 17,
    "person_name": "Ana Lopez",
    "period": 12,
    "period_label": "FY2026 M01 (Jan 2026)",
    "known_at": "2026-02-02T09:30:00Z",
    "people_computed": 1,
    "draft": {
        "versions": [4],
        "lines": [
            {
                "version": 4,
                "component_id": "accelerator",
                "component": "Accelerator",
                "segment": 0,
                "kind": "earned",
                "amount": "5100.0000",
                "currency": "USD",
                "attainment": "1.200000",
                "trace": "Accelerator: 1.2 x ...",
            }
        ],
        "totals": {"USD": "5100.0000"},
        "problems": [],
    },
    "published": {
        "versions": [3],
        "lines": [],
        "totals": {"USD": "4200.0000"},
        "problems": [],
    },
    "differences": [
        {
            "component_id": "accelerator",
            "component": "Accelerator",
            "kind": "earned",
            "currency": "USD",
            "before": "4200.0000",
            "after": "5100.0000",
            "delta": "900.0000",
            "words": "Accelerator: 4,200.00 → 5,100.00 USD (+900.00)",
        }
    ],
    "summary": "In total: 4,200.00 → 5,100.00 USD (+900.00).",
}


class PlanVersionPreviewView(TenantAPIView):
    """Compute a plan version (usually the draft) on one person's real period, beside what the
    published version pays them, with each line's trace sentence and the differences in words.
    Writes nothing. The inputs are the run's own (as known now); when the plans read other
    people (pools, gates, team roll-ups, pay on others' pay) the period's people are computed.
    Problems (not on the plan, no quota, no FX rate...) answer 400 ``preview_problems`` with
    every problem in ``details.problems``."""

    permission = "plans.change"
    write_permission = "plans.change"
    idempotent = False

    class InputSerializer(serializers.Serializer):  # type: ignore[type-arg]
        person = serializers.IntegerField(min_value=1, max_value=ID_MAX)
        period = serializers.IntegerField(min_value=1, max_value=ID_MAX)

    @extend_schema(
        tags=[TAG],
        summary="Preview a plan version on a person's real period",
        request=InputSerializer,
        responses={200: _OUTPUT},
        examples=[
            OpenApiExample("Preview", value={"person": 17, "period": 12}, request_only=True),
            OpenApiExample("Result", value=_EXAMPLE, response_only=True),
        ],
    )
    def post(self, request: Request, plan_id: int, number: int) -> Response:
        access = request_access(request)
        if not (access.sees_everyone and access.principal.has("payouts.view")):
            raise PermissionDeniedError(MSG_ACCESS)
        version = plan_version_get(plan_id=plan_id, number=number)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        person, period = pv.preview_targets(
            person_id=data.validated_data["person"], period_id=data.validated_data["period"]
        )
        return Response(
            pv.preview_as_dict(pv.preview(version=version, person=person, period=period))
        )
