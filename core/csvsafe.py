"""Spreadsheet-safe cells for every CSV and XLSX file Quotient writes.

A cell that begins with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return, which some
spreadsheets skip before reading the formula) runs as a formula when the file is opened:
``=HYPERLINK(...)`` leaks data, ``=cmd|...`` runs programs (CSV injection, OWASP). Such text
gets a leading apostrophe, which spreadsheets show as "text" and do not evaluate. A plain number
(``-120.50``, ``+3``) cannot call anything and stays as it is, so figures remain numbers.

Use :func:`csv_writer` for CSV, :func:`xlsx_bytes` for XLSX (every text cell through
:func:`safe_cell`, and stored as text, so openpyxl never reads a leading ``=`` as a formula), or
:func:`safe_cell` on each value of another tabular format.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterable, Sequence
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


# A fixed instant for the workbook's properties and the zip entries' times, so the same rows
# give the same bytes (a file asked for twice is byte-identical).
XLSX_EPOCH = dt.datetime(2000, 1, 1)  # noqa: DTZ001 (the zip format's times are naive)


def xlsx_bytes(
    sheets: Sequence[tuple[str, Sequence[Any], Iterable[Sequence[Any]]]],
) -> bytes:
    """Return an XLSX workbook of ``(title, header, rows)`` sheets with formula cells
    neutralised; the same sheets always give the same bytes."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import TYPE_STRING

    workbook = Workbook(write_only=False)
    for default in list(workbook.worksheets):
        workbook.remove(default)
    for title, header, rows in sheets:
        sheet = workbook.create_sheet(title=str(title)[:31])
        for row in [header, *rows]:
            sheet.append([safe_cell(v) for v in row])
        for row_cells in sheet.iter_rows():
            for cell in row_cells:
                if isinstance(cell.value, str):
                    cell.data_type = TYPE_STRING  # text, never a formula
    workbook.properties.created = XLSX_EPOCH
    workbook.properties.modified = XLSX_EPOCH
    workbook.properties.creator = "Quotient"
    raw = io.BytesIO()
    workbook.save(raw)
    return _fixed_zip_times(raw.getvalue())


def _fixed_zip_times(data: bytes) -> bytes:
    """Return the zip ``data`` with every entry dated :data:`XLSX_EPOCH`."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=XLSX_EPOCH.timetuple()[:6])
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            target.writestr(fixed, source.read(info.filename))
    return out.getvalue()
