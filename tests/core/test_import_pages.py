"""The one import page pattern: the same upload form, dry-run default, errors beside the file
field and one summary vocabulary on the HR import page and the data-imports page."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from core.import_pages import (
    EMPTY_FILE,
    ImportSummary,
    ImportUploadForm,
    upload_problem,
)
from core.tenancy import tenant_scope
from hierarchy.models import ImportBatch, Person
from incentives.models import IngestBatch, Transaction

HR = "/imports/"
DATA = "/data/imports/"
PAGES = [
    pytest.param(HR, "people", b"employee_id,full_name,hire_date\nE1,Ada,2024-01-01\n", id="hr"),
    pytest.param(
        DATA,
        "transactions",
        b"external_id,kind,amount,currency,booked_on\nT-1,new_business,10,USD,2026-01-05\n",
        id="data",
    ),
]
XLSX = b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 200 + b"[Content_Types].xml"
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"
BINARY = b"\x00\x01\x02\x03" * 512


def _batches(tenant):
    with tenant_scope(tenant):
        return ImportBatch.objects.count() + IngestBatch.objects.count()


def _file_field(html: str) -> str:
    """Return the file field's block of the upload form (label, drop zone, hint, errors)."""
    start = html.index('<label for="id_file">')
    return html[start : html.index("</fieldset>", start)]


# --- the same components on every import page --------------------------------------------------


@pytest.mark.parametrize(("url", "kind", "good"), PAGES)
def test_every_import_page_draws_the_same_upload_form_with_dry_run_ticked(
    client_alice, url, kind, good
):
    html = client_alice.get(url).content.decode()
    # one upload form: drop zone, mode switch, dry-run toggle (ticked), progress bar
    assert 'class="import-form" data-upload' in html
    assert 'class="dropzone"' in html and 'type="file" name="file"' in html
    assert re.search(r'name="mode" value="all_or_nothing" checked', html)
    assert 'name="mode" value="partial">' in html
    assert re.search(r'name="dry_run" id="id_dry_run" checked', html)
    assert ">Check the file</button>" in html
    assert 'class="upload-progress" hidden' in html
    # clear empty states, one vocabulary of columns
    assert "No imports yet" in html and "Required" in html
    # no inline behaviour: scripts only from our own files, no on* attributes
    assert "<script>" not in html and not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert not re.search(r"\son[a-z]+=", html)


@pytest.mark.parametrize(("url", "kind", "good"), PAGES)
def test_an_empty_file_is_refused_beside_the_file_field_and_nothing_is_recorded(
    client_alice, tenant_a, url, kind, good
):
    response = client_alice.post(
        url, {"kind": kind, "file": SimpleUploadedFile("people.csv", b"", "text/csv")}
    )
    assert response.status_code == 200
    field = _file_field(response.content.decode())
    assert EMPTY_FILE in field and 'aria-invalid="true"' in field
    assert _batches(tenant_a) == 0


@pytest.mark.parametrize(("url", "kind", "good"), PAGES)
@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("people.xlsx", XLSX, "it looks like a ZIP archive or an Excel (.xlsx) workbook"),
        ("export.pdf", PDF, "it looks like a PDF document"),
        ("people.csv", BINARY, "it looks like a binary file"),
        ("people.json", b'{"rows": []}', "(the name ends in .json)"),
    ],
)
def test_a_file_of_the_wrong_type_is_refused_beside_the_file_field(
    client_alice, tenant_a, url, kind, good, name, content, says
):
    response = client_alice.post(url, {"kind": kind, "file": SimpleUploadedFile(name, content)})
    assert response.status_code == 200
    field = _file_field(response.content.decode())
    assert says in field and 'aria-invalid="true"' in field
    assert _batches(tenant_a) == 0


@pytest.mark.parametrize(("url", "kind", "good"), PAGES)
def test_no_file_at_all_says_so_beside_the_field(client_alice, url, kind, good):
    response = client_alice.post(url, {"kind": kind, "mode": "partial"})
    assert response.status_code == 200
    assert "Choose a file to import." in _file_field(response.content.decode())


