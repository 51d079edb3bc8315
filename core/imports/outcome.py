"""One outcome and one status vocabulary for every import.

A batch moves ``pending → validating → committed | committed_with_errors | failed``; a dry
run ends ``validated`` (it was checked, nothing was written). ``failed`` always carries a
:class:`Reason`: the rows had errors in all-or-nothing mode, the file was unusable, the import
raised, or its worker died.

Modes: ``all_or_nothing`` (the default) commits nothing when any row is bad; ``partial``
commits the good rows and reports the bad ones; a dry run (a flag beside either mode) validates
everything and writes no data row.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import models

from core.imports.errors import RowError

MAX_ERRORS_STORED = 10_000  # a file with more bad rows than this is not worth listing further


class ImportStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    VALIDATING = "validating", "Validating"
    COMMITTED = "committed", "Committed"
    COMMITTED_WITH_ERRORS = "committed_with_errors", "Committed with errors"
    FAILED = "failed", "Failed (nothing committed)"
    VALIDATED = "validated", "Dry run (nothing written)"


# a batch in one of these is finished; the others may still change
FINISHED = frozenset(
    {
        ImportStatus.COMMITTED,
        ImportStatus.COMMITTED_WITH_ERRORS,
        ImportStatus.FAILED,
        ImportStatus.VALIDATED,
    }
)
COMMITTED = frozenset({ImportStatus.COMMITTED, ImportStatus.COMMITTED_WITH_ERRORS})


class ImportMode(models.TextChoices):
    ALL_OR_NOTHING = "all_or_nothing", "All or nothing"
    PARTIAL = "partial", "Partial (commit the good rows)"


class Reason(models.TextChoices):
    """Why a batch failed (empty when it did not)."""

    NONE = "", "—"
    ROW_ERRORS = "row_errors", "Rows have errors (all-or-nothing)"
    NO_GOOD_ROWS = "no_good_rows", "No row could be committed"
    BAD_FILE = "bad_file", "The file cannot be read"
    ERROR = "error", "The import stopped on an unexpected error"
    WORKER_LOST = "worker_lost", "The worker running the import stopped"


class Phases:
    """Seconds an import spent per phase (``read``, ``validate``, ``copy``, …), summed over
    its chunks; each phase is timed on one thread (the importing one or the writer), so two
    phases of different threads overlap and their sum may exceed the wall time."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - started)

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds

    def as_dict(self) -> dict[str, float]:
        return {name: round(s, 3) for name, s in self.seconds.items()}


@dataclass
class Outcome:
    """What an import did (or, in a dry run, would do).

    ``counts`` always has ``rows`` (data rows read, good or bad) and ``errors`` (rows with at
    least one error); importers add their own (``created``, ``new_version``, ``unchanged``, …).
    ``extra`` carries an importer's own results to its caller (never stored as is).
    """

    counts: dict[str, int] = field(default_factory=lambda: {"rows": 0, "errors": 0})
    errors: list[RowError] = field(default_factory=list)
    error_rows: int = 0
    changed: int = 0  # rows written
    file_error: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    phases: Phases = field(default_factory=lambda: Phases())

    @property
    def rows(self) -> int:
        return self.counts["rows"]

    def add_errors(self, errors: list[RowError]) -> None:
        """Record one bad row's errors (a row counts once however many errors it has)."""
        if not errors:
            return
        self.error_rows += 1
        self.counts["errors"] = self.error_rows
        room = MAX_ERRORS_STORED - len(self.errors)
        if room > 0:
            self.errors.extend(errors[:room])

    def add_row_errors(self, rows: list[list[RowError]]) -> None:
        """Record several bad rows, each with its errors."""
        for errors in rows:
            self.add_errors(errors)

    def fail_file(self, errors: list[RowError]) -> None:
        """Record a file-level failure (nothing was read)."""
        self.file_error = True
        self.add_errors(errors)

    def status(self, *, mode: str, dry_run: bool) -> tuple[str, str]:
        """Return the final ``(status, reason)`` this outcome leads to."""
        if self.file_error:
            return ImportStatus.FAILED, Reason.BAD_FILE
        if dry_run:
            return ImportStatus.VALIDATED, Reason.NONE
        if not self.error_rows:
            return ImportStatus.COMMITTED, Reason.NONE
        if mode == ImportMode.PARTIAL:
            if self.rows > self.error_rows:
                return ImportStatus.COMMITTED_WITH_ERRORS, Reason.NONE
            return ImportStatus.FAILED, Reason.NO_GOOD_ROWS
        return ImportStatus.FAILED, Reason.ROW_ERRORS


class RollbackError(Exception):
    """Raised inside an import's transaction to undo it (all-or-nothing with errors, dry runs)."""
