"""The one access policy: which people a principal may see, whose pay, and where it may write.

It answers on a principal (:class:`core.permissions.Principal`: a member with roles, maybe
limited by ``MembershipScope`` rows to some nodes' subtrees, or an API client with scopes),
never on a request. API views, pages, exports and the audit log ask it; nothing else decides.

- **People.** ``people.view`` sees everyone in the tenant, unless the member has scope rows (a
  node-scoped admin): then only the people in those nodes' subtrees during the window asked
  about. ``people.view.team`` (a manager) sees, for every node they manage during the window,
  the people in its subtree on the days they managed it. Everyone with a people right sees
  themselves (the person linked to their user).
- **Pay fields** (:data:`PAY_FIELDS`: base salary, attributes, the linked user) hold current
  values, so they follow current responsibility: ``people.view`` without node scopes sees them
  for everyone, a node-scoped admin for the people inside their nodes on some day from today
  on, and everyone for themselves. A manager never sees them for their reports.
- **Writes.** A node-scoped admin changes only the people inside their nodes from today on,
  names only such people as managers of record, places assignments only in nodes that lie
  inside their scope for the whole span, sees only their own HR imports, and does nothing
  tenant-wide (org structure, adding people, crediting rules, periods, recalculations).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar

from django.db.models import Exists, Model, OuterRef, Q, QuerySet

from core.errors import NotFoundError, PermissionDeniedError, ValidationFailedError
from core.models import AuditEvent
from core.permissions import Principal, request_principal
from core.tenancy import get_current_tenant
from hierarchy import org_selectors as sel
from hierarchy.intervals import OPEN_END, clip, covers
from hierarchy.models import (
    Assignment,
    ImportBatch,
    MembershipScope,
    NodeClosure,
    Person,
)
from hierarchy.people import PERSON_FIELDS
from hierarchy.periods import tenant_today

R = TypeVar("R", bound=Model)

PEOPLE_READ = ("people.view", "people.view.team", "people.view.self")
# Every field of a person as the API and the person page show it, in display order: what
# services may write, framed by the record's id and times.
PERSON_OUTPUT_FIELDS: tuple[str, ...] = ("id", *PERSON_FIELDS, "created_at", "updated_at")
PAY_FIELDS: tuple[str, ...] = ("base_salary", "attributes", "user_id")
# Audit snapshots of people carry pay under these keys (``linked``: bulk user links).
PAY_AUDIT_KEYS: frozenset[str] = frozenset({*PAY_FIELDS, "linked"})
PERSON_OBJECT = "hierarchy.person"

TENANT_WIDE_ONLY = (
    "Your access is limited to part of the organisation; {what} needs tenant-wide access."
)
UNKNOWN_PERSON = "Unknown person."
UNKNOWN_MANAGER = "Unknown manager."
NODE_OUT_OF_SCOPE = "This node is outside the part of the organisation you manage."


@dataclass(eq=False)
class Access:
    """The policy applied to one principal in the current tenant (build with :func:`access_for`)."""

    principal: Principal
    scope: frozenset[int] | None  # the nodes a member is limited to; None: not limited
    today: date
    _pay: dict[int, bool] = field(default_factory=dict, repr=False)
    _cover: dict[int, list[tuple[date, date | None]]] | None = field(default=None, repr=False)

    # --- who is this -----------------------------------------------------------------------

    @property
    def node_limited(self) -> bool:
        """Return whether the principal is limited to some nodes' subtrees."""
        return self.scope is not None

    @property
    def sees_everyone(self) -> bool:
        """Return whether the principal sees every person and their pay."""
        return self.principal.has("people.view") and self.scope is None

    @property
    def sees_all_payees(self) -> bool:
        """Return whether :meth:`payees` is everyone in the tenant, whatever the window (callers
        may then skip filtering by it)."""
        return self.sees_everyone and self._reads_pay_of_people_seen

    @property
    def _reads_pay_of_people_seen(self) -> bool:
        """Whether the principal reads the pay of every person it sees (:meth:`payees` is
        :meth:`people`): ``payouts.view``, or a manager's team reading with ``people.view.team``."""
        principal = self.principal
        return principal.has("payouts.view") or (
            principal.has("payouts.view.team") and principal.has("people.view.team")
        )

    # --- which people ----------------------------------------------------------------------

    def people(
        self, *, start: date, end: date, known_at: datetime | None = None
    ) -> QuerySet[Person]:
        """Return the people the principal may see during ``[start, end)``."""
        principal = self.principal
        if not principal.has(*PEOPLE_READ):
            return Person.objects.none()
        if principal.has("people.view"):
            if self.scope is None:
                return Person.objects.all()
            return sel.people_in_subtrees(
                node_ids=sorted(self.scope), start=start, end=end, known_at=known_at
            )
        if principal.user_id is None:
            return Person.objects.none()
        visible = Q(user_id=principal.user_id)
        me = (
            sel.person_for_user(user_id=principal.user_id)
            if principal.has("people.view.team")
            else None
        )
        if me is not None:
            managed = (
                Assignment.objects.filter(person=me, is_manager=True)
                .known_at(known_at)
                .overlapping(start, end)
            )
            for node_id, a_start, a_end in managed.values_list("node_id", "valid_from", "valid_to"):
                window = clip(a_start, a_end, start, end)
                if window is None:
                    continue
                team = sel.people_in_subtrees(
                    node_ids=[node_id], start=window[0], end=window[1], known_at=known_at
                )
                visible |= Q(pk__in=team.values("pk"))
        return Person.objects.filter(visible).order_by("full_name", "employee_id")

    def person_get(
        self, *, person_id: int, start: date, end: date, known_at: datetime | None = None
    ) -> Person:
        """Return a person the principal may see during the window, or raise NotFoundError."""
        within = self.people(start=start, end=end, known_at=known_at)
        return sel.person_get(person_id=person_id, within=within)

    def current_people(self) -> QuerySet[Person]:
        """Return the people the principal answers for now: inside its nodes from today on.

        Pay fields and changes follow this set; for a principal without node scopes it is
        everyone (what it may do is the permission check's business).
        """
        if self.scope is None:
            return Person.objects.all()
        return sel.people_in_subtrees(node_ids=sorted(self.scope), start=self.today, end=OPEN_END)

    def rows_about_visible_people(
        self, rows: QuerySet[R], *, person: str = "person_id", day: str
    ) -> QuerySet[R]:
        """Keep, for a node-scoped principal, the rows whose person was inside its nodes on the
        row's own ``day`` (credits on their credit date); others read them unchanged."""
        if self.scope is None:
            return rows
        # Both rows must be in force on the outer row's own day (an expression, not a date).
        inside = NodeClosure.objects.filter(
            ancestor_id__in=sorted(self.scope), descendant_id=OuterRef("node_id")
        ).as_of(OuterRef(OuterRef(day)))
        placed = (
            Assignment.objects.filter(person_id=OuterRef(person))
            .known_now()
            .as_of(OuterRef(day))
            .filter(Exists(inside))
        )
        return rows.filter(Exists(placed))

    # --- whose earnings --------------------------------------------------------------------

    def payees(
        self, *, start: date, end: date, known_at: datetime | None = None
    ) -> QuerySet[Person]:
        """Return the people whose earnings (statements, payout lines, credits) the principal
        may read for ``[start, end)``: ``payouts.view`` the people it sees; ``payouts.view.team``
        (a manager) the people in a node it managed during the window, as the structure stood
        then, and itself; ``payouts.view.self`` itself only."""
        principal = self.principal
        if self._reads_pay_of_people_seen:
            return self.people(start=start, end=end, known_at=known_at)
        if principal.has("payouts.view.self", "payouts.view.team") and principal.user_id:
            return Person.objects.filter(user_id=principal.user_id)
        return Person.objects.none()

    def payee_get(
        self, *, person_id: int, start: date, end: date, known_at: datetime | None = None
    ) -> Person:
        """Return a person whose earnings the principal may read, or raise NotFoundError."""
        return sel.person_get(
            person_id=person_id, within=self.payees(start=start, end=end, known_at=known_at)
        )

    def rows_about_own_earnings(
        self, rows: QuerySet[R], *, person: str = "person_id", day: str
    ) -> QuerySet[R]:
        """Keep the rows about pay (credits) a principal without ``transactions.view`` may read:
        its own; a manager's also those of people placed, on the row's own ``day``, in a node
        it managed that day. Readers of transactions read them as
        :meth:`rows_about_visible_people` keeps them."""
        principal = self.principal
        if principal.has("transactions.view"):
            return self.rows_about_visible_people(rows, person=person, day=day)
        if principal.user_id is None or not principal.has("payouts.view.self", "payouts.view.team"):
            return rows.none()
        visible = Q(
            **{f"{person}__in": Person.objects.filter(user_id=principal.user_id).values("pk")}
        )
        me = (
            sel.person_for_user(user_id=principal.user_id)
            if principal.has("payouts.view.team") and principal.has("people.view.team")
            else None
        )
        if me is not None:
            managed = Assignment.objects.filter(person=me, is_manager=True).known_now()
            for node_id, a_start, a_end in managed.values_list("node_id", "valid_from", "valid_to"):
                inside = NodeClosure.objects.filter(
                    ancestor_id=node_id, descendant_id=OuterRef("node_id")
                ).as_of(OuterRef(OuterRef(day)))
                placed = (
                    Assignment.objects.filter(person_id=OuterRef(person))
                    .known_now()
                    .as_of(OuterRef(day))
                    .filter(Exists(inside))
                )
                during = Q(**{f"{day}__gte": a_start})
                if a_end is not None:
                    during &= Q(**{f"{day}__lt": a_end})
                visible |= Q(Exists(placed)) & during
        return rows.filter(visible)

    # --- whose pay -------------------------------------------------------------------------

    def pay_visible_ids(self, person_ids: Iterable[int]) -> set[int]:
        """Return which of ``person_ids`` the principal may see the pay fields of."""
        wanted = set(person_ids)
        unknown = wanted - set(self._pay)
        if unknown:
            seen: set[int] = set()
            if self.sees_everyone:
                seen = unknown
            elif self.principal.has(*PEOPLE_READ):
                if self.principal.user_id is not None:
                    seen |= set(
                        Person.objects.filter(
                            pk__in=unknown, user_id=self.principal.user_id
                        ).values_list("pk", flat=True)
                    )
                if self.principal.has("people.view"):
                    seen |= set(
                        self.current_people().filter(pk__in=unknown).values_list("pk", flat=True)
                    )
            self._pay.update({pk: pk in seen for pk in unknown})
        return {pk for pk in wanted if self._pay[pk]}

    def may_see_pay(self, person: Person) -> bool:
        """Return whether the principal may see ``person``'s pay fields."""
        return bool(self.pay_visible_ids([person.pk]))

    def person_fields(self, person: Person) -> tuple[str, ...]:
        """Return the fields of ``person`` the principal may see, in display order."""
        if self.may_see_pay(person):
            return PERSON_OUTPUT_FIELDS
        return tuple(f for f in PERSON_OUTPUT_FIELDS if f not in PAY_FIELDS)

    def audit_events(self, events: Iterable[AuditEvent]) -> list[AuditEvent]:
        """Return ``events`` with pay keys taken out of the before/after snapshots of people
        whose pay the principal may not see; each event's ``redacted_fields`` names them.

        The events are changed in memory only (the table is append-only and nobody saves them).
        """
        events = list(events)
        ids = {
            int(e.object_id)
            for e in events
            if e.object_type == PERSON_OBJECT and e.object_id.isdigit()
        }
        visible = self.pay_visible_ids(ids)
        for event in events:
            hidden: set[str] = set()
            about = int(event.object_id) if event.object_id.isdigit() else None
            if event.object_type == PERSON_OBJECT and about not in visible:
                event.before = _without(event.before, hidden)
                event.after = _without(event.after, hidden)
            event.redacted_fields = sorted(hidden)  # type: ignore[attr-defined]
        return events

    # --- where it may write ----------------------------------------------------------------

    def require_tenant_wide(self, what: str) -> None:
        """Refuse a tenant-wide change (``what``) to a node-scoped principal (403)."""
        if self.scope is not None:
            raise PermissionDeniedError(TENANT_WIDE_ONLY.format(what=what))

    def check_person_writable(self, person_id: int, *, missing_as_400: bool = False) -> None:
        """Refuse to change a person the principal does not answer for: a 404, or (for an id
        inside a request body) the 400 an unknown id gets."""
        if self.current_people().filter(pk=person_id).exists():
            return
        if missing_as_400:
            raise ValidationFailedError(
                UNKNOWN_PERSON, code="unknown_person", details={"person_id": [UNKNOWN_PERSON]}
            )
        raise NotFoundError("Person not found.")

    def check_manager(self, manager_id: int | None, *, current: int | None = None) -> None:
        """Refuse a new manager of record the principal does not answer for, as if unknown."""
        if self.scope is None or manager_id is None or manager_id == current:
            return
        if not self.current_people().filter(pk=manager_id).exists():
            raise ValidationFailedError(
                UNKNOWN_MANAGER, code="unknown_manager", details={"manager_id": [UNKNOWN_MANAGER]}
            )

    def node_writable(self, node_id: int, start: date, end: date | None) -> bool:
        """Return whether the principal may place people in ``node_id`` for ``[start, end)``."""
        if self.scope is None:
            return True
        if self._cover is None:
            cover: dict[int, list[tuple[date, date | None]]] = defaultdict(list)
            rows = NodeClosure.objects.filter(ancestor_id__in=sorted(self.scope)).values_list(
                "descendant_id", "valid_from", "valid_to"
            )
            for descendant, valid_from, valid_to in rows:
                cover[descendant].append((valid_from, valid_to))
            self._cover = dict(cover)
        return covers(self._cover.get(node_id, []), start, end)

    def check_node_writable(self, node_id: int, start: date, end: date | None) -> None:
        """Refuse an assignment into a node outside the principal's scope (400 on node_id)."""
        if not self.node_writable(node_id, start, end):
            raise ValidationFailedError(
                NODE_OUT_OF_SCOPE, code="out_of_scope", details={"node_id": [NODE_OUT_OF_SCOPE]}
            )

    def import_batches(self, batches: QuerySet[ImportBatch]) -> QuerySet[ImportBatch]:
        """Keep the HR imports the principal may read: a node-scoped admin sees only their own."""
        if self.scope is None:
            return batches
        return batches.filter(created_by_id=self.principal.user_id)


def _without(snapshot: Any, hidden: set[str]) -> Any:
    if not isinstance(snapshot, dict):
        return snapshot
    hidden |= PAY_AUDIT_KEYS & set(snapshot)
    return {k: v for k, v in snapshot.items() if k not in PAY_AUDIT_KEYS}


def access_for(principal: Principal, *, today: date | None = None) -> Access:
    """Return the access policy of ``principal`` in the current tenant."""
    scope: frozenset[int] | None = None
    if principal.membership_id is not None and principal.has("people.view"):
        nodes = MembershipScope.objects.filter(membership_id=principal.membership_id)
        scope = frozenset(nodes.values_list("node_id", flat=True)) or None
    return Access(
        principal=principal,
        scope=scope,
        today=today or tenant_today(get_current_tenant()),
    )


def request_access(request: Any) -> Access:
    """Return the access policy of whoever made a page or API request (kept on the request)."""
    cached = getattr(request, "_quotient_access", None)
    if isinstance(cached, Access):
        return cached
    access = access_for(request_principal(request))
    request._quotient_access = access
    return access
