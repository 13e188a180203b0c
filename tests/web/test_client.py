"""The client address rate limits count: proxies believed only when configured, IPv6 counted by /64."""

import pytest
from starlette.requests import Request

from simkeep.web.client import client_address, client_key, rate_key


def request(peer: str, forwarded: str | None = None) -> Request:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    return Request({"type": "http", "client": (peer, 1234), "headers": headers})


def test_forwarded_for_is_ignored_without_a_trusted_proxy():
    assert client_address(request("203.0.113.7", "198.51.100.1")) == "203.0.113.7"


def test_forwarded_for_from_a_stranger_is_ignored_even_when_proxies_are_configured():
    assert client_address(request("203.0.113.7", "198.51.100.1"), ("10.0.0.0/8",)) == "203.0.113.7"


def test_the_rightmost_untrusted_hop_is_the_client():
    # The client wrote a fake first hop; the proxy appended what it saw.
    forwarded = "1.2.3.4, 198.51.100.9, 10.0.0.2"
    assert client_address(request("10.0.0.1", forwarded), ("10.0.0.0/8",)) == "198.51.100.9"


def test_only_proxies_in_the_chain_gives_the_peer():
    assert client_address(request("10.0.0.1", "10.0.0.3"), ("10.0.0.0/8",)) == "10.0.0.1"


@pytest.mark.parametrize(("address", "key"), [
    ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
    ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
    ("::ffff:192.0.2.5", "192.0.2.5"),
    ("192.0.2.5", "192.0.2.5"),
    ("not-an-address", "not-an-address"),
])
def test_rate_key(address, key):
    assert rate_key(address) == key


def test_client_key_counts_one_v6_block_as_one_client():
    keys = {client_key(request(f"2001:db8:7:7::{i:x}")) for i in range(1, 22)}
    assert keys == {"2001:db8:7:7::/64"}
