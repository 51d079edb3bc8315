"""The audit log over the API. Reads go through the access policy (pay fields redacted)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.base import TenantAPIView
from core.api.filters import list_parameters
from core.api.pagination import paginate
from core.models import AuditEvent
from hierarchy import selectors
from hierarchy.access import request_access
from hierarchy.api.filters import AuditEventFilter


class AuditEventOutputSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    """An audit event; ``redacted_fields`` names the pay fields taken out of its snapshots."""

    redacted_fields = serializers.SerializerMethodField()

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_redacted_fields(self, event: AuditEvent) -> list[str]:
        return list(getattr(event, "redacted_fields", []))

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
            "request_id",
            "redacted_fields",
        ]


class AuditEventListView(TenantAPIView):
    """The tenant's audit events, newest first; filter with ?object_type= and ?action=."""

    permission = "audit.view"

    @extend_schema(
        parameters=list_parameters(AuditEventFilter),
        responses=AuditEventOutputSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        access = request_access(request)
        return paginate(
            self,
            request,
            selectors.audit_event_queryset(),
            AuditEventOutputSerializer,
            filterset=AuditEventFilter,
            present=lambda rows: selectors.AuditEvents(rows, access),
        )


class AuditEventDetailView(TenantAPIView):
    permission = "audit.view"

    @extend_schema(responses=AuditEventOutputSerializer)
    def get(self, request: Request, event_id: int) -> Response:
        event = selectors.audit_event_list(access=request_access(request)).get(event_id=event_id)
        return Response(AuditEventOutputSerializer(event).data)
