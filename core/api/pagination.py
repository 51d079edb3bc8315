"""The one pagination of every list endpoint: limit/offset with a ceiling.

``?limit=`` above :data:`MAX_LIMIT` is clamped to it (never an error, never every row); the
default page is :data:`DEFAULT_LIMIT` rows. Responses carry ``count``, ``next``, ``previous``
and ``results``.
"""

from __future__ import annotations

from typing import Any

from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


class QuotientPagination(LimitOffsetPagination):
    default_limit = DEFAULT_LIMIT
    max_limit = MAX_LIMIT


def paginate(view: Any, request: Request, queryset: Any, serializer: Any) -> Response:
    """Return one page of ``queryset`` rendered by ``serializer``."""
    paginator = QuotientPagination()
    page: list[Any] | None = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(
        serializer(page, many=True, context={"request": request}).data
    )
