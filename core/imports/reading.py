"""Streamed reading of CSV files (and JSON rows) into chunks of column arrays.

:func:`read_csv` sniffs the file's first bytes once: a binary file (an Excel workbook, a PDF,
NUL bytes) or a file that is not UTF-8 is a :class:`~core.imports.errors.FileError` with a
sentence saying what to do; otherwise the encoding (UTF-8 with or without BOM, UTF-16 with a
BOM; a caller may name another) and the delimiter (``,`` ``;`` tab or ``|``,
the most frequent in the header) are chosen. The header is checked (empty names, duplicates).

:meth:`Table.chunks` then reads the file in blocks of about a megabyte, decodes each block at
once (a block that fails falls back to line by line, so one bad line is one row error), feeds
the stdlib ``csv`` reader and hands out :class:`Chunk` objects: up to ``chunk_rows`` records as
**one list per column** (``chunk.columns[i]`` is column ``i`` of the header), with each
record's line number. Records the reader cannot use (wrong number of cells, a NUL or other
control character, undecodable bytes, broken quoting) are left out of the arrays and reported
in ``chunk.errors``; blank lines are skipped. Memory is bounded by one block and one chunk.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from core.imports.errors import FileError, RowError

BLOCK_BYTES = 1 << 20
SNIFF_BYTES = 64 * 1024
CHUNK_ROWS = 20_000
DELIMITERS = (",", ";", "\t", "|")
ENCODING_NAMES = {"utf-8": "UTF-8", "utf-16": "UTF-16", "cp1252": "Windows-1252"}

# Control characters other than tab, line feed and carriage return (C0, DEL and C1).
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# The same, found in UTF-8 bytes without decoding: deleting every other byte leaves the C0
# controls and DEL (bytes.translate, in C); C1 controls are \xc2\x80-\xc2\x9f.
_NOT_CONTROL = bytes(b for b in range(256) if not (b < 0x20 or b == 0x7F) or b in b"\t\n\r")
_C1 = re.compile(b"\xc2[\x80-\x9f]")

BINARY_SIGNATURES = {
    b"PK\x03\x04": "a ZIP archive or an Excel (.xlsx) workbook",
    b"\xd0\xcf\x11\xe0": "an old Excel (.xls) or Word document",
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"\x1f\x8b": "a gzip archive",
}
SAVE_AS_CSV = "Save it as 'CSV UTF-8' and upload that file."
MESSAGES = {
    "binary_file": "This is not a CSV text file: it looks like {what}. " + SAVE_AS_CSV,
    "bad_encoding_file": "The file is not UTF-8 text (it may be Windows-1252 or Latin-1, as "
    "older Excel versions save). " + SAVE_AS_CSV,
    "empty_file": "The file is empty: it needs a header line naming its columns.",
    "empty_column": "Column {n} of the header has no name.",
    "duplicate_column": "The column {name!r} appears twice in the header.",
    "bad_encoding": "The line is not valid {encoding} text.",
    "nul_character": "The line contains a NUL character (a binary file?); it cannot be stored.",
    "control_character": "The cell contains a control character ({char}); it cannot be stored.",
    "wrong_column_count": "Expected {expected} columns, found {found}.",
    "malformed_csv": "Unreadable CSV: {error}",
    "not_an_object": "Each row must be an object.",
}


@dataclass
class Chunk:
    """Up to ``chunk_rows`` records of a file, column by column."""

    lines: list[int]
    columns: list[Sequence[str]]  # one sequence of cell texts per header column
    errors: list[list[RowError]] = field(default_factory=list)  # per rejected record
    rows: int = 0  # records read, good or rejected (blank lines not counted)

    def __len__(self) -> int:
        return len(self.lines)

    def keep(self, indices: Sequence[int]) -> None:
        """Keep only the records at ``indices`` (in this order)."""
        self.lines = [self.lines[i] for i in indices]
        self.columns = [[c[i] for i in indices] for c in self.columns]


@dataclass(frozen=True)
class Sniffed:
    encoding: str  # a Python codec name
    delimiter: str
    bom: int  # bytes of byte-order mark to skip


def _binary_kind(sample: bytes) -> str | None:
    for magic, what in BINARY_SIGNATURES.items():
        if sample.startswith(magic):
            return what
    if sample.count(b"\x00") > max(1, len(sample) // 100):
        return "a binary file (it is full of NUL bytes)"
    return None


def _decodes(sample: bytes, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        decoder.decode(sample, final=False)  # a character cut by the sample's end is fine
    except UnicodeDecodeError:
        return False
    return True


def sniff(sample: bytes, *, encoding: str | None = None) -> Sniffed:
    """Return the encoding and delimiter of a file starting with ``sample``, or raise.

    UTF-8 (with or without a BOM) or UTF-16 with a BOM; a sample whose header or more than
    one line in twenty is not UTF-8 is a mis-encoded file (a few bad lines are row errors).
    ``encoding`` (a codec name the caller was told) skips the guess."""
    if encoding is not None:
        bom = 3 if encoding == "utf-8" and sample.startswith(codecs.BOM_UTF8) else 0
        first = sample[bom:].split(b"\n", 1)[0].decode(encoding, errors="replace")
        return Sniffed(encoding, _delimiter(first), bom)
    if sample.startswith(codecs.BOM_UTF8):
        encoding, bom = "utf-8", 3
    elif sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding, bom = "utf-16", 0  # the codec reads its own BOM
    else:
        what = _binary_kind(sample)
        if what is not None:
            raise FileError.of("binary_file", MESSAGES["binary_file"].format(what=what))
        bom, encoding = 0, "utf-8"
        if not _decodes(sample, "utf-8"):
            lines = sample.split(b"\n")[:-1] or [sample]
            bad = sum(1 for line in lines if not _decodes(line, "utf-8"))
            if not _decodes(lines[0], "utf-8") or bad > max(1, len(lines) // 20):
                raise FileError.of("bad_encoding", MESSAGES["bad_encoding_file"])
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(sample[bom:])
    first = text.split("\n", 1)[0]
    if CONTROL.search(first.replace("\x00", "")) and encoding != "utf-16":
        what = "a binary file (its first line holds control characters)"
        raise FileError.of("binary_file", MESSAGES["binary_file"].format(what=what))
    return Sniffed(encoding, _delimiter(first), bom)


def _delimiter(first: str) -> str:
    """The most frequent candidate delimiter of the header line (``,`` on a tie or none)."""
    counts = {d: first.count(d) for d in DELIMITERS}
    delimiter = max(DELIMITERS, key=lambda d: (counts[d], d == ","))
    return delimiter if counts[delimiter] else ","


class Table:
    """A CSV file being read: its header, then its records chunk by chunk (once)."""

    def __init__(
        self, stream: BinaryIO, *, delimiter: str | None = None, encoding: str | None = None
    ) -> None:
        self.stream = stream
        head = stream.read(SNIFF_BYTES)
        if not head.strip():
            raise FileError.of("empty_file", MESSAGES["empty_file"])
        sniffed = sniff(head, encoding=encoding)
        self.encoding = sniffed.encoding
        self.encoding_name = ENCODING_NAMES.get(self.encoding, self.encoding)
        self.delimiter = delimiter or sniffed.delimiter
        self._head = head[sniffed.bom :]
        self._bad: dict[int, str] = {}  # line -> code, for lines blanked before csv reads them
        self._controls = self.encoding != "utf-8"  # a control character seen in the bytes
        self._reader = csv.reader(self._text_lines(), delimiter=self.delimiter)
        try:
            header = next(self._reader)
        except StopIteration:
            raise FileError.of("empty_file", MESSAGES["empty_file"]) from None
        except csv.Error as exc:
            raise FileError.of(
                "malformed_csv", MESSAGES["malformed_csv"].format(error=exc)
            ) from None
        if 1 in self._bad:
            code = self._bad[1]
            message = MESSAGES[code].format(encoding=self.encoding_name)
            raise FileError.of(code, f"The header: {message}")
        self.header = [h.strip().lstrip("\ufeff") for h in header]
        problems = []
        seen: set[str] = set()
        for n, name in enumerate(self.header, start=1):
            if not name and len(self.header) > 1:
                problems.append(
                    RowError(1, "", "missing_column", MESSAGES["empty_column"].format(n=n))
                )
            elif CONTROL.search(name):
                problems.append(
                    RowError(1, "", "control_character", "A header name holds a control character.")
                )
            elif name in seen:
                problems.append(
                    RowError(
                        1,
                        name,
                        "duplicate_column",
                        MESSAGES["duplicate_column"].format(name=name),
                    )
                )
            seen.add(name)
        if problems:
            raise FileError(problems)

    # --- lines ----------------------------------------------------------------------------

    def _blocks(self) -> Iterator[bytes]:
        """Yield the file in blocks that end at a line feed (the last one may not)."""
        rest = self._head
        while True:
            data = self.stream.read(BLOCK_BYTES)
            if not data:
                if rest:
                    yield rest
                return
            data = rest + data
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                rest = data
                continue
            yield data[:cut]
            rest = data[cut:]

    def _text_lines(self) -> Iterator[str]:
        if self.encoding == "utf-16":
            return self._utf16_lines()
        return itertools.chain.from_iterable(self._decoded_blocks())

    def _utf16_lines(self) -> Iterator[str]:
        decoder = codecs.getincrementaldecoder("utf-16")()
        rest = ""
        try:
            for block in self._blocks_raw():
                text = rest + decoder.decode(block)
                cut = text.rfind("\n") + 1
                yield from text[:cut].splitlines(keepends=True)
                rest = text[cut:]
            rest += decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise FileError.of("bad_encoding", MESSAGES["bad_encoding_file"]) from None
        if rest:
            yield rest

    def _blocks_raw(self) -> Iterator[bytes]:
        yield self._head
        while data := self.stream.read(BLOCK_BYTES):
            yield data

    def _decoded_blocks(self) -> Iterator[Iterable[str]]:
        line = 0  # lines before the block
        encoding = self.encoding
        for block in self._blocks():
            if not self._controls and (
                block.translate(None, _NOT_CONTROL) or (b"\xc2" in block and _C1.search(block))
            ):
                self._controls = True  # from now on each chunk is checked cell by cell
            if b"\x00" not in block:
                try:
                    text = block.decode(encoding)
                except UnicodeDecodeError:
                    pass
                else:
                    # C-level line splitting on \n, \r\n (and a lone \r), as csv wants
                    yield io.StringIO(text, newline="")
                    line += block.count(b"\n")
                    continue
            out = []
            for raw in block.split(b"\n"):
                line += 1
                if b"\x00" in raw:
                    self._bad[line] = "nul_character"
                    out.append("\n")
                    continue
                try:
                    out.append(raw.decode(encoding) + "\n")
                except UnicodeDecodeError:
                    self._bad[line] = "bad_encoding"
                    out.append("\n")
            # split() gave one more piece than there were line feeds
            line -= 1
            if block.endswith(b"\n"):
                out.pop()
            else:
                out[-1] = out[-1][:-1]
            yield out

    # --- records --------------------------------------------------------------------------

    def chunks(self, chunk_rows: int = CHUNK_ROWS) -> Iterator[Chunk]:
        """Yield the records after the header in chunks of column arrays."""
        reader = self._reader
        width = len(self.header)
        done = False
        while not done:
            rows: list[list[str]] = []
            lines: list[int] = []
            errors: list[list[RowError]] = []
            while len(rows) < chunk_rows:
                before, count = reader.line_num, len(rows)
                try:
                    rows.extend(itertools.islice(reader, chunk_rows - count))  # in C
                except csv.Error as exc:
                    message = MESSAGES["malformed_csv"].format(error=exc)
                    self._number(rows, count, before, lines)
                    rows.append([])  # a placeholder, dropped below
                    lines.append(reader.line_num)
                    errors.append([RowError(reader.line_num, "", "malformed_csv", message)])
                    continue
                self._number(rows, count, before, lines)
                if len(rows) - count < chunk_rows - count:
                    done = True
                    break
            if not rows:
                break
            good = rows
            if set(map(len, rows)) != {width}:
                good, good_lines = [], []
                failed = {e[0].line for e in errors}
                for row, start in zip(rows, lines, strict=True):
                    if len(row) == width:
                        good.append(row)
                        good_lines.append(start)
                    elif start in failed:
                        continue
                    elif not row or (len(row) == 1 and not row[0].strip()):
                        code = self._bad.pop(start, None)
                        if code is not None:  # a line blanked before csv read it
                            message = MESSAGES[code].format(encoding=self.encoding_name)
                            errors.append([RowError(start, "", code, message)])
                    else:
                        message = MESSAGES["wrong_column_count"].format(
                            expected=width, found=len(row)
                        )
                        errors.append([RowError(start, "", "wrong_column_count", message)])
                lines = good_lines
            read = len(good) + len(errors)
            if not read:
                continue
            columns: list[Sequence[str]] = (
                list(zip(*good, strict=True)) if good else [() for _ in range(width)]
            )
            chunk = Chunk(lines, columns, errors, read)
            if self._controls:
                _reject_control_characters(chunk, self.header)
            yield chunk

    def _number(self, rows: list[list[str]], count: int, before: int, lines: list[int]) -> None:
        """Append the first line of each record ``rows[count:]`` read after line ``before``:
        consecutive, unless a quoted cell holds line breaks (each adds a line)."""
        added = len(rows) - count
        if not added:
            return
        first = before + 1
        if self._reader.line_num - before == added:  # one line per record
            lines.extend(range(first, first + added))
            return
        line = first
        for r in rows[count:]:
            lines.append(line)
            text = "".join(r)
            line += 1 + text.count("\n") + text.count("\r") - text.count("\r\n")


def _reject_control_characters(chunk: Chunk, header: list[str]) -> None:
    """Move records holding a control character from the arrays to the chunk's errors."""
    flagged: dict[int, RowError] = {}
    for name, column in zip(header, chunk.columns, strict=True):
        if not CONTROL.search("".join(column)):
            continue
        for i, value in enumerate(column):
            if i not in flagged:
                match = CONTROL.search(value)
                if match is not None:
                    code = "nul_character" if match.group() == "\x00" else "control_character"
                    char = f"U+{ord(match.group()):04X}"
                    message = (
                        MESSAGES[code].format(char=char)
                        if code == "control_character"
                        else MESSAGES[code]
                    )
                    flagged[i] = RowError(chunk.lines[i], name, code, message, _printable(value))
    if flagged:
        chunk.errors.extend([e] for e in flagged.values())
        chunk.keep([i for i in range(len(chunk)) if i not in flagged])


