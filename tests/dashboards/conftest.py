"""Fixtures for the dashboards tests: the small Acme org, its plan and a hand-written run
(tests/payouts/written_runs.py)."""

from __future__ import annotations

from tests.payouts.conftest import (  # noqa: F401 (fixtures)
    org,
    org_b,
    plan_a,
    written,
)
