"""payments.idempotency as the one Idempotency-Key mechanism: owners (API key or user),
purging after the retention, and errors that free the key when asked to."""

from datetime import timedelta

import pytest
from core.models import IdempotencyKey
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from credit.errors import InvalidInput
from payments import idempotency
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
        "PAYMENTS": {**settings.ENTREPOT["PAYMENTS"], "IDEMPOTENCY_KEY_RETENTION_HOURS": 12},
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


# --- Concurrent copies on real connections ---------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("first_copy", ["succeeds", "fails"])
def test_concurrent_copies_of_a_payment_report_get_one_answer_or_409(live_server, institution_key, first_copy):
    """Eight clients send one payment report at once, several rounds: one report is made
    (or none, for a report about an unknown subject), and every answer is that one answer
    (replayed) or 409 in flight, never a 500."""
    import threading
    import uuid
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    from payments.models import PaymentReport
    from tests.factories import SubjectFactory

    subject = SubjectFactory()
    subject_id = subject.pk if first_copy == "succeeds" else subject.pk + 10_000
    copies, rounds = 8, 4
    answers = []
    for n in range(rounds):
        body = {
            "subject_id": subject_id,
            "outcome": "paid_on_time",
            "payment_reference": f"race-{n}",
            "occurred_at": "2026-01-05T10:00:00Z",
        }
        headers = {"Authorization": f"Api-Key {institution_key[1]}", "Idempotency-Key": str(uuid.uuid4())}
        barrier = threading.Barrier(copies)

        def send(_, body=body, headers=headers, barrier=barrier):
            with httpx.Client(timeout=60) as http:
                barrier.wait()
                return http.post(f"{live_server.url}/api/v1/payment-reports/", json=body, headers=headers)

        with ThreadPoolExecutor(copies) as pool:
            round_answers = list(pool.map(send, range(copies)))
        first = [a for a in round_answers if a.status_code != 409]
        assert first, [a.text for a in round_answers]
        assert all(a.json() == first[0].json() for a in first)  # one answer, replayed to every copy that got one
        answers += round_answers

    assert all(a.headers["Retry-After"] == "1" for a in answers if a.status_code == 409)
    seen = {(a.status_code, a.json().get("code")) for a in answers}
    expected = {(201, None)} if first_copy == "succeeds" else {(404, "subject_not_found")}
    assert seen <= expected | {(409, "idempotency_in_flight")}, seen
    assert PaymentReport.objects.count() == (rounds if first_copy == "succeeds" else 0)
