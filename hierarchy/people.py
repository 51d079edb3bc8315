"""Every write to people, job roles, hierarchies, nodes, assignments and membership scopes.

Effective-dated rows (parent links, assignments) are never edited in place: a change marks the
old row ``superseded_at`` and inserts its replacement(s) with a new ``recorded_at``, so readers
can ask for the org as it was known at any moment. Each service writes one audit event.
Writes that move pay (assignments, a node's place in its hierarchy) record their keys in the
change feed (:mod:`core.changes`) in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core.audit import audit_record
from core.changes import ChangeKey, changes_record
from core.errors import ConflictError, NotFoundError, ValidationFailedError
from core.models import ChangeKind, Membership, model_snapshot
from core.tenancy import get_current_tenant
from hierarchy.intervals import (
    CycleError,
    Link,
    OverlappingLinkError,
    Span,
    build_closure,
    check_spans,
    end_or_max,
)
from hierarchy.models import (
    Assignment,
    Hierarchy,
    JobRole,
    MembershipScope,
    Node,
    NodeClosure,
    NodeParent,
    Person,
)
from hierarchy.versions import person_versions_record

UNKNOWN_PERSON = "Unknown person."
UNKNOWN_NODE = "Unknown node."
UNKNOWN_ROLE = "Unknown job role."
UNKNOWN_HIERARCHY = "Unknown hierarchy."
UNKNOWN_MANAGER = "Unknown manager."
UNKNOWN_USER = "No member of this tenant has that user id."
DATES_OUT_OF_ORDER = "valid_to must be after valid_from."
ALLOCATION_RANGE = "allocation_pct must be more than 0 and at most 100."
ALLOCATION_OVER_100 = "Allocation would be {total}% on {day}; at most 100% is allowed."
OVERLAPPING_DUPLICATE = "Overlaps another assignment to the same node and role from {day}."
BEFORE_HIRE = "The assignment starts before the hire date ({hire})."
AFTER_TERMINATION = "The assignment starts on or after the termination date ({end})."
CYCLE = "This move would make {node} its own ancestor on {day}."
PARENT_OTHER_HIERARCHY = "The parent must be a node of the same hierarchy."
PARENT_SELF = "A node cannot be its own parent."
SELF_MANAGER = "A person cannot be their own manager."
MANAGER_CYCLE = "This manager would make {person} report to themselves."
DUPLICATE_EMPLOYEE_ID = "Another person has this employee id."
IN_USE = "{what} is still in use and cannot be deleted."
TERMINATION_BEFORE_HIRE = "The termination date must be after the hire date."

PERSON_FIELDS = (
    "employee_id",
    "full_name",
    "email",
    "user_id",
    "manager_id",
    "hire_date",
    "termination_date",
    "home_currency",
    "base_salary",
    "attributes",
)
ASSIGNMENT_FIELDS = (
    "node_id",
    "role_id",
    "title",
    "allocation_pct",
    "is_manager",
    "valid_from",
    "valid_to",
)


def _invalid(message: str, code: str, field: str | None = None) -> ValidationFailedError:
    return ValidationFailedError(message, code=code, details={field: [message]} if field else None)


def _full_clean(obj: Any, exclude: list[str] | None = None) -> None:
    """Run model validation and re-raise as a domain error the API renders as a 400."""
    try:
        obj.full_clean(exclude=exclude, validate_constraints=False)
    except ValidationError as exc:
        details = exc.message_dict
        first = next(iter(details.values()))[0]
        raise ValidationFailedError(first, details=details) from None


# --- people ------------------------------------------------------------------------------------


def _check_user(user_id: int | None) -> None:
    if user_id is None:
        return
    tenant = get_current_tenant()
    if not Membership.objects.filter(tenant=tenant, user_id=user_id).exists():
        raise _invalid(UNKNOWN_USER, "unknown_user", "user_id")


def _check_manager(person: Person, manager_id: int | None) -> None:
    if manager_id is None:
        return
    if person.pk is not None and manager_id == person.pk:
        raise _invalid(SELF_MANAGER, "self_manager", "manager_id")
    if not Person.objects.filter(pk=manager_id).exists():
        raise _invalid(UNKNOWN_MANAGER, "unknown_manager", "manager_id")
    # Walk up the manager chain (short in practice): reaching this person is a cycle.
    seen: set[int] = set()
    cur: int | None = manager_id
    while cur is not None and cur not in seen and person.pk is not None:
        if cur == person.pk:
            raise _invalid(
                MANAGER_CYCLE.format(person=person.full_name), "manager_cycle", "manager_id"
            )
        seen.add(cur)
        cur = Person.objects.filter(pk=cur).values_list("manager_id", flat=True).first()


@transaction.atomic
def person_create(
    *,
    employee_id: str,
    full_name: str,
    hire_date: date,
    email: str = "",
    user_id: int | None = None,
    manager_id: int | None = None,
    termination_date: date | None = None,
    home_currency: str | None = None,
    base_salary: Decimal | None = None,
    attributes: dict[str, Any] | None = None,
) -> Person:
    """Create a person (payee) in the current tenant."""
    tenant = get_current_tenant()
    if Person.objects.filter(employee_id=employee_id).exists():
        raise ConflictError(DUPLICATE_EMPLOYEE_ID, code="duplicate_employee_id")
    if termination_date is not None and termination_date <= hire_date:
        raise _invalid(TERMINATION_BEFORE_HIRE, "dates_out_of_order", "termination_date")
    _check_user(user_id)
    person = Person(
        tenant=tenant,
        employee_id=employee_id,
        full_name=full_name,
        email=email,
        user_id=user_id,
        hire_date=hire_date,
        termination_date=termination_date,
        home_currency=home_currency or tenant.default_currency,
        base_salary=base_salary,
        attributes=attributes or {},
    )
    _check_manager(person, manager_id)
    person.manager_id = manager_id
    _full_clean(person, exclude=["tenant"])
    person.save()
    person_versions_record([person])
    audit_record(action="person.create", obj=person, after=model_snapshot(person))
    return person


def _person_for_update(person_id: int) -> Person:
    person: Person | None = Person.objects.select_for_update().filter(pk=person_id).first()
    if person is None:
        raise NotFoundError(UNKNOWN_PERSON)
    return person


@transaction.atomic
def person_update(*, person_id: int, **changes: Any) -> Person:
    """Change a person's details; a termination date goes through :func:`person_terminate`."""
    person = _person_for_update(person_id)
    before = model_snapshot(person)
    unknown = set(changes) - set(PERSON_FIELDS)
    if unknown:
        raise ValidationFailedError(f"Unknown field(s): {', '.join(sorted(unknown))}.")
    termination = changes.pop("termination_date", person.termination_date)
    new_id = changes.get("employee_id", person.employee_id)
    if new_id != person.employee_id and Person.objects.filter(employee_id=new_id).exists():
        raise ConflictError(DUPLICATE_EMPLOYEE_ID, code="duplicate_employee_id")
    if "user_id" in changes and changes["user_id"] != person.user_id:
        _check_user(changes["user_id"])
    if "manager_id" in changes:
        _check_manager(person, changes["manager_id"])
    for field, value in changes.items():
        setattr(person, field, value)
    _full_clean(person, exclude=["tenant"])
    person.save()
    person_versions_record([person])
    if termination != person.termination_date:
        _terminate(person, termination)
    audit_record(action="person.update", obj=person, before=before, after=model_snapshot(person))
    return person


