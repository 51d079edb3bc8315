"""Seed the demo tenant's incentive data (crediting rules, a quarter of activity, KPIs)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from core.management.base import TenantCommand
from incentives.demo import seed_demo
from incentives.models import Transaction


class Command(TenantCommand):
    help = (
        "Seed crediting rules and the last finished and the current quarter's transactions and "
        "KPI values (once)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--deals", type=int, default=600)

    def handle(self, *args: Any, **options: Any) -> None:
        if Transaction.objects.exists():
            self.stdout.write("incentive data already seeded")
            return
        result = seed_demo(deals=options["deals"])
        if "skipped" in result:
            self.stdout.write(f"incentive data not seeded: {result['skipped']}")
            return
        counts = result["transactions"]
        self.stdout.write(
            f"Seeded {counts.get('created', 0)} transactions for "
            f"{result['quarter']} ({counts.get('credits_written', 0)} credits) "
            f"and {result['kpi_values'].get('created', 0)} KPI values."
        )
