"""The recompute outbox: a subject whose grade must be recomputed, recorded in the
caller's transaction, processed by a debounced task (or the beat sweep after an outage).

The outbox row (RecomputeRequest) is upserted in the event's transaction; the task locks
it, recomputes and deletes it in one transaction, so an event committed while a
recompute runs leaves a new row (and a new task) behind: no lost update.
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from django.db import transaction
from django.utils import timezone

from core import outbox
from core.errors import NotFound
from credit import hotpath
from credit.errors import SubjectNotFound
from credit.models import Rating, RecomputeRequest
from credit.services.ratings.subject import lock_recompute_subject, recompute_locked_subject

DEBOUNCE_SECONDS = 1.0


def request_recompute(*, subject_id: int) -> None:
    """Record, inside the caller's transaction, that `subject_id` must be recomputed, and
    schedule the debounced task on commit. A burst of events for one subject leaves one
    outbox row and schedules one task. If Redis is down the row stays and the beat task
    `credit.flush_recompute_queue` picks it up."""
    inserted = hotpath.upsert_recompute_request(subject_id=subject_id, requested_at=timezone.now())
    if inserted:
        transaction.on_commit(partial(_enqueue_subject_recompute, subject_id))


def _enqueue_subject_recompute(subject_id: int) -> None:
    from credit.tasks import recompute_subject_task

    outbox.publish(recompute_subject_task, args=[subject_id], countdown=DEBOUNCE_SECONDS)


def process_recompute_request(*, subject_id: int) -> Rating | None:
    """Recompute one subject if its outbox row is still there; delete the row. Safe to
    run twice or concurrently (the row lock makes the second one a no-op). It waits for
    the lock rather than skipping: the holder may be an event's transaction that has
    just upserted the row, and its event must be counted now, not at the next flush.
    The subject is locked before its row (the global lock order): a blacklist decision
    holds the subject when it upserts that row."""
    with transaction.atomic():
        subject = lock_recompute_subject(subject_id)
        pending = list(RecomputeRequest.objects.select_for_update().filter(subject_id=subject_id))
        if not pending:
            return None
        if subject is None:
            raise SubjectNotFound(f"No subject with id {subject_id}.")
        rating = recompute_locked_subject(subject, trigger="event")
        RecomputeRequest.objects.filter(subject_id=subject_id).delete()
        return rating


def flush_recompute_queue(*, older_than_seconds: float = 0, limit: int = 1000) -> int:
    """Process outbox rows left behind (a broker outage, a lost message). Returns how
    many subjects were recomputed."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    subject_ids = list(
        RecomputeRequest.objects.filter(requested_at__lte=cutoff)
        .order_by("requested_at")
        .values_list("subject_id", flat=True)[:limit]
    )
    done = 0
    for subject_id in subject_ids:
        try:
            process_recompute_request(subject_id=subject_id)
            done += 1
        except NotFound:
            RecomputeRequest.objects.filter(subject_id=subject_id).delete()
    return done
