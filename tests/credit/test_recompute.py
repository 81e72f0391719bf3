"""Ratings and their recomputation: the outbox and its debounce, history, as-of queries,
guidance, the chunked full recompute (lock, idempotence, restart, progress), publishing
a model version, and the regulator API for runs."""

import importlib
from datetime import timedelta
from io import StringIO
from unittest import mock

import pytest
from django.core.management import call_command
from django.utils import timezone
from kombu.exceptions import OperationalError

from core import outbox
from core.errors import Conflict, InvalidInput, NotAllowed, NotFound
from core.models import AuditEntry, DomainEvent
from credit.models import Rating, RecomputeChunk, RecomputeRequest, RecomputeRun, Subject
from credit.selectors import ratings as rating_selectors
from credit.services import ratings as rating_services
from credit.services.events import record_credit_event
from credit.services.ratings import full_run
from credit.services.ratings import outbox as ratings_outbox
from credit.tasks import flush_recompute_queue_task, recompute_chunk_task, recompute_subject_task
from tests.factories import SubjectFactory

pytestmark = pytest.mark.django_db
V1 = importlib.import_module("credit.migrations.0002_scoring_catalogue").V1_PARAMETERS


def record(actor, subject, kind="lease_completed", days_ago=10, magnitude=1):
    return record_credit_event(
        actor=actor,
        subject_id=subject.pk,
        kind=kind,
        source="platform",
        occurred_at=timezone.now() - timedelta(days=days_ago),
        magnitude=magnitude,
    )


def spaced_subjects(count):
    """Subjects whose ids fall in different lock buckets, so each can be its own chunk."""
    base = (Subject.objects.order_by("-id").values_list("id", flat=True).first() or 0) + rating_services.LOCK_BUCKET
    return [SubjectFactory(id=base + index * rating_services.LOCK_BUCKET) for index in range(count)]


# --- Outbox and debounce ----------------------------------------------------------------


def test_a_burst_of_twenty_events_makes_one_task_and_one_rating(regulator, django_capture_on_commit_callbacks):
    subject = SubjectFactory()
    record(regulator, subject, days_ago=400)  # some history, so the grade leaves M
    rating_services.flush_recompute_queue()
    ratings_before = Rating.objects.filter(subject=subject).count()
    with mock.patch.object(recompute_subject_task, "apply_async") as send:
        for index in range(20):
            with django_capture_on_commit_callbacks(execute=True):
                record(regulator, subject, "paid_on_time", days_ago=index + 1)
    assert send.call_count == 1  # the first event scheduled the task; 19 found the outbox row pending
    assert send.call_args.kwargs == {
        "args": [subject.pk],
        "countdown": rating_services.DEBOUNCE_SECONDS,
        "retry": False,
    }
    assert RecomputeRequest.objects.filter(subject=subject).count() == 1

    recompute_subject_task.apply(args=[subject.pk])  # what the worker runs after the countdown
    recompute_subject_task.apply(args=[subject.pk])  # a duplicate delivery does nothing
    assert Rating.objects.filter(subject=subject).count() == ratings_before + 1
    rating = rating_selectors.latest_rating(subject_id=subject.pk)
    assert rating.event_count == 21 and rating.trigger == "event"
    assert not RecomputeRequest.objects.filter(subject=subject).exists()


def test_broker_down_neither_raises_nor_loses_the_recompute(regulator, django_capture_on_commit_callbacks, monkeypatch):
    monkeypatch.setattr(outbox, "_broker_down_until", 0.0)  # restored after the test
    subject = SubjectFactory()
    failing = mock.patch.object(
        recompute_subject_task, "apply_async", side_effect=OperationalError("Error 111 connecting to redis")
    )
    with failing, django_capture_on_commit_callbacks(execute=True):
        event = record(regulator, subject, "license_verified")
    assert CreditEvent_exists(event.pk)
    assert RecomputeRequest.objects.filter(subject=subject).exists()  # the need is in the database
    # For a few seconds this process does not even try the broker again: no added latency.
    other = SubjectFactory()
    with mock.patch.object(recompute_subject_task, "apply_async") as send:
        with django_capture_on_commit_callbacks(execute=True):
            record(regulator, other, "license_verified")
    assert send.call_count == 0 and RecomputeRequest.objects.filter(subject=other).exists()

    flush_recompute_queue_task.apply(kwargs={"older_than_seconds": 0})  # the beat task, once Redis is back
    subject.refresh_from_db()
    assert subject.rated_at is not None and subject.score == rating_selectors.latest_rating(subject_id=subject.pk).score
    assert not RecomputeRequest.objects.exists()