@pytest.mark.parametrize(("url", "kind", "good"), PAGES)
def test_a_dry_run_writes_nothing_and_says_how_to_import(client_alice, tenant_a, url, kind, good):
    # given the page's default (dry run ticked)
    response = client_alice.post(
        url, {"kind": kind, "dry_run": "on", "file": SimpleUploadedFile("f.csv", good)}
    )
    assert response.status_code == 302
    html = client_alice.get(response["Location"]).content.decode()
    assert "Dry run · valid" in html
    assert "Dry run: the row is valid. Nothing was written yet" in html
    assert "Would create" in html and "No errors" in html
    with tenant_scope(tenant_a):
        assert not Person.objects.exists() and not Transaction.objects.exists()
    # and the list shows it in the same vocabulary
    assert "Dry run · valid" in client_alice.get(url).content.decode()


@pytest.mark.parametrize(("url", "kind", "good"), PAGES)
def test_a_header_without_rows_reads_no_rows_never_valid(client_alice, url, kind, good):
    # given a file that holds its header line only
    header = good.split(b"\n", 1)[0] + b"\n"
    response = client_alice.post(
        url, {"kind": kind, "dry_run": "on", "file": SimpleUploadedFile("f.csv", header)}
    )
    assert response.status_code == 302
    html = client_alice.get(response["Location"]).content.decode()
    # then it says there was nothing, and never that the rows were valid
    assert "Dry run · no rows" in html
    assert "header but no rows" in html
    assert "Dry run · valid" not in html and "Every row was readable and valid" not in html
    assert "Upload it again to import" not in html


@pytest.mark.parametrize(("url", "kind", "good"), PAGES)
def test_a_file_that_is_not_utf8_reads_as_unreadable_never_as_one_of_zero_rows(
    client_alice, url, kind, good
):
    # given a header line in Latin-1 (no control bytes, so the form lets it through)
    latin1 = "Zoë,".encode("latin-1") + good
    response = client_alice.post(
        url, {"kind": kind, "file": SimpleUploadedFile("people.csv", latin1)}
    )
    assert response.status_code == 302
    html = client_alice.get(response["Location"]).content.decode()
    assert '<span class="badge err">Failed</span>' in html
    assert "The file could not be imported: nothing was written." in html
    assert not re.search(r"\d+ of 0 rows", html)


def test_a_bad_file_shows_every_error_with_line_column_and_value_and_the_counts(
    client_alice, tenant_a
):
    # given two good rows and two bad ones, all or nothing
    content = (
        b"external_id,kind,amount,currency,booked_on\n"
        b"T-1,new_business,10,USD,2026-01-05\n"
        b"T-2,new_business,abc,USD,2026-01-05\n"
        b"T-3,new_business,12,USD,2026-01-05\n"
        b"T-4,new_business,5,USD,not-a-day\n"
    )
    response = client_alice.post(
        DATA, {"kind": "transactions", "file": SimpleUploadedFile("deals.csv", content)}
    )
    html = client_alice.get(response["Location"]).content.decode()
    assert "2 of 4 rows have errors, so nothing was imported (all or nothing)" in html
    table = html[html.index('id="row-errors"') :]
    line_3 = r'data-label="Line">3<.*?<code>amount</code>.*?<code class="value">abc<'
    assert re.search(line_3, table, re.S)
    assert re.search(r'data-label="Line">5<.*?<code>booked_on</code>', table, re.S)
    assert "Download the error report (CSV)" in table
    with tenant_scope(tenant_a):
        assert not Transaction.objects.exists()


def test_partial_mode_commits_the_good_rows_and_says_how_many_were_skipped(client_alice):
    content = (
        b"employee_id,full_name,hire_date\n"
        b"E1,Ada,2024-01-01\nE2,Grace,2024-13-01\nE3,Alan,2024-02-01\n"
    )
    response = client_alice.post(
        HR,
        {"kind": "people", "mode": "partial", "file": SimpleUploadedFile("people.csv", content)},
    )
    html = client_alice.get(response["Location"]).content.decode()
    assert "Committed with errors" in html and "Partial" in html
    assert "Imported 2 good rows; 1 row with errors was skipped." in html
    assert "<code>hire_date</code>" in html


def test_the_form_starts_as_a_dry_run_all_or_nothing():
    form = ImportUploadForm()
    assert form["dry_run"].value() is True and form["mode"].value() == "all_or_nothing"


# --- the summary never counts errors out of zero rows --------------------------------------------


