"""The import kernel: one streamed, vectorised, fail-safe pipeline for every CSV/JSON import.

Public API (docs/imports.md): reading (:func:`read_csv`, :class:`JsonTable`, :class:`Chunk`),
mappings (:class:`FieldMap`), cleaners (:mod:`core.imports.columns`, with :class:`Issues`),
errors (:class:`RowError`, :class:`FileError`, :data:`CODES`), the outcome and status
vocabulary (:class:`Outcome`, :class:`ImportStatus`, :class:`ImportMode`, :class:`Reason`),
the error report (:func:`report_response`) and spooling (:func:`spool`). ``core`` imports no
domain app: callers pass their lookups (employee id → person id, …) as plain mappings.
"""

from core.imports import columns
from core.imports.columns import Issues, parse_day
from core.imports.errors import CODES, FileError, RowError
from core.imports.failsafe import gc_paused, run_apart
from core.imports.mapping import BoundMap, FieldMap
from core.imports.outcome import (
    COMMITTED,
    FINISHED,
    MAX_ERRORS_STORED,
    ImportMode,
    ImportStatus,
    Outcome,
    Phases,
    Reason,
    RollbackError,
)
from core.imports.reading import CHUNK_ROWS, Chunk, JsonTable, Table, read_csv
from core.imports.report import COLUMNS, report_csv_lines, report_json, report_response
from core.imports.spool import Spooled, TooLargeError, fingerprint, spool

__all__ = [
    "CHUNK_ROWS",
    "CODES",
    "COLUMNS",
    "COMMITTED",
    "FINISHED",
    "MAX_ERRORS_STORED",
    "BoundMap",
    "Chunk",
    "FieldMap",
    "FileError",
    "ImportMode",
    "ImportStatus",
    "Issues",
    "JsonTable",
    "Outcome",
    "Phases",
    "Reason",
    "RollbackError",
    "RowError",
    "Spooled",
    "Table",
    "TooLargeError",
    "columns",
    "fingerprint",
    "gc_paused",
    "parse_day",
    "read_csv",
    "report_csv_lines",
    "report_json",
    "report_response",
    "run_apart",
    "spool",
]
