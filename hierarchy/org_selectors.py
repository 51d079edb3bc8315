"""Reads of people, hierarchies and assignments, always with an ``as_of`` date or a window.

There is no "current" shortcut: callers pass the day (or the period) they ask about. Every
selector also takes ``known_at`` where the org's history matters: ``None`` reads what Quotient
knows now (the closure table, one indexed query); a moment reads the org as it was known then
(parent links and assignments recorded by that moment and not yet superseded), which is how a
closed period is replayed exactly. The predicates themselves are core/temporal.py's.

Who may see which of these is not decided here: that is the access policy, ``hierarchy/access.py``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import DateField, Exists, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Coalesce

from core.errors import NotFoundError
from core.sorting import natural_key
from core.temporal import overlapping_q
from hierarchy.intervals import (
    OPEN_END,
    ClosureRow,
    Link,
    build_closure,
    clip,
    covers,
    live_on,
)
from hierarchy.models import (
    Assignment,
    Hierarchy,
    HierarchyKind,
    ImportBatch,
    JobRole,
    Node,
    NodeClosure,
    NodeParent,
    Period,
    Person,
)

# --- building blocks ---------------------------------------------------------------------------


def _closure_known_at(hierarchy_id: int, known_at: datetime) -> list[ClosureRow]:
    links = NodeParent.objects.filter(node__hierarchy_id=hierarchy_id).known_at(known_at)
    return build_closure(
        Link(n, p, s, e)
        for n, p, s, e in links.values_list("node_id", "parent_id", "valid_from", "valid_to")
    )


# --- simple lists and lookups ------------------------------------------------------------------


def person_list(*, search: str | None = None) -> QuerySet[Person]:
    """Return the tenant's people, optionally matching a name, e-mail or employee id."""
    people = Person.objects.all().order_by("full_name", "employee_id")
    if search:
        people = people.filter(
            Q(full_name__icontains=search)
            | Q(email__icontains=search)
            | Q(employee_id__iexact=search)
        )
    return people


def person_get(*, person_id: int, within: QuerySet[Person] | None = None) -> Person:
    """Return one person (optionally only from ``within``), or raise NotFoundError."""
    base = within if within is not None else Person.objects.all()
    person = base.filter(pk=person_id).first()
    if person is None:
        raise NotFoundError("Person not found.")
    return person


def person_for_user(*, user_id: int) -> Person | None:
    """Return the person linked to a user, if any."""
    return Person.objects.filter(user_id=user_id).first()


def hierarchy_list() -> QuerySet[Hierarchy]:
    return Hierarchy.objects.all().order_by("name")


def hierarchy_get(*, hierarchy_id: int) -> Hierarchy:
    hierarchy: Hierarchy | None = Hierarchy.objects.filter(pk=hierarchy_id).first()
    if hierarchy is None:
        raise NotFoundError("Hierarchy not found.")
    return hierarchy


def node_list(*, hierarchy_id: int | None = None, search: str | None = None) -> QuerySet[Node]:
    nodes = Node.objects.select_related("hierarchy").order_by("hierarchy__name", "name")
    if hierarchy_id is not None:
        nodes = nodes.filter(hierarchy_id=hierarchy_id)
    if search:
        nodes = nodes.filter(Q(name__icontains=search) | Q(code__iexact=search))
    return nodes


def node_get(*, node_id: int) -> Node:
    node: Node | None = Node.objects.select_related("hierarchy").filter(pk=node_id).first()
    if node is None:
        raise NotFoundError("Node not found.")
    return node


def node_parent_history(*, node_id: int) -> QuerySet[NodeParent]:
    """Return a node's current parent links, oldest first."""
    return NodeParent.objects.filter(node_id=node_id).known_now().order_by("valid_from")


def job_role_list() -> QuerySet[JobRole]:
    return JobRole.objects.all().order_by("name")


def job_role_get(*, role_id: int) -> JobRole:
    role: JobRole | None = JobRole.objects.filter(pk=role_id).first()
    if role is None:
        raise NotFoundError("Job role not found.")
    return role


def assignment_list(
    *,
    person_id: int | None = None,
    node_id: int | None = None,
    as_of: date | None = None,
    known_at: datetime | None = None,
) -> QuerySet[Assignment]:
    """Return assignments as known at ``known_at``, optionally in force on ``as_of``."""
    rows = Assignment.objects.known_at(known_at).select_related(
        "node", "node__hierarchy", "role", "person"
    )
    if person_id is not None:
        rows = rows.filter(person_id=person_id)
    if node_id is not None:
        rows = rows.filter(node_id=node_id)
    if as_of is not None:
        rows = rows.as_of(as_of)
    return rows.order_by("valid_from", "id")


