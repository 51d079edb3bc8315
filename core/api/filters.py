"""List filtering and ordering with django-filter: declared, typed, whitelisted.

Every list endpoint names one :class:`FilterSet` (``paginate(..., filterset=...)``). Its filters
are the only query parameters the list accepts besides :data:`PAGE_PARAMS`; anything else is a
400 ``unknown_parameter``, and a bad value (an unknown ``ordering`` field, a date that is not
one, ``?history=maybe``) is a 400 ``invalid_parameter``, both in the error envelope, never a 500.

* Typed filters (:class:`BooleanFilter`, :class:`DateFilter`, :class:`DateTimeFilter`,
  :class:`IdFilter`, :class:`IntegerFilter`) parse with :mod:`core.params`, so a filter and
  a view parameter of the same type accept the same strings.
* A filter whose rule lives in a selector calls it (``method=by_selector(sel.node_list,
  "search")``), so pages and the API filter alike.
* A parameter the view reads itself (``as_of``, ``known_at``, ``history``…) is declared with
  ``method=view_param``: documented and whitelisted here, applied by the view.
* :class:`Ordering` is ``?ordering=a,-b`` over a whitelist; the primary key breaks ties so pages
  are stable. Without ``?ordering`` the selector's order stands.
* :func:`list_parameters` turns a FilterSet into the OpenAPI parameters of its list.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any, ClassVar

import django_filters
from django import forms
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

from core import params
from core.api.params import INVALID_PARAMETER
from core.errors import ValidationFailedError

PAGE_PARAMS = frozenset({"limit", "offset", "format"})
UNKNOWN_PARAMETER = "unknown_parameter"


# --- form fields that parse with core.api.params -------------------------------------------------


class _ParsedField(forms.Field):
    openapi_type: ClassVar[OpenApiTypes] = OpenApiTypes.STR

    def parse(self, raw: str) -> Any:
        raise NotImplementedError

    def to_python(self, value: Any) -> Any:
        if value in self.empty_values or (isinstance(value, str) and not value.strip()):
            return None
        try:
            return self.parse(str(value))
        except ValueError as exc:
            raise forms.ValidationError(str(exc), code="invalid") from None


class BooleanParamField(_ParsedField):
    openapi_type = OpenApiTypes.BOOL

    def parse(self, raw: str) -> bool:
        return params.parse_boolean(raw)


class DateParamField(_ParsedField):
    openapi_type = OpenApiTypes.DATE

    def parse(self, raw: str) -> date:
        return params.parse_date(raw)


class DateTimeParamField(_ParsedField):
    openapi_type = OpenApiTypes.DATETIME

    def parse(self, raw: str) -> datetime:
        return params.parse_datetime_aware(raw)


class IdParamField(_ParsedField):
    openapi_type = OpenApiTypes.INT

    def parse(self, raw: str) -> int:
        return params.parse_id(raw)


class IntegerParamField(_ParsedField):
    openapi_type = OpenApiTypes.INT

    def __init__(self, *, minimum: int, maximum: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.minimum, self.maximum = minimum, maximum

    def parse(self, raw: str) -> int:
        return params.parse_integer(raw, minimum=self.minimum, maximum=self.maximum)


# --- filters -----------------------------------------------------------------------------------


class BooleanFilter(django_filters.Filter):
    field_class = BooleanParamField


class DateFilter(django_filters.Filter):
    field_class = DateParamField


class DateTimeFilter(django_filters.Filter):
    field_class = DateTimeParamField


class IdFilter(django_filters.Filter):
    field_class = IdParamField


class IntegerFilter(django_filters.Filter):
    field_class = IntegerParamField


class CharFilter(django_filters.CharFilter):
    """Text, at most 200 characters (a search term or a code, never a document)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 200)
        super().__init__(*args, **kwargs)


class ChoiceFilter(django_filters.ChoiceFilter):
    """One of a fixed set of values; anything else is a 400."""


def by_selector(
    selector: Callable[..., QuerySet[Any]], kwarg: str | None = None
) -> Callable[[QuerySet[Any], str, Any], QuerySet[Any]]:
    """Return a filter method narrowing the list with ``selector(kwarg=value)``.

    The selector keeps the rule (a search over several fields, a prefix match), so a page that
    calls the selector and a list filter that calls it here filter alike.
    """

    def method(queryset: QuerySet[Any], name: str, value: Any) -> QuerySet[Any]:
        if value in (None, ""):
            return queryset
        return queryset & selector(**{kwarg or name: value})

    return method


