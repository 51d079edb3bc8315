"""The one error report of an import: CSV or JSON, formula cells neutralised.

Works on :class:`~core.imports.errors.RowError` or anything with the same attributes (a stored
error row), so every importer's report has the same columns in the same order.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from django.http import HttpResponse

from core.csvsafe import csv_writer, safe_cell

COLUMNS = ("line", "column", "code", "message", "value")
FORMATS = ("csv", "json")


class ErrorLike(Protocol):
    line: int
    column: str
    code: str
    message: str
    value: str


def report_rows(errors: Iterable[ErrorLike]) -> Iterator[list[Any]]:
    for e in errors:
        yield [e.line, e.column, e.code, e.message, e.value]


def report_csv_lines(errors: Iterable[ErrorLike]) -> Iterator[str]:
    """The report as CSV text, header first, one line at a time (formula cells escaped)."""
    buffer = io.StringIO()
    writer = csv_writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in report_rows(errors):
        writer.writerow(row)
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def report_json(errors: Iterable[ErrorLike]) -> list[dict[str, Any]]:
    """The report as JSON objects; text cells escaped like the CSV (opened in a sheet too)."""
    return [
        dict(zip(COLUMNS, [row[0], *map(safe_cell, row[1:])], strict=True))
        for row in report_rows(errors)
    ]


def report_response(
    errors: Iterable[ErrorLike], *, filename: str, fmt: str = "csv"
) -> HttpResponse:
    """A download of the report (at most ``MAX_ERRORS_STORED`` rows): ``csv`` or ``json``."""
    if fmt == "json":
        response = HttpResponse(json.dumps(report_json(errors)), content_type="application/json")
        name = f"{filename}.json"
    else:
        response = HttpResponse("".join(report_csv_lines(errors)), content_type="text/csv")
        name = f"{filename}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
