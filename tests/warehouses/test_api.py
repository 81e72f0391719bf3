"""The warehouse API: search, lease requests with Idempotency-Key, bad input, and the
permission matrix over every endpoint and role."""

import uuid
from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest

from tests.factories import RegulatorFactory, StaffFactory
from tests.payments.escrow_helpers import fund_lease
from tests.warehouses.conftest import make_member
from warehouses.models import CapacityDay, Lease
from warehouses.services import leases
from warehouses.services import listings as listing_services

pytestmark = pytest.mark.django_db

LEASES = "/api/v1/warehouses/leases/"
LISTINGS = "/api/v1/warehouses/listings/"


def post_lease(client, body, key=None):
    return client.post(LEASES, body, format="json", HTTP_IDEMPOTENCY_KEY=key or str(uuid.uuid4()))


# --- Search ------------------------------------------------------------------------------


def test_search_filters_by_free_units_on_every_day_and_quotes_the_total(
    api_client, merchant, other_merchant, make_listing, today
):
    full = make_listing(title="Nearly full", units=50)
    free = make_listing(title="Roomy", units=50, price_per_unit_day=Decimal("2"))
    d = full.available_from
    leases.request_lease(
        actor=merchant,
        tenant_id=merchant.subject.pk,
        listing_id=full.pk,
        units=45,
        start=d + timedelta(days=5),
        end=d + timedelta(days=6),
    )
    params = {"country": "nl", "start": d, "end": d + timedelta(days=10), "units": 10}
    body = api_client.get(LISTINGS, params).json()
    assert [r["title"] for r in body["results"]] == ["Roomy"]
    result = body["results"][0]
    assert result["quote"] == {"units": 10, "days": 10, "total_price": "200.00", "currency": "EUR"}
    assert result["operator_grade"] == "A"
    # Half-open: the busy day is d+5, so a search ending on d+5 finds both.
    body = api_client.get(LISTINGS, {**params, "end": d + timedelta(days=5)}).json()
    assert {r["title"] for r in body["results"]} == {"Nearly full", "Roomy"}
    assert free.pk in {r["id"] for r in body["results"]}


def test_search_filters_and_sorts(api_client, operator, make_listing, make_warehouse, today):
    tokyo = make_warehouse(
        name="Tokyo Bay",
        country="JP",
        city="Tokyo",
        latitude=Decimal("35.6"),
        longitude=Decimal("139.8"),
        customs_status="none",
        services=[],
        certifications=[],
    )
    make_listing(title="Rotterdam cheap", price_per_unit_day=Decimal("1"))
    make_listing(title="Tokyo", warehouse_=tokyo, price_per_unit_day=Decimal("3"))
    make_listing(title="Draft", publish=False)
    titles = lambda params: [r["title"] for r in api_client.get(LISTINGS, params).json()["results"]]  # noqa: E731
    assert titles({}) == ["Rotterdam cheap", "Tokyo"]
    assert titles({"sort": "-price"}) == ["Tokyo", "Rotterdam cheap"]
    assert titles({"country": "JP"}) == ["Tokyo"]
    assert titles({"city": "rotterdam"}) == ["Rotterdam cheap"]
    assert titles({"features": "bonded,pick_and_pack"}) == ["Rotterdam cheap"]
    assert titles({"features": "cert:iso_9001"}) == ["Rotterdam cheap"]
    assert titles({"max_price": "2"}) == ["Rotterdam cheap"]
    assert titles({"sort": "distance", "lat": 35.0, "lon": 139.0}) == ["Tokyo", "Rotterdam cheap"]
    assert titles({"min_operator_grade": "A"}) == ["Rotterdam cheap", "Tokyo"]
    operator.subject.grade = "C"
    operator.subject.save()
    assert titles({"min_operator_grade": "M"}) == []
    body = api_client.get(LISTINGS, {"sort": "distance", "lat": 35.0, "lon": 139.0}).json()
    assert 0 < body["results"][0]["distance_km"] < 200


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "2030-01-10", "end": "2030-01-05"}, "end"),
        ({"start": "2030-01-10"}, "end"),
        ({"units": 0}, "units"),
        ({"units": -3}, "units"),
        ({"currency": "XYZ"}, "currency"),
        ({"sort": "distance"}, "sort"),
    ],
)
def test_search_bad_input_is_400_with_field_errors(api_client, params, field):
    response = api_client.get(LISTINGS, params)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert field in response.json()["errors"]


