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


def _plain(values: list[Any]) -> list[Any]:
    """``values`` with numpy scalars as the Python values JSON writes (and reads back)."""
    if any(isinstance(v, np.generic) for v in values):
        return [v.item() if isinstance(v, np.generic) else v for v in values]
    return values


def _ints(name: str, column: str, series: pd.Series) -> np.ndarray:
    """An ``int`` column's values as int64, refusing anything that is not an integer (a float
    would be truncated by the cast, a bool or a text taken for a number)."""
    kind = series.dtype.kind
    if not len(series):
        return np.empty(0, dtype=np.int64)
    if kind in "iu":
        values = series.to_numpy(dtype=np.int64)
        if kind == "u" and len(values) and (series.to_numpy() > np.iinfo(np.int64).max).any():
            raise TableError(f"{name} column {column}: values beyond int64")
        return np.ascontiguousarray(values)
    bad: set[str] = {str(series.dtype)}
    if kind == "O":
        listed = series.tolist()
        bad = {
            type(v).__name__
            for v in listed
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool)
        }
        if not bad:
            return np.ascontiguousarray(np.array(listed, dtype=np.int64))
    raise TableError(f"{name} column {column}: an int column holds {sorted(bad)}")


def _checked(name: str, column: str, kind: str, values: list[Any]) -> None:
    allowed = _TYPES[kind.rstrip("?")] + ((type(None),) if kind.endswith("?") else ())
    bad = {type(v) for v in values} - set(allowed)
    if bad:
        raise TableError(f"{name} column {column}: values of {sorted(map(str, bad))}")


def _object_column(values: list[Any]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def encode(meta: Mapping[str, Any], tables: Mapping[str, pd.DataFrame] | None = None) -> bytes:
    """Return a chunk's output (its head ``meta`` and phase ``tables``) as bytes."""
    return encode_kept(meta, tables)[0]


def encode_kept(
    meta: Mapping[str, Any], tables: Mapping[str, pd.DataFrame] | None = None
) -> tuple[bytes, dict[str, Any], dict[str, pd.DataFrame]]:
    """Return a chunk's output as bytes (:func:`encode`) with its head and tables as
    :func:`decode` gives them back (the same values and types), built from the values written
    rather than decoded again: what the writer keeps for its own later reads.

    Every column is checked before anything is written: an ``int`` column must hold integers
    (a float is refused, never truncated), every other column the types its kind allows."""
    parts: list[bytes] = []
    size = 0
    heads: dict[str, Any] = {}
    kept: dict[str, pd.DataFrame] = {}
    for name, table in (tables or {}).items():
        schema = SCHEMAS.get(name)
        if schema is None:
            raise TableError(f"tables: unknown table {name!r}")
        missing = set(schema) - set(table.columns)
        if missing:
            raise TableError(f"{name}: columns {sorted(missing)} are missing")
        columns: dict[str, list[Any]] = {}
        data: dict[str, Any] = {}
        for column, kind in schema.items():
            if kind == "int":
                values: Any = _ints(name, column, table[column])
                raw = values.tobytes()
                columns[column] = ["i8", size, len(raw)]
                values = values.copy()  # (kept: never a view of the writer's table)
            else:
                listed = _plain(table[column].tolist())
                _checked(name, column, kind, listed)
                raw = json.dumps(listed, separators=(",", ":")).encode()
                columns[column] = ["json", size, len(raw)]
                values = _object_column(listed)
            parts.append(raw)
            size += len(raw)
            data[column] = values
        heads[name] = {"rows": len(table), "columns": columns}
        kept[name] = pd.DataFrame(data, columns=list(schema), copy=False)
    text = json.dumps({"meta": meta, "tables": heads}, sort_keys=True, default=str)
    raw_all = zlib.compress(MAGIC + text.encode() + b"\n" + b"".join(parts), 1)
    return raw_all, json.loads(text)["meta"], kept


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

    def copy(self) -> dict[str, pd.DataFrame]:  # (dict.copy would hand out the placeholders)
        return dict(self.items())


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
            _checked(name, column, kind, listed)
            values = _object_column(listed)
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
