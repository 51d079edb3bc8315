"""Build a realistic cross-functional company in the current tenant, for the demo and for scale.

Three hierarchies at once — reporting (CEO → function VPs → business-unit directors → teams of
~8 with a manager), business unit and region — with job roles across Sales, Marketing,
Customer Success, Support, Product and Operations. Some people transfer team mid-quarter,
some hold a 60/40 dual role, and one team moves under another director mid-quarter.

Everything is written set-based (``bulk_create`` in chunks; the closure through
:func:`closure_rebuild`), deterministically from ``seed``: 300 people take well under a
second, 100k people about a minute on PostgreSQL.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from core.audit import audit_record
from core.tenancy import get_current_tenant
from hierarchy.models import (
    Assignment,
    Hierarchy,
    HierarchyKind,
    JobFunction,
    JobRole,
    Node,
    NodeParent,
    Person,
)
from hierarchy.people import closure_rebuild
from hierarchy.periods import _add_months
from hierarchy.versions import person_versions_record

CHUNK = 5000
TEAM_SIZE = 8

# function: (share of headcount, VP title, [(role, share within function)], manager role)
FUNCTIONS: dict[str, tuple[float, list[tuple[str, float]], str]] = {
    JobFunction.SALES: (
        0.34,
        [("Account Executive", 0.55), ("Sales Development Rep", 0.3), ("Sales Engineer", 0.15)],
        "Sales Manager",
    ),
    JobFunction.MARKETING: (
        0.12,
        [("Demand Generation", 0.45), ("Product Marketing", 0.3), ("Field Marketing", 0.25)],
        "Marketing Manager",
    ),
    JobFunction.CUSTOMER_SUCCESS: (
        0.16,
        [("Customer Success Manager", 0.7), ("Renewals Manager", 0.3)],
        "Customer Success Lead",
    ),
    JobFunction.SUPPORT: (0.14, [("Support Engineer", 1.0)], "Support Manager"),
    JobFunction.PRODUCT: (
        0.14,
        [("Product Manager", 0.6), ("Product Designer", 0.4)],
        "Group Product Manager",
    ),
    JobFunction.OPERATIONS: (
        0.10,
        [("Revenue Operations Analyst", 0.6), ("Deal Desk Specialist", 0.4)],
        "Operations Manager",
    ),
}
FUNCTION_NAMES: dict[str, str] = {
    JobFunction.SALES: "Sales",
    JobFunction.MARKETING: "Marketing",
    JobFunction.CUSTOMER_SUCCESS: "Customer Success",
    JobFunction.SUPPORT: "Support",
    JobFunction.PRODUCT: "Product",
    JobFunction.OPERATIONS: "Operations",
}
BUSINESS_UNITS = ["Cloud Platform", "Analytics", "Security", "Professional Services"]
REGIONS = {
    "AMER": ["North America East", "North America West", "Latin America"],
    "EMEA": ["UK & Ireland", "DACH", "Nordics", "Southern Europe"],
    "APAC": ["ANZ", "Japan", "Southeast Asia"],
}
REGION_CURRENCY = {"AMER": "USD", "EMEA": "EUR", "APAC": "AUD"}
FIRST = [
    "Ada",
    "Alan",
    "Amara",
    "Ben",
    "Bea",
    "Carlos",
    "Chen",
    "Chloe",
    "Dana",
    "Dev",
    "Elena",
    "Emil",
    "Fatima",
    "Felix",
    "Grace",
    "Gustavo",
    "Hana",
    "Ivan",
    "Iris",
    "Jamal",
    "Jin",
    "Julia",
    "Kai",
    "Kofi",
    "Lena",
    "Liam",
    "Maya",
    "Mateo",
    "Nadia",
    "Noah",
    "Olga",
    "Omar",
    "Priya",
    "Quinn",
    "Rafael",
    "Rosa",
    "Sam",
    "Sofia",
    "Tariq",
    "Tess",
    "Uma",
    "Victor",
    "Wen",
    "Xavier",
    "Yara",
    "Yusuf",
    "Zoe",
]
LAST = [
    "Abbott",
    "Ahmed",
    "Bauer",
    "Becker",
    "Castro",
    "Chen",
    "Costa",
    "Diaz",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Gupta",
    "Haddad",
    "Hansen",
    "Ito",
    "Jensen",
    "Kim",
    "Kowalski",
    "Larsen",
    "Lopez",
    "Martin",
    "Meyer",
    "Moreau",
    "Nakamura",
    "Nguyen",
    "Novak",
    "Okafor",
    "Olsen",
    "Patel",
    "Perez",
    "Rossi",
    "Sato",
    "Schmidt",
    "Silva",
    "Singh",
    "Smith",
    "Suzuki",
    "Tanaka",
    "Torres",
    "Weber",
    "Williams",
    "Wong",
    "Yilmaz",
    "Zhang",
]


@dataclass
class Company:
    """What was generated, for callers that want to point at parts of it."""

    people: int = 0
    nodes: int = 0
    assignments: int = 0
    transfers: int = 0
    dual_roles: int = 0
    team_moves: int = 0
    hierarchies: dict[str, int] = field(default_factory=dict)
    sales_team_node_id: int | None = None
    sales_team_manager_id: int | None = None
    sales_team_member_id: int | None = None
    ceo_id: int | None = None


def _bulk(model: type, rows: list, batch: int = CHUNK) -> None:  # type: ignore[type-arg]
    for i in range(0, len(rows), batch):
        model.objects.bulk_create(rows[i : i + batch])  # type: ignore[attr-defined]


@transaction.atomic
def generate_company(
    *,
    people: int,
    start: date,
    seed: int = 7,
    employee_prefix: str = "E",
    email_domain: str = "example.com",
    code_prefix: str = "",
) -> Company:
    """Create ~``people`` people with their org in three hierarchies from ``start``.

    Mid-quarter events fall in the quarter starting at ``start + 12 months`` (the "current"
    year when ``start`` is the first day of last fiscal year): transfers on day 45, a team
    moving under another director on day 46, dual roles from day 60.
    """
    rng = random.Random(seed)  # noqa: S311 (demo data, not secrets)
    tenant = get_current_tenant()
    now = timezone.now()
    out = Company()
    year = _add_months(start, 12)
    transfer_day = year + timedelta(days=45)
    dual_day = year + timedelta(days=60)

    # Hierarchies and job roles ------------------------------------------------------------
    hierarchies = {
        "reporting": Hierarchy(
            tenant=tenant,
            code=f"{code_prefix}reporting",
            name="Reporting lines",
            kind=HierarchyKind.REPORTING,
        ),
        "bu": Hierarchy(
            tenant=tenant,
            code=f"{code_prefix}business-unit",
            name="Business units",
            kind=HierarchyKind.BUSINESS_UNIT,
        ),
        "region": Hierarchy(
            tenant=tenant,
            code=f"{code_prefix}region",
            name="Sales regions",
            kind=HierarchyKind.REGION,
        ),
    }
    _bulk(Hierarchy, list(hierarchies.values()))
    out.hierarchies = {k: h.pk for k, h in hierarchies.items()}
    existing_roles = {r.name: r for r in JobRole.objects.all()}
    roles: dict[str, JobRole] = {}
    wanted_roles: list[tuple[str, str]] = [("Chief Executive Officer", JobFunction.MANAGEMENT)]
    for function, (_share, mix, manager_role) in FUNCTIONS.items():
        wanted_roles += [(name, function) for name, _s in mix]
        wanted_roles += [(manager_role, function), (f"VP {FUNCTION_NAMES[function]}", function)]
        wanted_roles.append((f"Director, {FUNCTION_NAMES[function]}", function))
    new_roles = []
    for name, function in wanted_roles:
        if name in existing_roles:
            roles[name] = existing_roles[name]
        else:
            roles[name] = JobRole(tenant=tenant, name=name, function=function)
            new_roles.append(roles[name])
    _bulk(JobRole, new_roles)

    # Nodes --------------------------------------------------------------------------------
    nodes: list[Node] = []
    links: list[tuple[Node, Node | None]] = []

    def node(h: str, code: str, name: str, parent: Node | None) -> Node:
        n = Node(tenant=tenant, hierarchy=hierarchies[h], code=code, name=name)
        nodes.append(n)
        links.append((n, parent))
        return n

    n_bu = max(2, min(len(BUSINESS_UNITS), people // 150)) if people < 20_000 else 0
    bu_names = (
        BUSINESS_UNITS[:n_bu]
        if n_bu
        else [f"Business Unit {i + 1}" for i in range(max(4, people // 5000))]
    )
    bu_root = node("bu", "company", "All business units", None)
    bu_nodes = [node("bu", f"bu-{i + 1}", name, bu_root) for i, name in enumerate(bu_names)]
    region_root = node("region", "world", "Worldwide", None)
    geos = {g: node("region", g.lower(), g, region_root) for g in REGIONS}
    region_leaves = [
        (g, node("region", f"{g.lower()}-{i + 1}", name, geos[g]))
        for g, names in REGIONS.items()
        for i, name in enumerate(names)
    ]
    root = node("reporting", "ceo", "Office of the CEO", None)
    vps: dict[str, Node] = {}
    directors: dict[tuple[str, int], Node] = {}
    teams: list[tuple[str, int, Node]] = []
    budget = max(people - 1, 1)
    for function, (share, _mix, _mgr) in FUNCTIONS.items():
        fname = FUNCTION_NAMES[function]
        vps[function] = node("reporting", f"vp-{function}", fname, root)
        headcount = max(1, round(budget * share))
        n_teams = max(1, round(headcount / (TEAM_SIZE + 1)))
        for b in range(len(bu_nodes)):
            directors[(function, b)] = node(
                "reporting", f"dir-{function}-{b + 1}", f"{fname} · {bu_names[b]}", vps[function]
            )
        for t in range(n_teams):
            b = t % len(bu_nodes)
            team = node(
                "reporting",
                f"team-{function}-{t + 1}",
                f"{fname} team {t + 1} ({bu_names[b]})",
                directors[(function, b)],
            )
            teams.append((function, b, team))
    _bulk(Node, nodes)
    _bulk(
        NodeParent,
        [
            NodeParent(tenant=tenant, node=n, parent=p, valid_from=start, recorded_at=now)
            for n, p in links
        ],
    )
    out.nodes = len(nodes)

    # People and assignments ---------------------------------------------------------------
    persons: list[Person] = []
    plan: list[tuple[Person, Node, JobRole, bool, str, int]] = []  # reporting placements

    def person(title: str, function: str, bu: int) -> Person:
        i = len(persons) + 1
        first, last = rng.choice(FIRST), rng.choice(LAST)
        geo, _leaf = region_leaves[rng.randrange(len(region_leaves))]
        hire = start - timedelta(days=rng.randrange(30, 2500))
        p = Person(
            tenant=tenant,
            employee_id=f"{employee_prefix}{i:06d}",
            full_name=f"{first} {last}",
            email=f"{first}.{last}.{i}@{email_domain}".lower(),
            hire_date=hire,
            home_currency=REGION_CURRENCY[geo],
            base_salary=Decimal(rng.randrange(60, 220) * 1000),
            attributes={
                "level": f"L{rng.randint(2, 7)}",
                "location": geo,
                "cost_centre": f"CC-{function[:3].upper()}-{bu + 1}",
                "title": title,
            },
        )
        persons.append(p)
        return p

    ceo = person("Chief Executive Officer", JobFunction.MANAGEMENT, 0)
    plan.append((ceo, root, roles["Chief Executive Officer"], True, "", 0))
    for function, vp_node in vps.items():
        fname = FUNCTION_NAMES[function]
        vp = person(f"VP {fname}", function, 0)
        plan.append((vp, vp_node, roles[f"VP {fname}"], True, function, 0))
    for (function, b), d in directors.items():
        role = roles[f"Director, {FUNCTION_NAMES[function]}"]
        plan.append((person(role.name, function, b), d, role, True, function, b))
    remaining = people - len(persons)
    # Team counts are already proportional to each function's share: fill teams uniformly.
    per_team = [0] * len(teams)
    for index in rng.choices(range(len(teams)), k=max(0, remaining)):
        per_team[index] += 1
    for (function, b, team), size in zip(teams, per_team, strict=True):
        _share, mix, manager_role = FUNCTIONS[function]
        if size == 0:
            continue
        lead = person(manager_role, function, b)
        plan.append((lead, team, roles[manager_role], True, function, b))
        for _ in range(size - 1):
            role_name = rng.choices([r for r, _s in mix], weights=[s for _r, s in mix])[0]
            plan.append(
                (person(role_name, function, b), team, roles[role_name], False, function, b)
            )
    _bulk(Person, persons)
    person_versions_record(persons, moment=now)
    out.people = len(persons)
    out.ceo_id = ceo.pk

    assignments: list[Assignment] = []

    def assign(
        p: Person,
        n: Node,
        role: JobRole,
        *,
        manager: bool = False,
        frm: date | None = None,
        to: date | None = None,
        pct: int = 100,
    ) -> None:
        assignments.append(
            Assignment(
                tenant=tenant,
                person=p,
                node=n,
                role=role,
                title=str(p.attributes.get("title", "")),
                allocation_pct=Decimal(pct),
                is_manager=manager,
                valid_from=max(frm or start, p.hire_date),
                valid_to=to,
                recorded_at=now,
            )
        )

    teams_by_function: dict[str, list[Node]] = {}
    for function, _b, team in teams:
        teams_by_function.setdefault(function, []).append(team)
    director_ids = {d.pk for d in directors.values()}
    top_ids = {root.pk} | {v.pk for v in vps.values()}
    leaves_by_geo: dict[str, list[Node]] = {}
    for g, leaf in region_leaves:
        leaves_by_geo.setdefault(g, []).append(leaf)
    for p, n, role, manager, function, b in plan:
        roll = rng.random()
        siblings = teams_by_function.get(function, [])
        if not manager and roll < 0.03 and len(siblings) > 1:
            # A mid-quarter transfer to another team of the same function.
            other = n
            while other is n:
                other = rng.choice(siblings)
            assign(p, n, role, to=transfer_day)
            assign(p, other, role, frm=transfer_day)
            out.transfers += 1
        elif (
            not manager
            and roll < 0.15
            and function
            in {
                JobFunction.MARKETING,
                JobFunction.PRODUCT,
            }
        ):
            # A dual role: 60 % here, 40 % in a Marketing/Product team, from mid-quarter.
            partner_function = (
                JobFunction.MARKETING if function == JobFunction.PRODUCT else JobFunction.PRODUCT
            )
            partner_team = rng.choice(teams_by_function[partner_function])
            partner_role = roles[FUNCTIONS[partner_function][1][0][0]]
            assign(p, n, role, to=dual_day)
            assign(p, n, role, frm=dual_day, pct=60)
            assign(p, partner_team, partner_role, frm=dual_day, pct=40)
            out.dual_roles += 1
        else:
            assign(p, n, role, manager=manager)
        # Leaders of the whole company sit at the top of the business-unit tree; directors
        # manage their unit there too.
        bu_node = bu_root if n.pk in top_ids else bu_nodes[b]
        assign(p, bu_node, role, manager=n.pk in director_ids or n.pk == root.pk)
        assign(p, rng.choice(leaves_by_geo[str(p.attributes["location"])]), role)
    _bulk(Assignment, assignments)
    out.assignments = len(assignments)

    # One team moves under another business unit's director mid-quarter ---------------------
    sales_teams = [(b, t) for f, b, t in teams if f == JobFunction.SALES]
    if len(bu_nodes) > 1 and len(sales_teams) > 1:
        b, moving = sales_teams[-1]
        target = directors[(JobFunction.SALES, (b + 1) % len(bu_nodes))]
        link = NodeParent.objects.known_now().get(node=moving)
        NodeParent.objects.filter(pk=link.pk).update(superseded_at=now)
        NodeParent.objects.bulk_create(
            [
                NodeParent(
                    tenant=tenant,
                    node=moving,
                    parent=link.parent,
                    valid_from=start,
                    valid_to=transfer_day + timedelta(days=1),
                    recorded_at=now,
                ),
                NodeParent(
                    tenant=tenant,
                    node=moving,
                    parent=target,
                    valid_from=transfer_day + timedelta(days=1),
                    recorded_at=now,
                ),
            ]
        )
        out.team_moves = 1
    for h in hierarchies.values():
        closure_rebuild(hierarchy_id=h.pk)

    first_sales = next(t for f, _b, t in teams if f == JobFunction.SALES)
    out.sales_team_node_id = first_sales.pk
    staff = [(p, m) for p, n, _r, m, _f, _b in plan if n is first_sales]
    out.sales_team_manager_id = next(p.pk for p, m in staff if m)
    out.sales_team_member_id = next((p.pk for p, m in staff if not m), None)
    audit_record(
        action="org.generate",
        object_type="hierarchy.hierarchy",
        after={
            "people": out.people,
            "nodes": out.nodes,
            "assignments": out.assignments,
            "transfers": out.transfers,
            "dual_roles": out.dual_roles,
            "seed": seed,
        },
    )
    return out
