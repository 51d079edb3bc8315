"""The result's hash: a sha256 over its tables, column by column (format 2).

Contract: :func:`digest` hashes the lines, traces, measures and draw balances of a result as
tables - each a fixed list of columns (the schemas below), in the result's canonical order -
and each column as one block of bytes: a text column its values joined, an integer column its
int64 bytes. Both paths (the general path's objects, the fast path's columns) build the same
columns, so the hash depends on the result only, never on the path taken; and no text is made
per row (see docs/engine.md, "Determinism").

A column's kind is given by its schema, never guessed from its values; an integer column
whose values do not fit int64 is written as its values' texts (a function of the values, so
still the same on both paths).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from engine.phases.common import IntArray

TEXT = "text"
INT = "int"
CODE = "code"
"""A text column of few distinct values: written as its distinct values sorted and each
row's rank among them (int32), so a column the same on every row of a block costs no text."""

LINES = (
    ("person_id", TEXT),
    ("plan_id", CODE),
    ("component_id", CODE),
    ("period_id", CODE),
    ("segment", INT),
    ("segment_start", CODE),
    ("segment_end", CODE),
    ("kind", CODE),
    ("earned_coefficient", INT),
    ("earned_exponent", INT),
    ("paid_before_coefficient", INT),
    ("paid_before_exponent", INT),
    ("amount_coefficient", INT),
    ("amount_exponent", INT),
    ("amount_minor", INT),
    ("currency", CODE),
    ("attainment", TEXT),
    ("tier", CODE),
)
"""A line's money is its Decimal's coefficient and exponent (``0`` and ``0.00`` differ; the
sign of a zero does not); the attainment is its normalized text; no tier is ``""``."""

TRACES = (
    ("person_id", TEXT),
    ("plan_id", CODE),
    ("component_id", CODE),
    ("segment", INT),
    ("rule", CODE),
    ("form", CODE),
)
"""Every trace; its ``form`` says which of the two tables below holds the rest of it."""

FIGURES = "figures"
"""A trace of a plain tier table: hashed by the figures it is rendered from
(:data:`TRACE_FIGURES`)."""
WORDS = "text"
"""Any other trace: hashed by its steps, inputs and sentence (:data:`TRACE_TEXTS`)."""

TRACE_FIGURES = (
    ("key", CODE),
    ("holder", TEXT),
    ("allocation", CODE),
    ("index", INT),
    ("start_day", INT),
    ("end_day", INT),
    ("factor_num", CODE),
    ("factor_den", CODE),
    ("quota_factor", CODE),
    ("ti_e4", INT),
    ("value_e4", INT),
    ("count", INT),
    ("quota_e4", TEXT),
    ("earned_minor", INT),
    ("paid_minor", INT),
)
"""The fields of :func:`engine.phases.reward.plain_figures` (``holder`` is its person, node
and role) and the settled minor units appended to them, in their order."""

TRACE_TEXTS = (("body", TEXT),)
"""``steps|inputs|sentence`` of a trace of the other form."""

MEASURES = (
    ("person_id", TEXT),
    ("plan_id", CODE),
    ("segment", INT),
    ("measure_id", CODE),
    ("value", TEXT),
)

BALANCES = (("person_id", TEXT), ("balance", TEXT))


@dataclass(frozen=True)
class Codes:
    """A text column as ``categories[codes]`` (categories in any order, possibly unused or
    repeated: :func:`digest` writes only the texts the rows use)."""

    categories: Sequence[str]
    codes: IntArray

    def __len__(self) -> int:
        return len(self.codes)

    @staticmethod
    def of(values: Sequence[Any] | np.ndarray) -> Codes:
        """Return a text column's codes (factorized)."""
        codes, uniques = pd.factorize(np.asarray(values, dtype=object))
        return Codes(uniques.tolist(), codes.astype(np.int64))

    @staticmethod
    def same(value: str, n: int) -> Codes:
        """Return a column of ``n`` rows of one text."""
        return Codes([value], np.zeros(n, dtype=np.int64))

    def texts(self) -> list[str]:
        """Return every row's text."""
        return np.asarray(self.categories, dtype=object)[self.codes].tolist()  # type: ignore[no-any-return]


Column = Sequence[Any] | np.ndarray | Codes
Table = list[Column]

FORMAT = b"quotient-result-2\n"


def canon(value: object) -> str:
    """Return a value's canonical text: a Decimal normalized, None empty, text as it is."""
    if isinstance(value, str):
        return value
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    if value is None:
        return ""
    return str(value)


