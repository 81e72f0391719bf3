"""Writes of ratings: the recompute outbox, one subject's recompute, the chunked full
recompute (set-based SQL), and publishing a scoring model version.

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

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from core.audit import record_audit
from credit import errors, outbox, scoring
from credit.models import (
    AuditEntry,
    DomainEvent,
    EventKind,
    Rating,
    RecomputeChunk,
    RecomputeRequest,
    RecomputeRun,
    ScoringModel,
    Subject,
)
from credit.selectors import ratings as rating_selectors

logger = logging.getLogger(__name__)

RATING_LOCK = 0x43524544  # "CRED": advisory lock class shared by single and chunk recomputes
LOCK_BUCKET = 1_000  # subject ids per advisory lock; chunks are aligned to buckets
DEBOUNCE_SECONDS = 1.0
DEFAULT_CHUNK_SIZE = 50_000
STALLED_CHUNK_AFTER = timedelta(minutes=10)
MAX_STALLED_RESUMES = 3  # automatic re-dispatches without progress before a run is failed


# --- The outbox -------------------------------------------------------------------------


def request_recompute(*, subject_id: int) -> None:
    """Record, inside the caller's transaction, that `subject_id` must be recomputed, and
    schedule the debounced task on commit. A burst of events for one subject leaves one
    outbox row and schedules one task. If Redis is down the row stays and the beat task
    `credit.flush_recompute_queue` picks it up."""
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO credit_recomputerequest (subject_id, requested_at) VALUES (%s, %s)
            ON CONFLICT (subject_id) DO UPDATE SET requested_at = EXCLUDED.requested_at
            RETURNING (xmax = 0)
            """,
            [subject_id, now],
        )
        inserted = cursor.fetchone()[0]
    if inserted:
        transaction.on_commit(partial(_enqueue_subject_recompute, subject_id))


def _enqueue_subject_recompute(subject_id: int) -> None:
    from credit.tasks import recompute_subject_task

    outbox.publish(recompute_subject_task, args=[subject_id], countdown=DEBOUNCE_SECONDS)


def process_recompute_request(*, subject_id: int) -> Rating | None:
    """Recompute one subject if its outbox row is still there; delete the row. Safe to
    run twice or concurrently (the row lock makes the second one a no-op). It waits for
    the lock rather than skipping: the holder may be an event's transaction that has
    just upserted the row, and its event must be counted now, not at the next flush."""
    with transaction.atomic():
        pending = list(RecomputeRequest.objects.select_for_update().filter(subject_id=subject_id))
        if not pending:
            return None
        rating = recompute_subject(subject_id=subject_id, trigger="event")
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
        except errors.NotFound:
            RecomputeRequest.objects.filter(subject_id=subject_id).delete()
    return done


# --- One subject ------------------------------------------------------------------------


def _needs_rating(last: Rating | None, result: scoring.ScoreResult, model: ScoringModel, old_grade: str) -> bool:
    if last is None:
        return True
    return (
        last.grade != result.grade
        or old_grade != result.grade
        or last.model_id != model.pk
        or last.event_count != result.event_count
        or last.blacklist_override != result.blacklist_override
        or abs(last.score - result.score) >= scoring.to_cents(scoring.min_score_change(model.parameters))
    )


