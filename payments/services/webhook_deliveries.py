"""The webhook delivery outbox and the delivery itself (signing and where a webhook may go:
payments.webhooks).

- `enqueue_event` writes one WebhookDelivery row per subscribed, enabled endpoint in the
  caller's transaction (the outbox) and wakes a worker after commit. If Redis is down the
  rows stay `pending` and the beat sweep (`payments.sweep_webhook_deliveries`) finds them.
- `deliver` POSTs one delivery with httpx, logs the attempt (status code, latency, error),
  and on failure schedules the next attempt with exponential backoff and jitter. A 2xx is
  success; 410 Gone disables the endpoint; after WEBHOOK_MAX_ATTEMPTS it gives up.
- Every attempt of one delivery carries the same `webhook-id`, so receivers dedupe on it
  (delivery is at-least-once).
"""

import random
import time
import uuid
from datetime import timedelta
from functools import partial

import httpx
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core import outbox
from core.audit import save_audited
from payments.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from payments.webhooks import delivery_client, encode_body, signature_header, signing_secrets, vet_target


def _config(name: str):
    return settings.ENTREPOT["PAYMENTS"][name]


def backoff_seconds(attempts: int) -> float:
    """Delay before attempt `attempts + 1`: base * 2^(attempts-1), capped, with +-20% jitter."""
    base, cap = _config("WEBHOOK_BACKOFF_BASE_SECONDS"), _config("WEBHOOK_BACKOFF_MAX_SECONDS")
    delay = min(cap, base * (2 ** max(0, attempts - 1)))
    return delay * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not cryptography


def _wake(delivery_ids: list[int]) -> None:
    from payments.tasks import deliver_webhook_task

    for delivery_id in delivery_ids:
        if not outbox.publish(deliver_webhook_task, args=[delivery_id]):
            return  # the broker is down: the beat sweep delivers the rest


def enqueue_event(
    *, event_type: str, institution_ids: list[int], data: dict, event_id: str | None = None, occurred_at=None
) -> list[int]:
    """Write the outbox rows for one event, inside the caller's transaction. The event id
    (`webhook-id`) is stable, so enqueuing the same event twice delivers it once."""
    endpoints = list(
        WebhookEndpoint.objects.filter(institution_id__in=institution_ids, enabled=True).only("pk", "event_types")
    )
    endpoints = [e for e in endpoints if event_type in e.event_types]
    if not endpoints:
        return []
    event_id = event_id or f"msg_{uuid.uuid4().hex}"
    occurred_at = occurred_at or timezone.now()
    payload = {"type": event_type, "timestamp": occurred_at.isoformat(), "data": data}
    now = timezone.now()
    created = WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                endpoint_id=endpoint.pk,
                event_id=event_id,
                event_type=event_type,
                payload=payload,
                next_attempt_at=now,
                created_at=now,
            )
            for endpoint in endpoints
        ],
        ignore_conflicts=True,
    )
    ids = list(
        WebhookDelivery.objects.filter(event_id=event_id, endpoint_id__in=[e.pk for e in endpoints]).values_list(
            "pk", flat=True
        )
    )
    if created:
        transaction.on_commit(partial(_wake, ids))
    return ids


