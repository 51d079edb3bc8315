"""Plans API. For now: the plan language's JSON Schema and validation, so plans can be reviewed
as code (and diffed between versions) before the plan builder lands."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.base import TenantAPIView
from engine import plan_json_schema, validate_plan


class PlanSchemaView(APIView):
    """The JSON Schema of the plan language (public: it describes the format, not any data)."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []

    @extend_schema(responses={200: dict})
    def get(self, request: Request) -> Response:
        return Response(plan_json_schema())


class PlanValidateView(TenantAPIView):
    """Check a plan document: every problem with its exact path, nothing saved."""

    permission = "plans.view"
    write_permission = "plans.view"
    idempotent = False

    @extend_schema(
        request=dict,
        responses={
            200: inline_serializer(
                "PlanValidation",
                {
                    "valid": serializers.BooleanField(),
                    "errors": serializers.ListField(child=serializers.CharField()),
                },
            )
        },
    )
    def post(self, request: Request) -> Response:
        errors = validate_plan(request.data)
        return Response({"valid": not errors, "errors": errors})
