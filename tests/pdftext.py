"""Read a PDF's text back (pypdf, a dev dependency), for tests of what a download says."""

from __future__ import annotations

import io

from pypdf import PdfReader


def pdf_text(content: bytes) -> str:
    """Return the text of every page as laid out (a table row on one line), blank lines dropped
    and runs of spaces made one."""
    reader = PdfReader(io.BytesIO(content))
    text = "\n".join(page.extract_text(extraction_mode="layout") or "" for page in reader.pages)
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def pdf_title(content: bytes) -> str:
    """Return the title in the PDF's metadata."""
    meta = PdfReader(io.BytesIO(content)).metadata
    return str(meta.title if meta else "")
