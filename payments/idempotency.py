"""`Idempotency-Key` for POSTs that move money, report outcomes or create leases: the one
mechanism of the project (payment reports here, lease requests in warehouses.api).

Reusable by any app: `run_idempotently(owner=..., key=..., fingerprint=..., handler=...)`
where `handler()` returns `(status_code, body)`. `owner_for(api_key=...)` or
`owner_for(user=...)` scopes keys per API key or per signed-in user (session or token).

- The first request under a key inserts an `in_flight` row and commits it at once, so a
  concurrent duplicate finds it (waiting on the unique index if needed) and answers 409.
- When the handler finishes, its status and body are stored (`done`) and any later request
  with the same key and the same fingerprint (method + path + body) replays them.
- The same key with a different fingerprint answers 422.
- The handler's work and its stored response commit in one transaction: a crash between
  them cannot leave work done under a key a retry could reuse.
- A handler that raises a domain error stores that error response too (replayed as-is),
  unless `store_errors=False`: then the key is freed and a retry runs again (leases);
  an unexpected exception removes the row, so the client can retry with the same key.
- An `in_flight` row older than IN_FLIGHT_TIMEOUT (a crashed request) may be taken over.
- Keys are kept IDEMPOTENCY_KEY_RETENTION_HOURS (default 24 h), then purged by beat
  (`payments.purge_idempotency_keys`): a retry that late is a new request.
"""

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from config.db import all_or_nothing
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


def fingerprint_data(*, method: str, path: str, data) -> str:
    """Fingerprint of parsed JSON data: the same payload with other spacing or key order
    counts as the same request."""
    body = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str).encode()
    return fingerprint(method=method, path=path, body=body)


def owner_for(*, api_key=None, user=None) -> str:
    """'key:<prefix>' for an API key, else 'user:<id>' for a signed-in user (session or token)."""
    if api_key is not None:
        return f"key:{api_key.prefix}"
    if user is None or not getattr(user, "is_authenticated", False) or user.pk is None:
        raise ValueError("An Idempotency-Key belongs to an API key or a signed-in user.")
    return f"user:{user.pk}"


def retention() -> timedelta:
    return timedelta(hours=settings.ENTREPOT["PAYMENTS"].get("IDEMPOTENCY_KEY_RETENTION_HOURS", 24))


def purge_expired_keys(*, now=None, batch_size: int = 5000) -> int:
    """Delete keys created more than the retention ago (in batches); returns how many."""
    cutoff = (now or timezone.now()) - retention()
    total = 0
    while True:
        ids = list(IdempotencyKey.objects.filter(created_at__lt=cutoff).values_list("pk", flat=True)[:batch_size])
        if not ids:
            return total
        total += IdempotencyKey.objects.filter(pk__in=ids).delete()[0]


def _claim(owner: str, key: str, print_: str) -> IdempotencyKey | tuple[int, dict]:
    """Insert the in-flight row, or return the stored (status, body) to replay."""
    try:
        with transaction.atomic():
            return IdempotencyKey.objects.create(owner=owner, key=key, fingerprint=print_)
    except IntegrityError:
        pass
    with transaction.atomic():
        return _existing(owner, key, print_)


def _existing(owner: str, key: str, print_: str) -> IdempotencyKey | tuple[int, dict]:
    """Under the row's lock: the stored (status, body) to replay, a 422 for another body, a
    409 while the first request is in flight, or the row of a crashed request to take over."""
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


def _checked_key(key: str) -> str:
    key = (key or "").strip()
    if not key:
        raise errors.IdempotencyKeyRequired()
    if len(key) > MAX_KEY_LENGTH:
        raise errors.IdempotencyKeyRequired(
            f"An Idempotency-Key has at most {MAX_KEY_LENGTH} characters.", code="idempotency_key_too_long"
        )
    if not key.isprintable():  # control characters (a NUL cannot even be stored): bad input, not a 500
        raise errors.IdempotencyKeyRequired(
            "An Idempotency-Key is printable text such as a UUID.", code="idempotency_key_invalid"
        )
    return key


