"""Idempotent payment reports over HTTP (core.idempotency behind the payments API): copies
of one request sent at once on real connections."""

import pytest

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
