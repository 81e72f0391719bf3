# AuditEntry and DomainEvent moved to core (core 0001 renamed their tables, keeping every
# row): here they leave credit's migration state only.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("credit", "0005_scoring_index"),
        ("core", "0001_kernel_models"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="AuditEntry"),
                migrations.DeleteModel(name="DomainEvent"),
            ],
            database_operations=[],
        ),
    ]
