"""The database's half of "a published plan version is immutable".

:class:`FreezePublishedVersions` installs a trigger (PostgreSQL and SQLite) that refuses, on a
row whose status is ``published``, any UPDATE of what people are paid on (the spec, its source
and hash, the number, the plan, the tenant, the status, the effective start, the publication)
and any DELETE. Ending the version (``valid_to``, set when a successor is published) is the one
change it allows. The services refuse the same edits earlier with a readable message; the
trigger is what holds when someone forgets them.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

TABLE = "plans_planversion"
FROZEN_COLUMNS = (
    "tenant_id",
    "plan_id",
    "number",
    "status",
    "source",
    "spec",
    "spec_hash",
    "valid_from",
    "published_at",
    "published_by_id",
)
MESSAGE = "a published plan version is immutable"


def _changed(distinct: str) -> str:
    return " OR ".join(f"NEW.{c} {distinct} OLD.{c}" for c in FROZEN_COLUMNS)


class FreezePublishedVersions(migrations.operations.base.Operation):
    """Refuse changes to published plan versions with a trigger."""

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
                "CREATE OR REPLACE FUNCTION plans_version_frozen() RETURNS trigger "
                "LANGUAGE plpgsql AS $$ BEGIN "
                "IF OLD.status = 'published' AND (TG_OP = 'DELETE' OR "
                f"{_changed('IS DISTINCT FROM')}) THEN "
                f"RAISE EXCEPTION '{TABLE} %: {MESSAGE} (% refused)', OLD.id, TG_OP "
                "USING ERRCODE = 'insufficient_privilege'; END IF; "
                "IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END $$",
                params=None,
            )
            schema_editor.execute(
                f'CREATE TRIGGER "{TABLE}_frozen" BEFORE UPDATE OR DELETE ON "{TABLE}" '
                "FOR EACH ROW EXECUTE FUNCTION plans_version_frozen()"
            )
        elif vendor == "sqlite":
            schema_editor.execute(
                f'CREATE TRIGGER "{TABLE}_frozen_update" BEFORE UPDATE ON "{TABLE}" '
                f"WHEN OLD.status = 'published' AND ({_changed('IS NOT')}) "
                f"BEGIN SELECT RAISE(ABORT, '{TABLE}: {MESSAGE} (UPDATE refused)'); END"
            )
            schema_editor.execute(
                f'CREATE TRIGGER "{TABLE}_frozen_delete" BEFORE DELETE ON "{TABLE}" '
                "WHEN OLD.status = 'published' "
                f"BEGIN SELECT RAISE(ABORT, '{TABLE}: {MESSAGE} (DELETE refused)'); END"
            )

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        vendor = schema_editor.connection.vendor
        if vendor == "postgresql":
            schema_editor.execute(f'DROP TRIGGER IF EXISTS "{TABLE}_frozen" ON "{TABLE}"')
            schema_editor.execute("DROP FUNCTION IF EXISTS plans_version_frozen()")
        elif vendor == "sqlite":
            schema_editor.execute(f'DROP TRIGGER IF EXISTS "{TABLE}_frozen_update"')
            schema_editor.execute(f'DROP TRIGGER IF EXISTS "{TABLE}_frozen_delete"')

    def describe(self) -> str:
        return f"Freeze published rows of {TABLE}"

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return (self.__class__.__name__, [], {})
