"""Reading credit's domain events into webhook deliveries and compliance checks."""

from django.utils import timezone

from payments.models import ComplianceRun, InstitutionProfile
from payments.services.common import request_compliance_check

DOMAIN_EVENT_CURSOR = "payments.credit_domain_events"
TRIGGER_BY_EVENT = {
    "subject.grade_changed": ComplianceRun.Trigger.GRADE_CHANGED,
    "subject.blacklisted": ComplianceRun.Trigger.BLACKLISTED,
    "subject.blacklist_lifted": ComplianceRun.Trigger.BLACKLIST_LIFTED,
}


def _gap_timeout():
    from django.conf import settings

    return timezone.timedelta(seconds=settings.ENTREPOT["PAYMENTS"].get("DOMAIN_EVENT_GAP_TIMEOUT_SECONDS", 600))


def process_domain_events(*, limit: int = 500) -> int:
    """Read credit's DomainEvents after our cursor (through core.events, which also
    tracks the ids a still-open transaction may commit late), turn each into webhook
    deliveries for the institutions watching the subject, and ask for a compliance check
    when the subject is itself an institution. The cursor moves in the same transaction as
    the outbox rows, so an event is handled exactly once."""
    from core.events import consume

    return consume(
        cursor_name=DOMAIN_EVENT_CURSOR, handle=_fan_out_domain_events, gap_timeout=_gap_timeout(), limit=limit
    )


def _fan_out_domain_events(events: list) -> None:
    from payments.models import WatchlistEntry
    from payments.services.webhook_deliveries import enqueue_event

    if not events:
        return
    subject_ids = {event.subject_id for event in events}
    watchers: dict[int, list[int]] = {}
    for subject_id, institution_id in WatchlistEntry.objects.filter(subject_id__in=subject_ids).values_list(
        "subject_id", "institution_id"
    ):
        watchers.setdefault(subject_id, []).append(institution_id)
    institutions = set(InstitutionProfile.objects.filter(pk__in=subject_ids).values_list("pk", flat=True))
    for event in events:
        if event.type not in TRIGGER_BY_EVENT:
            continue
        if watchers.get(event.subject_id):
            enqueue_event(
                event_type=event.type,
                institution_ids=watchers[event.subject_id],
                data={"subject_id": event.subject_id, **(event.payload or {})},
                event_id=f"evt_credit_{event.pk}",
                occurred_at=event.occurred_at,
            )
        if event.subject_id in institutions:
            request_compliance_check(institution_id=event.subject_id, trigger=TRIGGER_BY_EVENT[event.type])
