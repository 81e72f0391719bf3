"""Celery tasks of the credit app (and platform housekeeping). Tasks are thin: ids in,
a service or selector does the work, safe to run twice."""

from celery import shared_task
from django.contrib.sessions.backends.db import SessionStore

from core.tasks import retried_task


@shared_task(name="platform.clear_expired_sessions", ignore_result=True, acks_late=True)
def clear_expired_sessions_task() -> None:
    """Delete expired web sessions (they live in the database). Idempotent."""
    SessionStore.clear_expired()


@shared_task(name="credit.expire_blacklist_entries", ignore_result=True, acks_late=True)
def expire_blacklist_entries_task() -> int:
    """Hourly (beat): end every active blacklist entry whose publication period is over
    (publication_ends_on is exclusive). Idempotent: an entry already ended is skipped."""
    from credit.services.blacklist import expire_blacklist_entries

    return expire_blacklist_entries()


# --- Scoring: the recompute outbox and the full recompute (H2) -------------------------


@retried_task(name="credit.recompute_subject", backoff=2, backoff_max=60, soft_time_limit=60, time_limit=90)
def recompute_subject_task(subject_id: int) -> None:
    """Debounced recompute of one subject after its events committed. Idempotent: it does
    nothing once the subject's outbox row is gone."""
    from credit.services.ratings import process_recompute_request

    process_recompute_request(subject_id=subject_id)


@shared_task(
    name="credit.flush_recompute_queue",
    ignore_result=True,
    acks_late=True,
    soft_time_limit=25,
    time_limit=60,
)
def flush_recompute_queue_task(older_than_seconds: float = 5.0) -> int:
    """Every 30 s (beat): recompute subjects whose outbox rows were left behind (Redis was
    down when their event committed, or a message was lost), and re-dispatch the chunks
    of a stalled full run."""
    from credit.services.ratings import flush_recompute_queue, resume_stalled_runs

    done = flush_recompute_queue(older_than_seconds=older_than_seconds)
    resume_stalled_runs()
    return done


@shared_task(name="credit.start_full_recompute", ignore_result=True, soft_time_limit=300, time_limit=360)
def start_full_recompute_task() -> int | None:
    """Nightly (beat): start a full recompute, or resume the running one."""
    from core import errors
    from credit.services.ratings import resume_stalled_runs, start_full_recompute

    try:
        return start_full_recompute().pk
    except errors.Conflict:
        resume_stalled_runs()
        return None


@shared_task(
    name="credit.recompute_chunk",
    bind=True,
    ignore_result=True,
    acks_late=True,
    max_retries=3,
    soft_time_limit=600,
    time_limit=660,
)
def recompute_chunk_task(self, chunk_id: int) -> None:
    """Recompute one chunk of a full run (set-based SQL). Idempotent: a done chunk is
    skipped, so re-dispatching after a crash is safe. After the last retry the run is
    marked failed, which releases the one-run lock."""
    from credit.models import RecomputeChunk
    from credit.services.ratings import fail_recompute_run, process_recompute_chunk

    try:
        process_recompute_chunk(chunk_id=chunk_id)
    except Exception as exc:
        if self.request.retries >= self.max_retries:
            run_id = RecomputeChunk.objects.filter(pk=chunk_id).values_list("run_id", flat=True).first()
            if run_id is not None:
                fail_recompute_run(run_id=run_id, error=f"chunk {chunk_id}: {type(exc).__name__}: {exc}")
            raise
        raise self.retry(exc=exc, countdown=min(60, 5 * 2**self.request.retries)) from exc