def assignment_get(*, assignment_id: int) -> Assignment:
    row = assignment_list().filter(pk=assignment_id).first()
    if row is None:
        raise NotFoundError("Assignment not found.")
    return row


def import_batch_list() -> QuerySet[ImportBatch]:
    """Return the tenant's HR imports, newest first."""
    return ImportBatch.objects.all().order_by("-created_at", "-id")


def import_batch_get(*, batch_id: int, within: QuerySet[ImportBatch] | None = None) -> ImportBatch:
    """Return one HR import (optionally only from ``within``), or raise NotFoundError."""
    base = within if within is not None else ImportBatch.objects.all()
    batch: ImportBatch | None = base.filter(pk=batch_id).first()
    if batch is None:
        raise NotFoundError("Import not found.")
    return batch


# --- subtrees and members ----------------------------------------------------------------------


def subtree_node_ids(*, node: Node, as_of: date, known_at: datetime | None = None) -> list[int]:
    """Return the ids of ``node`` and every node under it on ``as_of``."""
    if known_at is None:
        rows = NodeClosure.objects.filter(ancestor_id=node.pk).as_of(as_of)
        return list(rows.values_list("descendant_id", flat=True))
    return [
        r.descendant
        for r in _closure_known_at(node.hierarchy_id, known_at)
        if r.ancestor == node.pk and live_on(r.start, r.end, as_of)
    ]


def node_members(
    *,
    node: Node,
    as_of: date,
    include_descendants: bool = True,
    known_at: datetime | None = None,
) -> QuerySet[Person]:
    """Return the people assigned to ``node`` (and, by default, its subtree) on ``as_of``.

    With current knowledge this is a single query: closure range read → assignments by node.
    """
    if not include_descendants:
        nodes: Any = [node.pk]
    elif known_at is None:
        nodes = NodeClosure.objects.filter(ancestor_id=node.pk).as_of(as_of).values("descendant_id")
    else:
        nodes = subtree_node_ids(node=node, as_of=as_of, known_at=known_at)
    assignments = Assignment.objects.filter(node_id__in=nodes).known_at(known_at).as_of(as_of)
    return Person.objects.filter(pk__in=assignments.values("person_id")).order_by(
        "full_name", "employee_id"
    )


def _subtree_assignments_during(
    ancestor_ids: Any, start: date, end: date, known_at: datetime | None
) -> QuerySet[Assignment]:
    """Assignments that were, for at least one day of ``[start, end)``, inside the subtree of
    one of ``ancestor_ids`` — the same day for the assignment and for the tree link."""
    if known_at is not None:
        # Replays are rare: evaluate the known-at closure in memory, then filter per node.
        closure_q = Q(pk__in=[])
        hierarchy_ids = set(
            Node.objects.filter(pk__in=ancestor_ids).values_list("hierarchy_id", flat=True)
        )
        wanted = set(ancestor_ids)
        for hierarchy_id in hierarchy_ids:
            for r in _closure_known_at(hierarchy_id, known_at):
                window = clip(r.start, r.end, start, end) if r.ancestor in wanted else None
                if window is not None:
                    closure_q |= Q(node_id=r.descendant) & overlapping_q(*window)
        return Assignment.objects.filter(closure_q).known_at(known_at)
    outer_end = Coalesce(OuterRef("valid_to"), Value(OPEN_END), output_field=DateField())
    link = (
        NodeClosure.objects.filter(ancestor_id__in=ancestor_ids, descendant_id=OuterRef("node_id"))
        .overlapping(start, end)
        .overlapping(OuterRef("valid_from"), outer_end)
    )
    # The IN narrows to the subtree's nodes through the closure index first; the EXISTS then
    # demands that the assignment and the tree link share a day inside the window.
    in_subtree = NodeClosure.objects.filter(ancestor_id__in=ancestor_ids).overlapping(start, end)
    candidates = Assignment.objects.filter(node_id__in=in_subtree.values("descendant_id"))
    return candidates.known_now().overlapping(start, end).filter(Exists(link))


def people_in_subtrees(
    *, node_ids: Any, start: date, end: date, known_at: datetime | None = None
) -> QuerySet[Person]:
    """Return people who were in the subtree of any of ``node_ids`` during ``[start, end)``."""
    assignments = _subtree_assignments_during(node_ids, start, end, known_at)
    return Person.objects.filter(pk__in=assignments.values("person_id"))


