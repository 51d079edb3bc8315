"""Seed the demo tenant and one login per persona (idempotent)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone

from core import services
from core.models import Membership, Role, Tenant
from core.tenancy import tenant_scope
from hierarchy import periods
from hierarchy.generator import generate_company
from hierarchy.models import Person

DEMO_PEOPLE = 320

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
            people_note = seed_people(tenant)
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
        self.stdout.write(people_note)
        self.stdout.write(self.style.SUCCESS(f"\nDemo logins (password for all: {DEMO_PASSWORD})"))
        for email, _name, roles in PERSONAS:
            self.stdout.write(f"  {', '.join(roles):<22} {email}")
        self.stdout.write("")


def seed_people(tenant: Tenant) -> str:
    """Seed the org (once): ~320 people in three hierarchies, last, this and next fiscal year.

    The manager persona becomes the manager of a Sales team and the employee persona one of
    its members, so their people pages show a real team; the executive is the CEO.
    """
    if Person.objects.exists():
        return "People already seeded."
    user_model = get_user_model()
    today = timezone.now().astimezone(ZoneInfo(tenant.time_zone)).date()
    this_year = periods.fiscal_year_of(tenant, today)
    for year in (this_year - 1, this_year, this_year + 1):
        periods.period_generate_fiscal_year(fiscal_year=year)
    start, _end = periods.fiscal_year_bounds(tenant, this_year - 1)
    company = generate_company(
        people=DEMO_PEOPLE, start=start, seed=2026, email_domain="people.northwind.test"
    )
    links = [
        (company.sales_team_manager_id, "manager@demo.quotient.dev", "Marcus Manager"),
        (company.sales_team_member_id, "employee@demo.quotient.dev", "Emma Employee"),
        (company.ceo_id, "exec@demo.quotient.dev", "Evelyn Exec"),
    ]
    for person_id, email, name in links:
        user = user_model.objects.filter(email=email).first()
        if person_id is not None and user is not None:
            Person.objects.filter(pk=person_id).update(user=user, email=email, full_name=name)
    return (
        f"Seeded {company.people} people, {company.nodes} nodes in 3 hierarchies, "
        f"{company.transfers} mid-quarter transfers, {company.dual_roles} dual roles, "
        f"periods FY{this_year - 1}-FY{this_year + 1}."
    )
