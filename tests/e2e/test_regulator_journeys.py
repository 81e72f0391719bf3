"""Regulator and subject journeys in a real Chromium: blacklisting a subject shows on the
public registry; the subject's member files an appeal that lands in the regulator's queue."""

import re

import pytest
from playwright.sync_api import expect

from credit.services import blacklist as services
from tests.factories import PASSWORD, MembershipFactory, RegulatorFactory, SubjectFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_regulator_blacklists_a_subject_and_the_public_registry_shows_it(page, live_server, sign_in):
    regulator = RegulatorFactory()
    subject = SubjectFactory(country="CN", registration_number="91440300MA5F7777", legal_name="Shenzhen Haimao Trading")
    sign_in(page, regulator.username, PASSWORD)

    page.goto("/regulator/")
    expect(page.get_by_role("heading", name="Regulator console")).to_be_visible()
    page.get_by_role("link", name="New entry").first.click()
    expect(page.get_by_role("heading", name="New blacklist entry")).to_be_visible()

    # First a mistake: an unknown currency is reported beside its field.
    page.get_by_label("Country").select_option("CN")
    page.get_by_label("Registration number").fill("91440300MA5F7777")
    page.get_by_label("Category").select_option("counterfeit")
    page.get_by_label("Severity").select_option("serious")
    page.get_by_label("Legal basis").fill("Customs Law art. 82")
    page.get_by_label("Decision reference").fill("SZ-CUSTOMS-2026-118")
    page.get_by_label("Description").fill("Counterfeit branded goods seized at Shekou port.")
    page.get_by_label("Fine amount").fill("250000")
    page.get_by_label("Fine currency").fill("RMB")
    page.get_by_role("button", name="Blacklist the subject").click()
    expect(page.locator("#id_fine_currency-error")).to_contain_text("ISO 4217")

    page.get_by_label("Fine currency").fill("CNY")
    page.get_by_role("button", name="Blacklist the subject").click()
    expect(page.get_by_role("heading", name="Blacklist entry SZ-CUSTOMS-2026-118")).to_be_visible()
    expect(page.get_by_test_id("entry-status")).to_have_text("Active")

    # The public profile and the public blacklist (H4's pages) show it, to anyone.
    page.context.clear_cookies()
    page.goto(f"/registry/subjects/{subject.pk}/")
    expect(page.get_by_test_id("blacklisted")).to_be_visible()
    expect(page.get_by_text("SZ-CUSTOMS-2026-118")).to_be_visible()
    page.goto("/registry/blacklist/")
    row = page.get_by_role("row", name=re.compile("SZ-CUSTOMS-2026-118"))
    expect(row).to_contain_text("Shenzhen Haimao Trading")
    expect(row).to_contain_text("250000.00 CNY")


def test_member_files_an_appeal_and_the_regulator_sees_it_in_the_queue(page, live_server, sign_in, browser):
    regulator = RegulatorFactory()
    membership = MembershipFactory(subject=SubjectFactory(legal_name="Albion Merchant Trading Ltd"))
    entry = services.blacklist_subject(
        actor=regulator,
        subject_id=membership.subject_id,
        category="contract_default",
        legal_basis="Platform rules 4.2",
        decision_reference="UK-2026-55",
        description="Undelivered paid orders.",
        severity="general",
    )
    sign_in(page, membership.user.username, PASSWORD)

    page.goto("/account/record/")
    expect(page.get_by_role("heading", name="Record of Albion Merchant Trading Ltd")).to_be_visible()
    expect(page.get_by_test_id(f"entry-{entry.pk}")).to_contain_text("UK-2026-55")
    # Repair is not possible yet: the earliest date is shown.
    expect(page.get_by_test_id("repair-not-yet")).to_contain_text(re.compile(r"\d{4}-\d{2}-\d{2}"))

    page.get_by_role("link", name="File an appeal").click()
    expect(page.get_by_role("heading", name="File an appeal")).to_be_visible()
    page.get_by_label("The content of the entry").check()
    page.get_by_role("button", name="File appeal").click()
    expect(page.locator("#id_grounds-error")).to_be_visible()
    page.get_by_label("Grounds").fill("All orders were delivered; tracking numbers attached.")
    page.get_by_role("button", name="File appeal").click()
    expect(page.get_by_text("Appeal filed.")).to_be_visible()
    expect(page.get_by_test_id("appeals")).to_contain_text("Filed, awaiting reply")
    expect(page.get_by_test_id("appeals")).to_contain_text("Reply due")

    # The regulator sees it in the queue with its deadline, and replies.
    context = browser.new_context(base_url=live_server.url)
    regulator_page = context.new_page()
    try:
        sign_in(regulator_page, regulator.username, PASSWORD)
        regulator_page.goto("/regulator/appeals/")
        queue = regulator_page.get_by_test_id("appeal-queue")
        expect(queue).to_contain_text("Albion Merchant Trading Ltd")
        expect(queue).to_contain_text("Reply due")
        queue.get_by_role("link").first.click()
        regulator_page.get_by_label("Reply").fill("We are checking the tracking numbers.")
        regulator_page.get_by_role("button", name="Send reply").click()
        expect(regulator_page.get_by_test_id("appeal-status")).to_have_text("Replied, awaiting decision")
    finally:
        context.close()

    page.reload()
    expect(page.get_by_test_id("appeals")).to_contain_text("We are checking the tracking numbers.")
