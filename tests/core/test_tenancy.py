"""Tenancy fails closed: ORM scoping, row-level security, roles, and connection hygiene."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from core.audit import audit_record
from core.models import AuditEvent, IdempotencyRecord
from core.tenancy import (
    NoTenantError,
    dangerously_unscoped,
    get_current_tenant,
    tenant_models,
    tenant_scope,
)


def _events(tenant, n):
    with tenant_scope(tenant):
        for i in range(n):
            audit_record(action="test.event", object_type="test", object_id=str(i))


def test_a_query_on_a_tenant_model_with_no_active_tenant_raises(db):
    with pytest.raises(NoTenantError):
        list(AuditEvent.objects.all())
    with pytest.raises(NoTenantError):
        AuditEvent.objects.count()
    with pytest.raises(NoTenantError):
        get_current_tenant()


def test_the_orm_returns_only_the_current_tenants_rows(tenant_a, tenant_b):
    # given
    _events(tenant_a, 3)
    _events(tenant_b, 2)
    # then
    with tenant_scope(tenant_a):
        assert AuditEvent.objects.count() == 3
        assert set(AuditEvent.objects.values_list("tenant_id", flat=True)) == {tenant_a.pk}
    with tenant_scope(tenant_b):
        assert AuditEvent.objects.count() == 2


def test_saving_another_tenants_object_inside_a_scope_is_refused(tenant_a, tenant_b):
    with tenant_scope(tenant_b):
        record = IdempotencyRecord(
            principal="p",
            key="k",
            method="POST",
            path="/",
            request_hash="h",
            response_status=201,
            created_at="2026-01-01T00:00:00Z",
        )
        record.save()
    with tenant_scope(tenant_a), pytest.raises(NoTenantError):
        record.save()


def test_every_tenant_models_unique_constraints_and_indexes_start_with_tenant():
    for model in tenant_models():
        for constraint in model._meta.constraints:
            fields = list(getattr(constraint, "fields", ()) or ())
            if fields:
                assert fields[0] == "tenant", f"{model.__name__}.{constraint.name}: {fields}"
        for index in model._meta.indexes:
            assert index.fields[0] == "tenant", f"{model.__name__}.{index.name}"
        for field in model._meta.fields:
            assert not (field.unique and field.name not in {"id"}), (
                f"{model.__name__}.{field.name} is unique across tenants"
            )


def test_audit_events_are_append_only_in_the_database(tenant_a):
    _events(tenant_a, 1)
    with tenant_scope(tenant_a):
        event = AuditEvent.objects.get()
        with pytest.raises(DatabaseError), transaction.atomic():
            AuditEvent.objects.filter(pk=event.pk).update(action="tampered")
        with pytest.raises(DatabaseError), transaction.atomic():
            AuditEvent.objects.filter(pk=event.pk).delete()
        assert AuditEvent.objects.get().action == "test.event"


# --- PostgreSQL: the database enforces what the ORM does ----------------------------------------


@pytest.mark.needs_pg
def test_every_tenant_table_has_forced_row_level_security(db):
    tables = {m._meta.db_table for m in tenant_models()}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, "
            "(SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) "
            "FROM pg_class c JOIN information_schema.columns col "
            "ON col.table_name = c.relname AND col.column_name = 'tenant_id' "
            "WHERE c.relkind = 'r' AND col.table_schema = 'public'"
        )
        rows = {
            name: (enabled, forced, policies)
            for name, enabled, forced, policies in cursor.fetchall()
        }
    platform = {"core_membership", "core_apiclient"}
    for table in tables | (set(rows) - platform):
        assert rows[table] == (True, True, 1), f"{table}: RLS {rows.get(table)}"


@pytest.mark.needs_pg
def test_with_orm_scoping_off_rls_alone_returns_no_rows_of_another_tenant(tenant_a, tenant_b):
    # given
    _events(tenant_a, 3)
    _events(tenant_b, 2)
    # when the ORM filter is switched off, inside tenant A's scope
    with tenant_scope(tenant_a), dangerously_unscoped():
        orm_rows = list(AuditEvent.objects.values_list("tenant_id", flat=True))
        with connection.cursor() as cursor:
            cursor.execute("SELECT tenant_id FROM core_auditevent")
            raw_rows = [r[0] for r in cursor.fetchall()]
            cursor.execute(
                "SELECT count(*) FROM core_auditevent WHERE tenant_id = %s", [tenant_b.pk]
            )
            (foreign,) = cursor.fetchone()
    # then
    assert orm_rows == [tenant_a.pk] * 3
    assert raw_rows == [tenant_a.pk] * 3
    assert foreign == 0


@pytest.mark.needs_pg
def test_with_no_tenant_raw_sql_sees_no_tenant_rows_and_cannot_write_any(tenant_a):
    _events(tenant_a, 2)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM core_auditevent")
        assert cursor.fetchone() == (0,)
        with pytest.raises(DatabaseError), transaction.atomic():
            cursor.execute(
                "INSERT INTO core_auditevent (tenant_id, created_at, actor_label, action, "
                "object_type, object_id, object_repr, request_id) "
                "VALUES (%s, now(), '', 'forged', 'x', '', '', '')",
                [tenant_a.pk],
            )


@pytest.mark.needs_pg
def test_rls_refuses_writing_a_row_for_another_tenant(tenant_a, tenant_b):
    with (
        tenant_scope(tenant_a),
        connection.cursor() as cursor,
        pytest.raises(DatabaseError),
        transaction.atomic(),
    ):
        cursor.execute(
            "INSERT INTO core_auditevent (tenant_id, created_at, actor_label, action, "
            "object_type, object_id, object_repr, request_id) "
            "VALUES (%s, now(), '', 'forged', 'x', '', '', '')",
            [tenant_b.pk],
        )


@pytest.mark.needs_pg
def test_the_app_role_is_not_superuser_owns_no_table_and_has_no_bypassrls(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        (role,) = cursor.fetchone()
        cursor.execute(
            "SELECT rolsuper, rolbypassrls, rolcreatedb, rolcreaterole "
            "FROM pg_roles WHERE rolname = current_user"
        )
        assert cursor.fetchone() == (False, False, False, False)
        cursor.execute("SELECT count(*) FROM pg_tables WHERE tableowner = current_user")
        assert cursor.fetchone() == (0,)
        cursor.execute("SELECT has_schema_privilege(current_user, 'public', 'CREATE')")
        assert cursor.fetchone() == (False,)
        cursor.execute(
            "SELECT has_table_privilege(current_user, 'core_auditevent', "
            "'UPDATE'), has_table_privilege(current_user, 'core_auditevent', "
            "'DELETE')"
        )
        assert cursor.fetchone() == (False, False)
    from django.conf import settings

    assert role != settings.DATABASE_OWNER["USER"]


@pytest.mark.needs_pg
def test_the_tenant_setting_does_not_survive_into_the_next_request(
    client, alice, charlie, tenant_a, tenant_b
):
    # given: a request in tenant A that queries tenant tables, on the same connection
    _events(tenant_a, 2)
    client.force_login(alice)
    assert client.get("/admin/audit/").status_code == 200
    # when: the next use of the connection has no tenant (an anonymous request, then raw SQL)
    assert client.get("/healthz").status_code == 200
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('app.tenant_id', true), (SELECT count(*) FROM core_auditevent)"
        )
        # then
        assert cursor.fetchone() == ("", 0)
    # and a request by tenant B's admin sees only tenant B on the same connection
    from django.test import Client

    other = Client()
    other.force_login(charlie)
    response = other.get("/api/v1/audit-events/")
    assert response.status_code == 200
    assert "test.event" not in {row["action"] for row in response.json()["results"]}
    with tenant_scope(tenant_b), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM core_auditevent WHERE action = 'test.event'")
        assert cursor.fetchone() == (0,)


@pytest.mark.needs_pg
def test_a_setting_made_in_a_rolled_back_transaction_is_reapplied(tenant_a, tenant_b):
    _events(tenant_a, 1)
    with tenant_scope(tenant_b):
        try:
            with transaction.atomic():
                AuditEvent.objects.count()
                raise RuntimeError("roll back")
        except RuntimeError:
            pass
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('app.tenant_id', true)")
            assert cursor.fetchone() == (str(tenant_b.pk),)
