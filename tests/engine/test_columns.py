"""The column-wise figures the engine hashes from integers: the same text as the Decimals.

The fast path writes its lines' money, and the measure phase its plain measures, from integer
columns without making the Decimals (docs/engine.md, "Fast path"); these texts must be the ones
the Decimals give, so the hash does not depend on which objects were built.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from engine.money import from_e4
from engine.phases.measure import MeasureRows, PlainColumns
from engine.phases.result import _canon, _e4_text, _e4_texts

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
EDGES = st.sampled_from([0, 1, -1, 5, -5, 9999, -9999, 10000, -10000, 15000, -15000, 10**8])


@given(st.one_of(INT64, EDGES))
def test_a_sums_text_is_its_decimals(v: int) -> None:
    assert _e4_text(v) == _canon(from_e4(v)) == _e4_texts([v])[0]


def _block() -> PlainColumns:
    return PlainColumns(
        sids=[0, 2],
        figures=(("bookings", [12345, 0, -10000], True), ("deals", [3, 0, 7], False)),
        counts=(("bookings", [3, 0, 7]), ("deals", [3, 0, 7])),
    )


def test_measure_rows_build_a_plain_segments_dict_when_read() -> None:
    rows = MeasureRows(3)
    rows.columns([0, 2], _block())
    assert rows.plain(0) is not None
    assert rows.plain(1) is None  # not a plain segment: its own (empty) dict
    assert rows[0] == {"bookings": Decimal("1.2345"), "deals": Decimal(3)}
    assert str(rows[2]["bookings"]) == "-1.0000"  # from_e4's exponent, as finish_measures
    assert rows.plain(0) is None  # built once, then kept
    assert rows[0] is rows[0]
    rows[1] = {"x": None}
    assert list(rows) == [rows[0], {"x": None}, rows[2]]
    assert rows == list(rows)
    assert rows[1:] == [{"x": None}, rows[2]]
    assert repr(rows) == repr(list(rows))


def test_measure_rows_of_counts() -> None:
    rows = MeasureRows(3)
    block = _block()
    rows.columns([0, 2], PlainColumns(block.sids, block.figures, block.counts, of_counts=True))
    assert rows[2] == {"bookings": 7, "deals": 7}
    assert rows[1] == {}


def test_person_keys_code_ids_by_their_text_in_pythons_order() -> None:
    # ints and texts of the same id are one person; "10" sorts before "9"; a final NUL is kept
    import pandas as pd

    from engine.phases.segments import _person_keys

    codes, texts = _person_keys(pd.Series([10, "9", "a\x00", "a"]), pd.Series(["10", 9, "a"]))
    assert codes.tolist() == [0, 1, 3, 2, 0, 1, 2]
    assert texts.tolist() == ["10", "9", "a\x00", "a"]
    codes, texts = _person_keys(pd.Series([10, 9]), pd.Series([9, 100]))
    assert codes.tolist() == [0, 2, 2, 1] and texts.tolist() == ["10", "9"]
