"""Blacklist decisions, appeals and credit repair.

Every service here owns its transaction, writes its audit row (old and new values and the
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

from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.audit import record_audit
from credit import errors
from credit.countries import currency_codes
from credit.models import Appeal, BlacklistEntry, DomainEvent, RepairApplication, Severity, Subject
from credit.roles import is_regulator
from credit.selectors.accounts import is_member
from credit.workdays import add_working_days

MAX_TEXT = 4000


# --- Configuration ----------------------------------------------------------------------


def _config(name: str, default):
    return getattr(settings, "ENTREPOT", {}).get(name, default)


def publication_days(severity: str) -> int:
    return int(_config("BLACKLIST_PUBLICATION_DAYS", {"minor": 90, "general": 365, "serious": 1095})[severity])


def publication_min_days(severity: str) -> int:
    """The shortest publication period of a severity (PRODUCT.md: general 3 months to 1
    year, serious 1 to 3 years; a minor entry has no minimum)."""
    return int(_config("BLACKLIST_PUBLICATION_MIN_DAYS", {"minor": 1, "general": 90, "serious": 365})[severity])


def repair_after_days(severity: str) -> int:
    return int(_config("BLACKLIST_REPAIR_AFTER_DAYS", {"minor": 0, "general": 90, "serious": 365})[severity])


def appeal_reply_working_days() -> int:
    return int(_config("APPEAL_REPLY_WORKING_DAYS", 10))


def appeal_decision_working_days() -> int:
    return int(_config("APPEAL_DECISION_WORKING_DAYS", 3))


def repair_reply_working_days() -> int:
    return int(_config("REPAIR_REPLY_WORKING_DAYS", 10))


def repair_decision_working_days() -> int:
    return int(_config("REPAIR_DECISION_WORKING_DAYS", 3))


def default_publication_end(*, severity: str, starts_on: date) -> date:
    """Exclusive end: the entry is published on the days before this date."""
    return starts_on + timedelta(days=publication_days(severity))


def earliest_repair_date(*, entry: BlacklistEntry) -> date:
    """The first day a repair may be applied for (minor entries: at once)."""
    return entry.starts_on + timedelta(days=repair_after_days(entry.severity))


def today() -> date:
    return timezone.localdate()


# --- Helpers ---------------------------------------------------------------------------


def _require_regulator(actor) -> None:
    if not is_regulator(actor):
        raise errors.NotAllowed("Only a regulator may do this.", code="regulator_only")


def _required_text(value, field: str, field_errors: dict, *, max_length: int = MAX_TEXT) -> str:
    text = (value or "").strip()
    if not text:
        field_errors.setdefault(field, []).append("This field is required.")
    elif len(text) > max_length:
        field_errors.setdefault(field, []).append(f"Use at most {max_length} characters.")
    return text


def _lock_subject(subject_id: int) -> Subject:
    subject = Subject.objects.select_for_update(of=("self",)).filter(pk=subject_id).first()
    if subject is None:
        raise errors.SubjectNotFound(f"No subject with id {subject_id}.")
    return subject


def _lock_entry(entry_id) -> BlacklistEntry:
    """Lock the entry's subject, then the entry (the module's locking order)."""
    try:
        subject_id = BlacklistEntry.objects.filter(pk=entry_id).values_list("subject_id", flat=True).first()
    except (ValueError, TypeError):
        subject_id = None
    if subject_id is None:
        raise errors.NotFound(f"No blacklist entry with id {entry_id}.", code="entry_not_found")
    _lock_subject(subject_id)
    return BlacklistEntry.objects.select_for_update(of=("self",)).select_related("subject").get(pk=entry_id)


def _request_recompute(subject_id: int) -> None:
    from credit.services.ratings import request_recompute

    request_recompute(subject_id=subject_id)


def _entry_snapshot(entry: BlacklistEntry) -> dict:
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


def _sync_blacklisted_flag(subject: Subject) -> bool:
    """Set Subject.is_blacklisted from the remaining active entries; returns the new value."""
    blacklisted = BlacklistEntry.objects.filter(subject=subject, status=BlacklistEntry.Status.ACTIVE).exists()
    if subject.is_blacklisted != blacklisted:
        subject.is_blacklisted = blacklisted
        subject.save(update_fields=["is_blacklisted", "updated_at"])
    return blacklisted


def _end_entry(*, actor, entry: BlacklistEntry, status: str, reason: str, action: str) -> BlacklistEntry:
    """Move a locked active entry to lifted/expired/repaired, inside the caller's transaction."""
    old = _entry_snapshot(entry)
    now = timezone.now()
    entry.status = status
    entry.status_changed_at = now
    entry.status_reason = reason
    entry.save(update_fields=["status", "status_changed_at", "status_reason"])
    still_blacklisted = _sync_blacklisted_flag(entry.subject)
    DomainEvent.objects.create(
        type=DomainEvent.Type.BLACKLIST_LIFTED,
        subject_id=entry.subject_id,
        occurred_at=now,
        payload={
            "entry_id": entry.pk,
            "decision_reference": entry.decision_reference,
            "status": status,
            "still_blacklisted": still_blacklisted,
        },
    )
    record_audit(
        actor=actor,
        action=action,
        target=entry,
        subject_id=entry.subject_id,
        old=old,
        new={**_entry_snapshot(entry), "subject_is_blacklisted": still_blacklisted},
        reason=reason,
    )
    _request_recompute(entry.subject_id)
    return entry


