"""OpenAPI schema generation: unique component names and the API-client bearer scheme."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema


class QuotientAutoSchema(AutoSchema):
    """Name nested serializers after their view: ``MemberList.Input`` → ``MemberListInput``.

    Every view declares its own ``InputSerializer`` / ``OutputSerializer`` (STYLE.md §6); without
    the prefix they would all be one ``Input`` component and the schema would be wrong.
    """

    def get_serializer_name(self, serializer: Any, direction: Any) -> str:
        name: str = super().get_serializer_name(serializer, direction)
        cls = serializer.__class__
        if "." in cls.__qualname__:
            owner = cls.__qualname__.split(".")[0]
            owner = owner[: -len("View")] if owner.endswith("View") else owner
            name = owner + name
        return name


class ApiClientAuthenticationScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """Document ``Authorization: Bearer qtk_<key id>_<secret>``."""

    target_class = "core.api.auth.ApiClientAuthentication"
    name = "apiClientToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "qtk_<key id>_<secret>",
            "description": "An API client token, created by a tenant admin (shown once).",
        }
