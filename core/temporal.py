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
* :class:`Bitemporal` — both: parent links and assignments (later: plan versions, plan
  assignments, quotas).

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

from datetime import datetime
from typing import Any, ClassVar, Self

from django.db import models
from django.db.models import Q

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
