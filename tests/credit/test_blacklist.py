"""Blacklist entries: creating, lifting, expiring; the flag, domain events, recompute
requests and audit rows that go with each decision."""

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

from core.errors import Conflict, InvalidInput, NotAllowed, NotFound
from core.models import AuditEntry, DomainEvent
from credit import errors
from credit.models import BlacklistEntry, RecomputeRequest
from credit.selectors.blacklist import active_entries_for, public_blacklist
from credit.services import blacklist as services
from credit.tasks import expire_blacklist_entries_task
from tests.credit.blacklist_helpers import WEDNESDAY, at_date, make_entry, set_now
from tests.factories import RegulatorFactory, SubjectFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def subject():
    return SubjectFactory(legal_name="Haimao Cross-border Ltd")


def test_blacklisting_sets_flag_event_recompute_and_audit(regulator, subject):
    entry = make_entry(regulator, subject, fine_amount=Decimal("5000.00"), fine_currency="cny")

    subject.refresh_from_db()
    assert subject.is_blacklisted
    assert entry.status == BlacklistEntry.Status.ACTIVE
    assert entry.fine_currency == "CNY"
    assert entry.decided_by == regulator
    event = DomainEvent.objects.get(type="subject.blacklisted", subject=subject)
    assert event.payload["entry_id"] == entry.pk
    assert event.payload["was_blacklisted"] is False
    assert RecomputeRequest.objects.filter(subject_id=subject.pk).exists()
    audit = AuditEntry.objects.get(action="blacklist.entry_created")
    assert audit.actor == regulator
    assert audit.subject_id == subject.pk
    assert audit.old == {"subject_is_blacklisted": False}
    assert audit.new["decision_reference"] == entry.decision_reference
    assert audit.new["fine_amount"] == "5000.00"


@pytest.mark.parametrize(("severity", "days"), [("minor", 90), ("general", 365), ("serious", 1095)])
def test_publication_end_defaults_to_the_severity_maximum(regulator, subject, severity, days):
    entry = make_entry(regulator, subject, severity=severity, starts_on=timezone.localdate())
    assert entry.publication_ends_on == timezone.localdate() + dt.timedelta(days=days)


def test_publication_days_are_configurable(regulator, subject, settings):
    settings.ENTREPOT = {**settings.ENTREPOT, "BLACKLIST_PUBLICATION_DAYS": {"minor": 7, "general": 30, "serious": 60}}
    entry = make_entry(regulator, subject, severity="minor")
    assert entry.publication_ends_on - entry.starts_on == dt.timedelta(days=7)


def test_a_shorter_end_is_accepted_a_longer_one_is_a_field_error(regulator, subject):
    today = timezone.localdate()
    entry = make_entry(regulator, subject, severity="minor", publication_ends_on=today + dt.timedelta(days=30))
    assert entry.publication_ends_on == today + dt.timedelta(days=30)
    with pytest.raises(InvalidInput) as caught:
        make_entry(
            regulator,
            subject,
            decision_reference="OTHER",
            severity="minor",
            publication_ends_on=today + dt.timedelta(days=91),
        )
    assert "publication_ends_on" in caught.value.field_errors


@pytest.mark.parametrize(("severity", "too_short", "shortest"), [("general", 30, 90), ("serious", 200, 365)])
def test_an_end_below_the_severity_minimum_is_a_field_error(regulator, subject, severity, too_short, shortest):
    """PRODUCT.md: a general entry is published 3 months to 1 year, a serious one 1 to 3 years."""
    today = timezone.localdate()
    with pytest.raises(InvalidInput) as caught:
        make_entry(regulator, subject, severity=severity, publication_ends_on=today + dt.timedelta(days=too_short))
    assert "at least" in caught.value.field_errors["publication_ends_on"][0]
    entry = make_entry(regulator, subject, severity=severity, publication_ends_on=today + dt.timedelta(days=shortest))
    assert entry.publication_ends_on - entry.starts_on == dt.timedelta(days=shortest)


