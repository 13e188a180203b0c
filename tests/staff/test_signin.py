"""Back-office sign-in as an attacker tries it: wrong passwords until lockout, then the right one; codes guessed,
reused, skipped; a session cookie planted before sign-in; idle and absolute expiry."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from simkeep.audit.models import AuditEntry
from simkeep.main import create_app
from simkeep.session.models import WebSession
from simkeep.staff.models import StaffAccount
from simkeep.web.sessions import COOKIE
from tests.factories.staff import PASSWORD, TOTP_SECRET, csrf_of, make_staff, sign_in
from tests.web import FrozenClock, freeze_clock


@pytest.fixture
def clock(monkeypatch) -> FrozenClock:
    return freeze_clock(monkeypatch, datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def web(settings, db) -> Iterator[TestClient]:
    with TestClient(create_app(settings, db), follow_redirects=False) as client:
        yield client


def post_password(client: TestClient, username: str, password: str):
    token = csrf_of(client.get("/admin").text)
    return client.post("/admin", data={"username": username, "password": password, "csrf_token": token})


def post_code(client: TestClient, code: str):
    token = csrf_of(client.get("/admin/totp").text)
    return client.post("/admin/totp", data={"code": code, "csrf_token": token})


def audit_rows(db, action: str | None = None) -> list[tuple]:
    with db.transaction(write=False) as session:
        query = select(AuditEntry).order_by(AuditEntry.at, AuditEntry.id)
        rows = session.scalars(query).all()
    return [(r.actor, r.action, r.subject_id, r.reason, r.details) for r in rows if action in (None, r.action)]


def signed_in(client: TestClient) -> bool:
    page = client.get("/admin/account")
    if page.status_code == 303:
        assert page.headers["location"] == "/admin"
        return False
    assert page.status_code == 200
    return True


def test_five_wrong_passwords_lock_the_account_even_against_the_right_one(web, db, settings, clock):
    finn = make_staff(db, settings, username="finn", role="finance")
    for attempt in range(1, 5):
        answer = post_password(web, "finn", f"wrong password {attempt}")
        assert answer.status_code == 401 and "This username or password is not right." in answer.text
    fifth = post_password(web, "finn", "wrong password 5")
    assert fifth.status_code == 423 and "locked" in fifth.text
    right = post_password(web, "finn", PASSWORD)
    assert right.status_code == 423 and not signed_in(web)
    with db.transaction(write=False) as session:
        account = session.get(StaffAccount, finn.id)
        assert (account.failed_attempts, account.locked_until) == (0, clock() + timedelta(minutes=15))
    subject = str(finn.id)
    client = "testclient"
    assert audit_rows(db, "staff.signin_failed") == [
        *[("staff:finn", "staff.signin_failed", subject, "wrong password", {"client": client, "failures": n})
          for n in range(1, 6)],
        ("staff:finn", "staff.signin_failed", subject, "account locked", {"client": client})]
    assert audit_rows(db, "staff.locked") == [
        ("staff:finn", "staff.locked", subject, "5 failed sign-ins",
         {"client": client, "until": (clock() + timedelta(minutes=15)).isoformat()})]
    assert audit_rows(db, "staff.signin") == []

    clock.advance(minutes=14, seconds=59)
    assert post_password(web, "finn", PASSWORD).status_code == 423
    clock.advance(seconds=1)
    assert post_password(web, "finn", PASSWORD).headers["location"] == "/admin/review"
    assert signed_in(web)
    assert audit_rows(db, "staff.signin") == [("staff:finn", "staff.signin", subject, "signed in with password",
                                               {"client": client})]


def test_an_unknown_username_gets_the_same_answer_and_is_audited(web, db, settings):
    make_staff(db, settings, username="finn", role="finance")
    unknown = post_password(web, "nobody", PASSWORD)
    wrong = post_password(web, "finn", "not the password")
    assert unknown.status_code == wrong.status_code == 401
    assert re.sub(r'value="[^"]*"', "", unknown.text).replace("nobody", "") == \
        re.sub(r'value="[^"]*"', "", wrong.text).replace("finn", "")
    assert audit_rows(db, "staff.signin_failed")[0] == (
        "anonymous", "staff.signin_failed", "nobody", "unknown username", {"client": "testclient"})


def test_the_per_address_throttle_stops_guessing_across_accounts(settings, db):
    cfg = settings.model_copy(update={"staff_signins_per_ip": "3 per 15 minutes"})
    for n in range(4):
        make_staff(db, cfg, username=f"user{n}", role="support")
    with TestClient(create_app(cfg, db), follow_redirects=False) as web:
        for n in range(3):
            assert post_password(web, f"user{n}", "guess guess guess").status_code == 401
        throttled = post_password(web, "user3", PASSWORD)  # the right password, but from a guessing address
        assert throttled.status_code == 429 and not signed_in(web)
    assert len(audit_rows(db, "staff.signin_failed")) == 3 and audit_rows(db, "staff.signin") == []


def test_an_admin_needs_the_totp_code_and_a_wrong_or_reused_code_is_refused(web, db, settings, clock):
    ada = make_staff(db, settings, username="ada", role="admin")
    answer = post_password(web, "ada", PASSWORD)
    assert answer.headers["location"] == "/admin/totp"
    assert not signed_in(web)  # the password alone is not a session
    assert web.get("/admin/review").headers["location"] == "/admin"
    totp = pyotp.TOTP(TOTP_SECRET)
    assert post_code(web, "000000" if totp.at(clock()) != "000000" else "111111").status_code == 401
    old = totp.generate_otp(totp.timecode(clock()) - 2)  # outside the window
    assert old != totp.at(clock()) and post_code(web, old).status_code == 401
    code = totp.at(clock())
    assert post_code(web, code).headers["location"] == "/admin/review"
    assert signed_in(web)

    web.cookies.clear()
    assert post_password(web, "ada", PASSWORD).headers["location"] == "/admin/totp"
    replay = post_code(web, code)  # seen over a shoulder, or replayed from a proxy log
    assert replay.status_code == 401 and "This code was used already." in replay.text
    assert not signed_in(web)
    with db.transaction(write=False) as session:
        assert session.get(StaffAccount, ada.id).failed_attempts == 1  # the sign-in in between reset the count
    assert [r[3] for r in audit_rows(db, "staff.signin_failed")] == ["wrong TOTP code", "wrong TOTP code",
                                                                     "TOTP code reused"]


def tries_left(html: str) -> str:
    return re.sub(r"\s+", " ", re.search(r'id="tries-left"[^>]*>([^<]*)<', html).group(1))


def test_totp_failures_count_toward_the_lockout(web, db, settings):
    make_staff(db, settings, username="ada", role="admin")
    assert "tries-left" not in post_password(web, "ada", "not the password").text  # says nothing of the account
    post_password(web, "ada", PASSWORD)
    assert tries_left(web.get("/admin/totp").text) == "4 tries left before this account is locked for a while."
    for n in (3, 2, 1):
        wrong = post_code(web, "123456" if pyotp.TOTP(TOTP_SECRET).now() != "123456" else "654321")
        assert wrong.status_code == 401
        assert tries_left(wrong.text) == f"{n} tr{'y' if n == 1 else 'ies'} left before this account is locked for a while."
    last = post_code(web, "123456" if pyotp.TOTP(TOTP_SECRET).now() != "123456" else "654321")
    assert last.status_code == 423
    assert web.get("/admin/totp").headers["location"] == "/admin"  # the half-open sign-in is dropped


def test_an_admin_enrols_totp_at_first_sign_in_and_the_secret_is_stored_sealed(web, db, settings, clock):
    ada = make_staff(db, settings, username="ada", role="admin", totp=False)
    assert post_password(web, "ada", PASSWORD).headers["location"] == "/admin/totp"
    page = web.get("/admin/totp")
    assert page.status_code == 200 and "<svg" in page.text and page.headers["cache-control"] == "no-store"
    assert not re.search(r"<script(?![^>]*\bsrc=)", page.text)  # no inline script (CSP)
    secret = re.search(r'<code class="reference">([A-Z2-7 ]+)</code>', page.text).group(1).replace(" ", "")
    assert len(secret) == 32
    with db.transaction(write=False) as session:
        stored = [row.data for row in session.scalars(select(WebSession))]
        assert session.get(StaffAccount, ada.id).totp_secret is None  # not before a code confirms it
    assert secret not in repr(stored)  # kept sealed in the session meanwhile
    assert post_code(web, "000000" if pyotp.TOTP(secret).at(clock()) != "000000" else "111111").status_code == 401
    assert post_code(web, pyotp.TOTP(secret).at(clock())).headers["location"] == "/admin/review"
    with db.transaction(write=False) as session:
        account = session.get(StaffAccount, ada.id)
        assert account.totp_secret.startswith("v1:") and secret not in account.totp_secret
    assert [r[1:4] for r in audit_rows(db) if r[1] in ("staff.totp_enrolled", "staff.signin")] == [
        ("staff.totp_enrolled", str(ada.id), "TOTP enrolled"),
        ("staff.signin", str(ada.id), "signed in with password and TOTP")]


def test_a_cookie_planted_before_staff_sign_in_is_worth_nothing_after(web, db, settings):
    finn = make_staff(db, settings, username="finn", role="finance")
    web.get("/admin")
    planted = web.cookies[COOKIE]
    sign_in(web, db, finn)
    assert web.cookies[COOKIE] != planted and signed_in(web)
    with TestClient(web.app, follow_redirects=False) as attacker:
        attacker.cookies.set(COOKIE, planted)
        assert not signed_in(attacker)
        assert attacker.get("/admin/review").headers["location"] == "/admin"


def test_a_replayed_staff_cookie_after_sign_out_opens_nothing(web, db, settings):
    finn = make_staff(db, settings, username="finn", role="finance")
    sign_in(web, db, finn)
    stolen = web.cookies[COOKIE]
    token = csrf_of(web.get("/admin/account").text)
    assert web.post("/admin/signout", data={"csrf_token": token}).headers["location"] == "/admin"
    with TestClient(web.app, follow_redirects=False) as attacker:
        attacker.cookies.set(COOKIE, stolen)
        assert not signed_in(attacker)
    assert audit_rows(db, "staff.signout") == [("staff:finn", "staff.signout", str(finn.id), "signed out",
                                                {"client": "testclient"})]


def test_staff_sessions_end_after_thirty_idle_minutes_and_twelve_hours(web, db, settings, clock):
    finn = make_staff(db, settings, username="finn", role="finance")
    sign_in(web, db, finn)
    clock.advance(minutes=29)
    assert signed_in(web)
    clock.advance(minutes=29)
    assert signed_in(web)
    clock.advance(minutes=30)
    assert not signed_in(web)

    web.cookies.clear()
    start = clock()
    sign_in(web, db, finn)
    for _ in range(35):
        clock.advance(minutes=20)
        assert signed_in(web)
    clock.at = start + timedelta(hours=12)
    assert not signed_in(web)


def test_a_one_time_password_must_be_changed_before_any_page(web, db, settings):
    sam = make_staff(db, settings, username="sam", role="support", must_change_password=True)
    assert post_password(web, "sam", PASSWORD).headers["location"] == "/admin/account"
    assert web.get("/admin/review").headers["location"] == "/admin/account"
    token = csrf_of(web.get("/admin/account").text)
    weak = web.post("/admin/account/password", data={"current": PASSWORD, "new": "short", "confirm": "short",
                                                      "csrf_token": token})
    assert weak.status_code == 422
    new = "a much better passphrase"
    done = web.post("/admin/account/password", data={"current": PASSWORD, "new": new, "confirm": new,
                                                      "csrf_token": token})
    assert done.headers["location"] == "/admin/account?done=password"
    assert web.get("/admin/review").status_code == 200
    with db.transaction(write=False) as session:
        assert session.get(StaffAccount, sam.id).must_change_password is False

