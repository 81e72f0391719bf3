"""Webhooks per Standard Webhooks v1: signing, and where a webhook may be sent. The
delivery outbox and the delivery itself are payments.services.webhook_deliveries.

- Unless private hosts are allowed, a delivery resolves the host once (`vet_target`), vets
  every address, and dials only those addresses (`delivery_client`, `_PinnedBackend`):
  httpx never resolves the name again, so a DNS server cannot answer a public address to
  the check and a private one to the connection (DNS rebinding). Host header, TLS SNI and
  certificate checks keep the name.

Signature: `webhook-signature: v1,<base64(HMAC-SHA256(secret, f"{id}.{timestamp}.{body}"))>`,
where `secret` is the base64-decoded part of the endpoint's `whsec_...` secret. After a
secret rotation the header carries two space-separated signatures, one per secret, until
the previous secret expires (WEBHOOK_SECRET_ROTATION_GRACE_HOURS), so a receiver holding
either secret verifies.
"""

import base64
import hashlib
import hmac
import json
import secrets
import socket
import time
from urllib.parse import unquote, urlsplit

import httpcore
import httpx
from django.conf import settings
from django.utils import timezone

from payments import ssrf
from payments.models import WebhookEndpoint


def url_target_problem(url: str, *, resolve: bool = False) -> str | None:
    """Why a webhook may not be sent to `url`, or None. Unless WEBHOOK_ALLOW_PRIVATE_HOSTS
    is on (local runs and tests, whose receivers listen on 127.0.0.1), a URL must name a
    public host: otherwise an institution could make the platform POST into its own network
    (SSRF). Saving checks literal addresses and `localhost`; delivery also resolves the
    name (`resolve=True`), since DNS can point a public-looking name at a private address."""
    return vet_target(url, resolve=resolve)[0]


def vet_target(url: str, *, resolve: bool) -> tuple[str | None, list[str]]:
    """(why `url` is refused or None, the vetted addresses to dial in resolver order). The
    addresses are empty when private hosts are allowed or `resolve` is off: nothing to pin."""
    if _config("WEBHOOK_ALLOW_PRIVATE_HOSTS"):
        return None, []
    try:
        # The host as httpx will dial it (IDNA, full-width dots folded), else as written.
        host = httpx.URL(url).host or urlsplit(url).hostname or ""
    except httpx.InvalidURL:
        host = urlsplit(url).hostname or ""
    host = host.rstrip(".").lower()
    if not host:
        return "The URL has no host.", []
    if host == "localhost" or host.endswith(".localhost"):
        return "Webhooks cannot be sent to localhost.", []
    # Every address form, IPv6 ones embedding IPv4 included, normalised (payments.ssrf).
    literal = ssrf.parse(unquote(host))
    if literal is not None:
        if not ssrf.is_public(literal):
            return "Webhooks must go to a public address, not a private or reserved one.", []
        return None, [str(literal)] if resolve else []
    if not resolve:
        return None, []
    try:
        # Resolve the name exactly as httpx would send it (IDNA 2008, as `_PinnedBackend` sees it).
        name = httpx.URL(url).raw_host.decode("ascii")
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except httpx.InvalidURL as exc:
        return f"The URL is not valid ({exc}).", []
    except (OSError, UnicodeError) as exc:
        return f"The host {host} could not be resolved ({exc}).", []
    addresses = list(dict.fromkeys(info[4][0].split("%")[0] for info in infos))
    if not addresses:
        return f"The host {host} could not be resolved (no addresses).", []
    # One private answer refuses the whole host: a name that mixes them is not a public receiver.
    if not all(ssrf.is_public(address) for address in addresses):
        return f"The host {host} resolves to a private or reserved address.", []
    return None, addresses


class _PinnedBackend(httpcore.NetworkBackend):
    """Dials only the addresses vetted for one host. httpcore hands the URL's host name to
    connect_tcp and, separately, to TLS as the SNI/verification name; replacing only the
    dial keeps the name everywhere else while the name is never resolved a second time."""

    def __init__(self, *, host: str, addresses: list[str]):
        self._host, self._addresses = host.lower(), addresses
        self._tcp = httpcore.SyncBackend()

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        if host.lower() != self._host:
            raise httpcore.ConnectError(f"Not connecting to {host}: only {self._host} was vetted.")
        # Like socket.create_connection, fall back through the addresses in resolver order,
        # but within one connect timeout in all, so the delivery's lease cannot run out.
        deadline = None if timeout is None else time.monotonic() + timeout
        error: Exception | None = None
        for address in self._addresses:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                break
            try:
                return self._tcp.connect_tcp(
                    address, port, timeout=remaining, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        raise error or httpcore.ConnectTimeout(f"Timed out connecting to {self._host}.")

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise httpcore.ConnectError("Webhooks are only sent over TCP.")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class _PinnedTransport(httpx.HTTPTransport):
    def __init__(self, *, host: str, addresses: list[str]):
        super().__init__()
        # HTTPTransport takes no network backend, so swap its pool for one that has ours
        # (same defaults: HTTP/1.1, certificate verification on).
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            network_backend=_PinnedBackend(host=host, addresses=addresses),
        )


def delivery_client(url: str, addresses: list[str], *, timeout: float) -> httpx.Client:
    if not addresses:  # private hosts allowed: httpx resolves the name itself, as before
        return httpx.Client(timeout=timeout, follow_redirects=False)
    host = httpx.URL(url).raw_host.decode("ascii")
    # An explicit transport also turns off HTTP(S)_PROXY from the environment: a proxy would
    # resolve the name itself and undo the pinning.
    return httpx.Client(
        timeout=timeout, follow_redirects=False, transport=_PinnedTransport(host=host, addresses=addresses)
    )


SECRET_PREFIX = "whsec_"


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def secret_bytes(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(*, secret: str, msg_id: str, timestamp: int, body: str) -> str:
    digest = hmac.new(secret_bytes(secret), f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signing_secrets(endpoint: WebhookEndpoint, *, now=None) -> list[str]:
    """The current secret, plus the previous one while its grace period lasts."""
    now = now or timezone.now()
    result = [endpoint.secret]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and expires > now:
        result.append(endpoint.previous_secret)
    return result


def signature_header(*, secrets: list[str], msg_id: str, timestamp: int, body: str) -> str:
    return " ".join(sign(secret=secret, msg_id=msg_id, timestamp=timestamp, body=body) for secret in secrets)


def encode_body(payload: dict) -> str:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def _config(name: str):
    return settings.ENTREPOT["PAYMENTS"][name]
