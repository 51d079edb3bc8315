"""A statement as a file: CSV (spreadsheet-safe cells) and PDF (core.pdf, the one PDF helper).

Both render the statement content of :mod:`payouts.statements` (a frozen one as it was frozen),
so the download says exactly what the page and the API say.
"""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

from core.csvsafe import csv_writer
from core.pdf import PdfDocument, amount
from core.templatetags.quotient import last_day, moment_text, span_words
from core.tenancy import tenant_zone
from engine.money import quantize
from payouts.statements import TOTAL_LABELS, TOTALS, statement_named

FINGERPRINT = "Statement fingerprint"
"""What the files call a frozen statement's content hash (its first 12 characters)."""

STATUS_WORDS = {
    "final": "Final (approved)",
    "provisional": "Provisional: the period is not approved yet",
    "none": "No calculation has been run for this period yet",
}


def fingerprint(content_hash: str) -> str:
    """Return the short form of a frozen statement's hash people quote (the page's too)."""
    return content_hash[:12]


def _when(iso: str) -> str:
    return moment_text(iso, tenant_zone())


def _money(value: Any, currency: str) -> str:
    """An amount as a spreadsheet cell: the currency's decimals (``4250.00``, half up as the
    page rounds it), no thousands separators, the stored 4 places never shown."""
    return f"{quantize(Decimal(str(value)), currency)}"


def filename(content: dict[str, Any], ext: str) -> str:
    """Return the download's file name: statement-<employee id>-<period label>.<ext>."""
    label = "".join(c if c.isalnum() else "-" for c in content["period"]["label"]).strip("-")
    emp = "".join(c if c.isalnum() else "-" for c in content["person"]["employee_id"])
    return f"statement-{emp}-{label}.{ext}"


def statement_csv(content: dict[str, Any]) -> str:
    """Return the statement as CSV: a header block, one row per line, the ledger, the totals
    (components named as the page names them)."""
    content = statement_named(content)
    out = io.StringIO()
    w = csv_writer(out)
    w.writerow(["person", content["person"]["full_name"], content["person"]["employee_id"]])
    period = content["period"]
    # the first and the last day, as the page says it (the stored end is exclusive)
    w.writerow(["period", period["label"], period["start"], last_day(period["end"])])
    w.writerow(["status", content["status"], STATUS_WORDS.get(content["status"], "")])
    run = content.get("run") or {}
    finished = run.get("finished_at")
    w.writerow(
        [
            "calculated",
            _when(finished) if finished else "",
            f"Reference run {run['number']}" if run.get("number") else "",
        ]
    )
    w.writerow(["currency", content["currency"]])
    frozen = content.get("frozen")
    if frozen:
        w.writerow(["frozen", _when(frozen["at"]), FINGERPRINT, fingerprint(frozen["hash"])])
    w.writerow([])
    w.writerow(["section", "plan", "component", "kind", "amount", "currency", "attainment", "why"])
    for line in content["lines"]:
        w.writerow(
            [
                "line",
                line["plan"],
                line["component_name"],
                line["kind"],
                _money(line["amount"], line["currency"]),
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
                entry["component_name"],
                entry["kind"],
                _money(entry["amount"], entry["currency"]),
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
                _money(content["totals"][key], content["currency"]),
                content["currency"],
                "",
                TOTAL_LABELS[key],
            ]
        )
    return out.getvalue()


def statement_pdf(content: dict[str, Any], *, tenant_name: str) -> bytes:
    """Return the statement as a PDF (core.pdf): header, lines with their trace, ledger, totals."""
    content = statement_named(content)
    cur = content["currency"]
    person, period = content["person"], content["period"]
    pdf = PdfDocument(title=f"Statement · {period['label']}", tenant_name=tenant_name)
    pdf.paragraph(
        f"{person['full_name']} ({person['employee_id']}) · "
        f"{span_words(period['start'], period['end'])}"
    )
    pdf.paragraph(STATUS_WORDS.get(content["status"], content["status"]))
    pdf.space()
    widths = (0.25, 0.53, 0.22)
    pdf.table(
        ["Plan · component", "Why this number", "Amount"],
        [
            [
                f"{line['plan']} · {line['component_name']}",
                line["trace_text"],
                amount(line["amount"], line["currency"]),
            ]
            for line in content["lines"]
        ],
        amounts=[2],
        widths=widths,
        empty="No payout lines.",
    )
    if content["ledger"]:
        pdf.table(
            ["Movement", "Memo", "Amount"],
            [
                [entry["label"], entry["memo"], amount(entry["amount"], entry["currency"])]
                for entry in content["ledger"]
            ],
            amounts=[2],
            widths=widths,
        )
    pdf.table(
        ["Totals", "Amount"],
        [[TOTAL_LABELS[k], amount(content["totals"][k], cur)] for k in TOTALS],
        amounts=[1],
        widths=(0.78, 0.22),
        total=True,
    )
    frozen = content.get("frozen")
    if frozen:
        pdf.paragraph(
            f"Frozen when the period was approved, {_when(frozen['at'])} · "
            f"{FINGERPRINT} {fingerprint(frozen['hash'])}",
            muted=True,
        )
    return pdf.render()
