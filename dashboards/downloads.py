"""Every table of the dashboards as a CSV or XLSX download: one way, formula cells neutralised
(``core.csvsafe``), the same rows giving the same bytes."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from typing import Any

from django.http import Http404, HttpResponse

from core.csvsafe import csv_writer, xlsx_bytes

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def table_download(
    *, title: str, header: Sequence[Any], rows: Iterable[Sequence[Any]], fmt: str, name: str
) -> HttpResponse:
    """Return the table as the download ``<name>.<fmt>``; an unknown format is a 404."""
    if fmt not in FORMATS:
        raise Http404("Not found")
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv_writer(buffer)
        writer.writerow(header)
        writer.writerows(rows)
        response = HttpResponse(buffer.getvalue(), content_type=FORMATS[fmt])
    else:
        response = HttpResponse(xlsx_bytes([(title, header, rows)]), content_type=FORMATS[fmt])
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response
