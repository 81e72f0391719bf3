"""Reading credit's domain events by increasing id must not skip an event whose
transaction commits after a later id was already read (ids are taken at insert, rows
become visible at commit)."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from core.models import DomainEvent, EventCursor
from payments import services
from payments.models import WebhookDelivery
from tests.factories import MembershipFactory, SubjectFactory, UserFactory


def _watching_institution(subject):
    manager = UserFactory()
    pi = SubjectFactory(is_payment_institution=True, is_merchant=False)
    MembershipFactory(user=manager, subject=pi, role="owner")
    services.register_institution(actor=manager, subject_id=pi.pk, paid_in_capital=1, capital_currency="CNY")
    services.create_webhook_endpoint(
        actor=manager, institution_id=pi.pk, url="https://hooks.example.test/h", event_types=["subject.grade_changed"]
    )
    services.watch_subject(actor=manager, institution_id=pi.pk, subject_id=subject.pk)


def _event(subject, grade="B") -> DomainEvent:
    return DomainEvent.objects.create(
        type="subject.grade_changed", subject=subject, payload={"new_grade": grade}, occurred_at=timezone.now()
    )


def _delivered_event_ids() -> set[str]:
    return set(WebhookDelivery.objects.values_list("event_id", flat=True))


@pytest.mark.django_db(transaction=True)
def test_an_event_committed_late_with_a_smaller_id_is_still_delivered():
    subject = SubjectFactory()
    _watching_institution(subject)
    first = _event(subject, "A")
    assert services.process_domain_events() == 1  # the cursor is now at `first`

    inserted, release, slow_id = threading.Event(), threading.Event(), []

    def slow_transaction():
        try:
            with transaction.atomic():
                slow_id.append(_event(subject, "C").pk)  # takes its id now...
                inserted.set()
                release.wait(10)  # ...and commits only later
        finally:
            connection.close()

    thread = threading.Thread(target=slow_transaction)
    thread.start()
    assert inserted.wait(10)
    fast = _event(subject, "M")  # committed at once, with a larger id
    assert fast.pk > slow_id[0]
    assert services.process_domain_events() == 1  # only `fast` is visible yet
    release.set()
    thread.join(10)

    assert services.process_domain_events() == 1  # the late one is found
    assert _delivered_event_ids() == {f"evt_credit_{pk}" for pk in (first.pk, slow_id[0], fast.pk)}
    assert services.process_domain_events() == 0  # and handled once only
    assert EventCursor.objects.get().gaps == {}


@pytest.mark.django_db
def test_a_rolled_back_id_is_forgotten_after_the_gap_timeout(settings):
    subject = SubjectFactory()
    _watching_institution(subject)
    _event(subject)
    services.process_domain_events()
    try:
        with transaction.atomic():
            burned = _event(subject).pk
            raise RuntimeError("rolled back")
    except RuntimeError:
        pass
    last = _event(subject)
    assert services.process_domain_events() == 1
    cursor = EventCursor.objects.get()
    assert cursor.last_id == last.pk and list(cursor.gaps) == [str(burned)]
    assert services.process_domain_events() == 0
    assert list(EventCursor.objects.get().gaps) == [str(burned)]  # still looked for
    old = (timezone.now() - timedelta(seconds=601)).isoformat()
    EventCursor.objects.update(gaps={str(burned): old})
    services.process_domain_events()
    assert EventCursor.objects.get().gaps == {}
