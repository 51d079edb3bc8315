"""The one page pattern of every import page: its upload form and what a batch looks like.

Every import page (HR import, transactions and KPI values, FX rates, crediting-rule files)
renders the same components from ``templates/imports/``: the upload form (dry run ticked by
default, all-or-nothing or partial, a progress bar while the file uploads and while rows are
checked), one summary of a batch (status badge, a headline sentence, counts), the row-error
table and the list of recent imports. The apps turn their own batch rows into
:class:`ImportSummary` (their views hold the adapters); this module holds what is the same
everywhere, so the pages cannot drift apart.

The upload form checks what a person can fix before anything is read: an empty file, or a
file that is plainly not text (a spreadsheet workbook, a PDF, an archive: the kernel's
sniffing decides). Its message is shown beside the file field. Everything inside the file is
the import's business and comes back as row errors with their line and column.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile

from core.imports import FileError
from core.imports.reading import SNIFF_BYTES, sniff

ALL_OR_NOTHING = "all_or_nothing"
PARTIAL = "partial"
MODES = [
    (ALL_OR_NOTHING, "All or nothing"),
    (PARTIAL, "Partial"),
]
MODE_HELP = {
    ALL_OR_NOTHING: "Any bad row and nothing is written.",
    PARTIAL: "Good rows are written; bad rows are reported.",
}

EMPTY_FILE = "The file is empty. Choose a CSV file whose first line names the columns."
WRONG_EXTENSION = (
    "“{name}” is not a CSV file (the name ends in .{ext}). Upload a .csv file "
    "(UTF-8 text, the first line naming the columns)."
)
ACCEPTED_EXTENSIONS = ("csv", "txt", "tsv")


def upload_problem(upload: UploadedFile[bytes]) -> str | None:
    """Return why ``upload`` cannot be an import file at all, or None.

    Empty, or not text at all (the import kernel's sniffing says so: a workbook, a PDF, an
    archive, a file full of NUL bytes), or named as another kind of file. A file that is text
    but mis-encoded is left to the import, which reports it with its line."""
    if not upload.size:
        return EMPTY_FILE
    upload.seek(0)
    head = upload.read(SNIFF_BYTES)
    upload.seek(0)
    try:
        sniff(head)
    except FileError as exc:
        if exc.errors[0].code == "binary_file":
            return exc.errors[0].message
    name = upload.name or ""
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext and ext not in ACCEPTED_EXTENSIONS:
        return WRONG_EXTENSION.format(name=name, ext=ext)
    return None


class ImportUploadForm(forms.Form):
    """The fields every import page has; a page adds what it imports (``kind``, a mapping)."""

    file = forms.FileField(
        label="File",
        widget=forms.FileInput(attrs={"accept": ".csv,text/csv,text/plain"}),
        error_messages={
            "required": "Choose a file to import.",
            "empty": EMPTY_FILE,
        },
    )
    mode = forms.ChoiceField(
        label="If some rows have errors",
        choices=MODES,
        initial=ALL_OR_NOTHING,
        required=False,  # a form posted without it (a script, an old page) gets the default
        widget=forms.RadioSelect,
    )
    dry_run = forms.BooleanField(
        label="Dry run: check every row, write nothing",
        required=False,
        initial=True,
    )

    #: The page's own fields, drawn above the file (the template reads this).
    setup_fields: tuple[str, ...] = ()

    def clean_file(self) -> UploadedFile[bytes]:
        upload: UploadedFile[bytes] = self.cleaned_data["file"]
        problem = upload_problem(upload)
        if problem:
            raise forms.ValidationError(problem, code="bad_file")
        return upload

    def clean_mode(self) -> str:
        return str(self.cleaned_data.get("mode") or ALL_OR_NOTHING)

    def setup(self) -> list[forms.BoundField]:
        """Return the page's own fields, in order, for the template."""
        return [self[name] for name in self.setup_fields]

    def mode_help(self) -> list[tuple[str, str, str]]:
        """Return (value, label, help) for each mode, for the template's mode switch."""
        return [(value, label, MODE_HELP[value]) for value, label in MODES]


