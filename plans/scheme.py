"""The scheme view: the tenant's plans on one day as a map of who is on what and which plan
depends on which other team's metric, so a cross-team dependency is visible before it pays or
blocks anyone.

:func:`scheme_get` reads, for ``day``: every published version in force of every plan not
archived, who is on each (by name, by job role, or by working in an assigned node's subtree,
as ``plans.selectors.plan_people`` resolves it) counted by team (node) and job role, and the
dependencies :func:`plans.dependencies.spec_dependencies` finds in each spec (gates on another
team's or person's metric, team pools and shared milestones, pools on a node's KPI, overrides
on other plans' pay, shared MBOs). Each dependency names who produces what it reads: the team's
people and the plans they are on. Warnings: a metric nobody is assigned to produce (an unknown
team or person, a team with nobody in it, a plan not in force), a plan nobody is on, and a
cycle of plans each waiting on the next.

People are counted, never named; a node-limited principal counts only the people she may see.
The reads are a fixed number of queries whatever the number of plans or people.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from django.db.models import Q

from hierarchy import org_selectors
from hierarchy.access import Access
from hierarchy.models import Assignment, JobFunction, JobRole, Node, NodeClosure
from plans.dependencies import (
    GATE,
    MBO,
    ON_NODE,
    ON_PARTICIPANTS,
    ON_PERSON,
    ON_PLAN,
    OVERRIDE,
    POOL,
    SHARED_MILESTONE,
    TEAM_POOL,
    Dependency,
    spec_dependencies,
)
from plans.models import PlanAssignment, PlanVersion, VersionStatus

NOBODY_PRODUCES = "nobody is assigned to produce it"
NO_ASSIGNEES = "{plan} has nobody on it on {day}."
UNKNOWN_TEAM = "no team {ref!r} exists"
UNKNOWN_PERSON = "no person {ref!r} exists"
PLAN_NOT_IN_FORCE = "plan {ref!r} has no published version in force on {day}"
CYCLE = "Dependency cycle: {path}: each waits on the next one's people or pay."


@dataclass(frozen=True)
class SchemePlan:
    plan_id: int
    code: str
    name: str
    version_number: int
    people: int
    by_team: list[tuple[str, int]]  # (team name, people), most first
    by_role: list[tuple[str, int]]  # (job role name, people), most first


@dataclass(frozen=True)
class SchemeEdge:
    plan_id: int
    plan: str
    component_id: str
    component: str
    kind: str
    kind_label: str
    on: str  # node, person, plan or participants
    target_ref: str
    target: str  # the team's, person's or plan's name ("" for participants)
    target_plan_id: int | None  # ON_PLAN: the plan whose pay is read
    measure: str
    producers: int  # the people who produce the metric (or the pay) read
    producer_plans: list[tuple[str, int]]  # (plan name, producers on it)
    sentence: str
    warning: str = ""


@dataclass(frozen=True)
class Scheme:
    day: dt.date
    plans: list[SchemePlan]
    edges: list[SchemeEdge]
    warnings: list[str] = field(default_factory=list)
    cycles: list[list[str]] = field(default_factory=list)

    @property
    def teams(self) -> list[str]:
        """Every team someone on a plan works in, or a dependency reads, in first-seen order."""
        names = [t for p in self.plans for t, _n in p.by_team]
        names += [e.target for e in self.edges if e.on == ON_NODE and not e.warning]
        return list(dict.fromkeys(names))


def _possessive(name: str) -> str:
    return f"{name}'" if name.endswith("s") else f"{name}'s"


def _people_words(n: int) -> str:
    return f"{n} {'person' if n == 1 else 'people'}"


def _sentence(dep: Dependency, plan: str, target: str, produced: str) -> str:
    what = f"{plan} · {dep.component_name}"
    measure = dep.measure.replace("_", " ")
    if dep.kind == GATE:
        return f"{what} is gated on {_possessive(target)} {measure} ({produced})"
    if dep.kind == TEAM_POOL:
        return f"{what} pays a pool when {target} hits its {measure} milestone ({produced})"
    if dep.kind == SHARED_MILESTONE:
        return (
            f"{what} is a shared milestone: {target} must hit its {measure} milestone, as every "
            f"listed team must ({produced})"
        )
    if dep.kind == POOL:
        return f"{what} pays a share of {_possessive(target)} {measure} ({produced})"
    if dep.kind == OVERRIDE:
        of = dep.of_component.replace("_", " ")
        return f"{what} pays on the earned {of} of {target} ({produced})"
    return f"{what} shares its objectives ({produced})"


def _cycles(graph: Mapping[int, set[int]]) -> list[list[int]]:
    """Return the strongly connected groups of more than one plan (Tarjan), each in order."""
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    stack: list[int] = []
    on_stack: set[int] = set()
    out: list[list[int]] = []

    def visit(v: int) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group: list[int] = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _versions(day: dt.date) -> list[PlanVersion]:
    rows = (
        PlanVersion.objects.filter(status=VersionStatus.PUBLISHED, plan__archived_at__isnull=True)
        .as_of(day)
        .select_related("plan")
        .order_by("plan__name", "plan_id", "number")
    )
    latest: dict[int, PlanVersion] = {}
    for v in rows:  # a later version in force on the same day wins
        latest[v.plan_id] = v
    return list(latest.values())


def scheme_get(*, access: Access, day: dt.date, draft: PlanVersion | None = None) -> Scheme:
    """Return the scheme of ``day``: plans, who is on each, and the dependencies between them;
    ``draft``: a version (a draft, say) read in place of its plan's version in force."""
    versions = _versions(day)
    if draft is not None:
        versions = [v for v in versions if v.plan_id != draft.plan_id] + [draft]
    assignments = list(
        PlanAssignment.objects.filter(plan_version__in=[v.pk for v in versions]).as_of(day)
    )
    deps = {
        v.plan_id: spec_dependencies(v.spec or {}, plan_code=v.plan.code, participants=2)
        for v in versions
    }
    dep_list = [d for ds in deps.values() for d in ds]
    refs = [d.ref for d in dep_list if d.on == ON_NODE]
    nodes, people = org_selectors.nodes_and_people_by_ref(
        (), refs, [d.ref for d in dep_list if d.on == ON_PERSON]
    )
    # the subtrees whose people a plan or a dependency reads: assigned nodes, target teams
    roots = {a.node_id for a in assignments if a.node_id} | {
        nodes[r].pk for r in refs if r in nodes
    }
    subtree: dict[int, set[int]] = defaultdict(set)
    for ancestor, descendant in (
        NodeClosure.objects.filter(ancestor_id__in=roots)
        .as_of(day)
        .values_list("ancestor_id", "descendant_id")
    ):
        subtree[ancestor].add(descendant)
    below = set().union(*subtree.values()) if subtree else set()
    roles = {a.role_id for a in assignments if a.role_id}
    wanted = (
        Q(node_id__in=below)
        | Q(role_id__in=roles)
        | Q(person_id__in={a.person_id for a in assignments if a.person_id})
        | Q(person_id__in={p.pk for p in people.values()})
    )
    held = Assignment.objects.filter(wanted).known_now().as_of(day)
    if access.node_limited:
        held = held.filter(
            person_id__in=access.people(start=day, end=day + dt.timedelta(days=1)).values("pk")
        )
    rows = list(held.order_by("person_id", "-allocation_pct", "id").values_list(
        "person_id", "node_id", "role_id"
    ))  # fmt: skip
    home: dict[int, tuple[int, int]] = {}  # a person's main assignment: node, role
    by_node: dict[int, set[int]] = defaultdict(set)
    by_role: dict[int, set[int]] = defaultdict(set)
    for person_id, node_id, role_id in rows:
        home.setdefault(person_id, (node_id, role_id))
        by_node[node_id].add(person_id)
        by_role[role_id].add(person_id)
    on_plan: dict[int, set[int]] = defaultdict(set)
    for a in assignments:
        if a.person_id is not None:
            on_plan[a.plan_id] |= {a.person_id} & home.keys()
        elif a.role_id is not None:
            on_plan[a.plan_id] |= by_role.get(a.role_id, set())
        elif a.node_id is not None:
            for n in subtree.get(a.node_id, ()):
                on_plan[a.plan_id] |= by_node.get(n, set())
    names = dict(
        Node.objects.filter(pk__in={n for n, _r in home.values()}).values_list("pk", "name")
    )
    role_names = dict(
        JobRole.objects.filter(pk__in={r for _n, r in home.values()}).values_list("pk", "name")
    )
    by_plan = {v.plan_id: v for v in versions}
    by_code = {v.plan.code: v for v in versions} | {
        str((v.spec or {}).get("id")): v for v in versions if (v.spec or {}).get("id")
    }

    plans: list[SchemePlan] = []
    warnings: list[str] = []
    for v in versions:
        who = on_plan.get(v.plan_id, set())
        teams = Counter(names.get(home[p][0], "?") for p in who)
        jobs = Counter(role_names.get(home[p][1], "?") for p in who)
        plans.append(
            SchemePlan(
                plan_id=v.plan_id,
                code=v.plan.code,
                name=v.plan.name,
                version_number=v.number,
                people=len(who),
                by_team=sorted(teams.items(), key=lambda t: (-t[1], t[0])),
                by_role=sorted(jobs.items(), key=lambda t: (-t[1], t[0])),
            )
        )
        if not who:
            warnings.append(NO_ASSIGNEES.format(plan=v.plan.name, day=day))

    def producers_of(person_ids: set[int]) -> list[tuple[str, int]]:
        counts = [(by_plan[pid].plan.name, len(person_ids & ids)) for pid, ids in on_plan.items()]
        return sorted(((n, c) for n, c in counts if c), key=lambda t: (-t[1], t[0]))

    edges: list[SchemeEdge] = []
    graph: dict[int, set[int]] = defaultdict(set)
    for v in versions:
        for dep in deps[v.plan_id]:
            warning, target, target_plan = "", dep.ref, None
            produced: set[int] = set()
            if dep.on == ON_NODE:
                node = nodes.get(dep.ref)
                if node is None:
                    warning = UNKNOWN_TEAM.format(ref=dep.ref)
                else:
                    target = node.name
                    for n in subtree.get(node.pk, ()):
                        produced |= by_node.get(n, set())
            elif dep.on == ON_PERSON:
                person = people.get(dep.ref)
                if person is None:
                    warning = UNKNOWN_PERSON.format(ref=dep.ref)
                else:
                    target = person.full_name
                    produced = {person.pk} & home.keys()
            elif dep.on == ON_PLAN:
                other = by_code.get(dep.ref)
                if other is None:
                    warning = PLAN_NOT_IN_FORCE.format(ref=dep.ref, day=day)
                else:
                    target, target_plan = other.plan.name, other.plan_id
                    produced = on_plan.get(other.plan_id, set())
            elif dep.on == ON_PARTICIPANTS:
                sharing = on_plan.get(v.plan_id, set())
                spread = {home[p][0] for p in sharing}
                if len(sharing) < 2:
                    continue  # an MBO nobody else shares is the payee's own
                target = f"{len(spread)} teams" if len(spread) > 1 else ""
                produced = sharing
            if not warning and not produced:
                warning = NOBODY_PRODUCES
            producer_plans = producers_of(produced) if dep.on != ON_PARTICIPANTS else []
            if dep.kind == MBO:
                words = f"{_people_words(len(produced))} in {target or '1 team'}"
            elif warning:
                words = f"warning: {warning}"
            elif dep.on == ON_PLAN:
                words = f"produced by: {_people_words(len(produced))} on {target}"
            else:
                on = ", ".join(f"{n}, {_people_words(c)}" for n, c in producer_plans[:3])
                words = f"produced by: {on or 'no plan'}; {_people_words(len(produced))} in all"
            edges.append(
                SchemeEdge(
                    plan_id=v.plan_id,
                    plan=v.plan.name,
                    component_id=dep.component_id,
                    component=dep.component_name,
                    kind=dep.kind,
                    kind_label=dep.kind_label,
                    on=dep.on,
                    target_ref=dep.ref,
                    target=target,
                    target_plan_id=target_plan,
                    measure=dep.measure,
                    producers=len(produced),
                    producer_plans=producer_plans,
                    sentence=_sentence(dep, v.plan.name, target, words),
                    warning=warning,
                )
            )
            if warning:
                warnings.append(f"{v.plan.name} · {dep.component_name}: {warning}.")
            if dep.kind != MBO:
                graph[v.plan_id] |= {pid for pid, ids in on_plan.items() if ids & produced} - {
                    v.plan_id
                }
                if target_plan is not None and target_plan != v.plan_id:
                    graph[v.plan_id].add(target_plan)
    cycles = [[by_plan[p].plan.name for p in group] for group in _cycles(graph)]
    warnings += [CYCLE.format(path=" → ".join([*c, c[0]])) for c in cycles]
    return Scheme(day=day, plans=plans, edges=edges, warnings=warnings, cycles=cycles)


