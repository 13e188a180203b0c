"""A reseller buys e-PINs in a real browser: the CSV download the result page offers (a data: address, from that
same page) holds the PINs shown, and a double click on the button buys once."""

from __future__ import annotations

import csv
import io
import re

from simkeep.voucher.models import Voucher, VoucherPurchase
from tests.browser.conftest import Portal
from tests.factories.payments import now
from tests.factories.staff import make_staff
from tests.factories.vouchers import KEYS, OFFER, make_reseller


def test_e_pins_download_as_csv_from_the_page_that_shows_them(open_page, portal: Portal):
    reseller = make_reseller(portal.db, code="TABAC-RIVOLI", deposit_minor=100_000, now=now())
    person = make_staff(portal.db, portal.settings, username="tabac", role="reseller", reseller_id=reseller.id)
    page = open_page("fr")
    page.goto(portal.url("/admin"))
    page.fill("#username", person.username)
    page.fill("#password", person.password)
    page.click("button[type=submit]")
    page.wait_for_url(portal.url("/reseller"))
    page.goto(portal.url("/reseller/epins"))
    page.select_option("#offer", OFFER)
    page.fill("#quantity", "2")
    page.dblclick('form[action="/reseller/epins"] button[type=submit]')  # data-once: one request
    page.locator("[role=status]").wait_for()
    shown = [re.sub(r"\D", "", text) for text in page.locator("tbody td:nth-child(2)").all_inner_texts()]
    assert len(shown) == 2 and all(len(pin) == 15 for pin in shown)
    with page.expect_download() as started:
        page.click('a[download][href^="data:text/csv"]')
    download = started.value
    assert re.fullmatch(r"epins-\d{12}-\d{12}\.csv", download.suggested_filename)
    rows = list(csv.DictReader(io.StringIO(download.path().read_text("utf-8"))))
    assert [row["pin"] for row in rows] == shown
    with portal.db.transaction(write=False) as session:
        assert session.query(VoucherPurchase).count() == 1
        assert sorted(v.pin_hash for v in session.query(Voucher)) == sorted(KEYS.hash(pin) for pin in shown)
