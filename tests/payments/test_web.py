"""Web pages: the regulator's console and the institution's own pages."""

from datetime import timedelta

import pytest
from django.utils import timezone

from credit.models import Membership
from payments.models import InstitutionProfile, ReserveReport
from tests.factories import MembershipFactory, RegulatorFactory, SubjectFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_regulator_lists_institutions_with_status_and_exports_csv(client, compliant_institution):
    client.force_login(RegulatorFactory())
    page = client.get("/regulator/institutions/")
    assert page.status_code == 200
    assert compliant_institution.subject.legal_name in page.content.decode()
    assert client.get("/regulator/institutions/?status=suspended").content.decode().count("compliant</span>") == 0
    csv = client.get("/regulator/institutions/?format=csv")
    assert csv["Content-Type"].startswith("text/csv")
    assert f"{compliant_institution.pk},{compliant_institution.subject.legal_name}" in csv.content.decode()


def test_non_regulators_get_404_and_anonymous_is_sent_to_sign_in(client, compliant_institution):
    url = f"/regulator/institutions/{compliant_institution.pk}/"
    assert client.get(url).status_code == 302
    client.force_login(compliant_institution.manager)
    assert client.get(url).status_code == 404
    assert client.post(url + "suspend/", {"suspend-reason": "x"}).status_code == 404


def test_regulator_opens_a_run_and_sees_each_rule_with_evidence(client, compliant_institution):
    client.force_login(RegulatorFactory())
    run = compliant_institution.latest_run
    body = client.get(f"/regulator/compliance-runs/{run.pk}/").content.decode()
    assert "Customer reserve coverage at least 100%" in body
    assert "coverage_percent" in body
    assert body.count('data-rule="') == run.results.count()


def test_regulator_suspends_with_a_reason_then_reinstates(client, compliant_institution):
    client.force_login(RegulatorFactory())
    base = f"/regulator/institutions/{compliant_institution.pk}/"
    empty = client.post(base + "suspend/", {"suspend-reason": ""})
    assert empty.status_code == 400
    assert "This field is required" in empty.content.decode()
    response = client.post(base + "suspend/", {"suspend-reason": "Reserves misused"}, follow=True)
    assert "Reserves misused" in response.content.decode()
    assert InstitutionProfile.objects.get(pk=compliant_institution.pk).status == "suspended"
    client.post(base + "reinstate/", {"reinstate-reason": "Resolved"})
    assert InstitutionProfile.objects.get(pk=compliant_institution.pk).status == "compliant"


def test_regulator_sets_kyb_and_runs_checks(client, compliant_institution):
    client.force_login(RegulatorFactory())
    base = f"/regulator/institutions/{compliant_institution.pk}/"
    client.post(base + "kyb/", {"kyb-kyb_status": "rejected", "kyb-reason": "Forged documents"})
    response = client.post(base + "check/", follow=True)
    assert "Suspended" in response.content.decode()
    assert "KYB verification was rejected" in response.content.decode()


def test_member_registers_an_institution_and_files_a_licence(client):
    user = UserFactory()
    subject = SubjectFactory(is_payment_institution=True, legal_name="Nova Pay")
    MembershipFactory(user=user, subject=subject)
    client.force_login(user)
    bad = client.post("/institution/", {"subject": subject.pk, "paid_in_capital": "10", "capital_currency": "QQQ"})
    assert bad.status_code == 400
    assert "ISO 4217" in bad.content.decode()
    response = client.post(
        "/institution/", {"subject": subject.pk, "paid_in_capital": "100000000", "capital_currency": "CNY"}
    )
    assert response.status_code == 302
    detail = response["Location"]
    today = timezone.localdate()
    licence = {
        "licence-number": "Z2026",
        "licence-issuing_authority": "PBoC",
        "licence-currencies": "CNY, usd",
        "licence-countries": "CN",
        "licence-valid_from": today.isoformat(),
        "licence-valid_to": (today - timedelta(days=1)).isoformat(),
    }
    error = client.post(detail + "licences/", licence)
    assert error.status_code == 400
    assert "Must be after the start date." in error.content.decode()
    licence["licence-valid_to"] = (today + timedelta(days=1000)).isoformat()
    client.post(detail + "licences/", licence)
    page = client.get(detail).content.decode()
    assert "Z2026" in page and "CNY, USD" in page


def test_member_files_a_reserve_report_on_the_web(client, compliant_institution):
    client.force_login(compliant_institution.manager)
    base = f"/institution/{compliant_institution.pk}/"
    account = compliant_institution.reserve_account
    response = client.post(
        base + "reserve-reports/",
        {
            "report-report_date": timezone.localdate().isoformat(),
            "report-currency": "CNY",
            "report-customer_funds_owed": "500",
            f"report-balance_{account.pk}": "600",
            "report-outflow_investment": "10",
        },
    )
    assert response.status_code == 302
    report = ReserveReport.objects.filter(institution=compliant_institution).first()
    assert report.customer_funds_owed == 500
    assert report.outflows.get().destination_type == "investment"


def test_plain_members_see_but_cannot_change(client, compliant_institution):
    viewer = MembershipFactory(subject=compliant_institution.subject, role=Membership.Role.MEMBER).user
    client.force_login(viewer)
    base = f"/institution/{compliant_institution.pk}/"
    assert client.get(base).status_code == 200
    response = client.post(base + "corridors/", {"corridor-currency": "USD", "corridor-country": "US"}, follow=True)
    assert "Only the institution&#x27;s owners and administrators may change it." in response.content.decode()
    assert not compliant_institution.corridors.filter(currency="USD").exists()


def test_outsiders_get_404_on_an_institution(client, compliant_institution, member):
    client.force_login(member)
    assert client.get(f"/institution/{compliant_institution.pk}/").status_code == 404
    run = compliant_institution.latest_run
    assert client.get(f"/institution/{compliant_institution.pk}/runs/{run.pk}/").status_code == 404


def test_member_sees_own_run_webhooks_and_logs(client, compliant_institution):
    client.force_login(compliant_institution.manager)
    base = f"/institution/{compliant_institution.pk}/"
    run = compliant_institution.latest_run
    assert client.get(f"{base}runs/{run.pk}/").status_code == 200
    created = client.post(
        base + "webhooks/",
        {"webhook-url": "https://example.test/h", "webhook-event_types": ["institution.status_changed"]},
    )
    assert "whsec_" in created.content.decode()  # the secret, shown once
    page = client.get(base).content.decode()
    assert "https://example.test/h" in page and "whsec_" not in page
    assert client.get(base + "deliveries/").status_code == 200
    assert client.get(base + "screenings/").status_code == 200


@pytest.mark.parametrize("odd", ["²", "٣", "99999999999999999999", "-1"])
def test_odd_ids_in_the_query_never_break_the_institution_pages(client, compliant_institution, odd):
    # '²'.isdigit() is True but int('²') fails: the pages must treat such ids as unknown.
    client.force_login(compliant_institution.manager)
    base = f"/institution/{compliant_institution.pk}/"
    page = client.get(base, {"edit_licence": odd})
    assert page.status_code == 200
    assert client.get(f"{base}api-calls/", {"status": odd}).status_code in (200, 400)
    filed = client.post(f"{base}licences/", {"licence_id": odd, "number": ""})
    assert filed.status_code in (200, 302, 400)
