"""HTML-side tenancy (the browser's one place to enter a tenant scope), security headers and
the branded not-found page."""

from __future__ import annotations

import re
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils import timezone

from core.audit import Actor, acting_as
from core.models import Membership
from core.params import nul_name
from core.tenancy import get_current_tenant_or_none, tenant_scope

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# The API enters its own scope after DRF authentication; these paths need no tenant.
_SKIP_PREFIXES = ("/api/", "/static/", "/healthz", "/django-admin/")


# No CDN, ever: everything is served by the app itself. Scripts run only from our static files
# or inline with this response's nonce (no inline event handlers). Inline style attributes stay
# allowed: templates set computed widths (progress bars), and styles cannot run code.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


class SecurityHeadersMiddleware:
    """Send a Content-Security-Policy (with a per-response script nonce) and
    ``Cache-Control: no-store`` on every response the app renders (static files excepted).

    Pages and API responses carry pay and tokens: no browser or proxy may keep a copy. It sits
    after WhiteNoise, whose static files keep their long-lived caching.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        nonce = secrets.token_urlsafe(16)
        request.csp_nonce = nonce  # type: ignore[attr-defined]
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY.format(nonce=nonce))
        if "no-store" not in response.get("Cache-Control", ""):
            response["Cache-Control"] = "no-store"
        return response


class NotFoundMiddleware:
    """Answer every 404 with the branded page (JSON envelope under /api/), in DEBUG too.

    Without it DEBUG shows Django's technical 404, listing every URL pattern. A view's
    ``Http404`` arrives in ``process_exception``; an unknown URL never reaches a view, so a 404
    whose request matched no pattern is replaced. 404 pages a view renders itself stay as they
    are. Innermost, so the tenant (and the layout's navigation) is still known.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code == 404
            and request.resolver_match is None
            and not getattr(response, "quotient_not_found", False)
        ):
            from core.views import page_not_found

            return page_not_found(request)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, Http404):
            from core.views import page_not_found

            return page_not_found(request, exception)
        return None


_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class MalformedPageInputMiddleware:
    """Answer a page request carrying a NUL character (query string or a plain form body) with
    the branded 400, before any view passes it to the database (PostgreSQL refuses NUL in
    text, which would be a 500). The API refuses the same in its base view
    (``core.api.params.reject_nul``). In a multipart upload only the form's text fields are
    checked here: the uploaded file's content is the import kernel's to judge, row by row.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith("/api/") and self._has_nul(request):
            from core.views import bad_request

            return bad_request(request)
        return self.get_response(request)

    @staticmethod
    def _has_nul(request: HttpRequest) -> bool:
        if "\x00" in request.path or nul_name(request.GET.lists()) is not None:
            return True
        content_type = request.content_type or ""
        return (
            request.method == "POST"
            and content_type in _FORM_TYPES
            and nul_name(request.POST.lists()) is not None
        )


class ServerTimingMiddleware:
    """Say how long the server took: ``Server-Timing: app;dur=<ms>`` on every response (the
    time from here to the view's response, queries included; a streamed body is not counted).
    Browsers show it in their network panel; the ``api`` benchmark reads it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        start = time.perf_counter()
        response = self.get_response(request)
        response["Server-Timing"] = f"app;dur={(time.perf_counter() - start) * 1000:.1f}"
        return response


class RequestIdMiddleware:
    """Give every request an id (or keep a well-formed ``X-Request-ID``) and echo it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.META["QUOTIENT_REQUEST_ID"] = request_id
        response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response


def active_memberships(user: Any) -> list[Membership]:
    """Return the user's active memberships in active tenants."""
    return list(
        Membership.objects.select_related("tenant")
        .filter(user=user, is_active=True, tenant__is_active=True)
        .order_by("created_at", "pk")
    )


class TenantMiddleware:
    """Enter the session user's chosen tenant for the whole request, streaming included."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.tenant = None  # type: ignore[attr-defined]
        request.membership = None  # type: ignore[attr-defined]
        request.memberships = []  # type: ignore[attr-defined]
        if request.path.startswith(_SKIP_PREFIXES) or not request.user.is_authenticated:
            return self.get_response(request)
        memberships = active_memberships(request.user)
        request.memberships = memberships  # type: ignore[attr-defined]
        chosen_id = request.session.get("tenant_id")
        membership = next((m for m in memberships if m.tenant_id == chosen_id), None)
        if membership is None and memberships:
            membership = memberships[0]
            request.session["tenant_id"] = membership.tenant_id
        if membership is None:
            return self.get_response(request)
        request.tenant = membership.tenant  # type: ignore[attr-defined]
        request.membership = membership  # type: ignore[attr-defined]
        actor = Actor(
            user_id=request.user.pk,
            label=request.user.get_username(),
            request_id=request.META.get("QUOTIENT_REQUEST_ID", ""),
        )
        # Times on pages read in the tenant's time zone (stored and computed in UTC).
        with (
            tenant_scope(membership.tenant),
            acting_as(actor),
            timezone.override(membership.tenant.time_zone),
        ):
            response = self.get_response(request)
        if isinstance(response, StreamingHttpResponse):
            response.streaming_content = _in_scope(
                response.streaming_content, membership.tenant, actor
            )
        return response


def _in_scope(content: Iterator[bytes], tenant: Any, actor: Actor) -> Iterator[bytes]:
    """Re-enter the tenant while a streamed body is produced, after the view returned."""
    if get_current_tenant_or_none() is not None:
        yield from content
        return
    with tenant_scope(tenant), acting_as(actor), timezone.override(tenant.time_zone):
        yield from content
