"""Recharge cards in a real browser: the wizard's card path in 中文, français and English up to the confirmation with
the new balance and validity; the card's QR code (`/renew/card#pin=…`) fills the PIN and leaves no trace of it in
the address bar; a wrong PIN gets the one translated message with the PIN gone; the form works without JavaScript."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest

from simkeep.voucher import pins
from simkeep.voucher.models import Voucher
from simkeep.web.pages import ERROR_TEXTS
from tests.browser import journey as j
from tests.browser.conftest import MSISDN, PHONE, Portal
from tests.browser.language import check_page
from tests.factories.vouchers import make_reseller, sold_cards

LANGS = ["zh_CN", "fr", "en"]
SHOWN = "+33 6 12 34 56 78"


def cards(portal: Portal, quantity: int = 1) -> list[tuple[int, str]]:
    """Cards of 10 € (14 days) sold to a reseller, ready to redeem."""
    make_reseller(portal.db, now=datetime.now(UTC))
    return sold_cards(portal.db, quantity=quantity, now=datetime.now(UTC))


def card_state(portal: Portal, serial: int) -> tuple[str, str | None, str | None]:
    with portal.db.transaction(write=False) as session:
        card = session.get(Voucher, serial)
        return card.state, card.redeemed_msisdn, card.redeemed_via


@pytest.mark.parametrize("lang", LANGS)
def test_the_wizards_card_path_ends_on_the_new_balance_and_validity(open_page, portal, lang):
    line = portal.line(language=lang)
    [(serial, pin)] = cards(portal)
    before = portal.view()
    new_end = j.plus_days(line.validity_ends_at, 14)
    untranslated: dict[str, list[str]] = {}

    page = open_page(lang)
    j.sign_in(page, portal, typed=j.TYPED[lang], next_path="/recharge")  # the holder: the page shows the dates
    check_page(page, "offers, with the card choice", lang, untranslated)
    j.open_card_form(page)
    assert page.locator("#msisdn").input_value() == MSISDN  # the one number this browser verified
    j.type_pin(page, pin)
    assert page.locator("#pin").input_value() == pins.grouped(pin)  # grouped by four as it was typed
    check_page(page, "card form", lang, untranslated)
    j.redeem_card(page)
    j.wait_card_result(page)

    assert page.locator("#card-credit").inner_text() == j.amount(1000, lang)
    assert j.normalize(page.locator("#card-valid-until").inner_text()) == j.normalize(j.last_day(new_end, lang))
    assert page.locator("#card-balance").inner_text() == j.amount(before.balance.minor + 1000, lang)
    assert SHOWN in j.normalize(page.inner_text("#card-result"))
    check_page(page, "card result", lang, untranslated)

    after = portal.view()
    assert after.balance.minor == before.balance.minor + 1000 and after.line.validity_ends_at == new_end
    assert card_state(portal, serial) == ("redeemed", MSISDN, "portal")
    # The confirmation SMS comes from the top-up, in the line's language, with the receipt the page links to.
    [sms] = portal.sms.wait("topup.completed", MSISDN)
    assert sms["language"] == lang and sms["payload"]["receipt_url"] in sms["text"]
    assert pin not in sms["text"] and pins.grouped(pin) not in sms["text"]
    pdf = page.locator('#card-result a[href$=".pdf"]').get_attribute("href")
    assert pdf == urlsplit(sms["payload"]["receipt_url"]).path + ".pdf"
    assert untranslated == {}, f"strings not translated into {lang}: {untranslated}"


def test_the_cards_qr_code_fills_the_pin_and_leaves_no_trace_of_it(open_page, portal):
    portal.line(language="en")
    [(serial, pin)] = cards(portal)
    before = portal.view()
    page = open_page("en")
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(pins.redeem_url(portal.base, pin))

    field = page.locator("#pin")
    field.wait_for()
    assert field.input_value() == pins.grouped(pin)
    assert page.evaluate("location.hash") == "" and page.url == portal.url("/renew/card")
    assert page.evaluate("document.activeElement.id") == "msisdn"  # what is left to type
    j.redeem_card(page, typed=j.TYPED["en"])
    j.wait_card_result(page)

    text = j.normalize(page.inner_text("#card-result"))
    assert f"€10.00 added to {SHOWN} with a recharge card." in text and "Validity extended by 14 days." in text, text
    assert portal.view().credit.minor == before.credit.minor + 1000
    assert card_state(portal, serial) == ("redeemed", MSISDN, "portal")
    assert not any(pin in url for url in requested), requested  # the fragment never left the browser


@pytest.mark.parametrize("lang", LANGS)
def test_a_wrong_pin_gets_the_one_translated_message_and_the_pin_is_gone(open_page, portal, lang):
    portal.line(language=lang)
    [(serial, _)] = cards(portal)
    money = portal.money()
    page = open_page(lang)
    page.goto(portal.url("/renew/card"))
    wrong = pins.new_pin()
    j.type_pin(page, wrong)
    j.redeem_card(page, typed=j.TYPED[lang])

    error = page.locator("main .error[role=alert]")
    assert j.normalize(error.inner_text()) == j.normalize(j.t(lang, ERROR_TEXTS["voucher_invalid"]))
    assert page.locator("#pin").input_value() == ""
    assert wrong not in page.content() and pins.grouped(wrong) not in page.content()
    assert page.locator("#msisdn").input_value() == j.TYPED[lang][:32]
    untranslated: dict[str, list[str]] = {}
    check_page(page, "card form: wrong PIN", lang, untranslated)
    assert untranslated == {}
    assert portal.money() == money and card_state(portal, serial) == ("active", None, None)


def test_the_card_form_works_without_javascript(new_context, portal):
    portal.line(language="fr")
    [(serial, pin)] = cards(portal)
    context = new_context(locale="fr-FR", viewport=PHONE, is_mobile=True, java_script_enabled=False)
    page = context.new_page()
    page.goto(pins.redeem_url(portal.base, pin))
    assert page.locator("#pin").input_value() == ""  # nothing reads the fragment: the PIN is typed
    page.locator("#pin").fill(pins.grouped(pin).replace(" ", "-"))
    j.redeem_card(page, typed=j.TYPED["fr"])
    j.wait_card_result(page)
    assert "10,00 € ajoutés au +33 6 12 34 56 78" in j.normalize(page.inner_text("#card-result"))
    assert card_state(portal, serial) == ("redeemed", MSISDN, "portal")
