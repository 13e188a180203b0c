"""Phone screenshots for the README. Every run takes them into var/screenshots/ (untracked, so a test run leaves the
checkout clean); `SIMKEEP_SCREENSHOTS=docs` writes them over the README's copies in docs/screenshots/ instead."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from simkeep.core import clock
from simkeep.voucher import pins
from tests.browser import journey as j
from tests.browser.conftest import MSISDN
from tests.factories.dashboard import make_month
from tests.factories.staff import make_staff, sign_in_page
from tests.factories.vouchers import make_batch, make_reseller, redeem, sell, sold_cards

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / ("docs" if os.environ.get("SIMKEEP_SCREENSHOTS") == "docs" else "var") / "screenshots"


def shoot(page, name: str) -> None:
    page.evaluate("document.fonts.ready")
    page.screenshot(path=SHOTS / name, full_page=True, animations="disabled", caret="hide")
    assert (SHOTS / name).stat().st_size > 5_000


def shoot_pdf(page, url: str, name: str, tmp_path: Path, *, dpi: int) -> bool:
    """The first page of the PDF at `url` as an image (poppler's pdftoppm); False when pdftoppm is missing."""
    if not shutil.which("pdftoppm"):
        return False
    pdf = tmp_path / "shot.pdf"
    pdf.write_bytes(page.request.get(url).body())
    subprocess.run(["pdftoppm", "-png", "-r", str(dpi), "-singlefile", str(pdf), str(tmp_path / "shot")],
                   check=True, timeout=30)
    shutil.copyfile(tmp_path / "shot.png", SHOTS / name)
    return True


def test_screenshots(open_page, portal, tmp_path):
    SHOTS.mkdir(parents=True, exist_ok=True)
    portal.line(language="zh_CN")

    offer_page = open_page("fr", scale=2)
    j.open_offers(offer_page, portal)
    offer_page.locator(f'input[name="offer"][value="{j.OFFER_10}"]').check()
    shoot(offer_page, "wizard-offer.png")

    page = open_page("zh_CN", scale=2)
    page.goto(portal.url("/"))
    shoot(page, "home.png")

    j.sign_in(page, portal, typed=j.TYPED["zh_CN"], next_path="/recharge")  # the holder: sees the dates
    j.to_summary(page, portal, lang="zh_CN", method="card")
    shoot(page, "wizard-summary.png")
    j.confirm(page)
    shoot(page, "pay-card.png")
    j.pay_by_card(page, j.APPROVE)
    j.wait_outcome(page, "succeeded")
    shoot(page, "result-success.png")

    pdf_href = page.locator('#outcome a[href$=".pdf"]').get_attribute("href")
    if not shoot_pdf(page, portal.url(pdf_href), "receipt.png", tmp_path, dpi=80):
        # the verification page the receipt's QR code opens
        page.goto(portal.url(pdf_href.removesuffix(".pdf")))
        shoot(page, "receipt.png")

    page.goto(portal.url("/lines"))
    shoot(page, "lines.png")

    # A second renewal from the status page, by WeChat Pay: the number is already proven, no new code.
    page.locator(f'a[href^="/recharge?msisdn="][href$="{MSISDN[1:]}"]').click()
    j.choose_offer(page)
    page.wait_for_url(portal.url("/recharge/method"))
    j.choose_method(page, "wechat_pay")
    j.confirm(page)
    page.locator(".qr svg").wait_for()
    shoot(page, "pay-wechat.png")
    assert re.search(r"/sandbox/pay/sbx_", page.url)


def test_back_office_screenshots(open_page, portal):
    """The back office for the README: the sign-in page, and an admin's own sessions after signing in."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    ada = make_staff(portal.db, portal.settings, username="ada", role="admin")
    page = open_page("en", scale=2)
    page.goto(portal.url("/admin"))
    shoot(page, "admin-signin.png")
    sign_in_page(page, portal.base, portal.db, ada)
    page.goto(portal.url("/admin/account"))
    shoot(page, "admin-account.png")


def test_card_screenshots(open_page, portal):
    """A recharge card for the README: the form its QR code opens (français), and the holder's result (中文)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    portal.line(language="zh_CN")
    make_reseller(portal.db, now=datetime.now(UTC))
    [(_, scanned), (_, typed)] = sold_cards(portal.db, quantity=2, now=datetime.now(UTC))

    page = open_page("fr", scale=2)
    page.goto(pins.redeem_url(portal.base, scanned))
    page.locator("#msisdn").fill(j.TYPED["fr"])
    shoot(page, "card-form.png")

    page = open_page("zh_CN", scale=2)
    j.sign_in(page, portal, typed=j.TYPED["zh_CN"], next_path="/lines")
    page.locator("a.use-card").click()
    j.type_pin(page, typed)
    j.redeem_card(page)
    j.wait_card_result(page)
    shoot(page, "card-done.png")


def test_voucher_screenshots(open_page, portal):
    """The recharge-card back office for the README: a batch's report, and support's lookup of a card that a
    customer says did not work (a second try of a redeemed card, with its exact reason)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    now = clock.now()
    portal.line()
    make_reseller(portal.db, now=now)
    batch, cards = make_batch(portal.db, quantity=500, now=now)
    sell(portal.db, serial_from=batch.serial_from, serial_to=batch.serial_from + 79, now=now)
    redeem(portal.db, pin=cards[0][1], msisdn=MSISDN, via="portal", now=now).outcome()
    portal.line(msisdn="+33699887766")
    assert redeem(portal.db, pin=cards[0][1], msisdn="+33699887766", now=now).failure == "used"
    ada = make_staff(portal.db, portal.settings, username="ada", role="admin")
    page = open_page("en", viewport={"width": 1100, "height": 900}, scale=1)
    sign_in_page(page, portal.base, portal.db, ada)
    page.goto(portal.url(f"/admin/vouchers/batches/{batch.id}"))
    shoot(page, "admin-voucher-batch.png")
    page.goto(portal.url(f"/admin/vouchers/lookup?serial={cards[0][0]}"))
    shoot(page, "admin-voucher-lookup.png")


def test_counter_screenshots(open_page, portal, tmp_path):
    """The store counter in Chinese on a phone: a line looked up with its ID check, a cash sale, the 80 mm receipt,
    the drawer."""
    from tests.factories.stores import make_store, open_drawer, seller

    SHOTS.mkdir(parents=True, exist_ok=True)
    portal.line(language="zh_CN")
    store = make_store(portal.db, now=clock.now())
    agent = make_staff(portal.db, portal.settings, username="li", role="agent", store_id=store.id)
    open_drawer(portal.db, seller(store, agent), float_minor=5_000, now=clock.now())
    page = open_page("zh_CN", scale=2)
    sign_in_page(page, portal.base, portal.db, agent)
    page.fill("#msisdn", "06 12 34 56 78")
    page.click("form.counter-find button[type=submit]")
    page.wait_for_url(re.compile(r"/counter/lines/"))
    page.select_option("#document_type", "residence_permit")
    page.select_option("#issuing_country", "CN")
    page.fill("#last4", "E123")
    page.click('form[action$="/id-check"] button[type=submit]')
    page.wait_for_url(re.compile(r"\?done=id$"))
    shoot(page, "counter-line.png")
    page.locator('input[name=offer][value="fr-orange-mobicarte-10"]').check()
    page.click('form[action$="/sale"] button[type=submit]')
    page.wait_for_url(re.compile(r"\?quote=[0-9a-f-]{36}#quote$"))  # the price shown first, then taken
    shoot(page, "counter-quote.png")
    page.click("#quote-sell")
    page.wait_for_url(re.compile(r"/counter/sales/[0-9a-f-]{36}$"))
    shoot(page, "counter-sale.png")
    shoot_pdf(page, portal.url(page.locator("#print-thermal").get_attribute("href")), "receipt-thermal.png", tmp_path,
              dpi=110)
    page.goto(portal.url("/counter/drawer"))
    shoot(page, "counter-drawer.png")


def test_network_screenshots(open_page, portal):
    """The network for the README: a line's page with its SIM card and what the network holds (a suspension waiting
    for a network element that is not configured), the SIM inventory, and an eSIM's QR code at the counter (中文)."""
    from simkeep.catalog import service as catalog
    from simkeep.line import service as lines
    from simkeep.network import inventory
    from simkeep.network.inventory import LineRef
    from tests.factories.stores import make_store
    from tests.network.esim_factory import stock as esim_stock
    from tests.network.test_inventory import iccid, imsi

    SHOTS.mkdir(parents=True, exist_ok=True)
    now = clock.now()
    portal.line(language="zh_CN")
    other = "+33699887766"
    portal.line(msisdn=other)
    vendor_file = ["ICCID,IMSI,Ki"] + [f"{iccid(n)},{imsi(n)},00112233445566778899AABBCCDDEEFF" for n in range(1, 41)]
    with portal.db.transaction() as session:
        inventory.import_sims(session, vendor_file, operator=catalog.get_operator(session, "fr-orange-mobicarte"),
                              source="vendor-batch-7.csv", actor="ada", profile="usim-2026", now=now)
        inventory.import_numbers(session, ["first,last", "+33612345670,+33612345699"],
                                 operator=catalog.get_operator(session, "fr-orange-mobicarte"), source="ranges.csv",
                                 actor="ada", now=now)
        line = lines.find_live_line(session, other)
        inventory.assign(session, line=LineRef(line.id, line.msisdn, line.operator_id, line.state), iccid=iccid(1),
                         actor="ada", reason="new subscriber", now=now)
    ada = make_staff(portal.db, portal.settings, username="ada", role="admin")
    page = open_page("en", viewport={"width": 1100, "height": 900}, scale=1)
    sign_in_page(page, portal.base, portal.db, ada)
    page.goto(portal.url(f"/admin/lines/{other}"))
    page.locator("#sim").scroll_into_view_if_needed()
    shoot(page, "admin-line-network.png")
    page.goto(portal.url("/admin/network"))
    shoot(page, "admin-network.png")

    store = make_store(portal.db, now=now)
    agent = make_staff(portal.db, portal.settings, username="li", role="agent", store_id=store.id)
    esim_stock(portal.db, portal.settings, range(101, 104), now=now)  # apart from the cards above
    page = open_page("zh_CN", scale=2)
    sign_in_page(page, portal.base, portal.db, agent)
    page.goto(portal.url("/counter/lines/%2B33612345678"))
    page.click('form[action$="/esim"] button[type=submit]')
    page.wait_for_url(re.compile(r"/esim$"))
    page.locator(".esim-qr").wait_for()
    shoot(page, "counter-esim.png")


