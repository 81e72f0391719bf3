"""Blacklist decisions, appeals and credit repair.

- `entries`: a regulator blacklists a subject, lifts an entry, records a fine paid; the
  entry's lifecycle (lift, expire, repair, shorten).
- `reviews`: appeals and repair applications, one workflow (filed → acknowledged →
  decided) declared once.
- `expiry`: entries whose publication period is over.
- `policy`: the configurable periods and working-day deadlines.

Every service owns its transaction, writes its audit row (old and new values and the
reason) and, when the decision changes whether the subject is blacklisted, writes a
DomainEvent and requests a grade recompute in that same transaction.

Locking order: the subject row first, then the entry, then the appeal or repair
application. Nothing is ever deleted: an entry ends by changing its status (lifted,
expired, repaired) with a reason; appeals and repair applications keep every step.

Domain events:
- `subject.blacklisted` is written for every new entry (payload: entry id, decision
  reference, severity, publication end, and `was_blacklisted` when the subject already had
  another active entry).
- `subject.blacklist_lifted` is written for every entry that stops being active (lifted,
  expired, repaired). Its payload says how (`status`) and whether the subject is
  `still_blacklisted` by another entry: consumers that only care about the subject leaving
  the blacklist act when `still_blacklisted` is false.
"""

from credit.services.blacklist.entries import ENTRY, blacklist_subject, lift_blacklist_entry, set_fine_paid
from credit.services.blacklist.expiry import expire_blacklist_entries, expire_blacklist_entry
from credit.services.blacklist.policy import (
    MAX_TEXT,
    decision_working_days,
    default_publication_end,
    earliest_repair_date,
    publication_days,
    publication_min_days,
    repair_after_days,
    reply_working_days,
    today,
)
from credit.services.blacklist.reviews import (
    APPEALS,
    REPAIRS,
    apply_for_repair,
    decide_appeal,
    decide_repair,
    file_appeal,
    reply_to_appeal,
    reply_to_repair,
)

__all__ = [
    "APPEALS",
    "ENTRY",
    "MAX_TEXT",
    "REPAIRS",
    "apply_for_repair",
    "blacklist_subject",
    "decide_appeal",
    "decide_repair",
    "decision_working_days",
    "default_publication_end",
    "earliest_repair_date",
    "expire_blacklist_entries",
    "expire_blacklist_entry",
    "file_appeal",
    "lift_blacklist_entry",
    "publication_days",
    "publication_min_days",
    "repair_after_days",
    "reply_to_appeal",
    "reply_to_repair",
    "reply_working_days",
    "set_fine_paid",
    "today",
]
