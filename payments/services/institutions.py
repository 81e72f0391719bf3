"""Institutions: profile, KYB, licences, corridors, reserve accounts and reports, and the
screening threshold. Each edit that a rule reads asks for a compliance check after commit."""

from datetime import date

from django.db import transaction
from django.utils import timezone

from core import grades
from core.audit import record_audit, save_audited
from core.errors import InvalidInput
from credit.models import Subject
from payments import errors
from payments.models import (
    ComplianceRun,
    Corridor,
    InstitutionProfile,
    Licence,
    ReserveAccount,
    ReserveBalance,
    ReserveOutflow,
    ReserveReport,
)
from payments.services.common import (
    clean_country,
    clean_currency,
    clean_money,
    lock_profile,
    raise_if_errors,
    request_compliance_check,
    require_manager,
    require_regulator,
)


def register_institution(*, actor, subject_id: int, paid_in_capital, capital_currency: str) -> InstitutionProfile:
    """Create (or update) the compliance profile of a subject registered as a payment institution."""
    field_errors: dict = {}
    capital = clean_money(paid_in_capital, "paid_in_capital", field_errors)
    currency = clean_currency(capital_currency, "capital_currency", field_errors)
    raise_if_errors(field_errors)
    if not Subject.objects.filter(pk=subject_id, is_payment_institution=True).exists():
        raise errors.NotAnInstitution("This subject is not registered as a payment institution.")
    require_manager(actor, subject_id)
    with transaction.atomic():
        Subject.objects.select_for_update(of=("self",)).filter(pk=subject_id).first()
        profile = InstitutionProfile.objects.filter(pk=subject_id).first()
        if profile is None:
            profile = InstitutionProfile.objects.create(
                subject_id=subject_id, paid_in_capital=capital, capital_currency=currency
            )
            record_audit(
                actor=actor,
                action="institution.registered",
                target=profile,
                subject_id=subject_id,
                new={"paid_in_capital": str(capital), "capital_currency": currency},
            )
        elif (profile.paid_in_capital, profile.capital_currency) != (capital, currency):
            save_audited(
                profile,
                {"paid_in_capital": capital, "capital_currency": currency},
                actor=actor,
                action="institution.capital_changed",
                subject_id=subject_id,
                old={"paid_in_capital": str(profile.paid_in_capital), "capital_currency": profile.capital_currency},
                new={"paid_in_capital": str(capital), "capital_currency": currency},
            )
        else:
            return profile
        request_compliance_check(institution_id=subject_id, trigger=ComplianceRun.Trigger.PROFILE_CHANGED)
    return profile


def set_kyb_status(*, actor, institution_id: int, kyb_status: str, reason: str = "") -> InstitutionProfile:
    require_regulator(actor)
    if kyb_status not in InstitutionProfile.KYB.values:
        raise InvalidInput("Unknown KYB status.", field_errors={"kyb_status": ["Choose a listed status."]})
    with transaction.atomic():
        profile = lock_profile(institution_id)
        if profile.kyb_status == kyb_status:
            return profile
        verified_at = timezone.now() if kyb_status == InstitutionProfile.KYB.VERIFIED else None
        save_audited(
            profile,
            {"kyb_status": kyb_status, "kyb_verified_at": verified_at},
            actor=actor,
            action="institution.kyb_changed",
            subject_id=institution_id,
            old={"kyb_status": profile.kyb_status},
            new={"kyb_status": kyb_status},
            reason=reason,
        )
        request_compliance_check(institution_id=institution_id, trigger=ComplianceRun.Trigger.PROFILE_CHANGED)
    return profile


def _licence_snapshot(licence: Licence) -> dict:
    return {
        "number": licence.number,
        "issuing_authority": licence.issuing_authority,
        "business_types": licence.business_types,
        "currencies": licence.currencies,
        "countries": licence.countries,
        "valid_from": licence.valid_from.isoformat(),
        "valid_to": licence.valid_to.isoformat(),
        "renewal_filed_on": licence.renewal_filed_on.isoformat() if licence.renewal_filed_on else None,
    }


