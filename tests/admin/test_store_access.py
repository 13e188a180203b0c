"""Store people see their store's counter pages only: every back-office and reseller page refuses them, every
counter page checks role and store with the one dependency (access.in_store), and a manager acts on their own
store's tablets and agents only."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from simkeep.admin import access
from simkeep.audit.models import AuditEntry
from simkeep.main import create_app
from simkeep.staff import roles
from simkeep.staff.models import StaffAccount
from simkeep.store.models import CounterDevice, Store
from tests.conftest import T0
from tests.factories.counter import PIN, make_store_person, on_tablet, post_pin, register_tablet
from tests.factories.staff import csrf_of, make_staff, sign_in
from tests.factories.stores import make_store
from tests.web import freeze_clock
from tests.web.test_page_fuzz import page_routes

# Pages any signed-in person has: their own account (where a one-time password is changed), and the first-admin
# setup (public; refused once an admin exists, as here).
OWN = {"/admin/account"}
VALUES = {"msisdn": "+33612345678", "code": "TABAC-PARTNER", "batch_id": "00000000-0000-0000-0000-000000000000",
          "promotion_id": "00000000-0000-0000-0000-000000000000", "line_id": "00000000-0000-0000-0000-000000000000",
          "chart": "renewals"}


@pytest.fixture
def web(settings, db, monkeypatch) -> Iterator[TestClient]:
    freeze_clock(monkeypatch, T0)
    with TestClient(create_app(settings, db), follow_redirects=False) as client:
        yield client


@pytest.fixture
def shop(db, settings, monkeypatch):
    freeze_clock(monkeypatch, T0)
    make_staff(db, settings, username="ada", role="admin")
    store = make_store(db, now=T0)
    other = make_store(db, now=T0, code="PAR-CHINATOWN", name="Chinatown Mobile", latitude=48.8262, longitude=2.3622)
    mia = make_store_person(db, settings, store, username="mia", role="store_manager", pin="1357", now=T0)
    li = make_store_person(db, settings, store, username="li", now=T0)
    wu = make_store_person(db, settings, other, username="wu", now=T0)
    return store, other, mia, li, wu


def back_office_pages() -> list[str]:
    found = sorted({path for method, path in page_routes() if method == "GET"
                    and path.startswith(("/admin/", "/reseller")) and path not in OWN})
    return [re.sub(r"\{(\w+)\}", lambda m: VALUES[m.group(1)], path) for path in found]


def test_no_back_office_permission_is_given_to_a_store_role():
    store_only = {"store.console", "store.manage"}
    assert {p for p, who in roles.PERMISSIONS.items() if who & set(roles.STORE_ROLES)} == store_only
    assert store_only == roles.STORE_PERMISSIONS


@pytest.mark.parametrize("how", ["agent by password", "manager by password", "manager by PIN"])
def test_every_back_office_page_refuses_store_people(web, db, settings, shop, how):
    store, _other, mia, li, _wu = shop
    if how == "agent by password":
        sign_in(web, db, li)
    elif how == "manager by password":
        sign_in(web, db, mia)
    else:
        _device, token = register_tablet(db, settings, store, now=T0)
        on_tablet(web, token)
        assert post_pin(web, "mia", "1357").headers["location"] == "/counter"
    pages = back_office_pages()
    assert "/admin/review" in pages and "/admin/vouchers/lookup" in pages and "/reseller/epins" in pages
    answers = {path: web.get(path).status_code for path in pages}
    assert {path: status for path, status in answers.items() if status not in (303, 403)} == {}
    assert web.get("/admin/account").status_code == 200  # still signed in: refused, not signed out


def test_counter_pages_check_role_and_store_with_one_dependency(web, db, settings, shop):
    store, _other, mia, li, _wu = shop
    assert web.get("/counter/devices").headers["location"] == "/counter/signin"  # nobody signed in
    sign_in(web, db, li)
    assert web.get("/counter/devices").status_code == 403  # an agent: not store.manage
    assert web.get("/counter/team").status_code == 403
    web.cookies.clear()
    sign_in(web, db, make_staff(db, settings, username="sam", role="support"))
    assert web.get("/counter/devices").status_code == 403  # the back office has no store
    web.cookies.clear()
    sign_in(web, db, mia)
    assert web.get("/counter/devices").status_code == 200
    with db.transaction() as session:
        session.get(Store, store.id).closed_at = T0
    for path in ("/counter", "/counter/sales", "/counter/drawer", "/counter/drawers", "/counter/devices"):
        closed = web.get(path)  # the console, the drawers and the tablets: the one dependency
        assert closed.status_code == 403 and "Your account is not bound to an open store. Ask an admin." in closed.text


def test_in_store_is_a_drop_in_for_allowed():
    with pytest.raises(ValueError, match="not a store permission"):
        access.in_store("review.read")
    assert access.in_store("store.console").__annotations__["return"] == access.allowed(
        "store.console").__annotations__["return"]


def test_a_manager_revokes_and_sets_pins_in_their_own_store_only(web, db, settings, shop):
    _store, other, mia, _li, wu = shop
    theirs, _token = register_tablet(db, settings, other, name="Comptoir", now=T0)
    sign_in(web, db, mia)
    with db.transaction(write=False) as session:
        audits = session.scalar(select(func.count()).select_from(AuditEntry))
        pin_before = session.get(StaffAccount, wu.id).pin_hash
    page = web.get("/counter/devices")
    answer = web.post(f"/counter/devices/{theirs.id}/revoke", data={"csrf_token": csrf_of(page.text)})
    assert answer.status_code == 403 and "This belongs to another store." in answer.text
    team = web.get("/counter/team")
    assert "wu" not in re.findall(r"<h2>([^<]+)</h2>", team.text)
    answer = web.post("/counter/team/wu/pin", data={"pin": "4826", "confirm": "4826",
                                                   "csrf_token": csrf_of(team.text)})
    assert answer.status_code == 404
    answer = web.post("/counter/team/mia/pin", data={"generate": "1", "csrf_token": csrf_of(team.text)})
    assert answer.status_code == 404  # a manager's own PIN is set by an admin
    with db.transaction(write=False) as session:
        assert session.get(CounterDevice, theirs.id).revoked_at is None
        assert session.get(StaffAccount, wu.id).pin_hash == pin_before
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == audits


def test_a_manager_resets_an_agents_pin_from_the_team_page(web, db, settings, shop):
    store, _other, mia, _li, _wu = shop
    sign_in(web, db, mia)
    team = web.get("/counter/team")
    assert re.findall(r"<h2>([^<]+)</h2>", team.text) == ["li"]
    for pin, confirm, error in (("1234", "1234", "A PIN has 4 to 8 digits and is not easy to guess"),
                                ("4826", "4827", "The two PINs differ. Type the same PIN twice.")):
        answer = web.post("/counter/team/li/pin", data={"pin": pin, "confirm": confirm,
                                                       "csrf_token": csrf_of(team.text)})
        assert answer.status_code == 422 and error in answer.text
    answer = web.post("/counter/team/li/pin", data={"pin": "4826", "confirm": "4826",
                                                   "csrf_token": csrf_of(team.text)})
    assert answer.status_code == 200 and "New PIN set for li." in answer.text and 'id="generated-pin"' not in answer.text
    generated = web.post("/counter/team/li/pin", data={"generate": "1", "csrf_token": csrf_of(team.text)})
    new_pin = re.search(r'id="generated-pin">(\d+)<', generated.text).group(1)
    assert len(new_pin) == 6 and generated.headers["cache-control"] == "no-store"
    with db.transaction(write=False) as session:
        reasons = session.scalars(select(AuditEntry.reason).where(AuditEntry.action == "staff.pin_set",
                                                                  AuditEntry.actor == "staff:mia")
                                  .order_by(AuditEntry.at, AuditEntry.id)).all()
    assert reasons == ["PIN set", "PIN generated"]
    _device, token = register_tablet(db, settings, store, now=T0)
    web.cookies.clear()
    on_tablet(web, token)
    assert post_pin(web, "li", PIN).status_code == 401  # the old PIN no longer works
    assert post_pin(web, "li", new_pin).headers["location"] == "/counter"
