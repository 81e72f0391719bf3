"""Payment-institution writes. Each service owns its transaction and audit entry."""

import logging
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.utils import timezone

from credit import outbox
from credit.audit import record_audit
from credit.countries import country_codes, currency_codes
from credit.errors import InvalidInput
from credit.models import Subject
from credit.roles import is_regulator
from payments import compliance, errors
from payments.models import (
    ComplianceRun,
    Corridor,
    InstitutionProfile,
    Licence,
    ProviderAPIKey,
    ReserveAccount,
    ReserveBalance,
    ReserveOutflow,
    ReserveReport,
    RuleResult,
)
from payments.selectors import api_keys_visible_to, institutions_managed_by


def issue_api_key(
    *, actor, institution_id: int, name: str, scopes: list[str], expires_at: datetime | None = None
) -> tuple[ProviderAPIKey, str]:
    """Returns the key and its full secret, which is never retrievable again."""
    if not institutions_managed_by(user=actor).filter(pk=institution_id).exists():
        raise errors.NotAnInstitution()
    unknown = set(scopes) - set(ProviderAPIKey.Scope.values)
    if unknown or not scopes:
        raise InvalidInput(
            "Choose at least one valid scope.",
            code="invalid_scopes",
            field_errors={"scopes": [f"Unknown or empty scopes: {sorted(unknown)}"]},
        )
    if expires_at is not None and expires_at <= timezone.now():
        raise InvalidInput(
            "The expiry must be in the future.",
            code="invalid_expiry",
            field_errors={"expires_at": ["Must be in the future."]},
        )
    with transaction.atomic():
        key, secret = ProviderAPIKey.objects.create_key(
            name=name, institution_id=institution_id, scopes=sorted(scopes), created_by=actor, expiry_date=expires_at
        )
        record_audit(
            actor=actor,
            action="api_key.issued",
            target=key,
            target_id=key.prefix,
            subject_id=institution_id,
            new={
                "prefix": key.prefix,
                "name": name,
                "scopes": key.scopes,
                "expires_at": expires_at.isoformat() if expires_at else None,
            },
        )
    return key, secret


def revoke_api_key(*, actor, prefix: str, reason: str = "") -> ProviderAPIKey:
    with transaction.atomic():
        key = api_keys_visible_to(user=actor).select_for_update(of=("self",)).filter(prefix=prefix).first()
        if key is None:
            raise errors.APIKeyNotFound()
        if key.revoked:
            return key
        key.revoked = True
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked", "revoked_at"])
        record_audit(
            actor=actor,
            action="api_key.revoked",
            target=key,
            target_id=key.prefix,
            subject_id=key.institution_id,
            old={"revoked": False},
            new={"revoked": True},
            reason=reason,
        )
    return key


# --- Institutions: profile, licences, corridors, reserves -----------------------------------

logger = logging.getLogger(__name__)


def _is_api_key(actor) -> bool:
    return isinstance(actor, ProviderAPIKey)


def _require_manager(actor, institution_id: int) -> None:
    """Owners and admins of the institution, or one of its own API keys."""
    if _is_api_key(actor):
        if actor.institution_id != institution_id:
            raise errors.NotAnInstitution()
        return
    if not institutions_managed_by(user=actor).filter(pk=institution_id).exists():
        raise errors.NotAnInstitution()


def _require_regulator(actor) -> None:
    if not is_regulator(actor):
        raise errors.RegulatorOnly()


def _lock_profile(institution_id: int) -> InstitutionProfile:
    profile = (
        InstitutionProfile.objects.select_for_update(of=("self",))
        .select_related("subject")
        .filter(pk=institution_id)
        .first()
    )
    if profile is None:
        raise errors.InstitutionNotFound(f"No payment institution profile for subject {institution_id}.")
    return profile


def _currency(value: str, field: str, field_errors: dict) -> str:
    code = (value or "").strip().upper()
    if code not in currency_codes():
        field_errors.setdefault(field, []).append("Use an ISO 4217 code such as USD.")
    return code


def _country(value: str, field: str, field_errors: dict) -> str:
    code = (value or "").strip().upper()
    if code not in country_codes():
        field_errors.setdefault(field, []).append("Use an ISO 3166-1 alpha-2 code such as CN.")
    return code


