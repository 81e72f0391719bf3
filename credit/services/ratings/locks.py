"""The advisory locks a single-subject recompute and a full-run chunk share.

Subject ids fall in buckets of LOCK_BUCKET ids, each with a transaction advisory lock
(RATING_LOCK, bucket). A single-subject recompute takes its bucket's lock SHARED; a
full-run chunk takes the locks of every bucket its id range touches EXCLUSIVELY, in
increasing order.
"""

from __future__ import annotations

from django.db import connection

RATING_LOCK = 0x43524544  # "CRED": advisory lock class shared by single and chunk recomputes
LOCK_BUCKET = 1_000  # subject ids per advisory lock; chunks are aligned to buckets


def lock_subject_bucket(subject_id: int) -> None:
    """Share the lock of the subject's bucket, for the rest of the transaction."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock_shared(%s, %s)", [RATING_LOCK, int(subject_id) // LOCK_BUCKET])


def lock_id_range(first_id: int, last_id: int) -> None:
    """Take the locks of every bucket in [first_id, last_id] exclusively, in increasing order."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_advisory_xact_lock(%s, bucket::int)) FROM generate_series(%s, %s) AS bucket",
            [RATING_LOCK, first_id // LOCK_BUCKET, last_id // LOCK_BUCKET],
        )


def exclusively_held_buckets(buckets: list[int]) -> set[int]:
    """Which of `buckets` some transaction holds exclusively right now: a full-run chunk
    holds its buckets' locks for its whole transaction, and a worker that dies (killed,
    out of memory) loses its connection, its transaction and the locks with it. Read from
    pg_locks: takes no lock and waits for none."""
    if not buckets:
        return set()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT objid::bigint FROM pg_locks "
            "WHERE locktype = 'advisory' AND granted AND mode = 'ExclusiveLock' AND objsubid = 2 "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND classid::bigint = %s AND objid::bigint = ANY(%s::bigint[])",
            [RATING_LOCK, list(buckets)],
        )
        return {row[0] for row in cursor.fetchall()}
