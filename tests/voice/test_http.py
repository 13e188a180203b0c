"""The voice menu's JSON webhook protocol: signed, replay-protected turns driving a dialogue."""

from __future__ import annotations

import threading
import time

import pytest

from simkeep.core.signing import sign
from simkeep.voice import exchange, flow
from simkeep.voice.http_models import VoiceHttpTurn
from tests.factories.snapshot import count, snapshot
from tests.voice import PLATFORM_SECRET, Scripted, event, new_call, voice_client

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


def test_a_stale_timestamp_is_refused_even_with_the_right_key(settings, db):
    menu = Scripted()
    with voice_client(settings, db, menu) as client:
        assert new_call(client).status_code == 200
        stale = event(client, "CA1", 1, digits="1", at=int(time.time()) - 301)
        future = event(client, "CA1", 1, digits="1", at=int(time.time()) + 301)
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