def _terminate(person: Person, termination_date: date | None) -> None:
    if termination_date is not None and termination_date <= person.hire_date:
        raise _invalid(TERMINATION_BEFORE_HIRE, "dates_out_of_order", "termination_date")
    person.termination_date = termination_date
    person.save(update_fields=["termination_date", "updated_at"])
    person_versions_record([person])
    if termination_date is None:
        return
    now = timezone.now()
    replaced: list[Assignment] = []
    superseded: list[Assignment] = []
    for a in Assignment.objects.filter(person=person).known_now():
        if end_or_max(a.valid_to) <= termination_date:
            continue
        superseded.append(a)
        if a.valid_from < termination_date:
            replaced.append(_copy_assignment(a, now, valid_to=termination_date))
    Assignment.objects.filter(pk__in=[a.pk for a in superseded]).update(superseded_at=now)
    Assignment.objects.bulk_create(replaced)
    assignments_changed([*superseded, *replaced])


@transaction.atomic
def person_terminate(*, person_id: int, termination_date: date) -> Person:
    """Record a termination; assignments running past it end on that date."""
    person = _person_for_update(person_id)
    before = model_snapshot(person)
    _terminate(person, termination_date)
    audit_record(action="person.terminate", obj=person, before=before, after=model_snapshot(person))
    return person


