"""A lease request's Idempotency-Key, stored with its answer in the lease's own transaction:
retries and concurrent copies of one request make one lease and all get its answer."""

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest
from rest_framework.authtoken.models import Token

from payments.models import IdempotencyKey
from warehouses.models import CapacityDay, Lease

LEASES = "/api/v1/warehouses/leases/"


def post(client, body, key):
    return client.post(LEASES, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


@pytest.mark.django_db
def test_a_retry_that_finds_the_units_taken_by_its_own_first_attempt_gets_that_answer(
    client_for, merchant, make_listing
):
    listing = make_listing(units=5)
    d = listing.available_from
    body = {"listing": listing.pk, "units": 5, "start": str(d), "end": str(d + timedelta(days=3))}
    client = client_for(merchant)
    first = post(client, body, "all-five")
    assert first.status_code == 201
    # The listing is full now: run again, the request would be refused; the key replays.
    retry = post(client, body, "all-five")
    assert retry.status_code == 201
    assert retry["Idempotent-Replayed"] == "true"
    assert retry.json() == first.json()
    assert Lease.objects.filter(listing=listing).count() == 1
    assert CapacityDay.objects.get(listing=listing, day=d).reserved == 5
    # Another request with a fresh key is refused as usual, and stores nothing.
    other = post(client, body, "fresh")
    assert other.status_code == 409
    assert other.json()["code"] == "not_enough_capacity"
    assert not IdempotencyKey.objects.filter(key="fresh").exists()


@pytest.mark.django_db
def test_a_key_used_for_another_body_is_422_even_when_the_new_body_would_succeed(client_for, merchant, make_listing):
    listing = make_listing(units=10)
    d = listing.available_from
    client = client_for(merchant)
    body = {"listing": listing.pk, "units": 2, "start": str(d), "end": str(d + timedelta(days=3))}
    assert post(client, body, "k").status_code == 201
    other = post(client, {**body, "units": 3}, "k")
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert Lease.objects.filter(listing=listing).count() == 1
    assert CapacityDay.objects.get(listing=listing, day=d).reserved == 2  # the second one's work rolled back


@pytest.mark.django_db(transaction=True)
def test_concurrent_copies_of_one_request_make_one_lease_and_all_get_its_answer(live_server, merchant, make_listing):
    listing = make_listing(units=100)
    d = listing.available_from
    token = Token.objects.create(user=merchant).key
    body = {"listing": listing.pk, "units": 3, "start": str(d), "end": str(d + timedelta(days=4))}
    headers = {"Authorization": f"Token {token}", "Idempotency-Key": str(uuid.uuid4())}
    copies = 8
    barrier = threading.Barrier(copies)

    def send(_):
        with httpx.Client(timeout=60) as http:
            barrier.wait()
            return http.post(f"{live_server.url}{LEASES}", json=body, headers=headers)

    with ThreadPoolExecutor(copies) as pool:
        answers = list(pool.map(send, range(copies)))

    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1
    assert sum(a.headers.get("Idempotent-Replayed") == "true" for a in answers) == copies - 1
    assert Lease.objects.filter(listing=listing).count() == 1
    assert CapacityDay.objects.get(listing=listing, day=d).reserved == 3
