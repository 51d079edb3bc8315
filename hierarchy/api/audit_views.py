"""The audit log over the API. Reads go through the access policy (pay fields redacted)."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.base import TenantAPIView
from core.api.filters import filter_list, list_parameters
from core.api.pagination import paginate
from core.errors import ValidationFailedError
from core.models import AuditEvent
from hierarchy import audit_log, selectors
from hierarchy.access import request_access
from hierarchy.api.filters import AuditEventFilter

TAGS = ["Audit"]
FORMATS = ("json", "csv")


# (built inline: "field" and "label" would shadow attributes of a Serializer class)
FieldChangeSerializer = inline_serializer(
    "AuditFieldChange",
    {
        "field": serializers.CharField(help_text="The snapshot key, e.g. target_incentive"),
        "label": serializers.CharField(help_text="In words, e.g. Target incentive"),
        "before": serializers.CharField(
            allow_null=True, help_text="Formatted value before; null when the object was created"
        ),
        "after": serializers.CharField(help_text="Formatted value after; 'hidden' when redacted"),
        "hidden": serializers.BooleanField(help_text="Redacted by the access policy"),
    },
)


class AuditEventOutputSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    """An audit event; ``redacted_fields`` names the pay fields taken out of its snapshots."""

    redacted_fields = serializers.SerializerMethodField()
    changes = serializers.SerializerMethodField()

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_redacted_fields(self, event: AuditEvent) -> list[str]:
        return list(getattr(event, "redacted_fields", []))

    @extend_schema_field(serializers.ListField(child=FieldChangeSerializer))
    def get_changes(self, event: AuditEvent) -> list[dict[str, Any]]:
        return [
            {
                "field": c.field,
                "label": c.label,
                "before": c.before,
                "after": c.after,
                "hidden": c.hidden,
            }
            for c in audit_log.readable_changes(event)
        ]

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "created_at",
            "actor_label",
            "action",
            "object_type",
            "object_id",
            "object_repr",
            "before",
            "after",
            "changes",
            "request_id",
            "redacted_fields",
        ]


EVENT_EXAMPLE = {
    "id": 812,
    "created_at": "2027-01-04T09:12:44.120Z",
    "actor_label": "comp@demo.quotient.dev",
    "action": "quota.update",
    "object_type": "plans.quota",
    "object_id": "311",
    "object_repr": "Erin East new_bookings 2027-01-01",
    "before": {"amount": "100000.0000", "currency": "USD"},
    "after": {"amount": "120000.0000", "currency": "USD"},
    "changes": [
        {
            "field": "amount",
            "label": "Amount",
            "before": "100,000.00 USD",
            "after": "120,000.00 USD",
            "hidden": False,
        }
    ],
    "request_id": "5f0c2b1e9d8a4c7f",
    "redacted_fields": [],
}


class JsonErrors(DefaultContentNegotiation):
    """``?format=csv`` names the file the view writes, not a DRF renderer: errors stay JSON."""

    def select_renderer(self, request: Any, renderers: Any, format_suffix: Any = None) -> Any:
        return JSONRenderer(), JSONRenderer.media_type


def _format(request: Request) -> str:
    value = request.query_params.get("format") or "json"
    if value not in FORMATS:
        raise ValidationFailedError(
            f"Unknown format {value!r}: use json or csv.",
            code="invalid_parameter",
            details={"format": ["Use json or csv."]},
        )
    return value


class AuditEventListView(TenantAPIView):
    """The tenant's audit events, newest first, searchable by who acted (``actor``), the
    object (``object_type`` + ``object_id``), the action (or its start) and the days
    (``since`` / ``until``, UTC). Each event carries its snapshots and ``changes``: the
    fields it set or changed, formatted for people (money with its currency). Pay fields of
    people whose pay the caller may not see are taken out of the snapshots and listed as
    ``hidden`` (``redacted_fields``). ``?format=csv`` returns every matching event (not a
    page) as a CSV file, formula cells neutralised."""

    permission = "audit.view"
    content_negotiation_class = JsonErrors

    @extend_schema(
        tags=TAGS,
        summary="List audit events",
        parameters=[
            *list_parameters(AuditEventFilter),
            OpenApiParameter(
                "format",
                OpenApiTypes.STR,
                enum=list(FORMATS),
                description="json (default: one page) or csv (every matching event, a file)",
            ),
        ],
        responses=AuditEventOutputSerializer(many=True),
        examples=[
            OpenApiExample(
                "A changed quota",
                value={"count": 1, "next": None, "previous": None, "results": [EVENT_EXAMPLE]},
                response_only=True,
            )
        ],
    )
    def get(self, request: Request) -> Any:
        access = request_access(request)
        if _format(request) == "csv":
            rows = filter_list(request, selectors.audit_event_queryset(), AuditEventFilter)
            body = audit_log.audit_csv(selectors.AuditEvents(rows, access))
            response = HttpResponse(body, content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = 'attachment; filename="audit-events.csv"'
            return response
        return paginate(
            self,
            request,
            selectors.audit_event_queryset(),
            AuditEventOutputSerializer,
            filterset=AuditEventFilter,
            present=lambda rows: selectors.AuditEvents(rows, access),
        )


class AuditEventDetailView(TenantAPIView):
    """One audit event with its snapshots and readable ``changes``, redacted as in the list."""

    permission = "audit.view"

    @extend_schema(
        tags=TAGS,
        summary="Get an audit event",
        responses={
            200: OpenApiResponse(
                AuditEventOutputSerializer,
                examples=[OpenApiExample("A changed target incentive", value=EVENT_EXAMPLE)],
            )
        },
    )
    def get(self, request: Request, event_id: int) -> Response:
        event = selectors.audit_event_list(access=request_access(request)).get(event_id=event_id)
        return Response(AuditEventOutputSerializer(event).data)
