"""Blacklist entries: a regulator's decision creates one; it ends by being lifted, expiring
or being repaired, and an upheld period appeal shortens it. Nothing is deleted.

The entry's lifecycle (core.transitions), lock order subject → entry:

    transition  from     to        audit action
    lift        active   lifted    blacklist.entry_lifted
    expire      active   expired   blacklist.entry_expired
    repair      active   repaired  blacklist.entry_repaired
    shorten     active   active    blacklist.period_shortened

Ending an entry (lift, expire, repair) also, in the same transaction: sets the subject's
`is_blacklisted` from its remaining active entries, writes the `subject.blacklist_lifted`
domain event and requests a grade recompute (the outbox row; the task is sent on commit).
"""

from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.audit import record_audit, save_audited
from core.countries import currency_codes
from core.errors import Conflict, InvalidInput, NotFound
from core.models import DomainEvent
from core.transitions import Lifecycle, Transition
from credit import errors
from credit.models import BlacklistEntry, DomainEventType, Severity, Subject
from credit.services.blacklist.policy import (
    default_publication_end,
    publication_days,
    publication_min_days,
    require_regulator,
    required_text,
    today,
)

Status = BlacklistEntry.Status


# --- Locks, snapshot ---------------------------------------------------------------------


def lock_subject(subject_id: int) -> Subject:
    subject = Subject.objects.select_for_update(of=("self",)).filter(pk=subject_id).first()
    if subject is None:
        raise errors.SubjectNotFound(f"No subject with id {subject_id}.")
    return subject


def lock_entry(entry_id) -> BlacklistEntry:
    """Lock the entry's subject, then the entry (the module's locking order)."""
    try:
        subject_id = BlacklistEntry.objects.filter(pk=entry_id).values_list("subject_id", flat=True).first()
    except (ValueError, TypeError):
        subject_id = None
    if subject_id is None:
        raise NotFound(f"No blacklist entry with id {entry_id}.", code="entry_not_found")
    lock_subject(subject_id)
    return BlacklistEntry.objects.select_for_update(of=("self",)).select_related("subject").get(pk=entry_id)


def request_recompute(subject_id: int) -> None:
    from credit.services.ratings import request_recompute as request

    request(subject_id=subject_id)


def entry_snapshot(entry: BlacklistEntry) -> dict:
    return {
        "status": entry.status,
        "category": entry.category,
        "severity": entry.severity,
        "decision_reference": entry.decision_reference,
        "legal_basis": entry.legal_basis,
        "starts_on": entry.starts_on.isoformat(),
        "publication_ends_on": entry.publication_ends_on.isoformat(),
        "fine_amount": str(entry.fine_amount) if entry.fine_amount is not None else None,
        "fine_currency": entry.fine_currency,
        "fine_paid": entry.fine_paid,
    }


def sync_blacklisted_flag(subject: Subject) -> bool:
    """Set Subject.is_blacklisted from the remaining active entries; returns the new value."""
    blacklisted = BlacklistEntry.objects.filter(subject=subject, status=Status.ACTIVE).exists()
    if subject.is_blacklisted != blacklisted:
        subject.is_blacklisted = blacklisted
        subject.save(update_fields=["is_blacklisted", "updated_at"])
    return blacklisted


# --- The lifecycle -----------------------------------------------------------------------


def _entry_ended(entry: BlacklistEntry, **context) -> None:
    """Work of every transition that ends an entry, in its transaction."""
    still_blacklisted = sync_blacklisted_flag(entry.subject)
    DomainEvent.objects.create(
        type=DomainEventType.BLACKLIST_LIFTED,
        subject_id=entry.subject_id,
        occurred_at=entry.status_changed_at,
        payload={
            "entry_id": entry.pk,
            "decision_reference": entry.decision_reference,
            "status": entry.status,
            "still_blacklisted": still_blacklisted,
        },
    )
    request_recompute(entry.subject_id)


def _audit_entry(*, target: BlacklistEntry, new: dict, **kwargs) -> None:
    """An entry that ended says whether its subject is still blacklisted."""
    if target.status != Status.ACTIVE:
        new = {**new, "subject_is_blacklisted": target.subject.is_blacklisted}
    record_audit(target=target, new=new, **kwargs)


def _entry_refusal(entry: BlacklistEntry, name: str) -> Exception:
    return Conflict(f"This entry is already {entry.get_status_display().lower()}.", code="entry_ended")


_ENDS = {"work": (_entry_ended,), "stamp": ("status_changed_at",)}

