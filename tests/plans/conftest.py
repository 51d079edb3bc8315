"""Fixtures for the plans tests: the small Acme org of tests/hierarchy and a comp admin's access."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from core.models import Role
from core.permissions import ROLE_PERMISSIONS, Principal
from core.tenancy import tenant_scope
from hierarchy.access import access_for
from plans import services
from tests.hierarchy.conftest import org, org_b  # noqa: F401 (fixtures)

D = date


def comp_admin_access(user_id: int | None = None) -> Any:
    """Return the access policy of a tenant-wide comp admin (call inside a tenant scope)."""
    principal = Principal(permissions=ROLE_PERMISSIONS[Role.COMP_ADMIN], user_id=user_id)
    return access_for(principal, today=D(2026, 1, 1))


@pytest.fixture
def plan_a(tenant_a: Any, alice: Any) -> Any:
    """A Sales AE plan in tenant A with version 1 published from 2026-01-01."""
    with tenant_scope(tenant_a):
        plan = services.plan_create(
            code="sales-ae",
            name="Sales AE",
            template="sales_ae",
            user_id=alice.pk,
            valid_from=D(2026, 1, 1),
        )
        version = plan.versions.get()
        services.plan_version_publish(version_id=version.pk, user_id=alice.pk)
        return plan
