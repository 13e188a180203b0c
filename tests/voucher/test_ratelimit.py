"""Brute force on recharge card PINs: every try is counted before any lookup, per address (the portal's
`RateLimits.may_try_voucher`) and per API key (the JSON API), in memory or shared by every process through Redis."""

from __future__ import annotations

import socket
import uuid

import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request

from simkeep.main import create_app
from simkeep.web.ratelimit import RateLimits
from tests.conftest import ADMIN_TOKEN, T0
from tests.factories.lines import make_line
from tests.factories.snapshot import snapshot
from tests.factories.vouchers import make_reseller, sold_cards
from tests.voucher import failures, post_redeem
from tests.web import error, freeze_clock


def request_from(address: str) -> Request:
    return Request({"type": "http", "method": "POST", "path": "/renew/card", "headers": [],
                    "client": (address, 40000)})


def test_an_address_may_try_its_budget_of_pins_then_waits(settings):
    limits = RateLimits(settings.model_copy(update={"voucher_redemptions_per_ip": "3 per hour"}))
    home = request_from("192.0.2.10")
    assert limits.voucher_ip_wait(home) == 0
    assert [limits.may_try_voucher(home) for _ in range(4)] == [True, True, True, False]
    assert 3590 <= limits.voucher_ip_wait(home) <= 3600
    assert limits.may_try_voucher(request_from("192.0.2.11"))  # another address has its own budget
    assert limits.voucher_ip_wait(request_from("192.0.2.11")) == 0


def test_addresses_of_one_ipv6_64_share_a_budget(settings):
    limits = RateLimits(settings.model_copy(update={"voucher_redemptions_per_ip": "3 per hour"}))
    tries = [limits.may_try_voucher(request_from(f"2001:db8:aa:bb::{i + 1:x}")) for i in range(4)]
    assert tries == [True, True, True, False]
    assert limits.may_try_voucher(request_from("2001:db8:aa:cc::1"))


def test_a_key_may_try_its_budget_then_waits_and_other_keys_do_not(settings):
    limits = RateLimits(settings.model_copy(update={"voucher_redemptions_per_key": "2 per minute"}))
    assert [limits.voucher_key_wait("key:a") for _ in range(2)] == [0, 0]
    wait = limits.voucher_key_wait("key:a")
    assert 55 <= wait <= 60
    assert limits.voucher_key_wait("key:b") == 0
    assert 55 <= limits.voucher_key_wait("key:a") <= 60  # still refused: a refused try is not counted


def redis_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
        return True
    except OSError:
        return False


@pytest.mark.skipif(not redis_up(), reason="no Redis on 127.0.0.1:6379")
def test_two_processes_share_the_counts_through_redis(settings, db, monkeypatch):
    import redis

    freeze_clock(monkeypatch, T0)
    make_line(db, now=T0)
    make_reseller(db, now=T0)
    cards = sold_cards(db, quantity=5, now=T0)
    prefix = f"simkeep-test-{uuid.uuid4().hex}"
    shared = settings.model_copy(update={"rate_limit_storage": "redis://127.0.0.1:6379", "rate_limit_prefix": prefix,
                                         "voucher_redemptions_per_key": "3 per minute",
                                         "voucher_redemptions_per_ip": "2 per hour"})
    try:
        # Two RateLimits, as two server processes have: a try counted by one is counted by the other.
        one, two = RateLimits(shared), RateLimits(shared)
        home = request_from("198.51.100.7")
        assert [one.may_try_voucher(home), two.may_try_voucher(home), one.may_try_voucher(home)] == [
            True, True, False]
        assert two.voucher_ip_wait(home) > 0
        # And through the API: three redemptions by one key, alternately on two apps, then 429 on either.
        auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        with (TestClient(create_app(shared, db), headers=auth) as first,
              TestClient(create_app(shared, db), headers=auth) as second):
            answers = [post_redeem(app, cards[i][1], key=f"k{i}").status_code
                       for i, app in enumerate((first, second, first))]
            assert answers == [201, 201, 201]
            before = snapshot(db)
            assert error(post_redeem(second, cards[3][1], key="k3")) == (429, "rate_limited")
            assert error(post_redeem(first, cards[3][1], key="k3")) == (429, "rate_limited")
            assert snapshot(db) == before
        assert any(k.startswith(prefix.encode()) for k in redis.Redis().keys(f"{prefix}*"))
    finally:
        client = redis.Redis()
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
    assert list(redis.Redis().scan_iter(f"{prefix}*")) == []
    assert failures(db) == 0
