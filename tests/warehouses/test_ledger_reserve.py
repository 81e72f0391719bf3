"""The one-statement reservation (`ledger.reserve`) and the one-query credit gate: a
refused reservation leaves every day as it was, even when the caller goes on in the same
transaction, and both parties' blacklist reasons come back together."""

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from core.errors import InvalidInput
from tests.warehouses.test_leases import blacklist, book, reserved_by_day
from warehouses.errors import CreditGateRefused, NotEnoughCapacity
from warehouses.models import Lease
from warehouses.services import ledger

pytestmark = pytest.mark.django_db


def test_a_refused_reservation_puts_back_the_days_that_had_room(merchant, other_merchant, listing):
    d = listing.available_from
    book(other_merchant, listing, 100, d + timedelta(days=3), d + timedelta(days=4))  # day 3 is full
    before = reserved_by_day(listing)
    with transaction.atomic():
        locked = ledger.lock_listing(listing_id=listing.pk)
        with pytest.raises(NotEnoughCapacity) as exc:
            ledger.reserve(listing=locked, start=d, end=d + timedelta(days=6), units=10)
        # Still inside the transaction: days 0-2 and 4-5 had room and were put back.
        assert reserved_by_day(listing) == before
    assert f"Only 0 units are free on {(d + timedelta(days=3)).isoformat()}" in exc.value.message
    assert exc.value.field_errors["units"] == ["At most 0 units are free on every day of this range."]


def test_a_range_past_the_window_is_outside_the_window_and_changes_nothing(listing):
    end = listing.available_until
    before = reserved_by_day(listing)
    with transaction.atomic():
        locked = ledger.lock_listing(listing_id=listing.pk)
        with pytest.raises(InvalidInput) as exc:
            ledger.reserve(listing=locked, start=end - timedelta(days=2), end=end + timedelta(days=1), units=1)
        assert reserved_by_day(listing) == before
    assert exc.value.code == "outside_window"


def test_a_reservation_that_fits_is_one_update(merchant, listing):
    d = listing.available_from
    with transaction.atomic():
        locked = ledger.lock_listing(listing_id=listing.pk)
        with CaptureQueriesContext(connection) as queries:
            ledger.reserve(listing=locked, start=d, end=d + timedelta(days=5), units=7)
    assert len(queries.captured_queries) == 1
    reserved = reserved_by_day(listing)
    assert [reserved[d + timedelta(days=n)] for n in range(6)] == [7, 7, 7, 7, 7, 0]


def test_gate_reports_tenant_and_operator_blacklisting_together(merchant, operator, listing):
    blacklist(merchant.subject)
    blacklist(operator.subject)
    with pytest.raises(CreditGateRefused) as exc:
        book(merchant, listing, 1, listing.available_from, listing.available_from + timedelta(days=1))
    assert [r["code"] for r in exc.value.reasons] == ["blacklisted", "operator_blacklisted"]
    assert not Lease.objects.exists()
    assert sum(reserved_by_day(listing).values()) == 0
