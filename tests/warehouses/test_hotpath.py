"""Each hand-written statement of warehouses.hotpath returns what the equivalent ORM query
returns, on data that makes the difference visible (a blacklisted owner, full days, leases
that hold units and leases that gave them back)."""

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.db.models import F, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.db import all_or_nothing
from credit.models import BlacklistEntry
from tests.warehouses.test_leases import blacklist, book, reserved_by_day
from warehouses import hotpath
from warehouses.models import CapacityDay, Lease, Listing
from warehouses.services import leases

pytestmark = pytest.mark.django_db


def loaded_values(obj) -> dict:
    deferred = obj.get_deferred_fields()
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields if f.attname not in deferred}


@pytest.mark.parametrize("owner_blacklisted", [False, True])
def test_listing_for_update_is_the_orm_select_related_row(operator, listing, owner_blacklisted):
    if owner_blacklisted:
        blacklist(operator.subject)
    with transaction.atomic():
        raw = hotpath.select_listing_for_update(listing_id=listing.pk, lock_timeout_ms=1000)
        orm = Listing.objects.select_for_update(of=("self",)).select_related("warehouse__owner").get(pk=listing.pk)
    for mine, theirs in ((raw, orm), (raw.warehouse, orm.warehouse), (raw.warehouse.owner, orm.warehouse.owner)):
        values = loaded_values(mine)
        assert values == {k: v for k, v in loaded_values(theirs).items() if k in values}
    assert set(raw.warehouse.owner.get_deferred_fields()) == set(hotpath.OWNER_UNUSED)
    active = BlacklistEntry.objects.filter(
        subject_id=orm.warehouse.owner_id,
        status=BlacklistEntry.Status.ACTIVE,
        publication_ends_on__gt=timezone.localdate(),
    ).exists()
    assert raw.warehouse.owner.has_active_blacklist_entry is active is owner_blacklisted


def test_listing_for_update_of_no_listing_is_none(listing):
    with transaction.atomic():
        assert hotpath.select_listing_for_update(listing_id=listing.pk + 1000, lock_timeout_ms=1000) is None


def test_reserve_days_changes_what_the_orm_update_would(merchant, other_merchant, listing):
    d = listing.available_from
    book(other_merchant, listing, 95, d + timedelta(days=2), d + timedelta(days=4))  # days 2-3 have 5 free
    start, end, units = d, d + timedelta(days=6), 10
    orm_days = CapacityDay.objects.filter(
        listing=listing, day__gte=start, day__lt=end, reserved__lte=F("capacity") - units
    )
    expected_ids = sorted(orm_days.values_list("id", flat=True))
    with transaction.atomic():
        orm_days.update(reserved=F("reserved") + units)
        orm_after = reserved_by_day(listing)
        transaction.set_rollback(True)
    before = reserved_by_day(listing)
    assert orm_after != before
    with transaction.atomic():
        changed = hotpath.reserve_days(listing_id=listing.pk, start=start, end=end, units=units)
        assert sorted(changed) == expected_ids and len(changed) == 4
        assert reserved_by_day(listing) == orm_after


def orm_drift(listing_ids=None) -> list[dict]:
    covering = (
        Lease.objects.filter(
            listing_id=OuterRef("listing_id"),
            status__in=Lease.RESERVING,
            start__lte=OuterRef("day"),
            end__gt=OuterRef("day"),
        )
        .order_by()
        .values("listing_id")
        .annotate(total=Sum("units"))
        .values("total")
    )
    days = CapacityDay.objects.all() if listing_ids is None else CapacityDay.objects.filter(listing_id__in=listing_ids)
    return list(
        days.annotate(expected=Coalesce(Subquery(covering), 0))
        .exclude(reserved=F("expected"))
        .order_by("listing_id", "day")
        .values("listing_id", "day", "reserved", "expected")
    )


def test_reservation_drift_is_the_orm_aggregate(operator, merchant, other_merchant, listing, make_listing):
    second = make_listing(title="Second")
    d = listing.available_from
    book(merchant, listing, 10, d, d + timedelta(days=3))
    cancelled = book(other_merchant, listing, 5, d + timedelta(days=1), d + timedelta(days=5))
    leases.cancel_lease(actor=other_merchant, lease_id=cancelled.pk)  # gave its units back
    book(merchant, second, 7, d, d + timedelta(days=2))
    assert hotpath.reservation_drift() == orm_drift() == []
    # Drift: a day reserved without a lease, a day missing a lease's units, on both listings.
    CapacityDay.objects.filter(listing=listing, day=d + timedelta(days=4)).update(reserved=3)
    CapacityDay.objects.filter(listing=listing, day=d + timedelta(days=1)).update(reserved=2)
    CapacityDay.objects.filter(listing=second, day=d).update(reserved=9)
    everything = hotpath.reservation_drift()
    assert everything == orm_drift() and len(everything) == 3
    assert hotpath.reservation_drift(listing_ids=[second.pk]) == orm_drift([second.pk]) == everything[2:]
    assert hotpath.reservation_drift(listing_ids=[]) == []


def test_a_lease_request_is_five_statements_in_its_all_or_nothing_transaction(merchant, listing):
    """The lease POST's service (bench/lease_race.py): who acts, the listing's lock (with its
    timeout, one message), the reservation, the lease and its audit row. No savepoint, no
    gate query when neither party has a blacklist entry, nothing compiled by the ORM."""
    d = listing.available_from
    with all_or_nothing(), CaptureQueriesContext(connection) as queries:
        book(merchant, listing, 5, d, d + timedelta(days=3))
    statements = [q["sql"].split(" ", 2)[:2] for q in queries.captured_queries]
    assert statements == [
        ["SELECT", 's."id",'],
        ["SELECT", "set_config('lock_timeout',"],
        ["UPDATE", "warehouses_capacityday"],
        ["INSERT", "INTO"],
        ["INSERT", "INTO"],
    ]
    assert [q["sql"].split(" ", 3)[2] for q in queries.captured_queries[3:]] == ["warehouses_lease", "core_auditentry"]