ENTRY = Lifecycle(
    model=BlacklistEntry,
    lock=lock_entry,
    snapshot=entry_snapshot,
    refuse=_entry_refusal,
    audit=_audit_entry,
    transitions={
        "lift": Transition(sources=(Status.ACTIVE,), target=Status.LIFTED, action="blacklist.entry_lifted", **_ENDS),
        "expire": Transition(
            sources=(Status.ACTIVE,), target=Status.EXPIRED, action="blacklist.entry_expired", **_ENDS
        ),
        "repair": Transition(
            sources=(Status.ACTIVE,), target=Status.REPAIRED, action="blacklist.entry_repaired", **_ENDS
        ),
        "shorten": Transition(sources=(Status.ACTIVE,), target=Status.ACTIVE, action="blacklist.period_shortened"),
    },
)


def end_entry(name: str, *, actor, entry: BlacklistEntry, reason: str) -> BlacklistEntry:
    """Lift, expire or repair a locked entry inside the caller's transaction."""
    return ENTRY.apply(name, entry, actor=actor, reason=reason, fields={"status_reason": reason})


# --- Creating an entry ---------------------------------------------------------------------


def _parse_fine(fine_amount, fine_currency: str, field_errors: dict) -> tuple[Decimal | None, str]:
    currency = (fine_currency or "").strip().upper()
    if fine_amount in (None, ""):
        if currency:
            field_errors.setdefault("fine_amount", []).append("Give the amount of the fine, or no currency.")
        return None, ""
    try:
        amount = Decimal(str(fine_amount))
    except (InvalidOperation, ValueError):
        field_errors.setdefault("fine_amount", []).append("Enter a number.")
        return None, currency
    if not amount.is_finite() or amount <= 0:
        field_errors.setdefault("fine_amount", []).append("A fine must be more than zero.")
    elif amount.as_tuple().exponent < -2 or amount >= Decimal("1e14"):
        field_errors.setdefault("fine_amount", []).append("Use at most 14 digits and 2 decimal places.")
    if not currency:
        field_errors.setdefault("fine_currency", []).append("A fine needs its currency (ISO 4217, e.g. USD).")
    elif currency not in currency_codes():
        field_errors.setdefault("fine_currency", []).append(f"'{currency}' is not an ISO 4217 currency code.")
    return amount, currency


def _check_period(
    severity: str, starts_on: date, publication_ends_on: date | None, current: date, field_errors: dict
) -> date | None:
    """The publication end (default: the severity's maximum), or field errors."""
    maximum_end = default_publication_end(severity=severity, starts_on=starts_on)
    minimum_days = min(publication_min_days(severity), publication_days(severity))
    if publication_ends_on is None:
        publication_ends_on = maximum_end
    elif publication_ends_on > maximum_end:
        field_errors.setdefault("publication_ends_on", []).append(
            f"A {severity} entry is published for at most {publication_days(severity)} days: "
            f"the latest end is {maximum_end.isoformat()}."
        )
    elif publication_ends_on <= starts_on:
        field_errors.setdefault("publication_ends_on", []).append("The end must be after the start date.")
    elif publication_ends_on < starts_on + timedelta(days=minimum_days):
        field_errors.setdefault("publication_ends_on", []).append(
            f"A {severity} entry is published for at least {minimum_days} days: "
            f"the earliest end is {(starts_on + timedelta(days=minimum_days)).isoformat()}."
        )
    if publication_ends_on is not None and publication_ends_on <= current and not field_errors:
        field_errors.setdefault("starts_on", []).append(
            "With this start date the publication period has already ended."
        )
    return publication_ends_on