def view_param(queryset: QuerySet[Any], name: str, value: Any) -> QuerySet[Any]:
    """Leave the queryset alone: the view reads this parameter itself (``method=view_param``)."""
    return queryset


class Ordering(django_filters.OrderingFilter):
    """``?ordering=a,-b`` over a whitelist of fields; ties broken by primary key."""

    def filter(self, qs: QuerySet[Any], value: Any) -> QuerySet[Any]:
        ordered = super().filter(qs, value)
        if value and ordered is not qs:
            last = self.get_ordering_value(next(p for p in reversed(value) if p))
            ordered = ordered.order_by(*ordered.query.order_by, "-pk" if last[0] == "-" else "pk")
        return ordered


class FilterSet(django_filters.FilterSet):
    """A list's declared query parameters. Subclasses declare filters and an ``ordering``."""


def accepted_params(filterset_class: type[FilterSet] | None) -> frozenset[str]:
    """Return every query parameter a list with ``filterset_class`` accepts."""
    names = set(filterset_class.base_filters) if filterset_class is not None else set()
    return frozenset(names) | PAGE_PARAMS


def check_params(request: Any, filterset_class: type[FilterSet] | None) -> None:
    """Refuse query parameters the list does not declare."""
    accepted = accepted_params(filterset_class)
    unknown = sorted(set(request.query_params) - accepted)
    if unknown:
        known = ", ".join(sorted(accepted))
        message = f"Unknown query parameter(s): {', '.join(unknown)}. This list accepts: {known}."
        raise ValidationFailedError(
            message,
            code=UNKNOWN_PARAMETER,
            details={name: ["Unknown parameter."] for name in unknown},
        )


def filter_list(
    request: Any, queryset: QuerySet[Any], filterset_class: type[FilterSet] | None
) -> QuerySet[Any]:
    """Return ``queryset`` filtered and ordered by the request's declared parameters, or a 400."""
    check_params(request, filterset_class)
    if filterset_class is None:
        return queryset
    filterset = filterset_class(request.query_params, queryset=queryset, request=request)
    if not filterset.is_valid():
        details = {name: list(errors) for name, errors in filterset.errors.items()}
        first = next(iter(details))
        raise ValidationFailedError(
            f"{first}: {details[first][0]}", code=INVALID_PARAMETER, details=details
        )
    result: QuerySet[Any] = filterset.qs
    return result


# --- OpenAPI -----------------------------------------------------------------------------------

PAGE_PARAMETERS = [
    OpenApiParameter(
        "limit",
        OpenApiTypes.INT,
        description="Rows per page (default 100, at most 1000: larger values are clamped; "
        "a value that is not a positive whole number means the default).",
    ),
    OpenApiParameter("offset", OpenApiTypes.INT, description="Rows to skip (default 0)."),
]


def _parameter(name: str, flt: django_filters.Filter) -> OpenApiParameter:
    description = str(flt.extra.get("help_text") or flt.label or "")
    if isinstance(flt, django_filters.OrderingFilter):
        fields = ", ".join(str(value) for value, _ in flt.extra["choices"] if value[0] != "-")
        return OpenApiParameter(
            name,
            OpenApiTypes.STR,
            description=f"Comma-separated fields, - for descending; one of: {fields}.",
        )
    if isinstance(flt, django_filters.ChoiceFilter):
        choices = [str(value) for value, _ in flt.extra["choices"]]
        return OpenApiParameter(name, OpenApiTypes.STR, enum=choices, description=description)
    field_class = flt.field_class
    kind = getattr(field_class, "openapi_type", OpenApiTypes.STR)
    return OpenApiParameter(name, kind, description=description)


def list_parameters(filterset_class: type[FilterSet] | None) -> list[OpenApiParameter]:
    """Return the OpenAPI parameters of a list: its filters, ordering, limit and offset."""
    declared = filterset_class.base_filters.items() if filterset_class is not None else []
    return [*(_parameter(name, flt) for name, flt in declared), *PAGE_PARAMETERS]


# --- the foundation's own lists ----------------------------------------------------------------


class MemberFilter(FilterSet):
    ordering = Ordering(fields=(("created_at", "created_at"), ("user__email", "email")))


class ApiClientFilter(FilterSet):
    ordering = Ordering(fields=("name", "created_at", "last_used_at"))
