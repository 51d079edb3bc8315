from django.db import migrations

from core.db import reinstall_fk_check

# The set-based foreign-key check (core.db, quotient_fk_children) probes the parent's primary
# key once per distinct reference instead of letting the planner hash-join the parent's whole
# tenant: with the statistics of a table an import is filling (its rows uncommitted, never
# analysed), that join read every transaction of the tenant for each chunk's credits
# (docs/imports.md "2026-12-02 afternoon"). Same checks, same locks, same errors; the function
# is shared with the payout lines' check (payouts 0017), which gets the same plan.


class Migration(migrations.Migration):
    dependencies = [
        ("incentives", "0005_import_indexes"),
    ]

    operations = [migrations.RunPython(reinstall_fk_check, migrations.RunPython.noop)]
