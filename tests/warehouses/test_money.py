"""Lease prices in a currency without minor units: a yen price has no fraction, from the
quote to the stored lease and its cancellation fee."""

from datetime import timedelta
from decimal import Decimal

import pytest

from warehouses.models import Lease
from warehouses.services import leases

pytestmark = pytest.mark.django_db


def test_a_jpy_lease_price_has_no_fraction(merchant, make_listing):
    listing = make_listing(
        price_per_unit_day=Decimal("33.3333"), currency="JPY", cancellation_fee_percent=15, free_cancellation_days=7
    )
    start = listing.available_from
    lease = leases.request_lease(
        actor=merchant, tenant_id=merchant.subject.pk, listing_id=listing.pk, units=1, start=start,
        end=start + timedelta(days=10),
    )  # fmt: skip
    stored = Lease.objects.get(pk=lease.pk)
    # 1 unit x 10 days x 33.3333 = 333.333 yen: 333, not 333.33.
    assert stored.total_price == Decimal("333")
    assert stored.total_price == stored.total_price.to_integral_value()
    quote = leases.lease_price(
        unit_price=listing.price_per_unit_day, units=3, start=start, end=start + timedelta(7), currency="JPY"
    )
    assert quote == Decimal("700") and quote.as_tuple().exponent == 0  # 699.9993 yen
    fee = stored.total_price * 15 / 100  # 49.95 yen
    assert fee != fee.to_integral_value()
    stored.status = Lease.Status.APPROVED
    assert leases.cancellation_fee(lease=stored, listing=listing, today=start) == Decimal("50")
