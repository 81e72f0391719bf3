"""Reading many leases costs a fixed number of queries: the lease list's page (split leases
from transfers share an escrow whose `due` sums their prices) and the escrow references a
user may see disputes about (one statement, however many leases the user has)."""

import contextlib
import datetime as dt
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import MembershipFactory
from tests.payments.escrow_helpers import fund_lease, make_escrow_institution
from tests.warehouses.conftest import make_member
from warehouses import selectors
from warehouses.models import Lease
from warehouses.services import escrow as escrow_services
from warehouses.services import leases, transfers

pytestmark = pytest.mark.django_db

API = "/api/v1/warehouses"
# A page of leases: the session and its user, the user's subjects, the count and the page,
# the escrow summaries of the page (escrows, ledger entries, disputes) and the live prices
# of its split leases' escrows.
LIST_QUERIES = 9


def at(day: dt.date):
    noon = dt.datetime(day.year, day.month, day.day, 12, tzinfo=dt.UTC)
    return time_machine.travel(noon, tick=False)


@pytest.fixture
def institution():
    return make_escrow_institution()


@pytest.fixture
def instant(make_listing):
    return make_listing(start_offset=0, days=60, booking_mode="instant", transfer_requires_consent=False)


def book(user, listing, *, units: int, start: dt.date, days: int) -> Lease:
    lease = leases.request_lease(
        actor=user,
        tenant_id=user.subject.pk,
        listing_id=listing.pk,
        units=units,
        start=start,
        end=start + timedelta(days=days),
    )
    assert lease.status == Lease.Status.APPROVED
    return lease


def split(lease: Lease, *, by, to, units: int, institution, day: dt.date | None = None):
    """Transfer `units` of the lease to `to` (on `day`); returns the transfer."""
    with at(day) if day else contextlib.nullcontext():
        offer = transfers.offer_transfer(actor=by, lease_id=lease.pk, to_subject_id=to.subject.pk, units=units)
        return transfers.accept_transfer(actor=to, transfer_id=offer.pk, institution_id=institution.pk)


@pytest.fixture
def split_leases(merchant, other_merchant, instant, institution, today):
    """Ten leases of `merchant`: two unpaid leases each split after their start (the past
    and kept parts share the original's escrow, nothing paid), a paid one split the same way
    (its parts share a funded escrow), and a plain unpaid lease. The newest lease is the
    paid one's kept part."""
    book(merchant, instant, units=1, start=today + timedelta(days=1), days=3)
    paid = book(merchant, instant, units=5, start=today + timedelta(days=1), days=10)
    fund_lease(paid, institution=institution)
    for offset in (2, 3):
        unpaid = book(merchant, instant, units=10, start=today, days=20)
        split(unpaid, by=merchant, to=other_merchant, units=4, institution=institution, day=today + timedelta(offset))
    split(paid, by=merchant, to=other_merchant, units=2, institution=institution, day=today + timedelta(4))
    mine = Lease.objects.filter(tenant_id=merchant.subject.pk)
    assert mine.count() == 10
    assert mine.exclude(escrow_reference="").count() == 6  # two parts of each original
    return mine


def test_a_page_of_leases_costs_the_same_queries_whatever_its_split_leases(
    client_for, merchant, split_leases, django_assert_max_num_queries
):
    client = client_for(merchant)
    client.get(f"{API}/leases/")  # the session's first read is not the list's cost
    with django_assert_max_num_queries(LIST_QUERIES) as one:
        first = client.get(f"{API}/leases/", {"page_size": 1})
    assert first.status_code == 200
    (newest,) = first.json()["results"]
    assert newest["escrow_reference"] != f"lease:{newest['id']}"  # a split lease sharing a paid escrow
    assert newest["escrow"]["status"] == "funded"
    with django_assert_max_num_queries(LIST_QUERIES) as ten:
        page = client.get(f"{API}/leases/", {"page_size": 10})
    assert page.status_code == 200 and len(page.json()["results"]) == 10
    assert len(ten.captured_queries) == len(one.captured_queries)


