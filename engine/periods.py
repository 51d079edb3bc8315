"""Period arithmetic: day numbers, period boundaries, periods since hire.

Contract: dates are naive calendar dates (the tenant's time zone is applied by the caller, via
:func:`local_date`); periods and segments are half-open ``[start, end)``; day numbers are
int days since 1970-01-01, which is how the engine compares dates inside DataFrames.
"""

from __future__ import annotations

import datetime as dt
from typing import Final
from zoneinfo import ZoneInfo

EPOCH: Final[dt.date] = dt.date(1970, 1, 1)
_EPOCH_ORDINAL: Final[int] = EPOCH.toordinal()
MONTHS_PER_PERIOD: Final[dict[str, int]] = {
    "monthly": 1,
    "quarterly": 3,
    "semiannual": 6,
    "annual": 12,
}


def day_number(value: dt.date) -> int:
    """Return ``value`` as days since 1970-01-01."""
    return (value - EPOCH).days


def from_day_number(days: int) -> dt.date:
    """Return the date ``days`` after 1970-01-01 (by ordinal: no timedelta is made)."""
    return dt.date.fromordinal(int(days) + _EPOCH_ORDINAL)


def local_date(moment: dt.datetime, tz: str) -> dt.date:
    """Return the calendar date of an aware ``moment`` in time zone ``tz``."""
    return moment.astimezone(ZoneInfo(tz)).date()


def month_boundaries(year: int, month: int) -> tuple[dt.date, dt.date]:
    """Return the half-open ``[start, end)`` of a calendar month."""
    start = dt.date(year, month, 1)
    end = dt.date(year + (month == 12), month % 12 + 1, 1)
    return start, end


def _period_index(day: dt.date, size: int, fiscal_start_month: int) -> int:
    """Return the number of ``size``-month fiscal periods from year 0 to the one holding ``day``."""
    if not 1 <= fiscal_start_month <= 12:
        raise ValueError(f"fiscal year start month must be 1..12, not {fiscal_start_month}")
    return (day.year * 12 + day.month - fiscal_start_month) // size


def period_boundaries(
    frequency: str, anchor: dt.date, fiscal_start_month: int = 1
) -> tuple[dt.date, dt.date]:
    """Return the ``[start, end)`` of the fiscal period of ``frequency`` containing ``anchor``.

    Quarters, halves and years start on the tenant's fiscal year start month (January by
    default): with a February start, the quarters are Feb-Apr, May-Jul, Aug-Oct, Nov-Jan.
    """
    size = MONTHS_PER_PERIOD[frequency]
    first = _period_index(anchor, size, fiscal_start_month) * size + fiscal_start_month - 1
    start = dt.date(first // 12, first % 12 + 1, 1)
    end = dt.date((first + size) // 12, (first + size) % 12 + 1, 1)
    return start, end


def periods_since_hire(
    hire: dt.date, period_start: dt.date, frequency: str, fiscal_start_month: int = 1
) -> int:
    """Return which payout period since hire ``period_start`` is (1 = the hire's first).

    Periods are counted on the fiscal calendar: with a February fiscal year start, a hire on
    15 January is in the November-January quarter, so 1 February starts their second quarter.
    """
    size = MONTHS_PER_PERIOD[frequency]
    hire_period = _period_index(hire, size, fiscal_start_month)
    this_period = _period_index(period_start, size, fiscal_start_month)
    return this_period - hire_period + 1


def fiscal_months(start: dt.date, end: dt.date, fiscal_start_month: int = 1) -> list[int]:
    """Return the fiscal month numbers (1 = the fiscal year's first) of the months in a period.

    A month belongs to the period when its first day is in ``[start, end)``.
    """
    out = []
    year, month = start.year, start.month
    if start.day > 1:
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    while dt.date(year, month, 1) < end:
        out.append((month - fiscal_start_month) % 12 + 1)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def add_months(day: dt.date, months: int) -> dt.date:
    """Return ``day`` moved by whole calendar months, kept in the month (31 Jan + 1 = 28 Feb)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = (month_boundaries(year, month + 1)[1] - dt.timedelta(days=1)).day
    return dt.date(year, month + 1, min(day.day, last))


def months_between(start: dt.date, end: dt.date) -> int:
    """Return the whole calendar months from ``start`` to ``end`` (15 Jan to 15 Apr is 3)."""
    months = (end.year - start.year) * 12 + end.month - start.month
    if add_months(start, months) > end:
        months -= 1
    return months


def closes_fiscal(end: dt.date, months: int, fiscal_start_month: int = 1) -> bool:
    """Return whether a period ending (exclusive) on ``end`` closes a fiscal ``months`` block.

    ``months`` is 12 for a fiscal year, 3 for a fiscal quarter: the period closes it when
    ``end`` is the first day of such a block (with a February start, a year ends on 1 Feb).
    """
    return end.day == 1 and (end.month - fiscal_start_month) % months == 0
