"""Institution services: runs stored with evidence, status derivation, corridor switch-off,
regulator suspension and reinstatement (audited), checks requested after each change."""

from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.utils import timezone

from core.errors import InvalidInput, NotAllowed
from core.models import AuditEntry
from credit.models import Subject
from payments import errors, services
from payments.models import ComplianceRun, Corridor, InstitutionProfile, RuleResult, WebhookDelivery
from payments.tasks import run_daily_compliance_checks_task
from tests.factories import MembershipFactory, RegulatorFactory, SubjectFactory, UserFactory
from tests.payments.conftest import make_compliant_institution

pytestmark = pytest.mark.django_db


def test_compliant_institution_has_a_run_with_every_rule(compliant_institution):
    run = compliant_institution.latest_run
    assert run.derived_status == "compliant"
    rules = set(run.results.values_list("rule", flat=True))
    assert {"licence_valid", "reserve_coverage", "corridor_within_licence"} <= rules
    assert run.parameters["MINIMUM_GRADE"] == "M"
    coverage = run.results.get(rule="reserve_coverage")
    assert coverage.evidence["coverage_percent"] == "100.00"


def test_new_institution_is_under_review_until_checked():
    manager = UserFactory()
    subject = SubjectFactory(is_payment_institution=True)
    MembershipFactory(user=manager, subject=subject)
    profile = services.register_institution(
        actor=manager, subject_id=subject.pk, paid_in_capital="100000000", capital_currency="CNY"
    )
    assert profile.status == "under_review"
    run = services.run_compliance_check(institution_id=subject.pk, trigger="regulator")
    assert run.derived_status == "suspended"  # no licence
    assert InstitutionProfile.objects.get(pk=subject.pk).status == "suspended"


def test_only_managers_of_a_payment_institution_may_register_it(member):
    with pytest.raises(errors.NotAnInstitution):
        services.register_institution(
            actor=member, subject_id=member.subject.pk, paid_in_capital="1", capital_currency="CNY"
        )
    subject = SubjectFactory(is_payment_institution=True)
    with pytest.raises(errors.NotAnInstitution):
        services.register_institution(actor=member, subject_id=subject.pk, paid_in_capital="1", capital_currency="CNY")


def test_invalid_money_and_currency_are_field_errors():
    subject = SubjectFactory(is_payment_institution=True)
    manager = MembershipFactory(subject=subject).user
    with pytest.raises(InvalidInput) as exc:
        services.register_institution(
            actor=manager, subject_id=subject.pk, paid_in_capital="-1", capital_currency="XXQ"
        )
    assert set(exc.value.field_errors) == {"paid_in_capital", "capital_currency"}


def test_licence_expiry_suspends_on_the_daily_check(compliant_institution):
    profile = compliant_institution
    licence = profile.licences.get()
    # The day the licence no longer holds (valid_to is exclusive).
    run_daily_compliance_checks_task(today=licence.valid_to.isoformat())
    profile.refresh_from_db()
    assert profile.status == "suspended"
    assert "No licence on file is valid today" in profile.status_reason
    assert profile.latest_run.trigger == "daily"
    assert AuditEntry.objects.filter(action="institution.status_changed", subject_id=profile.pk).exists()


def test_a_failing_corridor_is_switched_off_without_suspending(compliant_institution):
    profile = compliant_institution
    services.add_corridor(actor=profile.manager, institution_id=profile.pk, currency="EUR", country="DE")
    services.add_corridor(actor=profile.manager, institution_id=profile.pk, currency="USD", country="US")
    services.run_compliance_check(institution_id=profile.pk, trigger="corridor_changed")
    profile.refresh_from_db()
    assert profile.status == "compliant"
    corridors = {str(c): c for c in Corridor.objects.filter(institution=profile)}
    assert corridors["EUR/DE"].enabled is False
    assert "No licence in force covers EUR in DE" in corridors["EUR/DE"].disabled_reason
    assert corridors["USD/US"].enabled is True
    assert corridors["CNY/CN"].enabled is True
    failing = RuleResult.objects.get(
        run=profile.latest_run, rule="corridor_within_licence", corridor=corridors["EUR/DE"]
    )
    assert failing.outcome == "fail"


def test_insufficient_reserves_suspend_and_a_new_report_restores(compliant_institution):
    profile = compliant_institution
    today = profile.latest_run.as_of
    report_day = profile.reserve_reports.first().report_date
    services.submit_reserve_report(
        actor=profile.manager,
        institution_id=profile.pk,
        report_date=report_day,
        currency="CNY",
        customer_funds_owed=Decimal("1000000"),
        balances={profile.reserve_account.pk: Decimal("999999.99")},
    )
    services.run_compliance_check(institution_id=profile.pk, trigger="reserve_report", today=today)
    profile.refresh_from_db()
    assert profile.status == "suspended"
    assert "99.99%" in profile.status_reason
    services.submit_reserve_report(
        actor=profile.manager,
        institution_id=profile.pk,
        report_date=report_day,
        currency="CNY",
        customer_funds_owed=Decimal("1000000"),
        balances={profile.reserve_account.pk: Decimal("1000000")},
    )
    services.run_compliance_check(institution_id=profile.pk, trigger="reserve_report", today=today)
    profile.refresh_from_db()
    assert profile.status == "compliant"


