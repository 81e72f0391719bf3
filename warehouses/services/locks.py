"""The marketplace's lock order, in one place (Saleor's `lock_objects.py`).

Every writer of a lease, a transfer or a listing's ledger takes, inside its transaction:

    the listing (`ledger.lock_listing`: with the lock timeout, a timeout is `Busy`)
    → the lease → the lease's transfer → the lease's escrow (payments, after all of them)

A lease is reached from its id: its listing id is read first without a lock, then the
listing is locked, then the lease. Never the other way round, so two writers of one
listing queue on the listing and never deadlock on its leases.
"""

import logging

from core.errors import Busy, DomainError
from warehouses.errors import LeaseNotFound, TransferNotFound
from warehouses.models import Lease, LeaseTransfer
from warehouses.services import ledger

logger = logging.getLogger(__name__)


def lock_lease(lease_id: int) -> Lease:
    """The lease, locked after its listing; `lease.listing` is the locked listing (with its
    warehouse and owner loaded) and `lease.tenant` is loaded."""
    listing_id = Lease.objects.filter(pk=lease_id).values_list("listing_id", flat=True).first()
    if listing_id is None:
        raise LeaseNotFound()
    listing = ledger.lock_listing(listing_id=listing_id)
    lease = Lease.objects.select_for_update(of=("self",)).select_related("tenant").get(pk=lease_id)
    lease.listing = listing
    return lease


def lock_transfer(transfer_id: int) -> LeaseTransfer:
    """The transfer, locked after its lease (and the lease's listing): `transfer.lease` is
    the locked lease as `lock_lease` gives it; both subjects are loaded."""
    lease_id = LeaseTransfer.objects.filter(pk=transfer_id).values_list("lease_id", flat=True).first()
    if lease_id is None:
        raise TransferNotFound()
    lease = lock_lease(lease_id)
    transfer = (
        LeaseTransfer.objects.select_for_update(of=("self",))
        .select_related("to_subject", "from_subject")
        .get(pk=transfer_id)
    )
    transfer.lease = lease
    return transfer


def each_locked(step, ids, *, key: str, what: str) -> int:
    """A beat task's batch: `step(<key>=id)` for each id, each in its own transaction under
    its own locks. Returns how many it acted on (a truthy result). An id that is busy waits
    for the next run; one that a domain rule refuses is logged and skipped, so that one
    row can never stop the batch for every row after it."""
    count = 0
    for pk in ids:
        try:
            count += bool(step(**{key: pk}))
        except Busy:
            logger.info("%s %s is busy; the next run takes it", what, pk)
        except DomainError:
            logger.warning("%s %s refused on this run", what, pk, exc_info=True)
    return count
