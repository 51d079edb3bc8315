"""A chunk's engine inputs in a compact, exact binary form, so a run gathers them once.

Contract
--------
:func:`encode` turns an :class:`engine.types.Inputs` - every field but ``plans`` - into bytes;
:func:`decode` gives back an equal ``Inputs`` (every frame with the same columns, dtypes, index
and values: ``Decimal`` stays the same ``Decimal``, a date a date, a category a category), with
the ``plans`` passed to it. The fetch phase of a run stores its chunk's encoded inputs; the
measure, reward and settle phases decode them instead of gathering the chunk from the database
again (``payouts.runs``). Plans are not encoded: they are the same for every chunk of a run, and
a worker keeps them per run (or gathers them once when it has not seen the run).

It is a cache, never the record: a field or a value this module does not know raises
:class:`EncodeError` and the caller gathers the chunk again in each phase, as before.

Format: ``zlib`` (level 1) of a JSON head (one line) followed by the raw column buffers the head
points at (numpy ``tobytes``), no pickle: the bytes are read back as data only.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import zlib
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from engine.spec import Plan
from engine.types import Inputs, Period

MAGIC = "quotient-chunk-inputs-1"


class EncodeError(TypeError):
    """A field or value the codec does not know: gather instead."""


class _Buffers:
    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0

    def add(self, array: np.ndarray) -> list[Any]:
        data = np.ascontiguousarray(array).tobytes()
        ref = [self.size, len(data), array.dtype.str]
        self.parts.append(data)
        self.size += len(data)
        return ref


def _read(body: memoryview, ref: list[Any]) -> np.ndarray:
    offset, length, dtype = ref
    return np.frombuffer(body[offset : offset + length], dtype=np.dtype(dtype)).copy()


_SCALAR_KINDS = frozenset("biuf")


def _object_column(values: np.ndarray) -> dict[str, Any]:
    # Text and Decimal columns without None (most of them) are told apart in C; the rest by
    # the exact types of their values.
    inferred = pd.api.types.infer_dtype(values, skipna=False)
    if inferred in ("string", "empty"):
        return {"enc": "str", "values": values.tolist()}
    if inferred == "decimal":
        return {"enc": "dec", "values": [str(v) for v in values]}
    types = {type(v) for v in values}
    types.discard(type(None))
    if types == {str}:
        return {"enc": "str", "values": values.tolist()}
    if types == {Decimal}:
        return {"enc": "dec", "values": [None if v is None else str(v) for v in values]}
    if types == {dt.date}:
        return {"enc": "date", "values": [None if v is None else v.toordinal() for v in values]}
    if types == {int}:
        return {"enc": "int", "values": values.tolist()}
    if types == {bool}:
        return {"enc": "bool", "values": values.tolist()}
    tagged: list[Any] = []
    for v in values:
        kind = type(v)
        if v is None:
            tagged.append(None)
        elif kind is str:
            tagged.append(["s", v])
        elif kind is Decimal:
            tagged.append(["d", str(v)])
        elif kind is dt.date:
            tagged.append(["t", v.toordinal()])
        elif kind is int:
            tagged.append(["i", v])
        elif kind is bool:
            tagged.append(["b", v])
        elif kind is float:
            tagged.append(["f", repr(v)])
        else:
            raise EncodeError(f"cannot encode a {kind.__name__} in an object column")
    return {"enc": "tagged", "values": tagged}


def _object_values(spec: Mapping[str, Any]) -> np.ndarray:
    enc, values = spec["enc"], spec["values"]
    out = np.empty(len(values), dtype=object)
    if enc == "str" or enc == "int" or enc == "bool":
        out[:] = values
    elif enc == "dec":
        out[:] = [None if v is None else Decimal(v) for v in values]
    elif enc == "date":
        out[:] = [None if v is None else dt.date.fromordinal(v) for v in values]
    else:
        decoded: list[Any] = []
        for v in values:
            if v is None:
                decoded.append(None)
                continue
            tag, x = v
            if tag == "d":
                decoded.append(Decimal(x))
            elif tag == "t":
                decoded.append(dt.date.fromordinal(x))
            elif tag == "f":
                decoded.append(float(x))
            else:
                decoded.append(x)
        out[:] = decoded
    return out


def _column(series: pd.Series, buffers: _Buffers) -> dict[str, Any]:
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        cats = pd.Series(dtype.categories)
        return {
            "kind": "category",
            "ordered": bool(dtype.ordered),
            "categories": _column(cats, buffers),
            "codes": buffers.add(series.cat.codes.to_numpy()),
        }
    if isinstance(dtype, pd.api.extensions.ExtensionDtype) and dtype.kind in "iu":
        array = series.array
        return {
            "kind": "masked",
            "dtype": str(dtype),
            "data": buffers.add(np.asarray(array._data)),
            "mask": buffers.add(np.asarray(array._mask)),
        }
    if isinstance(dtype, np.dtype) and dtype.kind in _SCALAR_KINDS:
        return {"kind": "numpy", "data": buffers.add(series.to_numpy())}
    if isinstance(dtype, np.dtype) and dtype.kind == "O":
        return {"kind": "object", **_object_column(series.to_numpy())}
    raise EncodeError(f"cannot encode a column of dtype {dtype}")


def _series(spec: Mapping[str, Any], body: memoryview) -> Any:
    kind = spec["kind"]
    if kind == "category":
        categories = _series(spec["categories"], body)
        codes = _read(body, spec["codes"])
        return pd.Categorical.from_codes(codes, categories=categories, ordered=spec["ordered"])
    if kind == "masked":
        data, mask = _read(body, spec["data"]), _read(body, spec["mask"])
        return pd.arrays.IntegerArray(data, mask.astype(bool))
    if kind == "numpy":
        return _read(body, spec["data"])
    return _object_values(spec)


def _frame(frame: pd.DataFrame, buffers: _Buffers) -> dict[str, Any]:
    if not all(isinstance(c, str) for c in frame.columns):
        raise EncodeError("frame columns must be named by text")
    index = frame.index
    if isinstance(index, pd.RangeIndex):
        idx: Any = ["range", index.start, index.stop, index.step]
    elif index.dtype == np.int64 and index.name is None:
        idx = ["int64", buffers.add(index.to_numpy())]
    else:
        raise EncodeError(f"cannot encode an index of {type(index).__name__}")
    return {
        "index": idx,
        "columns": [[name, _column(frame[name], buffers)] for name in frame.columns],
    }


def _frame_from(spec: Mapping[str, Any], body: memoryview) -> pd.DataFrame:
    idx = spec["index"]
    index = (
        pd.RangeIndex(idx[1], idx[2], idx[3])
        if idx[0] == "range"
        else pd.Index(_read(body, idx[1]), dtype=np.int64)
    )
    data = {name: _series(col, body) for name, col in spec["columns"]}
    if not data:
        return pd.DataFrame(index=index)
    return pd.DataFrame(data, index=index, copy=False)


def _period(p: Period) -> list[Any]:
    return [p.id, p.start.toordinal(), p.end.toordinal()]


def _period_from(v: list[Any]) -> Period:
    return Period(v[0], dt.date.fromordinal(v[1]), dt.date.fromordinal(v[2]))


def encode(inputs: Inputs) -> bytes:
    """Return ``inputs`` (all but its plans) as bytes for :func:`decode`."""
    buffers = _Buffers()
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(inputs):
        name, value = f.name, getattr(inputs, f.name)
        if name == "plans":
            continue
        if isinstance(value, pd.DataFrame):
            fields[name] = ["frame", _frame(value, buffers)]
        elif name == "period":
            fields[name] = ["period", _period(value)]
        elif name == "history_periods":
            fields[name] = ["periods", [_period(p) for p in value]]
        elif name == "draw_balances":
            fields[name] = ["decimals", [[k, str(v)] for k, v in value.items()]]
        elif name == "collected_transactions":
            fields[name] = ["texts", sorted(value)]
        elif name == "history_start":
            fields[name] = ["date", None if value is None else value.toordinal()]
        elif type(value) is int:
            fields[name] = ["int", value]
        else:
            raise EncodeError(f"cannot encode the inputs' {name} ({type(value).__name__})")
    head = json.dumps({"magic": MAGIC, "fields": fields}, separators=(",", ":")).encode()
    return zlib.compress(head + b"\n" + b"".join(buffers.parts), 1)


def decode(raw: bytes | memoryview, plans: Mapping[str, Plan]) -> Inputs:
    """Return the :class:`Inputs` that :func:`encode` wrote, with ``plans``."""
    text = zlib.decompress(bytes(raw))
    cut = text.index(b"\n")
    head = json.loads(text[:cut])
    if head.get("magic") != MAGIC:
        raise EncodeError("not a chunk's encoded inputs")
    body = memoryview(text)[cut + 1 :]
    values: dict[str, Any] = {"plans": plans}
    for name, (kind, value) in head["fields"].items():
        if kind == "frame":
            values[name] = _frame_from(value, body)
        elif kind == "period":
            values[name] = _period_from(value)
        elif kind == "periods":
            values[name] = tuple(_period_from(v) for v in value)
        elif kind == "decimals":
            values[name] = {k: Decimal(v) for k, v in value}
        elif kind == "texts":
            values[name] = frozenset(value)
        elif kind == "date":
            values[name] = None if value is None else dt.date.fromordinal(value)
        else:
            values[name] = value
    return Inputs(**values)