def save_licence(
    *,
    actor,
    institution_id: int,
    number: str,
    issuing_authority: str,
    valid_from: date,
    valid_to: date,
    currencies: list[str],
    countries: list[str],
    business_types: list[str] | None = None,
    renewal_filed_on: date | None = None,
    licence_id: int | None = None,
) -> Licence:
    """File a new licence, or edit one (licence_id). valid_to is exclusive."""
    require_manager(actor, institution_id)
    field_errors: dict = {}
    number = (number or "").strip()
    authority = (issuing_authority or "").strip()
    if not number:
        field_errors["number"] = ["This field is required."]
    if not authority:
        field_errors["issuing_authority"] = ["This field is required."]
    if valid_from and valid_to and valid_to <= valid_from:
        field_errors["valid_to"] = ["Must be after the start date."]
    cur = sorted({clean_currency(c, "currencies", field_errors) for c in currencies or []})
    ctry = sorted({clean_country(c, "countries", field_errors) for c in countries or []})
    if not cur:
        field_errors.setdefault("currencies", []).append("Name at least one currency.")
    if not ctry:
        field_errors.setdefault("countries", []).append("Name at least one country.")
    raise_if_errors(field_errors)
    types = [t.strip() for t in business_types or [] if t.strip()]
    with transaction.atomic():
        profile = lock_profile(institution_id)
        if licence_id is None:
            licence = Licence(institution=profile)
            old = None
        else:
            licence = Licence.objects.filter(pk=licence_id, institution=profile).first()
            if licence is None:
                raise errors.InstitutionNotFound("No such licence.", code="licence_not_found")
            if licence.withdrawn_at is not None:
                raise InvalidInput(
                    "This licence was withdrawn and is kept for history; file a new one instead.",
                    code="licence_withdrawn",
                    field_errors={"number": ["Withdrawn licences cannot be edited."]},
                )
            old = _licence_snapshot(licence)
        if (
            Licence.objects.filter(institution=profile, number=number)
            .exclude(pk=licence.pk if licence.pk else None)
            .exists()
        ):
            raise InvalidInput(
                "A licence with this number is already on file.", field_errors={"number": ["Already on file."]}
            )
        licence.number, licence.issuing_authority, licence.business_types = number, authority, types
        licence.currencies, licence.countries = cur, ctry
        licence.valid_from, licence.valid_to, licence.renewal_filed_on = valid_from, valid_to, renewal_filed_on
        new = _licence_snapshot(licence)
        if old == new:
            return licence
        licence.save()
        record_audit(
            actor=actor,
            action="institution.licence_filed" if old is None else "institution.licence_changed",
            target=licence,
            subject_id=institution_id,
            old=old,
            new=new,
        )
        request_compliance_check(institution_id=institution_id, trigger=ComplianceRun.Trigger.LICENCE_CHANGED)
    return licence


def add_corridor(
    *,
    actor,
    institution_id: int,
    currency: str,
    country: str,
    fx_registration_reference: str = "",
    partner_bank: str = "",
) -> Corridor:
    require_manager(actor, institution_id)
    field_errors: dict = {}
    currency = clean_currency(currency, "currency", field_errors)
    country = clean_country(country, "country", field_errors)
    raise_if_errors(field_errors)
    with transaction.atomic():
        profile = lock_profile(institution_id)
        corridor = Corridor.objects.filter(institution=profile, currency=currency, country=country).first()
        if corridor is not None and corridor.withdrawn_at is not None:
            # Requested again after the institution switched it off: back to awaiting a check.
            old = {"withdrawn_at": corridor.withdrawn_at.isoformat()}
            corridor.withdrawn_at, corridor.withdrawn_reason = None, ""
            corridor.disabled_reason = "Awaiting the next compliance check."
            if fx_registration_reference:
                corridor.fx_registration_reference = fx_registration_reference.strip()
            if partner_bank:
                corridor.partner_bank = partner_bank.strip()
            corridor.save()
            record_audit(
                actor=actor,
                action="institution.corridor_requested",
                target=corridor,
                subject_id=institution_id,
                old=old,
                new={"currency": currency, "country": country, "withdrawn_at": None},
            )
            request_compliance_check(institution_id=institution_id, trigger=ComplianceRun.Trigger.CORRIDOR_CHANGED)
            return corridor
        if corridor is not None:
            return corridor
        corridor = Corridor.objects.create(
            institution=profile,
            currency=currency,
            country=country,
            fx_registration_reference=(fx_registration_reference or "").strip(),
            partner_bank=(partner_bank or "").strip(),
            disabled_reason="Awaiting the next compliance check.",
        )
        record_audit(
            actor=actor,
            action="institution.corridor_requested",
            target=corridor,
            subject_id=institution_id,
            new={"currency": currency, "country": country},
        )
        request_compliance_check(institution_id=institution_id, trigger=ComplianceRun.Trigger.CORRIDOR_CHANGED)
    return corridor


