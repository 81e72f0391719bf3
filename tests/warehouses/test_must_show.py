"""Issue 5's "must show" items that other files left open: half-open dates in search, the
last unit over the API, a hold's expiry giving units back to search, bad input that
leaves the ledger exactly as it was, and the "404, not 403" permission matrix over the
dispute endpoints and every lease, transfer, dispute and escrow web page."""

import uuid
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from core.errors import DomainError
from payments.models import Dispute, EscrowTransaction
from tests.factories import RegulatorFactory, StaffFactory
from tests.payments.escrow_helpers import fund_lease, make_escrow_institution
from tests.warehouses.conftest import make_member
from warehouses.models import CapacityDay, Lease, LeaseTransfer, Listing
from warehouses.services import escrow as escrow_services
from warehouses.services import leases, transfers

pytestmark = pytest.mark.django_db
API = "/api/v1/warehouses"


def post_lease(client, body):
    return client.post(f"{API}/leases/", body, format="json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))


def ledger(listing) -> dict:
    return dict(CapacityDay.objects.filter(listing=listing).values_list("day", "reserved"))


def found(api_client, listing, start, end, units=1) -> bool:
    params = {"start": str(start), "end": str(end), "units": units, "country": "NL"}
    body = api_client.get(f"{API}/listings/", params).json()
    return listing.pk in {r["id"] for r in body["results"]}


# --- Date semantics and hold expiry, seen through search --------------------------------------


def test_search_is_half_open_and_an_expired_hold_gives_the_units_back(api_client, merchant, make_listing):
    listing = make_listing(units=10)
    d = listing.available_from
    held = leases.request_lease(
        actor=merchant, tenant_id=merchant.subject.pk, listing_id=listing.pk, units=10, start=d, end=d + timedelta(3)
    )
    assert held.status == Lease.Status.HELD
    assert not found(api_client, listing, d, d + timedelta(days=1))
    assert not found(api_client, listing, d + timedelta(days=2), d + timedelta(days=4))  # overlaps the last day
    assert found(api_client, listing, d + timedelta(days=3), d + timedelta(days=5))  # the end day is free
    assert found(api_client, listing, d - timedelta(days=1), d) is False  # before the window: not offered
    # The last offered day is the day before available_until.
    last = listing.available_until - timedelta(days=1)
    assert found(api_client, listing, last, listing.available_until)
    assert not found(api_client, listing, last, listing.available_until + timedelta(days=1))

    with time_machine.travel(timezone.now() + timedelta(hours=24, seconds=1), tick=False):
        assert leases.expire_holds() == 1
    assert found(api_client, listing, d, d + timedelta(days=3), units=10)
    assert set(ledger(listing).values()) == {0}


# --- Capacity boundaries over the API ----------------------------------------------------------


def test_the_last_unit_is_leased_and_one_more_is_refused_over_the_api(
    client_for, merchant, other_merchant, make_listing
):
    listing = make_listing(units=10, booking_mode="instant")
    d = listing.available_from
    body = {"listing": listing.pk, "start": str(d), "end": str(d + timedelta(days=2))}
    assert post_lease(client_for(merchant), {**body, "units": 9}).status_code == 201
    last = post_lease(client_for(other_merchant), {**body, "units": 1})
    assert last.status_code == 201, last.json()
    before = ledger(listing)
    assert max(before.values()) == 10
    refused = post_lease(client_for(other_merchant), {**body, "units": 1})
    assert refused.status_code == 409 and "units" in refused.json()["errors"]
    # A day after the busy ones still has room (half-open): the same request moved by 2 days.
    moved = {**body, "start": str(d + timedelta(days=2)), "end": str(d + timedelta(days=3)), "units": 10}
    assert post_lease(client_for(other_merchant), moved).status_code == 201
    assert Lease.objects.count() == 3
    assert {day: n for day, n in ledger(listing).items() if day < d + timedelta(days=2)} == {
        day: n for day, n in before.items() if day < d + timedelta(days=2)
    }


# --- Bad input: 400 with field errors, the ledger exactly as it was ------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"end": -1}, "end"),
        ({"end": 0}, "end"),
        ({"units": 0}, "units"),
        ({"units": -1}, "units"),
        ({"units": "1.5"}, "units"),
        ({"start": -2, "end": 1}, "start"),  # starts before the window
        ({"start": 58, "end": 61}, "start"),  # ends after the window
        ({"start": -400, "end": -398}, "start"),  # in the past
    ],
)
def test_bad_lease_requests_leave_the_ledger_exactly_as_it_was(
    client_for, merchant, other_merchant, listing, change, field
):
    d = listing.available_from
    leases.request_lease(
        actor=other_merchant,
        tenant_id=other_merchant.subject.pk,
        listing_id=listing.pk,
        units=7,
        start=d,
        end=d + timedelta(days=4),
    )
    before, count = ledger(listing), Lease.objects.count()
    body = {
        "listing": listing.pk,
        "units": change.get("units", 5),
        "start": str(d + timedelta(days=change.get("start", 1))),
        "end": str(d + timedelta(days=change.get("end", 3))),
    }
    response = post_lease(client_for(merchant), body)
    assert response.status_code == 400, response.json()
    assert response["Content-Type"] == "application/problem+json"
    assert field in response.json()["errors"]
    assert ledger(listing) == before
    assert Lease.objects.count() == count


