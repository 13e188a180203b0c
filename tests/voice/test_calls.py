"""Real calls end to end: SIPp dials the hotline's number at Kamailio, which relays the call to the user agent
REGISTERed there (voice/sip/), which serves the voice menu (voice/menu.py) on the test's database. Keys go as
RFC 2833 events and as SIP INFO. What the menu said is asserted on the call's record (its turns) and on what the
transport played (its observer); money on the line's balance, the top-ups, the cards and the ledger."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import select

from simkeep.core.money import Money
from simkeep.db import Database
from simkeep.notification.models import OutboxMessage
from simkeep.topup.models import TopUp
from simkeep.voice import speech
from simkeep.voice.flow import Prompt
from simkeep.voice.models import VoiceCall, VoiceTurn
from simkeep.voucher import pins
from simkeep.voucher.models import Voucher
from tests.conftest import T0
from tests.factories.lines import make_line, top_up, view
from tests.factories.snapshot import snapshot
from tests.factories.vouchers import make_reseller, sold_cards
from tests.processes import wait_until
from tests.voice.peers import INFO, RFC2833, AwaitBye, AwaitRefer, HangUp, Keys, Pause, place_call

LINE = "+33612345678"
OTHER_PHONE = "+8613812345678"  # a phone that is no line of ours: the subscriber abroad borrowing one
THINK = 1.5  # seconds a caller leaves the menu to answer before pressing the next keys: keys typed while the menu
# is still deciding are dropped by the transport (nobody heard a question yet), so the pace is a person's
# After a number is typed, the dialogue writes a sign-in code and its SMS before it asks for the code; keys typed
# before that question starts are flushed by design (they answer no prompt). That write took more than THINK once
# on a CI machine running four suites at once (stop 22's second run: the code typed at 1.5 s was flushed and the
# call never reached the line), so a caller waits longer there, as a person does while the SMS arrives.
SENDING_CODE = 5.0
LANGUAGE_KEYS = {"zh_CN": "1", "fr": "2", "en": "3"}
MENU = ["menu_balance", "menu_card", "menu_link", "menu_repeat", "menu_agent"]
BALANCE_SAID = {
    "fr": "Votre solde est de dix euros Votre ligne reste valable, dernier jour\u00a0: le quatorze avril Sans recharge, "
          "votre numéro sera perdu après le onze octobre",
    "zh_CN": "您的余额为十欧元您的号码有效期至四月十四日如不充值，您的号码将在十月十一日之后被回收。",
    "en": "Your balance is ten euros Your line is valid until April fourteenth Without a recharge, your number will "
          "be lost after October eleventh",
}


@pytest.fixture
def line(db: Database):
    make_line(db, msisdn=LINE, now=T0)
    top_up(db, msisdn=LINE, now=T0)  # 10.00 EUR
    return view(db, LINE)


@pytest.fixture
def cards(db: Database) -> list[tuple[int, str]]:
    make_reseller(db, now=T0)
    return sold_cards(db, quantity=3, now=T0)


def record(db: Database) -> tuple[VoiceCall, list[VoiceTurn]]:
    """The call and its turns, but for the turns a second # led to: the first # after a PIN or a code ends the entry;
    one pressed again is a key of its own, which the menu answers by saying its last turn again, or which the
    transport drops if it lands while the menu is still deciding: whether that turn exists depends on timing."""
    with db.transaction(write=False) as session:
        [call] = session.scalars(select(VoiceCall)).all()
        turns = session.scalars(select(VoiceTurn).where(VoiceTurn.call_id == call.id).order_by(VoiceTurn.seq))
        return call, [turn for turn in turns if turn.input != "#"]


def ended(db: Database) -> tuple[VoiceCall, list[VoiceTurn]]:
    """The call's record once it ended (the hang-up can reach the menu after SIPp has exited)."""
    return wait_until(lambda: (found := record(db))[0].ended_at is not None and found, timeout=20,
                      what="the call's record ended")


def steps_of(turns: list[VoiceTurn]) -> list[tuple[str, str, str]]:
    return [(turn.step, turn.input, turn.then) for turn in turns]


