"""Reads of credit events. The domain events the registry publishes to the apps above it
(grade changed, blacklisted, lifted) are read through core.events."""

from django.db.models import QuerySet

from core.errors import NotAllowed, NotFound
from core.roles import is_regulator
from credit.models import CreditEvent, EventKind
from credit.selectors.accounts import get_subject, is_member


def event_kinds() -> QuerySet[EventKind]:
    return EventKind.objects.order_by("component", "code")


def get_credit_event(*, event_id: int) -> CreditEvent:
    try:
        return CreditEvent.objects.select_related("kind", "subject", "reverses").get(pk=event_id)
    except (CreditEvent.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"No credit event with id {event_id}.", code="credit_event_not_found") from None


def events_for_subject(*, subject_id: int, viewer=None) -> QuerySet[CreditEvent]:
    """A subject's events, newest first, with whether each was reversed. Only regulators
    and the subject's own members may see them (evidence references are private; callers
    showing events publicly must leave `evidence_reference` out)."""
    get_subject(subject_id=subject_id)
    if viewer is not None and not (is_regulator(viewer) or is_member(user=viewer, subject_id=subject_id)):
        raise NotAllowed("Only regulators and the subject's members see its events.")
    return (
        CreditEvent.objects.filter(subject_id=subject_id)
        .select_related("kind", "reverses", "reversed_by", "recorded_by")
        .order_by("-occurred_at", "-id")
    )