def CreditEvent_exists(pk):  # noqa: N802 - reads as a sentence in the test above
    from credit.models import CreditEvent

    return CreditEvent.objects.filter(pk=pk).exists()


def test_request_recompute_inside_a_rolled_back_transaction_leaves_nothing(regulator):
    from django.db import transaction

    subject = SubjectFactory()
    with pytest.raises(RuntimeError), transaction.atomic():
        rating_services.request_recompute(subject_id=subject.pk)
        raise RuntimeError("the caller failed")
    assert not RecomputeRequest.objects.exists()


# --- History, grade changes, as-of, guidance --------------------------------------------


def test_history_keeps_material_changes_only_and_records_grade_changes(regulator):
    subject = SubjectFactory()
    now = timezone.now()
    for days in (500, 400, 300):
        record(regulator, subject, "lease_completed", days_ago=days)
    first = rating_services.recompute_subject(subject_id=subject.pk, at=now)
    assert first.grade == "B" and first.model.version == 1
    # A recompute one minute later changes the score by far less than 0.5: no new row.
    assert rating_services.recompute_subject(subject_id=subject.pk, at=now + timedelta(minutes=1)) is None
    # A new event always counts.
    record(regulator, subject, "confirmed_fraud", days_ago=1)
    second = rating_services.recompute_subject(subject_id=subject.pk, at=now + timedelta(minutes=2))
    assert second.grade == "D"
    subject.refresh_from_db()
    assert (subject.grade, subject.score) == ("D", second.score)

    changes = DomainEvent.objects.filter(subject=subject, type="subject.grade_changed").order_by("id")
    assert [(c.payload["old_grade"], c.payload["new_grade"]) for c in changes] == [("M", "B"), ("B", "D")]
    assert changes[1].payload["rating_id"] == second.pk
    audit = AuditEntry.objects.filter(action="rating.grade_changed", subject_id=subject.pk).latest("id")
    assert audit.old["grade"] == "B" and audit.new["grade"] == "D" and "confirmed_fraud" in audit.reason


def test_grade_over_time_and_as_of_queries(regulator):
    subject = SubjectFactory()
    t0 = timezone.now()
    for days in (500, 400, 300):
        record(regulator, subject, "lease_completed", days_ago=days)
    b = rating_services.recompute_subject(subject_id=subject.pk, at=t0 - timedelta(days=30))
    record(regulator, subject, "regulatory_penalty", days_ago=1)
    c = rating_services.recompute_subject(subject_id=subject.pk, at=t0)

    series = list(rating_selectors.rating_history(subject_id=subject.pk))
    assert [(r.grade, r.computed_at) for r in series] == [(b.grade, b.computed_at), (c.grade, c.computed_at)]
    assert rating_selectors.rating_as_of(subject_id=subject.pk, at=t0 - timedelta(days=31)) is None
    assert rating_selectors.rating_as_of(subject_id=subject.pk, at=t0 - timedelta(days=10)) == b
    assert rating_selectors.rating_as_of(subject_id=subject.pk, at=t0) == c
    with pytest.raises(NotFound):
        rating_selectors.rating_as_of(subject_id=987654, at=t0)