@transaction.atomic
def person_delete(*, person_id: int) -> None:
    """Delete a person who never held an assignment (a mistaken entry)."""
    person = _person_for_update(person_id)
    if Assignment.objects.filter(person=person).exists():
        raise ConflictError(IN_USE.format(what="This person"), code="in_use")
    before = model_snapshot(person)
    Person.objects.filter(manager=person).update(manager=None)
    audit_record(action="person.delete", obj=person, before=before)
    person.delete()


# --- job roles ---------------------------------------------------------------------------------


@transaction.atomic
def job_role_create(*, name: str, function: str) -> JobRole:
    """Create a job role."""
    if JobRole.objects.filter(name=name).exists():
        raise ConflictError("A job role with this name exists.", code="duplicate_name")
    role = JobRole(tenant=get_current_tenant(), name=name, function=function)
    _full_clean(role, exclude=["tenant"])
    role.save()
    audit_record(action="job_role.create", obj=role, after=model_snapshot(role))
    return role


@transaction.atomic
def job_role_update(*, role_id: int, **changes: Any) -> JobRole:
    """Rename a job role or change its function."""
    role: JobRole | None = JobRole.objects.select_for_update().filter(pk=role_id).first()
    if role is None:
        raise NotFoundError(UNKNOWN_ROLE)
    before = model_snapshot(role)
    if "name" in changes and JobRole.objects.filter(name=changes["name"]).exclude(pk=role.pk):
        raise ConflictError("A job role with this name exists.", code="duplicate_name")
    for field in ("name", "function"):
        if field in changes:
            setattr(role, field, changes[field])
    _full_clean(role, exclude=["tenant"])
    role.save()
    audit_record(action="job_role.update", obj=role, before=before, after=model_snapshot(role))
    return role


@transaction.atomic
def job_role_delete(*, role_id: int) -> None:
    """Delete an unused job role."""
    role: JobRole | None = JobRole.objects.filter(pk=role_id).first()
    if role is None:
        raise NotFoundError(UNKNOWN_ROLE)
    if Assignment.objects.filter(role=role).exists():
        raise ConflictError(IN_USE.format(what="This job role"), code="in_use")
    audit_record(action="job_role.delete", obj=role, before=model_snapshot(role))
    role.delete()


# --- hierarchies and nodes ---------------------------------------------------------------------


@transaction.atomic
def hierarchy_create(*, code: str, name: str, kind: str) -> Hierarchy:
    """Create a hierarchy (one of several org structures)."""
    if Hierarchy.objects.filter(code=code).exists():
        raise ConflictError("A hierarchy with this code exists.", code="duplicate_code")
    hierarchy = Hierarchy(tenant=get_current_tenant(), code=code, name=name, kind=kind)
    _full_clean(hierarchy, exclude=["tenant"])
    hierarchy.save()
    audit_record(action="hierarchy.create", obj=hierarchy, after=model_snapshot(hierarchy))
    return hierarchy


