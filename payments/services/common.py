"""Helpers shared by the payment-institution services: who may act, locking the
profile, parsing codes and amounts, and asking for a compliance check after commit."""

from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone

from core import outbox
from core.countries import country_codes, currency_codes
from core.errors import InvalidInput
from core.roles import is_regulator
from payments import errors
from payments.models import InstitutionProfile, ProviderAPIKey
from payments.selectors import institutions_managed_by


def is_api_key(actor) -> bool:
    return isinstance(actor, ProviderAPIKey)


def require_manager(actor, institution_id: int) -> None:
    """Owners and admins of the institution, or one of its own API keys."""
    if is_api_key(actor):
        if actor.institution_id != institution_id:
            raise errors.NotAnInstitution()
        return
    if not institutions_managed_by(user=actor).filter(pk=institution_id).exists():
        raise errors.NotAnInstitution()


def require_regulator(actor) -> None:
    if not is_regulator(actor):
        raise errors.RegulatorOnly()


def lock_profile(institution_id: int) -> InstitutionProfile:
    profile = (
        InstitutionProfile.objects.select_for_update(of=("self",))
        .select_related("subject")
        .filter(pk=institution_id)
        .first()
    )
    if profile is None:
        raise errors.InstitutionNotFound(f"No payment institution profile for subject {institution_id}.")
    return profile


def clean_currency(value: str, field: str, field_errors: dict) -> str:
    code = (value or "").strip().upper()
    if code not in currency_codes():
        field_errors.setdefault(field, []).append("Use an ISO 4217 code such as USD.")
    return code


def clean_country(value: str, field: str, field_errors: dict) -> str:
    code = (value or "").strip().upper()
    if code not in country_codes():
        field_errors.setdefault(field, []).append("Use an ISO 3166-1 alpha-2 code such as CN.")
    return code


def clean_money(value, field: str, field_errors: dict) -> Decimal:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, TypeError, ValueError):
        field_errors.setdefault(field, []).append("Enter an amount such as 1000.00.")
        return Decimal(0)
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
        field_errors.setdefault(field, []).append("Enter a non-negative amount with at most 2 decimals.")
    elif amount >= Decimal("1e18"):
        field_errors.setdefault(field, []).append("This amount is too large.")
    return amount


def raise_if_errors(field_errors: dict, message: str = "Please correct the fields shown.") -> None:
    if field_errors:
        raise InvalidInput(message, field_errors=field_errors)


def request_compliance_check(*, institution_id: int, trigger: str) -> None:
    """Ask for a check run after the caller's transaction commits. The durable mark
    (`check_requested_trigger`) survives a Redis outage: the beat sweep runs it anyway."""
    InstitutionProfile.objects.filter(pk=institution_id).update(
        check_requested_at=timezone.now(), check_requested_trigger=trigger
    )

    def enqueue():
        from payments.tasks import run_compliance_check_task

        outbox.publish(run_compliance_check_task, args=[institution_id, trigger])

    transaction.on_commit(enqueue)
