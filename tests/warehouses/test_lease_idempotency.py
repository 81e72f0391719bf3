"""A lease request's Idempotency-Key, stored with its answer in the lease's own transaction:
retries and concurrent copies of one request make one lease and all get its answer."""

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest
from rest_framework.authtoken.models import Token

from core.models import IdempotencyKey
from warehouses.models import CapacityDay, Lease
from warehouses.services import leases

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


# --- Races where the first copy fails -------------------------------------------------------


def _send_in_background(pool, url, *, body, headers):
    def send():
        with httpx.Client(timeout=60) as http:
            return http.post(url, json=body, headers=headers)

    return pool.submit(send)


@pytest.mark.django_db(transaction=True)
def test_a_copy_that_finds_the_key_freed_by_its_failed_first_copy_runs_itself_never_500(
    live_server, merchant, make_listing
):
    """Two clients send one payment (same key, same body). The first claims the key, then
    fails (the institution cannot take the payment) and frees it, just as the second found
    it taken and was about to read it. The interleaving is lined up with row locks held by
    this test: the second must answer like the first (the documented refusal), not 500."""
    from django.db import connection, connections, transaction

    from tests.payments.escrow_helpers import make_escrow_institution, wait_until_blocked

    listing = make_listing(units=10, booking_mode="instant")
    d = listing.available_from
    lease = leases.request_lease(
        actor=merchant,
        tenant_id=merchant.subject.pk,
        listing_id=listing.pk,
        units=2,
        start=d,
        end=d + timedelta(days=3),
    )
    assert lease.status == "approved"
    refusing = make_escrow_institution(corridors=(("EUR", "DE"),), legal_name="No NL Corridor GmbH")
    token = Token.objects.create(user=merchant).key
    key = str(uuid.uuid4())
    url = f"{live_server.url}{LEASES}{lease.pk}/pay/"
    request = {
        "body": {"institution": refusing.pk},
        "headers": {"Authorization": f"Token {token}", "Idempotency-Key": key},
    }
    key_holder = connections.create_connection("default")
    with ThreadPoolExecutor(2) as pool:
        with transaction.atomic():
            Lease.objects.select_for_update().get(pk=lease.pk)
            first = _send_in_background(pool, url, **request)
            wait_until_blocked(1)  # the first copy holds the key (in flight) and waits for the lease
            key_holder.set_autocommit(False)
            with key_holder.cursor() as cursor:
                cursor.execute(f"SELECT id FROM {IdempotencyKey._meta.db_table} WHERE key = %s FOR UPDATE", [key])
                assert cursor.fetchone() is not None
        wait_until_blocked(1)  # the first copy failed and waits to free the key
        second = _send_in_background(pool, url, **request)
        wait_until_blocked(2)  # the second found the key taken and waits to read it
        key_holder.commit()  # the first frees the key; the second reads a row that is gone
        answers = [first.result(), second.result()]
    key_holder.close()
    connection.close()

    assert [a.status_code for a in answers] == [409, 409], [a.text for a in answers]
    assert [a.json()["code"] for a in answers] == ["payment_route_refused"] * 2
    assert all(a.headers["Content-Type"].startswith("application/problem+json") for a in answers)
    assert not IdempotencyKey.objects.filter(key=key).exists()  # a refusal frees the key for a retry


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("endpoint", ["lease", "pay"])
def test_concurrent_copies_of_a_failing_request_get_documented_answers(live_server, merchant, make_listing, endpoint):
    """Eight clients send the same failing request at once, several rounds: every answer is
    the request's own refusal or 409 in flight, never a 500."""
    from tests.payments.escrow_helpers import make_escrow_institution

    listing = make_listing(units=4, booking_mode="instant")
    d = listing.available_from
    token = Token.objects.create(user=merchant).key
    if endpoint == "lease":  # more units than the listing has left
        leases.request_lease(
            actor=merchant, tenant_id=merchant.subject.pk, listing_id=listing.pk, units=3, start=d, end=d + timedelta(3)
        )
        path = LEASES
        body = {"listing": listing.pk, "units": 2, "start": str(d), "end": str(d + timedelta(days=2))}
        refusals = {(409, "not_enough_capacity"), (409, "busy")}
    else:
        lease = leases.request_lease(
            actor=merchant,
            tenant_id=merchant.subject.pk,
            listing_id=listing.pk,
            units=2,
            start=d,
            end=d + timedelta(days=3),
        )
        refusing = make_escrow_institution(corridors=(("EUR", "DE"),), legal_name="No NL Corridor GmbH")
        path, body = f"{LEASES}{lease.pk}/pay/", {"institution": refusing.pk}
        refusals = {(409, "payment_route_refused"), (409, "busy")}
    copies = 8
    answers = []
    for _round in range(5):
        headers = {"Authorization": f"Token {token}", "Idempotency-Key": str(uuid.uuid4())}
        barrier = threading.Barrier(copies)

        def send(_, headers=headers, barrier=barrier):
            with httpx.Client(timeout=60) as http:
                barrier.wait()
                return http.post(f"{live_server.url}{path}", json=body, headers=headers)

        with ThreadPoolExecutor(copies) as pool:
            answers += list(pool.map(send, range(copies)))

    seen = {(a.status_code, a.json().get("code")) for a in answers}
    assert seen <= refusals | {(409, "idempotency_in_flight")}, seen
    assert all(a.headers["Content-Type"].startswith("application/problem+json") for a in answers)
