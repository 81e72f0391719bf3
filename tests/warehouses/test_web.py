"""The warehouse pages through Django's test client."""

from datetime import timedelta

import pytest

from tests.payments.escrow_helpers import fund_lease
from warehouses.models import Lease, Listing
from warehouses.services import leases

pytestmark = pytest.mark.django_db


def test_search_page_shows_available_listings_with_total_and_grade(client, merchant, make_listing):
    listing = make_listing(title="Bonded pallets")
    make_listing(title="Too small", units=5)
    d = listing.available_from
    response = client.get("/warehouses/", {"country": "NL", "start": d, "end": d + timedelta(days=4), "units": 10})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Bonded pallets" in html and "Too small" not in html
    assert "50.00 EUR" in html  # 10 units x 4 days x 1.25
    assert 'class="grade grade-A"' in html


def test_search_page_bad_dates_show_field_error(client):
    response = client.get("/warehouses/", {"start": "2030-02-10", "end": "2030-02-01"})
    assert response.status_code == 400
    assert "The end must be after the start" in response.content.decode()


def test_merchant_books_and_operator_approves_and_checks_in(client, merchant, operator, make_listing, today):
    listing = make_listing(start_offset=0)
    client.force_login(merchant)
    response = client.post(
        f"/warehouses/listings/{listing.pk}/",
        {"tenant": merchant.subject.pk, "start": today, "end": today + timedelta(days=2), "units": 3},
    )
    lease = Lease.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/warehouses/leases/{lease.pk}/"
    assert "answer by" in client.get(response["Location"]).content.decode()
    client.force_login(operator)
    dashboard = client.get("/warehouses/mine/").content.decode()
    assert f"/warehouses/leases/{lease.pk}/" in dashboard and "Merchant One Ltd" in dashboard
    client.post(f"/warehouses/leases/{lease.pk}/approve/")
    fund_lease(lease)
    client.post(f"/warehouses/leases/{lease.pk}/check-in/")
    lease.refresh_from_db()
    assert lease.status == Lease.Status.ACTIVE


def test_booking_form_shows_service_errors_beside_fields(client, merchant, listing):
    client.force_login(merchant)
    d = listing.available_from
    response = client.post(
        f"/warehouses/listings/{listing.pk}/",
        {"tenant": merchant.subject.pk, "start": d, "end": d + timedelta(days=2), "units": 1000},
    )
    assert response.status_code == 400
    assert "This listing offers 100 units." in response.content.decode()
    assert not Lease.objects.exists()


def test_other_merchants_lease_is_404(client, merchant, other_merchant, listing):
    lease = leases.request_lease(
        actor=merchant,
        tenant_id=merchant.subject.pk,
        listing_id=listing.pk,
        units=1,
        start=listing.available_from,
        end=listing.available_from + timedelta(days=1),
    )
    client.force_login(other_merchant)
    assert client.get(f"/warehouses/leases/{lease.pk}/").status_code == 404
    assert client.post(f"/warehouses/leases/{lease.pk}/cancel/").status_code == 404
    assert str(lease.pk) not in client.get("/warehouses/leases/?format=csv").content.decode().split("\n", 1)[1]


def test_operator_creates_warehouse_and_listing_and_sees_calendar(client, operator, today):
    client.force_login(operator)
    response = client.post(
        "/warehouses/mine/warehouses/new/",
        {
            "owner": operator.subject.pk,
            "name": "Waalhaven",
            "country": "NL",
            "city": "Rotterdam",
            "address": "Waalhaven 5",
            "latitude": "51.89",
            "longitude": "4.43",
            "capacity_unit": "pallet",
            "customs_status": "bonded",
            "services": ["pick_and_pack"],
            "certifications": "ISO 9001",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    warehouse_id = int(response["Location"].rsplit("=", 1)[1])
    bad = client.post(
        "/warehouses/mine/listings/new/",
        {
            "warehouse": warehouse_id,
            "title": "Spare",
            "units": 40,
            "available_from": today + timedelta(days=1),
            "available_until": today + timedelta(days=31),
            "price_per_unit_day": "0.90",
            "currency": "XYZ",
            "min_units": 1,
            "min_days": 1,
            "booking_mode": "instant",
            "free_cancellation_days": 7,
            "cancellation_fee_percent": "10",
            "publish": "on",
        },
    )
    assert bad.status_code == 400 and "Unknown currency" in bad.content.decode()
    good = client.post(
        "/warehouses/mine/listings/new/",
        {**bad.wsgi_request.POST.dict(), "currency": "EUR"},
    )
    listing = Listing.objects.get()
    assert good["Location"] == f"/warehouses/mine/listings/{listing.pk}/"
    page = client.get(good["Location"]).content.decode()
    assert page.count("40 free") == 30
    response = client.post(good["Location"], {"cap-units": 0})
    assert (
        response.status_code == 200 and "Ensure this value is greater than or equal to 1" in response.content.decode()
    )


def test_actions_never_redirect_off_site(client, merchant, operator, listing):
    lease = leases.request_lease(
        actor=merchant,
        tenant_id=merchant.subject.pk,
        listing_id=listing.pk,
        units=1,
        start=listing.available_from,
        end=listing.available_from + timedelta(days=1),
    )
    client.force_login(operator)
    response = client.post(f"/warehouses/leases/{lease.pk}/approve/", {"next": "https://evil.example/"})
    assert response["Location"] == f"/warehouses/leases/{lease.pk}/"
    response = client.post(f"/warehouses/leases/{lease.pk}/approve/", {"next": "/warehouses/mine/"})
    assert response["Location"] == "/warehouses/mine/"
