"""The advisory locks a single-subject recompute and a full-run chunk share.

Subject ids fall in buckets of LOCK_BUCKET ids, each with a transaction advisory lock
(RATING_LOCK, bucket). A single-subject recompute takes its bucket's lock SHARED; a
full-run chunk takes the locks of every bucket its id range touches EXCLUSIVELY, in
increasing order.
"""

from __future__ import annotations

from credit import hotpath

RATING_LOCK = 0x43524544  # "CRED": advisory lock class shared by single and chunk recomputes
LOCK_BUCKET = 1_000  # subject ids per advisory lock; chunks are aligned to buckets


def lock_subject_bucket(subject_id: int) -> None:
    """Share the lock of the subject's bucket, for the rest of the transaction."""
    hotpath.lock_shared(RATING_LOCK, int(subject_id) // LOCK_BUCKET)


def lock_id_range(first_id: int, last_id: int) -> None:
    """Take the locks of every bucket in [first_id, last_id] exclusively, in increasing order."""
    hotpath.lock_range(RATING_LOCK, first_id // LOCK_BUCKET, last_id // LOCK_BUCKET)


def exclusively_held_buckets(buckets: list[int]) -> set[int]:
    """Which of `buckets` some transaction holds exclusively right now: a full-run chunk
    holds its buckets' locks for its whole transaction, and a worker that dies (killed,
    out of memory) loses its connection, its transaction and the locks with it. Read from
    pg_locks: takes no lock and waits for none."""
    return hotpath.exclusively_held(RATING_LOCK, list(buckets))
