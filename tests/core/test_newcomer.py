"""What a newcomer meets first: a clean demo, the README's commands working as written, e-mailed
links at the address the demo really runs on."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from django.core.management import call_command

from core.models import Tenant
from core.tenancy import tenant_scope
from tests.processes import fresh_env, run_python

ROOT = Path(__file__).resolve().parents[2]
MAKE = shutil.which("make") or "/usr/bin/make"


def _make(*args: str) -> str:
    done = subprocess.run(
        [MAKE, *args], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout


def test_a_fresh_demo_commits_every_import_cleanly(db):
    from hierarchy.models import ImportBatch
    from incentives.models import IngestBatch, IngestError, IngestStatus

    call_command("demo_seed", "--quiet")
    call_command("incentives_demo_seed", "--tenant", "demo")
    with tenant_scope(Tenant.objects.get(slug="demo")):
        batches = list(IngestBatch.objects.all())
        assert {b.kind for b in batches} == {"transactions", "kpi_values"}
        assert [(b.kind, b.status, b.error_count) for b in batches if b.error_count] == []
        assert {b.status for b in batches} == {IngestStatus.COMMITTED}
        assert not IngestError.objects.exists()
        assert all(b.counts["created"] == b.counts["rows"] > 0 for b in batches)
        assert [b.errors for b in ImportBatch.objects.all() if b.errors] == []


def test_the_readmes_manage_py_commands_work_as_written_after_make_demo(tmp_path):
    # given the .env `make demo` writes (here for PORT=9123)
    env_file = tmp_path / ".env"
    _make("-s", "demo-env", f"DEMO_ENV={env_file}", "HOST=127.0.0.1", "PORT=9123")
    assert "DEBUG=true" in env_file.read_text()
    # a newcomer's shell: none of Quotient's variables set
    env = fresh_env(QUOTIENT_ENV_FILE=str(env_file), VAR_DIR=str(tmp_path / "var"))

    def manage(*args: str) -> subprocess.CompletedProcess[str]:
        return run_python(env, "manage.py", *args, timeout=300)

    assert manage("migrate", "--no-input", "-v", "0").returncode == 0
    created = manage("tenant_create", "demo", "Demo", "--admin-email", "new@demo.test")
    assert created.returncode == 0, created.stderr[-800:]
    # when the README's command runs in a shell without DEBUG=true
    issued = manage(
        "api_client_create", "--tenant", "demo", "--name", "ci", "--scope", "read:payouts"
    )
    # then it prints a token, and e-mailed links point at the demo's real port
    assert issued.returncode == 0, issued.stderr[-800:]
    assert issued.stdout.startswith("qtk_")
    assert "http://127.0.0.1:9123/reset/" in created.stdout


def test_make_demo_never_overwrites_an_env_file_of_your_own(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("SECRET_KEY=mine\n")
    _make("-s", "demo-env", f"DEMO_ENV={env_file}")
    assert env_file.read_text() == "SECRET_KEY=mine\n"
    # ... but refreshes the one it wrote itself when the port changes
    env_file.unlink()
    _make("-s", "demo-env", f"DEMO_ENV={env_file}", "PORT=9001")
    _make("-s", "demo-env", f"DEMO_ENV={env_file}", "PORT=9002")
    assert "SITE_URL=http://127.0.0.1:9002" in env_file.read_text()


def test_make_demo_serves_with_site_url_following_host_and_port():
    dry = _make("-n", "demo", "HOST=0.0.0.0", "PORT=9124")
    serve = next(line for line in dry.splitlines() if "runserver" in line)
    assert "SITE_URL=${SITE_URL:-http://0.0.0.0:9124}" in serve
    assert "/login/" in dry
