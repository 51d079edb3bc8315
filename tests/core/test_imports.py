"""The import kernel (core/imports): reading, cleaners, mappings, outcome, report, spooling."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
from decimal import Decimal

import pytest

from core import imports
from core.imports import (
    CODES,
    FieldMap,
    FileError,
    ImportMode,
    ImportStatus,
    Issues,
    JsonTable,
    Outcome,
    Reason,
    RowError,
    columns,
    read_csv,
    reading,
)


def _table(data: bytes, **kwargs):
    return read_csv(io.BytesIO(data), **kwargs)


def _all(table, size=1_000):
    chunks = list(table.chunks(size))
    lines = [n for c in chunks for n in c.lines]
    cols = [[v for c in chunks for v in c.columns[i]] for i in range(len(table.header))]
    errors = [e for c in chunks for row in c.errors for e in row]
    return lines, cols, errors, sum(c.rows for c in chunks)


# --- reading ------------------------------------------------------------------------------------


def test_a_file_is_read_as_column_arrays_with_line_numbers():
    table = _table(b"a,b\n1,x\n\n2,y\n")
    lines, cols, errors, rows = _all(table)
    assert table.header == ["a", "b"]
    assert (lines, cols, errors, rows) == ([2, 4], [["1", "2"], ["x", "y"]], [], 2)


def test_chunks_hold_at_most_the_size_asked_and_lose_nothing_across_blocks(monkeypatch):
    # given blocks far smaller than the file (a quoted field spans a block boundary)
    monkeypatch.setattr(reading, "BLOCK_BYTES", 7)
    rows = [[str(i), f'multi\nline "{i}"' if i % 5 == 0 else f"v{i}"] for i in range(57)]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([["id", "text"], *rows])
    table = _table(out.getvalue().encode())
    chunks = list(table.chunks(10))
    # then every record arrives once, in order, in chunks of 10
    assert [len(c) for c in chunks] == [10, 10, 10, 10, 10, 7]
    _, cols, errors, _ = _all(_table(out.getvalue().encode()), 10)
    assert cols == [[r[0] for r in rows], [r[1] for r in rows]] and errors == []
    # and a record's line is the physical line it starts on (records 0, 5, … take two)
    lines = [n for c in chunks for n in c.lines]
    assert lines[:7] == [2, 4, 5, 6, 7, 8, 10]


@pytest.mark.parametrize(
    ("data", "delimiter"),
    [(b"a;b;c\n1;2;3\n", ";"), (b"a\tb\n1\t2\n", "\t"), (b"a|b\n1|2\n", "|"), (b"a,b\n", ",")],
)
def test_the_delimiter_is_detected_from_the_header(data, delimiter):
    assert _table(data).delimiter == delimiter


def test_a_byte_order_mark_is_skipped_and_utf16_is_read():
    assert _table(codecs.BOM_UTF8 + b"name,x\n1,2\n").header == ["name", "x"]
    table = _table("name,x\nZoë,2\n".encode("utf-16"))
    assert (table.encoding, table.header, _all(table)[1]) == (
        "utf-16",
        ["name", "x"],
        [["Zoë"], ["2"]],
    )


@pytest.mark.parametrize(
    ("data", "code", "words"),
    [
        (b"PK\x03\x04\x14\x00\x06\x00", "binary_file", "Excel"),
        (b"%PDF-1.7\n", "binary_file", "PDF"),
        (b"\x00\x01\x02\x00\x00\x00" * 50, "binary_file", "NUL"),
        ("prénom,x\n1,2\n".encode("cp1252"), "bad_encoding", "UTF-8"),
        (b"", "empty_file", "header"),
        (b"  \n", "empty_file", "header"),
    ],
)
def test_a_binary_or_mis_encoded_file_fails_at_line_1_with_what_to_do(data, code, words):
    with pytest.raises(FileError) as caught:
        _table(data)
    (error,) = caught.value.errors
    assert (error.line, error.code) == (1, code) and words in error.message
    assert "CSV" in error.message or code == "empty_file"


def test_header_names_must_be_distinct_and_named():
    with pytest.raises(FileError) as caught:
        _table(b"a,b,a,\n1,2,3,4\n")
    assert [(e.code, e.column) for e in caught.value.errors] == [
        ("duplicate_column", "a"),
        ("missing_column", ""),
    ]


def test_bad_lines_are_row_errors_and_the_rest_is_read():
    data = b"a,b\n1,x\n2,y,z\n3,caf\xe9\n4,\x00\n5,ok\n"
    lines, cols, errors, rows = _all(_table(data))
    assert (lines, cols) == ([2, 6], [["1", "5"], ["x", "ok"]])
    assert [(e.line, e.code) for e in errors] == [
        (3, "wrong_column_count"),
        (4, "bad_encoding"),
        (5, "nul_character"),
    ]
    assert rows == 5


@pytest.mark.parametrize("char", ["\x01", "\x08", "\x0b", "\x1b", "\x7f", "\x85"])
def test_a_control_character_is_a_row_error_naming_its_column(char):
    data = f"a,b\n1,ok\n2,bad{char}x\n3,fine\n".encode()
    lines, cols, errors, rows = _all(_table(data))
    assert (lines, cols[1]) == ([2, 4], ["ok", "fine"])
    (error,) = errors
    assert (error.line, error.column, error.code) == (3, "b", "control_character")
    assert "\\x" in error.value and rows == 3


def test_tabs_and_newlines_inside_quoted_cells_are_text():
    _lines, cols, errors, _ = _all(_table(b'a,b\n1,"tab\there\r\nnext"\n'))
    assert cols[1] == ["tab\there\r\nnext"] and errors == []


def test_json_rows_count_from_1_and_non_objects_are_row_errors():
    table = JsonTable([{"a": 1, "b": None}, "nope", {"a": [1], "c": True}])
    (chunk,) = list(table.chunks())
    assert table.header == ["a", "b", "c"]
    assert chunk.lines == [1, 3]
    assert [list(c) for c in chunk.columns] == [["1", "[1]"], ["", ""], ["", "true"]]
    assert [(e.line, e.code) for row in chunk.errors for e in row] == [(2, "not_an_object")]


# --- cleaners -----------------------------------------------------------------------------------


def _issues(n):
    return Issues(list(range(2, n + 2)))


def _codes(issues):
    return [(e.line, e.column, e.code, e.value) for row in issues.rows() for e in row]


def test_decimals_keep_their_exact_value_and_refuse_what_they_cannot_store():
    values = ["12.50", "-3", "1,234.5", "1.23456", "1e3", "abc", "", "1.2.3", "NaN", "1e20"]
    issues = _issues(len(values))
    out = columns.decimal(values, column="amount", issues=issues, scale=4)
    assert out[:3] == [Decimal("12.50"), Decimal("-3"), Decimal("1234.5")]
    assert out[4] == Decimal("1E+3") and out[6] is None
    assert _codes(issues) == [
        (5, "amount", "too_many_decimals", "1.23456"),
        (7, "amount", "bad_number", "abc"),
        (9, "amount", "bad_number", "1.2.3"),
        (10, "amount", "bad_number", "NaN"),
        (11, "amount", "out_of_range", "1E+20"),
    ]


def test_a_per_row_scale_follows_each_rows_currency():
    codes = ["JPY", "USD", "BHD", "USD"]
    issues = _issues(4)
    columns.decimal(
        ["100.5", "1.25", "1.125", "1.125"],
        column="amount",
        issues=issues,
        scale=columns.exponents(codes),
    )
    assert [(e.line, e.code) for row in issues.rows() for e in row] == [
        (2, "too_many_decimals"),
        (5, "too_many_decimals"),
    ]


def test_dates_parse_in_the_mappings_formats_and_future_ones_are_refused():
    issues = _issues(5)
    out = columns.date(
        ["2026-02-10", "02/11/2026", "31/02/2026", "", "2027-01-01"],
        column="day",
        issues=issues,
        formats=("%Y-%m-%d", "%m/%d/%Y"),
        not_after=dt.date(2026, 12, 1),
        required=True,
    )
    assert out[:2] == [dt.date(2026, 2, 10), dt.date(2026, 2, 11)]
    assert [(line, code) for line, _, code, _ in _codes(issues)] == [
        (4, "bad_date"),
        (5, "required"),
        (6, "future_date"),
    ]


def test_currency_choice_and_reference_report_unknown_values():
    issues = _issues(3)
    assert columns.currency(["usd", "XYZ", "eur"], column="c", issues=issues) == ["USD", "", "EUR"]
    columns.choice(
        ["a", "b", "z"], column="k", issues=issues, choices={"a", "b"}, code="unknown_kind"
    )
    people = {"E1": 10}
    ids = columns.reference(["E1", "B1", ""], column="owner", issues=issues, lookup=people)
    assert ids == [10, None, None]
    assert [(line, code) for line, _, code, _ in _codes(issues)] == [
        (3, "unknown_currency"),
        (3, "unknown_person"),
        (4, "unknown_kind"),
    ]


def test_over_long_text_is_a_row_error_never_cut():
    issues = _issues(2)
    out = columns.text(["ok", "x" * 201], column="account", issues=issues, max_length=200)
    assert out == ["ok", "x" * 201]
    ((error,),) = issues.rows()
    assert (error.line, error.code) == (3, "too_long") and "200" in error.message


def test_every_code_the_kernel_and_importers_use_is_in_the_vocabulary():
    import pathlib
    import re

    root = pathlib.Path(__file__).resolve().parents[2]
    sources = [
        *root.glob("core/imports/*.py"),
        root / "incentives/ingest.py",
        root / "incentives/bulk_ingest.py",
        root / "hierarchy/imports.py",
        root / "plans/quota_import.py",
    ]
    used = set()
    for path in sources:
        used |= set(
            re.findall(r'(?:code=|\(\s*\w+,\s*\w+\(?"?\w*"?\)?,\s*)"([a-z_]+)"', path.read_text())
        )
        # issues.add(i, column, code, …) and the HR import's found.add(line, column, code, …)
        added = r'(?:issues|found)\.add\(\s*[^,()]+,\s*[^,()]+,\s*"([a-z][a-z_]+)"'
        used |= set(re.findall(added, path.read_text()))
    used -= {"utf-8", "utf-16"}
    assert used and used <= set(CODES), sorted(used - set(CODES))


# --- mappings -----------------------------------------------------------------------------------


def test_a_mapping_binds_the_header_and_names_missing_columns():
    mapping = FieldMap(
        columns={"Deal": "external_id", "Stage": "status", "Total": "amount"},
        defaults={"currency": "USD"},
        values={"status": {"Closed Won": "", "Closed Lost": "cancelled"}},
    )
    bound = mapping.bind(["Deal", "Stage"], required=["external_id", "currency"])
    (chunk,) = list(_table(b"Deal,Stage\n D1 ,Closed Lost\nD2,\n").chunks())
    assert bound.values(chunk, "external_id") == ["D1", "D2"]
    assert bound.values(chunk, "status") == ["cancelled", ""]
    assert bound.values(chunk, "currency") == ["USD", "USD"]
    assert bound.name("amount") == "Total"
    with pytest.raises(FileError) as caught:
        mapping.bind(["Deal"], required=["external_id", "amount"])
    assert [(e.line, e.column, e.code) for e in caught.value.errors] == [
        (1, "Total", "missing_column")
    ]


# --- outcome ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rows", "bad", "mode", "dry_run", "expected"),
    [
        (3, 0, ImportMode.ALL_OR_NOTHING, False, (ImportStatus.COMMITTED, Reason.NONE)),
        (3, 1, ImportMode.ALL_OR_NOTHING, False, (ImportStatus.FAILED, Reason.ROW_ERRORS)),
        (3, 1, ImportMode.PARTIAL, False, (ImportStatus.COMMITTED_WITH_ERRORS, Reason.NONE)),
        (3, 3, ImportMode.PARTIAL, False, (ImportStatus.FAILED, Reason.NO_GOOD_ROWS)),
        (3, 1, ImportMode.PARTIAL, True, (ImportStatus.VALIDATED, Reason.NONE)),
    ],
)
def test_the_outcome_leads_to_one_status_with_its_reason(rows, bad, mode, dry_run, expected):
    outcome = Outcome()
    outcome.counts["rows"] = rows
    for line in range(bad):
        outcome.add_errors(
            [RowError(line + 2, "a", "required", "x"), RowError(line + 2, "b", "required", "x")]
        )
    assert outcome.error_rows == bad
    assert outcome.status(mode=mode, dry_run=dry_run) == expected


def test_a_file_error_fails_with_reason_bad_file_even_in_a_dry_run():
    outcome = Outcome()
    outcome.fail_file([RowError(1, "", "binary_file", "not text")])
    assert outcome.status(mode=ImportMode.PARTIAL, dry_run=True) == (
        ImportStatus.FAILED,
        Reason.BAD_FILE,
    )


# --- report and spooling ------------------------------------------------------------------------


def test_the_report_neutralises_formula_cells_in_csv_and_json():
    errors = [
        RowError(2, "account", "too_long", "long", '=HYPERLINK("x")'),
        RowError(3, "amount", "bad_number", "n", "-12.5"),
    ]
    text = "".join(imports.report_csv_lines(errors))
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == list(imports.COLUMNS)
    assert rows[1][4] == '\'=HYPERLINK("x")' and rows[2][4] == "-12.5"
    data = imports.report_json(errors)
    assert data[0]["value"] == '\'=HYPERLINK("x")' and data[1]["line"] == 3
    response = imports.report_response(errors, filename="r", fmt="json")
    assert json.loads(response.content) == data
    assert 'filename="r.json"' in response["Content-Disposition"]


def test_spooling_hashes_the_bytes_and_refuses_an_oversized_upload(tmp_path):
    import hashlib

    spooled = imports.spool([b"a,b\n", b"1,2\n"], tmp_path)
    assert spooled.sha256 == hashlib.sha256(b"a,b\n1,2\n").hexdigest()
    assert (spooled.size, spooled.lines, spooled.path.read_bytes()) == (8, 2, b"a,b\n1,2\n")
    with pytest.raises(imports.TooLargeError):
        imports.spool([b"x" * 10, b"y" * 10], tmp_path / "big", max_bytes=15)
    assert not list((tmp_path / "big").iterdir())
