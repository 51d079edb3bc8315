"""The result hash, format 2 (engine.phases.digest): tables hashed column by column.

What must hold: every field of a line, trace and measure moves the hash; a column's bytes
depend on its values only (a list, an array or dictionary codes give the same hash); the
general path's figures text parses into the fast path's columns, ids with "|" included.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest

from engine import compute
from engine.phases.digest import (
    CODE,
    INT,
    TEXT,
    Codes,
    decimal_parts,
    digest,
    joined,
    taken,
)
from engine.phases.result import _figure_fields, line_table, result_hash
from engine.types import PayoutLine
from tests.engine.test_fast_path import random_inputs

SCHEMA = (("name", TEXT), ("n", INT), ("kind", CODE))


def _hash(table: list[Any]) -> str:
    return digest([("t", SCHEMA, table)])


def test_a_columns_bytes_depend_on_its_values_not_on_how_they_are_held() -> None:
    names, ns, kinds = ["b", "a", "b|c"], [3, -1, 2**40], ["x", "y", "x"]
    plain = _hash([names, ns, kinds])
    as_arrays = _hash(
        [
            np.asarray(names, dtype=object),
            np.asarray(ns),
            Codes(["y", "x", "x"], np.array([1, 0, 2])),
        ]
    )
    assert plain == as_arrays
    assert _hash([Codes.of(names), ns, kinds]) == plain  # a text column held as codes


@pytest.mark.parametrize(
    "other",
    [
        [["b", "a", "b|d"], [3, -1, 2**40], ["x", "y", "x"]],  # a text
        [["b", "a", "b|c"], [3, -1, 2**40 + 1], ["x", "y", "x"]],  # an integer
        [["b", "a", "b|c"], [3, -1, 2**40], ["x", "y", "y"]],  # a code
        [["a", "b", "b|c"], [-1, 3, 2**40], ["y", "x", "x"]],  # the order of rows
        [["b", "a"], [3, -1], ["x", "y"]],  # a row fewer
    ],
)
def test_every_value_and_the_order_of_rows_move_the_hash(other: list[Any]) -> None:
    assert _hash(other) != _hash([["b", "a", "b|c"], [3, -1, 2**40], ["x", "y", "x"]])


def test_text_joins_cannot_be_shifted_between_rows_or_columns() -> None:
    assert _hash([["a", "b"], [1, 2], ["x", "x"]]) != _hash([["a\x1fb", ""], [1, 2], ["x", "x"]])
    one = digest([("t", (("a", TEXT), ("b", TEXT)), [["ab"], [""]])])
    assert one != digest([("t", (("a", TEXT), ("b", TEXT)), [["a"], ["b"]])])


def test_integers_beyond_int64_are_written_exactly() -> None:
    big = [2**70, 1]
    assert _hash([["a", "b"], big, ["x", "x"]]) != _hash([["a", "b"], [2**70 + 1, 1], ["x", "x"]])


def test_a_decimal_is_its_coefficient_and_exponent() -> None:
    got = decimal_parts(
        [Decimal("12.30"), Decimal("0"), Decimal("0.00"), Decimal("-0.00"), Decimal("-4.5")]
    )
    assert got == ([1230, 0, 0, 0, -45], [-2, 0, -2, -2, -1])


def test_joined_and_taken_keep_rows_whole() -> None:
    a: list[Any] = [["p1", "p2"], np.array([1, 2]), Codes.same("x", 2)]
    b: list[Any] = [("p3",), [7], ["y"]]
    both = taken(joined([a, b], 3), np.array([2, 0, 1]))
    assert _hash(both) == _hash([["p3", "p1", "p2"], [7, 1, 2], ["y", "x", "x"]])


def test_the_general_figures_text_parses_into_the_columns_even_with_bars_in_ids() -> None:
    text = "0123abcd|ann|na|me|node|1|0.5|0|0|31|17|31|1|123400|5600000|3|1000000|4500|0"
    got = _figure_fields(text)
    assert got[:3] == ["0123abcd", "ann|na|me|node|1", "0.5"]
    assert got[3:6] == [0, 0, 31] and got[-2:] == [4500, 0] and got[-3] == "1000000"
    with pytest.raises(ValueError, match="fields"):
        _figure_fields("0123abcd|ann|1|2")


def _line(**change: Any) -> PayoutLine:
    base = PayoutLine(
        "p1",
        "plan",
        "c1",
        "2025-01",
        0,
        dt.date(2025, 1, 1),
        dt.date(2025, 1, 31),
        "earned",
        Decimal("10.00"),
        Decimal("0"),
        Decimal("10.00"),
        1000,
        "USD",
        Decimal("0.5"),
        1,
    )
    return dataclasses.replace(base, **change)


@pytest.mark.parametrize(
    "change",
    [
        {"person_id": "p2"},
        {"component_id": "c2"},
        {"segment": 1},
        {"segment_end": dt.date(2025, 1, 30)},
        {"kind": "hold"},
        {"earned": Decimal("10.01")},
        {"paid_before": Decimal("0.00")},  # 0 and 0.00 are told apart
        {"amount_minor": 1001},
        {"currency": "EUR"},
        {"attainment": None},
        {"tier": None},
    ],
)
def test_every_field_of_a_line_moves_the_hash(change: dict[str, Any]) -> None:
    empty = pd.DataFrame(columns=["person_id", "plan_id", "segment", "measure_id", "value"])
    one = result_hash([_line()], [], empty, {})
    assert result_hash([_line(**change)], [], empty, {}) != one


def test_line_columns_from_objects_match_the_fast_paths_columns() -> None:
    # the same run's lines, hashed from the objects and from the columns, agree field by field
    inputs = random_inputs(random.Random(44), people=10, deals=80, plan_ids=["p", "q"])
    result = compute(inputs)
    assert any(t.source is not None for t in result.traces), "the fast path was taken"
    again = result_hash(result.lines, result.traces, result.measures, result.draw_balances)
    assert again == result.result_hash
    table = line_table(result.lines)
    assert len(table) == 18 and len(table[0]) == len(result.lines)


def test_a_measure_value_moves_the_hash() -> None:
    inputs = random_inputs(random.Random(45), people=6, deals=40, plan_ids=["p"])
    result = compute(inputs)
    frame = result.measures.copy()
    base = result_hash(result.lines, result.traces, frame, result.draw_balances)
    assert base == result.result_hash
    values = frame["value"].tolist()
    values[0] = Decimal(values[0] or 0) + 1
    frame["value"] = values
    assert result_hash(result.lines, result.traces, frame, result.draw_balances) != base
