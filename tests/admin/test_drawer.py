"""The counter's cash drawer pages: open with a float, running totals, close with a count (a confirmation page with
expected vs counted first), a second close refused with nothing moved, a manager closing an agent's drawer, the
Z-report page and its 80 mm PDF, the store statement pages; nobody sees another store's or another agent's drawer."""

from __future__ import annotations

import io
import re
import shutil
import subprocess

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from simkeep.ledger import service as ledger
from simkeep.ledger.models import JournalEntry
from simkeep.store import service as stores
from simkeep.store.models import Drawer
from tests.conftest import T0
from tests.factories.lines import make_line
from tests.factories.staff import make_staff
from tests.factories.stores import BELLEVILLE, make_store, sell, seller
from tests.reseller import csrf, site_fixture, text_of  # noqa: F401 (the `site` fixture)


@pytest.fixture
def shop(site):
    """Belleville with its agents Li and Wang and its manager Marie; Lyon with its manager Paul; a line."""
    make_line(site.db, now=T0)
    store = make_store(site.db, now=T0)
    lyon = make_store(site.db, now=T0, fields=BELLEVILLE, code="LYON-1", name="Lyon Part-Dieu", postcode="69003",
                      city="Lyon")
    people = {}
    for name, role, where in (("li", "agent", store), ("wang", "agent", store), ("marie", "store_manager", store),
                              ("paul", "store_manager", lyon)):
        people[name] = make_staff(site.db, site.settings, username=name, role=role, store_id=where.id, now=T0)
    return store, lyon, people


def open_drawer(client, amount="50.00"):
    token = csrf(client.get("/counter/drawer").text)
    return client.post("/counter/drawer/open", data={"float_amount": amount, "csrf_token": token})


def drawer_of(site, person) -> Drawer:
    with site.db.transaction(write=False) as session:
        return stores.open_drawer_of(session, person.id)


def count(client, drawer_id, counted):
    token = csrf(client.get("/counter/drawer").text)
    return client.post(f"/counter/drawers/{drawer_id}/close", data={"counted": counted, "csrf_token": token})


def confirm(client, drawer_id, counted, expected):
    token = csrf(client.get("/counter/drawer").text)
    return client.post(f"/counter/drawers/{drawer_id}/close/confirm",
                       data={"counted": counted, "expected": str(expected), "csrf_token": token})


def moved(site, store):
    with site.db.transaction(write=False) as session:
        return (session.scalar(select(func.count()).select_from(JournalEntry)),
                ledger.account_balance(session, store.account_id),
                ledger.account_balance(session, ledger.system_account_id(ledger.CASH_OVER_SHORT, "EUR")))


def test_an_agent_opens_sells_and_closes_short_with_a_confirmation_first(site, shop):
    store, _, people = shop
    li = site.signed_in(people["li"])
    page = text_of(li.get("/counter/drawer").text)
    assert "Your drawer is closed." in page and "Open my drawer" in page
    assert open_drawer(li, "abc").status_code == 422
    assert drawer_of(site, people["li"]) is None
    opened = open_drawer(li, "50,00")
    assert (opened.status_code, opened.headers["location"]) == (303, "/counter/drawer?done=opened")
    assert open_drawer(li).status_code == 409  # a second tab: still one drawer
    sell(site.db, seller(store, people["li"]), now=T0)
    sell(site.db, seller(store, people["li"]), method="card", terminal_ref="AUTH 9", now=T0)
    page = text_of(li.get("/counter/drawer?done=opened").text)
    assert "Drawer opened." in page
    assert "Float €50.00 Cash sales €10.00 Voids 0 · €0.00 Expected in the drawer €60.00" in page
    assert "Cash 1 €10.00 Card (store terminal) 1 €10.00 Recharge card 0 €0.00 All 2 €20.00" in page
    drawer = drawer_of(site, people["li"])
    before = moved(site, store)
    shown = count(li, drawer.id, "59.50")
    assert shown.status_code == 200
    words = text_of(shown.text)
    assert "Expected in the drawer €60.00 Counted €59.50 Difference -€0.50 · short" in words
    assert moved(site, store) == before and drawer_of(site, people["li"]) is not None  # nothing posted yet
    done = confirm(li, drawer.id, "59.50", 6_000)
    assert (done.status_code, done.headers["location"]) == (303, f"/counter/drawers/{drawer.id}/z?done=closed")
    with site.db.transaction(write=False) as session:
        closed = session.get(Drawer, drawer.id)
    assert (closed.expected_minor, closed.counted_minor, closed.difference_minor, closed.closed_by) == (
        6_000, 5_950, -50, "staff:li")
    entries, owed, over_short = moved(site, store)
    assert (entries, owed, over_short) == (before[0] + 1, before[1] + 50, before[2] - 50)
    z = text_of(li.get(done.headers["location"]).text)
    assert "Drawer closed: here is its Z-report." in z
    assert "Expected in the drawer €60.00 Counted €59.50 Difference -€0.50 · short" in z
    # Twice: refused with a clear message, nothing moves.
    again = confirm(li, drawer.id, "59.50", 6_000)
    assert again.status_code == 409
    assert "This cash drawer is already closed: nothing was posted again." in text_of(again.text)
    assert count(li, drawer.id, "60.00").status_code == 409
    assert moved(site, store) == (entries, owed, over_short)


