"""The partial index of reserved days also carries capacity and reserved, so the
availability check of a search is an index-only scan. The index keeps its name (the model
declares it without INCLUDE)."""

from django.db import migrations

COVERING = (
    "CREATE INDEX capacityday_reserved_days ON warehouses_capacityday (listing_id, day) "
    "INCLUDE (capacity, reserved) WHERE reserved > 0"
)
PLAIN = "CREATE INDEX capacityday_reserved_days ON warehouses_capacityday (listing_id, day) WHERE reserved > 0"


def forwards(apps, schema_editor):
    schema_editor.execute("DROP INDEX IF EXISTS capacityday_reserved_days")
    schema_editor.execute(COVERING)


def backwards(apps, schema_editor):
    schema_editor.execute("DROP INDEX IF EXISTS capacityday_reserved_days")
    schema_editor.execute(PLAIN)


class Migration(migrations.Migration):
    dependencies = [("warehouses", "0002_listing_country")]

    operations = [migrations.RunPython(forwards, backwards)]