@transaction.atomic
def hierarchy_update(*, hierarchy_id: int, **changes: Any) -> Hierarchy:
    """Rename a hierarchy or change its kind."""
    hierarchy: Hierarchy | None = (
        Hierarchy.objects.select_for_update().filter(pk=hierarchy_id).first()
    )
    if hierarchy is None:
        raise NotFoundError(UNKNOWN_HIERARCHY)
    before = model_snapshot(hierarchy)
    for field in ("name", "kind"):
        if field in changes:
            setattr(hierarchy, field, changes[field])
    _full_clean(hierarchy, exclude=["tenant"])
    hierarchy.save()
    audit_record(
        action="hierarchy.update", obj=hierarchy, before=before, after=model_snapshot(hierarchy)
    )
    return hierarchy


@transaction.atomic
def hierarchy_delete(*, hierarchy_id: int) -> None:
    """Delete a hierarchy that has no nodes."""
    hierarchy: Hierarchy | None = Hierarchy.objects.filter(pk=hierarchy_id).first()
    if hierarchy is None:
        raise NotFoundError(UNKNOWN_HIERARCHY)
    if Node.objects.filter(hierarchy=hierarchy).exists():
        raise ConflictError(IN_USE.format(what="This hierarchy"), code="in_use")
    audit_record(action="hierarchy.delete", obj=hierarchy, before=model_snapshot(hierarchy))
    hierarchy.delete()


def closure_rebuild(*, hierarchy_id: int) -> int:
    """Bring a hierarchy's closure rows in line with its current parent links.

    Computes the closure in memory (raising on cycles) and writes only the difference, so a
    single move in a large hierarchy touches few rows. Returns the number of rows changed.
    Callers hold the transaction.
    """
    tenant = get_current_tenant()
    links = [
        Link(node, parent, start, end)
        for node, parent, start, end in NodeParent.objects.filter(node__hierarchy_id=hierarchy_id)
        .known_now()
        .values_list("node_id", "parent_id", "valid_from", "valid_to")
    ]
    try:
        rows = build_closure(links)
    except CycleError as exc:
        name: Node | None = Node.objects.filter(pk=exc.node).values_list("name", flat=True).first()
        raise ValidationFailedError(
            CYCLE.format(node=name or exc.node, day=exc.day.isoformat()),
            code="cycle",
            details={"node_id": exc.node, "date": exc.day.isoformat()},
        ) from None
    except OverlappingLinkError as exc:  # services never write these; a guard, not a rule
        raise ValidationFailedError(
            f"Node {exc.node} would have two parents on {exc.day}.", code="overlapping_parent"
        ) from None
    wanted = {(r.ancestor, r.descendant, r.depth, r.start, r.end) for r in rows}
    existing: dict[tuple[Any, ...], int] = {}
    for pk, *key in NodeClosure.objects.filter(hierarchy_id=hierarchy_id).values_list(
        "id", "ancestor_id", "descendant_id", "depth", "valid_from", "valid_to"
    ):
        existing[tuple(key)] = pk
    stale = [pk for key, pk in existing.items() if key not in wanted]
    for i in range(0, len(stale), 5000):
        NodeClosure.objects.filter(pk__in=stale[i : i + 5000]).delete()
    fresh = [
        NodeClosure(
            tenant=tenant,
            hierarchy_id=hierarchy_id,
            ancestor_id=a,
            descendant_id=d,
            depth=depth,
            valid_from=start,
            valid_to=end,
        )
        for (a, d, depth, start, end) in wanted
        if (a, d, depth, start, end) not in existing
    ]
    NodeClosure.objects.bulk_create(fresh, batch_size=5000)
    return len(stale) + len(fresh)


def _get_node(node_id: int | None, field: str = "node_id") -> Node:
    node: Node | None = Node.objects.select_related("hierarchy").filter(pk=node_id).first()
    if node is None:
        raise _invalid(UNKNOWN_NODE, "unknown_node", field)
    return node