def said(turn: VoiceTurn) -> list[str]:
    return [name.split("/", 1)[1] for name in turn.prompts]


def words(names: list[str], language: str) -> str:
    return speech.words([Prompt(language, name) for name in names])


def topups(db: Database) -> list[TopUp]:
    with db.transaction(write=False) as session:
        return list(session.scalars(select(TopUp)))


def redeemed(db: Database) -> list[int]:
    with db.transaction(write=False) as session:
        return list(session.scalars(select(Voucher.serial).where(Voucher.redeemed_at.is_not(None))))


def sms_topics(db: Database) -> list[str]:
    with db.transaction(write=False) as session:
        return list(session.scalars(select(OutboxMessage.topic).order_by(OutboxMessage.created_at, OutboxMessage.id)))


@pytest.mark.parametrize("dtmf", [RFC2833, INFO])
@pytest.mark.parametrize("language", ["zh_CN", "fr", "en"])
def test_a_balance_enquiry_in_each_language(kamailio, hotline, db, line, tmp_path, language, dtmf):
    result = place_call(kamailio, tmp_path, hotline=hotline.number, caller="phone", asserted=LINE, dtmf=dtmf,
                        steps=[Pause(THINK), Keys(LANGUAGE_KEYS[language]), Pause(THINK), Keys("1"), Pause(THINK),
                               HangUp()])

    assert result.ok, result.errors
    call, turns = ended(db)
    assert (call.caller, call.line_id, call.language, call.outcome) == (LINE, line.line.id, language, "hung_up")
    assert steps_of(turns) == [("start", "start", "gather"), ("language", LANGUAGE_KEYS[language], "gather"),
                               ("menu", "1", "gather"), ("menu", "hung_up", "none")]
    assert turns[0].prompts == ["zh_CN/welcome", "zh_CN/choose_zh", "fr/welcome", "fr/choose_fr", "en/welcome",
                                "en/choose_en"]
    assert said(turns[1]) == ["language_saved", *MENU, "menu_language"]
    balance = said(turns[2])
    assert balance[-6:] == [*MENU, "menu_language"]
    assert words(balance[:-6], language) == BALANCE_SAID[language]
    assert {name.split("/")[0] for name in turns[2].prompts} == {language}
    # the transport played what the menu said (the turn the caller hung up on is cut short, so not reported)
    [call_id] = hotline.calls()
    assert hotline.played(call_id)[:2] == [said(turns[0]), said(turns[1])]
    assert view(db, LINE).line.language == language  # remembered for the line's next call
    assert [d["action"] for d in call.done] == ["language_set", "balance_heard"]


def test_a_line_calling_again_is_greeted_in_its_language(kamailio, hotline, db, line, tmp_path):
    first = place_call(kamailio, tmp_path, hotline=hotline.number, caller="phone", asserted=LINE,
                       steps=[Pause(THINK), Keys("2"), Pause(THINK), HangUp()])
    assert first.ok, first.errors
    wait_until(lambda: record(db)[0].ended_at, timeout=20, what="the first call ended")

    again = place_call(kamailio, tmp_path, hotline=hotline.number, caller="phone", asserted=LINE, dtmf=INFO,
                       steps=[Pause(THINK), Keys("8"), Pause(THINK), HangUp()])

    assert again.ok, again.errors
    second = hotline.calls()[1]
    with db.transaction(write=False) as session:
        call = session.scalars(select(VoiceCall).where(VoiceCall.call_id == second)).one()
        turns = list(session.scalars(select(VoiceTurn).where(VoiceTurn.call_id == call.id)
                                     .order_by(VoiceTurn.seq)))
    assert turns[0].prompts == [f"fr/{name}" for name in ["welcome", *MENU, "menu_language"]]
    assert turns[1].prompts == turns[0].prompts[1:]  # 8: the menu again (nothing was said before it)


