"""Pages and services never import an API module (issue #8): what both need (the access
policy, ``tenant_today``) lives below the API, so ``grep "from hierarchy.api" hierarchy/*.py``
finds nothing, and this test keeps it so for every module outside an ``api`` package."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ("hierarchy", "incentives", "plans")


def _api_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        # an app's API package: hierarchy.api, core.api, ... (second component "api")
        found += [n for n in names if n.split(".")[1:2] == ["api"]]
    return found


@pytest.mark.parametrize("app", APPS)
def test_no_page_or_service_module_imports_an_api_module(app: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): _api_imports(path)
        for path in (ROOT / app).rglob("*.py")
        if "api" not in path.relative_to(ROOT).parts and "migrations" not in path.parts
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_check_catches_an_api_import(tmp_path: Path) -> None:
    scratch = tmp_path / "views.py"
    scratch.write_text("from hierarchy.api.people_views import visible_people\n")
    assert _api_imports(scratch) == [
        "hierarchy.api.people_views",
        "hierarchy.api.people_views.visible_people",
    ]