def test_invalid_fields_are_reported_per_field(regulator, subject):
    with pytest.raises(InvalidInput) as caught:
        services.blacklist_subject(
            actor=regulator,
            subject_id=subject.pk,
            category="gossip",
            legal_basis="",
            decision_reference=" ",
            description="x",
            severity="catastrophic",
            fine_amount=Decimal("10"),
            fine_currency="XYZ",
            starts_on=timezone.localdate() + dt.timedelta(days=1),
        )
    fields = caught.value.field_errors
    assert {"category", "legal_basis", "decision_reference", "severity", "fine_currency", "starts_on"} <= set(fields)
    assert not BlacklistEntry.objects.exists()
    assert not AuditEntry.objects.exists()


def test_fine_currency_without_amount_and_non_positive_fines_are_refused(regulator, subject):
    with pytest.raises(InvalidInput) as caught:
        make_entry(regulator, subject, fine_currency="USD")
    assert "fine_amount" in caught.value.field_errors
    with pytest.raises(InvalidInput) as caught:
        make_entry(regulator, subject, fine_amount=Decimal("0"), fine_currency="USD")
    assert "fine_amount" in caught.value.field_errors


def test_only_regulators_blacklist(member, staff_user, subject):
    for actor in (member, staff_user, None):
        with pytest.raises(NotAllowed):
            make_entry(actor, subject)
    assert not BlacklistEntry.objects.exists()


def test_unknown_subject_is_subject_not_found(regulator):
    with pytest.raises(errors.SubjectNotFound):
        services.blacklist_subject(
            actor=regulator,
            subject_id=999_999,
            category="fraud",
            legal_basis="x",
            decision_reference="D-1",
            description="x",
            severity="minor",
        )


def test_second_active_entry_for_the_same_decision_is_a_conflict(regulator, subject):
    first = make_entry(regulator, subject, decision_reference="SZ-2026-001")
    with pytest.raises(Conflict) as caught:
        make_entry(regulator, subject, decision_reference="SZ-2026-001")
    assert caught.value.code == "duplicate_decision"
    # Another subject may carry the same decision number; after lifting, it may be re-entered.
    make_entry(regulator, SubjectFactory(), decision_reference="SZ-2026-001")
    services.lift_blacklist_entry(actor=regulator, entry_id=first.pk, reason="Issued in error")
    again = make_entry(regulator, subject, decision_reference="SZ-2026-001")
    assert again.status == "active"


def test_database_constraint_backs_the_duplicate_check(regulator, subject):
    entry = make_entry(regulator, subject, decision_reference="DUP")
    from django.db import IntegrityError

    with pytest.raises(IntegrityError), transaction.atomic():
        BlacklistEntry.objects.create(
            subject=subject,
            category="fraud",
            legal_basis="x",
            decision_reference="DUP",
            description="x",
            severity="minor",
            starts_on=entry.starts_on,
            publication_ends_on=entry.publication_ends_on,
            decided_by=regulator,
        )


def test_entries_appeals_and_repairs_can_never_be_deleted(regulator, subject):
    entry = make_entry(regulator, subject)
    with pytest.raises(Exception, match="never deleted"), transaction.atomic():
        BlacklistEntry.objects.filter(pk=entry.pk).delete()
    assert BlacklistEntry.objects.filter(pk=entry.pk).exists()


def test_lifting_needs_a_reason_and_clears_the_flag_with_the_last_entry(regulator, subject):
    first = make_entry(regulator, subject, decision_reference="A-1")
    second = make_entry(regulator, subject, decision_reference="A-2", category="tax")
    assert DomainEvent.objects.filter(type="subject.blacklisted").count() == 2

    with pytest.raises(InvalidInput) as caught:
        services.lift_blacklist_entry(actor=regulator, entry_id=first.pk, reason="  ")
    assert "reason" in caught.value.field_errors

    services.lift_blacklist_entry(actor=regulator, entry_id=first.pk, reason="Decision annulled by court")
    subject.refresh_from_db()
    assert subject.is_blacklisted, "still blacklisted by the second entry"
    lifted = DomainEvent.objects.filter(type="subject.blacklist_lifted").order_by("id")
    assert [e.payload["still_blacklisted"] for e in lifted] == [True]

    services.lift_blacklist_entry(actor=regulator, entry_id=second.pk, reason="Paid and corrected")
    subject.refresh_from_db()
    assert not subject.is_blacklisted
    assert [e.payload["still_blacklisted"] for e in lifted.all()] == [True, False]
    first.refresh_from_db()
    assert first.status == "lifted" and first.status_reason == "Decision annulled by court"
    audit = AuditEntry.objects.filter(action="blacklist.entry_lifted").order_by("id").last()
    assert audit.old["status"] == "active" and audit.new["status"] == "lifted"
    assert audit.new["subject_is_blacklisted"] is False
    assert audit.reason == "Paid and corrected"
    assert list(public_blacklist()) == []


