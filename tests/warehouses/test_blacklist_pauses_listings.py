"""Blacklisting an operator pauses its published listings (read from credit's domain
events by the marketplace's beat task); its other listings, other operators' listings and
existing leases stay as they are, and lifting the entry does not republish."""

from datetime import timedelta

import pytest

from core.models import AuditEntry
from credit.services import blacklist
from tests.factories import RegulatorFactory
from tests.warehouses.conftest import make_member
from warehouses.errors import CreditGateRefused, ListingNotFound
from warehouses.models import CapacityDay, Lease, Listing
from warehouses.services import leases
from warehouses.services import listings as listing_services
from warehouses.tasks import read_domain_events_task

pytestmark = pytest.mark.django_db
PAUSED_ACTION = "listing.paused_operator_blacklisted"


@pytest.fixture
def regulator():
    return RegulatorFactory()


def blacklist_operator(regulator, user, reference="DEC-2026-17"):
    return blacklist.blacklist_subject(
        actor=regulator,
        subject_id=user.subject.pk,
        category="fraud",
        legal_basis="Art. 12 e-commerce law",
        decision_reference=reference,
        description="Took deposits for space it did not have.",
        severity="general",
    )


def status_of(*listings) -> list[str]:
    return [Listing.objects.get(pk=listing.pk).status for listing in listings]


@pytest.fixture
def other_operator():
    return make_member(is_merchant=False, is_warehouse_operator=True, country="NL", legal_name="Venlo Depot BV")


def test_blacklisting_pauses_only_that_operators_published_listings(
    regulator, operator, other_operator, merchant, make_listing, make_warehouse
):
    published = make_listing()
    second_site = make_listing(warehouse_=make_warehouse(name="Venlo DC"))
    draft = make_listing(publish=False)
    others = make_listing(owner=other_operator, warehouse_=make_warehouse(owner=other_operator))
    d = published.available_from
    lease = leases.request_lease(
        actor=merchant,
        tenant_id=merchant.subject.pk,
        listing_id=published.pk,
        units=10,
        start=d,
        end=d + timedelta(days=3),
    )
    leases.approve_lease(actor=operator, lease_id=lease.pk)

    blacklist_operator(regulator, operator)
    read_domain_events_task()

    assert status_of(published, second_site, draft, others) == ["paused", "paused", "draft", "published"]
    lease.refresh_from_db()
    assert lease.status == Lease.Status.APPROVED  # existing leases stay as they are
    assert CapacityDay.objects.get(listing=published, day=d).reserved == 10
    audits = AuditEntry.objects.filter(action=PAUSED_ACTION).order_by("id")
    assert [a.target_id for a in audits] == [str(published.pk), str(second_site.pk)]
    assert all("DEC-2026-17" in a.reason and a.subject_id == operator.subject.pk for a in audits)
    assert (audits[0].old, audits[0].new) == ({"status": "published"}, {"status": "paused"})


def test_a_paused_listing_takes_no_new_requests(regulator, operator, merchant, listing):
    blacklist_operator(regulator, operator)
    read_domain_events_task()
    d = listing.available_from
    with pytest.raises(ListingNotFound):
        leases.request_lease(
            actor=merchant,
            tenant_id=merchant.subject.pk,
            listing_id=listing.pk,
            units=1,
            start=d,
            end=d + timedelta(days=2),
        )


def test_reading_again_changes_nothing(regulator, operator, listing):
    blacklist_operator(regulator, operator)
    read_domain_events_task()
    read_domain_events_task()
    blacklist_operator(regulator, operator, reference="DEC-2026-18")  # a second entry: already paused
    read_domain_events_task()
    assert status_of(listing) == ["paused"]
    assert AuditEntry.objects.filter(action=PAUSED_ACTION).count() == 1


def test_lifting_does_not_republish_and_the_operator_may_republish(regulator, operator, listing):
    entry = blacklist_operator(regulator, operator)
    read_domain_events_task()
    with pytest.raises(CreditGateRefused):  # not while blacklisted
        listing_services.set_listing_status(actor=operator, listing_id=listing.pk, status="published")

    blacklist.lift_blacklist_entry(actor=regulator, entry_id=entry.pk, reason="Decision annulled on appeal.")
    read_domain_events_task()
    assert status_of(listing) == ["paused"]

    listing_services.set_listing_status(actor=operator, listing_id=listing.pk, status="published")
    read_domain_events_task()  # the old blacklisting is not read again
    assert status_of(listing) == ["published"]
    assert AuditEntry.objects.filter(action=PAUSED_ACTION).count() == 1


def test_an_entry_lifted_before_the_event_is_read_pauses_nothing(regulator, operator, listing):
    entry = blacklist_operator(regulator, operator)
    blacklist.lift_blacklist_entry(actor=regulator, entry_id=entry.pk, reason="Entered against the wrong subject.")
    read_domain_events_task()
    assert status_of(listing) == ["published"]
    assert not AuditEntry.objects.filter(action=PAUSED_ACTION).exists()


def test_blacklisting_a_tenant_pauses_none_of_the_listings_it_leases(regulator, merchant, listing):
    blacklist_operator(regulator, merchant)
    read_domain_events_task()
    assert status_of(listing) == ["published"]
