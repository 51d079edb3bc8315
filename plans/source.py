"""A plan's source text (YAML or JSON) -> the spec the engine reads, with problems at their line.

The builder edits text; the engine validates dicts and names each problem by its path
(``components[0].rate_table.tiers[1].rate: must be >= 0``). :func:`check_source` does both and
puts every problem at the line of the text where its path is, so the page can show it there.
YAML dates stay text (``2026-01-01``): the stored spec is JSON and the engine reads ISO text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from engine import validate_plan

MAX_SOURCE_CHARS = 200_000
NOT_A_MAPPING = "the plan must be a mapping of fields (version, id, currency, components, ...)"
TOO_LONG = f"the plan text is longer than {MAX_SOURCE_CHARS:,} characters"


class PlanLoader(yaml.SafeLoader):
    """Safe YAML that keeps dates and times as the text written."""


PlanLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True)
class Problem:
    """One problem of a plan text: where (path and line) and what."""

    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{where}{self.path + ': ' if self.path else ''}{self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "message": self.message, "line": self.line}


@dataclass(frozen=True)
class Checked:
    """A source text, its spec (None when it does not parse) and its problems."""

    source: str
    spec: dict[str, Any] | None
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return self.spec is not None and not self.problems


def load_text(text: str) -> tuple[Any, Problem | None]:
    """Return the document of ``text`` or the problem that stops it parsing (with its line)."""
    if len(text) > MAX_SOURCE_CHARS:
        return None, Problem("", TOO_LONG)
    if "\x00" in text:
        return None, Problem("", "the plan text holds a NUL character")
    try:
        return yaml.load(text, Loader=PlanLoader), None  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        line = mark.line + 1 if mark is not None else None
        column = f" (column {mark.column + 1})" if mark is not None else ""
        return None, Problem("", f"the text is not valid YAML: {problem}{column}", line)


def path_parts(path: str) -> list[str | int]:
    parts: list[str | int] = []
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path):
        parts.append(int(index) if index else name)
    return parts


def line_of(text: str, path: str) -> int | None:
    """Return the 1-based line of ``path`` (``a.b[2].c``) in YAML ``text``, or of its nearest
    ancestor present; None when the text does not compose."""
    try:
        node = yaml.compose(text, Loader=PlanLoader)
    except yaml.YAMLError:
        return None
    if node is None:
        return None
    line = node.start_mark.line + 1
    for part in path_parts(path):
        child = None
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            for key, value in node.value:
                if getattr(key, "value", None) == part:
                    child, line = value, key.start_mark.line + 1
                    break
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            child = node.value[part]
            line = child.start_mark.line + 1
        if child is None:
            break
        node = child
    return line


def _split(error: str) -> tuple[str, str]:
    head, sep, rest = error.partition(": ")
    if sep and re.fullmatch(r"[A-Za-z0-9_.\[\]-]+", head):
        return head, rest
    return "", error


def check_source(text: str) -> Checked:
    """Parse and validate a plan text: the spec and every problem, each at its line."""
    data, problem = load_text(text)
    if problem is not None:
        return Checked(text, None, (problem,))
    if not isinstance(data, dict):
        return Checked(text, None, (Problem("", NOT_A_MAPPING, 1),))
    problems = []
    for error in validate_plan(data):
        path, message = _split(error)
        problems.append(Problem(path, message, line_of(text, path) if path else None))
    return Checked(text, data, tuple(problems))


def dump_spec(spec: dict[str, Any]) -> str:
    """Return ``spec`` as YAML text (for specs that arrive as JSON, e.g. over the API)."""
    return yaml.safe_dump(spec, sort_keys=False, allow_unicode=True, width=100)
