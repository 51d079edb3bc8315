"""Natural ("human") ordering of names: "Sales team 2" before "Sales team 11".

Text sorts digit by digit, so a list of teams reads "team 1, 11, 12, 2, 3"; people expect
"team 1, 2, 3, 11, 12". ``natural_key`` splits a name into text and number runs so that
``sorted(names, key=natural_key)`` puts them in that order (case-insensitively, ties broken by
the exact text so the order is total and stable).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django.db import models

T = TypeVar("T")

_RUNS = re.compile(r"(\d+)")


def natural_key(text: str) -> tuple[tuple[tuple[int, int | str], ...], str]:
    """Return a sort key that orders the number runs of ``text`` by value."""
    parts = tuple(
        (0, int(run)) if run.isdigit() else (1, run.casefold())
        for run in _RUNS.split(text or "")
        if run
    )
    return parts, text or ""


def natural_sorted(items: Iterable[T], key: Callable[[T], str]) -> list[T]:
    """Return ``items`` in the natural order of ``key(item)``."""
    return sorted(items, key=lambda item: natural_key(key(item)))


# --- the same order in the database ----------------------------------------------------------
#
# A roll-up of a business unit sorts and pages thousands of people: in Python that meant
# computing ``natural_key`` for every one on every request. ``natural_sort_key`` writes the very
# same key as bytes whose plain byte order (PostgreSQL ``bytea``, SQLite ``BLOB``: both compare
# with memcmp, whatever the database's collation) is the order of ``natural_key``'s tuples, so a
# column holding it (:class:`NaturalSortKeyField`) lets SQL sort and page in that order.
#
# Encoding of ``natural_key(text) = (parts, text)``: each part is a tag byte, ``\x01`` for a
# number (before ``\x02``, text, as ``0 < 1``) then the number's digits' count in two bytes and
# its digits (so shorter numbers come first, equal values encode alike: "007" as "7"), or
# ``\x02`` then the folded text's UTF-8 escaped (``\x00`` -> ``\x01\x01``, ``\x01`` -> ``\x01\x02``)
# and ended by ``\x00``; the parts end with ``\x00`` (below any tag: a prefix sorts first), then
# comes the exact text, escaped the same way (the tie-break). UTF-8's byte order is code-point
# order, which is how Python compares ``str``.

_END = b"\x00"


def _escaped(text: str) -> bytes:
    raw = text.encode("utf-8", "surrogatepass")
    if b"\x00" in raw or b"\x01" in raw:
        raw = raw.replace(b"\x01", b"\x01\x02").replace(b"\x00", b"\x01\x01")
    return raw


def natural_sort_key(text: str) -> bytes:
    """Return :func:`natural_key` of ``text`` as bytes in the same order (see above)."""
    parts, exact = natural_key(text)
    out = bytearray()
    for kind, value in parts:
        if kind == 0:
            digits = str(value).encode("ascii")
            out += b"\x01" + len(digits).to_bytes(2, "big") + digits
        else:
            out += b"\x02" + _escaped(str(value)) + _END
    return bytes(out + _END + _escaped(exact))


class NaturalSortKeyField(models.BinaryField):  # type: ignore[type-arg]
    """A column holding :func:`natural_sort_key` of another field of the row, ``source``.

    Kept true on every write that goes through a field's ``pre_save``: ``save()``,
    ``bulk_create`` and ``core.db.bulk_create_copy`` (the COPY path). ``QuerySet.update`` and
    ``bulk_update`` do not call it: a model with such a field overrides those two on its
    queryset with :func:`update_with_sort_keys` and :func:`bulk_update_with_sort_keys`, and
    ``save(update_fields=...)`` with :func:`with_sort_keys`."""

    def __init__(self, *args: Any, source: str = "", **kwargs: Any) -> None:
        self.source = source
        kwargs.setdefault("editable", False)
        kwargs.setdefault("default", b"")
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs["source"] = self.source
        kwargs.pop("editable", None)
        if kwargs.get("default") == b"":
            kwargs.pop("default")
        return name, path, args, kwargs

    def key_of(self, instance: models.Model) -> bytes:
        return natural_sort_key(getattr(instance, self.source) or "")

    def pre_save(self, model_instance: models.Model, add: bool) -> bytes:
        value = self.key_of(model_instance)
        setattr(model_instance, self.attname, value)
        return value


def sort_key_fields(model: type[models.Model]) -> list[NaturalSortKeyField]:
    """Return the :class:`NaturalSortKeyField` columns of ``model``."""
    return [f for f in model._meta.concrete_fields if isinstance(f, NaturalSortKeyField)]


def update_with_sort_keys(model: type[models.Model], kwargs: dict[str, Any]) -> dict[str, Any]:
    """``QuerySet.update``'s ``kwargs`` with the sort key of each source they change (which
    ``update`` would leave stale: it calls no ``pre_save``). A source given as an expression
    cannot be keyed in Python: refused."""
    out = dict(kwargs)
    for field in sort_key_fields(model):
        if field.source not in out or field.name in out:
            continue  # (``bulk_update`` passes the keys it computed itself)
        value = out[field.source]
        if not isinstance(value, str):
            raise TypeError(
                f"update({field.source}=...) takes text here: {field.name} is its sort key, "
                "computed in Python (save the rows instead)."
            )
        out[field.name] = natural_sort_key(value)
    return out


def bulk_update_with_sort_keys(
    model: type[models.Model], objs: list[models.Model], fields: list[str]
) -> list[str]:
    """``bulk_update``'s ``fields`` with the sort key of each source they name, computed on
    ``objs`` (``bulk_update`` calls no ``pre_save`` either)."""
    out = list(fields)
    for field in sort_key_fields(model):
        if field.source in out and field.name not in out:
            for obj in objs:
                setattr(obj, field.attname, field.key_of(obj))
            out.append(field.name)
    return out


def with_sort_keys(update_fields: Any, model: type[models.Model]) -> Any:
    """``update_fields`` of a ``save()``, with the sort keys of the source fields it names."""
    if update_fields is None:
        return None
    named = set(update_fields)
    extra = [f.name for f in sort_key_fields(model) if f.source in named and f.name not in named]
    return [*update_fields, *extra]
