"""The database's half of the period lifecycle: a period's status moves only through a service.

``hierarchy_period.status`` is guarded by a trigger (PostgreSQL and SQLite) that refuses any
change of status unless the transaction carries the marker of exactly that transition,
``"<period id>:<old status>:<new status>"``, which only :func:`transition_marker` sets (the
lifecycle services in ``payouts/lifecycle.py`` call it after their guards passed). The trigger
also checks the lifecycle's graph and, in the database, the two guards that matter most: a
period becomes *calculated* only with a succeeded full run, *approved* only with a live
:class:`~payouts.models.PeriodApproval`. A new period always starts *open*.

On PostgreSQL the marker is a transaction-local setting (``set_config(…, true)``), so it never
outlives the transaction; on SQLite it is a ``ContextVar`` the trigger reads through an
application function registered on each connection (a connection without it, e.g. the
``sqlite3`` shell, fails closed: "no such function"). ``save()``, ``queryset.update()``,
``bulk_update``, raw SQL and the old ``PATCH /api/v1/periods/{id}/`` all meet the same refusal.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.db import connection, migrations

MARKER_SETTING = "app.period_transition"
SQLITE_FUNCTION = "quotient_period_transition"

# (from, to): open → calculated → in review → approved → closed; reopen: approved → in review;
# send back: in review → calculated (an approval step rejected it, or the request was withdrawn).
TRANSITIONS: tuple[tuple[str, str], ...] = (
    ("open", "calculated"),
    ("calculated", "in_review"),
    ("in_review", "approved"),
    ("approved", "closed"),
    ("approved", "in_review"),
    ("in_review", "calculated"),
)
REFUSED = "the status of a period changes only through its lifecycle service (payouts.lifecycle)"

_marker: ContextVar[str] = ContextVar("quotient_period_transition", default="")


def marker_value(period_id: int, old: str, new: str) -> str:
    return f"{period_id}:{old}:{new}"


@contextmanager
def transition_marker(period_id: int, old: str, new: str) -> Iterator[None]:
    """Allow, inside the block (and the current transaction), exactly this one transition."""
    value = marker_value(period_id, old, new)
    token = _marker.set(value)
    postgres = connection.vendor == "postgresql"
    try:
        if postgres:
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config(%s, %s, true)", [MARKER_SETTING, value])
        yield
    finally:
        _marker.reset(token)
        if postgres and not connection.needs_rollback:
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config(%s, '', true)", [MARKER_SETTING])


def _sqlite_marker() -> str:
    return _marker.get()


def register_sqlite_function(sender: Any, connection: Any, **kwargs: Any) -> None:
    """Give each SQLite connection the function the status trigger reads the marker with."""
    if connection.vendor == "sqlite":
        connection.connection.create_function(SQLITE_FUNCTION, 0, _sqlite_marker)


def _pairs() -> str:
    return ", ".join(f"'{a}>{b}'" for a, b in TRANSITIONS)


_CALCULATED = (
    "EXISTS (SELECT 1 FROM payouts_calculationrun r WHERE r.period_id = NEW.id "
    "AND r.status = 'succeeded' AND r.kind = 'full')"
)
_APPROVED = (
    "EXISTS (SELECT 1 FROM payouts_periodapproval a WHERE a.period_id = NEW.id "
    "AND a.reopened_at IS NULL)"
)


class GuardPeriodStatus(migrations.operations.base.Operation):
    """Install the status trigger on ``hierarchy_period`` (PostgreSQL and SQLite)."""

    reversible = True
    reduces_to_sql = True

    def state_forwards(self, app_label: str, state: Any) -> None:
        pass

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        vendor = schema_editor.connection.vendor
        if vendor == "postgresql":
            schema_editor.execute(
                "CREATE OR REPLACE FUNCTION hierarchy_period_status_guard() RETURNS trigger "
                "LANGUAGE plpgsql AS $$ BEGIN "
                "IF TG_OP = 'INSERT' THEN "
                "  IF NEW.status <> 'open' THEN RAISE EXCEPTION "
                "  'hierarchy_period: a new period starts open (% refused)', NEW.status "
                "  USING ERRCODE = 'insufficient_privilege'; END IF; RETURN NEW; END IF; "
                "IF NEW.status IS NOT DISTINCT FROM OLD.status THEN RETURN NEW; END IF; "
                f"IF COALESCE(current_setting('{MARKER_SETTING}', true), '') "
                "   <> NEW.id || ':' || OLD.status || ':' || NEW.status "
                f"   OR (OLD.status || '>' || NEW.status) NOT IN ({_pairs()}) THEN "
                f"  RAISE EXCEPTION 'hierarchy_period %: % -> % refused: {REFUSED}', "
                "  OLD.id, OLD.status, NEW.status USING ERRCODE = 'insufficient_privilege'; "
                "END IF; "
                f"IF NEW.status = 'calculated' AND NOT {_CALCULATED} THEN RAISE EXCEPTION "
                "  'hierarchy_period %: calculated needs a succeeded full run', OLD.id "
                "  USING ERRCODE = 'insufficient_privilege'; END IF; "
                f"IF NEW.status = 'approved' AND NOT {_APPROVED} THEN RAISE EXCEPTION "
                "  'hierarchy_period %: approved needs an approval naming its run', OLD.id "
                "  USING ERRCODE = 'insufficient_privilege'; END IF; "
                "RETURN NEW; END $$",
                params=None,
            )
            schema_editor.execute(
                'CREATE TRIGGER "hierarchy_period_status_guard" BEFORE INSERT OR UPDATE '
                'ON "hierarchy_period" FOR EACH ROW EXECUTE FUNCTION '
                "hierarchy_period_status_guard()"
            )
        elif vendor == "sqlite":
            changed = "NEW.status IS NOT OLD.status"
            schema_editor.execute(
                'CREATE TRIGGER "hierarchy_period_status_guard" BEFORE UPDATE OF status '
                f'ON "hierarchy_period" WHEN {changed} AND ('
                f"COALESCE({SQLITE_FUNCTION}(), '') IS NOT "
                "(NEW.id || ':' || OLD.status || ':' || NEW.status) "
                f"OR (OLD.status || '>' || NEW.status) NOT IN ({_pairs()})) "
                f"BEGIN SELECT RAISE(ABORT, 'hierarchy_period: {REFUSED}'); END"
            )
            schema_editor.execute(
                'CREATE TRIGGER "hierarchy_period_calculated_guard" BEFORE UPDATE OF status '
                f"ON \"hierarchy_period\" WHEN {changed} AND NEW.status = 'calculated' "
                f"AND NOT {_CALCULATED} BEGIN SELECT RAISE(ABORT, "
                "'hierarchy_period: calculated needs a succeeded full run'); END"
            )
            schema_editor.execute(
                'CREATE TRIGGER "hierarchy_period_approved_guard" BEFORE UPDATE OF status '
                f"ON \"hierarchy_period\" WHEN {changed} AND NEW.status = 'approved' "
                f"AND NOT {_APPROVED} BEGIN SELECT RAISE(ABORT, "
                "'hierarchy_period: approved needs an approval naming its run'); END"
            )
            schema_editor.execute(
                'CREATE TRIGGER "hierarchy_period_insert_guard" BEFORE INSERT '
                "ON \"hierarchy_period\" WHEN NEW.status IS NOT 'open' BEGIN SELECT RAISE(ABORT, "
                "'hierarchy_period: a new period starts open'); END"
            )

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        vendor = schema_editor.connection.vendor
        if vendor == "postgresql":
            schema_editor.execute(
                'DROP TRIGGER IF EXISTS "hierarchy_period_status_guard" ON "hierarchy_period"'
            )
            schema_editor.execute("DROP FUNCTION IF EXISTS hierarchy_period_status_guard()")
        elif vendor == "sqlite":
            for name in ("status", "calculated", "approved", "insert"):
                schema_editor.execute(f'DROP TRIGGER IF EXISTS "hierarchy_period_{name}_guard"')

    def describe(self) -> str:
        return "Guard hierarchy_period.status: transitions only through the lifecycle services"

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return (self.__class__.__name__, [], {})


class ReinstallPeriodStatusGuard(GuardPeriodStatus):
    """Drop and re-create the status trigger, so a database migrated before a transition was
    added to :data:`TRANSITIONS` allows it too (the trigger spells the graph out)."""

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        GuardPeriodStatus.database_backwards(self, app_label, schema_editor, from_state, to_state)
        GuardPeriodStatus.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        pass  # the older graph is a subset: the trigger installed now refuses nothing it allowed

    def describe(self) -> str:
        return "Re-create the period status trigger with the current transition graph"


class SqliteAppendOnlyAgain(migrations.operations.base.Operation):
    """Re-create a table's append-only triggers on SQLite after an AlterField rebuilt the table
    (SQLite's table rebuild drops triggers; PostgreSQL alters in place and keeps them)."""

    reversible = True
    reduces_to_sql = True

    def __init__(self, table: str) -> None:
        self.table = table

    def state_forwards(self, app_label: str, state: Any) -> None:
        pass

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        from core.db import MakeAppendOnly

        if schema_editor.connection.vendor == "sqlite":
            for op in ("update", "delete"):
                schema_editor.execute(f'DROP TRIGGER IF EXISTS "{self.table}_no_{op}"')
            MakeAppendOnly(self.table).database_forwards(
                app_label, schema_editor, from_state, to_state
            )

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        pass

    def describe(self) -> str:
        return f"Re-create the append-only triggers of {self.table} on SQLite"

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return (self.__class__.__name__, [], {"table": self.table})
