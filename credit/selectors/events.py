"""Reads of credit events and of the domain events the registry publishes to the apps
above it (grade changed, blacklisted, lifted)."""

from django.db.models import QuerySet

from credit import errors
from credit.models import CreditEvent, DomainEvent, EventKind
from credit.roles import is_regulator
from credit.selectors.accounts import get_subject, is_member


def event_kinds() -> QuerySet[EventKind]:
    return EventKind.objects.order_by("component", "code")


def get_credit_event(*, event_id: int) -> CreditEvent:
    try:
        return CreditEvent.objects.select_related("kind", "subject", "reverses").get(pk=event_id)
    except (CreditEvent.DoesNotExist, ValueError, TypeError):
        raise errors.NotFound(f"No credit event with id {event_id}.", code="credit_event_not_found") from None


def events_for_subject(*, subject_id: int, viewer=None) -> QuerySet[CreditEvent]:
    """A subject's events, newest first, with whether each was reversed. Only regulators
    and the subject's own members may see them (evidence references are private; callers
    showing events publicly must leave `evidence_reference` out)."""
    get_subject(subject_id=subject_id)
    if viewer is not None and not (is_regulator(viewer) or is_member(user=viewer, subject_id=subject_id)):
        raise errors.NotAllowed("Only regulators and the subject's members see its events.")
    return (
        CreditEvent.objects.filter(subject_id=subject_id)
        .select_related("kind", "reverses", "reversed_by", "recorded_by")
        .order_by("-occurred_at", "-id")
    )


def domain_events_after(*, after_id: int, limit: int = 100, types: list[str] | None = None) -> QuerySet[DomainEvent]:
    """Domain events with id > after_id, by increasing id (a consumer keeps its cursor)."""
    qs = DomainEvent.objects.filter(pk__gt=after_id)
    if types:
        qs = qs.filter(type__in=types)
    return qs.order_by("id")[: max(1, min(limit, 1000))]


def domain_events_with_ids(*, ids: list[int]) -> QuerySet[DomainEvent]:
    """The domain events among `ids` that exist (are committed), by increasing id: a
    consumer re-checks ids it skipped because their transaction had not committed yet."""
    return DomainEvent.objects.filter(pk__in=list(ids)).order_by("id")
