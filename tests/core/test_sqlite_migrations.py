"""The demo's database: every migration applies on a fresh SQLite file (what `make demo` does)
and leaves every guard trigger in place. Django's SQLite schema editor remakes a table for some
changes, which drops that table's own triggers and breaks other tables' triggers that read it
(core.db.AddFieldInPlace avoids the remake for a NOT NULL column)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Triggers the migrations create on SQLite (payouts.db.GuardPeriodStatus, core.db.MakeAppendOnly
# and FreezeRows): a few of each kind, on tables later migrations alter.
EXPECTED = {
    "hierarchy_period_calculated_guard",
    "hierarchy_period_approved_guard",
    "payouts_linesummary_no_update",
    "payouts_ledgerentry_no_update",
}


def test_every_migration_applies_on_a_fresh_sqlite_file_and_keeps_its_triggers(tmp_path):
    db = tmp_path / "demo.sqlite3"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "DATABASE_OWNER_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env |= {"DATABASE_URL": f"sqlite:///{db}", "DEBUG": "true"}
    done = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    with sqlite3.connect(db) as conn:
        triggers = {
            r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='trigger'")
        }
        columns = {r[1] for r in conn.execute("PRAGMA table_info(payouts_calculationrun)")}
    assert triggers >= EXPECTED, sorted(EXPECTED - triggers)
    assert "summarized" in columns
