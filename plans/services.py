"""Every write of plans: plans, versions (draft -> published), archive, assignments, quotas.

Each service runs in one transaction and records one audit event per row it writes. The spec
is the engine's to judge (``plans.source.check_source`` -> ``engine.validate_plan``); nothing
here computes pay. Messages are module constants so tests and pages can assert on them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.audit import audit_record
from core.changes import ChangeKey, changes_record
from core.currencies import is_currency_code
from core.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationFailedError
from core.models import ChangeKind, model_snapshot
from core.tenancy import get_current_tenant
from hierarchy.access import UNKNOWN_PERSON, Access
from hierarchy.models import JobFunction, JobRole, Node, Person
from plans import cases, catalog
from plans.models import (
    Plan,
    PlanAcknowledgement,
    PlanAssignment,
    PlanVersion,
    Quota,
    VersionStatus,
)
from plans.selectors import plan_assignments_of_person
from plans.source import check_source, dump_spec
from plans.versions import plan_assignment_versions_record, quota_versions_record

INVALID_SPEC = "The plan has {count} problem(s); the first: {first}"
PUBLISHED_IMMUTABLE = (
    "Version {number} is published and cannot change; your edit was saved as draft version {draft}."
)
DRAFT_EXISTS = "Plan {plan} already has a draft (version {number}); edit that draft instead."
NOT_A_DRAFT = "Version {number} is already published."
NEEDS_START = "Say from which day the version is in force (valid_from)."
START_NOT_AFTER = (
    "Version {number} would start on {start}, but version {previous} starts on {previous_start}: "
    "a new version must start after the one before it."
)
ARCHIVED = "Plan {plan} is archived; unarchive it to change it."
DUPLICATE_CODE = "A plan with the code {code!r} exists."
NOT_PUBLISHED = "Only a published version can be assigned; publish version {number} first."
BEFORE_VERSION = "The assignment starts on {start}, before version {number} is in force ({vstart})."
OVERLAP = (
    "{holder} is already on plan {plan} (version {number}) from {start} {end}; end that "
    "assignment first."
)
ONE_HOLDER = "Name exactly one of person_id, role_id or node_id."
UNKNOWN_HOLDER = "Unknown {kind}."
BAD_CURRENCY = "Unknown currency {currency!r}."
BAD_TARGET = "The target incentive must be a number of at least 0."
BAD_DATES = "The end (valid_to) must be after the start (valid_from)."
SPEC_CURRENCY_HINT = "the plan's currency"
QUOTA_ONE_HOLDER = "Name exactly one of person_id or node_id."
QUOTA_OVERLAP = (
    "{holder} already has quota {quota_id!r} from {start} to {end} (quota {id}, {amount} "
    "{currency}); end or change that quota first."
)
QUOTA_BAD_AMOUNT = "The quota amount must be a number of at least 0 (at most 4 decimals)."
QUOTA_BAD_ID = "The quota id must be 1 to 64 letters, digits, '_', '-' or '.'."
QUOTA_NOT_IN_PLAN = "Plan {plan} does not name the quota id {quota_id!r} (it names: {names})."
QUOTA_NEEDS_END = "A quota covers a period or a plan year: say when it ends (valid_to)."
QUOTA_ID_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


def _hash(spec: Mapping[str, Any]) -> str:
    return hashlib.sha256(
        json.dumps(spec, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


def _checked_spec(source: str) -> dict[str, Any]:
    checked = check_source(source)
    if not checked.ok:
        problems = [p.as_dict() for p in checked.problems]
        raise ValidationFailedError(
            INVALID_SPEC.format(count=len(problems), first=checked.problems[0]),
            code="invalid_plan",
            details={
                "spec": [
                    f"{p.path}: {p.message}" if p.path else p.message for p in checked.problems
                ],
                "problems": problems,
            },
        )
    assert checked.spec is not None
    return checked.spec


def source_of(*, source: str | None = None, spec: Mapping[str, Any] | None = None) -> str:
    """Return the plan text from either a text or a parsed spec (JSON over the API)."""
    if source is not None:
        return source
    if spec is not None:
        return dump_spec(dict(spec))
    raise ValidationFailedError("Send the plan as source text or as a spec.", code="no_spec")


def _live_plan(plan_id: int, *, lock: bool = False) -> Plan:
    qs = Plan.objects.select_for_update() if lock else Plan.objects.all()
    plan: Plan | None = qs.filter(pk=plan_id).first()
    if plan is None:
        raise NotFoundError("Plan not found.")
    if plan.archived_at is not None:
        raise ConflictError(ARCHIVED.format(plan=plan.name), code="plan_archived")
    return plan


def _version(version_id: int, *, lock: bool = False) -> PlanVersion:
    qs = PlanVersion.objects.select_for_update() if lock else PlanVersion.objects.all()
    version: PlanVersion | None = qs.select_related("plan").filter(pk=version_id).first()
    if version is None:
        raise NotFoundError("Plan version not found.")
    return version


def _new_version(
    *,
    plan: Plan,
    source: str,
    valid_from: dt.date | None,
    user_id: int | None,
    note: str = "",
    based_on: PlanVersion | None = None,
    audit: bool = True,
) -> PlanVersion:
    spec = _checked_spec(source)
    draft = PlanVersion.objects.filter(plan=plan, status=VersionStatus.DRAFT).first()
    if draft is not None:
        raise ConflictError(
            DRAFT_EXISTS.format(plan=plan.name, number=draft.number),
            code="draft_exists",
            details={"draft_id": draft.pk, "number": draft.number},
        )
    last = PlanVersion.objects.filter(plan=plan).order_by("-number").first()
    now = timezone.now()
    version = PlanVersion(
        plan=plan,
        number=(last.number if last else 0) + 1,
        status=VersionStatus.DRAFT,
        source=source,
        spec=spec,
        spec_hash=_hash(spec),
        valid_from=valid_from or (based_on.valid_from if based_on else None) or now.date(),
        based_on=based_on,
        note=note,
        created_at=now,
        created_by_id=user_id,
        updated_at=now,
    )
    version.full_clean()
    version.save()
    copied = cases.cases_copy(source=based_on, target=version, user_id=user_id) if based_on else 0
    if audit:
        after = _snapshot(version)
        if copied:
            after["cases_copied"] = copied
        audit_record(action="plan_version.create", obj=version, after=after)
    return version


def _snapshot(version: PlanVersion) -> dict[str, Any]:
    return model_snapshot(
        version,
        fields=[
            "plan",
            "number",
            "status",
            "valid_from",
            "valid_to",
            "spec_hash",
            "note",
            "based_on",
        ],
    )


@transaction.atomic
def plan_create(
    *,
    code: str,
    name: str,
    user_id: int | None,
    description: str = "",
    function: str = JobFunction.OTHER,
    template: str = "",
    source: str | None = None,
    valid_from: dt.date | None = None,
) -> Plan:
    """Create a plan and its first draft, from a template or from a given text."""
    if template:
        tpl = catalog.template_get(template)
        function = function if function != JobFunction.OTHER else tpl.function
        source = source or catalog.template_source(template, plan_id=code, name=name)
    if source is None:
        raise ValidationFailedError(
            "Start from a template or give the plan's text.", code="no_spec"
        )
    if Plan.objects.filter(code=code).exists():
        raise ConflictError(DUPLICATE_CODE.format(code=code), code="duplicate_code")
    plan = Plan(
        code=code,
        name=name,
        description=description,
        function=function if function in JobFunction.values else JobFunction.OTHER,
        template=template,
        created_at=timezone.now(),
        created_by_id=user_id,
    )
    plan.full_clean()
    plan.save()
    version = _new_version(
        plan=plan, source=source, valid_from=valid_from, user_id=user_id, audit=False
    )
    # One event for the plan, its first draft and the worked cases its template carries.
    after = {
        **model_snapshot(plan),
        "version": version.number,
        "valid_from": str(version.valid_from),
    }
    if template:
        after["cases"] = cases.template_cases_add(
            version=version, template=template, user_id=user_id
        )
    audit_record(action="plan.create", obj=plan, after=after)
    return plan


@dataclass(frozen=True)
class Saved:
    """What an edit did: the version written, and whether it is a new draft of a published one."""

    version: PlanVersion
    new_draft: bool
    message: str = ""


@transaction.atomic
def plan_version_save(
    *,
    version_id: int,
    source: str,
    user_id: int | None,
    valid_from: dt.date | None = None,
    note: str | None = None,
) -> Saved:
    """Save an edit: a draft changes in place; a published version gets a new draft."""
    version = _version(version_id, lock=True)
    _live_plan(version.plan_id)
    if version.is_published:
        draft = _new_version(
            plan=version.plan,
            source=source,
            valid_from=valid_from,
            user_id=user_id,
            note=note or "",
            based_on=version,
        )
        return Saved(
            draft, True, PUBLISHED_IMMUTABLE.format(number=version.number, draft=draft.number)
        )
    before = _snapshot(version)
    spec = _checked_spec(source)
    version.source, version.spec, version.spec_hash = source, spec, _hash(spec)
    if valid_from is not None:
        version.valid_from = valid_from
    if note is not None:
        version.note = note
    version.updated_at = timezone.now()
    version.full_clean()
    version.save()
    audit_record(action="plan_version.update", obj=version, before=before, after=_snapshot(version))
    return Saved(version, False)


@transaction.atomic
def plan_version_draft_create(
    *, plan_id: int, user_id: int | None, based_on_id: int | None = None
) -> PlanVersion:
    """Start a new draft as a copy of a version (default: the latest)."""
    plan = _live_plan(plan_id, lock=True)
    base = (
        _version(based_on_id)
        if based_on_id is not None
        else PlanVersion.objects.filter(plan=plan).order_by("-number").first()
    )
    if base is None or base.plan_id != plan.pk:
        raise NotFoundError("Plan version not found.")
    return _new_version(
        plan=plan, source=base.source, valid_from=None, user_id=user_id, based_on=base
    )


@transaction.atomic
def plan_version_publish(
    *,
    version_id: int,
    user_id: int | None,
    valid_from: dt.date | None = None,
    carry_assignments: bool = True,
) -> PlanVersion:
    """Publish a draft from ``valid_from``: it becomes immutable, the version before it ends
    that day, and (by default) the assignments of that version continue on this one."""
    version = _version(version_id, lock=True)
    plan = _live_plan(version.plan_id, lock=True)
    if version.is_published:
        raise ConflictError(NOT_A_DRAFT.format(number=version.number), code="already_published")
    start = valid_from or version.valid_from
    if start is None:
        raise ValidationFailedError(NEEDS_START, code="valid_from_required")
    # The engine judges the spec again: a draft saved before an engine change must still pass.
    _checked_spec(version.source)
    # And the version's own worked cases must all pay what they say (every failing one listed).
    cases.check_cases_pass(version)
    previous = (
        PlanVersion.objects.select_for_update()
        .filter(plan=plan, status=VersionStatus.PUBLISHED)
        .order_by("-valid_from", "-number")
        .first()
    )
    if previous is not None and previous.valid_from >= start:
        raise ConflictError(
            START_NOT_AFTER.format(
                number=version.number,
                start=start,
                previous=previous.number,
                previous_start=previous.valid_from,
            ),
            code="starts_too_early",
        )
    before = _snapshot(version)
    now = timezone.now()
    version.status = VersionStatus.PUBLISHED
    version.valid_from = start
    version.valid_to = None
    version.published_at, version.published_by_id, version.updated_at = now, user_id, now
    version.full_clean()
    version.save()
    after = _snapshot(version)
    if previous is not None and (previous.valid_to is None or previous.valid_to > start):
        previous.valid_to = start
        previous.save(update_fields=["valid_to"])
        after["previous_version_ends"] = {"version": previous.number, "valid_to": str(start)}
        if carry_assignments:
            after["assignments_carried"] = _carry(previous, version, start, user_id)
    # One event: the publication, the end of the version before and the assignments carried.
    audit_record(action="plan_version.publish", obj=version, before=before, after=after)
    return version


def _carry(previous: PlanVersion, version: PlanVersion, start: dt.date, user_id: int | None) -> int:
    """End ``previous``'s assignments on ``start`` and continue each on ``version``; return how
    many (the publication's audit event counts them)."""
    moving = PlanAssignment.objects.filter(plan_version=previous).overlapping(start, None)
    carried = 0
    for old in moving.select_for_update():
        carried += 1
        end = old.valid_to
        if old.valid_from >= start:  # starts on or after the new version: move it whole
            old.plan_version = version
            old.save(update_fields=["plan_version"])
            plan_assignment_versions_record([old])
            continue
        old.valid_to = start
        old.save(update_fields=["valid_to"])
        plan_assignment_versions_record([old])
        _write_assignment(
            version=version,
            holder=Holder(old.person_id, old.role_id, old.node_id),
            target_incentive=old.target_incentive,
            currency=old.currency,
            valid_from=start,
            valid_to=end,
            user_id=user_id,
            audit=False,
        )
    return carried


@transaction.atomic
def plan_archive(*, plan_id: int, user_id: int | None, archived: bool = True) -> Plan:
    """Archive a plan (it leaves the list and takes no new versions or assignments) or bring
    it back. Its versions and assignments stay as they are: what was paid stays explained."""
    plan: Plan | None = Plan.objects.select_for_update().filter(pk=plan_id).first()
    if plan is None:
        raise NotFoundError("Plan not found.")
    before = model_snapshot(plan)
    if archived:
        plan.archived_at, plan.archived_by_id = timezone.now(), user_id
    else:
        plan.archived_at, plan.archived_by_id = None, None
    plan.save(update_fields=["archived_at", "archived_by"])
    audit_record(
        action="plan.archive" if archived else "plan.unarchive",
        obj=plan,
        before=before,
        after=model_snapshot(plan),
    )
    return plan


# --- assignments --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Holder:
    """Who an assignment is for: exactly one of a person, a job role or a node."""

    person_id: int | None = None
    role_id: int | None = None
    node_id: int | None = None

    @property
    def kind(self) -> str:
        named = [
            k
            for k, v in (("person", self.person_id), ("role", self.role_id), ("node", self.node_id))
            if v is not None
        ]
        if len(named) != 1:
            raise ValidationFailedError(ONE_HOLDER, code="one_holder")
        return named[0]


def _check_holder(access: Access, holder: Holder, start: dt.date, end: dt.date | None) -> str:
    """Return the holder's name; refuse one that does not exist or the principal may not place."""
    kind = holder.kind
    if kind == "person":
        access.check_person_writable(int(holder.person_id or 0), missing_as_400=True)
        person = Person.objects.filter(pk=holder.person_id).first()
        assert person is not None
        return f"Person {person.full_name}"
    if kind == "role":
        access.require_tenant_wide("assigning a plan to a job role")
        role = JobRole.objects.filter(pk=holder.role_id).first()
        if role is None:
            raise ValidationFailedError(
                UNKNOWN_HOLDER.format(kind="job role"),
                code="unknown_role",
                details={"role_id": ["Unknown."]},
            )
        return f"Job role {role.name}"
    node = Node.objects.filter(pk=holder.node_id).first()
    if node is None:
        raise ValidationFailedError(
            UNKNOWN_HOLDER.format(kind="node"),
            code="unknown_node",
            details={"node_id": ["Unknown."]},
        )
    access.check_node_writable(node.pk, start, end)
    return f"Node {node.name}"


def _target(value: Any) -> Decimal:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValidationFailedError(
            BAD_TARGET, code="bad_target_incentive", details={"target_incentive": [BAD_TARGET]}
        ) from None
    if not amount.is_finite() or amount < 0 or amount >= Decimal(10) ** 16:
        raise ValidationFailedError(
            BAD_TARGET, code="bad_target_incentive", details={"target_incentive": [BAD_TARGET]}
        )
    return amount


def _assign(
    *,
    access: Access,
    version: PlanVersion,
    holder: Holder,
    target_incentive: Any,
    currency: str | None,
    valid_from: dt.date,
    valid_to: dt.date | None,
    user_id: int | None,
    audit: bool = True,
) -> PlanAssignment:
    if not version.is_published:
        raise ConflictError(NOT_PUBLISHED.format(number=version.number), code="not_published")
    if valid_to is not None and valid_to <= valid_from:
        raise ValidationFailedError(BAD_DATES, code="bad_dates", details={"valid_to": [BAD_DATES]})
    if valid_from < version.valid_from:
        raise ValidationFailedError(
            BEFORE_VERSION.format(
                start=valid_from, number=version.number, vstart=version.valid_from
            ),
            code="before_version",
            details={"valid_from": ["Before the version is in force."]},
        )
    name = _check_holder(access, holder, valid_from, valid_to)
    code = currency or str(version.spec.get("currency", ""))
    if not is_currency_code(code):
        raise ValidationFailedError(
            BAD_CURRENCY.format(currency=code),
            code="bad_currency",
            details={"currency": [BAD_CURRENCY.format(currency=code)]},
        )
    amount = _target(target_incentive)
    same = {f"{holder.kind}_id": getattr(holder, f"{holder.kind}_id")}
    conflict = (
        PlanAssignment.objects.select_for_update()
        .filter(plan_id=version.plan_id, **same)
        .overlapping(valid_from, valid_to)
        .select_related("plan_version")
        .order_by("valid_from")
        .first()
    )
    if conflict is not None:
        raise ConflictError(
            OVERLAP.format(
                holder=name,
                plan=version.plan.name,
                number=conflict.plan_version.number,
                start=conflict.valid_from,
                # its last day, as people give one (the stored end is the day after)
                end=f"through {conflict.valid_to - dt.timedelta(days=1)}"
                if conflict.valid_to
                else "on, open-ended",
            ),
            code="assignment_overlap",
            details={"conflict_id": conflict.pk},
        )
    return _write_assignment(
        version=version,
        holder=holder,
        target_incentive=amount,
        currency=code,
        valid_from=valid_from,
        valid_to=valid_to,
        user_id=user_id,
        audit=audit,
    )


def _record_plan_change(
    kind: str,
    holder: Holder | QuotaHolder,
    spans: Iterable[tuple[dt.date, dt.date | None]],
) -> None:
    """Record the change-feed keys of a plan assignment's or quota's days (docs/live.md): its
    person, or its node (the people under it); a job role's assignment, the whole tenant."""
    person = holder.person_id
    node = holder.node_id
    whole = person is None and node is None
    changes_record(
        kind=kind,
        keys=[
            ChangeKey(start, end, person_id=None if whole else person, node_id=node)
            for start, end in spans
            if end is None or start < end
        ],
    )


def _write_assignment(
    *,
    version: PlanVersion,
    holder: Holder,
    target_incentive: Decimal,
    currency: str,
    valid_from: dt.date,
    valid_to: dt.date | None,
    user_id: int | None,
    audit: bool = True,
) -> PlanAssignment:
    """Save one checked assignment row and (unless a compound action records one event for
    all of its rows) its audit event."""
    assignment = PlanAssignment(
        plan_version=version,
        plan_id=version.plan_id,
        person_id=holder.person_id,
        role_id=holder.role_id,
        node_id=holder.node_id,
        target_incentive=target_incentive,
        currency=currency,
        valid_from=valid_from,
        valid_to=valid_to,
        created_at=timezone.now(),
        created_by_id=user_id,
    )
    assignment.full_clean()
    assignment.save()
    plan_assignment_versions_record([assignment])
    _record_plan_change(ChangeKind.PLAN_ASSIGNMENT, holder, [(valid_from, valid_to)])
    if audit:
        audit_record(
            action="plan_assignment.create", obj=assignment, after=model_snapshot(assignment)
        )
    return assignment


@transaction.atomic
def plan_assignment_create(
    *,
    access: Access,
    plan_version_id: int,
    holder: Holder,
    target_incentive: Any,
    valid_from: dt.date,
    user_id: int | None,
    currency: str | None = None,
    valid_to: dt.date | None = None,
) -> PlanAssignment:
    """Put a published version on one person, job role or node for ``[valid_from, valid_to)``."""
    version = _version(plan_version_id)
    _live_plan(version.plan_id, lock=True)
    return _assign(
        access=access,
        version=version,
        holder=holder,
        target_incentive=target_incentive,
        currency=currency,
        valid_from=valid_from,
        valid_to=valid_to,
        user_id=user_id,
    )


@dataclass(frozen=True)
class BulkRow:
    holder: Holder
    target_incentive: Any
    valid_from: dt.date
    currency: str | None = None
    valid_to: dt.date | None = None


class BulkAssignmentError(ValidationFailedError):
    code = "bulk_assignment_failed"


@transaction.atomic
def plan_assignment_bulk_create(
    *, access: Access, plan_version_id: int, rows: Iterable[BulkRow], user_id: int | None
) -> list[PlanAssignment]:
    """Assign one version to many holders, all or nothing: any refused row and none is written,
    with every row's reason (its 1-based number) in ``details.rows``."""
    version = _version(plan_version_id)
    _live_plan(version.plan_id, lock=True)
    created: list[PlanAssignment] = []
    errors: list[dict[str, Any]] = []
    for number, row in enumerate(rows, start=1):
        try:
            with transaction.atomic():
                created.append(
                    _assign(
                        access=access,
                        version=version,
                        holder=row.holder,
                        target_incentive=row.target_incentive,
                        currency=row.currency,
                        valid_from=row.valid_from,
                        valid_to=row.valid_to,
                        user_id=user_id,
                        audit=False,
                    )
                )
        except (ValidationFailedError, ConflictError, NotFoundError) as exc:
            errors.append({"row": number, "code": exc.code, "message": exc.message})
    if errors:
        raise BulkAssignmentError(
            f"{len(errors)} row(s) refused, nothing was assigned; row {errors[0]['row']}: "
            f"{errors[0]['message']}",
            details={"rows": errors},
        )
    if created:
        audit_record(
            action="plan_assignment.bulk_create",
            obj=version,
            after={
                "count": len(created),
                "assignments": [_bulk_snapshot(a, ASSIGNMENT_BULK_FIELDS) for a in created],
            },
        )
    return created


ASSIGNMENT_BULK_FIELDS = ("id", "person_id", "role_id", "node_id", "target_incentive", "currency")
QUOTA_BULK_FIELDS = ("id", "person_id", "node_id", "quota_id", "amount", "currency", "plan_id")


def _bulk_snapshot(row: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    """The fields of one row of a bulk write, for its single audit event."""
    snapshot = model_snapshot(row)
    kept = {k: snapshot[k] for k in fields if snapshot.get(k) is not None}
    kept["valid_from"], kept["valid_to"] = snapshot.get("valid_from"), snapshot.get("valid_to")
    return kept


@transaction.atomic
def plan_assignment_end(*, access: Access, assignment_id: int, valid_to: dt.date) -> PlanAssignment:
    """End an assignment on ``valid_to`` (exclusive)."""
    assignment: PlanAssignment | None = (
        PlanAssignment.objects.select_for_update().filter(pk=assignment_id).first()
    )
    if assignment is None:
        raise NotFoundError("Plan assignment not found.")
    holder = Holder(assignment.person_id, assignment.role_id, assignment.node_id)
    _check_holder(access, holder, assignment.valid_from, valid_to)
    if valid_to <= assignment.valid_from:
        raise ValidationFailedError(BAD_DATES, code="bad_dates", details={"valid_to": [BAD_DATES]})
    before = model_snapshot(assignment)
    old_end = assignment.valid_to
    assignment.valid_to = valid_to
    assignment.save(update_fields=["valid_to"])
    plan_assignment_versions_record([assignment])
    # The days it no longer (or now) covers: between the two ends.
    if old_end is None or valid_to < old_end:
        _record_plan_change(ChangeKind.PLAN_ASSIGNMENT, holder, [(valid_to, old_end)])
    elif valid_to > old_end:
        _record_plan_change(ChangeKind.PLAN_ASSIGNMENT, holder, [(old_end, valid_to)])
    audit_record(
        action="plan_assignment.end",
        obj=assignment,
        before=before,
        after=model_snapshot(assignment),
    )
    return assignment


# --- quotas -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuotaHolder:
    """Whose quota: exactly one of a person or a node."""

    person_id: int | None = None
    node_id: int | None = None

    @property
    def kind(self) -> str:
        if (self.person_id is None) == (self.node_id is None):
            raise ValidationFailedError(QUOTA_ONE_HOLDER, code="one_holder")
        return "person" if self.person_id is not None else "node"


def quota_ids_of(spec: Mapping[str, Any]) -> list[str]:
    """Return the quota ids a spec can read: every ``quota:`` it names and its measure ids (a
    quota defaults to the measure's id), sorted."""
    names: set[str] = {str(m["id"]) for m in spec.get("measures", []) if isinstance(m, dict)}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "quota" and isinstance(value, str):
                    names.add(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(spec.get("components", []))
    walk(spec.get("modifiers", []))
    return sorted(names)


def _quota_amount(value: Any) -> Decimal:
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        amount = Decimal("NaN")
    if (
        not amount.is_finite()
        or amount < 0
        or amount >= Decimal(10) ** 16
        or amount != amount.quantize(Decimal("0.0001"))
    ):
        raise ValidationFailedError(
            QUOTA_BAD_AMOUNT, code="bad_amount", details={"amount": [QUOTA_BAD_AMOUNT]}
        )
    return amount


def _quota_plan(plan_id: int | None) -> Plan | None:
    if plan_id is None:
        return None
    plan: Plan | None = Plan.objects.filter(pk=plan_id).first()
    if plan is None:
        raise ValidationFailedError(
            "Unknown plan.", code="unknown_plan", details={"plan_id": ["Unknown."]}
        )
    return plan


def _plan_spec(plan: Plan) -> dict[str, Any]:
    """Return the spec of the plan's newest version (published or draft)."""
    version = plan.versions.order_by("-number").first()
    return dict(version.spec) if version is not None else {}


def _quota_fields(
    *,
    quota_id: Any,
    amount: Any,
    currency: str | None,
    valid_from: dt.date,
    valid_to: dt.date | None,
    plan: Plan | None,
    spec: Mapping[str, Any],
) -> tuple[Decimal, str]:
    """Check a quota row's own fields (no database); return (amount, currency) or raise."""
    if not isinstance(quota_id, str) or not QUOTA_ID_RE.match(quota_id):
        raise ValidationFailedError(
            QUOTA_BAD_ID, code="bad_quota_id", details={"quota_id": [QUOTA_BAD_ID]}
        )
    if valid_to is None:
        raise ValidationFailedError(
            QUOTA_NEEDS_END, code="needs_end", details={"valid_to": [QUOTA_NEEDS_END]}
        )
    if valid_to <= valid_from:
        raise ValidationFailedError(BAD_DATES, code="bad_dates", details={"valid_to": [BAD_DATES]})
    if plan is not None:
        names = quota_ids_of(spec)
        if quota_id not in names:
            message = QUOTA_NOT_IN_PLAN.format(
                plan=plan.name, quota_id=quota_id, names=", ".join(names) or "none"
            )
            raise ValidationFailedError(
                message, code="quota_not_in_plan", details={"quota_id": [message]}
            )
    code = currency or str(spec.get("currency") or get_current_tenant().default_currency)
    if not is_currency_code(code):
        message = BAD_CURRENCY.format(currency=code)
        raise ValidationFailedError(message, code="bad_currency", details={"currency": [message]})
    return _quota_amount(amount), code


def _quota_overlap(
    name: str, quota_id: str, conflict: Quota, row: int | None = None
) -> ConflictError:
    """The refusal of a quota overlapping ``conflict`` (stored, or row ``row`` of a bulk)."""
    return ConflictError(
        QUOTA_OVERLAP.format(
            holder=name,
            quota_id=quota_id,
            start=conflict.valid_from,
            end=conflict.valid_to,
            id=conflict.pk if conflict.pk is not None else f"row {row}",
            amount=conflict.amount,
            currency=conflict.currency,
        ),
        code="quota_overlap",
        details={"conflict_id": conflict.pk} if conflict.pk is not None else {"conflict_row": row},
    )


def _checked_quota(
    *,
    access: Access,
    holder: QuotaHolder,
    quota_id: str,
    amount: Any,
    currency: str | None,
    valid_from: dt.date,
    valid_to: dt.date | None,
    plan: Plan | None,
    exclude: int | None = None,
) -> tuple[str, Decimal, str]:
    """Check one quota row; return (holder name, amount, currency) or raise naming the field."""
    spec = _plan_spec(plan) if plan is not None else {}
    value, code = _quota_fields(
        quota_id=quota_id,
        amount=amount,
        currency=currency,
        valid_from=valid_from,
        valid_to=valid_to,
        plan=plan,
        spec=spec,
    )
    kind = holder.kind
    name = _check_holder(
        access, Holder(person_id=holder.person_id, node_id=holder.node_id), valid_from, valid_to
    )
    conflict = (
        Quota.objects.select_for_update()
        .filter(quota_id=quota_id, **{f"{kind}_id": getattr(holder, f"{kind}_id")})
        .overlapping(valid_from, valid_to)
        .exclude(pk=exclude)
        .order_by("valid_from")
        .first()
    )
    if conflict is not None:
        raise _quota_overlap(name, quota_id, conflict)
    return name, value, code


def _write_quota(
    *,
    holder: QuotaHolder,
    quota_id: str,
    amount: Decimal,
    currency: str,
    valid_from: dt.date,
    valid_to: dt.date,
    plan: Plan | None,
    user_id: int | None,
    audit: bool = True,
) -> Quota:
    now = timezone.now()
    quota = Quota(
        person_id=holder.person_id,
        node_id=holder.node_id,
        quota_id=quota_id,
        plan=plan,
        amount=amount,
        currency=currency,
        valid_from=valid_from,
        valid_to=valid_to,
        created_at=now,
        created_by_id=user_id,
        updated_at=now,
    )
    quota.full_clean()
    quota.save()
    quota_versions_record([quota])
    _record_plan_change(ChangeKind.QUOTA, holder, [(valid_from, valid_to)])
    if audit:
        audit_record(action="quota.create", obj=quota, after=model_snapshot(quota))
    return quota


@transaction.atomic
def quota_create(
    *,
    access: Access,
    holder: QuotaHolder,
    quota_id: str,
    amount: Any,
    valid_from: dt.date,
    valid_to: dt.date | None,
    user_id: int | None,
    currency: str | None = None,
    plan_id: int | None = None,
    audit: bool = True,
) -> Quota:
    """Give a person or a node a quota on ``quota_id`` for ``[valid_from, valid_to)``; an
    overlapping quota of the same holder and id is refused by name."""
    plan = _quota_plan(plan_id)
    _name, value, code = _checked_quota(
        access=access,
        holder=holder,
        quota_id=quota_id,
        amount=amount,
        currency=currency,
        valid_from=valid_from,
        valid_to=valid_to,
        plan=plan,
    )
    assert valid_to is not None
    return _write_quota(
        holder=holder,
        quota_id=quota_id,
        amount=value,
        currency=code,
        valid_from=valid_from,
        valid_to=valid_to,
        plan=plan,
        user_id=user_id,
        audit=audit,
    )


def _locked_quota(quota_pk: int) -> Quota:
    quota: Quota | None = Quota.objects.select_for_update().filter(pk=quota_pk).first()
    if quota is None:
        raise NotFoundError("Quota not found.")
    return quota


_UNSET: Any = object()


@transaction.atomic
def quota_update(
    *,
    access: Access,
    quota_pk: int,
    amount: Any = _UNSET,
    currency: Any = _UNSET,
    valid_from: Any = _UNSET,
    valid_to: Any = _UNSET,
    audit: bool = True,
) -> Quota:
    """Change a quota's amount, currency or dates (the holder and id stay); audited (unless a
    compound action, such as a quota file, records one event for all of its rows)."""
    quota = _locked_quota(quota_pk)
    holder = QuotaHolder(person_id=quota.person_id, node_id=quota.node_id)
    # The principal must answer for the holder as it stands before the change, too.
    _check_holder(
        access,
        Holder(person_id=quota.person_id, node_id=quota.node_id),
        quota.valid_from,
        quota.valid_to,
    )
    start = quota.valid_from if valid_from is _UNSET else valid_from
    end = quota.valid_to if valid_to is _UNSET else valid_to
    _name, value, code = _checked_quota(
        access=access,
        holder=holder,
        quota_id=quota.quota_id,
        amount=quota.amount if amount is _UNSET else amount,
        currency=quota.currency if currency is _UNSET or not currency else currency,
        valid_from=start,
        valid_to=end,
        plan=quota.plan,
        exclude=quota.pk,
    )
    before = model_snapshot(quota)
    spans = [(quota.valid_from, quota.valid_to), (start, end)]  # the old days and the new
    quota.amount, quota.currency, quota.valid_from, quota.valid_to = value, code, start, end
    quota.updated_at = timezone.now()
    quota.full_clean()
    quota.save()
    quota_versions_record([quota])
    _record_plan_change(ChangeKind.QUOTA, holder, spans)
    if audit:
        audit_record(action="quota.update", obj=quota, before=before, after=model_snapshot(quota))
    return quota


@transaction.atomic
def quota_end(*, access: Access, quota_pk: int, valid_to: dt.date) -> Quota:
    """End a quota early on ``valid_to`` (exclusive, after its start, not after its end)."""
    quota = _locked_quota(quota_pk)
    if valid_to > quota.valid_to:
        message = f"Quota {quota.pk} already ends on {quota.valid_to}; ending is only earlier."
        raise ValidationFailedError(message, code="bad_dates", details={"valid_to": [message]})
    return quota_update(access=access, quota_pk=quota_pk, valid_to=valid_to)


@dataclass(frozen=True)
class QuotaRow:
    holder: QuotaHolder
    quota_id: str
    amount: Any
    valid_from: dt.date
    valid_to: dt.date | None
    currency: str | None = None
    plan_id: int | None = None


class BulkQuotaError(ValidationFailedError):
    code = "bulk_quota_failed"


class _BulkQuotas:
    """What a bulk of quota rows needs from the database, read once: their plans, holders
    and the stored quotas they could overlap (locked)."""

    def __init__(self, access: Access, rows: list[QuotaRow]) -> None:
        plan_ids = {r.plan_id for r in rows if r.plan_id is not None}
        self.plans = {p.pk: p for p in Plan.objects.filter(pk__in=plan_ids)}
        self.specs = {pk: _plan_spec(p) for pk, p in self.plans.items()}
        person_ids = {r.holder.person_id for r in rows if r.holder.person_id is not None}
        node_ids = {r.holder.node_id for r in rows if r.holder.node_id is not None}
        self.people = {p.pk: p for p in access.current_people().filter(pk__in=person_ids)}
        self.nodes = {n.pk: n for n in Node.objects.filter(pk__in=node_ids)}
        self.taken: dict[tuple[int | None, int | None, str], list[tuple[Quota, int | None]]] = (
            defaultdict(list)
        )
        stored = Quota.objects.select_for_update().filter(
            Q(person_id__in=person_ids) | Q(node_id__in=node_ids),
            quota_id__in={r.quota_id for r in rows},
        )
        for quota in stored.order_by("valid_from"):
            self.taken[(quota.person_id, quota.node_id, quota.quota_id)].append((quota, None))

    def holder_name(self, access: Access, row: QuotaRow, end: dt.date) -> str:
        """As :func:`_check_holder`, from what was read."""
        if row.holder.kind == "person":
            person = self.people.get(int(row.holder.person_id or 0))
            if person is None:
                raise ValidationFailedError(
                    UNKNOWN_PERSON, code="unknown_person", details={"person_id": [UNKNOWN_PERSON]}
                )
            return f"Person {person.full_name}"
        node = self.nodes.get(int(row.holder.node_id or 0))
        if node is None:
            raise ValidationFailedError(
                UNKNOWN_HOLDER.format(kind="node"),
                code="unknown_node",
                details={"node_id": ["Unknown."]},
            )
        access.check_node_writable(node.pk, row.valid_from, end)
        return f"Node {node.name}"


@transaction.atomic
def quota_bulk_create(
    *, access: Access, rows: Iterable[QuotaRow], user_id: int | None
) -> list[Quota]:
    """Create many quotas, all or nothing: any refused row and none is written, with every
    row's reason (its 1-based number) in ``details.rows``. Rows overlapping each other are
    refused like rows overlapping a stored quota. Each row is checked as :func:`quota_create`
    checks one, from what one set of queries read; the quotas and their audit events are
    written in bulk."""
    rows = list(rows)
    known = _BulkQuotas(access, rows)
    now = timezone.now()
    created: list[Quota] = []
    errors: list[dict[str, Any]] = []
    for number, row in enumerate(rows, start=1):
        try:
            row.holder.kind  # noqa: B018 (refuses a row naming no holder or both)
            if row.plan_id is not None and row.plan_id not in known.plans:
                raise ValidationFailedError(
                    "Unknown plan.", code="unknown_plan", details={"plan_id": ["Unknown."]}
                )
            plan = known.plans.get(row.plan_id) if row.plan_id is not None else None
            value, code = _quota_fields(
                quota_id=row.quota_id,
                amount=row.amount,
                currency=row.currency,
                valid_from=row.valid_from,
                valid_to=row.valid_to,
                plan=plan,
                spec=known.specs.get(row.plan_id, {}) if row.plan_id is not None else {},
            )
            assert row.valid_to is not None
            name = known.holder_name(access, row, row.valid_to)
            key = (row.holder.person_id, row.holder.node_id, row.quota_id)
            for other, other_row in known.taken[key]:
                if other.valid_from < row.valid_to and row.valid_from < other.valid_to:
                    raise _quota_overlap(name, row.quota_id, other, other_row)
            quota = Quota(
                person=known.people.get(row.holder.person_id or 0),
                node=known.nodes.get(row.holder.node_id or 0),
                quota_id=row.quota_id,
                plan=plan,
                amount=value,
                currency=code,
                valid_from=row.valid_from,
                valid_to=row.valid_to,
                created_at=now,
                created_by_id=user_id,
                updated_at=now,
            )
            known.taken[key].append((quota, number))
            created.append(quota)
        except (ValidationFailedError, ConflictError, NotFoundError) as exc:
            errors.append(
                {
                    "row": number,
                    "code": exc.code,
                    "message": exc.message,
                    "details": getattr(exc, "details", None) or {},
                }
            )
    if errors:
        raise BulkQuotaError(
            f"{len(errors)} row(s) refused, no quota was written; row {errors[0]['row']}: "
            f"{errors[0]['message']}",
            details={"rows": errors},
        )
    Quota.objects.bulk_create(created, batch_size=2_000)
    quota_versions_record(created, moment=now)
    changes_record(
        kind=ChangeKind.QUOTA,
        keys=[
            ChangeKey(q.valid_from, q.valid_to, person_id=q.person_id, node_id=q.node_id)
            for q in created
        ],
    )
    if created:
        audit_record(
            action="quota.bulk_create",
            object_type=Quota._meta.label_lower,
            after={
                "count": len(created),
                "quotas": [_bulk_snapshot(q, QUOTA_BULK_FIELDS) for q in created],
            },
        )
    return created


# --- acknowledgements ----------------------------------------------------------------------------

ACK_NOT_YOURS = "Only {person} can acknowledge their own plan."
ACK_NOT_ASSIGNED = "Version {number} of {plan} is not assigned to {person}."
ACK_NOT_PUBLISHED = "Only a published version can be acknowledged."


@transaction.atomic
def plan_acknowledge(
    *,
    person_id: int,
    plan_version_id: int,
    user_id: int | None,
    ip_address: str | None,
    today: dt.date,
) -> tuple[PlanAcknowledgement, bool]:
    """Record that the person (signed in as ``user_id``) acknowledges a published version
    assigned to them; return it and whether it is new (a second click keeps the first)."""
    person: Person | None = Person.objects.filter(pk=person_id).first()
    if person is None:
        raise NotFoundError("Person not found.")
    if user_id is None or person.user_id != user_id:
        raise PermissionDeniedError(ACK_NOT_YOURS.format(person=person.full_name))
    version = _version(plan_version_id)
    if not version.is_published:
        raise ConflictError(ACK_NOT_PUBLISHED, code="not_published")
    assigned = plan_assignments_of_person(person=person, day=today).filter(
        plan_version_id=version.pk
    )
    if not assigned.exists():
        raise ConflictError(
            ACK_NOT_ASSIGNED.format(
                number=version.number, plan=version.plan.name, person=person.full_name
            ),
            code="not_assigned",
        )
    found = PlanAcknowledgement.objects.filter(person=person, plan_version=version).first()
    if found is not None:
        return found, False
    ack = PlanAcknowledgement(
        person=person,
        plan_version=version,
        plan_id=version.plan_id,
        spec_hash=version.spec_hash,
        acknowledged_at=timezone.now(),
        user_id=user_id,
        ip_address=ip_address or None,
    )
    ack.full_clean()
    ack.save()
    audit_record(action="plan.acknowledge", obj=ack, after=model_snapshot(ack))
    return ack, True
