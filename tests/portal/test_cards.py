"""Recharge cards in the portal (/renew/card): the number and the PIN, no offer and no payment; one answer for every
PIN that does not redeem; the lockout says until when; the PIN is never written back into a page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from simkeep.ledger import service as ledger
from simkeep.locale import formats
from simkeep.locale.languages import BASE_LOCALE
from simkeep.main import create_app
from simkeep.notification.models import OutboxMessage
from simkeep.portal import service as portal
from simkeep.portal.signin import moment
from simkeep.receipt import service as receipts
from simkeep.receipt.models import Receipt
from simkeep.voucher import pins
from simkeep.voucher import service as vouchers
from simkeep.voucher.models import Voucher, VoucherFailure
from tests.conftest import T0
from tests.factories.lines import make_line, view
from tests.factories.snapshot import snapshot
from tests.factories.vouchers import make_batch, make_reseller, sell, sold_cards
from tests.factories.vouchers import redeem as redeem_card
from tests.portal import browser, page_text
from tests.portal import helpers as h
from tests.web import freeze_clock, race

SHOWN = "+33 6 12 34 56 78"
TYPED = {"zh_CN": "+33 6 12 34 56 78", "fr": "06 12 34 56 78", "en": "+33612345678"}
HOTLINE = "+33 1 23 45 67 89"
INVALID = {"en": "This recharge card PIN cannot be used.", "fr": "Ce code PIN de ticket de recharge ne peut pas",
           "zh_CN": "此充值卡密码无法使用"}
# Anything that looks like a date or a balance: a year, a month name in the three languages, "valid until".
DATEISH = re.compile(r"20\d\d|年|janv|févr|mars|avr|mai|juin|juil|août|sept|oct|nov|déc|January|February|March|"
                     r"April|May|June|July|August|September|October|November|December|valid until|valable jusqu|"
                     r"有效期至")


@pytest.fixture
def cfg(settings):
    return settings.model_copy(update={"public_url": "http://testserver", "hotline": HOTLINE})


@pytest.fixture
def app(cfg, db):
    return create_app(cfg, db)


@pytest.fixture
def clock(monkeypatch):
    return freeze_clock(monkeypatch, T0)


@pytest.fixture
def cards(db, clock):
    """A line of 10 € credit, and ten sold 10 € cards."""
    make_line(db, now=T0)
    make_reseller(db, now=T0)
    return sold_cards(db, quantity=10, now=T0)


def form(client, path: str = "/renew/card") -> dict:
    page = client.get(path).text
    return {"csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', page).group(1),
            "key": re.search(r'name="key" value="([^"]+)"', page).group(1)}


def redeem(client, pin: str, msisdn: str = h.MSISDN, fields: dict | None = None):
    return client.post("/renew/card", data={**(fields or form(client)), "msisdn": msisdn, "pin": pin})


def voucher_states(db) -> dict[int, str]:
    with db.transaction(write=False) as session:
        return dict(session.execute(select(Voucher.serial, Voucher.state)).all())


def failures(db) -> list[tuple[str, str, bool]]:
    with db.transaction(write=False) as session:
        return [(f.reason, f.channel, f.counted) for f in session.scalars(select(VoucherFailure)
                                                                          .order_by(VoucherFailure.at))]


def completed_sms(db) -> list[OutboxMessage]:
    with db.transaction(write=False) as session:
        return list(session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "topup.completed")))


def dashed(pin: str) -> str:
    """As some people copy it: 1234-5678-9012-345."""
    return pins.grouped(pin).replace(" ", "-")


def without_tokens(html: str) -> str:
    """The page with what differs from one rendering to the next (the CSRF token, the form's key) taken out."""
    return re.sub(r'name="(csrf_token|key)" value="[^"]+"', "", html)


# -- success ----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["zh_CN", "fr", "en"])
def test_a_card_credits_once_and_the_payer_sees_only_what_it_did(app, db, cards, lang):
    serial, pin = cards[0]
    before = view(db)
    with browser(app, lang) as payer:
        page = payer.get("/renew/card")
        assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
        assert 'inputmode="numeric"' in page.text and 'autocomplete="off"' in page.text
        assert '<script src="/static/card.js" defer></script>' in page.text
        fields = form(payer)
        answer = redeem(payer, dashed(pin), TYPED[lang], fields)
        assert answer.status_code == 303, page_text(answer.text)
        done = answer.headers["location"]
        assert re.fullmatch(r"/renew/card/[0-9a-f-]{36}", done)
        text = page_text(payer.get(done).text)
        # The same form sent again (a reload, a second tap): the first top-up, nothing more.
        again = redeem(payer, dashed(pin), TYPED[lang], fields)
        assert again.status_code == 303 and again.headers["location"] == done
    assert {"zh_CN": "已用充值卡为 +33 6 12 34 56 78 充入 €10.00。", "fr": "10,00 € ajoutés au +33 6 12 34 56 78",
            "en": "€10.00 added to +33 6 12 34 56 78"}[lang] in text, text
    assert {"zh_CN": "有效期延长 14 天", "fr": "Validité prolongée de 14 jours",
            "en": "Validity extended by 14 days"}[lang] in text, text
    assert not DATEISH.search(text), text  # no date of the line's: this browser did not verify the number
    assert pin not in text and pins.grouped(pin) not in text
    after = view(db)
    assert after.credit.minor - before.credit.minor == 1000
    assert after.line.validity_ends_at == before.line.validity_ends_at + timedelta(days=14)
    with db.transaction(write=False) as session:
        card = session.get(Voucher, serial)
        assert (card.state, card.redeemed_msisdn, card.redeemed_via) == ("redeemed", h.MSISDN, "portal")
        [receipt] = session.scalars(select(Receipt)).all()
        assert (receipt.topup_id, receipt.payment_method, receipt.amount_minor, receipt.language) == (
            card.topup_id, "voucher", 1000, lang)
        assert ledger.verify(session).ok and vouchers.reconcile(session) == []
    [sms] = completed_sms(db)
    assert sms.payload["voucher_serial"] == serial and sms.payload["receipt_url"].startswith(
        "http://testserver/receipts/")
    assert pin not in str(sms.payload)
    assert failures(db) == []


def test_a_verified_browser_sees_the_new_validity_the_balance_and_the_receipt(app, db, cfg, cards):
    _, pin = cards[0]
    before = view(db)
    new_end = formats.last_day(before.line.validity_ends_at + timedelta(days=14), "Europe/Paris", BASE_LOCALE["fr"])
    with browser(app, "fr") as holder:
        h.sign_in(holder, db)
        lines_page = holder.get("/lines").text
        assert 'href="/renew/card?msisdn=%2B33612345678"' in lines_page
        page = holder.get("/renew/card?msisdn=%2B33612345678").text
        assert 'value="+33612345678"' in page  # the line's number, filled in
        answer = redeem(holder, pin, "+33612345678", form(holder, "/renew/card?msisdn=%2B33612345678"))
        result = holder.get(answer.headers["location"]).text
    text = page_text(result)
    with db.transaction(write=False) as session:
        receipt = session.scalars(select(Receipt)).one()
    token = receipts.token_for(cfg.key("receipt"), receipt.id)
    assert f'href="/receipts/{token}.pdf"' in result
    credit = re.search(r'id="card-credit">([^<]+)<', result).group(1)
    valid = re.search(r'id="card-valid-until">([^<]+)<', result).group(1)
    balance = re.search(r'id="card-balance">([^<]+)<', result).group(1)
    assert (credit, valid, balance) == ("10,00\u00a0€", new_end, formats.money(view(db).balance, "fr_FR"))
    assert view(db).balance.minor == before.balance.minor + 1000
    assert "Vous allez recevoir un SMS de confirmation." in text, text
    with browser(app, "fr") as anyone:  # the receipt's check page and its PDF name the card as the way it was paid
        check = anyone.get(f"/receipts/{token}")
        assert check.status_code == 200 and "Ticket de recharge" in page_text(check.text), page_text(check.text)
        pdf = anyone.get(f"/receipts/{token}.pdf")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_the_wizard_offers_the_card_beside_paying_online_with_its_number(app, db, cards):
    _, pin = cards[0]
    with browser(app, "en") as payer:
        offers = payer.get("/recharge").text
        assert 'href="/renew/card"' in offers and "Have a recharge card?" in page_text(offers)
        h.to_summary(payer)  # offer -> number -> method: the wizard has the number
        assert 'href="/renew/card"' in payer.get("/recharge/method").text
        page = payer.get("/renew/card").text
        assert 'value="+33612345678"' in page
        assert redeem(payer, pin).status_code == 303


def test_the_result_page_is_the_redeeming_browsers_only(app, db, cards):
    with browser(app) as payer:
        done = redeem(payer, cards[0][1]).headers["location"]
    with browser(app) as stranger:
        assert stranger.get(done).status_code == 404
        assert stranger.get("/renew/card/not-a-top-up").status_code == 404
        assert stranger.get("/renew/card/" + "0" * 36).status_code == 404


# -- failures ---------------------------------------------------------------------------------------------------------

def unusable_pins(db) -> dict[str, str]:
    """A PIN for each way a card cannot be used (its reason as staff see it)."""
    make_line(db, msisdn="+33698765432", now=T0)
    used = sold_cards(db, quantity=2, now=T0)
    assert redeem_card(db, pin=used[0][1], msisdn="+33698765432", now=T0).failure is None
    blocked = sold_cards(db, quantity=1, now=T0)
    with db.transaction() as session:
        vouchers.request_action(session, action=vouchers.BLOCK, serial_from=blocked[0][0], serial_to=blocked[0][0],
                                actor="staff:alice", reason="box stolen", now=T0)
    unsold = make_batch(db, quantity=1, now=T0)[1]
    other_operator = make_batch(db, quantity=1, offer_id="fr-sfr-la-carte-15", now=T0)
    sell(db, serial_from=other_operator[0].serial_from, serial_to=other_operator[0].serial_to, now=T0)
    expiring = make_batch(db, quantity=1, now=T0, expires_in=timedelta(minutes=30))
    sell(db, serial_from=expiring[0].serial_from, serial_to=expiring[0].serial_to, now=T0)
    unknown = pins.new_pin()
    typo = used[1][1][:-1] + str((int(used[1][1][-1]) + 1) % 10)  # a sold card's PIN with a wrong check digit
    return {"unknown": unknown, "used": used[0][1], "blocked": blocked[0][1], "not_sold": unsold[0][1],
            "other_operator": other_operator[1][0][1], "expired": expiring[1][0][1],
            "check_digit": typo}


@pytest.mark.parametrize("lang", ["zh_CN", "fr", "en"])
def test_every_pin_that_does_not_redeem_gets_the_same_page_and_nothing_moves(db, cfg, cards, clock, lang):
    app = create_app(cfg.model_copy(update={"voucher_failures_per_number": 10}), db)  # all six, not locked
    tried = unusable_pins(db)
    clock.advance(hours=1)  # the expiring batch's date has passed (its cards are not expired by a job yet)
    pages = {}
    with browser(app, lang) as payer:
        payer.get("/renew/card")  # the browser's session starts
        states, before = voucher_states(db), snapshot(db)
        for reason, pin in tried.items():
            answer = redeem(payer, pins.grouped(pin))
            assert answer.status_code == 422, reason
            assert pin not in answer.text and pins.grouped(pin) not in answer.text, reason
            assert pin[:4] not in re.sub(r'value="[^"]*"', "", answer.text), reason  # not even part of it
            pages[reason] = without_tokens(answer.text)
    assert len(set(pages.values())) == 1, "the pages differ"
    text = page_text(pages["unknown"])
    assert INVALID[lang] in text, text
    assert 'value="+33612345678"' in pages["unknown"]  # the number stays; the PIN field is empty
    assert re.search(r'<input id="pin" name="pin"(?![^>]*value=)[^>]*>', pages["unknown"])
    # Staff see each reason; typos caught by the check digit cost no try.
    assert failures(db) == [(reason, "portal", reason != "check_digit") for reason in tried]
    after = snapshot(db)
    after["counts"]["voucher_failures"] -= len(tried)
    assert after == before and voucher_states(db) == states


def test_five_wrong_pins_lock_the_number_and_the_page_says_until_when(app, db, cards, clock):
    good = cards[0][1]
    states, before = voucher_states(db), view(db)
    with browser(app, "fr") as payer:
        for _ in range(4):
            assert redeem(payer, pins.new_pin()).status_code == 422
        clock.advance(hours=1)
        fifth = redeem(payer, pins.new_pin())  # the last try: the page already says the number is locked
        locked = redeem(payer, good)  # even a good card: nothing is checked while locked
    unlocks = T0 + timedelta(hours=24)
    for answer in (fifth, locked):
        assert answer.status_code == 429
        text = page_text(answer.text)
        assert "Trop de codes PIN de ticket de recharge erronés" in text, text
        assert f"à partir du {moment(unlocks, 'fr_FR', None)}" in text, text
        assert f'datetime="{unlocks.isoformat()}"' in answer.text
        assert HOTLINE in text
        assert good not in answer.text
    assert voucher_states(db) == states and view(db).balance == before.balance
    assert [reason for reason, _, counted in failures(db) if counted] == ["unknown"] * 5
    # A day after the first failure, the number may try again.
    clock.advance(hours=23)
    with browser(app, "fr") as payer:
        assert redeem(payer, good).status_code == 303
    assert view(db).credit.minor == before.credit.minor + 1000


def test_a_number_that_cannot_be_renewed_gets_the_wizards_one_sentence_and_the_card_stays_unused(app, db, cards):
    states = voucher_states(db)
    with browser(app) as payer:
        answer = redeem(payer, cards[0][1], msisdn="+33611111111")
        assert answer.status_code == 422
        assert "This number cannot be renewed online." in page_text(answer.text)
        assert cards[0][1] not in answer.text
        refused = redeem(payer, cards[0][1], msisdn="not a number")
        assert refused.status_code == 422 and "This is not a valid mobile number." in page_text(refused.text)
    assert voucher_states(db) == states and failures(db) == []


def test_pins_are_limited_per_address(db, cfg, cards):
    app = create_app(cfg.model_copy(update={"voucher_redemptions_per_ip": "3 per hour"}), db)
    with browser(app) as payer:
        for _ in range(3):
            assert redeem(payer, pins.new_pin()).status_code == 422
        answer = redeem(payer, cards[0][1])
        assert answer.status_code == 429 and "Too many attempts." in page_text(answer.text)
    assert len(failures(db)) == 3 and view(db).credit.minor == 0


def test_numbers_typed_for_cards_count_like_the_wizards(db, cfg, cards):
    app = create_app(cfg.model_copy(update={"renewal_numbers_per_ip": "2 per hour"}), db)
    with browser(app) as payer:
        h.to_summary(payer)  # the wizard's number step: one number checked
        assert redeem(payer, pins.new_pin()).status_code == 422
        assert redeem(payer, cards[0][1]).status_code == 429
    assert view(db).credit.minor == 0


def test_without_the_voucher_keys_the_portal_offers_no_card(db, settings):
    app = create_app(settings.model_copy(update={"voucher_pepper": None, "voucher_seal_key": None}), db)
    make_line(db, now=T0)
    with browser(app) as payer:
        assert 'href="/renew/card"' not in payer.get("/recharge").text
        page = payer.get("/renew/card")
        assert page.status_code == 200 and "Recharge cards cannot be used here right now." in page_text(page.text)
        token = re.search(r'name="csrf_token" value="([^"]+)"', payer.get("/recharge").text).group(1)
        answer = payer.post("/renew/card", data={"csrf_token": token, "key": "k" * 24, "msisdn": h.MSISDN,
                                                 "pin": pins.new_pin()})
        assert answer.status_code == 503


def test_hostile_card_forms_get_the_error_page(app, db, cards):
    states = voucher_states(db)
    with browser(app) as payer:
        fields = form(payer)
        assert payer.post("/renew/card", data={**fields, "msisdn": h.MSISDN, "pin": "1" * 65}).status_code == 422
        assert payer.post("/renew/card", data={**fields, "key": "short", "msisdn": h.MSISDN,
                                               "pin": cards[0][1]}).status_code == 422
        no_csrf = payer.post("/renew/card", data={"key": fields["key"], "msisdn": h.MSISDN, "pin": cards[0][1]})
        assert no_csrf.status_code == 403
        assert payer.get("/renew/card?msisdn=" + "9" * 30000).status_code == 422
    assert voucher_states(db) == states and failures(db) == []


def test_the_same_form_sent_many_times_at_once_credits_once_and_counts_no_failure(db, cfg, cards):
    """A form sent again while the first is still being handled (a double tap without JavaScript, a retry by the
    phone) waits for the line's lock, then answers the first top-up: no second credit, and no "used" failure that
    would count towards the number's lockout."""
    serial, pin = cards[0]
    before = view(db)

    def send(_: int):
        return portal.redeem_card(db, cfg, msisdn=h.MSISDN, pin=pin, key="the-same-form-key-0001", client="test",
                                  language="en", now=T0).id

    assert len(set(race(12, send))) == 1
    assert view(db).credit.minor == before.credit.minor + 1000
    assert failures(db) == [] and voucher_states(db)[serial] == "redeemed"
    with db.transaction(write=False) as session:
        assert len(session.scalars(select(Receipt)).all()) == 1
