"""An agent serves a Chinese-speaking customer at the counter, end to end in 中文, in Debian's Chromium on a phone
screen: sign in with a password at /admin (store roles land on /counter), type the number the way the customer says
it, record the ID check, ask which offer keeps the number past the date the customer names, take cash into the open
drawer, see the sale with its receipt, fetch the 80 mm receipt PDF, and find the confirmation SMS in Chinese."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from simkeep.core import clock
from simkeep.locale import formats
from simkeep.locale.languages import BASE_LOCALE
from simkeep.receipt.models import Receipt
from simkeep.store import console
from simkeep.store import service as stores
from simkeep.store.models import IdCheck, StoreSale
from tests.browser.conftest import MSISDN, Portal
from tests.factories.staff import make_staff, sign_in_page
from tests.factories.stores import make_store, open_drawer, seller


def test_an_agent_renews_a_chinese_customers_number_with_cash_and_prints_the_receipt(open_page, portal: Portal):
    line = portal.line(language="zh_CN")
    store = make_store(portal.db, now=clock.now())
    agent = make_staff(portal.db, portal.settings, username="li", role="agent", store_id=store.id)
    open_drawer(portal.db, seller(store, agent), float_minor=5_000, now=clock.now())  # the drawer page's job
    start = portal.view().balance.minor
    page = open_page("zh_CN")

    sign_in_page(page, portal.base, portal.db, agent)
    assert page.url == portal.url("/counter")
    assert page.locator("#drawer-open").is_visible()
    page.fill("#msisdn", "06 12 34 56 78")
    page.click("form.counter-find button[type=submit]")
    page.wait_for_url(portal.url("/counter/lines/%2B33612345678"))
    assert "余额" in page.locator("#line-facts").inner_text()
    assert page.locator("#sale-needs-id").is_visible()

    # The ID check: the document's kind, country and last four only.
    page.select_option("#document_type", "residence_permit")
    page.select_option("#issuing_country", "CN")
    page.fill("#last4", "e123")
    page.click('form[action$="/id-check"] button[type=submit]')
    page.wait_for_url(re.compile(r"\?done=id$"))
    assert "尾号E123" in page.locator("#id-checked").inner_text()

    # Which offer keeps the number past the date the customer names (as the service computes it, to the day).
    until = (clock.now() + timedelta(days=240)).astimezone(clock.zone("Europe/Paris")).date()
    with portal.db.transaction(write=False) as session:
        expected = console.recommend(session, line=line, until=until, now=clock.now())
    assert expected.keeps
    page.fill("#until", until.isoformat())
    page.click('form[method=get][action^="/counter/lines/"] button[type=submit]')
    advice = page.locator("#recommendation").inner_text()
    price = formats.money(expected.best.price, BASE_LOCALE["zh_CN"])
    assert f"{price}，{expected.best.offer.validity_days}天" in advice
    assert page.locator(f'input[name=offer][value="{expected.best.offer.id}"]').is_checked()

    # Cash into the open drawer.
    assert page.locator("input[name=method][value=cash]").is_checked()
    page.click('form[action$="/sale"] button[type=submit]')
    # The quote first (nothing taken yet): the price the customer pays, then exactly that price taken.
    page.wait_for_url(re.compile(r"\?quote=[0-9a-f-]{36}#quote$"))
    assert page.locator("#quote-price").inner_text() == price
    page.click("#quote-sell")
    page.wait_for_url(re.compile(r"/counter/sales/[0-9a-f-]{36}$"))
    assert page.locator("#sale-done").is_visible()
    with portal.db.transaction(write=False) as session:
        sale = session.scalars(select(StoreSale)).one()
        checks = session.scalars(select(IdCheck)).all()
        cash = stores.expected_cash(session, stores.open_drawer_of(session, agent.id))
        receipt = session.get(Receipt, sale.receipt_id)
    assert page.locator("#receipt-number").inner_text() == receipt.number
    assert page.locator("#sale-amount").inner_text() == price
    assert (sale.method, sale.amount_minor, cash) == ("cash", expected.best.price.minor, 5_000 + sale.amount_minor)
    assert portal.view().balance.minor == start + expected.best.price.minor + expected.best.bonus.minor
    assert [(c.document_type, c.issuing_country, c.last4) for c in checks] == [("residence_permit", "CN", "E123")]

    # The 80 mm receipt.
    href = page.locator("#print-thermal").get_attribute("href")
    assert re.fullmatch(r"/receipts/[^/]+\.pdf\?format=thermal", href)
    pdf = page.request.get(portal.url(href))
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.body().startswith(b"%PDF")

    # The confirmation SMS, in Chinese, with the store and the receipt link.
    [sms] = portal.sms.wait("topup.completed", MSISDN)
    token = href.removeprefix("/receipts/").removesuffix(".pdf?format=thermal")
    assert sms["language"] == "zh_CN"
    assert sms["text"].startswith("您的号码+33612345678已成功充值")
    assert sms["text"].endswith(f"于Tabac de Belleville办理。收据：{portal.base}/receipts/{token}")
