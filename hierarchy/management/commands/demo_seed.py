"""Seed the demo tenant and one login per persona (idempotent)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from hierarchy import services
from hierarchy.models import Membership, Role, Tenant
from hierarchy.tenancy import tenant_scope

DEMO_PASSWORD = "quotient-demo"  # noqa: S105 (printed for the local demo on purpose)
PERSONAS = [
    ("admin@demo.quotient.dev", "Ada Admin", [Role.TENANT_ADMIN]),
    ("comp@demo.quotient.dev", "Carlos Comp", [Role.COMP_ADMIN]),
    ("finance@demo.quotient.dev", "Fiona Finance", [Role.FINANCE]),
    ("exec@demo.quotient.dev", "Evelyn Exec", [Role.EXECUTIVE]),
    ("manager@demo.quotient.dev", "Marcus Manager", [Role.MANAGER, Role.EMPLOYEE]),
    ("employee@demo.quotient.dev", "Emma Employee", [Role.EMPLOYEE]),
]


class Command(BaseCommand):
    help = "Create the demo tenant 'demo' with a login per persona and print them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--quiet", action="store_true")

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        tenant = Tenant.objects.filter(slug="demo").first() or services.tenant_create(
            slug="demo",
            name="Northwind Analytics (demo)",
            default_currency="USD",
            time_zone="America/New_York",
            fiscal_year_start_month=2,
        )
        other = Tenant.objects.filter(slug="globex").first() or services.tenant_create(
            slug="globex",
            name="Globex (second demo tenant)",
            default_currency="EUR",
            time_zone="Europe/Berlin",
        )
        user_model = get_user_model()
        with tenant_scope(tenant):
            for email, name, roles in PERSONAS:
                if not Membership.objects.filter(tenant=tenant, user__email=email).exists():
                    services.membership_invite(
                        email=email, full_name=name, roles=list(roles), send_email=False
                    )
                user = user_model.objects.get(email=email)
                if not user.has_usable_password():
                    user.set_password(DEMO_PASSWORD)
                    user.save(update_fields=["password"])
        # The tenant admin also belongs to a second tenant, to show the tenant switcher.
        with tenant_scope(other):
            admin_email = PERSONAS[0][0]
            if not Membership.objects.filter(tenant=other, user__email=admin_email).exists():
                services.membership_invite(
                    email=admin_email,
                    full_name=PERSONAS[0][1],
                    roles=[Role.TENANT_ADMIN],
                    send_email=False,
                )
        if options["quiet"]:
            return
        self.stdout.write(self.style.SUCCESS(f"\nDemo logins (password for all: {DEMO_PASSWORD})"))
        for email, _name, roles in PERSONAS:
            self.stdout.write(f"  {', '.join(roles):<22} {email}")
        self.stdout.write("")
