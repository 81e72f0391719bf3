"""Webhooks per Standard Webhooks v1: signing, the delivery outbox and the delivery itself.

- `enqueue_event` writes one WebhookDelivery row per subscribed, enabled endpoint in the
  caller's transaction (the outbox) and wakes a worker after commit. If Redis is down the
  rows stay `pending` and the beat sweep (`payments.sweep_webhook_deliveries`) finds them.
- `deliver` POSTs one delivery with httpx, logs the attempt (status code, latency, error),
  and on failure schedules the next attempt with exponential backoff and jitter. A 2xx is
  success; 410 Gone disables the endpoint; after WEBHOOK_MAX_ATTEMPTS it gives up.
- Every attempt of one delivery carries the same `webhook-id`, so receivers dedupe on it
  (delivery is at-least-once).
- Unless private hosts are allowed, `deliver` resolves the host once, vets every address,
  and dials only those addresses (`_PinnedBackend`): httpx never resolves the name again,
  so a DNS server cannot answer a public address to the check and a private one to the
  connection (DNS rebinding). Host header, TLS SNI and certificate checks keep the name.

Signature: `webhook-signature: v1,<base64(HMAC-SHA256(secret, f"{id}.{timestamp}.{body}"))>`,
where `secret` is the base64-decoded part of the endpoint's `whsec_...` secret. After a
secret rotation the header carries two space-separated signatures, one per secret, until
the previous secret expires (WEBHOOK_SECRET_ROTATION_GRACE_HOURS), so a receiver holding
either secret verifies.
"""

import base64
import hashlib
import hmac
import json
import logging
import random
import secrets
import socket
import time
import uuid
from datetime import timedelta
from functools import partial
from urllib.parse import unquote, urlsplit

import httpcore
import httpx
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core import outbox
from payments import ssrf
from payments.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)


def url_target_problem(url: str, *, resolve: bool = False) -> str | None:
    """Why a webhook may not be sent to `url`, or None. Unless WEBHOOK_ALLOW_PRIVATE_HOSTS
    is on (local runs and tests, whose receivers listen on 127.0.0.1), a URL must name a
    public host: otherwise an institution could make the platform POST into its own network
    (SSRF). Saving checks literal addresses and `localhost`; delivery also resolves the
    name (`resolve=True`), since DNS can point a public-looking name at a private address."""
    return _vet_target(url, resolve=resolve)[0]


def _vet_target(url: str, *, resolve: bool) -> tuple[str | None, list[str]]:
    """(why `url` is refused or None, the vetted addresses to dial in resolver order). The
    addresses are empty when private hosts are allowed or `resolve` is off: nothing to pin."""
    if _config("WEBHOOK_ALLOW_PRIVATE_HOSTS"):
        return None, []
    try:
        # The host as httpx will dial it (IDNA, full-width dots folded), else as written.
        host = httpx.URL(url).host or urlsplit(url).hostname or ""
    except httpx.InvalidURL:
        host = urlsplit(url).hostname or ""
    host = host.rstrip(".").lower()
    if not host:
        return "The URL has no host.", []
    if host == "localhost" or host.endswith(".localhost"):
        return "Webhooks cannot be sent to localhost.", []
    # Every address form, IPv6 ones embedding IPv4 included, normalised (payments.ssrf).
    literal = ssrf.parse(unquote(host))
    if literal is not None:
        if not ssrf.is_public(literal):
            return "Webhooks must go to a public address, not a private or reserved one.", []
        return None, [str(literal)] if resolve else []
    if not resolve:
        return None, []
    try:
        # Resolve the name exactly as httpx would send it (IDNA 2008, as `_PinnedBackend` sees it).
        name = httpx.URL(url).raw_host.decode("ascii")
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except httpx.InvalidURL as exc:
        return f"The URL is not valid ({exc}).", []
    except (OSError, UnicodeError) as exc:
        return f"The host {host} could not be resolved ({exc}).", []
    addresses = list(dict.fromkeys(info[4][0].split("%")[0] for info in infos))
    if not addresses:
        return f"The host {host} could not be resolved (no addresses).", []
    # One private answer refuses the whole host: a name that mixes them is not a public receiver.
    if not all(ssrf.is_public(address) for address in addresses):
        return f"The host {host} resolves to a private or reserved address.", []
    return None, addresses


