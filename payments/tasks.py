"""Celery tasks of the payments app. Thin: ids in, a service does the work, safe to repeat.
Enqueued only after commit; durable marks in the database (compliance checks requested,
pending webhook deliveries) are swept by beat, so nothing is lost while Redis is down."""

import logging

from celery import shared_task
from django.utils import timezone

from core import outbox
from core.tasks import retried_task

logger = logging.getLogger(__name__)


@retried_task(name="payments.run_compliance_check", backoff=5, backoff_max=300, soft_time_limit=120, time_limit=150)
def run_compliance_check_task(institution_id: int, trigger: str = "regulator") -> int | None:
    """Run every rule against one institution, if a check is still requested."""
    from payments.models import InstitutionProfile
    from payments.services import run_compliance_check

    # Edits queue one task each; the first run clears the request and sees every edit
    # committed before it (it locks the profile), so the later tasks have nothing to do.
    if not InstitutionProfile.objects.filter(pk=institution_id, check_requested_at__isnull=False).exists():
        return None
    run = run_compliance_check(institution_id=institution_id, trigger=trigger, only_if_requested=True)
    return run.pk if run else None


@shared_task(name="payments.run_daily_compliance_checks", ignore_result=True, acks_late=True, time_limit=3600)
def run_daily_compliance_checks_task(today: str | None = None) -> int:
    """Daily (beat): check every institution, because licences expire and reports age
    without anyone touching them. Each institution gets its own transaction; one failure
    does not stop the others. Idempotent in effect: a second run the same day derives the
    same status."""
    from datetime import date

    from payments.models import InstitutionProfile
    from payments.services import run_compliance_check

    day = date.fromisoformat(today) if today else timezone.localdate()
    count = 0
    for institution_id in InstitutionProfile.objects.order_by("pk").values_list("pk", flat=True):
        try:
            run_compliance_check(institution_id=institution_id, trigger="daily", today=day)
            count += 1
        except Exception:
            logger.exception("Daily compliance check failed for institution %s", institution_id)
    return count


@shared_task(name="payments.process_domain_events", ignore_result=True, acks_late=True, time_limit=300)
def process_domain_events_task() -> int:
    """Every 15 s (beat): read credit's domain events into webhooks and compliance checks,
    then run any compliance check whose request could not be enqueued."""
    from payments.selectors import due_compliance_checks
    from payments.services import process_domain_events, run_compliance_check

    total = 0
    while True:
        handled = process_domain_events(limit=500)
        total += handled
        if handled < 500:
            break
    for institution_id, trigger in due_compliance_checks():
        try:
            run_compliance_check(institution_id=institution_id, trigger=trigger or "regulator")
        except Exception:
            logger.exception("Compliance check failed for institution %s", institution_id)
    return total


@shared_task(
    name="payments.deliver_webhook",
    ignore_result=True,
    acks_late=True,
    soft_time_limit=60,
    time_limit=90,
)
def deliver_webhook_task(delivery_id: int) -> str:
    """One delivery attempt. A failure is recorded and rescheduled in the database (not by
    Celery retry), so the schedule survives a Redis outage; the sweep sends it when due."""
    from payments.services.webhook_deliveries import deliver

    status = deliver(delivery_id=delivery_id)
    if status == "pending":
        from payments.models import WebhookDelivery

        due = WebhookDelivery.objects.filter(pk=delivery_id).values_list("next_attempt_at", flat=True).first()
        if due is not None:
            countdown = max(0.0, (due - timezone.now()).total_seconds())
            if countdown < 300:
                outbox.publish(deliver_webhook_task, args=[delivery_id], countdown=countdown)
    return status


@shared_task(name="payments.sweep_webhook_deliveries", ignore_result=True, acks_late=True, time_limit=600)
def sweep_webhook_deliveries_task(limit: int = 500) -> int:
    """Every 30 s (beat): deliver whatever is pending and due, e.g. rows written while
    Redis was down or retries scheduled far ahead. Delivers inline, one row at a time."""
    from payments.selectors import due_delivery_ids
    from payments.services.webhook_deliveries import deliver

    ids = due_delivery_ids(limit=limit)
    for delivery_id in ids:
        try:
            deliver(delivery_id=delivery_id)
        except Exception:
            logger.exception("Webhook delivery %s failed", delivery_id)
    return len(ids)


@shared_task(name="payments.purge_idempotency_keys", ignore_result=True, acks_late=True, time_limit=600)
def purge_idempotency_keys_task() -> int:
    """Hourly (beat): forget Idempotency-Keys (payment reports and lease requests) older than
    IDEMPOTENCY_KEY_RETENTION_HOURS (default 24 h). Safe to repeat."""
    from core.idempotency import purge_expired_keys

    return purge_expired_keys()
