# Blacklist decisions, appeals and repair applications are never deleted: a trigger rejects
# any DELETE of their rows (TRUNCATE, used by test teardown, is not affected).

from django.db import migrations

TABLES = ("credit_blacklistentry", "credit_appeal", "credit_repairapplication")

FUNCTION = """
CREATE OR REPLACE FUNCTION credit_forbid_delete() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'rows of % are history and are never deleted', TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;
"""


def forwards(apps, schema_editor):
    schema_editor.execute(FUNCTION, params=None)
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete ON {table};")
        schema_editor.execute(
            f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION credit_forbid_delete();"
        )


def backwards(apps, schema_editor):
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete ON {table};")
    schema_editor.execute("DROP FUNCTION IF EXISTS credit_forbid_delete();")


class Migration(migrations.Migration):

    dependencies = [
        ('credit', '0003_registry_search'),
    ]

    operations = [
        migrations.RunPython(forwards, backwards, elidable=False),
    ]
