"""Background flow through a real Celery worker: the daily escrow release
(`warehouses.release_escrow_periods`) pays the operator the period that has started, and
skips an escrow frozen by a dispute."""

from datetime import timedelta
from decimal import Decimal

import pytest

from payments.selectors import escrow_summary
from tests.integration.conftest import celery_worker_process, wait_for_fixture  # noqa: F401 - fixtures
from tests.payments.escrow_helpers import fund_lease, make_escrow_institution
from warehouses.models import Lease
from warehouses.services import escrow as escrow_services
from warehouses.services import leases
from warehouses.tasks import release_escrow_periods_task

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_worker_releases_started_periods_but_not_while_frozen(
    celery_worker_process,  # noqa: F811
    wait_for,
    merchant,
    operator,
    make_listing,
    today,
):
    listing = make_listing(start_offset=0, days=90, booking_mode="instant")
    institution = make_escrow_institution()
    # The disputed lease has the lower id: the task handles it first, so once the running
    # lease's release is seen, the frozen one has been looked at too.
    disputed, running = (
        leases.request_lease(
            actor=merchant,
            tenant_id=merchant.subject.pk,
            listing_id=listing.pk,
            units=units,
            start=today,
            end=today + timedelta(days=60),
        )
        for units in (4, 10)
    )
    for lease in (running, disputed):
        fund_lease(lease, institution=institution)
        leases.check_in_lease(actor=operator, lease_id=lease.pk)  # the first of two 30-day periods
    escrow_services.open_lease_dispute(actor=merchant, lease_id=disputed.pk, reason="Damaged")
    # Both leases are now in their second period (same length, so the same price).
    Lease.objects.filter(pk__in=[running.pk, disputed.pk]).update(
        start=today - timedelta(days=30), end=today + timedelta(days=30)
    )
    assert escrow_summary(reference=running.escrow_ref)["released"] == Decimal("375.00")

    release_escrow_periods_task.delay()
    wait_for(
        lambda: escrow_summary(reference=running.escrow_ref)["released"] == Decimal("750.00"),
        message="the second period's release",
    )
    frozen = escrow_summary(reference=disputed.escrow_ref)
    assert (frozen["status"], frozen["released"], frozen["balance"]) == ("frozen", Decimal("150.00"), Decimal("150.00"))
