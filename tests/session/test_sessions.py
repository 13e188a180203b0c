"""Server-side sessions, attacked from the browser's side: forged, foreign, replayed, fixed and expired cookies."""

from __future__ import annotations

import hashlib
import json
import re
from base64 import b64encode
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import itsdangerous
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select

from simkeep.main import create_app
from simkeep.notification.models import OutboxMessage
from simkeep.session import service as sessions
from simkeep.session.models import WebSession
from simkeep.session.tasks import purge_expired_sessions
from simkeep.web.sessions import COOKIE
from tests.factories.lines import make_line
from tests.factories.sessions import POLICY, open_session
from tests.factories.snapshot import count
from tests.web import FrozenClock, freeze_clock

MSISDN = "+33612345678"
SHOWN = "+33 6 12 34 56 78"


@pytest.fixture
def clock(monkeypatch) -> FrozenClock:
    return freeze_clock(monkeypatch, datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def web(settings, db) -> Iterator[TestClient]:
    make_line(db, now=datetime.now(UTC))
    with TestClient(create_app(settings, db), follow_redirects=False) as client:
        yield client


def sees_the_line(client: TestClient) -> bool:
    page = client.get("/lines")
    if page.status_code == 303:
        assert page.headers["location"] == "/signin?next=/lines"
        return False
    assert page.status_code == 200
    return SHOWN in page.text


def set_cookie_header(response) -> str:
    return "; ".join(v for k, v in response.headers.multi_items() if k == "set-cookie")


def test_the_cookie_holds_only_a_random_id_and_the_table_only_its_hash(web, db):
    token = open_session(db, web, {"numbers": [MSISDN]})
    assert sees_the_line(web)
    assert len(token) == 43 and MSISDN not in token
    with db.transaction(write=False) as session:
        [row] = session.scalars(select(WebSession)).all()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest() and token not in row.token_hash
    assert row.data["numbers"] == [MSISDN] and set(row.data) == {"numbers", "csrf"}  # the page added its CSRF token


def old_starlette_cookie(secret: str) -> str:
    """The signed cookie the previous release issued, made with the (then public) key."""
    payload = b64encode(json.dumps({"numbers": [MSISDN], "staff": "Eve"}).encode())
    return itsdangerous.TimestampSigner(secret).sign(payload).decode()


@pytest.mark.parametrize("forge", ["random id", "old signed cookie", "old default key", "another deployment",
                                   "hash as id", "garbage", "huge"])
def test_a_forged_or_foreign_cookie_gets_a_fresh_empty_session(web, db, settings, tmp_path, forge):
    real = open_session(db, web, {"numbers": [MSISDN]})
    web.cookies.clear()
    value = {
        "random id": sessions.secrets.token_urlsafe(32),
        "old signed cookie": old_starlette_cookie(settings.key("session")),
        "old default key": old_starlette_cookie("change-me-in-production"),
        "another deployment": sessions.secrets.token_urlsafe(32),  # genuine elsewhere, unknown here
        "hash as id": hashlib.sha256(real.encode()).hexdigest(),  # what a copy of the table gives
        "garbage": "ab$%^&*()!~" * 5,
        "huge": "A" * 4000,
    }[forge]
    web.cookies.set(COOKIE, value)
    before = count(db, WebSession)
    answer = web.get("/lines")
    assert answer.status_code == 303 and answer.headers["location"] == "/signin?next=/lines"
    assert f"{COOKIE}=;" in set_cookie_header(answer)  # the dead cookie is cleared, nothing is created
    assert count(db, WebSession) == before
    page = web.get("/signin")  # a page that needs a session gets a brand-new one
    assert page.status_code == 200
    new_token = re.search(rf"{COOKIE}=([^;]+)", set_cookie_header(page)).group(1)
    assert new_token not in (value, real)


def test_a_replayed_cookie_after_signout_opens_nothing(web, db):
    token = open_session(db, web, {"numbers": [MSISDN], "csrf": "t0k"})
    assert sees_the_line(web)
    out = web.post("/signout", data={"csrf_token": "t0k"})
    assert out.status_code == 303 and f"{COOKIE}=;" in set_cookie_header(out)
    assert count(db, WebSession) == 0
    web.cookies.clear()
    web.cookies.set(COOKIE, token)  # the attacker kept a copy
    assert not sees_the_line(web)
    assert count(db, WebSession) == 0


def portal_sign_in(client: TestClient, db) -> str:
    """Through the pages: ask for a code, type it. Returns the CSRF token."""
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/signin").text).group(1)
    assert client.post("/signin", data={"msisdn": MSISDN, "csrf_token": csrf}).status_code == 303
    with db.transaction(write=False) as session:
        code = session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "otp.code")).one().payload["code"]
    assert client.post("/signin/code", data={"code": code, "csrf_token": csrf}).headers["location"] == "/lines"
    return csrf


