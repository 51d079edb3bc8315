"""payouts.chunk_tables: a run's stored chunk outputs, table by table (no database needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.phases.tables import SCHEMAS, TableError, dumps
from payouts import chunk_tables


def _partials(**overrides: object) -> pd.DataFrame:
    columns: dict[str, object] = {
        "scope": ["person", "node"],
        "holder": ["7", "n1"],
        "plan_id": ["p", "p"],
        "measure_id": ["m", "m"],
        "sum_e4": np.array([10_000, -25], dtype=np.int64),
        "count": np.array([1, 2], dtype=np.int64),
    }
    columns.update(overrides)
    return pd.DataFrame(columns, columns=list(SCHEMAS["partials"]))


def _contributions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "person_id": [7, "x\t8"],
            "plan_id": ["p", "p"],
            "segment": np.array([0, 1], dtype=np.int64),
            "measure_id": ["m", "m"],
            "credit_id": [np.int64(11), "rollup:3"],
            "transaction_id": [12, "rollup:3"],
            "amount_e4": np.array([5, 6], dtype=np.int64),
        }
    )


def _same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert list(got.columns) == list(want.columns)
    for column in want.columns:
        assert got[column].dtype == want[column].dtype, column
        assert [(type(v), v) for v in got[column].tolist()] == [
            (type(v), v) for v in want[column].tolist()
        ], column


def test_tables_round_trip_with_their_types():
    tables = {"partials": _partials(), "contributions": _contributions()}
    head, got = chunk_tables.decode(chunk_tables.encode({"a": 1}, tables))
    assert head == {"a": 1}
    assert got["partials"]["sum_e4"].dtype == np.int64
    assert got["contributions"]["credit_id"].tolist() == [11, "rollup:3"]
    assert type(got["contributions"]["credit_id"].tolist()[0]) is int  # the numpy scalar too


def test_the_kept_tables_equal_what_a_reader_decodes():
    tables = {"partials": _partials(), "contributions": _contributions()}
    raw, head, kept = chunk_tables.encode_kept({"b": [1, "2"]}, tables)
    read_head, read = chunk_tables.decode(raw)
    assert head == read_head == {"b": [1, "2"]}
    assert set(kept) == set(read)
    for name in tables:
        _same(kept[name], read[name])
    # kept from the values written, never a view of the writer's table
    tables["partials"].loc[0, "sum_e4"] = 99
    assert kept["partials"]["sum_e4"].tolist() == [10_000, -25]


def test_an_int_column_refuses_floats_rather_than_truncating_them():
    with pytest.raises(TableError, match="sum_e4"):
        chunk_tables.encode({}, {"partials": _partials(sum_e4=[1.5, 2.0])})
    with pytest.raises(TableError, match="count"):
        chunk_tables.encode({}, {"partials": _partials(count=pd.Series([1, 2.5], dtype=object))})
    with pytest.raises(TableError, match="count"):
        chunk_tables.encode({}, {"partials": _partials(count=[True, False])})
    with pytest.raises(TableError, match="count"):
        chunk_tables.encode({}, {"partials": _partials(count=["1", "2"])})
    # integers held as objects are fine, and an empty table of any dtype
    ok = chunk_tables.encode({}, {"partials": _partials(count=pd.Series([1, 2], dtype=object))})
    assert chunk_tables.decode(ok)[1]["partials"]["count"].tolist() == [1, 2]
    empty = pd.DataFrame({c: pd.Series([], dtype=float) for c in SCHEMAS["partials"]})
    assert (
        len(chunk_tables.decode(chunk_tables.encode({}, {"partials": empty}))[1]["partials"]) == 0
    )


@pytest.mark.parametrize(
    ("column", "values"),
    [
        ("holder", [7, "n1"]),  # text holds str only
        ("holder", [None, "n1"]),  # not nullable
        ("scope", [1.0, "node"]),
    ],
)
def test_value_types_are_checked_before_anything_is_written(column, values):
    with pytest.raises(TableError, match=column):
        chunk_tables.encode({}, {"partials": _partials(**{column: values})})


def test_a_decimal_object_is_refused_in_a_decimal_column():
    from decimal import Decimal

    holders = pd.DataFrame(
        {
            "scope": ["person"],
            "holder": ["7"],
            "measure_id": ["m"],
            "value": [Decimal("1.50")],
            "quota": [None],
        }
    )
    with pytest.raises(TableError, match="value"):
        chunk_tables.encode({}, {"holders": holders})
    holders["value"] = ["1.50"]
    got = chunk_tables.decode(chunk_tables.encode({}, {"holders": holders}))[1]["holders"]
    assert got["value"].tolist() == ["1.50"] and got["quota"].tolist() == [None]


def test_missing_columns_and_unknown_tables_are_refused():
    with pytest.raises(TableError, match="count"):
        chunk_tables.encode({}, {"partials": _partials().drop(columns=["count"])})
    with pytest.raises(TableError, match="nope"):
        chunk_tables.encode({}, {"nope": _partials()})


def test_a_copy_of_the_tables_holds_the_data_not_placeholders():
    _, tables = chunk_tables.decode(chunk_tables.encode({}, {"partials": _partials()}))
    assert isinstance(tables, chunk_tables.Tables)
    for copied in (tables.copy(), dict(tables), {**tables}, dict(tables.items())):
        assert isinstance(copied["partials"], pd.DataFrame)
        _same(copied["partials"], tables["partials"])
    assert isinstance(tables.get("partials"), pd.DataFrame)
    assert tables.get("rewards") is None


def test_a_table_is_decoded_when_first_read_and_then_kept():
    _, tables = chunk_tables.decode(
        chunk_tables.encode({}, {"partials": _partials(), "contributions": _contributions()})
    )
    first = tables["partials"]
    assert tables["partials"] is first


def test_the_earlier_one_text_format_is_still_read():
    import zlib

    raw = zlib.compress(b'{"m": 1}\n' + dumps({"partials": _partials()}).encode())
    head, tables = chunk_tables.decode(raw)
    assert head == {"m": 1}
    assert tables["partials"]["sum_e4"].tolist() == [10_000, -25]


def test_nothing_stored_is_an_empty_output():
    assert chunk_tables.decode(None) == ({}, {})