def test_guidance_says_what_lifts_the_grade(regulator):
    subject = SubjectFactory()
    for days in (500, 400):
        record(regulator, subject, "lease_completed", days_ago=days)
    record(regulator, subject, "dispute_lost", days_ago=1)
    record(regulator, subject, "chargeback", days_ago=1)
    guidance = rating_selectors.grade_guidance(subject_id=subject.pk)
    # 70 + 2 x 2 x ~0.43/0.39 - 6 x ~1 - 1.2 x 6 x ~1 ~= 58.4: grade C, 11.6 points short of B
    assert guidance["grade"] == "C" and guidance["next_grade"] == "B"
    assert guidance["points_needed"] == pytest.approx(70 - guidance["score"], abs=0.01)
    options = {o["code"]: o for o in guidance["positive_options"]}
    assert options["lease_completed"]["points_per_event"] == 2.0
    assert options["lease_completed"]["events_to_next_grade"] == -(-guidance["points_needed"] // 2)
    fading = {f["code"]: f for f in guidance["fading_negatives"]}
    assert set(fading) == {"dispute_lost", "chargeback"}
    assert fading["chargeback"]["below_one_point_on"] > timezone.now().date().isoformat()
    # Decay alone only brings the score back towards the neutral 70, never to B's 70 itself.
    assert guidance["decay_reaches_next_grade_on"] is None

    penalised = SubjectFactory()
    for days in (500, 400, 300):
        record(regulator, penalised, "lease_completed", days_ago=days)
    record(regulator, penalised, "regulatory_penalty", days_ago=1)  # 1.5 x -25: about 35.5, grade D
    fading = rating_selectors.grade_guidance(subject_id=penalised.pk)
    assert fading["grade"] == "D" and fading["next_grade"] == "C"
    assert fading["decay_reaches_next_grade_on"] > timezone.now().date().isoformat()

    new = SubjectFactory()
    record(regulator, new, "lease_completed", days_ago=5)
    blocked = rating_selectors.grade_guidance(subject_id=new.pk)
    assert blocked["grade"] == "M" and blocked["blocked_by"]["code"] == "insufficient_history"
    assert blocked["blocked_by"]["events_missing"] == 2

    listed = SubjectFactory(is_blacklisted=True)
    assert rating_selectors.grade_guidance(subject_id=listed.pk)["blocked_by"]["code"] == "blacklisted"


def test_blacklisting_forces_d_through_the_recompute(regulator):
    subject = SubjectFactory()
    for days in (500, 400, 300, 200):
        record(regulator, subject, "license_verified", days_ago=days)
    assert rating_services.recompute_subject(subject_id=subject.pk).grade in {"A", "B"}
    Subject.objects.filter(pk=subject.pk).update(is_blacklisted=True)  # what H3's service maintains
    rating = rating_services.recompute_subject(subject_id=subject.pk, trigger="blacklist")
    assert rating.grade == "D" and rating.blacklist_override and rating.reasons[0]["code"] == "blacklisted"


# --- Full recompute ---------------------------------------------------------------------


def test_full_run_in_chunks_is_locked_idempotent_and_reports_progress(regulator, django_capture_on_commit_callbacks):
    subjects = spaced_subjects(3)
    for subject in subjects[:2]:
        for days in (400, 300, 200):
            record(regulator, subject, "lease_completed", days_ago=days)
    RecomputeRequest.objects.all().delete()
    with mock.patch.object(recompute_chunk_task, "apply_async") as send:
        with django_capture_on_commit_callbacks(execute=True):
            run = rating_services.start_full_recompute(actor=regulator, chunk_size=1)
        assert send.call_count == run.total_chunks  # fanned out, one task per chunk
    assert run.total_subjects == Subject.objects.count() and run.total_chunks >= 3
    with pytest.raises(Conflict) as running:
        rating_services.start_full_recompute(chunk_size=1)
    assert running.value.code == "recompute_already_running"

    chunk_ids = list(RecomputeChunk.objects.filter(run=run).order_by("id").values_list("id", flat=True))
    recompute_chunk_task.apply(args=[chunk_ids[0]])
    progress = rating_selectors.recompute_run_progress(run_id=run.pk)
    assert progress["done_chunks"] == 1 and progress["status"] == "running" and 0 < progress["percent"] < 100
    assert rating_services.process_recompute_chunk(chunk_id=chunk_ids[0]) is False  # done chunks are skipped
    for chunk_id in chunk_ids:
        recompute_chunk_task.apply(args=[chunk_id])
    run.refresh_from_db()
    assert run.status == "completed" and run.done_chunks == run.total_chunks
    assert run.done_subjects == run.total_subjects
    for subject in subjects[:2]:
        subject.refresh_from_db()
        assert subject.grade == "B" and Rating.objects.get(subject=subject).trigger == "full_run"
    assert AuditEntry.objects.filter(action="recompute_run.completed", target_id=str(run.pk)).exists()
    # The lock is released: the next run may start.
    assert rating_services.start_full_recompute(chunk_size=1, dispatch=False).status == "running"


def test_a_full_run_grade_change_is_audited_and_announced_exactly_once(regulator):
    """The set-based SQL path must audit a grade change like recompute_subject does."""
    subject = SubjectFactory()
    for days in (400, 300, 200):
        record(regulator, subject, "lease_completed", days_ago=days)
    RecomputeRequest.objects.all().delete()
    for _ in range(2):  # the second run changes nothing: no second event or audit row
        assert rating_services.run_full_recompute_inline(chunk_size=5000).status == "completed"
    subject.refresh_from_db()
    assert subject.grade == "B"
    changes = DomainEvent.objects.filter(subject=subject, type="subject.grade_changed")
    assert [(c.payload["old_grade"], c.payload["new_grade"]) for c in changes] == [("M", "B")]
    audit = AuditEntry.objects.get(action="rating.grade_changed", subject_id=subject.pk)
    assert audit.actor_label == "system" and audit.target_id == str(changes[0].payload["rating_id"])
    assert audit.old["grade"] == "M" and audit.new == {"grade": "B", "score": float(subject.score), "model_version": 1}
    assert "full_run" in audit.reason and "lease_completed" in audit.reason


def test_a_crashed_run_is_resumed_by_redispatching_undone_chunks(regulator):
    spaced_subjects(2)
    run = rating_services.start_full_recompute(chunk_size=1, dispatch=False)
    first = RecomputeChunk.objects.filter(run=run).order_by("id").first()
    rating_services.process_recompute_chunk(chunk_id=first.pk)
    # The worker died: no progress for longer than the stall limit.
    RecomputeRun.objects.filter(pk=run.pk).update(started_at=timezone.now() - timedelta(hours=1))
    RecomputeChunk.objects.filter(pk=first.pk).update(done_at=timezone.now() - timedelta(hours=1))
    with mock.patch.object(recompute_chunk_task, "apply_async") as send:
        assert rating_services.resume_stalled_runs() == run.total_chunks - 1
    undone = set(RecomputeChunk.objects.filter(run=run, done_at__isnull=True).values_list("id", flat=True))
    assert {call.kwargs["args"][0] for call in send.call_args_list} == undone


def test_a_stalled_run_is_resent_once_per_stall_period_then_failed_not_stuck_forever():
    """A chunk that kills its worker every time (hard time limit, OOM) never reaches the
    task's retry handler; the sweep must neither re-send it every 30 s forever nor keep
    the one-run lock forever."""
    spaced_subjects(1)
    run = rating_services.start_full_recompute(chunk_size=1, dispatch=False)
    hour_ago = timezone.now() - timedelta(hours=1)
    RecomputeRun.objects.filter(pk=run.pk).update(started_at=hour_ago - timedelta(hours=1))
    resumed = AuditEntry.objects.filter(action="recompute_run.resumed", target_id=str(run.pk))
    with mock.patch.object(recompute_chunk_task, "apply_async") as send:
        for _attempt in range(rating_services.MAX_STALLED_RESUMES):
            assert rating_services.resume_stalled_runs() == run.total_chunks
            assert rating_services.resume_stalled_runs() == 0  # the next sweep, 30 s later: nothing re-sent
            resumed.update(at=hour_ago)  # ... the stall period passes without progress
        assert send.call_count == rating_services.MAX_STALLED_RESUMES * run.total_chunks
        assert rating_services.resume_stalled_runs() == 0
    run.refresh_from_db()
    assert run.status == "failed" and "no progress" in run.error.lower()
    assert resumed.count() == rating_services.MAX_STALLED_RESUMES
    assert rating_services.start_full_recompute(chunk_size=1, dispatch=False).status == "running"


def test_a_run_whose_worker_died_mid_chunk_is_resent_within_seconds_not_minutes(regulator):
    """A worker killed mid-chunk leaves its chunk undone (its message unacknowledged until
    the broker's visibility timeout) while another worker is idle: the sweep re-sends it
    once nothing has happened for STALLED_CHUNK_AFTER (seconds), not after ten minutes."""
    spaced_subjects(2)
    run = rating_services.start_full_recompute(chunk_size=1, dispatch=False)
    first = RecomputeChunk.objects.filter(run=run).order_by("id").first()
    rating_services.process_recompute_chunk(chunk_id=first.pk)
    quiet = rating_services.STALLED_CHUNK_AFTER + timedelta(seconds=1)
    assert quiet < timedelta(seconds=30)  # with the 30 s sweep: re-sent within 45 s of the last progress
    RecomputeRun.objects.filter(pk=run.pk).update(started_at=timezone.now() - quiet)
    RecomputeChunk.objects.filter(pk=first.pk).update(done_at=timezone.now() - quiet)
    with mock.patch.object(recompute_chunk_task, "apply_async") as send:
        assert rating_services.resume_stalled_runs() == run.total_chunks - 1
        assert rating_services.resume_stalled_runs() == 0  # the next sweep: waits twice as long
    assert send.call_count == run.total_chunks - 1


def test_a_chunk_held_by_a_live_worker_is_not_a_stall_however_long_it_takes():
    """A chunk in progress holds its buckets' advisory locks (here: another connection, as a
    worker's would). However long ago the last progress, nothing is re-sent while it is
    held; once its connection ends (the worker died), the next sweep re-sends it."""
    from django.db import connections

    from credit.services.ratings.locks import RATING_LOCK

    spaced_subjects(1)
    run = rating_services.start_full_recompute(chunk_size=1, dispatch=False)
    chunk = RecomputeChunk.objects.get(run=run)
    RecomputeRun.objects.filter(pk=run.pk).update(started_at=timezone.now() - timedelta(hours=1))
    worker = connections.create_connection("default")
    try:
        worker.set_autocommit(False)
        with worker.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)",
                [RATING_LOCK, chunk.first_subject_id // rating_services.LOCK_BUCKET],
            )
        with mock.patch.object(recompute_chunk_task, "apply_async") as send:
            assert rating_services.resume_stalled_runs() == 0
            assert not send.called
            worker.rollback()  # the worker's connection and transaction are gone
            assert rating_services.resume_stalled_runs() == 1
        assert send.call_args.kwargs["args"] == [chunk.pk]
    finally:
        worker.close()