def deliver(*, delivery_id: int, client: httpx.Client | None = None) -> str:
    """Attempt one delivery if it is pending and due; returns its status afterwards.
    Claims the row with a short lock so two workers never send the same attempt at once.
    An injected `client` (tests) is used as given: its transport is not pinned."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(of=("self",), skip_locked=True)
            .select_related("endpoint")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None:
            return "busy"
        if delivery.status != WebhookDelivery.Status.PENDING:
            return delivery.status
        if delivery.next_attempt_at and delivery.next_attempt_at > timezone.now():
            return delivery.status
        endpoint = delivery.endpoint
        if not endpoint.enabled:
            delivery.status = WebhookDelivery.Status.DISABLED
            delivery.next_attempt_at = None
            delivery.save(update_fields=["status", "next_attempt_at"])
            return delivery.status
        # Lease the delivery for the duration of the HTTP call: a sweep that sees it meanwhile
        # finds it not yet due.
        timeout = float(_config("WEBHOOK_TIMEOUT_SECONDS"))
        delivery.next_attempt_at = timezone.now() + timedelta(seconds=timeout + 30)
        delivery.attempts += 1
        delivery.save(update_fields=["next_attempt_at", "attempts"])

    body = encode_body(delivery.payload)
    timestamp = int(time.time())
    headers = {
        "content-type": "application/json",
        "user-agent": "Entrepot-Webhooks/1",
        "webhook-id": delivery.event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(
            secrets=signing_secrets(endpoint), msg_id=delivery.event_id, timestamp=timestamp, body=body
        ),
    }
    status_code, error = None, ""
    started = time.monotonic()
    refused, addresses = vet_target(endpoint.url, resolve=True)
    if refused:
        error = f"Not sent: {refused}"
    else:
        try:
            if client is None:
                with delivery_client(endpoint.url, addresses, timeout=timeout) as own:
                    response = own.post(endpoint.url, content=body.encode(), headers=headers)
            else:
                response = client.post(endpoint.url, content=body.encode(), headers=headers, timeout=timeout)
            status_code = response.status_code
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            error = f"{type(exc).__name__}: {exc}"[:1000]
    latency_ms = int((time.monotonic() - started) * 1000)
    succeeded = status_code is not None and 200 <= status_code < 300

    with transaction.atomic():
        # The endpoint before its deliveries (the global lock order, as an endpoint change
        # takes them): a 410 switches the endpoint off and stops its pending deliveries.
        gone_endpoint = _lock_endpoint(delivery.endpoint_id) if status_code == 410 else None
        delivery = WebhookDelivery.objects.select_for_update(of=("self",)).get(pk=delivery_id)
        now = timezone.now()
        WebhookAttempt.objects.create(
            delivery=delivery,
            at=now,
            status_code=status_code,
            latency_ms=latency_ms,
            error=error or ("" if succeeded else f"HTTP {status_code}"),
            succeeded=succeeded,
        )
        delivery.last_status_code = status_code
        if succeeded:
            delivery.status, delivery.delivered_at, delivery.next_attempt_at = (
                WebhookDelivery.Status.SUCCEEDED,
                now,
                None,
            )
        elif status_code == 410:
            delivery.status, delivery.next_attempt_at = WebhookDelivery.Status.DISABLED, None
            _disable_endpoint(gone_endpoint, reason=f"The endpoint answered 410 Gone at {now.isoformat()}.")
        elif delivery.attempts >= _config("WEBHOOK_MAX_ATTEMPTS"):
            delivery.status, delivery.next_attempt_at = WebhookDelivery.Status.FAILED, None
        else:
            delivery.next_attempt_at = now + timedelta(seconds=backoff_seconds(delivery.attempts))
        delivery.save(update_fields=["status", "delivered_at", "next_attempt_at", "last_status_code"])
    return delivery.status


def _lock_endpoint(endpoint_id: int) -> WebhookEndpoint:
    return WebhookEndpoint.objects.select_for_update(of=("self",)).get(pk=endpoint_id)


def _disable_endpoint(endpoint: WebhookEndpoint, *, reason: str) -> None:
    """Switch off a locked endpoint that answered 410, unless it is off already."""
    if not endpoint.enabled:
        return
    switch_off_endpoint(endpoint, actor=None, action="webhook.endpoint_disabled", disabled_reason=reason, reason=reason)


def switch_off_endpoint(
    endpoint: WebhookEndpoint, *, actor, action: str, disabled_reason: str, reason: str = ""
) -> None:
    """Switch a locked endpoint off, audited, and stop its pending deliveries (the endpoint
    gone with a 410, or removed by the institution)."""
    save_audited(
        endpoint,
        {"enabled": False, "disabled_reason": disabled_reason},
        actor=actor,
        action=action,
        subject_id=endpoint.institution_id,
        old={"enabled": True},
        new={"enabled": False},
        reason=reason,
    )
    WebhookDelivery.objects.filter(endpoint=endpoint, status=WebhookDelivery.Status.PENDING).update(
        status=WebhookDelivery.Status.DISABLED, next_attempt_at=None
    )
