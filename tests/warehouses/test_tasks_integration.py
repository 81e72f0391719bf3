"""Background flows through a real Celery worker: an unanswered hold expires and gives its
units back (the beat task `warehouses.expire_holds`); an unanswered transfer offer lapses
(`warehouses.expire_transfers`)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.integration.conftest import celery_worker_process, wait_for_fixture  # noqa: F401 - fixtures
from warehouses.models import CapacityDay, Lease
from warehouses.services import leases
from warehouses.tasks import expire_holds_task

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_worker_expires_overdue_holds_and_frees_units(celery_worker_process, wait_for, merchant, listing):  # noqa: F811
    d = listing.available_from
    lease = leases.request_lease(
        actor=merchant,
        tenant_id=merchant.subject.pk,
        listing_id=listing.pk,
        units=25,
        start=d,
        end=d + timedelta(days=3),
    )
    Lease.objects.filter(pk=lease.pk).update(hold_expires_at=timezone.now() - timedelta(minutes=1))
    expire_holds_task.delay()
    wait_for(lambda: Lease.objects.get(pk=lease.pk).status == Lease.Status.EXPIRED, message="the hold to expire")
    assert set(CapacityDay.objects.filter(listing=listing).values_list("reserved", flat=True)) == {0}


def test_worker_lapses_overdue_transfer_offers(
    celery_worker_process,  # noqa: F811
    wait_for,
    merchant,
    other_merchant,
    make_listing,
):
    from warehouses.models import LeaseTransfer
    from warehouses.services import transfers
    from warehouses.tasks import expire_transfers_task

    listing = make_listing(booking_mode="instant")
    d = listing.available_from
    lease = leases.request_lease(
        actor=merchant, tenant_id=merchant.subject.pk, listing_id=listing.pk, units=5, start=d, end=d + timedelta(3)
    )
    offer = transfers.offer_transfer(
        actor=merchant, lease_id=lease.pk, to_subject_id=other_merchant.subject.pk, units=2
    )
    LeaseTransfer.objects.filter(pk=offer.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    expire_transfers_task.delay()
    wait_for(lambda: LeaseTransfer.objects.get(pk=offer.pk).status == "expired", message="the offer to lapse")
    assert Lease.objects.get(pk=lease.pk).status == Lease.Status.APPROVED
