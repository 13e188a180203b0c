"""Who is asking: the client's address as rate limits count it.

X-Forwarded-For is believed only when the connection comes from a configured proxy (SIMKEEP_TRUSTED_PROXIES),
and then only as far as the proxies that added it: anyone can write the header, so the rightmost address that is
not a trusted proxy is the client. An IPv6 client counts by its /64, the block one subscriber line gets: rotating
addresses inside it must not multiply the budget.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from starlette.requests import HTTPConnection, Request

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=16)
def parse_networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(cidr.strip(), strict=False) for cidr in cidrs if cidr.strip())


def client_address(request: HTTPConnection, trusted_proxies: tuple[str, ...] = ()) -> str:
    """The client's address, after stripping the trusted proxies in front of simkeep."""
    peer = request.client.host if request.client else ""
    proxies = parse_networks(tuple(trusted_proxies))
    if not proxies or not _within(peer, proxies):
        return peer
    hops = [hop.strip() for value in request.headers.getlist("x-forwarded-for") for hop in value.split(",")]
    for hop in reversed([h for h in hops if h]):
        if not _within(hop, proxies):
            return hop
    return peer


def rate_key(address: str) -> str:
    """What a rate limit counts: the IPv4 address, or the IPv6 /64 it belongs to."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def client_key(request: Request, trusted_proxies: tuple[str, ...] = ()) -> str:
    return rate_key(client_address(request, trusted_proxies))


def _within(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks if net.version == ip.version)