def scheme_figure_links(
    scheme: Scheme,
) -> tuple[list[tuple[str, bool]], list[tuple[int, int, int, str, bool]]]:
    """Return the figure's nodes (label, is a plan) and links: team → plan for who is on what
    (people), and the team, person or plan a dependency reads → the plan that depends on it
    (flagged)."""
    nodes: list[tuple[str, bool]] = []
    index: dict[str, int] = {}

    def node(label: str, is_plan: bool = False) -> int:
        if label not in index:
            index[label] = len(nodes)
            nodes.append((label, is_plan))
        return index[label]

    for p in scheme.plans:
        node(p.name, True)
    links: list[tuple[int, int, int, str, bool]] = []
    for p in scheme.plans:
        links += [
            (node(f"{team} (team)"), node(p.name), n, f"{_people_words(n)} on it", False)
            for team, n in p.by_team
        ]
    for e in scheme.edges:
        if e.warning or e.on == ON_PARTICIPANTS:
            continue
        source = {ON_NODE: f"{e.target} (team)", ON_PERSON: f"{e.target} (person)"}.get(
            e.on, e.target
        )
        if source != e.plan:  # a plan's override on its own pay is no edge between two
            links.append((node(source), node(e.plan), 1, f"{e.kind_label}: {e.measure}", True))
    return nodes, links


