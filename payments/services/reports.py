"""Payment reports: an institution's observed payment outcome becomes a credit event."""

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.audit import record_audit
from credit.models import Subject
from payments import errors
from payments.models import ProviderAPIKey
from payments.services.common import clean_currency, clean_money, raise_if_errors


def report_payment_outcome(
    *,
    api_key: ProviderAPIKey,
    subject_id: int,
    outcome: str,
    payment_reference: str,
    occurred_at: datetime,
    days_late: int = 0,
    amount=None,
    currency: str = "",
):
    """Record a payment outcome an institution observed about a subject and turn it into
    a credit event (kind = outcome; paid_late's magnitude = days late)."""
    from credit.services.events import record_credit_event
    from payments.models import PaymentReport

    field_errors: dict = {}
    if outcome not in PaymentReport.Outcome.values:
        field_errors["outcome"] = [f"Choose one of: {', '.join(PaymentReport.Outcome.values)}."]
    if outcome == PaymentReport.Outcome.PAID_LATE and (days_late or 0) < 1:
        field_errors["days_late"] = ["A late payment is at least 1 day late."]
    if outcome != PaymentReport.Outcome.PAID_LATE and days_late:
        field_errors["days_late"] = ["Only a late payment has days late."]
    if occurred_at and occurred_at > timezone.now() + timezone.timedelta(minutes=5):
        field_errors["occurred_at"] = ["Cannot be in the future."]
    reference = (payment_reference or "").strip()
    if not reference:
        field_errors["payment_reference"] = ["This field is required."]
    parsed_amount = None
    if amount is not None:
        parsed_amount = clean_money(amount, "amount", field_errors)
        currency = clean_currency(currency, "currency", field_errors)
    raise_if_errors(field_errors)
    if not Subject.objects.filter(pk=subject_id).exists():
        from credit.errors import SubjectNotFound

        raise SubjectNotFound(f"No subject with id {subject_id}.")
    try:
        with transaction.atomic():
            if PaymentReport.objects.filter(
                institution_id=api_key.institution_id, payment_reference=reference, outcome=outcome
            ).exists():
                raise errors.DuplicatePaymentReport(
                    f"Outcome {outcome} of payment {reference} has already been reported."
                )
            event = record_credit_event(
                actor=api_key,
                subject_id=subject_id,
                kind=outcome,
                source="payment_institution",
                occurred_at=occurred_at,
                magnitude=days_late if outcome == PaymentReport.Outcome.PAID_LATE else 1,
                source_reference=f"{api_key.institution_id}:{reference}"[:200],
            )
            report = PaymentReport.objects.create(
                institution_id=api_key.institution_id,
                api_key_prefix=api_key.prefix,
                subject_id=subject_id,
                outcome=outcome,
                days_late=days_late or 0,
                amount=parsed_amount,
                currency=currency if parsed_amount is not None else "",
                payment_reference=reference,
                occurred_at=occurred_at,
                credit_event=event,
            )
            record_audit(
                actor=api_key,
                action="payment.outcome_reported",
                target=report,
                subject_id=subject_id,
                new={
                    "outcome": outcome,
                    "days_late": days_late or 0,
                    "payment_reference": reference,
                    "event_id": event.pk,
                },
            )
    except IntegrityError:  # a concurrent report of the same payment won the unique constraint
        raise errors.DuplicatePaymentReport(
            f"Outcome {outcome} of payment {reference} has already been reported."
        ) from None
    return report
