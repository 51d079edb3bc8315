"""Fixtures for the payouts tests: the small Acme org of tests/hierarchy and its plans."""

from __future__ import annotations

import pytest

from tests.hierarchy.conftest import org, org_b  # noqa: F401 (fixtures)
from tests.payouts.written_runs import Written, hand_written_run
from tests.plans.conftest import plan_a  # noqa: F401 (fixtures)


@pytest.fixture
def written(org, plan_a) -> Written:  # noqa: F811 (the fixtures above)
    """Q1 2026's hand-written run (tests/payouts/written_runs.py): no engine involved."""
    return hand_written_run(org, plan_a)
