"""Warehouse background work (beat): expire holds, complete ended leases, reconcile the
ledger. Tasks are thin and idempotent: the services re-read the state under the lock."""

from celery import shared_task

from warehouses.services import leases, ledger


@shared_task(name="warehouses.expire_holds", ignore_result=True, acks_late=True)
def expire_holds_task() -> int:
    """Held requests past their answer deadline give their units back."""
    return leases.expire_holds()


@shared_task(name="warehouses.complete_due_leases", ignore_result=True, acks_late=True)
def complete_due_leases_task() -> int:
    return leases.complete_due_leases()


@shared_task(
    name="warehouses.reconcile_ledger", ignore_result=True, acks_late=True, time_limit=3600, soft_time_limit=3500
)
def reconcile_ledger_task() -> int:
    """Recompute reservations from leases and report any drift (audit + error log)."""
    return len(ledger.report_drift())


@shared_task(name="warehouses.purge_idempotency_keys", ignore_result=True, acks_late=True)
def purge_idempotency_keys_task(days: int = 7) -> int:
    """Forget `Idempotency-Key`s after a week: a retry that late is a new request."""
    from datetime import timedelta

    from django.utils import timezone

    from warehouses.models import IdempotencyRecord

    return IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - timedelta(days=days)).delete()[0]
