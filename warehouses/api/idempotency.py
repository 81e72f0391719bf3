"""`Idempotency-Key` for lease creation (PRODUCT.md "Idempotency"):

- the same key with the same payload replays the first (successful) response, with the
  header `Idempotent-Replayed: true`;
- the same key with a different payload answers 422 `idempotency_key_reused`;
- while the first copy is still in flight, a duplicate answers 409 `idempotency_in_flight`.

Only successful responses are stored: when the first copy fails (bad input, no capacity,
busy), the key is freed and a retry runs again. A key whose first copy died mid-flight is
taken over after IN_FLIGHT_STALE_SECONDS. Keys are scoped per user (or API key).

TODO(lead): payments has an IdempotencyKey model too; unify both on one mechanism.
"""

import hashlib
import json
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.response import Response

from credit import errors
from warehouses.errors import IdempotencyInFlight, IdempotencyKeyReused
from warehouses.models import IdempotencyRecord

IN_FLIGHT_STALE_SECONDS = 60
HEADER = "Idempotency-Key"


def _scope(request) -> str:
    key = getattr(request, "api_key", None)
    if key is not None:
        return f"key:{key.prefix}"
    return f"user:{request.user.pk}"


def _fingerprint(request) -> str:
    body = json.dumps(request.data, sort_keys=True, default=str)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def run_idempotently(request, handler) -> Response:
    key = (request.headers.get(HEADER) or "").strip()
    if not key or len(key) > 200:
        raise errors.InvalidInput(
            "This request needs an Idempotency-Key header (at most 200 characters).",
            code="idempotency_key_required",
            field_errors={HEADER: ["Send a unique key per lease request, e.g. a UUID."]},
        )
    scope, fingerprint = _scope(request), _fingerprint(request)
    try:
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(scope=scope, key=key, request_hash=fingerprint)
    except IntegrityError:
        record = IdempotencyRecord.objects.get(scope=scope, key=key)
        if record.request_hash != fingerprint:
            raise IdempotencyKeyReused() from None
        if record.response_status is not None:
            return Response(
                record.response_body, status=record.response_status, headers={"Idempotent-Replayed": "true"}
            )
        stale = timezone.now() - timedelta(seconds=IN_FLIGHT_STALE_SECONDS)
        taken = IdempotencyRecord.objects.filter(
            pk=record.pk, response_status__isnull=True, created_at__lt=stale
        ).update(created_at=timezone.now())
        if not taken:
            raise IdempotencyInFlight() from None
    try:
        # The work and its stored response commit together: a crash in between cannot
        # leave a lease whose key would let a retry create a second one.
        with transaction.atomic():
            response = handler()
            if 200 <= response.status_code < 300:
                IdempotencyRecord.objects.filter(pk=record.pk).update(
                    response_status=response.status_code,
                    response_body=json.loads(json.dumps(response.data, default=str)),
                )
    except BaseException:
        IdempotencyRecord.objects.filter(pk=record.pk, response_status__isnull=True).delete()
        raise
    if not 200 <= response.status_code < 300:
        IdempotencyRecord.objects.filter(pk=record.pk).delete()
    return response
