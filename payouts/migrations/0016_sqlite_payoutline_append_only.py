"""Payout lines are append-only on SQLite again.

0004_runs added columns to ``payouts_payoutline``; on SQLite that rebuilds the table, which
drops the append-only triggers 0001 created (PostgreSQL alters in place and kept them). Demo
databases migrated since then accepted an UPDATE or DELETE of a payout line; this puts the
triggers back (a no-op on PostgreSQL).
"""

from django.db import migrations

from payouts.db import SqliteAppendOnlyAgain


class Migration(migrations.Migration):
    dependencies = [
        ("payouts", "0015_contribution_keys"),
    ]

    operations = [
        SqliteAppendOnlyAgain("payouts_payoutline"),
    ]
