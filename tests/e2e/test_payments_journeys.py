"""Payment-institution journeys in Chromium: a regulator opens an institution's failing
compliance run, reads each rule's outcome and evidence, and suspends it with a reason; an
institution member issues an API key, sees the secret once, and screens with it."""

import re
from datetime import timedelta

import httpx
from django.utils import timezone
from playwright.sync_api import expect

from payments import services
from payments.models import InstitutionProfile, ProviderAPIKey
from tests.factories import PASSWORD, RegulatorFactory, SubjectFactory
from tests.payments.conftest import make_compliant_institution


def test_regulator_opens_a_failing_run_and_suspends_the_institution(page, live_server, sign_in):
    profile = make_compliant_institution(legal_name="Harbour Pay Ltd")
    # A licence expiring within 6 months with no renewal filed: the run puts it under review.
    licence = profile.licences.get()
    licence.valid_to = timezone.localdate() + timedelta(days=30)
    services.save_licence(
        actor=profile.manager,
        institution_id=profile.pk,
        licence_id=licence.pk,
        number=licence.number,
        issuing_authority=licence.issuing_authority,
        currencies=licence.currencies,
        countries=licence.countries,
        valid_from=licence.valid_from,
        valid_to=licence.valid_to,
    )
    run = services.run_compliance_check(institution_id=profile.pk, trigger="licence_changed")
    assert run.derived_status == "under_review"
    regulator = RegulatorFactory()

    sign_in(page, regulator.username, PASSWORD)
    page.goto("/regulator/institutions/")
    row = page.get_by_test_id("institutions").get_by_role("row", name=re.compile("Harbour Pay Ltd"))
    expect(row).to_contain_text("under review")
    row.get_by_role("link", name=f"#{run.pk}").click()

    expect(page.get_by_role("heading", name=f"Compliance run #{run.pk}")).to_be_visible()
    renewal = page.locator('tr[data-rule="licence_renewal_filed"]')
    expect(renewal).to_contain_text("warn")
    expect(renewal).to_contain_text("no renewal has been filed")
    renewal.get_by_text("Evidence").click()
    expect(renewal.locator("pre")).to_contain_text("window_months")

    page.get_by_role("link", name="← Harbour Pay Ltd").click()
    page.get_by_role("button", name="Suspend").click()  # no reason: refused beside the field
    expect(page.locator(".field.has-error")).to_contain_text("This field is required")
    page.get_by_label("Reason").first.fill("Renewal not filed after two reminders")
    page.get_by_role("button", name="Suspend").click()

    expect(page.get_by_text("Institution suspended.")).to_be_visible()
    expect(page.get_by_test_id("status")).to_have_text("suspended")
    expect(page.get_by_test_id("status-reason")).to_contain_text("Renewal not filed after two reminders")
    profile.refresh_from_db()
    assert profile.status == "suspended" and profile.regulator_suspended

    # The suspended institution's API calls now answer 403, naming the reason.
    _, secret = ProviderAPIKey.objects.create_key(name="k", institution_id=profile.pk, scopes=["screen"])
    response = httpx.post(
        live_server.url + "/api/v1/screenings/",
        json={"name": "anyone"},
        headers={"Authorization": f"Api-Key {secret}"},
    )
    assert response.status_code == 403
    assert response.json()["code"] == "institution_suspended"
    assert "Renewal not filed" in response.json()["detail"]


def test_member_issues_an_api_key_sees_it_once_and_screens_with_it(page, live_server, sign_in):
    profile = make_compliant_institution(legal_name="Lotus Payments Co")
    counterparty = SubjectFactory(
        country="DE", registration_number="HRB-777", legal_name="Rhein Export GmbH", grade="B"
    )
    assert InstitutionProfile.objects.get(pk=profile.pk).status == "compliant"

    sign_in(page, profile.manager.username, PASSWORD)
    page.goto("/institution/")  # one institution: straight to its page
    expect(page.get_by_role("heading", name="Lotus Payments Co")).to_be_visible()
    expect(page.get_by_test_id("status")).to_have_text("compliant")
    page.get_by_role("link", name="API keys").last.click()

    page.get_by_label("Name").fill("checkout")
    page.get_by_role("button", name="Issue key").click()
    secret = page.get_by_test_id("key-secret").inner_text().strip()
    page.goto("/institution/keys/")  # never shown again
    expect(page.get_by_test_id("key-secret")).to_have_count(0)
    assert secret not in page.content()

    response = httpx.post(
        live_server.url + "/api/v1/screenings/",
        json={"registration_number": "HRB-777", "country": "DE"},
        headers={"Authorization": f"Api-Key {secret}"},
    )
    assert response.status_code == 200, response.text
    [result] = response.json()["results"]
    assert result["decision"] == "allow"
    assert result["subject"]["subject_id"] == counterparty.pk

    page.goto(f"/institution/{profile.pk}/screenings/")
    expect(page.get_by_role("row", name=re.compile("HRB-777"))).to_contain_text("allow")
