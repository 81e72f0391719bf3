"""Demo subjects and accounts. Safe to run again: everything is looked up before it is made."""

from datetime import date

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from credit.models import Membership, Subject
from credit.roles import REGULATORS_GROUP

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

    return [
        "",
        f"Demo logins (password for all: {password})",
        "  merchant     acts for 深圳市海贸跨境电子商务有限公司 (CN)",
        "  operator     acts for Rotterdam Fulfilment B.V. (NL), a warehouse operator",
        "  institution  acts for 北京通汇支付有限公司 (CN), a payment institution",
        "  regulator    keeps the blacklist and reviews institutions",
        "  staff        Django admin at /admin/",
    ]