def test_a_chunk_that_keeps_failing_fails_the_run_and_releases_the_lock():
    spaced_subjects(1)
    run = rating_services.start_full_recompute(chunk_size=1, dispatch=False)
    chunk = RecomputeChunk.objects.filter(run=run).first()
    with mock.patch.object(full_run, "recompute_range_sql", side_effect=RuntimeError("disk full")):
        with mock.patch.object(recompute_chunk_task, "retry", side_effect=RuntimeError("retry")):
            recompute_chunk_task.apply(args=[chunk.pk])  # first attempt: retried
        run.refresh_from_db()
        assert run.status == "running"
        task = recompute_chunk_task
        with mock.patch.object(task, "max_retries", 0):
            task.apply(args=[chunk.pk])
    run.refresh_from_db()
    assert run.status == "failed" and "disk full" in run.error
    assert rating_services.start_full_recompute(chunk_size=1, dispatch=False).status == "running"


def test_recompute_grades_command_inline_shows_progress(regulator):
    """`--inline` (the demo, the benchmarks) runs the workers' set-based SQL in this process."""
    subject = SubjectFactory()
    for days in (400, 300, 200):
        record(regulator, subject, "lease_completed", days_ago=days)
    RecomputeRequest.objects.all().delete()
    out = StringIO()
    with (
        mock.patch.object(full_run, "recompute_range_sql", wraps=full_run.recompute_range_sql) as sql,
        mock.patch.object(
            ratings_outbox, "recompute_locked_subject", wraps=ratings_outbox.recompute_locked_subject
        ) as single,
    ):
        call_command("recompute_grades", "--inline", "--chunk-size", "5000", stdout=out)
    assert sql.called and not single.called
    assert "100.0%" in out.getvalue() and "completed" in out.getvalue()
    subject.refresh_from_db()
    assert subject.grade == "B"
    assert Rating.objects.filter(subject=subject).latest("computed_at").trigger == "full_run"


