import django.db.models.deletion
from django.db import migrations, models

from core.db import AlterFieldOnPostgres, SetBasedForeignKeys

# A contribution's line, checked once per INSERT (set-based) instead of once per row at commit
# on PostgreSQL: a settle chunk writes ~25,000 contributions in one INSERT … SELECT, and the
# per-row check cost as much as the insert. Lines are append-only, so the parent-side trigger
# (a line deleted or renumbered while referenced) never fires in practice. SQLite keeps its
# ordinary foreign key.


class Migration(migrations.Migration):
    dependencies = [
        ("payouts", "0016_sqlite_payoutline_append_only"),
    ]

    operations = [
        AlterFieldOnPostgres(
            model_name="linecontribution",
            name="line",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="contributions",
                to="payouts.payoutline",
            ),
        ),
        SetBasedForeignKeys("payouts_linecontribution", {"line_id": ("payouts_payoutline", "tenant_id")}),
    ]
