"""core.pdf, the one PDF helper: title, tenant header, page numbers, wrapped cells, amounts,
the generated-at line — read back from the PDF's own text."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from core.pdf import PdfDocument, amount
from tests.pdftext import pdf_text, pdf_title


def test_a_document_says_its_title_tenant_pages_and_when_it_was_generated():
    # given a document long enough for several pages
    pdf = PdfDocument(
        title="Plan <Sales> & co",
        tenant_name="Acme Corp",
        generated_at=dt.datetime(2026, 3, 4, 5, 6, tzinfo=dt.UTC),
    )
    pdf.heading("Components")
    pdf.paragraph("A long sentence that wraps. " * 40)
    pdf.table(
        ["Line", "Amount"],
        [[f"row {i}", amount(Decimal(i) * 1000, "USD")] for i in range(120)],
        amounts=[1],
        widths=(0.7, 0.3),
    )
    # when
    content = pdf.render()
    text = pdf_text(content)
    # then
    assert pdf_title(content) == "Plan <Sales> & co"
    pages = text.count("Acme Corp Plan <Sales> & co")  # the header on every page
    assert pages >= 3 and f"Page 1 of {pages}" in text and f"Page {pages} of {pages}" in text
    assert "row 119 119,000.00 USD" in text
    assert "Generated 2026-03-04 05:06 UTC by Quotient for Acme Corp." in text


def test_the_generated_line_reads_in_the_tenants_time_zone_with_its_name():
    pdf = PdfDocument(
        title="T",
        tenant_name="Northwind",
        generated_at=dt.datetime(2026, 12, 4, 20, 59, 30, 123456, tzinfo=dt.UTC),
        time_zone="America/New_York",
    )
    text = pdf_text(pdf.render())
    assert "Generated 2026-12-04 15:59 EST by Quotient for Northwind." in text
    assert "UTC" not in text and "123456" not in text


def test_an_empty_table_says_so_and_a_total_row_is_kept():
    pdf = PdfDocument(title="T", tenant_name="Globex")
    pdf.table(["Plan", "Amount"], [], amounts=[1], empty="No payout lines.")
    pdf.table(["Total", "Amount"], [["Payable", amount("12.5", "EUR")]], amounts=[1], total=True)
    text = pdf_text(pdf.render())
    assert "No payout lines." in text and "Payable 12.50 EUR" in text


def test_amounts_are_grouped_with_two_decimals():
    assert amount(Decimal("1234567.891"), "USD") == "1,234,567.89 USD"
    assert amount(0) == "0.00"
