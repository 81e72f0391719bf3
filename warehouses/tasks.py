"""Warehouse background work (beat): expire holds, complete ended leases, reconcile the
ledger. Tasks are thin and idempotent: the services re-read the state under the lock."""

import logging

from celery import shared_task

from core.errors import DomainError
from warehouses.services import credit_events, escrow, leases, ledger, payment_deadline, transfers

logger = logging.getLogger(__name__)


@shared_task(name="warehouses.expire_holds", ignore_result=True, acks_late=True)
def expire_holds_task() -> int:
    """Held requests past their answer deadline give their units back."""
    return leases.expire_holds()


@shared_task(name="warehouses.expire_unpaid_leases", ignore_result=True, acks_late=True)
def expire_unpaid_leases_task(lease_ids: list[int] | None = None) -> int:
    """Approved leases still unpaid at their payment deadline expire and give their units
    back. `lease_ids` limits the run (default: the overdue ones, 500 per run)."""
    return payment_deadline.expire_unpaid_leases(lease_ids=lease_ids)


@shared_task(name="warehouses.read_domain_events", ignore_result=True, acks_late=True)
def read_domain_events_task() -> int:
    """Act on the credit registry's domain events (a blacklisted operator's listings pause)."""
    return credit_events.process_domain_events()


@shared_task(name="warehouses.complete_due_leases", ignore_result=True, acks_late=True)
def complete_due_leases_task() -> int:
    return leases.complete_due_leases()


@shared_task(name="warehouses.expire_transfers", ignore_result=True, acks_late=True)
def expire_transfers_task() -> int:
    """Open lease transfers past their offer expiry (or whose lease ended) lapse."""
    return transfers.expire_transfers()


@shared_task(
    name="warehouses.reconcile_ledger", ignore_result=True, acks_late=True, time_limit=3600, soft_time_limit=3500
)
def reconcile_ledger_task() -> int:
    """Recompute reservations from leases and report any drift (audit + error log)."""
    return len(ledger.report_drift())


@shared_task(
    name="warehouses.release_escrow_periods", ignore_result=True, acks_late=True, time_limit=1800, soft_time_limit=1700
)
def release_escrow_periods_task(lease_ids: list[int] | None = None) -> int:
    """Daily: release to operators each escrow period that has started for active leases
    (never while a dispute has the escrow frozen). Re-reads each lease under its lock, so a
    repeated run releases nothing twice. `lease_ids` limits the run (default: every active
    lease)."""
    released = 0
    for lease_id in lease_ids if lease_ids is not None else escrow.active_lease_ids():
        try:
            released += escrow.release_period_for_lease(lease_id=lease_id) is not None
        except DomainError:  # busy or changed meanwhile: the next run picks it up
            logger.warning("Escrow release for lease %s skipped; retried on the next run", lease_id, exc_info=True)
    return released
