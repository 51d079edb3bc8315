"""The phases' tables: their schemas, and a serialisable form to write and read them back.

Contract:

* Every phase output of a chunked run (:mod:`engine.phases.chunks`) is a pandas DataFrame of
  plain columns whose names and kinds :data:`SCHEMAS` lists (docs/engine.md, "Phase tables"):
  ``text`` (str), ``int`` (int64), ``decimal`` (an exact Decimal as its text - ``"0.50"``
  stays ``"0.50"``; money is never a float), ``json`` (a JSON text: steps, input ids), ``id``
  (a person, credit or transaction id as given: int or str) and ``bool``. A ``?`` after the
  kind means the value may be None.
* :func:`frame` builds a table from its columns; :func:`to_records` / :func:`from_records`
  turn one into JSON-safe records and back, :func:`to_columns` / :func:`from_columns` into
  JSON-safe columns and back, :func:`dumps` / :func:`loads` a mapping of tables into one
  JSON text (columns) and back. Reading checks every column and value and refuses a
  bad one with the table, row and column in the message (:class:`TableError`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import numpy as np
import pandas as pd

from engine.phases.common import InputError

Schema = Mapping[str, str]

_REWARDS: Final[Schema] = {
    "person_id": "text",
    "plan_id": "text",
    "segment": "int",
    "component_id": "text",
    "earned": "decimal",
    "held": "decimal",
    "attainment": "decimal?",
    "tier": "int?",
    "steps": "json",
    "inputs": "json",
    "text": "text",
    "figures": "text?",
}

SCHEMAS: Final[Mapping[str, Schema]] = {
    "segments": {
        "person": "id",
        "person_id": "text",
        "plan_id": "text",
        "segment": "int",
        "start_day": "int",
        "end_day": "int",
        "node_id": "text",
        "role": "text",
        "allocation": "decimal",
        "factor": "decimal",
        "factor_num": "decimal",
        "factor_den": "decimal",
        "target_incentive_full": "decimal",
        "target_incentive": "decimal",
        "quota_factor": "decimal",
        "ramp_period": "int?",
        "ti_e4": "int",
    },
    "requests": {"scope": "text", "holder": "text", "plan_id": "text", "measure_id": "text"},
    "measures": {
        "person_id": "text",
        "plan_id": "text",
        "segment": "int",
        "measure_id": "text",
        "position": "int",
        "value": "decimal?",
        "sum_e4": "int?",
        "count": "int?",
        "steps": "json?",
        "sentence": "text?",
    },
    "contributions": {
        "person_id": "id",
        "plan_id": "text",
        "segment": "int",
        "measure_id": "text",
        "credit_id": "id",
        "transaction_id": "id",
        "amount_e4": "int",
    },
    "partials": {
        "scope": "text",
        "holder": "text",
        "plan_id": "text",
        "measure_id": "text",
        "sum_e4": "int",
        "count": "int",
    },
    "holders": {
        "scope": "text",
        "holder": "text",
        "measure_id": "text",
        "value": "decimal?",
        "quota": "decimal?",
    },
    "pools": {
        "plan_id": "text",
        "component_id": "text",
        "person_id": "text",
        "segment": "int",
        "amount": "decimal",
        "steps": "json",
        "text": "text",
        "inputs": "json",
    },
    "rewards": _REWARDS,
    "earned": {
        "person_id": "text",
        "plan_id": "text",
        "component_id": "text",
        "segment": "int",
        "node_id": "text",
        "earned": "decimal",
        "currency": "text",
    },
    "lines": {
        "person_id": "text",
        "plan_id": "text",
        "component_id": "text",
        "period_id": "text",
        "segment": "int",
        "segment_start": "text",
        "segment_end": "text",
        "kind": "text",
        "earned": "decimal",
        "paid_before": "decimal",
        "amount": "decimal",
        "amount_minor": "int",
        "currency": "text",
        "attainment": "decimal?",
        "tier": "int?",
    },
    "traces": {
        "person_id": "text",
        "plan_id": "text",
        "component_id": "text",
        "period_id": "text",
        "segment": "int",
        "rule": "text",
        "steps": "json",
        "inputs": "json",
        "text": "text",
        "figures": "text?",
    },
    "balances": {"person_id": "text", "balance": "decimal"},
    "depends": _REWARDS,
}
"""Each table's columns and their kinds; ``depends`` (the dependency phase's rewards, pay on
others' pay) is shaped like ``rewards``."""


class TableError(InputError):
    """A table read back does not match its schema (the message names table, row, column)."""


