"""Browser authentication: e-mail sign-in, and throttling of sign-in and password reset.

Throttling follows django-axes and django-defender: failures count **per account**
(``LOGIN_FAILURE_LIMIT`` in ``LOGIN_FAILURE_WINDOW_SECONDS``) and **per client address** only at
a much higher threshold (``LOGIN_IP_FAILURE_LIMIT``), so one person's wrong passwords lock their
own account and not everyone behind the same office NAT. A success clears the account's
failures (as defender does); it never clears an address's, which would let an attacker reset
their own counter with a throwaway account.

The throttle lives in the authentication backend, so every password check is counted and
refused alike: the sign-in page, ``/django-admin/login/`` and anything else that calls
``authenticate()``. Pages wrap their view in :func:`throttled_login` to answer 429 with
``Retry-After``.

The account key is the account's case-folded, NFKC-normalised e-mail: a look-alike spelling
either is that account (full-width ``ADMIN@...``, upper case, trailing spaces: same key) or is
no account at all (the dotless i, U+0131, which PostgreSQL's ``UPPER`` would otherwise match to
``i``), so no spelling buys fresh attempts.

The counters are rows of :class:`~core.models.LoginAttempt` in the database, not the cache: the
demo has no Redis and Django's default cache is per process, so with N gunicorn workers an
attacker would get N times the limit and a restart (or a deploy) would forget every lock. The
database is shared by all workers and hosts; each attempt costs one indexed count, each failure
one insert, a refused attempt nothing (it is not recorded), and rows older than the longest
window are deleted. A lock therefore survives a restart on purpose; it lasts one window at
most, and ``manage.py login_unlock`` lifts it early.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.utils import timezone

from core.models import AttemptKind, LoginAttempt

RATE_LIMITED_MESSAGE = "Too many failed sign-in attempts. Try again in {minutes} minutes."
RESET_LIMITED_MESSAGE = (
    "Too many password reset requests for this address or from your network. "
    "Try again in {minutes} minutes."
)
# Set on the request by the backend when it refused a sign-in: seconds until it may try again.
THROTTLED_ATTRIBUTE = "login_throttled_for"


def normalise_login(value: str) -> str:
    """Return the comparison form of a typed e-mail or username: NFKC, case-folded, trimmed."""
    folded = unicodedata.normalize("NFKC", value).casefold()
    return unicodedata.normalize("NFKC", folded).strip()


def find_user(identifier: str) -> Any:
    """Return the user whose e-mail (or else username) normalises to ``identifier``'s, or None."""
    key = normalise_login(identifier)
    if not key:
        return None
    raw = identifier.strip()
    candidates = list(
        get_user_model()
        .objects.filter(
            Q(email__iexact=key) | Q(email__iexact=raw) | Q(username__iexact=key) | Q(username=raw)
        )
        .order_by("pk")
    )
    # iexact is ASCII-only on SQLite and maps the dotless i (U+0131) to I on PostgreSQL.
    for field in ("email", "username"):
        for user in candidates:
            if normalise_login(getattr(user, field) or "") == key:
                return user
    return None


def account_key(identifier: str, user: Any = None) -> str:
    """Return the throttling key: the account's normalised e-mail, else the typed name's."""
    if user is not None:
        return normalise_login(user.email or user.get_username())[:254]
    return normalise_login(identifier)[:254]


def client_ip(request: HttpRequest | None) -> str | None:
    """Return the client's address (REMOTE_ADDR; a TLS proxy must set it, see README)."""
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def _window(seconds: int) -> dt.timedelta:
    return dt.timedelta(seconds=seconds)


def _unblocks_at(attempts: QuerySet[LoginAttempt], limit: int, window: dt.timedelta) -> Any:
    """Return when the oldest of the last ``limit`` attempts leaves the window, or None."""
    if limit <= 0:
        return None
    recent = list(attempts.order_by("-created_at").values_list("created_at", flat=True)[:limit])
    return recent[-1] + window if len(recent) >= limit else None


def _blocked_for(
    *, kind: str, key: str, ip: str | None, limit: int, ip_limit: int, window_seconds: int
) -> int:
    """Return the seconds until the account/address may try again, or 0 when not blocked."""
    window = _window(window_seconds)
    now = timezone.now()
    recent = LoginAttempt.objects.filter(kind=kind, created_at__gt=now - window)
    until = [_unblocks_at(recent.filter(username=key), limit, window)]
    if ip:
        until.append(_unblocks_at(recent.filter(ip_address=ip), ip_limit, window))
    moments = [u for u in until if u is not None and u > now]
    if not moments:
        return 0
    return max(1, int((max(moments) - now).total_seconds() + 0.999))


