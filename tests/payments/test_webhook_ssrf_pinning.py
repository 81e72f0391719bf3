"""DNS rebinding: with private hosts refused, a delivery dials the address it vetted and
never resolves the name a second time, while Host, SNI and certificate checks keep the
URL's name. The network is faked at its lowest level (getaddrinfo, create_connection)."""

import ipaddress
import socket
import ssl

import pytest

from payments import services
from payments.models import WebhookDelivery
from payments.services import webhook_deliveries
from tests.payments.receiver import Receiver

pytestmark = pytest.mark.django_db

HOST = "hooks.example.test"
PUBLIC, PUBLIC_2 = "93.184.215.14", "93.184.215.15"

real_getaddrinfo = socket.getaddrinfo
real_create_connection = socket.create_connection


@pytest.fixture
def public_hosts_only(settings):
    settings.ENTREPOT = {
        **settings.ENTREPOT,
        "PAYMENTS": {**settings.ENTREPOT["PAYMENTS"], "WEBHOOK_ALLOW_PRIVATE_HOSTS": False},
    }


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


class HostileDNS:
    """Answers HOST with `answers[n]` on the n-th lookup (the last one repeats)."""

    def __init__(self, *answers: list[str]):
        self.answers, self.lookups = answers, 0

    def __call__(self, host, port, *args, **kwargs):
        if host != HOST:
            return real_getaddrinfo(host, port, *args, **kwargs)
        answer = self.answers[min(self.lookups, len(self.answers) - 1)]
        self.lookups += 1
        result = []
        for address in answer:
            if ipaddress.ip_address(address).version == 6:
                result.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port or 0, 0, 0)))
            else:
                result.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port or 0)))
        return result


class Network:
    """socket.create_connection, recording every address dialled. `routes` maps an address
    to a real (host, port) to connect to instead; anything else is refused."""

    def __init__(self, routes=None):
        self.dialled, self.routes = [], routes or {}

    def __call__(self, address, *args, **kwargs):
        self.dialled.append(address)
        route = self.routes.get(address[0])
        if route is None:
            raise ConnectionRefusedError(111, "Connection refused")
        return real_create_connection(route, *args, **kwargs)


def make_endpoint(institution, url):
    return services.create_webhook_endpoint(
        actor=institution.manager, institution_id=institution.pk, url=url, event_types=["subject.grade_changed"]
    )


def emit(institution):
    [delivery_id] = webhook_deliveries.enqueue_event(
        event_type="subject.grade_changed", institution_ids=[institution.pk], data={"subject_id": 1}
    )
    return delivery_id


def test_the_delivery_dials_the_vetted_address_when_dns_rebinds(
    compliant_institution, receiver, public_hosts_only, monkeypatch
):
    port = receiver.server.server_address[1]
    make_endpoint(compliant_institution, f"http://{HOST}:{port}/hook")
    # The receiver "lives" at the public address; a second lookup would answer loopback.
    dns = HostileDNS([PUBLIC], ["127.0.0.1"])
    network = Network(routes={PUBLIC: ("127.0.0.1", port)})
    monkeypatch.setattr(socket, "getaddrinfo", dns)
    monkeypatch.setattr(socket, "create_connection", network)

    delivery_id = emit(compliant_institution)
    assert webhook_deliveries.deliver(delivery_id=delivery_id) == "succeeded"

    assert network.dialled == [(PUBLIC, port)]
    assert dns.lookups == 1
    [request] = receiver.requests
    assert request["headers"]["host"] == f"{HOST}:{port}"
    assert WebhookDelivery.objects.get(pk=delivery_id).attempt_log.get().status_code == 204


def test_tls_names_the_url_host_while_dialling_the_vetted_address(
    compliant_institution, public_hosts_only, monkeypatch
):
    make_endpoint(compliant_institution, f"https://{HOST}/hook")
    # A TCP listener that accepts (in its backlog) and never speaks: the handshake is caught first.
    silent = socket.create_server(("127.0.0.1", 0))
    handshakes = []

    def wrap_socket(context, sock, *args, server_hostname=None, **kwargs):
        handshakes.append((server_hostname, context.check_hostname, context.verify_mode))
        raise ssl.SSLError("handshake stopped by the test")

    dns = HostileDNS([PUBLIC], ["127.0.0.1"])
    network = Network(routes={PUBLIC: silent.getsockname()})
    monkeypatch.setattr(socket, "getaddrinfo", dns)
    monkeypatch.setattr(socket, "create_connection", network)
    monkeypatch.setattr(ssl.SSLContext, "wrap_socket", wrap_socket)

    delivery_id = emit(compliant_institution)
    try:
        assert webhook_deliveries.deliver(delivery_id=delivery_id) == "pending"
    finally:
        silent.close()

    assert network.dialled == [(PUBLIC, 443)]
    assert handshakes == [(HOST, True, ssl.CERT_REQUIRED)]
    assert dns.lookups == 1
    attempt = WebhookDelivery.objects.get(pk=delivery_id).attempt_log.get()
    assert not attempt.succeeded and attempt.error.startswith("ConnectError")


def test_a_refused_vetted_address_falls_back_to_the_next_vetted_one(
    compliant_institution, receiver, public_hosts_only, monkeypatch
):
    port = receiver.server.server_address[1]
    make_endpoint(compliant_institution, f"http://{HOST}:{port}/hook")
    dns = HostileDNS([PUBLIC, PUBLIC_2], ["127.0.0.1"])
    network = Network(routes={PUBLIC_2: ("127.0.0.1", port)})
    monkeypatch.setattr(socket, "getaddrinfo", dns)
    monkeypatch.setattr(socket, "create_connection", network)

    assert webhook_deliveries.deliver(delivery_id=emit(compliant_institution)) == "succeeded"
    assert network.dialled == [(PUBLIC, port), (PUBLIC_2, port)]
    assert dns.lookups == 1 and len(receiver.requests) == 1


@pytest.mark.parametrize(
    "answer",
    [["127.0.0.1"], ["10.0.0.5"], ["::1"], [PUBLIC, "169.254.169.254"]],
    ids=["loopback", "private", "loopback-v6", "public-and-metadata"],
)
def test_a_host_resolving_to_a_private_address_is_refused_and_logged(
    compliant_institution, receiver, public_hosts_only, monkeypatch, answer
):
    port = receiver.server.server_address[1]
    make_endpoint(compliant_institution, f"http://{HOST}:{port}/hook")
    network = Network(routes={PUBLIC: ("127.0.0.1", port)})
    monkeypatch.setattr(socket, "getaddrinfo", HostileDNS(answer))
    monkeypatch.setattr(socket, "create_connection", network)

    delivery_id = emit(compliant_institution)
    assert webhook_deliveries.deliver(delivery_id=delivery_id) == "pending"

    assert network.dialled == [] and receiver.requests == []
    attempt = WebhookDelivery.objects.get(pk=delivery_id).attempt_log.get()
    assert not attempt.succeeded and attempt.status_code is None
    assert attempt.error == f"Not sent: The host {HOST} resolves to a private or reserved address."