@pytest.mark.parametrize("dtmf", [RFC2833, INFO])
def test_a_card_renews_once_when_the_caller_presses_hash_twice(kamailio, hotline, db, line, cards, tmp_path, dtmf):
    serial, pin = cards[0]

    result = place_call(kamailio, tmp_path, hotline=hotline.number, caller="phone", asserted=LINE, dtmf=dtmf,
                        steps=[Pause(THINK), Keys("3"), Pause(THINK), Keys("2"), Pause(THINK), Keys(pin + "##"),
                               Pause(2 * THINK), HangUp()])

    assert result.ok, result.errors
    call, turns = ended(db)
    assert view(db, LINE).balance == Money(2000, "EUR")  # 10.00 + the card's 10.00, once
    assert len(topups(db)) == 2
    assert redeemed(db) == [serial]
    assert [d["action"] for d in call.done] == ["language_set", "card_redeemed"]
    accepted = [turn for turn in turns if "card_accepted" in said(turn)]
    assert len(accepted) == 1
    assert words(said(accepted[0])[:5], "en").startswith("Your card is accepted")
    assert "sms_confirmation" in said(accepted[0])
    assert sms_topics(db) == ["topup.completed"] * 2  # the line's first top-up's, then the card's


@pytest.mark.parametrize("dtmf", [RFC2833, INFO])
def test_a_card_renews_once_when_the_caller_hangs_up_right_after_the_pin(kamailio, hotline, db, line, cards,
                                                                           tmp_path, dtmf):
    serial, pin = cards[1]

    result = place_call(kamailio, tmp_path, hotline=hotline.number, caller="phone", asserted=LINE, dtmf=dtmf,
                        steps=[Pause(THINK), Keys("2"), Pause(THINK), Keys("2"), Pause(THINK), Keys(pin + "#"),
                               HangUp()])

    assert result.ok, result.errors
    call, turns = ended(db)
    assert call.outcome == "hung_up"
    assert view(db, LINE).balance == Money(2000, "EUR")
    assert len(topups(db)) == 2
    assert redeemed(db) == [serial]
    assert [d["action"] for d in call.done] == ["language_set", "card_redeemed"]
    assert steps_of(turns)[-2:] == [("pin", "digits", "gather"), ("menu", "hung_up", "none")]


def test_five_wrong_pins_lock_the_card_menu_and_move_nothing(kamailio, hotline, db, line, cards, tmp_path):
    # five different well-formed PINs of no card: each counts (a typo the check digit catches does not, and the same
    # entry typed again is answered as before without a new try)
    wrongs = [body + pins.check_digit(body) for body in (f"1234567890123{i}" for i in range(5))]
    before = snapshot(db)
    attempts: list = []
    for wrong in wrongs:
        attempts += [Keys(wrong + "#"), Pause(THINK)]

    result = place_call(kamailio, tmp_path, hotline=hotline.number, caller="phone", asserted=LINE,
                        steps=[Pause(THINK), Keys("3"), Pause(THINK), Keys("2"), Pause(THINK), *attempts, HangUp()])

    assert result.ok, result.errors
    call, turns = ended(db)
    pin_turns = [turn for turn in turns if turn.step == "pin"]
    assert [said(turn)[0] for turn in pin_turns] == ["card_invalid"] * 4 + ["card_locked"]
    assert [d["action"] for d in call.done] == ["language_set", *["card_refused"] * 5, "card_locked"]
    after = snapshot(db)
    assert after["balances"] == before["balances"]
    assert view(db, LINE).balance == Money(1000, "EUR")
    assert len(topups(db)) == 1 and redeemed(db) == []
    assert after["counts"]["voucher_failures"] == before["counts"]["voucher_failures"] + 5


