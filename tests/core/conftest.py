"""Foundation tests reuse the incentive-data org (people, org, periods, rules in tenant A)."""

from __future__ import annotations

from tests.incentives.conftest import org  # noqa: F401 (a fixture, used by name)