def test_a_sale_between_the_count_and_the_confirmation_is_not_lost(site, shop):
    store, _, people = shop
    li = site.signed_in(people["li"])
    open_drawer(li)
    drawer = drawer_of(site, people["li"])
    count(li, drawer.id, "50.00")
    sell(site.db, seller(store, people["li"]), now=T0)  # the expected cash is now 60.00
    before = moved(site, store)
    answer = confirm(li, drawer.id, "50.00", 5_000)
    assert answer.status_code == 409
    assert "Expected in the drawer €60.00 Counted €50.00 Difference -€10.00 · short" in text_of(answer.text)
    assert moved(site, store) == before and drawer_of(site, people["li"]).id == drawer.id


def test_a_manager_sees_and_closes_an_agents_drawer_other_agents_and_stores_cannot(site, shop):
    store, _, people = shop
    li, wang = site.signed_in(people["li"]), site.signed_in(people["wang"])
    marie, paul = site.signed_in(people["marie"]), site.signed_in(people["paul"])
    open_drawer(li)
    drawer = drawer_of(site, people["li"])
    listed = text_of(marie.get("/counter/drawers").text)
    assert "Open now li · Opened Mar 1, 2027 10:00 AM · Expected €50.00" in listed
    for path in (f"/counter/drawers/{drawer.id}/z", f"/counter/drawers/{drawer.id}/z.pdf"):
        assert marie.get(path).status_code == 200, path
        assert wang.get(path).status_code == 403, path  # another agent's drawer
        assert paul.get(path).status_code == 403, path  # another store's
    assert "another agent" in text_of(wang.get(f"/counter/drawers/{drawer.id}/z").text)
    assert "This belongs to another store." in text_of(paul.get(f"/counter/drawers/{drawer.id}/z").text)
    for agent_path in ("/counter/drawers", "/counter/statement"):
        assert li.get(agent_path).status_code == 403
    before = moved(site, store)
    token = csrf(paul.get("/counter/drawer").text)
    assert paul.post(f"/counter/drawers/{drawer.id}/close/confirm",
                     data={"counted": "50.00", "expected": "5000", "csrf_token": token}).status_code == 403
    token = csrf(wang.get("/counter/drawer").text)
    assert wang.post(f"/counter/drawers/{drawer.id}/close/confirm",
                     data={"counted": "50.00", "expected": "5000", "csrf_token": token}).status_code == 403
    assert marie.post(f"/counter/drawers/{drawer.id}/close/confirm",
                      data={"counted": "50.00", "expected": "5000"}).status_code == 403  # no CSRF token
    assert moved(site, store) == before and drawer_of(site, people["li"]) is not None
    token = csrf(marie.get(f"/counter/drawers/{drawer.id}/z").text)
    shown = marie.post(f"/counter/drawers/{drawer.id}/close", data={"counted": "50.00", "csrf_token": token})
    assert "Difference €0.00 · exact" in text_of(shown.text)
    done = marie.post(f"/counter/drawers/{drawer.id}/close/confirm",
                      data={"counted": "50.00", "expected": "5000", "csrf_token": token})
    assert done.status_code == 303
    with site.db.transaction(write=False) as session:
        closed = session.get(Drawer, drawer.id)
    assert (closed.closed_by, closed.difference_minor, closed.journal_entry_id) == ("staff:marie", 0, None)
    assert moved(site, store) == before  # exact: nothing to post
    assert "li · " in text_of(marie.get("/counter/drawers").text)


