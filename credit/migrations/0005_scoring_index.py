# A covering index for the set-based full recompute (PostgreSQL only): a chunk of subjects
# reads its counted events from the index alone, in subject order, without visiting the
# heap, whose rows are in time order and so spread every subject over the whole table.

from django.db import migrations

INDEX = "credit_creditevent_scoring"
REVERSALS = "credit_creditevent_reversals"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON credit_creditevent (subject_id, kind_id) "
        "INCLUDE (id, occurred_at, magnitude, reverses_id)",
        params=None,
    )
    # Reversals are rare: a small partial index finds a chunk's reversed events.
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {REVERSALS} ON credit_creditevent (subject_id) "
        "INCLUDE (reverses_id) WHERE reverses_id IS NOT NULL",
        params=None,
    )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}", params=None)
    schema_editor.execute(f"DROP INDEX IF EXISTS {REVERSALS}", params=None)


class Migration(migrations.Migration):

    dependencies = [
        ("credit", "0004_blacklist_workflow"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
