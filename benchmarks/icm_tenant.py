"""ICM-1M in PostgreSQL: the demo company at scale, built through the product's own paths.

:func:`build` fills the current tenant (call it inside ``tenant_scope``) the way a customer's
first month would, only bigger:

* the org: ``hierarchy.generator.generate_company`` with ``payees`` people in three hierarchies
  (reporting, business unit, region), mid-quarter transfers and dual roles, set-based;
* the plans: the ten templates published and assigned to their job roles, with every quota
  their samples name for each person (``plans.demo.seed_plans``, the demo's own seed);
* the data: the crediting rules of the demo (owner, splits, W-shaped pipeline attribution,
  manager roll-up) and one finished quarter of deals, leads, meetings, tickets and adoption
  events (``incentives.demo.rows_for``) scaled to ~``transactions`` rows, imported through the
  import service (its set-based path) in chunks, plus the quarter's KPI values.

The payout run then reads all of it from PostgreSQL as it reads a customer's. Building takes
minutes at 10k payees and 1M transactions; ``figures`` says how long each step took.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field
from typing import Any

# rows_for yields per deal: 1 deal + 0.5 MQL (+35 % SQL) + 1 meeting (+30 % opportunity)
# + 0.25 PQL + 1 ticket + 1/3 adoption event.
ROWS_PER_DEAL = 1 + 0.5 + 0.5 * 0.35 + 1 + 0.3 + 0.25 + 1 + 1 / 3
IMPORT_CHUNK = 200_000


@dataclass
class Built:
    period_id: int
    people: int
    transactions: int
    credits: int
    figures: dict[str, float] = field(default_factory=dict)


def build(*, payees: int = 10_000, transactions: int = 1_000_000, seed: int = 2026) -> Built:
    """Build the org, plans, quotas, rules and one quarter of data; return the quarter."""
    from core.tenancy import get_current_tenant
    from hierarchy import periods
    from hierarchy.generator import generate_company
    from incentives import demo as incentives_demo
    from incentives import services
    from incentives.models import Credit
    from plans import demo as plans_demo

    tenant = get_current_tenant()
    figures: dict[str, float] = {}
    start = time.perf_counter()
    today = periods.tenant_today(tenant)
    this_year = periods.fiscal_year_of(tenant, today)
    for year in (this_year - 1, this_year):
        periods.period_generate_fiscal_year(fiscal_year=year)
    fy_start, _ = periods.fiscal_year_bounds(tenant, this_year - 1)
    generate_company(people=payees, start=fy_start, seed=seed, email_domain="icm.test")
    figures["org_s"] = time.perf_counter() - start

    start = time.perf_counter()
    plans_demo.seed_plans()
    figures["plans_s"] = time.perf_counter() - start

    start = time.perf_counter()
    incentives_demo._seed_rules()
    quarter = benchmark_quarter()
    people = incentives_demo._people_by_function()
    deals = max(1, math.ceil(transactions / ROWS_PER_DEAL))
    rows = incentives_demo.rows_for(
        start=quarter.start,
        days=(quarter.end - quarter.start).days,
        sales=people.get("sales", []),
        marketing=people.get("marketing", []),
        sdrs=people.get("marketing", [])[:3] or people.get("sales", []),
        csms=people.get("customer_success", []),
        support=people.get("support", []),
        product=people.get("product", []),
        deals=deals,
        seed=seed,
        sdr_reps=incentives_demo._people_in_role("Sales Development Rep"),
    )
    imported = 0
    chunk: list[dict[str, Any]] = []
    request = services.IngestRequest(kind="transactions", source_format="json", mode="partial")
    for row in rows:
        chunk.append(row)
        if len(chunk) == IMPORT_CHUNK:
            imported += _import(services, request, chunk)
            chunk = []
    if chunk:
        imported += _import(services, request, chunk)
    figures["transactions_s"] = time.perf_counter() - start

    start = time.perf_counter()
    kpis = incentives_demo.quarter_kpis(quarter, people, random.Random(seed))
    services.ingest_rows(
        request=services.IngestRequest(kind="kpi_values", source_format="json", mode="partial"),
        rows=kpis,
        created_by_id=None,
    )
    figures["kpis_s"] = time.perf_counter() - start
    credits = Credit.objects.filter(
        credit_date__gte=quarter.start, credit_date__lt=quarter.end, superseded_at__isnull=True
    ).count()
    return Built(quarter.pk, payees, imported, credits, figures)


def benchmark_quarter() -> Any:
    """The quarter the data fills: the last one finished this fiscal year (else the first)."""
    from core.tenancy import get_current_tenant
    from hierarchy import periods
    from hierarchy.models import Period, PeriodKind

    tenant = get_current_tenant()
    today = periods.tenant_today(tenant)
    year_start, _ = periods.fiscal_year_bounds(tenant, periods.fiscal_year_of(tenant, today))
    quarters = list(Period.objects.filter(kind=PeriodKind.QUARTERLY).order_by("start"))
    done = [q for q in quarters if year_start <= q.start and q.end <= today]
    return done[-1] if done else quarters[0]


def _import(services: Any, request: Any, rows: list[dict[str, Any]]) -> int:
    batch = services.ingest_rows(request=request, rows=rows, created_by_id=None)
    if batch.status != "committed":
        raise RuntimeError(f"import failed: {batch.message}")
    return int(batch.counts.get("created", 0))
