"""Foundation API: who am I, members, API clients. Thin: one service or selector."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from core import selectors, services
from core.api.base import TenantAPIView
from core.api.filters import ApiClientFilter, MemberFilter, list_parameters
from core.api.pagination import paginate
from core.models import API_SCOPES, ApiClient, Membership, Role
from core.permissions import permissions_for_roles, permissions_for_scopes


def api_collections(prefix: str = "api/v1/") -> list[str]:
    """Return the paths of the API's endpoints that take no id (``people/``, ``runs/``, ...),
    read from the URL configuration (so a new endpoint is listed without editing a list)."""
    from django.urls import URLPattern, URLResolver, get_resolver

    def walk(patterns: list[Any], base: str) -> list[str]:
        found = []
        for p in patterns:
            route = base + str(p.pattern)
            if "<" in route or not route.startswith(prefix):
                if isinstance(p, URLResolver) and prefix.startswith(route):
                    found += walk(p.url_patterns, route)  # the resolver holding /api/v1/
                continue
            if isinstance(p, URLResolver):
                found += walk(p.url_patterns, route)
            elif isinstance(p, URLPattern) and route != prefix:
                found.append(route[len(prefix) :])
        return found

    return sorted(set(walk(get_resolver().url_patterns, "")))


class ApiRootView(TenantAPIView):
    """The API's root: each endpoint that takes no id, by name, with its address (the
    reference with every operation is at /api/docs/)."""

    permission = None  # any member or API client of the tenant; each endpoint checks its own
    tenant_optional = True  # (as /me/: no permission is needed to read it)

    @extend_schema(
        summary="List the endpoints",
        tags=["Members and API clients"],  # with "Who am I": where an integration starts
        responses=inline_serializer(
            "ApiRoot", {"endpoints": serializers.DictField(child=serializers.URLField())}
        ),
    )
    def get(self, request: Request) -> Response:
        endpoints = {
            path.rstrip("/"): request.build_absolute_uri(f"/api/v1/{path}")
            for path in api_collections()
        }
        return Response(
            {
                "endpoints": endpoints,
                "docs": request.build_absolute_uri("/api/docs/"),
                "schema": request.build_absolute_uri("/api/schema/"),
            }
        )


class MeView(TenantAPIView):
    """The authenticated principal, its tenant and what it may do."""

    permission = None
    tenant_optional = True

    class OutputSerializer(serializers.Serializer):  # type: ignore[type-arg]
        principal = serializers.CharField()
        tenant = serializers.DictField()
        roles = serializers.ListField(child=serializers.CharField())
        scopes = serializers.ListField(child=serializers.CharField())
        permissions = serializers.ListField(child=serializers.CharField())

    @extend_schema(summary="Who am I", responses=OutputSerializer)
    def get(self, request: Request) -> Response:
        tenant = request.tenant  # type: ignore[attr-defined]
        membership = request.membership  # type: ignore[attr-defined]
        client = request.auth if isinstance(request.auth, ApiClient) else None
        roles = list(membership.roles) if membership else []
        scopes = list(client.scopes) if client else []
        perms = permissions_for_scopes(scopes) if client else permissions_for_roles(roles)
        data = {
            "principal": f"api-client:{client.name}" if client else request.user.get_username(),
            "tenant": {
                "slug": tenant.slug,
                "name": tenant.name,
                "default_currency": tenant.default_currency,
                "time_zone": tenant.time_zone,
                "fiscal_year_start_month": tenant.fiscal_year_start_month,
                "rounding_mode": tenant.rounding_mode,
            },
            "roles": roles,
            "scopes": scopes,
            "permissions": sorted(perms),
        }
        return Response(self.OutputSerializer(data).data)


class MemberOutputSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    email = serializers.EmailField(source="user.email")
    full_name = serializers.CharField()  # the name this tenant gave, never another's

    class Meta:
        model = Membership
        fields = ["id", "email", "full_name", "roles", "is_active", "created_at"]


class MemberListView(TenantAPIView):
    """List members of the tenant, or invite one."""

    permission = "members.view"
    write_permission = "members.change"

    class InputSerializer(serializers.Serializer):  # type: ignore[type-arg]
        email = serializers.EmailField()
        full_name = serializers.CharField(max_length=200)
        roles = serializers.ListField(
            child=serializers.ChoiceField(choices=Role.choices), allow_empty=False
        )

    @extend_schema(
        parameters=list_parameters(MemberFilter), responses=MemberOutputSerializer(many=True)
    )
    def get(self, request: Request) -> Response:
        return paginate(
            self,
            request,
            selectors.membership_list(),
            MemberOutputSerializer,
            filterset=MemberFilter,
        )

    @extend_schema(
        summary="Invite a member", request=InputSerializer, responses={201: MemberOutputSerializer}
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = services.membership_invite(**serializer.validated_data)
        return Response(MemberOutputSerializer(membership).data, status=status.HTTP_201_CREATED)


class MemberDetailView(TenantAPIView):
    """One member: read, change roles or active flag, or deactivate (DELETE)."""

    permission = "members.view"
    write_permission = "members.change"

    class InputSerializer(serializers.Serializer):  # type: ignore[type-arg]
        roles = serializers.ListField(
            child=serializers.ChoiceField(choices=Role.choices), allow_empty=False, required=False
        )
        is_active = serializers.BooleanField(required=False)

    @extend_schema(responses=MemberOutputSerializer)
    def get(self, request: Request, membership_id: int) -> Response:
        return Response(
            MemberOutputSerializer(selectors.membership_get(membership_id=membership_id)).data
        )

    @extend_schema(request=InputSerializer, responses=MemberOutputSerializer)
    def patch(self, request: Request, membership_id: int) -> Response:
        selectors.membership_get(membership_id=membership_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        membership = None
        if "roles" in data:
            membership = services.membership_update_roles(
                membership_id=membership_id, roles=data["roles"]
            )
        if "is_active" in data:
            membership = services.membership_set_active(
                membership_id=membership_id, active=data["is_active"]
            )
        membership = membership or selectors.membership_get(membership_id=membership_id)
        return Response(MemberOutputSerializer(membership).data)

    @extend_schema(summary="Deactivate a member", responses={204: None})
    def delete(self, request: Request, membership_id: int) -> Response:
        services.membership_set_active(membership_id=membership_id, active=False)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ApiClientOutputSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = ApiClient
        fields = ["id", "name", "key_id", "scopes", "created_at", "last_used_at", "revoked_at"]


class ApiClientListView(TenantAPIView):
    """List API clients, or create one (its token is in the response, once)."""

    permission = "api_clients.view"
    write_permission = "api_clients.change"

    class InputSerializer(serializers.Serializer):  # type: ignore[type-arg]
        name = serializers.CharField(max_length=100)
        scopes = serializers.ListField(
            child=serializers.ChoiceField(choices=list(API_SCOPES.items())), allow_empty=False
        )

    @extend_schema(
        parameters=list_parameters(ApiClientFilter),
        responses=ApiClientOutputSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        return paginate(
            self,
            request,
            selectors.api_client_list(),
            ApiClientOutputSerializer,
            filterset=ApiClientFilter,
        )

    def idempotency_redact(self, data: Any) -> Any:
        """The token is shown once: a replayed creation answers without it."""
        if isinstance(data, dict) and "token" in data:
            return {**data, "token": None, "token_note": "shown once, not replayed"}
        return data

    @extend_schema(
        request=InputSerializer,
        responses={
            201: inline_serializer(
                "IssuedApiClient",
                {"client": ApiClientOutputSerializer(), "token": serializers.CharField()},
            )
        },
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        issued = services.api_client_create(
            **serializer.validated_data,
            created_by_id=request.user.pk if request.membership else None,  # type: ignore
        )
        return Response(
            {"client": ApiClientOutputSerializer(issued.client).data, "token": issued.token},
            status=status.HTTP_201_CREATED,
        )


class ApiClientDetailView(TenantAPIView):
    """One API client: read, or revoke (DELETE)."""

    permission = "api_clients.view"
    write_permission = "api_clients.change"
    idempotent = True

    @extend_schema(responses=ApiClientOutputSerializer)
    def get(self, request: Request, client_id: int) -> Response:
        return Response(
            ApiClientOutputSerializer(selectors.api_client_get(client_id=client_id)).data
        )

    @extend_schema(summary="Revoke an API client", responses=ApiClientOutputSerializer)
    def delete(self, request: Request, client_id: int) -> Response:
        client = services.api_client_revoke(client_id=client_id)
        return Response(ApiClientOutputSerializer(client).data)
