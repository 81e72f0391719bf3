"""What the marketplace does when the credit registry reports a change about a subject.

Credit stands below warehouses and never imports it: it records a DomainEvent in its own
table and the marketplace reads the events through core.events, in its own beat
task, with its own cursor (the same reader as payments.services.process_domain_events).

- `subject.blacklisted`: the operator's published listings are paused (`listing.
  paused_operator_blacklisted`, the reason names the entries). Leases already made stay
  as they are. Publishing asks the credit gate, so the operator cannot republish while
  blacklisted.
- `subject.blacklist_lifted`: nothing. The operator republishes the listings it still
  wants to offer.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction

from core import events
from core.audit import save_audited
from credit.selectors.standing import may_subject
from warehouses.models import Listing
from warehouses.services import ledger

logger = logging.getLogger(__name__)

DOMAIN_EVENT_CURSOR = "warehouses.credit_domain_events"
BLACKLISTED = "subject.blacklisted"


def _gap_timeout() -> timedelta:
    # How long a transaction may keep an event id uncommitted is credit's property, not
    # the reader's: the same timeout as payments' reader.
    seconds = getattr(settings, "ENTREPOT", {}).get("PAYMENTS", {}).get("DOMAIN_EVENT_GAP_TIMEOUT_SECONDS", 600)
    return timedelta(seconds=seconds)


def process_domain_events(*, limit: int = 500) -> int:
    """Read credit's DomainEvents after our cursor and act on them. The cursor moves in the
    same transaction as the listings change, so each event is handled once; core.events
    keeps the ids a still-open transaction may commit late."""

    def handle(batch):
        for subject_id in dict.fromkeys(e.subject_id for e in batch if e.type == BLACKLISTED):
            pause_listings_of_blacklisted_operator(subject_id=subject_id)

    return events.consume(cursor_name=DOMAIN_EVENT_CURSOR, handle=handle, gap_timeout=_gap_timeout(), limit=limit)


def pause_listings_of_blacklisted_operator(*, subject_id: int) -> list[int]:
    """Pause every published listing of a subject that is blacklisted now (an entry lifted
    before the event was read leaves the listings alone). Each listing under its own lock,
    in id order, with its audit row. Safe to repeat. Returns the ids paused."""
    decision = may_subject(subject_id=subject_id, action="list_capacity")
    entries = [r for r in decision.reasons if r["code"] == "blacklisted"]
    if decision.allowed or not entries:
        return []
    reason = (
        "The operator is blacklisted, so its published listings are paused: "
        + " ".join(r["message"] for r in entries)
        + " Lifting the entry does not republish them."
    )
    listing_ids = list(
        Listing.objects.filter(warehouse__owner_id=subject_id, status=Listing.Status.PUBLISHED)
        .order_by("id")
        .values_list("id", flat=True)
    )
    paused = []
    for listing_id in listing_ids:
        with transaction.atomic():
            listing = ledger.lock_listing(listing_id=listing_id)
            if listing.status != Listing.Status.PUBLISHED:
                continue
            save_audited(
                listing,
                {"status": Listing.Status.PAUSED},
                actor=None,
                action="listing.paused_operator_blacklisted",
                subject_id=subject_id,
                reason=reason,
                also_save=("updated_at",),
            )
            paused.append(listing_id)
    if paused:
        logger.info("Paused listings %s of blacklisted operator %s", paused, subject_id)
    return paused
