"""The app's PostgreSQL sessions have a statement_timeout (hole 9 of issue #8): a slow query had
outlived its killed request by minutes."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection

pytestmark = pytest.mark.needs_pg


def _show(cursor) -> str:
    cursor.execute("SHOW statement_timeout")
    return cursor.fetchone()[0]


def test_the_app_connection_runs_with_the_configured_statement_timeout(db):
    assert settings.DATABASE_STATEMENT_TIMEOUT == 30
    with connection.cursor() as cursor:
        assert _show(cursor) == "30s"
        cursor.execute("SELECT current_user")
        assert cursor.fetchone()[0] == settings.DATABASE_APP["USER"]


def test_db_bootstrap_made_it_the_app_roles_default_too(db):
    # `make db` ran db_bootstrap: sessions that pass no options (psql, a shell) have it as well
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT setconfig FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole "
            "WHERE r.rolname = current_user AND s.setdatabase = 0"
        )
        row = cursor.fetchone()
    assert row is not None and "statement_timeout=30000" in row[0]


def test_the_schema_owner_has_no_statement_timeout_for_migrations():
    owner = settings.DATABASE_OWNER
    assert owner["OPTIONS"]["options"] == "-c statement_timeout=0"
    assert settings.DATABASE_APP["OPTIONS"]["options"] == "-c statement_timeout=30000"


def test_a_worker_allows_its_statements_the_tasks_time_limit():
    from config.celery import _statement_timeout_of_tasks

    db = settings.DATABASES["default"]
    before = dict(db["OPTIONS"])
    try:
        _statement_timeout_of_tasks()
        expected = f"-c statement_timeout={settings.CELERY_TASK_TIME_LIMIT * 1000}"
        assert db["OPTIONS"]["options"] == expected
        assert connection.settings_dict["OPTIONS"]["options"] == expected
    finally:
        db["OPTIONS"] = before
        connection.close()
        connection.settings_dict["OPTIONS"] = before
