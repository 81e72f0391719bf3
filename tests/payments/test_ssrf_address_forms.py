"""The SSRF guard over a table of address forms: every IPv6 form that embeds an IPv4
address (NAT64, IPv4-compatible, IPv4-mapped and -translated, 6to4, Teredo), deprecated
site-local, multicast, legacy IPv4 spellings. Each row is checked three ways: the rule
itself, saving an endpoint whose URL names the address, and a delivery to a host that
resolves to it (nothing dialled)."""

import socket

import pytest

from core.errors import InvalidInput
from payments import services, ssrf
from payments.models import WebhookDelivery, WebhookEndpoint
from payments.services import webhook_deliveries
from tests.payments.test_webhook_ssrf_pinning import HOST, HostileDNS, Network, emit, make_endpoint

pytestmark = pytest.mark.django_db

REFUSED = [
    # NAT64 well-known prefix (RFC 6052): the gateway connects to the embedded IPv4 address.
    ("64:ff9b::7f00:1", "NAT64 of 127.0.0.1"),
    ("64:ff9b::10.0.0.1", "NAT64 of 10.0.0.1 (dotted)"),
    ("64:ff9b::a9fe:a9fe", "NAT64 of the cloud metadata address"),
    ("64:ff9b::c0a8:1", "NAT64 of 192.168.0.1"),
    ("64:ff9b::6440:1", "NAT64 of 100.64.0.1 (shared address space)"),
    # NAT64 local-use prefix (RFC 8215): local to one network, whatever it embeds.
    ("64:ff9b:1::a00:1", "local-use NAT64"),
    ("64:ff9b:1:ffff::808:808", "local-use NAT64 even of a public address"),
    # IPv4-compatible (deprecated, RFC 4291).
    ("::127.0.0.1", "IPv4-compatible loopback"),
    ("::10.0.0.1", "IPv4-compatible private"),
    ("::a9fe:a9fe", "IPv4-compatible metadata"),
    ("::2", "IPv4-compatible 0.0.0.2"),
    # IPv4-mapped and IPv4-translated (SIIT).
    ("::ffff:127.0.0.1", "IPv4-mapped loopback"),
    ("::ffff:7f00:1", "IPv4-mapped loopback (hex)"),
    ("::ffff:10.0.0.1", "IPv4-mapped private"),
    ("::ffff:169.254.169.254", "IPv4-mapped metadata"),
    ("::ffff:0:a00:1", "IPv4-translated private"),
    ("::ffff:0:7f00:1", "IPv4-translated loopback"),
    # 6to4 (RFC 3056): the IPv4 address in bits 16-47.
    ("2002:7f00:1::1", "6to4 of 127.0.0.1"),
    ("2002:a00:1::", "6to4 of 10.0.0.1"),
    ("2002:a9fe:a9fe::1", "6to4 of the metadata address"),
    ("2002:c0a8:1:1::1", "6to4 of 192.168.0.1"),
    # Teredo (RFC 4380): not globally reachable.
    ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "Teredo"),
    ("2001::a00:1", "Teredo prefix"),
    # Deprecated site-local (RFC 3879), link-local, unique local, loopback, multicast...
    ("fec0::1", "site-local"),
    ("fec0::a00:1", "site-local embedding 10.0.0.1"),
    ("feff::1", "site-local, top of fec0::/10"),
    ("fe80::1", "link-local"),
    ("fd12:3456::1", "unique local"),
    ("::1", "IPv6 loopback"),
    ("::", "unspecified"),
    ("ff02::1", "link-scope multicast"),
    ("ff0e::1", "global-scope multicast"),
    ("2001:db8::1", "documentation"),
    ("3fff::1", "documentation (RFC 9637)"),
    ("100::1", "discard-only"),
    ("5f00::1", "outside global unicast 2000::/3"),
    # IPv4 itself.
    ("127.0.0.1", "loopback"),
    ("10.0.0.1", "private"),
    ("172.16.0.1", "private"),
    ("192.168.1.1", "private"),
    ("169.254.169.254", "link-local (cloud metadata)"),
    ("100.64.0.1", "shared address space"),
    ("0.0.0.0", "this network"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast (SSDP)"),
    ("255.255.255.255", "broadcast"),
    ("192.88.99.1", "6to4 relay anycast (deprecated)"),
    ("198.18.0.1", "benchmarking"),
    ("192.0.0.170", "NAT64 discovery"),
    # Legacy IPv4 spellings a resolver still honours.
    ("2130706433", "decimal 127.0.0.1"),
    ("0x7f000001", "hex 127.0.0.1"),
    ("0x7f.1", "hex-and-short 127.0.0.1"),
    ("127.1", "short 127.0.0.1"),
    ("0177.0.0.1", "octal 127.0.0.1"),
]
LEGACY_SPELLINGS = {"2130706433", "0x7f000001", "0x7f.1", "127.1", "0177.0.0.1"}
ACCEPTED = [
    ("8.8.8.8", "public IPv4"),
    ("93.184.215.14", "public IPv4"),
    ("2606:4700:4700::1111", "public IPv6"),
    ("2a00:1450:4001:80b::200e", "public IPv6"),
    ("::ffff:8.8.8.8", "IPv4-mapped public"),
    ("64:ff9b::808:808", "NAT64 of a public address"),
    ("2002:808:808::1", "6to4 of a public address"),
    ("::8.8.8.8", "IPv4-compatible public"),
]
TABLE = [(address, False, why) for address, why in REFUSED] + [(address, True, why) for address, why in ACCEPTED]


