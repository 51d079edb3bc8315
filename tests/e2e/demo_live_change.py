"""Change the demo employee's pay in the open quarter, for the browser test of live pages: two
meetings of hers are imported and the quarter calculated again (the demo's SQLite has no live
runs: a full run is what moves its figures). Prints the new run's id.

Run as ``manage.py shell -c "from tests.e2e.demo_live_change import main; main()"``.
"""

from __future__ import annotations

import datetime as dt
import uuid

from core.models import Tenant
from core.tenancy import tenant_scope
from hierarchy import periods
from hierarchy.models import Person
from incentives import services as incentives
from payouts import runs
from payouts.models import CalculationRun


def main() -> None:
    with tenant_scope(Tenant.objects.get(slug="demo")):
        emma = Person.objects.get(user__email="employee@demo.quotient.dev")
        period = CalculationRun.objects.filter(period__status="calculated").latest("id").period
        today = periods.tenant_today(emma.tenant)  # the tenant's date: UTC's may be tomorrow
        day = max(period.start, min(today, period.end - dt.timedelta(days=1)))
        rows = [
            {
                "external_id": f"LIVE-E2E-{uuid.uuid4().hex[:8]}",
                "kind": "meeting",
                "amount": "0.00",
                "currency": "USD",
                "booked_on": day.isoformat(),
                "owner_employee_id": emma.employee_id,
                "account": "Live test",
            }
            for _ in range(2)
        ]
        batch = incentives.ingest_rows(
            request=incentives.IngestRequest(kind="transactions", source_format="json"),
            rows=rows,
            created_by_id=None,
        )
        assert batch.status == "committed", batch.message
        run = runs.run_start(period_id=period.pk, trigger="page", user_id=None)
        print(run.pk, run.status)  # noqa: T201