def add_reserve_account(
    *, actor, institution_id: int, bank: str, account_reference: str, currency: str, bank_kind: str = "qualified_bank"
) -> ReserveAccount:
    require_manager(actor, institution_id)
    field_errors: dict = {}
    currency = clean_currency(currency, "currency", field_errors)
    bank, reference = (bank or "").strip(), (account_reference or "").strip()
    if not bank:
        field_errors["bank"] = ["This field is required."]
    if not reference:
        field_errors["account_reference"] = ["This field is required."]
    if bank_kind not in ReserveAccount.BankKind.values:
        field_errors["bank_kind"] = ["Choose a listed kind of bank."]
    raise_if_errors(field_errors)
    with transaction.atomic():
        profile = lock_profile(institution_id)
        if ReserveAccount.objects.filter(institution=profile, account_reference=reference).exists():
            raise InvalidInput(
                "This account is already on file.", field_errors={"account_reference": ["Already on file."]}
            )
        account = ReserveAccount.objects.create(
            institution=profile, bank=bank, bank_kind=bank_kind, account_reference=reference, currency=currency
        )
        record_audit(
            actor=actor,
            action="institution.reserve_account_added",
            target=account,
            subject_id=institution_id,
            new={"bank": bank, "bank_kind": bank_kind, "account_reference": reference, "currency": currency},
        )
    return account


def submit_reserve_report(
    *,
    actor,
    institution_id: int,
    report_date: date,
    currency: str,
    customer_funds_owed,
    balances: dict[int, object],
    outflows: dict[str, object] | None = None,
    source: str = ReserveReport.Source.WEB,
) -> ReserveReport:
    """balances: reserve account id -> balance (accounts in the report's currency);
    outflows: destination type -> amount paid out of reserves since the previous report."""
    require_manager(actor, institution_id)
    field_errors: dict = {}
    currency = clean_currency(currency, "currency", field_errors)
    owed = clean_money(customer_funds_owed, "customer_funds_owed", field_errors)
    if report_date is None:
        field_errors["report_date"] = ["This field is required."]
    elif report_date > timezone.localdate():
        field_errors["report_date"] = ["A report cannot be dated in the future."]
    accounts = {a.pk: a for a in ReserveAccount.objects.filter(institution_id=institution_id)}
    parsed_balances = {}
    for account_id, value in (balances or {}).items():
        account = accounts.get(int(account_id)) if str(account_id).isdecimal() else None
        if account is None:
            field_errors.setdefault("balances", []).append(f"Unknown reserve account {account_id}.")
            continue
        if account.currency != currency:
            field_errors.setdefault("balances", []).append(
                f"Account {account.account_reference} holds {account.currency}, not {currency}."
            )
            continue
        if account.closed_on is not None and report_date is not None and report_date > account.closed_on:
            field_errors.setdefault("balances", []).append(
                f"Account {account.account_reference} was closed on {account.closed_on.isoformat()}."
            )
            continue
        parsed_balances[account] = clean_money(value, "balances", field_errors)
    if not parsed_balances and "balances" not in field_errors:
        field_errors["balances"] = ["Give the balance of at least one reserve account in this currency."]
    parsed_outflows = {}
    for destination, value in (outflows or {}).items():
        if destination not in ReserveOutflow.Destination.values:
            field_errors.setdefault("outflows", []).append(f"Unknown destination type '{destination}'.")
            continue
        parsed_outflows[destination] = clean_money(value, "outflows", field_errors)
    raise_if_errors(field_errors)
    with transaction.atomic():
        profile = lock_profile(institution_id)
        report = ReserveReport.objects.create(
            institution=profile,
            report_date=report_date,
            currency=currency,
            customer_funds_owed=owed,
            source=source,
            submitted_by_label=_actor_label(actor),
        )
        ReserveBalance.objects.bulk_create(
            ReserveBalance(report=report, account=account, balance=amount)
            for account, amount in parsed_balances.items()
        )
        ReserveOutflow.objects.bulk_create(
            ReserveOutflow(report=report, destination_type=dest, amount=amount)
            for dest, amount in parsed_outflows.items()
        )
        record_audit(
            actor=actor,
            action="institution.reserve_report_filed",
            target=report,
            subject_id=institution_id,
            new={
                "report_date": report_date.isoformat(),
                "currency": currency,
                "customer_funds_owed": str(owed),
                "balances": {a.account_reference: str(v) for a, v in parsed_balances.items()},
                "outflows": {k: str(v) for k, v in parsed_outflows.items()},
            },
        )
        request_compliance_check(institution_id=institution_id, trigger=ComplianceRun.Trigger.RESERVE_REPORT)
    return report


def _actor_label(actor) -> str:
    from core.audit import actor_label

    return actor_label(actor)


def set_screening_threshold(*, actor, institution_id: int, grade: str) -> InstitutionProfile:
    require_manager(actor, institution_id)
    if grade not in grades.LADDER:
        raise InvalidInput("Unknown grade.", field_errors={"screening_minimum_grade": ["Choose A, B, M, C or D."]})
    with transaction.atomic():
        profile = lock_profile(institution_id)
        if profile.screening_minimum_grade == grade:
            return profile
        save_audited(
            profile,
            {"screening_minimum_grade": grade},
            actor=actor,
            action="institution.screening_threshold_changed",
            subject_id=institution_id,
        )
    return profile
