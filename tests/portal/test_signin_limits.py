"""Per-address limits (an IPv6 /64 is one address, proxies believed only when configured, counters shared through
Redis) and the code page's budget: tries left, then when they come back and the ways that remain."""

from __future__ import annotations

import html
import re
import socket
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert

from simkeep.core.ids import new_id
from simkeep.main import create_app
from simkeep.otp.models import OtpFailure
from tests.factories.lines import make_line
from tests.portal import helpers as h


def ask(client: TestClient, msisdn: str, forwarded: str | None = None) -> int:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    token = h.csrf(client)
    return client.post("/signin", data={"msisdn": msisdn, "csrf_token": token}, headers=headers).status_code


def numbers(n: int) -> list[str]:
    return [f"+336{10_000_000 + i:08d}" for i in range(n)]


@pytest.fixture
def cfg(settings):
    return settings.model_copy(update={"trusted_proxies": ("10.0.0.0/8",)})


def test_twenty_one_addresses_of_one_64_count_as_one(cfg, db):
    with TestClient(create_app(cfg, db), follow_redirects=False, client=("10.0.0.1", 4000)) as proxy_side:
        same_block = [ask(proxy_side, n, f"2001:db8:aa:bb:{i:x}::{i + 1:x}") for i, n in enumerate(numbers(21))]
        other_blocks = [ask(proxy_side, n, f"2001:db8:cc:{i:x}::1") for i, n in enumerate(numbers(21))]
    assert same_block == [303] * 20 + [429]
    assert other_blocks == [303] * 21


def test_forwarded_for_from_an_untrusted_peer_is_not_believed(cfg, db):
    with TestClient(create_app(cfg, db), follow_redirects=False, client=("203.0.113.9", 4000)) as stranger:
        answers = [ask(stranger, n, f"198.51.100.{i}") for i, n in enumerate(numbers(21))]
    assert answers == [303] * 20 + [429]


def redis_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
        return True
    except OSError:
        return False


@pytest.mark.skipif(not redis_up(), reason="no Redis on 127.0.0.1:6379")
def test_two_processes_share_their_counters_through_redis(cfg, db):
    import redis

    prefix = f"simkeep-test-{uuid.uuid4().hex}"
    shared = cfg.model_copy(update={"rate_limit_storage": "redis://127.0.0.1:6379", "rate_limit_prefix": prefix})
    try:
        with (TestClient(create_app(shared, db), follow_redirects=False, client=("192.0.2.7", 1)) as one,
              TestClient(create_app(shared, db), follow_redirects=False, client=("192.0.2.7", 2)) as two):
            answers = [ask(one if i % 2 else two, n) for i, n in enumerate(numbers(21))]
        assert answers == [303] * 20 + [429]
        assert any(k.startswith(prefix.encode()) for k in redis.Redis().keys(f"{prefix}*"))
    finally:
        client = redis.Redis()
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
    assert list(redis.Redis().scan_iter(f"{prefix}*")) == []


def code_page(client: TestClient) -> str:
    return page_of(client.get("/signin/code").text)


def page_of(text: str) -> str:
    main = re.search(r"<main[^>]*>(.*)</main>", text, re.S).group(1)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", main)))


def test_the_code_page_counts_down_then_says_when_and_what_else(cfg, db, monkeypatch):
    at = datetime(2027, 3, 2, 9, 15, tzinfo=UTC)
    monkeypatch.setattr("simkeep.core.clock.now", lambda: at)
    make_line(db, now=at)
    with TestClient(create_app(cfg, db), follow_redirects=False, headers={"Accept-Language": "fr"},
                    cookies={"tz": "Asia/Shanghai"}) as reader:
        ask(reader, h.MSISDN)
        assert "Il vous reste 5 essais." in code_page(reader)
        code = h.latest_code(db)
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        answer = reader.post("/signin/code", data={"code": wrong, "csrf_token": h.csrf(reader)})
        assert answer.status_code == 422 and 'data-remaining="4"' in answer.text
        assert "Il vous reste 4 essais." in page_of(answer.text)  # said with the wrong code's answer
        assert "Il vous reste 4 essais." in code_page(reader)
        # A malformed code is neither compared nor counted.
        reader.post("/signin/code", data={"code": "12ab", "csrf_token": h.csrf(reader)})
        assert 'data-remaining="4"' in reader.get("/signin/code").text
        # Seven wrong codes were typed since yesterday (by anyone): the number's budget leaves this code 2 tries.
        with db.transaction() as session:
            session.execute(insert(OtpFailure.__table__), [
                {"id": new_id(), "msisdn": h.MSISDN, "at": at - timedelta(hours=23 - k)} for k in range(7)])
        assert "Il vous reste 2 essais." in code_page(reader)
        answer = reader.post("/signin/code", data={"code": wrong, "csrf_token": h.csrf(reader)})
        assert "Il vous reste 1 essai." in page_of(answer.text)
        # One more (the tenth), and the budget is spent.
        with db.transaction() as session:
            session.execute(insert(OtpFailure.__table__), [{"id": new_id(), "msisdn": h.MSISDN,
                                                              "at": at - timedelta(hours=16)}])
        page = code_page(reader)
        assert 'name="code"' not in reader.get("/signin/code").text  # no form: nothing would be checked
    assert "Trop de codes erronés ont été saisis pour ce numéro. La connexion par code est suspendue." in page
    # The oldest of them stops counting 24 hours after it was typed: 10:15 UTC, 18:15 in Shanghai.
    assert ("Vous pourrez de nouveau vous connecter avec un code à partir du 2 mars 2027 18:15 "
            "(heure : Chine (Shanghai))" in page), page
    assert "Rechargez ce numéro tout de suite sans vous connecter" in page and "Rechargez en boutique" in page
    assert "Appelez le service client indiqué sur l'emballage de votre carte SIM." in page
