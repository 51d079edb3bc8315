"""COPY text rendering (core.db.copy_text): what PostgreSQL's text format reads back."""

import datetime as dt
from decimal import Decimal

from core.db import copy_text, copy_text_column


def test_repeated_dates_and_nulls_render_like_single_values():
    days = [dt.date(2026, 1, 2), None, dt.date(2026, 1, 2), dt.date(2025, 12, 31)] * 5
    assert copy_text_column(days) == ["2026-01-02", "\\N", "2026-01-02", "2025-12-31"] * 5


def test_equal_decimals_keep_their_own_scale():
    # Decimal("1.0") == Decimal("1.00"): rendering them once each would lose a scale
    values = [Decimal("1.0"), Decimal("1.00"), Decimal("1")] * 4
    assert copy_text_column(values) == ["1.0", "1.00", "1"] * 4


def test_flags_and_escapes():
    assert copy_text_column([True, False, None, True] * 3) == ["t", "f", "\\N", "t"] * 3
    assert copy_text_column(["a\tb", "a\tb", "c", "c", "c", "c", "c", "c"])[:3] == [
        "a\\tb",
        "a\\tb",
        "c",
    ]


def test_rows_from_columns():
    text = copy_text([[1, 2], ["x", None], [dt.date(2026, 3, 1)] * 2])
    assert text == "1\tx\t2026-03-01\n2\t\\N\t2026-03-01\n"