def test_lifting_twice_is_harmless_and_ended_entries_cannot_be_lifted(regulator, subject, member, time_machine):
    entry = make_entry(regulator, subject)
    services.lift_blacklist_entry(actor=regulator, entry_id=entry.pk, reason="r")
    services.lift_blacklist_entry(actor=regulator, entry_id=entry.pk, reason="again")
    assert AuditEntry.objects.filter(action="blacklist.entry_lifted").count() == 1
    assert DomainEvent.objects.filter(type="subject.blacklist_lifted").count() == 1

    minor = make_entry(regulator, subject, severity="minor", decision_reference="M-1")
    set_now(time_machine, at_date(minor.publication_ends_on))
    services.expire_blacklist_entries()
    with pytest.raises(Conflict):
        services.lift_blacklist_entry(actor=regulator, entry_id=minor.pk, reason="r")
    with pytest.raises(NotAllowed):
        services.lift_blacklist_entry(actor=member, entry_id=minor.pk, reason="r")
    with pytest.raises(NotFound):
        services.lift_blacklist_entry(actor=regulator, entry_id=123456, reason="r")


def test_beat_task_expires_an_entry_exactly_on_its_exclusive_end_date(regulator, subject, time_machine):
    set_now(time_machine, WEDNESDAY)
    entry = make_entry(regulator, subject, severity="minor")
    end = entry.publication_ends_on
    assert end == WEDNESDAY.date() + dt.timedelta(days=90)

    # The last published day: still active, still on the public list, task does nothing.
    set_now(time_machine, dt.datetime(end.year, end.month, end.day, tzinfo=dt.UTC) - dt.timedelta(seconds=1))
    assert expire_blacklist_entries_task() == 0
    entry.refresh_from_db()
    assert entry.status == "active"
    assert list(public_blacklist()) == [entry]

    # On the end date it is no longer published, even before the hourly task runs...
    set_now(time_machine, dt.datetime(end.year, end.month, end.day, 0, 0, tzinfo=dt.UTC))
    assert list(public_blacklist()) == []
    # ...and the task ends it, once.
    assert expire_blacklist_entries_task() == 1
    assert expire_blacklist_entries_task() == 0
    entry.refresh_from_db()
    subject.refresh_from_db()
    assert entry.status == "expired"
    assert not subject.is_blacklisted
    assert DomainEvent.objects.filter(type="subject.blacklist_lifted", payload__status="expired").count() == 1
    audit = AuditEntry.objects.get(action="blacklist.entry_expired")
    assert audit.actor is None and audit.actor_label == "system"
    assert list(active_entries_for(subject_id=subject.pk)) == []


def test_set_fine_paid_is_audited(regulator, subject):
    entry = make_entry(regulator, subject, fine_amount=Decimal("100"), fine_currency="EUR")
    services.set_fine_paid(actor=regulator, entry_id=entry.pk, paid=True)
    services.set_fine_paid(actor=regulator, entry_id=entry.pk, paid=True)
    entry.refresh_from_db()
    assert entry.fine_paid
    assert AuditEntry.objects.filter(action="blacklist.fine_paid_changed").count() == 1
    no_fine = make_entry(regulator, subject, decision_reference="NF")
    with pytest.raises(Conflict):
        services.set_fine_paid(actor=regulator, entry_id=no_fine.pk, paid=True)


@pytest.mark.django_db(transaction=True)
def test_racing_regulators_create_one_entry_per_decision():
    """Two regulators submit the same decision at the same moment: exactly one entry."""
    subject = SubjectFactory()
    regulators = [RegulatorFactory(), RegulatorFactory()]
    barrier = threading.Barrier(2)
    outcomes = []

    def submit(regulator):
        try:
            barrier.wait()
            make_entry(regulator, subject, decision_reference="RACE-1")
            outcomes.append("created")
        except Conflict:
            outcomes.append("conflict")
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(r,)) for r in regulators]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict", "created"]
    assert BlacklistEntry.objects.filter(subject=subject, decision_reference="RACE-1").count() == 1
