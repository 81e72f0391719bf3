"""Money under real concurrency on PostgreSQL: threads (one database connection each) pay
the same lease and run the daily release at the same time; the money moves exactly once."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection

from credit.errors import DomainError
from payments.models import EscrowTransaction
from payments.selectors import escrow_summary
from tests.payments.escrow_helpers import make_escrow_institution
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
