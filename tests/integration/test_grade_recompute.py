"""Grades follow events through a REAL Celery worker: an event commits and the grade
changes within seconds; with Redis down when the event commits, nothing fails and the
grade still changes once Redis is back (the durable outbox + the flush beat task)."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from credit.models import RecomputeRequest, Subject
from credit.services.events import record_credit_event
from credit.tasks import flush_recompute_queue_task
from tests.factories import SubjectFactory

pytestmark = pytest.mark.integration


def seed_history(subject, regulator):
    """Three old leases: enough history to leave grade M; score about 73 (B)."""
    for days in (400, 300, 200):
        record_credit_event(
            actor=regulator,
            subject_id=subject.pk,
            kind="lease_completed",
            source="platform",
            occurred_at=timezone.now() - timedelta(days=days),
        )


def grade_of(subject_id):
    return Subject.objects.values_list("grade", flat=True).get(pk=subject_id)


def test_an_event_commits_and_the_grade_changes(transactional_db, celery_worker_process, wait_for, regulator):
    subject = SubjectFactory()
    seed_history(subject, regulator)
    wait_for(lambda: grade_of(subject.pk) == "B", timeout=30, message="the worker to grade the subject B")

    started = time.monotonic()
    record_credit_event(
        actor=regulator,
        subject_id=subject.pk,
        kind="confirmed_fraud",
        source="payment_institution",
        occurred_at=timezone.now() - timedelta(hours=1),
    )
    wait_for(lambda: grade_of(subject.pk) == "D", timeout=30, message="the grade to drop to D after fraud")
    assert time.monotonic() - started < 10
    assert not RecomputeRequest.objects.filter(subject=subject).exists()
    # A burst of events for one subject is one recompute, not one per event.
    subject.refresh_from_db()
    ratings_before = subject.ratings.count()
    for day in range(10):
        record_credit_event(
            actor=regulator,
            subject_id=subject.pk,
            kind="paid_on_time",
            source="payment_institution",
            occurred_at=timezone.now() - timedelta(days=day + 1),
        )
    wait_for(lambda: subject.ratings.filter(event_count=14).exists(), timeout=30, message="the burst to be rated")
    time.sleep(2)  # any extra (wrong) task would have run by now
    assert subject.ratings.count() - ratings_before <= 2


def test_redis_down_when_the_event_commits_then_back(
    transactional_db, private_redis, celery_worker_factory, wait_for, regulator
):
    worker = celery_worker_factory(broker_url=private_redis.url)
    subject = SubjectFactory()
    seed_history(subject, regulator)
    wait_for(lambda: grade_of(subject.pk) == "B", timeout=30, message="the worker to grade the subject B")

    private_redis.stop()
    started = time.monotonic()
    event = record_credit_event(  # must neither raise nor hang while the broker is down
        actor=regulator,
        subject_id=subject.pk,
        kind="regulatory_penalty",
        source="regulator",
        occurred_at=timezone.now() - timedelta(days=1),
    )
    assert time.monotonic() - started < 5, "recording an event hung on the broker"
    assert event.pk and RecomputeRequest.objects.filter(subject=subject).exists()
    time.sleep(1)
    assert grade_of(subject.pk) == "B"  # nothing could tell the worker yet

    private_redis.start()  # empty: the countdown message never made it
    wait_for(worker.ping, timeout=30, message="the worker to reconnect to Redis")
    flush_recompute_queue_task.apply_async(kwargs={"older_than_seconds": 0})  # the beat tick (every 30 s)
    wait_for(lambda: grade_of(subject.pk) == "D", timeout=30, message="the flushed recompute to grade the subject D")
    assert not RecomputeRequest.objects.filter(subject=subject).exists()