def person_ids_in_subtree(*, node_id: int, start: date, end: date) -> QuerySet[Any]:
    """Return the ids (``person_id``, a person may repeat) of the people who were in the subtree
    of ``node_id`` during ``[start, end)``, as :func:`people_in_subtrees` finds them, as one
    query of the assignments (to nest in another statement; no ``Person`` row is read).

    The subtree's tree links are read first. When each node's links span the whole window (the
    usual case: the structure did not change during it) the same-day test of every assignment
    against its link is implied, and the assignments are those of a list of nodes: a query the
    database estimates well (the nested test made it guess one row for a business unit's 10k
    and plan every join above it as loops of index probes)."""
    links: dict[int, list[tuple[date, date | None]]] = defaultdict(list)
    rows = NodeClosure.objects.filter(ancestor_id=node_id).overlapping(start, end)
    for descendant, valid_from, valid_to in rows.values_list(
        "descendant_id", "valid_from", "valid_to"
    ):
        links[descendant].append((valid_from, valid_to))
    if not all(covers(spans, start, end) for spans in links.values()):
        return _subtree_assignments_during([node_id], start, end, None).values("person_id")
    placed = Assignment.objects.filter(node_id__in=sorted(links)).known_now()
    return placed.overlapping(start, end).values("person_id")


# --- windows (who sees whom is hierarchy/access.py) --------------------------------------------


def window_of(*, period: Period | None = None, as_of: date | None = None) -> tuple[date, date]:
    """Return ``[start, end)`` for a period, or the single day ``as_of``."""
    if period is not None:
        return period.start, period.end
    if as_of is None:
        raise ValueError("pass a period or an as_of date")
    return as_of, as_of + timedelta(days=1)


# --- manager chain -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainLink:
    person: Person
    node: Node
    levels_up: int  # 0: manages the person's own node


def manager_chain(
    *,
    person: Person,
    as_of: date,
    hierarchy_id: int | None = None,
    known_at: datetime | None = None,
) -> list[ChainLink]:
    """Return the person's managers on ``as_of``, nearest first.

    Looks at the person's nodes in ``hierarchy_id`` (default: every reporting hierarchy) and
    walks up their ancestors; at each level, whoever holds a manager assignment there.
    """
    own = Assignment.objects.filter(person=person).known_at(known_at).as_of(as_of)
    if hierarchy_id is not None:
        own = own.filter(node__hierarchy_id=hierarchy_id)
    else:
        own = own.filter(node__hierarchy__kind=HierarchyKind.REPORTING)
    own_nodes = list(own.values_list("node_id", "node__hierarchy_id").distinct())
    depth_of: dict[int, int] = {}
    if known_at is None:
        rows = (
            NodeClosure.objects.filter(descendant_id__in=[n for n, _h in own_nodes])
            .as_of(as_of)
            .values_list("ancestor_id", "depth")
        )
        for ancestor, depth in rows:
            depth_of[ancestor] = min(depth, depth_of.get(ancestor, depth))
    else:
        wanted = {n for n, _h in own_nodes}
        for hierarchy in {h for _n, h in own_nodes}:
            for r in _closure_known_at(hierarchy, known_at):
                if r.descendant in wanted and live_on(r.start, r.end, as_of):
                    depth_of[r.ancestor] = min(r.depth, depth_of.get(r.ancestor, r.depth))
    managers = (
        Assignment.objects.filter(node_id__in=list(depth_of), is_manager=True)
        .known_at(known_at)
        .as_of(as_of)
        .exclude(person=person)
        .select_related("person", "node")
    )
    best: dict[int, ChainLink] = {}
    for a in managers:
        link = ChainLink(person=a.person, node=a.node, levels_up=depth_of[a.node_id])
        current = best.get(a.person_id)
        if current is None or link.levels_up < current.levels_up:
            best[a.person_id] = link
    return sorted(best.values(), key=lambda c: (c.levels_up, c.person.full_name))


# --- timeline ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    """A piece of one assignment inside a window: the unit of pro-ration."""

    assignment_id: int
    node_id: int
    node_name: str
    hierarchy_id: int
    hierarchy_name: str
    role_id: int
    role_name: str
    function: str
    title: str
    allocation_pct: Decimal
    is_manager: bool
    start: date
    end: date  # exclusive
    days: int
    window_days: int

    @property
    def weighted_days(self) -> Decimal:
        """Days times allocation: 45 days at 60 % count as 27 full-time days."""
        return Decimal(self.days) * self.allocation_pct / Decimal(100)

    @property
    def share(self) -> Decimal:
        """Fraction of the window this segment is worth (days * allocation / window days)."""
        return self.weighted_days / Decimal(self.window_days)


