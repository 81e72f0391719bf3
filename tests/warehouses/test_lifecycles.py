"""The lease and transfer lifecycles are the tables their modules document, and the
mechanism holds them for every transition from every state: at its target (and not a
source) a transition changes nothing; from any state that is neither, it is refused with
a Conflict and writes nothing. (Each transition from its sources, with its guards and
work, is tested through its service in test_leases, test_transfers and test_escrow.)"""

from datetime import timedelta

import pytest

from core.errors import Conflict
from core.models import AuditEntry
from tests.warehouses.test_leases import book
from warehouses.models import CapacityDay, Lease, LeaseTransfer
from warehouses.services import transfers
from warehouses.services.lease_lifecycle import LEASE
from warehouses.services.transfer_lifecycle import TRANSFER

pytestmark = pytest.mark.django_db


def test_the_tables_are_the_documented_ones():
    """warehouses/services/lease_lifecycle.py and transfer_lifecycle.py document these."""
    assert LEASE.table() == [
        ("approve", ("held",), "approved", "lease.approved"),
        ("reject", ("held",), "rejected", "lease.rejected"),
        ("expire_hold", ("held",), "expired", "lease.expired"),
        ("expire_unpaid", ("approved",), "expired", "lease.payment_overdue"),
        ("check_in", ("approved",), "active", "lease.checked_in"),
        ("complete", ("active",), "completed", "lease.completed"),
        ("cancel", ("held", "approved"), "cancelled", "lease.cancelled"),
        ("no_show", ("approved",), "defaulted", "lease.tenant_no_show"),
        ("withdraw", ("approved",), "defaulted", "lease.operator_withdrew"),
        ("transfer", ("approved", "active"), "transferred", "lease.transferred"),
    ]
    open_states = ("offered", "awaiting_operator")
    assert TRANSFER.table() == [
        ("accept", ("offered",), "awaiting_operator", "lease_transfer.accepted"),
        ("accept_at_once", ("offered",), "offered", "lease_transfer.accepted"),
        ("execute", ("offered",), "completed", "lease_transfer.completed"),
        ("consent", ("awaiting_operator",), "completed", "lease_transfer.completed"),
        ("refuse", open_states, "refused", "lease_transfer.refused"),
        ("decline", open_states, "declined", "lease_transfer.declined"),
        ("withdraw", open_states, "withdrawn", "lease_transfer.withdrawn"),
        ("expire", open_states, "expired", "lease_transfer.expired"),
    ]


def _not_sources(lifecycle, model):
    for name, transition in lifecycle.transitions.items():
        for state in model.Status.values:
            if state not in transition.sources:
                yield pytest.param(name, state, id=f"{name}-from-{state}")


@pytest.mark.parametrize(("name", "state"), list(_not_sources(LEASE, Lease)))
def test_a_lease_transition_outside_its_sources_writes_nothing(name, state, operator, merchant, listing):
    d = listing.available_from
    lease = book(merchant, listing, 5, d, d + timedelta(days=3))  # held, with its deadline
    Lease.objects.filter(pk=lease.pk).update(status=state)
    ledger = list(CapacityDay.objects.filter(listing=listing).values_list("day", "reserved"))
    transition = LEASE.transitions[name]
    if state == transition.target:
        assert LEASE.run(name, actor=operator, pk=lease.pk).status == state
    else:
        with pytest.raises(Conflict):
            LEASE.run(name, actor=operator, pk=lease.pk)
    lease.refresh_from_db()
    assert lease.status == state
    assert not AuditEntry.objects.filter(target_id=str(lease.pk), action=transition.action).exists()
    assert list(CapacityDay.objects.filter(listing=listing).values_list("day", "reserved")) == ledger


@pytest.mark.parametrize(("name", "state"), list(_not_sources(TRANSFER, LeaseTransfer)))
def test_a_transfer_transition_outside_its_sources_writes_nothing(
    name, state, operator, merchant, other_merchant, make_listing
):
    listing = make_listing(booking_mode="instant", start_offset=0)
    lease = book(merchant, listing, 5, listing.available_from, listing.available_from + timedelta(days=5))
    assert lease.status == Lease.Status.APPROVED
    offer = transfers.offer_transfer(
        actor=merchant, lease_id=lease.pk, to_subject_id=other_merchant.subject.pk, units=2
    )
    # A completed transfer names its recipient's lease (a CHECK): any lease will do here.
    LeaseTransfer.objects.filter(pk=offer.pk).update(status=state, recipient_lease=lease)
    transition = TRANSFER.transitions[name]
    if state == transition.target:
        assert TRANSFER.run(name, actor=operator, pk=offer.pk).status == state
    else:
        with pytest.raises(Conflict):
            TRANSFER.run(name, actor=operator, pk=offer.pk)
    offer.refresh_from_db()
    lease.refresh_from_db()
    assert (offer.status, lease.status) == (state, Lease.Status.APPROVED)
    assert not AuditEntry.objects.filter(target_id=str(offer.pk), action=transition.action).exists()
