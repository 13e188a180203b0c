"""Back-office directory pages (admin, stores.manage): list and search, a new store, editing hours, closed days,
languages, services and operators, closing; each change audited with who and why; a wrong form saves nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from simkeep.audit.models import AuditEntry
from simkeep.demo import seed_demo_stores
from simkeep.store import directory
from simkeep.store.models import Store
from tests.reseller import csrf, site_fixture, text_of  # noqa: F401 (the `site` fixture)

NEW = {"code": "par-test", "name": "Tabac du Test", "address": "1 rue du Test", "postcode": "75011", "city": "Paris",
       "country": "FR", "latitude": "48.8600", "longitude": "2.3800", "phone": "+33143000000",
       "timezone": "Europe/Paris", "mon": "09:00-12:30 14:00-19:00", "tue": "", "wed": "", "thu": "",
       "fri": "18:00-02:00", "sat": "", "sun": "", "closed_on": "2026-12-25", "languages": "zh_CN fr",
       "services": ["renewal", "voucher_sale"], "operators": ["fr-orange-mobicarte", "cn-cmcc-8yuan"],
       "reason": "new partner"}


def post(client, path: str, form: dict, page: str = "/admin/stores/new"):
    token = csrf(client.get(page).text)
    return client.post(path, data={**form, "csrf_token": token})


def stores_and_audits(db) -> tuple[int, int]:
    with db.transaction(write=False) as session:
        return (session.scalar(select(func.count()).select_from(Store)),
                session.scalar(select(func.count()).select_from(AuditEntry)))


def test_only_stores_manage_sees_the_pages(site, db):
    seed_demo_stores(db)
    admin = site.staff("admin")
    for path in ("/admin/stores", "/admin/stores/new", "/admin/stores/DEMO-PAR-BELLEVILLE"):
        assert admin.get(path).status_code == 200, path
    assert 'href="/admin/stores"' in admin.get("/admin/account").text
    for role in ("support", "finance"):
        client = site.staff(role)
        for path in ("/admin/stores", "/admin/stores/new", "/admin/stores/DEMO-PAR-BELLEVILLE"):
            assert client.get(path).status_code == 403, (role, path)
    assert site.client().get("/admin/stores").headers["location"] == "/admin"
    assert admin.get("/admin/stores/NOBODY").status_code == 404


def test_list_and_search(site, db):
    seed_demo_stores(db)
    admin = site.staff("admin")
    listed = text_of(admin.get("/admin/stores").text)
    assert listed.count("DEMO-") == 25
    found = text_of(admin.get("/admin/stores", params={"q": "lyon"}).text)
    assert "DEMO-LYO-GUILLOTIERE" in found and "DEMO-LYO-PART-DIEU" in found and "DEMO-PAR" not in found


def test_create_edit_and_close_with_the_audit_log(site, db):
    admin = site.staff("admin")
    made = post(admin, "/admin/stores/new", NEW)
    assert (made.status_code, made.headers["location"]) == (303, "/admin/stores/PAR-TEST?done=created")
    with db.transaction(write=False) as session:
        store = directory.get(session, "PAR-TEST")
        assert (store.hours, store.closed_on, store.languages, store.services, store.operators, store.demo) == (
            {"mon": [["09:00", "12:30"], ["14:00", "19:00"]], "fri": [["18:00", "02:00"]]}, ["2026-12-25"],
            ["zh_CN", "fr"], ["renewal", "voucher_sale"], ["fr-orange-mobicarte", "cn-cmcc-8yuan"], False)
    page = admin.get("/admin/stores/PAR-TEST?done=created").text
    assert "Store created: the finder shows it now." in text_of(page)
    assert 'value="09:00-12:30 14:00-19:00"' in page
    edited = post(admin, "/admin/stores/PAR-TEST", {**NEW, "sun": "10:00-13:00", "languages": "zh_CN fr en",
                                                    "services": ["renewal"], "reason": "Sunday mornings"},
                  page="/admin/stores/PAR-TEST")
    assert edited.headers["location"] == "/admin/stores/PAR-TEST?done=saved"
    with db.transaction(write=False) as session:
        store = directory.get(session, "PAR-TEST")
        assert (store.hours["sun"], store.languages, store.services) == ([["10:00", "13:00"]],
                                                                         ["zh_CN", "fr", "en"], ["renewal"])
    closed = post(admin, "/admin/stores/PAR-TEST/close", {"close_reason": "moved away"}, page="/admin/stores/PAR-TEST")
    assert closed.headers["location"] == "/admin/stores/PAR-TEST?done=closed"
    log = text_of(admin.get("/admin/stores/PAR-TEST").text)
    assert "staff:admin-0 store.created new partner" in log
    assert "staff:admin-0 store.updated Sunday mornings" in log
    assert "staff:admin-0 store.closed moved away" in log
    assert "Close this store" not in log
    again = post(admin, "/admin/stores/PAR-TEST/close", {"close_reason": "again"}, page="/admin/stores/PAR-TEST")
    assert again.status_code == 409  # the page offers no close form any more; a replayed post changes nothing


def test_a_wrong_form_says_what_is_wrong_and_saves_nothing(site, db):
    admin = site.staff("admin")
    before = stores_and_audits(db)
    wrong = post(admin, "/admin/stores/new", {**NEW, "latitude": "95", "fri": "18h-2h", "operators": ["xx"],
                                              "reason": ""})
    assert wrong.status_code == 422
    said = text_of(wrong.text)
    assert "The latitude is a number from -90 to 90, for example 48.8722." in said
    assert "Write each day's hours as spans like 09:00-12:30 14:00-19:00" in said
    assert "Choose operators from the catalog." in said
    assert stores_and_audits(db) == before
    no_reason = post(admin, "/admin/stores/new", {**NEW, "reason": " "})
    assert no_reason.status_code == 422 and "Give a reason: it is kept in the audit log." in text_of(no_reason.text)
    assert stores_and_audits(db) == before
    post(admin, "/admin/stores/new", NEW)
    twice = post(admin, "/admin/stores/new", NEW)
    assert twice.status_code == 409 and "A store with this code exists already." in text_of(twice.text)
    no_token = admin.post("/admin/stores/PAR-TEST/close", data={"close_reason": "x"})
    assert no_token.status_code == 403
    with db.transaction(write=False) as session:
        assert directory.get(session, "PAR-TEST").closed_at is None
