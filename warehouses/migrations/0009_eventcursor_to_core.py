# The event cursor's row was copied into core.EventCursor (as
# 'warehouses.credit_domain_events'), so this table goes.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("warehouses", "0008_fk_indexes_served_by_composites"),
        ("core", "0001_kernel_models"),
    ]

    operations = [
        migrations.DeleteModel(name="EventCursor"),
    ]