def _set_parent(
    node: Node, parent: Node | None, valid_from: date, valid_to: date | None, now: datetime
) -> None:
    """Make ``parent`` the node's parent during the interval, superseding what it overlaps."""
    if valid_to is not None and valid_to <= valid_from:
        raise _invalid(DATES_OUT_OF_ORDER, "dates_out_of_order", "valid_to")
    if parent is not None:
        if parent.pk == node.pk:
            raise _invalid(PARENT_SELF, "cycle", "parent_id")
        if parent.hierarchy_id != node.hierarchy_id:
            raise _invalid(PARENT_OTHER_HIERARCHY, "parent_other_hierarchy", "parent_id")
    inserts: list[NodeParent] = []
    superseded: list[int] = []
    for link in NodeParent.objects.filter(node=node).known_now().overlapping(valid_from, valid_to):
        superseded.append(link.pk)
        if link.valid_from < valid_from:
            inserts.append(_copy_link(link, now, valid_to=valid_from))
        if valid_to is not None and end_or_max(link.valid_to) > valid_to:
            inserts.append(_copy_link(link, now, valid_from=valid_to))
    inserts.append(
        NodeParent(
            tenant=node.tenant,
            node=node,
            parent=parent,
            valid_from=valid_from,
            valid_to=valid_to,
            recorded_at=now,
        )
    )
    NodeParent.objects.filter(pk__in=superseded).update(superseded_at=now)
    NodeParent.objects.bulk_create(inserts)
    # Who sits above the node's subtree changed on these days (roll-ups follow it).
    changes_record(
        kind=ChangeKind.NODE_PARENT,
        keys=[ChangeKey(valid_from=valid_from, valid_to=valid_to, node_id=node.pk)],
    )


def _copy_link(link: NodeParent, now: datetime, **changes: Any) -> NodeParent:
    copy = NodeParent(
        tenant_id=link.tenant_id,
        node_id=link.node_id,
        parent_id=link.parent_id,
        valid_from=link.valid_from,
        valid_to=link.valid_to,
        recorded_at=now,
    )
    for field, value in changes.items():
        setattr(copy, field, value)
    return copy


@transaction.atomic
def node_create(
    *,
    hierarchy_id: int,
    code: str,
    name: str,
    valid_from: date,
    parent_id: int | None = None,
    valid_to: date | None = None,
) -> Node:
    """Create a node under ``parent_id`` (or as a root) from ``valid_from``."""
    hierarchy: Hierarchy | None = Hierarchy.objects.filter(pk=hierarchy_id).first()
    if hierarchy is None:
        raise _invalid(UNKNOWN_HIERARCHY, "unknown_hierarchy", "hierarchy_id")
    if Node.objects.filter(hierarchy=hierarchy, code=code).exists():
        raise ConflictError("A node with this code exists in the hierarchy.", code="duplicate_code")
    parent = _get_node(parent_id, "parent_id") if parent_id is not None else None
    node = Node(tenant=hierarchy.tenant, hierarchy=hierarchy, code=code, name=name)
    _full_clean(node, exclude=["tenant", "hierarchy"])
    node.save()
    _set_parent(node, parent, valid_from, valid_to, timezone.now())
    closure_rebuild(hierarchy_id=hierarchy.pk)
    audit_record(
        action="node.create",
        obj=node,
        after={**model_snapshot(node), "parent_id": parent_id, "valid_from": str(valid_from)},
    )
    return node


@transaction.atomic
def node_update(*, node_id: int, **changes: Any) -> Node:
    """Rename a node (its place in the tree changes through :func:`node_move`)."""
    node: Node | None = Node.objects.select_for_update().filter(pk=node_id).first()
    if node is None:
        raise NotFoundError(UNKNOWN_NODE)
    before = model_snapshot(node)
    new_code = changes.get("code", node.code)
    siblings = Node.objects.filter(hierarchy_id=node.hierarchy_id, code=new_code)
    if new_code != node.code and siblings.exists():
        raise ConflictError("A node with this code exists in the hierarchy.", code="duplicate_code")
    for field in ("name", "code"):
        if field in changes:
            setattr(node, field, changes[field])
    _full_clean(node, exclude=["tenant", "hierarchy"])
    node.save()
    audit_record(action="node.update", obj=node, before=before, after=model_snapshot(node))
    return node


