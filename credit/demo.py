"""Demo subjects and accounts. Safe to run again: everything is looked up before it is made."""

from datetime import date

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from core.roles import REGULATORS_GROUP
from credit.models import Membership, Subject

User = get_user_model()

SUBJECTS = [
    # country, registration number, legal name, kinds, modes, city
    ("CN", "91440300MA5FXXXX1A", "深圳市海贸跨境电子商务有限公司", ["merchant"], ["b2c", "export"], "Shenzhen"),
    (
        "CN",
        "91310000MA1KXXXX2B",
        "上海远洋仓储物流有限公司",
        ["warehouse_operator", "logistics_provider"],
        ["b2b", "export"],
        "Shanghai",
    ),
    ("CN", "91110000MA0PAYX3C", "北京通汇支付有限公司", ["payment_institution"], ["b2b", "b2c"], "Beijing"),
    (
        "US",
        "EIN-84-1234567",
        "Pacific Gateway Warehousing LLC",
        ["warehouse_operator"],
        ["b2b", "import"],
        "Los Angeles",
    ),
    (
        "NL",
        "KVK-12345678",
        "Rotterdam Fulfilment B.V.",
        ["warehouse_operator", "logistics_provider"],
        ["b2b", "b2b2c", "import"],
        "Rotterdam",
    ),
    ("DE", "HRB-98765", "Frankfurt Cargo Lager GmbH", ["warehouse_operator"], ["b2b", "import"], "Frankfurt"),
    (
        "AE",
        "DMCC-445566",
        "شركة دبي للتخزين والخدمات اللوجستية",
        ["warehouse_operator"],
        ["b2b", "import", "export"],
        "Dubai",
    ),
    ("GB", "SC-0123456", "Albion Merchant Trading Ltd", ["merchant"], ["b2b2c", "import"], "Glasgow"),
    ("SG", "201912345K", "Lion City Payments Pte. Ltd.", ["payment_institution"], ["b2b", "b2c"], "Singapore"),
    ("BR", "12.345.678/0001-90", "Comércio Atlântico Ltda", ["merchant"], ["b2c", "import"], "São Paulo"),
    ("JP", "0104-01-123456", "東京越境商事株式会社", ["merchant"], ["b2c", "export"], "Tokyo"),
    ("PL", "KRS-0000123456", "Wisła Magazyny Sp. z o.o.", ["warehouse_operator"], ["b2b", "import"], "Warsaw"),
    ("AU", "ABN-51824753556", "Southern Cross Storage Pty Ltd", ["warehouse_operator"], ["b2b", "import"], "Sydney"),
]

# username -> (registration number it acts for, role flags)
ACCOUNTS = {
    "merchant": "91440300MA5FXXXX1A",
    "operator": "KVK-12345678",
    "institution": "91110000MA0PAYX3C",
}


def _subject_defaults(kinds, modes, city, name):
    values = {"legal_name": name, "city": city, "founded_on": date(2015, 1, 1)}
    values.update({f"is_{kind}": True for kind in kinds})
    values.update({f"mode_{mode}": True for mode in modes})
    return values


@transaction.atomic
def seed(*, password: str) -> list[str]:
    by_number = {}
    for country, number, name, kinds, modes, city in SUBJECTS:
        subject, _ = Subject.objects.get_or_create(
            country=country, registration_number=number, defaults=_subject_defaults(kinds, modes, city, name)
        )
        by_number[number] = subject

    def account(username, **flags):
        user, created = User.objects.get_or_create(
            username=username, defaults={"email": f"{username}@demo.entrepot.test", **flags}
        )
        if created:
            user.set_password(password)
            user.save()
        return user

    for username, number in ACCOUNTS.items():
        user = account(username)
        Membership.objects.get_or_create(user=user, subject=by_number[number], defaults={"role": Membership.Role.OWNER})
    regulator = account("regulator")
    regulator.groups.add(Group.objects.get_or_create(name=REGULATORS_GROUP)[0])
    account("staff", is_staff=True, is_superuser=True)
    _seed_credit_history(by_number)
    _seed_blacklist(by_number, regulator)

    return [
        "",
        f"Demo logins (password for all: {password})",
        "  merchant     acts for 深圳市海贸跨境电子商务有限公司 (CN)",
        "  operator     acts for Rotterdam Fulfilment B.V. (NL), a warehouse operator",
        "  institution  acts for 北京通汇支付有限公司 (CN), a payment institution",
        "  regulator    keeps the blacklist and reviews institutions",
        "  staff        Django admin at /admin/",
    ]


