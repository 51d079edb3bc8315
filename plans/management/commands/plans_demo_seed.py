"""Seed the demo tenant's plans: one per template, published and assigned to its job role."""

from __future__ import annotations

from typing import Any

from core.management.base import TenantCommand
from plans.demo import seed_plans


class Command(TenantCommand):
    help = "Create, publish and assign one plan per template, and their quotas (once)."

    def handle(self, *args: Any, **options: Any) -> None:
        result = seed_plans()
        if "skipped" in result:
            self.stdout.write(result["skipped"])
            if result.get("quotas"):
                self.stdout.write(f"Seeded {result['quotas']} quotas.")
            return
        self.stdout.write(
            f"Seeded {result['plans']} plans from the templates, published from "
            f"{result['from']}, {result['assignments']} assigned to their job roles, "
            f"{result['quotas']} quotas for the people on them."
        )
