"""One subject's recompute with the pure scorer (credit.scoring)."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from core.audit import record_audit
from core.models import DomainEvent
from credit import errors, scoring
from credit.models import DomainEventType, Rating, ScoringModel, Subject
from credit.selectors import ratings as rating_selectors
from credit.services.ratings.locks import lock_subject_bucket


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


def lock_recompute_subject(subject_id: int) -> Subject | None:
    """The locks of a single-subject recompute, inside the caller's transaction: its id
    bucket's advisory lock shared, then the subject. None when there is no such subject.
    Anything hanging off the subject (its recompute request) is locked after this."""
    lock_subject_bucket(subject_id)
    # NO KEY UPDATE: does not conflict with the KEY SHARE lock an event insert takes on its
    # subject (foreign key), so a recompute and a new event never deadlock.
    return Subject.objects.select_for_update(no_key=True).filter(pk=subject_id).first()


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
        subject = lock_recompute_subject(subject_id)
        if subject is None:
            raise errors.SubjectNotFound(f"No subject with id {subject_id}.")
        return recompute_locked_subject(subject, trigger=trigger, at=at, actor=actor)


def recompute_locked_subject(
    subject: Subject, *, trigger: str = "event", at: datetime | None = None, actor=None
) -> Rating | None:
    """`recompute_subject` for a subject the caller's transaction has locked with
    `lock_recompute_subject` (it runs in that transaction)."""
    at = at or timezone.now()
    subject_id = subject.pk
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
        Subject.objects.filter(pk=subject_id).update(score=result.score, grade=result.grade, rated_at=at, updated_at=at)
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
            type=DomainEventType.GRADE_CHANGED, subject_id=subject_id, payload=payload, occurred_at=at
        )
        record_audit(
            actor=actor,
            action="rating.grade_changed",
            target=rating,
            subject_id=subject_id,
            old={"grade": old_grade, "score": payload["old_score"]},
            new={"grade": result.grade, "score": payload["new_score"], "model_version": model.version},
            reason=f"Recomputed ({trigger}); reasons: " + ", ".join(reason["code"] for reason in result.reasons)[:500],
        )
    return rating
