"""Configuration comes from the environment only; a bad value stops start-up naming the variable.

No Docker engine runs here, so the compose file is checked by parsing it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.processes import fresh_env, run_python

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "config" / "settings" / "base.py"
GOOD_KEY = "k7Qw9-Zr2Xv8Lm4Np6Tb1Yc3Hd5Fg0Js_Ua7We9Ri2Oo4Pp6Aa8Ss"
PLACEHOLDER = re.search(r"^SECRET_KEY=(.*)$", (ROOT / ".env.example").read_text(), re.M).group(1)


def _start(**overrides: str | None) -> subprocess.CompletedProcess[str]:
    base = {
        "QUOTIENT_ENV_FILE": "/dev/null",
        "SECRET_KEY": GOOD_KEY,
        "ALLOWED_HOSTS": "example.com",
        "VAR_DIR": str(ROOT / "var"),
    }
    return run_python(fresh_env(**{**base, **overrides}), timeout=60)


def test_a_valid_production_configuration_starts():
    assert _start().returncode == 0


def test_the_placeholder_secret_key_is_refused_with_a_clear_message():
    result = _start(SECRET_KEY=PLACEHOLDER)
    assert result.returncode != 0
    assert "environment variable SECRET_KEY: is still the placeholder of .env.example" in (
        result.stderr
    )
    assert "secrets.token_urlsafe" in result.stderr


# --- .env.example, copied to .env -----------------------------------------------------------------


def _from_env_file(path: Path, *command: str) -> subprocess.CompletedProcess[str]:
    """Run with only ``path`` as configuration: none of its variables in the environment."""
    return run_python(fresh_env(QUOTIENT_ENV_FILE=str(path)), *command)


def test_env_example_copied_to_env_parses_and_stops_only_at_the_placeholder_key(tmp_path):
    env_file = tmp_path / ".env"
    shutil.copy(ROOT / ".env.example", env_file)
    result = _from_env_file(env_file)
    assert result.returncode != 0
    assert "environment variable SECRET_KEY: is still the placeholder" in result.stderr, (
        result.stderr[-600:]
    )


def _env_with_a_real_key(tmp_path: Path) -> Path:
    env_file = tmp_path / ".env"
    text = (ROOT / ".env.example").read_text().replace(PLACEHOLDER, GOOD_KEY)
    env_file.write_text(text.replace("VAR_DIR=\n", f"VAR_DIR={tmp_path / 'var'}\n"))
    return env_file


def test_env_example_with_a_real_key_loads_every_value(tmp_path):
    env_file = _env_with_a_real_key(tmp_path)
    probe = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        "print(json.dumps([s.DEBUG, s.ALLOWED_HOSTS, s.SITE_URL, s.DEFAULT_FROM_EMAIL, "
        "s.LOGIN_FAILURE_LIMIT, s.LOGIN_IP_FAILURE_LIMIT, s.SECURE_HSTS_SECONDS, "
        "s.DATABASES['default']['OPTIONS']]))"
    )
    result = _from_env_file(env_file, "-c", probe)
    assert result.returncode == 0, result.stderr[-800:]
    assert json.loads(result.stdout) == [
        False,
        ["quotient.example.com"],
        "https://quotient.example.com",
        "Quotient <quotient@example.com>",
        5,
        50,
        31536000,
        {"options": "-c statement_timeout=30000"},
    ]


def test_check_deploy_is_clean_with_the_env_example_values(tmp_path):
    env_file = _env_with_a_real_key(tmp_path)
    result = _from_env_file(env_file, "manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr[-1500:]
    assert "no issues" in result.stdout


def test_check_deploy_is_clean_with_the_production_defaults():
    env = fresh_env(
        QUOTIENT_ENV_FILE="/dev/null", SECRET_KEY=GOOD_KEY, ALLOWED_HOSTS="quotient.example.com"
    )
    result = run_python(env, "manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr[-1500:]


def test_the_demo_and_the_tests_serve_plain_http(settings):
    probe = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS)"
    )
    env = fresh_env(QUOTIENT_ENV_FILE="/dev/null", DEBUG="true")
    assert run_python(env, "-c", probe).stdout.split() == ["False", "0"]
    assert (settings.SECURE_SSL_REDIRECT, settings.SECURE_HSTS_SECONDS) == (False, 0)


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"SECRET_KEY": None}, "SECRET_KEY"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"SECRET_KEY": "x" * 60}, "SECRET_KEY"),
        ({"SECRET_KEY": GOOD_KEY[:40]}, "SECRET_KEY"),
        ({"SECRET_KEY": PLACEHOLDER}, "SECRET_KEY"),
        ({"SECRET_KEY": PLACEHOLDER, "DEBUG": "true"}, "SECRET_KEY"),
        ({"DATABASE_STATEMENT_TIMEOUT": "30s"}, "DATABASE_STATEMENT_TIMEOUT"),
        ({"SECURE_SSL_REDIRECT": "sometimes"}, "SECURE_SSL_REDIRECT"),
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


@pytest.mark.django_db
def test_the_container_health_check_passes_a_production_host_check(client, settings):
    """The compose health check reaches the app as 127.0.0.1, which production ALLOWED_HOSTS
    does not list: it must name an allowed host, or Django answers 400 and the container is
    never healthy."""
    from core.healthcheck import probe_host

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert compose["services"]["web"]["healthcheck"]["test"] == [
        "CMD",
        "python",
        "-m",
        "core.healthcheck",
    ]
    settings.ALLOWED_HOSTS = ["quotient.example.com", ".example.org"]
    # the old check: Host 127.0.0.1 is refused by the host check before any view runs
    assert client.get("/healthz", HTTP_HOST="127.0.0.1:8000").status_code == 400
    # the new one names the first allowed host
    host = probe_host("quotient.example.com,.example.org")
    assert client.get("/healthz", HTTP_HOST=f"{host}:8000").status_code in (200, 503)
    assert client.get("/healthz", HTTP_HOST=probe_host(".example.org")).status_code != 400


def test_the_health_check_picks_a_host_the_setting_accepts():
    from core.healthcheck import probe_host

    assert probe_host("quotient.example.com,other") == "quotient.example.com"
    assert probe_host(" .example.org ") == "example.org"
    assert probe_host("*") == "localhost"
    assert probe_host("") == "localhost"
