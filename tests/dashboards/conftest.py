"""Fixtures for the dashboards tests: the small Acme org and its plan."""

from __future__ import annotations

from tests.hierarchy.conftest import org, org_b  # noqa: F401 (fixtures)
from tests.plans.conftest import plan_a  # noqa: F401 (fixtures)