def blacklist_subject(
    *,
    actor,
    subject_id: int,
    category: str,
    legal_basis: str,
    decision_reference: str,
    description: str,
    severity: str,
    starts_on: date | None = None,
    publication_ends_on: date | None = None,
    fine_amount: Decimal | None = None,
    fine_currency: str = "",
    fine_paid: bool = False,
) -> BlacklistEntry:
    """A regulator's decision to blacklist a subject. The publication end defaults to the
    start plus the severity's maximum period; a shorter end may be given, never a longer
    one, nor one shorter than the severity's minimum period. A second active entry for the
    same decision reference is a Conflict."""
    require_regulator(actor)
    field_errors: dict[str, list[str]] = {}
    if category not in BlacklistEntry.Category.values:
        field_errors["category"] = ["Choose a valid category."]
    if severity not in Severity.values:
        field_errors["severity"] = ["Choose minor, general or serious."]
    legal_basis = required_text(legal_basis, "legal_basis", field_errors, max_length=500)
    decision_reference = required_text(decision_reference, "decision_reference", field_errors, max_length=120)
    description = required_text(description, "description", field_errors)
    amount, currency = _parse_fine(fine_amount, fine_currency, field_errors)
    current = today()
    starts_on = starts_on or current
    if starts_on > current:
        field_errors.setdefault("starts_on", []).append("The start date cannot be in the future.")
    if severity in Severity.values and "starts_on" not in field_errors:
        publication_ends_on = _check_period(severity, starts_on, publication_ends_on, current, field_errors)
    if field_errors:
        raise InvalidInput("The blacklist entry is not valid.", code="invalid_entry", field_errors=field_errors)

    with transaction.atomic():
        subject = lock_subject(subject_id)
        duplicate = BlacklistEntry.objects.filter(
            subject=subject, decision_reference=decision_reference, status=Status.ACTIVE
        ).exists()
        conflict = Conflict(
            f"{subject.legal_name} already has an active entry for decision {decision_reference}.",
            code="duplicate_decision",
            field_errors={"decision_reference": ["An active entry for this decision already exists."]},
        )
        if duplicate:
            raise conflict
        try:
            with transaction.atomic():
                entry = BlacklistEntry.objects.create(
                    subject=subject,
                    category=category,
                    legal_basis=legal_basis,
                    decision_reference=decision_reference,
                    description=description,
                    severity=severity,
                    fine_amount=amount,
                    fine_currency=currency,
                    fine_paid=bool(fine_paid) and amount is not None,
                    starts_on=starts_on,
                    publication_ends_on=publication_ends_on,
                    decided_by=actor,
                    status_changed_at=timezone.now(),
                )
        except IntegrityError:
            raise conflict from None
        was_blacklisted = subject.is_blacklisted
        sync_blacklisted_flag(subject)
        DomainEvent.objects.create(
            type=DomainEventType.BLACKLISTED,
            subject=subject,
            occurred_at=timezone.now(),
            payload={
                "entry_id": entry.pk,
                "decision_reference": entry.decision_reference,
                "category": entry.category,
                "severity": entry.severity,
                "publication_ends_on": entry.publication_ends_on.isoformat(),
                "was_blacklisted": was_blacklisted,
            },
        )
        record_audit(
            actor=actor,
            action="blacklist.entry_created",
            target=entry,
            subject_id=subject.pk,
            old={"subject_is_blacklisted": was_blacklisted},
            new={**entry_snapshot(entry), "description": entry.description, "subject_is_blacklisted": True},
            reason=description,
        )
        request_recompute(subject.pk)
    return entry


# --- Changing an entry ---------------------------------------------------------------------


def lift_blacklist_entry(*, actor, entry_id: int, reason: str) -> BlacklistEntry:
    """A regulator ends an active entry early, with a reason. Lifting a lifted entry again
    changes nothing; an entry that expired or was repaired cannot be lifted."""
    require_regulator(actor)
    field_errors: dict[str, list[str]] = {}
    reason = required_text(reason, "reason", field_errors)
    if field_errors:
        raise InvalidInput("Give the reason for lifting.", code="reason_required", field_errors=field_errors)
    return ENTRY.run("lift", actor=actor, pk=entry_id, reason=reason, fields={"status_reason": reason})


def shorten_publication(*, actor, entry: BlacklistEntry, ends_on: date, reason: str) -> BlacklistEntry:
    """Move a locked active entry's publication end earlier; if that end is today or
    earlier the entry expires at once."""
    ENTRY.apply("shorten", entry, actor=actor, reason=reason, fields={"publication_ends_on": ends_on})
    if ends_on <= today():
        end_entry(
            "expire",
            actor=actor,
            entry=entry,
            reason=f"Publication period ended on {ends_on.isoformat()} ({reason}).",
        )
    return entry


def set_fine_paid(*, actor, entry_id: int, paid: bool, reason: str = "") -> BlacklistEntry:
    """Record that an entry's fine has (or has not) been paid."""
    require_regulator(actor)
    with transaction.atomic():
        entry = lock_entry(entry_id)
        if entry.fine_amount is None:
            raise Conflict("This entry has no fine.", code="no_fine")
        if entry.fine_paid == paid:
            return entry
        save_audited(
            entry,
            {"fine_paid": paid},
            actor=actor,
            action="blacklist.fine_paid_changed",
            subject_id=entry.subject_id,
            reason=reason,
        )
    return entry
