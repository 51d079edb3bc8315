"""Create a tenant and its first tenant admin (platform operators)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core import services
from core.models import Role
from core.tenancy import tenant_scope


class Command(BaseCommand):
    help = "Create a tenant; with --admin-email also invite its first tenant admin."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("name")
        parser.add_argument("--currency", default="USD")
        parser.add_argument("--time-zone", default="UTC")
        parser.add_argument("--fiscal-year-start-month", type=int, default=1)
        parser.add_argument("--rounding-mode", default="half_up")
        parser.add_argument("--admin-email")
        parser.add_argument("--admin-name", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            tenant = services.tenant_create(
                slug=options["slug"],
                name=options["name"],
                default_currency=options["currency"],
                time_zone=options["time_zone"],
                fiscal_year_start_month=options["fiscal_year_start_month"],
                rounding_mode=options["rounding_mode"],
            )
        except ValidationError as exc:
            raise CommandError(
                "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
            ) from None
        self.stdout.write(self.style.SUCCESS(f"created tenant {tenant.slug} (id {tenant.pk})"))
        if options["admin_email"]:
            with tenant_scope(tenant):
                services.membership_invite(
                    email=options["admin_email"],
                    full_name=options["admin_name"] or options["admin_email"],
                    roles=[Role.TENANT_ADMIN],
                )
            self.stdout.write(
                f"invited {options['admin_email']} as tenant admin "
                "(a set-your-password e-mail was sent)"
            )
