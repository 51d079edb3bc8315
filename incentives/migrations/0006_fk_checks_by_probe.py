from django.db import migrations

# The set-based foreign-key check (core.db, quotient_fk_children) probes the parent's primary
# key once per distinct reference instead of letting the planner hash-join the parent's whole
# tenant: with the statistics of a table an import is filling (its rows uncommitted, never
# analysed), that join read every transaction of the tenant for each chunk's credits
# (docs/imports.md "2026-12-02 afternoon"). Same checks, same locks, same errors; the function
# is shared with the payout lines' check (payouts 0017), which gets the same plan.


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    from core.db import _FK_CHILDREN_FN

    schema_editor.execute(_FK_CHILDREN_FN, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("incentives", "0005_import_indexes"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
