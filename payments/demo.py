"""A demo payment-provider API key with a fixed, printed value (demo data only)."""

from datetime import date, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from rest_framework_api_key.crypto import KeyGenerator

from credit.models import Subject
from payments.models import ProviderAPIKey

DEMO_PREFIX = "demo0key"
DEMO_KEY = f"{DEMO_PREFIX}.entrepot-demo-secret-not-for-production"


@transaction.atomic
def seed(*, password: str) -> list[str]:
    institution = Subject.objects.get(country="CN", registration_number="91110000MA0PAYX3C")
    if not ProviderAPIKey.objects.filter(prefix=DEMO_PREFIX).exists():
        hashed = KeyGenerator().hash(DEMO_KEY)
        ProviderAPIKey.objects.create(
            id=f"{DEMO_PREFIX}.{hashed}",
            prefix=DEMO_PREFIX,
            hashed_key=hashed,
            name="demo key",
            institution=institution,
            scopes=list(ProviderAPIKey.Scope.values),
        )
    lines = _seed_institutions(password=password)
    _seed_escrow_routes()
    return [f"  API key      Authorization: Api-Key {DEMO_KEY}", *lines]


def _last_working_day(day: date) -> date:
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def _seed_institutions(*, password: str) -> list[str]:
    """Compliance profiles: the CN institution compliant (one corridor switched off, as
    its licence does not cover it), the SG one under review (KYB pending)."""
    from django.contrib.auth import get_user_model

    from core.roles import REGULATORS_GROUP
    from credit.models import Membership
    from payments import services
    from payments.models import InstitutionProfile

    User = get_user_model()
    regulator = User.objects.filter(groups__name=REGULATORS_GROUP).order_by("pk").first()
    owner = User.objects.get(username="institution")
    cn = Subject.objects.get(country="CN", registration_number="91110000MA0PAYX3C")
    sg = Subject.objects.get(country="SG", registration_number="201912345K")
    sg_owner, created = User.objects.get_or_create(
        username="lioncity", defaults={"email": "lioncity@demo.entrepot.test"}
    )
    if created:
        sg_owner.set_password(password)
        sg_owner.save()
    Membership.objects.get_or_create(user=sg_owner, subject=sg, defaults={"role": Membership.Role.OWNER})
    today = timezone.localdate()
    if not InstitutionProfile.objects.filter(pk=cn.pk).exists():
        services.register_institution(
            actor=owner, subject_id=cn.pk, paid_in_capital=Decimal("150000000"), capital_currency="CNY"
        )
        services.save_licence(
            actor=owner,
            institution_id=cn.pk,
            number="Z2011000000001",
            issuing_authority="People's Bank of China",
            business_types=["internet payments", "cross-border e-commerce payments"],
            currencies=["CNY", "USD", "EUR"],
            countries=["CN", "US", "DE"],
            valid_from=today - timedelta(days=2 * 365),
            valid_to=today + timedelta(days=3 * 365),
        )
        services.add_corridor(
            actor=owner,
            institution_id=cn.pk,
            currency="CNY",
            country="CN",
            fx_registration_reference="SAFE-BJ-2024-0117",
            partner_bank="Bank of China, Beijing",
        )
        services.add_corridor(actor=owner, institution_id=cn.pk, currency="USD", country="US")
        services.add_corridor(actor=owner, institution_id=cn.pk, currency="EUR", country="FR")
        account = services.add_reserve_account(
            actor=owner,
            institution_id=cn.pk,
            bank="People's Bank of China",
            bank_kind="central_bank",
            account_reference="PBOC-RSV-0001",
            currency="CNY",
        )
        services.submit_reserve_report(
            actor=owner,
            institution_id=cn.pk,
            report_date=_last_working_day(today),
            currency="CNY",
            customer_funds_owed=Decimal("48000000.00"),
            balances={account.pk: Decimal("49250000.00")},
            outflows={"merchant_settlement": Decimal("3100000.00"), "partner_institution": Decimal("420000.00")},
        )
        if regulator is not None:
            services.set_kyb_status(actor=regulator, institution_id=cn.pk, kyb_status="verified", reason="Demo")
        for number in ("91440300MA5FXXXX1A", "SC-0123456"):
            watched = Subject.objects.filter(registration_number=number).first()
            if watched is not None:
                services.watch_subject(actor=owner, institution_id=cn.pk, subject_id=watched.pk)
        services.run_compliance_check(institution_id=cn.pk, trigger="regulator")
    if not InstitutionProfile.objects.filter(pk=sg.pk).exists():
        services.register_institution(
            actor=sg_owner, subject_id=sg.pk, paid_in_capital=Decimal("300000"), capital_currency="SGD"
        )
        services.save_licence(
            actor=sg_owner,
            institution_id=sg.pk,
            number="MPI-2023-0042",
            issuing_authority="Monetary Authority of Singapore",
            business_types=["cross-border money transfer"],
            currencies=["SGD", "USD"],
            countries=["SG", "US"],
            valid_from=today - timedelta(days=400),
            valid_to=today + timedelta(days=120),  # within 6 months, no renewal filed
        )
        services.run_compliance_check(institution_id=sg.pk, trigger="regulator")
    return [
        "  lioncity     acts for Lion City Payments Pte. Ltd. (SG), a payment institution under review",
        "  Payment institutions: /institution/ (members), /regulator/institutions/ (regulators)",
    ]


ESCROW_LICENCE = "DNB-PI-2024-0211"


def _seed_escrow_routes() -> None:
    """Escrow payments for the European demo warehouses: the CN institution's Dutch-licensed
    EU branch serves EUR in NL, DE and PL (corridors enabled by a compliance run). Done
    once: skipped when that licence exists."""
    from django.contrib.auth import get_user_model

    from payments import services
    from payments.models import InstitutionProfile, Licence

    owner = get_user_model().objects.get(username="institution")
    cn = Subject.objects.get(country="CN", registration_number="91110000MA0PAYX3C")
    done = Licence.objects.filter(number=ESCROW_LICENCE).exists()
    if done or not InstitutionProfile.objects.filter(pk=cn.pk).exists():
        return
    today = timezone.localdate()
    services.save_licence(
        actor=owner,
        institution_id=cn.pk,
        number=ESCROW_LICENCE,
        issuing_authority="De Nederlandsche Bank",
        business_types=["payment services (EU branch)", "cross-border e-commerce payments"],
        currencies=["EUR"],
        countries=["NL", "DE", "PL"],
        valid_from=today - timedelta(days=500),
        valid_to=today + timedelta(days=4 * 365),
    )
    for country in ("NL", "DE", "PL"):
        services.add_corridor(actor=owner, institution_id=cn.pk, currency="EUR", country=country)
    services.run_compliance_check(institution_id=cn.pk, trigger="regulator")
