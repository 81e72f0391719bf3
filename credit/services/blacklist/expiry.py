"""Entries whose publication period is over expire (the hourly task)."""

from datetime import date

from django.db import transaction

from credit.models import BlacklistEntry
from credit.services.blacklist.entries import end_entry, lock_entry
from credit.services.blacklist.policy import today


def expire_blacklist_entry(*, entry_id: int, on: date | None = None) -> bool:
    """End one entry whose publication period is over (publication_ends_on is exclusive:
    on that date it is no longer published). Returns whether it changed anything."""
    on = on or today()
    with transaction.atomic():
        entry = lock_entry(entry_id)
        if entry.status != BlacklistEntry.Status.ACTIVE or entry.publication_ends_on > on:
            return False
        end_entry(
            "expire",
            actor=None,
            entry=entry,
            reason=f"Publication period ended on {entry.publication_ends_on.isoformat()}.",
        )
    return True


def expire_blacklist_entries(*, on: date | None = None) -> int:
    """Expire every active entry whose period is over; one transaction per entry, so a
    failure leaves the rest for the next run. Safe to run repeatedly."""
    on = on or today()
    due = list(
        BlacklistEntry.objects.filter(status=BlacklistEntry.Status.ACTIVE, publication_ends_on__lte=on)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return sum(1 for entry_id in due if expire_blacklist_entry(entry_id=entry_id, on=on))
