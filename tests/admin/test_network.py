"""The back office's SIM and number inventory: imports through the page (a refused file lists its bad rows), a line's
card assigned, swapped and reported lost from the line's page, and who may do what. Real pages, a real database."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from simkeep.audit.models import AuditEntry
from simkeep.main import create_app
from simkeep.network.models import ProvisioningCommand, Sim
from tests.admin.test_vouchers import enter, page_text
from tests.conftest import T0
from tests.factories.lines import make_line
from tests.network.test_inventory import iccid, imsi, stock

MSISDN = "+33612345678"


@pytest.fixture
def staff(db, settings):
    with TestClient(create_app(settings, db), follow_redirects=False) as client:
        yield client


def cards(db) -> dict[str, str]:
    with db.transaction(write=False) as session:
        return {c.iccid: c.state for c in session.scalars(select(Sim))}


def sent(db) -> list[tuple[int, str, str]]:
    with db.transaction(write=False) as session:
        return [tuple(r) for r in session.execute(select(
            ProvisioningCommand.seq, ProvisioningCommand.imsi, ProvisioningCommand.mode).order_by(ProvisioningCommand.seq))]


def upload(client, token: str, path: str, content: str, **form):
    return client.post(path, data={"csrf_token": token, "operator": "fr-orange-mobicarte", **form},
                       files={"file": ("vendor-7.csv", content.encode(), "text/csv")})


def test_an_admin_imports_the_vendor_file_and_sees_the_stock(staff, db, settings):
    token = enter(staff, db, settings, "alice", "admin")
    content = "ICCID,IMSI,Ki,OPc\n" + "".join(f"{iccid(n)},{imsi(n)},00112233445566778899AABBCCDDEEFF,x\n"
                                              for n in (1, 2, 3))
    answer = upload(staff, token, "/admin/network/sims/import", content, profile="usim-2026")
    assert answer.status_code == 200
    assert "3 SIM cards imported from vendor-7.csv: in stock." in page_text(answer)
    assert cards(db) == dict.fromkeys([iccid(1), iccid(2), iccid(3)], "in_stock")
    found = staff.get("/admin/network", params={"q": iccid(2)})
    assert iccid(2) in found.text and imsi(2) in found.text and iccid(1) not in found.text
    assert "00112233" not in found.text


def test_a_refused_file_lists_its_rows_in_the_readers_language_and_imports_nothing(staff, db, settings):
    token = enter(staff, db, settings, "alice", "admin")
    staff.cookies.set("lang", "fr")
    bad = f"{iccid(2)[:-1]}{(int(iccid(2)[-1]) + 1) % 10}"
    content = f"ICCID,IMSI\n{iccid(1)},{imsi(1)}\n{bad},{imsi(2)}\n{iccid(3)},{imsi(3, '20815')}\n"
    answer = upload(staff, token, "/admin/network/sims/import", content)
    assert answer.status_code == 422
    text = page_text(answer)
    assert f"3: L'ICCID {bad} a une clé de Luhn fausse" in text
    assert "4: L'IMSI 208150000000003 n'est pas du réseau de l'opérateur (MCC-MNC 20801)" in text
    assert "Le fichier a été refusé et rien n'a été importé\u00a0: corrigez les lignes indiquées" in text
    assert cards(db) == {}


def test_support_reads_the_inventory_but_cannot_import(staff, db, settings):
    token = enter(staff, db, settings, "sam", "support")
    page = staff.get("/admin/network")
    assert page.status_code == 200 and "sims/import" not in page.text
    answer = upload(staff, token, "/admin/network/sims/import", f"ICCID,IMSI\n{iccid(1)},{imsi(1)}\n")
    assert answer.status_code == 403 and cards(db) == {}


def test_numbers_are_free_assigned_or_in_quarantine_as_their_lines_say(staff, db, settings):
    token = enter(staff, db, settings, "alice", "admin")
    make_line(db, msisdn=MSISDN, now=T0)
    answer = upload(staff, token, "/admin/network/numbers/import", "first,last\n+33612345677,+33612345679\n")
    assert "3 numbers imported from vendor-7.csv." in page_text(answer)
    text = page_text(staff.get("/admin/network", params={"q": "3361234567"}))
    assert "+33612345677 fr-orange-mobicarte Free" in text
    assert "+33612345678 fr-orange-mobicarte Assigned Active" in text


def test_assign_swap_and_lost_from_the_line_page(staff, db, settings):
    first, second, third = stock(db, 1, 2, 3)
    make_line(db, msisdn=MSISDN, now=T0)
    token = enter(staff, db, settings, "alice", "admin")
    answer = staff.post(f"/admin/lines/{MSISDN}/sim", data={"csrf_token": token, "iccid": first, "reason": "new"})
    assert answer.headers["location"] == f"/admin/lines/{MSISDN}?sim=assigned#sim"
    page = page_text(staff.get(f"/admin/lines/{MSISDN}", params={"sim": "assigned"}))
    assert "SIM card assigned" in page and first in page and imsi(1) in page
    found = page_text(staff.get("/admin/network", params={"q": MSISDN}))  # a number finds its line's cards
    assert first in found and second not in found
    staff.post(f"/admin/lines/{MSISDN}/sim/swap",
               data={"csrf_token": token, "iccid": second, "reason": "stolen", "lost": "yes"})
    staff.post(f"/admin/lines/{MSISDN}/sim/lost", data={"csrf_token": token, "reason": "lost again"})
    assert cards(db) == {first: "lost", second: "lost", third: "in_stock"}
    assert sent(db) == [(1, imsi(1), "cs+ps"), (2, imsi(1), "absent"), (3, imsi(2), "cs+ps"), (4, imsi(2), "absent")]
    page = page_text(staff.get(f"/admin/lines/{MSISDN}"))
    assert "This line has no SIM card." in page and "Card reported lost" in page and "Card swapped" in page


def test_a_refused_change_says_why_and_moves_nothing(staff, db, settings):
    [first] = stock(db, 1)
    make_line(db, msisdn=MSISDN, now=T0)
    token = enter(staff, db, settings, "alice", "admin")
    answer = staff.post(f"/admin/lines/{MSISDN}/sim/swap", data={"csrf_token": token, "iccid": first, "reason": "x"})
    assert answer.headers["location"] == f"/admin/lines/{MSISDN}?sim_error=line_has_no_sim#sim"
    assert "This line has no SIM card: assign one first." in page_text(
        staff.get(f"/admin/lines/{MSISDN}", params={"sim_error": "line_has_no_sim"}))
    answer = staff.post(f"/admin/lines/{MSISDN}/sim", data={"csrf_token": token, "iccid": first, "reason": " "})
    assert answer.headers["location"] == f"/admin/lines/{MSISDN}?sim_error=reason_required#sim"
    assert cards(db) == {first: "in_stock"} and sent(db) == []


def test_support_cannot_swap_a_card(staff, db, settings):
    first, second = stock(db, 1, 2)
    make_line(db, msisdn=MSISDN, now=T0)
    token = enter(staff, db, settings, "alice", "admin")
    staff.post(f"/admin/lines/{MSISDN}/sim", data={"csrf_token": token, "iccid": first, "reason": "new"})
    token = enter(staff, db, settings, "sam", "support")
    page = staff.get(f"/admin/lines/{MSISDN}")
    assert first in page.text and "sim/swap" not in page.text
    answer = staff.post(f"/admin/lines/{MSISDN}/sim/swap", data={"csrf_token": token, "iccid": second, "reason": "x"})
    assert answer.status_code == 403
    assert cards(db) == {first: "assigned", second: "in_stock"} and len(sent(db)) == 1
    with db.transaction(write=False) as session:
        assert [e.action for e in session.scalars(select(AuditEntry).where(AuditEntry.action.like("sim.%")))] == [
            "sim.assign"]
