"""Background flow through a real Celery worker: an unanswered hold expires and gives its
units back (the beat task `warehouses.expire_holds`)."""

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