def test_a_cookie_planted_before_sign_in_does_not_survive_it(web, db):
    web.get("/signin")
    planted = web.cookies[COOKIE]  # e.g. set by the attacker on a shared computer, or read before sign-in
    portal_sign_in(web, db)
    assert web.cookies[COOKIE] != planted
    assert sees_the_line(web)
    with TestClient(web.app, follow_redirects=False) as attacker:
        attacker.cookies.set(COOKIE, planted)
        assert not sees_the_line(attacker)
    assert count(db, WebSession) == 1


def test_portal_sessions_expire_when_idle_and_after_fourteen_days(web, db, settings, clock):
    open_session(db, web, {"numbers": [MSISDN]}, now=clock())
    clock.advance(minutes=119)
    assert sees_the_line(web)  # seen: the idle clock starts again
    clock.advance(minutes=119)
    assert sees_the_line(web)
    clock.advance(minutes=121)
    assert not sees_the_line(web)  # two hours without a request

    assert settings.session_idle_minutes == 120 and settings.session_absolute_hours == 14 * 24


def test_a_portal_session_in_use_all_along_still_ends_after_fourteen_days(settings, db, clock):
    make_line(db, now=datetime.now(UTC))
    cfg = settings.model_copy(update={"session_idle_minutes": 3 * 24 * 60})  # only the absolute limit in play
    with TestClient(create_app(cfg, db), follow_redirects=False) as web:
        start = clock()
        open_session(db, web, {"numbers": [MSISDN]}, now=start,
                     policy=sessions.Policy(idle=timedelta(days=3), absolute=timedelta(days=14)))
        for _ in range(13):
            clock.advance(days=1)
            assert sees_the_line(web)
        clock.at = start + timedelta(days=14) - timedelta(seconds=1)
        assert sees_the_line(web)
        clock.advance(seconds=1)
        assert not sees_the_line(web)


def test_a_page_view_costs_one_read_and_writes_only_what_changed(web, db, clock):
    open_session(db, web, {"numbers": [MSISDN], "csrf": "t0k"}, now=clock())
    statements: list[str] = []
    listener = lambda *args: statements.append(args[2].split()[0])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        def session_statements(path: str) -> list[str]:
            statements.clear()
            web.get(path)
            return [s for s in statements if s in ("SELECT", "UPDATE", "INSERT", "DELETE")]

        clock.advance(seconds=30)
        seen = session_statements("/signin")
        assert seen.count("SELECT") >= 1 and "UPDATE" not in seen and "INSERT" not in seen
        clock.advance(seconds=31)  # a minute since the last write: last_seen_at moves, once
        assert session_statements("/signin").count("UPDATE") == 1
        assert "UPDATE" not in session_statements("/signin")
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    with db.transaction(write=False) as session:
        [row] = session.scalars(select(WebSession)).all()
    assert row.last_seen_at == clock() and row.data == {"numbers": [MSISDN], "csrf": "t0k"}


def test_expired_sessions_are_purged_and_live_ones_kept(db, clock):
    now = clock()
    with db.transaction() as session:
        live, _ = sessions.create(session, data={}, policy=POLICY, now=now)
        _idle, _ = sessions.create(session, data={}, policy=POLICY, now=now - timedelta(hours=3))
        _old, _ = sessions.create(session, data={}, policy=sessions.Policy(idle=timedelta(days=30),
                                                                            absolute=timedelta(days=14)),
                                 now=now - timedelta(days=15))
    assert purge_expired_sessions(db, now=now, batch=1) == 2
    with db.transaction(write=False) as session:
        assert session.scalars(select(WebSession.id)).all() == [live.id]


def test_the_secure_flag_follows_the_public_url(settings, db):
    for public_url, secure in (("https://simkeep.example", True), ("http://192.168.1.20:8000", False), (None, False)):
        cfg = settings.model_copy(update={"public_url": public_url})
        with TestClient(create_app(cfg, db), base_url="http://127.0.0.1:8000") as client:
            header = set_cookie_header(client.get("/signin"))
        assert ("; Secure" in header) is secure, header
        assert "HttpOnly" in header and "SameSite=Lax" in header and "Path=/" in header
