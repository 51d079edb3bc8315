"""A run gathers each chunk's inputs once: its fetch phase stores them encoded
(payouts/chunk_inputs.py) and the later phases decode them, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest

from core.tenancy import tenant_scope
from engine import compute
from payouts import chunk_inputs, runs
from payouts import inputs as fetch
from payouts.models import RunChunk, RunPhase, RunStatus
from tests.payouts.rundata import add_team_lead, build_sales

pytestmark = pytest.mark.django_db


@pytest.fixture
def sales(tenant_a: Any) -> Any:
    with tenant_scope(tenant_a):
        got = build_sales(n_people=7, deals_per_person=4)
        add_team_lead(got)
        yield got


def _same_inputs(a: Any, b: Any) -> None:
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, pd.DataFrame):
            pd.testing.assert_frame_equal(x, y, check_exact=True)
            for column in x.columns:
                assert [type(v) for v in x[column]] == [type(v) for v in y[column]], (
                    f.name,
                    column,
                )
        else:
            assert x == y, f.name


def test_a_gathered_period_decodes_to_equal_inputs_and_the_same_result(sales):
    got = fetch.gather(period_id=sales.period.pk)
    assert not got.problems
    back = chunk_inputs.decode(chunk_inputs.encode(got.inputs), got.inputs.plans)
    _same_inputs(got.inputs, back)
    assert compute(back).result_hash == compute(got.inputs).result_hash


def test_every_column_kind_comes_back_exactly(sales):
    got = fetch.gather(period_id=sales.period.pk).inputs
    frame = pd.DataFrame(
        {
            "text": ["a", "b\tc", None],
            "money": [Decimal("0.50"), None, Decimal("-1E+2")],
            "day": [dt.date(2026, 1, 1), None, dt.date(2026, 2, 28)],
            "mixed": ["x", Decimal("1.0"), 3],
            "count": np.array([1, 2, 3], dtype=np.int64),
            "flag": [True, False, True],
            "maybe": pd.array([1, None, 3], dtype="Int64"),
            "kind": pd.Categorical(["deal", "meeting", "deal"]),
        },
        index=pd.Index([5, 9, 11], dtype=np.int64),
    )
    inputs = dataclasses.replace(got, credits=frame)
    back = chunk_inputs.decode(chunk_inputs.encode(inputs), inputs.plans)
    _same_inputs(inputs, back)


def test_a_value_it_does_not_know_is_refused_not_guessed(sales):
    got = fetch.gather(period_id=sales.period.pk).inputs
    odd = pd.DataFrame({"x": pd.Series([{1, 2}], dtype=object)})
    with pytest.raises(chunk_inputs.EncodeError):
        chunk_inputs.encode(dataclasses.replace(got, credits=odd))


def _run(period_id: int, monkeypatch: Any) -> tuple[Any, int]:
    """A run in chunks of three whose every chunk runs as if on a worker that never saw the
    chunk before (its kept inputs forgotten); returns the run and how many gathers it made."""
    calls = []
    gather = fetch.gather
    compute_chunk = runs._compute_and_store

    def counted(**kwargs: Any) -> Any:
        calls.append(kwargs.get("person_ids"))
        return gather(**kwargs)

    def elsewhere(chunk: Any) -> str:
        runs._inputs_cache.clear()
        return compute_chunk(chunk)

    monkeypatch.setattr(fetch, "gather", counted)
    monkeypatch.setattr(runs, "_compute_and_store", elsewhere)
    run = runs.run_execute(
        run_id=runs.run_start(period_id=period_id, trigger="api", user_id=None, chunk_size=3).pk
    )
    monkeypatch.undo()
    return run, len(calls)


def test_a_run_gathers_each_chunk_once_and_drops_the_stored_inputs_when_done(sales, monkeypatch):
    # given eight people in chunks of three, each chunk computed by a "fresh" worker
    run, gathers = _run(sales.period.pk, monkeypatch)
    assert run.status == RunStatus.SUCCEEDED, (run.reason, run.problems)
    chunks = RunChunk.objects.filter(run=run, phase=RunPhase.FETCH).count()
    assert chunks == 3
    # then each chunk was gathered once, by its fetch phase
    assert gathers == chunks
    # and the stored inputs are gone once the run succeeded
    assert not RunChunk.objects.filter(run=run, inputs__isnull=False).exists()


def test_without_stored_inputs_the_phases_gather_again_and_pay_the_same(sales, monkeypatch):
    stored, _ = _run(sales.period.pk, monkeypatch)

    def refuse(inputs: Any) -> bytes:
        raise chunk_inputs.EncodeError("not today")

    monkeypatch.setattr(chunk_inputs, "encode", refuse)
    again, gathers = _run(sales.period.pk, monkeypatch)
    assert again.status == RunStatus.SUCCEEDED, again.reason
    assert gathers > 3  # every phase gathered its chunk again
    assert again.result_hash == stored.result_hash
