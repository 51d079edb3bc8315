"""Compute the demo quarters: the finished one approved and closed, the current one open."""

from __future__ import annotations

from typing import Any

from core.management.base import TenantCommand
from core.templatetags.quotient import money
from core.tenancy import get_current_tenant
from payouts.demo import seed_payouts
from payouts.disputes import demo_disputes


class Command(TenantCommand):
    help = "Run the demo quarters' calculations; approve and close the finished one (once)."

    def handle(self, *args: Any, **options: Any) -> None:
        result = seed_payouts()
        if "skipped" in result:
            self.stdout.write(f"payouts not seeded: {result['skipped']}")
        for p in result.get("periods", []):
            totals = ", ".join(
                money(amount, cur).replace("\u00a0", " ")
                for cur, amount in sorted(p["totals"].items())
            )
            self.stdout.write(
                f"Calculated {p['period']} ({p['state']}): {p['lines']} lines, {totals}."
            )
        if result.get("objectives"):
            self.stdout.write(f"Set {result['objectives']} demo objectives (MBOs).")
        # --- disputes (payouts/disputes.py): a few questions, so the pages have content ---
        raised = demo_disputes(get_current_tenant())
        if raised:
            self.stdout.write(f"Raised {raised} demo questions about pay.")
