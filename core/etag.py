"""ETags for pages that update themselves: a tag computed before rendering, 304 when unchanged.

The live pages (``static/quotient/live.js``) poll their own address every few seconds with
``If-None-Match``; :func:`live_page` answers ``304 Not Modified`` without rendering while
nothing the page shows can have changed, so a poll costs one or two indexed queries and keeps
the sync workers free. The tag is a hash of:

* the tenant's **version**: its newest audit event (every mutating action writes exactly one,
  live and full runs included) — :func:`tenant_version`;
* who asks and what (the user, the tenant, the full path with its query);
* what the page adds (``extra(request)``: e.g. the runs' progress on the run list).

A write whose audit event got a lower id than one already seen (committed later) shows at the
next event; the pages poll again anyway.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.db.models import Max
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified

from core.models import AuditEvent
from core.tenancy import get_current_tenant_id

LIVE_HEADER = "HTTP_X_QUOTIENT_LIVE"  # sent by live.js: the poll of a live page


def etag(*parts: Any) -> str:
    """Return a weak ETag over ``parts`` (JSON, order kept)."""
    text = json.dumps(parts, default=str, separators=(",", ":"))
    return 'W/"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'


def matches(request: HttpRequest, tag: str) -> bool:
    """Return whether the request's ``If-None-Match`` names ``tag`` (weak comparison; ``*``
    is not honoured: a page's tag is only ever one this server gave)."""
    header = request.META.get("HTTP_IF_NONE_MATCH", "")
    if not header:
        return False
    wanted = tag.removeprefix("W/")
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate.removeprefix("W/") == wanted:
            return True
    return False


def conditional(
    request: HttpRequest, tag: str, produce: Callable[[], HttpResponse]
) -> HttpResponse:
    """Answer 304 when the client holds ``tag``, else ``produce()`` with the tag set."""
    if request.method in ("GET", "HEAD") and matches(request, tag):
        response: HttpResponse = HttpResponseNotModified()
    else:
        response = produce()
        if response.status_code != 200:
            return response
    response["ETag"] = tag  # pay pages are also "no-store" (the middleware): a tag, no cache
    return response


def tenant_version() -> int:
    """Return the current tenant's version: the id of its newest audit event (0: none)."""
    if get_current_tenant_id() is None:
        return 0
    return int(AuditEvent.objects.aggregate(n=Max("id"))["n"] or 0)


def live_page(
    extra: Callable[[HttpRequest], Any] | None = None,
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Give a page an ETag from the tenant's version, the user and its address (304 if held)."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user = getattr(request, "user", None)
            if user is None or not user.is_authenticated or get_current_tenant_id() is None:
                return view(request, *args, **kwargs)  # the view answers (login, 404)
            tag = etag(
                "page",
                get_current_tenant_id(),
                user.pk,
                request.get_full_path(),
                tenant_version(),
                extra(request) if extra is not None else None,
            )
            return conditional(request, tag, lambda: view(request, *args, **kwargs))

        return wrapped

    return decorator


__all__ = ["conditional", "etag", "live_page", "matches", "tenant_version"]
