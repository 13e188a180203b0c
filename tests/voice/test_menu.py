"""A caller from the line's own phone: the language menu the first time, the balance and dates in each language, the
menu's keys, silences, invalid keys, the agent, hang-ups and the call's record."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from simkeep.config import Settings
from simkeep.line.models import Line
from simkeep.notification.models import OutboxMessage
from simkeep.voice.flow import SIP, Call, Digits, Gather, Hangup, HungUp, Silence, Transfer, Turn
from simkeep.voice.menu import Menu
from simkeep.voice.models import COMPLETED, HUNG_UP, TRANSFERRED
from tests.conftest import T0
from tests.factories.lines import make_line, top_up, view
from tests.voice import HOTLINE, MSISDN, OWN_MENU, call_row, names, said, turn_rows
from tests.web import race

LANGUAGE_MENU = ["welcome", "choose_zh", "welcome", "choose_fr", "welcome", "choose_en"]


@pytest.fixture
def menu(db, settings) -> Menu:
    return Menu(db, settings, now=lambda: T0)


def start(menu: Menu, caller: str | None = MSISDN, call_id: str = "call-1"):
    return menu.start(Call(call_id, caller, HOTLINE, SIP))


def test_a_first_call_offers_each_language_in_its_own_language(db, menu):
    make_line(db, now=T0, language="fr")
    turn = start(menu)
    assert [(p.language, p.name) for p in turn.prompts] == [
        ("zh_CN", "welcome"), ("zh_CN", "choose_zh"), ("fr", "welcome"), ("fr", "choose_fr"), ("en", "welcome"),
        ("en", "choose_en")]
    assert [said(Turn(tuple(p for p in turn.prompts if p.language == lang), turn.then)) for lang in
            ("zh_CN", "fr", "en")] == ["欢迎致电simkeep。中文服务请按1。", "Bienvenue chez simkeep. Pour le français, tapez 2.",
                                      "Welcome to simkeep. For English, press 3."]
    assert turn.then == Gather(max_digits=1, finish_on="#", timeout=6.0)


BALANCES = {
    "1": ("zh_CN", "您的余额为十欧元您的号码有效期至四月十四日如不充值，您的号码将在十月十一日之后被回收。"),
    "2": ("fr", "Votre solde est de dix euros Votre ligne reste valable, dernier jour\u00a0: le quatorze avril "
                "Sans recharge, votre numéro sera perdu après le onze octobre"),
    "3": ("en", "Your balance is ten euros Your line is valid until April fourteenth Without a recharge, your number "
                "will be lost after October eleventh"),
}


@pytest.mark.parametrize("key", sorted(BALANCES))
def test_balance_validity_and_number_loss_date_in_the_language_chosen(db, menu, key):
    make_line(db, now=T0, language="fr")
    top_up(db, now=T0)  # 10 EUR, 14 more days
    language, text = BALANCES[key]
    start(menu)
    chosen = menu.handle("call-1", Digits(key))
    assert names(chosen) == ["language_saved", *OWN_MENU]
    assert {p.language for p in chosen.prompts} == {language}
    balance = menu.handle("call-1", Digits("1"))
    assert said(balance, until="menu_balance") == text
    assert names(balance)[-len(OWN_MENU):] == OWN_MENU
    assert view(db).line.language == language  # remembered for the line
    assert call_row(db).done == [{"action": "language_set", "language": language}, {"action": "balance_heard"}]


def test_later_calls_greet_in_the_line_s_language_with_9_to_change_it(db, menu):
    make_line(db, now=T0, language="fr")
    start(menu)
    menu.handle("call-1", Digits("1"))  # 中文
    menu.handle("call-1", HungUp())
    again = start(menu, call_id="call-2")
    assert [(p.language, p.name) for p in again.prompts] == [("zh_CN", n) for n in ["welcome", *OWN_MENU]]
    languages = menu.handle("call-2", Digits("9"))
    assert names(languages) == ["choose_zh", "choose_fr", "choose_en"]
    english = menu.handle("call-2", Digits("3"))
    assert [(p.language, p.name) for p in english.prompts] == [("en", n) for n in ["language_saved", *OWN_MENU]]
    assert view(db).line.language == "en"


def test_a_line_that_is_not_active_hears_when_its_validity_ended_and_its_state(db, settings):
    make_line(db, now=T0, language="en")
    with db.transaction() as session:  # validity ended: the line is in grace
        session.execute(Line.__table__.update().values(state="grace"))
    later = T0 + timedelta(days=40)
    menu = Menu(db, settings, now=lambda: later)
    start(menu)
    menu.handle("call-1", Digits("3"))
    balance = menu.handle("call-1", Digits("1"))
    assert said(balance, until="menu_balance") == (
        "Your balance is zero euros Your line's validity ended on March thirty-first For now your line can only "
        "receive calls. Without a recharge, your number will be lost after September twenty-seventh")


def test_a_deactivated_line_hears_its_state_and_no_date_to_keep_the_number_by(db, menu):
    make_line(db, now=T0, language="en")
    with db.transaction() as session:
        session.execute(Line.__table__.update().values(state="deactivated"))
    start(menu)
    menu.handle("call-1", Digits("3"))
    balance = menu.handle("call-1", Digits("1"))
    assert said(balance, until="menu_balance") == (
        "Your balance is zero euros Your line's validity ended on March thirty-first Your line has been deactivated.")


def test_a_date_of_another_year_names_the_year(db, settings):
    make_line(db, now=T0, language="fr")
    for _ in range(8):  # 8 top-ups: the number-loss date is next year
        top_up(db, now=T0)
    menu = Menu(db, settings, now=lambda: T0)
    start(menu)
    menu.handle("call-1", Digits("2"))
    balance = menu.handle("call-1", Digits("1"))
    assert said(balance, until="menu_balance") == (
        "Votre solde est de quatre-vingts euros Votre ligne reste valable, dernier jour\u00a0: le vingt-et-un juillet "
        "Sans recharge, votre numéro sera perdu après le dix-sept janvier deux mille vingt-huit")
    menu = Menu(db, settings, now=lambda: T0)
    start(menu, call_id="call-2")  # the language is known now: greeted in French
    balance = menu.handle("call-2", Digits("1"))
    assert names(balance)[:3] == ["balance_is", "n80", "EUR.major_many"]


def test_8_repeats_what_was_said_and_star_the_menu(db, menu):
    make_line(db, now=T0, language="en")
    start(menu)
    menu.handle("call-1", Digits("3"))
    balance = menu.handle("call-1", Digits("1"))
    assert menu.handle("call-1", Digits("8")) == balance
    assert names(menu.handle("call-1", Digits(""))) == ["invalid_key", *OWN_MENU]  # a # on its own is no choice
    assert menu.handle("call-1", Digits("*")).prompts == balance.prompts[-len(OWN_MENU):]
    assert call_row(db).done == [{"action": "language_set", "language": "en"}, {"action": "balance_heard"}]


def test_invalid_keys_are_said_then_three_in_a_row_end_the_call(db, menu):
    make_line(db, now=T0, language="en")
    start(menu)
    assert names(menu.handle("call-1", Digits("7"))) == ["choose_zh", "choose_fr", "choose_en"]  # language menu
    menu.handle("call-1", Digits("3"))
    assert names(menu.handle("call-1", Digits("7"))) == ["invalid_key", *OWN_MENU]
    assert names(menu.handle("call-1", Digits("5"))) == ["invalid_key", *OWN_MENU]
    menu.handle("call-1", Digits("1"))  # a valid key starts the count again
    assert names(menu.handle("call-1", Digits("4"))) == ["invalid_key", *OWN_MENU]
    assert names(menu.handle("call-1", Digits("6"))) == ["invalid_key", *OWN_MENU]
    bye = menu.handle("call-1", Digits("7"))
    assert names(bye) == ["goodbye"] and bye.then == Hangup()
    assert call_row(db).outcome == COMPLETED
    assert menu.handle("call-1", Digits("1")) is None  # the call is over


def test_two_silences_in_a_row_end_the_call(db, menu):
    make_line(db, now=T0, language="en")
    start(menu)
    first = menu.handle("call-1", Silence())
    assert [(p.language, p.name) for p in first.prompts] == [
        ("zh_CN", "no_input"), ("fr", "no_input"), ("en", "no_input"),
        ("zh_CN", "choose_zh"), ("fr", "choose_fr"), ("en", "choose_en")]
    menu.handle("call-1", Digits("3"))
    assert names(menu.handle("call-1", Silence())) == ["no_input", *OWN_MENU]
    bye = menu.handle("call-1", Silence())
    assert names(bye) == ["goodbye"] and bye.then == Hangup()
    row = call_row(db)
    assert (row.outcome, row.ended_at) == (COMPLETED, T0)


def test_a_hang_up_mid_menu_ends_the_call_record(db, menu):
    make_line(db, now=T0, language="en")
    start(menu)
    menu.handle("call-1", Digits("3"))
    menu.handle("call-1", Digits("2"))  # in the middle of typing a PIN
    assert menu.handle("call-1", HungUp()) is None
    row = call_row(db)
    assert (row.outcome, row.ended_at, row.turns) == (HUNG_UP, T0, 4)
    assert [(t.step, t.input, t.then) for t in turn_rows(db)] == [
        ("start", "start", "gather"), ("language", "3", "gather"), ("menu", "2", "gather"), ("pin", "hung_up", "none")]
    assert menu.handle("call-1", Digits("1")) is None
    assert menu.handle("call-1", HungUp()) is None
    assert call_row(db).turns == 4


def test_0_transfers_to_the_agent_uri(db, settings):
    make_line(db, now=T0, language="en")
    menu = Menu(db, settings.model_copy(update={"voice_agent_uri": "sip:agent@127.0.0.1"}), now=lambda: T0)
    start(menu)
    menu.handle("call-1", Digits("3"))
    transfer = menu.handle("call-1", Digits("0"))
    assert names(transfer) == ["agent_transfer"]
    assert transfer.then == Transfer("sip:agent@127.0.0.1")
    assert call_row(db).outcome == TRANSFERRED
    assert menu.handle("call-1", HungUp()) is None
    assert call_row(db).outcome == TRANSFERRED


def test_without_an_agent_uri_0_says_no_agent_is_available(db, menu):
    make_line(db, now=T0, language="en")
    start(menu)
    menu.handle("call-1", Digits("3"))
    assert names(menu.handle("call-1", Digits("0"))) == ["agent_unavailable", *OWN_MENU]
    assert call_row(db).outcome is None


def test_3_sends_a_signed_renewal_link_to_the_line_once_a_call(db, menu, settings: Settings):
    make_line(db, now=T0, language="fr")
    start(menu)
    menu.handle("call-1", Digits("2"))
    assert names(menu.handle("call-1", Digits("3"))) == ["link_sent", *OWN_MENU]
    assert names(menu.handle("call-1", Digits("3"))) == ["link_already_sent", *OWN_MENU]
    with db.transaction(write=False) as session:
        sent = session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "line.renew_link")).all()
    assert len(sent) == 1
    assert (sent[0].recipient, sent[0].channel, sent[0].language) == (MSISDN, "sms", "fr")
    assert sent[0].payload["renew_url"].startswith(f"{settings.base_url}/r/33612345678.")
    assert call_row(db).done[-1] == {"action": "link_sent"}


def test_a_start_sent_twice_answers_the_same_turn_and_records_one_call(db, menu):
    make_line(db, now=T0, language="en")
    first = start(menu)
    assert start(menu) == first
    assert call_row(db).turns == 1


def test_starts_of_one_call_racing_record_it_once(db, menu):
    make_line(db, now=T0, language="en")
    turns = race(4, lambda i: start(menu))
    assert all(turn == turns[0] for turn in turns) and names(turns[0])[0] == "welcome"
    assert call_row(db).turns == 1


def test_an_event_for_an_unknown_call_is_none(db, menu):
    assert menu.handle("nobody", Digits("1")) is None
