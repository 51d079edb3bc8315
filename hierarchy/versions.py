"""The version log of people's employment dates and salary: the one place that writes it.

A :class:`~hierarchy.models.Person` is edited in place (a hire date corrected, a termination
recorded). What a calculation reads of it — hire date (ramps), termination date, base salary —
is logged beside it (:class:`~hierarchy.models.PersonVersion`) through
``core.temporal.versions_record`` by every write path (the person services, the people import,
the company generator), in the same transaction, so a run reads it as known at its
``known_at``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from core.temporal import versions_record
from hierarchy.models import Person, PersonVersion


def person_versions_record(people: Iterable[Person], *, moment: datetime | None = None) -> int:
    """Log the people's dates and salary as they now stand; return the versions written."""
    return versions_record(
        PersonVersion,
        key="person_id",
        rows=[
            {
                "person_id": p.pk,
                "hire_date": p.hire_date,
                "termination_date": p.termination_date,
                "base_salary": p.base_salary,
            }
            for p in people
        ],
        moment=moment,
    )
