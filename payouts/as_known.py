"""The inputs edited in place, read as Quotient knew them at a run's ``known_at``.

Plan versions' ends, plan assignments, quotas, people's hire dates and the node closure are
edited in place (a successor's publication ends its predecessor, an assignment's end moves, a
quota is corrected, a hire date fixed, a node moved). A run reads them through this module,
from their version logs (``plans/versions.py``, ``hierarchy/versions.py``) and from the
bitemporal parent links, so a replay pays exactly as the run did (docs/runs-inputs.md,
"Replaying edited inputs"). A run written before the logs existed carries no
:data:`VERSIONED_PIN` and replays on the live tables (``payouts.inputs``, as before).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection, Mapping
from typing import Any

from django.db.models import Q

from hierarchy.intervals import Link, build_closure
from hierarchy.models import Node, NodeParent, PersonVersion
from plans.models import PlanAssignmentVersion, PlanVersion, VersionStatus
from plans.versions import ASSIGNMENT_FIELDS

# In a run's pins (and each chunk's): its inputs were read through this module.
VERSIONED_PIN = "inputs_versioned"
# What a run reads of a plan assignment after its id, in the live table and the log alike: all
# but its version (an assignment is on a plan; the run lays it over the plan's versions).
ASSIGNMENT_COLUMNS = ASSIGNMENT_FIELDS[1:]


def reads_versions(pinned: Mapping[str, Any] | None) -> bool:
    """Return whether a gather reads the version logs: a fresh run's (no ``pinned``) or a
    replay of a run that did; a replay of an older run reads the tables it read."""
    return pinned is None or bool(pinned.get(VERSIONED_PIN))


def published_versions(
    known_at: dt.datetime, start: dt.date, end: dt.date
) -> list[tuple[Any, ...]]:
    """Return ``(pk, plan_id, code, spec, spec_hash, valid_from, valid_to)`` of the versions
    published at ``known_at`` and in force during ``[start, end)`` then: a version's end as known
    then is the start of the next version of its plan published by then (publishing a successor
    is what ends it; the column holds the end as known now)."""
    rows = list(
        PlanVersion.objects.filter(
            status=VersionStatus.PUBLISHED, published_at__lte=known_at, valid_from__lt=end
        )
        .order_by("plan_id", "number")
        .values_list("pk", "plan_id", "plan__code", "spec", "spec_hash", "valid_from")
    )
    by_plan: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for row in rows:
        by_plan[row[1]].append(row)
    out: list[tuple[Any, ...]] = []
    for versions in by_plan.values():
        for i, row in enumerate(versions):
            later = versions[i + 1][5] if i + 1 < len(versions) else None
            if later is None or later > start:
                out.append((*row, later))
    return sorted(out, key=lambda r: (r[1], r[5], r[0]))


def plan_assignment_rows(
    known_at: dt.datetime, narrow: Q, start: dt.date, end: dt.date
) -> list[tuple[Any, ...]]:
    """Return the plan assignments overlapping ``[start, end)`` as known at ``known_at``:
    ``(pk, plan_id, person_id, role_id, node_id, target_incentive, currency, valid_from,
    valid_to)``, ``pk`` the live assignment's."""
    return list(
        PlanAssignmentVersion.objects.filter(narrow)
        .overlapping(start, end)
        .known_at(known_at)
        .order_by("assignment_id")
        .values_list("assignment_id", *ASSIGNMENT_COLUMNS)
    )


def hire_dates(person_ids: Collection[int], known_at: dt.datetime) -> dict[int, dt.date]:
    """Return each person's hire date as known at ``known_at``."""
    return dict(
        PersonVersion.objects.filter(person_id__in=sorted(person_ids))
        .known_at(known_at)
        .values_list("person_id", "hire_date")
    )


def closure_rows(
    node_ids: Collection[int], start: dt.date, end: dt.date, known_at: dt.datetime
) -> list[tuple[int, int, dt.date, dt.date | None]]:
    """Return ``(ancestor, descendant, valid_from, valid_to)`` of the nodes' closure during
    ``[start, end)``, built from their hierarchies' parent links as known at ``known_at`` (the
    closure table holds the links as known now)."""
    wanted = set(node_ids)
    hierarchies = sorted(
        set(Node.objects.filter(pk__in=sorted(wanted)).values_list("hierarchy_id", flat=True))
    )
    links = [
        Link(node, parent, valid_from, valid_to)
        for node, parent, valid_from, valid_to in NodeParent.objects.filter(
            node__hierarchy_id__in=hierarchies
        )
        .known_at(known_at)
        .values_list("node_id", "parent_id", "valid_from", "valid_to")
    ]
    return sorted(
        (r.ancestor, r.descendant, r.start, r.end)
        for r in build_closure(links)
        if r.ancestor in wanted and r.start < end and (r.end is None or r.end > start)
    )
