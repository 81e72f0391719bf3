"""Warehouse marketplace journey in Chromium: a merchant searches and requests a lease,
the operator approves it, the merchant pays into escrow through a compliant payment
institution, and the operator confirms check-in (which releases the first period)."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.factories import PASSWORD, MembershipFactory, SubjectFactory
from tests.payments.escrow_helpers import make_escrow_institution
from warehouses.models import Lease
from warehouses.services import listings as listing_services

pytestmark = pytest.mark.django_db(transaction=True)


def member(**subject):
    membership = MembershipFactory(subject=SubjectFactory(**subject))
    membership.user.subject = membership.subject
    return membership.user


def test_merchant_requests_operator_approves_merchant_pays_escrow_and_operator_checks_in(page, sign_in):
    today = timezone.localdate()
    operator = member(
        is_merchant=False, is_warehouse_operator=True, country="NL", grade="A", legal_name="Rotterdam Fulfilment BV"
    )
    merchant = member(is_merchant=True, grade="B", legal_name="Shenzhen Export Co")
    warehouse = listing_services.create_warehouse(
        actor=operator,
        owner_id=operator.subject.pk,
        name="Maasvlakte DC",
        country="NL",
        city="Rotterdam",
        address="Europaweg 1",
        latitude=Decimal("51.95"),
        longitude=Decimal("4.05"),
        customs_status="bonded",
    )
    listing_services.create_listing(
        actor=operator,
        warehouse_id=warehouse.pk,
        units=80,
        available_from=today,
        available_until=today + timedelta(days=90),
        publish=True,
        title="Bonded pallet positions",
        price_per_unit_day=Decimal("1.50"),
        currency="EUR",
        booking_mode="request",
    )
    make_escrow_institution(corridors=(("EUR", "NL"),), legal_name="Demo Pay BV")
    make_escrow_institution(corridors=(("EUR", "DE"),), legal_name="Berlin Pay GmbH")

    # The merchant searches for 10 pallets over 40 days in the Netherlands.
    sign_in(page, merchant.username, PASSWORD)
    page.goto("/warehouses/")
    page.get_by_label("Country").select_option("NL")
    page.get_by_label("Start").fill(today.isoformat())
    page.get_by_label("End").fill((today + timedelta(days=40)).isoformat())
    page.get_by_label("Units").fill("10")
    page.get_by_role("button", name="Search").click()
    results = page.get_by_test_id("results")
    expect(results).to_contain_text("Bonded pallet positions")
    expect(results).to_contain_text("600.00 EUR")  # 10 x 40 x 1.50
    results.get_by_role("link", name="Bonded pallet positions").click()

    # The request form is prefilled from the search; the merchant sends it.
    expect(page.get_by_label("Units")).to_have_value("10")
    page.get_by_role("button", name="Request lease").click()
    expect(page.get_by_test_id("lease-status")).to_have_text("Requested, awaiting the operator")
    expect(page.get_by_test_id("deadline")).to_contain_text("must answer by")
    lease = Lease.objects.get()

    # The operator sees the request with its deadline and approves; check-in waits for the money.
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, operator.username, PASSWORD)
    page.goto("/warehouses/mine/")
    requests = page.get_by_test_id("requests")
    expect(requests).to_contain_text("Shenzhen Export Co")
    expect(requests).to_contain_text(re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC"))
    requests.get_by_role("link", name=str(lease.pk)).click()
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_test_id("lease-status")).to_have_text("Approved")
    expect(page.get_by_test_id("escrow-status")).to_have_text("unpaid")
    expect(page.get_by_test_id("check-in-needs-payment")).to_be_visible()

    # The merchant pays into escrow, choosing the compliant institution (the other one
    # is listed with the reason it cannot take EUR for NL).
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, merchant.username, PASSWORD)
    page.goto(f"/warehouses/leases/{lease.pk}/")
    expect(page.get_by_test_id("escrow-due")).to_contain_text("600.00 EUR")
    expect(page.get_by_test_id("blocked-institutions")).to_contain_text("Berlin Pay GmbH has no EUR corridor for NL")
    page.get_by_label("Demo Pay BV").check()
    page.get_by_role("button", name="Pay into escrow").click()
    expect(page.get_by_test_id("escrow-status")).to_have_text("funded")
    expect(page.get_by_test_id("escrow-balance")).to_have_text("600.00")

    # The operator confirms check-in: the first 30-day period (600 x 30/40) is released.
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, operator.username, PASSWORD)
    page.goto(f"/warehouses/leases/{lease.pk}/")
    page.get_by_role("button", name="Confirm check-in").click()
    expect(page.get_by_test_id("lease-status")).to_have_text("Active (checked in)")
    expect(page.get_by_test_id("escrow-status")).to_have_text("partially released")
    expect(page.get_by_test_id("escrow-balance")).to_have_text("150.00")
    lease.refresh_from_db()
    assert lease.status == Lease.Status.ACTIVE

    # The merchant sees the active lease in their list.
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, merchant.username, PASSWORD)
    page.goto("/warehouses/leases/")
    expect(page.get_by_test_id("leases")).to_contain_text("Active (checked in)")
