"""A statement as a file: CSV (spreadsheet-safe cells) and PDF (reportlab, pure Python).

Both render the statement content of :mod:`payouts.statements` (a frozen one as it was frozen),
so the download says exactly what the page and the API say.
"""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

from core.csvsafe import csv_writer
from payouts.statements import TOTAL_LABELS, TOTALS

STATUS_WORDS = {
    "final": "Final (approved)",
    "provisional": "Provisional: the period is not approved yet",
    "none": "No calculation has been run for this period yet",
}


def filename(content: dict[str, Any], ext: str) -> str:
    """Return the download's file name: statement-<employee id>-<period label>.<ext>."""
    label = "".join(c if c.isalnum() else "-" for c in content["period"]["label"]).strip("-")
    emp = "".join(c if c.isalnum() else "-" for c in content["person"]["employee_id"])
    return f"statement-{emp}-{label}.{ext}"


def statement_csv(content: dict[str, Any]) -> str:
    """Return the statement as CSV: a header block, one row per line, the ledger, the totals."""
    out = io.StringIO()
    w = csv_writer(out)
    w.writerow(["person", content["person"]["full_name"], content["person"]["employee_id"]])
    w.writerow(
        ["period", content["period"]["label"], content["period"]["start"], content["period"]["end"]]
    )
    w.writerow(["status", content["status"], STATUS_WORDS.get(content["status"], "")])
    run = content.get("run") or {}
    w.writerow(["run", run.get("number", ""), run.get("id", "")])
    w.writerow(["currency", content["currency"]])
    frozen = content.get("frozen")
    if frozen:
        w.writerow(["frozen", frozen["at"], frozen["hash"]])
    w.writerow([])
    w.writerow(["section", "plan", "component", "kind", "amount", "currency", "attainment", "why"])
    for line in content["lines"]:
        w.writerow(
            [
                "line",
                line["plan"],
                line["component_id"],
                line["kind"],
                line["amount"],
                line["currency"],
                line["attainment"] or "",
                line["trace_text"],
            ]
        )
    for entry in content["ledger"]:
        w.writerow(
            [
                "ledger",
                "",
                entry["component_id"],
                entry["kind"],
                entry["effect"],
                entry["currency"],
                "",
                entry["memo"],
            ]
        )
    for key in TOTALS:
        w.writerow(
            [
                "total",
                "",
                "",
                key,
                content["totals"][key],
                content["currency"],
                "",
                TOTAL_LABELS[key],
            ]
        )
    return out.getvalue()


def _fmt(value: str | Decimal, currency: str) -> str:
    return f"{Decimal(value):,.2f} {currency}"


def statement_pdf(content: dict[str, Any]) -> bytes:
    """Return the statement as a PDF (A4): header, lines with their trace, ledger, totals."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    styles = getSampleStyleSheet()
    small = styles["BodyText"].clone("small", fontSize=8, leading=10)
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=16 * mm,
        rightMargin=16 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
        title=f"Statement {content['period']['label']}",
    )
    cur = content["currency"]
    person, period = content["person"], content["period"]

    def esc(text: Any) -> str:
        return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    story: list[Any] = [
        Paragraph(f"Statement · {esc(period['label'])}", styles["Title"]),
        Paragraph(
            f"{esc(person['full_name'])} ({esc(person['employee_id'])}) · "
            f"{esc(period['start'])} to {esc(period['end'])} (end exclusive)",
            styles["Normal"],
        ),
        Paragraph(esc(STATUS_WORDS.get(content["status"], content["status"])), styles["Normal"]),
        Spacer(1, 6 * mm),
    ]
    grid = TableStyle(
        [
            ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
            ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("ALIGN", (2, 1), (2, -1), "RIGHT"),
        ]
    )
    rows: list[list[Any]] = [["Plan · component", "Why this number", "Amount"]]
    rows.extend(
        [
            Paragraph(esc(f"{line['plan']} · {line['component_id']}"), small),
            Paragraph(esc(line["trace_text"]) or "—", small),
            _fmt(line["amount"], line["currency"]),
        ]
        for line in content["lines"]
    )
    if len(rows) == 1:
        rows.append(["—", "No payout lines.", ""])
    story += [
        Table(rows, colWidths=[45 * mm, 95 * mm, 38 * mm], style=grid, repeatRows=1),
        Spacer(1, 6 * mm),
    ]
    if content["ledger"]:
        entries: list[list[Any]] = [["Movement", "Memo", "Amount"]]
        entries.extend(
            [
                entry["label"],
                Paragraph(esc(entry["memo"]), small),
                _fmt(entry["effect"], entry["currency"]),
            ]
            for entry in content["ledger"]
        )
        story += [
            Table(entries, colWidths=[45 * mm, 95 * mm, 38 * mm], style=grid),
            Spacer(1, 6 * mm),
        ]
    totals = [[TOTAL_LABELS[k], _fmt(content["totals"][k], cur)] for k in TOTALS]
    story.append(
        Table(
            totals,
            colWidths=[140 * mm, 38 * mm],
            style=TableStyle(
                [
                    ("ALIGN", (1, 0), (1, -1), "RIGHT"),
                    ("LINEABOVE", (0, -1), (-1, -1), 1, colors.black),
                    ("FONTNAME", (0, -1), (-1, -1), "Helvetica-Bold"),
                ]
            ),
        )
    )
    frozen = content.get("frozen")
    if frozen:
        story += [
            Spacer(1, 4 * mm),
            Paragraph(esc(f"Frozen {frozen['at']} · SHA-256 {frozen['hash']}"), small),
        ]
    doc.build(story)
    return buf.getvalue()
