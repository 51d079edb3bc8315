"""Create an API client for one tenant from the command line (automation, first set-up)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from core import services
from core.errors import ApplicationError
from core.management.base import TenantCommand
from core.models import API_SCOPES


class Command(TenantCommand):
    help = "Create an API client in --tenant and print its token (shown once)."

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--name", required=True)
        parser.add_argument(
            "--scope",
            action="append",
            required=True,
            dest="scopes",
            help=f"repeatable; one of: {', '.join(API_SCOPES)}",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            issued = services.api_client_create(
                name=options["name"], scopes=options["scopes"], created_by_id=None
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(issued.token)
