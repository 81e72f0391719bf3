"""Recording credit events: append-only facts about a subject. A mistake is corrected by a
reversal event with a reason, never by editing or deleting. Each service owns its
transaction, writes its audit entry and asks for the subject's recompute in the same
transaction (the durable outbox), so the grade follows within seconds."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.audit import acting_user, record_audit
from core.errors import Conflict, InvalidInput, NotFound
from credit import errors
from credit.models import CreditEvent, EventKind, Subject
from credit.services.ratings import request_recompute

CLOCK_SKEW = timedelta(minutes=5)
MAX_MAGNITUDE = Decimal("999999.99")


def _event_snapshot(event: CreditEvent) -> dict:
    return {
        "kind": event.kind_id,
        "source": event.source,
        "occurred_at": event.occurred_at.isoformat(),
        "magnitude": str(event.magnitude),
        "source_reference": event.source_reference,
        "reverses": event.reverses_id,
    }


def record_credit_event(
    *,
    actor,
    subject_id: int,
    kind: str,
    source: str,
    occurred_at: datetime,
    magnitude: Decimal | int | float | str = 1,
    evidence_reference: str = "",
    source_reference: str = "",
) -> CreditEvent:
    """Record a credit event for a subject and ask for its recompute. Calling it inside a
    caller's transaction is fine: the event, its audit entry and the outbox row commit
    (or roll back) together."""
    field_errors: dict[str, list[str]] = {}
    kind_row = EventKind.objects.filter(code=kind).first() if isinstance(kind, str) else None
    if kind_row is None:
        field_errors["kind"] = [f"Unknown event kind '{kind}'."]
    if source not in CreditEvent.Source.values:
        field_errors["source"] = [f"Source must be one of: {', '.join(CreditEvent.Source.values)}."]
    try:
        magnitude = Decimal(str(magnitude)).quantize(Decimal("0.01"))
        if magnitude < 0 or magnitude > MAX_MAGNITUDE:
            field_errors["magnitude"] = ["Magnitude must be between 0 and 999999.99."]
    except (InvalidOperation, ValueError):
        field_errors["magnitude"] = ["Magnitude must be a number."]
    if not isinstance(occurred_at, datetime) or timezone.is_naive(occurred_at):
        field_errors["occurred_at"] = ["A timezone-aware date and time is required."]
    elif occurred_at > timezone.now() + CLOCK_SKEW:
        field_errors["occurred_at"] = ["An event cannot happen in the future."]
    if len(evidence_reference or "") > 300:
        field_errors["evidence_reference"] = ["At most 300 characters."]
    if len(source_reference or "") > 200:
        field_errors["source_reference"] = ["At most 200 characters."]
    if not Subject.objects.filter(pk=subject_id).exists():
        raise errors.SubjectNotFound(f"No subject with id {subject_id}.")
    if field_errors:
        raise InvalidInput("The credit event is not valid.", code="invalid_credit_event", field_errors=field_errors)

    user = acting_user(actor)
    with transaction.atomic():
        event = CreditEvent.objects.create(
            subject_id=subject_id,
            kind=kind_row,
            source=source,
            occurred_at=occurred_at,
            magnitude=magnitude,
            evidence_reference=evidence_reference or "",
            source_reference=source_reference or "",
            recorded_by=user,
        )
        record_audit(
            actor=actor,
            action="credit_event.recorded",
            target=event,
            subject_id=subject_id,
            new=_event_snapshot(event),
        )
        request_recompute(subject_id=subject_id)
    return event


def reverse_credit_event(*, actor, event_id: int, reason: str) -> CreditEvent:
    """Correct a mistaken event with a reversal event (same kind, magnitude and subject,
    `reverses` pointing at it, the reason given). Neither counts afterwards. An event is
    reversed at most once (a database constraint) and a reversal cannot be reversed."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(
            "A reversal needs a reason.", code="reason_required", field_errors={"reason": ["A reason is required."]}
        )
    user = acting_user(actor)
    try:
        with transaction.atomic():
            try:
                original = CreditEvent.objects.select_for_update().get(pk=event_id)
            except (CreditEvent.DoesNotExist, ValueError, TypeError):
                raise NotFound(f"No credit event with id {event_id}.", code="credit_event_not_found") from None
            if original.reverses_id is not None:
                raise Conflict("A reversal cannot itself be reversed.", code="cannot_reverse_reversal")
            if CreditEvent.objects.filter(reverses=original).exists():
                raise Conflict("This event has already been reversed.", code="already_reversed")
            reversal = CreditEvent.objects.create(
                subject_id=original.subject_id,
                kind_id=original.kind_id,
                source=original.source,
                occurred_at=timezone.now(),
                magnitude=original.magnitude,
                source_reference=original.source_reference,
                recorded_by=user,
                reverses=original,
                reason=reason,
            )
            record_audit(
                actor=actor,
                action="credit_event.reversed",
                target=reversal,
                subject_id=original.subject_id,
                old=_event_snapshot(original) | {"id": original.pk},
                new=_event_snapshot(reversal),
                reason=reason,
            )
            request_recompute(subject_id=original.subject_id)
    except IntegrityError:
        raise Conflict("This event has already been reversed.", code="already_reversed") from None
    return reversal