def test_bad_listing_input_is_400_and_writes_no_listing_or_ledger(client_for, operator, warehouse, today):
    base = {
        "warehouse": warehouse.pk,
        "title": "x",
        "units": 10,
        "available_from": str(today + timedelta(days=1)),
        "available_until": str(today + timedelta(days=5)),
        "price_per_unit_day": "1.00",
        "currency": "EUR",
    }
    for change, field in (
        ({"currency": "XYZ"}, "currency"),
        ({"currency": "eu"}, "currency"),
        ({"available_until": str(today)}, "available_until"),
        ({"units": 0}, "units"),
        ({"price_per_unit_day": "-1"}, "price_per_unit_day"),
        ({"price_per_unit_day": "0"}, "price_per_unit_day"),
        ({"min_days": 10**12}, "min_days"),
        ({"free_cancellation_days": 10**12}, "free_cancellation_days"),
    ):
        response = client_for(operator).post(f"{API}/listings/", base | change, format="json")
        assert response.status_code == 400, (change, response.content[:300])
        assert field in response.json()["errors"], (change, response.json())
    assert not Listing.objects.exists()
    assert not CapacityDay.objects.exists()


def test_web_booking_with_bad_input_shows_the_error_and_reserves_nothing(merchant, listing):
    web = Client()
    web.force_login(merchant)
    d = listing.available_from
    url = f"/warehouses/listings/{listing.pk}/"
    for data, field in (
        ({"tenant": merchant.subject.pk, "units": 5, "start": d + timedelta(3), "end": d + timedelta(1)}, "end"),
        ({"tenant": merchant.subject.pk, "units": 0, "start": d, "end": d + timedelta(1)}, "units"),
        ({"tenant": merchant.subject.pk, "units": 5, "start": d - timedelta(1), "end": d + timedelta(1)}, "start"),
    ):
        response = web.post(url, data)
        assert response.status_code == 400, data
        assert f'id="id_{field}-error"'.encode() in response.content, data  # the message beside the field
    assert not Lease.objects.exists()
    assert set(ledger(listing).values()) == {0}


# --- Permission matrix: 404, never 403, for anyone outside a lease -----------------------------


@pytest.fixture
def world(merchant, other_merchant, operator, make_listing, today):
    listing = make_listing(start_offset=0, days=60, booking_mode="instant")
    lease = leases.request_lease(
        actor=merchant,
        tenant_id=merchant.subject.pk,
        listing_id=listing.pk,
        units=4,
        start=today,
        end=today + timedelta(days=10),
    )
    institution = make_escrow_institution(corridors=(("EUR", "NL"),), legal_name="Matrix Pay BV")
    fund_lease(lease, institution=institution)
    dispute = escrow_services.open_lease_dispute(actor=merchant, lease_id=lease.pk, reason="Damaged pallets")
    # A second, undisputed paid lease carries an open transfer offer.
    offered = leases.request_lease(
        actor=merchant,
        tenant_id=merchant.subject.pk,
        listing_id=listing.pk,
        units=2,
        start=today + timedelta(2),
        end=today + timedelta(days=6),
    )
    recipient = make_member(is_merchant=True, grade="B", legal_name="Recipient GmbH", country="DE")
    transfer = transfers.offer_transfer(
        actor=merchant, lease_id=offered.pk, to_subject_id=recipient.subject.pk, units=1
    )
    return {
        "lease": lease,
        "offered": offered,
        "dispute": dispute,
        "transfer": transfer,
        "institution": institution,
        "listing": listing,
        "roles": {
            "tenant": merchant,
            "operator": operator,
            "recipient": recipient,
            "other_merchant": other_merchant,
            "other_operator": make_member(is_merchant=False, is_warehouse_operator=True, grade="B"),
            "regulator": RegulatorFactory(),
            "staff": StaffFactory(),
        },
    }


OUTSIDERS = ["other_merchant", "other_operator", "regulator"]


def _fmt(template, world):
    return template.format(
        lease=world["lease"].pk,
        offered=world["offered"].pk,
        dispute=world["dispute"].pk,
        transfer=world["transfer"].pk,
        listing=world["listing"].pk,
    )


API_ROWS = [
    # (method, url, body, {role: status}); outsiders (and staff unless named) get 404.
    ("get", "/disputes/{dispute}/", None, {"tenant": 200, "operator": 200, "staff": 200}),
    ("post", "/disputes/{dispute}/resolve/", {"resolution": "payer", "reason": "x"}, {"tenant": 403, "operator": 403}),
    ("get", "/leases/{lease}/", None, {"tenant": 200, "operator": 200}),
    ("get", "/leases/{lease}/reviews/", None, {"tenant": 200, "operator": 200}),
    ("post", "/leases/{lease}/dispute/", {"reason": "again"}, {"tenant": 409, "operator": 409}),
    ("post", "/leases/{lease}/cancel/", {}, {"tenant": 409}),
    # The lease starts today and is paid: the operator checks in (the frozen escrow releases nothing).
    ("post", "/leases/{lease}/check-in/", None, {"operator": 409}),  # the open dispute freezes it
    ("post", "/leases/{lease}/transfers/", {"to_subject": 0, "units": 1}, {"tenant": 400}),
    ("get", "/transfers/{transfer}/", None, {"tenant": 200, "operator": 200, "recipient": 200}),
    ("post", "/transfers/{transfer}/accept/", {}, {"tenant": 400, "operator": 400, "recipient": 400}),
]