def test_the_list_shows_the_same_amounts_due_as_each_lease(client_for, merchant, operator, split_leases):
    for user in (merchant, operator):
        client = client_for(user)
        rows = client.get(f"{API}/leases/", {"page_size": 20}).json()["results"]
        assert len(rows) >= 10
        for row in rows:
            alone = client.get(f"{API}/leases/{row['id']}/").json()
            assert row["escrow"] == alone["escrow"], row["id"]
            assert row["payment_due_at"] == alone["payment_due_at"], row["id"]
    # Each unpaid split part charges what paying in would: the price of both parts of the
    # original (10 units for 20 days at 1.25, less the 4 units transferred for 18 or 17 days).
    mine = {row["id"]: row for row in client_for(merchant).get(f"{API}/leases/", {"page_size": 20}).json()["results"]}
    dues = {}
    for original in split_leases.filter(status=Lease.Status.TRANSFERRED):
        parts = list(original.children.filter(tenant_id=merchant.subject.pk))
        assert all(part.escrow_ref == original.escrow_ref for part in parts)
        for part in parts:
            dues[part.pk] = (mine[part.pk]["escrow"]["due"], str(sum(p.total_price for p in parts)))
    assert sorted(dues.values()) == [
        ("0.00", "45.00"),  # the paid original's parts: nothing more due
        ("0.00", "45.00"),
        ("160.00", "160.00"),
        ("160.00", "160.00"),
        ("165.00", "165.00"),
        ("165.00", "165.00"),
    ]


# --- Escrow references a user may see disputes about ----------------------------------------


@pytest.fixture
def both_sides(operator, merchant, other_merchant, instant, institution, make_warehouse, make_listing, today):
    """A user acting for the operator (leases of its listing) and for a merchant renting
    elsewhere (a lease it took): a split paid lease, a plain one and its own."""
    elsewhere_owner = make_member(
        is_merchant=False, is_warehouse_operator=True, country="NL", legal_name="Elsewhere BV", grade="A"
    )
    elsewhere = make_listing(
        owner=elsewhere_owner,
        warehouse_=make_warehouse(owner=elsewhere_owner, name="Elsewhere DC"),
        start_offset=0,
        booking_mode="instant",
    )
    MembershipFactory(user=operator, subject=other_merchant.subject)
    paid = book(merchant, instant, units=5, start=today + timedelta(days=1), days=10)
    fund_lease(paid, institution=institution)
    taken = split(paid, by=merchant, to=other_merchant, units=2, institution=institution).recipient_lease
    kept = Lease.objects.get(parent=paid, tenant_id=merchant.subject.pk)
    plain = book(merchant, instant, units=1, start=today + timedelta(days=2), days=3)
    own = book(other_merchant, elsewhere, units=1, start=today + timedelta(days=1), days=3)
    expected = sorted({f"lease:{paid.pk}", f"lease:{taken.pk}", f"lease:{plain.pk}", f"lease:{own.pk}"})
    return {"paid": paid, "kept": kept, "plain": plain, "expected": expected, "elsewhere": elsewhere}


def test_escrow_references_visible_cover_both_sides_and_split_leases(operator, merchant, both_sides):
    assert sorted(selectors.escrow_references_visible_to(user=operator)) == both_sides["expected"]
    # The merchant took the original and its kept part (one escrow, listed once) and the
    # plain lease; not the recipient's part nor a lease elsewhere.
    paid, kept = both_sides["paid"], both_sides["kept"]
    assert kept.escrow_ref == f"lease:{paid.pk}"
    assert sorted(selectors.escrow_references_visible_to(user=merchant)) == sorted(
        [f"lease:{paid.pk}", f"lease:{both_sides['plain'].pk}"]
    )
    # A dispute about the split escrow reaches both parties, and nobody else.
    dispute = escrow_services.open_lease_dispute(actor=merchant, lease_id=both_sides["kept"].pk, reason="Damaged")
    assert list(selectors.disputes_visible_to(user=operator)) == [dispute]
    assert list(selectors.disputes_visible_to(user=merchant)) == [dispute]
    assert list(selectors.disputes_visible_to(user=make_member(is_merchant=True, grade="B"))) == []


def test_disputes_visible_take_the_same_statement_however_many_leases(
    operator, other_merchant, both_sides, instant, today
):
    def statements():
        with CaptureQueriesContext(connection) as captured:
            assert len(list(selectors.disputes_visible_to(user=operator))) == 0
        return [q["sql"] for q in captured.captured_queries]

    few = statements()
    assert len(few) == 2  # the user's subjects, then the disputes with the references as a subquery
    for i in range(12):
        book(other_merchant, both_sides["elsewhere"], units=1, start=today + timedelta(days=i % 5 + 1), days=2)
        book(other_merchant, instant, units=1, start=today + timedelta(days=i % 5 + 1), days=2)
    assert len(selectors.escrow_references_visible_to(user=operator)) == 4 + 24
    many = statements()
    assert many == few  # no list of references grows with the leases
