"""USSD sessions end to end: the test SMSC delivers what the handset types, the real SmppSender hands it to the
menu, the answer goes through the outbox and comes back to the SMSC as a USSD submit_sm."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from simkeep.line.models import Line
from simkeep.notification.models import OutboxMessage
from simkeep.topup.models import TopUp
from simkeep.ussd.models import UssdSession
from simkeep.voucher import pins
from simkeep.voucher.models import Voucher, VoucherFailure
from tests.conftest import T0
from tests.factories.lines import make_line, top_up
from tests.factories.vouchers import make_reseller, sold_cards
from tests.ussd import REQUEST, RESPONSE, Handset, session_info
from tests.web import balances

MENU = {
    "en": "simkeep +33 6 12 34 56 78\n1 Balance\n2 Renew with a recharge card\n3 Language\n0 Exit",
    "fr": "simkeep +33 6 12 34 56 78\n1 Solde\n2 Recharger avec une carte\n3 Langue\n0 Quitter",
    "zh_CN": "simkeep +33 6 12 34 56 78\n1.余额\n2.用充值卡续费\n3.语言\n0.退出",
}
# A new Orange line (T0 = 1 March 2027) topped up with 10 EUR: valid to 14 April, number kept to 11 October.
BALANCE = {
    "en": "Balance: €10.00\nValid until April 14, 2027\nNumber kept until October 11, 2027\n9 Menu\n0 Exit",
    "fr": "Solde : 10,00 €\nValable jusqu'au 14 avril 2027\nNuméro gardé jusqu'au 11 octobre 2027\n9 Menu\n0 Quitter",
    "zh_CN": "余额：€10.00\n有效期至2027年4月14日\n号码保留至2027年10月11日\n9.菜单\n0.退出",
}
GOODBYE = {"en": "Goodbye.", "fr": "Au revoir.", "zh_CN": "再见。"}
PIN_FAILED = ("This PIN cannot be used. Check the digits; if it still fails, ask the seller.\nType the PIN again\n"
              "0 Back")


def unknown_pin(like: str, n: int = 0) -> str:
    """A PIN as long as `like` with a right check digit (a typo does not count towards the lockout) but no card."""
    body = f"{n:02}".rjust(len(like) - 1, "9")
    return body + pins.check_digit(body)


def sessions(db) -> list[UssdSession]:
    with db.transaction(write=False) as session:
        return list(session.scalars(select(UssdSession).order_by(UssdSession.started_at)))


def count(db, model) -> int:
    with db.transaction(write=False) as session:
        return session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("language", ["zh_CN", "fr", "en"])
def test_balance_in_each_language(handset: Handset, db, language):
    make_line(db, language=language, now=T0)
    top_up(db, now=T0)

    menu = handset.dial()
    assert (menu.text, menu.ussd_service_op, menu.its_session_info) == (MENU[language], REQUEST, session_info(7, 1))
    assert menu.destination_addr == "33612345678" and menu.data_coding == (8 if language == "zh_CN" else 0)
    balance = handset.type("1")
    assert (balance.text, balance.ussd_service_op, balance.its_session_info) == (
        BALANCE[language], REQUEST, session_info(7, 3))
    bye = handset.type("0")
    assert (bye.text, bye.ussd_service_op, bye.its_session_info) == (GOODBYE[language], RESPONSE,
                                                                     session_info(7, 5, end=True))
    [ussd] = sessions(db)
    assert (ussd.state, ussd.outcome, ussd.open_key, ussd.last_sequence, ussd.language) == (
        "ended", "exit", None, 4, language)


def test_a_shortcut_dialled_at_once_opens_on_its_screen(handset: Handset, db):
    make_line(db, language="en", now=T0)
    top_up(db, now=T0)
    assert handset.dial("*100*1#").text == BALANCE["en"]
    assert handset.type("9").text == MENU["en"]


def test_invalid_input_repeats_the_screen_with_a_short_error(handset: Handset, db):
    make_line(db, language="en", now=T0)
    handset.dial()
    again = handset.type("7")
    assert (again.text, again.ussd_service_op) == ("Invalid choice.\n" + MENU["en"], REQUEST)
    assert handset.type("3").text == "Language\n1 中文\n2 Français\n3 English\n0 Back"
    assert handset.type("5").text == "Invalid choice.\nLanguage\n1 中文\n2 Français\n3 English\n0 Back"


def test_renewal_credits_once_even_when_the_pdu_is_delivered_twice(handset: Handset, db, clock):
    make_line(db, language="en", now=T0)
    make_reseller(db, now=T0)
    serial, pin = sold_cards(db, quantity=1, now=T0)[0]
    handset.dial()
    assert handset.type("2").text == "Type the PIN of your recharge card\n0 Back"

    renewed = handset.type(pin)
    assert (renewed.text, renewed.ussd_service_op, renewed.its_session_info) == (
        "Card accepted: €10.00 added. Balance €10.00, valid until April 14, 2027. Number kept until October 11, "
        "2027.", RESPONSE, session_info(7, 5, end=True))
    assert handset.again(pin) is None  # the SMSC delivers the same PDU again
    clock.advance(seconds=5)
    assert handset.again(pin) is None
    assert balances(db) == (1000, 0)
    assert count(db, TopUp) == 1
    with db.transaction(write=False) as session:
        assert session.scalar(select(Voucher.state).where(Voucher.serial == serial)) == "redeemed"
        assert session.scalar(select(TopUp.channel)) == "voucher"
        assert session.scalar(select(func.count()).select_from(OutboxMessage)
                              .where(OutboxMessage.channel == "ussd")) == 3
    assert [s.outcome for s in sessions(db)] == ["renewed"]


def test_a_wrong_pin_gets_the_one_public_answer_and_moves_nothing(handset: Handset, db):
    make_line(db, language="en", now=T0)
    top_up(db, now=T0)
    make_reseller(db, now=T0)
    serial, pin = sold_cards(db, quantity=1, now=T0)[0]
    handset.dial()
    handset.type("2")
    wrong = handset.type(unknown_pin(pin))
    assert (wrong.text, wrong.ussd_service_op) == (PIN_FAILED, REQUEST)
    assert balances(db) == (1000, 0)
    assert count(db, TopUp) == 1
    with db.transaction(write=False) as session:
        assert session.execute(select(VoucherFailure.channel, VoucherFailure.reason)).one() == ("ussd", "unknown")
        assert session.scalar(select(Voucher.state).where(Voucher.serial == serial)) == "active"
    assert handset.type("0").text == MENU["en"]  # back to the menu, the session goes on
    assert sessions(db)[0].state == "menu"


def test_five_wrong_pins_lock_the_number(handset: Handset, db):
    make_line(db, language="fr", now=T0)
    make_reseller(db, now=T0)
    serial, pin = sold_cards(db, quantity=1, now=T0)[0]
    handset.dial()
    handset.type("2")
    for n in range(5):
        assert handset.type(unknown_pin(pin, n)).text.startswith("Ce code ne peut pas servir.")
    locked = handset.type(pin)  # even a good card, now
    assert (locked.text, locked.ussd_service_op, locked.its_session_info & 1) == (
        "Trop de codes erronés pour ce numéro. Réessayez demain, ou appelez le service client.", RESPONSE, 1)
    assert balances(db) == (0, 0)
    assert count(db, TopUp) == 0
    assert count(db, VoucherFailure) == 5
    with db.transaction(write=False) as session:
        assert session.scalar(select(Voucher.state).where(Voucher.serial == serial)) == "active"
    assert sessions(db)[0].outcome == "locked"


def test_the_language_chosen_is_the_lines_from_then_on(handset: Handset, db):
    make_line(db, language="fr", now=T0)
    handset.dial()
    handset.type("3")
    assert handset.type("3").text == MENU["en"]
    handset.type("0")
    with db.transaction(write=False) as session:
        assert session.scalar(select(Line.language)) == "en"
    assert handset.dial(session=8).text == MENU["en"]
    assert [s.language for s in sessions(db)] == ["en", "en"]


def test_a_silent_session_times_out(handset: Handset, db, clock):
    make_line(db, language="zh_CN", now=T0)
    handset.dial()
    clock.advance(seconds=180)
    late = handset.type("1")
    assert (late.text, late.ussd_service_op, late.its_session_info) == (
        "会话已超时。请重新拨打*100#。", RESPONSE, session_info(7, 3, end=True))
    [ussd] = sessions(db)
    assert (ussd.state, ussd.outcome, ussd.ended_at) == ("ended", "timeout", T0.replace(minute=3))
    assert handset.again("1") is None  # the late PDU again: answered once
    assert handset.dial().text == MENU["zh_CN"]  # dialling again starts afresh


def test_the_worker_ends_sessions_left_silent(handset: Handset, db, settings, clock):
    from simkeep.ussd import tasks

    make_line(db, language="en", now=T0)
    handset.dial()
    clock.advance(seconds=179)
    assert tasks.expire_idle(db, settings) == 0
    clock.advance(seconds=1)
    assert tasks.expire_idle(db, settings) == 1
    assert [(s.outcome, s.open_key) for s in sessions(db)] == [("timeout", None)]


def test_a_caller_without_a_live_line_gets_a_short_final_answer(handset: Handset, db):
    answer = handset.dial()
    assert (answer.text, answer.ussd_service_op, answer.its_session_info) == (
        "simkeep keeps no prepaid line for this number.", RESPONSE, session_info(7, 1, end=True))
    assert [(s.outcome, s.line_id) for s in sessions(db)] == [("no_line", None)]


def test_the_handset_hanging_up_ends_the_session_without_an_answer(handset: Handset, db):
    make_line(db, language="en", now=T0)
    handset.dial()
    assert handset.hang_up() is None
    assert [(s.state, s.outcome) for s in sessions(db)] == [("ended", "released")]


def test_a_new_dial_replaces_the_open_session(handset: Handset, db):
    make_line(db, language="en", now=T0)
    handset.dial()
    handset.type("2")
    assert handset.dial(session=9).text == MENU["en"]
    assert [(s.smsc_session, s.outcome) for s in sessions(db)] == [(7, "replaced"), (9, None)]


def test_each_session_is_on_the_lines_history(handset: Handset, db):
    from simkeep.history import service as history
    from simkeep.line import service as lines

    make_line(db, language="en", now=T0)
    handset.dial()
    handset.type("0")
    with db.transaction(write=False) as session:
        items, _ = history.history(session, lines.find_line(session, "+33612345678"), before=None, limit=20)
    [item] = [i for i in items if i["type"] == "ussd_session"]
    assert (item["at"], item["outcome"], item["channel"]) == (T0, "exit", "ussd")


def test_an_answer_is_never_sent_after_its_session_is_over(handset: Handset, smsc, db, router, clock):
    from simkeep.notification.tasks import deliver_due

    make_line(db, language="en", now=T0)
    smsc.answer_next_submit(0x58)  # throttled: the menu waits in the outbox for a retry
    assert handset.dial().message_id is None  # refused by the SMSC
    clock.advance(seconds=180)
    deliver_due(db, router)
    assert len(smsc.ussd_answers) == 1  # only the refused try
    with db.transaction(write=False) as session:
        assert session.execute(select(OutboxMessage.status, OutboxMessage.last_error)).one() == (
            "failed", "PermanentFailure: USSD session over before its answer could go out")


def test_a_gateway_without_ussd_service_op_is_understood(handset: Handset, smsc, db):
    make_line(db, language="en", now=T0)
    top_up(db, now=T0)
    assert smsc.deliver_ussd("33612345678", "*100#", None, session_info(4, 0)) == 0  # no TLV: a dialled code opens
    handset.session = 4
    assert handset.type("1").text == BALANCE["en"]  # ... and what follows answers it


def test_a_card_refused_after_it_was_taken_is_left_unused(handset: Handset, db):
    """A deactivated line still shows its status, but its renewal fails after the card's guarded update: the
    savepoint puts the card back, and the session ends with what to do."""
    from sqlalchemy import update

    make_line(db, language="en", now=T0)
    make_reseller(db, now=T0)
    serial, pin = sold_cards(db, quantity=1, now=T0)[0]
    with db.transaction() as session:
        session.execute(update(Line).values(state="deactivated"))
    handset.dial()
    handset.type("2")
    refused = handset.type(pin)
    assert (refused.text, refused.ussd_service_op) == (
        "The card was not used: this number cannot be renewed now. Call customer service.", RESPONSE)
    assert balances(db) == (0, 0)
    assert (count(db, TopUp), count(db, VoucherFailure)) == (0, 0)
    with db.transaction(write=False) as session:
        assert session.scalar(select(Voucher.state).where(Voucher.serial == serial)) == "active"
    assert sessions(db)[0].outcome == "not_renewable"


def test_packed_gsm7_both_ways(smsc, db, settings, clock):
    """A link configured gsm7=packed reads the handset's packed septets (data_coding 0x0F, as gateways send USSD)
    and packs its screens."""
    from simkeep.notification.segments import gsm7_codes
    from simkeep.notification.senders.smpp import SmppSender, pack_septets
    from simkeep.notification.senders.smpp.codec import gsm7_decode, unpack_septets
    from simkeep.notification.tasks import DbListener, deliver_due
    from simkeep.ussd import tasks

    make_line(db, language="fr", now=T0)
    top_up(db, now=T0)
    sender = SmppSender(smsc.url(gsm7="packed"), listener=DbListener(db, ussd_menu=tasks.menu(settings)))
    try:
        assert sender.wait_bound(5)
        for sequence, typed in ((0, "*100#"), (2, "1")):
            assert smsc.deliver_ussd("33612345678", "", 1 if sequence == 0 else 18, session_info(2, sequence),
                                     data_coding=0x0F, short_message=pack_septets(gsm7_codes(typed))) == 0
            deliver_due(db, sender)
    finally:
        sender.close()
    assert [gsm7_decode(unpack_septets(a.user_data)) for a in smsc.ussd_answers] == [MENU["fr"], BALANCE["fr"]]
    assert len(smsc.ussd_answers[1].user_data) == 90  # 102 septets (€ is two) packed in 90 octets


def test_ussd_answers_are_claimed_apart_from_the_sms_waiting(handset: Handset, smsc, db, router, clock):
    """The worker's thread for USSD answers leases only them: a backlog of reminders never delays a screen."""
    from simkeep.notification import outbox
    from simkeep.notification.tasks import deliver_due

    make_line(db, language="en", now=T0)
    with db.transaction() as session:
        outbox.enqueue(session, [outbox.Message(dedup_key=f"r{n}", topic="reminders.stopped", channel=outbox.SMS,
                                                recipient=f"+3361111{n:04d}", language="en",
                                                payload={"msisdn": "+33611110000"}) for n in range(3)], now=T0)
    assert smsc.deliver_ussd("33612345678", "*100#", 1, session_info(1, 0)) == 0
    assert deliver_due(db, router, channel="ussd") == 1
    assert [(s.service_type, s.text) for s in smsc.submits] == [("USSD", MENU["en"])]
    with db.transaction(write=False) as session:
        assert session.scalars(select(OutboxMessage.status).where(OutboxMessage.channel == "sms")).all() == [
            "pending"] * 3
