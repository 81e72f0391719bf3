"""Money under real concurrency on PostgreSQL: threads (one database connection each) pay
the same lease and run the daily release at the same time; the money moves exactly once.
A release or a cancellation that waits for the escrow works out its amounts from what the
escrow holds once it has the lock."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction

from core.errors import DomainError
from payments.models import EscrowTransaction, LedgerAccount
from payments.selectors import escrow_summary
from payments.services import escrow as payment_escrow
from tests.payments.escrow_helpers import fund_lease, make_escrow_institution, wait_until_blocked
from warehouses.models import Lease
from warehouses.services import escrow as escrow_services
from warehouses.services import leases

pytestmark = pytest.mark.django_db(transaction=True)
THREADS = 8


def race(work) -> list:
    barrier = threading.Barrier(THREADS)

    def run(_):
        try:
            barrier.wait()
            return work()
        except DomainError as exc:  # busy (lock timeout) is an acceptable answer
            return exc.code
        finally:
            connection.close()

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(run, range(THREADS)))


def test_concurrent_payments_and_releases_move_money_once(merchant, operator, make_listing, today):
    listing = make_listing(start_offset=0, days=90, booking_mode="instant")
    institution = make_escrow_institution()
    lease = leases.request_lease(
        actor=merchant,
        tenant_id=merchant.subject.pk,
        listing_id=listing.pk,
        units=10,
        start=today,
        end=today + timedelta(days=60),
    )  # 750.00

    race(lambda: escrow_services.pay_lease(actor=merchant, lease_id=lease.pk, institution_id=institution.pk))
    assert EscrowTransaction.objects.filter(reference=lease.escrow_ref, kind="hold").count() == 1
    assert escrow_summary(reference=lease.escrow_ref)["held"] == Decimal("750.00")

    leases.check_in_lease(actor=operator, lease_id=lease.pk)  # 375.00
    Lease.objects.filter(pk=lease.pk).update(start=today - timedelta(days=30), end=today + timedelta(days=30))
    race(lambda: escrow_services.release_period_for_lease(lease_id=lease.pk))
    assert EscrowTransaction.objects.filter(reference=lease.escrow_ref, kind="release").count() == 2
    summary = escrow_summary(reference=lease.escrow_ref)
    assert (summary["released"], summary["balance"]) == (Decimal("750.00"), Decimal("0.00"))


def balance_of(kind: str, subject_id=None) -> Decimal:
    account = LedgerAccount.objects.filter(kind=kind, subject_id=subject_id).first()
    return sum((e.amount for e in account.entries.all()), Decimal("0.00")) if account else Decimal("0.00")


def while_paying_out(reference: str, amount: str, work):
    """Run `work` in a thread while this connection pays `amount` out of the escrow (a
    release, not committed yet); commit once the thread waits for the escrow. Returns what
    `work` gave, or a domain error's code."""
    result = {}

    def run():
        try:
            result["value"] = work()
        except DomainError as exc:
            result["value"] = exc.code
        finally:
            connection.close()

    with transaction.atomic():
        payment_escrow.release_to_payee(actor=None, reference=reference, amount=Decimal(amount), memo="Meanwhile")
        thread = threading.Thread(target=run)
        thread.start()
        wait_until_blocked(1)
    thread.join(timeout=30)
    return result["value"]


def test_a_daily_release_waiting_for_the_escrow_releases_what_is_due_after_the_wait(
    merchant, operator, make_listing, today
):
    listing = make_listing(start_offset=0, days=90, booking_mode="instant")
    lease = leases.request_lease(
        actor=merchant,
        tenant_id=merchant.subject.pk,
        listing_id=listing.pk,
        units=10,
        start=today,
        end=today + timedelta(days=60),
    )  # 750.00, two periods
    fund_lease(lease)
    leases.check_in_lease(actor=operator, lease_id=lease.pk)  # 375.00 released
    Lease.objects.filter(pk=lease.pk).update(start=today - timedelta(days=30), end=today + timedelta(days=30))

    # 100.00 more goes to the operator while the daily release waits: the release then owes
    # 275.00, not the 375.00 the escrow showed before the wait (which it no longer holds).
    tx = while_paying_out(
        lease.escrow_ref, "100.00", lambda: escrow_services.release_period_for_lease(lease_id=lease.pk)
    )

    assert isinstance(tx, EscrowTransaction), tx
    assert tx.entries.get(amount__gt=0).amount == Decimal("275.00")
    summary = escrow_summary(reference=lease.escrow_ref)
    assert (summary["released"], summary["balance"]) == (Decimal("750.00"), Decimal("0.00"))


def test_a_cancellation_waiting_for_the_escrow_refunds_the_tenant_in_full(merchant, make_listing, today):
    listing = make_listing(start_offset=0, days=90, booking_mode="instant")  # cancelling is free
    lease = leases.request_lease(
        actor=merchant,
        tenant_id=merchant.subject.pk,
        listing_id=listing.pk,
        units=10,
        start=today + timedelta(days=10),
        end=today + timedelta(days=70),
    )  # 750.00
    fund_lease(lease)

    # 100.00 goes to the operator while the cancellation waits: the escrow refunds the 650.00
    # it still holds and the operator gives the 100.00 back, so the tenant gets 750.00.
    cancelled = while_paying_out(
        lease.escrow_ref, "100.00", lambda: leases.cancel_lease(actor=merchant, lease_id=lease.pk)
    )

    assert isinstance(cancelled, Lease) and cancelled.status == Lease.Status.CANCELLED, cancelled
    assert escrow_summary(reference=lease.escrow_ref)["balance"] == Decimal("0.00")
    assert balance_of("tenant", merchant.subject.pk) == Decimal("0.00")
    assert balance_of("operator", lease.listing.warehouse.owner_id) == Decimal("0.00")
    assert balance_of("platform_fee") == Decimal("0.00")
