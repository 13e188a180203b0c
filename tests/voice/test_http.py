"""The voice menu's JSON webhook protocol: signed, replay-protected turns driving a dialogue."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from simkeep.core.signing import sign
from simkeep.topup.models import TopUp
from simkeep.voice import exchange, flow
from simkeep.voice.http_models import VoiceHttpTurn
from simkeep.voice.menu import Menu
from simkeep.voice.models import VoiceCall
from simkeep.voice.texts import TEXTS
from simkeep.voucher import pins
from simkeep.voucher.models import Voucher
from tests.conftest import T0
from tests.factories.lines import make_line, top_up, view
from tests.factories.snapshot import count, snapshot
from tests.factories.vouchers import make_reseller, sold_cards
from tests.voice.ivr import PLATFORM_SECRET, Scripted, event, new_call, voice_client, voice_settings

BASE = "https://simkeep.example/voice/prompts"
GATHER_ONE = {"gather": {"max_digits": 1, "finish_on_key": "#", "timeout_seconds": 6.0}}


def say(*pieces: tuple[str, str]) -> list[dict]:
    return [{"prompt": f"fr/{name}", "audio_url": f"{BASE}/fr/{name}.wav", "text": text} for name, text in pieces]


def test_a_call_is_answered_turn_by_turn(settings, db):
    menu = Scripted()
    with voice_client(settings, db, menu) as client:
        first = new_call(client, caller="sip:0612345678@carrier.example;user=phone")
        assert first.status_code == 200
        assert first.json() == {"call_id": "CA1", "turn": 1, "say": say(("n1", "un"), ("n2", "deux"), ("n3", "trois")),
                                "then": GATHER_ONE}
        second = event(client, "CA1", 1, digits="1")
        assert second.json() == {
            "call_id": "CA1", "turn": 2, "say": say(("n12", "douze"), ("EUR.major_many", "euros")),
            "then": {"gather": {"max_digits": 15, "finish_on_key": "#", "timeout_seconds": 10.0}}}
        third = event(client, "CA1", 2, digits="0")
        assert third.json() == {"call_id": "CA1", "turn": 3, "say": say(("n0", "zéro")),
                                "then": {"transfer": {"uri": "sip:agent@127.0.0.1"}}}
        over = event(client, "CA1", 3, "hangup")
        assert over.json() == {"call_id": "CA1", "turn": 4, "say": [], "then": {"hangup": {}}}
        assert "no-store" in over.headers["cache-control"]
    # The calling number in E.164, from a SIP URI in national form; the transport is the HTTP mode.
    assert menu.started == [flow.Call("CA1", "+33612345678", "+33170000000", flow.HTTP)]
    assert menu.events == [("CA1", flow.Digits("1")), ("CA1", flow.Digits("0")), ("CA1", flow.HungUp())]
    assert count(db, VoiceHttpTurn) == 4


def test_a_withheld_or_unparseable_caller_reaches_the_dialogue_as_none(settings, db):
    menu = Scripted()
    with voice_client(settings, db, menu) as client:
        assert new_call(client, "CA1", caller=None).status_code == 200
        assert new_call(client, "CA2", caller="anonymous").status_code == 200
        assert new_call(client, "CA3", caller="sip:anonymous@anonymous.invalid").status_code == 200
    assert [call.caller for call in menu.started] == [None, None, None]


def test_silence_carries_the_digits_typed_before_it(settings, db):
    menu = Scripted()
    with voice_client(settings, db, menu) as client:
        new_call(client)
        answer = event(client, "CA1", 1, "silence", digits="12")
    assert answer.json()["then"] == {"hangup": {}}
    assert menu.events == [("CA1", flow.Silence("12"))]


def test_a_wrong_signature_is_refused_and_nothing_is_recorded(settings, db):
    menu = Scripted()
    with voice_client(settings, db, menu) as client:
        before = snapshot(db)
        forged = new_call(client, secret="whsec_not_the_platforms_0123456789abcdef")
        tampered = new_call(client, signature=sign(PLATFORM_SECRET, b'{"call_id": "other"}', 1_900_000_000))
        missing = client.post("/api/v1/voice/calls", json={"call_id": "CA1", "caller": None, "called": "1"})
        after = snapshot(db)
    for answer in (forged, tampered, missing):
        assert answer.status_code == 401
        assert answer.json()["error"]["code"] == "signature_invalid"
    assert menu.started == [] and after == before


def test_a_stale_timestamp_is_refused_even_with_the_right_key(settings, db, monkeypatch):
    menu = Scripted()
    now = int(time.time())  # the server's clock, held still: a loaded machine must not move the 5-minute edge
    monkeypatch.setattr("simkeep.voice.api.time", SimpleNamespace(time=lambda: now))
    with voice_client(settings, db, menu) as client:
        assert new_call(client, at=now).status_code == 200
        stale = event(client, "CA1", 1, digits="1", at=now - 301)
        future = event(client, "CA1", 1, digits="1", at=now + 301)
    assert [stale.status_code, future.status_code] == [401, 401]
    assert stale.json()["error"]["code"] == "signature_invalid"
    assert menu.events == [] and count(db, VoiceHttpTurn) == 1


def test_a_replayed_request_gets_the_first_answer_and_acts_once(settings, db):
    menu = Scripted()
    with voice_client(settings, db, menu) as client:
        first_call = new_call(client)
        again_call = new_call(client)  # the platform retried the new call
        first = event(client, "CA1", 1, digits="1")
        replayed = event(client, "CA1", 1, digits="1")  # the same event again (a retry, or a replay of the request)
        later = event(client, "CA1", 2, digits="9")
        replayed_late = event(client, "CA1", 1, digits="1")  # an old turn's event after the call moved on
    assert again_call.json() == first_call.json()
    assert replayed.json() == first.json() == replayed_late.json()
    assert later.json()["turn"] == 3
    assert len(menu.started) == 1
    assert menu.events == [("CA1", flow.Digits("1")), ("CA1", flow.Digits("9"))]
    assert count(db, VoiceHttpTurn) == 3


def test_the_same_turn_asked_with_other_keys_is_a_conflict(settings, db):
    menu = Scripted()
    with voice_client(settings, db, menu) as client:
        new_call(client)
        event(client, "CA1", 1, digits="1")
        other = event(client, "CA1", 1, digits="0")
        ahead = event(client, "CA1", 7, digits="1")
        other_caller = new_call(client, caller="+33698765432")  # the same call id with other numbers
    assert [other.status_code, ahead.status_code, other_caller.status_code] == [409, 409, 409]
    assert {other.json()["error"]["code"], ahead.json()["error"]["code"]} == {"turn_mismatch"}
    assert menu.events == [("CA1", flow.Digits("1"))] and len(menu.started) == 1


def test_an_unknown_call_is_404_and_nothing_is_recorded(settings, db):
    menu = Scripted()
    with voice_client(settings, db, menu) as client:
        answer = event(client, "CA404", 1, digits="1")
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "call_not_found"
    assert menu.events == [] and count(db, VoiceHttpTurn) == 0


def test_malformed_events_are_refused_before_the_dialogue(settings, db):
    menu = Scripted()
    with voice_client(settings, db, menu) as client:
        new_call(client)
        answers = [event(client, "CA1", 1, "dtmf", digits="1"), event(client, "CA1", 1, digits="12a"),
                   event(client, "CA1", 0, digits="1")]
    assert [a.status_code for a in answers] == [422, 422, 422]
    assert menu.events == [] and count(db, VoiceHttpTurn) == 1


def test_the_http_mode_is_off_without_a_platform_secret(client, db):
    answer = client.post("/api/v1/voice/calls", json={"call_id": "CA1", "caller": None, "called": "+33170000000"},
                         headers={"Simkeep-Signature": "t=1,v1=00"})
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "voice_http_off"
    assert count(db, VoiceHttpTurn) == 0


def test_twin_requests_racing_for_one_turn_act_once_and_get_the_same_answer(settings, db):
    """Two deliveries of one event at once: the first claims the turn and is held inside the dialogue; the twin
    finds the turn taken and waits for its answer."""
    menu = Scripted()
    exchange.start(db, menu, flow.Call("CA1", None, "+33170000000", flow.HTTP), "start")
    menu.hold = threading.Event()
    results: dict[str, tuple[int, flow.Turn]] = {}

    def deliver(name: str) -> None:
        results[name] = exchange.follow(db, menu, "CA1", 1, flow.Digits("1"), "digits-1")

    first = threading.Thread(target=deliver, args=("first",))
    first.start()
    assert menu.entered.wait(timeout=30)
    twin = threading.Thread(target=deliver, args=("twin",))
    twin.start()
    menu.hold.set()
    first.join(timeout=30)
    twin.join(timeout=30)
    assert results["first"] == results["twin"] == (2, flow.Turn(
        (flow.Prompt("fr", "n12"), flow.Prompt("fr", "EUR.major_many")),
        flow.Gather(max_digits=15, finish_on="#", timeout=10.0)))
    assert menu.events == [("CA1", flow.Digits("1"))]


def test_a_dialogue_that_fails_gives_the_turn_back_for_a_retry(settings, db):
    class Failing(Scripted):
        def handle(self, call_id, event):
            if not self.events:
                self.events.append((call_id, event))
                raise RuntimeError("database away")
            return super().handle(call_id, event)

    menu = Failing()
    exchange.start(db, menu, flow.Call("CA1", None, "+33170000000", flow.HTTP), "start")
    with pytest.raises(RuntimeError):
        exchange.follow(db, menu, "CA1", 1, flow.Digits("1"), "digits-1")
    assert count(db, VoiceHttpTurn) == 1
    number, turn = exchange.follow(db, menu, "CA1", 1, flow.Digits("1"), "digits-1")
    assert number == 2 and [p.name for p in turn.prompts] == ["n12", "EUR.major_many"]
    assert len(menu.events) == 2


# -- the hotline's menu over the JSON protocol -------------------------------------------------------------------------

MENU = ["menu_balance", "menu_card", "menu_link", "menu_repeat", "menu_agent", "menu_language"]
CHOICE = {"zh_CN": "1", "fr": "2", "en": "3"}
# The pieces that carry the figures, with what each says: 10 EUR, valid until April 14th, number kept until October
# 11th (T0 + one 45-day top-up), and after a 10 EUR card, valid until April 28th.
BALANCE = {
    "zh_CN": [("balance_is", None), ("n10", "十"), ("EUR.major_many", "欧元"), ("valid_until", None),
              ("month4", "四月"), ("day14", "十四日"), ("number_kept_until", None), ("month10", "十月"),
              ("day11", "十一日"), ("number_kept_until_end", None)],
    "fr": [("balance_is", None), ("n10", "dix"), ("EUR.major_many", "euros"), ("valid_until", None), ("the", "le"),
           ("day14", "quatorze"), ("month4", "avril"), ("number_kept_until", None), ("the", "le"), ("day11", "onze"),
           ("month10", "octobre")],
    "en": [("balance_is", None), ("n10", "ten"), ("EUR.major_many", "euros"), ("valid_until", None),
           ("month4", "April"), ("day14", "fourteenth"), ("number_kept_until", None), ("month10", "October"),
           ("day11", "eleventh")],
}
RENEWED = {
    "zh_CN": [("card_accepted", None), ("credit_added", None), ("n10", "十"), ("EUR.major_many", "欧元"),
              ("valid_until", None), ("month4", "四月"), ("day28", "二十八日"), ("sms_confirmation", None)],
    "fr": [("card_accepted", None), ("credit_added", None), ("n10", "dix"), ("EUR.major_many", "euros"),
           ("valid_until", None), ("the", "le"), ("day28", "vingt-huit"), ("month4", "avril"),
           ("sms_confirmation", None)],
    "en": [("card_accepted", None), ("credit_added", None), ("n10", "ten"), ("EUR.major_many", "euros"),
           ("valid_until", None), ("month4", "April"), ("day28", "twenty-eighth"), ("sms_confirmation", None)],
}


def spoken(language: str, pieces: list[tuple[str, str | None]]) -> list[dict]:
    """The exact `say` list: each piece's name, URL and text (a sentence's text as texts.py has it)."""
    return [{"prompt": f"{language}/{name}", "audio_url": f"{BASE}/{language}/{name}.wav",
             "text": text if text is not None else TEXTS[name][language]}
            for name, text in pieces if text is not None or TEXTS[name][language]]


MENU_EN = [f"en/{name}" for name in MENU]


def menu_of(language: str) -> list[dict]:
    return spoken(language, [(name, None) for name in MENU])


@pytest.fixture
def hotline(db, settings):
    """The JSON protocol with the real menu, its clock at T0, and a line with 10 EUR and a 45-day validity."""
    make_line(db, now=T0, language="fr")
    top_up(db, now=T0)
    with voice_client(settings, db, Menu(db, voice_settings(settings), now=lambda: T0)) as client:
        yield client


@pytest.mark.parametrize("language", ["zh_CN", "fr", "en"])
def test_a_balance_enquiry_in_each_language(hotline, db, language):
    first = new_call(hotline)
    assert [s["prompt"] for s in first.json()["say"]] == [
        "zh_CN/welcome", "zh_CN/choose_zh", "fr/welcome", "fr/choose_fr", "en/welcome", "en/choose_en"]
    chosen = event(hotline, "CA1", 1, digits=CHOICE[language])
    assert chosen.json()["say"] == spoken(language, [("language_saved", None)]) + menu_of(language)
    balance = event(hotline, "CA1", 2, digits="1")
    assert balance.json() == {"call_id": "CA1", "turn": 3, "say": spoken(language, BALANCE[language]) + menu_of(language),
                              "then": GATHER_ONE}
    assert event(hotline, "CA1", 3, "hangup").json() == {"call_id": "CA1", "turn": 4, "say": [],
                                                         "then": {"hangup": {}}}
    assert view(db).line.language == language
    with db.transaction(write=False) as session:
        call = session.scalars(select(VoiceCall)).one()
        assert (call.call_id, call.transport, call.outcome, call.done) == (
            "CA1", "http", "hung_up", [{"action": "language_set", "language": language}, {"action": "balance_heard"}])


def test_a_french_balance_says_the_dates_as_people_do(hotline):
    new_call(hotline)
    event(hotline, "CA1", 1, digits="2")
    said = " ".join(s["text"] for s in event(hotline, "CA1", 2, digits="1").json()["say"][:11])
    assert said == ("Votre solde est de dix euros Votre ligne reste valable, dernier jour\u00a0: le quatorze avril "
                    "Sans recharge, votre numéro sera perdu après le onze octobre")


@pytest.mark.parametrize("language", ["zh_CN", "fr", "en"])
def test_a_card_renewal_credits_once_through_replays_a_second_hash_and_a_hang_up(hotline, db, language):
    make_reseller(db, now=T0)
    [(serial, pin)] = sold_cards(db, quantity=1, now=T0)
    new_call(hotline)
    event(hotline, "CA1", 1, digits=CHOICE[language])
    asked = event(hotline, "CA1", 2, digits="2")
    assert asked.json()["say"] == spoken(language, [("pin_enter", None), ("pin_back", None)])
    assert asked.json()["then"] == {"gather": {"max_digits": 16, "finish_on_key": "#", "timeout_seconds": 10.0}}
    before = view(db).balance
    renewed = event(hotline, "CA1", 3, digits=pin)
    assert renewed.json() == {"call_id": "CA1", "turn": 4, "say": spoken(language, RENEWED[language]) + menu_of(language),
                              "then": GATHER_ONE}
    assert event(hotline, "CA1", 3, digits=pin).json() == renewed.json()  # the platform retried the event
    again = event(hotline, "CA1", 4, digits="")  # the caller pressed # a second time
    assert again.json()["say"] == renewed.json()["say"]
    assert event(hotline, "CA1", 5, "hangup").json()["then"] == {"hangup": {}}
    assert event(hotline, "CA1", 5, "hangup").json()["turn"] == 6
    after = view(db)
    assert after.balance.minor - before.minor == 1000
    assert count(db, TopUp) == 2  # the line's first top-up and this card's, once
    with db.transaction(write=False) as session:
        call = session.scalars(select(VoiceCall)).one()
        assert [d["action"] for d in call.done] == ["language_set", "card_redeemed"]
        assert call.done[1]["serial"] == serial and call.outcome == "hung_up"
        assert session.execute(select(Voucher.state, Voucher.redeemed_msisdn).where(Voucher.serial == serial)).one() == (
            "redeemed", "+33612345678")


def test_five_wrong_pins_lock_the_card_path_and_move_nothing(hotline, db):
    make_reseller(db, now=T0)
    [(_serial, good)] = sold_cards(db, quantity=1, now=T0)
    new_call(hotline)
    event(hotline, "CA1", 1, digits="3")
    event(hotline, "CA1", 2, digits="2")
    before = snapshot(db)["balances"]
    wrong = [f"{n:014d}" + pins.check_digit(f"{n:014d}") for n in range(1, 6)]  # well formed, no such card
    answers = [event(hotline, "CA1", turn, digits=pin).json() for turn, pin in enumerate(wrong, start=3)]
    assert [[s["prompt"] for s in a["say"]] for a in answers] == [
        ["en/card_invalid", "en/pin_enter", "en/pin_back"]] * 4 + [["en/card_locked", *(p for p in MENU_EN)]]
    # The next call from the line finds the card path locked by the voucher service's count (the portal's), even
    # for a good card.
    new_call(hotline, "CA2")
    event(hotline, "CA2", 1, digits="2")
    locked = event(hotline, "CA2", 2, digits=good)
    assert [s["prompt"] for s in locked.json()["say"]] == ["en/card_locked", *MENU_EN]
    assert snapshot(db)["balances"] == before and count(db, TopUp) == 1


def test_a_caller_from_another_phone_is_asked_for_the_number_and_told_nothing_about_it(hotline, db):
    new_call(hotline, caller="+33698765432")
    asked = event(hotline, "CA1", 1, digits="3")
    assert asked.json()["say"] == spoken("en", [("number_enter", None)])
    typed = event(hotline, "CA1", 2, digits="0612345678")
    assert typed.json()["say"][:2] == spoken("en", [("code_sent", None), ("code_enter", None)])
    not_ours = new_call(hotline, "CA2", caller=None)
    event(hotline, "CA2", 1, digits="3")
    unknown = event(hotline, "CA2", 2, digits="0698765432")  # not a line here: the same words
    assert unknown.json()["say"] == typed.json()["say"]
    assert not_ours.status_code == 200


def test_the_app_answers_with_the_hotline_s_menu(settings, db):
    make_line(db, now=T0, language="fr")
    with voice_client(settings, db) as client:
        first = new_call(client, caller=None)
    assert [s["prompt"] for s in first.json()["say"]] == [
        "zh_CN/welcome", "zh_CN/choose_zh", "fr/welcome", "fr/choose_fr", "en/welcome", "en/choose_en"]
    with db.transaction(write=False) as session:
        assert session.scalars(select(VoiceCall.transport)).all() == ["http"]


def test_turns_are_forgotten_a_day_after_they_were_answered(db):
    menu = Scripted()
    for call_id in ("CA1", "CA2", "CA3"):
        exchange.start(db, menu, flow.Call(call_id, None, "+33170000000", flow.HTTP), "start")
    exchange.follow(db, menu, "CA1", 1, flow.Digits("1"), "digits-1")
    with db.transaction(write=False) as session:
        newest = max(session.scalars(select(VoiceHttpTurn.created_at)))
    assert exchange.purge(db, now=newest + exchange.KEPT, batch=2) == 3  # the newest is not past its day yet
    with db.transaction(write=False) as session:
        assert session.execute(select(VoiceHttpTurn.call_id, VoiceHttpTurn.turn)).all() == [("CA1", 2)]
    assert exchange.purge(db, now=newest + exchange.KEPT + timedelta(microseconds=1), batch=2) == 1
    assert count(db, VoiceHttpTurn) == 0