def _money(value, field: str, field_errors: dict) -> Decimal:
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


def _raise_if(field_errors: dict, message: str = "Please correct the fields shown.") -> None:
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


def register_institution(*, actor, subject_id: int, paid_in_capital, capital_currency: str) -> InstitutionProfile:
    """Create (or update) the compliance profile of a subject registered as a payment institution."""
    field_errors: dict = {}
    capital = _money(paid_in_capital, "paid_in_capital", field_errors)
    currency = _currency(capital_currency, "capital_currency", field_errors)
    _raise_if(field_errors)
    if not Subject.objects.filter(pk=subject_id, is_payment_institution=True).exists():
        raise errors.NotAnInstitution("This subject is not registered as a payment institution.")
    _require_manager(actor, subject_id)
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
            old = {"paid_in_capital": str(profile.paid_in_capital), "capital_currency": profile.capital_currency}
            profile.paid_in_capital, profile.capital_currency = capital, currency
            profile.save(update_fields=["paid_in_capital", "capital_currency"])
            record_audit(
                actor=actor,
                action="institution.capital_changed",
                target=profile,
                subject_id=subject_id,
                old=old,
                new={"paid_in_capital": str(capital), "capital_currency": currency},
            )
        else:
            return profile
        request_compliance_check(institution_id=subject_id, trigger=ComplianceRun.Trigger.PROFILE_CHANGED)
    return profile


