"""Names holding bidirectional control characters (Trojan Source style spoofing) are shown
isolated, so their controls cannot reorder the page around them, and flagged; the API says
so in `name_has_bidi_controls`. Names without controls are isolated too, unflagged."""

import re
from datetime import timedelta

import pytest

from core import bidi
from payments.models import ProviderAPIKey
from tests.credit.blacklist_helpers import make_entry
from tests.factories import MembershipFactory, SubjectFactory
from tests.payments.conftest import make_compliant_institution
from warehouses.services import leases
from warehouses.services import listings as listing_services

pytestmark = pytest.mark.django_db

RLO, PDF, RLI = "\u202e", "\u202c", "\u2067"
# Reads "Acme Holdings Ltd" on screen once the override turns "sgnidloH" around; an
# unclosed override at the end would reverse whatever follows the name on the page.
SPOOF = f"Acme {RLO}sgnidloH{PDF} Ltd {RLI}"
PLAIN = "Zhongshan Plain Trading Co"


@pytest.fixture
def spoof():
    return SubjectFactory(legal_name=SPOOF, trading_name="Acme", is_merchant=True, is_warehouse_operator=True)


@pytest.fixture
def plain():
    return SubjectFactory(legal_name=PLAIN)


def assert_isolated(html: str) -> None:
    """Every bidi control on the page sits inside a <bdi>, or, where markup cannot go (the
    <title>, an SVG label), between balanced Unicode isolates: nothing outside the name can
    be reordered by it."""
    outside = re.sub(r"<bdi[^>]*>.*?</bdi>", "", html, flags=re.S).replace(bidi.isolate(SPOOF), "")
    for control in (RLO, PDF, RLI):  # the name's own controls
        assert control not in outside, f"U+{ord(control):04X} outside an isolate"


def assert_flagged(html: str) -> None:
    assert '<bdi class="bidi-flagged">' in html
    flags = re.findall(r'<span class="badge warn" data-testid="bidi-flag" title="([^"]*)">([^<]*)</span>', html)
    assert flags, "no flag beside the name"
    assert {label for _title, label in flags} == {"direction controls"}
    # The spoofing name's flag says which controls it holds.
    assert any(
        "U+202E RIGHT-TO-LEFT OVERRIDE" in title and "U+2067 RIGHT-TO-LEFT ISOLATE" in title for title, _ in flags
    )


def test_public_registry_pages_isolate_and_flag_a_spoofing_name(client, spoof, plain, regulator):
    make_entry(regulator, spoof)
    for url in ("/registry/?q=Acme", f"/registry/subjects/{spoof.pk}/", "/registry/blacklist/"):
        html = client.get(url).content.decode()
        assert SPOOF in html, url  # shown as entered
        assert_isolated(html)
        assert_flagged(html)
    html = client.get(f"/registry/?q={PLAIN}").content.decode()
    assert f"<bdi>{PLAIN}</bdi>" in html
    assert 'data-testid="bidi-flag"' not in html


def test_regulator_and_marketplace_pages_isolate_and_flag_it(client, spoof, regulator, today_listing):
    make_entry(regulator, spoof)
    client.force_login(regulator)
    html = client.get("/regulator/blacklist/").content.decode()
    assert_isolated(html)
    assert_flagged(html)
    listing, lease, tenant_user = today_listing
    client.force_login(tenant_user)
    for url in ("/warehouses/?country=NL", f"/warehouses/listings/{listing.pk}/", f"/warehouses/leases/{lease.pk}/"):
        html = client.get(url).content.decode()
        assert SPOOF in html, url
        assert_isolated(html)
        assert_flagged(html)


@pytest.fixture
def today_listing(spoof):
    """A listing by the spoofing operator and a lease on it by a plain merchant."""
    from decimal import Decimal

    from django.utils import timezone

    operator = MembershipFactory(subject=spoof).user
    tenant_subject = SubjectFactory(legal_name=PLAIN, grade="B")
    tenant = MembershipFactory(subject=tenant_subject).user
    warehouse = listing_services.create_warehouse(
        actor=operator,
        owner_id=spoof.pk,
        name=f"Depot {RLO}A",
        country="NL",
        city="Rotterdam",
        address="Europaweg 1",
        latitude=Decimal("51.95"),
        longitude=Decimal("4.05"),
        capacity_unit="pallet",
        customs_status="bonded",
        services=[],
        certifications=[],
    )
    start = timezone.localdate() + timedelta(days=1)
    listing = listing_services.create_listing(
        actor=operator,
        warehouse_id=warehouse.pk,
        units=10,
        available_from=start,
        available_until=start + timedelta(days=30),
        publish=True,
        title="Pallets",
        price_per_unit_day=Decimal("1.25"),
        currency="EUR",
        booking_mode="request",
    )
    lease = leases.request_lease(
        actor=tenant,
        tenant_id=tenant_subject.pk,
        listing_id=listing.pk,
        units=1,
        start=start,
        end=start + timedelta(days=2),
    )
    return listing, lease, tenant


def test_the_api_flags_the_name(client, spoof, plain, regulator):
    make_entry(regulator, spoof)
    found = {s["id"]: s for s in client.get("/api/v1/registry/subjects/", {"q": "Acme"}).json()["results"]}
    assert found[spoof.pk]["name_has_bidi_controls"] is True
    assert found[spoof.pk]["legal_name"] == SPOOF  # the data as entered
    assert client.get(f"/api/v1/registry/subjects/{spoof.pk}/").json()["name_has_bidi_controls"] is True
    assert client.get(f"/api/v1/registry/subjects/{plain.pk}/").json()["name_has_bidi_controls"] is False
    entries = client.get("/api/v1/registry/blacklist/").json()["results"]
    assert [e["subject"]["name_has_bidi_controls"] for e in entries] == [True]


def test_screening_flags_the_name_and_isolates_it_in_the_reason(client, spoof, regulator):
    make_entry(regulator, spoof)
    institution = make_compliant_institution()
    _, secret = ProviderAPIKey.objects.create_key(name="t", institution_id=institution.pk, scopes=["screen"])
    response = client.post(
        "/api/v1/screenings/",
        {"country": spoof.country, "registration_number": spoof.registration_number},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Api-Key {secret}",
    )
    result = response.json()["results"][0]
    assert result["decision"] == "deny"
    assert result["subject"]["name_has_bidi_controls"] is True
    assert result["reasons"][0]["message"] == f"{bidi.isolate(SPOOF)} is on the blacklist."


@pytest.mark.parametrize(
    "text",
    ["plain", SPOOF, "\u2069\u202eabc", "a\u2066b\u2067c", "\u2069\u2069x\u2068", "", "\u202e"],
)
def test_plain_text_isolation_is_balanced_whatever_the_name_holds(text):
    """FSI ... PDI around a name must not be ended early by a stray PDI in it, nor left
    open by an isolate it does not close."""
    wrapped = bidi.isolate(text)
    assert text in wrapped
    depth = 0
    for i, char in enumerate(wrapped):
        depth += char in "\u2066\u2067\u2068"
        depth -= char == "\u2069"
        assert depth > 0 or i == len(wrapped) - 1, (text, i)
    assert depth == 0