# --- Credit history (scoring engineer): events per demo subject, so the registry shows
# varied grades with reasons. (kind, days ago, magnitude). Ratings are computed inline.
L, P, Q, V = "lease_completed", "paid_on_time", "qualification_verified", "license_verified"
CREDIT_HISTORY = {
    # A: verified, a long clean record.
    "91310000MA1KXXXX2B": [(V, 700, 1), (Q, 400, 1)]
    + [(L, d, 1) for d in (300, 200, 120, 60, 30, 12, 5)]
    + [("positive_rating", d, 1) for d in (90, 45, 10)],
    "KVK-12345678": [(V, 900, 1), (Q, 500, 1)]
    + [(L, d, 1) for d in (250, 180, 90, 40, 20, 8, 3)]
    + [(P, d, 1) for d in (60, 30, 2)],
    "91110000MA0PAYX3C": [(V, 800, 1)] + [(P, d, 1) for d in (200, 150, 100, 70, 40, 20, 10, 4, 1)] + [(Q, 300, 1)],
    # B: decent, a few blemishes.
    "91440300MA5FXXXX1A": [(L, d, 1) for d in (400, 250, 150, 60, 20)]
    + [(P, 90, 1), (P, 30, 1), ("paid_late", 45, 6), ("refund_issued", 15, 2)],
    "EIN-84-1234567": [(V, 600, 1), (L, 120, 1), (L, 40, 1), ("late_cancellation", 70, 1), (P, 10, 1)],
    "201912345K": [(V, 365, 1), (P, 100, 1), (P, 50, 1), ("chargeback", 80, 1), (P, 5, 1)],
    "KRS-0000123456": [(L, 300, 1), (L, 150, 1), (L, 50, 1), ("negative_rating", 25, 1), (P, 12, 1)],
    # C: defaults, disputes, late payments.
    "HRB-98765": [
        (L, 500, 1),
        ("lease_defaulted", 120, 1),
        ("dispute_lost", 60, 1),
        ("complaint_upheld", 30, 1),
        ("late_cancellation", 20, 1),
    ],
    "SC-0123456": [
        ("chargeback", 200, 1),
        ("chargeback", 90, 1),
        ("paid_late", 60, 25),
        ("paid_late", 20, 12),
        (P, 10, 1),
    ],
    # D: fraud and a customs violation.
    "12.345.678/0001-90": [("confirmed_fraud", 150, 1), ("customs_violation", 100, 1), ("paid_late", 40, 30)],
    # M: too little history.
    "DMCC-445566": [(L, 20, 1), (P, 10, 1)],
    "ABN-51824753556": [(V, 25, 1), (L, 15, 1), (P, 5, 1)],
    # 0104-01-123456 (Tokyo) has no events at all: M.
}


def _seed_credit_history(by_number) -> None:
    """Record the demo events (once per subject: a subject that already has events is left
    alone) and compute every demo subject's rating inline, so no worker is needed."""
    from datetime import timedelta
    from decimal import Decimal

    from django.utils import timezone

    from core.audit import record_audit
    from credit.models import CreditEvent, Rating, RecomputeRequest
    from credit.services.ratings import ensure_scoring_catalogue, recompute_subject

    ensure_scoring_catalogue()
    now = timezone.now()
    for number, subject in by_number.items():
        history = CREDIT_HISTORY.get(number, [])
        if history and not CreditEvent.objects.filter(subject=subject).exists():
            for kind, days_ago, magnitude in history:
                event = CreditEvent.objects.create(
                    subject=subject,
                    kind_id=kind,
                    source=CreditEvent.Source.PLATFORM,
                    occurred_at=now - timedelta(days=days_ago),
                    magnitude=Decimal(magnitude),
                    source_reference=f"demo:{kind}:{days_ago}",
                )
                record_audit(
                    actor=None,
                    action="credit_event.recorded",
                    target=event,
                    subject_id=subject.pk,
                    new={"kind": kind, "demo": True},
                )
        if history or not Rating.objects.filter(subject=subject).exists():
            recompute_subject(subject_id=subject.pk, trigger="demo_seed", at=now)
        RecomputeRequest.objects.filter(subject=subject).delete()


def _seed_blacklist(by_number, regulator) -> None:
    """One published blacklist entry (the D-grade Brazilian merchant), made once through the
    regulator's own service so it carries its audit trail and domain event."""
    from datetime import timedelta
    from decimal import Decimal

    from django.utils import timezone

    from credit.models import BlacklistEntry, RecomputeRequest
    from credit.services.blacklist import blacklist_subject
    from credit.services.ratings import recompute_subject

    subject = by_number["12.345.678/0001-90"]
    if BlacklistEntry.objects.filter(subject=subject, decision_reference="DEMO-2026-0042").exists():
        return
    blacklist_subject(
        actor=regulator,
        subject_id=subject.pk,
        category=BlacklistEntry.Category.FRAUD,
        legal_basis="Measures for the Administration of Seriously Dishonest Entities, art. 8",
        decision_reference="DEMO-2026-0042",
        description="Confirmed payment fraud against three overseas buyers and a customs misdeclaration.",
        severity="serious",
        starts_on=timezone.now().date() - timedelta(days=30),
        fine_amount=Decimal("250000.00"),
        fine_currency="CNY",
    )
    recompute_subject(subject_id=subject.pk, trigger="demo_seed", at=timezone.now())
    RecomputeRequest.objects.filter(subject=subject).delete()
