"""A store manager registers the counter tablet, then an agent signs in on it by tapping the PIN pad (a 768×1024
tablet), and with a keyboard; the tablet's cookie is HttpOnly and SameSite=Strict."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import select

from simkeep.session.models import WebSession
from simkeep.store.models import CounterDevice
from tests.factories.counter import make_store_person
from tests.factories.stores import make_store

TABLET = {"width": 768, "height": 1024}


def staff_sessions(db) -> list[tuple]:
    with db.transaction(write=False) as session:
        rows = session.scalars(select(WebSession).where(WebSession.staff_id.is_not(None))).all()
    return [(r.staff_id, r.data.get("counter_device")) for r in rows]


def tap(page, digits: str) -> None:
    for digit in digits:
        page.locator(f'.pinpad button[data-digit="{digit}"]').click()


def test_a_manager_registers_the_tablet_and_an_agent_taps_their_pin(open_page, portal):
    now = datetime.now(UTC)
    store = make_store(portal.db, now=now)
    mia = make_store_person(portal.db, portal.settings, store, username="mia", role="store_manager", pin="1357",
                            now=now)
    li = make_store_person(portal.db, portal.settings, store, username="li", pin="2580", now=now)
    page = open_page("en", viewport=TABLET)

    page.goto(portal.url("/counter/signin"))
    assert page.locator("h1").inner_text() == "This tablet is not registered"
    page.locator('main a[href="/admin"]').click()
    page.fill("#username", mia.username)
    page.fill("#password", mia.password)
    page.click("button[type=submit]")
    page.wait_for_url(portal.url("/counter"))
    page.goto(portal.url("/counter/devices"))
    page.fill("#name", "Counter 1")
    page.click('form[action="/counter/devices"] button[type=submit]')
    page.locator("[role=status]").wait_for()
    [cookie] = [c for c in page.context.cookies() if c["name"] == "simkeep_counter"]
    assert (cookie["httpOnly"], cookie["sameSite"], cookie["path"], cookie["secure"]) == (True, "Strict", "/counter",
                                                                                          False)
    page.locator(".switch-agent button").click()
    page.wait_for_url(portal.url("/counter/signin"))
    assert staff_sessions(portal.db) == []

    page.locator('a.tile[href="/counter/signin?user=li"]').click()
    page.wait_for_url(re.compile(r"/counter/signin\?user=li$"))
    assert page.locator(".pinpad").is_visible() and not page.locator(".pin-submit").is_visible()
    tap(page, "2589")
    page.locator('.pinpad button[data-key="back"]').click()
    tap(page, "0")
    assert page.locator("#pin").input_value() == "2580"
    page.locator("#pin-ok").click()
    page.wait_for_url(portal.url("/counter"))
    with portal.db.transaction(write=False) as session:
        device = session.scalars(select(CounterDevice)).one()
    assert staff_sessions(portal.db) == [(li.id, str(device.id))]
    assert device.last_used_at is not None


def test_the_pad_takes_a_keyboard_and_a_wrong_pin_says_the_tries_left(open_page, portal):
    from tests.factories.counter import register_tablet

    now = datetime.now(UTC)
    store = make_store(portal.db, now=now)
    li = make_store_person(portal.db, portal.settings, store, username="li", pin="2580", now=now)
    _device, token = register_tablet(portal.db, portal.settings, store, now=now)
    page = open_page("en", viewport=TABLET)
    page.context.add_cookies([{"name": "simkeep_counter", "value": token, "url": portal.url("/counter/"),
                               "httpOnly": True, "sameSite": "Strict"}])
    page.goto(portal.url("/counter/signin?user=li"))
    page.keyboard.type("1111")
    page.keyboard.press("Enter")
    page.locator("[role=alert]").wait_for()
    assert page.locator("[role=alert]").inner_text() == "This PIN is not right."
    assert page.locator("#tries-left").inner_text() == "4 tries left before this account is locked for a while."
    page.keyboard.type("25800")
    page.keyboard.press("Backspace")
    page.keyboard.press("Enter")
    page.wait_for_url(portal.url("/counter"))
    assert [staff for staff, _device in staff_sessions(portal.db)] == [li.id]
