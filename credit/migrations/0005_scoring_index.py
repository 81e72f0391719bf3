# Covering indexes for the set-based full recompute: a chunk of subjects
# reads its counted events, and each subject's latest rating, from indexes alone, in
# subject order, without visiting the heap (whose event rows are in time order, so every
# subject's events are spread over the whole table).

from django.db import migrations

INDEX = "credit_creditevent_scoring"
REVERSALS = "credit_creditevent_reversals"
LATEST_RATING = "credit_rating_latest"


def forwards(apps, schema_editor):
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
    # Each subject's latest rating, read in order from the index alone by the full run.
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {LATEST_RATING} ON credit_rating (subject_id, computed_at DESC, id DESC) "
        "INCLUDE (score, grade, model_id, event_count, blacklist_override)",
        params=None,
    )


def backwards(apps, schema_editor):
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}", params=None)
    schema_editor.execute(f"DROP INDEX IF EXISTS {REVERSALS}", params=None)
    schema_editor.execute(f"DROP INDEX IF EXISTS {LATEST_RATING}", params=None)


class Migration(migrations.Migration):

    dependencies = [
        ("credit", "0004_blacklist_workflow"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
