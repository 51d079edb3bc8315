"""A run's stored chunk outputs: the engine's phase tables in a form read table by table.

Contract
--------
:func:`encode` turns a chunk's output - a JSON-safe head and named phase tables
(:data:`engine.phases.tables.SCHEMAS`) - into bytes; :func:`decode` gives back the head and a
read-only mapping of the tables, each decoded when it is first read, exactly (the same column
values and types as :func:`engine.phases.tables.loads` gives: ``int`` columns int64, the rest
objects). A reduce that reads every chunk's ``partials`` no longer parses their
``contributions`` and ``measures``.

Format: ``zlib`` (level 1) of a magic line, a JSON head line (the head, and per table its rows
and per column where its values are) and a body: ``int`` columns as raw int64 buffers, every
other column as one JSON array (text, decimals as text, ids as int or text, booleans, None),
no pickle. Reading checks each table's columns against its schema and every value's type
(text, int or text for ids, bool, None where the kind allows it); the decimal and JSON texts
are not parsed again (they were written by :func:`encode` from the engine's own tables). A
stored output in the earlier format (one JSON text, ``engine.phases.tables.dumps``) is read
as before.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd

from engine.phases.tables import SCHEMAS, TableError, loads

MAGIC = b"quotient-chunk-tables-1\n"

_TYPES: dict[str, tuple[type, ...]] = {
    "text": (str,),
    "decimal": (str,),
    "json": (str,),
    "id": (int, str),
    "bool": (bool,),
    "int": (int,),
}


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot store a {type(value).__name__} in a phase table")


def encode(meta: Mapping[str, Any], tables: Mapping[str, pd.DataFrame] | None = None) -> bytes:
    """Return a chunk's output (its head ``meta`` and phase ``tables``) as bytes."""
    parts: list[bytes] = []
    size = 0
    heads: dict[str, Any] = {}
    for name, table in (tables or {}).items():
        schema = SCHEMAS.get(name)
        if schema is None:
            raise TableError(f"tables: unknown table {name!r}")
        columns: dict[str, list[Any]] = {}
        for column, kind in schema.items():
            if kind == "int":
                data = np.ascontiguousarray(table[column].to_numpy(dtype=np.int64)).tobytes()
                columns[column] = ["i8", size, len(data)]
            else:
                data = json.dumps(
                    table[column].tolist(), default=_plain, separators=(",", ":")
                ).encode()
                columns[column] = ["json", size, len(data)]
            parts.append(data)
            size += len(data)
        heads[name] = {"rows": len(table), "columns": columns}
    head = json.dumps({"meta": meta, "tables": heads}, sort_keys=True, default=str)
    return zlib.compress(MAGIC + head.encode() + b"\n" + b"".join(parts), 1)


_UNREAD = object()


class Tables(dict[str, pd.DataFrame]):
    """A chunk output's tables, each decoded on its first read (then kept).

    A ``dict`` (what its readers, full and live runs, are typed to take) whose values are
    decoded when read: by ``[]``, ``get``, ``items``, ``values`` or a copy (``dict(t)``,
    ``{**t}``: iterating is overridden so copies read through ``[]``). Read-only by use.
    """

    def __init__(self, heads: Mapping[str, Any], body: memoryview) -> None:
        super().__init__(dict.fromkeys(heads, _UNREAD))  # type: ignore[arg-type]
        self._heads = heads
        self._body = body

    def __getitem__(self, name: str) -> pd.DataFrame:
        got = super().__getitem__(name)
        if got is _UNREAD:
            got = _table(name, self._heads[name], self._body)
            super().__setitem__(name, got)
        return got

    def get(self, name: str, default: Any = None) -> Any:  # (dict.get would skip the decoding [])
        if name in self:
            return self[name]
        return default

    def __iter__(self) -> Iterator[str]:
        return iter(list(super().keys()))

    def items(self) -> Any:
        return [(name, self[name]) for name in list(super().keys())]

    def values(self) -> Any:
        return [self[name] for name in list(super().keys())]


def _table(name: str, head: Mapping[str, Any], body: memoryview) -> pd.DataFrame:
    schema = SCHEMAS.get(name)
    if schema is None:
        raise TableError(f"tables: unknown table {name!r}")
    columns = head["columns"]
    if set(columns) != set(schema):
        raise TableError(f"{name}: columns {sorted(columns)} are not {sorted(schema)}")
    rows = int(head["rows"])
    data: dict[str, Any] = {}
    for column, kind in schema.items():
        enc, offset, length = columns[column]
        raw = body[offset : offset + length]
        if enc == "i8":
            values: Any = np.frombuffer(raw, dtype=np.int64).copy()
        else:
            listed = json.loads(bytes(raw))
            allowed = _TYPES[kind.rstrip("?")] + ((type(None),) if kind.endswith("?") else ())
            bad = {type(v) for v in listed} - set(allowed)
            if bad:
                raise TableError(f"{name} column {column}: values of {sorted(map(str, bad))}")
            values = np.empty(len(listed), dtype=object)
            values[:] = listed
        if len(values) != rows:
            raise TableError(f"{name} column {column}: {len(values)} values, not {rows}")
        data[column] = values
    return pd.DataFrame(data, columns=list(schema), copy=False)


def decode(raw: bytes | memoryview | None) -> tuple[dict[str, Any], dict[str, pd.DataFrame]]:
    """Return a stored chunk output's head and tables (:func:`encode`'s format, or the earlier
    one JSON text); nothing stored: an empty head and no tables."""
    if raw is None:
        return {}, {}
    text = zlib.decompress(bytes(raw))
    if not text.startswith(MAGIC):
        head, _, rest = text.decode().partition("\n")
        return json.loads(head), loads(rest)
    cut = text.index(b"\n", len(MAGIC))
    head = json.loads(text[len(MAGIC) : cut])
    return head["meta"], Tables(head["tables"], memoryview(text)[cut + 1 :])
