"""The full recompute of every subject: chunks of subject ids done by set-based SQL
(scorer_sql), fanned out to the workers, with progress, a lock so only one run runs at a
time (the partial unique constraint recomputerun_one_running), and resumption of a run
that stalled.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import partial

from django.db import IntegrityError, transaction
from django.db.models import Count, F
from django.utils import timezone

from core import outbox
from core.audit import record_audit
from core.errors import Conflict, InvalidInput
from core.models import AuditEntry
from credit import hotpath
from credit.models import RecomputeChunk, RecomputeRun, Subject
from credit.selectors import ratings as rating_selectors
from credit.services.ratings.locks import LOCK_BUCKET, exclusively_held_buckets, lock_id_range
from credit.services.ratings.scorer_sql import recompute_range_sql

logger = logging.getLogger(__name__)

DEFAULT_CHUNK_SIZE = 50_000
# A run is stalled when, for this long, no chunk was done, none is being done (held by a
# live worker) and nothing was re-dispatched. The beat sweep runs every 30 s, so a chunk
# lost with a killed worker is sent again within 45 s of the last sign of life.
STALLED_CHUNK_AFTER = timedelta(seconds=15)
# Automatic re-dispatches without progress before a run is failed. Each waits twice as
# long as the one before (15 s, 30 s, ... 4 min): a run whose chunk kills its worker every
# time fails after about 16 minutes, and a run with no worker at all is not re-sent to
# the broker every 15 s meanwhile.
MAX_STALLED_RESUMES = 5


def start_full_recompute(*, actor=None, chunk_size: int = DEFAULT_CHUNK_SIZE, dispatch: bool = True) -> RecomputeRun:
    """Start a full recompute of every subject in chunks of `chunk_size` subject ids and
    fan the chunks out to the workers on commit. Raises Conflict while another run is
    running (only one at a time, enforced by a partial unique constraint)."""
    if chunk_size < 1:
        raise InvalidInput("chunk_size must be positive.", field_errors={"chunk_size": ["Must be >= 1."]})
    now = timezone.now()
    try:
        with transaction.atomic():
            model = rating_selectors.active_scoring_model()
            run = RecomputeRun.objects.create(
                status=RecomputeRun.Status.RUNNING,
                model=model,
                started_at=now,
                started_by=actor if getattr(actor, "is_authenticated", False) else None,
            )
            bounds = _chunk_bounds(chunk_size)
            RecomputeChunk.objects.bulk_create(
                [RecomputeChunk(run=run, first_subject_id=lo, last_subject_id=hi) for lo, hi, _ in bounds],
                batch_size=2000,
            )
            run.total_chunks = len(bounds)
            run.total_subjects = sum(count for *_, count in bounds)
            if not bounds:
                run.status, run.finished_at = RecomputeRun.Status.COMPLETED, now
            run.save(update_fields=["total_chunks", "total_subjects", "status", "finished_at"])
            record_audit(
                actor=actor,
                action="recompute_run.started",
                target=run,
                new={"model_version": model.version, "chunks": run.total_chunks, "subjects": run.total_subjects},
            )
            if dispatch:
                transaction.on_commit(partial(dispatch_chunks, run_id=run.pk))
    except IntegrityError:
        running = rating_selectors.running_recompute_run()
        raise Conflict(
            f"A full recompute is already running (run {running.pk if running else '?'}).",
            code="recompute_already_running",
        ) from None
    return run


def _chunk_bounds(chunk_size: int) -> list[tuple[int, int, int]]:
    """Contiguous ranges [first, last] of subject ids holding about `chunk_size` subjects
    each, aligned to LOCK_BUCKET so two chunks never share an advisory lock."""
    buckets = list(
        Subject.objects.annotate(bucket=F("id") / LOCK_BUCKET)
        .values("bucket")
        .annotate(subjects=Count("id"))
        .order_by("bucket")
        .values_list("bucket", "subjects")
    )
    bounds, start, count = [], None, 0
    for bucket, subjects in buckets:
        start = bucket if start is None else start
        count += subjects
        if count >= chunk_size:
            bounds.append((start * LOCK_BUCKET, (bucket + 1) * LOCK_BUCKET - 1, count))
            start, count = None, 0
    if start is not None:
        bounds.append((start * LOCK_BUCKET, (buckets[-1][0] + 1) * LOCK_BUCKET - 1, count))
    return bounds


def dispatch_chunks(*, run_id: int, only_stalled: bool = False) -> int:
    """Send one task per undone chunk. Duplicates are harmless (chunks are idempotent)."""
    from credit.tasks import recompute_chunk_task

    chunk_ids = list(
        RecomputeChunk.objects.filter(run_id=run_id, done_at__isnull=True).order_by("id").values_list("id", flat=True)
    )
    sent = 0
    for chunk_id in chunk_ids:
        if not outbox.publish(recompute_chunk_task, args=[chunk_id]):
            break
        sent += 1
    return sent


def resume_stalled_runs(*, stalled_after: timedelta = STALLED_CHUNK_AFTER) -> int:
    """After a crash (worker killed, broker flushed), re-dispatch the undone chunks of a
    running run that has made no progress for `stalled_after` while no worker holds any
    of its chunks. Returns chunks sent.

    A chunk in progress holds its buckets' advisory locks for its whole transaction; the
    transaction (and the locks) end with the worker's connection when the worker dies.
    So a long chunk on a live worker is never mistaken for a stall, and a chunk lost with
    a killed worker (its message stays unacknowledged in the broker for the visibility
    timeout) is sent again as soon as the others are done and the window has passed.

    Each re-dispatch is audited (`recompute_run.resumed`) and counts as a sign of life; the
    k-th one in a row without progress waits stalled_after x 2^k. A run that made no
    progress after MAX_STALLED_RESUMES automatic re-dispatches (a chunk that kills its
    worker every time: hard time limit, OOM) is marked failed, which releases the one-run
    lock instead of keeping it forever. `stalled_after=0` (`recompute_grades --resume`)
    re-dispatches at once, held chunks or not."""
    run = rating_selectors.running_recompute_run()
    if run is None:
        return 0
    last_done = (
        RecomputeChunk.objects.filter(run=run, done_at__isnull=False)
        .order_by("-done_at")
        .values_list("done_at", flat=True)
    ).first()
    last_chunk_progress = max(filter(None, [run.started_at, last_done]))
    resumes = AuditEntry.objects.filter(
        action="recompute_run.resumed",
        target_type=RecomputeRun._meta.label_lower,
        target_id=str(run.pk),
        at__gt=last_chunk_progress,
    )
    last_resume = resumes.order_by("-at").values_list("at", flat=True).first()
    last_sign_of_life = max(filter(None, [last_chunk_progress, last_resume]))
    resumed = resumes.count()
    if timezone.now() - last_sign_of_life < stalled_after * 2**resumed:
        return 0
    if stalled_after > timedelta(0) and _chunk_in_progress(run):
        return 0
    if stalled_after > timedelta(0) and resumed >= MAX_STALLED_RESUMES:
        fail_recompute_run(
            run_id=run.pk,
            error=f"No progress since {last_chunk_progress.isoformat()} after {MAX_STALLED_RESUMES} re-dispatches.",
        )
        return 0
    logger.warning("Recompute run %s made no progress since %s; re-dispatching its chunks", run.pk, last_chunk_progress)
    with transaction.atomic():
        record_audit(
            actor=None,
            action="recompute_run.resumed",
            target=run,
            old={"done_chunks": run.done_chunks},
            new={"undone_chunks": run.total_chunks - run.done_chunks},
            reason=f"No progress since {last_chunk_progress.isoformat()}.",
        )
    return dispatch_chunks(run_id=run.pk)


def _chunk_in_progress(run: RecomputeRun) -> bool:
    """Whether a live worker is doing one of the run's undone chunks right now (it holds
    the lock of the chunk's first bucket; chunks never share a bucket)."""
    firsts = RecomputeChunk.objects.filter(run=run, done_at__isnull=True).values_list("first_subject_id", flat=True)
    return bool(exclusively_held_buckets([first // LOCK_BUCKET for first in firsts]))


def process_recompute_chunk(*, chunk_id: int, at: datetime | None = None) -> bool:
    """Recompute the subjects of one chunk and record the progress, in one transaction.
    Idempotent: a done chunk, a chunk another worker holds, or a finished run is skipped.
    Returns True when this call did the chunk."""
    at = at or timezone.now()
    with transaction.atomic():
        chunk = (
            RecomputeChunk.objects.select_related("run", "run__model")
            .filter(pk=chunk_id)
            .select_for_update(skip_locked=True, of=("self",))
            .first()
        )
        if chunk is None or chunk.done_at is not None or chunk.run.status != RecomputeRun.Status.RUNNING:
            return False
        run = chunk.run
        # Small per-chunk plans: JIT compilation would cost more than it saves.
        hotpath.set_chunk_planner_settings()
        lock_id_range(chunk.first_subject_id, chunk.last_subject_id)
        counts = recompute_range_sql(
            model=run.model, first_id=chunk.first_subject_id, last_id=chunk.last_subject_id, at=at
        )
        chunk.done_at = timezone.now()
        chunk.subjects = counts["subjects"]
        chunk.save(update_fields=["done_at", "subjects"])
        RecomputeRun.objects.filter(pk=run.pk).update(
            done_chunks=F("done_chunks") + 1, done_subjects=F("done_subjects") + counts["subjects"]
        )
        finished = RecomputeRun.objects.filter(
            pk=run.pk, status=RecomputeRun.Status.RUNNING, done_chunks=F("total_chunks")
        ).update(status=RecomputeRun.Status.COMPLETED, finished_at=timezone.now())
        if finished:
            run.refresh_from_db()
            record_audit(
                actor=None,
                action="recompute_run.completed",
                target=run,
                new={"subjects": run.done_subjects, "chunks": run.done_chunks},
            )
        return True


def fail_recompute_run(*, run_id: int, error: str) -> None:
    """Mark a run failed (a chunk kept failing), releasing the one-run lock."""
    with transaction.atomic():
        updated = RecomputeRun.objects.filter(pk=run_id, status=RecomputeRun.Status.RUNNING).update(
            status=RecomputeRun.Status.FAILED, finished_at=timezone.now(), error=error[:4000]
        )
        if updated:
            run = RecomputeRun.objects.get(pk=run_id)
            record_audit(actor=None, action="recompute_run.failed", target=run, new={"error": error[:500]})


def run_full_recompute_inline(*, actor=None, chunk_size: int = DEFAULT_CHUNK_SIZE, progress=None) -> RecomputeRun:
    """Start a run and do every chunk in this process, with the same set-based SQL as the
    workers (the demo seed, benchmarks, a machine without a worker). If a run is already
    running (e.g. its process or worker died), join it and do its undone chunks here
    instead: a crashed run is resumable without a broker. `progress(run)` is called after
    each chunk."""
    try:
        run = start_full_recompute(actor=actor, chunk_size=chunk_size, dispatch=False)
    except Conflict:
        run = rating_selectors.running_recompute_run()
        if run is None:  # it finished in the meantime: start afresh
            run = start_full_recompute(actor=actor, chunk_size=chunk_size, dispatch=False)
        else:
            logger.info("Joining running recompute run %s inline", run.pk)
    undone = RecomputeChunk.objects.filter(run=run, done_at__isnull=True).order_by("id")
    for chunk_id in undone.values_list("id", flat=True):
        process_recompute_chunk(chunk_id=chunk_id)
        if progress is not None:
            run.refresh_from_db()
            progress(run)
    run.refresh_from_db()
    return run
