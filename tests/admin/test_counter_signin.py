"""The PIN pad on a counter tablet, as a store and an attacker use it: a manager registers the tablet, an agent
signs in with a PIN; wrong PINs count toward the account's lockout with the tries left said; a locked account, a
person of another store, a revoked tablet and a browser that is no tablet are refused; the store roles' password and
TOTP sign-ins lock out like everyone's."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from datetime import timedelta

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from simkeep.audit.models import AuditEntry
from simkeep.main import create_app
from simkeep.session.models import WebSession
from simkeep.staff.models import StaffAccount
from simkeep.store import devices
from simkeep.store.models import CounterDevice
from tests.conftest import T0
from tests.factories.counter import (
    COOKIE,
    PIN,
    error_of,
    make_store_person,
    on_tablet,
    post_pin,
    register_tablet,
    tries_of,
)
from tests.factories.staff import PASSWORD, csrf_of, sign_in
from tests.factories.stores import make_store
from tests.web import FrozenClock, freeze_clock

LOCKED = "Too many failed attempts: this account is locked for a while. Try again later or ask an admin."


@pytest.fixture
def clock(monkeypatch) -> FrozenClock:
    return freeze_clock(monkeypatch, T0)


@pytest.fixture
def web(settings, db, clock) -> Iterator[TestClient]:
    with TestClient(create_app(settings, db), follow_redirects=False) as client:
        yield client


@pytest.fixture
def shop(db, settings, clock):
    """Belleville with its manager mia and its agent li (PIN 2580), and a tablet registered there."""
    store = make_store(db, now=T0)
    mia = make_store_person(db, settings, store, username="mia", role="store_manager", pin="1357", now=T0)
    li = make_store_person(db, settings, store, username="li", now=T0)
    device, token = register_tablet(db, settings, store, now=T0, by="staff:mia")
    return store, mia, li, device, token


def audit_rows(db, action: str) -> list[tuple]:
    with db.transaction(write=False) as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.action == action)
                               .order_by(AuditEntry.at, AuditEntry.id)).all()
    return [(r.actor, r.subject_id, r.reason, r.details) for r in rows]


def account(db, staff) -> StaffAccount:
    with db.transaction(write=False) as session:
        return session.get(StaffAccount, staff.id)


def staff_sessions(db) -> list[tuple]:
    with db.transaction(write=False) as session:
        rows = session.scalars(select(WebSession).where(WebSession.staff_id.is_not(None))).all()
    return [(r.staff_id, r.idle_expires_at, r.expires_at, r.data.get("counter_device")) for r in rows]


def test_a_manager_registers_this_tablet_and_an_agent_signs_in_with_a_pin(web, db, settings, clock):
    store = make_store(db, now=T0)
    mia = make_store_person(db, settings, store, username="mia", role="store_manager", now=T0)
    li = make_store_person(db, settings, store, username="li", now=T0)
    sign_in(web, db, mia)
    page = web.get("/counter/devices")
    assert page.status_code == 200 and "No tablet is registered for this store yet." in page.text
    answer = web.post("/counter/devices", data={"name": "  Counter   1 ", "csrf_token": csrf_of(page.text)})
    assert answer.status_code == 303 and answer.headers["location"] == "/counter/devices?done=registered"
    cookie = answer.headers["set-cookie"]
    token = cookie.split(";")[0].removeprefix(f"{COOKIE}=")
    assert len(token) == 43
    assert sorted(part.strip() for part in cookie.split(";")[1:]) == [
        "HttpOnly", "Max-Age=34560000", "Path=/counter", "SameSite=strict"]  # no Secure over plain http
    with db.transaction(write=False) as session:
        [device] = session.scalars(select(CounterDevice)).all()
    expected = hmac.new(settings.key("counter_device").encode(), token.encode(), hashlib.sha256).hexdigest()
    assert (device.store_id, device.name, device.token_hash, device.registered_by, device.registered_at,
            device.last_used_at, device.revoked_at) == (store.id, "Counter 1", expected, "staff:mia", T0, None, None)
    assert audit_rows(db, "store.device_registered") == [
        ("staff:mia", str(device.id), "counter tablet Counter 1 registered for PAR-BELLEVILLE",
         {"store": "PAR-BELLEVILLE"})]
    listed = web.get("/counter/devices?done=registered")
    assert "This tablet is registered: its PIN pad is at /counter/signin." in listed.text
    assert "Counter 1</strong> — this tablet" in listed.text

    # The manager hands the tablet over: "switch agent", then li's tile and PIN.
    switched = web.post("/counter/switch", data={"csrf_token": csrf_of(listed.text)})
    assert switched.headers["location"] == "/counter/signin"
    assert staff_sessions(db) == []
    tiles = web.get("/counter/signin")
    assert tiles.status_code == 200
    assert 'href="/counter/signin?user=li"' in tiles.text and 'href="/counter/signin?user=mia"' in tiles.text
    pad = web.get("/counter/signin?user=li")
    assert tries_of(pad.text) == "5 tries left before this account is locked for a while."
    clock.advance(minutes=5)
    signed = post_pin(web, "li", PIN)
    assert signed.status_code == 303 and signed.headers["location"] == "/counter"
    now = T0 + timedelta(minutes=5)
    assert staff_sessions(db) == [(li.id, now + timedelta(minutes=240), now + timedelta(hours=12), str(device.id))]
    with db.transaction(write=False) as session:
        assert session.get(CounterDevice, device.id).last_used_at == now
    assert audit_rows(db, "staff.signin")[-1] == (
        "staff:li", str(li.id), "PIN on counter tablet Counter 1", {"client": "testclient", "device": str(device.id)})
    assert account(db, li).last_signin_at == now


def test_the_tablet_cookie_is_secure_when_simkeep_is_served_over_https(db, settings, clock):
    store = make_store(db, now=T0)
    mia = make_store_person(db, settings, store, username="mia", role="store_manager", now=T0)
    secure = settings.model_copy(update={"public_url": "https://shop.example"})
    with TestClient(create_app(secure, db), base_url="https://testserver", follow_redirects=False) as web:
        sign_in(web, db, mia)
        token = csrf_of(web.get("/counter/devices").text)
        answer = web.post("/counter/devices", data={"name": "Caisse", "csrf_token": token})
    assert "Secure" in [part.strip() for part in answer.headers["set-cookie"].split(";")]


def test_wrong_pins_count_toward_the_lockout_and_say_the_tries_left(web, db, settings, clock, shop):
    _store, _mia, li, device, token = shop
    on_tablet(web, token)
    said = []
    for guess in ("0001", "0002", "0003", "0004"):
        answer = post_pin(web, "li", guess)
        assert answer.status_code == 401 and error_of(answer.text) == "This PIN is not right."
        said.append(tries_of(answer.text))
    assert said == ["4 tries left before this account is locked for a while.",
                    "3 tries left before this account is locked for a while.",
                    "2 tries left before this account is locked for a while.",
                    "1 try left before this account is locked for a while."]
    fifth = post_pin(web, "li", "0005")
    assert fifth.status_code == 423 and error_of(fifth.text) == LOCKED
    assert 'name="pin"' not in fifth.text  # no pad while locked
    right = post_pin(web, "li", PIN)
    assert right.status_code == 423 and error_of(right.text) == LOCKED
    assert staff_sessions(db) == []
    locked = account(db, li)
    assert (locked.failed_attempts, locked.locked_until) == (0, T0 + timedelta(minutes=15))
    details = {"client": "testclient", "device": str(device.id)}
    assert audit_rows(db, "staff.signin_failed") == [
        *[("staff:li", str(li.id), "wrong PIN", {**details, "failures": n}) for n in range(1, 6)],
        ("staff:li", str(li.id), "account locked", details)]
    assert audit_rows(db, "staff.locked") == [
        ("staff:li", str(li.id), "5 failed sign-ins", {**details, "until": (T0 + timedelta(minutes=15)).isoformat()})]

    clock.advance(minutes=14, seconds=59)
    assert post_pin(web, "li", PIN).status_code == 423
    clock.advance(seconds=1)
    assert post_pin(web, "li", PIN).headers["location"] == "/counter"


def test_pin_and_password_failures_share_one_count(web, db, settings, clock, shop):
    _store, _mia, li, _device, token = shop
    for n in range(2):
        page = web.get("/admin")
        answer = web.post("/admin", data={"username": "li", "password": f"wrong {n}", "csrf_token": csrf_of(page.text)})
        assert answer.status_code == 401
    on_tablet(web, token)
    assert tries_of(web.get("/counter/signin?user=li").text) == "3 tries left before this account is locked for a while."
    assert post_pin(web, "li", "9999").status_code == 401
    assert post_pin(web, "li", "9998").status_code == 401
    assert post_pin(web, "li", "9997").status_code == 423
    page = web.get("/admin")
    locked = web.post("/admin", data={"username": "li", "password": PASSWORD, "csrf_token": csrf_of(page.text)})
    assert locked.status_code == 423  # the PIN pad's lock holds on the password sign-in too
    assert account(db, li).locked_until == T0 + timedelta(minutes=15)


def test_a_person_of_another_store_is_refused_on_this_tablet_and_nothing_counts(web, db, settings, clock, shop):
    _store, _mia, _li, _device, token = shop
    other = make_store(db, now=T0, code="PAR-CHINATOWN", name="Chinatown Mobile", latitude=48.8262, longitude=2.3622)
    wu = make_store_person(db, settings, other, username="wu", now=T0)
    on_tablet(web, token)
    tiles = web.get("/counter/signin").text
    assert "?user=wu" not in tiles
    answer = post_pin(web, "wu", PIN)
    assert answer.status_code == 403 and error_of(answer.text) == "This person does not work at this tablet's store."
    assert account(db, wu).failed_attempts == 0 and staff_sessions(db) == []
    assert audit_rows(db, "staff.signin_failed")[-1][2] == "PIN on another store's counter tablet Counter 1"
    # wu's own store's tablet works.
    _other_device, other_token = register_tablet(db, settings, other, name="Comptoir", now=T0)
    on_tablet(web, other_token)
    assert post_pin(web, "wu", PIN).headers["location"] == "/counter"


def test_a_revoked_tablet_opens_nothing_and_its_sessions_end(web, db, settings, clock, shop):
    _store, _mia, li, device, token = shop
    on_tablet(web, token)
    assert post_pin(web, "mia", "1357").headers["location"] == "/counter"
    assert web.get("/counter/team").status_code == 200
    with db.transaction() as session:
        assert devices.revoke(session, device_id=device.id, store_id=device.store_id, by="staff:mia",
                              now=T0 + timedelta(minutes=1))
    ended = web.get("/counter/team")
    assert ended.status_code == 303 and ended.headers["location"] == "/counter/signin"
    assert staff_sessions(db) == []
    page = web.get("/counter/signin")
    assert page.status_code == 403 and "This tablet is not registered" in page.text
    failed_before = audit_rows(db, "staff.signin_failed")
    answer = post_pin(web, "li", PIN)
    assert answer.status_code == 403 and "This tablet is not registered" in answer.text
    assert audit_rows(db, "staff.signin_failed") == failed_before and account(db, li).failed_attempts == 0
    assert staff_sessions(db) == []


def test_a_browser_that_is_no_tablet_gets_the_way_to_the_password_sign_in(web, db, settings, clock, shop):
    _store, _mia, _li, _device, token = shop
    page = web.get("/counter/signin")
    assert page.status_code == 403
    assert "This tablet is not registered" in page.text and 'href="/admin"' in page.text
    answer = post_pin(web, "li", PIN)
    assert answer.status_code == 403 and staff_sessions(db) == []
    assert audit_rows(db, "staff.signin_failed") == [] and audit_rows(db, "staff.signin") == []
    web.cookies.set(COOKIE, token[:-1] + ("A" if token[-1] != "A" else "B"), domain="testserver.local",
                    path="/counter")  # a forged token
    assert web.get("/counter/signin").status_code == 403
    assert web.get("/counter/signin?user=li").status_code == 403


def test_a_one_time_password_must_be_changed_on_the_back_office_first(web, db, settings, clock):
    store = make_store(db, now=T0)
    li = make_store_person(db, settings, store, username="li", must_change_password=True, now=T0)
    _device, token = register_tablet(db, settings, store, now=T0)
    on_tablet(web, token)
    answer = post_pin(web, "li", PIN)
    assert answer.status_code == 403 and error_of(answer.text) == (
        "Choose your own password first: sign in on the back office with the one-time password you were given, "
        "then come back to this tablet.")
    assert staff_sessions(db) == [] and account(db, li).failed_attempts == 0


def test_only_the_stores_enabled_people_with_a_pin_get_a_tile(web, db, settings, clock, shop):
    store, _mia, _li, _device, token = shop
    make_store_person(db, settings, store, username="nopin", pin=None, now=T0)
    gone = make_store_person(db, settings, store, username="gone", now=T0)
    with db.transaction() as session:
        session.get(StaffAccount, gone.id).disabled_at = T0
    on_tablet(web, token)
    tiles = web.get("/counter/signin").text
    assert [name for name in ("li", "mia", "nopin", "gone") if f"?user={name}\"" in tiles] == ["li", "mia"]
    assert post_pin(web, "gone", PIN).status_code == 401  # disabled: the generic refusal
    answer = post_pin(web, "nopin", PIN)
    assert answer.status_code == 409 and error_of(answer.text) == "You have no PIN yet: ask your store manager to set one."


def test_the_per_address_throttle_stops_pin_guessing(db, settings, clock, shop):
    _store, _mia, _li, _device, token = shop
    tight = settings.model_copy(update={"staff_signins_per_ip": "3 per 15 minutes"})
    with TestClient(create_app(tight, db), follow_redirects=False) as web:
        on_tablet(web, token)
        for guess in ("1111", "2222", "3333"):
            assert post_pin(web, "li", guess).status_code == 401
        throttled = post_pin(web, "mia", "1357")  # the right PIN, from a guessing address
        assert throttled.status_code == 429
        assert error_of(throttled.text) == "Too many attempts. Please wait a few minutes and try again."
    assert staff_sessions(db) == []


def test_switch_agent_signs_out_and_a_password_sign_in_on_the_tablet_is_no_counter_session(web, db, settings,
                                                                                          clock, shop):
    _store, mia, li, _device, token = shop
    on_tablet(web, token)
    assert post_pin(web, "li", PIN).status_code == 303
    page = web.get("/admin/account")
    answer = web.post("/counter/switch", data={"csrf_token": csrf_of(page.text)})
    assert answer.headers["location"] == "/counter/signin" and staff_sessions(db) == []
    assert audit_rows(db, "staff.signout") == [("staff:li", str(li.id), "signed out", {"client": "testclient"})]
    assert post_pin(web, "li", PIN).status_code == 303
    page = web.get("/admin/account")  # over li's PIN session, without switching: a plain staff session
    answer = web.post("/admin", data={"username": "mia", "password": PASSWORD, "csrf_token": csrf_of(page.text)})
    assert answer.headers["location"] == "/counter"
    assert staff_sessions(db) == [(mia.id, T0 + timedelta(minutes=30), T0 + timedelta(hours=12), None)]


def test_a_store_role_signs_in_with_a_password_and_lands_on_the_counter(web, db, settings, clock, shop):
    page = web.get("/admin")
    answer = web.post("/admin", data={"username": "li", "password": PASSWORD, "csrf_token": csrf_of(page.text)})
    assert answer.status_code == 303 and answer.headers["location"] == "/counter"


def test_a_store_managers_password_lockout_works_as_for_other_staff(web, db, settings, clock, shop):
    _store, mia, _li, _device, _token = shop
    for n in range(4):
        page = web.get("/admin")
        answer = web.post("/admin", data={"username": "mia", "password": f"wrong {n}", "csrf_token": csrf_of(page.text)})
        assert answer.status_code == 401
    page = web.get("/admin")
    fifth = web.post("/admin", data={"username": "mia", "password": "wrong 5", "csrf_token": csrf_of(page.text)})
    assert fifth.status_code == 423 and LOCKED in fifth.text
    page = web.get("/admin")
    right = web.post("/admin", data={"username": "mia", "password": PASSWORD, "csrf_token": csrf_of(page.text)})
    assert right.status_code == 423
    assert account(db, mia).locked_until == T0 + timedelta(minutes=15)
    assert staff_sessions(db) == []


def test_a_store_managers_totp_lockout_works_as_for_other_staff(db, settings, clock):
    totp_settings = settings.model_copy(update={"staff_totp_roles": ("admin", "store_manager")})
    store = make_store(db, now=T0)
    mia = make_store_person(db, totp_settings, store, username="mia", role="store_manager", now=T0)
    assert mia.totp_secret is not None
    with TestClient(create_app(totp_settings, db), follow_redirects=False) as web:
        page = web.get("/admin")
        answer = web.post("/admin", data={"username": "mia", "password": PASSWORD, "csrf_token": csrf_of(page.text)})
        assert answer.headers["location"] == "/admin/totp"
        wrong = pyotp.TOTP(mia.totp_secret).at(T0 - timedelta(minutes=10))
        said = []
        for _ in range(4):
            page = web.get("/admin/totp")
            answer = web.post("/admin/totp", data={"code": wrong, "csrf_token": csrf_of(page.text)})
            assert answer.status_code == 401
            said.append(tries_of(answer.text))
        assert said == ["4 tries left before this account is locked for a while.",
                        "3 tries left before this account is locked for a while.",
                        "2 tries left before this account is locked for a while.",
                        "1 try left before this account is locked for a while."]
        page = web.get("/admin/totp")
        fifth = web.post("/admin/totp", data={"code": wrong, "csrf_token": csrf_of(page.text)})
        assert fifth.status_code == 423 and LOCKED in fifth.text
        page = web.get("/admin")
        again = web.post("/admin", data={"username": "mia", "password": PASSWORD, "csrf_token": csrf_of(page.text)})
        assert again.status_code == 423
        # Locked for the PIN pad as well.
        _device, token = register_tablet(db, totp_settings, store, now=T0)
        on_tablet(web, token)
        assert post_pin(web, "mia", "2580").status_code == 423
    assert account(db, mia).locked_until == T0 + timedelta(minutes=15)
