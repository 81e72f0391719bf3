"""Writes of ratings:

- `outbox`: the recompute requests (RecomputeRequest) and their debounced processing;
- `subject`: one subject's recompute with the pure scorer;
- `full_run`: the chunked full recompute (locks, progress, resumption);
- `scorer_sql`: the scorer as set-based SQL, which the full run's chunks execute;
- `publishing`: publishing a scoring model version.

Locking protocol:
- Subject ids fall in buckets of LOCK_BUCKET ids, each with a transaction advisory lock
  (RATING_LOCK, bucket). A single-subject recompute takes its bucket's lock SHARED, then
  the subject's row lock; a full-run chunk takes the locks of every bucket its id range
  touches EXCLUSIVELY, in increasing order. So a chunk never overwrites a newer single
  recompute with a stale snapshot, a single recompute waits at most one chunk's
  transaction, and chunks over different ranges run in parallel on several workers.
- The outbox row (RecomputeRequest) is upserted in the event's transaction; the task locks
  it, recomputes and deletes it in one transaction, so an event committed while a
  recompute runs leaves a new row (and a new task) behind: no lost update.
- Only one full run at a time: the partial unique constraint recomputerun_one_running.
"""

from credit.services.ratings.full_run import (
    DEFAULT_CHUNK_SIZE,
    MAX_STALLED_RESUMES,
    STALLED_CHUNK_AFTER,
    dispatch_chunks,
    fail_recompute_run,
    process_recompute_chunk,
    resume_stalled_runs,
    run_full_recompute_inline,
    start_full_recompute,
)
from credit.services.ratings.locks import LOCK_BUCKET, RATING_LOCK
from credit.services.ratings.outbox import (
    DEBOUNCE_SECONDS,
    flush_recompute_queue,
    process_recompute_request,
    request_recompute,
)
from credit.services.ratings.publishing import ensure_scoring_catalogue, publish_scoring_model
from credit.services.ratings.scorer_sql import recompute_range_sql
from credit.services.ratings.subject import recompute_subject

__all__ = [
    "DEBOUNCE_SECONDS",
    "DEFAULT_CHUNK_SIZE",
    "LOCK_BUCKET",
    "MAX_STALLED_RESUMES",
    "RATING_LOCK",
    "STALLED_CHUNK_AFTER",
    "dispatch_chunks",
    "ensure_scoring_catalogue",
    "fail_recompute_run",
    "flush_recompute_queue",
    "process_recompute_chunk",
    "process_recompute_request",
    "publish_scoring_model",
    "recompute_range_sql",
    "recompute_subject",
    "request_recompute",
    "resume_stalled_runs",
    "run_full_recompute_inline",
    "start_full_recompute",
]