def test_recompute_grades_inline_resumes_a_run_whose_process_died(regulator):
    """A run left `running` by a crashed process (e.g. the demo, which has no worker for
    it) must not block `--inline` forever: it joins the run and finishes its undone chunks."""
    subjects = spaced_subjects(2)
    for days in (400, 300, 200):
        record(regulator, subjects[1], "lease_completed", days_ago=days)
    RecomputeRequest.objects.all().delete()
    run = rating_services.start_full_recompute(chunk_size=1, dispatch=False)
    first = RecomputeChunk.objects.filter(run=run).order_by("id").first()
    rating_services.process_recompute_chunk(chunk_id=first.pk)  # then the process died
    out = StringIO()
    call_command("recompute_grades", "--inline", "--chunk-size", "1", stdout=out)
    run.refresh_from_db()
    assert run.status == "completed" and run.done_chunks == run.total_chunks
    assert RecomputeRun.objects.count() == 1 and f"run {run.pk}" in out.getvalue()
    subjects[1].refresh_from_db()
    assert subjects[1].grade == "B"


def test_recompute_grades_command_starts_a_run_on_the_workers(django_capture_on_commit_callbacks):
    SubjectFactory()
    out = StringIO()
    with mock.patch.object(recompute_chunk_task, "apply_async") as send:
        with django_capture_on_commit_callbacks(execute=True):
            call_command("recompute_grades", stdout=out)
    run = RecomputeRun.objects.get()
    assert f"Started run {run.pk}" in out.getvalue() and send.call_count == run.total_chunks