def _printable(value: str) -> str:
    return CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", value)[:200]


def read_csv(
    stream: BinaryIO, *, delimiter: str | None = None, encoding: str | None = None
) -> Table:
    """Open a CSV file for reading (sniffs encoding and delimiter, checks the header)."""
    return Table(stream, delimiter=delimiter, encoding=encoding)


def json_cell(value: Any) -> str:
    """A JSON value as the text a CSV cell would hold (objects and lists as JSON)."""
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class JsonTable:
    """JSON rows (objects) read like a CSV file: rows count from 1, columns are the keys."""

    def __init__(self, rows: Iterable[Any], *, fields: Sequence[str] = ()) -> None:
        self.rows = list(rows)
        header: dict[str, None] = dict.fromkeys(fields)
        for row in self.rows:
            if isinstance(row, dict):
                header.update(dict.fromkeys(str(k) for k in row))
        self.header = list(header)
        self.encoding, self.delimiter = "utf-8", ","

    def chunks(self, chunk_rows: int = CHUNK_ROWS) -> Iterator[Chunk]:
        for start in range(0, len(self.rows), chunk_rows):
            part = self.rows[start : start + chunk_rows]
            lines, records, errors = [], [], []
            for number, row in enumerate(part, start=start + 1):
                if not isinstance(row, dict):
                    errors.append(
                        [RowError(number, "", "not_an_object", MESSAGES["not_an_object"])]
                    )
                    continue
                lines.append(number)
                records.append([json_cell(row.get(k)) for k in self.header])
            columns: list[Sequence[str]] = (
                list(zip(*records, strict=True)) if records else [() for _ in self.header]
            )
            chunk = Chunk(lines, columns, errors, len(part))
            _reject_control_characters(chunk, self.header)
            yield chunk
