"""The payment deadline of an approved lease.

An approved lease is payment due (warehouses/services/escrow.py). Without a deadline a
tenant who never pays would keep the units until the start day, so the tenant pays within
ENTREPOT["WAREHOUSE_PAYMENT_HOURS"] (48) of the approval (`decided_at`), and never later
than the start (00:00 of the start day, in the site's time zone: UTC). A lease approved on
or after its start day (an instant booking for today, a late answer) has until the end of
the day of its approval: the start cap would otherwise end it the moment it was approved.

The beat task `warehouses.expire_unpaid_leases` ends each approved lease whose deadline
has passed while its escrow is still unfunded: it becomes `expired` (a deadline lapsed
with nobody acting, like an unanswered hold; `cancelled` is the tenant's own act and
carries a fee by the policy, which an empty escrow cannot pay), its units go back to the
ledger and `lease.payment_overdue` is audited. No credit event: the catalogue's
`lease_defaulted` is an abandoned lease (a no-show after the start) and `late_cancellation`
a cancellation inside the window, while this lease ends before any stay or money.

A payment and the expiry take the same listing and lease locks, and the expiry re-reads
the escrow under them: a lease paid in the meantime is never ended.
"""

import logging
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from core.db import service_atomic
from payments.selectors import escrow_summaries
from warehouses.models import Lease
from warehouses.services import escrow
from warehouses.services.lease_lifecycle import LEASE
from warehouses.services.locks import each_locked, lock_lease

logger = logging.getLogger(__name__)


def payment_hours() -> int:
    return int(getattr(settings, "ENTREPOT", {}).get("WAREHOUSE_PAYMENT_HOURS", 48))


def _midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def payment_due_at(*, lease: Lease) -> datetime | None:
    """When the tenant of an approved lease must have paid into escrow by; None for any
    other status. Whether it is paid is the escrow's business (see `expire_unpaid_lease`)."""
    if lease.status != Lease.Status.APPROVED:
        return None
    approved_at = lease.decided_at or lease.requested_at
    start = _midnight(lease.start)
    cap = start if approved_at < start else _midnight(timezone.localdate(approved_at) + timedelta(days=1))
    return min(approved_at + timedelta(hours=payment_hours()), cap)


def overdue_unpaid_lease_ids(*, limit: int = 500, chunk: int = 500) -> list[int]:
    """Approved leases past their payment deadline with an unfunded escrow, by id. Paid
    leases waiting for their check-in match the date filter too, so the walk goes on in id
    chunks (one escrow batch each) until `limit` overdue ones are found or none are left,
    instead of letting a page of paid leases hide the overdue ones behind it."""
    now = timezone.now()
    since = now - timedelta(hours=payment_hours())
    # A superset of the overdue: the exact deadline is checked below, and again under the lock.
    candidates = Lease.objects.filter(status=Lease.Status.APPROVED).filter(
        Q(decided_at__lte=since)
        | Q(decided_at__isnull=True, requested_at__lte=since)
        | Q(start__lte=timezone.localdate(now))
    )
    found: list[int] = []
    last = 0
    while len(found) < limit:
        page = list(
            candidates.filter(id__gt=last)
            .order_by("id")
            .only("id", "status", "start", "decided_at", "requested_at", "escrow_reference")[:chunk]
        )
        if not page:
            break
        last = page[-1].pk
        due = [lease for lease in page if payment_due_at(lease=lease) <= now]
        summaries = escrow_summaries(references=[lease.escrow_ref for lease in due]) if due else {}
        found += [lease.pk for lease in due if not summaries[lease.escrow_ref]["funded"]]
        if len(page) < chunk:
            break
    return found[:limit]


def expire_unpaid_lease(*, lease_id: int) -> bool:
    """End one approved lease whose payment deadline has passed with nothing in escrow.
    Safe to repeat: a lease paid, checked in or ended meanwhile is left as it is."""
    now = timezone.now()
    with service_atomic():
        lease = lock_lease(lease_id)
        due = payment_due_at(lease=lease)
        if due is None or due > now or escrow.is_funded(lease=lease):
            return False
        reason = (
            f"Nothing was paid into escrow by the payment deadline ({due:%Y-%m-%d %H:%M} UTC): "
            "the lease expired and its units are free again."
        )
        reasons = lease.decision_reasons + [{"code": "payment_overdue", "message": reason}]
        LEASE.apply(
            "expire_unpaid",
            lease,
            actor=None,
            reason=reason,
            fields={"decision_reasons": reasons},
            note={"payment_due_at": due.isoformat()},
        )
    return True


def expire_unpaid_leases(*, lease_ids: list[int] | None = None, limit: int = 500) -> int:
    """Expire the overdue unpaid leases (beat), or only `lease_ids`. Returns how many."""
    ids = lease_ids if lease_ids is not None else overdue_unpaid_lease_ids(limit=limit)
    # Busy, or gone: the next run looks again.
    return each_locked(expire_unpaid_lease, ids, key="lease_id", what="Unpaid lease")
