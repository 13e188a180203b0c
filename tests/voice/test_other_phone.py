"""A caller from another phone (or a withheld number): the number typed, the portal's sign-in code sent to it, the
menu once the code is right, and a card without the code as the portal allows. Nothing said before the code tells
whether a number is a line."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from simkeep.notification.models import OutboxMessage
from simkeep.voice.flow import SIP, Call, Digits, Hangup
from simkeep.voice.menu import Menu
from simkeep.voucher.models import Voucher
from tests.conftest import T0
from tests.factories.lines import make_line
from tests.factories.snapshot import snapshot
from tests.factories.vouchers import make_reseller, sold_cards
from tests.voice import HOTLINE, MENU, MSISDN, call_row, names, said
from tests.web import balances, rows_added

CODE_STEP = ["code_enter", "code_card", "code_other_number"]
PIN_STEP = ["pin_enter", "pin_back"]
STRANGER = "+447700900123"  # a UK mobile, not a line of ours


@pytest.fixture
def menu(db, settings) -> Menu:
    return Menu(db, settings, now=lambda: T0)


def dial(menu: Menu, *, caller: str | None = STRANGER, call_id: str = "call-1") -> None:
    """Call in English from a number that is not a line."""
    menu.start(Call(call_id, caller, HOTLINE, SIP))
    assert names(menu.handle(call_id, Digits("3"))) == ["number_enter"]


def codes_sent(db) -> list[OutboxMessage]:
    with db.transaction(write=False) as session:
        return list(session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "otp.code")))


@pytest.mark.parametrize("caller", [STRANGER, None], ids=["another phone", "withheld"])
def test_the_number_then_the_code_sent_to_it_then_the_menu_for_that_line(db, menu, caller):
    line = make_line(db, now=T0, language="fr")
    dial(menu, caller=caller)
    sent = menu.handle("call-1", Digits("0612345678"))  # national format, as on the portal
    assert names(sent) == ["code_sent", *CODE_STEP]
    assert said(sent, until="code_enter") == "If this number is one of ours, we have just sent it a code by text message."
    [sms] = codes_sent(db)
    assert sms.recipient == MSISDN
    code = sms.payload["code"]
    wrong = "000000" if code != "000000" else "111111"
    assert names(menu.handle("call-1", Digits(wrong))) == ["code_wrong", *CODE_STEP]
    opened = menu.handle("call-1", Digits(code))
    assert names(opened) == MENU  # no 9: the line's language is its owner's to change
    assert {p.language for p in opened.prompts} == {"en"}
    balance = menu.handle("call-1", Digits("1"))
    assert said(balance, until="menu_balance").startswith("Your balance is zero euros Your line is valid until")
    row = call_row(db)
    assert row.line_id == line.id
    assert row.done == [{"action": "code_verified"}, {"action": "balance_heard"}]


def test_a_number_that_is_not_a_line_hears_exactly_the_same_and_gets_no_sms(db, menu):
    make_line(db, now=T0, language="fr")
    dial(menu, call_id="ours")
    ours = [menu.handle("ours", Digits("0033612345678")), menu.handle("ours", Digits("123456"))]
    dial(menu, call_id="not-ours")
    before = snapshot(db)
    theirs = [menu.handle("not-ours", Digits("0033698765432")), menu.handle("not-ours", Digits("123456"))]
    assert [names(t) for t in theirs] == [names(t) for t in ours] == [
        ["code_sent", *CODE_STEP], ["code_wrong", *CODE_STEP]]
    assert "outbox" not in rows_added(before, snapshot(db))  # a code is made, but only a line gets it
    assert len(codes_sent(db)) == 1


def test_five_wrong_codes_close_the_code_and_end_the_call(db, menu):
    make_line(db, now=T0, language="fr")
    dial(menu)
    menu.handle("call-1", Digits("0612345678"))
    code = codes_sent(db)[0].payload["code"]
    wrongs = [c for c in ("000000", "111111", "222222", "333333", "444444", "555555") if c != code][:5]
    for wrong in wrongs[:4]:
        assert names(menu.handle("call-1", Digits(wrong))) == ["code_wrong", *CODE_STEP]
    bye = menu.handle("call-1", Digits(wrongs[4]))
    assert names(bye) == ["code_closed", "goodbye"] and bye.then == Hangup()
    row = call_row(db)
    assert row.line_id is None
    assert "number" not in row.state and MSISDN not in str(row.state)  # what was typed ends with the call


def test_a_number_that_cannot_be_one_is_asked_again_and_the_numbers_a_call_may_type_are_bounded(db, menu):
    dial(menu)
    assert names(menu.handle("call-1", Digits("123"))) == ["number_invalid", "number_enter"]
    assert names(menu.handle("call-1", Digits("*"))) == ["invalid_key", "number_enter"]
    menu.handle("call-1", Digits("0698765432"))
    assert names(menu.handle("call-1", Digits("*"))) == PIN_STEP
    assert names(menu.handle("call-1", Digits("*"))) == CODE_STEP


def test_0_types_another_number_and_a_call_may_type_three(db, menu):
    dial(menu)
    for n in range(3):
        assert names(menu.handle("call-1", Digits(f"069876543{n}"))) == ["code_sent", *CODE_STEP]
        assert names(menu.handle("call-1", Digits("0"))) == ["number_enter"]
    bye = menu.handle("call-1", Digits("0698765439"))
    assert names(bye) == ["goodbye"] and bye.then == Hangup()


@pytest.fixture
def card(db):
    make_reseller(db, now=T0)
    return sold_cards(db, quantity=1, now=T0)[0]


def test_a_card_without_the_code_says_what_it_did_and_no_date(db, menu, card):
    make_line(db, now=T0, language="fr")
    dial(menu)
    menu.handle("call-1", Digits("0612345678"))
    assert names(menu.handle("call-1", Digits("*"))) == PIN_STEP
    done = menu.handle("call-1", Digits(card[1]))
    assert said(done, until="code_enter") == (
        "Your card is accepted. Credit added: ten euros Validity extended by fourteen days A confirmation text "
        "message is on its way to the line.")
    assert names(done)[-3:] == CODE_STEP  # the code still opens the rest
    assert menu.handle("call-1", Digits("")) == done  # the # after the PIN's 15 digits says it again
    assert balances(db) == (1000, 0)
    row = call_row(db)
    assert row.done[-1]["action"] == "card_redeemed" and row.line_id is not None


def test_a_card_on_a_number_that_is_not_a_line_hears_what_a_wrong_pin_hears(db, menu, card):
    make_line(db, now=T0, language="fr")
    dial(menu)
    menu.handle("call-1", Digits("0698765432"))
    menu.handle("call-1", Digits("*"))
    before = snapshot(db)
    assert names(menu.handle("call-1", Digits(card[1]))) == ["card_invalid", *PIN_STEP]
    assert rows_added(before, snapshot(db)) == {"voice_turns": 1}
    with db.transaction(write=False) as session:
        assert session.scalars(select(Voucher.state).where(Voucher.serial == card[0])).one() == "active"
