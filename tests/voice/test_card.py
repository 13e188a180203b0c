"""Renewing with a recharge card on the keypad: the one redemption of every channel (voucher.service.redeem, via
"ivr"), credited exactly once whatever the caller or the transport repeats, the number's lockout after five wrong
PINs, and nothing of a PIN kept or logged."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from structlog.testing import capture_logs

from simkeep.notification.models import OutboxMessage
from simkeep.receipt.models import Receipt
from simkeep.topup.models import TopUp
from simkeep.voice.flow import SIP, Call, Digits, Hangup, HungUp, Silence
from simkeep.voice.menu import Menu
from simkeep.voice.models import FAILED, HUNG_UP, VoiceCall, VoiceTurn
from simkeep.voucher import pins
from simkeep.voucher.models import REDEEMED, Voucher, VoucherFailure
from tests.conftest import T0
from tests.factories.lines import make_line
from tests.factories.snapshot import snapshot
from tests.factories.vouchers import make_reseller, sold_cards
from tests.voice import HOTLINE, MSISDN, OWN_MENU, call_row, names, said, turn_rows
from tests.web import balances, race, rows_added

PIN_STEP = ["pin_enter", "pin_back"]


@pytest.fixture
def cards(db):
    make_reseller(db, now=T0)
    return sold_cards(db, quantity=3, now=T0)


@pytest.fixture
def menu(db, settings) -> Menu:
    return Menu(db, settings, now=lambda: T0)


def at_pin_step(db, menu: Menu, *, language_key: str = "2", call_id: str = "call-1") -> None:
    """A French line calls, chooses a language and presses 2."""
    make_line(db, now=T0, language="fr")
    menu.start(Call(call_id, MSISDN, HOTLINE, SIP))
    menu.handle(call_id, Digits(language_key))
    assert names(menu.handle(call_id, Digits("2"))) == PIN_STEP


def topups(db) -> list[TopUp]:
    with db.transaction(write=False) as session:
        return list(session.scalars(select(TopUp)))


def confirmations(db) -> int:
    with db.transaction(write=False) as session:
        return len(session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "topup.completed")).all())


def wrong_pin() -> str:
    """A PIN with a right check digit that no card has: a counted failure."""
    return pins.new_pin()


def test_a_card_renews_once_and_says_the_amount_and_the_new_validity(db, menu, cards):
    serial, pin = cards[0]
    at_pin_step(db, menu)
    done = menu.handle("call-1", Digits(pin))
    assert said(done, until="menu_balance") == (
        "Votre recharge est faite. Crédit ajouté\u00a0: dix euros Votre ligne reste valable, dernier jour\u00a0: "
        "le quatorze avril Un SMS de confirmation est envoyé à la ligne.")
    assert names(done)[-len(OWN_MENU):] == OWN_MENU
    assert balances(db) == (1000, 0)
    [topup] = topups(db)
    assert (topup.channel, topup.principal, topup.idempotency_key) == ("voucher", "ivr", f"{call_row(db).id}:1")
    assert confirmations(db) == 1
    with db.transaction(write=False) as session:
        card = session.scalars(select(Voucher).where(Voucher.serial == serial)).one()
        receipt = session.scalars(select(Receipt)).one()
    assert (card.state, card.redeemed_via, card.redeemed_msisdn) == (REDEEMED, "ivr", MSISDN)
    assert (receipt.topup_id, receipt.payment_method, receipt.language) == (topup.id, "voucher", "fr")
    assert call_row(db).done[-1] == {"action": "card_redeemed", "serial": serial, "topup_id": str(topup.id)}


def test_hash_pressed_twice_credits_once_and_says_the_confirmation_again(db, menu, cards):
    _, pin = cards[0]
    at_pin_step(db, menu)
    done = menu.handle("call-1", Digits(pin))
    # The # after 15 digits, and a second one, reach the menu while the answer plays: they cut it short, so it
    # is said again, and no # is taken for a choice.
    assert menu.handle("call-1", Digits("")) == done
    assert menu.handle("call-1", Digits("")) == done
    assert balances(db) == (1000, 0)
    assert len(topups(db)) == 1 and confirmations(db) == 1
    assert [t.input for t in turn_rows(db)][-3:] == ["digits", "#", "#"]
    assert names(menu.handle("call-1", Digits("1")))[0] == "balance_is"


def test_the_same_entry_delivered_twice_answers_the_first_turn_and_credits_once(db, menu, cards):
    _, pin = cards[0]
    at_pin_step(db, menu)
    done = menu.handle("call-1", Digits(pin))
    before = snapshot(db)
    assert menu.handle("call-1", Digits(pin)) == done  # a transport's retry of the same event
    assert menu.handle("call-1", Silence(pin)) == done
    assert rows_added(before, snapshot(db)) == {"voice_turns": 2}
    assert balances(db) == (1000, 0)
    assert [t.input for t in turn_rows(db)][-3:] == ["digits", "replay", "replay"]


def test_a_hang_up_right_after_the_pin_keeps_the_credit(db, menu, cards):
    _, pin = cards[0]
    at_pin_step(db, menu)
    menu.handle("call-1", Digits(pin))
    assert menu.handle("call-1", HungUp()) is None
    assert menu.handle("call-1", Digits(pin)) is None  # nothing after the end
    assert balances(db) == (1000, 0)
    assert len(topups(db)) == 1
    row = call_row(db)
    assert row.outcome == HUNG_UP
    assert "entry" not in row.state  # not even the keyed hash of the PIN outlives the call


def test_two_cards_in_one_call_are_two_renewals(db, menu, cards):
    at_pin_step(db, menu)
    menu.handle("call-1", Digits(cards[0][1]))
    assert names(menu.handle("call-1", Digits("2"))) == PIN_STEP
    menu.handle("call-1", Digits(cards[1][1]))
    assert balances(db) == (2000, 0)
    assert sorted(t.idempotency_key.rsplit(":", 1)[1] for t in topups(db)) == ["1", "2"]


def test_a_call_may_redeem_more_cards_than_the_wrong_pins_it_may_type(db, menu):
    make_reseller(db, now=T0)
    cards = sold_cards(db, quantity=6, now=T0)
    at_pin_step(db, menu)
    for n, (_, pin) in enumerate(cards, start=1):
        assert names(menu.handle("call-1", Digits(pin)))[0] == "card_accepted"
        menu.handle("call-1", Digits("2"))
        assert balances(db) == (1000 * n, 0)


def test_a_wrong_pin_says_one_sentence_and_asks_again(db, menu, cards):
    at_pin_step(db, menu)
    before = snapshot(db)
    again = menu.handle("call-1", Digits(wrong_pin()))
    assert names(again) == ["card_invalid", *PIN_STEP]
    assert names(menu.handle("call-1", Digits(cards[0][1][:-1] + "x"))) == ["card_invalid", *PIN_STEP]
    assert rows_added(before, snapshot(db)) == {"voucher_failures": 2, "voice_turns": 2}
    assert balances(db) == (0, 0)


def test_five_wrong_pins_lock_the_number_and_nothing_moves(db, menu, cards):
    at_pin_step(db, menu, language_key="3")
    before = snapshot(db)
    for _ in range(4):
        assert names(menu.handle("call-1", Digits(wrong_pin()))) == ["card_invalid", *PIN_STEP]
    locked = menu.handle("call-1", Digits(wrong_pin()))
    assert names(locked) == ["card_locked", *OWN_MENU]
    assert said(locked, until="menu_balance") == ("Too many wrong PINs for this number. Please try a card again "
                                                  "tomorrow, or ask an agent.")
    menu.handle("call-1", Digits("2"))
    bye = menu.handle("call-1", Digits(cards[0][1]))  # a good card, but the call has used the day's tries
    assert names(bye) == ["card_locked", "goodbye"] and bye.then == Hangup()
    assert balances(db) == (0, 0)
    added = rows_added(before, snapshot(db))
    assert added == {"voucher_failures": 5, "voice_turns": 7}
    with db.transaction(write=False) as session:
        assert session.scalars(select(Voucher.state).where(Voucher.serial == cards[0][0])).one() == "active"
        assert {f.channel for f in session.scalars(select(VoucherFailure))} == {"ivr"}


def test_a_locked_number_hears_so_from_another_call_too(db, menu, settings, cards):
    at_pin_step(db, menu)
    for _ in range(5):
        menu.handle("call-1", Digits(wrong_pin()))
    menu.handle("call-1", HungUp())
    menu.start(Call("call-2", MSISDN, HOTLINE, SIP))
    menu.handle("call-2", Digits("2"))
    locked = menu.handle("call-2", Digits(cards[0][1]))
    assert names(locked) == ["card_locked", *OWN_MENU]
    assert balances(db) == (0, 0)


def test_star_goes_back_to_the_menu(db, menu, cards):
    at_pin_step(db, menu)
    assert names(menu.handle("call-1", Digits("*"))) == OWN_MENU
    assert names(menu.handle("call-1", Digits("2"))) == PIN_STEP
    assert names(menu.handle("call-1", Silence("*"))) == OWN_MENU


def test_no_pin_is_stored_or_logged(db, menu, cards):
    _, pin = cards[0]
    wrong = wrong_pin()
    at_pin_step(db, menu)
    with capture_logs() as logs:
        menu.handle("call-1", Digits(wrong))
        menu.handle("call-1", Digits(pin))
        menu.handle("call-1", HungUp())
    with db.transaction(write=False) as session:
        stored = repr([(c.state, c.done) for c in session.scalars(select(VoiceCall))]) + repr(
            [(t.input, t.prompts) for t in session.scalars(select(VoiceTurn))])
    for secret in (pin, wrong):
        assert secret not in stored
        assert secret not in repr(logs)


def test_a_database_error_says_technical_problem_hangs_up_and_logs_no_pin(db, menu, cards, monkeypatch):
    _, pin = cards[0]
    at_pin_step(db, menu)

    def broken(*args, **kwargs):
        raise OperationalError(f"UPDATE vouchers ... {pin}", {"pin": pin}, Exception("server closed the connection"))

    monkeypatch.setattr("simkeep.voucher.service.redeem", broken)
    before = snapshot(db)
    with capture_logs() as logs:
        turn = menu.handle("call-1", Digits(pin))
    assert [(p.language, p.name) for p in turn.prompts] == [("fr", "technical_problem")]
    assert turn.then == Hangup()
    assert call_row(db).outcome == FAILED
    assert rows_added(before, snapshot(db)) == {"voice_turns": 1}
    assert balances(db) == (0, 0)
    assert [(entry["event"], entry["error"], entry["on"]) for entry in logs] == [
        ("voice.event_failed", "OperationalError", "Digits")]
    assert logs[0]["place"].startswith("test_card.py:") and pin not in repr(logs)
    assert menu.handle("call-1", Digits("1")) is None


def test_deliveries_of_one_pin_racing_credit_once(db, menu, cards):
    """The same Digits event handled 8 times at once (processes of the transport): the call's row lock orders
    them, the others answer the first's turn."""
    _, pin = cards[0]
    at_pin_step(db, menu)
    turns = race(8, lambda i: menu.handle("call-1", Digits(pin)))
    assert all(turn == turns[0] for turn in turns)
    assert names(turns[0])[:3] == ["card_accepted", "credit_added", "n10"]
    assert balances(db) == (1000, 0)
    assert len(topups(db)) == 1 and confirmations(db) == 1
    assert [t.input for t in turn_rows(db)][-8:] == ["digits"] + ["replay"] * 7


def test_a_pin_racing_a_hang_up_credits_at_most_once_and_only_if_it_was_answered(db, menu, cards):
    _, pin = cards[0]
    at_pin_step(db, menu)
    answered, hung_up = race(2, lambda i: menu.handle("call-1", Digits(pin) if i == 0 else HungUp()))
    assert hung_up is None
    assert balances(db) == ((1000, 0) if answered is not None else (0, 0))
    assert len(topups(db)) == (1 if answered is not None else 0)
    assert call_row(db).outcome == HUNG_UP


def test_a_database_error_at_the_start_says_technical_problem_in_each_language(db, menu, monkeypatch):
    make_line(db, now=T0, language="fr")

    def broken(*args, **kwargs):
        raise OperationalError("SELECT lines ...", {}, Exception("the database is down"))

    monkeypatch.setattr("simkeep.line.service.find_live_line", broken)
    turn = menu.start(Call("call-1", MSISDN, HOTLINE, SIP))
    assert [(p.language, p.name) for p in turn.prompts] == [
        ("zh_CN", "technical_problem"), ("fr", "technical_problem"), ("en", "technical_problem")]
    assert turn.then == Hangup()
    assert menu.handle("call-1", Digits("1")) is None  # no call was recorded