# --- Lease requests ----------------------------------------------------------------------


def test_request_lease_then_operator_approves_and_checks_in(client_for, merchant, operator, make_listing, today):
    listing = make_listing(start_offset=0)
    response = post_lease(
        client_for(merchant), {"listing": listing.pk, "units": 5, "start": today, "end": today + timedelta(days=3)}
    )
    assert response.status_code == 201, response.json()
    lease = response.json()
    assert (lease["status"], lease["total_price"], lease["tenant"]["id"]) == ("held", "18.75", merchant.subject.pk)
    assert lease["hold_expires_at"]
    op = client_for(operator)
    assert op.post(f"{LEASES}{lease['id']}/approve/").json()["status"] == "approved"
    fund_lease(Lease.objects.get(pk=lease["id"]))
    assert op.post(f"{LEASES}{lease['id']}/check-in/").json()["status"] == "active"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"end_offset": -1}, "end"),
        ({"end_offset": 0}, "end"),
        ({"units": 0}, "units"),
        ({"units": -5}, "units"),
        ({"end_offset": 400}, "start"),
    ],
)
def test_bad_lease_requests_are_400_with_field_errors_and_reserve_nothing(client_for, merchant, listing, change, field):
    start = listing.available_from
    body = {
        "listing": listing.pk,
        "units": change.get("units", 5),
        "start": start,
        "end": start + timedelta(days=change.get("end_offset", 3)),
    }
    response = post_lease(client_for(merchant), body)
    assert response.status_code == 400, response.json()
    assert field in response.json()["errors"]
    assert not Lease.objects.exists()
    assert not CapacityDay.objects.filter(reserved__gt=0).exists()


def test_unknown_currency_for_a_listing_is_400(client_for, operator, warehouse, today):
    response = client_for(operator).post(
        LISTINGS,
        {
            "warehouse": warehouse.pk,
            "title": "x",
            "units": 10,
            "available_from": today + timedelta(days=1),
            "available_until": today + timedelta(days=5),
            "price_per_unit_day": "1.00",
            "currency": "XYZ",
        },
        format="json",
    )
    assert response.status_code == 400
    assert "currency" in response.json()["errors"]


def test_credit_gate_refusal_is_403_with_reasons(client_for, merchant, make_listing):
    merchant.subject.grade = "C"
    merchant.subject.save()
    listing = make_listing(min_tenant_grade="B")
    d = listing.available_from
    response = post_lease(
        client_for(merchant), {"listing": listing.pk, "units": 1, "start": d, "end": d + timedelta(days=1)}
    )
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "credit_gate_refused"
    assert "grade B or better" in body["errors"]["credit"][0]


def test_not_enough_capacity_is_409(client_for, merchant, make_listing):
    listing = make_listing(units=5)
    d = listing.available_from
    body = {"listing": listing.pk, "units": 5, "start": d, "end": d + timedelta(days=2)}
    assert post_lease(client_for(merchant), body).status_code == 201
    response = post_lease(client_for(merchant), body)
    assert response.status_code == 409
    assert response.json()["code"] == "not_enough_capacity"


# --- Idempotency-Key ---------------------------------------------------------------------


