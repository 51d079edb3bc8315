"""Configuration comes from the environment only; a bad value stops start-up naming the variable.

No Docker engine runs here, so the compose file is checked by parsing it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "config" / "settings" / "base.py"


def _start(**overrides: str | None) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "DATABASE_OWNER_URL", "REDIS_URL", "SECRET_KEY", "DEBUG"}
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.base",
            "QUOTIENT_ENV_FILE": "/dev/null",
            "SECRET_KEY": "x" * 50,
            "ALLOWED_HOSTS": "example.com",
            "VAR_DIR": str(ROOT / "var"),
        }
    )
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_valid_production_configuration_starts():
    assert _start().returncode == 0


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"SECRET_KEY": None}, "SECRET_KEY"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"ALLOWED_HOSTS": None}, "ALLOWED_HOSTS"),
        ({"DEBUG": "perhaps"}, "DEBUG"),
        ({"DATABASE_URL": "mysql://u@h/db"}, "DATABASE_URL"),
        ({"DATABASE_URL": "postgres://u@h:5432/"}, "DATABASE_URL"),
        (
            {"DATABASE_OWNER_URL": "sqlite:///x.db", "DATABASE_URL": "postgres://u@h/db"},
            "DATABASE_OWNER_URL",
        ),
        ({"REDIS_URL": "http://localhost:6379"}, "REDIS_URL"),
        ({"EMAIL_PORT": "twenty-five"}, "EMAIL_PORT"),
        ({"LOGIN_FAILURE_LIMIT": "5x"}, "LOGIN_FAILURE_LIMIT"),
    ],
)
def test_a_bad_or_missing_variable_stops_startup_naming_it(overrides, variable):
    result = _start(**overrides)
    assert result.returncode != 0
    assert f"environment variable {variable}:" in result.stderr, result.stderr[-600:]


def _variables_read_by_settings() -> set[str]:
    source = BASE.read_text()
    names = set(re.findall(r'env_(?:bool|int|str|list|db)\(\s*"([A-Z_]+)"', source))
    names |= set(re.findall(r'os\.environ\.get\(\s*"([A-Z_]+)"', source))
    return names


def test_every_variable_the_settings_read_is_in_env_example():
    documented = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    read = _variables_read_by_settings()
    assert len(read) > 15
    assert read - documented == set()


def test_every_variable_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    missing = {name for name in _variables_read_by_settings() if f"`{name}`" not in readme}
    assert missing == set()


def test_the_compose_file_describes_the_production_shape():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "web", "worker", "beat"}
    assert "gunicorn" in services["web"]["command"]
    assert services["worker"]["command"][:4] == ["celery", "-A", "config", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "config", "beat"]
    for name in ("web", "worker", "beat"):
        assert services[name]["env_file"] == ".env"
        assert set(services[name]["depends_on"]) == {"postgres", "redis"}
    assert (ROOT / "Dockerfile").exists()


def test_production_hashes_passwords_with_argon2():
    from config.settings import base

    assert base.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    from django.contrib.auth.hashers import Argon2PasswordHasher

    assert (
        Argon2PasswordHasher().encode("secret", Argon2PasswordHasher().salt()).startswith("argon2$")
    )
