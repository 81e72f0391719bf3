"""Compliance runs and the institution's status: run the rules, derive the status (the
institution's lifecycles, declared once below), suspend and reinstate."""

from datetime import date

from django.db import transaction
from django.utils import timezone

from core.db import service_atomic
from core.errors import InvalidInput
from core.transitions import Lifecycle, Transition
from credit.models import Subject
from payments import compliance, errors
from payments.models import ComplianceRun, Corridor, InstitutionProfile, Licence, RuleResult
from payments.services.common import lock_profile, require_regulator


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
        profile = lock_profile(institution_id)
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


# --- The institution's lifecycles (core.transitions) ---------------------------------------
#
# Its compliance status, derived from each run (or forced by a regulator's suspension):
#
#     transition  from                     to            audit action
#     clear       under_review, suspended  compliant     institution.status_changed
#     refer       compliant, suspended     under_review  institution.status_changed
#     suspend     compliant, under_review  suspended     institution.status_changed
#     work: the institution.status_changed webhook (outbox rows now, sent after commit)
#
# A regulator's decision, on `regulator_suspended`:
#
#     transition  from   to     guards          audit action           work
#     suspend     False  True   regulator only  institution.suspended  status -> suspended
#     reinstate   True   False  regulator only  institution.reinstated a fresh compliance run
#
# Both lock the profile row (lock_profile), the one lock institution services take.

Status = InstitutionProfile.Status


def announce_status_change(profile: InstitutionProfile, *, actor, previous: str, **context) -> None:
    from payments.services.webhook_deliveries import enqueue_event

    enqueue_event(
        event_type="institution.status_changed",
        institution_ids=[profile.pk],
        data={
            "institution_id": profile.pk,
            "old_status": previous,
            "new_status": profile.status,
            "reason": profile.status_reason,
            "changed_at": profile.status_changed_at.isoformat(),
        },
    )


def _status_change(sources: tuple[str, ...], target: str) -> Transition:
    return Transition(
        sources=sources,
        target=target,
        action="institution.status_changed",
        work=(announce_status_change,),
        stamp=("status_changed_at",),
    )


INSTITUTION_STATUS = Lifecycle(
    model=InstitutionProfile,
    lock=lock_profile,
    snapshot=lambda profile: {"status": profile.status},
    subject_id=lambda profile: profile.pk,
    transitions={
        "clear": _status_change((Status.UNDER_REVIEW, Status.SUSPENDED), Status.COMPLIANT),
        "refer": _status_change((Status.COMPLIANT, Status.SUSPENDED), Status.UNDER_REVIEW),
        "suspend": _status_change((Status.COMPLIANT, Status.UNDER_REVIEW), Status.SUSPENDED),
    },
)
STATUS_TRANSITION = {Status.COMPLIANT: "clear", Status.UNDER_REVIEW: "refer", Status.SUSPENDED: "suspend"}


def _set_status(profile: InstitutionProfile, *, status: str, reason: str, actor, cause: str) -> None:
    """Inside the caller's transaction, the profile locked: move to `status` (audited, with
    its webhook) when it changes; otherwise only keep the reason current."""
    if profile.status == status:
        if profile.status_reason != reason:
            profile.status_reason = reason
            profile.save(update_fields=["status_reason"])
        return
    INSTITUTION_STATUS.apply(
        STATUS_TRANSITION[status],
        profile,
        actor=actor,
        reason=f"{reason} [{cause}]",
        fields={"status_reason": reason},
        previous=profile.status,
    )


def regulator_only(profile=None, *, actor, **context) -> None:
    require_regulator(actor)


def suspend_status(profile: InstitutionProfile, *, actor, decision: str, **context) -> None:
    _set_status(
        profile,
        status=Status.SUSPENDED,
        reason=f"Suspended by a regulator: {decision}",
        actor=actor,
        cause="regulator decision",
    )


def rerun_checks(profile: InstitutionProfile, *, actor, **context) -> None:
    """The status after a reinstatement is what a fresh run derives."""
    run_compliance_check(institution_id=profile.pk, trigger=ComplianceRun.Trigger.REGULATOR, actor=actor)
    profile.refresh_from_db(fields=["status", "status_reason", "status_changed_at", "latest_run"])


REGULATOR_DECISION = Lifecycle(
    model=InstitutionProfile,
    lock=lock_profile,
    snapshot=lambda profile: {"regulator_suspended": profile.regulator_suspended, "status": profile.status},
    subject_id=lambda profile: profile.pk,
    state_field="regulator_suspended",
    transitions={
        "suspend": Transition(
            sources=(False,),
            target=True,
            action="institution.suspended",
            guards=(regulator_only,),
            work=(suspend_status,),
        ),
        "reinstate": Transition(
            sources=(True,),
            target=False,
            action="institution.reinstated",
            guards=(regulator_only,),
            work=(rerun_checks,),
        ),
    },
)


def _decision_reason(reason: str, message: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(message, field_errors={"reason": ["This field is required."]})
    return reason


def suspend_institution(*, actor, institution_id: int, reason: str) -> InstitutionProfile:
    """A regulator suspends the institution, whatever its runs say, until reinstated. Safe
    to repeat."""
    regulator_only(actor=actor)
    reason = _decision_reason(reason, "Give the reason for the suspension.")
    return REGULATOR_DECISION.run("suspend", actor=actor, pk=institution_id, reason=reason, decision=reason)


def reinstate_institution(*, actor, institution_id: int, reason: str) -> InstitutionProfile:
    """Lift a regulator's suspension. The status is then derived from a fresh compliance
    run: an institution that still fails a rule stays suspended, for that rule's reason.
    Reinstating an institution no regulator suspended is refused, not a no-op."""
    regulator_only(actor=actor)
    reason = _decision_reason(reason, "Give the reason for the reinstatement.")
    with service_atomic():
        profile = lock_profile(institution_id)
        if not profile.regulator_suspended:
            raise errors.InstitutionNotSuspended()
        REGULATOR_DECISION.apply("reinstate", profile, actor=actor, reason=reason)
    profile.refresh_from_db()
    return profile


def request_check_by_regulator(*, actor, institution_id: int) -> ComplianceRun:
    require_regulator(actor)
    return run_compliance_check(institution_id=institution_id, trigger=ComplianceRun.Trigger.REGULATOR, actor=actor)
