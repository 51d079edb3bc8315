"""Demo data for incentives: realistic cross-functional activity in the last finished quarter
and the current quarter to date (so the demo has a period to close and one still open).

Sales closes new business and expansion (some split, with Marketing/SDR/AE/CSM touches),
Marketing sources MQLs and SQLs, Customer Success renews and expands (and loses some accounts),
Support closes tickets, Product sees feature adoption; KPI values (CSAT per account, NRR per
CSM, adoption and OTIF for the company). Everything goes through the real import path, so the
demo also exercises validation, versioning and crediting. ``rows_for`` is the pure generator,
reused by benchmarks at any scale.
"""

# ruff: noqa: S311 (demo data is pseudo-random on purpose, with fixed seeds)
from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django.utils import timezone

from hierarchy.models import Assignment, Hierarchy, Node, Period, PeriodKind
from incentives import services
from incentives.models import CreditingRule, RuleKind

ACCOUNTS = [
    "Initech",
    "Globex",
    "Hooli",
    "Umbrella",
    "Stark Industries",
    "Wayne Enterprises",
    "Acme Corp",
    "Soylent",
    "Tyrell",
    "Cyberdyne",
    "Wonka",
    "Oscorp",
    "Aperture",
    "Massive Dynamic",
    "Vandelay",
    "Dunder Mifflin",
    "Pied Piper",
    "Prestige Worldwide",
]
PRODUCTS = ["Analytics Cloud", "Insights Pro", "Data Connectors", "Forecasting"]
REGIONS = ["NA", "EMEA", "APAC", "LATAM"]


def _people_in_role(name: str) -> list[str]:
    """Employee ids of the people who hold the job role ``name`` (known now)."""
    rows = Assignment.objects.known_now().filter(role__name=name)
    return sorted(set(rows.values_list("person__employee_id", flat=True)))


def _people_by_function() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    rows = (
        Assignment.objects.known_now()
        .values_list("role__function", "person__employee_id")
        .distinct()
    )
    # A set: the model's ordering joins the DISTINCT, so a person with several assignments
    # (a move mid-quarter, a dual role) came back once per assignment, and their KPI rows twice.
    unique: dict[str, set[str]] = {}
    for function, employee_id in rows:
        unique.setdefault(function, set()).add(employee_id)
    out.update({function: sorted(ids) for function, ids in unique.items()})
    return out


