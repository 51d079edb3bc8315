"""Typed column cleaners: one column of a chunk in, clean values out, row errors aside.

Every cleaner takes the column's text values (one per record of the chunk, already
stripped, defaulted and value-mapped by :meth:`core.imports.mapping.BoundMap.values`), the
column's name as the file spells it (for the errors) and the chunk's :class:`Issues`, and
returns one clean value per record (``None`` when blank or bad). The work is one pass per
column with caches where values repeat (dates, references), so a chunk of 20,000 rows costs a
few list comprehensions, not 20,000 calls of a row parser.

Nothing is ever cut or guessed: an over-long text is ``too_long``, a decimal with more places
than allowed is ``too_many_decimals``, an unknown reference is ``unknown_<what>``.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Collection, Mapping, Sequence
from decimal import Decimal, InvalidOperation

from core.currencies import CURRENCY_EXPONENTS
from core.imports.errors import RowError

ISO_DATES = ("%Y-%m-%d",)
REQUIRED = "A value is required."
TOO_LONG = "At most {limit} characters (this has {length}); nothing is cut."
BAD_NUMBER = "Not a number."
NOT_FINITE = "Not a finite number."
TOO_MANY_DECIMALS = "At most {scale} decimal places."
OUT_OF_RANGE = "The number is too large."
NEGATIVE = "The value cannot be negative."
BAD_DATE = "Not a date (expected {formats})."
FUTURE_DATE = "The date is in the future."
UNKNOWN_CURRENCY = "Not an ISO 4217 currency code."
UNKNOWN_VALUE = "Use one of {choices}."
UNKNOWN_REFERENCE = "No {what} with this id in the tenant."
VALUE_MAX = 200  # characters of the offending value kept in a report

_PLAIN_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.([0-9]+))?")
_FORMAT_NAMES = {"%Y-%m-%d": "YYYY-MM-DD", "%m/%d/%Y": "MM/DD/YYYY", "%d/%m/%Y": "DD/MM/YYYY"}


class Issues:
    """The row errors the cleaners find in one chunk, by record index."""

    def __init__(self, lines: Sequence[int]) -> None:
        self.lines = lines
        self.by_row: dict[int, list[RowError]] = {}

    def add(self, i: int, column: str, code: str, message: str, value: object = "") -> None:
        text = value if isinstance(value, str) else str(value)
        self.by_row.setdefault(i, []).append(
            RowError(self.lines[i], column, code, message, text[:VALUE_MAX])
        )

    def __contains__(self, i: object) -> bool:
        return i in self.by_row

    def __bool__(self) -> bool:
        return bool(self.by_row)

    def good(self) -> list[int]:
        """Indices of the records without errors, in order."""
        bad = self.by_row
        if not bad:
            return list(range(len(self.lines)))
        return [i for i in range(len(self.lines)) if i not in bad]

    def rows(self) -> list[list[RowError]]:
        """Each bad record's errors, in record order."""
        return [self.by_row[i] for i in sorted(self.by_row)]


def _required(values: Sequence[str], column: str, issues: Issues) -> None:
    if "" in values:
        for i, v in enumerate(values):
            if not v:
                issues.add(i, column, "required", REQUIRED)


def text(
    values: Sequence[str],
    *,
    column: str,
    issues: Issues,
    max_length: int,
    required: bool = False,
) -> list[str]:
    """Bounded text: longer than ``max_length`` is ``too_long`` (never cut)."""
    if required:
        _required(values, column, issues)
    if values and max(map(len, values)) > max_length:
        for i, v in enumerate(values):
            if len(v) > max_length:
                issues.add(
                    i,
                    column,
                    "too_long",
                    TOO_LONG.format(limit=max_length, length=len(v)),
                    v,
                )
    return list(values)


def _number(value: str) -> Decimal | None:
    if _PLAIN_NUMBER.fullmatch(value):
        return Decimal(value)
    if value.count(".") > 1:
        return None
    try:
        number = Decimal(value.replace(",", ""))
    except InvalidOperation:
        return None
    return number


def decimal(
    values: Sequence[str],
    *,
    column: str,
    issues: Issues,
    scale: int | Sequence[int] = 4,
    limit: Decimal = Decimal("1e16"),
    required: bool = False,
    negative: bool = True,
    scale_message: str = TOO_MANY_DECIMALS,
) -> list[Decimal | None]:
    """Decimals with at most ``scale`` places (one per record, or one for all) and an
    absolute value below ``limit``; thousands separators (``1,234.50``) are accepted."""
    if required:
        _required(values, column, issues)
    scales = scale if not isinstance(scale, int) else None
    out: list[Decimal | None] = []
    append = out.append
    for i, v in enumerate(values):
        if not v:
            append(None)
            continue
        number = _number(v)
        if number is None or not number.is_finite():
            issues.add(i, column, "bad_number", BAD_NUMBER if number is None else NOT_FINITE, v)
            append(None)
            continue
        places = -number.as_tuple().exponent  # type: ignore[operator]
        allowed = scales[i] if scales is not None else scale
        if places > allowed:  # type: ignore[operator]
            message = scale_message.format(scale=allowed)
            issues.add(i, column, "too_many_decimals", message, str(number))
            append(None)
            continue
        if abs(number) >= limit:
            issues.add(i, column, "out_of_range", OUT_OF_RANGE, str(number))
            append(None)
            continue
        if not negative and number < 0:
            issues.add(i, column, "negative_amount", NEGATIVE, str(number))
            append(None)
            continue
        append(number)
    return out


