"""One row-level error type and one stable vocabulary of error codes for every import.

A :class:`RowError` names where (``line``: 1 is a CSV file's header, JSON rows count from 1;
``column``: the file's own column name, empty for the whole line), what (``code``, one of
:data:`CODES`), a sentence for people (``message``) and the offending ``value``. A problem with
the file itself (binary, mis-encoded, empty, missing a required column) is a
:class:`FileError`, which carries the same errors at line 1 and stops the import before any
row is read.

Codes are stable: clients and tests match on them, so a code is never renamed; a new problem
gets a new code here (docs/imports.md lists them all).
"""

from __future__ import annotations

from dataclasses import dataclass

# code -> what it means (docs/imports.md renders this table)
CODES: dict[str, str] = {
    # the file
    "empty_file": "The file has no header line.",
    "binary_file": "The file is not text (an Excel workbook, a PDF, an image, ...).",
    "bad_encoding": "The text is not in the file's encoding (UTF-8 expected).",
    "missing_column": "A required column is missing from the header.",
    "duplicate_column": "Two columns of the header have the same name.",
    # the shape of a line
    "wrong_column_count": "The line has more or fewer cells than the header.",
    "malformed_csv": "The line cannot be read as CSV (an unclosed quote, ...).",
    "nul_character": "The line contains a NUL character.",
    "control_character": "A cell contains a control character.",
    "not_an_object": "A JSON row is not an object.",
    # one cell
    "required": "A value is required.",
    "too_long": "The text is longer than the field allows (it is never cut).",
    "bad_number": "Not a number.",
    "too_many_decimals": "More decimal places than allowed (the currency's, or the field's).",
    "out_of_range": "The number is too large or too small.",
    "negative_amount": "A negative value where only positive ones are allowed.",
    "bad_date": "Not a date in an accepted format.",
    "future_date": "The date is in the future.",
    "bad_format": "The cell does not have the expected structure.",
    "unknown_currency": "Not an ISO 4217 currency code.",
    "unknown_value": "Not one of the allowed values.",
    "unknown_kind": "Not a known kind.",
    "unknown_status": "Not a known status.",
    "unknown_subject_type": "Not a known subject type.",
    "unknown_person": "No person with this employee id (or e-mail) in the tenant.",
    "unknown_node": "No node with this code in the tenant.",
    "unknown_account": "No account with this id in the tenant.",
    "unknown_period": "No period with this label or start date.",
    "unknown_hierarchy": "No hierarchy with this code.",
    "bad_share": "A share outside 0-100 % or with too many decimals.",
    "over_credited": "Shares add up to more than 100 %.",
    "same_currency": "A rate needs two different currencies.",
    "not_positive": "The value must be greater than zero.",
    "bad_rule": "The crediting rule is not valid.",
    # the row against the others
    "duplicate_in_file": "The same key appears on an earlier line of this file.",
    "period_locked": "The date falls in a closed period whose data lock is in force.",
    # HR imports
    "unknown_manager": "The manager is neither in the tenant nor in the file.",
    "cyclic_move": "The move would make a node or person its own ancestor.",
    "allocation_over_100": "Allocations in one hierarchy add up to more than 100 %.",
    "duplicate_employee_id": "The employee id appears twice.",
    "bad_email": "Not an e-mail address.",
    "dates_out_of_order": "The end date is not after the start date.",
    "unknown_role": "No job role with this name.",
    "allocation_range": "An allocation must be more than 0 % and at most 100 %.",
    "before_hire": "The assignment starts before the person was hired.",
    "after_termination": "The assignment starts after the person left.",
    "overlapping_duplicate": "The same assignment overlaps another on some day.",
    "out_of_scope": "Outside the part of the organisation the importer manages.",
    # quota imports
    "one_holder": "The row names no holder, or more than one (employee id and node).",
    "quota_overlap": "The holder already has this quota id on some of these days.",
    "unknown_quota_id": "The plan's spec names no such quota id (nor a measure of that id).",
    "unknown_plan": "No plan with this code.",
}


@dataclass(frozen=True)
class RowError:
    """One problem with one line (or the header, line 1) of an import."""

    line: int
    column: str
    code: str
    message: str
    value: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "line": self.line,
            "column": self.column,
            "code": self.code,
            "message": self.message,
            "value": self.value,
        }


class FileError(ValueError):
    """The file cannot be imported at all; ``errors`` say why (at line 1)."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__("; ".join(e.message for e in errors))
        self.errors = errors

    @classmethod
    def of(cls, code: str, message: str, *, column: str = "", value: str = "") -> FileError:
        return cls([RowError(1, column, code, message, value)])
