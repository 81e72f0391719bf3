"""Lifecycle races on PostgreSQL with real concurrent connections: paying against
cancelling, approving against the hold expiry, disputing against the daily release. Every
service takes the listing's lock, then the lease's, then the escrow's, so one side wins and
the other sees its result: the money and the ledger always agree with the lease."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from core.errors import DomainError
from payments.models import EscrowTransaction
from payments.selectors import escrow_summary
from tests.payments.escrow_helpers import make_escrow_institution
from warehouses.models import CapacityDay, Lease
from warehouses.services import escrow as escrow_services
from warehouses.services import leases

pytestmark = pytest.mark.django_db(transaction=True)
ROUNDS = 4


def together(*calls) -> list:
    """Run the calls at the same moment, one connection each; a domain error is a result."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        try:
            barrier.wait()
            return call()
        except DomainError as exc:
            return exc.code
        finally:
            connection.close()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def reserved(listing, day) -> int:
    return CapacityDay.objects.get(listing=listing, day=day).reserved


def test_pay_and_cancel_at_the_same_time(merchant, make_listing, today):
    listing = make_listing(start_offset=0, days=90, booking_mode="instant", free_cancellation_days=0)
    institution = make_escrow_institution()
    for n in range(ROUNDS):
        start = today + timedelta(days=10 + n * 5)
        lease = leases.request_lease(
            actor=merchant,
            tenant_id=merchant.subject.pk,
            listing_id=listing.pk,
            units=10,
            start=start,
            end=start + timedelta(days=4),
        )  # 50.00, cancellable for free
        together(
            lambda lid=lease.pk: escrow_services.pay_lease(actor=merchant, lease_id=lid, institution_id=institution.pk),
            lambda lid=lease.pk: leases.cancel_lease(actor=merchant, lease_id=lid),
        )
        lease.refresh_from_db()
        assert lease.status == Lease.Status.CANCELLED
        assert reserved(listing, start) == 0
        summary = escrow_summary(reference=lease.escrow_ref)
        kinds = sorted(EscrowTransaction.objects.filter(reference=lease.escrow_ref).values_list("kind", flat=True))
        # Either the payment came first and the cancellation refunded it all, or the
        # cancellation came first and the payment was refused: no money is left behind.
        assert kinds in ([], ["hold", "refund"]), kinds
        assert summary["balance"] == Decimal("0.00")


def test_approve_and_hold_expiry_at_the_same_time(operator, merchant, make_listing, today):
    listing = make_listing(start_offset=0, days=90, booking_mode="request")
    for n in range(ROUNDS):
        start = today + timedelta(days=10 + n * 5)
        lease = leases.request_lease(
            actor=merchant,
            tenant_id=merchant.subject.pk,
            listing_id=listing.pk,
            units=10,
            start=start,
            end=start + timedelta(days=4),
        )
        # The deadline is now: the expiry may run, and so may an approval a moment late.
        Lease.objects.filter(pk=lease.pk).update(hold_expires_at=timezone.now() - timedelta(seconds=1))
        results = together(
            lambda lid=lease.pk: leases.expire_lease(lease_id=lid),
            lambda lid=lease.pk: leases.approve_lease(actor=operator, lease_id=lid),
        )
        lease.refresh_from_db()
        # The deadline passed, so the approval can never win: expired, the units back.
        assert lease.status == Lease.Status.EXPIRED, results
        # The approval found the deadline passed (and expired it) or the lease already expired.
        assert results[1] in ("hold_expired", "invalid_transition"), results
        assert results[0] in (True, False)
        assert reserved(listing, start) == 0


def test_approve_just_before_the_deadline_races_the_beat_consistently(operator, merchant, make_listing, today):
    listing = make_listing(start_offset=0, days=90, booking_mode="request")
    start = today + timedelta(days=10)
    lease = leases.request_lease(
        actor=merchant,
        tenant_id=merchant.subject.pk,
        listing_id=listing.pk,
        units=10,
        start=start,
        end=start + timedelta(days=4),
    )
    results = together(
        lambda: leases.expire_holds(),
        lambda: leases.approve_lease(actor=operator, lease_id=lease.pk),
    )
    lease.refresh_from_db()
    assert lease.status == Lease.Status.APPROVED, results
    assert results[0] == 0
    assert reserved(listing, start) == 10


def test_dispute_and_the_daily_release_at_the_same_time(operator, merchant, make_listing, today):
    listing = make_listing(start_offset=0, days=120, booking_mode="instant")
    institution = make_escrow_institution()
    lease = leases.request_lease(
        actor=merchant,
        tenant_id=merchant.subject.pk,
        listing_id=listing.pk,
        units=10,
        start=today,
        end=today + timedelta(days=60),
    )  # 750.00, two 30-day periods
    escrow_services.pay_lease(actor=merchant, lease_id=lease.pk, institution_id=institution.pk)
    leases.check_in_lease(actor=operator, lease_id=lease.pk)  # first period: 375.00
    Lease.objects.filter(pk=lease.pk).update(start=today - timedelta(days=30), end=today + timedelta(days=30))
    results = together(
        lambda: escrow_services.release_period_for_lease(lease_id=lease.pk),
        lambda: escrow_services.open_lease_dispute(actor=merchant, lease_id=lease.pk, reason="Damaged"),
    )
    summary = escrow_summary(reference=lease.escrow_ref)
    assert summary["frozen"] and summary["open_dispute"], results
    releases = EscrowTransaction.objects.filter(reference=lease.escrow_ref, kind="release").count()
    # The release ran before the freeze (two releases, nothing left) or was skipped after it.
    assert (releases, summary["balance"]) in ((2, Decimal("0.00")), (1, Decimal("375.00"))), (releases, summary)
    # A release after the freeze moves nothing.
    with time_machine.travel(timezone.now() + timedelta(days=29), tick=False):
        assert escrow_services.release_period_for_lease(lease_id=lease.pk) is None


def test_two_transfer_offers_of_the_same_lease_at_the_same_time(merchant, make_listing, today):
    from tests.warehouses.conftest import make_member
    from warehouses.models import LeaseTransfer
    from warehouses.services import transfers

    listing = make_listing(start_offset=0, days=90, booking_mode="instant")
    lease = leases.request_lease(
        actor=merchant,
        tenant_id=merchant.subject.pk,
        listing_id=listing.pk,
        units=10,
        start=today + timedelta(days=5),
        end=today + timedelta(days=15),
    )
    first, second = (make_member(is_merchant=True, grade="B") for _ in range(2))
    results = together(
        lambda: transfers.offer_transfer(actor=merchant, lease_id=lease.pk, to_subject_id=first.subject.pk, units=3),
        lambda: transfers.offer_transfer(actor=merchant, lease_id=lease.pk, to_subject_id=second.subject.pk, units=4),
    )
    assert LeaseTransfer.objects.filter(lease=lease, status__in=LeaseTransfer.OPEN).count() == 1, results
    assert sum(isinstance(r, LeaseTransfer) for r in results) == 1
    assert [r for r in results if isinstance(r, str)] in (["transfer_pending"], ["busy"]), results
