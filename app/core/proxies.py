"""Who the client is, and whether it came over HTTPS, when reverse proxies stand in between.

`X-Forwarded-For` is a list each proxy appends to: the entries on its left were written by
whoever sent the request, the client included, so only the entries added by our own proxies
can be believed. We read it from the right, skip the addresses of our trusted proxies
(`TRUSTED_PROXIES`), and take the first one that is not: the address our outermost proxy
saw. The header is ignored unless `TRUST_FORWARDED_FOR` is on and the peer itself is one of
the trusted proxies. The rate limits and the audit trail both ask `client_address`."""

import ipaddress
from functools import lru_cache
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

from starlette.types import Scope

from app.core.settings import Settings

Network = IPv4Network | IPv6Network
MAX_ADDRESS_LENGTH = 45  # the audit trail's column


@lru_cache(maxsize=16)
def trusted_networks(spec: str) -> tuple[Network, ...]:
    """'127.0.0.1, ::1, 10.0.0.0/8' → networks. Checked when the settings are read."""
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in spec.split(",") if part.strip())


def _parse(address: str) -> IPv4Address | IPv6Address | None:
    address = address.strip()
    if address.startswith("[") and "]" in address:  # "[2001:db8::1]:443"
        address = address[1 : address.index("]")]
    elif address.count(":") == 1:  # "192.0.2.1:5678"
        address = address.split(":", 1)[0]
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return None
    if isinstance(parsed, IPv6Address) and parsed.ipv4_mapped is not None:
        return parsed.ipv4_mapped
    return parsed


def _is_trusted(address: IPv4Address | IPv6Address | None, networks: tuple[Network, ...]) -> bool:
    return address is not None and any(address in network for network in networks)


def _peer(scope: Scope) -> str | None:
    client = scope.get("client")
    return client[0] if client else None


def peer_is_trusted_proxy(scope: Scope, settings: Settings) -> bool:
    peer = _peer(scope)
    return peer is not None and _is_trusted(_parse(peer), trusted_networks(settings.trusted_proxies))


def client_address(scope: Scope, settings: Settings) -> str | None:
    """The client's address: the peer's, or behind trusted proxies the rightmost untrusted hop."""
    peer = _peer(scope)
    if peer is None:
        return None
    if not settings.trust_forwarded_for or not peer_is_trusted_proxy(scope, settings):
        return peer[:MAX_ADDRESS_LENGTH]
    entries = [
        entry
        for name, value in scope.get("headers", ())
        if name == b"x-forwarded-for"
        for entry in value.decode("latin-1").split(",")
    ]
    networks = trusted_networks(settings.trusted_proxies)
    nearest = peer  # the last trusted hop seen so far
    for entry in reversed(entries):
        address = _parse(entry)
        if address is None:
            # Not an address: no proxy of ours wrote it. Count the request against the hop
            # that handed it over rather than believe it.
            break
        if not _is_trusted(address, networks):
            return str(address)
        nearest = str(address)
    return nearest[:MAX_ADDRESS_LENGTH]


def is_https(scope: Scope, settings: Settings, public_https: bool) -> bool:
    """HTTPS end to end as far as the browser is concerned: served over TLS here, or behind a
    trusted proxy of a deployment whose PUBLIC_URL is https (the proxy terminated TLS)."""
    return scope.get("scheme") == "https" or (public_https and peer_is_trusted_proxy(scope, settings))
