"""Ratings after a completed lease: the tenant rates the operator and the operator rates
the tenant, each once, within ENTREPOT["REVIEW_WINDOW_DAYS"] (default 30) days after the
completion. The rating enters the reviewed party's credit record:

- 4 or 5 stars: a `positive_rating` credit event;
- 1 or 2 stars: a `negative_rating` credit event;
- 3 stars: neutral, no credit event (the review is still shown).

Events come from source "platform" with source_reference "lease:<id>:review:<reviewer id>".
"""

from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.audit import record_audit
from core.errors import InvalidInput
from credit.selectors.accounts import is_member
from warehouses.errors import LeaseNotFound, ReviewNotAllowed
from warehouses.models import Lease, LeaseReview


def review_window_days() -> int:
    return getattr(settings, "ENTREPOT", {}).get("REVIEW_WINDOW_DAYS", 30)


def rating_event_kind(stars: int) -> str | None:
    if stars >= 4:
        return "positive_rating"
    if stars <= 2:
        return "negative_rating"
    return None


def review_lease(
    *, actor, lease_id: int, stars: int | None, comment: str = "", reviewer_id: int | None = None
) -> LeaseReview:
    """`reviewer_id` is the party the actor reviews for (tenant or operator); it may be
    left out when the actor is a member of only one of them."""
    lease = Lease.objects.select_related("listing__warehouse").filter(pk=lease_id).first()
    if lease is None:
        raise LeaseNotFound()
    tenant_id, operator_id = lease.tenant_id, lease.listing.warehouse.owner_id
    sides = [s for s in (tenant_id, operator_id) if is_member(user=actor, subject_id=s)]
    if not sides:
        raise LeaseNotFound()
    field_errors: dict[str, list[str]] = {}
    if reviewer_id is None:
        if len(sides) > 1:
            field_errors["reviewer"] = ["You act for both sides: say which one reviews."]
        reviewer_id = sides[0]
    elif reviewer_id not in sides:
        field_errors["reviewer"] = ["Review as the lease's tenant or operator that you act for."]
    if stars is None or not (1 <= int(stars) <= 5):
        field_errors["stars"] = ["Give 1 to 5 stars."]
    if len(comment or "") > 2000:
        field_errors["comment"] = ["At most 2000 characters."]
    if field_errors:
        raise InvalidInput(next(iter(field_errors.values()))[0], field_errors=field_errors)
    reviewed_id = operator_id if reviewer_id == tenant_id else tenant_id
    now = timezone.now()
    if lease.status != Lease.Status.COMPLETED or lease.completed_at is None:
        raise ReviewNotAllowed("Only a completed lease can be reviewed.", code="lease_not_completed")
    closes = lease.completed_at + timedelta(days=review_window_days())
    if now > closes:
        raise ReviewNotAllowed(
            f"Reviews closed on {closes:%Y-%m-%d %H:%M} UTC, {review_window_days()} days after completion.",
            code="review_window_closed",
        )
    existing = LeaseReview.objects.filter(lease=lease, reviewer_id=reviewer_id).first()
    if existing is not None:
        if (existing.stars, existing.comment) == (stars, comment or ""):
            return existing  # the same review sent twice
        raise ReviewNotAllowed("This party has already reviewed this lease.", code="already_reviewed")
    try:
        with transaction.atomic():
            review = LeaseReview.objects.create(
                lease=lease,
                reviewer_id=reviewer_id,
                reviewed_id=reviewed_id,
                stars=stars,
                comment=comment or "",
                written_by=actor if getattr(actor, "is_authenticated", False) else None,
            )
            record_audit(
                actor=actor,
                action="lease.reviewed",
                target=review,
                subject_id=reviewed_id,
                new={"lease": lease.pk, "reviewer": reviewer_id, "reviewed": reviewed_id, "stars": stars},
                reason=comment or "",
            )
            kind = rating_event_kind(stars)
            if kind:
                from credit.services.events import record_credit_event

                record_credit_event(
                    actor=actor,
                    subject_id=reviewed_id,
                    kind=kind,
                    source="platform",
                    occurred_at=now,
                    source_reference=f"lease:{lease.pk}:review:{reviewer_id}",
                )
    except IntegrityError:  # a concurrent review by the same party won
        raise ReviewNotAllowed("This party has already reviewed this lease.", code="already_reviewed") from None
    return review
