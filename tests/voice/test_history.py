"""Each call is one item of the line's history: transport, duration, outcome and what it did, never a PIN."""

from __future__ import annotations

import html
from datetime import timedelta

from fastapi.testclient import TestClient

from simkeep.main import create_app
from simkeep.voice.flow import HTTP, SIP, Call, Digits, HungUp
from simkeep.voice.menu import Menu
from tests.conftest import T0
from tests.factories.lines import make_line
from tests.factories.staff import make_staff, sign_in
from tests.factories.vouchers import make_reseller, sold_cards
from tests.voice import HOTLINE, MSISDN


def test_a_call_is_one_history_item_with_what_it_did(client, db, settings):
    make_line(db, now=T0, language="fr")
    make_reseller(db, now=T0)
    serial, pin = sold_cards(db, quantity=1, now=T0)[0]
    clock = [T0 + timedelta(hours=1)]
    menu = Menu(db, settings, now=lambda: clock[0])
    menu.start(Call("sip-1", MSISDN, HOTLINE, SIP))
    for key in ("2", "1", "2", pin, "3"):
        clock[0] += timedelta(seconds=20)
        menu.handle("sip-1", Digits(key))
    clock[0] += timedelta(seconds=15)
    menu.handle("sip-1", HungUp())
    menu.start(Call("http-1", None, HOTLINE, HTTP))  # from another phone, never about this line: not in its history
    items = client.get(f"/api/v1/lines/{MSISDN}/history").json()["items"]
    calls = [item for item in items if item["type"] == "call"]
    assert len(calls) == 1
    topup_id = next(item["id"] for item in items if item["type"] == "topup")
    assert {k: v for k, v in calls[0].items() if k != "id"} == {
        "type": "call", "at": "2027-03-01T10:00:00+00:00", "transport": "sip", "language": "fr",
        "duration_seconds": 115, "outcome": "hung_up", "done": [
            {"action": "language_set", "language": "fr"}, {"action": "balance_heard"},
            {"action": "card_redeemed", "serial": serial, "topup_id": topup_id}, {"action": "link_sent"}]}
    assert pin not in str(items)


def test_the_back_office_line_page_shows_each_call_and_what_the_menu_said(db, settings):
    make_line(db, now=T0, language="fr")
    clock = [T0]
    menu = Menu(db, settings, now=lambda: clock[0])
    menu.start(Call("sip-1", MSISDN, HOTLINE, SIP))
    menu.handle("sip-1", Digits("2"))
    clock[0] += timedelta(seconds=75)
    menu.handle("sip-1", Digits("1"))
    menu.handle("sip-1", HungUp())
    with TestClient(create_app(settings, db), follow_redirects=False) as staff:
        sign_in(staff, db, make_staff(db, settings, username="sam", role="support"))
        page = html.unescape(staff.get("/admin/lines/%2B33612345678").text)
    calls = page[page.index('<table class="log" id="calls">'):]
    calls = calls[:calls.index("</table>")]
    assert calls.count("<tr>") == 2  # the header and the call
    assert "0:00" not in calls and "1:15" in calls and "Caller hung up" in calls
    assert "language chosen · balance heard" in calls
    assert "<code>menu · 1</code> Votre solde est de zéro" in calls
    assert "Votre ligne reste valable, dernier jour\u00a0: le trente-et-un mars" in calls