def person_timeline(
    *,
    person: Person,
    start: date,
    end: date,
    hierarchy_id: int | None = None,
    known_at: datetime | None = None,
) -> list[Segment]:
    """Return the person's assignments clipped to ``[start, end)`` as day-counted segments."""
    rows = Assignment.objects.filter(person=person).known_at(known_at).overlapping(start, end)
    if hierarchy_id is not None:
        rows = rows.filter(node__hierarchy_id=hierarchy_id)
    window_days = (end - start).days
    segments = []
    for a in rows.select_related("node", "node__hierarchy", "role"):
        piece = clip(a.valid_from, a.valid_to, start, end)
        if piece is None:
            continue
        segments.append(
            Segment(
                assignment_id=a.pk,
                node_id=a.node_id,
                node_name=a.node.name,
                hierarchy_id=a.node.hierarchy_id,
                hierarchy_name=a.node.hierarchy.name,
                role_id=a.role_id,
                role_name=a.role.name,
                function=a.role.function,
                title=a.title,
                allocation_pct=Decimal(a.allocation_pct),
                is_manager=a.is_manager,
                start=piece[0],
                end=piece[1],
                days=(piece[1] - piece[0]).days,
                window_days=window_days,
            )
        )
    segments.sort(key=lambda s: (s.start, s.hierarchy_name, s.node_name, s.role_name))
    return segments


# --- the org chart -----------------------------------------------------------------------------


@dataclass
class TreeNode:
    node: Node
    depth: int
    direct: int = 0  # people assigned to this node itself
    total: int = 0  # distinct people in the subtree
    managers: list[str] = field(default_factory=list)
    children: list[TreeNode] = field(default_factory=list)


def org_tree(
    *, hierarchy: Hierarchy, as_of: date, within: AbstractSet[int] | None = None
) -> list[TreeNode]:
    """Return the hierarchy as it stood on ``as_of``: roots with nested children and counts.

    ``within`` limits it to those nodes' subtrees (a node-scoped admin's view).
    """
    closure = NodeClosure.objects.filter(hierarchy=hierarchy).as_of(as_of)
    pairs = list(closure.values_list("ancestor_id", "descendant_id", "depth"))
    if within is not None:
        allowed = {d for a, d, _ in pairs if a in within}
        pairs = [(a, d, depth) for a, d, depth in pairs if a in allowed and d in allowed]
    active = {d for a, d, depth in pairs if depth == 0}
    parent_of = {d: a for a, d, depth in pairs if depth == 1}
    nodes = {n.pk: n for n in Node.objects.filter(pk__in=active).select_related("hierarchy")}
    members: dict[int, set[int]] = defaultdict(set)
    managers: dict[int, list[str]] = defaultdict(list)
    live = (
        Assignment.objects.filter(node__hierarchy=hierarchy)
        .known_now()
        .as_of(as_of)
        .values_list("node_id", "person_id", "is_manager", "person__full_name")
    )
    for node_id, person_id, is_manager, name in live:
        members[node_id].add(person_id)
        if is_manager:
            managers[node_id].append(name)
    subtree: dict[int, set[int]] = defaultdict(set)
    for ancestor, descendant, _depth in pairs:
        subtree[ancestor] |= members.get(descendant, set())
    tree = {
        pk: TreeNode(
            node=node,
            depth=0,
            direct=len(members.get(pk, ())),
            total=len(subtree.get(pk, ())),
            managers=sorted(managers.get(pk, [])),
        )
        for pk, node in nodes.items()
    }
    roots: list[TreeNode] = []
    # Natural order: "Sales team 2" before "Sales team 11".
    for pk, item in sorted(tree.items(), key=lambda kv: natural_key(kv[1].node.name)):
        parent = parent_of.get(pk)
        if parent in tree:
            tree[parent].children.append(item)
        else:
            roots.append(item)

    def set_depth(items: list[TreeNode], depth: int) -> None:
        for item in items:
            item.depth = depth
            set_depth(item.children, depth + 1)

    set_depth(roots, 0)
    return roots


def nodes_and_people_by_ref(
    node_pks: Iterable[int], node_codes: Iterable[str], person_refs: Iterable[str]
) -> tuple[dict[str, Node], dict[str, Person]]:
    """Return nodes by pk text and code (the reporting hierarchy's code first) and people by pk
    text and employee id: the names the pages show, in at most two queries."""
    pks, codes = set(node_pks), {c for c in node_codes if c}
    pks |= {int(c) for c in codes if c.isdigit()}
    nodes: dict[str, Node] = {}
    if pks or codes:
        rows = Node.objects.filter(Q(pk__in=pks) | Q(code__in=codes)).select_related("hierarchy")
        for n in sorted(rows, key=lambda n: (n.hierarchy.kind != HierarchyKind.REPORTING, n.pk)):
            nodes.setdefault(str(n.pk), n)
            nodes.setdefault(n.code, n)
    people: dict[str, Person] = {}
    refs = {r for r in person_refs if r}
    if refs:
        ids = {int(r) for r in refs if r.isdigit()}
        for p in Person.objects.filter(Q(pk__in=ids) | Q(employee_id__in=refs)):
            people.setdefault(str(p.pk), p)
            people.setdefault(p.employee_id, p)
    return nodes, people
