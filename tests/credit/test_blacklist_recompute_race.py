"""A blacklist decision and that subject's pending recompute at the same moment, on
PostgreSQL with real concurrent connections. Both take the subject first and the
subject's recompute request (credit_recomputerequest) after it (ARCHITECTURE.md, lock
order), so they queue instead of deadlocking, and the grade ends up reflecting the
decision: nothing is lost either way."""

from unittest import mock

import pytest
from django.db import transaction
from django.utils import timezone

from credit.models import BlacklistEntry, RecomputeRequest
from credit.selectors import ratings as rating_selectors
from credit.services import blacklist
from credit.services import ratings as rating_services
from credit.tasks import recompute_subject_task
from tests.credit.blacklist_helpers import make_entry
from tests.factories import SubjectFactory
from tests.payments.escrow_helpers import wait_until_blocked
from tests.races import start, together

pytestmark = pytest.mark.django_db(transaction=True)
ROUNDS = 5


@pytest.fixture(autouse=True)
def _no_broker():
    """The recompute task is sent on commit; the test runs the recompute itself."""
    with mock.patch.object(recompute_subject_task, "apply_async"):
        yield


def pending(subject) -> None:
    """A recompute request waiting for the task, as a credit event leaves it."""
    RecomputeRequest.objects.update_or_create(subject=subject, defaults={"requested_at": timezone.now()})


def decide(regulator, subject, decision: str, entry_id=None):
    if decision == "blacklist":
        return lambda: make_entry(regulator, subject)
    return lambda: blacklist.lift_blacklist_entry(actor=regulator, entry_id=entry_id, reason="Decision overturned.")


def prepared(regulator, decision: str):
    """A subject with a pending recompute request and, to lift, an active entry."""
    subject = SubjectFactory()
    entry_id = None
    if decision == "lift":
        entry_id = make_entry(regulator, subject).pk
        rating_services.process_recompute_request(subject_id=subject.pk)
    pending(subject)
    return subject, entry_id


def assert_grade_follows_the_decision(subject, decision: str) -> None:
    subject.refresh_from_db()
    assert subject.is_blacklisted is (decision == "blacklist")
    rating_services.flush_recompute_queue()  # whatever the decision asked for
    assert not RecomputeRequest.objects.filter(subject=subject).exists()
    latest = rating_selectors.latest_rating(subject_id=subject.pk)
    assert latest.blacklist_override is (decision == "blacklist")


@pytest.mark.parametrize("decision", ["blacklist", "lift"])
def test_decision_while_the_recompute_waits_for_its_request(regulator, decision):
    # The recompute task waits for the subject's request row (an event's transaction holds
    # it, say) while a regulator's decision starts. Taking the request row first and the
    # subject second, the task would hold the row while waiting for the subject, and the
    # decision hold the subject while waiting to upsert the row: PostgreSQL would kill one.
    subject, entry_id = prepared(regulator, decision)
    results: dict = {}
    with transaction.atomic():
        list(RecomputeRequest.objects.select_for_update().filter(subject=subject))
        recompute = start(
            results, "recompute", lambda: rating_services.process_recompute_request(subject_id=subject.pk)
        )
        wait_until_blocked(1)
        decided = start(results, "decision", decide(regulator, subject, decision, entry_id))
        wait_until_blocked(2)
    recompute.join(timeout=30)
    decided.join(timeout=30)

    assert isinstance(results["decision"], BlacklistEntry), results
    assert results["recompute"] is None or not isinstance(results["recompute"], str), results
    assert_grade_follows_the_decision(subject, decision)


@pytest.mark.parametrize("decision", ["blacklist", "lift"])
def test_decision_and_pending_recompute_started_together(regulator, decision):
    for _ in range(ROUNDS):
        subject, entry_id = prepared(regulator, decision)
        results = together(
            decide(regulator, subject, decision, entry_id),
            lambda subject_id=subject.pk: rating_services.process_recompute_request(subject_id=subject_id),
        )
        assert isinstance(results[0], BlacklistEntry), results
        assert results[1] is None or not isinstance(results[1], str), results
        assert_grade_follows_the_decision(subject, decision)