# --- Publishing a model version ---------------------------------------------------------


def test_publishing_validates_versions_and_audits(staff_user, regulator):
    with pytest.raises(NotAllowed):
        rating_services.publish_scoring_model(actor=regulator, parameters=V1)
    with pytest.raises(InvalidInput) as invalid:
        rating_services.publish_scoring_model(actor=staff_user, parameters={**V1, "base": 500})
    assert "base" in invalid.value.field_errors
    stricter = {**V1, "grades": [{"grade": g, "min_score": m} for g, m in (("A", 92), ("B", 75), ("C", 45), ("D", 0))]}
    model = rating_services.publish_scoring_model(actor=staff_user, parameters=stricter, notes="Stricter ladder")
    assert model.version == 2 and model.status == "active" and model.published_by == staff_user
    assert rating_selectors.active_scoring_model() == model
    audit = AuditEntry.objects.get(action="scoring_model.published")
    assert audit.old["version"] == 1 and audit.new["version"] == 2 and audit.reason == "Stricter ladder"

    subject = SubjectFactory()
    for days in (400, 300, 200):
        record(regulator, subject, "lease_completed", days_ago=days)
    rating = rating_services.recompute_subject(subject_id=subject.pk)
    assert rating.model == model  # every rating records the version it came from


def test_admin_publishes_a_draft(client, staff_user):
    from credit.models import ScoringModel

    draft = ScoringModel.objects.create(version=7, status="draft", parameters={**V1, "base": 65}, notes="Lower base")
    client.force_login(staff_user)
    with mock.patch.object(recompute_chunk_task, "apply_async"):
        response = client.post(
            "/admin/credit/scoringmodel/",
            {"action": "publish_drafts", "_selected_action": [draft.pk]},
            follow=True,
        )
    assert response.status_code == 200
    draft.refresh_from_db()
    assert draft.status == "active" and draft.published_by == staff_user
    assert ScoringModel.objects.get(version=1).status == "retired"
    assert RecomputeRun.objects.filter(model=draft).exists()
    assert client.get(f"/admin/credit/scoringmodel/{draft.pk}/change/").status_code == 200  # view only


