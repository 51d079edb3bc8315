"""The import-linter contract against import circles really catches one (a scratch experiment
on a copy of the code): a two-file circle inside one app, made by a function-level lazy import
or by an import only for type checking, breaks it; the code as it is keeps it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["engine", "config", "core", "hierarchy", "plans", "incentives", "payouts", "dashboards"]
CONTRACT = "no import circles inside an app"


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    return tmp_path


def test_the_code_as_it_is_has_no_circle(tree):
    result = _lint(tree)
    assert result.returncode == 0, result.stdout
    assert f"{CONTRACT} KEPT" in result.stdout


@pytest.mark.parametrize(
    ("module", "planted", "package", "pair"),
    [
        # incentives.tasks imports incentives.services; a lazy import back closes the circle
        (
            "incentives/services.py",
            "\n\ndef _scratch() -> None:\n    from incentives import tasks  # noqa: F401\n",
            "incentives",
            ".tasks -> .services",
        ),
        # core.tenancy imports core.tenant for type checking; an import back closes the circle
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
def test_a_planted_two_file_circle_breaks_the_contract(tree, module, planted, package, pair):
    with (tree / module).open("a") as out:
        out.write(planted)
    result = _lint(tree)
    assert result.returncode == 1
    assert f"{CONTRACT} BROKEN" in result.stdout
    assert f"No cycles are allowed in {package}." in result.stdout
    assert pair in result.stdout