def run_idempotently(
    *,
    owner: str,
    key: str,
    fingerprint: str,
    handler: Callable[[], tuple[int, dict]],
    error_response=None,
    store_errors: bool = True,
) -> tuple[int, dict, bool]:
    """Returns (status, body, replayed). `error_response(exc) -> (status, body)` renders a
    domain error raised by the handler, so that it is stored and replayed like success;
    with `store_errors=False` (or no error_response) the error frees the key and propagates."""
    key = _checked_key(key)
    claimed = _claim(owner, key, fingerprint)
    if isinstance(claimed, tuple):
        return claimed[0], claimed[1], True
    try:
        with transaction.atomic():
            status, body = handler()
            _complete(claimed.pk, status, body)
        return status, body, False
    except DomainError as exc:
        if isinstance(exc, Busy) or not store_errors or error_response is None:
            _release(claimed.pk)
            raise
        status, body = error_response(exc)
    except BaseException:
        _release(claimed.pk)
        raise
    _complete(claimed.pk, status, body)
    return status, body, False


def _complete(pk: int, status: int, body) -> None:
    IdempotencyKey.objects.filter(pk=pk).update(
        status=IdempotencyKey.Status.DONE, response_status=status, response_body=body, completed_at=timezone.now()
    )


def _release(pk: int) -> None:
    IdempotencyKey.objects.filter(pk=pk, status=IdempotencyKey.Status.IN_FLIGHT).delete()


def run_in_one_transaction(
    *, owner: str, key: str, fingerprint: str, handler: Callable[[], tuple[int, dict]]
) -> tuple[int, dict, bool]:
    """`run_idempotently(..., store_errors=False)` for a hot POST (lease requests): the key
    is claimed inside the work's own transaction, one INSERT ... ON CONFLICT DO NOTHING,
    and completed by one UPDATE before the single commit. A duplicate sent while the first
    is still running waits for it on the unique index, then replays its answer (or runs, if
    the first failed: a handler's error rolls the claim back with the work, freeing the
    key). Returns (status, body, replayed)."""
    key = _checked_key(key)
    with all_or_nothing():  # an error anywhere frees the key with the work: no savepoints inside
        with connection.cursor() as cursor:
            cursor.execute(
                _sql("claim"),
                _prepared(
                    CLAIM_FIELDS,
                    owner=owner,
                    key=key,
                    fingerprint=fingerprint,
                    status=IdempotencyKey.Status.IN_FLIGHT,
                    created_at=timezone.now(),
                ),
            )
            claimed = cursor.fetchone()
        if claimed is None:
            existing = _existing(owner, key, fingerprint)
            if isinstance(existing, tuple):
                return existing[0], existing[1], True
            pk = existing.pk  # a crashed request's key, taken over
        else:
            pk = claimed[0]
        status, body = handler()
        with connection.cursor() as cursor:
            cursor.execute(
                _sql("complete"),
                [
                    *_prepared(
                        COMPLETE_FIELDS,
                        status=IdempotencyKey.Status.DONE,
                        response_status=status,
                        response_body=body,
                        completed_at=timezone.now(),
                    ),
                    pk,
                ],
            )
    return status, body, False


CLAIM_FIELDS = ("owner", "key", "fingerprint", "status", "created_at")
COMPLETE_FIELDS = ("status", "response_status", "response_body", "completed_at")
_sql_cache: dict[str, str] = {}


def _sql(name: str) -> str:
    """The claim and complete statements, built once from the model (the ORM would compile
    them on every request)."""
    if name not in _sql_cache:
        meta = IdempotencyKey._meta
        column = {f.name: f.column for f in meta.concrete_fields}
        if name == "claim":
            unique = ", ".join(column[n] for n in meta.constraints[0].fields)
            _sql_cache[name] = (
                f"INSERT INTO {meta.db_table} ({', '.join(column[n] for n in CLAIM_FIELDS)}) "
                f"VALUES ({', '.join(['%s'] * len(CLAIM_FIELDS))}) "
                f"ON CONFLICT ({unique}) DO NOTHING RETURNING {meta.pk.column}"
            )
        else:
            assignments = ", ".join(f"{column[n]} = %s" for n in COMPLETE_FIELDS)
            _sql_cache[name] = f"UPDATE {meta.db_table} SET {assignments} WHERE {meta.pk.column} = %s"
    return _sql_cache[name]


def _prepared(names: tuple[str, ...], **values) -> list:
    """Values in the statement's column order, prepared by the model's fields as a save would."""
    field = IdempotencyKey._meta.get_field
    return [field(n).get_db_prep_save(values[n], connection) for n in names]
