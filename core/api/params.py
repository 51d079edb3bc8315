"""Query parameters of API views: one parameter of a request becomes a value, or a 400.

:func:`boolean`, :func:`day`, :func:`moment`, :func:`identifier`, :func:`integer`,
:func:`choice`, :func:`amount`, :func:`currency` and :func:`text` read one parameter (absent or
empty: the default) with the parsers of :mod:`core.params` and turn a bad value into
:class:`~core.errors.ValidationFailedError`: 400, code ``invalid_parameter``, the parameter named
in ``details``. :func:`reject_nul` refuses a NUL character anywhere in the query string (the
base view calls it for every request): PostgreSQL refuses NUL in text.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from core.errors import ValidationFailedError
from core.params import (
    nul_name,
    parse_amount,
    parse_boolean,
    parse_choice,
    parse_currency,
    parse_date,
    parse_datetime_aware,
    parse_id,
    parse_integer,
)

INVALID_PARAMETER = "invalid_parameter"

T = TypeVar("T")


# --- one parameter of a request ----------------------------------------------------------------


def invalid(name: str, message: str) -> ValidationFailedError:
    """Return the 400 for a bad query parameter ``name``."""
    text = f"{name} {message}"
    return ValidationFailedError(text, code=INVALID_PARAMETER, details={name: [text]})


def _read(request: Any, name: str, parse: Any, default: T) -> Any:
    raw = request.query_params.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return parse(raw)
    except ValueError as exc:
        raise invalid(name, str(exc)) from None


def boolean(request: Any, name: str, *, default: bool = False) -> bool:
    """Return the boolean parameter ``name`` (true/false/1/0), or ``default``."""
    value: bool = _read(request, name, parse_boolean, default)
    return value


def day(request: Any, name: str, *, default: date | None = None) -> date | None:
    """Return the date parameter ``name`` (YYYY-MM-DD), or ``default``."""
    value: date | None = _read(request, name, parse_date, default)
    return value


def moment(request: Any, name: str) -> datetime | None:
    """Return the date-time parameter ``name`` as an aware UTC datetime, or None."""
    value: datetime | None = _read(request, name, parse_datetime_aware, None)
    return value


def identifier(request: Any, name: str) -> int | None:
    """Return the id parameter ``name``, or None."""
    value: int | None = _read(request, name, parse_id, None)
    return value


def integer(
    request: Any, name: str, *, minimum: int | None = None, maximum: int | None = None
) -> int | None:
    """Return the integer parameter ``name`` within [minimum, maximum], or None."""
    value: int | None = _read(
        request, name, lambda raw: parse_integer(raw, minimum=minimum, maximum=maximum), None
    )
    return value


def choice(
    request: Any, name: str, choices: Iterable[str], *, default: str | None = None
) -> str | None:
    """Return the parameter ``name`` if it is one of ``choices``, or ``default``."""
    allowed = list(choices)
    value: str | None = _read(request, name, lambda raw: parse_choice(raw, allowed), default)
    return value


def amount(request: Any, name: str) -> Decimal:
    """Return the required decimal parameter ``name``."""
    value: Decimal | None = _read(request, name, parse_amount, None)
    if value is None:
        raise invalid(name, "is required.")
    return value


def currency(request: Any, name: str) -> str:
    """Return the required currency parameter ``name`` (any case) as an ISO 4217 code."""
    value: str | None = _read(request, name, parse_currency, None)
    if value is None:
        raise invalid(name, "is required.")
    return value


def text(request: Any, name: str, *, default: str = "", max_length: int = 500) -> str:
    """Return the text parameter ``name`` (at most ``max_length`` characters), or ``default``."""

    def parse(raw: str) -> str:
        if len(raw) > max_length:
            raise ValueError(f"must be at most {max_length} characters.")
        return raw

    value: str = _read(request, name, parse, default)
    return value


def reject_nul(request: Any) -> None:
    """Refuse a query string with a NUL character in any name or value."""
    name = nul_name(request.query_params.lists())
    if name is not None:
        raise invalid(name.replace("\x00", "\\0"), "must not contain a NUL character.")
