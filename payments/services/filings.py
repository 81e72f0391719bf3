"""Ending what an institution filed: withdraw a licence, switch off a corridor, close a
reserve account. History is kept: nothing a compliance run or a reserve report relied on is
deleted. Each change is audited in its own transaction and asks for a compliance check
after commit, like the other edits (payments.services)."""

from datetime import date

from django.db import transaction
from django.utils import timezone

from core.audit import record_audit, save_audited
from core.errors import InvalidInput
from payments import errors
from payments.models import ComplianceRun, Corridor, Licence, ReserveAccount, ReserveBalance
from payments.services.common import lock_profile, request_compliance_check, require_manager


def _reason(reason: str) -> str:
    return (reason or "").strip()[:2000]


def _locked_filing(model, *, institution_id: int, pk: int, missing: str, code: str):
    """The institution's licence, corridor or reserve account `pk`, locked after the
    institution's profile (the profile's lock comes first, as in every edit)."""
    profile = lock_profile(institution_id)
    filing = model.objects.select_for_update(of=("self",)).filter(pk=pk, institution=profile).first()
    if filing is None:
        raise errors.InstitutionNotFound(missing, code=code)
    return filing


def withdraw_licence(*, actor, institution_id: int, licence_id: int, reason: str = "") -> Licence:
    """The licence stays on file (compliance evidence names it) but no rule relies on it any
    more: corridors only it covered are switched off by the next run. Safe to repeat."""
    require_manager(actor, institution_id)
    with transaction.atomic():
        licence = _locked_filing(
            Licence, institution_id=institution_id, pk=licence_id, missing="No such licence.", code="licence_not_found"
        )
        if licence.withdrawn_at is not None:
            return licence
        now, why = timezone.now(), _reason(reason)
        save_audited(
            licence,
            {"withdrawn_at": now, "withdrawn_reason": why},
            actor=actor,
            action="institution.licence_withdrawn",
            subject_id=institution_id,
            old={"number": licence.number, "withdrawn_at": None},
            new={"number": licence.number, "withdrawn_at": now.isoformat()},
            reason=why,
            also_save=("updated_at",),
        )
        request_compliance_check(institution_id=institution_id, trigger=ComplianceRun.Trigger.LICENCE_CHANGED)
    return licence


def withdraw_corridor(*, actor, institution_id: int, corridor_id: int, reason: str = "") -> Corridor:
    """Switch a corridor off at the institution's request. Compliance runs leave it off until
    the institution requests it again (payments.services.add_corridor). Safe to repeat."""
    require_manager(actor, institution_id)
    with transaction.atomic():
        corridor = _locked_filing(
            Corridor,
            institution_id=institution_id,
            pk=corridor_id,
            missing="No such corridor.",
            code="corridor_not_found",
        )
        if corridor.withdrawn_at is not None:
            return corridor
        now, why = timezone.now(), _reason(reason)
        save_audited(
            corridor,
            {
                "withdrawn_at": now,
                "withdrawn_reason": why,
                "enabled": False,
                "disabled_reason": "Switched off by the institution" + (f": {why}" if why else "."),
            },
            actor=actor,
            action="institution.corridor_withdrawn",
            subject_id=institution_id,
            old={"corridor": str(corridor), "enabled": corridor.enabled, "withdrawn_at": None},
            new={"corridor": str(corridor), "enabled": False, "withdrawn_at": now.isoformat()},
            reason=why,
        )
        request_compliance_check(institution_id=institution_id, trigger=ComplianceRun.Trigger.CORRIDOR_CHANGED)
    return corridor


def close_reserve_account(
    *, actor, institution_id: int, account_id: int, closed_on: date | None = None, reason: str = ""
) -> ReserveAccount | None:
    """Close a reserve account on `closed_on` (default today): reports dated after that day
    cannot give its balance. An account no report ever named is removed outright
    (the audit keeps what it was) and None is returned; one a report names is kept, closed,
    because the report's coverage figures refer to it. Safe to repeat."""
    require_manager(actor, institution_id)
    today = timezone.localdate()
    closed_on = closed_on or today
    if closed_on > today:
        raise InvalidInput(
            "An account cannot be closed in the future.",
            code="invalid_closing_date",
            field_errors={"closed_on": ["Give today or an earlier day."]},
        )
    with transaction.atomic():
        account = _locked_filing(
            ReserveAccount,
            institution_id=institution_id,
            pk=account_id,
            missing="No such reserve account.",
            code="reserve_account_not_found",
        )
        if account.closed_on is not None:
            return account
        snapshot = {
            "bank": account.bank,
            "bank_kind": account.bank_kind,
            "account_reference": account.account_reference,
            "currency": account.currency,
        }
        used = ReserveBalance.objects.filter(account=account)
        if not used.exists():
            record_audit(
                actor=actor,
                action="institution.reserve_account_removed",
                target=account,
                subject_id=institution_id,
                old=snapshot,
                new=None,
                reason=_reason(reason),
            )
            account.delete()
            request_compliance_check(
                institution_id=institution_id, trigger=ComplianceRun.Trigger.RESERVE_ACCOUNT_CHANGED
            )
            return None
        later = used.filter(report__report_date__gt=closed_on).order_by("-report__report_date").first()
        if later is not None:
            raise InvalidInput(
                "A reserve report dated after that day gives this account's balance.",
                code="account_used_after_closing",
                field_errors={"closed_on": [f"Give {later.report.report_date.isoformat()} or later."]},
            )
        why = _reason(reason)
        save_audited(
            account,
            {"closed_on": closed_on, "closed_reason": why},
            actor=actor,
            action="institution.reserve_account_closed",
            subject_id=institution_id,
            old={**snapshot, "closed_on": None},
            new={**snapshot, "closed_on": closed_on.isoformat()},
            reason=why,
        )
        request_compliance_check(institution_id=institution_id, trigger=ComplianceRun.Trigger.RESERVE_ACCOUNT_CHANGED)
    return account