# --- one batch, as every page shows it -----------------------------------------------------------


@dataclass(frozen=True)
class ImportSummary:
    """One import as a page shows it, whatever app and table it lives in."""

    pk: int
    url: str
    when: datetime
    what: str  # "People", "Transactions"…
    filename: str
    rows: int  # data rows read (the header not counted)
    created: int
    changed: int
    unchanged: int
    error_rows: int  # rows with at least one error (file-level problems count as one)
    dry_run: bool
    partial: bool
    committed: bool  # something from the file was written
    running: bool = False
    rows_done: int = 0  # while running
    progress_pct: int = 0  # while running
    first_error: str = ""  # the first problem, for a file that could not be read at all
    by: str = ""

    @property
    def unreadable(self) -> bool:
        """Whether the file failed before any row was read (empty, binary, bad header)."""
        return not self.running and self.rows == 0 and self.error_rows > 0

    @property
    def empty(self) -> bool:
        """Whether the file held a header and no data rows (nothing to check or import)."""
        return not self.running and self.rows == 0 and self.error_rows == 0

    @property
    def tone(self) -> str:
        """Return the badge and alert colour: ok, warn, err, info or muted."""
        if self.running:
            return "muted"
        if self.empty:
            return "warn"
        if self.dry_run:
            return "warn" if self.error_rows else "info"
        if not self.committed:
            return "err"
        return "warn" if self.error_rows else "ok"

    @property
    def status_label(self) -> str:
        """Return the one status vocabulary every import page shows."""
        if self.running:
            return "Running"
        if self.empty:
            return "Dry run · no rows" if self.dry_run else "No rows"
        if self.dry_run:
            return "Dry run · errors" if self.error_rows else "Dry run · valid"
        if not self.committed:
            return "Failed"
        return "Committed with errors" if self.error_rows else "Committed"

    @property
    def headline(self) -> str:
        """Return one sentence saying what happened; it never counts errors out of zero rows."""
        rows = _n(self.rows, "row")
        errors = min(self.error_rows, self.rows)
        if self.running:
            if self.rows_done:
                return f"Checking rows… {self.rows_done:,} read so far."
            return "Checking rows…"
        if self.unreadable:
            return "The file could not be imported: nothing was written."
        if self.rows == 0:
            return "The file has a header but no rows: there was nothing to import."
        if self.dry_run:
            if errors:
                return (
                    f"Dry run: {errors:,} of {rows} {_have(errors)} errors. Nothing was written; "
                    "fix them "
                    "and check the file again."
                )
            every = "the row is" if self.rows == 1 else f"all {rows} are"
            return (
                f"Dry run: {every} valid. Nothing was written yet; untick “Dry run” "
                "and upload the file again to import it."
            )
        if not self.committed and not errors:
            return "The import failed, so nothing was written."
        if not self.committed:
            return (
                f"{errors:,} of {rows} {_have(errors)} errors, so nothing was imported (all or "
                "nothing). "
                "Fix them and upload the file again, or import in partial mode."
            )
        if errors:
            were = "was" if errors == 1 else "were"
            return (
                f"Imported {_n(self.rows - errors, 'good row')}; {_n(errors, 'row')} "
                f"with errors {were} skipped."
            )
        return f"Imported {rows}." if self.rows == 1 else f"Imported all {rows}."

    @property
    def mode_label(self) -> str:
        return dict(MODES)[PARTIAL if self.partial else ALL_OR_NOTHING]


def _have(count: int) -> str:
    """ "1 of 4 rows has errors", "2 of 4 rows have errors"."""
    return "has" if count == 1 else "have"


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def count(counts: dict[str, Any], *keys: str) -> int:
    """Return the first of ``keys`` in a batch's counts as an int (0 when none is there)."""
    for key in keys:
        value = counts.get(key)
        if isinstance(value, int):
            return value
    return 0