def recompute_subject(
    *, subject_id: int, trigger: str = "event", at: datetime | None = None, actor=None
) -> Rating | None:
    """Recompute one subject's score with the pure scorer. Writes a Rating only when the
    grade, model version, counted events or blacklist override changed, or the score moved
    by at least the model's `history.min_score_change` (so nightly decay does not write a
    row per subject per night); the Subject snapshot mirrors the latest Rating. A grade
    change is recorded as a DomainEvent and an audit entry. Returns the new Rating, or
    None when nothing material changed."""
    at = at or timezone.now()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock_shared(%s, %s)", [RATING_LOCK, int(subject_id) // LOCK_BUCKET])
        try:
            # NO KEY UPDATE: does not conflict with the KEY SHARE lock an event insert takes
            # on its subject (foreign key), so a recompute and a new event never deadlock.
            subject = Subject.objects.select_for_update(no_key=True).get(pk=subject_id)
        except Subject.DoesNotExist:
            raise errors.SubjectNotFound(f"No subject with id {subject_id}.") from None
        model = rating_selectors.active_scoring_model()
        result = scoring.compute_score(
            parameters=model.parameters,
            kinds=rating_selectors.kind_table(parameters=model.parameters),
            events=rating_selectors.counted_events(subject_id=subject_id),
            at=at,
            blacklisted=rating_selectors.is_blacklisted_now(subject=subject),
        )
        last = rating_selectors.latest_rating(subject_id=subject_id)
        old_grade, old_score = subject.grade, subject.score
        rating = None
        if _needs_rating(last, result, model, old_grade):
            rating = Rating.objects.create(
                subject=subject,
                model=model,
                score=result.score,
                grade=result.grade,
                components=result.components,
                reasons=result.reasons,
                event_count=result.event_count,
                blacklist_override=result.blacklist_override,
                computed_at=at,
                trigger=trigger,
            )
        if rating is not None:
            Subject.objects.filter(pk=subject_id).update(
                score=result.score, grade=result.grade, rated_at=at, updated_at=at
            )
        if old_grade != result.grade:
            payload = {
                "old_grade": old_grade,
                "new_grade": result.grade,
                "old_score": None if old_score is None else float(old_score),
                "new_score": float(result.score),
                "rating_id": rating.pk,
                "model_version": model.version,
            }
            DomainEvent.objects.create(
                type=DomainEvent.Type.GRADE_CHANGED, subject_id=subject_id, payload=payload, occurred_at=at
            )
            record_audit(
                actor=actor,
                action="rating.grade_changed",
                target=rating,
                subject_id=subject_id,
                old={"grade": old_grade, "score": payload["old_score"]},
                new={"grade": result.grade, "score": payload["new_score"], "model_version": model.version},
                reason=f"Recomputed ({trigger}); reasons: "
                + ", ".join(reason["code"] for reason in result.reasons)[:500],
            )
        return rating


# --- The full recompute -----------------------------------------------------------------


def start_full_recompute(*, actor=None, chunk_size: int = DEFAULT_CHUNK_SIZE, dispatch: bool = True) -> RecomputeRun:
    """Start a full recompute of every subject in chunks of `chunk_size` subject ids and
    fan the chunks out to the workers on commit. Raises Conflict while another run is
    running (only one at a time, enforced by a partial unique constraint)."""
    if chunk_size < 1:
        raise errors.InvalidInput("chunk_size must be positive.", field_errors={"chunk_size": ["Must be >= 1."]})
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
        raise errors.Conflict(
            f"A full recompute is already running (run {running.pk if running else '?'}).",
            code="recompute_already_running",
        ) from None
    return run


