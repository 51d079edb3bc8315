"""Spreadsheet-safe cells for every CSV (and, later, XLSX) file Quotient writes.

A cell that begins with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return, which some
spreadsheets skip before reading the formula) runs as a formula when the file is opened:
``=HYPERLINK(...)`` leaks data, ``=cmd|...`` runs programs (CSV injection, OWASP). Such text
gets a leading apostrophe, which spreadsheets show as "text" and do not evaluate. A plain number
(``-120.50``, ``+3``) cannot call anything and stays as it is, so figures remain numbers.

Use :func:`csv_writer` for CSV, or :func:`safe_cell` on each value of another tabular format.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import IO, Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def safe_cell(value: Any) -> Any:
    """Return ``value`` with a leading apostrophe when a spreadsheet would run it as a formula."""
    if not isinstance(value, str) or not value.startswith(FORMULA_PREFIXES):
        return value
    if _PLAIN_NUMBER.fullmatch(value):
        return value
    return "'" + value


class SafeWriter:
    """A ``csv.writer`` whose every cell passes through :func:`safe_cell`."""

    def __init__(self, stream: IO[str], **kwargs: Any) -> None:
        self._writer = csv.writer(stream, **kwargs)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([safe_cell(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(stream: IO[str], **kwargs: Any) -> SafeWriter:
    """Return a CSV writer (``csv.writer`` arguments) that neutralises formula cells."""
    return SafeWriter(stream, **kwargs)
