"""The payment deadline of approved leases: 48 hours after the approval, never later than
the start; an unpaid lease past it expires (beat) and gives its units back, a paid one is
never touched. The tenant sees the deadline in the API and on the lease page."""

from datetime import datetime, time, timedelta

import pytest
import time_machine
from django.utils import timezone

from core.models import AuditEntry
from credit.models import CreditEvent
from tests.payments.escrow_helpers import fund_lease
from warehouses.models import CapacityDay, Lease
from warehouses.services import leases
from warehouses.services.payment_deadline import expire_unpaid_leases, overdue_unpaid_lease_ids, payment_due_at
from warehouses.tasks import expire_unpaid_leases_task

pytestmark = pytest.mark.django_db
LEASES = "/api/v1/warehouses/leases/"


def at(moment):
    return time_machine.travel(moment, tick=False)


def midnight(day):
    return timezone.make_aware(datetime.combine(day, time.min))


def reserved_by_day(listing) -> dict:
    return dict(CapacityDay.objects.filter(listing=listing).values_list("day", "reserved"))


def approved(operator, tenant, listing, units, start, days=4) -> Lease:
    lease = leases.request_lease(
        actor=tenant,
        tenant_id=tenant.subject.pk,
        listing_id=listing.pk,
        units=units,
        start=start,
        end=start + timedelta(days=days),
    )
    return leases.approve_lease(actor=operator, lease_id=lease.pk)


def test_unpaid_lease_expires_just_after_48_hours_and_not_before(operator, merchant, make_listing):
    listing = make_listing(start_offset=10)
    start = listing.available_from
    lease = approved(operator, merchant, listing, 30, start)
    due = lease.decided_at + timedelta(hours=48)
    assert payment_due_at(lease=lease) == due

    with at(due - timedelta(seconds=1)):
        assert expire_unpaid_leases() == 0
    lease.refresh_from_db()
    assert lease.status == Lease.Status.APPROVED
    assert reserved_by_day(listing)[start] == 30

    with at(due + timedelta(seconds=1)):
        assert expire_unpaid_leases_task() == 1
        assert expire_unpaid_leases_task() == 0  # a second run changes nothing
    lease.refresh_from_db()
    assert lease.status == Lease.Status.EXPIRED
    assert lease.decision_reasons[-1]["code"] == "payment_overdue"
    assert set(reserved_by_day(listing).values()) == {0}
    audit = AuditEntry.objects.get(action="lease.payment_overdue", target_id=str(lease.pk))
    assert audit.old["status"] == "approved" and audit.new["status"] == "expired"
    assert "payment deadline" in audit.reason
    assert audit.new["payment_due_at"] == due.isoformat()
    # No credit event kind fits a lease that lapsed unpaid before its start.
    assert not CreditEvent.objects.filter(source_reference=f"lease:{lease.pk}").exists()


def test_deadline_is_capped_at_the_start(operator, merchant, make_listing):
    listing = make_listing(start_offset=1)  # starts tomorrow: sooner than 48 hours
    start = listing.available_from
    lease = approved(operator, merchant, listing, 10, start)
    assert payment_due_at(lease=lease) == midnight(start) < lease.decided_at + timedelta(hours=48)

    with at(midnight(start) - timedelta(seconds=1)):
        assert expire_unpaid_leases() == 0
    with at(midnight(start)):
        assert expire_unpaid_leases() == 1
    lease.refresh_from_db()
    assert lease.status == Lease.Status.EXPIRED
    assert reserved_by_day(listing)[start] == 0


def test_lease_approved_on_its_start_day_has_until_the_end_of_that_day(merchant, make_listing, today):
    listing = make_listing(start_offset=0, booking_mode="instant")
    lease = leases.request_lease(
        actor=merchant,
        tenant_id=merchant.subject.pk,
        listing_id=listing.pk,
        units=5,
        start=today,
        end=today + timedelta(days=3),
    )
    assert lease.status == Lease.Status.APPROVED
    end_of_day = midnight(today + timedelta(days=1))
    assert payment_due_at(lease=lease) == min(end_of_day, lease.decided_at + timedelta(hours=48))
    assert expire_unpaid_leases() == 0  # not ended the moment it was booked
    with at(end_of_day + timedelta(seconds=1)):
        assert expire_unpaid_leases() == 1