def test_reserve_report_rejects_accounts_in_another_currency(compliant_institution):
    profile = compliant_institution
    with pytest.raises(InvalidInput) as exc:
        services.submit_reserve_report(
            actor=profile.manager,
            institution_id=profile.pk,
            report_date=timezone.localdate(),
            currency="USD",
            customer_funds_owed="10",
            balances={profile.reserve_account.pk: "10"},
        )
    assert "balances" in exc.value.field_errors


def test_regulator_suspends_and_reinstates_with_reasons(compliant_institution):
    profile = compliant_institution
    regulator = RegulatorFactory()
    with pytest.raises(NotAllowed):
        services.suspend_institution(actor=profile.manager, institution_id=profile.pk, reason="x")
    with pytest.raises(InvalidInput):
        services.suspend_institution(actor=regulator, institution_id=profile.pk, reason="  ")
    services.suspend_institution(actor=regulator, institution_id=profile.pk, reason="Misappropriated reserves")
    profile.refresh_from_db()
    assert profile.status == "suspended"
    assert "Misappropriated reserves" in profile.status_reason
    # A later passing run does not lift a regulator's suspension.
    services.run_compliance_check(institution_id=profile.pk, trigger="daily")
    profile.refresh_from_db()
    assert profile.status == "suspended"
    services.reinstate_institution(actor=regulator, institution_id=profile.pk, reason="Funds restored")
    profile.refresh_from_db()
    assert profile.status == "compliant"
    actions = list(AuditEntry.objects.filter(subject_id=profile.pk).values_list("action", "reason"))
    assert ("institution.suspended", "Misappropriated reserves") in actions
    assert ("institution.reinstated", "Funds restored") in actions
    with pytest.raises(errors.InstitutionNotSuspended):
        services.reinstate_institution(actor=regulator, institution_id=profile.pk, reason="again")


def test_reinstating_an_institution_that_still_fails_keeps_it_suspended(compliant_institution):
    profile = compliant_institution
    regulator = RegulatorFactory()
    services.suspend_institution(actor=regulator, institution_id=profile.pk, reason="Investigation")
    Subject.objects.filter(pk=profile.pk).update(is_blacklisted=True)
    services.reinstate_institution(actor=regulator, institution_id=profile.pk, reason="Investigation closed")
    profile.refresh_from_db()
    assert profile.status == "suspended"
    assert "blacklist" in profile.status_reason


def test_status_change_emits_a_webhook_to_the_institution(compliant_institution):
    profile = compliant_institution
    endpoint = services.create_webhook_endpoint(
        actor=profile.manager,
        institution_id=profile.pk,
        url="https://example.test/hooks",
        event_types=["institution.status_changed"],
    )
    services.suspend_institution(actor=RegulatorFactory(), institution_id=profile.pk, reason="Audit")
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert delivery.payload["type"] == "institution.status_changed"
    assert delivery.payload["data"]["old_status"] == "compliant"
    assert delivery.payload["data"]["new_status"] == "suspended"
    assert delivery.status == "pending"


def test_changes_request_a_check_after_commit(compliant_institution, django_capture_on_commit_callbacks):
    profile = compliant_institution
    with mock.patch("payments.tasks.run_compliance_check_task.apply_async") as send:
        with django_capture_on_commit_callbacks(execute=True):
            services.save_licence(
                actor=profile.manager,
                institution_id=profile.pk,
                number="NEW-1",
                issuing_authority="PBoC",
                currencies=["CNY"],
                countries=["CN"],
                valid_from=timezone.localdate(),
                valid_to=timezone.localdate() + timedelta(days=30),
            )
    send.assert_called_once_with(args=[profile.pk, "licence_changed"], countdown=None, retry=False)
    profile.refresh_from_db()
    assert profile.check_requested_at is not None  # durable mark, cleared by the run


def test_queued_checks_after_a_run_that_covered_them_do_nothing(compliant_institution):
    from payments.tasks import run_compliance_check_task

    profile = compliant_institution
    services.request_compliance_check(institution_id=profile.pk, trigger="licence_changed")
    services.request_compliance_check(institution_id=profile.pk, trigger="corridor_changed")
    runs = ComplianceRun.objects.filter(institution=profile)
    before = runs.count()
    assert run_compliance_check_task(profile.pk, "licence_changed") is not None
    assert run_compliance_check_task(profile.pk, "corridor_changed") is None  # the first run saw both edits
    assert runs.count() == before + 1


def test_unenqueued_check_is_run_by_the_sweep(compliant_institution, django_capture_on_commit_callbacks):
    from payments.tasks import process_domain_events_task

    profile = compliant_institution
    with mock.patch("payments.tasks.run_compliance_check_task.apply_async", side_effect=OSError("redis down")):
        with django_capture_on_commit_callbacks(execute=True):
            services.set_kyb_status(actor=RegulatorFactory(), institution_id=profile.pk, kyb_status="rejected")
    with mock.patch("payments.services.process_domain_events", return_value=0):
        process_domain_events_task()
    profile.refresh_from_db()
    assert profile.status == "suspended"
    assert profile.check_requested_at is None
    assert profile.latest_run.trigger == "profile_changed"


def test_runs_are_kept_forever(compliant_institution):
    before = ComplianceRun.objects.filter(institution=compliant_institution).count()
    services.run_compliance_check(institution_id=compliant_institution.pk, trigger="daily")
    services.run_compliance_check(institution_id=compliant_institution.pk, trigger="daily")
    assert ComplianceRun.objects.filter(institution=compliant_institution).count() == before + 2


def test_second_institution_fixture_is_independent():
    a = make_compliant_institution()
    b = make_compliant_institution()
    assert a.pk != b.pk and a.status == b.status == "compliant"
