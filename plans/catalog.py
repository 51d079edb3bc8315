"""The plan templates: YAML files in ``plans/templates/``, read here and nowhere else.

Each file holds ``name``, ``function``, ``summary``, ``plan`` (a spec in the plan language) and
``sample`` (inputs in the engine's readable format, for the builder's "try it" panel) and,
optionally, ``cases``: hand-worked test cases (``name``, ``description``, ``arithmetic``,
``inputs``, ``expected: {total, components}``) that a plan made from the template starts with
(plans/cases.py) and that tests/plans/test_templates.py checks. The
builder, the demo seed and the golden cases (tests/plans/golden/) all load them from here, so a
template is written once. :func:`template_source` returns the ``plan`` block *as written*
(comments kept), re-indented, with its ``id`` set to the new plan's code.
"""

from __future__ import annotations

import functools
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from core.errors import NotFoundError

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
UNKNOWN_TEMPLATE = "Unknown plan template {name!r}."


@dataclass(frozen=True)
class Template:
    """One plan template."""

    key: str
    name: str
    function: str
    summary: str
    plan: dict[str, Any]
    sample: dict[str, Any]
    text: str
    cases: tuple[dict[str, Any], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "function": self.function,
            "summary": self.summary,
            "plan": self.plan,
            "sample": self.sample,
        }


@functools.cache
def _templates() -> dict[str, Template]:
    from plans.source import load_text

    found: dict[str, Template] = {}
    for path in sorted(TEMPLATE_DIR.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        data, problem = load_text(text)
        if problem is not None or not isinstance(data, dict):
            raise ValueError(f"{path.name}: {problem}")
        found[path.stem] = Template(
            key=path.stem,
            name=str(data["name"]),
            function=str(data.get("function", "other")),
            summary=" ".join(str(data.get("summary", "")).split()),
            plan=data["plan"],
            sample=data.get("sample") or {},
            text=text,
            cases=tuple(data.get("cases") or ()),
        )
    return found


def template_list() -> list[Template]:
    """Return every template, in file-name order."""
    return list(_templates().values())


def template_get(key: str) -> Template:
    """Return one template or raise NotFoundError."""
    template = _templates().get(key)
    if template is None:
        raise NotFoundError(UNKNOWN_TEMPLATE.format(name=key))
    return template


def _plan_block(text: str) -> str:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.rstrip() == "plan:")
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i] and not lines[i][0].isspace()),
        len(lines),
    )
    return textwrap.dedent("\n".join(lines[start + 1 : end])).strip("\n") + "\n"


def template_source(key: str, *, plan_id: str, name: str | None = None) -> str:
    """Return the template's plan text with ``id`` (and ``name``, if given) replaced."""
    block = _plan_block(template_get(key).text)
    block = re.sub(r"^id: .*$", f"id: {plan_id}", block, count=1, flags=re.MULTILINE)
    if name is not None:
        block = re.sub(
            r"^name: .*$",
            f"name: {yaml.safe_dump(name).splitlines()[0]}",
            block,
            count=1,
            flags=re.MULTILINE,
        )
    return block


def template_cases(key: str) -> list[dict[str, Any]]:
    """Return the worked cases of a template, each with its inputs also as text (``source``)."""
    from plans.source import dump_spec

    return [{**case, "source": dump_spec(dict(case["inputs"]))} for case in template_get(key).cases]


def template_plan(ref: str) -> dict[str, Any] | None:
    """Return the plan of the template a plan reference names (``sales-ae`` or ``sales_ae``)."""
    template = _templates().get(ref) or _templates().get(ref.replace("-", "_"))
    return None if template is None else template.plan
