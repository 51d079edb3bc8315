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

from core.db import FreezeRows

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


class FreezePublishedVersions(FreezeRows):
    """Refuse changes to published plan versions with a trigger (core.db.FreezeRows)."""

    def __init__(self) -> None:
        super().__init__(TABLE, "status", "published", MESSAGE, FROZEN_COLUMNS)

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return (self.__class__.__name__, [], {})