# --- API for runs -----------------------------------------------------------------------


def test_regulator_starts_and_follows_a_run_through_the_api(client_for, regulator):
    spaced_subjects(2)
    client = client_for(regulator)
    with mock.patch.object(recompute_chunk_task, "apply_async"):
        started = client.post("/api/v1/credit/recompute-runs/", {"chunk_size": 1}, format="json")
        assert started.status_code == 202
        again = client.post("/api/v1/credit/recompute-runs/", {}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "recompute_already_running"
    run_id = started.json()["id"]
    for chunk_id in RecomputeChunk.objects.filter(run_id=run_id).values_list("id", flat=True):
        rating_services.process_recompute_chunk(chunk_id=chunk_id)
    detail = client.get(f"/api/v1/credit/recompute-runs/{run_id}/").json()
    assert detail["status"] == "completed" and detail["percent"] == 100.0 and detail["started_by"] == regulator.username
    listing = client.get("/api/v1/credit/recompute-runs/").json()
    assert listing["results"][0]["id"] == run_id
    missing = client.get("/api/v1/credit/recompute-runs/999999/")
    assert missing.status_code == 404 and missing["Content-Type"].startswith("application/problem+json")


# --- Races against PostgreSQL -----------------------------------------------------------


def _race(workers, target):
    import threading

    from django.db import connection

    barrier = threading.Barrier(workers)
    results, failures = [], []

    def run():
        try:
            barrier.wait()
            results.append(target())
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures
    return results


@pytest.mark.django_db(transaction=True)
def test_racing_workers_do_each_chunk_exactly_once(regulator):
    subjects = spaced_subjects(4)
    for subject in subjects:
        for days in (400, 300, 200):
            record(regulator, subject, "lease_completed", days_ago=days)
    run = rating_services.start_full_recompute(chunk_size=1, dispatch=False)
    chunk_ids = list(RecomputeChunk.objects.filter(run=run).order_by("id").values_list("id", flat=True))

    done = _race(4, lambda: sum(rating_services.process_recompute_chunk(chunk_id=c) for c in chunk_ids))
    assert sum(done) == len(chunk_ids)  # every chunk done, none twice
    run.refresh_from_db()
    assert run.status == "completed" and run.done_chunks == run.total_chunks
    assert run.done_subjects == run.total_subjects
    for subject in subjects:
        assert Rating.objects.filter(subject=subject).count() == 1


@pytest.mark.django_db(transaction=True)
def test_racing_recomputes_of_one_subject_write_one_rating(regulator):
    subject = SubjectFactory()
    for days in (400, 300, 200, 100):
        record(regulator, subject, "paid_on_time", days_ago=days)
    results = _race(4, lambda: rating_services.process_recompute_request(subject_id=subject.pk))
    assert sum(1 for rating in results if rating is not None) == 1
    assert Rating.objects.filter(subject=subject).count() == 1
    assert not RecomputeRequest.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_events_racing_recomputes_never_deadlock_nor_lose_an_event(regulator):
    import time

    subject = SubjectFactory()
    stop = time.monotonic() + 20

    def writer():
        for index in range(10):
            record(regulator, subject, "paid_on_time", days_ago=index + 1)
        return "written"

    def recomputer():
        while time.monotonic() < stop:
            rating_services.process_recompute_request(subject_id=subject.pk)
            if Rating.objects.filter(subject=subject, event_count=20).exists():
                return "caught up"
        return "timed out"

    with mock.patch.object(recompute_subject_task, "apply_async"):
        results = _race(4, lambda workers=iter([writer, writer, recomputer, recomputer]): next(workers)())
    assert sorted(results)[-2:] == ["written", "written"]
    rating_services.flush_recompute_queue()  # whatever is still pending
    subject.refresh_from_db()
    assert rating_selectors.latest_rating(subject_id=subject.pk).event_count == 20
