"""API client authentication: ``Authorization: Bearer qtk_<key_id>_<secret>``."""

from __future__ import annotations

import hmac
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from core.models import TOKEN_PREFIX, ApiClient, hash_secret


class ApiClientUser(AnonymousUser):
    """The request.user of a machine client: authenticated, but not a person."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client

    @property
    def is_authenticated(self) -> bool:  # type: ignore[override]
        return True

    def __str__(self) -> str:
        return f"api-client:{self.client.name}"


class ApiClientAuthentication(authentication.BaseAuthentication):
    """Authenticate a bearer token against a non-revoked :class:`ApiClient`."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[ApiClientUser, ApiClient] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        parts = header.split()
        if parts[0] != self.keyword:
            return None
        if len(parts) != 2 or not parts[1].startswith(TOKEN_PREFIX):
            raise exceptions.AuthenticationFailed("Malformed bearer token.")
        try:
            key_id, secret = parts[1][len(TOKEN_PREFIX) :].split("_", 1)
        except ValueError:
            raise exceptions.AuthenticationFailed("Malformed bearer token.") from None
        client = (
            ApiClient.objects.select_related("tenant")
            .filter(key_id=key_id, revoked_at__isnull=True, tenant__is_active=True)
            .first()
        )
        if client is None or not hmac.compare_digest(client.secret_hash, hash_secret(secret)):
            raise exceptions.AuthenticationFailed("Invalid or revoked API token.")
        now = timezone.now()
        if client.last_used_at is None or (now - client.last_used_at).total_seconds() > 60:
            ApiClient.objects.filter(pk=client.pk).update(last_used_at=now)
            client.last_used_at = now
        return ApiClientUser(client), client

    def authenticate_header(self, request: Request) -> str:
        return self.keyword

    def __repr__(self) -> str:
        return "ApiClientAuthentication()"


def request_api_client(request: Any) -> ApiClient | None:
    """Return the API client that authenticated ``request``, if any."""
    auth = getattr(request, "auth", None)
    return auth if isinstance(auth, ApiClient) else None