def _format_names(formats: Sequence[str]) -> str:
    return " or ".join(_FORMAT_NAMES.get(f, f) for f in formats)


def parse_day(value: str, formats: Sequence[str] = ISO_DATES) -> dt.date | None:
    """Return the date ``value`` means in one of ``formats``, or None."""
    if "%Y-%m-%d" in formats and len(value) == 10 and value[4:5] == "-":
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    for fmt in formats:
        try:
            return dt.datetime.strptime(value, fmt).date()  # noqa: DTZ007 (a date)
        except ValueError:
            continue
    return None


def date(
    values: Sequence[str],
    *,
    column: str,
    issues: Issues,
    formats: Sequence[str] = ISO_DATES,
    required: bool = False,
    not_after: dt.date | None = None,
) -> list[dt.date | None]:
    """Dates in one of ``formats``; after ``not_after`` is ``future_date``."""
    if required:
        _required(values, column, issues)
    cache: dict[str, dt.date | None] = {"": None}
    for v in set(values):
        if v:
            cache[v] = parse_day(v, formats)
    out = [cache[v] for v in values]
    bad = [v for v, day in cache.items() if v and day is None]
    late = not_after is not None and any(
        day is not None and day > not_after for day in cache.values()
    )
    if bad or late:
        message = BAD_DATE.format(formats=_format_names(formats))
        for i, v in enumerate(values):
            day = out[i]
            if v and day is None:
                issues.add(i, column, "bad_date", message, v)
            elif day is not None and not_after is not None and day > not_after:
                issues.add(i, column, "future_date", FUTURE_DATE, day.isoformat())
                out[i] = None
    return out


def currency(
    values: Sequence[str], *, column: str, issues: Issues, required: bool = False
) -> list[str]:
    """ISO 4217 codes (upper-cased); an unknown code is blanked and reported."""
    if required:
        _required(values, column, issues)
    out = [v.upper() for v in values]
    known = CURRENCY_EXPONENTS
    if not set(out) <= known.keys() | {""}:
        for i, v in enumerate(out):
            if v and v not in known:
                issues.add(i, column, "unknown_currency", UNKNOWN_CURRENCY, v)
                out[i] = ""
    return out


def choice(
    values: Sequence[str],
    *,
    column: str,
    issues: Issues,
    choices: Collection[str],
    code: str = "unknown_value",
    message: str = "",
    required: bool = False,
) -> list[str]:
    """One of ``choices`` (blank allowed unless ``required``)."""
    if required:
        _required(values, column, issues)
    allowed = set(choices) | {""}
    if not set(values) <= allowed:
        text_ = message or UNKNOWN_VALUE.format(choices=", ".join(sorted(choices)))
        hinted: dict[str, str] = {}  # each distinct bad value's message, with its likely fix
        for i, v in enumerate(values):
            if v not in allowed:
                if v not in hinted:
                    close = difflib.get_close_matches(v.strip().lower(), choices, n=1)
                    hinted[v] = f"{text_} Did you mean {close[0]}?" if close else text_
                issues.add(i, column, code, hinted[v], v)
    return list(values)


def reference(
    values: Sequence[str],
    *,
    column: str,
    issues: Issues,
    lookup: Mapping[str, int],
    code: str = "unknown_person",
    message: str = "",
    required: bool = False,
) -> list[int | None]:
    """Ids of the rows ``lookup`` finds by external id (the caller builds it within the
    tenant, so another tenant's id is unknown like any other)."""
    if required:
        _required(values, column, issues)
    get = lookup.get
    out = [get(v) if v else None for v in values]
    if None in out:
        what = code.removeprefix("unknown_")
        text_ = message or UNKNOWN_REFERENCE.format(what=what)
        for i, v in enumerate(values):
            if v and out[i] is None:
                issues.add(i, column, code, text_, v)
    return out


def exponents(codes: Sequence[str], default: int = 4) -> list[int]:
    """Each currency's decimal places (``default`` for a blank or unknown code)."""
    get = CURRENCY_EXPONENTS.get
    return [get(c, default) for c in codes]
