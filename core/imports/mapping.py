"""Column mappings: which column of a file feeds which field of an importer.

A mapping is ``{"columns": {their column: our field}, "values": {our field: {their value:
ours}}, "defaults": {our field: value}, "date_formats": [...]}`` (a CRM preset, a tenant's
saved mapping, or the identity of the importer's own field names). :meth:`FieldMap.bind`
checks a file's header against it once (a required field with neither a column nor a default
is ``missing_column`` at line 1); :meth:`BoundMap.values` then gives one field of a chunk as
stripped, defaulted and value-mapped text, column-wise.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.imports.columns import ISO_DATES
from core.imports.errors import FileError, RowError
from core.imports.reading import Chunk

MISSING_COLUMN = "Required column {name!r} is missing."


@dataclass(frozen=True)
class FieldMap:
    columns: Mapping[str, str]  # their column -> our field
    defaults: Mapping[str, Any] = field(default_factory=dict)
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    date_formats: Sequence[str] = ISO_DATES

    @classmethod
    def identity(cls, fields: Iterable[str], **kwargs: Any) -> FieldMap:
        """The mapping of a file whose headers are the importer's own field names."""
        return cls(columns={f: f for f in fields}, **kwargs)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FieldMap:
        return cls(
            columns=dict(data.get("columns") or {}),
            defaults=dict(data.get("defaults") or {}),
            values=dict(data.get("values") or {}),
            date_formats=tuple(data.get("date_formats") or ISO_DATES),
        )

    def bind(
        self, header: Sequence[str], *, required: Sequence[str], own_names: bool = False
    ) -> BoundMap:
        """Return the mapping bound to ``header``, or raise :class:`FileError` listing each
        required field that has neither a column nor a default. With ``own_names`` (JSON
        rows) a field may also appear under its own name."""
        position = {name: i for i, name in enumerate(header)}
        index: dict[str, int] = {}
        names: dict[str, str] = {}
        for theirs, ours in self.columns.items():
            if theirs in position and ours not in index:
                index[ours], names[ours] = position[theirs], theirs
        if own_names:
            for name, i in position.items():
                if name not in index and name not in self.columns:
                    index[name], names[name] = i, name
        wanted = {ours: theirs for theirs, ours in self.columns.items()}
        missing = [f for f in required if f not in index and not self.defaults.get(f)]
        if missing:
            raise FileError(
                [
                    RowError(
                        1,
                        wanted.get(f, f),
                        "missing_column",
                        MISSING_COLUMN.format(name=wanted.get(f, f)),
                    )
                    for f in missing
                ]
            )
        for f in self.columns.values():
            names.setdefault(f, wanted.get(f, f))
        return BoundMap(self, list(header), index, names)


@dataclass(frozen=True)
class BoundMap:
    mapping: FieldMap
    header: list[str]
    index: dict[str, int]  # our field -> position in the header
    names: dict[str, str]  # our field -> the file's column name (for errors)

    def name(self, field_: str) -> str:
        """The column name a field's errors carry (the file's, else the field's own)."""
        return self.names.get(field_, field_)

    def has(self, field_: str) -> bool:
        return field_ in self.index or bool(self.mapping.defaults.get(field_))

    def values(self, chunk: Chunk, field_: str) -> list[str]:
        """One field of a chunk: stripped, blanks defaulted, values mapped."""
        position = self.index.get(field_)
        default = self.mapping.defaults.get(field_)
        if position is None:
            return [str(default) if default else ""] * len(chunk)
        values = list(map(str.strip, chunk.columns[position]))  # in C, no Python loop
        if default:
            text = str(default)
            values = [v or text for v in values]
        mapped = self.mapping.values.get(field_)
        if mapped:
            values = list(map(mapped.get, values, values))
        return values

    def prefixed(self, prefix: str) -> list[tuple[str, int]]:
        """The header's columns whose name starts with ``prefix`` (``attr_…``): (name, index)."""
        return [(h, i) for i, h in enumerate(self.header) if h.startswith(prefix)]