@transaction.atomic
def node_move(
    *, node_id: int, parent_id: int | None, valid_from: date, valid_to: date | None = None
) -> Node:
    """Put a node under another parent (or make it a root) from ``valid_from``.

    An open ``valid_to`` replaces every later link of the node; refused if it makes a cycle
    on any day.
    """
    node: Node | None = Node.objects.select_related("hierarchy").filter(pk=node_id).first()
    if node is None:
        raise NotFoundError(UNKNOWN_NODE)
    # Serialise moves within one hierarchy: the cycle check reads the whole tree.
    Hierarchy.objects.select_for_update().filter(pk=node.hierarchy_id).first()
    parent = _get_node(parent_id, "parent_id") if parent_id is not None else None
    _set_parent(node, parent, valid_from, valid_to, timezone.now())
    try:
        closure_rebuild(hierarchy_id=node.hierarchy_id)
    except ValidationFailedError as exc:
        if exc.code != "cycle":
            raise
        day = exc.details["date"]
        raise ValidationFailedError(
            CYCLE.format(node=node.name, day=day),
            code="cycle",
            details={"parent_id": [CYCLE.format(node=node.name, day=day)]},
        ) from None
    audit_record(
        action="node.move",
        obj=node,
        after={
            "parent_id": parent_id,
            "valid_from": valid_from.isoformat(),
            "valid_to": valid_to.isoformat() if valid_to else None,
        },
    )
    return node


@transaction.atomic
def node_delete(*, node_id: int) -> None:
    """Delete a node that never had children or assignments."""
    node: Node | None = Node.objects.filter(pk=node_id).first()
    if node is None:
        raise NotFoundError(UNKNOWN_NODE)
    if (
        Assignment.objects.filter(node=node).exists()
        or NodeParent.objects.filter(parent=node).exists()
    ):
        raise ConflictError(IN_USE.format(what="This node"), code="in_use")
    audit_record(action="node.delete", obj=node, before=model_snapshot(node))
    hierarchy_id = node.hierarchy_id
    node.delete()
    closure_rebuild(hierarchy_id=hierarchy_id)


# --- assignments -------------------------------------------------------------------------------


def span_of(a: Assignment, hierarchy_id: int, key: Any = None) -> Span:
    return Span(
        key=a.pk if key is None else key,
        node=a.node_id,
        role=a.role_id,
        allocation=Decimal(a.allocation_pct),
        start=a.valid_from,
        end=a.valid_to,
        group=hierarchy_id,
    )


def _hierarchy_of(node_id: int) -> int:
    return int(Node.objects.filter(pk=node_id).values_list("hierarchy_id", flat=True).get())


def check_person_spans(
    person: Person, spans: list[Span], changed: Iterable[Any]
) -> list[tuple[Any, str, str, str]]:
    """Return (key, field, code, message) for every rule a person's spans break.

    Only spans whose key is in ``changed`` are checked against the hire and termination dates;
    the person-level rules (no overlapping duplicates, ≤ 100 % on every day) look at all.
    """
    out: list[tuple[Any, str, str, str]] = []
    changed = set(changed)
    for span in spans:
        if span.key not in changed:
            continue
        if span.end is not None and span.end <= span.start:
            out.append((span.key, "valid_to", "dates_out_of_order", DATES_OUT_OF_ORDER))
        if span.start < person.hire_date:
            out.append(
                (span.key, "valid_from", "before_hire", BEFORE_HIRE.format(hire=person.hire_date))
            )
        if person.termination_date is not None and span.start >= person.termination_date:
            out.append(
                (
                    span.key,
                    "valid_from",
                    "after_termination",
                    AFTER_TERMINATION.format(end=person.termination_date),
                )
            )
        if not (Decimal(0) < span.allocation <= Decimal(100)):
            out.append((span.key, "allocation_pct", "allocation_range", ALLOCATION_RANGE))
    if out:
        return out
    for problem in check_spans(spans):
        if problem.code == "overlapping_duplicate":
            message = OVERLAPPING_DUPLICATE.format(day=problem.day.isoformat())
            out.append((problem.key, "valid_from", problem.code, message))
        else:
            total = (problem.total or Decimal(0)).normalize()
            message = ALLOCATION_OVER_100.format(total=f"{total:f}", day=problem.day.isoformat())
            out.append((problem.key, "allocation_pct", problem.code, message))
    return out