class _PinnedBackend(httpcore.NetworkBackend):
    """Dials only the addresses vetted for one host. httpcore hands the URL's host name to
    connect_tcp and, separately, to TLS as the SNI/verification name; replacing only the
    dial keeps the name everywhere else while the name is never resolved a second time."""

    def __init__(self, *, host: str, addresses: list[str]):
        self._host, self._addresses = host.lower(), addresses
        self._tcp = httpcore.SyncBackend()

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        if host.lower() != self._host:
            raise httpcore.ConnectError(f"Not connecting to {host}: only {self._host} was vetted.")
        # Like socket.create_connection, fall back through the addresses in resolver order,
        # but within one connect timeout in all, so the delivery's lease cannot run out.
        deadline = None if timeout is None else time.monotonic() + timeout
        error: Exception | None = None
        for address in self._addresses:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                break
            try:
                return self._tcp.connect_tcp(
                    address, port, timeout=remaining, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        raise error or httpcore.ConnectTimeout(f"Timed out connecting to {self._host}.")

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise httpcore.ConnectError("Webhooks are only sent over TCP.")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class _PinnedTransport(httpx.HTTPTransport):
    def __init__(self, *, host: str, addresses: list[str]):
        super().__init__()
        # HTTPTransport takes no network backend, so swap its pool for one that has ours
        # (same defaults: HTTP/1.1, certificate verification on).
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            network_backend=_PinnedBackend(host=host, addresses=addresses),
        )


def _delivery_client(url: str, addresses: list[str], *, timeout: float) -> httpx.Client:
    if not addresses:  # private hosts allowed: httpx resolves the name itself, as before
        return httpx.Client(timeout=timeout, follow_redirects=False)
    host = httpx.URL(url).raw_host.decode("ascii")
    # An explicit transport also turns off HTTP(S)_PROXY from the environment: a proxy would
    # resolve the name itself and undo the pinning.
    return httpx.Client(
        timeout=timeout, follow_redirects=False, transport=_PinnedTransport(host=host, addresses=addresses)
    )


SECRET_PREFIX = "whsec_"


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def secret_bytes(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(*, secret: str, msg_id: str, timestamp: int, body: str) -> str:
    digest = hmac.new(secret_bytes(secret), f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signing_secrets(endpoint: WebhookEndpoint, *, now=None) -> list[str]:
    """The current secret, plus the previous one while its grace period lasts."""
    now = now or timezone.now()
    result = [endpoint.secret]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and expires > now:
        result.append(endpoint.previous_secret)
    return result


def signature_header(*, secrets: list[str], msg_id: str, timestamp: int, body: str) -> str:
    return " ".join(sign(secret=secret, msg_id=msg_id, timestamp=timestamp, body=body) for secret in secrets)


def encode_body(payload: dict) -> str:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


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
    refused, addresses = _vet_target(endpoint.url, resolve=True)
    if refused:
        error = f"Not sent: {refused}"
    else:
        try:
            if client is None:
                with _delivery_client(endpoint.url, addresses, timeout=timeout) as own:
                    response = own.post(endpoint.url, content=body.encode(), headers=headers)
            else:
                response = client.post(endpoint.url, content=body.encode(), headers=headers, timeout=timeout)
            status_code = response.status_code
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            error = f"{type(exc).__name__}: {exc}"[:1000]
    latency_ms = int((time.monotonic() - started) * 1000)
    succeeded = status_code is not None and 200 <= status_code < 300

    with transaction.atomic():
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
            _disable_endpoint(delivery.endpoint_id, reason=f"The endpoint answered 410 Gone at {now.isoformat()}.")
        elif delivery.attempts >= _config("WEBHOOK_MAX_ATTEMPTS"):
            delivery.status, delivery.next_attempt_at = WebhookDelivery.Status.FAILED, None
        else:
            delivery.next_attempt_at = now + timedelta(seconds=backoff_seconds(delivery.attempts))
        delivery.save(update_fields=["status", "delivered_at", "next_attempt_at", "last_status_code"])
    return delivery.status


def _disable_endpoint(endpoint_id: int, *, reason: str) -> None:
    from core.audit import record_audit

    endpoint = WebhookEndpoint.objects.select_for_update(of=("self",)).get(pk=endpoint_id)
    if not endpoint.enabled:
        return
    endpoint.enabled, endpoint.disabled_reason = False, reason
    endpoint.save(update_fields=["enabled", "disabled_reason"])
    WebhookDelivery.objects.filter(endpoint_id=endpoint_id, status=WebhookDelivery.Status.PENDING).update(
        status=WebhookDelivery.Status.DISABLED, next_attempt_at=None
    )
    record_audit(
        actor=None,
        action="webhook.endpoint_disabled",
        target=endpoint,
        subject_id=endpoint.institution_id,
        old={"enabled": True},
        new={"enabled": False},
        reason=reason,
    )


def due_delivery_ids(*, limit: int = 500) -> list[int]:
    return list(
        WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=timezone.now())
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
