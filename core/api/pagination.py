"""The one pagination of every list endpoint: limit/offset with a ceiling.

``?limit=`` above :data:`MAX_LIMIT` is clamped to it (never an error, never every row); the
default page is :data:`DEFAULT_LIMIT` rows, and a ``limit`` that is not a positive whole number
(``?limit=abc``, ``0``, ``-5``) means the default, as in DRF. ``?offset=`` that is not a
whole number means 0; one above :data:`MAX_OFFSET` is clamped (an empty page, not a database
overflow). Responses carry ``count``, ``next``, ``previous`` and ``results``.

:func:`paginate` is how a list view answers: it applies the list's declared
:class:`~core.api.filters.FilterSet` (unknown or bad parameters are a 400), then one page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.filters import FilterSet, filter_list

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_OFFSET = 10**15


class QuotientPagination(LimitOffsetPagination):
    default_limit = DEFAULT_LIMIT
    max_limit = MAX_LIMIT

    def get_offset(self, request: Request) -> int:
        return min(super().get_offset(request), MAX_OFFSET)


def paginate(
    view: Any,
    request: Request,
    queryset: QuerySet[Any],
    serializer: Any,
    *,
    filterset: type[FilterSet] | None = None,
    present: Callable[[QuerySet[Any]], Any] | None = None,
) -> Response:
    """Return one page of ``queryset`` filtered by ``filterset``, rendered by ``serializer``.

    ``present`` wraps the filtered rows before they are sliced (e.g. the access policy's
    redaction of audit snapshots, applied to each page only).
    """
    rows: Any = filter_list(request, queryset, filterset)
    if present is not None:
        rows = present(rows)
    paginator = QuotientPagination()
    page: list[Any] | None = paginator.paginate_queryset(rows, request, view=view)
    return paginator.get_paginated_response(
        serializer(page, many=True, context={"request": request}).data
    )