# --- Blacklist entries ---------------------------------------------------------------------


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
    _require_regulator(actor)
    field_errors: dict[str, list[str]] = {}
    if category not in BlacklistEntry.Category.values:
        field_errors["category"] = ["Choose a valid category."]
    if severity not in Severity.values:
        field_errors["severity"] = ["Choose minor, general or serious."]
    legal_basis = _required_text(legal_basis, "legal_basis", field_errors, max_length=500)
    decision_reference = _required_text(decision_reference, "decision_reference", field_errors, max_length=120)
    description = _required_text(description, "description", field_errors)
    amount, currency = _parse_fine(fine_amount, fine_currency, field_errors)
    current = today()
    starts_on = starts_on or current
    if starts_on > current:
        field_errors.setdefault("starts_on", []).append("The start date cannot be in the future.")
    if severity in Severity.values and "starts_on" not in field_errors:
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
    if field_errors:
        raise errors.InvalidInput("The blacklist entry is not valid.", code="invalid_entry", field_errors=field_errors)

    with transaction.atomic():
        subject = _lock_subject(subject_id)
        duplicate = BlacklistEntry.objects.filter(
            subject=subject, decision_reference=decision_reference, status=BlacklistEntry.Status.ACTIVE
        ).exists()
        conflict = errors.Conflict(
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
        _sync_blacklisted_flag(subject)
        DomainEvent.objects.create(
            type=DomainEvent.Type.BLACKLISTED,
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
            new={**_entry_snapshot(entry), "description": entry.description, "subject_is_blacklisted": True},
            reason=description,
        )
        _request_recompute(subject.pk)
    return entry


def lift_blacklist_entry(*, actor, entry_id: int, reason: str) -> BlacklistEntry:
    """A regulator ends an active entry early, with a reason. Lifting a lifted entry again
    changes nothing; an entry that expired or was repaired cannot be lifted."""
    _require_regulator(actor)
    field_errors: dict[str, list[str]] = {}
    reason = _required_text(reason, "reason", field_errors)
    if field_errors:
        raise errors.InvalidInput("Give the reason for lifting.", code="reason_required", field_errors=field_errors)
    with transaction.atomic():
        entry = _lock_entry(entry_id)
        if entry.status == BlacklistEntry.Status.LIFTED:
            return entry
        if entry.status != BlacklistEntry.Status.ACTIVE:
            raise errors.Conflict(f"This entry is already {entry.get_status_display().lower()}.", code="entry_ended")
        return _end_entry(
            actor=actor,
            entry=entry,
            status=BlacklistEntry.Status.LIFTED,
            reason=reason,
            action="blacklist.entry_lifted",
        )


def set_fine_paid(*, actor, entry_id: int, paid: bool, reason: str = "") -> BlacklistEntry:
    """Record that an entry's fine has (or has not) been paid."""
    _require_regulator(actor)
    with transaction.atomic():
        entry = _lock_entry(entry_id)
        if entry.fine_amount is None:
            raise errors.Conflict("This entry has no fine.", code="no_fine")
        if entry.fine_paid == paid:
            return entry
        entry.fine_paid = paid
        entry.save(update_fields=["fine_paid"])
        record_audit(
            actor=actor,
            action="blacklist.fine_paid_changed",
            target=entry,
            subject_id=entry.subject_id,
            old={"fine_paid": not paid},
            new={"fine_paid": paid},
            reason=reason,
        )
    return entry


def expire_blacklist_entry(*, entry_id: int, on: date | None = None) -> bool:
    """End one entry whose publication period is over (publication_ends_on is exclusive:
    on that date it is no longer published). Returns whether it changed anything."""
    on = on or today()
    with transaction.atomic():
        entry = _lock_entry(entry_id)
        if entry.status != BlacklistEntry.Status.ACTIVE or entry.publication_ends_on > on:
            return False
        _end_entry(
            actor=None,
            entry=entry,
            status=BlacklistEntry.Status.EXPIRED,
            reason=f"Publication period ended on {entry.publication_ends_on.isoformat()}.",
            action="blacklist.entry_expired",
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


# --- Appeals ---------------------------------------------------------------------------------


def _require_member_of_entry(actor, entry: BlacklistEntry) -> None:
    if not is_member(user=actor, subject_id=entry.subject_id):
        # Not the subject's member: as if the entry did not exist for them.
        raise errors.NotFound(f"No blacklist entry with id {entry.pk}.", code="entry_not_found")


def _lock_appeal(appeal_id) -> Appeal:
    try:
        entry_id = Appeal.objects.filter(pk=appeal_id).values_list("entry_id", flat=True).first()
    except (ValueError, TypeError):
        entry_id = None
    if entry_id is None:
        raise errors.NotFound(f"No appeal with id {appeal_id}.", code="appeal_not_found")
    _lock_entry(entry_id)
    return Appeal.objects.select_for_update(of=("self",)).select_related("entry__subject").get(pk=appeal_id)


def _appeal_snapshot(appeal: Appeal) -> dict:
    return {
        "status": appeal.status,
        "challenge": appeal.challenge,
        "reply_due_on": appeal.reply_due_on.isoformat(),
        "decision_due_on": appeal.decision_due_on.isoformat() if appeal.decision_due_on else None,
    }


def _latest_decided_repair(entry: BlacklistEntry) -> RepairApplication | None:
    return (
        entry.repairs.filter(status__in=[RepairApplication.Status.APPROVED, RepairApplication.Status.REJECTED])
        .order_by("-decided_at", "-id")
        .first()
    )


def file_appeal(*, actor, entry_id: int, challenge: str, grounds: str) -> Appeal:
    """A member of the entry's subject objects to it. Content and period challenges need an
    active entry; a repair-result challenge needs a rejected repair application. One open
    appeal per entry and challenge. The reply is due within the configured working days."""
    field_errors: dict[str, list[str]] = {}
    if challenge not in Appeal.Challenge.values:
        field_errors["challenge"] = ["Choose content, period or repair_result."]
    grounds = _required_text(grounds, "grounds", field_errors, max_length=8000)
    with transaction.atomic():
        entry = _lock_entry(entry_id)
        _require_member_of_entry(actor, entry)
        if field_errors:
            raise errors.InvalidInput("The appeal is not valid.", code="invalid_appeal", field_errors=field_errors)
        if challenge == Appeal.Challenge.REPAIR_RESULT:
            latest = _latest_decided_repair(entry)
            if latest is None or latest.status != RepairApplication.Status.REJECTED:
                raise errors.Conflict(
                    "Only a rejected repair application can be appealed.",
                    code="no_rejected_repair",
                    field_errors={"challenge": ["There is no rejected repair application to challenge."]},
                )
        if entry.status != BlacklistEntry.Status.ACTIVE:
            raise errors.Conflict(
                f"This entry is {entry.get_status_display().lower()}; only active entries can be appealed.",
                code="entry_ended",
            )
        if entry.appeals.filter(
            challenge=challenge, status__in=[Appeal.Status.FILED, Appeal.Status.ACKNOWLEDGED]
        ).exists():
            raise errors.Conflict(
                "An appeal on this ground is already open.",
                code="appeal_open",
                field_errors={"challenge": ["An appeal on this ground is already open."]},
            )
        now = timezone.now()
        try:
            with transaction.atomic():
                appeal = Appeal.objects.create(
                    entry=entry,
                    filed_by=actor,
                    challenge=challenge,
                    grounds=grounds,
                    filed_at=now,
                    reply_due_on=add_working_days(timezone.localdate(now), appeal_reply_working_days()),
                )
        except IntegrityError:
            raise errors.Conflict("An appeal on this ground is already open.", code="appeal_open") from None
        record_audit(
            actor=actor,
            action="appeal.filed",
            target=appeal,
            subject_id=entry.subject_id,
            new={**_appeal_snapshot(appeal), "entry_id": entry.pk},
            reason=grounds,
        )
    return appeal


def _reply_text(reply) -> str:
    field_errors: dict[str, list[str]] = {}
    reply = _required_text(reply, "reply", field_errors, max_length=8000)
    if field_errors:
        raise errors.InvalidInput("Write the reply.", code="reply_required", field_errors=field_errors)
    return reply


def _acknowledge(*, actor, item, reply: str, snapshot, decision_working_days: int, action: str):
    """Appeals and repair applications are answered the same way: record the reply, start
    the decision deadline, audit. The caller holds the row lock."""
    old = snapshot(item)
    now = timezone.now()
    item.status = "acknowledged"
    item.replied_at = now
    item.reply = reply
    item.decision_due_on = add_working_days(timezone.localdate(now), decision_working_days)
    item.save(update_fields=["status", "replied_at", "reply", "decision_due_on"])
    record_audit(
        actor=actor,
        action=action,
        target=item,
        subject_id=item.entry.subject_id,
        old=old,
        new=snapshot(item),
        reason=reply,
    )
    return item


def reply_to_appeal(*, actor, appeal_id: int, reply: str) -> Appeal:
    """The regulator's reply. The decision is then due within the configured working days
    of the reply. Replying to an appeal already replied to changes nothing."""
    _require_regulator(actor)
    reply = _reply_text(reply)
    with transaction.atomic():
        appeal = _lock_appeal(appeal_id)
        if appeal.status == Appeal.Status.ACKNOWLEDGED:
            return appeal
        if appeal.status != Appeal.Status.FILED:
            raise errors.Conflict("This appeal has already been decided.", code="appeal_decided")
        return _acknowledge(
            actor=actor,
            item=appeal,
            reply=reply,
            snapshot=_appeal_snapshot,
            decision_working_days=appeal_decision_working_days(),
            action="appeal.replied",
        )


def decide_appeal(
    *,
    actor,
    appeal_id: int,
    uphold: bool,
    reasons: str,
    new_publication_ends_on: date | None = None,
) -> Appeal:
    """Uphold or dismiss an appeal that has been replied to, with reasons.

    Upholding:
    - a content challenge lifts the entry;
    - a period challenge shortens the publication end to `new_publication_ends_on`
      (required; after the start, before the current end). If that date is today or
      earlier the entry expires at once;
    - a repair-result challenge overturns the rejection: the entry becomes repaired (the
      rejected application itself stays rejected in history; the appeal records why).
    """
    _require_regulator(actor)
    field_errors: dict[str, list[str]] = {}
    reasons = _required_text(reasons, "reasons", field_errors, max_length=8000)
    if field_errors:
        raise errors.InvalidInput(
            "Give the reasons for the decision.", code="reasons_required", field_errors=field_errors
        )
    with transaction.atomic():
        appeal = _lock_appeal(appeal_id)
        entry = appeal.entry
        if appeal.status in (Appeal.Status.UPHELD, Appeal.Status.DISMISSED):
            if (appeal.status == Appeal.Status.UPHELD) == bool(uphold):
                return appeal
            raise errors.Conflict("This appeal has already been decided.", code="appeal_decided")
        if appeal.status == Appeal.Status.FILED:
            raise errors.Conflict("Reply to the appeal before deciding it.", code="reply_first")
        if uphold and appeal.challenge == Appeal.Challenge.PERIOD:
            if new_publication_ends_on is None:
                field_errors["new_publication_ends_on"] = ["Give the new publication end."]
            elif new_publication_ends_on <= entry.starts_on:
                field_errors["new_publication_ends_on"] = ["The new end must be after the entry's start date."]
            elif new_publication_ends_on >= entry.publication_ends_on:
                field_errors["new_publication_ends_on"] = [
                    f"The new end must be before the current end ({entry.publication_ends_on.isoformat()})."
                ]
            if field_errors:
                raise errors.InvalidInput(
                    "The new publication end is not valid.", code="invalid_period", field_errors=field_errors
                )
        old = _appeal_snapshot(appeal)
        appeal.status = Appeal.Status.UPHELD if uphold else Appeal.Status.DISMISSED
        appeal.decided_at = timezone.now()
        appeal.decided_by = actor
        appeal.decision_reasons = reasons
        appeal.save(update_fields=["status", "decided_at", "decided_by", "decision_reasons"])
        record_audit(
            actor=actor,
            action="appeal.upheld" if uphold else "appeal.dismissed",
            target=appeal,
            subject_id=entry.subject_id,
            old=old,
            new=_appeal_snapshot(appeal),
            reason=reasons,
        )
        if uphold and entry.status == BlacklistEntry.Status.ACTIVE:
            _apply_upheld_appeal(actor=actor, appeal=appeal, entry=entry, new_end=new_publication_ends_on)
    return appeal


def _apply_upheld_appeal(*, actor, appeal: Appeal, entry: BlacklistEntry, new_end: date | None) -> None:
    reason = f"Appeal #{appeal.pk} upheld: {appeal.decision_reasons}"
    if appeal.challenge == Appeal.Challenge.CONTENT:
        _end_entry(
            actor=actor,
            entry=entry,
            status=BlacklistEntry.Status.LIFTED,
            reason=reason,
            action="blacklist.entry_lifted",
        )
    elif appeal.challenge == Appeal.Challenge.REPAIR_RESULT:
        _end_entry(
            actor=actor,
            entry=entry,
            status=BlacklistEntry.Status.REPAIRED,
            reason=reason,
            action="blacklist.entry_repaired",
        )
    else:
        old = _entry_snapshot(entry)
        entry.publication_ends_on = new_end
        entry.save(update_fields=["publication_ends_on"])
        record_audit(
            actor=actor,
            action="blacklist.period_shortened",
            target=entry,
            subject_id=entry.subject_id,
            old=old,
            new=_entry_snapshot(entry),
            reason=reason,
        )
        if new_end <= today():
            _end_entry(
                actor=actor,
                entry=entry,
                status=BlacklistEntry.Status.EXPIRED,
                reason=f"Publication period ended on {new_end.isoformat()} ({reason}).",
                action="blacklist.entry_expired",
            )


# --- Repair ----------------------------------------------------------------------------------


def _lock_repair(repair_id) -> RepairApplication:
    try:
        entry_id = RepairApplication.objects.filter(pk=repair_id).values_list("entry_id", flat=True).first()
    except (ValueError, TypeError):
        entry_id = None
    if entry_id is None:
        raise errors.NotFound(f"No repair application with id {repair_id}.", code="repair_not_found")
    _lock_entry(entry_id)
    return RepairApplication.objects.select_for_update(of=("self",)).select_related("entry__subject").get(pk=repair_id)


def _repair_snapshot(repair: RepairApplication) -> dict:
    return {
        "status": repair.status,
        "reply_due_on": repair.reply_due_on.isoformat(),
        "decision_due_on": repair.decision_due_on.isoformat() if repair.decision_due_on else None,
    }


def apply_for_repair(*, actor, entry_id: int, correction_evidence: str, commitment: str) -> RepairApplication:
    """A member of the subject applies to end an active entry early: the misconduct has been
    corrected (evidence) and the subject files a credit commitment. Allowed from the
    severity's minimum period on (minor entries: at once); one open application per entry."""
    field_errors: dict[str, list[str]] = {}
    correction_evidence = _required_text(correction_evidence, "correction_evidence", field_errors, max_length=8000)
    commitment = _required_text(commitment, "commitment", field_errors, max_length=8000)
    with transaction.atomic():
        entry = _lock_entry(entry_id)
        _require_member_of_entry(actor, entry)
        if field_errors:
            raise errors.InvalidInput(
                "The repair application is not valid.", code="invalid_repair", field_errors=field_errors
            )
        if entry.status != BlacklistEntry.Status.ACTIVE:
            raise errors.Conflict(
                f"This entry is {entry.get_status_display().lower()}; only active entries can be repaired.",
                code="entry_ended",
            )
        earliest = earliest_repair_date(entry=entry)
        now = timezone.now()
        if timezone.localdate(now) < earliest:
            raise errors.Conflict(
                f"A {entry.severity} entry can be repaired from {earliest.isoformat()} on.",
                code="repair_not_yet_allowed",
            )
        if entry.repairs.filter(
            status__in=[RepairApplication.Status.FILED, RepairApplication.Status.ACKNOWLEDGED]
        ).exists():
            raise errors.Conflict("A repair application for this entry is already open.", code="repair_open")
        try:
            with transaction.atomic():
                repair = RepairApplication.objects.create(
                    entry=entry,
                    filed_by=actor,
                    correction_evidence=correction_evidence,
                    commitment=commitment,
                    filed_at=now,
                    reply_due_on=add_working_days(timezone.localdate(now), repair_reply_working_days()),
                )
        except IntegrityError:
            raise errors.Conflict("A repair application for this entry is already open.", code="repair_open") from None
        record_audit(
            actor=actor,
            action="repair.filed",
            target=repair,
            subject_id=entry.subject_id,
            new={**_repair_snapshot(repair), "entry_id": entry.pk},
            reason=commitment,
        )
    return repair


def reply_to_repair(*, actor, repair_id: int, reply: str) -> RepairApplication:
    _require_regulator(actor)
    reply = _reply_text(reply)
    with transaction.atomic():
        repair = _lock_repair(repair_id)
        if repair.status == RepairApplication.Status.ACKNOWLEDGED:
            return repair
        if repair.status != RepairApplication.Status.FILED:
            raise errors.Conflict("This repair application has already been decided.", code="repair_decided")
        return _acknowledge(
            actor=actor,
            item=repair,
            reply=reply,
            snapshot=_repair_snapshot,
            decision_working_days=repair_decision_working_days(),
            action="repair.replied",
        )


def decide_repair(*, actor, repair_id: int, approve: bool, reasons: str) -> RepairApplication:
    """Approve or reject a repair application that has been replied to. Approval takes the
    entry off the public blacklist at once (status repaired); history keeps it."""
    _require_regulator(actor)
    field_errors: dict[str, list[str]] = {}
    reasons = _required_text(reasons, "reasons", field_errors, max_length=8000)
    if field_errors:
        raise errors.InvalidInput(
            "Give the reasons for the decision.", code="reasons_required", field_errors=field_errors
        )
    with transaction.atomic():
        repair = _lock_repair(repair_id)
        if repair.status in (RepairApplication.Status.APPROVED, RepairApplication.Status.REJECTED):
            if (repair.status == RepairApplication.Status.APPROVED) == bool(approve):
                return repair
            raise errors.Conflict("This repair application has already been decided.", code="repair_decided")
        if repair.status == RepairApplication.Status.FILED:
            raise errors.Conflict("Reply to the application before deciding it.", code="reply_first")
        old = _repair_snapshot(repair)
        repair.status = RepairApplication.Status.APPROVED if approve else RepairApplication.Status.REJECTED
        repair.decided_at = timezone.now()
        repair.decided_by = actor
        repair.decision_reasons = reasons
        repair.save(update_fields=["status", "decided_at", "decided_by", "decision_reasons"])
        record_audit(
            actor=actor,
            action="repair.approved" if approve else "repair.rejected",
            target=repair,
            subject_id=repair.entry.subject_id,
            old=old,
            new=_repair_snapshot(repair),
            reason=reasons,
        )
        entry = repair.entry
        if approve and entry.status == BlacklistEntry.Status.ACTIVE:
            _end_entry(
                actor=actor,
                entry=entry,
                status=BlacklistEntry.Status.REPAIRED,
                reason=f"Repair application #{repair.pk} approved: {reasons}",
                action="blacklist.entry_repaired",
            )
    return repair
