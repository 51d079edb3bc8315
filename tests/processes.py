"""Run Quotient in a subprocess under a chosen configuration (start-up and command tests)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def quotient_variables() -> set[str]:
    """Return every variable .env.example names (all the settings read)."""
    return set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))


def fresh_env(**variables: str | None) -> dict[str, str]:
    """Return this process's environment without Quotient's variables, plus ``variables``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in quotient_variables() | {"DJANGO_SETTINGS_MODULE"}
    }
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.base"
    for key, value in variables.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def run_python(
    env: dict[str, str], *args: str, timeout: int = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``python *args`` in the repository (``-c 'django.setup()'`` when no args)."""
    return subprocess.run(
        [sys.executable, *(args or ("-c", "import django; django.setup()"))],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