# --- the builder's plan health (plans/health.py): the warnings the scheme knows ---------------

COMPANY_WIDE = (
    "{component} pays on {target}'s {measure}, a company-wide result: a {function} role can "
    "hardly move it (guidance: pay people on what they can influence)."
)
BUILDER_WARNING = "{component} ({kind}) reads {target}: {warning}."


def builder_warnings(*, access: Access, version: PlanVersion, day: dt.date) -> list[str]:
    """Return the warnings of the scheme about ``version`` as if it were in force on ``day``: a
    gate, pool, milestone or override on a metric nobody is assigned to produce (or on an
    unknown team, person or plan), and a component paying a role outside management on a
    whole hierarchy's result (its root node: company profit on a support role)."""
    scheme = scheme_get(access=access, day=day, draft=version)
    mine = [e for e in scheme.edges if e.plan_id == version.plan_id]
    out = [
        BUILDER_WARNING.format(
            component=e.component,
            kind=e.kind_label[:1].lower() + e.kind_label[1:],
            target=e.target or e.target_ref,
            warning=e.warning,
        )
        for e in mine
        if e.warning
    ]
    function = version.plan.function
    if function == JobFunction.MANAGEMENT:
        return out
    read = [e for e in mine if e.on == ON_NODE and not e.warning]
    nodes, _people = org_selectors.nodes_and_people_by_ref((), [e.target_ref for e in read], ())
    below = NodeClosure.objects.filter(depth__gt=0).as_of(day).values("descendant_id")
    roots = set(
        Node.objects.filter(pk__in={n.pk for n in nodes.values()})
        .exclude(pk__in=below)
        .values_list("pk", flat=True)
    )
    label = JobFunction(function).label.lower() if function in JobFunction.values else function
    out += [
        COMPANY_WIDE.format(
            component=e.component, target=e.target, measure=e.measure or "result", function=label
        )
        for e in read
        if e.target_ref in nodes and nodes[e.target_ref].pk in roots
    ]
    return out