def _raise_first(problems: list[tuple[Any, str, str, str]]) -> None:
    if problems:
        _key, field, code, message = problems[0]
        raise _invalid(message, code, field)


def assignments_changed(rows: Iterable[Assignment]) -> None:
    """Record in the change feed the assignments a write superseded or created: each one's
    person and node over its own dates."""
    changes_record(
        kind=ChangeKind.ASSIGNMENT,
        keys=[
            ChangeKey(
                valid_from=a.valid_from,
                valid_to=a.valid_to,
                person_id=a.person_id,
                node_id=a.node_id,
            )
            for a in rows
        ],
    )


def _copy_assignment(a: Assignment, now: datetime, **changes: Any) -> Assignment:
    copy = Assignment(
        tenant_id=a.tenant_id,
        person_id=a.person_id,
        node_id=a.node_id,
        role_id=a.role_id,
        title=a.title,
        allocation_pct=a.allocation_pct,
        is_manager=a.is_manager,
        valid_from=a.valid_from,
        valid_to=a.valid_to,
        recorded_at=now,
    )
    for field, value in changes.items():
        setattr(copy, field, value)
    return copy


def _resolve_refs(person_id: int | None, node_id: int | None, role_id: int | None) -> None:
    # Another tenant's id is answered exactly like an id that does not exist.
    if person_id is not None and not Person.objects.filter(pk=person_id).exists():
        raise _invalid(UNKNOWN_PERSON, "unknown_person", "person_id")
    if node_id is not None and not Node.objects.filter(pk=node_id).exists():
        raise _invalid(UNKNOWN_NODE, "unknown_node", "node_id")
    if role_id is not None and not JobRole.objects.filter(pk=role_id).exists():
        raise _invalid(UNKNOWN_ROLE, "unknown_role", "role_id")


@transaction.atomic
def assignment_create(
    *,
    person_id: int,
    node_id: int,
    role_id: int,
    valid_from: date,
    valid_to: date | None = None,
    title: str = "",
    allocation_pct: Decimal = Decimal(100),
    is_manager: bool = False,
) -> Assignment:
    """Assign a person to a node in a role, at an allocation, over an interval."""
    _resolve_refs(person_id, node_id, role_id)
    person = _person_for_update(person_id)
    new = Assignment(
        tenant=person.tenant,
        person=person,
        node_id=node_id,
        role_id=role_id,
        title=title,
        allocation_pct=allocation_pct,
        is_manager=is_manager,
        valid_from=valid_from,
        valid_to=valid_to,
        recorded_at=timezone.now(),
    )
    current = Assignment.objects.filter(person=person).known_now()
    spans = [span_of(a, a.node.hierarchy_id) for a in current.select_related("node")]
    spans.append(span_of(new, _hierarchy_of(node_id), key="new"))
    _raise_first(check_person_spans(person, spans, ["new"]))
    new.save()
    assignments_changed([new])
    audit_record(action="assignment.create", obj=new, after=model_snapshot(new))
    return new


def _assignment_for_update(assignment_id: int) -> tuple[Assignment, Person]:
    a = Assignment.objects.filter(pk=assignment_id).known_now().first()
    if a is None:
        raise NotFoundError("Assignment not found.")
    return a, _person_for_update(a.person_id)


