"""core.idempotency as the one Idempotency-Key mechanism: owners (API key or user),
purging after the retention, and errors that free the key when asked to."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from core import idempotency
from core.errors import InvalidInput
from core.models import IdempotencyKey
from payments.tasks import purge_idempotency_keys_task
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _aged(key: str, hours: float) -> IdempotencyKey:
    row = IdempotencyKey.objects.create(owner="user:1", key=key, fingerprint="f")
    IdempotencyKey.objects.filter(pk=row.pk).update(created_at=timezone.now() - timedelta(hours=hours))
    return row


def test_keys_older_than_the_retention_are_purged(settings):
    _aged("old", 25)
    _aged("fresh", 23)
    assert purge_idempotency_keys_task() == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["fresh"]
    settings.ENTREPOT = {
        **settings.ENTREPOT,
        "IDEMPOTENCY_KEY_RETENTION_HOURS": 12,
    }
    assert purge_idempotency_keys_task() == 1
    assert not IdempotencyKey.objects.exists()


def test_a_purged_key_runs_again_as_a_new_request():
    calls = []

    def handler():
        calls.append(1)
        return 201, {"n": len(calls)}

    args = {"owner": "user:7", "key": "k", "fingerprint": "f", "handler": handler}
    assert idempotency.run_idempotently(**args) == (201, {"n": 1}, False)
    assert idempotency.run_idempotently(**args) == (201, {"n": 1}, True)
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(days=2))
    idempotency.purge_expired_keys()
    assert idempotency.run_idempotently(**args) == (201, {"n": 2}, False)


def test_owner_is_an_api_key_or_a_signed_in_user():
    user = UserFactory()
    assert idempotency.owner_for(user=user) == f"user:{user.pk}"
    with pytest.raises(ValueError):
        idempotency.owner_for(user=AnonymousUser())


def test_errors_free_the_key_when_not_stored():
    def refuse():
        raise InvalidInput("no", code="nope")

    with pytest.raises(InvalidInput):
        idempotency.run_idempotently(owner="user:1", key="k", fingerprint="f", handler=refuse, store_errors=False)
    assert not IdempotencyKey.objects.exists()
    stored = idempotency.run_idempotently(
        owner="user:1", key="k", fingerprint="f", handler=refuse, error_response=lambda exc: (400, {"code": exc.code})
    )
    assert stored == (400, {"code": "nope"}, False)
    assert IdempotencyKey.objects.get().response_status == 400


def test_the_stored_answer_commits_with_the_work():
    """A handler's writes and its stored answer are one transaction: if storing the answer
    fails, the work is rolled back too and the key is free."""
    user = UserFactory()

    def handler():
        UserFactory(username="made-by-handler")
        return 201, {"bad": object()}  # cannot be stored as JSON

    with pytest.raises(TypeError):
        idempotency.run_idempotently(owner=f"user:{user.pk}", key="k", fingerprint="f", handler=handler)
    from django.contrib.auth import get_user_model

    assert not get_user_model().objects.filter(username="made-by-handler").exists()
    assert not IdempotencyKey.objects.exists()
