"""One temporal layer: effective-dated and bitemporal rows, and the only code that queries them.

Two clocks
----------
* **Effective time** — when a fact holds in the business: a half-open date interval
  ``[valid_from, valid_to)``; ``valid_to`` NULL means open-ended. A row is *in force on* day
  ``d`` when ``valid_from <= d`` and (``valid_to`` is NULL or ``valid_to > d``). ``[a, b)`` and
  ``[b, c)`` do not overlap: a change on day ``b`` ends one row and starts the next.
* **Knowledge time** — when Quotient knew the row: ``recorded_at`` (it learned it) and
  ``superseded_at`` (a later change replaced it; NULL: still current). A row is *known at*
  moment ``t`` when ``recorded_at <= t`` and (``superseded_at`` is NULL or ``superseded_at >
  t``). Rows are never edited in place: a change sets ``superseded_at = now`` on the old row and
  inserts the replacement with ``recorded_at = now``, so "the org as Quotient knew it at ``t``"
  can always be asked again, and a closed period replays exactly as it was computed.

Model bases (abstract, all :class:`~core.tenancy.TenantModel`)
--------------------------------------------------------------
* :class:`EffectiveDated` — ``valid_from``, ``valid_to``; ``objects.as_of()``,
  ``objects.overlapping()``. Crediting rules, the derived node closure, the change feed.
* :class:`Versioned` — ``recorded_at``, ``superseded_at``; ``objects.known_at()``,
  ``objects.known_now()``. Transaction versions and KPI values (their validity is a booking
  date or a period, not an interval).
* :class:`Bitemporal` — both: parent links and assignments; the version logs of plan
  assignments and quotas.

A row a page edits in place (a quota, a plan assignment, a person's dates) keeps its id and
gets a **version log** beside it: a versioned model holding what a calculation reads of it,
written by :func:`versions_record` on every write path, so a run reads the log as known at its
``known_at`` while pages, the API and the change feed keep the live row (docs/runs-inputs.md,
"Replaying edited inputs").

A model whose fields carry other names keeps them and says so on its queryset class
(``valid_from_field``, ``valid_to_field``, ``recorded_field``, ``superseded_field``): a person's
employment is ``[hire_date, termination_date)``; a credit was recorded at ``computed_at``.

Queries
-------
Every temporal model's default manager is a :class:`~core.tenancy.TenantManager` built from one
of the querysets below, so it still filters by the current tenant and raises
:class:`~core.tenancy.NoTenantError` without one; the temporal methods only add filters:

* ``.as_of(day)`` — rows in force on ``day``;
* ``.overlapping(start, end)`` — rows sharing at least one day with ``[start, end)``
  (``end`` None: open-ended; either bound may be an expression such as ``OuterRef``);
* ``.known_at(moment)`` — rows Quotient knew at ``moment``; ``None`` means what it knows now;
* ``.known_now()`` — the current rows (``superseded_at`` NULL): the partial unique indexes'
  condition, and the cheapest read.

They chain in any order: ``Assignment.objects.filter(node=n).as_of(day).known_at(t)``. For a
condition across a relation, or inside ``Q`` / ``Exists``, use the same predicates as ``Q``
objects: :func:`as_of_q`, :func:`overlapping_q`, :func:`known_at_q`, :func:`known_now_q`
(``prefix="node__"`` etc.). Model constraints use :func:`dates_ordered` and
:func:`known_now_q`. There is no "current" shortcut in effective time: callers always pass the
day or the window they ask about (DESIGN.md, "Money and time").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar, Self

from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.tenancy import TenantManager, TenantModel, TenantQuerySet

VALID_FROM = "valid_from"
VALID_TO = "valid_to"
RECORDED_AT = "recorded_at"
SUPERSEDED_AT = "superseded_at"

Bound = Any  # a date, or an expression (F, OuterRef, Coalesce …) that yields one


# --- predicates (the only place that spells them) ----------------------------------------------


def as_of_q(day: Bound, *, prefix: str = "", start: str = VALID_FROM, end: str = VALID_TO) -> Q:
    """Return the condition "in force on ``day``" on ``[start, end)`` fields."""
    return Q(**{f"{prefix}{start}__lte": day}) & (
        Q(**{f"{prefix}{end}__isnull": True}) | Q(**{f"{prefix}{end}__gt": day})
    )


def overlapping_q(
    start: Bound,
    end: Bound | None,
    *,
    prefix: str = "",
    start_field: str = VALID_FROM,
    end_field: str = VALID_TO,
) -> Q:
    """Return the condition "shares a day with ``[start, end)``" (``end`` None: open-ended)."""
    q = Q(**{f"{prefix}{end_field}__isnull": True}) | Q(**{f"{prefix}{end_field}__gt": start})
    if end is None:
        return q
    return Q(**{f"{prefix}{start_field}__lt": end}) & q


def known_now_q(*, prefix: str = "", superseded: str = SUPERSEDED_AT) -> Q:
    """Return the condition "not superseded": what Quotient knows now."""
    return Q(**{f"{prefix}{superseded}__isnull": True})


def known_at_q(
    moment: datetime | None,
    *,
    prefix: str = "",
    recorded: str = RECORDED_AT,
    superseded: str = SUPERSEDED_AT,
) -> Q:
    """Return the condition "known at ``moment``" (None: known now)."""
    if moment is None:
        return known_now_q(prefix=prefix, superseded=superseded)
    return Q(**{f"{prefix}{recorded}__lte": moment}) & (
        Q(**{f"{prefix}{superseded}__isnull": True}) | Q(**{f"{prefix}{superseded}__gt": moment})
    )


def dates_ordered(
    *, name: str, start: str = VALID_FROM, end: str = VALID_TO
) -> models.CheckConstraint:
    """Return the check constraint "``end`` is NULL or after ``start``"."""
    return models.CheckConstraint(
        condition=Q(**{f"{end}__isnull": True}) | Q(**{f"{end}__gt": models.F(start)}),
        name=name,
    )


# --- version logs -------------------------------------------------------------------------------

VERSION_BATCH = 2_000  # rows per INSERT and ids per UPDATE (45k quotas: 23 of each)


def versions_record(
    model: type[models.Model],
    *,
    key: str,
    rows: Sequence[Mapping[str, Any]],
    moment: datetime | None = None,
) -> int:
    """Record ``rows`` as the new current versions of their ``key`` (the live row's id field):
    supersede each key's current version at ``moment`` (default now) and insert the new one,
    known from then; a row equal to its key's current version is left alone. Return how many
    versions were written. Callers hold the transaction of the live rows' write."""
    if not rows:
        return 0
    moment = moment or timezone.now()
    manager: Any = model._default_manager
    fields = sorted({f for row in rows for f in row if f != key})
    ids = sorted({row[key] for row in rows})
    current: dict[Any, tuple[Any, ...]] = {}
    for i in range(0, len(ids), VERSION_BATCH):
        for found in (
            manager.filter(**{f"{key}__in": ids[i : i + VERSION_BATCH]})
            .known_now()
            .values(key, *fields)
        ):
            current[found[key]] = tuple(found[f] for f in fields)
    fresh = {row[key]: row for row in rows}  # the last row of a key wins
    changed = [k for k, row in fresh.items() if current.get(k) != tuple(row.get(f) for f in fields)]
    stale = [k for k in changed if k in current]
    for i in range(0, len(stale), VERSION_BATCH):
        manager.filter(**{f"{key}__in": stale[i : i + VERSION_BATCH]}).known_now().update(
            superseded_at=moment
        )
    manager.bulk_create(
        [model(**fresh[k], recorded_at=moment) for k in changed], batch_size=VERSION_BATCH
    )
    return len(changed)


# --- querysets and managers --------------------------------------------------------------------


class EffectiveDatedQuerySet(TenantQuerySet):
    """Rows with a half-open effective interval; the field names are class attributes."""

    valid_from_field = VALID_FROM
    valid_to_field = VALID_TO

    def as_of(self, day: Bound) -> Self:
        """Keep the rows in force on ``day``."""
        return self.filter(as_of_q(day, start=self.valid_from_field, end=self.valid_to_field))

    def overlapping(self, start: Bound, end: Bound | None) -> Self:
        """Keep the rows sharing at least one day with ``[start, end)``."""
        return self.filter(
            overlapping_q(
                start, end, start_field=self.valid_from_field, end_field=self.valid_to_field
            )
        )


class VersionedQuerySet(TenantQuerySet):
    """Rows with a knowledge interval ``[recorded_at, superseded_at)``."""

    recorded_field = RECORDED_AT
    superseded_field = SUPERSEDED_AT

    def known_at(self, moment: datetime | None) -> Self:
        """Keep the rows Quotient knew at ``moment`` (None: the rows it knows now)."""
        return self.filter(
            known_at_q(moment, recorded=self.recorded_field, superseded=self.superseded_field)
        )

    def known_now(self) -> Self:
        """Keep the rows no later change has replaced."""
        return self.filter(known_now_q(superseded=self.superseded_field))


# django-stubs gives each queryset class an ``as_manager()`` returning its own manager type, and
# no class can honour both parents' (nothing here calls ``as_manager``).
class BitemporalQuerySet(EffectiveDatedQuerySet, VersionedQuerySet):  # type: ignore[override]
    """Rows with both an effective and a knowledge interval."""


EffectiveDatedManager = TenantManager.from_queryset(EffectiveDatedQuerySet)
VersionedManager = TenantManager.from_queryset(VersionedQuerySet)
BitemporalManager = TenantManager.from_queryset(BitemporalQuerySet)


# --- model bases --------------------------------------------------------------------------------


class _EffectiveInterval(models.Model):
    valid_from = models.DateField()
    valid_to = models.DateField(null=True, blank=True)

    class Meta:
        abstract = True


class _KnowledgeInterval(models.Model):
    recorded_at = models.DateTimeField()
    superseded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


class EffectiveDated(_EffectiveInterval, TenantModel):
    """A tenant row in force during ``[valid_from, valid_to)`` (``valid_to`` NULL: open)."""

    objects: ClassVar[EffectiveDatedManager] = EffectiveDatedManager()

    class Meta(TenantModel.Meta):
        abstract = True


class Versioned(_KnowledgeInterval, TenantModel):
    """A tenant row Quotient learned at ``recorded_at`` and replaced at ``superseded_at``."""

    objects: ClassVar[VersionedManager] = VersionedManager()

    class Meta(TenantModel.Meta):
        abstract = True


class Bitemporal(_EffectiveInterval, _KnowledgeInterval, TenantModel):
    """Effective-dated and versioned: what held when, as Quotient knew it when."""

    objects: ClassVar[BitemporalManager] = BitemporalManager()

    class Meta(TenantModel.Meta):
        abstract = True
