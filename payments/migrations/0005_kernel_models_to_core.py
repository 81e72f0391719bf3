# IdempotencyKey moved to core (core 0001 renamed its table, keeping every row): it leaves
# payments' migration state only. The event cursor's row was copied into core.EventCursor
# (as 'payments.credit_domain_events'), so this table goes.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0004_filings_rotation_gaps"),
        ("core", "0001_kernel_models"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="IdempotencyKey")],
            database_operations=[],
        ),
        migrations.DeleteModel(name="EventCursor"),
    ]