def frame(name: str, columns: Mapping[str, Sequence[Any]]) -> pd.DataFrame:
    """Return table ``name`` from its column values (int columns as int64, the rest objects)."""
    schema = SCHEMAS[name]
    if set(columns) != set(schema):
        raise TableError(f"{name}: columns {sorted(columns)} are not {sorted(schema)}")
    data: dict[str, Any] = {}
    for column, kind in schema.items():
        values = columns[column]
        if kind == "int":
            data[column] = np.fromiter(values, dtype=np.int64, count=len(values))
        else:
            data[column] = np.empty(len(values), dtype=object)
            data[column][:] = values
    return pd.DataFrame(data, columns=list(schema), copy=False)


def to_records(name: str, table: pd.DataFrame) -> list[dict[str, Any]]:
    """Return table ``name`` as JSON-safe records (str, int, bool or None values)."""
    schema = SCHEMAS[name]
    columns = {c: _plain(table[c].tolist()) for c in schema}
    return [dict(zip(schema, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def _plain(values: list[Any]) -> list[Any]:
    return [v.item() if isinstance(v, np.generic) else v for v in values]


def from_records(name: str, records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Return table ``name`` read back from its records, every value checked."""
    schema = SCHEMAS[name]
    for i, rec in enumerate(records):
        _same_columns(f"{name} row {i}", schema, rec)
    return from_columns(name, {c: [rec[c] for rec in records] for c in schema})


def to_columns(name: str, table: pd.DataFrame) -> dict[str, list[Any]]:
    """Return table ``name`` as JSON-safe columns: ``{column: [values...]}``."""
    return {c: _plain(table[c].tolist()) for c in SCHEMAS[name]}


def from_columns(name: str, columns: Mapping[str, Sequence[Any]]) -> pd.DataFrame:
    """Return table ``name`` read back from its columns, every value checked."""
    schema = SCHEMAS[name]
    _same_columns(name, schema, columns)
    sizes = {len(columns[c]) for c in schema}
    if len(sizes) > 1:
        raise TableError(f"{name}: columns of different lengths {sorted(sizes)}")
    for column, kind in schema.items():
        _check(name, column, kind, columns[column])
    return frame(name, columns)


def _same_columns(where: str, schema: Schema, got: Mapping[str, Any]) -> None:
    """Raise, naming ``where``, unless ``got`` has exactly the schema's columns."""
    missing = [c for c in schema if c not in got]
    extra = [str(c) for c in got if c not in schema]
    problems = [f"missing column(s) {', '.join(missing)}"] if missing else []
    problems += [f"unknown column(s) {', '.join(extra)}"] if extra else []
    if problems:
        raise TableError(f"{where}: {'; '.join(problems)}")


def _check(name: str, column: str, kind: str, values: Sequence[Any]) -> None:
    """Raise, naming table, row and column, unless every value is of ``kind``."""
    ok, optional = _KINDS[kind.rstrip("?")], kind.endswith("?")
    for row, value in enumerate(values):
        if not (ok(value) or (optional and value is None)):
            raise TableError(f"{name} row {row} column {column}: {value!r} is not {kind}")


def _is_decimal(text: str) -> bool:
    try:
        return Decimal(text).is_finite()
    except InvalidOperation:
        return False


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


_KINDS: Final[Mapping[str, Callable[[Any], bool]]] = {
    "int": lambda v: type(v) is int,  # a bool is not an int here
    "bool": lambda v: type(v) is bool,
    "id": lambda v: type(v) in (int, str),
    "text": lambda v: type(v) is str,
    "decimal": lambda v: type(v) is str and _is_decimal(v),
    "json": lambda v: type(v) is str and _is_json(v),
}


def dumps(tables: Mapping[str, pd.DataFrame]) -> str:
    """Return named tables as one JSON text: ``{"<name>": {"<column>": [values...]}}``."""
    return json.dumps({name: to_columns(name, t) for name, t in tables.items()}, sort_keys=True)


def loads(text: str) -> dict[str, pd.DataFrame]:
    """Return the tables of a :func:`dumps` text, every table checked against its schema."""
    data = json.loads(text)
    if not isinstance(data, dict):
        raise TableError("tables: not a JSON object of tables")
    out: dict[str, pd.DataFrame] = {}
    for name, records in data.items():
        if name not in SCHEMAS:
            raise TableError(f"tables: unknown table {name!r}")
        if not isinstance(records, dict) or not all(isinstance(v, list) for v in records.values()):
            raise TableError(f"{name}: not an object of columns")
        out[name] = from_columns(name, records)
    return out