def test_back_office_and_strangers_are_kept_out(site, shop):
    stranger = site.client()
    answer = stranger.get("/counter/drawer")
    assert (answer.status_code, answer.headers["location"]) == (303, "/admin")
    for role in ("support", "finance", "admin"):
        assert site.staff(role).get("/counter/drawer").status_code == 403


def pdf_text(content: bytes, tmp_path) -> str:
    if shutil.which("pdftotext"):
        path = tmp_path / "z.pdf"
        path.write_bytes(content)
        return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True,
                              text=True).stdout
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def test_the_z_report_pdf_is_an_80_mm_roll_in_chinese(site, shop, tmp_path):
    store, _, people = shop
    li = site.signed_in(people["li"], lang="zh-CN")
    open_drawer(li)
    for _ in range(3):
        sell(site.db, seller(store, people["li"]), now=T0)
    drawer = drawer_of(site, people["li"])
    answer = li.get(f"/counter/drawers/{drawer.id}/z.pdf")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/pdf"
    import io
    reader = PdfReader(io.BytesIO(answer.content))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    width_mm, height_mm = float(box.width) * 25.4 / 72, float(box.height) * 25.4 / 72
    assert abs(width_mm - 80) <= 0.5
    assert 60 < height_mm < 400, height_mm  # as long as the slip, not an A4 page
    text = pdf_text(answer.content, tmp_path)
    assert re.search(r"[\u4e00-\u9fff]", text) and "X 报表" in text and "钱箱应有金额" in text, text
    assert "fr-orange-mobicarte-10" in text and "€80.00" in text  # 50.00 float + 3 × 10.00


def test_the_store_manager_and_finance_read_the_statement_finance_records_a_remittance(site, shop):
    store, _, people = shop
    marie = site.signed_in(people["marie"])
    li = site.signed_in(people["li"])
    open_drawer(li)
    sell(site.db, seller(store, people["li"]), now=T0)
    page = text_of(marie.get("/counter/statement?month=2027-03").text)
    assert "Owed at the start of the month €0.00 + Cash sales 1 €10.00" in page
    assert "Owed at the end of the month €9.70" in page and "Agrees with the ledger Yes" in page
    csv_answer = marie.get("/counter/statement.csv?month=2027-03")
    assert csv_answer.headers["content-disposition"] == 'attachment; filename="statement-PAR-BELLEVILLE-2027-03.csv"'
    assert "PAR-BELLEVILLE,2027-03,closing,,9.70,EUR" in csv_answer.text
    assert marie.get("/counter/statement.pdf?month=2027-03").content.startswith(b"%PDF")
    assert marie.get("/counter/statement?month=2027-13").status_code == 422
    assert marie.get("/admin/stores/PAR-BELLEVILLE/statement").status_code == 403
    finance = site.staff("finance")
    assert finance.get("/counter/statement").status_code == 403
    path = "/admin/stores/PAR-BELLEVILLE/statement"
    assert "Owed at the end of the month €9.70" in text_of(finance.get(f"{path}?month=2027-03").text)
    token = csrf(finance.get(path).text)
    form = {"amount": "9.70", "reference": "BANK-001", "reason": "deposit slip", "month": "2027-03",
            "csrf_token": token}
    done = finance.post("/admin/stores/PAR-BELLEVILLE/remittances", data=form)
    assert (done.status_code, done.headers["location"]) == (303, f"{path}?done=remitted&month=2027-03")
    page = text_of(finance.get(done.headers["location"]).text)
    assert "Remittance recorded" in page and "Owed at the end of the month €0.00" in page and "BANK-001" in page
    before = moved(site, store)
    again = finance.post("/admin/stores/PAR-BELLEVILLE/remittances", data=form)
    assert again.status_code == 409 and "already recorded" in text_of(again.text)
    bad = finance.post("/admin/stores/PAR-BELLEVILLE/remittances", data={**form, "amount": "0", "reference": "B2"})
    assert bad.status_code == 422
    assert moved(site, store) == before
    assert finance.get("/admin/stores/NOPE/statement").status_code == 404
    with site.db.transaction(write=False) as session:
        assert ledger.verify(session).ok
