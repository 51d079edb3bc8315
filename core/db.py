"""Database-level guarantees that migrations install: row-level security and append-only tables.

Both are PostgreSQL features; on SQLite (the demo) the ORM layer alone enforces tenancy, and
append-only tables get SQLite triggers.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.db import migrations

from core.tenancy import SETTING_NAME


class SchemaOperation(migrations.operations.base.Operation):
    """A migration operation on the database alone (triggers, policies): no model state."""

    reversible = True
    reduces_to_sql = True

    def state_forwards(self, app_label: str, state: Any) -> None:
        pass


def _rls_sql(table: str) -> list[str]:
    policy = f"{table}_tenant_isolation"
    predicate = f"tenant_id = NULLIF(current_setting('{SETTING_NAME}', true), '')::bigint"
    return [
        f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY',
        f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY',
        f'DROP POLICY IF EXISTS "{policy}" ON "{table}"',
        f'CREATE POLICY "{policy}" ON "{table}" USING ({predicate}) WITH CHECK ({predicate})',
    ]


class EnableTenantRLS(SchemaOperation):
    """Turn on ENABLE + FORCE row-level security with the tenant policy for one table."""

    def __init__(self, table: str) -> None:
        self.table = table

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        for sql in _rls_sql(self.table):
            schema_editor.execute(sql)

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(
            f'DROP POLICY IF EXISTS "{self.table}_tenant_isolation" ON "{self.table}"'
        )
        schema_editor.execute(f'ALTER TABLE "{self.table}" NO FORCE ROW LEVEL SECURITY')
        schema_editor.execute(f'ALTER TABLE "{self.table}" DISABLE ROW LEVEL SECURITY')

    def describe(self) -> str:
        return f"Enable tenant row-level security on {self.table}"

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return (self.__class__.__name__, [], {"table": self.table})


class AddFieldInPlace(migrations.AddField):
    """``AddField`` that adds a NOT NULL column with a constant default in place on SQLite.

    Django's SQLite schema editor adds such a column by remaking the table (create a copy,
    move the rows, drop the old one, rename the copy). That drops the table's own triggers (the
    append-only and frozen-rows guards) without a word, and the rename fails outright when
    another table's trigger reads this one ("error in trigger hierarchy_period_calculated_guard:
    no such table: main.payouts_calculationrun"). ``ALTER TABLE ... ADD COLUMN ... NOT NULL
    DEFAULT`` needs no remake. PostgreSQL takes the ordinary path.
    """

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if schema_editor.connection.vendor != "sqlite":
            super().database_forwards(app_label, schema_editor, from_state, to_state)
            return
        model = to_state.apps.get_model(app_label, self.model_name)
        field = model._meta.get_field(self.name)
        params = field.db_parameters(connection=schema_editor.connection)
        default = schema_editor.prepare_default(field.get_default())
        null = "" if field.null else " NOT NULL"
        check = f" CHECK ({params['check']})" if params.get("check") else ""
        schema_editor.execute(
            f"ALTER TABLE {schema_editor.quote_name(model._meta.db_table)} ADD COLUMN "
            f"{schema_editor.quote_name(field.column)} {params['type']}{null} "
            f"DEFAULT {default}{check}"
        )


class MakeAppendOnly(SchemaOperation):
    """Refuse UPDATE and DELETE on a table with a trigger (PostgreSQL and SQLite)."""

    def __init__(self, table: str) -> None:
        self.table = table

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        t = self.table
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(
                "CREATE OR REPLACE FUNCTION quotient_append_only() RETURNS trigger "
                "LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION "
                "'% is append-only: % refused', TG_TABLE_NAME, TG_OP "
                "USING ERRCODE = 'insufficient_privilege'; END $$",
                params=None,
            )
            schema_editor.execute(
                f'CREATE TRIGGER "{t}_append_only" BEFORE UPDATE OR DELETE ON "{t}" '
                f"FOR EACH ROW EXECUTE FUNCTION quotient_append_only()"
            )
            schema_editor.execute(
                f'CREATE TRIGGER "{t}_no_truncate" BEFORE TRUNCATE ON "{t}" '
                f"FOR EACH STATEMENT EXECUTE FUNCTION quotient_append_only()"
            )
        elif schema_editor.connection.vendor == "sqlite":
            for op in ("UPDATE", "DELETE"):
                schema_editor.execute(
                    f'CREATE TRIGGER "{t}_no_{op.lower()}" BEFORE {op} ON "{t}" '
                    f"BEGIN SELECT RAISE(ABORT, '{t} is append-only: {op} refused'); END"
                )

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        t = self.table
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f'DROP TRIGGER IF EXISTS "{t}_append_only" ON "{t}"')
            schema_editor.execute(f'DROP TRIGGER IF EXISTS "{t}_no_truncate" ON "{t}"')
        elif schema_editor.connection.vendor == "sqlite":
            for op in ("update", "delete"):
                schema_editor.execute(f'DROP TRIGGER IF EXISTS "{t}_no_{op}"')

    def describe(self) -> str:
        return f"Make {self.table} append-only"

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return (self.__class__.__name__, [], {"table": self.table})


class FreezeRows(SchemaOperation):
    """Refuse, on rows whose ``column`` is ``value``, UPDATE and DELETE (PostgreSQL and SQLite).

    With ``columns`` only an UPDATE that changes one of them is refused (the rest may still
    move, e.g. a published plan version's end date); without, any UPDATE is. The services
    refuse the same edits earlier with a readable message; the trigger is what holds when
    someone forgets them (``save()``, ``queryset.update()``, ``bulk_update``, raw SQL).
    """

    def __init__(
        self, table: str, column: str, value: str, message: str, columns: tuple[str, ...] = ()
    ) -> None:
        self.table, self.column, self.value = table, column, value
        self.message, self.columns = message, tuple(columns)

    def _changed(self, distinct: str) -> str:
        if not self.columns:
            return "TRUE"
        return " OR ".join(f"NEW.{c} {distinct} OLD.{c}" for c in self.columns)

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        t, frozen = self.table, f"OLD.{self.column} = '{self.value}'"
        vendor = schema_editor.connection.vendor
        if vendor == "postgresql":
            schema_editor.execute(
                f'CREATE OR REPLACE FUNCTION "{t}_frozen_fn"() RETURNS trigger '
                "LANGUAGE plpgsql AS $$ BEGIN "
                f"IF {frozen} AND (TG_OP = 'DELETE' OR {self._changed('IS DISTINCT FROM')}) THEN "
                f"RAISE EXCEPTION '{t} %: {self.message} (% refused)', OLD.id, TG_OP "
                "USING ERRCODE = 'insufficient_privilege'; END IF; "
                "IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END $$",
                params=None,
            )
            schema_editor.execute(
                f'CREATE TRIGGER "{t}_frozen" BEFORE UPDATE OR DELETE ON "{t}" '
                f'FOR EACH ROW EXECUTE FUNCTION "{t}_frozen_fn"()'
            )
        elif vendor == "sqlite":
            schema_editor.execute(
                f'CREATE TRIGGER "{t}_frozen_update" BEFORE UPDATE ON "{t}" '
                f"WHEN {frozen} AND ({self._changed('IS NOT')}) "
                f"BEGIN SELECT RAISE(ABORT, '{t}: {self.message} (UPDATE refused)'); END"
            )
            schema_editor.execute(
                f'CREATE TRIGGER "{t}_frozen_delete" BEFORE DELETE ON "{t}" WHEN {frozen} '
                f"BEGIN SELECT RAISE(ABORT, '{t}: {self.message} (DELETE refused)'); END"
            )

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        t = self.table
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f'DROP TRIGGER IF EXISTS "{t}_frozen" ON "{t}"')
            schema_editor.execute(f'DROP FUNCTION IF EXISTS "{t}_frozen_fn"()')
        elif schema_editor.connection.vendor == "sqlite":
            schema_editor.execute(f'DROP TRIGGER IF EXISTS "{t}_frozen_update"')
            schema_editor.execute(f'DROP TRIGGER IF EXISTS "{t}_frozen_delete"')

    def describe(self) -> str:
        return f"Freeze rows of {self.table} whose {self.column} is {self.value}"

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        kwargs: dict[str, Any] = {"table": self.table, "column": self.column}
        kwargs.update(value=self.value, message=self.message)
        if self.columns:
            kwargs["columns"] = self.columns
        return (self.__class__.__name__, [], kwargs)


class AlterFieldOnPostgres(migrations.AlterField):
    """``AlterField`` whose schema change runs on PostgreSQL only (the state changes everywhere).

    For a change that matters for PostgreSQL's speed alone, such as ``db_constraint=False`` on a
    foreign key that :class:`SetBasedForeignKeys` checks instead (or that another key stands for,
    as a payout line's for its contributions): on SQLite (the demo) the schema editor would remake
    the table to drop the constraint, losing its triggers, so SQLite keeps its ordinary
    (deferred) foreign key.
    """

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


# Child side: after each INSERT or UPDATE statement, the distinct references of the statement's
# rows (of an UPDATE: only the references it changed) are locked FOR KEY SHARE, as PostgreSQL's
# own foreign-key trigger locks them one row at a time, and counted, in one query per key; a
# reference that is missing fails the statement with SQLSTATE 23503 (Django: IntegrityError).
# Row-level security applies to these queries: a reference must exist in the current tenant.
# A parent the role may neither update nor delete (an append-only table, such as payout lines)
# is not locked - FOR KEY SHARE needs those rights, and nothing the role does can remove it.
# Nor are references that all point at rows the current (top-level) transaction inserted: no
# other transaction can see those rows, so none can delete them before this one commits (an
# import's credits and the transactions it has just written: -40 % of the credits' check).
# ``xmin`` is 32 bits and kept when a row is frozen, so in theory an old frozen row could carry
# the current transaction's id after 2^32 transactions; the check would then skip its lock for
# that statement only (the reference is still verified to exist in the tenant).
_FK_CHILDREN_FN = """
CREATE OR REPLACE FUNCTION quotient_fk_children() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
    col text; parent text; keys text; wanted bigint; present bigint; missing bigint;
    lock text; own bigint; first_own boolean; mine xid := xid(pg_current_xact_id());
BEGIN
    FOR i IN 0 .. TG_NARGS - 1 BY 2 LOOP
        col := TG_ARGV[i];
        parent := TG_ARGV[i + 1];
        IF TG_OP = 'INSERT' THEN
            keys := format('SELECT DISTINCT %1$I AS k FROM new_rows WHERE %1$I IS NOT NULL', col);
        ELSE
            keys := format(
                'SELECT DISTINCT n.%1$I AS k FROM new_rows n JOIN old_rows o ON o.id = n.id '
                'WHERE n.%1$I IS NOT NULL AND n.%1$I IS DISTINCT FROM o.%1$I', col
            );
        END IF;
        lock := CASE WHEN has_table_privilege(parent, 'UPDATE')
                          OR has_table_privilege(parent, 'DELETE')
                     THEN 'FOR KEY SHARE OF p' ELSE '' END;
        -- References to rows this transaction inserted itself (xmin is ours) need no lock: no
        -- other transaction sees them, so none can delete them before we commit (and our own
        -- delete meets the parent's deferred trigger). An import's credits reference the
        -- transactions it has just inserted: without this, 20,000 tuple locks and WAL records
        -- per chunk. Tried on one reference first, so other parents pay one probe, not a pass.
        IF lock <> '' THEN
            EXECUTE format(
                'SELECT p.xmin = $1 FROM %I p WHERE p.id = '
                '(SELECT %I FROM new_rows WHERE %I IS NOT NULL LIMIT 1)', parent, col, col
            ) USING mine INTO first_own;
            IF first_own THEN
                EXECUTE format(
                    'WITH n AS (%s) SELECT (SELECT count(*) FROM n), count(*) FILTER (WHERE l.own) '
                    'FROM n CROSS JOIN LATERAL '
                    '(SELECT p.xmin = $1 AS own FROM %I p WHERE p.id = n.k OFFSET 0) l',
                    keys, parent
                ) USING mine INTO wanted, own;
                CONTINUE WHEN own = wanted;
            END IF;
        END IF;
        -- One primary-key probe per distinct key (LATERAL, OFFSET 0: never flattened into a
        -- join that hashes the parent's whole tenant, which is what the planner picks for a
        -- parent whose statistics are stale, e.g. the transactions an import is inserting).
        EXECUTE format(
            'WITH n AS (%s), locked AS (SELECT l.id FROM n CROSS JOIN LATERAL '
            '(SELECT p.id FROM %I p WHERE p.id = n.k OFFSET 0 %s) l) '
            'SELECT (SELECT count(*) FROM n), (SELECT count(*) FROM locked)',
            keys, parent, lock
        ) INTO wanted, present;
        IF present < wanted THEN
            EXECUTE format(
                'SELECT k FROM (%s) n WHERE NOT EXISTS (SELECT 1 FROM %I p WHERE p.id = n.k) '
                'ORDER BY k LIMIT 1', keys, parent
            ) INTO missing;
            RAISE EXCEPTION 'insert or update on table "%" violates foreign key "%_%_fk"',
                TG_TABLE_NAME, TG_TABLE_NAME, col
                USING ERRCODE = 'foreign_key_violation', TABLE = TG_TABLE_NAME, COLUMN = col,
                CONSTRAINT = TG_TABLE_NAME || '_' || col || '_fk',
                DETAIL = format('Key (%s)=(%s) is not present in table "%s".',
                                col, missing, parent);
        END IF;
    END LOOP;
    RETURN NULL;
END
$fn$
"""

# Parent side: a deferred constraint trigger per row deleted (or whose id changes) looks for a
# row still referencing it at COMMIT, as the foreign key it replaces did. The lookup runs in
# the parent's tenant (row-level security); TG_ARGV: the parent's tenant column, the child
# table, the child column.
_FK_PARENT_FN = """
CREATE OR REPLACE FUNCTION quotient_fk_parent() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
    previous text := current_setting('app.tenant_id', true);
    referenced boolean;
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.id = OLD.id THEN
        RETURN NULL;
    END IF;
    PERFORM set_config('app.tenant_id', to_jsonb(OLD) ->> TG_ARGV[0], true);
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I WHERE %I = $1)', TG_ARGV[1], TG_ARGV[2])
        USING OLD.id INTO referenced;
    PERFORM set_config('app.tenant_id', coalesce(previous, ''), true);
    IF referenced THEN
        RAISE EXCEPTION 'update or delete on table "%" violates foreign key "%_%_fk" on table "%"',
            TG_TABLE_NAME, TG_ARGV[1], TG_ARGV[2], TG_ARGV[1]
            USING ERRCODE = 'foreign_key_violation', TABLE = TG_ARGV[1], COLUMN = TG_ARGV[2],
            CONSTRAINT = TG_ARGV[1] || '_' || TG_ARGV[2] || '_fk',
            DETAIL = format('Key (id)=(%s) is still referenced from table "%s".',
                            OLD.id, TG_ARGV[1]);
    END IF;
    RETURN NULL;
END
$fn$
"""


def reinstall_fk_check(apps: Any, schema_editor: Any) -> None:
    """``RunPython`` of a migration that changes ``quotient_fk_children``: (re)installs the
    current function on PostgreSQL (CREATE OR REPLACE; the triggers keep pointing at it)."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(_FK_CHILDREN_FN, params=None)


class SetBasedForeignKeys(SchemaOperation):
    """Check a table's foreign keys once per statement instead of once per row (PostgreSQL).

    ``keys`` maps each column (whose field has ``db_constraint=False``, see
    :class:`AlterFieldOnPostgres`) to ``(parent table, the parent's tenant column)``
    (``"id"`` for the tenant table itself). Installs statement-level ``AFTER INSERT`` and
    ``AFTER UPDATE`` triggers with transition tables on the table (``quotient_fk_children``)
    and, on each parent, a deferred row-level constraint trigger refusing to delete a row that
    is still referenced (``quotient_fk_parent``): a dangling reference stays impossible, and
    an import of 20,000 rows makes a handful of checks instead of 20,000 per key (why:
    docs/imports.md "Where the time goes"). Nothing on SQLite, whose foreign keys stay.
    """

    def __init__(self, table: str, keys: dict[str, tuple[str, str]]) -> None:
        self.table = table
        self.keys = dict(keys)

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        t = self.table
        schema_editor.execute(_FK_CHILDREN_FN, params=None)
        schema_editor.execute(_FK_PARENT_FN.replace("app.tenant_id", SETTING_NAME), params=None)
        args = ", ".join(f"'{c}', '{parent}'" for c, (parent, _) in self.keys.items())
        for op, tables in (
            ("INSERT", "NEW TABLE AS new_rows"),
            ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
        ):
            schema_editor.execute(
                f'CREATE TRIGGER "{t}_fk_{op.lower()}" AFTER {op} ON "{t}" REFERENCING {tables} '
                f"FOR EACH STATEMENT EXECUTE FUNCTION quotient_fk_children({args})"
            )
        for c, (parent, tenant) in self.keys.items():
            schema_editor.execute(
                f'CREATE CONSTRAINT TRIGGER "{t}_{c}_fk" AFTER DELETE OR UPDATE OF id '
                f'ON "{parent}" DEFERRABLE INITIALLY DEFERRED FOR EACH ROW '
                f"EXECUTE FUNCTION quotient_fk_parent('{tenant}', '{t}', '{c}')"
            )

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        t = self.table
        for op in ("insert", "update"):
            schema_editor.execute(f'DROP TRIGGER IF EXISTS "{t}_fk_{op}" ON "{t}"')
        for c, (parent, _) in self.keys.items():
            schema_editor.execute(f'DROP TRIGGER IF EXISTS "{t}_{c}_fk" ON "{parent}"')

    def describe(self) -> str:
        return f"Check the foreign keys of {self.table} set-based ({', '.join(self.keys)})"

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return (self.__class__.__name__, [], {"table": self.table, "keys": self.keys})


def grant_app_role(using: str = "default") -> None:
    """Grant the application role data rights (no DDL, no ownership) on every table.

    Called after each ``migrate`` while connected as the owner. The application role is the
    user of ``DATABASE_URL``; nothing happens when it is the owner itself or on SQLite.
    """
    from django.conf import settings
    from django.db import connections

    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    app_user = settings.DATABASES[using].get("APP_USER") or settings.DATABASES[using]["USER"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        (owner,) = cursor.fetchone()
        if not app_user or app_user == owner:
            return
        quoted = connection.ops.quote_name(str(app_user))
        cursor.execute(f"GRANT USAGE ON SCHEMA public TO {quoted}")
        cursor.execute(
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {quoted}"
        )
        cursor.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {quoted}")
        # Append-only tables: the app may read and insert, never change or remove.
        cursor.execute(
            "SELECT event_object_table FROM information_schema.triggers "
            "WHERE trigger_name LIKE '%%_append_only' AND trigger_schema = 'public'"
        )
        for (table,) in cursor.fetchall():
            cursor.execute(f'REVOKE UPDATE, DELETE, TRUNCATE ON "{table}" FROM {quoted}')


_TEXT_SPECIALS = re.compile(r"[\\\t\n\r]")
_RENDERED_ALIKE = frozenset({str, int, bool, dt.date, type(None)})


def _text_value(value: Any) -> str:
    """Render one value for ``COPY … (FORMAT text)`` (``\\N`` is NULL)."""
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, (bytes, memoryview)):
        return "\\\\x" + bytes(value).hex()  # bytea's hex input, its backslash escaped
    text = value if isinstance(value, str) else str(value)
    if not _plain(text):
        return (
            text.replace("\\", "\\\\")
            .replace("\t", "\\t")
            .replace("\n", "\\n")
            .replace("\r", "\\r")
        )
    return text


def _plain(text: str) -> bool:
    """Whether ``text`` needs no ``COPY`` escaping (four substring searches: 10-30x faster
    than one search of the ``_TEXT_SPECIALS`` pattern over a chunk's joined column)."""
    return not ("\\" in text or "\t" in text or "\n" in text or "\r" in text)


def copy_text_column(column: Any) -> list[str]:
    """Render a column of values for ``COPY … (FORMAT text)``, fast for uniform columns."""
    values: list[Any] = column.tolist() if hasattr(column, "tolist") else list(column)
    if not values:
        return []
    kinds = set(map(type, values))
    if kinds <= {int}:
        return list(map(str, values))
    if kinds <= {str} and _plain("".join(values)):
        return values
    if kinds <= {str, type(None)} and _plain("".join(v for v in values if v is not None)):
        return ["\\N" if v is None else v for v in values]
    if len(kinds - {type(None)}) == 1 and kinds <= _RENDERED_ALIKE:
        # one type (and NULLs) whose equal values render alike (not Decimal: 1.0 == 1.00;
        # not datetime: time zones): values that repeat (dates, flags) are rendered once
        distinct = set(values)
        if len(distinct) * 4 <= len(values):
            rendered = {v: _text_value(v) for v in distinct}
            return list(map(rendered.__getitem__, values))
    return [_text_value(v) for v in values]


def copy_text(columns: list[Any]) -> str:
    """Return the ``COPY … (FORMAT text)`` body of rows given column by column."""
    rendered = [copy_text_column(c) for c in columns]
    if not rendered or not rendered[0]:
        return ""
    return "\n".join(map("\t".join, zip(*rendered, strict=True))) + "\n"


def bulk_insert(
    model: Any,
    columns: list[str],
    rows: Any,
    *,
    using: str = "default",
    column_values: list[Any] | None = None,
) -> int:
    """Insert many rows fast: COPY into a temporary table, then one INSERT … SELECT.

    PostgreSQL refuses ``COPY FROM`` into a table with row-level security, so the rows go to an
    unprotected temporary table first and reach the real table through ``INSERT``, where the
    tenant policy's WITH CHECK still applies to every row. ``rows`` are tuples in ``columns``
    order, or ``column_values`` gives the same data column by column (faster: each column is
    rendered in one pass). ``None`` is NULL; JSON columns take already-serialised text.
    PostgreSQL only: on SQLite callers use ``bulk_create``. Returns the number of rows written.
    """
    import io

    from django.db import connections

    connection = connections[using]
    table = model._meta.db_table
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    if column_values is None:
        materialized = list(rows)
        column_values = (
            [list(c) for c in zip(*materialized, strict=True)]
            if materialized
            else [[] for _ in columns]
        )
    count = len(column_values[0]) if column_values else 0
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            raise RuntimeError("bulk_insert() is PostgreSQL's fast path; use bulk_create")
        if not connection.in_atomic_block:
            raise RuntimeError("bulk_insert() runs inside transaction.atomic()")
        if not count:
            return 0
        temp = f"_bulk_{table}"
        # Through the wrapped cursor, so the tenant setting is in force for the INSERT below.
        cursor.execute(f'DROP TABLE IF EXISTS "{temp}"')
        cursor.execute(
            f'CREATE TEMPORARY TABLE "{temp}" ON COMMIT DROP AS '  # noqa: S608 (identifiers from model metadata, no input)
            f'SELECT {quoted} FROM "{table}" WITH NO DATA'
        )
        buffer = io.StringIO(copy_text(column_values))
        cursor.cursor.copy_expert(f'COPY "{temp}" ({quoted}) FROM STDIN', buffer)
        cursor.execute(f'INSERT INTO "{table}" ({quoted}) SELECT {quoted} FROM "{temp}"')  # noqa: S608 (identifiers from model metadata, no input)
    return count


def bulk_create_copy(model: Any, objs: list[Any], *, using: str = "default") -> list[Any]:
    """``bulk_create`` for new model instances, through :func:`bulk_insert` on PostgreSQL.

    Their ids are taken from the table's sequence first (one ``nextval`` query for all) and set
    on the instances, as ``bulk_create`` does; ``auto_now``/``auto_now_add`` fields get their
    value from the fields' own ``pre_save``; JSON fields are serialised with their encoder.
    Measured: 20,000 people 1.7 to 2.2 s against ``bulk_create``'s 9.6 to 10.9 s (loaded machine).
    No signals are sent (neither does ``bulk_create``). Elsewhere it is ``bulk_create``.
    """
    import json

    from django.db import connections, models

    connection = connections[using]
    if connection.vendor != "postgresql" or not objs:
        return list(model.objects.using(using).bulk_create(objs))
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [table, model._meta.pk.column, len(objs)],
        )
        ids = [row[0] for row in cursor.fetchall()]
    for obj, pk in zip(objs, ids, strict=True):
        obj.pk = pk
    columns: list[str] = []
    values: list[Any] = []
    for field in model._meta.concrete_fields:
        column = [field.pre_save(obj, add=True) for obj in objs]
        if isinstance(field, models.JSONField):
            column = [None if v is None else json.dumps(v, cls=field.encoder) for v in column]
        columns.append(field.column)
        values.append(column)
    bulk_insert(model, columns, None, using=using, column_values=values)
    for obj in objs:
        obj._state.adding = False
        obj._state.db = using
    return objs


def per_tenant_sql(schema_editor: Any, sql: str) -> None:
    """Run ``sql`` (one ``%s``: the tenant id) once per tenant, with that tenant set on
    PostgreSQL (row-level security is forced, even for the owner): a data migration's step."""
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute('SELECT id FROM "core_tenant" ORDER BY id')
        for (tenant_id,) in cursor.fetchall():
            if connection.vendor == "postgresql":
                cursor.execute(f"SELECT set_config('{SETTING_NAME}', %s, true)", [str(tenant_id)])
            cursor.execute(sql, [tenant_id])
