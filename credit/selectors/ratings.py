"""Reads of scores, grades and their history, the scoring model and recompute runs."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from core.errors import Conflict, NotFound
from credit import scoring
from credit.models import BlacklistEntry, CreditEvent, EventKind, Rating, RecomputeRun, ScoringModel, Subject
from credit.selectors.accounts import get_subject


def active_scoring_model() -> ScoringModel:
    model = ScoringModel.objects.filter(status=ScoringModel.Status.ACTIVE).first()
    if model is None:
        raise Conflict("No scoring model is active.", code="no_active_scoring_model")
    return model


def scoring_models() -> QuerySet[ScoringModel]:
    return ScoringModel.objects.select_related("published_by").order_by("-version")


def kind_table(*, parameters: dict) -> dict[str, scoring.KindParams]:
    return scoring.kind_table(parameters, EventKind.objects.all())


def methodology(*, model: ScoringModel | None = None) -> dict:
    """The public methodology of the active (or given) model version, generated from its
    parameters: what H4's methodology page and GET /api/v1/registry/methodology/ show."""
    model = model or active_scoring_model()
    description = scoring.describe(model.parameters, kinds=kind_table(parameters=model.parameters))
    return {"version": model.version, "published_at": model.published_at, "notes": model.notes, **description}


def counted_events(*, subject_id: int) -> list[scoring.EventFact]:
    """The events that count for a score: not reversals, not reversed."""
    rows = (
        CreditEvent.objects.filter(subject_id=subject_id, reverses__isnull=True, reversed_by__isnull=True)
        .order_by("occurred_at", "id")
        .values_list("kind_id", "occurred_at", "magnitude")
    )
    return [scoring.EventFact(kind=kind, occurred_at=at, magnitude=float(mag)) for kind, at, mag in rows]


def is_blacklisted_now(*, subject: Subject) -> bool:
    """The blacklist override: the snapshot flag H3 maintains, or any active entry."""
    if subject.is_blacklisted:
        return True
    return BlacklistEntry.objects.filter(subject_id=subject.pk, status=BlacklistEntry.Status.ACTIVE).exists()


def current_score(*, subject_id: int, at: datetime | None = None, model: ScoringModel | None = None):
    """Score one subject now with the pure scorer (no writes)."""
    subject = get_subject(subject_id=subject_id)
    model = model or active_scoring_model()
    return scoring.compute_score(
        parameters=model.parameters,
        kinds=kind_table(parameters=model.parameters),
        events=counted_events(subject_id=subject.pk),
        at=at or timezone.now(),
        blacklisted=is_blacklisted_now(subject=subject),
    )


def latest_rating(*, subject_id: int) -> Rating | None:
    return Rating.objects.filter(subject_id=subject_id).select_related("model").order_by("-computed_at", "-id").first()


def rating_history(*, subject_id: int) -> QuerySet[Rating]:
    """The grade-over-time series, oldest first."""
    get_subject(subject_id=subject_id)
    return Rating.objects.filter(subject_id=subject_id).select_related("model").order_by("computed_at", "id")


def rating_as_of(*, subject_id: int, at: datetime) -> Rating | None:
    """The rating in force at `at`: the latest computed at or before it (None before the first)."""
    get_subject(subject_id=subject_id)
    return (
        Rating.objects.filter(subject_id=subject_id, computed_at__lte=at)
        .select_related("model")
        .order_by("-computed_at", "-id")
        .first()
    )


def grade_guidance(*, subject_id: int, at: datetime | None = None) -> dict:
    """What would lift the subject to the next grade (see credit.scoring.guidance)."""
    subject = get_subject(subject_id=subject_id)
    model = active_scoring_model()
    result = scoring.guidance(
        parameters=model.parameters,
        kinds=kind_table(parameters=model.parameters),
        events=counted_events(subject_id=subject.pk),
        at=at or timezone.now(),
        blacklisted=is_blacklisted_now(subject=subject),
    )
    result["model_version"] = model.version
    return result


# --- Recompute runs ---------------------------------------------------------------------


def recompute_runs() -> QuerySet[RecomputeRun]:
    return RecomputeRun.objects.select_related("model", "started_by").order_by("-started_at", "-id")


def running_recompute_run() -> RecomputeRun | None:
    return RecomputeRun.objects.filter(status=RecomputeRun.Status.RUNNING).select_related("model").first()


def recompute_run_progress(*, run_id: int) -> dict:
    try:
        run = RecomputeRun.objects.select_related("model", "started_by").get(pk=run_id)
    except (RecomputeRun.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"No recompute run with id {run_id}.", code="recompute_run_not_found") from None
    return run_progress(run)


def run_progress(run: RecomputeRun) -> dict:
    percent = round(100.0 * run.done_chunks / run.total_chunks, 1) if run.total_chunks else 100.0
    end = run.finished_at or timezone.now()
    elapsed = (end - run.started_at).total_seconds()
    return {
        "id": run.pk,
        "status": run.status,
        "model_version": run.model.version,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "started_by": run.started_by.username if run.started_by_id else "system",
        "total_chunks": run.total_chunks,
        "done_chunks": run.done_chunks,
        "total_subjects": run.total_subjects,
        "done_subjects": run.done_subjects,
        "percent": percent,
        "elapsed_seconds": round(elapsed, 1),
        "error": run.error,
    }
