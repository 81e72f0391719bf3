"""Journeys in a real browser: each demo role sees its own navigation; a new enterprise
signs up; an institution issues an API key and sees its secret exactly once."""

import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from payments.models import ProviderAPIKey

DEMO_PASSWORD = "entrepot-demo"

EVERYONE = {"Registry", "Blacklist", "Methodology", "API docs"}
ROLE_ONLY = {
    "My subject",
    "My record",
    "Warehouses",
    "My leases",
    "My listings",
    "Compliance",
    "API keys",
    "Regulator console",
    "Payment institutions",
    "Admin",
}
NAVIGATION = {
    None: EVERYONE,
    "merchant": EVERYONE | {"My subject", "My record", "Warehouses", "My leases"},
    "operator": EVERYONE | {"My subject", "My record", "Warehouses", "My leases", "My listings"},
    "institution": EVERYONE | {"My subject", "My record", "Compliance", "API keys"},
    "regulator": EVERYONE | {"Regulator console", "Payment institutions"},
    "staff": EVERYONE | {"Admin"},
}


@pytest.fixture
def demo(transactional_db):
    call_command("seed_demo", verbosity=0)


def nav_labels(page) -> set[str]:
    nav = page.get_by_test_id("main-nav")
    expect(nav).to_be_visible()
    return {text.strip() for text in nav.get_by_role("link").all_inner_texts()}


@pytest.mark.parametrize("username", list(NAVIGATION))
def test_navigation_depends_on_role(page, live_server, sign_in, demo, username):
    if username is None:
        page.goto(live_server.url + "/")
        expect(page.get_by_role("link", name="Sign in")).to_be_visible()
    else:
        sign_in(page, username, DEMO_PASSWORD)
        page.goto(live_server.url + "/")
    labels = nav_labels(page)
    assert labels & (EVERYONE | ROLE_ONLY) == NAVIGATION[username]


def test_sign_out(page, live_server, sign_in, demo):
    sign_in(page, "merchant", DEMO_PASSWORD)
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("link", name="Sign in")).to_be_visible()
    expect(page.get_by_test_id("signed-in-as")).to_have_count(0)
    assert "My subject" not in nav_labels(page)


def test_wrong_password_is_refused(page, live_server, demo):
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Username").fill("merchant")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("correct username and password")
    expect(page.get_by_test_id("signed-in-as")).to_have_count(0)


def fill_sign_up(page, *, username, registration_number, password="a-long-Unusual-passphrase-42"):
    page.get_by_label("Username").fill(username)
    page.get_by_label("Email").fill(f"{username}@example.test")
    page.get_by_label("Password").fill(password)
    page.get_by_label("Country").select_option("DE")
    page.get_by_label("Registration number").fill(registration_number)
    page.get_by_label("Legal name").fill("Hafen Handel GmbH")
    page.get_by_role("button", name="Create account").click()


def test_sign_up_journey(page, live_server, transactional_db):
    page.goto(live_server.url + "/")
    page.get_by_role("link", name="Sign up").click()
    expect(page.get_by_role("heading", name="Sign up")).to_be_visible()

    # A malformed registration number is reported beside its field, the rest is kept.
    fill_sign_up(page, username="hafen", registration_number="!bad number")
    expect(page.locator(".field.has-error")).to_contain_text("Registration number")
    expect(page.get_by_label("Username")).to_have_value("hafen")
    expect(page.get_by_test_id("signed-in-as")).to_have_count(0)

    fill_sign_up(page, username="hafen", registration_number="HRB 12345")
    expect(page).to_have_url(re.compile(r"/account/$"))
    expect(page.get_by_test_id("signed-in-as")).to_contain_text("hafen")
    expect(page.get_by_role("heading", name="Hafen Handel GmbH")).to_be_visible()
    expect(page.get_by_text("HRB12345")).to_be_visible()
    assert "My subject" in nav_labels(page)


def test_institution_issues_api_key_and_sees_secret_once(page, live_server, sign_in, demo):
    sign_in(page, "institution", DEMO_PASSWORD)
    page.get_by_test_id("main-nav").get_by_role("link", name="API keys").click()
    expect(page.get_by_role("heading", name="API keys", exact=True)).to_be_visible()

    page.get_by_label("Name").fill("checkout screening")
    page.get_by_role("button", name="Issue key").click()

    secret = page.get_by_test_id("key-secret").inner_text().strip()
    key = ProviderAPIKey.objects.get(name="checkout screening")
    assert secret.startswith(key.prefix + ".")
    assert ProviderAPIKey.objects.get_from_key(secret) == key

    # Reloading the page never shows the secret again; the key is listed by its prefix.
    page.goto(live_server.url + "/institution/keys/")
    expect(page.get_by_test_id("key-secret")).to_have_count(0)
    assert secret not in page.content()
    expect(page.get_by_role("row", name=re.compile(key.prefix))).to_contain_text("active")


def test_joining_an_existing_enterprise_needs_the_owners_approval(browser, page, live_server, sign_in):
    from credit.services.accounts import sign_up

    sign_up(
        username="owner",
        email="owner@example.test",
        password="a-long-Unusual-passphrase-42",
        country="DE",
        registration_number="HRB12345",
        legal_name="Hafen Handel GmbH",
        kinds=["merchant"],
    )
    page.goto(live_server.url + "/accounts/signup/")
    fill_sign_up(page, username="clerk", registration_number="hrb 12345")
    expect(page.get_by_text("its owners must approve your request")).to_be_visible()
    expect(page.get_by_text("awaiting approval")).to_be_visible()
    assert "My subject" not in nav_labels(page)

    owner_context = browser.new_context(base_url=live_server.url)
    owner_page = owner_context.new_page()
    try:
        sign_in(owner_page, "owner", "a-long-Unusual-passphrase-42")
        owner_page.goto(live_server.url + "/account/")
        row = owner_page.get_by_role("row", name=re.compile("clerk"))
        row.get_by_role("button", name="Approve").click()
        expect(owner_page.get_by_text("clerk now acts for Hafen Handel GmbH")).to_be_visible()
    finally:
        owner_context.close()

    page.goto(live_server.url + "/account/")
    expect(page.get_by_role("heading", name="Hafen Handel GmbH")).to_be_visible()
    assert "My subject" in nav_labels(page)
