import pytest
from credit.models import Membership
from payments import services
from tests.factories import MembershipFactory, RegulatorFactory, SubjectFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_smoke(client, compliant_institution):
    m = UserFactory()
    s = SubjectFactory(is_payment_institution=True, is_merchant=False)
    MembershipFactory(user=m, subject=s, role=Membership.Role.OWNER)
    services.register_institution(actor=m, subject_id=s.pk, paid_in_capital=1, capital_currency="CNY")
    client.force_login(RegulatorFactory())
    for url in ["/regulator/institutions/?page=abc", "/regulator/institutions/?status=bogus&q=%00",
                f"/regulator/institutions/{s.pk}/", f"/regulator/institutions/{s.pk}/?page=999",
                f"/regulator/institutions/{compliant_institution.pk}/", "/regulator/api-calls/?page=x&institution=abc",
                "/regulator/api-calls/?format=csv&status=4xx"]:
        r = client.get(url)
        print(url, r.status_code)
        assert r.status_code in (200, 400), url
    r = client.post(f"/regulator/institutions/{s.pk}/suspend/", {"suspend-reason": ""})
    print("suspend empty", r.status_code)
    r = client.post(f"/regulator/institutions/{s.pk}/reinstate/", {"reinstate-reason": "x"})
    print("reinstate not suspended", r.status_code)
    r = client.post(f"/regulator/institutions/{s.pk}/suspend/", {"suspend-reason": "Fraud"})
    print("suspend", r.status_code)
    r = client.post(f"/regulator/institutions/{s.pk}/reinstate/", {"reinstate-reason": "Cleared"})
    print("reinstate", r.status_code, r.get("Location"))
    r = client.get(f"/regulator/institutions/{s.pk}/")
    body = r.content.decode()
    print("status shown:", "suspended" in body, "Cleared" in body, "Fraud" in body)
    r = client.post(f"/regulator/institutions/{s.pk}/check/")
    print("check", r.status_code, r.get("Location"))
    r = client.get(r["Location"])
    print("run", r.status_code, r.content.decode().count('data-rule="'))
