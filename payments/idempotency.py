"""`Idempotency-Key` for POSTs that move money, report outcomes or create leases.

Reusable by any app: `run_idempotently(owner=..., key=..., fingerprint=..., handler=...)`
where `handler()` returns `(status_code, body)`.

- The first request under a key inserts an `in_flight` row and commits it at once, so a
  concurrent duplicate finds it (waiting on the unique index if needed) and answers 409.
- When the handler finishes, its status and body are stored (`done`) and any later request
  with the same key and the same fingerprint (method + path + body) replays them.
- The same key with a different fingerprint answers 422.
- A handler that raises a domain error stores that error response too (replayed as-is);
  an unexpected exception removes the row, so the client can retry with the same key.
- An `in_flight` row older than IN_FLIGHT_TIMEOUT (a crashed request) may be taken over.
"""

import hashlib
from collections.abc import Callable
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from credit.errors import Busy, DomainError
from payments import errors
from payments.models import IdempotencyKey

IN_FLIGHT_TIMEOUT = timedelta(minutes=5)
MAX_KEY_LENGTH = 255


def fingerprint(*, method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.upper().encode(), b"\n", path.encode(), b"\n", body):
        digest.update(part)
    return digest.hexdigest()


def owner_for(*, api_key=None, user=None) -> str:
    if api_key is not None:
        return f"key:{api_key.prefix}"
    return f"user:{user.pk}"


def _claim(owner: str, key: str, print_: str) -> IdempotencyKey | tuple[int, dict]:
    """Insert the in-flight row, or return the stored (status, body) to replay."""
    try:
        with transaction.atomic():
            return IdempotencyKey.objects.create(owner=owner, key=key, fingerprint=print_)
    except IntegrityError:
        pass
    with transaction.atomic():
        existing = IdempotencyKey.objects.select_for_update(of=("self",)).get(owner=owner, key=key)
        if existing.fingerprint != print_:
            raise errors.IdempotencyKeyReused()
        if existing.status == IdempotencyKey.Status.DONE:
            return existing.response_status, existing.response_body
        if existing.created_at > timezone.now() - IN_FLIGHT_TIMEOUT:
            raise errors.IdempotencyInFlight()
        existing.created_at = timezone.now()
        existing.save(update_fields=["created_at"])
        return existing


def run_idempotently(
    *, owner: str, key: str, fingerprint: str, handler: Callable[[], tuple[int, dict]], error_response
) -> tuple[int, dict, bool]:
    """Returns (status, body, replayed). `error_response(exc) -> (status, body)` renders a
    domain error raised by the handler, so that it is stored and replayed like success."""
    key = (key or "").strip()
    if not key:
        raise errors.IdempotencyKeyRequired()
    if len(key) > MAX_KEY_LENGTH:
        raise errors.IdempotencyKeyRequired(
            f"An Idempotency-Key has at most {MAX_KEY_LENGTH} characters.", code="idempotency_key_too_long"
        )
    claimed = _claim(owner, key, fingerprint)
    if isinstance(claimed, tuple):
        return claimed[0], claimed[1], True
    try:
        status, body = handler()
    except Busy:
        IdempotencyKey.objects.filter(pk=claimed.pk, status=IdempotencyKey.Status.IN_FLIGHT).delete()
        raise
    except DomainError as exc:
        status, body = error_response(exc)
    except BaseException:
        IdempotencyKey.objects.filter(pk=claimed.pk, status=IdempotencyKey.Status.IN_FLIGHT).delete()
        raise
    IdempotencyKey.objects.filter(pk=claimed.pk).update(
        status=IdempotencyKey.Status.DONE, response_status=status, response_body=body, completed_at=timezone.now()
    )
    return status, body, False