def rows_for(
    *,
    start: dt.date,
    days: int,
    sales: list[str],
    marketing: list[str],
    sdrs: list[str],
    csms: list[str],
    support: list[str],
    product: list[str],
    deals: int,
    seed: int = 2026,
    prefix: str = "",
    sdr_reps: list[str] | None = None,
    deal_amounts: tuple[int, int] = (5_000, 250_000),
    sql_rate: float = 0.35,
    sqls_to_sourcing_marketer: bool = False,
) -> Iterator[dict[str, Any]]:
    """Yield transaction rows (Quotient columns) for ``days`` from ``start``; external ids
    begin with ``prefix`` (one per seeded quarter, so two quarters' deals never collide).

    A deal's amount is drawn from ``deal_amounts`` (whole dollars, plus cents); a share
    ``sql_rate`` of the MQLs becomes an SQL, owned by an SDR or, with
    ``sqls_to_sourcing_marketer``, by the marketer whose MQL it was (so each marketer has a
    conversion rate of their own). The defaults are the benchmarks' data (their result hashes
    depend on them); the demo passes its own."""
    rng = random.Random(seed)

    def day() -> dt.date:
        return start + dt.timedelta(days=rng.randrange(days))

    for i in range(deals):
        kind = rng.choices(
            ["new_business", "expansion", "renewal", "churn"], weights=[50, 25, 20, 5]
        )[0]
        booked = day()
        owner = rng.choice(csms if kind in {"renewal", "churn"} and csms else sales)
        amount = Decimal(rng.randrange(*deal_amounts)) + Decimal(rng.randrange(100)) / 100
        if kind == "churn":
            amount = -amount / 4
        row: dict[str, Any] = {
            "source": "crm",
            "external_id": f"{prefix}OPP-{i:06d}",
            "kind": kind,
            "amount": str(amount.quantize(Decimal("0.01"))),
            "currency": "USD",
            "booked_on": booked.isoformat(),
            "owner_employee_id": owner,
            "account": rng.choice(ACCOUNTS),
            "product": rng.choice(PRODUCTS),
            "region": rng.choice(REGIONS),
        }
        if kind == "new_business" and len(sales) > 1 and rng.random() < 0.2:
            partner = rng.choice([s for s in sales if s != owner])
            share = rng.choice([50, 60, 70])
            row["splits"] = f"{owner}:{share};{partner}:{100 - share}"
        if kind in {"new_business", "expansion"} and marketing and sdrs:
            touches = [
                (rng.choice(marketing), "marketing", booked - dt.timedelta(days=40)),
                (rng.choice(sdrs), "sdr", booked - dt.timedelta(days=30)),
                (owner, "ae", booked - dt.timedelta(days=10)),
            ]
            if csms and rng.random() < 0.5:
                touches.append((rng.choice(csms), "csm", booked - dt.timedelta(days=2)))
            row["touches"] = ";".join(f"{p}:{r}:{d.isoformat()}" for p, r, d in touches)
        yield row
    for i in range(deals // 2 if marketing else 0):
        booked_on = day().isoformat()  # drawn before the owner, as always (the seeds' data)
        marketer = rng.choice(marketing)
        yield {
            "source": "marketing",
            "external_id": f"{prefix}MQL-{i:06d}",
            "kind": "mql",
            "amount": "0",
            "currency": "USD",
            "booked_on": booked_on,
            "owner_employee_id": marketer,
        }
        if rng.random() < sql_rate and sdrs:
            yield {
                "source": "marketing",
                "external_id": f"{prefix}SQL-{i:06d}",
                "kind": "sql",
                "amount": "0",
                "currency": "USD",
                "booked_on": day().isoformat(),
                "owner_employee_id": marketer if sqls_to_sourcing_marketer else rng.choice(sdrs),
            }
    # Sales development reps book qualified meetings; some become opportunities (pipeline);
    # product managers see product-qualified leads.
    for i in range(deals if sdr_reps else 0):
        owner = rng.choice(sdr_reps or [""])
        yield {
            "source": "crm",
            "external_id": f"{prefix}MTG-{i:06d}",
            "kind": "meeting",
            "amount": "0",
            "currency": "USD",
            "booked_on": day().isoformat(),
            "owner_employee_id": owner,
            "account": rng.choice(ACCOUNTS),
        }
        if rng.random() < 0.3:
            yield {
                "source": "crm",
                "external_id": f"{prefix}OPPTY-{i:06d}",
                "kind": "opportunity",
                "amount": f"{rng.randrange(20_000, 180_000)}.00",
                "currency": "USD",
                "booked_on": day().isoformat(),
                "owner_employee_id": owner,
                "account": rng.choice(ACCOUNTS),
            }
    for i in range(deals // 4 if product and sdr_reps else 0):
        yield {
            "source": "product",
            "external_id": f"{prefix}PQL-{i:06d}",
            "kind": "pql",
            "amount": "0",
            "currency": "USD",
            "booked_on": day().isoformat(),
            "owner_employee_id": rng.choice(product),
        }
    for i in range(deals if support else 0):
        yield {
            "source": "helpdesk",
            "external_id": f"{prefix}TCK-{i:06d}",
            "kind": "support_ticket",
            "amount": "0",
            "currency": "USD",
            "booked_on": day().isoformat(),
            "owner_employee_id": rng.choice(support),
            "account": rng.choice(ACCOUNTS),
        }
    for i in range(deals // 3 if product else 0):
        yield {
            "source": "product",
            "external_id": f"{prefix}ADOPT-{i:06d}",
            "kind": "feature_adoption",
            "amount": "0",
            "currency": "USD",
            "booked_on": day().isoformat(),
            "owner_employee_id": rng.choice(product),
            "product": rng.choice(PRODUCTS),
        }


# Team KPIs the template plans pay on, held by the demo org's department nodes.
NODE_KPIS = (
    ("vp-support", "csat", "0.93"),
    ("vp-support", "retained_revenue", "250000"),
    ("vp-operations", "scrap_cost", "185000"),
)


def _plan_kpis(
    quarter: Period, people: dict[str, list[str]], rng: random.Random
) -> list[dict[str, Any]]:
    """The person and team KPI values the seeded plans read: adoption and the launch milestone
    per product manager, on-time-in-full per operations analyst, CSAT and retained revenue for
    Support, scrap cost for Operations."""

    def row(kind: str, subject: str, metric: str, value: str) -> dict[str, Any]:
        return {
            "metric": metric,
            "subject_type": kind,
            "subject": subject,
            "period": quarter.label,
            "value": value,
            "source": "warehouse",
        }

    rows = [
        row("person", pm, metric, value)
        for pm in people.get("product", [])
        for metric, value in (
            ("adoption", f"{rng.uniform(0.45, 0.8):.4f}"),
            ("launched_on_time", "1" if rng.random() < 0.7 else "0"),
        )
    ]
    rows.extend(
        row("person", a, "otif", f"{rng.uniform(0.9, 0.99):.4f}")
        for a in people.get("operations", [])
    )
    nodes = set(Node.objects.values_list("code", flat=True))
    rows.extend(row("node", n, metric, value) for n, metric, value in NODE_KPIS if n in nodes)
    # Team CSAT per support team (the support plan reads its own team's, scope: node).
    rows.extend(
        row("node", n, "csat", f"{rng.uniform(0.86, 0.97):.4f}")
        for n in sorted(nodes)
        if n.startswith(("team-support-", "dir-support-"))
    )
    return rows


# The demo's deal sizes and MQL conversion, set so that its people land around their targets
# (the template plans' quotas and KPI targets): a typical AE near 100 % of a 300,000 quarterly
# new-business quota, a marketer near the plan's 25 % MQL -> SQL conversion.
DEMO_VOLUME: dict[str, Any] = {
    "deal_amounts": (4_000, 90_000),
    "sql_rate": 0.25,
    "sqls_to_sourcing_marketer": True,
}


def _marketing_pipeline(
    quarter: Period, *, until: dt.date, number: int, prefix: str
) -> Iterator[dict[str, Any]]:
    """The opportunities Demand Generation sourced in the quarter (inbound pipeline, owned by
    the marketer whose campaign produced them): three to seven each over a whole quarter at
    20,000-180,000, so a marketer is near the Marketing plan's 450,000 pipeline target; a
    quarter under way has its share so far."""
    rng = random.Random(4242 + number)
    days = max((min(quarter.end, until) - quarter.start).days, 1)
    full = (quarter.end - quarter.start).days
    for marketer in _people_in_role("Demand Generation"):
        for i in range(rng.randint(3, 7) * days // full):
            yield {
                "source": "marketing",
                "external_id": f"{prefix}INBOUND-{marketer}-{i + 1}",
                "kind": "opportunity",
                "amount": f"{rng.randrange(20_000, 180_000)}.00",
                "currency": "USD",
                "booked_on": (quarter.start + dt.timedelta(days=rng.randrange(days))).isoformat(),
                "owner_employee_id": marketer,
                "account": rng.choice(ACCOUNTS),
            }


def _launch_deliverables(
    quarter: Period, *, until: dt.date, number: int, prefix: str
) -> list[dict[str, Any]]:
    """The launch deliverables the shared launch milestone counts (``custom`` transactions),
    owned by people on the plan's roles: in the finished quarter both Marketing and Product
    deliver theirs (the milestone is hit); in the quarter under way Marketing has delivered
    and Product not yet."""
    owners = [("marketing", 2), ("product", 1)] if number == 0 else [("marketing", 1)]
    role_of = {"marketing": "Demand Generation", "product": "Product Manager"}
    rows = []
    for function, count in owners:
        for i, owner in enumerate(_people_in_role(role_of[function])[:count]):
            day = min(quarter.start + dt.timedelta(days=20 + 15 * i), until)
            rows.append(
                {
                    "source": "projects",
                    "external_id": f"{prefix}LAUNCH-{function.upper()}-{i + 1}",
                    "kind": "custom",
                    "amount": "0",
                    "currency": "USD",
                    "booked_on": day.isoformat(),
                    "owner_employee_id": owner,
                    "product": "Forecasting",
                }
            )
    return rows


def demo_quarters(today: dt.date) -> list[Period]:
    """The quarters the demo fills: the last one finished by ``today`` and the one under way."""
    quarters = list(Period.objects.filter(kind=PeriodKind.QUARTERLY).order_by("start"))
    done = [q for q in quarters if q.end <= today]
    current = [q for q in quarters if q.start < today < q.end]
    if not done:
        return quarters[:1]
    return [done[-1], *current]


def seed_demo(*, deals: int = 600) -> dict[str, Any]:
    """Seed crediting rules and, for the last finished quarter and the current quarter to date,
    transactions and KPI values; idempotent (external ids are per quarter)."""
    today = timezone.localdate()
    quarters = demo_quarters(today)
    if not quarters:
        return {"skipped": "no periods"}
    people = _people_by_function()
    sales = people.get("sales", [])
    if not sales:
        return {"skipped": "no sales people"}
    _seed_rules()
    _seed_fx_rates(quarters)
    seeded = [
        _seed_quarter(q, people, deals=deals, until=today, number=i) for i, q in enumerate(quarters)
    ]
    created = sum(s["transactions"].get("created", 0) for s in seeded)
    credits = sum(s["transactions"].get("credits_written", 0) for s in seeded)
    kpis = sum(s["kpi_values"].get("created", 0) for s in seeded)
    return {
        "quarter": " and ".join(s["quarter"] for s in seeded),
        "transactions": {"created": created, "credits_written": credits},
        "kpi_values": {"created": kpis},
        "quarters": seeded,
    }


# Rates into USD (the demo tenant's currency) for the currencies its EMEA and APAC people are
# paid in (``hierarchy.generator.REGION_CURRENCY``), one per quarter: the executive page and the
# accruals convert their lines with them.
DEMO_FX_RATES: dict[str, tuple[str, ...]] = {
    "EUR": ("1.0815", "1.0870", "1.0930"),
    "AUD": ("0.6570", "0.6610", "0.6540"),
}


def _seed_fx_rates(quarters: list[Period]) -> None:
    """Record a rate per quarter (from its first day) for each currency of ``DEMO_FX_RATES``."""
    for currency, rates in DEMO_FX_RATES.items():
        for i, quarter in enumerate(quarters):
            services.fx_rate_set(
                currency=currency,
                quote_currency="USD",
                valid_on=quarter.start,
                rate=Decimal(rates[i % len(rates)]),
            )


def _seed_rules() -> None:
    start = dt.date(2020, 1, 1)
    if CreditingRule.objects.exists():
        return
    services.crediting_rule_create(
        name="Deal splits", kind=RuleKind.SPLIT, priority=10, valid_from=start
    )
    services.crediting_rule_create(
        name="Deal owner", kind=RuleKind.DIRECT, priority=20, valid_from=start
    )
    services.crediting_rule_create(
        name="Pipeline attribution (W-shaped)",
        kind=RuleKind.ATTRIBUTION,
        priority=30,
        valid_from=start,
        transaction_kinds=["new_business", "expansion"],
        config={"model": "w_shaped", "roles": ["marketing", "sdr", "ae", "csm"]},
    )
    reporting = Hierarchy.objects.filter(kind="reporting").order_by("id").first()
    if reporting is not None:
        services.crediting_rule_create(
            name="Manager roll-up",
            kind=RuleKind.ROLLUP,
            priority=90,
            valid_from=start,
            config={"hierarchy": reporting.code},
        )


def quarter_kpis(
    quarter: Period, people: dict[str, list[str]], rng: random.Random
) -> list[dict[str, Any]]:
    """The quarter's KPI values: CSAT per account, NRR per CSM, the company-wide KPIs and the
    person and team KPIs the seeded plans read."""
    kpis: list[dict[str, Any]] = [
        {
            "metric": "csat",
            "subject_type": "account",
            "subject": account,
            "period": quarter.label,
            "value": f"{rng.uniform(3.6, 4.9):.2f}",
            "source": "survey",
        }
        for account in ACCOUNTS
    ]
    kpis.extend(
        {
            "metric": "nrr",
            "subject_type": "person",
            "subject": csm,
            "period": quarter.label,
            "value": f"{rng.uniform(0.92, 1.25):.4f}",
            "source": "billing",
        }
        for csm in people.get("customer_success", [])
    )
    for metric, value in (
        ("adoption_rate", "0.6320"),
        ("otif", "0.9510"),
        ("first_pass_yield", "0.9740"),
        ("pipeline_velocity", "18250.00"),
    ):
        kpis.append(
            {
                "metric": metric,
                "subject_type": "tenant",
                "period": quarter.label,
                "value": value,
                "source": "warehouse",
            }
        )
    kpis.extend(_plan_kpis(quarter, people, rng))
    return kpis


def _seed_quarter(
    quarter: Period, people: dict[str, list[str]], *, deals: int, until: dt.date, number: int
) -> dict[str, Any]:
    """One quarter's deals, leads, tickets and adoption (to ``until`` if it is under way) and
    its KPI values. The first quarter's external ids are unprefixed (as the demo always had
    them), a later one's begin with its label."""
    prefix = "" if number == 0 else quarter.label.replace(" ", "-") + "-"
    days = (min(quarter.end, until) - quarter.start).days
    full = (quarter.end - quarter.start).days
    sales = people.get("sales", [])
    rows = list(
        rows_for(
            start=quarter.start,
            days=max(days, 1),
            sales=sales,
            marketing=people.get("marketing", []),
            sdrs=people.get("marketing", [])[:3] or sales,
            csms=people.get("customer_success", []),
            support=people.get("support", []),
            product=people.get("product", []),
            deals=max(deals * days // full, 1),
            seed=2026 + number,
            prefix=prefix,
            sdr_reps=_people_in_role("Sales Development Rep"),
            **DEMO_VOLUME,
        )
    )
    rows.extend(_marketing_pipeline(quarter, until=until, number=number, prefix=prefix))
    rows.extend(_launch_deliverables(quarter, until=until, number=number, prefix=prefix))
    batch = services.ingest_rows(
        request=services.IngestRequest(kind="transactions", source_format="json", mode="partial"),
        rows=rows,
        created_by_id=None,
    )
    kpis = quarter_kpis(quarter, people, random.Random(7 + number))
    kpi_batch = services.ingest_rows(
        request=services.IngestRequest(kind="kpi_values", source_format="json", mode="partial"),
        rows=kpis,
        created_by_id=None,
    )
    return {"quarter": quarter.label, "transactions": batch.counts, "kpi_values": kpi_batch.counts}
