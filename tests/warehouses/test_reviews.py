"""Ratings after completion and the credit events lease outcomes create for both parties."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from core.errors import InvalidInput
from credit.models import CreditEvent
from tests.payments.conftest import make_compliant_institution
from tests.warehouses.conftest import make_member
from warehouses import selectors
from warehouses.errors import LeaseNotFound, ReviewNotAllowed
from warehouses.models import Lease, LeaseReview
from warehouses.services import escrow as escrow_services
from warehouses.services import leases, reviews

pytestmark = pytest.mark.django_db


def later(days: int):
    return time_machine.travel(timezone.now() + timedelta(days=days), tick=False)


@pytest.fixture
def completed_lease(operator, merchant, make_warehouse, make_listing, today):
    payer = make_compliant_institution()
    warehouse = make_warehouse(
        name="Yantian DC", country="CN", city="Shenzhen", latitude=Decimal("22.57"), longitude=Decimal("114.27")
    )
    listing = make_listing(warehouse_=warehouse, start_offset=0, booking_mode="instant", currency="CNY")
    lease = leases.request_lease(
        actor=merchant,
        tenant_id=merchant.subject.pk,
        listing_id=listing.pk,
        units=3,
        start=today,
        end=today + timedelta(days=2),
    )
    escrow_services.pay_lease(actor=merchant, lease_id=lease.pk, institution_id=payer.pk)
    leases.check_in_lease(actor=operator, lease_id=lease.pk)
    with later(2):
        leases.complete_lease(actor=operator, lease_id=lease.pk)
    lease.refresh_from_db()
    return lease


def events(subject, kind=None):
    qs = CreditEvent.objects.filter(subject=subject)
    return list(qs.filter(kind_id=kind) if kind else qs)


def test_completion_records_lease_completed_for_both_parties(operator, merchant, completed_lease):
    for party in (merchant.subject, operator.subject):
        (event,) = events(party, "lease_completed")
        assert event.source_reference == f"lease:{completed_lease.pk}"
        assert event.source == "platform"


def test_each_party_rates_the_other_once_and_the_rating_enters_the_record(operator, merchant, completed_lease):
    by_tenant = reviews.review_lease(actor=merchant, lease_id=completed_lease.pk, stars=5, comment="Smooth")
    assert (by_tenant.reviewer_id, by_tenant.reviewed_id) == (merchant.subject.pk, operator.subject.pk)
    (positive,) = events(operator.subject, "positive_rating")
    assert positive.source_reference == f"lease:{completed_lease.pk}:review:{merchant.subject.pk}"
    by_operator = reviews.review_lease(actor=operator, lease_id=completed_lease.pk, stars=1, comment="Late pickup")
    assert by_operator.reviewed_id == merchant.subject.pk
    (negative,) = events(merchant.subject, "negative_rating")
    assert negative.source_reference == f"lease:{completed_lease.pk}:review:{operator.subject.pk}"
    # Once per party: the same review again is a no-op, a different one is refused.
    assert reviews.review_lease(actor=merchant, lease_id=completed_lease.pk, stars=5, comment="Smooth") == by_tenant
    with pytest.raises(ReviewNotAllowed) as exc:
        reviews.review_lease(actor=merchant, lease_id=completed_lease.pk, stars=2)
    assert exc.value.code == "already_reviewed"
    assert LeaseReview.objects.count() == 2
    assert len(events(operator.subject, "positive_rating")) == 1
    assert selectors.rating_summary(subject_id=operator.subject.pk) == {"count": 1, "average": 5.0}
    assert selectors.listing_rating_summary(listing_id=completed_lease.listing_id) == {"count": 1, "average": 5.0}


def test_three_stars_is_neutral(operator, merchant, completed_lease):
    reviews.review_lease(actor=merchant, lease_id=completed_lease.pk, stars=3)
    assert not events(operator.subject, "positive_rating") and not events(operator.subject, "negative_rating")


def test_reviews_close_after_the_window(operator, merchant, completed_lease):
    with later(2 + 29):  # completed on day 2; the 30-day window is still open
        assert reviews.review_lease(actor=merchant, lease_id=completed_lease.pk, stars=4).stars == 4
    with later(2 + 31), pytest.raises(ReviewNotAllowed) as exc:
        reviews.review_lease(actor=operator, lease_id=completed_lease.pk, stars=4)
    assert exc.value.code == "review_window_closed"
    assert LeaseReview.objects.count() == 1


def test_only_completed_leases_and_only_parties_review(operator, merchant, completed_lease, listing, today):
    running = leases.request_lease(
        actor=merchant,
        tenant_id=merchant.subject.pk,
        listing_id=listing.pk,
        units=1,
        start=listing.available_from,
        end=listing.available_from + timedelta(days=1),
    )
    with pytest.raises(ReviewNotAllowed) as exc:
        reviews.review_lease(actor=merchant, lease_id=running.pk, stars=5)
    assert exc.value.code == "lease_not_completed"
    with pytest.raises(LeaseNotFound):
        reviews.review_lease(actor=make_member(is_merchant=True), lease_id=completed_lease.pk, stars=5)
    for stars in (0, 6, None):
        with pytest.raises(InvalidInput) as exc:
            reviews.review_lease(actor=merchant, lease_id=completed_lease.pk, stars=stars)
        assert "stars" in exc.value.field_errors
    assert completed_lease.status == Lease.Status.COMPLETED
    assert not LeaseReview.objects.exists()
