"""``migrate``, run as the schema owner (DATABASE_OWNER_URL) when one is configured."""

from __future__ import annotations

from typing import Any

from django.core.management.commands.migrate import Command as DjangoMigrate

from core.management.base import use_owner_role


class Command(DjangoMigrate):
    help = DjangoMigrate.help + " Runs as DATABASE_OWNER_URL's role when it is set."

    def handle(self, *args: Any, **options: Any) -> Any:
        use_owner_role(options.get("database") or "default")
        return super().handle(*args, **options)