def _record(*, kind: str, key: str, ip: str | None) -> None:
    now = timezone.now()
    LoginAttempt.objects.create(kind=kind, username=key, ip_address=ip, created_at=now)
    longest = max(
        settings.LOGIN_FAILURE_WINDOW_SECONDS, settings.PASSWORD_RESET_WINDOW_SECONDS, 86_400
    )
    LoginAttempt.objects.filter(created_at__lt=now - _window(longest)).delete()


def login_blocked_for(*, key: str, ip: str | None) -> int:
    """Return the seconds until sign-in may be tried again for this account/address, or 0."""
    return _blocked_for(
        kind=AttemptKind.LOGIN_FAILURE,
        key=key,
        ip=ip,
        limit=settings.LOGIN_FAILURE_LIMIT,
        ip_limit=settings.LOGIN_IP_FAILURE_LIMIT,
        window_seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS,
    )


def login_failed(*, key: str, ip: str | None) -> None:
    """Record a failed sign-in."""
    _record(kind=AttemptKind.LOGIN_FAILURE, key=key, ip=ip)


def login_succeeded(*, key: str) -> None:
    """Forget the account's failed sign-ins (never the address's)."""
    LoginAttempt.objects.filter(kind=AttemptKind.LOGIN_FAILURE, username=key).delete()


def login_unlock(*, key: str | None = None, ip: str | None = None) -> int:
    """Lift a sign-in lock on an account key and/or an address; return the attempts removed."""
    attempts = LoginAttempt.objects.filter(kind=AttemptKind.LOGIN_FAILURE)
    match = Q(pk__in=[])
    if key:
        match |= Q(username=key)
    if ip:
        match |= Q(ip_address=ip)
    deleted, _ = attempts.filter(match).delete()
    return deleted


def password_reset_blocked_for(*, email: str, ip: str | None) -> int:
    """Return the seconds until a reset may be requested for this address/from here, or 0."""
    return _blocked_for(
        kind=AttemptKind.PASSWORD_RESET,
        key=account_key(email),
        ip=ip,
        limit=settings.PASSWORD_RESET_LIMIT,
        ip_limit=settings.PASSWORD_RESET_IP_LIMIT,
        window_seconds=settings.PASSWORD_RESET_WINDOW_SECONDS,
    )


def password_reset_requested(*, email: str, ip: str | None) -> None:
    """Record a password-reset request (whether or not the address has an account)."""
    _record(kind=AttemptKind.PASSWORD_RESET, key=account_key(email), ip=ip)


def _serialise_account(key: str) -> None:
    """Make concurrent sign-ins to one account take turns until the transaction ends.

    Without it a burst of parallel wrong passwords could all pass the check before any failure
    is recorded (the limit would be 5 plus the number of web workers). PostgreSQL: a
    transaction-scoped advisory lock on the account key; SQLite serialises writers itself.
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", ["quotient-login:" + key])


class EmailBackend(ModelBackend):
    """Authenticate with e-mail (compared normalised) or username and password, throttled."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        if not username or password is None:
            return None
        user = find_user(username)
        key, ip = account_key(username, user), client_ip(request)
        with transaction.atomic():
            _serialise_account(key)
            return self._check(request, user, key, ip, password)

    def _check(
        self, request: HttpRequest | None, user: Any, key: str, ip: str | None, password: str
    ) -> Any:
        wait = login_blocked_for(key=key, ip=ip)
        if wait:
            # Refused before the password is checked: no hashing work, nothing recorded.
            self._mark_throttled(request, wait)
            raise PermissionDenied(RATE_LIMITED_MESSAGE)
        if user is None:
            get_user_model()().set_password(password)  # same work either way (timing)
        elif user.check_password(password) and self.user_can_authenticate(user):
            login_succeeded(key=key)
            return user
        login_failed(key=key, ip=ip)
        self._mark_throttled(request, login_blocked_for(key=key, ip=ip))
        return None

    @staticmethod
    def _mark_throttled(request: HttpRequest | None, wait: int) -> None:
        if request is not None and wait:
            setattr(request, THROTTLED_ATTRIBUTE, wait)


def rate_limited_response(
    request: HttpRequest, wait: int, *, template: str, context: dict[str, Any], message: str
) -> HttpResponse:
    """Render ``template`` with a "try again in N minutes" message as 429 with Retry-After."""
    minutes = max(1, (wait + 59) // 60)
    response = render(
        request, template, {**context, "rate_limited": message.format(minutes=minutes)}, status=429
    )
    response["Retry-After"] = str(wait)
    return response


def throttled_login(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Answer 429 with Retry-After when the backend refused (or just locked) this sign-in."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        response = view(request, *args, **kwargs)
        wait = getattr(request, THROTTLED_ATTRIBUTE, 0)
        if not wait:
            return response
        from django.contrib.auth.forms import AuthenticationForm

        return rate_limited_response(
            request,
            wait,
            template="registration/login.html",
            context={"form": AuthenticationForm(request), "next": request.POST.get("next", "")},
            message=RATE_LIMITED_MESSAGE,
        )

    return wrapped