@pytest.mark.parametrize(("method", "template", "body", "expected"), API_ROWS, ids=[r[1] for r in API_ROWS])
def test_api_outsiders_get_404_on_every_lease_transfer_dispute_and_escrow_endpoint(
    client_for, world, method, template, body, expected
):
    url = API + _fmt(template, world)
    for role, user in world["roles"].items():
        if role == "staff" and "resolve" in template:
            continue  # staff decide disputes (tested in test_escrow.py); not a visibility question
        client = client_for(user)
        call = getattr(client, method)
        response = call(url, body, format="json") if body is not None else call(url)
        assert response.status_code == expected.get(role, 404), (role, url, response.content[:200])
    pay = client_for(world["roles"]["other_merchant"]).post(
        f"{API}/leases/{world['lease'].pk}/pay/",
        {"institution": world["institution"].pk},
        format="json",
        HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
    )
    assert pay.status_code == 404


def test_api_lists_show_outsiders_nothing(client_for, world):
    for role in OUTSIDERS:
        client = client_for(world["roles"][role])
        for path in ("/leases/", "/transfers/", "/disputes/"):
            assert client.get(API + path).json()["results"] == [], (role, path)


WEB_PAGES = [
    # (method, url, {role: status}); everyone else 404.
    ("get", "/warehouses/leases/{lease}/", {"tenant": 200, "operator": 200}),
    ("get", "/warehouses/leases/{lease}/pay/", {"tenant": 200}),
    ("post", "/warehouses/leases/{lease}/pay/", {"tenant": 400}),
    ("get", "/warehouses/leases/{lease}/dispute/", {"tenant": 200, "operator": 200}),
    ("post", "/warehouses/leases/{lease}/dispute/", {"tenant": 400, "operator": 400}),
    ("get", "/warehouses/leases/{lease}/transfer/", {"tenant": 200}),
    ("get", "/warehouses/leases/{lease}/review/", {"tenant": 200, "operator": 200}),
    ("post", "/warehouses/leases/{lease}/cancel/", {"tenant": 302}),
    ("post", "/warehouses/leases/{lease}/check-in/", {"operator": 302}),  # the tenant has no such action
    ("get", "/warehouses/disputes/{dispute}/", {"tenant": 200, "operator": 200, "staff": 200}),
    ("post", "/warehouses/disputes/{dispute}/", {"staff": 400}),
    ("post", "/warehouses/transfers/{transfer}/accept/", {"recipient": 400}),
    ("post", "/warehouses/transfers/{transfer}/decline/", {"recipient": 302, "operator": 302, "tenant": 302}),
    ("get", "/warehouses/mine/listings/{listing}/", {"operator": 200}),
]


@pytest.mark.parametrize(("method", "template", "expected"), WEB_PAGES, ids=[f"{m} {t}" for m, t, _ in WEB_PAGES])
def test_web_outsiders_get_404_on_every_lease_transfer_dispute_and_escrow_page(world, method, template, expected):
    url = _fmt(template, world)
    for role, user in world["roles"].items():
        web = Client()
        web.force_login(user)
        response = getattr(web, method)(url, {} if method == "post" else None)
        want = expected.get(role, 404)
        assert response.status_code == want, (role, url, response.status_code)
    # Nothing an outsider tried changed anything.
    assert Dispute.objects.get(pk=world["dispute"].pk).status == "open"
    assert LeaseTransfer.objects.get(pk=world["transfer"].pk).status in ("offered", "declined")
    assert EscrowTransaction.objects.filter(kind="hold").count() == 1


# --- Transfer rules: the same gate as a new tenant ---------------------------------------------


def test_a_lease_cannot_be_transferred_to_the_listings_own_operator(merchant, operator, make_listing, today):
    listing = make_listing(start_offset=0, booking_mode="instant", transfer_requires_consent=False)
    lease = leases.request_lease(
        actor=merchant,
        tenant_id=merchant.subject.pk,
        listing_id=listing.pk,
        units=4,
        start=today + timedelta(days=1),
        end=today + timedelta(days=5),
    )
    institution = make_escrow_institution()
    with pytest.raises(DomainError) as exc:
        transfer = transfers.offer_transfer(
            actor=merchant, lease_id=lease.pk, to_subject_id=operator.subject.pk, units=2
        )
        transfers.accept_transfer(actor=operator, transfer_id=transfer.pk, institution_id=institution.pk)
    assert exc.value.field_errors == {"to_subject": ["A lease cannot be transferred to the operator of its listing."]}
    assert not Lease.objects.filter(tenant=operator.subject).exists()
