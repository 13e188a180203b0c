"""Who may do what in the back office: every /admin route refuses without a session, roles are enforced,
uploads are limited before authentication, bad input gets a 4xx, and a staff member manages their own sessions."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select

from simkeep.audit.models import AuditEntry
from simkeep.main import create_app
from simkeep.payment.models import PaymentAttempt
from simkeep.staff.models import StaffAccount
from simkeep.web.sessions import COOKIE
from tests.conftest import ADMIN_TOKEN
from tests.factories.lines import make_line
from tests.factories.payments import SECRET, in_review_line_lost, now
from tests.factories.snapshot import snapshot
from tests.factories.staff import PASSWORD, csrf_of, make_staff, sign_in
from tests.web import flatten

# Routes anyone may reach: the doors themselves.
PUBLIC = {("GET", "/admin"), ("POST", "/admin"), ("GET", "/admin/totp"), ("POST", "/admin/totp"),
          ("GET", "/admin/setup"), ("POST", "/admin/setup"), ("POST", "/admin/signout")}


@pytest.fixture
def cfg(settings):
    return settings.model_copy(update={"sandbox_webhook_secret": SECRET})


@pytest.fixture
def web(cfg, db) -> Iterator[TestClient]:
    with TestClient(create_app(cfg, db), follow_redirects=False) as client:
        yield client


def admin_routes(app) -> list[tuple[str, str, APIRoute]]:
    return [(method, route.path, route) for route in flatten(app.routes) if isinstance(route, APIRoute)
            and route.path.startswith("/admin") for method in sorted(route.methods)]


def uses_the_staff_dependency(route: APIRoute) -> bool:
    def walk(dependant) -> bool:
        return any("allowed.<locals>.dependency" in getattr(d.call, "__qualname__", "") or walk(d)
                   for d in dependant.dependencies)
    return walk(route.dependant)


def a_payment_in_review(db, cfg):
    make_line(db, now=now())
    return in_review_line_lost(db, cfg)


def money_and_staff(db) -> dict:
    snap = snapshot(db)
    return {"counts": {t: n for t, n in snap["counts"].items() if t not in ("web_sessions", "audit_log")},
            "balances": snap["balances"]}


def test_every_admin_route_refuses_without_a_session(web, db, cfg):
    a_payment_in_review(db, cfg)
    routes = admin_routes(web.app)
    assert len(routes) >= 15  # the walk sees the back office (sign-in, review, bank, templates, account...)
    before = money_and_staff(db)
    for method, path, route in routes:
        if (method, path) in PUBLIC:
            continue
        assert uses_the_staff_dependency(route), f"{method} {path} does not use admin.access.allowed"
        url = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)
        web.cookies.clear()
        answer = web.request(method, url, data={"csrf_token": "x", "reason": "r", "decision": "credit"})
        if method == "GET":
            assert (answer.status_code, answer.headers.get("location")) == (303, "/admin"), f"{method} {path}"
        else:
            assert answer.status_code == 401, f"{method} {path}: {answer.status_code}"
        forged = web.request(method, url, cookies={COOKIE: "A" * 43})
        assert forged.status_code in (303, 401), f"{method} {path} with a forged cookie"
    assert money_and_staff(db) == before


def test_a_support_account_reads_but_cannot_settle_or_import(web, db, cfg):
    attempt_id = a_payment_in_review(db, cfg)
    sign_in(web, db, make_staff(db, cfg, username="sam", role="support"))
    queue = web.get("/admin/review")
    assert queue.status_code == 200 and "+33 6 12 34 56 78" in queue.text and 'name="decision"' not in queue.text
    token = csrf_of(web.get("/admin/account").text)
    before = snapshot(db)
    refused = web.post(f"/admin/review/{attempt_id}", data={"decision": "credit", "reason": "looks paid",
                                                             "csrf_token": token})
    assert refused.status_code == 403 and "Your role does not allow this." in refused.text
    for path in ("/admin/reconciliation", "/admin/bank/import"):
        assert web.get(path).status_code == 403
    assert web.get("/admin/messages").status_code == 200
    after = snapshot(db)
    assert after["balances"] == before["balances"]
    assert {t: n for t, n in after["counts"].items() if t != "web_sessions"} == \
        {t: n for t, n in before["counts"].items() if t != "web_sessions"}
    with db.transaction(write=False) as session:
        assert session.get(PaymentAttempt, attempt_id).status == "review"


def test_a_finance_account_settles_and_the_audit_names_the_person(web, db, cfg):
    attempt_id = a_payment_in_review(db, cfg)
    sign_in(web, db, make_staff(db, cfg, username="fay", role="finance"))
    assert web.get("/admin/messages").status_code == 403  # not finance's business
    token = csrf_of(web.get("/admin/review").text)
    done = web.post(f"/admin/review/{attempt_id}", data={"decision": "dismiss", "reason": "refunded by phone",
                                                          "csrf_token": token})
    assert done.headers["location"] == "/admin/review?done=dismiss"
    with db.transaction(write=False) as session:
        [row] = session.scalars(select(AuditEntry).where(AuditEntry.action == "review.dismiss")).all()
    assert (row.actor, row.subject_id, row.reason) == ("staff:fay", str(attempt_id), "refunded by phone")


@pytest.mark.parametrize("day", ["2026-13-45", "99999-01-01", "1900-01-01", "2027-02-30", "x" * 5000, "2027-3-1",
                                 "２０２７-03-01"])
def test_a_bad_day_on_the_reconciliation_page_is_a_translated_422(web, db, cfg, day):
    sign_in(web, db, make_staff(db, cfg, username="fay", role="finance"))
    answer = web.get("/admin/reconciliation", params={"day": day})
    assert answer.status_code == 422
    assert "This is not a valid day. Write it as YYYY-MM-DD, between 2000 and 2099." in answer.text
    french = web.get("/admin/reconciliation", params={"day": day, "lang": "fr"})
    assert french.status_code == 422 and "Ce jour n’est pas valide" in french.text
    assert web.get("/admin/reconciliation", params={"day": "2027-03-01"}).status_code == 200


def test_an_anonymous_large_upload_is_refused_before_authentication(web, db, cfg):
    body = b"A" * (1024 * 1024)
    files = {"file": ("s.xml", body, "application/xml")}
    anonymous = web.post("/admin/bank/import", files=files)
    assert anonymous.status_code == 413 and anonymous.json()["error"]["code"] == "body_too_large"
    assert "65536" in anonymous.json()["error"]["message"]
    forged = web.post("/admin/bank/import", files=files, cookies={COOKIE: "A" * 43})
    assert forged.status_code == 413
    sign_in(web, db, make_staff(db, cfg, username="sam", role="support"))
    assert web.post("/admin/bank/import", files=files).status_code == 413  # a session, but not one that imports
    web.cookies.clear()
    sign_in(web, db, make_staff(db, cfg, username="fay", role="finance"))
    token = csrf_of(web.get("/admin/bank/import").text)
    allowed = web.post("/admin/bank/import", data={"csrf_token": token}, files=files)
    assert allowed.status_code == 422  # read, and refused as not a statement: the limit let it through


def test_staff_see_their_sessions_and_end_one(cfg, db):
    fay = make_staff(db, cfg, username="fay", role="finance")
    app = create_app(cfg, db)
    with (TestClient(app, follow_redirects=False) as laptop, TestClient(app, follow_redirects=False) as phone,
          TestClient(app, follow_redirects=False) as other):
        for client, agent in ((laptop, "Laptop Firefox"), (phone, "Phone Safari"), (other, "Other person")):
            client.headers["user-agent"] = agent
        sign_in(laptop, db, fay)
        sign_in(phone, db, fay)
        sign_in(other, db, make_staff(db, cfg, username="sam", role="support"))
        page = laptop.get("/admin/account")
        assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
        assert "Laptop Firefox" in page.text and "Phone Safari" in page.text and "Other person" not in page.text
        assert "testclient" in page.text  # the address each session came from
        ids = re.findall(r'action="/admin/account/sessions/([0-9a-f-]+)/end"', page.text)
        assert len(ids) == 2
        phone_id = next(i for i in ids if re.search(
            rf'Phone Safari</strong>.*?action="/admin/account/sessions/{i}/end"', page.text, re.S))
        other_page = other.get("/admin/account").text
        [other_id] = re.findall(r'action="/admin/account/sessions/([0-9a-f-]+)/end"', other_page)
        token = csrf_of(page.text)
        # Someone else's session id ends nothing.
        assert laptop.post(f"/admin/account/sessions/{other_id}/end", data={"csrf_token": token}).status_code == 303
        assert other.get("/admin/account").status_code == 200
        assert laptop.post(f"/admin/account/sessions/{phone_id}/end",
                           data={"csrf_token": token}).headers["location"] == "/admin/account?done=ended"
        assert phone.get("/admin/account").headers["location"] == "/admin"
        assert laptop.get("/admin/account").status_code == 200
    with db.transaction(write=False) as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.action == "staff.session_ended")).all()
    assert [(r.actor, r.details["session_id"]) for r in rows] == [("staff:fay", phone_id)]


def test_changing_the_password_ends_the_other_sessions(cfg, db):
    fay = make_staff(db, cfg, username="fay", role="finance")
    app = create_app(cfg, db)
    with (TestClient(app, follow_redirects=False) as laptop, TestClient(app, follow_redirects=False) as phone):
        sign_in(laptop, db, fay)
        sign_in(phone, db, fay)
        before_change = laptop.cookies[COOKIE]
        token = csrf_of(laptop.get("/admin/account").text)
        wrong = laptop.post("/admin/account/password", data={"current": "not it at all", "new": "x" * 20,
                                                             "confirm": "x" * 20, "csrf_token": token})
        assert wrong.status_code == 422 and phone.get("/admin/account").status_code == 200
        new = "a new long passphrase"
        done = laptop.post("/admin/account/password", data={"current": PASSWORD, "new": new, "confirm": new,
                                                            "csrf_token": token})
        assert done.headers["location"] == "/admin/account?done=password"
        assert phone.get("/admin/account").headers["location"] == "/admin"
        assert laptop.get("/admin/account").status_code == 200 and laptop.cookies[COOKIE] != before_change
    with TestClient(app, follow_redirects=False) as again:
        token = csrf_of(again.get("/admin").text)
        assert again.post("/admin", data={"username": "fay", "password": PASSWORD,
                                           "csrf_token": token}).status_code == 401
        assert again.post("/admin", data={"username": "fay", "password": new, "csrf_token": token}
                          ).headers["location"] == "/admin/review"
    with db.transaction(write=False) as session:
        [row] = session.scalars(select(AuditEntry).where(AuditEntry.action == "staff.password_changed")).all()
    assert (row.actor, row.details) == ("staff:fay", {"sessions_ended": 1})


def test_the_first_admin_is_made_with_the_admin_token_only_while_none_exists(cfg, db):
    with TestClient(create_app(cfg, db), follow_redirects=False) as web:
        token = csrf_of(web.get("/admin/setup").text)
        form = {"username": "root", "password": PASSWORD, "confirm": PASSWORD, "csrf_token": token}
        wrong = web.post("/admin/setup", data={**form, "token": "guess"})
        assert wrong.status_code == 403 and "This admin token is not valid." in wrong.text
        assert web.post("/admin/setup", data={**form, "token": ADMIN_TOKEN}).headers["location"] == "/admin"
        with db.transaction(write=False) as session:
            [root] = session.scalars(select(StaffAccount)).all()
        assert (root.username, root.role, root.totp_secret, root.must_change_password) == ("root", "admin", None, False)
        again = web.post("/admin/setup", data={**form, "username": "second", "token": ADMIN_TOKEN})
        assert again.status_code == 403 and "An admin account exists already" in again.text
        assert web.get("/admin/setup").status_code == 403
        # The new admin must enrol a second factor before any page.
        assert web.post("/admin", data={"username": "root", "password": PASSWORD, "csrf_token": token}
                        ).headers["location"] == "/admin/totp"
    with db.transaction(write=False) as session:
        assert session.scalars(select(StaffAccount.username)).all() == ["root"]


def test_guessing_the_admin_token_on_the_setup_page_is_throttled(cfg, db):
    with TestClient(create_app(cfg.model_copy(update={"staff_setup_per_ip": "3 per hour"}), db),
                    follow_redirects=False) as web:
        token = csrf_of(web.get("/admin/setup").text)
        form = {"username": "root", "password": PASSWORD, "confirm": PASSWORD, "csrf_token": token}
        for guess in range(3):
            assert web.post("/admin/setup", data={**form, "token": f"guess-{guess}"}).status_code == 403
        assert web.post("/admin/setup", data={**form, "token": ADMIN_TOKEN}).status_code == 429
    with db.transaction(write=False) as session:
        assert session.scalars(select(StaffAccount)).all() == []


def test_without_an_admin_token_the_setup_page_creates_nobody(cfg, db):
    with TestClient(create_app(cfg.model_copy(update={"admin_token": None}), db), follow_redirects=False) as web:
        token = csrf_of(web.get("/admin/setup").text)
        for guess in ("", "None"):
            answer = web.post("/admin/setup", data={"username": "root", "password": PASSWORD, "confirm": PASSWORD,
                                                    "token": guess, "csrf_token": token})
            assert answer.status_code in (403, 422)
    with db.transaction(write=False) as session:
        assert session.scalars(select(StaffAccount)).all() == []

