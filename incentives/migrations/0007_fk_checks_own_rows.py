from django.db import migrations

from core.db import reinstall_fk_check

# The set-based key check (core.db, quotient_fk_children) no longer locks the references to
# rows its own transaction inserted (no other transaction can see them, so none can delete
# them): an import's credits reference the transactions its writer has just written, 20,000
# tuple locks per chunk before. Every other reference is checked and locked as before
# (docs/imports.md "2026-12-04"). The function is shared with the payout lines' check.


class Migration(migrations.Migration):
    dependencies = [
        ("incentives", "0006_fk_checks_by_probe"),
    ]

    operations = [migrations.RunPython(reinstall_fk_check, migrations.RunPython.noop)]
