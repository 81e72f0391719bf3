"""Fixtures for payment institutions: a fully compliant institution, its manager, an API key."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from credit.models import Membership
from payments import services
from payments.models import InstitutionProfile, ProviderAPIKey
from tests.factories import MembershipFactory, SubjectFactory, UserFactory


def last_working_day(day: date) -> date:
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def make_compliant_institution(*, manager=None, country="CN", **subject_kwargs):
    """An institution passing every rule: licence valid for years, CNY/CN corridor with FX
    registration, RMB 100m capital, KYB verified, a fresh fully covered reserve report."""
    subject = SubjectFactory(
        is_merchant=False, is_payment_institution=True, country=country, grade="B", **subject_kwargs
    )
    manager = manager or UserFactory()
    MembershipFactory(user=manager, subject=subject, role=Membership.Role.OWNER)
    services.register_institution(
        actor=manager, subject_id=subject.pk, paid_in_capital=Decimal("100000000"), capital_currency="CNY"
    )
    today = timezone.localdate()
    services.save_licence(
        actor=manager,
        institution_id=subject.pk,
        number=f"Z{subject.pk:06d}",
        issuing_authority="People's Bank of China",
        business_types=["cross-border payments"],
        currencies=["CNY", "USD"],
        countries=["CN", "US"],
        valid_from=today - timedelta(days=365),
        valid_to=today + timedelta(days=3 * 365),
    )
    services.add_corridor(
        actor=manager,
        institution_id=subject.pk,
        currency="CNY",
        country="CN",
        fx_registration_reference="SAFE-001",
        partner_bank="Bank of China",
    )
    account = services.add_reserve_account(
        actor=manager,
        institution_id=subject.pk,
        bank="PBoC",
        account_reference="RES-1",
        currency="CNY",
        bank_kind="central_bank",
    )
    services.submit_reserve_report(
        actor=manager,
        institution_id=subject.pk,
        report_date=last_working_day(today),
        currency="CNY",
        customer_funds_owed=Decimal("1000000"),
        balances={account.pk: Decimal("1000000")},
        outflows={"merchant_settlement": Decimal("5000")},
    )
    from tests.factories import RegulatorFactory

    services.set_kyb_status(actor=RegulatorFactory(), institution_id=subject.pk, kyb_status="verified")
    services.run_compliance_check(institution_id=subject.pk, trigger="regulator")
    profile = InstitutionProfile.objects.get(pk=subject.pk)
    profile.manager = manager
    profile.reserve_account = account
    return profile


@pytest.fixture
def compliant_institution(db):
    profile = make_compliant_institution()
    assert profile.status == "compliant", profile.status_reason
    return profile


@pytest.fixture
def institution_key(compliant_institution):
    """(key, secret) of the compliant institution, with every scope."""
    return ProviderAPIKey.objects.create_key(
        name="t", institution_id=compliant_institution.pk, scopes=list(ProviderAPIKey.Scope.values)
    )
