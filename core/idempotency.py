"""`Idempotency-Key` for POSTs that move money, report outcomes or create leases: the one
mechanism of the project (payment reports and escrow payments in payments.api, lease
requests and lease payments in warehouses.api).

Reusable by any app: `run_idempotently(owner=..., key=..., fingerprint=..., handler=...)`
where `handler()` returns `(status_code, body)`. `owner_for(api_key=...)` or
`owner_for(user=...)` scopes keys per API key or per signed-in user (session or token).

- The first request under a key inserts an `in_flight` row and commits it at once, so a
  concurrent duplicate finds it (waiting on the unique index if needed) and answers 409.
  A duplicate that finds the row gone when it reads it (the first copy failed and freed
  the key) claims the key itself and runs: a race never answers 500.
- When the handler finishes, its status and body are stored (`done`) and any later request
  with the same key and the same fingerprint (method + path + body) replays them.
- The same key with a different fingerprint answers 422.
- The handler's work and its stored response commit in one transaction: a crash between
  them cannot leave work done under a key a retry could reuse.
- A handler that raises a domain error stores that error response too (replayed as-is),
  unless `store_errors=False`: then the key is freed and a retry runs again (leases);
  an unexpected exception removes the row, so the client can retry with the same key.
- An `in_flight` row older than IN_FLIGHT_TIMEOUT (a crashed request) may be taken over.
- `run_in_one_transaction` is the lean form for lease requests: the work and the key,
  stored with its answer at the end, commit together; a key taken already rolls the
  work back and replays the stored answer (see its docstring).
- Keys are kept IDEMPOTENCY_KEY_RETENTION_HOURS (default 24 h), then purged by beat
  (the task `payments.purge_idempotency_keys`): a retry that late is a new request.
"""

import functools
import hashlib
import json
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from core.db import all_or_nothing
from core.errors import Busy, DomainError, IdempotencyInFlight, IdempotencyKeyRequired, IdempotencyKeyReused
from core.models import IdempotencyKey

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
    return timedelta(hours=settings.ENTREPOT.get("IDEMPOTENCY_KEY_RETENTION_HOURS", 24))


def purge_expired_keys(*, now=None, batch_size: int = 5000) -> int:
    """Delete keys created more than the retention ago (in batches); returns how many."""
    cutoff = (now or timezone.now()) - retention()
    total = 0
    while True:
        ids = list(IdempotencyKey.objects.filter(created_at__lt=cutoff).values_list("pk", flat=True)[:batch_size])
        if not ids:
            return total
        total += IdempotencyKey.objects.filter(pk__in=ids).delete()[0]


CLAIM_ATTEMPTS = 3


def _claim(owner: str, key: str, print_: str) -> IdempotencyKey | tuple[int, dict]:
    """Insert the in-flight row, or return the stored (status, body) to replay.

    The row found taken may be gone by the time it is read: the copy that held it failed
    and freed the key (or it was purged). The key is free then, so this copy claims it
    again and runs; only a key that keeps changing hands answers 409."""
    for _attempt in range(CLAIM_ATTEMPTS):
        try:
            with transaction.atomic():
                return IdempotencyKey.objects.create(owner=owner, key=key, fingerprint=print_)
        except IntegrityError:
            pass
        with transaction.atomic():
            existing = IdempotencyKey.objects.select_for_update(of=("self",)).filter(owner=owner, key=key).first()
            if existing is None:
                continue
            if existing.fingerprint != print_:
                raise IdempotencyKeyReused()
            if existing.status == IdempotencyKey.Status.DONE:
                return existing.response_status, existing.response_body
            if existing.created_at > timezone.now() - IN_FLIGHT_TIMEOUT:
                raise IdempotencyInFlight()
            existing.created_at = timezone.now()
            existing.save(update_fields=["created_at"])
            return existing
    raise IdempotencyInFlight()


def _checked_key(key: str) -> str:
    key = (key or "").strip()
    if not key:
        raise IdempotencyKeyRequired()
    if len(key) > MAX_KEY_LENGTH:
        raise IdempotencyKeyRequired(
            f"An Idempotency-Key has at most {MAX_KEY_LENGTH} characters.", code="idempotency_key_too_long"
        )
    if not key.isprintable():  # control characters (a NUL cannot even be stored): bad input, not a 500
        raise IdempotencyKeyRequired(
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


class _AnsweredAlready(Exception):
    """Another request under the same key committed first: roll this one's work back."""


def run_in_one_transaction(
    *, owner: str, key: str, fingerprint: str, handler: Callable[[], tuple[int, dict]]
) -> tuple[int, dict, bool]:
    """`run_idempotently(..., store_errors=False)` for a hot POST (lease requests), in one
    transaction and one statement of its own: the handler's work, then the key stored with
    its answer (INSERT ... ON CONFLICT DO NOTHING), then the commit.

    When the key is taken already (a retry of a request that succeeded, or a copy sent
    while the first was still running and committed first), this request's work is rolled
    back and the stored answer replayed; a handler that refuses (a domain error) looks the
    key up too, so a retry that finds the units gone to its own first attempt still gets
    that answer. Another body under the key: 422; a key a two-phase request
    (`run_idempotently`) still holds in flight: 409. A refusal stores nothing, so a retry
    runs again. Returns (status, body, replayed)."""
    key = _checked_key(key)
    try:
        with all_or_nothing():  # an error anywhere rolls the work back: no savepoints inside
            status, body = handler()
            now = timezone.now()
            values = dict(owner=owner, key=key, fingerprint=fingerprint, status=IdempotencyKey.Status.DONE)
            values |= dict(response_status=status, response_body=body, created_at=now, completed_at=now)
            with connection.cursor() as cursor:
                cursor.execute(store_sql(), _prepared(STORE_FIELDS, **values))
                if cursor.fetchone() is None:
                    raise _AnsweredAlready()
        return status, body, False
    except _AnsweredAlready:
        pass
    except DomainError:
        if not IdempotencyKey.objects.filter(owner=owner, key=key).exists():
            raise
    return (*_stored_answer(owner, key, fingerprint), True)


def _stored_answer(owner: str, key: str, print_: str) -> tuple[int, dict]:
    existing = IdempotencyKey.objects.filter(owner=owner, key=key).first()
    if existing is None:  # purged in between: the client may send it again
        raise IdempotencyInFlight()
    if existing.fingerprint != print_:
        raise IdempotencyKeyReused()
    if existing.status != IdempotencyKey.Status.DONE:
        raise IdempotencyInFlight()
    return existing.response_status, existing.response_body


STORE_FIELDS = (
    "owner",
    "key",
    "fingerprint",
    "status",
    "response_status",
    "response_body",
    "created_at",
    "completed_at",
)


@functools.cache
def store_sql() -> str:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING id, built once from the model (the ORM
    would compile it on every request)."""
    meta = IdempotencyKey._meta
    column = {f.name: f.column for f in meta.concrete_fields}
    (constraint,) = [c for c in meta.constraints if c.name == "idempotency_unique_owner_key"]
    unique = ", ".join(column[n] for n in constraint.fields)
    return (
        f"INSERT INTO {meta.db_table} ({', '.join(column[n] for n in STORE_FIELDS)}) "
        f"VALUES ({', '.join(['%s'] * len(STORE_FIELDS))}) "
        f"ON CONFLICT ({unique}) DO NOTHING RETURNING {meta.pk.column}"
    )


def _prepared(names: tuple[str, ...], **values) -> list:
    """Values in the statement's column order, prepared by the model's fields as a save would."""
    field = IdempotencyKey._meta.get_field
    return [field(n).get_db_prep_save(values[n], connection) for n in names]
