"""Lease transfer journey in Chromium: a merchant with an approved (and paid) lease offers
part of it to another merchant, who finds the offer from the navigation and accepts it,
choosing a payment institution; the operator consents; both merchants then see the split
leases (units divided, same days) on their lease pages, and the escrow followed."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.factories import PASSWORD, MembershipFactory, SubjectFactory
from tests.payments.escrow_helpers import make_escrow_institution
from warehouses.models import Lease, LeaseTransfer
from warehouses.services import escrow as escrow_services
from warehouses.services import leases as lease_services
from warehouses.services import listings as listing_services

pytestmark = pytest.mark.django_db(transaction=True)


def member(**subject):
    membership = MembershipFactory(subject=SubjectFactory(**subject))
    membership.user.subject = membership.subject
    return membership.user


def sign_out(page):
    page.get_by_role("button", name="Sign out").click()


def test_merchant_offers_part_of_a_lease_recipient_accepts_operator_consents(page, sign_in):
    today = timezone.localdate()
    operator = member(
        is_merchant=False, is_warehouse_operator=True, country="NL", grade="A", legal_name="Rotterdam Fulfilment BV"
    )
    merchant = member(is_merchant=True, grade="B", legal_name="Shenzhen Export Co")
    recipient = member(is_merchant=True, grade="B", country="GB", legal_name="Albion Trading Ltd")
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
    listing = listing_services.create_listing(
        actor=operator,
        warehouse_id=warehouse.pk,
        units=80,
        available_from=today,
        available_until=today + timedelta(days=90),
        publish=True,
        title="Bonded pallet positions",
        price_per_unit_day=Decimal("1.25"),
        currency="EUR",
        booking_mode="request",
    )
    assert listing.transfer_requires_consent  # the default: the operator must consent
    institution = make_escrow_institution(corridors=(("EUR", "NL"),), legal_name="Demo Pay BV")
    start, end = today + timedelta(days=2), today + timedelta(days=32)
    lease = lease_services.request_lease(
        actor=merchant, tenant_id=merchant.subject.pk, listing_id=listing.pk, units=10, start=start, end=end
    )
    lease_services.approve_lease(actor=operator, lease_id=lease.pk)
    escrow_services.pay_lease(actor=merchant, lease_id=lease.pk, institution_id=institution.pk)  # 375.00 EUR

    # The merchant opens the lease from "My leases" and offers 4 of its 10 units to Albion,
    # naming it by its registration number.
    sign_in(page, merchant.username, PASSWORD)
    page.get_by_test_id("main-nav").get_by_role("link", name="My leases").click()
    page.get_by_test_id("leases").get_by_role("link", name=str(lease.pk), exact=True).click()
    expect(page.get_by_test_id("lease-status")).to_have_text("Approved")
    page.get_by_test_id("transfer-link").click()
    # A wrong registration number is refused beside the field and nothing is offered.
    page.get_by_label("Recipient's country of registration").select_option("GB")
    page.get_by_label("Recipient's registration number or exact legal name").fill("NO-SUCH-NUMBER")
    page.get_by_label("Units").fill("4")
    page.get_by_role("button", name="Offer the transfer").click()
    expect(page.locator(".field.has-error")).to_contain_text("No subject with this registration number")
    assert not LeaseTransfer.objects.exists()
    page.get_by_label("Recipient's registration number or exact legal name").fill(recipient.subject.registration_number)
    page.get_by_label("Note").fill("Our Q1 volume fell short.")
    page.get_by_role("button", name="Offer the transfer").click()
    expect(page.locator(".messages")).to_contain_text("Offered 4 units to Albion Trading Ltd")
    history = page.get_by_test_id("transfer-history")
    expect(history).to_contain_text("Albion Trading Ltd")
    expect(history).to_contain_text("Offered, awaiting the recipient")
    sign_out(page)

    # The recipient finds the offer from "My leases" > "Lease transfers" and accepts it,
    # paying through the institution that can take EUR for the Netherlands.
    sign_in(page, recipient.username, PASSWORD)
    page.get_by_test_id("main-nav").get_by_role("link", name="My leases").click()
    expect(page.get_by_test_id("transfers-link")).to_have_text("Lease transfers (1 offer to you)")
    page.get_by_test_id("transfers-link").click()
    incoming = page.get_by_test_id("incoming")
    expect(incoming).to_contain_text("Shenzhen Export Co")
    expect(incoming).to_contain_text("Bonded pallet positions at Maasvlakte DC")
    expect(incoming).to_contain_text("needs the operator's consent")
    expect(incoming).to_contain_text("Our Q1 volume fell short.")
    expect(incoming).to_contain_text("150.00 EUR")  # what Albion would pay: 4 x 30 days x 1.25
    incoming.get_by_label("Demo Pay BV").check()
    incoming.get_by_role("button", name="Accept").click()
    expect(page.locator(".messages")).to_contain_text("the operator must now consent")
    expect(page.get_by_test_id("incoming")).to_contain_text("No offers waiting for you.")
    expect(page.get_by_test_id("transfer-list")).to_contain_text("Accepted, awaiting the operator")
    sign_out(page)

    # The operator sees it waiting from "My listings" and consents.
    sign_in(page, operator.username, PASSWORD)
    page.get_by_test_id("main-nav").get_by_role("link", name="My listings").click()
    expect(page.get_by_test_id("transfers-link")).to_contain_text("1 awaiting your consent")
    page.get_by_test_id("transfers-link").click()
    awaiting = page.get_by_test_id("awaiting-consent")
    expect(awaiting).to_contain_text("Albion Trading Ltd")
    expect(awaiting).to_contain_text("Albion Trading Ltd has no active blacklist entry")  # the credit check
    awaiting.get_by_role("button", name="Consent").click()
    expect(page.locator(".messages")).to_contain_text("Consented.")
    expect(page.get_by_test_id("transfer-list")).to_contain_text("Completed")
    sign_out(page)

    lease.refresh_from_db()
    assert lease.status == Lease.Status.TRANSFERRED
    kept = Lease.objects.get(parent=lease, tenant=merchant.subject)
    taken = Lease.objects.get(parent=lease, tenant=recipient.subject)

    # The merchant's original lease now says it was split; its kept part has 6 units.
    sign_in(page, merchant.username, PASSWORD)
    page.goto(f"/warehouses/leases/{lease.pk}/")
    expect(page.get_by_test_id("lease-status")).to_have_text("Transferred (replaced by its split leases)")
    split = page.get_by_test_id("split-into")
    expect(split).to_contain_text(f"Lease {kept.pk}: Shenzhen Export Co, 6 units")
    expect(split).to_contain_text(f"Lease {taken.pk}: Albion Trading Ltd, 4 units")
    expect(page.get_by_test_id("transfer-history")).to_contain_text("150.00 EUR")  # 4 x 30 days x 1.25
    split.get_by_role("link", name=f"Lease {kept.pk}").click()
    expect(page.get_by_test_id("lease-status")).to_have_text("Approved")
    expect(page.locator("main")).to_contain_text("6 units from")
    expect(page.get_by_test_id("split-from")).to_contain_text(f"Kept from lease {lease.pk}")
    page.goto("/warehouses/leases/")
    leases = page.get_by_test_id("leases")
    expect(leases.get_by_role("link", name=str(kept.pk), exact=True)).to_be_visible()
    expect(leases.get_by_role("link", name=str(taken.pk), exact=True)).to_have_count(0)  # not the merchant's
    sign_out(page)

    # The recipient has its own 4-unit lease for the same days, already paid into escrow.
    sign_in(page, recipient.username, PASSWORD)
    page.get_by_test_id("main-nav").get_by_role("link", name="My leases").click()
    leases = page.get_by_test_id("leases")
    expect(leases).to_contain_text("Albion Trading Ltd")
    expect(leases.get_by_role("link", name=str(kept.pk), exact=True)).to_have_count(0)
    leases.get_by_role("link", name=str(taken.pk), exact=True).click()
    expect(page.get_by_test_id("lease-status")).to_have_text("Approved")
    expect(page.locator("main")).to_contain_text("4 units from")
    expect(page.locator("main")).to_contain_text("150.00 EUR")
    expect(page.get_by_test_id("taken-over")).to_be_visible()
    expect(page.get_by_test_id("escrow-status")).to_have_text("funded")
    expect(page.get_by_test_id("escrow-balance")).to_have_text("150.00")
    # The recipient cannot open the transferor's leases.
    assert page.goto(f"/warehouses/leases/{kept.pk}/").status == 404
