"""Numeric, date and text conditions on credits: one rule, used column-wise and row by row.

Contract:

* A :class:`~engine.spec.Condition` compares one *subject* of a credit - its credited
  ``amount``, its ``date``, any attribute (``quantity``, ``created_date``...), or the
  ``days`` from one date to another - with ``>=``, ``>``, ``<=``, ``<``, ``between``
  (both ends included), ``in`` or ``not_in``.
* The comparison itself is :func:`holds`, the only place it is written. :func:`mask` applies
  it to a credits frame (once per distinct subject value, then gathered - vectorized), and
  :func:`row_holds` to one :class:`~engine.rules.CreditRow`-like credit (the per-credit rules:
  SPIFs, retention bonuses). Both read a subject the same way (:func:`read`).
* A credit without the attribute, or whose value is not a number (a date) where one is
  compared, never passes a condition - ``not_in`` included: a condition says what a credit
  must have.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from engine.money import MoneyError, from_e4, to_decimal
from engine.periods import day_number, from_day_number
from engine.spec import Condition

BoolArray = npt.NDArray[np.bool_]
Subject = Decimal | dt.date | str | None


def holds(cond: Condition, subject: Subject) -> bool:
    """Return whether one subject value passes the condition (None never does)."""
    if subject is None:
        return False
    values: tuple[object, ...] = cond.operands
    if cond.op == "in":
        return subject in values
    if cond.op == "not_in":
        return subject not in values
    low = values[0]
    if cond.op == "between":
        return bool(low <= subject <= values[1])  # type: ignore[operator]
    if cond.op == ">=":
        return bool(subject >= low)  # type: ignore[operator]
    if cond.op == ">":
        return bool(subject > low)  # type: ignore[operator]
    if cond.op == "<=":
        return bool(subject <= low)  # type: ignore[operator]
    return bool(subject < low)  # type: ignore[operator]


def read(cond: Condition, raw: object) -> Subject:
    """Return a stored value (attribute text, amount, date) as the condition's kind, or None."""
    if raw is None or (isinstance(raw, float) and np.isnan(raw)) or raw is pd.NA:
        return None
    if cond.kind == "text":
        return str(raw)
    if cond.kind == "date":
        return _date(raw)
    if isinstance(raw, Decimal):
        return raw
    try:
        return to_decimal(str(raw).strip())
    except (MoneyError, ValueError):
        return None


def _date(raw: object) -> dt.date | None:
    if isinstance(raw, dt.datetime):
        return raw.date()
    if isinstance(raw, dt.date):
        return raw
    if isinstance(raw, pd.Timestamp):
        return raw.date()
    try:
        return dt.date.fromisoformat(str(raw).strip()[:10])
    except ValueError:
        return None


def _days_between(start: dt.date | None, end: dt.date | None) -> Decimal | None:
    if start is None or end is None:
        return None
    return Decimal((end - start).days)


def row_holds(
    cond: Condition, amount: Decimal, date: dt.date, attributes: Mapping[str, str]
) -> bool:
    """Return whether one credit (its amount, date and attribute texts) passes ``cond``."""

    def value(name: str) -> object:
        if name == "amount":
            return amount
        if name == "date":
            return date
        return attributes.get(name)

    if cond.days_from is not None:
        start = _date_or_none(value(cond.days_from))
        subject: Subject = _days_between(start, _date_or_none(value(cond.days_to)))
    else:
        subject = read(cond, value(cond.field or ""))
    return holds(cond, subject)


def _date_or_none(raw: object) -> dt.date | None:
    if raw is None or (isinstance(raw, float) and np.isnan(raw)):
        return None
    return _date(raw)


def mask(
    credits: pd.DataFrame, cond: Condition, days: npt.NDArray[np.int64] | None = None
) -> BoolArray:
    """Return which rows of ``credits`` pass ``cond`` (``days``: credit dates as day numbers).

    Each distinct subject value is read and tested once, then the verdicts are gathered.
    """
    n = len(credits)
    if n == 0:
        return np.zeros(0, dtype=bool)
    if cond.days_from is not None:
        start, start_ok = _day_numbers(credits, cond.days_from, days)
        end, end_ok = _day_numbers(credits, cond.days_to, days)
        ok = start_ok & end_ok
        return ok & _verdicts(np.where(ok, end - start, 0), lambda d: holds(cond, Decimal(int(d))))
    name = cond.field or ""
    if name == "amount":
        amounts = credits["amount_e4"].to_numpy(dtype=np.int64)
        return _verdicts(amounts, lambda v: holds(cond, from_e4(int(v))))
    if name == "date":
        numbers = days if days is not None else _day_numbers(credits, "date", None)[0]
        return _verdicts(numbers, lambda d: holds(cond, from_day_number(int(d))))
    if name not in credits.columns:
        return np.zeros(n, dtype=bool)
    column = credits[name].to_numpy(dtype=object)
    return _verdicts(column, lambda v: holds(cond, read(cond, v)))


def _verdicts(values: npt.NDArray[Any], test: Callable[[Any], bool]) -> BoolArray:
    """Return ``test`` of every value, worked out once per distinct value."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    verdict = np.array([test(u) for u in list(uniques)] + [False], dtype=bool)
    return verdict[np.where(codes >= 0, codes, len(uniques))]


def _day_numbers(
    credits: pd.DataFrame, name: str, days: npt.NDArray[np.int64] | None
) -> tuple[npt.NDArray[np.int64], BoolArray]:
    """Return a date column (the credit date or an attribute) as day numbers, and which parse."""
    n = len(credits)
    if name == "date" and days is not None:
        return days.astype(np.int64), np.ones(n, dtype=bool)
    if name not in credits.columns:
        return np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool)
    codes, uniques = pd.factorize(credits[name].to_numpy(dtype=object), use_na_sentinel=True)
    parsed = [_date_or_none(u) for u in list(uniques)]
    table = np.array([day_number(d) if d is not None else 0 for d in parsed] + [0], dtype=np.int64)
    good = np.array([d is not None for d in parsed] + [False], dtype=bool)
    pick = np.where(codes >= 0, codes, len(uniques))
    return table[pick], good[pick]
