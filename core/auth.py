"""Browser authentication: e-mail login with per-user and per-IP failure limits."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest
from django.utils import timezone

from core.models import LoginAttempt

RATE_LIMITED_MESSAGE = "Too many failed sign-in attempts. Try again in {minutes} minutes."


class EmailBackend(ModelBackend):
    """Authenticate with e-mail (case-insensitive) or username and password."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        if not username or password is None:
            return None
        user_model = get_user_model()
        user = (
            user_model.objects.filter(email__iexact=username.strip()).first()
            or user_model.objects.filter(username=username.strip()).first()
        )
        if user is None:
            user_model().set_password(password)  # same work either way (timing)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None


def client_ip(request: HttpRequest) -> str | None:
    """Return the client's address (REMOTE_ADDR; a TLS proxy must set it, see README)."""
    return request.META.get("REMOTE_ADDR") or None


def login_blocked_for(request: HttpRequest, username: str) -> int:
    """Return the seconds until the user/IP may try again, or 0 when not blocked."""
    window = timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS)
    since = timezone.now() - window
    limit = settings.LOGIN_FAILURE_LIMIT
    username = username.strip().lower()
    recent = LoginAttempt.objects.filter(created_at__gte=since)
    blocking = []
    by_user = list(
        recent.filter(username=username)
        .order_by("-created_at")
        .values_list("created_at", flat=True)[:limit]
    )
    if len(by_user) >= limit:
        blocking.append(by_user[-1])
    ip = client_ip(request)
    if ip:
        by_ip = list(
            recent.filter(ip_address=ip)
            .order_by("-created_at")
            .values_list("created_at", flat=True)[:limit]
        )
        if len(by_ip) >= limit:
            blocking.append(by_ip[-1])
    if not blocking:
        return 0
    # Blocked until the oldest of the last `limit` failures leaves the window.
    until = max(blocking) + window
    return max(1, int((until - timezone.now()).total_seconds()))


def login_failed(request: HttpRequest, username: str) -> None:
    """Record a failed login."""
    LoginAttempt.objects.create(
        username=username.strip().lower()[:254],
        ip_address=client_ip(request),
        created_at=timezone.now(),
    )
    LoginAttempt.objects.filter(created_at__lt=timezone.now() - timedelta(days=1)).delete()
