# The kernel's tables move here from credit and payments, keeping every row: the models
# change app in the migration state only (SeparateDatabaseAndState), then their tables are
# renamed to core_* (ALTER TABLE ... RENAME keeps rows, indexes, constraints and sequences).
# The two event cursors (payments' and warehouses', one row each under the same name) become
# one table, each consumer's row under its own name.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

CURSOR_APPS = ("payments", "warehouses")


def cursor_name(app_label, old_name):
    return f"{app_label}.{old_name.replace('.', '_')}"


def copy_cursors(apps, schema_editor):
    EventCursor = apps.get_model("core", "EventCursor")
    for app_label in CURSOR_APPS:
        for old in apps.get_model(app_label, "EventCursor").objects.all():
            EventCursor.objects.create(name=cursor_name(app_label, old.name), last_id=old.last_id, gaps=old.gaps)


def copy_cursors_back(apps, schema_editor):
    EventCursor = apps.get_model("core", "EventCursor")
    for app_label in CURSOR_APPS:
        Old = apps.get_model(app_label, "EventCursor")
        for row in EventCursor.objects.filter(name__startswith=f"{app_label}."):
            old_name = row.name.removeprefix(f"{app_label}.").replace("credit_domain_events", "credit.domain_events")
            Old.objects.update_or_create(name=old_name, defaults={"last_id": row.last_id, "gaps": row.gaps})


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("credit", "0005_scoring_index"),
        ("payments", "0004_filings_rotation_gaps"),
        ("warehouses", "0008_fk_indexes_served_by_composites"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="AuditEntry",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("at", models.DateTimeField(auto_now_add=True, db_index=True)),
                        ("actor_label", models.CharField(help_text="User name, API key prefix or 'system'", max_length=200)),
                        ("action", models.CharField(db_index=True, max_length=80)),
                        ("target_type", models.CharField(max_length=80)),
                        ("target_id", models.CharField(max_length=80)),
                        ("old", models.JSONField(blank=True, null=True)),
                        ("new", models.JSONField(blank=True, null=True)),
                        ("reason", models.TextField(blank=True)),
                        (
                            "actor",
                            models.ForeignKey(
                                blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, to=settings.AUTH_USER_MODEL
                            ),
                        ),
                        (
                            "subject",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="credit.subject",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name_plural": "audit entries",
                        "ordering": ["-at", "-id"],
                        "db_table": "credit_auditentry",
                        "indexes": [
                            models.Index(fields=["target_type", "target_id"], name="credit_audi_target__4ab9d4_idx")
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="DomainEvent",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("type", models.CharField(max_length=40)),
                        ("payload", models.JSONField(default=dict)),
                        ("occurred_at", models.DateTimeField(db_index=True)),
                        (
                            "subject",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT, related_name="+", to="credit.subject"
                            ),
                        ),
                    ],
                    options={"ordering": ["id"], "db_table": "credit_domainevent"},
                ),
                migrations.CreateModel(
                    name="IdempotencyKey",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("owner", models.CharField(help_text="'key:<prefix>' or 'user:<id>'", max_length=60)),
                        ("key", models.CharField(max_length=255)),
                        ("fingerprint", models.CharField(max_length=64)),
                        (
                            "status",
                            models.CharField(
                                choices=[("in_flight", "In flight"), ("done", "Done")], default="in_flight", max_length=10
                            ),
                        ),
                        ("response_status", models.PositiveSmallIntegerField(blank=True, null=True)),
                        ("response_body", models.JSONField(blank=True, null=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("completed_at", models.DateTimeField(blank=True, null=True)),
                    ],
                    options={
                        "db_table": "payments_idempotencykey",
                        "constraints": [
                            models.UniqueConstraint(fields=("owner", "key"), name="idempotency_unique_owner_key")
                        ],
                        "indexes": [models.Index(fields=["created_at"], name="idempotencykey_created_at")],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.AlterModelTable(name="auditentry", table=None),
        migrations.AlterModelTable(name="domainevent", table=None),
        migrations.AlterModelTable(name="idempotencykey", table=None),
        migrations.RenameIndex(
            model_name="auditentry", new_name="auditentry_target", old_name="credit_audi_target__4ab9d4_idx"
        ),
        migrations.CreateModel(
            name="EventCursor",
            fields=[
                ("name", models.CharField(max_length=40, primary_key=True, serialize=False)),
                ("last_id", models.BigIntegerField(default=0)),
                (
                    "gaps",
                    models.JSONField(
                        default=dict,
                        help_text="Ids at or below last_id not seen yet (a transaction may still commit them): id -> first seen",
                    ),
                ),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
        ),
        migrations.RunPython(copy_cursors, copy_cursors_back, elidable=False),
    ]
