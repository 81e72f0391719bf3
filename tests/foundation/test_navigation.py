"""The navigation depends on who is signed in, and every link it offers works for them."""

import re

import pytest
from django.core.management import call_command

DEMO_PASSWORD = "entrepot-demo"
EVERYONE = {"Registry", "Blacklist", "Methodology", "API docs"}
MEMBER = {"My subject", "My record"}
NAVIGATION = {
    None: EVERYONE,
    "merchant": EVERYONE | MEMBER | {"Warehouses", "My leases"},
    "operator": EVERYONE | MEMBER | {"Warehouses", "My leases", "My listings"},
    "institution": EVERYONE | MEMBER | {"Compliance", "API keys"},
    "regulator": EVERYONE | {"Regulator console", "Payment institutions"},
    "staff": EVERYONE | {"Disputes", "Admin"},
}
NAV = re.compile(r'<nav aria-label="Main" data-testid="main-nav">(.*?)</nav>', re.S)
LINK = re.compile(r'<a href="([^"]+)"[^>]*>([^<]+)</a>')


@pytest.fixture
def demo(db):
    call_command("seed_demo", verbosity=0)


def nav_links(client) -> dict[str, str]:
    page = client.get("/")
    assert page.status_code == 200
    return {label: href for href, label in LINK.findall(NAV.search(page.content.decode()).group(1))}


@pytest.mark.parametrize("username", list(NAVIGATION))
def test_each_role_sees_its_links_and_each_link_works(client, demo, username):
    if username:
        assert client.login(username=username, password=DEMO_PASSWORD)
    links = nav_links(client)
    assert set(links) == NAVIGATION[username]
    for label, href in links.items():
        response = client.get(href, follow=True)
        assert response.status_code == 200, f"{username}: {label} -> {href} answered {response.status_code}"


def test_header_offers_sign_in_or_sign_out(client, demo):
    page = client.get("/").content.decode()
    assert 'href="/accounts/login/"' in page and 'href="/accounts/signup/"' in page
    client.login(username="regulator", password=DEMO_PASSWORD)
    page = client.get("/").content.decode()
    assert "Sign out" in page and 'href="/accounts/login/"' not in page
    assert 'data-testid="signed-in-as"><bdi>regulator</bdi> · regulator<' in page


def test_pending_member_gets_no_member_links(client, demo):
    from credit.models import Membership, Subject
    from tests.factories import UserFactory

    user = UserFactory()
    Membership.objects.create(
        user=user, subject=Subject.objects.get(registration_number="91110000MA0PAYX3C"), status="pending"
    )
    client.force_login(user)
    assert set(nav_links(client)) == EVERYONE


def test_no_page_loads_assets_from_elsewhere(client, demo):
    client.login(username="staff", password=DEMO_PASSWORD)
    for path in ["/", "/accounts/signup/", "/api/docs/", "/registry/"]:
        page = client.get(path).content.decode()
        sources = re.findall(r'(?:src|href)="(https?:)?//([^"/]+)', page)
        assert not sources, f"{path} loads assets from {sources}"