def test_idempotency_key_replays_refuses_other_payload_and_requires_a_key(client_for, merchant, listing):
    client = client_for(merchant)
    d = listing.available_from
    body = {"listing": listing.pk, "units": 5, "start": str(d), "end": str(d + timedelta(days=2))}
    first = post_lease(client, body, key="k-1")
    again = post_lease(client, body, key="k-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Lease.objects.count() == 1
    from core.models import IdempotencyKey  # one mechanism: payments' keys, owned by the user

    assert IdempotencyKey.objects.filter(owner=f"user:{merchant.pk}", key="k-1", status="done").exists()
    assert CapacityDay.objects.get(listing=listing, day=d).reserved == 5
    other = post_lease(client, {**body, "units": 6}, key="k-1")
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    missing = client.post(LEASES, body, format="json")
    assert missing.status_code == 400
    assert missing.json()["code"] == "idempotency_key_required"


def test_idempotency_in_flight_duplicate_is_409(client_for, merchant, listing):
    from core.models import IdempotencyKey

    # The first copy is still running: its key exists, in flight, without a response yet.
    IdempotencyKey.objects.create(owner=f"user:{merchant.pk}", key="busy", fingerprint="same")
    d = listing.available_from
    body = {"listing": listing.pk, "units": 5, "start": str(d), "end": str(d + timedelta(days=2))}
    with mock.patch("core.idempotency.fingerprint_data", return_value="same"):
        response = post_lease(client_for(merchant), body, key="busy")
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_in_flight"
    assert not Lease.objects.exists()


def test_failed_first_attempt_frees_the_key(client_for, merchant, operator, listing):
    d = listing.available_from
    client = client_for(merchant)
    bad = post_lease(
        client, {"listing": listing.pk, "units": 500, "start": str(d), "end": str(d + timedelta(1))}, key="k-2"
    )
    assert bad.status_code == 400
    listing_services.change_listing_capacity(actor=operator, listing_id=listing.pk, units=500)
    again = post_lease(
        client, {"listing": listing.pk, "units": 500, "start": str(d), "end": str(d + timedelta(1))}, key="k-2"
    )
    assert again.status_code == 201


# --- Permission matrix -------------------------------------------------------------------


@pytest.fixture
def world(merchant, other_merchant, operator, make_listing, today):
    listing = make_listing(start_offset=0, booking_mode="request")
    draft = make_listing(publish=False, title="Draft")
    lease = leases.request_lease(
        actor=merchant,
        tenant_id=merchant.subject.pk,
        listing_id=listing.pk,
        units=2,
        start=today,
        end=today + timedelta(days=2),
    )
    other_operator = make_member(is_merchant=False, is_warehouse_operator=True, grade="B")
    return {
        "listing": listing,
        "draft": draft,
        "lease": lease,
        "warehouse": listing.warehouse,
        "roles": {
            "anonymous": None,
            "tenant": merchant,
            "other_merchant": other_merchant,
            "operator": operator,
            "other_operator": other_operator,
            "regulator": RegulatorFactory(),
            "staff": StaffFactory(),
        },
    }


# endpoint -> expected status per role (None = any of these is fine)
MATRIX = [
    # (method, url template, body, {role: status})
    ("get", "/api/v1/warehouses/listings/", None, {"*": 200}),
    ("get", "/api/v1/warehouses/listings/{listing}/", None, {"*": 200}),
    ("get", "/api/v1/warehouses/listings/{draft}/", None, {"*": 404, "operator": 200}),
    (
        "patch",
        "/api/v1/warehouses/listings/{listing}/",
        {"title": "New"},
        {"*": 404, "anonymous": 401, "operator": 200},
    ),
    ("get", "/api/v1/warehouses/listings/{listing}/calendar/", None, {"*": 404, "anonymous": 401, "operator": 200}),
    ("get", "/api/v1/warehouses/warehouses/", None, {"*": 200, "anonymous": 401}),
    ("get", "/api/v1/warehouses/warehouses/{warehouse}/", None, {"*": 404, "anonymous": 401, "operator": 200}),
    (
        "patch",
        "/api/v1/warehouses/warehouses/{warehouse}/",
        {"city": "Schiedam"},
        {"*": 404, "anonymous": 401, "operator": 200},
    ),
    ("get", "/api/v1/warehouses/leases/", None, {"*": 200, "anonymous": 401}),
    ("get", "/api/v1/warehouses/leases/{lease}/", None, {"*": 404, "anonymous": 401, "tenant": 200, "operator": 200}),
    (
        "post",
        "/api/v1/warehouses/leases/{lease}/approve/",
        None,
        {"*": 404, "anonymous": 401, "tenant": 404, "operator": 200},
    ),
    ("post", "/api/v1/warehouses/leases/{lease}/reject/", {}, {"*": 404, "anonymous": 401, "operator": 200}),
    ("post", "/api/v1/warehouses/leases/{lease}/check-in/", None, {"*": 404, "anonymous": 401, "operator": 409}),
    ("post", "/api/v1/warehouses/leases/{lease}/complete/", None, {"*": 404, "anonymous": 401, "operator": 409}),
    ("post", "/api/v1/warehouses/leases/{lease}/no-show/", {}, {"*": 404, "anonymous": 401, "operator": 409}),
    (
        "post",
        "/api/v1/warehouses/leases/{lease}/withdraw/",
        {"reason": "x"},
        {"*": 404, "anonymous": 401, "operator": 409},
    ),
    (
        "post",
        "/api/v1/warehouses/leases/{lease}/cancel/",
        {},
        {"*": 404, "anonymous": 401, "tenant": 200, "operator": 404},
    ),
    # Transfers and reviews (full matrix with a transfer in tests/warehouses/test_transfers_api.py).
    (
        "post",
        "/api/v1/warehouses/leases/{lease}/transfers/",
        {"to_subject": 0, "units": 1},
        {"*": 404, "anonymous": 401, "tenant": 400},
    ),
    ("get", "/api/v1/warehouses/transfers/", None, {"*": 200, "anonymous": 401}),
    (
        "post",
        "/api/v1/warehouses/leases/{lease}/review/",
        {"stars": 5},
        {"*": 404, "anonymous": 401, "tenant": 409, "operator": 409},
    ),
    (
        "get",
        "/api/v1/warehouses/leases/{lease}/reviews/",
        None,
        {"*": 404, "anonymous": 401, "tenant": 200, "operator": 200},
    ),
    # Escrow: no Idempotency-Key here, so parties get 400; nobody else learns the lease exists.
    (
        "post",
        "/api/v1/warehouses/leases/{lease}/pay/",
        {"institution": 1},
        {"*": 404, "anonymous": 401, "tenant": 400, "operator": 400},
    ),
    # A held lease cannot be disputed yet (409 for its parties).
    (
        "post",
        "/api/v1/warehouses/leases/{lease}/dispute/",
        {"reason": "x"},
        {"*": 404, "anonymous": 401, "tenant": 409, "operator": 409},
    ),
    ("get", "/api/v1/warehouses/disputes/", None, {"*": 200, "anonymous": 401}),
]


@pytest.mark.parametrize(
    "role", ["anonymous", "tenant", "other_merchant", "operator", "other_operator", "regulator", "staff"]
)
@pytest.mark.parametrize(("method", "template", "body", "expected"), MATRIX, ids=[f"{m} {t}" for m, t, _, _ in MATRIX])
def test_permission_matrix(client_for, world, role, method, template, body, expected):
    url = template.format(
        listing=world["listing"].pk, draft=world["draft"].pk, lease=world["lease"].pk, warehouse=world["warehouse"].pk
    )
    client = client_for(world["roles"][role])
    response = getattr(client, method)(url, body, format="json") if body is not None else getattr(client, method)(url)
    want = expected.get(role, expected["*"])
    assert response.status_code == want, (role, url, response.content[:300])
    if want == 401:  # the API key scheme is offered first (README, The API: 401 with WWW-Authenticate)
        assert response["WWW-Authenticate"] == "Api-Key"


def test_lease_lists_show_only_your_own_leases(client_for, world):
    roles = world["roles"]
    ids = lambda who, **p: [r["id"] for r in client_for(roles[who]).get(LEASES, p).json()["results"]]  # noqa: E731
    lease_id = world["lease"].pk
    assert ids("tenant") == [lease_id]
    assert ids("operator") == [lease_id]
    assert ids("operator", role="tenant") == []
    for who in ("other_merchant", "other_operator", "regulator", "staff"):
        assert ids(who) == []


def test_post_lease_by_anonymous_is_refused_and_a_foreign_tenant_is_403(client_for, world, today):
    body = {"listing": world["listing"].pk, "units": 1, "start": str(today), "end": str(today + timedelta(days=1))}
    assert post_lease(client_for(None), body).status_code == 401
    foreign = post_lease(client_for(world["roles"]["other_merchant"]), {**body, "tenant": world["lease"].tenant_id})
    assert foreign.status_code == 403
    assert Lease.objects.count() == 1


def test_listing_patch_is_all_or_nothing_and_never_cuts_below_reserved(client_for, operator, merchant, listing):
    d = listing.available_from
    leases.request_lease(
        actor=merchant,
        tenant_id=merchant.subject.pk,
        listing_id=listing.pk,
        units=60,
        start=d,
        end=d + timedelta(days=2),
    )
    client = client_for(operator)
    url = f"{LISTINGS}{listing.pk}/"
    response = client.patch(url, {"price_per_unit_day": "9.00", "units": 59}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "capacity_below_reserved"
    assert "units" in response.json()["errors"]
    listing.refresh_from_db()
    assert (listing.units, listing.price_per_unit_day) == (100, Decimal("1.2500"))
    ok = client.patch(url, {"price_per_unit_day": "9.00", "units": 60, "status": "paused"}, format="json")
    assert ok.status_code == 200
    assert (ok.json()["units"], ok.json()["price_per_unit_day"], ok.json()["status"]) == (60, "9.0000", "paused")
    assert client_for(None).get(url).status_code == 404  # paused: no longer public
