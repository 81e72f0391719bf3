"""The kernel's models moved into core keep every row: a database seeded before the move
(audit entries, domain events, idempotency keys and both event cursors in their old
tables) is migrated forward, and the rows are read back through core's models."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE_CORE = [
    ("core", None),
    ("credit", "0005_scoring_index"),
    ("payments", "0004_filings_rotation_gaps"),
    ("warehouses", "0008_fk_indexes_served_by_composites"),
]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state([t for t in targets if t[1] is not None]).apps


def latest():
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def table_names():
    with connection.cursor() as cursor:
        return set(connection.introspection.table_names(cursor))


@pytest.fixture
def before_core():
    """The database as it was before the move; the latest state again afterwards."""
    old_apps = migrate(BEFORE_CORE)
    yield old_apps
    migrate(latest())


@pytest.mark.django_db(transaction=True)
def test_kernel_rows_survive_the_move_to_core(before_core):
    old = before_core
    assert {"credit_auditentry", "credit_domainevent", "payments_idempotencykey"} <= table_names()
    now = timezone.now()
    subject = old.get_model("credit", "Subject").objects.create(
        country="CN", registration_number="REG-MOVE-1", legal_name="Moved Rows Trading Co"
    )
    audit = old.get_model("credit", "AuditEntry").objects.create(
        actor_label="system",
        action="subject.created",
        subject=subject,
        target_type="credit.subject",
        target_id=str(subject.pk),
        new={"legal_name": "Moved Rows Trading Co"},
        reason="seeded before the move",
    )
    event = old.get_model("credit", "DomainEvent").objects.create(
        type="subject.grade_changed", subject=subject, payload={"old_grade": "M", "new_grade": "B"}, occurred_at=now
    )
    key = old.get_model("payments", "IdempotencyKey").objects.create(
        owner="key:abc123", key="k-1", fingerprint="f" * 64, status="done", response_status=201, response_body={"id": 7}
    )
    old.get_model("payments", "EventCursor").objects.create(
        name="credit.domain_events", last_id=event.pk, gaps={"3": now.isoformat()}
    )
    old.get_model("warehouses", "EventCursor").objects.create(name="credit.domain_events", last_id=event.pk - 1)

    migrate(latest())

    from core.models import AuditEntry, DomainEvent, EventCursor, IdempotencyKey

    tables = table_names()
    assert {"core_auditentry", "core_domainevent", "core_idempotencykey", "core_eventcursor"} <= tables
    assert not {"credit_auditentry", "credit_domainevent", "payments_idempotencykey"} & tables
    assert not {"payments_eventcursor", "warehouses_eventcursor"} & tables

    moved = AuditEntry.objects.select_related("subject").get(pk=audit.pk)
    assert (moved.action, moved.subject.legal_name, moved.reason) == (
        "subject.created",
        "Moved Rows Trading Co",
        "seeded before the move",
    )
    assert moved.new == {"legal_name": "Moved Rows Trading Co"}
    moved_event = DomainEvent.objects.get(pk=event.pk)
    assert (moved_event.type, moved_event.subject_id, moved_event.payload) == (
        "subject.grade_changed",
        subject.pk,
        {"old_grade": "M", "new_grade": "B"},
    )
    moved_key = IdempotencyKey.objects.get(owner="key:abc123", key="k-1")
    assert (moved_key.pk, moved_key.status, moved_key.response_body) == (key.pk, "done", {"id": 7})
    cursors = {c.name: (c.last_id, c.gaps) for c in EventCursor.objects.all()}
    assert cursors == {
        "payments.credit_domain_events": (event.pk, {"3": now.isoformat()}),
        "warehouses.credit_domain_events": (event.pk - 1, {}),
    }

    # The sequences moved with their tables: new rows take the next ids.
    assert AuditEntry.objects.create(actor_label="system", action="x", target_type="t", target_id="1").pk > audit.pk
    assert DomainEvent.objects.create(type="subject.blacklisted", subject_id=subject.pk, occurred_at=now).pk > event.pk
    # The unique constraint and the index came along under their names.
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "core_idempotencykey")
        audit_constraints = connection.introspection.get_constraints(cursor, "core_auditentry")
    assert constraints["idempotency_unique_owner_key"]["unique"]
    assert "idempotencykey_created_at" in constraints
    assert audit_constraints["auditentry_target"]["columns"] == ["target_type", "target_id"]