def test_paid_lease_is_never_ended(operator, merchant, make_listing):
    listing = make_listing(start_offset=10)
    start = listing.available_from
    lease = approved(operator, merchant, listing, 30, start)
    fund_lease(lease)
    with at(midnight(start) + timedelta(hours=1)):  # past every deadline
        assert overdue_unpaid_lease_ids() == []
        assert expire_unpaid_leases(lease_ids=[lease.pk]) == 0  # even when asked by id
    lease.refresh_from_db()
    assert lease.status == Lease.Status.APPROVED
    assert reserved_by_day(listing)[start] == 30
    assert not AuditEntry.objects.filter(action="lease.payment_overdue").exists()


def test_only_the_unpaid_lease_gives_its_units_back_exactly(operator, merchant, other_merchant, make_listing):
    listing = make_listing(start_offset=10)
    d = listing.available_from
    paid = approved(operator, merchant, listing, 30, d, days=4)  # d .. d+3
    unpaid = approved(operator, other_merchant, listing, 20, d + timedelta(days=2), days=4)  # d+2 .. d+5
    fund_lease(paid)
    before = reserved_by_day(listing)
    assert [before[d + timedelta(days=i)] for i in range(7)] == [30, 30, 50, 50, 20, 20, 0]
    with at(unpaid.decided_at + timedelta(hours=48, seconds=1)):
        assert expire_unpaid_leases() == 1
    after = reserved_by_day(listing)
    assert [after[d + timedelta(days=i)] for i in range(7)] == [30, 30, 30, 30, 0, 0, 0]
    assert sum(before.values()) - sum(after.values()) == unpaid.units * unpaid.days


def test_paid_leases_ahead_of_an_overdue_one_do_not_hide_it(operator, merchant, other_merchant, make_listing):
    listing = make_listing(start_offset=10)
    d = listing.available_from
    paid = [approved(operator, merchant, listing, 5, d) for _ in range(3)]
    for lease in paid:
        fund_lease(lease)
    unpaid = approved(operator, other_merchant, listing, 5, d)
    with at(unpaid.decided_at + timedelta(hours=48, seconds=1)):
        assert overdue_unpaid_lease_ids(chunk=2) == [unpaid.pk]


def test_held_and_cancelled_leases_are_left_to_their_own_rules(operator, merchant, other_merchant, make_listing):
    listing = make_listing(start_offset=10)
    d = listing.available_from
    cancelled = approved(operator, merchant, listing, 5, d)
    leases.cancel_lease(actor=merchant, lease_id=cancelled.pk)
    held = leases.request_lease(
        actor=other_merchant,
        tenant_id=other_merchant.subject.pk,
        listing_id=listing.pk,
        units=5,
        start=d,
        end=d + timedelta(days=2),
    )
    assert payment_due_at(lease=held) is None
    with at(timezone.now() + timedelta(hours=49)):
        assert expire_unpaid_leases(lease_ids=[cancelled.pk, held.pk]) == 0
    assert not AuditEntry.objects.filter(action="lease.payment_overdue").exists()


def test_api_shows_the_deadline_until_paid(client_for, operator, merchant, make_listing):
    listing = make_listing(start_offset=10)
    lease = approved(operator, merchant, listing, 10, listing.available_from)
    due = lease.decided_at + timedelta(hours=48)
    body = client_for(merchant).get(f"{LEASES}{lease.pk}/").json()
    assert datetime.fromisoformat(body["payment_due_at"].replace("Z", "+00:00")) == due
    listed = client_for(merchant).get(LEASES).json()["results"]
    assert [row["payment_due_at"] for row in listed] == [body["payment_due_at"]]
    fund_lease(lease)
    assert client_for(merchant).get(f"{LEASES}{lease.pk}/").json()["payment_due_at"] is None


def test_api_has_no_deadline_for_a_held_request(client_for, merchant, listing):
    d = listing.available_from
    lease = leases.request_lease(
        actor=merchant,
        tenant_id=merchant.subject.pk,
        listing_id=listing.pk,
        units=5,
        start=d,
        end=d + timedelta(days=2),
    )
    assert client_for(merchant).get(f"{LEASES}{lease.pk}/").json()["payment_due_at"] is None


def test_lease_page_tells_the_tenant_the_deadline(client, operator, merchant, make_listing):
    listing = make_listing(start_offset=10)
    lease = approved(operator, merchant, listing, 10, listing.available_from)
    due = lease.decided_at + timedelta(hours=48)
    client.force_login(merchant)
    page = client.get(f"/warehouses/leases/{lease.pk}/").content.decode()
    assert 'data-testid="payment-deadline"' in page
    assert due.strftime("%Y-%m-%d %H:%M") in page
    fund_lease(lease)
    assert 'data-testid="payment-deadline"' not in client.get(f"/warehouses/leases/{lease.pk}/").content.decode()