def _chunk_bounds(chunk_size: int) -> list[tuple[int, int, int]]:
    """Contiguous ranges [first, last] of subject ids holding about `chunk_size` subjects
    each, aligned to LOCK_BUCKET so two chunks never share an advisory lock."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id / %s AS bucket, count(*) FROM credit_subject GROUP BY 1 ORDER BY 1",
            [LOCK_BUCKET],
        )
        buckets = cursor.fetchall()
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
    running run that has made no progress for `stalled_after`. Returns chunks sent.

    Each re-dispatch is audited (`recompute_run.resumed`) and counts as a sign of life, so
    the every-30-s sweep re-sends a stalled run's chunks once per `stalled_after`, not on
    every sweep. A run that made no progress after MAX_STALLED_RESUMES automatic
    re-dispatches (a chunk that kills its worker every time: hard time limit, OOM) is
    marked failed, which releases the one-run lock instead of keeping it forever."""
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
    if timezone.now() - last_sign_of_life < stalled_after:
        return 0
    if stalled_after > timedelta(0) and resumes.count() >= MAX_STALLED_RESUMES:
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
        with connection.cursor() as cursor:
            # Small per-chunk plans: JIT compilation would cost more than it saves.
            cursor.execute("SET LOCAL work_mem = '64MB'")
            cursor.execute("SET LOCAL jit = off")
            cursor.execute(
                "SELECT count(pg_advisory_xact_lock(%s, bucket::int)) FROM generate_series(%s, %s) AS bucket",
                [RATING_LOCK, chunk.first_subject_id // LOCK_BUCKET, chunk.last_subject_id // LOCK_BUCKET],
            )
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
    except errors.Conflict:
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


def _zero_components_json() -> str:
    import json

    return json.dumps({name: {"points": 0.0, "events": 0} for name in scoring.COMPONENTS})


def recompute_range_sql(*, model: ScoringModel, first_id: int, last_id: int, at: datetime) -> dict:
    """The same arithmetic as credit.scoring.compute_score, as one set-based PostgreSQL
    statement over the subjects with ids in [first_id, last_id]: it aggregates their
    counted events per kind, scores and grades them, writes a Rating where something
    material changed, refreshes the Subject snapshots and records grade changes."""
    params = model.parameters
    kinds = scoring.kind_table(params, EventKind.objects.all())
    if not kinds:
        raise errors.Conflict("The event kind catalogue is empty.", code="no_event_kinds")
    values_sql = _named_values(len(kinds))
    values_args = []
    for spec in kinds.values():
        component = params["components"][spec.component]
        values_args += [
            spec.code,
            spec.component,
            spec.impact,
            spec.max_magnitude,
            float(component["half_life_days"]),
            float(component["weight"]),
        ]
    component_json = ", ".join(
        f"'{name}', jsonb_build_object("
        f"'points', round(coalesce(sum(c.points) FILTER (WHERE c.component = '{name}'), 0)::numeric, 2), "
        f"'events', coalesce(sum(c.n) FILTER (WHERE c.component = '{name}'), 0))"
        for name in scoring.COMPONENTS
    )
    decayed_sql = (
        "(CASE WHEN e.magnitude = 1 THEN LEAST(1.0::float8, p.cap) ELSE LEAST(e.magnitude::float8, p.cap) END"
        " * power(0.5::float8, GREATEST(date_part('epoch', %(at)s::timestamptz - e.occurred_at), 0)"
        " / 86400.0 / p.half_life))"
    )
    grades = {rung["grade"]: float(rung["min_score"]) for rung in params["grades"]}
    new_rule = params["new_subject"]
    override = params["blacklist_override"]
    sql = f"""
    WITH params(kind, component, impact, cap, half_life, weight) AS (VALUES {values_sql}),
    reversed AS MATERIALIZED (
        -- A reversal is recorded for the same subject as the event it reverses. Few.
        SELECT r.reverses_id AS id, r.subject_id FROM credit_creditevent r
        WHERE r.reverses_id IS NOT NULL AND r.subject_id BETWEEN %(lo)s AND %(hi)s
    ),
    per_subject AS (
        -- One streaming pass over the chunk's events in index order: the score inputs only.
        -- No per-event anti-join with `reversed` here: the few subjects with a reversal are
        -- aggregated again, without their reversed events, in per_reversed_subject.
        SELECT e.subject_id, count(*) AS n, min(e.occurred_at) AS first_at,
               sum(p.weight * p.impact * {decayed_sql}) AS raw
        FROM credit_creditevent e
        JOIN params p ON p.kind = e.kind_id
        WHERE e.subject_id BETWEEN %(lo)s AND %(hi)s
          AND e.reverses_id IS NULL
          AND e.occurred_at <= %(at)s::timestamptz
        GROUP BY e.subject_id
    ),
    per_reversed_subject AS (
        SELECT rs.subject_id, count(e.id) AS n, min(e.occurred_at) AS first_at,
               sum(p.weight * p.impact * {decayed_sql}) AS raw
        FROM (SELECT DISTINCT x.subject_id FROM reversed x) rs
        LEFT JOIN (
            credit_creditevent e JOIN params p ON p.kind = e.kind_id
        ) ON e.subject_id = rs.subject_id
             AND e.reverses_id IS NULL
             AND e.occurred_at <= %(at)s::timestamptz
             AND NOT EXISTS (SELECT 1 FROM reversed x WHERE x.id = e.id)
        GROUP BY rs.subject_id
    ),
    subjects AS (
        SELECT s.id, s.score AS old_score, s.grade AS old_grade,
               (s.is_blacklisted OR bl.subject_id IS NOT NULL) AS blacklisted,
               (CASE WHEN pr.subject_id IS NULL THEN coalesce(ps.raw, 0) ELSE coalesce(pr.raw, 0) END) AS raw,
               (CASE WHEN pr.subject_id IS NULL THEN coalesce(ps.n, 0) ELSE pr.n END)::int AS n,
               (CASE WHEN pr.subject_id IS NULL THEN ps.first_at ELSE pr.first_at END) AS first_at
        FROM credit_subject s
        LEFT JOIN per_subject ps ON ps.subject_id = s.id
        LEFT JOIN per_reversed_subject pr ON pr.subject_id = s.id
        LEFT JOIN (
            SELECT DISTINCT b.subject_id FROM credit_blacklistentry b
            WHERE b.status = 'active' AND b.subject_id BETWEEN %(lo)s AND %(hi)s
        ) bl ON bl.subject_id = s.id
        WHERE s.id BETWEEN %(lo)s AND %(hi)s
    ),
    scored AS MATERIALIZED (
        -- Materialised: the rounded score is referenced by several grade tests below.
        SELECT x.*,
               round((CASE WHEN x.blacklisted THEN LEAST(x.clamped, %(bl_max)s::float8) ELSE x.clamped END)::numeric, 2)
                   AS score,
               (x.n < %(min_events)s OR x.first_at IS NULL
                OR x.first_at > %(at)s::timestamptz - make_interval(days => %(min_days)s)) AS thin
        FROM (
            SELECT s.*, LEAST(GREATEST(%(base)s::float8 + s.raw, %(smin)s::float8), %(smax)s::float8) AS clamped
            FROM subjects s
        ) x
    ),
    graded AS MATERIALIZED (
        -- Materialised so each score and grade expression is evaluated once per subject.
        SELECT s.*,
               CASE WHEN s.blacklisted THEN %(bl_grade)s
                    WHEN s.thin THEN %(m_grade)s
                    WHEN s.score >= %(ga)s THEN 'A' WHEN s.score >= %(gb)s THEN 'B'
                    WHEN s.score >= %(gc)s THEN 'C' ELSE 'D' END AS grade
        FROM scored s
    ),
    last_rating AS (
        SELECT DISTINCT ON (r.subject_id) r.subject_id, r.score, r.grade, r.model_id, r.event_count,
               r.blacklist_override
        FROM credit_rating r
        WHERE r.subject_id BETWEEN %(lo)s AND %(hi)s
        ORDER BY r.subject_id, r.computed_at DESC, r.id DESC
    ),
    final AS MATERIALIZED (
        SELECT g.*
        FROM graded g LEFT JOIN last_rating lr ON lr.subject_id = g.id
        WHERE lr.score IS NULL OR lr.grade <> g.grade OR g.old_grade <> g.grade OR lr.model_id <> %(model_id)s
              OR lr.event_count <> g.n OR lr.blacklist_override <> g.blacklisted
              OR abs(lr.score - g.score) >= %(min_change)s
    ),
    details AS (
        SELECT c.subject_id,
               jsonb_build_object({component_json}) AS components,
               coalesce(jsonb_agg(
                   jsonb_build_object('code', c.kind, 'component', c.component, 'points', c.rounded, 'events', c.n)
                   ORDER BY sign(c.rounded), abs(c.rounded) DESC, c.kind
               ) FILTER (WHERE c.rank <= {scoring.REASONS_PER_SIGN} AND c.rounded <> 0), '[]'::jsonb) AS factors
        FROM (
            SELECT r.*, row_number() OVER (
                PARTITION BY r.subject_id, sign(r.rounded) ORDER BY abs(r.rounded) DESC, r.kind
            ) AS rank
            FROM (
                -- Per-kind detail only for the subjects that get a new rating.
                SELECT f.id AS subject_id, k.kind, k.component, k.n, k.points,
                       round(k.points::numeric, 2) AS rounded
                FROM final f
                CROSS JOIN LATERAL (
                    SELECT e.kind_id AS kind, p.component, count(*) AS n,
                           p.weight * p.impact * sum({decayed_sql}) AS points
                    FROM credit_creditevent e
                    JOIN params p ON p.kind = e.kind_id
                    WHERE e.subject_id = f.id
                      AND e.reverses_id IS NULL
                      AND e.occurred_at <= %(at)s::timestamptz
                      AND NOT EXISTS (SELECT 1 FROM reversed x WHERE x.id = e.id)
                    GROUP BY e.kind_id, p.component, p.weight, p.impact
                ) k
            ) r
        ) c
        GROUP BY c.subject_id
    ),
    ins AS (
        INSERT INTO credit_rating (subject_id, model_id, score, grade, components, reasons, event_count,
                                   blacklist_override, computed_at, trigger)
        SELECT f.id, %(model_id)s, f.score, f.grade, coalesce(d.components, %(zero)s::jsonb),
               (CASE WHEN f.blacklisted
                     THEN jsonb_build_array(jsonb_build_object(
                         'code', 'blacklisted', 'component', NULL, 'points', NULL, 'events', 0))
                     ELSE '[]'::jsonb END)
               || (CASE WHEN f.thin AND NOT f.blacklisted
                     THEN jsonb_build_array(jsonb_build_object(
                         'code', 'insufficient_history', 'component', NULL, 'points', NULL, 'events', f.n))
                     ELSE '[]'::jsonb END)
               || coalesce(d.factors, '[]'::jsonb),
               f.n, f.blacklisted, %(at)s::timestamptz, 'full_run'
        FROM final f LEFT JOIN details d ON d.subject_id = f.id
        RETURNING id, subject_id, reasons
    ),
    upd AS (
        UPDATE credit_subject s
        SET score = f.score, grade = f.grade, rated_at = %(at)s::timestamptz, updated_at = %(at)s::timestamptz
        FROM final f
        -- ANY(ARRAY(...)): look the few changed subjects up by primary key instead of
        -- hashing the whole chunk's subject rows.
        WHERE s.id = f.id AND s.id = ANY(ARRAY(SELECT f2.id FROM final f2)) AND s.id BETWEEN %(lo)s AND %(hi)s
        RETURNING s.id
    ),
    changed AS (
        INSERT INTO credit_domainevent (type, subject_id, payload, occurred_at)
        SELECT 'subject.grade_changed', f.id,
               jsonb_build_object('old_grade', f.old_grade, 'new_grade', f.grade,
                                  'old_score', f.old_score::float8, 'new_score', f.score::float8,
                                  'rating_id', i.id, 'model_version', %(version)s),
               %(at)s::timestamptz
        FROM final f JOIN ins i ON i.subject_id = f.id
        WHERE f.old_grade <> f.grade
        RETURNING 1
    ),
    audited AS (
        -- The audit row recompute_subject writes for a grade change, set-based (same transaction).
        INSERT INTO credit_auditentry (at, actor_id, actor_label, action, subject_id, target_type, target_id,
                                       old, new, reason)
        SELECT now(), NULL, 'system', 'rating.grade_changed', f.id, 'credit.rating', i.id::text,
               jsonb_build_object('grade', f.old_grade, 'score', f.old_score::float8),
               jsonb_build_object('grade', f.grade, 'score', f.score::float8, 'model_version', %(version)s),
               left('Recomputed (full_run); reasons: '
                    || coalesce((SELECT string_agg(r->>'code', ', ') FROM jsonb_array_elements(i.reasons) r), ''),
                    532)
        FROM final f JOIN ins i ON i.subject_id = f.id
        WHERE f.old_grade <> f.grade
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM subjects), (SELECT count(*) FROM ins), (SELECT count(*) FROM upd),
           (SELECT count(*) FROM changed)
    """
    named = {
        "at": at,
        "lo": first_id,
        "hi": last_id,
        "zero": _zero_components_json(),
        "bl_max": float(override["max_score"]),
        "bl_grade": override["grade"],
        "m_grade": new_rule.get("grade", "M"),
        "min_events": int(new_rule["min_events"]),
        "min_days": int(new_rule["min_history_days"]),
        "base": float(params["base"]),
        "smin": float(params.get("score_min", 0)),
        "smax": float(params.get("score_max", 100)),
        # Numeric, like the scores they are compared with (no per-row float conversion).
        "ga": Decimal(str(grades["A"])),
        "gb": Decimal(str(grades["B"])),
        "gc": Decimal(str(grades["C"])),
        "model_id": model.pk,
        "version": model.version,
        "min_change": scoring.to_cents(scoring.min_score_change(params)),
    }
    named.update({f"v{index}": value for index, value in enumerate(values_args)})
    with connection.cursor() as cursor:
        cursor.execute(sql, named)
        subjects, ratings, updated, grade_changes = cursor.fetchone()
    return {"subjects": subjects, "ratings": ratings, "updated": updated, "grade_changes": grade_changes}


def _named_values(rows: int) -> str:
    """VALUES rows of (kind, component, impact, cap, half_life, weight) placeholders."""
    types = ("text", "text", "float8", "float8", "float8", "float8")
    return ", ".join(
        "(" + ", ".join(f"%(v{row * len(types) + col})s::{kind}" for col, kind in enumerate(types)) + ")"
        for row in range(rows)
    )


# --- Publishing a model version ---------------------------------------------------------


def publish_scoring_model(*, actor, parameters: dict, notes: str = "", draft_id: int | None = None) -> ScoringModel:
    """Validate `parameters`, retire the active version and make this one active (a new
    version, or the given draft). Staff only. Audited. Ratings computed afterwards record
    the new version; start a full recompute to apply it to everyone."""
    if not getattr(actor, "is_staff", False):
        raise errors.NotAllowed("Only platform staff publish scoring models.", code="staff_only")
    scoring.validate_parameters(parameters, known_kinds=EventKind.objects.values_list("code", flat=True))
    now = timezone.now()
    with transaction.atomic():
        previous = ScoringModel.objects.select_for_update().filter(status=ScoringModel.Status.ACTIVE).first()
        if previous is not None and previous.parameters == parameters and draft_id is None:
            return previous  # already in force: nothing to publish
        if previous is not None:
            previous.status = ScoringModel.Status.RETIRED
            previous.save(update_fields=["status"])
        if draft_id is not None:
            try:
                model = ScoringModel.objects.select_for_update().get(pk=draft_id, status=ScoringModel.Status.DRAFT)
            except ScoringModel.DoesNotExist:
                raise errors.NotFound("No such draft scoring model.", code="draft_not_found") from None
            model.parameters, model.notes = parameters, notes or model.notes
        else:
            latest = ScoringModel.objects.order_by("-version").values_list("version", flat=True).first() or 0
            model = ScoringModel(version=latest + 1, parameters=parameters, notes=notes)
        model.status = ScoringModel.Status.ACTIVE
        model.published_at = now
        model.published_by = actor
        model.save()
        record_audit(
            actor=actor,
            action="scoring_model.published",
            target=model,
            old={"version": previous.version, "parameters": previous.parameters} if previous else None,
            new={"version": model.version, "parameters": parameters},
            reason=notes,
        )
    return model


def ensure_scoring_catalogue() -> None:
    """Create the event kind catalogue and model v1 if missing (what migration 0002 does).
    Idempotent; used by the demo seed and by tests after a database flush."""
    import importlib

    from django.apps import apps

    migration = importlib.import_module("credit.migrations.0002_scoring_catalogue")
    if EventKind.objects.count() >= len(migration.CATALOGUE) and ScoringModel.objects.exists():
        return
    with transaction.atomic():
        migration.create_catalogue(apps, None)