def decimal_parts(values: Iterable[Decimal]) -> tuple[list[int], list[int]]:
    """Return the coefficients and exponents of Decimals (a zero's sign dropped)."""
    coefficients, exponents = [], []
    for d in values:
        sign, digits, exp = d.as_tuple()
        coefficient = int("".join(map(str, digits)))
        coefficients.append(-coefficient if sign else coefficient)
        exponents.append(int(exp))
    return coefficients, exponents


def _text_bytes(values: Sequence[str]) -> bytes:
    return "\x1f".join(values).encode("utf-8", "surrogatepass")


def _column_bytes(kind: str, values: Column) -> bytes:
    if kind == INT:
        assert not isinstance(values, Codes)
        try:
            return b"i" + np.asarray(values, dtype="<i8").tobytes()
        except OverflowError:
            return b"I" + _text_bytes(list(map(str, list(values))))
    if kind == CODE:
        got = values if isinstance(values, Codes) else Codes.of(values)
        used = np.flatnonzero(np.bincount(got.codes, minlength=len(got.categories)))
        texts = [got.categories[u] for u in used.tolist()]
        distinct = sorted(set(texts))
        rank = {t: i for i, t in enumerate(distinct)}
        lookup = np.zeros(len(got.categories), dtype="<i4")
        lookup[used] = [rank[t] for t in texts]
        body = _text_bytes(distinct)
        return b"c" + len(body).to_bytes(8, "little") + body + lookup[got.codes].tobytes()
    if isinstance(values, Codes):
        return b"s" + _text_bytes(values.texts())
    got_texts = values.tolist() if isinstance(values, np.ndarray) else values
    return b"s" + _text_bytes(got_texts)


def taken(table: Table, order: IntArray | None) -> Table:
    """Return the rows of ``table`` at positions ``order`` (all of them, as they are, for None)."""
    if order is None:
        return table
    out: Table = []
    for col in table:
        if isinstance(col, Codes):
            out.append(Codes(col.categories, col.codes[order]))
            continue
        out.append(_array(col, False)[order])
    return out


def _array(col: Column, ints: bool) -> np.ndarray:
    """Return a column as an array: int64 where every other part is integers, else objects."""
    assert not isinstance(col, Codes)
    if isinstance(col, np.ndarray):
        return col
    if ints:
        try:
            return np.asarray(col, dtype=np.int64)
        except OverflowError:
            pass
    arr = np.empty(len(col), dtype=object)
    arr[:] = col
    return arr


def joined(tables: Sequence[Table], width: int) -> Table:
    """Return the tables' rows one after another (each of ``width`` columns)."""
    if len(tables) == 1:
        return tables[0]
    out: Table = []
    for k in range(width):
        cols = [t[k] for t in tables]
        if any(isinstance(c, Codes) for c in cols):
            parts = [c if isinstance(c, Codes) else Codes.of(c) for c in cols]
            categories: list[str] = []
            codes = []
            for part in parts:
                codes.append(part.codes + len(categories))
                categories += part.categories
            out.append(Codes(categories, np.concatenate(codes)))
            continue
        arrays = [c for c in cols if isinstance(c, np.ndarray) and len(c)]
        ints = bool(arrays) and all(c.dtype.kind in "iu" for c in arrays)
        out.append(np.concatenate([_array(c, ints) for c in cols]))
    return out


def digest(
    tables: Sequence[tuple[str, tuple[tuple[str, str], ...], Table]],
) -> str:
    """Return the sha256 of ``(name, schema, columns)`` tables, in the order given."""
    h = hashlib.sha256(FORMAT)
    for name, schema, table in tables:
        if len(table) != len(schema):
            raise ValueError(f"table {name}: {len(table)} columns, its schema has {len(schema)}")
        n = len(table[0]) if table else 0
        h.update(f"{name}:{n}\n".encode())
        for (field, kind), col in zip(schema, table, strict=True):
            if len(col) != n:
                raise ValueError(f"table {name}: column {field} has {len(col)} rows, not {n}")
            data = _column_bytes(kind, col)
            h.update(len(data).to_bytes(8, "little"))
            h.update(data)
    return h.hexdigest()


def balance_table(balances: Mapping[str, Decimal]) -> Table:
    """Return the draw balances as :data:`BALANCES` columns, by person."""
    people = sorted(balances)
    return [people, [canon(balances[p]) for p in people]]
