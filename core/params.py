"""Parsing of one text value from a query string or form: a value, or ``ValueError``.

Each ``parse_*`` turns one raw string into a value or raises :class:`ValueError` with a message
for people. The API's parameters (:mod:`core.api.params`), its list filters
(:mod:`core.api.filters`) and the pages' query strings all use these, so every place accepts
the same strings: booleans ``true``/``false``/``1``/``0`` (any case); ISO dates between
:data:`DATE_MIN` and :data:`DATE_MAX` (``9999-12-31`` is refused here, not an overflow further
down); ISO 8601 date-times with an optional offset (none means UTC; a bad offset is refused);
ids of ASCII digits up to a 64-bit integer; amounts that fit ``NUMERIC(20, 4)``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.currencies import UNKNOWN_CURRENCY, is_currency_code

DATE_MIN = date(1900, 1, 1)
DATE_MAX = date(2999, 12, 31)
ID_MAX = 2**63 - 1
AMOUNT_LIMIT = Decimal(10) ** 16  # NUMERIC(20, 4): 16 digits before the point
TRUE_WORDS = frozenset({"true", "1"})
FALSE_WORDS = frozenset({"false", "0"})

_DIGITS = re.compile(r"[0-9]+")
_INTEGER = re.compile(r"-?[0-9]+")
_NUMBER = re.compile(r"-?[0-9]{1,40}(\.[0-9]{1,20})?")


def parse_boolean(raw: str) -> bool:
    """Return ``raw`` as a boolean: true/false/1/0, any case."""
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError("must be true or false (or 1 or 0).")


def parse_date(raw: str) -> date:
    """Return ``raw`` (YYYY-MM-DD) as a date between DATE_MIN and DATE_MAX."""
    try:
        value = date.fromisoformat(raw.strip())
    except ValueError:
        raise ValueError("must be a date (YYYY-MM-DD).") from None
    if not DATE_MIN <= value <= DATE_MAX:
        raise ValueError(f"must be between {DATE_MIN} and {DATE_MAX}.")
    return value


def parse_datetime_aware(raw: str) -> datetime:
    """Return ``raw`` (ISO 8601, optional offset; none means UTC) as an aware date-time."""
    text = raw.strip()
    try:
        value = parse_datetime(text)
    except ValueError:  # well formed but impossible: month 13, offset +25:00
        value = None
    if value is None:
        hint = " (write + as %2B in a URL)" if " " in text else ""
        raise ValueError(
            f"must be an ISO 8601 date-time such as 2026-01-31T12:00:00+02:00{hint}."
        ) from None
    if timezone.is_naive(value):
        value = value.replace(tzinfo=UTC)
    if not DATE_MIN.year <= value.year <= DATE_MAX.year:
        raise ValueError(f"must be between {DATE_MIN} and {DATE_MAX}.")
    return value.astimezone(UTC)


def parse_id(raw: str) -> int:
    """Return ``raw`` as a positive 64-bit id (ASCII digits only)."""
    text = raw.strip()
    if not _DIGITS.fullmatch(text) or len(text) > 19 or not 0 < int(text) <= ID_MAX:
        raise ValueError("must be an id (a positive whole number).")
    return int(text)


def parse_integer(raw: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``raw`` as an integer within [minimum, maximum]."""
    text = raw.strip()
    if not _INTEGER.fullmatch(text) or len(text) > 20:
        raise ValueError("must be a whole number.")
    value = int(text)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValueError(f"must be between {minimum} and {maximum}.")
    return value


def parse_amount(raw: str) -> Decimal:
    """Return ``raw`` as a decimal amount that fits NUMERIC(20, 4)'s whole digits."""
    text = raw.strip()
    if not _NUMBER.fullmatch(text):
        raise ValueError("must be a number such as 1234.50.")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError("must be a number such as 1234.50.") from None
    if abs(value) >= AMOUNT_LIMIT:
        raise ValueError(f"must be less than {AMOUNT_LIMIT:,} in absolute value.")
    return value


def parse_choice(raw: str, choices: Iterable[str]) -> str:
    """Return ``raw`` if it is one of ``choices``."""
    allowed = list(choices)
    if raw not in allowed:
        raise ValueError(f"must be one of {', '.join(allowed)}.")
    return raw


def parse_currency(raw: str) -> str:
    """Return ``raw`` (any case) as a current ISO 4217 code."""
    code = raw.strip().upper()
    if not is_currency_code(code):
        raise ValueError(UNKNOWN_CURRENCY)
    return code


def nul_name(items: Iterable[tuple[str, list[str]]]) -> str | None:
    """Return the first name whose name or values hold a NUL character (of a QueryDict's
    ``lists()``), or None: PostgreSQL refuses NUL in text."""
    for name, values in items:
        if "\x00" in name or any("\x00" in v for v in values):
            return name
    return None