def test_dashboard_screenshot(open_page, portal):
    """The dashboard for the README: a month of Orange activity, on a laptop-sized screen."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    make_month(portal.db, now=portal.clock())
    fin = make_staff(portal.db, portal.settings, username="fin", role="finance")
    page = open_page("en", viewport={"width": 1100, "height": 900})
    sign_in_page(page, portal.base, portal.db, fin)
    page.goto(portal.url("/admin/dashboard?operator=fr-orange-mobicarte&days=30"))
    page.locator(".chart-card .plot canvas").nth(7).wait_for()
    page.locator("#chart-revenue summary").click()  # one table open, to show the numbers behind a chart
    shoot(page, "admin-dashboard.png")
def test_timeline_screenshot(open_page, portal):
    """A line's timeline for the README: a renewal, its SMS, a charge, a note, as support reads it on a phone."""
    from simkeep.charge import service as charges
    from simkeep.history import actions
    from simkeep.line import service as lines
    from tests.factories.lines import top_up

    SHOTS.mkdir(parents=True, exist_ok=True)
    line = portal.line(language="fr")
    top_up(portal.db, msisdn=MSISDN, now=clock.now())
    with portal.db.transaction() as session:
        charges.charge(session, principal="screenshot", idempotency_key="c1", msisdn=MSISDN, amount_minor=35,
                       kind="sms", now=clock.now())
        actions.add_note(session, line=lines.get_line(session, line.id), actor="staff:sam",
                         text="Called: abroad until May, keeps the number.", now=clock.now())
    sam = make_staff(portal.db, portal.settings, username="sam", role="support")
    page = open_page("en", scale=2)
    sign_in_page(page, portal.base, portal.db, sam)
    page.goto(portal.url(f"/admin/lines/id/{line.id}"))
    page.locator("#timeline").scroll_into_view_if_needed()
    shoot(page, "admin-timeline.png")
