"""The layer and import-circle contracts catch what they promise to catch.

`make lint` runs import-linter on the real tree; these tests run it on a scratch copy of the
tree, once untouched (the contracts hold) and once with a deliberate violation added (they
break), so a contract that silently stopped checking anything fails here.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("engine", "config", "core", "hierarchy", "plans", "incentives", "payouts", "dashboards")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


@pytest.fixture(scope="module")
def scratch_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Copy the packages and the contract configuration into a scratch folder."""
    root = tmp_path_factory.mktemp("layers")
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package,
            root / package,
            ignore=shutil.ignore_patterns("__pycache__", "templates", "static"),
        )
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    if not LINT_IMPORTS.exists():
        pytest.skip("lint-imports is not installed beside this Python (make install)")
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _with_module(tree: Path, relative: str, source: str) -> Path:
    target = tree / relative
    target.write_text(source)
    return target


def test_the_untouched_tree_keeps_every_contract(scratch_tree: Path) -> None:
    # when
    result = _lint(scratch_tree)
    # then
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" in result.stdout and "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("relative", "source", "contract"),
    [
        # core is the floor: it may not reach up into a domain app
        ("core/_scratch_upward.py", "import hierarchy.models\n", "layers"),
        # a domain app may not reach up either (incentives is above hierarchy)
        ("hierarchy/_scratch_upward.py", "from incentives import models\n", "layers"),
        # the engine stays pure
        ("engine/_scratch_django.py", "import django.db\n", "engine is pure"),
    ],
)
def test_an_upward_import_is_caught(
    scratch_tree: Path, relative: str, source: str, contract: str
) -> None:
    # given
    added = _with_module(scratch_tree, relative, source)
    try:
        # when
        result = _lint(scratch_tree)
    finally:
        added.unlink()
    # then
    assert result.returncode != 0
    assert "BROKEN" in result.stdout
    assert contract in result.stdout
    assert relative.replace("/", ".").removesuffix(".py") in result.stdout


@pytest.mark.parametrize(
    ("relative", "planted", "package", "pair"),
    [
        # incentives.tasks imports incentives.services; a function-level import back is a circle
        (
            "incentives/services.py",
            "\n\ndef _scratch() -> None:\n    from incentives import tasks  # noqa: F401\n",
            "incentives",
            ".tasks -> .services",
        ),
        # core.tenancy imports core.tenant for type checking; an import back is a circle too
        (
            "core/tenant.py",
            "\nfrom typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n"
            "    from core.tenancy import TenantModel  # noqa: F401\n",
            "core",
            ".tenant -> .tenancy",
        ),
    ],
    ids=["lazy-import", "type-checking-import"],
)
def test_a_two_file_circle_inside_an_app_is_caught(
    scratch_tree: Path, relative: str, planted: str, package: str, pair: str
) -> None:
    # given
    target = scratch_tree / relative
    original = target.read_text()
    target.write_text(original + planted)
    try:
        # when
        result = _lint(scratch_tree)
    finally:
        target.write_text(original)
    # then
    assert result.returncode != 0
    assert "no import circles inside an app BROKEN" in result.stdout
    assert f"No cycles are allowed in {package}." in result.stdout
    assert pair in result.stdout
