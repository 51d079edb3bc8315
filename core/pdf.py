"""The one PDF helper: every PDF Quotient hands out (statements, plan documents) is built here.

A :class:`PdfDocument` collects headings, paragraphs and tables, and :meth:`PdfDocument.render`
lays them on A4 with reportlab (a pure-Python wheel from the package index): the document
title in the PDF's metadata, a header with the tenant's name and the title on every page, a
footer with "Page n of m", a "Generated …" line at the end. Text is escaped here (callers pass
plain strings), long text wraps (every table cell is a paragraph), and amount columns are
right-aligned. Callers format their numbers (see :func:`amount`); nothing here rounds money.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

from django.http import HttpResponse
from django.utils import timezone
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas as rl_canvas
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from core.templatetags.quotient import moment_text
from core.tenancy import tenant_zone

MARGIN = 16 * mm
WIDTH = A4[0] - 2 * MARGIN
EMPTY_CELL = "—"


def amount(value: str | int | Decimal, currency: str = "") -> str:
    """Return an amount as the PDFs show it: thousands separated, two decimals, the currency."""
    return f"{Decimal(value):,.2f} {currency}".strip()


def pdf_response(content: bytes, filename: str) -> HttpResponse:
    """Return a PDF as a download named ``filename`` (pages and API views alike)."""
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _styles() -> dict[str, ParagraphStyle]:
    sheet = getSampleStyleSheet()
    body = sheet["BodyText"]
    small = body.clone("q-small", fontSize=8, leading=10)
    return {
        "title": sheet["Title"],
        "h1": sheet["Heading2"],
        "h2": sheet["Heading3"],
        "body": body,
        "muted": body.clone("q-muted", fontSize=8, leading=10, textColor=colors.grey),
        "cell": small,
        "cell-num": small.clone("q-num", alignment=TA_RIGHT),
        "cell-head": small.clone("q-head", fontName="Helvetica-Bold"),
        "cell-head-num": small.clone("q-head-num", fontName="Helvetica-Bold", alignment=TA_RIGHT),
    }


class _NumberedCanvas(rl_canvas.Canvas):  # type: ignore[misc]  # reportlab ships no types
    """A canvas that knows the page count when it draws each page's header and footer."""

    header_left = ""
    header_right = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pages: list[dict[str, Any]] = []

    def showPage(self) -> None:  # noqa: N802 - reportlab's name
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for state in self._pages:
            self.__dict__.update(state)
            self._decorate(total)
            super().showPage()
        super().save()

    def _decorate(self, total: int) -> None:
        width, height = A4
        self.saveState()
        self.setFont("Helvetica", 8)
        self.setFillColor(colors.grey)
        self.drawString(MARGIN, height - 10 * mm, self.header_left)
        self.drawRightString(width - MARGIN, height - 10 * mm, self.header_right)
        self.setStrokeColor(colors.lightgrey)
        self.line(MARGIN, height - 11.5 * mm, width - MARGIN, height - 11.5 * mm)
        self.drawRightString(width - MARGIN, 9 * mm, f"Page {self._pageNumber} of {total}")
        self.restoreState()


class PdfDocument:
    """A PDF under construction: add blocks in reading order, then :meth:`render` it."""

    def __init__(
        self,
        *,
        title: str,
        tenant_name: str,
        generated_at: dt.datetime | None = None,
        time_zone: str | None = None,
    ) -> None:
        self.title = title
        self.tenant_name = tenant_name
        self.generated_at = generated_at or timezone.now()
        self.time_zone = time_zone
        self._styles = _styles()
        self._story: list[Any] = [Paragraph(escape(title), self._styles["title"])]

    def heading(self, text: str, *, level: int = 1) -> None:
        """Add a section heading (level 1) or a sub-heading (level 2)."""
        self._story.append(Paragraph(escape(text), self._styles["h1" if level == 1 else "h2"]))

    def paragraph(self, text: str, *, muted: bool = False) -> None:
        """Add a paragraph of plain text (it wraps at the margin)."""
        self._story.append(Paragraph(escape(text), self._styles["muted" if muted else "body"]))

    def space(self, height_mm: float = 4) -> None:
        """Add vertical space."""
        self._story.append(Spacer(1, height_mm * mm))

    def table(
        self,
        header: Sequence[str],
        rows: Iterable[Sequence[Any]],
        *,
        amounts: Iterable[int] = (),
        widths: Sequence[float] | None = None,
        total: bool = False,
        empty: str = "Nothing to show.",
    ) -> None:
        """Add a table: ``amounts`` are the column indexes to right-align, ``widths`` fractions
        of the text width, ``total`` sets the last row in bold under a rule; every cell wraps."""
        right = set(amounts)
        st = self._styles

        def cell(value: Any, col: int, head: bool = False) -> Paragraph:
            text = EMPTY_CELL if value is None or value == "" else str(value)
            name = ("cell-head" if head else "cell") + ("-num" if col in right else "")
            return Paragraph(escape(text), st[name])

        body = [[cell(v, i) for i, v in enumerate(row)] for row in rows]
        if not body:
            body = [[cell(empty if i == 0 else "", i) for i in range(len(header))]]
        data = [[cell(h, i, head=True) for i, h in enumerate(header)], *body]
        n = len(header)
        fractions = list(widths) if widths else [1 / n] * n
        style = [
            ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
            ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]
        if total:
            style.append(("LINEABOVE", (0, -1), (-1, -1), 1, colors.black))
            for i, value in enumerate(data[-1]):
                data[-1][i] = Paragraph(
                    f"<b>{value.text}</b>", st["cell-num" if i in right else "cell"]
                )
        self._story += [
            Table(
                data,
                colWidths=[f * WIDTH for f in fractions],
                style=TableStyle(style),
                repeatRows=1,
            ),
            Spacer(1, 4 * mm),
        ]

    def render(self) -> bytes:
        """Return the PDF's bytes (A4; header, footer with page numbers, a generated-at line)."""
        buf = io.BytesIO()
        doc = SimpleDocTemplate(
            buf,
            pagesize=A4,
            leftMargin=MARGIN,
            rightMargin=MARGIN,
            topMargin=MARGIN + 4 * mm,
            bottomMargin=MARGIN,
            title=self.title,
            author=self.tenant_name,
            creator="Quotient",
        )
        when = moment_text(self.generated_at, tenant_zone(self.time_zone))
        story = [
            *self._story,
            Spacer(1, 6 * mm),
            Paragraph(
                escape(f"Generated {when} by Quotient for {self.tenant_name}."),
                self._styles["muted"],
            ),
        ]
        canvas = type(
            "_Canvas",
            (_NumberedCanvas,),
            {"header_left": self.tenant_name, "header_right": self.title},
        )
        doc.build(story, canvasmaker=canvas)
        return buf.getvalue()