@transaction.atomic
def assignment_update(*, assignment_id: int, **changes: Any) -> Assignment:
    """Change an assignment: the row is superseded by a new version, which is returned."""
    old, person = _assignment_for_update(assignment_id)
    unknown = set(changes) - set(ASSIGNMENT_FIELDS)
    if unknown:
        raise ValidationFailedError(f"Unknown field(s): {', '.join(sorted(unknown))}.")
    _resolve_refs(None, changes.get("node_id"), changes.get("role_id"))
    now = timezone.now()
    new = _copy_assignment(old, now, **changes)
    others = Assignment.objects.filter(person=person).known_now().exclude(pk=old.pk)
    spans = [span_of(a, a.node.hierarchy_id) for a in others.select_related("node")]
    spans.append(span_of(new, _hierarchy_of(new.node_id), key="new"))
    _raise_first(check_person_spans(person, spans, ["new"]))
    Assignment.objects.filter(pk=old.pk).update(superseded_at=now)
    new.save()
    assignments_changed([old, new])
    audit_record(
        action="assignment.update",
        obj=new,
        before=model_snapshot(old),
        after={**model_snapshot(new), "replaces": old.pk},
    )
    return new


@transaction.atomic
def assignment_delete(*, assignment_id: int) -> None:
    """Withdraw an assignment entered by mistake (superseded, kept for replays)."""
    old, _person = _assignment_for_update(assignment_id)
    Assignment.objects.filter(pk=old.pk).update(superseded_at=timezone.now())
    assignments_changed([old])
    audit_record(action="assignment.delete", obj=old, before=model_snapshot(old))


# --- membership scopes -------------------------------------------------------------------------


@transaction.atomic
def membership_scope_set(*, membership_id: int, node_ids: list[int]) -> list[MembershipScope]:
    """Limit a member's tenant-wide people rights to these nodes' subtrees (empty: no limit)."""
    tenant = get_current_tenant()
    membership = Membership.objects.filter(tenant=tenant, pk=membership_id).first()
    if membership is None:
        raise NotFoundError("Member not found.")
    wanted = set(node_ids)
    found = set(Node.objects.filter(pk__in=wanted).values_list("id", flat=True))
    if found != wanted:
        raise _invalid(UNKNOWN_NODE, "unknown_node", "node_ids")
    before = sorted(
        MembershipScope.objects.filter(membership=membership).values_list("node_id", flat=True)
    )
    MembershipScope.objects.filter(membership=membership).exclude(node_id__in=wanted).delete()
    have = set(
        MembershipScope.objects.filter(membership=membership).values_list("node_id", flat=True)
    )
    MembershipScope.objects.bulk_create(
        [
            MembershipScope(tenant=tenant, membership=membership, node_id=n)
            for n in sorted(wanted - have)
        ]
    )
    audit_record(
        action="membership.scope_set",
        obj=membership,
        before={"node_ids": before},
        after={"node_ids": sorted(wanted)},
    )
    return list(MembershipScope.objects.filter(membership=membership))


def link_users_by_email() -> int:
    """Link people without a user to the tenant member with the same e-mail; return how many."""
    tenant = get_current_tenant()
    user_model = get_user_model()
    members = dict(
        user_model.objects.filter(memberships__tenant=tenant)
        .exclude(email="")
        .values_list("email", "id")
    )
    taken = set(Person.objects.filter(user__isnull=False).values_list("user_id", flat=True))
    changed = []
    for person in Person.objects.filter(user__isnull=True).exclude(email=""):
        user_id = members.get(person.email.lower()) or members.get(person.email)
        if user_id and user_id not in taken:
            person.user_id = user_id
            taken.add(user_id)
            changed.append(person)
    Person.objects.bulk_update(changed, ["user"])
    if changed:
        audit_record(
            action="person.link_users",
            object_type="hierarchy.person",
            after={"linked": {p.employee_id: p.user_id for p in changed}},
        )
    return len(changed)