@pytest.mark.parametrize("address, public, why", TABLE, ids=[f"{a} ({w})" for a, _, w in TABLE])
def test_the_rule(address, public, why):
    assert ssrf.is_public(address) is public, why


def _url(address: str) -> str:
    return f"https://[{address}]/hook" if ":" in address else f"https://{address}/hook"


@pytest.fixture
def public_hosts_only(settings):
    settings.ENTREPOT = {
        **settings.ENTREPOT,
        "PAYMENTS": {**settings.ENTREPOT["PAYMENTS"], "WEBHOOK_ALLOW_PRIVATE_HOSTS": False},
    }


def test_saving_an_endpoint_refuses_every_non_public_form(compliant_institution, public_hosts_only):
    for address, public, why in TABLE:
        url = _url(address)
        if public:
            endpoint = make_endpoint(compliant_institution, url)
            WebhookEndpoint.objects.filter(pk=endpoint.pk).delete()
            continue
        with pytest.raises(InvalidInput) as refused:
            make_endpoint(compliant_institution, url)
        assert "url" in refused.value.field_errors, (address, why)
    assert not WebhookEndpoint.objects.filter(institution_id=compliant_institution.pk).exists()


@pytest.mark.parametrize("url", ["http://127\uff0e0\uff0e0\uff0e1/hook", "http://[fe80::1%25eth0]/hook"])
def test_full_width_dots_and_scoped_addresses_are_refused_when_saving(compliant_institution, public_hosts_only, url):
    with pytest.raises(InvalidInput):
        make_endpoint(compliant_institution, url)


def test_a_host_resolving_to_any_non_public_form_is_never_dialled(
    compliant_institution, public_hosts_only, monkeypatch
):
    network = Network()
    monkeypatch.setattr(socket, "create_connection", network)
    make_endpoint(compliant_institution, f"https://{HOST}/hook")
    for address, public, why in TABLE:
        if public or address in LEGACY_SPELLINGS:
            continue  # a resolver answers canonical addresses only
        monkeypatch.setattr(socket, "getaddrinfo", HostileDNS([address]))
        delivery_id = emit(compliant_institution)
        assert webhook_deliveries.deliver(delivery_id=delivery_id) == "pending", (address, why)
        attempt = WebhookDelivery.objects.get(pk=delivery_id).attempt_log.get()
        assert attempt.error == f"Not sent: The host {HOST} resolves to a private or reserved address.", address
    assert network.dialled == []


def test_a_public_embedded_address_is_dialled_as_resolved(compliant_institution, public_hosts_only, monkeypatch):
    network = Network()  # refuses every connection, but records what was dialled
    monkeypatch.setattr(socket, "create_connection", network)
    monkeypatch.setattr(socket, "getaddrinfo", HostileDNS(["64:ff9b::808:808"]))
    make_endpoint(compliant_institution, f"https://{HOST}/hook")
    assert webhook_deliveries.deliver(delivery_id=emit(compliant_institution)) == "pending"
    assert [address for address, _port in network.dialled] == ["64:ff9b::808:808"]


def test_services_refuse_with_the_field_error(compliant_institution, public_hosts_only):
    with pytest.raises(InvalidInput) as refused:
        services.create_webhook_endpoint(
            actor=compliant_institution.manager,
            institution_id=compliant_institution.pk,
            url="https://[64:ff9b::a9fe:a9fe]/latest/meta-data/",
            event_types=["subject.grade_changed"],
        )
    assert refused.value.field_errors["url"] == ["Webhooks must go to a public address, not a private or reserved one."]
