"""The SSRF guard's address rule: which IP addresses a webhook may be sent to.

An address is accepted only if it is globally routable unicast. Python's `ipaddress` knows
the IANA special-purpose registries, but its `is_global` takes several IPv6 forms at face
value that carry an IPv4 address a network delivers to: `64:ff9b::10.0.0.1` (NAT64) is
"global" although the NAT64 gateway connects to 10.0.0.1. So every IPv6 form that embeds
an IPv4 address is first normalised to that IPv4 address (or refused outright where the
form itself is deprecated or local), and then the rule is applied to the result:

| IPv6 form | prefix | what is done |
|---|---|---|
| IPv4-mapped | `::ffff:0:0/96` | the embedded IPv4 address is checked |
| IPv4-translated (SIIT) | `::ffff:0:0:0/96` | the embedded IPv4 address is checked |
| IPv4-compatible (deprecated) | `::/96` | the embedded IPv4 address is checked |
| NAT64 well-known prefix | `64:ff9b::/96` | the embedded IPv4 address is checked |
| NAT64 local-use prefix | `64:ff9b:1::/48` | refused: local to one network |
| 6to4 | `2002::/16` | the embedded IPv4 address is checked |
| Teredo | `2001::/32` | refused: not globally reachable |
| site-local (deprecated) | `fec0::/10` | refused |
| anything outside global unicast | not in `2000::/3` | refused |

IPv4 (given or embedded) must be `is_global` and neither multicast nor the deprecated
6to4 relay anycast block. Scoped addresses (`fe80::1%eth0`) are refused. This is written
by hand on `ipaddress` (the standard library): the maintained URL-fetching guards are
built into other HTTP clients (requests), while deliveries go out through httpx pinned to
the vetted addresses (payments.webhooks)."""

import ipaddress
import re
import socket

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

IPV4_MAPPED = ipaddress.ip_network("::ffff:0:0/96")
IPV4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")
NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
SIX_TO_FOUR = ipaddress.ip_network("2002::/16")
TEREDO = ipaddress.ip_network("2001::/32")
SITE_LOCAL = ipaddress.ip_network("fec0::/10")
GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")
# Not global, though this Python's registry does not say so yet.
V6_NOT_GLOBAL = (ipaddress.ip_network("3fff::/20"),)  # documentation (RFC 9637)
V4_NOT_GLOBAL = (ipaddress.ip_network("192.88.99.0/24"),)  # 6to4 relay anycast (deprecated, RFC 7526)

# (network, where its IPv4 address sits: "last32" or "6to4" (bits 16-47); None: refused outright)
_EMBEDDING = (
    (IPV4_MAPPED, "last32"),
    (IPV4_TRANSLATED, "last32"),
    (NAT64_WELL_KNOWN, "last32"),
    (NAT64_LOCAL, None),
    (SIX_TO_FOUR, "6to4"),
    (TEREDO, None),
    (SITE_LOCAL, None),
)


def parse(text: str) -> IPAddress | None:
    """An IP address from a URL host or a resolver answer, or None for a name. Accepts the
    legacy IPv4 spellings resolvers still honour (`2130706433`, `0x7f.1`, `127.1`)."""
    text = text.strip().strip("[]")
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    if _LEGACY_IPV4.fullmatch(text):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(text))
        except OSError:
            return None
    return None


_LEGACY_IPV4 = re.compile(r"(0[xX][0-9a-fA-F]*|[0-9]+)(\.(0[xX][0-9a-fA-F]*|[0-9]+)){0,3}")


def normalise(address: IPAddress) -> IPAddress | None:
    """The address a connection to `address` reaches: the IPv4 address embedded in an
    IPv6 form, else `address` itself; None for a form that is refused whatever it embeds."""
    if address.version == 4:
        return address
    if address.scope_id:
        return None
    if address in IPV4_COMPATIBLE and int(address) > 1:  # "::" and "::1" are themselves
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    for network, embedding in _EMBEDDING:
        if address in network:
            if embedding is None:
                return None
            if embedding == "6to4":
                return ipaddress.IPv4Address((int(address) >> 80) & 0xFFFFFFFF)
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def is_public(address: str | IPAddress) -> bool:
    """True only for a globally routable unicast address, once normalised (see above)."""
    if isinstance(address, str):
        address = parse(address)
        if address is None:
            return False
    target = normalise(address)
    if target is None or target.is_multicast or not target.is_global:
        return False
    if target.version == 4:
        return not any(target in network for network in V4_NOT_GLOBAL)
    return target in GLOBAL_UNICAST and not any(target in network for network in V6_NOT_GLOBAL)
