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
    """Return the date ``days`` after 1970-01-01."""
    return EPOCH + dt.timedelta(days=int(days))


def local_date(moment: dt.datetime, tz: str) -> dt.date:
    """Return the calendar date of an aware ``moment`` in time zone ``tz``."""
    return moment.astimezone(ZoneInfo(tz)).date()


def month_boundaries(year: int, month: int) -> tuple[dt.date, dt.date]:
    """Return the half-open ``[start, end)`` of a calendar month."""
    start = dt.date(year, month, 1)
    end = dt.date(year + (month == 12), month % 12 + 1, 1)
    return start, end


def period_boundaries(frequency: str, anchor: dt.date) -> tuple[dt.date, dt.date]:
    """Return the ``[start, end)`` of the period of ``frequency`` containing ``anchor``."""
    size = MONTHS_PER_PERIOD[frequency]
    first_month = (anchor.month - 1) // size * size + 1
    start = dt.date(anchor.year, first_month, 1)
    months = start.month - 1 + size
    end = dt.date(start.year + months // 12, months % 12 + 1, 1)
    return start, end


def periods_since_hire(hire: dt.date, period_start: dt.date, frequency: str) -> int:
    """Return which payout period since hire ``period_start`` is (1 = the hire's first)."""
    size = MONTHS_PER_PERIOD[frequency]
    hire_period = (hire.year * 12 + hire.month - 1) // size
    this_period = (period_start.year * 12 + period_start.month - 1) // size
    return this_period - hire_period + 1
