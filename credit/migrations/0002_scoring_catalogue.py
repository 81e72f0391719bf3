# The credit event catalogue and scoring model v1 (active), plus triggers that make credit
# events and ratings append-only in the database itself.

from django.db import migrations

# code, name, component, default impact (points per unit of magnitude), description
CATALOGUE = [
    ("lease_completed", "Lease completed", "fulfilment", "2.00", "A warehouse lease was fulfilled as agreed."),
    ("lease_defaulted", "Lease defaulted", "fulfilment", "-12.00", "A lease was abandoned or not honoured."),
    ("late_cancellation", "Late cancellation", "fulfilment", "-3.00", "A booking was cancelled inside its cancellation window."),
    ("positive_rating", "Positive counterparty rating", "fulfilment", "1.00", "The counterparty rated the deal positively."),
    ("negative_rating", "Negative counterparty rating", "fulfilment", "-2.00", "The counterparty rated the deal negatively."),
    ("paid_on_time", "Paid on time", "payment", "1.50", "A payment was settled by its due date."),
    ("paid_late", "Paid late", "payment", "-0.50", "A payment was late; magnitude = days late (capped)."),
    ("chargeback", "Chargeback", "payment", "-6.00", "A payment was charged back."),
    ("refund_issued", "Refund issued", "payment", "-0.50", "A refund was issued to a buyer."),
    ("confirmed_fraud", "Confirmed fraud", "payment", "-40.00", "Payment fraud confirmed by a payment institution or regulator."),
    ("dispute_lost", "Dispute lost", "disputes", "-6.00", "A dispute was decided against the subject."),
    ("complaint_upheld", "Complaint upheld", "disputes", "-4.00", "A complaint against the subject was upheld."),
    ("regulatory_penalty", "Regulatory penalty", "regulatory", "-25.00", "An administrative penalty by a regulator."),
    ("customs_violation", "Customs violation", "regulatory", "-20.00", "A customs violation was recorded."),
    ("qualification_verified", "Qualification verified", "verification", "5.00", "A business qualification was verified."),
    ("license_verified", "Licence verified", "verification", "5.00", "A licence was verified with its issuer."),
]

V1_PARAMETERS = {
    "base": 70,
    "score_min": 0,
    "score_max": 100,
    "components": {
        "fulfilment": {"weight": 1.0, "half_life_days": 365},
        "payment": {"weight": 1.2, "half_life_days": 365},
        "disputes": {"weight": 1.0, "half_life_days": 540},
        "regulatory": {"weight": 1.5, "half_life_days": 730},
        "verification": {"weight": 0.8, "half_life_days": 1095},
    },
    "kinds": {
        "paid_late": {"max_magnitude": 30},
        "refund_issued": {"max_magnitude": 10},
        "lease_completed": {"max_magnitude": 1},
        "paid_on_time": {"max_magnitude": 1},
    },
    "grades": [
        {"grade": "A", "min_score": 90},
        {"grade": "B", "min_score": 70},
        {"grade": "C", "min_score": 40},
        {"grade": "D", "min_score": 0},
    ],
    "new_subject": {"grade": "M", "min_events": 3, "min_history_days": 90},
    "blacklist_override": {"grade": "D", "max_score": 39},
    "history": {"min_score_change": 0.5},
}

APPEND_ONLY_TABLES = ("credit_creditevent", "credit_rating")


def create_catalogue(apps, schema_editor):
    EventKind = apps.get_model("credit", "EventKind")
    ScoringModel = apps.get_model("credit", "ScoringModel")
    for code, name, component, impact, description in CATALOGUE:
        EventKind.objects.update_or_create(
            code=code,
            defaults={"name": name, "component": component, "default_impact": impact, "description": description},
        )
    if not ScoringModel.objects.filter(version=1).exists():
        from django.utils import timezone

        ScoringModel.objects.create(
            version=1,
            status="active",
            parameters=V1_PARAMETERS,
            notes="Initial model: base 70, tax-style ladder A/B/C/D with M for new subjects.",
            published_at=timezone.now(),
        )


def remove_catalogue(apps, schema_editor):
    apps.get_model("credit", "ScoringModel").objects.filter(version=1, ratings__isnull=True).delete()


def add_triggers(apps, schema_editor):
    schema_editor.execute(
        """
        CREATE OR REPLACE FUNCTION credit_forbid_change() RETURNS trigger AS $$
        BEGIN
            RAISE EXCEPTION '% is append-only: % is not allowed (add a correcting row instead)',
                TG_TABLE_NAME, TG_OP USING ERRCODE = 'integrity_constraint_violation';
        END;
        $$ LANGUAGE plpgsql;
        """,
        params=None,
    )
    for table in APPEND_ONLY_TABLES:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION credit_forbid_change();"
        )


def drop_triggers(apps, schema_editor):
    for table in APPEND_ONLY_TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};")
    schema_editor.execute("DROP FUNCTION IF EXISTS credit_forbid_change();")


class Migration(migrations.Migration):

    dependencies = [
        ("credit", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(create_catalogue, remove_catalogue),
        migrations.RunPython(add_triggers, drop_triggers),
    ]