def test_a_caller_from_another_phone_is_asked_for_the_number_and_the_code(kamailio, hotline, db, line, tmp_path,
                                                                          monkeypatch):
    code = "424242"  # the code the SMS to the line carries: fixed, so the caller can type it in the same call
    monkeypatch.setattr("simkeep.otp.service.secrets", SimpleNamespace(randbelow=lambda _: int(code)))

    result = place_call(kamailio, tmp_path, hotline=hotline.number, caller="phone", asserted=OTHER_PHONE, dtmf=INFO,
                        steps=[Pause(THINK), Keys("3"), Pause(THINK), Keys("0612345678#"), Pause(SENDING_CODE),
                               Keys(code + "#"), Pause(THINK), Keys("1"), Pause(THINK), HangUp()])

    assert result.ok, result.errors
    call, turns = ended(db)
    assert (call.caller, call.line_id) == (OTHER_PHONE, line.line.id)
    assert steps_of(turns) == [("start", "start", "gather"), ("language", "3", "gather"),
                               ("number", "digits", "gather"), ("code", "digits", "gather"),
                               ("menu", "1", "gather"), ("menu", "hung_up", "none")]
    assert said(turns[1]) == ["number_enter"]
    assert said(turns[2]) == ["code_sent", "code_enter", "code_card", "code_other_number"]
    assert said(turns[3]) == MENU  # no "change language" for a phone that is not the line
    assert words(said(turns[4])[:-5], "en") == BALANCE_SAID["en"]
    assert sms_topics(db) == ["topup.completed", "otp.code"]
    assert view(db, LINE).line.language == "fr"  # another phone's language choice is not the line's


def test_another_phone_hears_the_same_whether_or_not_the_number_is_a_line(kamailio, hotline, db, line, tmp_path):
    answers = []
    for number in ("0612345678#", "0698765432#"):  # a line, and a number that is none of ours
        result = place_call(kamailio, tmp_path, hotline=hotline.number, caller="phone", asserted=OTHER_PHONE,
                            steps=[Pause(THINK), Keys("3"), Pause(THINK), Keys(number), Pause(SENDING_CODE),
                                   Keys("000000#"), Pause(THINK), HangUp()])
        assert result.ok, result.errors
        wait_until(lambda: all(call.ended_at for call in _calls(db)), timeout=20, what="the call ended")
    for call in _calls(db):
        with db.transaction(write=False) as session:
            turns = list(session.scalars(select(VoiceTurn).where(VoiceTurn.call_id == call.id)
                                         .order_by(VoiceTurn.seq)))
        answers.append([(turn.step, turn.prompts) for turn in turns])
        assert call.done == [] and call.line_id is None
    assert answers[0] == answers[1]
    assert [said_after_code for _, said_after_code in answers[0]][3] == [
        "en/code_wrong", "en/code_enter", "en/code_card", "en/code_other_number"]
    assert sms_topics(db) == ["topup.completed", "otp.code"]  # a code went to the line only


def _calls(db: Database) -> list[VoiceCall]:
    with db.transaction(write=False) as session:
        return list(session.scalars(select(VoiceCall).order_by(VoiceCall.started_at, VoiceCall.caller)))


def test_an_agent_takes_the_call_by_transfer(kamailio, db, settings, line, tmp_path):
    from tests.voice.conftest import hotline_for

    with hotline_for(kamailio, db, settings.model_copy(update={"voice_agent_uri": "sip:agent@127.0.0.1:5999"})
                     ) as hotline:
        result = place_call(kamailio, tmp_path, hotline=hotline.number, caller="phone", asserted=LINE,
                            steps=[Pause(THINK), Keys("3"), Pause(THINK), Keys("0"), AwaitRefer()])

    assert result.ok, result.errors
    [refer] = result.received("REFER")
    assert "Refer-To: <sip:agent@127.0.0.1:5999>" in refer
    call, turns = ended(db)
    assert call.outcome == "transferred"
    assert said(turns[-1]) == ["agent_transfer"]


def test_silence_ends_the_call_politely(kamailio, hotline, db, line, tmp_path):
    result = place_call(kamailio, tmp_path, hotline=hotline.number, caller="phone", asserted=LINE,
                        steps=[AwaitBye(timeout=120)], timeout=150)

    assert result.ok, result.errors
    call, turns = ended(db)
    assert steps_of(turns) == [("start", "start", "gather"), ("language", "silence", "gather"),
                               ("language", "silence", "hangup")]
    assert call.outcome == "completed"
