"""Shared fixtures: two tenants in the healthchecks style, database roles, needs_* markers.

Tenant A has Alice (tenant admin) and Bob (employee); tenant B has Charlie (tenant admin).
On PostgreSQL the test database is created and migrated as the owner role
(DATABASE_OWNER_URL), then every test runs as the application role (DATABASE_URL), so RLS and
grants are exercised exactly as in production.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection

from core.management.base import use_app_role, use_owner_role
from core.models import Role, Tenant
from core.tenancy import tenant_scope
from tests.factories.hierarchy import MembershipFactory, TenantFactory, UserFactory

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# --- database roles -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> None:
    """Create and migrate the test database as the owner role."""
    use_owner_role()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """Run every test as the application role; switch back to the owner to drop the database."""
    with django_db_blocker.unblock():
        use_app_role()
    yield
    with django_db_blocker.unblock():
        use_owner_role()


# --- needs_* markers ----------------------------------------------------------------------------


def _missing(marker: str) -> str | None:
    """Return why a `needs_*` marker's requirement is not met here, or None when it is."""
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"]
    if marker == "needs_pg" and engine != "django.db.backends.postgresql":
        return "needs PostgreSQL: set DATABASE_URL (and DATABASE_OWNER_URL) to postgres:// URLs"
    if marker == "needs_worker":
        if not settings.REDIS_URL:
            return "needs Redis and a Celery worker: set REDIS_URL"
        if engine != "django.db.backends.postgresql":
            return "needs a real worker, which needs a shared database: set DATABASE_URL"
    if marker == "needs_browser" and not shutil.which("chromium"):
        return "needs Chromium: apt-get install chromium"
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker in ("needs_pg", "needs_worker", "needs_browser"):
        if item.get_closest_marker(marker) is None:
            continue
        reason = _missing(marker)
        if reason is None:
            continue
        if IN_CI:
            pytest.fail(f"CI must not skip {marker} tests: {reason}", pytrace=False)
        pytest.skip(reason)


# --- the cast -----------------------------------------------------------------------------------


@pytest.fixture
def tenant_a(db: None) -> Tenant:
    return TenantFactory(slug="acme", name="Acme Corp")


@pytest.fixture
def tenant_b(db: None) -> Tenant:
    return TenantFactory(slug="globex", name="Globex", default_currency="EUR")


@pytest.fixture
def alice(tenant_a: Tenant) -> Any:
    user = UserFactory(email="alice@acme.test", first_name="Alice")
    MembershipFactory(
        user=user, tenant=tenant_a, roles=[Role.TENANT_ADMIN, Role.COMP_ADMIN, Role.FINANCE]
    )
    return user


@pytest.fixture
def bob(tenant_a: Tenant) -> Any:
    user = UserFactory(email="bob@acme.test", first_name="Bob")
    MembershipFactory(user=user, tenant=tenant_a, roles=[Role.EMPLOYEE])
    return user


@pytest.fixture
def charlie(tenant_b: Tenant) -> Any:
    user = UserFactory(email="charlie@globex.test", first_name="Charlie")
    MembershipFactory(
        user=user, tenant=tenant_b, roles=[Role.TENANT_ADMIN, Role.COMP_ADMIN, Role.FINANCE]
    )
    return user


@pytest.fixture
def client_alice(client: Any, alice: Any) -> Any:
    client.force_login(alice)
    return client


@pytest.fixture
def client_charlie(alice: Any, charlie: Any) -> Any:
    from django.test import Client

    other = Client()
    other.force_login(charlie)
    return other


@pytest.fixture
def in_tenant_a(tenant_a: Tenant) -> Iterator[Tenant]:
    with tenant_scope(tenant_a):
        yield tenant_a


def db_vendor() -> str:
    return connection.vendor