def _summary(**facts) -> ImportSummary:
    base = {
        "pk": 1,
        "url": "/x/",
        "when": datetime(2026, 1, 1, tzinfo=UTC),
        "what": "People",
        "filename": "f.csv",
        "rows": 0,
        "created": 0,
        "changed": 0,
        "unchanged": 0,
        "error_rows": 0,
        "dry_run": False,
        "partial": False,
        "committed": False,
    }
    return ImportSummary(**{**base, **facts})


def test_no_summary_counts_errors_out_of_fewer_rows_than_it_has_errors():
    for rows, errors, dry_run, partial, committed in itertools.product(
        range(4), range(4), (False, True), (False, True), (False, True)
    ):
        s = _summary(
            rows=rows,
            error_rows=errors,
            dry_run=dry_run,
            partial=partial,
            committed=committed and rows > errors,
        )
        headline = s.headline
        for said, out_of in re.findall(r"([\d,]+) of ([\d,]+) rows?", headline):
            assert 0 < int(said) <= int(out_of), (rows, errors, headline)
        assert " 0 of " not in headline and "of 0 " not in headline
        if rows == 0 and errors:
            assert s.unreadable and "could not be imported" in headline
        assert s.status_label in {
            "Committed",
            "Committed with errors",
            "Failed",
            "Dry run · valid",
            "Dry run · errors",
            "No rows",
            "Dry run · no rows",
        }
        if rows == 0 and not errors:  # a header alone is never "valid" nor "failed"
            assert s.status_label.lower().endswith("no rows"), s.status_label


def test_a_failure_without_row_errors_says_it_failed_not_zero_errors():
    s = _summary(rows=40, error_rows=0, committed=False)
    assert s.headline == "The import failed, so nothing was written."
    assert (s.status_label, s.tone) == ("Failed", "err")


def test_a_running_import_reads_running_with_its_rows_so_far():
    s = _summary(running=True, rows_done=1200)
    assert (s.status_label, s.headline) == ("Running", "Checking rows… 1,200 read so far.")
    assert not s.unreadable


# --- what the form refuses before reading, and what it leaves to the import ----------------------


@pytest.mark.parametrize(
    ("content", "name", "refused"),
    [
        (b"", "a.csv", True),
        (XLSX, "a.csv", True),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "a.xls", True),
        (b"a,b\n1,2\n", "a.csv", False),
        (b"a\tb\n1\t2\n", "a.tsv", False),
        (b"a,b\n1,2\n", "A.CSV", False),
        (b"a,b\n1,2\n", "noextension", False),
        # a stray NUL in text is a row error with its line, for the import to report
        (b"a,b\n1,\x002\n", "a.csv", False),
        # UTF-16 text is full of NULs; the reader, not the form, decides about it
        ("a,b\n1,2\n".encode("utf-16"), "a.csv", False),
    ],
)
def test_upload_problem_refuses_only_what_cannot_be_a_csv_file(content, name, refused):
    problem = upload_problem(SimpleUploadedFile(name, content))
    assert (problem is not None) is refused


def test_fx_rates_import_through_the_same_page_and_the_page_opens_on_a_kind(client_alice, tenant_a):
    # the page can be opened on a kind, and lists that kind's columns
    html = client_alice.get(f"{DATA}?kind=fx_rates").content.decode()
    assert '<option value="fx_rates" selected>' in html
    assert 'data-kind="fx_rates"' in html
    assert '<code class="col req">quote_currency</code>' in html
    # given a rates file with one bad rate, partial mode
    content = (
        b"currency,quote_currency,valid_on,rate\n"
        b"EUR,USD,2026-01-02,1.08500000\n"
        b"GBP,USD,2026-01-02,-1\n"
    )
    response = client_alice.post(
        DATA,
        {"kind": "fx_rates", "mode": "partial", "file": SimpleUploadedFile("fx.csv", content)},
    )
    html = client_alice.get(response["Location"]).content.decode()
    assert "FX rates import" in html and "Committed with errors" in html
    assert "Imported 1 good row; 1 row with errors was skipped." in html
    assert re.search(r'data-label="Line">3<.*?<code>rate</code>', html, re.S)
    from incentives.models import FxRate

    with tenant_scope(tenant_a):
        assert list(FxRate.objects.values_list("currency", flat=True)) == ["EUR"]