def set_kyb_status(*, actor, institution_id: int, kyb_status: str, reason: str = "") -> InstitutionProfile:
    _require_regulator(actor)
    if kyb_status not in InstitutionProfile.KYB.values:
        raise InvalidInput("Unknown KYB status.", field_errors={"kyb_status": ["Choose a listed status."]})
    with transaction.atomic():
        profile = _lock_profile(institution_id)
        if profile.kyb_status == kyb_status:
            return profile
        old = profile.kyb_status
        profile.kyb_status = kyb_status
        profile.kyb_verified_at = timezone.now() if kyb_status == InstitutionProfile.KYB.VERIFIED else None
        profile.save(update_fields=["kyb_status", "kyb_verified_at"])
        record_audit(
            actor=actor,
            action="institution.kyb_changed",
            target=profile,
            subject_id=institution_id,
            old={"kyb_status": old},
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
    _require_manager(actor, institution_id)
    field_errors: dict = {}
    number = (number or "").strip()
    authority = (issuing_authority or "").strip()
    if not number:
        field_errors["number"] = ["This field is required."]
    if not authority:
        field_errors["issuing_authority"] = ["This field is required."]
    if valid_from and valid_to and valid_to <= valid_from:
        field_errors["valid_to"] = ["Must be after the start date."]
    cur = sorted({_currency(c, "currencies", field_errors) for c in currencies or []})
    ctry = sorted({_country(c, "countries", field_errors) for c in countries or []})
    if not cur:
        field_errors.setdefault("currencies", []).append("Name at least one currency.")
    if not ctry:
        field_errors.setdefault("countries", []).append("Name at least one country.")
    _raise_if(field_errors)
    types = [t.strip() for t in business_types or [] if t.strip()]
    with transaction.atomic():
        profile = _lock_profile(institution_id)
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
    _require_manager(actor, institution_id)
    field_errors: dict = {}
    currency = _currency(currency, "currency", field_errors)
    country = _country(country, "country", field_errors)
    _raise_if(field_errors)
    with transaction.atomic():
        profile = _lock_profile(institution_id)
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
    _require_manager(actor, institution_id)
    field_errors: dict = {}
    currency = _currency(currency, "currency", field_errors)
    bank, reference = (bank or "").strip(), (account_reference or "").strip()
    if not bank:
        field_errors["bank"] = ["This field is required."]
    if not reference:
        field_errors["account_reference"] = ["This field is required."]
    if bank_kind not in ReserveAccount.BankKind.values:
        field_errors["bank_kind"] = ["Choose a listed kind of bank."]
    _raise_if(field_errors)
    with transaction.atomic():
        profile = _lock_profile(institution_id)
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
    _require_manager(actor, institution_id)
    field_errors: dict = {}
    currency = _currency(currency, "currency", field_errors)
    owed = _money(customer_funds_owed, "customer_funds_owed", field_errors)
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
        parsed_balances[account] = _money(value, "balances", field_errors)
    if not parsed_balances and "balances" not in field_errors:
        field_errors["balances"] = ["Give the balance of at least one reserve account in this currency."]
    parsed_outflows = {}
    for destination, value in (outflows or {}).items():
        if destination not in ReserveOutflow.Destination.values:
            field_errors.setdefault("outflows", []).append(f"Unknown destination type '{destination}'.")
            continue
        parsed_outflows[destination] = _money(value, "outflows", field_errors)
    _raise_if(field_errors)
    with transaction.atomic():
        profile = _lock_profile(institution_id)
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
    from credit.audit import actor_label

    return actor_label(actor)


# --- Compliance runs and status -------------------------------------------------------------


def _load_facts(profile: InstitutionProfile, today: date) -> compliance.Facts:
    from payments.selectors import latest_reserve_reports

    subject = Subject.objects.get(pk=profile.pk)
    licences = tuple(
        compliance.LicenceFact(
            id=lic.pk,
            number=lic.number,
            issuing_authority=lic.issuing_authority,
            valid_from=lic.valid_from,
            valid_to=lic.valid_to,
            renewal_filed_on=lic.renewal_filed_on,
            currencies=tuple(lic.currencies),
            countries=tuple(lic.countries),
        )
        for lic in Licence.objects.filter(institution=profile, withdrawn_at__isnull=True).order_by("valid_from", "id")
    )
    corridors = tuple(
        compliance.CorridorFact(
            id=c.pk,
            currency=c.currency,
            country=c.country,
            fx_registration_reference=c.fx_registration_reference,
            partner_bank=c.partner_bank,
        )
        for c in Corridor.objects.filter(institution=profile, withdrawn_at__isnull=True).order_by("currency", "country")
    )
    reports = tuple(
        compliance.ReportFact(
            id=r.pk,
            report_date=r.report_date,
            currency=r.currency,
            customer_funds_owed=r.customer_funds_owed,
            balances=tuple(
                (b.account.account_reference, b.account.bank, b.account.bank_kind, b.balance) for b in r.balances.all()
            ),
            outflows=tuple((o.destination_type, o.amount) for o in r.outflows.all()),
        )
        for r in latest_reserve_reports(institution_id=profile.pk)
    )
    standing = ()
    try:
        from credit.selectors.standing import may_subject

        decision = may_subject(subject_id=profile.pk, action="act_as_payment_institution")
        standing = tuple(r for r in decision.reasons if r.get("code") != "good_standing")
    except ImportError:  # pragma: no cover - credit's enforcement selector not installed
        pass
    return compliance.Facts(
        today=today,
        country=subject.country,
        paid_in_capital=profile.paid_in_capital,
        capital_currency=profile.capital_currency,
        kyb_status=profile.kyb_status,
        is_blacklisted=subject.is_blacklisted or any(r.get("code") == "blacklisted" for r in standing),
        grade=subject.grade,
        licences=licences,
        corridors=corridors,
        latest_reports=reports,
        standing_reasons=standing,
    )


def run_compliance_check(
    *, institution_id: int, trigger: str, actor=None, today: date | None = None, only_if_requested: bool = False
) -> ComplianceRun | None:
    """Evaluate every rule, store the run and each rule's outcome (immutably), switch
    corridors on or off, and derive the institution's status. Safe to repeat. With
    `only_if_requested` (queued checks) it does nothing when a run since the request,
    which saw every edit committed before it, has already cleared the request."""
    today = today or timezone.localdate()
    with transaction.atomic():
        profile = _lock_profile(institution_id)
        if only_if_requested and profile.check_requested_at is None:
            return None
        evaluation = compliance.evaluate(_load_facts(profile, today))
        now = timezone.now()
        run = ComplianceRun.objects.create(
            institution=profile,
            as_of=today,
            started_at=now,
            trigger=trigger,
            outcome=evaluation.outcome,
            derived_status=evaluation.status,
            summary=evaluation.summary[:4000],
            parameters=compliance.thresholds(),
            rules_version=compliance.RULES_VERSION,
        )
        RuleResult.objects.bulk_create(
            RuleResult(
                run=run,
                rule=rule.code,
                outcome=finding.outcome,
                reason=finding.reason,
                evidence=finding.evidence,
                corridor_id=finding.corridor_id,
                position=position,
            )
            for position, (rule, finding) in enumerate(evaluation.results)
        )
        _apply_corridor_results(profile, evaluation.failing_corridors)
        profile.latest_run = run
        profile.check_requested_at = None
        profile.check_requested_trigger = ""
        profile.save(update_fields=["latest_run", "check_requested_at", "check_requested_trigger"])
        if profile.regulator_suspended:
            new_status, reason = InstitutionProfile.Status.SUSPENDED, profile.status_reason
        else:
            new_status, reason = evaluation.status, evaluation.summary
        _set_status(
            profile, status=new_status, reason=reason, actor=actor, cause=f"compliance run {run.pk} ({trigger})"
        )
    return run


def _apply_corridor_results(profile: InstitutionProfile, failing: dict[int, str]) -> None:
    for corridor in Corridor.objects.select_for_update(of=("self",)).filter(institution=profile).order_by("pk"):
        if corridor.withdrawn_at is not None:  # switched off by the institution: stays off
            continue
        enabled = corridor.pk not in failing
        reason = failing.get(corridor.pk, "")
        if corridor.enabled != enabled or corridor.disabled_reason != reason:
            corridor.enabled, corridor.disabled_reason = enabled, reason
            corridor.save(update_fields=["enabled", "disabled_reason"])


def _set_status(profile: InstitutionProfile, *, status: str, reason: str, actor, cause: str) -> None:
    """Inside the caller's transaction: change status, audit it and emit
    institution.status_changed, only when the status actually changes."""
    if profile.status == status:
        if profile.status_reason != reason:
            profile.status_reason = reason
            profile.save(update_fields=["status_reason"])
        return
    old = profile.status
    profile.status, profile.status_reason, profile.status_changed_at = status, reason, timezone.now()
    profile.save(update_fields=["status", "status_reason", "status_changed_at"])
    record_audit(
        actor=actor,
        action="institution.status_changed",
        target=profile,
        subject_id=profile.pk,
        old={"status": old},
        new={"status": status},
        reason=f"{reason} [{cause}]",
    )
    from payments.webhooks import enqueue_event

    enqueue_event(
        event_type="institution.status_changed",
        institution_ids=[profile.pk],
        data={
            "institution_id": profile.pk,
            "old_status": old,
            "new_status": status,
            "reason": reason,
            "changed_at": profile.status_changed_at.isoformat(),
        },
    )


def suspend_institution(*, actor, institution_id: int, reason: str) -> InstitutionProfile:
    _require_regulator(actor)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Give the reason for the suspension.", field_errors={"reason": ["This field is required."]})
    with transaction.atomic():
        profile = _lock_profile(institution_id)
        if profile.regulator_suspended:
            return profile
        profile.regulator_suspended = True
        profile.save(update_fields=["regulator_suspended"])
        record_audit(
            actor=actor,
            action="institution.suspended",
            target=profile,
            subject_id=institution_id,
            old={"regulator_suspended": False, "status": profile.status},
            new={"regulator_suspended": True, "status": InstitutionProfile.Status.SUSPENDED},
            reason=reason,
        )
        _set_status(
            profile,
            status=InstitutionProfile.Status.SUSPENDED,
            reason=f"Suspended by a regulator: {reason}",
            actor=actor,
            cause="regulator decision",
        )
    return profile


def reinstate_institution(*, actor, institution_id: int, reason: str) -> InstitutionProfile:
    """Lift a regulator's suspension. The status is then derived from a fresh compliance
    run: an institution that still fails a rule stays suspended, for that rule's reason."""
    _require_regulator(actor)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(
            "Give the reason for the reinstatement.", field_errors={"reason": ["This field is required."]}
        )
    with transaction.atomic():
        profile = _lock_profile(institution_id)
        if not profile.regulator_suspended:
            raise errors.InstitutionNotSuspended()
        profile.regulator_suspended = False
        profile.save(update_fields=["regulator_suspended"])
        record_audit(
            actor=actor,
            action="institution.reinstated",
            target=profile,
            subject_id=institution_id,
            old={"regulator_suspended": True},
            new={"regulator_suspended": False},
            reason=reason,
        )
        run_compliance_check(institution_id=institution_id, trigger=ComplianceRun.Trigger.REGULATOR, actor=actor)
    profile.refresh_from_db()
    return profile


def request_check_by_regulator(*, actor, institution_id: int) -> ComplianceRun:
    _require_regulator(actor)
    return run_compliance_check(institution_id=institution_id, trigger=ComplianceRun.Trigger.REGULATOR, actor=actor)


# --- Reading credit's domain events -----------------------------------------------------------

DOMAIN_EVENT_CURSOR = "credit.domain_events"
TRIGGER_BY_EVENT = {
    "subject.grade_changed": ComplianceRun.Trigger.GRADE_CHANGED,
    "subject.blacklisted": ComplianceRun.Trigger.BLACKLISTED,
    "subject.blacklist_lifted": ComplianceRun.Trigger.BLACKLIST_LIFTED,
}


def _gap_timeout():
    from django.conf import settings

    return timezone.timedelta(seconds=settings.ENTREPOT["PAYMENTS"].get("DOMAIN_EVENT_GAP_TIMEOUT_SECONDS", 600))


def process_domain_events(*, limit: int = 500) -> int:
    """Read credit's DomainEvents after our cursor (through credit's selector, which also
    tracks the ids a still-open transaction may commit late), turn each into webhook
    deliveries for the institutions watching the subject, and ask for a compliance check
    when the subject is itself an institution. The cursor moves in the same transaction as
    the outbox rows, so an event is handled exactly once."""
    from credit.selectors.events import events_since_cursor
    from payments.models import EventCursor

    with transaction.atomic():
        EventCursor.objects.get_or_create(name=DOMAIN_EVENT_CURSOR)
        cursor = EventCursor.objects.select_for_update(of=("self",)).get(name=DOMAIN_EVENT_CURSOR)
        events, last_id, gaps = events_since_cursor(
            last_id=cursor.last_id, gaps=cursor.gaps, gap_timeout=_gap_timeout(), limit=limit
        )
        _fan_out_domain_events(events)
        if (last_id, gaps) != (cursor.last_id, cursor.gaps or {}):
            cursor.last_id, cursor.gaps = last_id, gaps
            cursor.save(update_fields=["last_id", "gaps", "updated_at"])
    return len(events)


def _fan_out_domain_events(events: list) -> None:
    from payments.models import WatchlistEntry
    from payments.webhooks import enqueue_event

    if not events:
        return
    subject_ids = {event.subject_id for event in events}
    watchers: dict[int, list[int]] = {}
    for subject_id, institution_id in WatchlistEntry.objects.filter(subject_id__in=subject_ids).values_list(
        "subject_id", "institution_id"
    ):
        watchers.setdefault(subject_id, []).append(institution_id)
    institutions = set(InstitutionProfile.objects.filter(pk__in=subject_ids).values_list("pk", flat=True))
    for event in events:
        if event.type not in TRIGGER_BY_EVENT:
            continue
        if watchers.get(event.subject_id):
            enqueue_event(
                event_type=event.type,
                institution_ids=watchers[event.subject_id],
                data={"subject_id": event.subject_id, **(event.payload or {})},
                event_id=f"evt_credit_{event.pk}",
                occurred_at=event.occurred_at,
            )
        if event.subject_id in institutions:
            request_compliance_check(institution_id=event.subject_id, trigger=TRIGGER_BY_EVENT[event.type])


def due_compliance_checks(*, limit: int = 200) -> list[tuple[int, str]]:
    return list(
        InstitutionProfile.objects.filter(check_requested_at__isnull=False)
        .order_by("check_requested_at")
        .values_list("pk", "check_requested_trigger")[:limit]
    )


# --- Payment reports -> credit events ---------------------------------------------------------


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
        parsed_amount = _money(amount, "amount", field_errors)
        currency = _currency(currency, "currency", field_errors)
    _raise_if(field_errors)
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


# --- Watchlist and webhook endpoints ---------------------------------------------------------


def watch_subject(*, actor, institution_id: int, subject_id: int):
    from payments.models import WatchlistEntry

    _require_manager(actor, institution_id)
    if not Subject.objects.filter(pk=subject_id).exists():
        from credit.errors import SubjectNotFound

        raise SubjectNotFound(f"No subject with id {subject_id}.")
    with transaction.atomic():
        entry, created = WatchlistEntry.objects.get_or_create(institution_id=institution_id, subject_id=subject_id)
        if created:
            record_audit(
                actor=actor,
                action="watchlist.added",
                target=entry,
                subject_id=institution_id,
                new={"subject_id": subject_id},
            )
    return entry


def unwatch_subject(*, actor, institution_id: int, subject_id: int) -> bool:
    from payments.models import WatchlistEntry

    _require_manager(actor, institution_id)
    with transaction.atomic():
        entry = WatchlistEntry.objects.filter(institution_id=institution_id, subject_id=subject_id).first()
        if entry is None:
            return False
        record_audit(
            actor=actor,
            action="watchlist.removed",
            target=entry,
            subject_id=institution_id,
            old={"subject_id": subject_id},
        )
        entry.delete()
    return True


def create_webhook_endpoint(*, actor, institution_id: int, url: str, event_types: list[str], description: str = ""):
    """Returns the endpoint; its whsec_ secret is readable by the institution (it needs it
    to verify signatures)."""
    from payments.models import WebhookEndpoint
    from payments.webhooks import generate_secret

    _require_manager(actor, institution_id)
    field_errors: dict = {}
    url, types = _clean_endpoint_fields(url or "", event_types or [], field_errors)
    _raise_if(field_errors)
    with transaction.atomic():
        _lock_profile(institution_id)
        endpoint = WebhookEndpoint.objects.create(
            institution_id=institution_id,
            url=url,
            secret=generate_secret(),
            event_types=types,
            description=(description or "").strip()[:200],
        )
        record_audit(
            actor=actor,
            action="webhook.endpoint_created",
            target=endpoint,
            subject_id=institution_id,
            new={"url": url, "event_types": types},
        )
    return endpoint


def delete_webhook_endpoint(*, actor, institution_id: int, endpoint_id: int) -> None:
    from payments.models import WebhookDelivery, WebhookEndpoint

    _require_manager(actor, institution_id)
    with transaction.atomic():
        endpoint = (
            WebhookEndpoint.objects.select_for_update(of=("self",))
            .filter(pk=endpoint_id, institution_id=institution_id)
            .first()
        )
        if endpoint is None:
            raise errors.EndpointNotFound()
        if not endpoint.enabled and endpoint.disabled_reason.startswith("Removed"):
            return
        endpoint.enabled = False
        endpoint.disabled_reason = "Removed by the institution."
        endpoint.save(update_fields=["enabled", "disabled_reason"])
        WebhookDelivery.objects.filter(endpoint=endpoint, status=WebhookDelivery.Status.PENDING).update(
            status=WebhookDelivery.Status.DISABLED, next_attempt_at=None
        )
        record_audit(
            actor=actor,
            action="webhook.endpoint_removed",
            target=endpoint,
            subject_id=institution_id,
            old={"enabled": True},
            new={"enabled": False},
        )


def _clean_endpoint_fields(url, event_types, field_errors: dict) -> tuple[str | None, list[str] | None]:
    from django.core.exceptions import ValidationError
    from django.core.validators import URLValidator

    from payments.models import WebhookEndpoint
    from payments.webhooks import url_target_problem

    if url is not None:
        url = (url or "").strip()
        try:
            URLValidator(schemes=["http", "https"])(url)
        except ValidationError:
            field_errors["url"] = ["Enter an http(s) URL."]
        else:
            problem = url_target_problem(url)
            if problem:
                field_errors["url"] = [problem]
    if event_types is not None:
        event_types = sorted(set(event_types or []))
        unknown = set(event_types) - set(WebhookEndpoint.EventType.values)
        if unknown or not event_types:
            field_errors["event_types"] = [f"Choose from: {', '.join(WebhookEndpoint.EventType.values)}."]
    return url, event_types


def _lock_endpoint(institution_id: int, endpoint_id: int):
    from payments.models import WebhookEndpoint

    endpoint = (
        WebhookEndpoint.objects.select_for_update(of=("self",))
        .filter(pk=endpoint_id, institution_id=institution_id)
        .first()
    )
    if endpoint is None or (not endpoint.enabled and endpoint.disabled_reason.startswith("Removed")):
        raise errors.EndpointNotFound()  # removed endpoints stay listed for their log only
    return endpoint


def update_webhook_endpoint(
    *,
    actor,
    institution_id: int,
    endpoint_id: int,
    url: str | None = None,
    event_types: list[str] | None = None,
    enabled: bool | None = None,
    description: str | None = None,
):
    """Change an endpoint's URL, event types, description or enabled flag (None: unchanged).
    Disabling stops its pending deliveries; enabling again sends only new events. Safe to
    repeat: nothing is written when nothing changes."""
    from payments.models import WebhookDelivery

    _require_manager(actor, institution_id)
    field_errors: dict = {}
    url, event_types = _clean_endpoint_fields(url, event_types, field_errors)
    _raise_if(field_errors)
    with transaction.atomic():
        endpoint = _lock_endpoint(institution_id, endpoint_id)
        fields = ("url", "event_types", "description", "enabled")
        old = {f: getattr(endpoint, f) for f in fields}
        if url is not None:
            endpoint.url = url
        if event_types is not None:
            endpoint.event_types = event_types
        if description is not None:
            endpoint.description = description.strip()[:200]
        if enabled is not None:
            endpoint.enabled = bool(enabled)
        new = {f: getattr(endpoint, f) for f in fields}
        if old == new:
            return endpoint
        if old["enabled"] != new["enabled"]:
            endpoint.disabled_reason = "" if endpoint.enabled else "Disabled by the institution."
            if not endpoint.enabled:
                WebhookDelivery.objects.filter(endpoint=endpoint, status=WebhookDelivery.Status.PENDING).update(
                    status=WebhookDelivery.Status.DISABLED, next_attempt_at=None
                )
        endpoint.save(update_fields=[*fields, "disabled_reason"])
        record_audit(
            actor=actor,
            action="webhook.endpoint_changed",
            target=endpoint,
            subject_id=institution_id,
            old={k: v for k, v in old.items() if new[k] != v},
            new={k: v for k, v in new.items() if old[k] != v},
        )
    return endpoint


def rotate_webhook_secret(*, actor, institution_id: int, endpoint_id: int):
    """Give the endpoint a new `whsec_` secret, returned once as (endpoint, secret). For
    WEBHOOK_SECRET_ROTATION_GRACE_HOURS deliveries are signed with both the new and the
    previous secret (two signatures in `webhook-signature`), so receivers can switch over
    without losing a delivery; rotating again within the grace period drops the oldest."""
    from django.conf import settings

    from payments.webhooks import generate_secret

    _require_manager(actor, institution_id)
    grace_hours = settings.ENTREPOT["PAYMENTS"].get("WEBHOOK_SECRET_ROTATION_GRACE_HOURS", 24)
    with transaction.atomic():
        endpoint = _lock_endpoint(institution_id, endpoint_id)
        now = timezone.now()
        old_expiry = endpoint.previous_secret_expires_at
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_expires_at = now + timezone.timedelta(hours=grace_hours)
        endpoint.secret = generate_secret()
        endpoint.secret_rotated_at = now
        endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", "secret_rotated_at"])
        record_audit(  # never the secrets themselves
            actor=actor,
            action="webhook.secret_rotated",
            target=endpoint,
            subject_id=institution_id,
            old={"previous_secret_expires_at": old_expiry.isoformat() if old_expiry else None},
            new={
                "secret_rotated_at": now.isoformat(),
                "previous_secret_expires_at": endpoint.previous_secret_expires_at.isoformat(),
            },
        )
    return endpoint, endpoint.secret


def set_screening_threshold(*, actor, institution_id: int, grade: str) -> InstitutionProfile:
    _require_manager(actor, institution_id)
    if grade not in compliance.GRADE_RANK:
        raise InvalidInput("Unknown grade.", field_errors={"screening_minimum_grade": ["Choose A, B, M, C or D."]})
    with transaction.atomic():
        profile = _lock_profile(institution_id)
        if profile.screening_minimum_grade == grade:
            return profile
        old = profile.screening_minimum_grade
        profile.screening_minimum_grade = grade
        profile.save(update_fields=["screening_minimum_grade"])
        record_audit(
            actor=actor,
            action="institution.screening_threshold_changed",
            target=profile,
            subject_id=institution_id,
            old={"screening_minimum_grade": old},
            new={"screening_minimum_grade": grade},
        )
    return profile
