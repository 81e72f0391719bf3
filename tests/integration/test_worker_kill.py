"""A worker killed in the middle of a full recompute's chunk: with another worker idle, the
run completes within a minute (the sweep re-sends the lost chunk once no worker holds it),
not after the broker's visibility timeout or a ten-minute stall limit."""

import os
import signal
import time

import pytest
from django.db import connection, connections

from credit.models import RecomputeChunk, RecomputeRun, Subject
from credit.services import ratings as rating_services
from credit.services.ratings.locks import RATING_LOCK
from credit.tasks import flush_recompute_queue_task
from tests.factories import SubjectFactory

pytestmark = pytest.mark.integration


def _blocked_worker() -> str | None:
    """application_name of the worker connection waiting for an advisory lock, if any."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT application_name FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND wait_event = 'advisory' AND application_name LIKE 'kill-test-%%'"
        )
        row = cursor.fetchone()
    return row[0] if row else None


def test_a_worker_killed_mid_chunk_is_recovered_within_a_minute(
    transactional_db, celery_worker_factory, monkeypatch, wait_for
):
    for index in range(3):  # one chunk each
        SubjectFactory(id=(index + 1) * rating_services.LOCK_BUCKET)
    first_bucket = Subject.objects.order_by("id").values_list("id", flat=True)[0] // rating_services.LOCK_BUCKET
    workers = {}
    for name in ("kill-test-a", "kill-test-b"):
        monkeypatch.setenv("PGAPPNAME", name)  # the worker's database sessions carry its name
        workers[name] = celery_worker_factory()
    monkeypatch.delenv("PGAPPNAME")

    # Hold the first chunk's lock, so whichever worker takes that chunk is caught inside it.
    holder = connections.create_connection("default")
    holder.set_autocommit(False)
    with holder.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [RATING_LOCK, first_bucket])
    try:
        run = rating_services.start_full_recompute(chunk_size=1)  # dispatched to the workers on commit
        first = RecomputeChunk.objects.filter(run=run).order_by("first_subject_id").first()
        assert first.first_subject_id // rating_services.LOCK_BUCKET == first_bucket
        victim = wait_for(_blocked_worker, timeout=30, message="a worker to start the held chunk")
        wait_for(
            lambda: RecomputeChunk.objects.filter(run=run, done_at__isnull=False).count() == run.total_chunks - 1,
            timeout=30,
            message="the other worker to do the other chunks",
        )
        os.killpg(workers[victim].process.pid, signal.SIGKILL)
        killed_at = time.monotonic()
    finally:
        holder.rollback()
        holder.close()

    def completed():
        flush_recompute_queue_task.delay()  # what beat sends every 30 s
        return RecomputeRun.objects.filter(pk=run.pk, status=RecomputeRun.Status.COMPLETED).exists()

    wait_for(completed, timeout=60, interval=2, message="the run to complete after the kill")
    recovery = time.monotonic() - killed_at
    print(f"run completed {recovery:.1f} s after its worker was killed")
    assert recovery < 60
    assert RecomputeChunk.objects.get(pk=first.pk).done_at is not None
